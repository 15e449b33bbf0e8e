"""A nurse's trial of the chair, as it happened: Mary Seacole's pre-dose BP 186/112 was refused at
the hard stop (180/110), she rested, the recheck 150/90 cleared dosing, and the dose went in a
minute later.  The printed session record said "Pre-dose 186/112" and "Extra 1 150/90", naming
neither the hard stop nor the recheck; the form's red "hard stop" under the first reading turned
into an amber "consider delaying" once the recheck was typed; and the paper planned "Before
discharge" 10 minutes later than the screen said it was due.

Bayside's staffed Tuesday (tests/services/staffed_day.py): Mary's Spravato 10:00-12:30 in
Room 2, checked in at 09:50 and started at 10:04.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator

import pytest
from pytestqt.qtbot import QtBot

from ketadesk.services.booking.appointment_changes import change_status
from ketadesk.services.common.context import SYSTEM, Actor
from ketadesk.services.monitoring import records
from ketadesk.services.monitoring.chair_board import ChairCard, chair_board
from ketadesk.services.monitoring.record_forms import ReadingForm, reading_field, with_reading
from ketadesk.services.printing.session_record import (
    session_record_layout,
    session_record_sheet,
)
from ketadesk.ui.common.desk import Desk
from ketadesk.ui.monitoring.monitoring_dialog import MonitoringDialog
from ketadesk.ui.printing.printing import print_pdf
from tests.pictures import picture_folder
from tests.printing.test_print import pdf_pages
from tests.services.staffed_day import TUESDAY, StaffedDay, build_staffed_day

NURSE = Actor(user_id=None, username="kim", role="nurse")


@pytest.fixture
def staffed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StaffedDay]:
    folder = tmp_path_factory.mktemp("story")
    built = build_staffed_day(f"sqlite:///{folder / 'clinic.sqlite'}")
    yield built
    built.clinic.db.dispose()


def _at(staffed: StaffedDay, hhmm: str) -> dt.datetime:
    return staffed.clinic.at(TUESDAY, hhmm)


@pytest.fixture
def mary(staffed: StaffedDay) -> int:
    """Started 4 minutes late; the pre-dose BP refused at the hard stop, the recheck after
    rest cleared it, and the first device went in at 10:31."""
    db, appointment = staffed.clinic.db, staffed.appointments["spravato"]
    change_status(db, SYSTEM, appointment, "check_in", now=_at(staffed, "09:50"))
    change_status(db, SYSTEM, appointment, "start", now=_at(staffed, "10:04"))
    form = records.load_record(db, NURSE, appointment)
    form = with_reading(form, 0, time="10:15", systolic="186", diastolic="112", spo2="98")
    records.save_record(db, NURSE, appointment, form, now=_at(staffed, "10:16"))
    form = records.load_record(db, NURSE, appointment)
    recheck = ReadingForm("Extra 1", "10:30", "150", "90", spo2="98", scheduled=False)
    form = dataclasses.replace(
        form,
        readings=(*form.readings, recheck),
        dose_mg="56",
        devices="2",
        dose_started="10:31",
        monitored_by_id=staffed.id("Nurse Kim"),
    )
    records.save_record(db, NURSE, appointment, form, now=_at(staffed, "10:32"))
    return appointment


def test_the_paper_names_the_hard_stop_and_the_recheck_that_cleared_dosing(
    qapp: object, staffed: StaffedDay, mary: int
) -> None:
    sheet = session_record_sheet(staffed.clinic.db, NURSE, mary, now=_at(staffed, "12:45"))
    rows = [(r.label, r.tag, f"{r.taken_at:%H:%M}" if r.taken_at else "") for r in sheet.readings]
    # In the order they happened: the recheck right under the reading it rechecked.
    assert rows == [
        ("Pre-dose", "over the hard stop", "10:15"),
        ("Pre-dose recheck (Extra 1)", "cleared dosing", "10:30"),
        ("+40 min", "", ""),
        ("Before discharge", "", ""),
    ]
    refused, cleared = sheet.readings[0], sheet.readings[1]
    assert refused.note == (
        "Pre-dose BP 186/112 at 10:15 is above the clinic's hard stop 180/110: dosing refused; "
        "the pre-dose recheck (150/90 at 10:30) cleared dosing; dose delayed to 10:31"
    )
    assert cleared.note == (
        "Pre-dose recheck 150/90 at 10:30, after the hard stop (186/112 at 10:15): at or below "
        "180/110, cleared dosing; dose started 10:31"
    )
    out = picture_folder("record") / "session-record-hard-stop.pdf"
    assert print_pdf(session_record_layout(sheet), out).pages == 1
    text = " ".join(" ".join(pdf_pages(out)).split())
    # Each row's words, in the order the paper reads (the label cell wraps in the PDF's text).
    said = [
        "Pre-dose",
        "over the hard stop",
        "is above the clinic's hard stop 180/110: dosing refused; the pre-dose recheck",
        "dose delayed to 10:31",
        "Pre-dose recheck",
        "(Extra 1) cleared dosing",
        "+40 min",
        "Before discharge 12:31",
    ]
    places = [text.find(words) for words in said]
    assert -1 not in places, [w for w, p in zip(said, places, strict=True) if p < 0]
    assert places == sorted(places)
    assert text.count("Extra 1") == text.count("(Extra 1)")  # never a bare "Extra 1" row


def test_paper_board_and_record_say_the_same_time_for_each_check(
    qapp: object, staffed: StaffedDay, mary: int
) -> None:
    """The trial's paper said "Before discharge planned 14:31" where the screen said 14:21:
    the paper laid it at the discharge phase, the screen by the earliest discharge."""
    db = staffed.clinic.db
    now = _at(staffed, "11:00")
    paper = {
        r.label: r.planned
        for r in session_record_sheet(db, NURSE, mary, now=now).readings
        if r.planned is not None
    }
    screen = {
        c.label: c.due_at for c in records.open_record(db, NURSE, mary, now=now).schedule.checks
    }
    assert paper == screen
    tz = staffed.clinic.calendar.tz
    # Dose at 10:31: "+40 min" at 11:11, "Before discharge" by the earliest discharge (120 min).
    assert {k: f"{v.astimezone(tz):%H:%M}" for k, v in paper.items()} == {
        "Pre-dose": "10:26",
        "+40 min": "11:11",
        "Before discharge": "12:31",
    }
    card = next(c for c in chair_board(db, SYSTEM, now=now).cards if c.appointment_id == mary)
    assert card.next_bp is not None
    assert (card.next_bp.label, card.next_bp.due_at) == ("+40 min", paper["+40 min"])
    form = records.load_record(db, NURSE, mary)
    peak = [r.label for r in form.readings].index("+40 min")
    form = with_reading(form, peak, time="11:12", systolic="150", diastolic="92")
    records.save_record(db, NURSE, mary, form, now=_at(staffed, "11:13"))

    def card_at(hhmm: str) -> ChairCard:
        board = chair_board(db, SYSTEM, now=_at(staffed, hhmm))
        return next(c for c in board.cards if c.appointment_id == mary)

    # 150/92 is above the clinic's 140/90: its recheck 15 min later comes first, on the board
    # as in the record ([chair] bp_recheck_minutes).
    raised = card_at("11:20")
    assert raised.next_bp is not None
    assert (raised.next_bp.label, raised.next_bp.due_at) == ("Recheck", _at(staffed, "11:27"))
    assert raised.bp_alert.startswith("BP 150/92 raised (over 140/90) at 11:12")
    form = records.load_record(db, NURSE, mary)
    form = dataclasses.replace(
        form,
        readings=(
            *form.readings,
            ReadingForm("Recheck", time="11:27", systolic="132", diastolic="84", scheduled=False),
        ),
    )
    records.save_record(db, NURSE, mary, form, now=_at(staffed, "11:28"))
    card = card_at("12:00")  # back in range: the next configured check again
    assert card.bp_alert == ""
    assert card.next_bp is not None
    assert (card.next_bp.label, card.next_bp.due_at) == (
        "Before discharge",
        paper["Before discharge"],
    )


def test_the_form_keeps_the_hard_stop_on_the_refused_reading_after_the_recheck(
    qtbot: QtBot, staffed: StaffedDay, mary: int
) -> None:
    now = _at(staffed, "10:40")
    db = staffed.clinic.db
    sheet = records.open_record(db, NURSE, mary, now=now)
    dialog = MonitoringDialog(Desk(db, NURSE, lambda: now), mary, sheet=sheet)
    qtbot.addWidget(dialog)
    dialog.resize(900, 900)
    dialog.show()
    labels = [r.label for r in sheet.form.readings]
    first, recheck = labels.index("Pre-dose"), labels.index("Extra 1")
    kind, message = dialog.field_messages[reading_field(first, "systolic")]
    # Still the hard stop it was when taken (not "consider delaying"), and what came next.
    assert kind == "stop"
    assert message.startswith(
        "Pre-dose BP hard stop: BP 186/112 is above the clinic's hard stop 180/110"
    )
    assert "Then: Pre-dose recheck 150/90 at 10:30" in message
    assert "consider delaying" not in dialog.reading_message(first).text()
    assert "#b3261e" in dialog.reading_message(first).styleSheet()
    note = dialog.reading_message(recheck)
    assert note.isVisible()
    assert "cleared dosing; dose started 10:31" in note.text()
    qtbot.waitExposed(dialog)
    qtbot.wait(200)  # the wrapped messages laid out before the picture
    dialog.grab().save(str(picture_folder("record") / "monitoring-hard-stop-story.png"))


def test_a_reading_added_before_the_dose_is_named_a_pre_dose_recheck(
    qtbot: QtBot, staffed: StaffedDay
) -> None:
    db, appointment = staffed.clinic.db, staffed.appointments["spravato"]
    now = _at(staffed, "10:20")
    sheet = records.open_record(db, NURSE, appointment, now=now)
    dialog = MonitoringDialog(Desk(db, NURSE, lambda: now), appointment, sheet=sheet)
    qtbot.addWidget(dialog)
    dialog.show()
    for key, text in (("time", "10:15"), ("systolic", "186"), ("diastolic", "112")):
        dialog.reading_editor(0, key).setText(text)
    dialog._add_reading.click()
    assert dialog.form().readings[-1].label == "Pre-dose recheck"
    dialog._add_reading.click()
    assert dialog.form().readings[-1].label == "Pre-dose recheck 2"


def test_the_record_lists_the_readings_in_the_order_the_paper_does(
    qtbot: QtBot, staffed: StaffedDay, mary: int
) -> None:
    """The form put every configured check first, then the extra readings: the recheck that
    cleared dosing came under "Before discharge", where the paper has it under the reading it
    rechecked.  Both now list readings in the order taken, a check not taken at its due time."""
    now = _at(staffed, "10:40")
    db = staffed.clinic.db
    sheet = records.open_record(db, NURSE, mary, now=now)
    dialog = MonitoringDialog(Desk(db, NURSE, lambda: now), mary, sheet=sheet)
    qtbot.addWidget(dialog)
    shown = [r.label for r in dialog.form().readings]
    assert shown == ["Pre-dose", "Extra 1", "+40 min", "Before discharge"]
    paper = session_record_sheet(db, NURSE, mary, now=now).readings
    assert [r.label for r in paper] == [
        "Pre-dose",
        "Pre-dose recheck (Extra 1)",
        "+40 min",
        "Before discharge",
    ]
    # Row by row the same readings (the paper names the recheck for what it did).
    assert all(s in p.label for s, p in zip(shown, paper, strict=True))
    assert [r.label for r in records.load_record(db, NURSE, mary).readings] == shown
    # The messages stay with their readings: the hard stop under the first, the clearing
    # note under the recheck.
    assert dialog.field_messages[reading_field(0, "systolic")][0] == "stop"
    assert "cleared dosing" in dialog.reading_message(1).text()
    dialog.resize(900, 900)
    dialog.show()
    qtbot.waitExposed(dialog)
    qtbot.wait(200)
    dialog.grab().save(str(picture_folder("record") / "monitoring-readings-in-order.png"))


def test_a_same_minute_recheck_is_said_not_to_count_and_the_next_check_is_the_recheck(
    qtbot: QtBot, staffed: StaffedDay
) -> None:
    """A user trial: "Now" for 186/112 and "Now" again for the recheck in the same minute; the
    form said the recheck cleared dosing, Save refused the dose, and the header said "Next
    check: BP +40 min due 40 min after the dose" under a hard stop."""
    db, appointment = staffed.clinic.db, staffed.appointments["spravato"]
    change_status(db, SYSTEM, appointment, "check_in", now=_at(staffed, "09:50"))
    change_status(db, SYSTEM, appointment, "start", now=_at(staffed, "10:04"))
    now = _at(staffed, "10:15")
    sheet = records.open_record(db, NURSE, appointment, now=now)
    dialog = MonitoringDialog(Desk(db, NURSE, lambda: now), appointment, sheet=sheet)
    qtbot.addWidget(dialog)
    dialog.resize(900, 900)
    dialog.show()
    for key, text in (("time", "10:15"), ("systolic", "186"), ("diastolic", "112")):
        dialog.reading_editor(0, key).setText(text)
    assert dialog._schedule_label.text().startswith("Next check: a pre-dose recheck after rest")
    dialog._add_reading.click()
    recheck = len(dialog.form().readings) - 1
    for key, text in (("time", "10:15"), ("systolic", "152"), ("diastolic", "94")):
        dialog.reading_editor(recheck, key).setText(text)
    said = dialog.reading_message(recheck)
    assert said.isVisible()
    assert "does not clear dosing" in said.text()
    assert "cleared dosing;" not in said.text()
    assert "Then:" not in dialog.reading_message(0).text()
    assert dialog._schedule_label.text().startswith("Next check: a pre-dose recheck after rest")
    qtbot.waitExposed(dialog)
    qtbot.wait(200)
    dialog.grab().save(str(picture_folder("record") / "monitoring-same-minute-recheck.png"))
    # A minute later it counts: the next check is counted from the dose again.
    dialog.reading_editor(recheck, "time").setText("10:16")
    now = _at(staffed, "10:17")
    dialog._desk = Desk(db, NURSE, lambda: now)
    dialog.reading_editor(recheck, "systolic").setText("150")
    assert "cleared dosing" in dialog.reading_message(recheck).text()
    assert dialog._schedule_label.text().startswith("Next check: BP +40 min")
