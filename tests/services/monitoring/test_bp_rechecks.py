"""A BP above the clinic's limits owes a recheck, and the places nurses look say so (a user
trial, Tuesday 24 November 2026 in the staffed day: Mary Seacole's Spravato in Room 2, booked
10:00, dose 10:15).

The trial: a +40 min BP of 168/102 after a Spravato dose scheduled no recheck (the next check
said "Before discharge", 79 min later) and the card stayed white; a pre-dose 186/112 over the
hard stop was said only as "pre-dose recheck due now", in amber, and not counted; a dose was
recorded on a session never started; Start said nothing of the room another patient held.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from ketadesk.services.booking.appointment_changes import ChairTaken, change_status
from ketadesk.services.booking.appointments import appointment_detail
from ketadesk.services.common.context import SYSTEM, Actor, InvalidFields
from ketadesk.services.monitoring import records
from ketadesk.services.monitoring.chair_board import ChairCard, chair_board
from ketadesk.services.monitoring.reading_schedule import readings_due
from ketadesk.services.monitoring.record_forms import ReadingForm, with_reading
from ketadesk.services.schedule import public_holidays
from ketadesk.store.models import Appointment, ClinicSetting
from tests.services.staffed_day import TUESDAY, StaffedDay, build_staffed_day

NURSE = Actor(user_id=None, username="kim", role="nurse")
FRONT_DESK = Actor(user_id=None, username="maria", role="front_desk")


@pytest.fixture(autouse=True)
def holiday_cache_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(public_holidays, "holiday_cache_dir", lambda: tmp_path / "holidays")


@pytest.fixture
def staffed(db_url: str) -> Iterator[StaffedDay]:
    built = build_staffed_day(db_url)
    yield built
    built.clinic.db.dispose()


def at(staffed: StaffedDay, hhmm: str) -> dt.datetime:
    return staffed.clinic.at(TUESDAY, hhmm)


def hhmm(moment: dt.datetime | None) -> str | None:
    return None if moment is None else moment.strftime("%H:%M")


def mary(staffed: StaffedDay, when: str, actor: Actor = SYSTEM) -> ChairCard:
    board = chair_board(staffed.clinic.db, actor, now=at(staffed, when))
    return next(c for c in board.cards if c.room_name == "Room 2")


def spravato(staffed: StaffedDay) -> int:
    return staffed.appointments["spravato"]


def save(staffed: StaffedDay, when: str, **values: str) -> None:
    """Mary's record as the nurse saves it at ``when``: rows by label (time, systolic,
    diastolic as "10:10 128/82"), extra rows appended, and the dose fields."""
    db = staffed.clinic.db
    form = records.load_record(db, NURSE, spravato(staffed))
    rows = [r.label for r in form.readings]
    dose = {k: values.pop(k) for k in ("dose_mg", "devices", "dose_started") if k in values}
    for label, typed in values.items():
        label = label.replace("_", " ")
        time, bp = typed.split()
        sys_, dia = bp.split("/")
        if label in rows:
            form = with_reading(form, rows.index(label), time=time, systolic=sys_, diastolic=dia)
        else:
            extra = ReadingForm(label, time=time, systolic=sys_, diastolic=dia, scheduled=False)
            form = dataclasses.replace(form, readings=(*form.readings, extra))
            rows.append(label)
    form = dataclasses.replace(
        form,
        dose_mg=dose.get("dose_mg", form.dose_mg),
        devices=dose.get("devices", form.devices),
        dose_started=dose.get("dose_started", form.dose_started),
    )
    records.save_record(db, NURSE, spravato(staffed), form, now=at(staffed, when))


def start(staffed: StaffedDay, when: str) -> None:
    change_status(staffed.clinic.db, SYSTEM, spravato(staffed), "start", now=at(staffed, when))


def dosed(staffed: StaffedDay) -> None:
    start(staffed, "10:00")
    save(
        staffed,
        "10:16",
        **{"Pre-dose": "10:09 128/82"},
        dose_mg="56",
        devices="2",
        dose_started="10:15",
    )


def test_a_raised_bp_after_the_dose_makes_a_recheck_the_next_check_until_back_in_range(
    staffed: StaffedDay,
) -> None:
    dosed(staffed)
    save(staffed, "10:56", **{"+40 min": "10:55 168/102"})
    card = mary(staffed, "10:57")
    # Due 15 min after the raised reading ([chair] bp_recheck_minutes), not "Before
    # discharge" at 12:15.
    assert card.next_bp is not None
    assert (card.next_bp.label, hhmm(card.next_bp.due_at)) == ("Recheck", "11:10")
    assert not card.next_bp.due_now
    assert card.bp_alert == "BP 168/102 raised (over 140/90) at 10:55; recheck due 11:10"
    assert not card.bp_alert_stop
    # Red and counted, before anything is late.
    assert card.late == ()
    assert card.needs_attention
    board = chair_board(staffed.clinic.db, SYSTEM, now=at(staffed, "10:57"))
    assert board.late_count >= 1
    # The record says the same recheck, at the same time.
    due = readings_due(staffed.clinic.db, [spravato(staffed)], now=at(staffed, "10:57"))
    owed = due[spravato(staffed)].recheck
    assert owed is not None
    assert owed.due_at == card.next_bp.due_at
    # Late past its time and the grace, like any check.
    late = mary(staffed, "11:21")
    assert late.next_bp is not None
    assert late.next_bp.late
    assert late.late[0] == "BP recheck overdue since 11:10"
    # Still raised at the recheck: another recheck 15 min after it.
    save(staffed, "11:12", Recheck="11:11 150/94")
    again = mary(staffed, "11:12")
    assert again.next_bp is not None
    assert (again.next_bp.label, hhmm(again.next_bp.due_at)) == ("Recheck", "11:26")
    # Back in range: the next configured check again, the card back to normal.
    save(staffed, "11:27", Recheck_2="11:26 136/84")
    calm = mary(staffed, "11:27")
    assert calm.bp_alert == ""
    assert not calm.needs_attention
    assert calm.next_bp is not None
    assert (calm.next_bp.label, hhmm(calm.next_bp.due_at)) == ("Before discharge", "12:15")


def test_the_recheck_interval_is_the_clinics(staffed: StaffedDay) -> None:
    with staffed.clinic.db.write() as session:
        chair = session.get(ClinicSetting, "chair")
        assert chair is not None
        chair.value = {**chair.value, "bp_recheck_minutes": 10}
    dosed(staffed)
    save(staffed, "10:56", **{"+40 min": "10:55 168/102"})
    card = mary(staffed, "10:57")
    assert card.next_bp is not None
    assert hhmm(card.next_bp.due_at) == "11:05"


def test_a_hard_stop_before_the_dose_says_do_not_dose_red_counted_and_when_to_recheck(
    staffed: StaffedDay,
) -> None:
    change_status(
        staffed.clinic.db, SYSTEM, spravato(staffed), "check_in", now=at(staffed, "09:50")
    )
    save(staffed, "10:05", **{"Pre-dose": "10:04 186/112"})
    waiting = mary(staffed, "10:06")
    assert waiting.stage == "waiting"
    assert waiting.bp_alert == (
        "Do not dose: BP 186/112 over the hard stop (180/110) at 10:04; "
        "recheck after rest, due 10:19"
    )
    assert waiting.bp_alert_stop
    assert waiting.needs_attention
    assert waiting.next_bp is not None
    assert (waiting.next_bp.label, hhmm(waiting.next_bp.due_at)) == ("Pre-dose recheck", "10:19")
    assert not waiting.next_bp.due_now  # not "due now": a same-minute recheck does not count
    # The session's page says it too, to whoever may read clinical data.
    page = appointment_detail(staffed.clinic.db, spravato(staffed), NURSE, now=at(staffed, "10:06"))
    assert page.bp_alert == waiting.bp_alert
    desk = appointment_detail(
        staffed.clinic.db, spravato(staffed), FRONT_DESK, now=at(staffed, "10:06")
    )
    assert desk.bp_alert == ""
    assert mary(staffed, "10:06", FRONT_DESK).bp_alert == ""
    # Start goes ahead (the nurse starts the monitoring) and says it.
    done = change_status(
        staffed.clinic.db, SYSTEM, spravato(staffed), "start", now=at(staffed, "10:07")
    )
    assert any(
        w.startswith("Started for monitoring only. Do not dose: BP 186/112") for w in done.warnings
    )
    in_session = mary(staffed, "10:23")  # 16 min later: still red, and counted
    assert in_session.needs_attention
    assert in_session.bp_alert.startswith("Do not dose")
    # A recheck after rest, in range, clears it.
    save(staffed, "10:24", Pre_dose_recheck="10:20 150/88")
    cleared = mary(staffed, "10:24")
    assert cleared.bp_alert == ""


def test_a_dose_on_a_session_never_started_is_refused_and_nothing_is_saved(
    staffed: StaffedDay,
) -> None:
    change_status(
        staffed.clinic.db, SYSTEM, spravato(staffed), "check_in", now=at(staffed, "09:50")
    )
    # The pre-dose BP at check-in is saved as ever.
    save(staffed, "10:10", **{"Pre-dose": "10:09 128/82"})
    with pytest.raises(InvalidFields) as refused:
        save(staffed, "10:16", dose_mg="84", devices="3", dose_started="10:15")
    assert refused.value.errors == {"dose_started": records.START_FIRST}
    assert records.START_FIRST.startswith("Start the session first")
    form = records.load_record(staffed.clinic.db, NURSE, spravato(staffed))
    assert (form.dose_mg, form.dose_started) == ("", "")
    start(staffed, "10:16")
    save(staffed, "10:17", dose_mg="56", devices="2", dose_started="10:16")
    assert mary(staffed, "10:17").dose_started_at is not None


def test_start_in_a_room_another_patient_is_checked_in_to_says_who_and_asks(
    staffed: StaffedDay,
) -> None:
    db = staffed.clinic.db
    with db.write() as session:
        kap = session.get(Appointment, staffed.appointments["kap"])
        mine = session.get(Appointment, spravato(staffed))
        assert kap is not None
        assert mine is not None
        kap.room_id = mine.room_id  # Rosalind's KAP put in Room 2 (by hand, for the test)
    change_status(db, SYSTEM, staffed.appointments["kap"], "check_in", now=at(staffed, "09:55"))
    with pytest.raises(ChairTaken) as taken:
        start(staffed, "10:00")
    assert str(taken.value).startswith("Room 2 is held by Franklin, Rosalind (checked in, booked")
    assert taken.value.who[0].startswith("Franklin, Rosalind")
    with db.read() as session:
        kept = session.get(Appointment, spravato(staffed))
        assert kept is not None
        assert kept.status == "booked"
    change_status(
        db, SYSTEM, spravato(staffed), "start", now=at(staffed, "10:00"), chair_confirmed=True
    )
    assert mary(staffed, "10:01").stage == "in_session"
