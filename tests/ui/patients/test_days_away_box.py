"""The patient record's days away, worked as the front desk would (real widgets): two ranges
added (one over a booked session, which the box lists as a link to open), one edited, one
deleted; the range dialog refuses a last day before the first; and the booking dialog shows
the days away under the patient and lets the front desk override a day away with a reason.
Days come from the injected clock (``tests/ui/conftest.NOW``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from PySide6.QtCore import QDate, Qt, QTime
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QDialogButtonBox, QPushButton, QTreeWidgetItem
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from ketadesk.scheduling.days_away import AwayRange, range_problem
from ketadesk.services.booking import booking
from ketadesk.services.booking.booking import BookingRequest
from ketadesk.services.common.context import SYSTEM, Actor
from ketadesk.services.patients.days_away import add_day_away
from ketadesk.store.models import AuditEvent
from ketadesk.ui.booking.booking_dialog import SINGLE_PREFIX, BookingDialog, read_setup
from ketadesk.ui.common.desk import Desk
from ketadesk.ui.patients.days_away import AwayRangeDialog, DaysAwayBox
from ketadesk.ui.patients.patient_record import PatientRecordView
from tests.clinic_fixtures import SmallClinic
from tests.pictures import picture_folder
from tests.ui.conftest import NOW
from tests.ui.sql_guard import allow_gui_thread_sql

FRONT_DESK = Actor(user_id=None, username="maria", role="front_desk")
TIMEOUT = 20_000


def _today(clinic: SmallClinic) -> dt.date:
    return clinic.calendar.local_date(NOW)


def _week_ahead(clinic: SmallClinic) -> dt.date:
    """A Monday a week or more after the clinic's today, open all week."""
    today = _today(clinic)
    monday = today + dt.timedelta(days=7 + (7 - today.weekday()) % 7)
    while any(clinic.calendar.closed_reason(monday + dt.timedelta(days=d)) for d in range(5)):
        monday += dt.timedelta(days=7)
    return monday


@pytest.fixture
def record(qtbot: QtBot, clinic: SmallClinic) -> PatientRecordView:
    view = PatientRecordView(
        Desk(clinic.db, FRONT_DESK, now=lambda: NOW), clinic.ids["Ada Lovelace"]
    )
    qtbot.addWidget(view)
    with qtbot.waitSignal(view.loaded, timeout=TIMEOUT):
        pass
    qtbot.waitUntil(lambda: view.days_away.days_away is not None, timeout=TIMEOUT)
    view.resize(1300, 820)
    view.show()
    return view


def _rows(box: DaysAwayBox) -> list[tuple[str, str]]:
    tree = box.tree
    return [
        (tree.topLevelItem(i).text(0), tree.topLevelItem(i).text(1))  # type: ignore[union-attr]
        for i in range(tree.topLevelItemCount())
    ]


def _item(box: DaysAwayBox, row: int) -> QTreeWidgetItem:
    item = box.tree.topLevelItem(row)
    assert item is not None
    return item


def _answer(monkeypatch: pytest.MonkeyPatch, answer: AwayRange | None) -> None:
    monkeypatch.setattr(AwayRangeDialog, "ask", classmethod(lambda cls, *a, **k: answer))


def _saved(qtbot: QtBot, box: DaysAwayBox, click: QPushButton) -> None:
    with qtbot.waitSignal(box.changed, timeout=TIMEOUT):
        QTest.mouseClick(click, Qt.MouseButton.LeftButton)
    reads = box.days_away
    qtbot.waitUntil(lambda: box.days_away is not reads, timeout=TIMEOUT)


def test_the_desk_adds_edits_and_deletes_days_away_on_the_record(
    qtbot: QtBot, clinic: SmallClinic, record: PatientRecordView, monkeypatch: pytest.MonkeyPatch
) -> None:
    box = record.days_away
    monday = _week_ahead(clinic)
    iv = clinic.session(
        "iv_infusion",
        monday + dt.timedelta(days=1),
        "10:00",
        {"room": "Room 1", "monitor": "Monitor 1", "nurse": "Nurse Kim"},
    )
    with allow_gui_thread_sql():
        booking.book(
            clinic.db,
            SYSTEM,
            BookingRequest(patient_id=clinic.ids["Ada Lovelace"], sessions=(iv,)),
            now=NOW,
        )
    assert _rows(box) == [("None on record", "")]
    assert box.add_button.isVisible()
    # A week travelling over the booked infusion: the box says so, with a link to open it.
    _answer(monkeypatch, AwayRange(monday, monday + dt.timedelta(days=4), "travel"))
    _saved(qtbot, box, box.add_button)
    assert box.notice.isVisible()
    assert box.notice.accessibleName().startswith("1 session falls in this time: ")
    opened: list[int] = []
    record.appointment_activated.connect(opened.append)
    link = box.notice.text().split('href="')[1].split('"')[0]
    box.notice.linkActivated.emit(link)
    assert len(opened) == 1
    # A past day as history, listed after the upcoming one.
    past = _today(clinic) - dt.timedelta(days=20)
    _answer(monkeypatch, AwayRange(past, past, "work"))
    _saved(qtbot, box, box.add_button)
    rows = _rows(box)
    assert [r[1] for r in rows] == ["travel", "work"]
    assert rows[1][0].endswith("(past)")
    assert box.title() == "Days away (1 upcoming)"
    record.grab().save(str(picture_folder("days_away") / "patient_record_days_away.png"))
    # Edited: the week away becomes the Wednesday only.
    box.tree.setCurrentItem(_item(box, 0))
    wednesday = monday + dt.timedelta(days=2)
    _answer(monkeypatch, AwayRange(wednesday, wednesday, "conference"))
    _saved(qtbot, box, box.edit_button)
    assert _rows(box)[0][1] == "conference"
    assert not box.notice.isVisible()  # the infusion (Tuesday) is no longer in it
    # Deleted once confirmed.
    box.tree.setCurrentItem(_item(box, 1))
    monkeypatch.setattr(DaysAwayBox, "confirm_delete", lambda self, chosen: True)
    _saved(qtbot, box, box.delete_button)
    assert [r[1] for r in _rows(box)] == ["conference"]
    with allow_gui_thread_sql(), clinic.db.read() as session:
        details = session.scalars(
            select(AuditEvent.detail)
            .where(AuditEvent.entity == "patient_away", AuditEvent.username == "maria")
            .order_by(AuditEvent.id)
        ).all()
    assert [d.split(":")[0] for d in details] == [
        "days away added",
        "days away added",
        "days away changed",
        "days away removed",
    ]


def test_the_range_dialog_refuses_a_last_day_before_the_first(
    qtbot: QtBot, clinic: SmallClinic
) -> None:
    today = _today(clinic)
    dialog = AwayRangeDialog(None, today)
    qtbot.addWidget(dialog)
    save = dialog.buttons.button(QDialogButtonBox.StandardButton.Save)
    assert save is not None
    assert save.isEnabled()  # one day, today: allowed
    later = today + dt.timedelta(days=5)
    dialog.first.setDate(QDate(later.year, later.month, later.day))
    assert dialog.value().last == later  # the last day follows the first
    earlier = today + dt.timedelta(days=3)
    dialog.last.setDate(QDate(earlier.year, earlier.month, earlier.day))
    assert not save.isEnabled()
    assert "is before the first" in dialog.problem.text()
    # Said as the rule says it, dates as the clinic writes them (the weekday capitalised).
    assert dialog.problem.text() == "T" + range_problem(later, earlier, "")[1:] + "."
    dialog.grab().save(str(picture_folder("days_away") / "range_dialog_refused.png"))


@pytest.fixture
def dialogs() -> Iterator[list[BookingDialog]]:
    shown: list[BookingDialog] = []
    yield shown
    for dialog in shown:
        if dialog.isVisible():
            dialog.done(0)


def test_the_booking_dialog_shows_the_days_away_and_the_desk_overrides_one(
    qtbot: QtBot, clinic: SmallClinic, dialogs: list[BookingDialog]
) -> None:
    monday = _week_ahead(clinic)
    with allow_gui_thread_sql():
        add_day_away(
            clinic.db,
            SYSTEM,
            clinic.ids["Mary Seacole"],
            monday,
            monday + dt.timedelta(days=4),
            "work trip",
            now=NOW,
        )
    desk = Desk(clinic.db, FRONT_DESK, now=lambda: NOW)
    with allow_gui_thread_sql():
        setup = read_setup(desk)
    dialog = BookingDialog(desk, clinic.ids["Mary Seacole"], setup=setup)
    qtbot.addWidget(dialog)
    dialogs.append(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    qtbot.waitUntil(lambda: dialog.patient_away.isVisible(), timeout=TIMEOUT)
    assert "work trip" in dialog.patient_away.text()
    dialog.protocol.setCurrentIndex(dialog.protocol.findData(SINGLE_PREFIX + "iv_infusion"))
    dialog.when.setCurrentIndex(dialog.when.findData("exact"))
    tuesday = monday + dt.timedelta(days=1)
    dialog.start.setDate(QDate(tuesday.year, tuesday.month, tuesday.day))
    dialog.time.setTime(QTime(13, 0))
    with qtbot.waitSignal(dialog.settled, timeout=TIMEOUT):
        QTest.mouseClick(dialog.plan_button, Qt.MouseButton.LeftButton)
    row = dialog._gates.gate_row("patient_away")
    assert row is not None, [g.rule for g in dialog._gates.results()]
    override, reason = row
    assert not dialog.confirm.isEnabled()
    assert override.isVisible()  # the front desk may override a day away
    override.setChecked(True)
    reason.setText("back for this one session")
    assert dialog.confirm.isEnabled(), dialog.blocker.text()
    dialog.resize(1200, 760)
    dialog.grab().save(str(picture_folder("days_away") / "booking_dialog_day_away.png"))
    with qtbot.waitSignal(dialog.booked, timeout=TIMEOUT):
        QTest.mouseClick(dialog.confirm, Qt.MouseButton.LeftButton)
