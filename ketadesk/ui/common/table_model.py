"""One base for the Qt table models over rows the services give (frozen dataclasses): the rows,
a table of columns (header, text, sort key, alignment, tooltip) and the roles every table
answers alike, so each model says only what is its own (an id role, a colour).

Roles: ``ROW_ROLE`` gives a row's object, ``SORT_ROLE`` its column's sort key (the text when the
column has none), for a ``QSortFilterProxyModel`` with ``setSortRole(SORT_ROLE)``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt

if TYPE_CHECKING:
    from typing_extensions import override
else:  # typing.override is Python 3.12+; the decorator only informs the type checker.
    _F = TypeVar("_F")

    def override(method: _F) -> _F:
        return method


RowT = TypeVar("RowT")
AnyIndex = QModelIndex | QPersistentModelIndex
#: A row's object (the service's dataclass).  Far above the UserRole + 1 the models use for ids.
ROW_ROLE = Qt.ItemDataRole.UserRole + 100
#: A cell's sort key.
SORT_ROLE = Qt.ItemDataRole.UserRole + 101
_ROOT = QModelIndex()


def _comparable(key: object) -> object:
    """A sort key Qt can compare: it orders numbers and strings, but a Python date reaches it
    as an opaque object, which a sort proxy leaves unsorted."""
    if isinstance(key, dt.datetime):
        return key.timestamp()
    if isinstance(key, dt.date):
        return key.toordinal()
    return key


@dataclass(frozen=True, slots=True)
class TableColumn(Generic[RowT]):
    """One column: its header, its text for a row, and optionally a sort key (else the text;
    a date or datetime key is given to Qt as a number), an alignment and a tooltip."""

    header: str
    text: Callable[[RowT], str]
    sort_key: Callable[[RowT], Any] | None = None
    alignment: Qt.AlignmentFlag | None = None
    tooltip: Callable[[RowT], str] | None = None


class RowTableModel(QAbstractTableModel, Generic[RowT]):
    """A read-only table of rows, one per service dataclass, columns from a ``TableColumn``
    table.  ``set_rows`` replaces them all (a model reset, so views drop stale indexes).

    Subclasses pass their columns and may set ``TEXT_ROLES`` (the roles that give a cell's
    text; display only by default) and override ``cell_data`` for their own roles.
    """

    TEXT_ROLES: tuple[int, ...] = (Qt.ItemDataRole.DisplayRole,)

    def __init__(self, columns: Sequence[TableColumn[RowT]], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._columns = tuple(columns)
        self._rows: list[RowT] = []

    # -- rows --------------------------------------------------------------------------------

    def set_rows(self, rows: Iterable[RowT]) -> None:
        self.beginResetModel()
        self._rows = list(rows)
        self.endResetModel()

    def rows(self) -> list[RowT]:
        return list(self._rows)

    def row_at(self, row: int) -> RowT:
        """The object of row ``row`` (IndexError when there is no such row)."""
        if not 0 <= row < len(self._rows):
            raise IndexError(row)
        return self._rows[row]

    def row_or_none(self, row: int) -> RowT | None:
        """The object of row ``row``, None when there is none (row -1: no current index)."""
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def cell_data(self, row: RowT, column: int, role: int) -> object:
        """A subclass's own roles for a cell (None: nothing)."""
        return None

    # -- Qt ----------------------------------------------------------------------------------

    @override
    def rowCount(self, parent: AnyIndex = _ROOT) -> int:
        return 0 if parent.isValid() else len(self._rows)

    @override
    def columnCount(self, parent: AnyIndex = _ROOT) -> int:
        return 0 if parent.isValid() else len(self._columns)

    @override
    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> object:
        if (
            orientation == Qt.Orientation.Horizontal
            and role == Qt.ItemDataRole.DisplayRole
            and 0 <= section < len(self._columns)
        ):
            return self._columns[section].header
        return None

    @override
    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        if not 0 <= index.column() < len(self._columns):
            return None
        row = self._rows[index.row()]
        column = self._columns[index.column()]
        if role in self.TEXT_ROLES:
            return column.text(row)
        if role == Qt.ItemDataRole.ToolTipRole and column.tooltip is not None:
            return column.tooltip(row)
        if role == Qt.ItemDataRole.TextAlignmentRole and column.alignment is not None:
            return column.alignment
        if role == ROW_ROLE:
            return row
        if role == SORT_ROLE:
            return (
                column.text(row) if column.sort_key is None else _comparable(column.sort_key(row))
            )
        return self.cell_data(row, index.column(), role)
