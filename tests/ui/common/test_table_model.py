"""The table model base on rows of frozen dataclasses: headers, texts, sort keys, the row role,
a subclass's own role, and Qt's model rules (qtmodeltester)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from PySide6.QtCore import QModelIndex, QObject, QSortFilterProxyModel, Qt
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from ketadesk.ui.common.table_model import ROW_ROLE, SORT_ROLE, RowTableModel, TableColumn


@dataclass(frozen=True, slots=True)
class Call:
    patient: str
    due: dt.date
    attempts: int


CALLS = [
    Call("Lovelace, Ada", dt.date(2026, 11, 24), 2),
    Call("Hopper, Grace", dt.date(2026, 11, 20), 0),
    Call("Turing, Alan", dt.date(2026, 11, 22), 1),
]
URGENT_ROLE = Qt.ItemDataRole.UserRole + 1


class CallModel(RowTableModel[Call]):
    TEXT_ROLES = (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.AccessibleTextRole)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(
            (
                TableColumn("Patient", lambda c: c.patient, tooltip=lambda c: f"Call {c.patient}"),
                TableColumn("Due", lambda c: f"{c.due:%d %b}", sort_key=lambda c: c.due),
                TableColumn(
                    "Calls",
                    lambda c: str(c.attempts),
                    sort_key=lambda c: c.attempts,
                    alignment=Qt.AlignmentFlag.AlignRight,
                ),
            ),
            parent,
        )

    def cell_data(self, row: Call, column: int, role: int) -> object:
        return row.attempts > 1 if role == URGENT_ROLE else None


def test_a_row_per_call_a_column_per_fact(qtbot: QtBot) -> None:
    model = CallModel()
    model.set_rows(CALLS)
    assert (model.rowCount(), model.columnCount()) == (3, 3)
    assert model.rowCount(model.index(0, 0)) == 0  # a table: no children
    assert [model.headerData(c, Qt.Orientation.Horizontal) for c in range(3)] == [
        "Patient",
        "Due",
        "Calls",
    ]
    first = model.index(0, 0)
    assert first.data() == "Lovelace, Ada"
    assert first.data(Qt.ItemDataRole.AccessibleTextRole) == "Lovelace, Ada"
    assert first.data(Qt.ItemDataRole.ToolTipRole) == "Call Lovelace, Ada"
    assert model.index(0, 1).data(Qt.ItemDataRole.ToolTipRole) is None
    assert first.data(ROW_ROLE) == CALLS[0]
    assert first.data(URGENT_ROLE) is True
    assert model.index(0, 2).data(Qt.ItemDataRole.TextAlignmentRole) == Qt.AlignmentFlag.AlignRight
    assert model.index(0, 0).data(SORT_ROLE) == "Lovelace, Ada"  # no key: the text
    assert model.row_at(1) == CALLS[1]
    assert model.row_or_none(-1) is None
    assert model.data(QModelIndex()) is None


def test_a_sort_proxy_sorts_by_the_key_not_the_text(qtbot: QtBot) -> None:
    model = CallModel()
    model.set_rows(CALLS)
    proxy = QSortFilterProxyModel()
    proxy.setSourceModel(model)
    proxy.setSortRole(SORT_ROLE)
    proxy.sort(1)
    assert [proxy.index(r, 0).data() for r in range(3)] == [
        "Hopper, Grace",
        "Turing, Alan",
        "Lovelace, Ada",
    ]


def test_set_rows_resets_the_model(qtbot: QtBot) -> None:
    model = CallModel()
    model.set_rows(CALLS)
    with qtbot.waitSignals([model.modelAboutToBeReset, model.modelReset]):
        model.set_rows(CALLS[:1])
    assert model.rows() == CALLS[:1]


def test_the_model_keeps_qt_s_rules(qtmodeltester: ModelTester) -> None:
    model = CallModel()
    model.set_rows(CALLS)
    qtmodeltester.check(model, force_py=True)  # type: ignore[no-untyped-call]
    qtmodeltester.check(model)  # type: ignore[no-untyped-call]
