"""The chair board as the clock moves through a Spravato session (Tuesday 24 November 2026).

Mary Seacole's Spravato is booked 10:00-12:30 in Room 2: check-in 15, dosing 10, observation
120, discharge 5 (session_types.toml), BP checks Pre-dose (dosing - 5), +40 min (dosing + 40)
and Before discharge (discharge + 0, due by the earliest discharge); discharge allowed 120
minutes after the first device; a check is late 10 minutes after it falls due (clinic.toml
reading_late_minutes).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from ketadesk.services.booking.appointment_changes import ChairTaken, change_status
from ketadesk.services.common.context import SYSTEM, Actor, InvalidRequest
from ketadesk.services.monitoring.chair_board import (
    ChairBoard,
    ChairCard,
    chair_board,
    discharge_allowed,
    session_timeline,
)
from ketadesk.services.monitoring.reading_schedule import readings_due
from ketadesk.services.monitoring.record_forms import CheckDue
from ketadesk.services.schedule import public_holidays
from ketadesk.store.models import Appointment, ClinicSetting, SessionRecord, VitalReading
from tests.clinic_fixtures import RIDE_HOME, ready_for_discharge
from tests.services.staffed_day import TUESDAY, StaffedDay, build_staffed_day


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


def card(board: ChairBoard, room: str) -> ChairCard:
    return next(c for c in board.cards if c.room_name == room)


def status(staffed: StaffedDay, key: str, action: str, when: str) -> None:
    change_status(
        staffed.clinic.db,
        SYSTEM,
        staffed.appointments[key],
        action,
        now=at(staffed, when),
        ride=RIDE_HOME,
    )


def record(
    staffed: StaffedDay,
    *,
    dose: str | None = None,
    readings: tuple[tuple[str, str], ...] = (),
    effects: str | None = None,
) -> None:
    """The nurse's monitoring record for Mary's session (Nurse Kim monitoring): the dose start,
    BP readings, and the sedation and dissociation seen (``effects``, "none" for none)."""
    with staffed.clinic.db.write() as session:
        rec = (
            session.query(SessionRecord)
            .filter_by(appointment_id=staffed.appointments["spravato"])
            .one_or_none()
        )
        if rec is None:
            rec = SessionRecord(
                appointment_id=staffed.appointments["spravato"],
                monitored_by_id=staffed.clinic.ids["Nurse Kim"],
            )
            session.add(rec)
            session.flush()
        if dose is not None:
            rec.dose_started_at = at(staffed, dose)
        if effects is not None:
            rec.sedation = rec.dissociation = effects
        for label, when in readings:
            session.add(
                VitalReading(
                    record_id=rec.id,
                    label=label,
                    taken_at=at(staffed, when),
                    systolic=128,
                    diastolic=82,
                )
            )


def mary(staffed: StaffedDay, when: str) -> ChairCard:
    return card(chair_board(staffed.clinic.db, SYSTEM, now=at(staffed, when)), "Room 2")


def test_a_card_per_treatment_room_in_order(staffed: StaffedDay) -> None:
    board = chair_board(staffed.clinic.db, SYSTEM, now=at(staffed, "08:00"))
    assert [c.room_name for c in board.cards] == ["Room 1", "Room 2", "Room 3", "Room 4"]
    assert board.day == TUESDAY
    assert hhmm(board.now) == "08:00"
    assert all(c.is_free for c in board.cards)
    room3 = card(board, "Room 3")
    assert room3.next_up is not None
    assert (hhmm(room3.next_up.start), room3.next_up.patient_name) == (
        "13:00",
        "Franklin, Rosalind",
    )
    assert room3.next_up.session_type_short == "KAP"
    assert card(board, "Room 4").next_up is None


def test_a_patient_past_their_start_who_has_not_arrived_is_late(staffed: StaffedDay) -> None:
    ada = card(chair_board(staffed.clinic.db, SYSTEM, now=at(staffed, "09:05")), "Room 1")
    assert (ada.stage, ada.patient_name, ada.phase) == ("due", "Lovelace, Ada", "Not checked in")
    assert ada.late == ("Not checked in (due 09:00)",)
    assert ada.next_bp is None  # no BP to take from someone who is not here


def test_checked_in_and_waiting(staffed: StaffedDay) -> None:
    status(staffed, "spravato", "check_in", "09:50")
    waiting = mary(staffed, "09:55")
    assert (waiting.stage, waiting.phase, waiting.status_label) == (
        "waiting",
        "Waiting to start",
        "Checked in",
    )
    assert waiting.minutes_since_dose is None
    assert waiting.next_bp is not None
    assert (waiting.next_bp.label, hhmm(waiting.next_bp.due_at)) == ("Pre-dose", "10:10")
    assert not waiting.late


def test_phase_and_bp_due_as_the_clock_moves_through_a_spravato_session(
    staffed: StaffedDay,
) -> None:
    status(staffed, "spravato", "check_in", "09:50")
    status(staffed, "spravato", "start", "10:00")

    checkin = mary(staffed, "10:05")
    assert (checkin.stage, checkin.phase, checkin.phase_key) == (
        "in_session",
        "Check-in, BP & checklist",
        "checkin",
    )
    assert hhmm(checkin.phase_ends_at) == "10:15"
    assert checkin.next_bp is not None
    assert (checkin.next_bp.label, hhmm(checkin.next_bp.due_at)) == ("Pre-dose", "10:10")
    assert not checkin.next_bp.late
    assert checkin.minutes_since_dose is None
    # No dose recorded: no discharge time, only the rule (a user trial's board promised one).
    assert checkin.discharge_allowed_at is None
    assert checkin.discharge_after_dose_minutes == 120

    record(staffed, readings=(("Pre-dose", "10:09"),))
    not_dosed = mary(staffed, "10:15")  # the first device is due; nobody recorded it
    # Never "Dosing" of a dose nobody recorded: still in the phase before it, open-ended.
    assert not_dosed.phase == "Check-in, BP & checklist"
    assert not_dosed.phase_ends_at is None
    assert not_dosed.minutes_since_dose is None
    assert not_dosed.dose_started_at is None
    assert hhmm(not_dosed.started_at) == "10:00"
    assert hhmm(not_dosed.dose_due_at) == "10:15"
    assert not_dosed.bp_recorded == ("Pre-dose",)
    # The +40 check is counted from the dose: no clock time until the dose is recorded.
    assert not_dosed.next_bp is None
    assert not_dosed.next_bp_after_dose == ("+40 min", 40)
    assert not not_dosed.late

    forgotten = mary(staffed, "11:06")  # the planned +51: no check "overdue" of a dose
    assert forgotten.phase == "Check-in, BP & checklist"  # nobody recorded
    assert forgotten.next_bp is None
    assert not forgotten.bp_late
    # ... but the dose itself is past its time (with the checks' grace): said, and counted.
    assert forgotten.late == ("Dose not recorded (due 10:15)",)
    assert forgotten.discharge_allowed_at is None
    assert not forgotten.discharge_ready
    assert forgotten.discharge_not_yet == ()

    # The dose recorded (late, at 10:15): the phase, the checks and discharge follow it.
    record(staffed, dose="10:15")
    due = mary(staffed, "10:56")  # +41: the +40 check is due, not recorded yet
    assert due.phase == "Observation"
    assert due.minutes_since_dose == 41
    assert due.next_bp is not None
    assert (due.next_bp.label, due.next_bp.due_now, due.next_bp.late) == ("+40 min", True, False)
    assert hhmm(due.discharge_allowed_at) == "12:15"
    assert due.discharge_after_dose_minutes is None
    assert not due.late

    late = mary(staffed, "11:06")  # +51: ten minutes past due, still not recorded
    assert late.next_bp is not None
    assert late.next_bp.late
    assert late.bp_late
    assert late.late == ("BP +40 min overdue since 10:55",)
    assert not late.discharge_ready

    record(staffed, readings=(("+40 min", "11:07"),))
    caught_up = mary(staffed, "11:08")
    assert caught_up.next_bp is not None
    assert (caught_up.next_bp.label, hhmm(caught_up.next_bp.due_at)) == (
        "Before discharge",
        "12:15",  # the earliest discharge, not the discharge phase's 12:25
    )
    assert not caught_up.late

    # +120 from the first device: the time has come, but the completion's rules still refuse.
    waiting = mary(staffed, "12:15")
    assert not waiting.discharge_ready
    assert waiting.discharge_not_yet == (
        "BP “Before discharge” missing",
        "sedation and dissociation not recorded",
    )
    record(staffed, readings=(("Before discharge", "12:15"),), effects="none")
    ready = mary(staffed, "12:15")
    assert ready.minutes_since_dose == 120
    assert ready.discharge_ready
    assert ready.discharge_not_yet == ()
    assert not ready.discharge_late
    # The observation ends when discharge is allowed: one time, not 12:25 beside 12:15.
    assert ready.phase == "Discharge"
    assert not ready.late
    assert not mary(staffed, "12:14").discharge_ready

    still_there = mary(staffed, "12:40")
    assert still_there.discharge_late
    assert still_there.overrun
    assert still_there.phase == "Discharge"
    assert still_there.late == (
        "Still in the chair; discharge allowed since 12:15",
        "Running past the planned end (12:30)",
    )


def test_the_before_discharge_check_falls_due_when_discharge_is_allowed(
    staffed: StaffedDay,
) -> None:
    """A user trial: the board said "Discharge allowed from 11:26" and the "Before discharge" BP
    due ten minutes later, the discharge phase's start.  The check falls due at the earliest
    discharge, whatever the start and the dose: never after the time discharge is allowed."""
    status(staffed, "spravato", "start", "10:11")  # late: the planned dose is 10:26
    planned = mary(staffed, "10:12")
    before = next(c for c in records_due(staffed, "10:12") if c.label == "Before discharge")
    assert planned.discharge_allowed_at is None  # no dose recorded: no time promised
    assert planned.discharge_after_dose_minutes == 120
    # The record plans the check by the planned dose (10:26 + 120).
    assert hhmm(staffed.clinic.calendar.local(before.due_at)) == "12:26"  # was 12:36
    record(staffed, dose="10:12", readings=(("Pre-dose", "10:08"), ("+40 min", "10:52")))
    dosed = mary(staffed, "11:00")
    assert hhmm(dosed.discharge_allowed_at) == "12:12"
    assert dosed.next_bp is not None
    assert (dosed.next_bp.label, hhmm(dosed.next_bp.due_at)) == ("Before discharge", "12:12")
    assert hhmm(dosed.end) == "12:30"  # the reading fits in the booked slot


def test_a_late_dose_runs_past_the_booked_end_and_the_board_says_so(staffed: StaffedDay) -> None:
    status(staffed, "spravato", "start", "10:00")
    record(staffed, dose="10:40", readings=(("Pre-dose", "10:35"), ("+40 min", "11:20")))
    c = mary(staffed, "12:35")
    assert hhmm(c.discharge_allowed_at) == "12:40"
    assert c.next_bp is not None
    assert (c.next_bp.label, hhmm(c.next_bp.due_at)) == ("Before discharge", "12:40")
    assert c.overrun
    assert "Running past the planned end (12:30)" in c.late


def records_due(staffed: StaffedDay, when: str) -> tuple[CheckDue, ...]:
    """The monitoring record's checks for Mary's session (the record and the board share them)."""
    key = staffed.appointments["spravato"]
    return readings_due(staffed.clinic.db, [key], now=at(staffed, when))[key].checks


def test_a_late_start_moves_the_whole_timeline(staffed: StaffedDay) -> None:
    status(staffed, "spravato", "start", "10:20")
    c = mary(staffed, "10:30")
    assert c.phase == "Check-in, BP & checklist"
    assert c.dose_started_at is None
    assert hhmm(c.dose_due_at) == "10:35"
    assert c.discharge_allowed_at is None
    assert c.discharge_after_dose_minutes == 120
    assert c.next_bp is not None
    assert hhmm(c.next_bp.due_at) == "10:30"


def test_the_recorded_dose_start_counts(staffed: StaffedDay) -> None:
    status(staffed, "spravato", "start", "10:00")
    record(staffed, dose="10:22", readings=(("Pre-dose", "10:18"),))
    c = mary(staffed, "10:30")
    assert (c.phase, c.minutes_since_dose) == ("Dosing", 8)
    assert hhmm(c.discharge_allowed_at) == "12:22"
    assert c.next_bp is not None
    assert (c.next_bp.label, hhmm(c.next_bp.due_at)) == ("+40 min", "11:02")


def test_a_completed_session_leaves_the_chair(staffed: StaffedDay) -> None:
    status(staffed, "spravato", "start", "10:00")
    ready_for_discharge(staffed.clinic.db, staffed.appointments["spravato"])
    status(staffed, "spravato", "complete", "12:20")
    c = mary(staffed, "12:21")
    assert c.is_free


def test_an_iv_infusion_without_a_minimum_is_discharged_after_recovery(
    staffed: StaffedDay,
) -> None:
    status(staffed, "iv", "start", "09:00")
    ada = card(chair_board(staffed.clinic.db, SYSTEM, now=at(staffed, "09:30")), "Room 1")
    # Nobody recorded the infusion's start: the card says when it was due, not "15 min ago",
    # and not "Infusion" either.
    assert (ada.phase, ada.minutes_since_dose, hhmm(ada.dose_due_at)) == (
        "Check-in & vitals",
        None,
        "09:15",
    )
    # IV readings fall due every 15 minutes from the infusion's start; the pre-dose one is late.
    assert ada.next_bp is not None
    assert (ada.next_bp.label, hhmm(ada.next_bp.due_at), ada.next_bp.late) == (
        "Pre-dose",
        "09:10",
        True,
    )
    assert ada.discharge_allowed_at is None
    assert ada.discharge_after_dose_minutes == 85  # [session_types.iv_infusion]
    # The infusion's start recorded: the phase and a discharge time follow it.
    with staffed.clinic.db.write() as session:
        iv = staffed.appointments["iv"]
        session.add(SessionRecord(appointment_id=iv, dose_started_at=at(staffed, "09:15")))
    ada = card(chair_board(staffed.clinic.db, SYSTEM, now=at(staffed, "09:30")), "Room 1")
    assert (ada.phase, ada.minutes_since_dose) == ("Infusion", 15)
    assert hhmm(ada.discharge_allowed_at) == "10:40"


def test_timeline_and_discharge_come_from_the_configuration(staffed: StaffedDay) -> None:
    spec = staffed.clinic.catalog.session_types["spravato"]
    start = at(staffed, "10:00").astimezone(staffed.clinic.calendar.tz)
    timeline = session_timeline(spec, start)
    assert [(p.key, hhmm(p.start), hhmm(p.end)) for p in timeline] == [
        ("checkin", "10:00", "10:15"),
        ("dosing", "10:15", "10:25"),
        # Observation is counted from the first device (10:15): it ends at 12:15, when
        # discharge is allowed, not at 12:25 after 120 more minutes (a user trial's board said
        # "Observation until 2:23 PM" beside "Discharge 2:13 PM").
        ("observation", "10:25", "12:15"),
        ("discharge", "12:15", "12:20"),
    ]
    assert spec.observation_minutes is not None
    allowed = discharge_allowed(spec, timeline)
    assert allowed == timeline[1].start + dt.timedelta(minutes=spec.observation_minutes)


def test_the_clinic_decides_when_a_check_is_late(staffed: StaffedDay) -> None:
    with staffed.clinic.db.write() as session:
        monitoring = session.get(ClinicSetting, "monitoring")
        assert monitoring is not None
        monitoring.value = {**monitoring.value, "reading_late_minutes": 0}
    status(staffed, "spravato", "start", "10:00")
    record(staffed, dose="10:15", readings=(("Pre-dose", "10:09"),))
    c = mary(staffed, "10:56")  # +41, with no grace at all
    assert c.bp_late
    assert c.late == ("BP +40 min overdue since 10:55",)


def test_a_patient_checked_in_before_the_one_started_stays_on_the_board(
    staffed: StaffedDay,
) -> None:
    """A user trial: a patient checked in for 10:30 dropped off the board once another,
    booked later in the same room, was started; only the day view still showed her."""
    with staffed.clinic.db.write() as session:
        kap = session.get(Appointment, staffed.appointments["kap"])
        spravato = session.get(Appointment, staffed.appointments["spravato"])
        assert kap is not None
        assert spravato is not None
        # Rosalind's KAP put (by hand, for the test) in Room 2, booked before Mary's Spravato.
        length = kap.ends_at - kap.starts_at
        kap.room_id = spravato.room_id
        kap.starts_at = spravato.starts_at - dt.timedelta(minutes=30)
        kap.ends_at = kap.starts_at + length
    status(staffed, "kap", "check_in", "09:25")
    # Rosalind checked in to Room 2: Mary's start there is asked first (``ChairTaken``).
    with pytest.raises(ChairTaken, match=r"^Room 2 is held by Franklin, Rosalind \(checked in"):
        status(staffed, "spravato", "start", "10:00")
    change_status(
        staffed.clinic.db,
        SYSTEM,
        staffed.appointments["spravato"],
        "start",
        now=at(staffed, "10:00"),
        chair_confirmed=True,
    )
    c = mary(staffed, "10:05")
    assert c.patient_name == "Seacole, Mary"
    assert c.next_up is not None
    assert (c.next_up.patient_name, c.next_up.checked_in) == ("Franklin, Rosalind", True)
    # Nor can she be started into the chair Mary is in; once Mary is discharged, she can.
    with pytest.raises(InvalidRequest, match=r"^Room 2 is still in use: Seacole, Mary \(#"):
        status(staffed, "kap", "start", "10:10")
    ready_for_discharge(staffed.clinic.db, staffed.appointments["spravato"])
    status(staffed, "spravato", "complete", "12:20")
    status(staffed, "kap", "start", "12:25")
    assert mary(staffed, "12:26").patient_name == "Franklin, Rosalind"


def test_the_next_patient_already_waiting_shows_as_next(staffed: StaffedDay) -> None:
    with staffed.clinic.db.write() as session:
        kap = session.get(Appointment, staffed.appointments["kap"])
        assert kap is not None
        spravato = session.get(Appointment, staffed.appointments["spravato"])
        assert spravato is not None
        # Rosalind's KAP moved (by hand, for the test) to Room 2 after Mary's Spravato.
        kap.room_id = spravato.room_id
    status(staffed, "spravato", "start", "10:00")
    status(staffed, "kap", "check_in", "12:20")
    c = mary(staffed, "12:25")
    assert c.patient_name == "Seacole, Mary"
    assert c.next_up is not None
    assert (c.next_up.patient_name, hhmm(c.next_up.start)) == ("Franklin, Rosalind", "13:00")


def test_a_checked_in_patient_not_yet_dosed_has_no_overdue_check_counted_from_the_dose(
    staffed: StaffedDay,
) -> None:
    # A user trial: a checked-in patient nobody had started showed "⚠ BP +0 min overdue since
    # 11:15", a check counted from a dose that was never given.
    status(staffed, "spravato", "check_in", "09:50")
    record(staffed, readings=(("Pre-dose", "10:05"),))
    waiting = mary(staffed, "11:20")  # the planned +40 min (10:55) is well past its grace
    assert waiting.stage == "waiting"
    assert waiting.next_bp is None
    assert waiting.next_bp_after_dose == ("+40 min", 40)
    assert not any("overdue" in line for line in waiting.late)


def test_after_a_hard_stop_the_next_check_is_the_pre_dose_recheck(staffed: StaffedDay) -> None:
    status(staffed, "spravato", "check_in", "09:50")
    status(staffed, "spravato", "start", "10:00")
    record(staffed, readings=(("Pre-dose", "10:08"),))
    with staffed.clinic.db.write() as session:
        reading = session.query(VitalReading).filter_by(label="Pre-dose").one()
        reading.systolic, reading.diastolic = 186, 112
    stopped = mary(staffed, "10:12")
    assert stopped.next_bp_after_dose is None
    assert stopped.next_bp is not None
    # Due [chair] bp_recheck_minutes after the reading, not "due now": a recheck of the same
    # minute does not count (a user trial).
    assert (stopped.next_bp.label, hhmm(stopped.next_bp.due_at)) == ("Pre-dose recheck", "10:23")
    assert not stopped.next_bp.due_now
    assert not stopped.next_bp.late
    assert stopped.bp_alert == (
        "Do not dose: BP 186/112 over the hard stop (180/110) at 10:08; "
        "recheck after rest, due 10:23"
    )
    assert stopped.bp_alert_stop
    assert stopped.needs_attention
    # The recheck after rest, at a later minute, clears it: the checks after the dose follow.
    record(staffed, readings=(("Pre-dose recheck", "10:14"),))
    cleared = mary(staffed, "10:15")
    assert cleared.next_bp is None
    assert cleared.next_bp_after_dose == ("+40 min", 40)


FRONT_DESK = Actor(user_id=None, username="maria", role="front_desk")


def test_the_front_desk_sees_which_chair_is_busy_and_until_when_and_no_monitoring(
    staffed: StaffedDay,
) -> None:
    # A user trial: the front desk's board showed dose times, overdue BP checks, what the
    # discharge lacked and an urgent review, against the README's role table.
    status(staffed, "spravato", "check_in", "09:50")
    status(staffed, "spravato", "start", "10:00")
    record(staffed, dose="10:15", readings=(("Pre-dose", "10:10"),))
    now = at(staffed, "11:20")  # "+40 min" (10:55) overdue for the nurse
    nurse = card(chair_board(staffed.clinic.db, SYSTEM, now=now), "Room 2")
    assert nurse.next_bp is not None
    assert nurse.bp_late
    assert nurse.minutes_since_dose == 65
    desk = card(chair_board(staffed.clinic.db, FRONT_DESK, now=now), "Room 2")
    assert (desk.stage, desk.patient_name, desk.phase) == (
        "in_session",
        nurse.patient_name,
        "In session",
    )
    assert (hhmm(desk.start), hhmm(desk.end)) == ("10:00", "12:30")
    assert hhmm(desk.expected_end) == "12:20"  # dose on time: observation to 12:15, discharge 5
    assert not desk.clinical
    assert desk.next_bp is None
    assert desk.next_bp_after_dose is None
    assert desk.dose_started_at is None
    assert desk.minutes_since_dose is None
    assert desk.discharge_allowed_at is None
    assert desk.phase_key == ""
    assert desk.late == ()
    assert not desk.bp_late
    # What is late for the desk stays: a session running past its planned end.
    late = card(chair_board(staffed.clinic.db, FRONT_DESK, now=at(staffed, "12:40")), "Room 2")
    assert late.late == ("Running past the planned end (12:30)",)
