"""Dropout: a no-show or late cancellation anywhere in a series marks it at risk, opens an
outreach call with a deadline, and puts the series on the recall list with its make-up offer.
Answering the miss (a make-up, the waitlist, one short), making the call, or undoing the miss
takes the series off the list; taking a make-up back puts it on again.

The IV induction of tests/services/rebooking/test_makeup.py: Mon/Wed/Fri at 10:00 from
Wednesday 2 December 2026, planned on the 1st; every change is made at an instant taken from
the booked sessions (no real clock).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from ketadesk.scheduling.catalog import ConfigError
from ketadesk.scheduling.dropout import parse_dropout_settings
from ketadesk.services.booking import appointment_changes, booking
from ketadesk.services.booking.booking import BookingRequest
from ketadesk.services.booking.plan_check import BookingConflict
from ketadesk.services.common.context import SYSTEM, Actor, InvalidFields, InvalidRequest
from ketadesk.services.followups import actions, recall
from ketadesk.services.rebooking import makeup
from ketadesk.services.settings import rules
from ketadesk.store.models import Appointment, ClinicSetting, FollowUp
from tests.clinic_fixtures import SmallClinic, build_small_clinic
from tests.services.rebooking.test_makeup import Row, book_induction, no_show

FRONT_DESK = Actor(user_id=None, username="maria", role="front_desk")


@pytest.fixture
def clinic(db_url: str) -> Iterator[SmallClinic]:
    c = build_small_clinic(db_url)
    yield c
    c.db.dispose()


def _outreach(clinic: SmallClinic, appointment_id: int) -> list[FollowUp]:
    with clinic.db.read() as s:
        rows = s.scalars(
            select(FollowUp)
            .where(FollowUp.appointment_id == appointment_id, FollowUp.kind == "outreach_call")
            .order_by(FollowUp.id)
        ).all()
        s.expunge_all()
        return list(rows)


def _cancel(clinic: SmallClinic, row: Row, hours_before: float) -> dt.datetime:
    at = row.starts_at - dt.timedelta(hours=hours_before)
    appointment_changes.change_status(
        clinic.db, FRONT_DESK, row.id, "cancel", reason="no ride", now=at
    )
    return at


def _dropout(clinic: SmallClinic, **values: Any) -> None:
    with clinic.db.write() as session:
        row = session.get(ClinicSetting, "dropout")
        if row is None:
            session.add(ClinicSetting(key="dropout", value=dict(values)))
        else:
            row.value = {**row.value, **values}


def test_a_no_show_at_session_two_opens_an_outreach_call_and_puts_the_series_at_risk(
    clinic: SmallClinic,
) -> None:
    rows = book_induction(clinic)
    second = rows[1]
    at = no_show(clinic, second)  # Friday 4 December, 10:30

    (call,) = _outreach(clinic, second.id)
    assert (call.status, call.assignee_role, call.priority) == ("open", "front_desk", "high")
    assert call.due_at == at
    # By the close of the next business day: Monday 7 December (the weekend skipped).
    assert call.deadline_at is not None
    local_deadline = clinic.calendar.local(call.deadline_at)
    assert local_deadline.date() == clinic.calendar.local_date(at) + dt.timedelta(days=3)
    assert local_deadline.weekday() == 0
    assert call.deadline_at == clinic.calendar.open_intervals(local_deadline.date())[-1].end

    (risk,) = recall.at_risk_list(clinic.db, now=at)
    assert risk.series_id == second.series_id
    assert risk.patient_name == "Lovelace, Ada"
    assert risk.make_up_for == second.id
    assert risk.missed == ("IV ketamine infusion 2/6: no-show Fri Dec 4",)
    assert risk.outreach == "due in 3 days"
    assert not risk.overdue
    after = call.deadline_at + dt.timedelta(minutes=1)
    (late,) = recall.at_risk_list(clinic.db, now=after)
    assert late.overdue
    assert late.outreach.startswith("overdue by")


def test_a_late_cancellation_counts_and_an_early_one_does_not(clinic: SmallClinic) -> None:
    rows = book_induction(clinic)
    early = _cancel(clinic, rows[1], hours_before=72)  # outside [clinic] late_cancel_hours
    assert _outreach(clinic, rows[1].id) == []
    assert recall.at_risk_list(clinic.db, now=early) == []

    late = _cancel(clinic, rows[2], hours_before=3)
    (call,) = _outreach(clinic, rows[2].id)
    assert call.status == "open"
    assert call.due_at == late
    (risk,) = recall.at_risk_list(clinic.db, now=late)
    assert risk.missed == ("IV ketamine infusion 3/6: late cancellation Mon Dec 7",)
    assert risk.make_up_for == rows[2].id


def test_early_cancellations_count_when_configured(clinic: SmallClinic) -> None:
    _dropout(clinic, at_risk_events=["no_show", "cancel"])
    rows = book_induction(clinic)
    at = _cancel(clinic, rows[1], hours_before=72)
    (risk,) = recall.at_risk_list(clinic.db, now=at)
    assert risk.missed == ("IV ketamine infusion 2/6: cancelled Fri Dec 4",)


def test_no_shows_do_not_count_when_the_clinic_says_so(clinic: SmallClinic) -> None:
    _dropout(clinic, at_risk_events=["late_cancel"], outreach_business_days=0)
    rows = book_induction(clinic)
    at = no_show(clinic, rows[1])
    assert _outreach(clinic, rows[1].id) == []
    assert recall.at_risk_list(clinic.db, now=at) == []
    late = _cancel(clinic, rows[2], hours_before=3)
    (call,) = _outreach(clinic, rows[2].id)
    # 0 business days: by the close of the day the miss was recorded.
    assert call.deadline_at is not None
    assert clinic.calendar.local_date(call.deadline_at) == clinic.calendar.local_date(late)


def test_undoing_the_no_show_clears_the_risk_and_redoing_it_opens_the_call_again(
    clinic: SmallClinic,
) -> None:
    rows = book_induction(clinic)
    at = no_show(clinic, rows[1])
    appointment_changes.undo_status(
        clinic.db, FRONT_DESK, rows[1].id, now=at + dt.timedelta(minutes=5)
    )
    (call,) = _outreach(clinic, rows[1].id)
    assert (call.status, call.outcome) == ("cancelled", "No longer owed")
    assert recall.at_risk_list(clinic.db, now=at + dt.timedelta(minutes=5)) == []

    again = at + dt.timedelta(minutes=10)
    appointment_changes.change_status(clinic.db, FRONT_DESK, rows[1].id, "no_show", now=again)
    (call,) = _outreach(clinic, rows[1].id)
    assert call.status == "open"
    assert call.due_at == again
    assert len(recall.at_risk_list(clinic.db, now=again)) == 1


def test_the_make_up_offered_from_the_recall_list_is_booked_and_answers_the_call(
    clinic: SmallClinic,
) -> None:
    rows = book_induction(clinic)
    at = no_show(clinic, rows[1])
    (risk,) = recall.at_risk_list(clinic.db, now=at)

    offer = makeup.offer_for(clinic.db, risk.make_up_for, now=at)
    assert offer is not None
    assert offer.can_make_up, offer.problems
    made = makeup.book_make_up(clinic.db, FRONT_DESK, offer, now=at)
    (call,) = _outreach(clinic, rows[1].id)
    assert (call.status, call.outcome) == ("cancelled", "Answered: make-up booked")
    assert recall.at_risk_list(clinic.db, now=at) == []
    with clinic.db.read() as s:
        booked = s.get(Appointment, made.appointment_id)
        assert booked is not None
        assert (booked.series_index, booked.status) == (2, "booked")

    # Taking the make-up back leaves the miss unanswered: the call stands again.
    later = at + dt.timedelta(minutes=5)
    makeup.undo_make_up(clinic.db, FRONT_DESK, offer, made.appointment_id, now=later)
    (call,) = _outreach(clinic, rows[1].id)
    assert call.status == "open"
    assert [r.make_up_for for r in recall.at_risk_list(clinic.db, now=later)] == [rows[1].id]


def test_a_make_up_from_the_recall_list_meets_the_booking_checks(clinic: SmallClinic) -> None:
    """The offer was read; then the make-up's place went to another patient at another
    workstation: booking it is refused by the booking re-check and the series stays at risk."""
    rows = book_induction(clinic)
    at = no_show(clinic, rows[1])
    (risk,) = recall.at_risk_list(clinic.db, now=at)
    offer = makeup.offer_for(clinic.db, risk.make_up_for, now=at)
    assert offer is not None
    assert offer.make_up is not None
    # Mary books the very holds the make-up's re-flow was to use for its last session (the
    # make-up itself takes the place of a session it moves on).
    taken = offer.moves[-1].session if offer.moves else offer.make_up.session
    booking.book(
        clinic.db,
        FRONT_DESK,
        BookingRequest(
            patient_id=clinic.ids["Mary Seacole"],
            sessions=(dataclasses.replace(taken, index=1),),
        ),
        now=at,
    )
    with pytest.raises(BookingConflict, match="was just taken by Seacole"):
        makeup.book_make_up(clinic.db, FRONT_DESK, offer, now=at)
    assert _outreach(clinic, rows[1].id)[0].status == "open"
    assert len(recall.at_risk_list(clinic.db, now=at)) == 1


def test_continuing_short_or_the_waitlist_answers_the_miss(clinic: SmallClinic) -> None:
    rows = book_induction(clinic)
    at = no_show(clinic, rows[1])
    late = _cancel(clinic, rows[2], hours_before=3)
    (risk,) = recall.at_risk_list(clinic.db, now=late)
    assert len(risk.missed) == 2
    assert risk.make_up_for == rows[1].id  # the earliest miss first

    makeup.continue_short(clinic.db, FRONT_DESK, rows[1].id, now=late)
    assert _outreach(clinic, rows[1].id)[0].outcome == "Answered: the series continues one short"
    (risk,) = recall.at_risk_list(clinic.db, now=late)
    assert risk.make_up_for == rows[2].id
    assert risk.missed == ("IV ketamine infusion 3/6: late cancellation Mon Dec 7",)

    makeup.put_on_waitlist(clinic.db, FRONT_DESK, rows[2].id, now=late)
    assert _outreach(clinic, rows[2].id)[0].outcome == "Answered: on the waitlist for a make-up"
    assert recall.at_risk_list(clinic.db, now=at) == []


def test_the_outreach_call_made_takes_the_series_off_the_list(clinic: SmallClinic) -> None:
    rows = book_induction(clinic)
    at = no_show(clinic, rows[1])
    (risk,) = recall.at_risk_list(clinic.db, now=at)
    actions.complete_follow_up(
        clinic.db,
        FRONT_DESK,
        risk.outreach_follow_up_id,
        "Reached: had the flu, will come on Monday",
        now=at + dt.timedelta(hours=1),
    )
    assert recall.at_risk_list(clinic.db, now=at + dt.timedelta(hours=1)) == []


def test_a_missed_session_outside_a_series_owes_no_outreach_call(clinic: SmallClinic) -> None:
    rows = book_induction(clinic)
    day = clinic.calendar.local_date(rows[-1].starts_at) + dt.timedelta(days=7)
    single = booking.book(
        clinic.db,
        FRONT_DESK,
        BookingRequest(
            patient_id=clinic.ids["Mary Seacole"],
            sessions=(
                clinic.session(
                    "iv_infusion",
                    day,
                    "10:00",
                    {"room": "Room 2", "monitor": "Monitor 2", "nurse": "Nurse Kim"},
                ),
            ),
        ),
        now=rows[0].starts_at,
    ).appointment_ids[0]
    at = clinic.at(day, "10:30")
    appointment_changes.change_status(clinic.db, FRONT_DESK, single, "no_show", now=at)
    assert _outreach(clinic, single) == []
    assert recall.at_risk_list(clinic.db, now=at) == []


@pytest.mark.parametrize(
    ("given", "named"),
    [
        ({"at_risk_events": ["no_show", "rain"]}, "dropout.at_risk_events"),
        ({"outreach_business_days": -1}, "dropout.outreach_business_days"),
        ({"outreach_business_days": "1"}, "dropout.outreach_business_days"),
        ({"outreach_role": "janitor"}, "dropout.outreach_role"),
    ],
)
def test_a_bad_dropout_setting_names_its_file_and_key(given: dict[str, Any], named: str) -> None:
    with pytest.raises(ConfigError, match=rf"^clinic\.toml: {named}: "):
        parse_dropout_settings(given)


def test_the_recall_list_refuses_nothing_it_cannot_offer(clinic: SmallClinic) -> None:
    """A booked session is no miss: asking for its make-up is refused in words."""
    rows = book_induction(clinic)
    assert makeup.offer_for(clinic.db, rows[1].id, now=rows[0].starts_at) is None
    with pytest.raises(InvalidRequest, match="only a cancelled or missed session"):
        makeup.continue_short(clinic.db, FRONT_DESK, rows[1].id, now=rows[0].starts_at)


def test_the_clinic_rules_page_edits_the_outreach_deadline_and_refuses_a_bad_one(
    clinic: SmallClinic,
) -> None:
    key = "dropout.outreach_business_days"
    assert rules.read_rules(clinic.db).value(key) == 1
    with pytest.raises(InvalidFields) as caught:
        rules.save_rules(clinic.db, SYSTEM, {key: 31})
    assert caught.value.errors == {key: "must be a whole number from 0 to 30"}
    rules.save_rules(clinic.db, SYSTEM, {key: 0})
    rows = book_induction(clinic)
    at = no_show(clinic, rows[1])
    (call,) = _outreach(clinic, rows[1].id)
    assert call.deadline_at is not None
    assert clinic.calendar.local_date(call.deadline_at) == clinic.calendar.local_date(at)
