"""Recall and dropout lists: who the front desk should call to book again."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from ketadesk.services.booking import appointment_changes, booking
from ketadesk.services.booking.booking import BookingRequest
from ketadesk.services.common.context import SYSTEM, Actor
from ketadesk.services.followups import actions, recall
from ketadesk.services.followups.queue import follow_up_queue
from tests.clinic_fixtures import RIDE_HOME, SmallClinic, build_small_clinic, ready_for_discharge

NOW = dt.datetime(2026, 11, 23, 16, 0, tzinfo=dt.UTC)  # Monday 23 Nov 2026, 08:00 local
WED = dt.date(2026, 11, 25)
IV = {"room": "Room 2", "monitor": "Monitor 2", "nurse": "Nurse Kim"}
REVIEW = {"prescriber": "Dr Patel", "office": "Office A"}
FRONT_DESK = Actor(user_id=None, username="maria", role="front_desk")
NURSE = Actor(user_id=None, username="kim", role="nurse")
PRESCRIBER = Actor(user_id=None, username="patel", role="prescriber")


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
    *,
    who: str = "Ada Lovelace",
    protocol: str | None = None,
    now: dt.datetime = NOW,
) -> int:
    request = BookingRequest(
        patient_id=clinic.ids[who],
        sessions=(clinic.session(code, day, "10:00", assignment),),
        protocol=protocol,
    )
    return booking.book(clinic.db, FRONT_DESK, request, now=now).appointment_ids[0]


def _held(clinic: SmallClinic, appointment_id: int, day: dt.date) -> None:
    ready_for_discharge(clinic.db, appointment_id)
    for action, hhmm in (("check_in", "09:55"), ("start", "10:00"), ("complete", "11:40")):
        appointment_changes.change_status(
            clinic.db, NURSE, appointment_id, action, now=clinic.at(day, hhmm), ride=RIDE_HOME
        )


def _summary(rows: list[recall.RecallRow]) -> list[tuple[str, str, str, dt.date]]:
    return [(r.patient_name, r.chart_number, r.why, r.since) for r in rows]


def test_an_ended_booster_series_is_recalled_once_its_window_opens(clinic: SmallClinic) -> None:
    appt = _book(clinic, "iv_infusion", WED, IV, protocol="iv_booster")
    _held(clinic, appt, WED)
    # 14 days after the last session the window opens (protocols.toml on_complete).
    assert recall.recall_list(clinic.db, now=clinic.at(dt.date(2026, 12, 8), "09:00")) == []
    rows = recall.recall_list(clinic.db, now=clinic.at(dt.date(2026, 12, 9), "09:00"))
    assert _summary(rows) == [
        (
            "Lovelace, Ada",
            "BT-1",
            "IV booster ended Wed Nov 25; booster window Wed Dec 9 – Wed Jan 6; nothing booked",
            WED,
        )
    ]
    assert rows[0].patient_id == clinic.ids["Ada Lovelace"]
    late = recall.recall_list(clinic.db, now=clinic.at(dt.date(2027, 1, 8), "09:00"))
    assert late[0].why.endswith("booster window Wed Dec 9 – Wed Jan 6 has passed; nothing booked")


def test_a_booked_review_takes_the_patient_off_the_recall_list(clinic: SmallClinic) -> None:
    appt = _book(clinic, "iv_infusion", WED, IV, protocol="iv_booster")
    _held(clinic, appt, WED)
    later = clinic.at(dt.date(2026, 12, 9), "09:00")
    _book(clinic, "booster_review", dt.date(2026, 12, 14), REVIEW, now=later)
    assert recall.recall_list(clinic.db, now=later) == []


def test_a_settled_booster_review_takes_the_patient_off_the_recall_list(
    clinic: SmallClinic,
) -> None:
    appt = _book(clinic, "iv_infusion", WED, IV, protocol="iv_booster")
    _held(clinic, appt, WED)
    later = clinic.at(dt.date(2026, 12, 9), "09:00")
    queue = follow_up_queue(clinic.db, SYSTEM, now=later, kind="booster_review")
    (review,) = queue.items
    actions.complete_follow_up(clinic.db, PRESCRIBER, review.id, "Declined a booster", now=later)
    assert recall.recall_list(clinic.db, now=later) == []


def test_an_unfinished_series_is_not_recalled(clinic: SmallClinic) -> None:
    _book(clinic, "iv_infusion", WED, IV, protocol="iv_booster")  # booked, never held
    assert recall.recall_list(clinic.db, now=clinic.at(dt.date(2026, 12, 9), "09:00")) == []


def test_a_missed_series_session_with_nothing_since_is_a_dropout(clinic: SmallClinic) -> None:
    appt = _book(clinic, "iv_infusion", WED, IV, protocol="iv_booster")
    _book(
        clinic,
        "iv_infusion",
        dt.date(2026, 11, 24),
        {**IV, "room": "Room 3", "monitor": "Monitor 3"},
        who="Mary Seacole",
        protocol="iv_booster",
    )  # held as planned: not a dropout
    appointment_changes.change_status(
        clinic.db, FRONT_DESK, appt, "no_show", now=clinic.at(WED, "10:30")
    )
    assert recall.dropout_list(clinic.db, now=clinic.at(WED, "09:00")) == []  # not yet missed
    rows = recall.dropout_list(clinic.db, now=clinic.at(WED, "11:00"))
    assert _summary(rows) == [
        (
            "Lovelace, Ada",
            "BT-1",
            "Missed IV ketamine infusion 1/1 (no-show) Wed Nov 25; nothing booked since",
            WED,
        )
    ]


def test_a_make_up_session_takes_the_patient_off_the_dropout_list(clinic: SmallClinic) -> None:
    appt = _book(clinic, "iv_infusion", WED, IV, protocol="iv_booster")
    appointment_changes.change_status(
        clinic.db, FRONT_DESK, appt, "cancel", reason="no ride", now=clinic.at(WED, "08:00")
    )
    after = clinic.at(WED, "11:00")
    assert [r.why for r in recall.dropout_list(clinic.db, now=after)] == [
        "Missed IV ketamine infusion 1/1 (cancelled) Wed Nov 25; nothing booked since"
    ]
    _book(clinic, "iv_infusion", dt.date(2026, 11, 30), IV, now=after)
    assert recall.dropout_list(clinic.db, now=after) == []


def test_a_miss_before_the_look_back_is_forgotten(clinic: SmallClinic) -> None:
    appt = _book(clinic, "iv_infusion", WED, IV, protocol="iv_booster")
    appointment_changes.change_status(
        clinic.db, FRONT_DESK, appt, "no_show", now=clinic.at(WED, "10:30")
    )
    days = clinic.catalog.settings.followups.recall_lookback_days
    late = clinic.at(WED + dt.timedelta(days=days + 1), "11:00")
    assert recall.dropout_list(clinic.db, now=late) == []
