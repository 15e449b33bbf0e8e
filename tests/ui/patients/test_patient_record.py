"""The patient record view on the Bayside Test Clinic: what it shows and what its buttons do.

Mary Seacole's IV induction (tests/services/test_patient_record.py: 1-3 done, 4 a no-show, 5
done this morning, 6 booked for Friday) and an integration session next week.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import icalendar
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QDialogButtonBox, QLabel, QTreeWidget, QTreeWidgetItem, QWidget
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from ketadesk.services.common.context import SYSTEM, Actor
from ketadesk.services.printing.layout import PrintLayout
from ketadesk.store.models import AuditEvent, Measurement, Patient
from ketadesk.ui.common.desk import Desk
from ketadesk.ui.patients.patient_form import PatientFormDialog
from ketadesk.ui.patients.patient_record import PatientRecordView
from ketadesk.ui.printing.print_dialogs import DocumentPreview, PreviewOutcome
from tests.clinic_fixtures import SmallClinic
from tests.services.patients.test_patient_record import NOW, _add, _iv_series

NEXT_TUESDAY = dt.date(2026, 12, 1)


@pytest.fixture
def ids(clinic: SmallClinic) -> dict[int, int]:
    _series, by_index = _iv_series(clinic)
    by_index[0] = _add(
        clinic, "Mary Seacole", "integration", NEXT_TUESDAY, "15:00", "booked", room="Office A"
    )
    return by_index


@pytest.fixture
def view(qtbot: QtBot, clinic: SmallClinic, ids: dict[int, int]) -> PatientRecordView:
    desk = Desk(clinic.db, SYSTEM, now=lambda: NOW)
    widget = PatientRecordView(desk, clinic.ids["Mary Seacole"])
    qtbot.addWidget(widget)
    # The record is read on a worker thread; its answer arrives through the event loop.
    with qtbot.waitSignal(widget.loaded, timeout=10000):
        pass
    widget.resize(1200, 760)
    widget.show()
    return widget


def _item(tree: QTreeWidget, row: int) -> QTreeWidgetItem:
    item = tree.topLevelItem(row)
    assert item is not None
    return item


def _rows(tree: QTreeWidget) -> list[list[str]]:
    return [
        [tree.topLevelItem(i).text(c) for c in range(tree.columnCount())]  # type: ignore[union-attr]
        for i in range(tree.topLevelItemCount())
    ]


def _labels(widget: QWidget, name: str) -> list[str]:
    return [label.text() for label in widget.findChildren(QLabel, name)]


def test_record_shows_the_series_progress_and_its_gap(view: PatientRecordView) -> None:
    assert view.name_label.text() == "Seacole, Mary"
    assert "Chart BT-3" in view.sub_label.text()
    assert _labels(view, "series_summary") == ["4 of 6 done, 1 missed, next Fri Nov 27"]
    assert _labels(view, "series_gap_outside") == [
        "⚠ 3 → 5: 4 days, no session 4 (Induction asks for 1-5 days)"
    ]
    # Below the warning, the gaps within the rule, never "the gaps are within the protocol"
    # above a gap that is not (a user trial read the two one above the other).
    (within,) = _labels(view, "series_gaps")
    assert within.startswith("The other ")
    assert within.endswith("days, within the protocol")
    assert view.series_box.title() == "Series (1)"


def test_upcoming_and_history_are_listed_in_order(
    view: PatientRecordView, ids: dict[int, int]
) -> None:
    upcoming = _rows(view.upcoming)
    assert [r[0] for r in upcoming] == ["Fri Nov 27, 2026", "Tue Dec 1, 2026"]
    assert upcoming[0][2:4] == ["IV ketamine infusion", "6/6"]
    assert upcoming[1][4] == "Office A"
    history = _rows(view.history)
    assert [r[3] for r in history] == ["5/6", "4/6", "3/6", "2/6", "1/6"]
    assert history[1][5] == "No-show"
    assert view.tabs.tabText(0) == "Upcoming (2)"
    assert view.tabs.tabText(1) == "History (5)"


def test_opening_a_session_and_asking_to_book(
    qtbot: QtBot, view: PatientRecordView, clinic: SmallClinic, ids: dict[int, int]
) -> None:
    assert not view.open_button.isEnabled()
    item = view.upcoming.topLevelItem(0)
    assert item is not None
    with qtbot.waitSignal(view.appointment_activated) as opened:
        view.upcoming.itemActivated.emit(item, 0)
    assert opened.args == [ids[6]]
    view.upcoming.setCurrentItem(_item(view.upcoming, 1))
    assert view.open_button.isEnabled()
    with qtbot.waitSignal(view.appointment_activated) as opened:
        view.open_button.click()
    assert opened.args == [ids[0]]
    with qtbot.waitSignal(view.book_requested) as book:
        view.book_button.click()
    assert book.args == [clinic.ids["Mary Seacole"]]


def test_print_card_and_session_record_preview(
    qtbot: QtBot, view: PatientRecordView, ids: dict[int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    shown: list[PrintLayout] = []

    def fake_show(
        cls: type[DocumentPreview], p: QWidget | None, layout: PrintLayout
    ) -> PreviewOutcome:
        shown.append(layout)
        return PreviewOutcome()  # closed without printing

    monkeypatch.setattr(DocumentPreview, "show_for", classmethod(fake_show))
    with qtbot.waitSignal(view.printer.finished, timeout=10000):
        view.card_button.click()
    assert shown[-1].title == "Appointment card: Mary Seacole"
    card = " ".join(b.html for b in shown[-1].blocks)
    assert "Integration therapy" in card
    assert "IV ketamine infusion" in card

    view.tabs.setCurrentIndex(1)
    view.history.setCurrentItem(_item(view.history, 0))  # this morning's infusion
    assert view.record_button.isEnabled()
    with qtbot.waitSignal(view.printer.finished, timeout=10000):
        view.record_button.click()
    assert shown[-1].title == "Session monitoring record: Seacole, Mary, Tuesday, November 24, 2026"

    view.tabs.setCurrentIndex(0)
    view.upcoming.setCurrentItem(_item(view.upcoming, 1))  # integration: not dosing
    assert view.open_button.isEnabled()
    assert not view.record_button.isEnabled()


def test_export_calendar_writes_the_upcoming_sessions(
    qtbot: QtBot, view: PatientRecordView, tmp_path: Path
) -> None:
    out = tmp_path / "mary.ics"
    with qtbot.waitSignal(view.calendar_exported, timeout=10_000) as exported:
        view.export_calendar(out)  # read and written on a worker
    assert exported.args == [""]
    events = icalendar.Calendar.from_ical(out.read_bytes()).walk("VEVENT")
    assert len(events) == 2
    assert "Saved 2 upcoming sessions" in view.message.text()

    with qtbot.waitSignal(view.calendar_exported, timeout=10_000) as exported:
        view.export_calendar(tmp_path / "missing" / "mary.ics")
    problem = exported.args[0]
    assert problem
    assert "does not exist" in problem
    assert view.message.isVisibleTo(view)
    assert "The calendar was not exported" in view.message.text()


def test_gating_facts_marked_and_edit_reloads(
    qtbot: QtBot, view: PatientRecordView, clinic: SmallClinic
) -> None:
    texts = [label.text() for label in view.gating_box.findChildren(QLabel)]
    assert "✓ Signed Jan 5, 2026, valid through Jan 4, 2036" in texts
    assert view.gate_problems is None

    with clinic.db.write() as session:
        p = session.get(Patient, clinic.ids["Mary Seacole"])
        assert p is not None
        p.consent_signed_on = None
    with qtbot.waitSignal(view.loaded, timeout=10000):
        view.reload()
    texts = [label.text() for label in view.gating_box.findChildren(QLabel)]
    assert "✗ Not on file" in texts
    assert view.gate_problems is not None
    assert "no signed informed consent on file" in view.gate_problems.text()

    view.edit_button.click()
    qtbot.waitUntil(lambda: view.findChild(QWidget, "patient_form_dialog") is not None)
    dialog = view.findChild(QWidget, "patient_form_dialog")
    assert isinstance(dialog, PatientFormDialog)
    dialog.fields["phone"].set_text("(619) 555-0199")
    with qtbot.waitSignal(dialog.saved), qtbot.waitSignal(view.loaded, timeout=10000):
        dialog.save()
    texts = [label.text() for label in view.contact_box.findChildren(QLabel)]
    assert "(619) 555-0199" in texts


def test_measures_listed_and_their_trend_charted(
    qtbot: QtBot, view: PatientRecordView, clinic: SmallClinic
) -> None:
    assert view.measures.topLevelItemCount() == 0
    assert view.trend_chart.trend is None
    with clinic.db.write() as session:
        for score, day in ((19, dt.date(2026, 11, 16)), (14, dt.date(2026, 11, 18))):
            session.add(
                Measurement(
                    patient_id=clinic.ids["Mary Seacole"],
                    instrument="phq9",
                    score=score,
                    items=[],
                    taken_at=clinic.at(day, "08:45"),
                )
            )
    with qtbot.waitSignal(view.loaded, timeout=10000):
        view.reload()
    view.tabs.setCurrentIndex(2)
    assert _rows(view.measures) == [
        ["Nov 18, 2026", "PHQ-9", "14"],
        ["Nov 16, 2026", "PHQ-9", "19"],
    ]
    assert view.instrument_box.currentText() == "PHQ-9"
    qtbot.waitUntil(lambda: view.trend_chart.trend is not None)  # read on a worker
    trend = view.trend_chart.trend
    assert trend is not None
    assert [p.total for p in trend.points] == [19, 14]


def _open_as(qtbot: QtBot, clinic: SmallClinic, role: str) -> PatientRecordView:
    desk = Desk(clinic.db, Actor(user_id=None, username=role, role=role), now=lambda: NOW)
    widget = PatientRecordView(desk, clinic.ids["Mary Seacole"])
    qtbot.addWidget(widget)
    with qtbot.waitSignal(widget.loaded, timeout=10000):
        pass
    widget.resize(1200, 760)
    widget.show()
    return widget


def _views(clinic: SmallClinic) -> list[tuple[str, int | None, Any]]:
    with clinic.db.read() as session:
        return [
            (u, p, a)
            for u, p, a in session.execute(
                select(AuditEvent.username, AuditEvent.patient_id, AuditEvent.after)
                .where(AuditEvent.action == "view")
                .order_by(AuditEvent.id)
            )
        ]


def _add_phq9(clinic: SmallClinic) -> None:
    with clinic.db.write() as session:
        session.add(
            Measurement(
                patient_id=clinic.ids["Mary Seacole"],
                instrument="phq9",
                score=19,
                items=[],
                taken_at=clinic.at(dt.date(2026, 11, 16), "08:45"),
            )
        )
        p = session.get(Patient, clinic.ids["Mary Seacole"])
        assert p is not None
        p.contraindications = "Uncontrolled hypertension"


def test_front_desk_sees_no_clinical_part_and_is_told_why(
    qtbot: QtBot, clinic: SmallClinic, ids: dict[int, int]
) -> None:
    _add_phq9(clinic)
    view = _open_as(qtbot, clinic, "front_desk")
    assert not view.clinical
    assert [view.tabs.tabText(i) for i in range(view.tabs.count())] == [
        "Upcoming (2)",
        "History (5)",
    ]
    assert not view.record_button.isVisibleTo(view)
    (why,) = _labels(view, "clinical_withheld")
    assert "shown to clinicians only" in why
    gating = " ".join(label.text() for label in view.gating_box.findChildren(QLabel))
    assert "Signed Jan 5, 2026" not in gating  # consent
    assert "Uncontrolled hypertension" not in gating
    assert "✓ expires Dec 31, 2027" in gating  # prior authorization: the front desk's work
    assert view.trend_chart.trend is None
    assert _views(clinic) == [
        (
            "front_desk",
            clinic.ids["Mary Seacole"],
            {"read": "patient record (contact details and schedule)"},
        )
    ]


def test_nurse_sees_the_clinical_part_and_one_opening_is_one_event(
    qtbot: QtBot, clinic: SmallClinic, ids: dict[int, int]
) -> None:
    _add_phq9(clinic)
    view = _open_as(qtbot, clinic, "nurse")
    qtbot.waitUntil(lambda: view.trend_chart.trend is not None)  # the trend is read too ...
    assert view.clinical
    assert view.tabs.tabText(2) == "Measures"
    assert view.record_button.isVisibleTo(view)
    assert _labels(view, "clinical_withheld") == []
    gating = " ".join(label.text() for label in view.gating_box.findChildren(QLabel))
    assert "Signed Jan 5, 2026" in gating
    assert "Uncontrolled hypertension" in gating
    # ... but the record's one "view" event covers it: no event per chart or per row.
    assert _views(clinic) == [("nurse", clinic.ids["Mary Seacole"], {"read": "patient record"})]


def test_the_phone_reads_the_us_way_on_the_record_and_the_form(
    qtbot: QtBot, view: PatientRecordView, clinic: SmallClinic
) -> None:
    """Typed "619.555.0142", shown "(619) 555-0142" on the record and in the form; the form
    saves it untouched unless someone edits it (no change to audit for a shown format)."""
    with clinic.db.write() as session:
        p = session.get(Patient, clinic.ids["Mary Seacole"])
        assert p is not None
        p.phone = "619.555.0142"
    with qtbot.waitSignal(view.loaded, timeout=10000):
        view.reload()
    texts = [label.text() for label in view.contact_box.findChildren(QLabel)]
    assert "(619) 555-0142" in texts
    assert "619.555.0142" not in texts
    view.edit_button.click()
    qtbot.waitUntil(lambda: view.findChild(QWidget, "patient_form_dialog") is not None)
    dialog = view.findChild(QWidget, "patient_form_dialog")
    assert isinstance(dialog, PatientFormDialog)
    field = dialog.fields["phone"]
    assert field.editor.text() == "(619) 555-0142"  # type: ignore[attr-defined]
    assert field.text() == "619.555.0142"  # what was stored, while unchanged


def test_the_record_window_closes_with_esc_and_its_close_button(
    qtbot: QtBot, view: PatientRecordView
) -> None:
    """The trial: the record could not be closed from the keyboard.  Esc closes it, as it
    does a dialog, and so does its Close button."""
    assert view.isVisible()
    assert view.close_buttons.isVisible()
    QTest.keyClick(view, Qt.Key.Key_Escape)
    assert not view.isVisible()
    view.show()
    close = view.close_buttons.button(QDialogButtonBox.StandardButton.Close)
    assert close.text() == "Close"
    QTest.mouseClick(close, Qt.MouseButton.LeftButton)
    assert not view.isVisible()
