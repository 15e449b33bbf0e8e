"""A desk move's schedule-change call follows its session (SQLite and PostgreSQL): cancelled
before the call is made (a cancellation, a series ended), the session leaves the call, which
closes saying why when nothing is left to tell, and the undo opens it again as it was; a
closure's call for the same session takes over, so one session never has two calls, and the
closure undone gives the desk move's call back.

A user trial: a session moved without the patient, then cancelled, still had its "tell the new
time" call on the queue.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from ketadesk.scheduling.confirmations import MOVED
from ketadesk.scheduling.dates import short_date_time
from ketadesk.scheduling.move_calls import NO_LONGER_OWED, TAKEN_OVER
from ketadesk.services.booking import appointment_changes, series_end
from ketadesk.services.booking.move_request import move_appointment
from ketadesk.services.booking.series_moves import move_series, propose_series_move
from ketadesk.services.common.context import SYSTEM, Actor
from ketadesk.services.confirmations import calls
from ketadesk.services.settings import consequences
from ketadesk.services.settings.availability import Unavailability
from ketadesk.store.models import AuditEvent, FollowUp
from tests.services.settings.availability_clinic import BookedClinic, booked_clinic

FRONT_DESK = Actor(user_id=None, username="maria", role="front_desk")
NURSE = Actor(user_id=None, username="kim", role="nurse")
PRESCRIBER = Actor(user_id=None, username="patel", role="prescriber")


@pytest.fixture
def booked(db_url: str) -> Iterator[BookedClinic]:
    b = booked_clinic(db_url)
    yield b
    b.clinic.db.dispose()


def _move(b: BookedClinic, appointment_id: int, minutes: int) -> None:
    """Move the session ``minutes`` later the same day, without the patient."""
    local = b.clinic.calendar.local(b.starts()[appointment_id]) + dt.timedelta(minutes=minutes)
    move_appointment(b.clinic.db, NURSE, appointment_id, local.replace(tzinfo=None), now=b.now)


def _calls(b: BookedClinic) -> list[FollowUp]:
    with b.clinic.db.read() as s:
        rows = s.scalars(
            select(FollowUp).where(FollowUp.kind == "schedule_change").order_by(FollowUp.id)
        ).all()
        s.expunge_all()
    return list(rows)


def _audited(b: BookedClinic, follow_up_id: int) -> list[str]:
    with b.clinic.db.read() as s:
        return list(
            s.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.entity == "follow_up", AuditEvent.entity_id == follow_up_id)
                .order_by(AuditEvent.id)
            )
        )


def _status(b: BookedClinic, appointment_id: int) -> str:
    listed = calls.list_confirmations(b.clinic.db, b.day_of(appointment_id), now=b.now)
    return next(r for r in listed.rows if r.appointment_id == appointment_id).status


def test_a_cancelled_session_closes_its_move_call_and_the_undo_opens_it(
    booked: BookedClinic,
) -> None:
    b = booked
    second = b.series[1]
    _move(b, second, 30)
    (call,) = _calls(b)
    told = call.outcome
    assert call.status == "open"
    appointment_changes.change_status(
        b.clinic.db, FRONT_DESK, second, "cancel", reason="flu", now=b.now
    )
    (closed,) = _calls(b)
    assert closed.status == "cancelled"
    assert closed.outcome == (f"{NO_LONGER_OWED}: IV ketamine infusion (session 2) cancelled (flu)")
    assert _audited(b, call.id)[-1] == "cancel_follow_up"
    # The cancellation taken back: the call is owed again, telling what it told.
    appointment_changes.undo_status(b.clinic.db, FRONT_DESK, second, now=b.now)
    (again,) = _calls(b)
    assert (again.id, again.status, again.outcome) == (call.id, "open", told)
    assert again.completed_at is None
    assert _audited(b, call.id)[-1] == "reopen_follow_up"
    assert _status(b, second) == MOVED


def test_a_series_moves_call_tells_the_sessions_left_when_one_is_cancelled(
    db_url: str,
) -> None:
    b = booked_clinic(db_url, whole_weeks=5)
    try:
        third = b.series[1]
        new_start = b.starts()[third] + dt.timedelta(days=2)
        proposal = propose_series_move(b.clinic.db, third, new_start, now=b.now)
        moved = [a for a, s in proposal.moves if s.start != b.starts()[a]]
        assert len(moved) >= 2
        move_series(b.clinic.db, NURSE, proposal, now=b.now, spacing_reason="as asked")
        (call,) = _calls(b)
        assert call.outcome.count("moved from") == len(moved)
        appointment_changes.change_status(
            b.clinic.db, FRONT_DESK, moved[-1], "cancel", reason="travel", now=b.now
        )
        (after,) = _calls(b)
        assert after.status == "open"
        assert after.outcome.count("moved from") == len(moved) - 1
    finally:
        b.clinic.db.dispose()


def test_ending_the_series_closes_the_move_call_and_its_undo_opens_it(
    booked: BookedClinic,
) -> None:
    b = booked
    second = b.series[1]
    _move(b, second, 30)
    (call,) = _calls(b)
    told = call.outcome
    ended = series_end.end_series(
        b.clinic.db, PRESCRIBER, _series_of(b), reason="side_effects", now=b.now
    )
    assert second in ended.cancelled
    (closed,) = _calls(b)
    assert closed.status == "cancelled"
    assert closed.outcome.startswith(f"{NO_LONGER_OWED}: IV ketamine infusion (session 2)")
    assert "Series ended" in closed.outcome
    series_end.undo_end_series(
        b.clinic.db, PRESCRIBER, _series_of(b), cancelled=ended.cancelled, now=b.now
    )
    (again,) = _calls(b)
    assert (again.status, again.outcome) == ("open", told)


def _series_of(b: BookedClinic) -> int:
    from ketadesk.store.models import Appointment

    with b.clinic.db.read() as s:
        found = s.scalar(select(Appointment.series_id).where(Appointment.id == b.series[0]))
    assert found is not None
    return found


def test_a_closures_call_takes_over_the_move_call_for_the_same_session(
    booked: BookedClinic,
) -> None:
    b = booked
    second = b.series[1]
    known = b.starts()[second]
    _move(b, second, 30)
    (desk_call,) = _calls(b)
    # The day closes: the closure's re-plan moves the session, and its call tells it.
    cal = b.clinic.calendar
    day = b.day_of(second)
    closed_day = Unavailability(
        "closure", cal.at_local(day, 0), cal.at_local(day + dt.timedelta(days=1), 0), "flood"
    )
    preview = consequences.preview(b.clinic.db, closed_day, now=b.now)
    move = preview.move_of(second)
    assert move is not None
    applied = consequences.apply(b.clinic.db, SYSTEM, preview, now=b.now)
    live = [c for c in _calls(b) if c.status in ("open", "snoozed")]
    assert [c.id for c in live] == list(applied.follow_up_ids)  # one call, the closure's
    (taken,) = [c for c in _calls(b) if c.id == desk_call.id]
    assert (taken.status, taken.outcome) == ("cancelled", TAKEN_OVER)
    # Told from the time the patient knows, not the desk's time they never heard.
    fmt = cal.settings.time_format
    assert f"moved from {short_date_time(cal.local(known), fmt)}" in live[0].outcome
    # The closure undone: the session is back at the desk's time, its call owed again.
    consequences.undo(b.clinic.db, SYSTEM, applied, now=b.now)
    (back,) = [c for c in _calls(b) if c.id == desk_call.id]
    assert (back.status, back.outcome) == ("open", desk_call.outcome)
    assert [c.id for c in _calls(b) if c.status == "open"] == [desk_call.id]
