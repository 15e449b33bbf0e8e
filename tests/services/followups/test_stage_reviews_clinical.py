"""A stage review (the end-of-induction review, the booster review) is a prescriber's clinical
judgement: the front desk neither lists nor works one, and only ``[followups]
series_review_role`` completes one (a user trial's front desk closed "End-of-induction review -
Dunn, Jessica" from its queue).  One rule: the queue, its counts and the service."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from ketadesk.services.common.context import Actor, PermissionDenied
from ketadesk.services.followups import actions
from ketadesk.services.followups.queue import follow_up_queue, queue_counts
from ketadesk.store.models import AuditEvent, ClinicSetting, FollowUp
from tests.clinic_fixtures import SmallClinic, build_small_clinic

NOW = dt.datetime(2027, 1, 18, 17, 0, tzinfo=dt.UTC)
NURSE = Actor(user_id=None, username="kim", role="nurse")
PRESCRIBER = Actor(user_id=None, username="patel", role="prescriber")
FRONT_DESK = Actor(user_id=None, username="maria", role="front_desk")


@pytest.fixture
def clinic(db_url: str) -> Iterator[SmallClinic]:
    c = build_small_clinic(db_url)
    yield c
    c.db.dispose()


def _review(clinic: SmallClinic, kind: str) -> int:
    with clinic.db.write() as session:
        row = FollowUp(
            patient_id=clinic.ids["Ada Lovelace"],
            kind=kind,
            due_at=NOW - dt.timedelta(hours=1),
            deadline_at=NOW + dt.timedelta(days=3),
            assignee_role="prescriber",
        )
        session.add(row)
        session.flush()
        return row.id


def _old_clinical_kinds(clinic: SmallClinic) -> None:
    """A clinic whose stored [followups] predates the stage reviews' listing."""
    old = ["next_day_call", "rems_form", "phq9", "gad7", "adverse_event", "urgent_review"]
    with clinic.db.write() as session:
        row = session.get(ClinicSetting, "followups")
        if row is None:
            session.add(ClinicSetting(key="followups", value={"clinical_kinds": old}))
        else:
            row.value = {**row.value, "clinical_kinds": old}


@pytest.mark.parametrize("stored_before", [False, True])
def test_the_front_desk_neither_lists_nor_closes_a_stage_review(
    clinic: SmallClinic, stored_before: bool
) -> None:
    if stored_before:
        _old_clinical_kinds(clinic)
    induction = _review(clinic, "induction_review")
    booster = _review(clinic, "booster_review")

    desk = follow_up_queue(clinic.db, FRONT_DESK, now=NOW)
    assert {i.id for i in desk.items}.isdisjoint({induction, booster})
    assert "induction_review" not in desk.kinds
    assert "booster_review" not in desk.kinds
    assert queue_counts(clinic.db, FRONT_DESK, now=NOW)["overdue"] == 0
    nurse = follow_up_queue(clinic.db, NURSE, now=NOW)
    assert {induction, booster} <= {i.id for i in nurse.items}

    with pytest.raises(PermissionDenied, match="Only a nurse or prescriber may work"):
        actions.complete_follow_up(clinic.db, FRONT_DESK, induction, "booked", now=NOW)
    with pytest.raises(PermissionDenied):
        actions.snooze_follow_up(
            clinic.db, FRONT_DESK, booster, NOW + dt.timedelta(days=1), "later", now=NOW
        )
    with clinic.db.read() as session:
        assert session.get(FollowUp, induction).status == "open"  # type: ignore[union-attr]
        refused = session.scalars(
            select(AuditEvent).where(
                AuditEvent.entity == "follow_up", AuditEvent.entity_id == induction
            )
        ).all()
    assert refused, "the refusal is in the audit trail"


def test_only_the_series_review_role_completes_a_stage_review(clinic: SmallClinic) -> None:
    induction = _review(clinic, "induction_review")
    item = follow_up_queue(clinic.db, NURSE, now=NOW).item(induction)
    assert item is not None
    assert item.refusals.work == ""  # a nurse may call about it
    assert item.refusals.complete == "Only a prescriber may complete an end-of-induction review"
    with pytest.raises(PermissionDenied, match="may complete an end-of-induction review"):
        actions.complete_follow_up(clinic.db, NURSE, induction, "reviewed", now=NOW)
    prescriber = follow_up_queue(clinic.db, PRESCRIBER, now=NOW).item(induction)
    assert prescriber is not None
    assert prescriber.refusals.complete == ""
    actions.complete_follow_up(
        clinic.db, PRESCRIBER, induction, "continue, booster in 4 weeks", now=NOW
    )
    with clinic.db.read() as session:
        assert session.get(FollowUp, induction).status == "done"  # type: ignore[union-attr]
