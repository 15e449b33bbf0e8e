"""A reached call closes in one step, and a nurse's follow-ups while she is off are her role's
(SQLite and PostgreSQL).

Bayside Test Clinic (tests/clinic_fixtures.py) in Thanksgiving week 2026: Ada Lovelace's
Spravato session on Wednesday 25 November with Nurse Kim, its next-day call owed on Friday 27
(Thursday is the holiday) and its REMS form within 7 days, both assigned to Nurse Kim.  Nurse
Lee is added as a second nurse.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from ketadesk.services.booking import appointment_changes, booking
from ketadesk.services.booking.booking import BookingRequest
from ketadesk.services.common.context import SYSTEM, Actor, InvalidFields
from ketadesk.services.followups import actions
from ketadesk.services.followups.queue import follow_up_queue
from ketadesk.services.monitoring import measurements
from ketadesk.services.settings.availability import Unavailability, add_closure
from ketadesk.store.models import AuditEvent, FollowUp, FollowUpAttempt, Resource
from tests.clinic_fixtures import (
    RIDE_HOME,
    SmallClinic,
    build_small_clinic,
    ready_for_discharge,
)

NOW = dt.datetime(2026, 11, 23, 16, 0, tzinfo=dt.UTC)  # Monday 23 Nov 2026, 08:00 local
WED = dt.date(2026, 11, 25)
FRI = dt.date(2026, 11, 27)
MON = dt.date(2026, 11, 30)
SPRAVATO = {
    "room": "Room 1",
    "monitor": "Monitor 1",
    "oximeter": "Oximeter 1",
    "nurse": "Nurse Kim",
    "prescriber": "Dr Patel",
}
FRONT_DESK = Actor(user_id=None, username="maria", role="front_desk")
NURSE = Actor(user_id=None, username="kim", role="nurse")


@pytest.fixture
def clinic(db_url: str) -> Iterator[SmallClinic]:
    c = build_small_clinic(db_url)
    with c.db.write() as session:
        lee = Resource(kind="staff", subkind="nurse", name="Nurse Lee", capacity=3)
        session.add(lee)
        session.flush()
        c.ids["Nurse Lee"] = lee.id
    yield c
    c.db.dispose()


def _completed_spravato(clinic: SmallClinic) -> dict[str, int]:
    """Ada's Wednesday session given and completed: its follow-ups' ids by kind."""
    request = BookingRequest(
        patient_id=clinic.ids["Ada Lovelace"],
        sessions=(clinic.session("spravato", WED, "10:00", SPRAVATO),),
    )
    appt = booking.book(clinic.db, FRONT_DESK, request, now=NOW).appointment_ids[0]
    ready_for_discharge(clinic.db, appt)
    for action, hhmm in (("check_in", "09:55"), ("start", "10:00"), ("complete", "12:30")):
        appointment_changes.change_status(
            clinic.db, NURSE, appt, action, now=clinic.at(WED, hhmm), ride=RIDE_HOME
        )
    with clinic.db.read() as session:
        owed = {f.kind: f.id for f in session.scalars(select(FollowUp))}
    # The PHQ-9 was taken at check-in (its answers entered): done before any test begins.
    measurements.save_measurement(
        clinic.db,
        NURSE,
        clinic.ids["Ada Lovelace"],
        "phq9",
        [2, 2, 1, 1, 2, 1, 1, 2, 0],
        appointment_id=appt,
        now=clinic.at(WED, "10:00"),
    )
    return owed


def _row(clinic: SmallClinic, follow_up_id: int) -> FollowUp:
    with clinic.db.read() as session:
        row = session.get(FollowUp, follow_up_id)
        assert row is not None
        session.expunge(row)
        return row


# -- a reached call closes in one step ------------------------------------------------------------


def test_a_reached_next_day_call_is_done_in_one_step_with_its_outcome(
    clinic: SmallClinic,
) -> None:
    call = _completed_spravato(clinic)["next_day_call"]
    at = clinic.at(FRI, "09:10")
    result = actions.record_attempt(
        clinic.db, NURSE, call, "reached", "  Sleeping well, no nausea  ", now=at
    )
    assert (result.reached, result.closed, result.attempts) == (True, True, 1)
    row = _row(clinic, call)
    assert (row.status, row.outcome, row.completed_at) == ("done", "Sleeping well, no nausea", at)
    assert follow_up_queue(clinic.db, SYSTEM, now=at).item(call) is None
    with clinic.db.read() as session:
        assert session.scalar(select(func.count()).select_from(FollowUpAttempt)) == 1
        before, after = session.execute(
            select(AuditEvent.before, AuditEvent.after).where(AuditEvent.action == "record_call")
        ).one()
    assert (before["status"], after["status"]) == ("open", "done")
    assert after["result"] == "reached"


def test_a_reached_call_needs_what_came_of_it_and_saves_nothing_without(
    clinic: SmallClinic,
) -> None:
    call = _completed_spravato(clinic)["next_day_call"]
    with pytest.raises(InvalidFields) as err:
        actions.record_attempt(clinic.db, NURSE, call, "reached", " ", now=clinic.at(FRI, "09:10"))
    assert set(err.value.errors) == {"notes"}
    assert "what came of it" in err.value.errors["notes"]
    assert _row(clinic, call).status == "open"
    with clinic.db.read() as session:
        assert session.scalar(select(func.count()).select_from(FollowUpAttempt)) == 0


def test_an_unanswered_call_stays_open_with_the_attempt_counted(clinic: SmallClinic) -> None:
    call = _completed_spravato(clinic)["next_day_call"]
    at = clinic.at(FRI, "09:10")
    result = actions.record_attempt(clinic.db, NURSE, call, "voicemail", now=at)
    assert (result.closed, result.attempts, result.next_attempt_at is not None) == (
        False,
        1,
        True,
    )
    assert _row(clinic, call).status == "open"
    item = follow_up_queue(clinic.db, SYSTEM, now=at).item(call)
    assert item is not None
    assert item.attempts_words.startswith("1 · Left voicemail")


def test_reaching_the_patient_about_a_review_leaves_it_to_be_booked(clinic: SmallClinic) -> None:
    """Not a call kind: the REMS form is not submitted by reaching anyone, and stays open."""
    form = _completed_spravato(clinic)["rems_form"]
    result = actions.record_attempt(clinic.db, NURSE, form, "reached", now=clinic.at(FRI, "09:10"))
    assert (result.reached, result.closed) == (True, False)
    assert _row(clinic, form).status == "open"


# -- a nurse off: her follow-ups are her role's meanwhile -----------------------------------------


def _kim_off(clinic: SmallClinic, first: dt.date, days: int) -> None:
    cal = clinic.calendar
    add_closure(
        clinic.db,
        SYSTEM,
        Unavailability(
            "time_off",
            cal.at_local(first, 0),
            cal.at_local(first + dt.timedelta(days=days), 0),
            "flu",
            resource_id=clinic.ids["Nurse Kim"],
        ),
        now=NOW,
    )


def test_a_nurse_off_sick_leaves_her_follow_ups_to_the_other_nurses(clinic: SmallClinic) -> None:
    owed = _completed_spravato(clinic)
    kims = {owed["next_day_call"], owed["rems_form"]}
    at = clinic.at(FRI, "09:00")
    lee = clinic.ids["Nurse Lee"]
    # Kim at work: Lee's queue has none of hers.
    assert follow_up_queue(clinic.db, SYSTEM, now=at, assignee_id=lee).items == ()
    _kim_off(clinic, FRI, 1)
    shared = follow_up_queue(clinic.db, SYSTEM, now=at, assignee_id=lee)
    assert {i.id for i in shared.items} == kims
    for item in shared.items:
        assert item.assignee_name == "Nurse Kim"
        assert item.assignee_away == "Assigned to Nurse Kim, who is off through Fri Nov 27"
    # Still hers on her own list, marked, and on the nurses' list.
    kim = follow_up_queue(clinic.db, SYSTEM, now=at, assignee_id=clinic.ids["Nurse Kim"])
    assert {i.id for i in kim.items} == kims
    assert all(i.assignee_away for i in kim.items)
    nurses = follow_up_queue(clinic.db, SYSTEM, now=at, assignee_role="nurse")
    assert {i.id for i in nurses.items} == kims
    # Lee works one; nothing was reassigned, so it is Kim's again once she is back.
    actions.record_attempt(clinic.db, NURSE, owed["next_day_call"], "no_answer", now=at)
    back = clinic.at(MON, "09:00")
    assert follow_up_queue(clinic.db, SYSTEM, now=back, assignee_id=lee).items == ()
    mine = follow_up_queue(clinic.db, SYSTEM, now=back, assignee_id=clinic.ids["Nurse Kim"])
    assert {i.id for i in mine.items} == kims
    assert not any(i.assignee_away for i in mine.items)
    with clinic.db.read() as session:
        assignees = set(
            session.scalars(select(FollowUp.assignee_id).where(FollowUp.id.in_(sorted(kims))))
        )
    assert assignees == {clinic.ids["Nurse Kim"]}


def test_time_off_later_in_the_week_shares_only_what_falls_due_in_it(
    clinic: SmallClinic,
) -> None:
    """Kim is off from Friday; on Wednesday afternoon the REMS form (due at once) is hers, and
    the next-day call, due on Friday, is already shown as the nurses' to make."""
    owed = _completed_spravato(clinic)
    _kim_off(clinic, FRI, 3)
    at = clinic.at(WED, "15:00")
    queue = follow_up_queue(clinic.db, SYSTEM, now=at, assignee_id=clinic.ids["Nurse Lee"])
    assert [i.id for i in queue.items] == [owed["next_day_call"]]
    assert queue.items[0].assignee_away == ("Assigned to Nurse Kim, who is off through Sun Nov 29")
