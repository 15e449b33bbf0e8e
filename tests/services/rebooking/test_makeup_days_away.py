"""A make-up on a patient's day away (the range entered after the offer was read): refused
naming the rule, and the front desk, who may book, may go past it with a reason (the patient's
own plans, not a clinical decision), recorded and audited; a clinical rule's override stays a
nurse's or prescriber's.  A fresh offer never proposes the day.  Dates come from the clinic's
today (``test_makeup_rules.py``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from ketadesk.services.booking import appointment_changes
from ketadesk.services.booking.rule_check import RuleRefused
from ketadesk.services.patients.days_away import add_day_away
from ketadesk.services.rebooking import makeup
from ketadesk.store.models import AuditEvent, GatingOverride
from tests.services.rebooking.test_makeup_rules import (
    FRONT_DESK,
    NURSE,
    WEEKLY,
    Today,
    _made_up,
    book_spravato,
    clinic_from_today,
    maintenance_make_up_too_close,
)


@pytest.fixture
def today(db_url: str) -> Iterator[Today]:
    t = clinic_from_today(db_url)
    yield t
    t.clinic.db.dispose()


def make_up_on_a_day_away(t: Today) -> tuple[int, makeup.RebookingOffer, dt.date]:
    """Weekly maintenance, session 3 cancelled; the offer read, then the patient's week away
    recorded over the make-up's day (the desk still holds the offer)."""
    book_spravato(t, "spravato_maintenance", WEEKLY)
    third = t.ids[2]
    appointment_changes.change_status(
        t.clinic.db, FRONT_DESK, third, "cancel", reason="travelling", now=t.now
    )
    offer = makeup.offer_for(t.clinic.db, third, now=t.now)
    assert offer is not None
    assert offer.can_make_up, (offer.problems, offer.findings)
    assert offer.make_up is not None
    day = t.clinic.calendar.local_date(offer.make_up.session.start)
    add_day_away(
        t.clinic.db, FRONT_DESK, t.clinic.ids["Ada Lovelace"], day, day, "wedding", now=t.now
    )
    return third, offer, day


def test_the_front_desk_books_a_make_up_on_a_day_away_with_a_reason(today: Today) -> None:
    t = today
    third, offer, _day = make_up_on_a_day_away(t)
    with pytest.raises(RuleRefused, match=r"Patient away \[patient_away\]") as refused:
        makeup.book_make_up(t.clinic.db, FRONT_DESK, offer, now=t.now)
    assert "(wedding)" in str(refused.value)
    assert "whoever books or moves it may override this with a reason" in str(refused.value)
    # Offered to the front desk: the services say the desk may go past it.
    assert [f.rule for f in refused.value.overridable_by(FRONT_DESK)] == ["patient_away"]
    assert _made_up(t, third) is None

    made = makeup.book_make_up(
        t.clinic.db,
        FRONT_DESK,
        offer,
        overrides={"patient_away": "the wedding is in the evening"},
        now=t.now,
    )
    assert _made_up(t, third) == made.appointment_id
    with t.clinic.db.read() as s:
        kept = s.execute(
            select(GatingOverride.rule, GatingOverride.reason, GatingOverride.appointment_id)
        ).all()
        audited = s.execute(
            select(AuditEvent.detail, AuditEvent.username).where(
                AuditEvent.action == "override_rule", AuditEvent.entity_id == made.appointment_id
            )
        ).all()
    assert [tuple(k) for k in kept] == [
        ("patient_away", "the wedding is in the evening", made.appointment_id)
    ]
    assert [tuple(a) for a in audited] == [
        ("patient_away: the wedding is in the evening", FRONT_DESK.username)
    ]


def test_a_fresh_offer_keeps_off_the_day_away(today: Today) -> None:
    t = today
    third, _held, day = make_up_on_a_day_away(t)
    fresh = makeup.offer_for(t.clinic.db, third, now=t.now)
    assert fresh is not None
    assert fresh.make_up is not None
    assert t.clinic.calendar.local_date(fresh.make_up.session.start) != day
    assert "patient_away" not in {f.rule for f in fresh.findings}


def test_a_clinical_rules_override_is_still_refused_to_the_front_desk(today: Today) -> None:
    t = today
    _third, offer, now = maintenance_make_up_too_close(t)
    with pytest.raises(RuleRefused, match=r"Too close \[min_gap\]") as refused:
        makeup.book_make_up(t.clinic.db, FRONT_DESK, offer, now=now)
    assert refused.value.overridable_by(FRONT_DESK) == ()
    assert [f.rule for f in refused.value.overridable_by(NURSE)] == ["min_gap"]
