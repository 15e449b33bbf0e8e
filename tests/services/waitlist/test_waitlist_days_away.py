"""A freed place offered to a patient who is away that day: offered with the warning, which the
front desk (whose list the waitlist is) sets aside with a reason and books, recorded and
audited; a clinical warning on the same offer still needs a nurse or prescriber.  Time is
injected (``test_waitlist.NOW``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from ketadesk.scheduling.gating import Severity
from ketadesk.services.booking import appointment_changes, override_rights
from ketadesk.services.common.context import PermissionDenied
from ketadesk.services.patients.days_away import add_day_away
from ketadesk.services.waitlist import offers
from ketadesk.store.models import AuditEvent, GatingOverride, WaitlistEntry
from tests.clinic_fixtures import SmallClinic, build_small_clinic
from tests.services.waitlist.test_waitlist import (
    FRONT_DESK,
    NOW,
    NURSE,
    _book_ada,
    _no_driver,
    _tomorrow,
    _wish,
)


@pytest.fixture
def clinic(db_url: str) -> Iterator[SmallClinic]:
    c = build_small_clinic(db_url)
    yield c
    c.db.dispose()


def _offer_to_mary_away(clinic: SmallClinic) -> offers.WaitlistOffer:
    ada = _book_ada(clinic)
    _wish(clinic, "Mary Seacole")
    day = _tomorrow(clinic)
    add_day_away(clinic.db, FRONT_DESK, clinic.ids["Mary Seacole"], day, day, "jury duty", now=NOW)
    appointment_changes.change_status(clinic.db, FRONT_DESK, ada, "cancel", reason="x", now=NOW)
    (offer,) = offers.offers_for_freed(clinic.db, ada, now=NOW).offers
    return offer


def test_the_front_desk_books_an_offer_on_a_day_away_with_a_reason(clinic: SmallClinic) -> None:
    offer = _offer_to_mary_away(clinic)
    assert [(w.rule, w.severity) for w in offer.warnings] == [("patient_away", Severity.WARN)]
    assert "falls while the patient is away" in offer.warnings[0].message
    assert "(jury duty)" in offer.warnings[0].message
    # The services' one rule: the desk may set a day away aside.
    assert override_rights.may_override(FRONT_DESK, [w.rule for w in offer.warnings])
    with pytest.raises(Exception, match=r"patient_away"):
        offers.book_offer(clinic.db, FRONT_DESK, offer, now=NOW)
    booked = offers.book_offer(
        clinic.db,
        FRONT_DESK,
        offer,
        overrides={"patient_away": "excused from jury duty"},
        now=NOW,
    )
    with clinic.db.read() as s:
        kept = s.execute(
            select(GatingOverride.rule, GatingOverride.reason).where(
                GatingOverride.appointment_id == booked.appointment_id
            )
        ).all()
        audited = s.execute(
            select(AuditEvent.detail, AuditEvent.username).where(
                AuditEvent.action == "override_rule",
                AuditEvent.entity_id == booked.appointment_id,
            )
        ).all()
        entry = s.get(WaitlistEntry, offer.entry_id)
        assert entry is not None
        assert entry.status == "booked"
    assert [tuple(k) for k in kept] == [("patient_away", "excused from jury duty")]
    assert [tuple(a) for a in audited] == [
        ("patient_away: excused from jury duty", FRONT_DESK.username)
    ]


def test_a_clinical_warning_beside_the_day_away_still_needs_a_clinician(
    clinic: SmallClinic,
) -> None:
    _no_driver(clinic, "Mary Seacole")
    offer = _offer_to_mary_away(clinic)
    rules = [w.rule for w in offer.warnings]
    assert sorted(rules) == ["driver_arranged", "patient_away"]
    assert not override_rights.may_override(FRONT_DESK, rules)
    assert override_rights.may_override(NURSE, rules)
    both = {"patient_away": "excused", "driver_arranged": "a taxi"}
    with pytest.raises(PermissionDenied):
        offers.book_offer(clinic.db, FRONT_DESK, offer, overrides=both, now=NOW)
    with clinic.db.read() as s:
        assert s.scalar(select(GatingOverride.id)) is None
    booked = offers.book_offer(clinic.db, NURSE, offer, overrides=both, now=NOW)
    assert booked.appointment_id
