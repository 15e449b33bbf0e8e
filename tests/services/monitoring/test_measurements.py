"""Outcome measures: scored into their published bands, refused item by item when incomplete,
an urgent review for PHQ-9 item 9 (once), the before-session PHQ-9 follow-up closed, trends."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from ketadesk.services.booking import booking
from ketadesk.services.booking.booking import BookingRequest
from ketadesk.services.common.context import (
    SYSTEM,
    Actor,
    InvalidFields,
    NotFound,
    PermissionDenied,
)
from ketadesk.services.monitoring import measurements
from ketadesk.store.models import AuditEvent, FollowUp, Measurement
from tests.clinic_fixtures import SmallClinic, build_small_clinic

BOOKED_AT = dt.datetime(2026, 12, 1, 16, 0, tzinfo=dt.UTC)
WED = dt.date(2026, 12, 2)
NOW = dt.datetime(2026, 12, 2, 18, 5, tzinfo=dt.UTC)  # Wed 10:05 local
IV = {"room": "Room 2", "monitor": "Monitor 2", "nurse": "Nurse Kim"}
NURSE = Actor(user_id=None, username="kim", role="nurse")
FRONT_DESK = Actor(user_id=None, username="maria", role="front_desk")


@pytest.fixture
def clinic(db_url: str) -> Iterator[SmallClinic]:
    c = build_small_clinic(db_url)
    yield c
    c.db.dispose()


@pytest.fixture
def ada(clinic: SmallClinic) -> int:
    return clinic.ids["Ada Lovelace"]


@pytest.fixture
def session_with_phq9(clinic: SmallClinic, ada: int) -> int:
    """Ada's IV session on Wednesday 10:00 and its open before-session PHQ-9 follow-up."""
    appointment = booking.book(
        clinic.db,
        SYSTEM,
        BookingRequest(patient_id=ada, sessions=(clinic.session("iv_infusion", WED, "10:00", IV),)),
        now=BOOKED_AT,
    ).appointment_ids[0]
    with clinic.db.write() as session:
        pending = session.scalars(
            select(FollowUp).where(FollowUp.appointment_id == appointment, FollowUp.kind == "phq9")
        ).all()
        if not pending:  # the follow-up rules may already have made it at booking
            session.add(
                FollowUp(
                    patient_id=ada,
                    appointment_id=appointment,
                    kind="phq9",
                    due_at=clinic.at(WED, "10:00"),
                    assignee_role="nurse",
                )
            )
    return appointment


def _count(clinic: SmallClinic, model: type[Measurement] | type[FollowUp], **where: object) -> int:
    with clinic.db.read() as session:
        statement = select(func.count()).select_from(model)
        for name, value in where.items():
            statement = statement.where(getattr(model, name) == value)
        return session.scalar(statement) or 0


@pytest.mark.parametrize(
    ("answers", "total", "band"),
    [
        ([0] * 9, 0, "minimal"),
        ([1, 1, 1, 1, 0, 0, 0, 0, 0], 4, "minimal"),
        ([1, 1, 1, 1, 1, 0, 0, 0, 0], 5, "mild"),
        ([2, 2, 2, 2, 2, 0, 0, 0, 0], 10, "moderate"),
        ([2, 2, 2, 2, 2, 2, 2, 1, 0], 15, "moderately severe"),
        ([3, 3, 3, 3, 3, 3, 2, 0, 0], 20, "severe"),
    ],
)
def test_phq9_is_scored_into_its_published_band(
    clinic: SmallClinic, ada: int, answers: list[int], total: int, band: str
) -> None:
    saved = measurements.save_measurement(clinic.db, NURSE, ada, "phq9", answers, now=NOW)
    assert (saved.total, saved.band, saved.urgent) == (total, band, ())
    with clinic.db.read() as session:
        stored = session.get(Measurement, saved.measurement_id)
        assert stored is not None
        assert (stored.score, stored.items) == (total, answers)


def test_gad7_bands(clinic: SmallClinic, ada: int) -> None:
    saved = measurements.save_measurement(
        clinic.db, NURSE, ada, "gad7", [3, 3, 3, 3, 3, 0, 0], now=NOW
    )
    assert (saved.total, saved.band) == (15, "severe")


def test_missing_and_out_of_range_answers_are_refused_by_item(
    clinic: SmallClinic, ada: int
) -> None:
    with pytest.raises(InvalidFields) as refused:
        measurements.save_measurement(
            clinic.db, NURSE, ada, "phq9", [0, None, 4, 0, 0, 0, -1, 0, None], now=NOW
        )
    assert refused.value.errors == {
        "item2": "item 2 has no answer",
        "item3": "item 3: 4 is out of range 0-3",
        "item7": "item 7: -1 is out of range 0-3",
        "item9": "item 9 has no answer",
    }
    with pytest.raises(InvalidFields, match="GAD-7 has 7 items; got 9 answers"):
        measurements.save_measurement(clinic.db, NURSE, ada, "gad7", [0] * 9, now=NOW)
    assert _count(clinic, Measurement) == 0


def test_unknown_instrument_and_future_time_are_refused(clinic: SmallClinic, ada: int) -> None:
    with pytest.raises(NotFound, match="no outcome measure “pcl5”"):
        measurements.save_measurement(clinic.db, NURSE, ada, "pcl5", [0] * 20, now=NOW)
    with pytest.raises(InvalidFields) as refused:
        measurements.save_measurement(
            clinic.db, NURSE, ada, "phq9", [0] * 9, taken_at=NOW + dt.timedelta(hours=1), now=NOW
        )
    assert "taken_at" in refused.value.errors


def test_front_desk_may_not_enter_a_measure(clinic: SmallClinic, ada: int) -> None:
    with pytest.raises(PermissionDenied):
        measurements.save_measurement(clinic.db, FRONT_DESK, ada, "phq9", [0] * 9, now=NOW)


def test_item9_opens_exactly_one_urgent_review_and_closes_the_phq9_follow_up(
    clinic: SmallClinic, ada: int, session_with_phq9: int
) -> None:
    answers = [2, 2, 1, 2, 1, 1, 1, 0, 1]
    saved = measurements.save_measurement(
        clinic.db, NURSE, ada, "phq9", answers, appointment_id=session_with_phq9, now=NOW
    )
    assert saved.urgent == (
        "PHQ-9 item 9 answered 1: thoughts of self-harm — urgent prescriber review",
    )
    assert saved.urgent_follow_up_id is not None
    assert len(saved.closed_follow_up_ids) == 1
    # Entered again (a second workstation, a double click): still one urgent review.
    again = measurements.save_measurement(
        clinic.db, NURSE, ada, "phq9", answers, appointment_id=session_with_phq9, now=NOW
    )
    assert again.urgent_follow_up_id == saved.urgent_follow_up_id
    assert _count(clinic, FollowUp, kind="urgent_review") == 1
    with clinic.db.read() as session:
        urgent = session.get(FollowUp, saved.urgent_follow_up_id)
        assert urgent is not None
        assert (urgent.priority, urgent.assignee_role, urgent.status) == (
            "urgent",
            "prescriber",
            "open",
        )
        assert urgent.due_at == NOW
        assert urgent.appointment_id == session_with_phq9
        phq9 = session.get(FollowUp, saved.closed_follow_up_ids[0])
        assert phq9 is not None
        assert (phq9.status, phq9.completed_at) == ("done", NOW)
        assert phq9.outcome == "PHQ-9 entered: 11 (moderate)"
        actions = session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert actions.count("create_follow_up") == 1
    assert actions.count("complete_follow_up") == 1
    assert actions.count("enter_measure") == 2


def test_item9_at_zero_opens_no_urgent_review(
    clinic: SmallClinic, ada: int, session_with_phq9: int
) -> None:
    saved = measurements.save_measurement(
        clinic.db, NURSE, ada, "phq9", [3] * 8 + [0], appointment_id=session_with_phq9, now=NOW
    )
    assert saved.urgent_follow_up_id is None
    assert _count(clinic, FollowUp, kind="urgent_review") == 0


def test_an_appointment_of_another_patient_is_refused(
    clinic: SmallClinic, session_with_phq9: int
) -> None:
    with pytest.raises(InvalidFields) as refused:
        measurements.save_measurement(
            clinic.db,
            NURSE,
            clinic.ids["Mary Seacole"],
            "phq9",
            [0] * 9,
            appointment_id=session_with_phq9,
            now=NOW,
        )
    assert "appointment" in refused.value.errors
    assert _count(clinic, Measurement) == 0


def test_trend_shows_baseline_response_line_and_remission(clinic: SmallClinic, ada: int) -> None:
    empty = measurements.measure_trend(clinic.db, NURSE, ada, "phq9")
    assert empty.trend is None
    assert empty.summary() == "PHQ-9: no scores yet"
    scores = [(0, [2] * 9), (7, [2] * 5 + [0] * 4), (14, [1] * 4 + [0] * 5)]
    for days, answers in scores:
        measurements.save_measurement(
            clinic.db,
            NURSE,
            ada,
            "phq9",
            [*answers[:8], 0],
            taken_at=NOW - dt.timedelta(days=21 - days),
            now=NOW,
        )
    found = measurements.measure_trend(clinic.db, NURSE, ada, "phq9")
    assert [p.total for p in found.points] == [16, 10, 4]
    assert found.trend is not None
    assert found.trend.baseline == 16
    assert found.trend.response_line == 8.0
    assert found.trend.remission_line == 5
    assert found.trend.response
    assert found.trend.remission
    assert found.points[0].day == dt.date(2026, 11, 11)
    assert found.bands[0].label == "minimal"
    assert found.summary() == (
        "PHQ-9: 3 scores, baseline 16 on Nov 11, 2026, latest 4 (minimal) on Nov 25, 2026, "
        "change -75%, in remission"
    )
