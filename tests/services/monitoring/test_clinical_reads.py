"""Reading clinical data takes an actor: a clinician reads it and the reading is in the audit
trail (who, which patient, what), the front desk is refused (and the refusal recorded), and
the patient record leaves its clinical part out for the front desk instead of refusing it.

Issue 14, finding 6b.  Runs on SQLite, and on PostgreSQL when KETADESK_TEST_PG_URL is set.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from ketadesk.services.access import audit_log
from ketadesk.services.booking import booking
from ketadesk.services.booking.booking import BookingRequest
from ketadesk.services.common.context import SYSTEM, Actor, Database, PermissionDenied, may
from ketadesk.services.monitoring import measurements, records, rems
from ketadesk.services.patients.patient_record import patient_record
from ketadesk.services.patients.registration import WITHHELD_FIELDS, patient_form
from ketadesk.services.printing.session_record import session_record_sheet
from ketadesk.store.models import AuditEvent, Patient
from tests.clinic_fixtures import SmallClinic, build_small_clinic

BOOKED_AT = dt.datetime(2026, 12, 1, 16, 0, tzinfo=dt.UTC)  # Tue 1 Dec 2026, 08:00 local
WED = dt.date(2026, 12, 2)
NOW = dt.datetime(2026, 12, 2, 20, 0, tzinfo=dt.UTC)  # Wed 12:00 local, during the session
SPR = {
    "room": "Room 1",
    "monitor": "Monitor 1",
    "oximeter": "Oximeter 1",
    "nurse": "Nurse Kim",
    "prescriber": "Dr Patel",
}
NURSE = Actor(user_id=None, username="kim", role="nurse")
PRESCRIBER = Actor(user_id=None, username="patel", role="prescriber")
THERAPIST = Actor(user_id=None, username="sam", role="therapist")
ADMIN = Actor(user_id=None, username="lee", role="admin")
FRONT_DESK = Actor(user_id=None, username="maria", role="front_desk")


@pytest.fixture
def clinic(db_url: str) -> Iterator[SmallClinic]:
    c = build_small_clinic(db_url)
    yield c
    c.db.dispose()


@pytest.fixture
def ada(clinic: SmallClinic) -> int:
    """Ada, with a contraindication on file and one PHQ-9."""
    patient = clinic.ids["Ada Lovelace"]
    with clinic.db.write() as session:
        p = session.get(Patient, patient)
        assert p is not None
        p.contraindications = "Uncontrolled hypertension"
    measurements.save_measurement(
        clinic.db, NURSE, patient, "phq9", [2] * 8 + [0], taken_at=BOOKED_AT, now=BOOKED_AT
    )
    return patient


@pytest.fixture
def spravato(clinic: SmallClinic, ada: int) -> int:
    """Ada's Spravato session on Wednesday at 10:00."""
    result = booking.book(
        clinic.db,
        SYSTEM,
        BookingRequest(patient_id=ada, sessions=(clinic.session("spravato", WED, "10:00", SPR),)),
        now=BOOKED_AT,
    )
    return result.appointment_ids[0]


@dataclass(frozen=True)
class Event:
    username: str
    user_id: int | None
    patient_id: int | None
    entity: str
    after: dict[str, Any] | None
    at: dt.datetime


def _events(db: Database, action: str) -> list[Event]:
    ev = AuditEvent
    with db.read() as session:
        rows = session.execute(
            select(ev.username, ev.user_id, ev.patient_id, ev.entity, ev.after, ev.at)
            .where(ev.action == action)
            .order_by(ev.id)
        ).all()
    return [Event(*row) for row in rows]


# Each clinical read, called as ``actor``: (name, what its "view" event says was read).
Read = Callable[[Database, Actor, int, int], Any]
READS: dict[str, tuple[Read, str | None]] = {
    "measure_trend": (
        lambda db, actor, patient, _a: measurements.measure_trend(
            db, actor, patient, "phq9", now=NOW
        ),
        "PHQ-9 trend",
    ),
    "open_record": (
        lambda db, actor, _p, appt: records.open_record(db, actor, appt, now=NOW),
        "monitoring record",
    ),
    "load_record": (
        lambda db, actor, _p, appt: records.load_record(db, actor, appt, now=NOW),
        "monitoring record",
    ),
    "rems_form": (
        lambda db, actor, _p, appt: rems.rems_form(db, actor, appt, now=NOW),
        "REMS monitoring form",
    ),
    # The printed sheet is recorded by whoever shows, prints or saves it (a disclosure).
    "session_record_sheet": (
        lambda db, actor, _p, appt: session_record_sheet(db, actor, appt, now=NOW),
        None,
    ),
}


@pytest.mark.parametrize("name", list(READS))
@pytest.mark.parametrize("actor", [NURSE, PRESCRIBER, THERAPIST, ADMIN], ids=lambda a: a.role)
def test_a_clinician_reads_and_the_reading_is_recorded(
    clinic: SmallClinic, ada: int, spravato: int, name: str, actor: Actor
) -> None:
    read, what = READS[name]
    assert read(clinic.db, actor, ada, spravato) is not None
    views = _events(clinic.db, "view")
    if what is None:
        assert views == []
        return
    (event,) = views
    assert (event.username, event.user_id, event.patient_id) == (
        actor.username,
        actor.user_id,
        ada,
    )
    assert event.after == {"read": what}
    assert event.at.astimezone(dt.UTC) == NOW


@pytest.mark.parametrize("name", list(READS))
def test_the_front_desk_is_refused_and_the_refusal_recorded(
    clinic: SmallClinic, ada: int, spravato: int, name: str
) -> None:
    read, _what = READS[name]
    with pytest.raises(
        PermissionDenied,
        match="Only an administrator, nurse, prescriber or therapist may read clinical",
    ):
        read(clinic.db, FRONT_DESK, ada, spravato)
    assert _events(clinic.db, "view") == []
    (refusal,) = _events(clinic.db, "refused")
    assert refusal.username == "maria"
    assert refusal.after == {"action": "read_clinical", "role": "front_desk"}


def test_the_roles_that_read_clinical_data() -> None:
    roles = ("admin", "prescriber", "nurse", "therapist", "front_desk")
    readers = {r for r in roles if may(Actor(None, r, r), "read_clinical")}
    assert readers == {"admin", "prescriber", "nurse", "therapist"}


def test_a_nurse_opening_the_patient_record_reads_its_clinical_part_once_recorded(
    clinic: SmallClinic, ada: int, spravato: int
) -> None:
    record = patient_record(clinic.db, NURSE, ada, now=NOW)
    assert record.clinical
    assert record.withheld == ""
    assert record.contraindications == "Uncontrolled hypertension"
    assert [m.score for m in record.measures] == [16]
    assert {"Screening", "Consent", "REMS"} <= {g.label for g in record.gating}
    (event,) = _events(clinic.db, "view")
    assert (event.username, event.patient_id, event.entity) == ("kim", ada, "patient")
    assert event.after == {"read": "patient record"}


def test_the_front_desk_gets_the_record_without_its_clinical_part(
    clinic: SmallClinic, ada: int, spravato: int
) -> None:
    record = patient_record(clinic.db, FRONT_DESK, ada, now=NOW)
    assert not record.clinical
    assert "clinicians only" in record.withheld
    # Contact details and the schedule are the front desk's work ...
    assert record.patient.chart_number == clinic_chart(clinic, ada)
    assert [s.appointment_id for s in record.history + record.upcoming] == [spravato]
    assert {g.label for g in record.gating} == {"Prior authorization", "Driver"}
    # ... the clinical part is not read at all.
    assert record.contraindications == ""
    assert record.measures == ()
    assert record.instruments == ()
    (event,) = _events(clinic.db, "view")
    assert (event.username, event.patient_id) == ("maria", ada)
    assert event.after == {"read": "patient record (contact details and schedule)"}


def clinic_chart(clinic: SmallClinic, patient_id: int) -> str:
    with clinic.db.read() as session:
        p = session.get(Patient, patient_id)
        assert p is not None
        return p.chart_number


def test_the_audit_viewer_says_who_viewed_what(
    clinic: SmallClinic, ada: int, spravato: int
) -> None:
    records.open_record(clinic.db, NURSE, spravato, now=NOW)
    patient_record(clinic.db, PRESCRIBER, ada, now=NOW)
    rows = audit_log.audit_events(clinic.db, SYSTEM, action="view")
    assert sorted((r.username, r.action_words, r.what, r.change_summary()) for r in rows) == [
        ("kim", "viewed", f"monitoring record (appointment #{spravato})", ""),
        ("patel", "viewed", "patient record", ""),
    ]
    assert all(r.patient.endswith("Lovelace, Ada") for r in rows)
    assert audit_log.action_words("view") == "viewed"
    assert audit_log.action_words("check_in") == "check in"


def test_the_patient_form_leaves_clinical_facts_out_for_the_front_desk(
    clinic: SmallClinic, ada: int
) -> None:
    nurse = patient_form(clinic.db, NURSE, ada, now=NOW)
    assert nurse.contraindications == "Uncontrolled hypertension"
    front = patient_form(clinic.db, FRONT_DESK, ada, now=NOW)
    assert {n: getattr(front, n) for n in WITHHELD_FIELDS} == dict.fromkeys(WITHHELD_FIELDS, "")
    assert front.last_name == "Lovelace"
    assert front.prior_auth_expires_on == nurse.prior_auth_expires_on  # the front desk's work
    assert [(e.username, e.patient_id, e.after) for e in _events(clinic.db, "view")] == [
        ("kim", ada, {"read": "patient details"}),
        ("maria", ada, {"read": "patient details (without clinical facts)"}),
    ]
