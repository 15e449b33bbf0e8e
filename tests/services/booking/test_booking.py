"""Booking writes whole plans or nothing, and never lets two sessions share what they cannot."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, insert, select, update

from ketadesk.scheduling.model import PlannedSession
from ketadesk.services.booking import appointment_changes, booking
from ketadesk.services.booking.booking import BookingRequest
from ketadesk.services.booking.plan_check import BookingConflict
from ketadesk.services.common.context import SYSTEM, Actor, InvalidRequest, PermissionDenied
from ketadesk.store import changes
from ketadesk.store.database import open_database
from ketadesk.store.models import (
    Appointment,
    AuditEvent,
    ClinicSetting,
    Closure,
    GatingOverride,
    Patient,
    Resource,
    ResourceHold,
    Series,
    SessionType,
    StaffShift,
)
from tests.clinic_fixtures import (
    CLEARED,
    RIDE_HOME,
    SmallClinic,
    build_small_clinic,
    ready_for_discharge,
)

NOW = dt.datetime(2026, 12, 1, 16, 0, tzinfo=dt.UTC)  # Tuesday 1 Dec 2026, 08:00 in San Diego
WED = dt.date(2026, 12, 2)
IV_A = {"room": "Room 1", "monitor": "Monitor 1", "nurse": "Nurse Kim"}
IV_B = {"room": "Room 2", "monitor": "Monitor 2", "nurse": "Nurse Kim"}
FRONT_DESK = Actor(user_id=None, username="maria", role="front_desk")


@pytest.fixture
def clinic(db_url: str) -> Iterator[SmallClinic]:
    c = build_small_clinic(db_url)
    yield c
    c.db.dispose()


def _book(
    clinic: SmallClinic, *sessions: PlannedSession, who: str = "Ada Lovelace", **kw: object
) -> booking.BookingResult:
    request = BookingRequest(patient_id=clinic.ids[who], sessions=sessions, **kw)  # type: ignore[arg-type]
    return booking.book(clinic.db, FRONT_DESK, request, now=NOW)


def test_booking_writes_appointment_holds_event_and_audit(clinic: SmallClinic) -> None:
    result = _book(clinic, clinic.session("iv_infusion", WED, "10:00", IV_A))
    with clinic.db.read() as s:
        appt = s.get(Appointment, result.appointment_ids[0])
        assert appt is not None
        assert appt.status == "booked"
        assert appt.room_id == clinic.ids["Room 1"]
        assert clinic.calendar.local(appt.starts_at).strftime("%H:%M") == "10:00"
        needs = sorted({(h.need, h.mode) for h in appt.holds})
        assert needs == [
            ("monitor", "exclusive"),
            ("nurse", "exclusive"),
            ("nurse", "shared"),
            ("room", "exclusive"),
        ]
        assert [e.action for e in appt.events] == ["book"]
        audits = s.scalars(select(AuditEvent)).all()
        # The booking, and the before-session PHQ-9 it owes (audited as the follow-up it is).
        assert sorted((a.entity, a.action) for a in audits) == [
            ("appointment", "book"),
            ("follow_up", "open_follow_up"),
        ]
        assert changes.current(s) == 1


def test_second_booking_of_a_held_room_is_refused_with_who_holds_it(clinic: SmallClinic) -> None:
    _book(clinic, clinic.session("iv_infusion", WED, "10:00", IV_A))
    clash = {"room": "Room 1", "monitor": "Monitor 2", "nurse": "Nurse Kim"}
    with pytest.raises(BookingConflict, match=r"Room 1 was just taken by Lovelace, A\."):
        _book(clinic, clinic.session("iv_infusion", WED, "11:00", clash))


def test_nurse_watches_at_most_three_recovering_patients(clinic: SmallClinic) -> None:
    for n, start in enumerate(["08:00", "08:15", "08:30", "08:45"], start=1):
        assign = {"room": f"Room {n}", "monitor": f"Monitor {n}", "nurse": "Nurse Kim"}
        request = BookingRequest(
            patient_id=clinic.ids[CLEARED[n - 1]],
            sessions=(clinic.session("iv_infusion", WED, start, assign),),
        )
        if n < 4:
            booking.book(clinic.db, FRONT_DESK, request, now=NOW)
            continue
        with pytest.raises(BookingConflict, match="Nurse Kim already has 3 patients"):
            booking.book(clinic.db, FRONT_DESK, request, now=NOW)


def test_one_dosing_session_per_patient_per_day(clinic: SmallClinic) -> None:
    _book(clinic, clinic.session("iv_infusion", WED, "08:00", IV_A))
    with pytest.raises(
        BookingConflict, match=r"would have 2 dosing sessions on Wed Dec 2 \(at most 1\)"
    ):
        _book(clinic, clinic.session("iv_infusion", WED, "13:00", IV_B))
    _book(clinic, clinic.session("iv_infusion", dt.date(2026, 12, 4), "13:00", IV_B))


def test_a_patient_is_in_one_session_at_a_time(clinic: SmallClinic) -> None:
    _book(clinic, clinic.session("iv_infusion", WED, "10:00", IV_A))
    with pytest.raises(
        BookingConflict, match="the patient already has IV ketamine infusion Wed Dec 2 10:00"
    ):
        _book(clinic, clinic.session("iv_infusion", WED, "11:00", IV_B))


def test_nurse_cannot_start_two_infusions_at_once(clinic: SmallClinic) -> None:
    _book(clinic, clinic.session("iv_infusion", WED, "09:00", IV_A))
    with pytest.raises(BookingConflict, match="Nurse Kim was just taken"):
        _book(clinic, clinic.session("iv_infusion", WED, "09:05", IV_B))


def test_series_is_booked_all_or_nothing(clinic: SmallClinic) -> None:
    # Another patient's infusion holds Room 1 on the second day.
    _book(
        clinic,
        clinic.session("iv_infusion", dt.date(2026, 12, 4), "10:00", IV_A),
        who="Mary Seacole",
    )
    sessions = [
        clinic.session("iv_infusion", day, "10:00", IV_A, index=i)
        for i, day in enumerate([WED, dt.date(2026, 12, 4), dt.date(2026, 12, 7)], start=1)
    ]
    with pytest.raises(BookingConflict):
        _book(clinic, *sessions, protocol="iv_induction")
    with clinic.db.read() as s:
        assert s.scalar(select(func.count()).select_from(Series)) == 0
        assert s.scalar(select(func.count()).select_from(Appointment)) == 1


def test_thanksgiving_is_closed(clinic: SmallClinic) -> None:
    thanksgiving = dt.date(2027, 11, 25)
    with pytest.raises(BookingConflict, match="clinic closed: Thanksgiving"):
        _book(clinic, clinic.session("iv_infusion", thanksgiving, "10:00", IV_A))


def test_session_past_closing_time_is_refused(clinic: SmallClinic) -> None:
    with pytest.raises(BookingConflict, match="outside opening hours"):
        _book(clinic, clinic.session("iv_infusion", WED, "17:00", IV_A))


def test_booking_in_the_past_is_refused(clinic: SmallClinic) -> None:
    with pytest.raises(InvalidRequest, match="in the past"):
        _book(clinic, clinic.session("iv_infusion", dt.date(2026, 11, 30), "10:00", IV_A))


def test_therapist_may_not_book(clinic: SmallClinic) -> None:
    therapist = Actor(user_id=None, username="sam", role="therapist")
    request = BookingRequest(
        patient_id=clinic.ids["Ada Lovelace"],
        sessions=(clinic.session("iv_infusion", WED, "10:00", IV_A),),
    )
    with pytest.raises(PermissionDenied, match="may book sessions"):
        booking.book(clinic.db, therapist, request, now=NOW)


def test_cancel_frees_the_room_and_undo_takes_it_back(clinic: SmallClinic) -> None:
    first = _book(clinic, clinic.session("iv_infusion", WED, "10:00", IV_A)).appointment_ids[0]
    change = appointment_changes.change_status(
        clinic.db, FRONT_DESK, first, "cancel", reason="patient has the flu", now=NOW
    )
    assert change.to_status == "cancelled"
    with clinic.db.read() as s:
        appt = s.get(Appointment, first)
        assert appt is not None
        assert appt.late_cancel is False  # more than 24 h ahead
        assert not any(h.active for h in appt.holds)
    undone = appointment_changes.undo_status(clinic.db, FRONT_DESK, first, now=NOW)
    assert undone.to_status == "booked"
    with pytest.raises(BookingConflict):
        _book(clinic, clinic.session("iv_infusion", WED, "10:30", IV_A))


def test_undo_of_cancel_is_refused_once_the_slot_is_taken(clinic: SmallClinic) -> None:
    first = _book(clinic, clinic.session("iv_infusion", WED, "10:00", IV_A)).appointment_ids[0]
    appointment_changes.change_status(
        clinic.db, FRONT_DESK, first, "cancel", reason="moved away", now=NOW
    )
    _book(clinic, clinic.session("iv_infusion", WED, "10:00", IV_A))
    with pytest.raises(BookingConflict, match="Room 1 was just taken"):
        appointment_changes.undo_status(clinic.db, FRONT_DESK, first, now=NOW)
    with clinic.db.read() as s:
        appt = s.get(Appointment, first)
        assert appt is not None
        assert appt.status == "cancelled"


def test_a_no_show_before_the_start_is_refused(clinic: SmallClinic) -> None:
    """A user trial: a session two days ahead was marked a no-show, with its fee, from the
    right-click menu.  A patient misses a session only once it has begun without them."""
    appt_id = _book(clinic, clinic.session("iv_infusion", WED, "10:00", IV_A)).appointment_ids[0]
    with pytest.raises(InvalidRequest, match="has not started yet"):
        appointment_changes.change_status(
            clinic.db, FRONT_DESK, appt_id, "no_show", now=clinic.at(WED, "09:59")
        )
    with clinic.db.read() as s:
        appt = s.get(Appointment, appt_id)
        assert appt is not None
        assert appt.status == "booked"


def test_no_show_then_undo(clinic: SmallClinic) -> None:
    appt_id = _book(clinic, clinic.session("iv_infusion", WED, "10:00", IV_A)).appointment_ids[0]
    missed = clinic.at(WED, "10:30")  # half an hour past the start
    appointment_changes.change_status(clinic.db, SYSTEM, appt_id, "no_show", now=missed)
    appointment_changes.undo_status(clinic.db, SYSTEM, appt_id, now=missed)
    with clinic.db.read() as s:
        appt = s.get(Appointment, appt_id)
        assert appt is not None
        assert appt.status == "booked"
        assert all(h.active for h in appt.holds)
        assert [e.action for e in appt.events] == ["book", "no_show", "undo"]


def test_late_cancel_is_flagged(clinic: SmallClinic) -> None:
    appt_id = _book(clinic, clinic.session("iv_infusion", WED, "10:00", IV_A)).appointment_ids[0]
    late = NOW + dt.timedelta(hours=20)
    appointment_changes.change_status(
        clinic.db, SYSTEM, appt_id, "cancel", reason="no ride", now=late
    )
    with clinic.db.read() as s:
        appt = s.get(Appointment, appt_id)
        assert appt is not None
        assert appt.late_cancel is True


def test_status_walks_forward_only(clinic: SmallClinic) -> None:
    appt_id = _book(clinic, clinic.session("iv_infusion", WED, "10:00", IV_A)).appointment_ids[0]
    ready_for_discharge(clinic.db, appt_id)
    on_the_day = clinic.at(WED, "07:45")  # checked in and started on its own day
    for action in ("check_in", "start", "complete"):
        appointment_changes.change_status(
            clinic.db, SYSTEM, appt_id, action, now=on_the_day, ride=RIDE_HOME
        )
    with pytest.raises(InvalidRequest, match="is completed; it cannot be cancelled") as refused:
        appointment_changes.change_status(clinic.db, SYSTEM, appt_id, "cancel", reason="x", now=NOW)
    # The refusal names the patient, the session and its time, not an internal number (trial
    # 3, A17: "appointment #460 is cancelled; it cannot be in progress").
    assert str(refused.value).startswith(
        "Lovelace, Ada's IV ketamine infusion Wed Dec 2 10:00 is completed"
    )
    assert "#" not in str(refused.value)


def test_move_to_a_free_time_and_refuse_a_taken_one(clinic: SmallClinic) -> None:
    a = _book(clinic, clinic.session("iv_infusion", WED, "08:00", IV_A)).appointment_ids[0]
    _book(clinic, clinic.session("iv_infusion", WED, "13:00", IV_B), who="Mary Seacole")
    moved = appointment_changes.move(
        clinic.db, FRONT_DESK, a, clinic.session("iv_infusion", WED, "10:00", IV_A), now=NOW
    )
    with clinic.db.read() as s:
        appt = s.get(Appointment, a)
        assert appt is not None
        assert clinic.calendar.local(appt.starts_at).strftime("%H:%M") == "10:00"
        assert len(appt.holds) == 4
        assert s.scalar(select(func.count()).select_from(ResourceHold)) == 8
    with pytest.raises(BookingConflict, match="Room 2 was just taken"):
        appointment_changes.move(
            clinic.db,
            FRONT_DESK,
            a,
            clinic.session("iv_infusion", WED, "13:30", IV_B),
            expected_version=moved.version,
            now=NOW,
        )


def test_move_with_a_stale_version_is_refused(clinic: SmallClinic) -> None:
    a = _book(clinic, clinic.session("iv_infusion", WED, "08:00", IV_A)).appointment_ids[0]
    appointment_changes.change_status(clinic.db, SYSTEM, a, "check_in", now=clinic.at(WED, "07:30"))
    with pytest.raises(BookingConflict, match=r"was checked in.*nothing was done"):
        appointment_changes.move(
            clinic.db,
            FRONT_DESK,
            a,
            clinic.session("iv_infusion", WED, "10:00", IV_A),
            expected_version=1,
            now=NOW,
        )


# ---------------------------------------------------------------------------------------------
# Every booking re-reads what it depends on inside its own transaction: the configuration, the
# calendar of the resources it holds and the patient's record (cached only while unchanged).

THU = dt.date(2026, 12, 3)
NURSE = Actor(user_id=None, username="kim", role="nurse")


def _change(clinic: SmallClinic, *statements: Any) -> None:
    """Another workstation's write, in its own transaction."""
    with clinic.db.write() as s:
        for stmt in statements:
            s.execute(stmt)


def test_a_configuration_change_counts_from_the_next_booking(clinic: SmallClinic) -> None:
    with clinic.db.read() as s:
        hours = s.scalars(select(ClinicSetting.value).where(ClinicSetting.key == "hours")).one()
    short_wednesday = {**hours, "wed": ["07:30", "09:00"]}
    _change(
        clinic,
        update(ClinicSetting).where(ClinicSetting.key == "hours").values(value=short_wednesday),
    )
    with pytest.raises(BookingConflict, match=r"outside opening hours \(07:30–09:00"):
        _book(clinic, clinic.session("iv_infusion", WED, "10:00", IV_A))
    _change(clinic, update(ClinicSetting).where(ClinicSetting.key == "hours").values(value=hours))
    _book(clinic, clinic.session("iv_infusion", WED, "10:00", IV_A))


def test_a_session_type_change_counts_from_the_next_booking(clinic: SmallClinic) -> None:
    with clinic.db.read() as s:
        definition = s.scalars(
            select(SessionType.definition).where(SessionType.code == "iv_infusion")
        ).one()
    # The clinic stops gating IV infusions on a driver; Grace Hopper has none (and is pending
    # screening, so she is still refused, but for that reason alone).
    lenient = {**definition, "gating": ["screening_cleared"]}
    _change(
        clinic,
        update(SessionType).where(SessionType.code == "iv_infusion").values(definition=lenient),
    )
    request = BookingRequest(
        patient_id=clinic.ids["Grace Hopper"],
        sessions=(clinic.session("iv_infusion", WED, "10:00", IV_A),),
    )
    with pytest.raises(booking.GateRefused) as refused:
        booking.book(clinic.db, FRONT_DESK, request, now=NOW)
    assert [r.rule for r in refused.value.results] == ["screening_cleared"]


def test_a_closure_entered_elsewhere_stops_the_next_booking(clinic: SmallClinic) -> None:
    _change(
        clinic,
        insert(Closure).values(
            resource_id=clinic.ids["Room 1"],
            kind="maintenance",
            starts_at=clinic.at(WED, "07:00"),
            ends_at=clinic.at(WED, "12:00"),
            reason="new floor",
        ),
    )
    with pytest.raises(BookingConflict, match="Room 1 closed: new floor"):
        _book(clinic, clinic.session("iv_infusion", WED, "10:00", IV_A))
    # Another room's closure is no concern of a booking that does not hold it.
    _book(clinic, clinic.session("iv_infusion", WED, "10:00", IV_B))


def test_a_shift_changed_elsewhere_stops_the_next_booking(clinic: SmallClinic) -> None:
    _change(
        clinic,
        update(StaffShift)
        .where(StaffShift.resource_id == clinic.ids["Nurse Kim"], StaffShift.weekday == 2)
        .values(end_minute=9 * 60),
    )
    with pytest.raises(BookingConflict, match="Nurse Kim not on shift"):
        _book(clinic, clinic.session("iv_infusion", WED, "10:00", IV_A))
    _book(clinic, clinic.session("iv_infusion", THU, "10:00", IV_A))


# A booking keeps the configuration, resources, shifts and closures between bookings
# (store/reference.py, migration 0019); a write from anywhere but another booking must still
# count at once.


def _elsewhere(clinic: SmallClinic, *statements: Any) -> None:
    """A write from another workstation: another Database on the same clinic."""
    url = clinic.db.url.render_as_string(hide_password=False)
    other = open_database(url)
    try:
        with other.write() as s:
            for stmt in statements:
                s.execute(stmt)
    finally:
        other.dispose()


def _room_1_closed(clinic: SmallClinic) -> Any:
    return insert(Closure).values(
        resource_id=clinic.ids["Room 1"],
        kind="maintenance",
        starts_at=clinic.at(WED, "07:00"),
        ends_at=clinic.at(WED, "12:00"),
        reason="new floor",
    )


@pytest.mark.parametrize("where", ["another workstation", "this workstation"])
def test_a_closure_added_after_a_booking_stops_the_next_one(
    clinic: SmallClinic, where: str
) -> None:
    _book(clinic, clinic.session("iv_infusion", THU, "10:00", IV_A))  # fills the cache
    write = _elsewhere if where == "another workstation" else _change
    write(clinic, _room_1_closed(clinic))
    with pytest.raises(BookingConflict, match="Room 1 closed: new floor"):
        _book(clinic, clinic.session("iv_infusion", WED, "10:00", IV_A), who="Mary Seacole")
    _book(clinic, clinic.session("iv_infusion", WED, "10:00", IV_B), who="Mary Seacole")


def test_changes_made_between_bookings_elsewhere_all_count(clinic: SmallClinic) -> None:
    _book(clinic, clinic.session("iv_infusion", THU, "10:00", IV_A))
    _elsewhere(
        clinic,
        update(StaffShift)
        .where(StaffShift.resource_id == clinic.ids["Nurse Kim"], StaffShift.weekday == 2)
        .values(end_minute=9 * 60),
    )
    with pytest.raises(BookingConflict, match="Nurse Kim not on shift"):
        _book(clinic, clinic.session("iv_infusion", WED, "10:00", IV_A), who="Mary Seacole")
    _book(clinic, clinic.session("iv_infusion", THU, "12:00", IV_B), who="Mary Seacole")
    _elsewhere(clinic, update(Resource).where(Resource.name == "Room 2").values(active=False))
    with pytest.raises(BookingConflict, match="Room 2"):
        _book(clinic, clinic.session("iv_infusion", THU, "14:00", IV_B), who="Rosalind Franklin")
    with clinic.db.read() as s:
        hours = s.scalars(select(ClinicSetting.value).where(ClinicSetting.key == "hours")).one()
    _elsewhere(
        clinic,
        update(ClinicSetting)
        .where(ClinicSetting.key == "hours")
        .values(value={**hours, "thu": ["07:30", "09:00"]}),
    )
    with pytest.raises(BookingConflict, match=r"outside opening hours \(07:30–09:00"):
        _book(clinic, clinic.session("iv_infusion", THU, "14:00", IV_A), who="Rosalind Franklin")


def test_a_shift_that_ended_before_the_session_does_not_cover_it(clinic: SmallClinic) -> None:
    _change(
        clinic,
        update(StaffShift)
        .where(StaffShift.resource_id == clinic.ids["Nurse Kim"])
        .values(valid_until=dt.date(2026, 12, 2)),
    )
    _book(clinic, clinic.session("iv_infusion", WED, "10:00", IV_A))
    with pytest.raises(BookingConflict, match="Nurse Kim not on shift"):
        _book(clinic, clinic.session("iv_infusion", THU, "10:00", IV_B))


def test_prior_authorization_counts_the_sessions_already_booked(clinic: SmallClinic) -> None:
    _change(
        clinic,
        update(Patient)
        .where(Patient.id == clinic.ids["Ada Lovelace"])
        .values(prior_auth_sessions=1),
    )
    spravato = {
        "room": "Room 1",
        "monitor": "Monitor 1",
        "oximeter": "Oximeter 1",
        "nurse": "Nurse Kim",
        "prescriber": "Dr Patel",
    }
    _book(clinic, clinic.session("spravato", WED, "10:00", spravato))
    with pytest.raises(booking.GateRefused, match="prior authorization covers 0 more"):
        _book(clinic, clinic.session("spravato", THU, "10:00", spravato))


def test_a_series_writes_every_row_in_one_transaction(clinic: SmallClinic) -> None:
    days = [WED, dt.date(2026, 12, 4), dt.date(2026, 12, 7)]
    sessions = [
        clinic.session("iv_infusion", day, "10:00", IV_A, index=i)
        for i, day in enumerate(days, start=1)
    ]
    request = BookingRequest(
        patient_id=clinic.ids["Ada Lovelace"],
        sessions=tuple(reversed(sessions)),
        protocol="iv_induction",
        preferences={"weekdays": ["wed", "fri", "mon"]},
        overrides={"driver_arranged": "sister drives"},
    )
    result = booking.book(clinic.db, NURSE, request, now=NOW)
    assert result.series_id is not None
    with clinic.db.read() as s:
        series = s.get(Series, result.series_id)
        assert series is not None
        assert series.planned_count == 3
        assert series.preferences == {"weekdays": ["wed", "fri", "mon"]}
        appts = [s.get(Appointment, a) for a in result.appointment_ids]
        assert [a.series_index for a in appts if a] == [1, 2, 3]
        for appt, day in zip(appts, days, strict=True):
            assert appt is not None
            assert appt.series_id == series.id
            assert appt.version == 1
            assert appt.room_id == clinic.ids["Room 1"]
            assert clinic.calendar.local_date(appt.starts_at) == day
            assert len(appt.holds) == 4
            assert [e.action for e in appt.events] == ["book"]
        # One "book" audit event per appointment (the follow-ups they owe are audited on their
        # own), and one for each override given, as a move's override is.
        audits = s.scalars(
            select(AuditEvent)
            .where(AuditEvent.entity == "appointment", AuditEvent.action == "book")
            .order_by(AuditEvent.id)
        ).all()
        assert [a.entity_id for a in audits] == list(result.appointment_ids)
        overridden = s.execute(
            select(AuditEvent.entity_id, AuditEvent.detail, AuditEvent.username)
            .where(AuditEvent.action == "override_rule")
            .order_by(AuditEvent.entity_id)
        ).all()
        assert [tuple(o) for o in overridden] == [
            (a, "driver_arranged: sister drives", "kim") for a in sorted(result.appointment_ids)
        ]
        assert {a.username for a in audits} == {"kim"}
        assert audits[0].after is not None
        assert audits[0].after["status"] == "booked"
        overrides = s.scalars(select(GatingOverride).order_by(GatingOverride.appointment_id)).all()
        assert [o.appointment_id for o in overrides] == sorted(result.appointment_ids)
        assert {(o.rule, o.reason, o.series_id) for o in overrides} == {
            ("driver_arranged", "sister drives", series.id)
        }
        assert changes.current(s) == 1


def test_a_refused_booking_writes_nothing_and_names_the_holder(clinic: SmallClinic) -> None:
    first = _book(clinic, clinic.session("iv_infusion", WED, "10:00", IV_A)).appointment_ids[0]
    request = BookingRequest(
        patient_id=clinic.ids["Mary Seacole"],
        sessions=(clinic.session("iv_infusion", WED, "10:30", IV_A),),
    )
    with pytest.raises(BookingConflict) as refused:
        booking.book(clinic.db, FRONT_DESK, request, now=NOW)
    with clinic.db.read() as s:
        audits_before = s.scalar(select(func.count()).select_from(AuditEvent))
    del first
    holder = "Lovelace, A. (IV ketamine infusion)"  # no internal number (trial 3, A17)
    assert refused.value.reasons == (
        f"Room 1 was just taken by {holder} Wed Dec 2 10:00–11:40",
        f"Monitor 1 was just taken by {holder} Wed Dec 2 10:15–11:40",
    )
    with clinic.db.read() as s:
        assert s.scalar(select(func.count()).select_from(Appointment)) == 1
        appointment_audits = select(func.count()).where(AuditEvent.entity == "appointment")
        assert s.scalar(appointment_audits) == 1
        assert s.scalar(select(func.count()).select_from(AuditEvent)) == audits_before
        assert changes.current(s) == 1


def test_a_moves_history_says_from_where_to_where_and_why(clinic: SmallClinic) -> None:
    """Trial 3, A12: the history read "move Booked → Booked", never from where to where."""
    from ketadesk.services.booking.appointments import appointment_detail

    a = _book(clinic, clinic.session("iv_infusion", WED, "08:00", IV_A)).appointment_ids[0]
    appointment_changes.move(
        clinic.db,
        FRONT_DESK,
        a,
        clinic.session("iv_infusion", WED, "10:00", IV_B),
        reason="Monitor 1 out of service",
        now=NOW,
    )
    history = appointment_detail(clinic.db, a, FRONT_DESK, now=NOW).history
    move = next(h for h in history if h.action == "move")
    assert move.change == ""  # no "Booked → Booked"
    # Only what changed (the holds too: tests/services/booking/test_move_history.py).
    assert move.moved == "moved Wed Dec 2 08:00 → 10:00; Room 1 → Room 2; Monitor 1 → Monitor 2"
    assert move.reason == "Monitor 1 out of service"
