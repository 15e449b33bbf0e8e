"""A visit a closure moved: one call tells the new time and confirms it (SQLite and PostgreSQL).

Ada's IV induction booked from a Monday a week or more after today (the availability tests'
clinic); a training day closes the second session's day and the re-plan moves it, opening a
schedule-change call.  The confirmation list for the new day shows the visit as "Moved: tell
the new time" until that call reaches her; reached, the visit is confirmed, with who and how.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from ketadesk.scheduling.confirmations import MOVED
from ketadesk.services.booking.move_request import move_appointment
from ketadesk.services.common.context import SYSTEM, Actor
from ketadesk.services.confirmations import calls
from ketadesk.services.confirmations.schedule_changes import TOLD_NOTE
from ketadesk.services.followups import actions
from ketadesk.services.followups.queue import follow_up_queue
from ketadesk.services.printing.call_sheet import call_sheet, call_sheet_layout
from ketadesk.services.settings import consequences
from ketadesk.services.settings.availability import Unavailability
from ketadesk.store.models import AuditEvent, FollowUp
from tests.services.settings.availability_clinic import BookedClinic, booked_clinic

FRONT_DESK = Actor(user_id=None, username="maria", role="front_desk")


@pytest.fixture
def booked(db_url: str) -> Iterator[BookedClinic]:
    b = booked_clinic(db_url)
    yield b
    b.clinic.db.dispose()


def _close_second_day(b: BookedClinic) -> tuple[int, dt.date, int]:
    """The second session's day closed and applied: the session, its new day, and the call."""
    second = b.series[1]
    day = b.day_of(second)
    cal = b.clinic.calendar
    proposed = Unavailability(
        "closure", cal.at_local(day, 0), cal.at_local(day + dt.timedelta(days=1), 0), "training"
    )
    preview = consequences.preview(b.clinic.db, proposed, now=b.now)
    applied = consequences.apply(b.clinic.db, SYSTEM, preview, now=b.now)
    (call,) = applied.follow_up_ids
    return second, b.day_of(second), call


def _row(b: BookedClinic, appointment_id: int, day: dt.date) -> calls.ConfirmationRow:
    listed = calls.list_confirmations(b.clinic.db, day, now=b.now)
    return next(r for r in listed.rows if r.appointment_id == appointment_id)


def test_a_moved_visit_owes_one_call_that_tells_the_new_time(booked: BookedClinic) -> None:
    b = booked
    second = b.series[1]
    old_day = b.day_of(second)
    # Confirmed for its old time before the closure: that confirmed a time it no longer has.
    earlier = b.now - dt.timedelta(hours=1)
    calls.record_call(b.clinic.db, FRONT_DESK, second, "confirmed", now=earlier)
    assert calls.list_confirmations(b.clinic.db, old_day, now=earlier).rows[0].status == (
        "confirmed"
    )
    second, day, call = _close_second_day(b)
    row = _row(b, second, day)
    assert row.status == MOVED
    assert row.status_name == "Moved: tell the new time"
    assert row.schedule_change is not None
    assert row.schedule_change.follow_up_id == call
    assert "moved from" in row.schedule_change.words
    listed = calls.list_confirmations(b.clinic.db, day, now=b.now)
    assert not listed.all_done
    assert listed.left_to_call >= 1
    # The printed call sheet says so too.
    sheet = call_sheet_layout(call_sheet(b.clinic.db, day, now=b.now))
    assert any("Moved: tell the new time" in block.html for block in sheet.blocks)


def test_reaching_the_patient_on_the_schedule_change_call_confirms_the_visit(
    booked: BookedClinic,
) -> None:
    b = booked
    second, day, call = _close_second_day(b)
    unanswered = actions.record_attempt(b.clinic.db, FRONT_DESK, call, "no_answer", now=b.now)
    assert (unanswered.closed, unanswered.confirmed) == (False, ())
    assert _row(b, second, day).status == MOVED
    later = b.now + dt.timedelta(hours=2)
    reached = actions.record_attempt(
        b.clinic.db, FRONT_DESK, call, "reached", "New day suits her", now=later
    )
    assert reached.closed
    assert second in reached.confirmed
    row = _row(b, second, day)
    assert row.status == "confirmed"
    assert row.schedule_change is not None
    assert not row.schedule_change.owed
    last = row.attempts[-1]
    assert (last.username, last.at, last.outcome) == ("maria", later, "confirmed")
    assert last.note == f"{TOLD_NOTE}: New day suits her"
    with b.clinic.db.read() as s:
        done = s.get(FollowUp, call)
        assert done is not None
        assert (done.status, done.outcome) == ("done", "New day suits her")
        audited = s.scalars(
            select(AuditEvent.entity_id).where(
                AuditEvent.action == "confirmation_call", AuditEvent.entity == "appointment"
            )
        ).all()
    assert second in audited
    assert follow_up_queue(b.clinic.db, SYSTEM, now=later).item(call) is None


def test_confirming_a_moved_visit_on_the_list_is_the_schedule_change_call_too(
    booked: BookedClinic,
) -> None:
    b = booked
    second, day, call = _close_second_day(b)
    calls.record_call(b.clinic.db, FRONT_DESK, second, "left_message", now=b.now)
    item = follow_up_queue(b.clinic.db, SYSTEM, now=b.now).item(call)
    assert item is not None
    assert item.attempts == 1
    assert _row(b, second, day).status == "left_message"
    calls.record_call(b.clinic.db, FRONT_DESK, second, "confirmed", note="told Thursday", now=b.now)
    with b.clinic.db.read() as s:
        done = s.get(FollowUp, call)
        assert done is not None
        assert done.status == "done"
        assert done.outcome == "On the confirmation call: confirmed. told Thursday"
    assert _row(b, second, day).status == "confirmed"


def test_a_visit_moved_again_by_hand_is_confirmed_as_any_other(booked: BookedClinic) -> None:
    """The schedule-change call told a time the visit no longer has; the patient was told the
    newest time as it was moved (a move without them owes its own call: test_desk_moves)."""
    b = booked
    second, day, call = _close_second_day(b)
    later = b.clinic.calendar.local(b.starts()[second]) + dt.timedelta(minutes=30)
    move_appointment(
        b.clinic.db, SYSTEM, second, later.replace(tzinfo=None), now=b.now, patient_knows=True
    )
    row = _row(b, second, day)
    assert row.status == "not_called"
    assert row.schedule_change is None
    actions.record_attempt(b.clinic.db, FRONT_DESK, call, "reached", "Told", now=b.now)
    assert _row(b, second, day).status == "not_called"
