"""Follow-ups kept in step with the sessions that owe them, and the queue worked off.

Bayside Test Clinic (tests/clinic_fixtures.py) in Thanksgiving week 2026: Ada Lovelace's
Spravato session on Wednesday 25 November, the day before the holiday.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from ketadesk.paths import config_dir
from ketadesk.scheduling.catalog import FOLLOW_UP_DEFAULTS, ConfigError, parse_clinic_settings
from ketadesk.scheduling.followup_rules import Section
from ketadesk.services.booking import appointment_changes, booking
from ketadesk.services.booking.booking import BookingRequest
from ketadesk.services.common.context import SYSTEM, Actor, InvalidFields, PermissionDenied
from ketadesk.services.followups import actions, sync
from ketadesk.services.followups.queue import follow_up_queue, queue_counts
from ketadesk.services.monitoring import measurements
from ketadesk.store.models import Appointment, AuditEvent, FollowUp, FollowUpAttempt
from tests.clinic_fixtures import RIDE_HOME, SmallClinic, build_small_clinic, ready_for_discharge

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
IV = {"room": "Room 2", "monitor": "Monitor 2", "nurse": "Nurse Kim"}
KAP = {"room": "Room 3", "monitor": "Monitor 3", "therapist": "Sam Rivera"}
FRONT_DESK = Actor(user_id=None, username="maria", role="front_desk")
NURSE = Actor(user_id=None, username="kim", role="nurse")
PRESCRIBER = Actor(user_id=None, username="patel", role="prescriber")
THERAPIST = Actor(user_id=None, username="sam", role="therapist")


@pytest.fixture
def clinic(sqlite_url: str) -> Iterator[SmallClinic]:
    c = build_small_clinic(sqlite_url)
    yield c
    c.db.dispose()


def _book(
    clinic: SmallClinic,
    code: str,
    day: dt.date,
    assignment: dict[str, str],
    hhmm: str = "10:00",
    protocol: str | None = None,
) -> int:
    request = BookingRequest(
        patient_id=clinic.ids["Ada Lovelace"],
        sessions=(clinic.session(code, day, hhmm, assignment),),
        protocol=protocol,
    )
    return booking.book(clinic.db, FRONT_DESK, request, now=NOW).appointment_ids[0]


def _complete(clinic: SmallClinic, appointment_id: int, day: dt.date) -> None:
    ready_for_discharge(clinic.db, appointment_id)
    for action, hhmm in (("check_in", "09:55"), ("start", "10:00"), ("complete", "12:30")):
        appointment_changes.change_status(
            clinic.db, NURSE, appointment_id, action, now=clinic.at(day, hhmm), ride=RIDE_HOME
        )


def _rows(clinic: SmallClinic) -> dict[str, FollowUp]:
    """The follow-ups by kind (one each in these tests), detached for reading."""
    with clinic.db.read() as session:
        rows = session.scalars(select(FollowUp).order_by(FollowUp.id)).all()
        session.expunge_all()
    found: dict[str, FollowUp] = {}
    for row in rows:
        assert row.kind not in found, f"two {row.kind} follow-ups"
        found[row.kind] = row
    return found


def _local(clinic: SmallClinic, instant: dt.datetime | None) -> str:
    assert instant is not None
    return f"{clinic.calendar.local(instant):%a %Y-%m-%d %H:%M}"


def _audit_actions(clinic: SmallClinic) -> list[str]:
    with clinic.db.read() as session:
        return list(
            session.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.entity.in_(("follow_up", "permission")))
                .order_by(AuditEvent.id)
            )
        )


# -- created, re-dated, cancelled, re-opened ---------------------------------------------------


def test_booking_a_dosing_session_creates_its_phq9_for_its_nurse(clinic: SmallClinic) -> None:
    appt = _book(clinic, "spravato", WED, SPRAVATO)
    rows = _rows(clinic)
    assert set(rows) == {"phq9"}
    phq9 = rows["phq9"]
    assert phq9.appointment_id == appt
    assert phq9.status == "open"
    assert _local(clinic, phq9.due_at) == "Wed 2026-11-25 10:00"
    assert phq9.assignee_role == "nurse"
    assert phq9.assignee_id == clinic.ids["Nurse Kim"]
    assert _audit_actions(clinic) == ["open_follow_up"]


def test_completing_owes_a_call_on_the_next_business_day_and_the_rems_form_in_7_days(
    clinic: SmallClinic,
) -> None:
    appt = _book(clinic, "spravato", WED, SPRAVATO)
    _complete(clinic, appt, WED)
    rows = _rows(clinic)
    assert set(rows) == {"phq9", "next_day_call", "rems_form"}
    call = rows["next_day_call"]
    # Thursday is Thanksgiving: the call is due on Friday, within Friday's hours.
    assert _local(clinic, call.due_at) == "Fri 2026-11-27 07:30"
    assert _local(clinic, call.deadline_at) == "Fri 2026-11-27 17:00"
    assert call.assignee_id == clinic.ids["Nurse Kim"]
    form = rows["rems_form"]
    # Seven calendar days, the holiday and the weekend included: the end of Wed 2 December.
    assert _local(clinic, form.deadline_at) == "Thu 2026-12-03 00:00"


def test_sync_is_idempotent(db_url: str) -> None:
    clinic = build_small_clinic(db_url)
    try:
        appt = _book(clinic, "spravato", WED, SPRAVATO)
        _complete(clinic, appt, WED)
        before = _rows(clinic)
        with clinic.db.write() as session:
            changed = sync.sync_follow_ups(session, NURSE, [appt], now=clinic.at(WED, "13:00"))
            again = sync.sync_follow_ups(session, NURSE, [appt], now=clinic.at(WED, "13:00"))
        assert (changed, again) == (0, 0)
        after = _rows(clinic)
        assert {k: (r.id, r.due_at, r.status) for k, r in after.items()} == {
            k: (r.id, r.due_at, r.status) for k, r in before.items()
        }
        # And the rest of a follow-up's life, on this database too.
        appointment_changes.undo_status(clinic.db, NURSE, appt, now=clinic.at(WED, "13:05"))
        # Back "in progress": the call waits for completion, the dose still owes its form.
        undone = _rows(clinic)
        assert undone["next_day_call"].status == "cancelled"
        assert undone["rems_form"].status == "open"
        appointment_changes.change_status(
            clinic.db, NURSE, appt, "complete", now=clinic.at(WED, "13:10"), ride=RIDE_HOME
        )
        call = _rows(clinic)["next_day_call"]
        assert (call.id, call.status) == (before["next_day_call"].id, "open")
        tried = actions.record_attempt(
            clinic.db, NURSE, call.id, "no_answer", now=clinic.at(FRI, "09:00")
        )
        assert tried.next_attempt_at == clinic.at(FRI, "13:00")
        queue = follow_up_queue(clinic.db, SYSTEM, now=clinic.at(FRI, "09:30"))
        assert [(i.kind, i.attempts) for i in queue.due_today] == [("next_day_call", 1)]
        # The form may be filled now but is due by the end of its seventh day: upcoming.
        assert [(i.kind, i.attempts) for i in queue.upcoming] == [("rems_form", 0)]
    finally:
        clinic.db.dispose()


def test_a_booking_opens_what_sync_would_and_sync_afterwards_changes_nothing(
    db_url: str,
) -> None:
    """A booking opens its sessions' follow-ups from what it knows, without sync's reads
    (``sync.open_for_new_bookings``); sync run over them afterwards must find nothing to do,
    for single sessions of every type with before-session rules and for a staged series."""
    clinic = build_small_clinic(db_url)
    try:
        ids = [
            _book(clinic, "spravato", WED, SPRAVATO),
            _book(clinic, "iv_infusion", MON, IV, protocol="iv_booster"),
            _book(clinic, "kap", FRI, KAP, hhmm="13:00"),
        ]
        before = [(r.id, r.appointment_id, r.kind, r.assignee_id) for r in _all_rows(clinic)]
        assert (before[0][1], before[0][2], before[0][3]) == (
            ids[0],
            "phq9",
            clinic.ids["Nurse Kim"],
        )
        with clinic.db.write() as session:
            assert sync.sync_follow_ups(session, NURSE, ids, now=NOW) == 0
        after = [(r.id, r.appointment_id, r.kind, r.assignee_id) for r in _all_rows(clinic)]
        assert after == before
        assert _audit_actions(clinic) == ["open_follow_up"] * len(before)
    finally:
        clinic.db.dispose()


def _all_rows(clinic: SmallClinic) -> list[FollowUp]:
    with clinic.db.read() as session:
        rows = list(session.scalars(select(FollowUp).order_by(FollowUp.id)))
        session.expunge_all()
    return rows


def test_moving_a_session_re_dates_its_phq9(clinic: SmallClinic) -> None:
    appt = _book(clinic, "spravato", WED, SPRAVATO)
    first = _rows(clinic)["phq9"]
    appointment_changes.move(
        clinic.db, FRONT_DESK, appt, clinic.session("spravato", MON, "11:00", SPRAVATO), now=NOW
    )
    moved = _rows(clinic)["phq9"]
    assert moved.id == first.id
    assert _local(clinic, moved.due_at) == "Mon 2026-11-30 11:00"
    assert "redate_follow_up" in _audit_actions(clinic)


@pytest.mark.parametrize(
    ("action", "outcome"),
    [("cancel", "Session cancelled"), ("no_show", "Session missed (no-show)")],
)
def test_a_session_not_held_cancels_its_follow_ups_and_undo_reopens_them(
    clinic: SmallClinic, action: str, outcome: str
) -> None:
    appt = _book(clinic, "spravato", WED, SPRAVATO)
    # A no-show is marked once the session has begun without the patient; a cancel ahead.
    when = clinic.at(WED, "10:40") if action == "no_show" else NOW
    appointment_changes.change_status(
        clinic.db, FRONT_DESK, appt, action, reason="ill", now=when, ride=RIDE_HOME
    )
    cancelled = _rows(clinic)["phq9"]
    assert (cancelled.status, cancelled.outcome) == ("cancelled", outcome)
    appointment_changes.undo_status(clinic.db, FRONT_DESK, appt, now=when)
    reopened = _rows(clinic)["phq9"]
    assert reopened.id == cancelled.id
    assert (reopened.status, reopened.outcome) == ("open", "")
    assert _audit_actions(clinic) == ["open_follow_up", "cancel_follow_up", "reopen_follow_up"]


def test_undoing_a_completion_cancels_the_call_and_completing_again_reopens_it(
    clinic: SmallClinic,
) -> None:
    appt = _book(clinic, "iv_infusion", WED, IV)
    _complete(clinic, appt, WED)
    call = _rows(clinic)["next_day_call"]
    appointment_changes.undo_status(clinic.db, NURSE, appt, now=clinic.at(WED, "12:35"))
    assert _rows(clinic)["next_day_call"].status == "cancelled"
    appointment_changes.change_status(
        clinic.db, NURSE, appt, "complete", now=clinic.at(WED, "12:40"), ride=RIDE_HOME
    )
    again = _rows(clinic)["next_day_call"]
    assert (again.id, again.status) == (call.id, "open")


def _enter_phq9(clinic: SmallClinic, appointment_id: int, now: dt.datetime) -> None:
    """The PHQ-9 answered (total 14, item 9 "not at all"): how its follow-up is done."""
    answers = [2, 2, 2, 2, 2, 2, 1, 1, 0]
    measurements.save_measurement(
        clinic.db,
        NURSE,
        clinic.ids["Ada Lovelace"],
        "phq9",
        answers,
        appointment_id=appointment_id,
        now=now,
    )


def test_a_done_follow_up_is_not_created_again(clinic: SmallClinic) -> None:
    appt = _book(clinic, "iv_infusion", WED, IV)
    _enter_phq9(clinic, appt, NOW)
    _complete(clinic, appt, WED)
    rows = _rows(clinic)
    assert rows["phq9"].status == "done"
    assert rows["phq9"].outcome.startswith("PHQ-9 entered: 14")
    assert rows["next_day_call"].status == "open"


def test_a_phq9_is_done_by_its_answers_or_closed_as_not_taken_with_why(
    clinic: SmallClinic,
) -> None:
    """A user trial marked a PHQ-9 follow-up done with the word "done": no scores, no
    self-harm question asked.  Words never make it done; "not taken" closes it with why."""
    appt = _book(clinic, "iv_infusion", WED, IV)
    phq9 = _rows(clinic)["phq9"]
    with pytest.raises(InvalidFields) as refused:
        actions.complete_follow_up(clinic.db, NURSE, phq9.id, "done", now=NOW)
    assert refused.value.errors["outcome"].startswith(
        "a PHQ-9 is done when its answers are entered (Enter PHQ-9…)"
    )
    assert _rows(clinic)["phq9"].status == "open"
    with pytest.raises(InvalidFields) as no_reason:
        actions.record_not_taken(clinic.db, NURSE, phq9.id, "  ", now=NOW)
    assert "reason is required" in no_reason.value.errors["outcome"]
    actions.record_not_taken(clinic.db, NURSE, phq9.id, "declined today", now=NOW)
    closed = _rows(clinic)["phq9"]
    assert (closed.status, closed.outcome) == ("cancelled", "Not taken: declined today")
    assert "measure_not_taken" in _audit_actions(clinic)
    # Only a measure is "not taken": a call is completed with what came of it.
    _complete(clinic, appt, WED)
    call = _rows(clinic)["next_day_call"]
    with pytest.raises(InvalidFields):
        actions.record_not_taken(clinic.db, NURSE, call.id, "no answer", now=NOW)


def test_integration_after_a_kap_dose_goes_to_its_therapist(clinic: SmallClinic) -> None:
    appt = _book(clinic, "kap", WED, KAP, hhmm="09:00")
    _complete(clinic, appt, WED)
    integration = _rows(clinic)["integration"]
    assert integration.assignee_role == "therapist"
    assert integration.assignee_id == clinic.ids["Sam Rivera"]
    # Due from the next day, Thanksgiving, when the clinic is closed: from Friday's opening.
    assert _local(clinic, integration.due_at) == "Fri 2026-11-27 07:30"
    assert _local(clinic, integration.deadline_at) == "Sun 2026-11-29 00:00"


def test_an_integration_session_held_in_its_window_settles_the_follow_up(
    clinic: SmallClinic,
) -> None:
    kap = _book(clinic, "kap", WED, KAP, hhmm="09:00")
    _complete(clinic, kap, WED)
    therapy = _book(clinic, "integration", FRI, {"therapist": "Sam Rivera", "office": "Office A"})
    assert _rows(clinic)["integration"].status == "open"  # booked is not held yet
    _complete(clinic, therapy, FRI)
    done = _rows(clinic)["integration"]
    assert done.status == "done"
    assert done.outcome == f"Integration therapy held (appointment #{therapy})"


def test_an_integration_session_after_the_window_does_not_settle_it(
    clinic: SmallClinic,
) -> None:
    kap = _book(clinic, "kap", WED, KAP, hhmm="09:00")
    _complete(clinic, kap, WED)
    therapy = _book(clinic, "integration", MON, {"therapist": "Sam Rivera", "office": "Office A"})
    _complete(clinic, therapy, MON)
    assert _rows(clinic)["integration"].status == "open"


def test_the_last_session_of_a_stage_owes_the_booster_review(clinic: SmallClinic) -> None:
    appt = _book(clinic, "iv_infusion", WED, IV, protocol="iv_booster")
    assert "booster_review" not in _rows(clinic)
    _complete(clinic, appt, WED)
    review = _rows(clinic)["booster_review"]
    assert review.assignee_role == "prescriber"
    assert _local(clinic, review.due_at) == "Wed 2026-12-09 07:30"
    assert _local(clinic, review.deadline_at) == "Thu 2027-01-07 00:00"
    appointment_changes.undo_status(clinic.db, NURSE, appt, now=clinic.at(WED, "12:35"))
    assert _rows(clinic)["booster_review"].status == "cancelled"


# -- the queue ---------------------------------------------------------------------------------


def _completed_spravato(clinic: SmallClinic) -> int:
    appt = _book(clinic, "spravato", WED, SPRAVATO)
    _complete(clinic, appt, WED)
    _enter_phq9(clinic, appt, clinic.at(WED, "10:00"))
    return appt


def test_the_queue_on_friday_morning(clinic: SmallClinic) -> None:
    _completed_spravato(clinic)
    queue = follow_up_queue(clinic.db, SYSTEM, now=clinic.at(FRI, "09:00"))
    assert queue.overdue == ()
    # "Due today" holds what must be done today, as its words say; the REMS form, open since
    # the session's end and due in 5 days, is upcoming (a user trial found "due by tomorrow"
    # counted as due today).
    assert [(i.kind, i.countdown) for i in queue.due_today] == [
        ("next_day_call", "due today by 17:00"),
    ]
    assert [(i.kind, i.countdown) for i in queue.upcoming] == [("rems_form", "due in 5 days")]
    (call,) = queue.due_today
    (form,) = queue.upcoming
    # Due by the end of Wed Nov 25 + 7 days (DOMAIN.md: that date, not the day after); the
    # queue's Due column showed the session's end.
    assert form.due_text == "by end of Wed Dec 2"
    assert call.due_text == "Fri Nov 27 07:30"
    assert call.patient_name == "Lovelace, Ada"
    assert call.chart_number == "BT-1"
    assert call.assignee_name == "Nurse Kim"
    assert call.session_label == "Spravato (esketamine), Wed Nov 25 10:00"
    assert call.attempts == 0
    assert call.attempts_left == 3
    assert "lot" in form.missing  # completing asked for the dose, readings and discharge
    assert queue_counts(clinic.db, SYSTEM, now=clinic.at(FRI, "09:00")) == {
        "overdue": 0,
        "due_today": 1,
        "upcoming": 1,
        "urgent": 0,
    }


def test_a_phq9_joins_the_queue_on_the_day_of_its_session(clinic: SmallClinic) -> None:
    _book(clinic, "spravato", WED, SPRAVATO)
    assert follow_up_queue(clinic.db, SYSTEM, now=NOW).items == ()
    queue = follow_up_queue(clinic.db, SYSTEM, now=clinic.at(WED, "08:00"))
    assert [(i.kind, i.section, i.countdown) for i in queue.items] == [
        ("phq9", Section.DUE_TODAY, "due today by 10:00")
    ]
    # Past its start, the patient not checked in: it waits for them (a trial's queue had it
    # overdue before the patient had arrived).
    waiting = follow_up_queue(clinic.db, SYSTEM, now=clinic.at(WED, "10:20"))
    assert [(i.section, i.countdown) for i in waiting.items] == [
        (Section.DUE_TODAY, "due at check-in")
    ]
    # The session's planned end passed without a check-in: it happened without its PHQ-9.
    end = clinic.at(WED, "10:00") + dt.timedelta(
        minutes=clinic.catalog.session_types["spravato"].total_minutes
    )
    missed = follow_up_queue(clinic.db, SYSTEM, now=end + dt.timedelta(minutes=5))
    assert [(i.section, i.countdown) for i in missed.items] == [
        (Section.OVERDUE, "overdue by 5 mins")
    ]
    # Counted from that end, not from the deadline stored (the start): the item says which,
    # so "Deadline 10:00 (overdue by 5 mins)" at 12:35 is never read.
    (item,) = missed.items
    assert item.deadline == clinic.calendar.local(clinic.at(WED, "10:00"))
    assert item.overdue_from == clinic.calendar.local(end)
    on_time = follow_up_queue(clinic.db, SYSTEM, now=clinic.at(WED, "08:00"))
    assert [i.overdue_from for i in on_time.items] == [None]


def test_a_phq9_is_overdue_once_its_patient_is_checked_in_late(clinic: SmallClinic) -> None:
    appointment = _book(clinic, "spravato", WED, SPRAVATO)
    appointment_changes.change_status(
        clinic.db, NURSE, appointment, "check_in", now=clinic.at(WED, "10:20")
    )
    late = follow_up_queue(clinic.db, SYSTEM, now=clinic.at(WED, "10:20"))
    assert [(i.section, i.countdown) for i in late.items] == [
        (Section.OVERDUE, "overdue by 20 mins")
    ]


def test_the_rems_form_turns_overdue_after_its_seventh_day(clinic: SmallClinic) -> None:
    _completed_spravato(clinic)
    queue = follow_up_queue(
        clinic.db, SYSTEM, now=clinic.at(dt.date(2026, 12, 3), "08:00"), kind="rems_form"
    )
    assert [(i.kind, i.section, i.countdown) for i in queue.items] == [
        ("rems_form", Section.OVERDUE, "overdue by 1 day")
    ]


def test_the_queue_filters_by_assignee(clinic: SmallClinic) -> None:
    _completed_spravato(clinic)
    now = clinic.at(FRI, "09:00")
    assert len(follow_up_queue(clinic.db, SYSTEM, now=now, assignee_role="nurse").items) == 2
    assert follow_up_queue(clinic.db, SYSTEM, now=now, assignee_role="therapist").items == ()
    kim = follow_up_queue(clinic.db, SYSTEM, now=now, assignee_id=clinic.ids["Nurse Kim"])
    assert len(kim.items) == 2


# -- working it --------------------------------------------------------------------------------


def test_unreached_calls_are_tried_again_until_no_calls_are_left(clinic: SmallClinic) -> None:
    _completed_spravato(clinic)
    call = _rows(clinic)["next_day_call"]
    first = actions.record_attempt(
        clinic.db, NURSE, call.id, "no_answer", "rang out", now=clinic.at(FRI, "09:00")
    )
    assert first.next_attempt_at is not None
    assert _local(clinic, first.next_attempt_at) == "Fri 2026-11-27 13:00"
    assert first.attempts_left == 2
    item = follow_up_queue(clinic.db, SYSTEM, now=clinic.at(FRI, "09:05")).item(call.id)
    assert item is not None
    assert item.attempts == 1
    assert item.last_attempt == "No answer Fri 09:00"
    assert _local(clinic, item.due) == "Fri 2026-11-27 13:00"
    second = actions.record_attempt(
        clinic.db, NURSE, call.id, "voicemail", now=clinic.at(FRI, "13:00")
    )
    # 17:00 is closing time on Fridays: the weekend is closed, so Monday's opening.
    assert _local(clinic, second.next_attempt_at) == "Mon 2026-11-30 07:30"
    third = actions.record_attempt(
        clinic.db, NURSE, call.id, "no_answer", now=clinic.at(MON, "08:00")
    )
    assert (third.next_attempt_at, third.attempts_left) == (None, 0)
    actions.complete_follow_up(
        clinic.db, NURSE, call.id, "Letter sent after three calls", now=clinic.at(MON, "08:05")
    )
    done = _rows(clinic)["next_day_call"]
    assert (done.status, done.outcome) == ("done", "Letter sent after three calls")
    assert follow_up_queue(clinic.db, SYSTEM, now=clinic.at(MON, "08:10")).item(call.id) is None
    with clinic.db.read() as session:
        assert session.scalar(select(func.count()).select_from(FollowUpAttempt)) == 3


def test_completing_needs_an_outcome_and_saves_nothing_without_one(clinic: SmallClinic) -> None:
    _completed_spravato(clinic)
    call = _rows(clinic)["next_day_call"]
    with pytest.raises(InvalidFields) as err:
        actions.complete_follow_up(clinic.db, NURSE, call.id, "  ", now=clinic.at(FRI, "09:00"))
    assert set(err.value.errors) == {"outcome"}
    assert _rows(clinic)["next_day_call"].status == "open"


def test_snoozing_needs_a_future_time_and_a_reason(clinic: SmallClinic) -> None:
    _completed_spravato(clinic)
    call = _rows(clinic)["next_day_call"]
    now = clinic.at(FRI, "09:00")
    with pytest.raises(InvalidFields) as err:
        actions.snooze_follow_up(
            clinic.db, NURSE, call.id, now - dt.timedelta(hours=1), "", now=now
        )
    assert set(err.value.errors) == {"until", "reason"}
    assert _rows(clinic)["next_day_call"].status == "open"
    actions.snooze_follow_up(
        clinic.db, NURSE, call.id, clinic.at(MON, "10:00"), "Patient asked for Monday", now=now
    )
    item = follow_up_queue(clinic.db, SYSTEM, now=now).item(call.id)
    assert item is not None
    assert item.section is Section.UPCOMING
    assert item.note == "Patient asked for Monday"
    assert item.status == "snoozed"


def test_front_desk_may_not_work_a_clinical_follow_up_and_the_refusal_is_audited(
    clinic: SmallClinic,
) -> None:
    _completed_spravato(clinic)
    call = _rows(clinic)["next_day_call"]
    with pytest.raises(PermissionDenied, match="Next-day call"):
        actions.complete_follow_up(
            clinic.db, FRONT_DESK, call.id, "Fine", now=clinic.at(FRI, "09:00")
        )
    assert _rows(clinic)["next_day_call"].status == "open"
    with clinic.db.read() as session:
        refused = session.execute(
            select(AuditEvent.action, AuditEvent.entity, AuditEvent.entity_id).where(
                AuditEvent.action == "refused"
            )
        ).all()
    assert refused == [("refused", "follow_up", call.id)]


def test_a_booster_review_is_the_prescribers_not_the_front_desks(clinic: SmallClinic) -> None:
    """The booster review is a prescriber's judgement (DOMAIN.md): the front desk once
    recorded a call on it and closed it "Review booked"; now its queue does not list it, the
    service refuses it, and a nurse may call about it but only the prescriber closes it (a
    booster review session held closes it too, ``sync``)."""
    appt = _book(clinic, "iv_infusion", WED, IV, protocol="iv_booster")
    _complete(clinic, appt, WED)
    review = _rows(clinic)["booster_review"]
    at = clinic.at(dt.date(2026, 12, 9), "09:00")
    assert follow_up_queue(clinic.db, FRONT_DESK, now=at).item(review.id) is None
    with pytest.raises(PermissionDenied, match="Only a nurse or prescriber may work"):
        actions.record_attempt(clinic.db, FRONT_DESK, review.id, "reached", now=at)
    with pytest.raises(PermissionDenied):
        actions.complete_follow_up(clinic.db, FRONT_DESK, review.id, "Review booked", now=at)
    actions.record_attempt(clinic.db, NURSE, review.id, "reached", now=at)
    with pytest.raises(PermissionDenied, match="Only a prescriber may complete a booster review"):
        actions.complete_follow_up(clinic.db, NURSE, review.id, "Review booked", now=at)
    assert _rows(clinic)["booster_review"].status == "open"
    actions.complete_follow_up(clinic.db, PRESCRIBER, review.id, "Booster in 3 weeks", now=at)
    assert _rows(clinic)["booster_review"].status == "done"


def test_a_bad_attempt_result_is_refused_at_its_field(clinic: SmallClinic) -> None:
    _completed_spravato(clinic)
    call = _rows(clinic)["next_day_call"]
    with pytest.raises(InvalidFields) as err:
        actions.record_attempt(clinic.db, NURSE, call.id, "busy", now=NOW)
    assert set(err.value.errors) == {"result"}


def test_an_adverse_event_opens_a_follow_up_for_the_prescriber(clinic: SmallClinic) -> None:
    appt = _completed_spravato(clinic)
    at = clinic.at(WED, "11:20")
    fid = actions.record_adverse_event(clinic.db, NURSE, appt, "BP 182/104 at +40 min", now=at)
    again = actions.record_adverse_event(clinic.db, NURSE, appt, "still high", now=at)
    assert again == fid
    event = _rows(clinic)["adverse_event"]
    assert (event.priority, event.assignee_role) == ("high", "prescriber")
    assert _local(clinic, event.deadline_at) == "Fri 2026-11-27 17:00"
    assert event.outcome == "BP 182/104 at +40 min"
    with pytest.raises(PermissionDenied):
        actions.record_adverse_event(clinic.db, FRONT_DESK, appt, "dizzy", now=at)


def test_the_queue_leaves_clinical_follow_ups_out_for_the_front_desk(clinic: SmallClinic) -> None:
    appt = _completed_spravato(clinic)
    at = clinic.at(WED, "11:20")
    fid = actions.record_adverse_event(clinic.db, NURSE, appt, "BP 182/104 at +40 min", now=at)
    nurse = follow_up_queue(clinic.db, NURSE, now=at).item(fid)
    assert nurse is not None
    assert nurse.note == "BP 182/104 at +40 min"
    rems_nurse = [i for i in follow_up_queue(clinic.db, NURSE, now=at).items if i.missing]
    assert rems_nurse  # the REMS form still lacks its readings
    front = follow_up_queue(clinic.db, FRONT_DESK, now=at)
    # Not even that an adverse event is followed up (README's role table: the front desk
    # "sees no screening, consent, measures or monitoring"), nor a REMS form and its gaps;
    # the next-day call stays: a call is owed, to whom, by when, without its notes.
    assert front.item(fid) is None
    assert {i.kind for i in front.items} == {"next_day_call"}
    assert all(i.missing == () and i.note == "" for i in front.items)


# -- configuration -------------------------------------------------------------------------------


def test_the_defaults_match_clinic_toml() -> None:
    with (config_dir() / "clinic.toml").open("rb") as fh:
        shipped = tomllib.load(fh)["followups"]
    assert dict(FOLLOW_UP_DEFAULTS) == shipped


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("retry_hours", 0, "clinic.toml: followups.retry_hours: must be at least 1, got 0"),
        ("max_attempts", "3", "clinic.toml: followups.max_attempts: must be a whole number"),
        ("clinical_kinds", ["calls"], "clinic.toml: followups.clinical_kinds: 'calls' is not"),
    ],
)
def test_a_bad_followups_setting_is_named(key: str, value: object, message: str) -> None:
    with (config_dir() / "clinic.toml").open("rb") as fh:
        data = tomllib.load(fh)
    data["followups"][key] = value
    with pytest.raises(ConfigError) as err:
        parse_clinic_settings(data, "clinic.toml")
    assert str(err.value).startswith(message)


# -- a whole series ------------------------------------------------------------------------------


def _book_induction(clinic: SmallClinic) -> list[int]:
    from ketadesk.services.booking.planning import PlanWishes, propose_series

    proposal = propose_series(
        clinic.db,
        chart="BT-1",
        protocol="iv_induction",
        start=dt.date(2026, 12, 2),
        wishes=PlanWishes(weekdays=("mon", "wed", "fri"), time=dt.time(10)),
        today=NOW.date(),
    )
    assert proposal.plan.complete
    request = BookingRequest(
        patient_id=proposal.patient_id, sessions=proposal.sessions, protocol="iv_induction"
    )
    return list(booking.book(clinic.db, FRONT_DESK, request, now=NOW).appointment_ids)


def _phq9_due(clinic: SmallClinic) -> dict[int, tuple[dt.datetime, dt.datetime]]:
    """Each appointment's start, and its open PHQ-9's due time."""
    with clinic.db.read() as session:
        rows = session.execute(
            select(FollowUp.appointment_id, FollowUp.due_at).where(
                FollowUp.kind == "phq9", FollowUp.status == "open"
            )
        ).all()
        starts = dict(session.execute(select(Appointment.id, Appointment.starts_at)).all())
    return {appt: (starts[appt], due) for appt, due in rows if appt is not None}


def test_a_series_move_re_dates_every_moved_sessions_phq9(clinic: SmallClinic) -> None:
    from ketadesk.services.booking.series_moves import move_series, propose_series_move

    ids = _book_induction(clinic)
    assert sorted(_phq9_due(clinic)) == sorted(ids)
    second = ids[1]
    start, _ = _phq9_due(clinic)[second]
    new_start = clinic.at(clinic.calendar.local_date(start) + dt.timedelta(days=3), "10:00")
    proposal = propose_series_move(clinic.db, second, new_start, now=NOW)
    assert move_series(clinic.db, FRONT_DESK, proposal, reason="away", now=NOW) >= 1
    due = _phq9_due(clinic)
    assert due[second][1] == new_start
    assert all(starts == owed for starts, owed in due.values())
    assert len(due) == len(ids)


def test_the_booster_review_waits_for_the_whole_induction(clinic: SmallClinic) -> None:
    ids = _book_induction(clinic)
    for n, appt in enumerate(ids):
        start, _ = _phq9_due(clinic)[appt]
        day = clinic.calendar.local_date(start)
        _complete(clinic, appt, day)
        kinds = {r.kind for r in _all(clinic)}
        assert ("booster_review" in kinds) is (n == len(ids) - 1)
    (review,) = [r for r in _all(clinic) if r.kind == "booster_review"]
    assert review.appointment_id == ids[-1]
    assert review.status == "open"


def test_a_dropped_induction_owes_no_booster_review(clinic: SmallClinic) -> None:
    ids = _book_induction(clinic)
    start, _ = _phq9_due(clinic)[ids[0]]
    _complete(clinic, ids[0], clinic.calendar.local_date(start))
    for appt in ids[1:]:
        appointment_changes.change_status(
            clinic.db, FRONT_DESK, appt, "cancel", reason="moved away", now=NOW
        )
    assert not any(r.kind == "booster_review" for r in _all(clinic))


def _all(clinic: SmallClinic) -> list[FollowUp]:
    with clinic.db.read() as session:
        rows = list(session.scalars(select(FollowUp).order_by(FollowUp.id)))
        session.expunge_all()
    return rows


# -- the demo clinic keeps these rules ----------------------------------------------------------


def test_the_demo_clinics_follow_ups_are_what_the_rules_owe(sqlite_url: str) -> None:
    from ketadesk.services.demo.clinic import build_demo
    from ketadesk.store.database import open_database

    summary = build_demo(
        sqlite_url,
        seed=7,
        today=dt.date(2025, 12, 3),
        rooms=3,
        weeks_back=2,
        weeks_ahead=1,
        patients=30,
    )
    db = open_database(sqlite_url)
    try:
        with db.write() as session:
            ids = session.scalars(select(Appointment.id)).all()
            assert len(ids) == summary.appointments
            changed = sync.sync_follow_ups(
                session, NURSE, ids, now=dt.datetime(2025, 12, 3, 18, 40, tzinfo=dt.UTC)
            )
            session.rollback()
        assert changed == 0
    finally:
        db.dispose()
