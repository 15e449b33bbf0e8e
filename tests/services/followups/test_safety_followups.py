"""Urgent (suicidality) reviews and the REMS Patient Monitoring Form, on SQLite and PostgreSQL.

Bayside Test Clinic (tests/clinic_fixtures.py); every day is taken from the clinic's own today
(the first open weekday two weeks ahead), every "now" is passed in.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from ketadesk.scheduling.safety_followups import last_day
from ketadesk.services.booking import appointment_changes, booking
from ketadesk.services.booking.appointments import appointment_detail
from ketadesk.services.booking.booking import BookingRequest
from ketadesk.services.common.context import (
    SYSTEM,
    Actor,
    InvalidFields,
    InvalidRequest,
    PermissionDenied,
    utcnow,
)
from ketadesk.services.followups import actions
from ketadesk.services.followups.queue import follow_up_queue, queue_counts
from ketadesk.services.monitoring import measurements, records
from ketadesk.services.monitoring.chair_board import chair_board
from ketadesk.services.monitoring.record_forms import ReadingForm, RecordForm
from ketadesk.services.printing.session_record import (
    session_record_layout,
    session_record_sheet,
)
from ketadesk.services.schedule.staff import my_day
from ketadesk.store.models import AuditEvent, ClinicSetting, Closure, FollowUp
from tests.clinic_fixtures import (
    RIDE_HOME,
    SmallClinic,
    build_small_clinic,
    extend_authorizations,
    ready_for_discharge,
)

SPRAVATO = {
    "room": "Room 1",
    "monitor": "Monitor 1",
    "oximeter": "Oximeter 1",
    "nurse": "Nurse Kim",
    "prescriber": "Dr Patel",
}
NURSE = Actor(user_id=None, username="kim", role="nurse")
PRESCRIBER = Actor(user_id=None, username="patel", role="prescriber")
FRONT_DESK = Actor(user_id=None, username="maria", role="front_desk")
CALM = [0] * 8  # PHQ-9 items 1-8, before item 9


@pytest.fixture
def clinic(db_url: str) -> Iterator[SmallClinic]:
    c = build_small_clinic(db_url)
    yield c
    c.db.dispose()


def _open_day(clinic: SmallClinic, after: dt.date) -> dt.date:
    """The first weekday after ``after`` on which the clinic opens (staff work Mon-Fri)."""
    day = after + dt.timedelta(days=1)
    while day.weekday() >= 5 or clinic.calendar.closed_reason(day) is not None:
        day += dt.timedelta(days=1)
    return day


@pytest.fixture
def day(clinic: SmallClinic) -> dt.date:
    today = clinic.calendar.local_date(utcnow())
    found = _open_day(clinic, today + dt.timedelta(days=14))
    extend_authorizations(clinic, found + dt.timedelta(days=365))
    return found


def _book(clinic: SmallClinic, day: dt.date, patient: str = "Ada Lovelace") -> int:
    request = BookingRequest(
        patient_id=clinic.ids[patient],
        sessions=(clinic.session("spravato", day, "10:00", SPRAVATO),),
    )
    booked_at = clinic.at(day, "08:00") - dt.timedelta(days=7)
    return booking.book(clinic.db, FRONT_DESK, request, now=booked_at).appointment_ids[0]


def _settings(clinic: SmallClinic, section: str, **values: Any) -> None:
    with clinic.db.write() as session:
        row = session.get(ClinicSetting, section)
        if row is None:
            session.add(ClinicSetting(key=section, value=dict(values)))
        else:
            row.value = {**row.value, **values}


def _phq9(
    clinic: SmallClinic, item9: int, at: dt.datetime, appointment: int | None = None
) -> measurements.SavedMeasure:
    return measurements.save_measurement(
        clinic.db,
        NURSE,
        clinic.ids["Ada Lovelace"],
        "phq9",
        [3, 3, 3, 3, 3, 3, 3, 0, 3] if item9 == 3 else [*CALM, item9],
        appointment_id=appointment,
        taken_at=at,
        now=at,
    )


def _reviews(clinic: SmallClinic) -> list[FollowUp]:
    with clinic.db.read() as session:
        rows = list(
            session.scalars(
                select(FollowUp).where(FollowUp.kind == "urgent_review").order_by(FollowUp.id)
            )
        )
        session.expunge_all()
    return rows


def _deadline_hours(clinic: SmallClinic) -> int:
    from ketadesk.services.followups.urgent_reviews import urgent_review_settings

    with clinic.db.read() as session:
        from ketadesk.store.clinic_config import load_catalog

        return urgent_review_settings(load_catalog(session)).deadline_hours


# -- suicidality -------------------------------------------------------------------------------


def test_a_positive_item_9_opens_an_urgent_review_with_its_deadline(
    clinic: SmallClinic, day: dt.date
) -> None:
    at = clinic.at(day, "09:00")
    saved = _phq9(clinic, 1, at)
    (review,) = _reviews(clinic)
    assert saved.urgent_follow_up_id == review.id
    assert (review.status, review.priority, review.assignee_role) == (
        "open",
        "urgent",
        "prescriber",
    )
    assert review.due_at == at
    assert review.deadline_at == at + dt.timedelta(hours=_deadline_hours(clinic))
    assert "item 9 answered 1" in review.outcome


def test_a_worse_answer_reopens_a_snoozed_review(clinic: SmallClinic, day: dt.date) -> None:
    first = clinic.at(day, "09:00")
    _phq9(clinic, 1, first)
    (review,) = _reviews(clinic)
    actions.snooze_follow_up(
        clinic.db,
        PRESCRIBER,
        review.id,
        first + dt.timedelta(hours=2),
        "called, safe for now",
        now=first + dt.timedelta(minutes=5),
    )
    later = first + dt.timedelta(hours=1)
    saved = _phq9(clinic, 3, later)  # total 24
    assert saved.total == 24
    (reopened,) = _reviews(clinic)
    assert saved.urgent_follow_up_id == reopened.id
    # Awake again, due now, never given more time than the first answer had.
    assert (reopened.status, reopened.snoozed_until) == ("open", None)
    assert reopened.due_at == later
    assert reopened.deadline_at == review.deadline_at
    assert "answered 3" in reopened.outcome
    with clinic.db.read() as session:
        actions_seen = list(session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))
    assert "reopen_follow_up" in actions_seen


def test_a_new_answer_after_a_closed_review_opens_a_new_one(
    clinic: SmallClinic, day: dt.date
) -> None:
    appointment = _book(clinic, day)
    first = clinic.at(day, "09:00")
    _phq9(clinic, 1, first, appointment)
    (review,) = _reviews(clinic)
    actions.complete_follow_up(
        clinic.db, PRESCRIBER, review.id, "seen, safety plan", now=first + dt.timedelta(hours=1)
    )
    _phq9(clinic, 2, first + dt.timedelta(hours=2), appointment)
    closed, new = _reviews(clinic)
    assert (closed.status, new.status) == ("done", "open")
    assert new.appointment_id == appointment


def test_an_urgent_review_cannot_be_snoozed_past_its_deadline(
    clinic: SmallClinic, day: dt.date
) -> None:
    at = clinic.at(day, "09:00")
    _phq9(clinic, 1, at)
    (review,) = _reviews(clinic)
    assert review.deadline_at is not None
    with pytest.raises(InvalidFields) as refused:
        actions.snooze_follow_up(
            clinic.db,
            PRESCRIBER,
            review.id,
            review.deadline_at + dt.timedelta(days=30),
            "on holiday",
            now=at,
        )
    assert "deadline" in refused.value.errors["until"]
    assert _reviews(clinic)[0].status == "open"
    actions.snooze_follow_up(
        clinic.db, PRESCRIBER, review.id, review.deadline_at, "call back this afternoon", now=at
    )
    assert _reviews(clinic)[0].status == "snoozed"


def test_only_a_prescriber_closes_an_urgent_review_with_a_note(
    clinic: SmallClinic, day: dt.date
) -> None:
    at = clinic.at(day, "09:00")
    _phq9(clinic, 2, at)
    (review,) = _reviews(clinic)
    with pytest.raises(PermissionDenied):
        actions.complete_follow_up(clinic.db, NURSE, review.id, "spoke to her", now=at)
    with pytest.raises(InvalidFields):
        actions.complete_follow_up(clinic.db, PRESCRIBER, review.id, "  ", now=at)
    actions.complete_follow_up(clinic.db, PRESCRIBER, review.id, "reviewed: no plan", now=at)
    assert _reviews(clinic)[0].status == "done"


def test_a_standing_review_blocks_dosing_until_a_prescriber_closes_it(
    clinic: SmallClinic, day: dt.date
) -> None:
    appointment = _book(clinic, day)
    _phq9(clinic, 1, clinic.at(day, "09:40"), appointment)
    start = clinic.at(day, "10:00")
    with pytest.raises(InvalidRequest, match=r"(?i)urgent review"):
        appointment_changes.change_status(clinic.db, NURSE, appointment, "start", now=start)
    # Nor can a dose be recorded: the session the review keeps from starting has none.
    with pytest.raises(InvalidRequest, match=r"Start the session first"):
        records.save_record(
            clinic.db,
            NURSE,
            appointment,
            RecordForm(
                readings=(ReadingForm("Pre-dose", "10:10", "128", "82"),),
                dose_mg="56",
                devices="2",
                lot_number="LOT1",
                dose_started="10:15",
            ),
            now=clinic.at(day, "10:16"),
        )
    (review,) = _reviews(clinic)
    actions.complete_follow_up(clinic.db, PRESCRIBER, review.id, "reviewed, may dose", now=start)
    changed = appointment_changes.change_status(clinic.db, NURSE, appointment, "start", now=start)
    assert (changed.to_status, changed.warnings) == ("in_progress", ())


def test_a_clinic_that_warns_doses_with_a_warning(clinic: SmallClinic, day: dt.date) -> None:
    _settings(clinic, "urgent_review", dosing="warn")
    appointment = _book(clinic, day)
    _phq9(clinic, 1, clinic.at(day, "09:40"), appointment)
    changed = appointment_changes.change_status(
        clinic.db, NURSE, appointment, "start", now=clinic.at(day, "10:00")
    )
    assert changed.to_status == "in_progress"
    assert any("urgent review" in w.lower() for w in changed.warnings)
    saved = records.save_record(
        clinic.db,
        NURSE,
        appointment,
        RecordForm(
            readings=(ReadingForm("Pre-dose", "10:10", "128", "82"),),
            dose_mg="56",
            devices="2",
            lot_number="LOT1",
            dose_started="10:15",
        ),
        now=clinic.at(day, "10:16"),
    )
    assert records.URGENT_REVIEW_WARNING in saved.warnings


def test_the_review_shows_on_the_chair_board_the_session_and_the_prescribers_day(
    clinic: SmallClinic, day: dt.date
) -> None:
    appointment = _book(clinic, day)
    appointment_changes.change_status(
        clinic.db, NURSE, appointment, "check_in", now=clinic.at(day, "09:50")
    )
    _phq9(clinic, 2, clinic.at(day, "09:55"), appointment)
    now = clinic.at(day, "10:05")
    card = next(c for c in chair_board(clinic.db, SYSTEM, now=now).cards if c.appointment_id)
    assert card.appointment_id == appointment
    assert card.urgent_review.startswith("Urgent review open")
    assert chair_board(clinic.db, SYSTEM, now=now).late_count == 1
    # The front desk's board shows the chair, not the review (it would disclose the answer).
    desk = chair_board(clinic.db, Actor(None, "maria", "front_desk"), now=now)
    (desk_card,) = [c for c in desk.cards if c.appointment_id]
    assert desk_card.urgent_review == ""
    assert desk_card.urgent_review_id is None
    assert desk.late_count == 0
    detail = appointment_detail(clinic.db, appointment, NURSE, now=now)
    assert "dosing waits for a prescriber" in detail.urgent_review
    prescribers = my_day(clinic.db, clinic.ids["Dr Patel"], day, now=now)
    assert [r.patient_name for r in prescribers.urgent_reviews] == ["Lovelace, Ada"]
    (session,) = [s for s in prescribers.sessions if s.appointment.id == appointment]
    assert session.urgent_review
    nurses = my_day(clinic.db, clinic.ids["Nurse Kim"], day, now=now)
    assert nurses.urgent_reviews == ()


def test_the_cssrs_screener_opens_a_review_on_intent_plan_or_behaviour(
    clinic: SmallClinic, day: dt.date
) -> None:
    at = clinic.at(day, "09:00")
    ada = clinic.ids["Ada Lovelace"]
    wish_only = measurements.save_measurement(
        clinic.db, NURSE, ada, "cssrs", [1, 0, 0, 0, 0, 0], taken_at=at, now=at
    )
    assert wish_only.urgent_follow_up_id is None
    assert _reviews(clinic) == []
    for item in (4, 5, 6):
        answers = [0] * 6
        answers[item - 1] = 1
        saved = measurements.save_measurement(
            clinic.db, NURSE, ada, "cssrs", answers, taken_at=at, now=at
        )
        assert saved.urgent_follow_up_id is not None, item
    assert len(_reviews(clinic)) == 1  # one standing review, re-opened by each answer


# -- the REMS Patient Monitoring Form -----------------------------------------------------------


def _rems(clinic: SmallClinic, appointment: int) -> FollowUp:
    with clinic.db.read() as session:
        row = session.scalars(
            select(FollowUp).where(
                FollowUp.appointment_id == appointment, FollowUp.kind == "rems_form"
            )
        ).one()
        session.expunge_all()
    return row


def _dosed(clinic: SmallClinic, day: dt.date, *, complete: bool = True) -> int:
    appointment = _book(clinic, day)
    for action, hhmm in (("check_in", "09:55"), ("start", "10:00")):
        appointment_changes.change_status(
            clinic.db, NURSE, appointment, action, now=clinic.at(day, hhmm), ride=RIDE_HOME
        )
    if complete:
        ready_for_discharge(clinic.db, appointment)
        appointment_changes.change_status(
            clinic.db, NURSE, appointment, "complete", now=clinic.at(day, "12:30"), ride=RIDE_HOME
        )
    return appointment


def test_a_session_left_in_progress_still_owes_its_rems_form(
    clinic: SmallClinic, day: dt.date
) -> None:
    appointment = _dosed(clinic, day, complete=False)
    form = _rems(clinic, appointment)
    assert form.status == "open"
    assert form.deadline_at is not None
    assert last_day(form.deadline_at, clinic.calendar) == day + dt.timedelta(days=7)


def test_the_printed_rems_deadline_is_the_session_date_plus_7(
    clinic: SmallClinic, day: dt.date
) -> None:
    appointment = _dosed(clinic, day)
    sheet = session_record_sheet(clinic.db, NURSE, appointment, now=clinic.at(day, "13:00"))
    text = " ".join(block.html for block in session_record_layout(sheet).blocks)
    due = day + dt.timedelta(days=7)
    assert f"Monitoring Form by {due:%a %b} {due.day}, {due.year}." in text
    after = due + dt.timedelta(days=1)
    assert f"by {after:%a %b} {after.day}, {after.year}" not in text


def test_an_incomplete_rems_form_is_submitted_only_by_an_override(
    clinic: SmallClinic, day: dt.date
) -> None:
    appointment = _dosed(clinic, day)
    form = _rems(clinic, appointment)
    now = clinic.at(day, "13:00")
    with pytest.raises(InvalidFields) as refused:
        actions.complete_follow_up(
            clinic.db, NURSE, form.id, "sent", confirmation_number="R-1", now=now
        )
    assert "still lacks" in refused.value.errors["override_reason"]
    with pytest.raises(InvalidFields) as refused:
        actions.complete_follow_up(
            clinic.db,
            NURSE,
            form.id,
            "sent",
            confirmation_number="R-1",
            override_reason="record lost in the outage",
            now=now,
        )
    assert "prescriber" in refused.value.errors["override_reason"]
    with pytest.raises(InvalidFields) as refused:
        actions.complete_follow_up(
            clinic.db, PRESCRIBER, form.id, "sent", override_reason="record lost", now=now
        )
    assert "confirmation_number" in refused.value.errors
    assert _rems(clinic, appointment).status == "open"
    actions.complete_follow_up(
        clinic.db,
        PRESCRIBER,
        form.id,
        "sent by fax",
        submitted_on=day,
        confirmation_number="R-12345",
        override_reason="record lost in the outage",
        now=now,
    )
    done = _rems(clinic, appointment)
    assert (done.status, done.submitted_on, done.confirmation_number) == ("done", day, "R-12345")
    with clinic.db.read() as session:
        after = session.scalars(
            select(AuditEvent.after)
            .where(AuditEvent.action == "complete_follow_up", AuditEvent.entity_id == form.id)
            .order_by(AuditEvent.id.desc())
        ).first()
    assert after is not None
    assert after["override"]["reason"] == "record lost in the outage"
    assert after["confirmation_number"] == "R-12345"


def test_a_rems_form_cannot_be_snoozed_past_its_deadline(clinic: SmallClinic, day: dt.date) -> None:
    form = _rems(clinic, _dosed(clinic, day))
    assert form.deadline_at is not None
    with pytest.raises(InvalidFields) as refused:
        actions.snooze_follow_up(
            clinic.db,
            NURSE,
            form.id,
            form.deadline_at + dt.timedelta(days=30),
            "waiting for the lot number",
            now=clinic.at(day, "13:00"),
        )
    assert "deadline" in refused.value.errors["until"]


def test_a_rems_deadline_on_a_closed_day_is_warned(clinic: SmallClinic, day: dt.date) -> None:
    last = day + dt.timedelta(days=7)
    with clinic.db.write() as session:
        bounds = clinic.calendar.day_bounds(last)
        session.add(
            Closure(
                resource_id=None,
                kind="closure",
                starts_at=bounds.start,
                ends_at=bounds.end,
                reason="Staff training",
            )
        )
    appointment = _dosed(clinic, day)
    queue = follow_up_queue(clinic.db, NURSE, now=clinic.at(day, "13:00"))
    items = (*queue.overdue, *queue.due_today, *queue.upcoming)
    (form,) = [i for i in items if i.kind == "rems_form" and i.appointment_id == appointment]
    assert "closed day" in form.warning
    assert "Staff training" in form.warning


def test_a_started_session_without_a_record_is_never_said_ready_to_submit(
    clinic: SmallClinic, day: dt.date
) -> None:
    # A user trial: right after a Spravato session started, with no record, the list said
    # "Record complete: ready to submit" while Complete… said what the form still needed; the
    # front desk's list said it of every form (the gaps were withheld, the verdict was not).
    appointment = _dosed(clinic, day, complete=False)
    now = clinic.at(day, "10:05")
    (form,) = [
        i
        for i in follow_up_queue(clinic.db, NURSE, now=now).items
        if i.kind == "rems_form" and i.appointment_id == appointment
    ]
    assert form.form_complete is False
    assert "dose start time" in form.missing
    # The front desk is not told what a REMS form lacks, nor that one is owed.
    desk = follow_up_queue(clinic.db, FRONT_DESK, now=now)
    assert [i.kind for i in desk.items if i.kind == "rems_form"] == []


def test_the_front_desk_queue_lists_the_calls_owed_and_no_clinical_follow_up(
    clinic: SmallClinic, day: dt.date
) -> None:
    appointment = _dosed(clinic, day)  # owes a next-day call and a REMS form
    _phq9(clinic, 2, clinic.at(day, "12:35"), appointment)  # opens an urgent review
    later = clinic.at(day, "12:40")
    nurse = follow_up_queue(clinic.db, NURSE, now=later)
    assert {"urgent_review", "rems_form", "next_day_call"} <= {i.kind for i in nurse.items}
    assert queue_counts(clinic.db, NURSE, now=later)["urgent"] == 1
    desk = follow_up_queue(clinic.db, FRONT_DESK, now=later)
    kinds = {i.kind for i in desk.items}
    # A call is owed, to whom, by when: the desk sees it; never a measure, a form or a review.
    assert "next_day_call" in kinds
    assert not kinds & {"urgent_review", "phq9", "gad7", "rems_form", "adverse_event"}
    assert all(i.note == "" for i in desk.items if i.kind == "next_day_call")
    assert "urgent" not in queue_counts(clinic.db, FRONT_DESK, now=later)  # none it may see
    # Nor is it offered those kinds to filter by.
    assert "next_day_call" in desk.kinds
    assert not set(desk.kinds) & {"urgent_review", "phq9", "gad7", "rems_form", "adverse_event"}
    assert {"urgent_review", "rems_form"} <= set(nurse.kinds)
