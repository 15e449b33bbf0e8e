"""A session moved at the desk without the patient owes one schedule-change call (SQLite and
PostgreSQL): opened with the move, naming the newest time when moved again, closed when moved
back where the patient knows it or told at last; none for a move the patient was told of, nor
for a session of today.  The confirmation list says "Moved: tell the new time" until the call
reaches the patient, and every call opened, re-told or closed is audited.

Ada's IV induction is booked from a Monday a week or more after today (the availability tests'
clinic); "now" is that clinic's injected now.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from ketadesk.scheduling.confirmations import MOVED
from ketadesk.scheduling.dates import short_date_time
from ketadesk.scheduling.move_calls import MOVED_BACK, TOLD_AT_MOVE, owes_call
from ketadesk.services.booking.move_request import move_appointment
from ketadesk.services.booking.series_moves import move_series, propose_series_move
from ketadesk.services.common.context import Actor
from ketadesk.services.confirmations import calls
from ketadesk.services.followups import actions
from ketadesk.services.followups.queue import follow_up_queue
from ketadesk.services.printing.call_list import call_list
from ketadesk.services.printing.call_sheet import call_sheet, call_sheet_layout
from ketadesk.store.models import AuditEvent, FollowUp
from tests.services.settings.availability_clinic import BookedClinic, booked_clinic

FRONT_DESK = Actor(user_id=None, username="maria", role="front_desk")
NURSE = Actor(user_id=None, username="kim", role="nurse")


@pytest.fixture
def booked(db_url: str) -> Iterator[BookedClinic]:
    b = booked_clinic(db_url)
    yield b
    b.clinic.db.dispose()


def _move(
    b: BookedClinic,
    appointment_id: int,
    minutes: int,
    *,
    knows: bool = False,
    now: dt.datetime | None = None,
    actor: Actor = NURSE,
) -> None:
    """Move the session ``minutes`` later the same day (earlier when negative)."""
    local = b.clinic.calendar.local(b.starts()[appointment_id]) + dt.timedelta(minutes=minutes)
    move_appointment(
        b.clinic.db,
        actor,
        appointment_id,
        local.replace(tzinfo=None),
        now=now or b.now,
        patient_knows=knows,
    )


def _calls(b: BookedClinic) -> list[FollowUp]:
    with b.clinic.db.read() as s:
        rows = s.scalars(
            select(FollowUp).where(FollowUp.kind == "schedule_change").order_by(FollowUp.id)
        ).all()
        s.expunge_all()
    return list(rows)


def _row(b: BookedClinic, appointment_id: int) -> calls.ConfirmationRow:
    listed = calls.list_confirmations(b.clinic.db, b.day_of(appointment_id), now=b.now)
    return next(r for r in listed.rows if r.appointment_id == appointment_id)


def _audited(b: BookedClinic, follow_up_id: int) -> list[str]:
    with b.clinic.db.read() as s:
        return list(
            s.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.entity == "follow_up", AuditEvent.entity_id == follow_up_id)
                .order_by(AuditEvent.id)
            )
        )


def test_a_move_without_the_patient_owes_one_call_that_names_the_newest_time(
    booked: BookedClinic,
) -> None:
    b = booked
    second = b.series[1]
    fmt = b.clinic.calendar.settings.time_format
    booked_at = b.clinic.calendar.local(b.starts()[second])
    _move(b, second, 30)
    (call,) = _calls(b)
    assert (call.status, call.assignee_role, call.due_at) == ("open", "front_desk", b.now)
    assert call.appointment_id == second
    assert call.outcome.startswith("Moved without the patient. IV ketamine infusion")
    assert "moved from" in call.outcome
    assert short_date_time(booked_at, fmt) in call.outcome
    row = _row(b, second)
    assert row.status == MOVED
    assert row.status_name == "Moved: tell the new time"
    assert row.schedule_change is not None
    assert row.schedule_change.follow_up_id == call.id
    # On the follow-up queue, for the desk, and on both printed lists as a closure's call is.
    assert follow_up_queue(b.clinic.db, FRONT_DESK, now=b.now).item(call.id) is not None
    sheet = call_sheet_layout(call_sheet(b.clinic.db, b.day_of(second), now=b.now))
    assert any("Moved: tell the new time" in block.html for block in sheet.blocks)
    printed = call_list(b.clinic.db, FRONT_DESK, b.today, now=b.now)
    entry = next(c for c in printed.calls if c.session.startswith("Schedule change:"))
    assert "Moved without the patient" in entry.session
    assert entry.ask.startswith("Tell: the new time")

    # Moved again before the call is made: still one call, naming the newest time and the
    # time the patient knows.
    _move(b, second, 30)
    (again,) = _calls(b)
    assert again.id == call.id
    newest = b.clinic.calendar.local(b.starts()[second])
    assert short_date_time(booked_at, fmt) in again.outcome
    assert short_date_time(newest, fmt) in again.outcome
    assert again.outcome != call.outcome
    assert _audited(b, call.id) == ["create_follow_up", "update_follow_up"]

    # Moved back to where the patient knows it: nothing left to tell.
    _move(b, second, -60)
    (closed,) = _calls(b)
    assert (closed.status, closed.outcome) == ("cancelled", MOVED_BACK)
    assert _row(b, second).status != MOVED
    assert _audited(b, call.id)[-1] == "cancel_follow_up"


def test_a_move_the_patient_was_told_of_owes_no_call_and_tells_an_owed_one(
    booked: BookedClinic,
) -> None:
    b = booked
    second, third = b.series[1], b.series[2]
    _move(b, second, 30, knows=True, actor=FRONT_DESK)
    assert _calls(b) == []
    assert _row(b, second).status == "not_called"
    # A call owed, then the patient on the phone is told a newer time: the call is done.
    _move(b, third, 30)
    (call,) = _calls(b)
    _move(b, third, 30, knows=True, actor=FRONT_DESK)
    (done,) = _calls(b)
    assert (done.id, done.status, done.outcome) == (call.id, "done", TOLD_AT_MOVE)
    assert _audited(b, call.id)[-1] == "complete_follow_up"


def test_reaching_the_patient_on_the_call_confirms_the_visit(booked: BookedClinic) -> None:
    b = booked
    second = b.series[1]
    _move(b, second, 30)
    (call,) = _calls(b)
    reached = actions.record_attempt(
        b.clinic.db, FRONT_DESK, call.id, "reached", "The new time suits her", now=b.now
    )
    assert reached.closed
    assert second in reached.confirmed
    assert _row(b, second).status == "confirmed"


def test_confirming_the_visit_on_the_list_makes_the_call_too(booked: BookedClinic) -> None:
    b = booked
    second = b.series[1]
    _move(b, second, 30)
    assert _row(b, second).status == MOVED
    calls.record_call(b.clinic.db, FRONT_DESK, second, "confirmed", note="told", now=b.now)
    (done,) = _calls(b)
    assert done.status == "done"
    assert _row(b, second).status == "confirmed"


def test_a_session_of_today_owes_no_call(booked: BookedClinic) -> None:
    """The line is the clinic's today: the session's own day, as the patient knows it."""
    b = booked
    second = b.series[1]
    start = b.starts()[second]
    morning = start - dt.timedelta(hours=2)  # the same day, before the session
    assert b.clinic.calendar.local_date(morning) == b.day_of(second)
    _move(b, second, 30, now=morning)
    assert _calls(b) == []


def test_the_rule_draws_the_line_at_today() -> None:
    when = dt.datetime(2026, 12, 10, 17, 45, tzinfo=dt.UTC)
    later = when + dt.timedelta(hours=1)
    day = dt.date(2026, 12, 10)
    eve = day - dt.timedelta(days=1)

    def owes(
        today: dt.date,
        *,
        knows: bool = False,
        new: dt.datetime = later,
        status: str = "booked",
    ) -> bool:
        return owes_call(
            was=when, new=new, was_day=day, today=today, status=status, patient_knows=knows
        )

    assert owes(eve)
    assert not owes(day)
    assert not owes(day + dt.timedelta(days=1))
    assert not owes(eve, knows=True)
    assert not owes(eve, new=when)
    assert not owes(eve, status="checked_in")


def test_a_series_move_without_the_patient_owes_one_call_for_all_its_sessions(
    db_url: str,
) -> None:
    # Weeks without a holiday, so the re-flow's days do not depend on the calendar.
    b = booked_clinic(db_url, whole_weeks=5)
    third = b.series[1]
    # Wednesday to Friday: the later sessions follow it to keep the spacing.
    new_start = b.starts()[third] + dt.timedelta(days=2)
    proposal = propose_series_move(b.clinic.db, third, new_start, now=b.now)
    moved = [a for a, s in proposal.moves if s.start != b.starts()[a]]
    assert len(moved) >= 2
    move_series(b.clinic.db, NURSE, proposal, now=b.now, spacing_reason="as asked")
    (call,) = _calls(b)
    assert call.outcome.count("moved from") == len(moved)
    for appointment_id in moved:
        assert _row(b, appointment_id).status == MOVED
    # The patient on the phone is told the second session's time as it moves back: the call
    # no longer names it, and still tells what it did not move back.
    back = propose_series_move(b.clinic.db, third, new_start - dt.timedelta(days=2), now=b.now)
    move_series(
        b.clinic.db, FRONT_DESK, back, now=b.now, patient_knows=True, spacing_reason="as asked"
    )
    (after,) = _calls(b)
    assert _row(b, third).status != MOVED
    left = [a for a in moved if a not in {m for m, _s in back.moves}]
    if left:
        assert after.status == "open"
        assert after.outcome.count("moved from") == len(left)
    else:
        assert after.status == "done"
    b.clinic.db.dispose()


def test_rescheduled_on_the_list_keeps_the_new_time(booked: BookedClinic) -> None:
    b = booked
    second = b.series[1]
    _move(b, second, 30, knows=True, actor=FRONT_DESK)
    calls.record_call(b.clinic.db, FRONT_DESK, second, "rescheduled", note="asked", now=b.now)
    row = _row(b, second)
    assert row.status == "rescheduled"
    assert row.status_name == "Rescheduled"
    assert row.attempts[-1].note.startswith("New time ")
    assert row.attempts[-1].note.endswith(": asked")
