"""Confirming a pencilled-in hold judges the patient's days away (a range added after the hold
was pencilled in): a warning whoever books may override with a reason, the front desk too,
recorded and audited; a clinical gate's override stays a nurse's or prescriber's.  Dates come
from the clinic's today (``tests/services/booking/test_single_and_tentative.py``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from ketadesk.services.booking import tentative
from ketadesk.services.booking.appointments import appointment_detail
from ketadesk.services.booking.booking import GateRefused
from ketadesk.services.common.context import Actor, PermissionDenied
from ketadesk.services.patients.days_away import add_day_away
from ketadesk.store.models import Appointment, AuditEvent, GatingOverride, Patient
from tests.clinic_fixtures import SmallClinic, build_small_clinic
from tests.services.booking.test_single_and_tentative import (
    CLEARED,
    FRONT_DESK,
    _pencil,
    _weekday_ahead,
)

NURSE = Actor(user_id=None, username="kim", role="nurse")


@pytest.fixture
def clinic(db_url: str) -> Iterator[SmallClinic]:
    c = build_small_clinic(db_url)
    yield c
    c.db.dispose()


def _status(clinic: SmallClinic, appointment_id: int) -> str:
    with clinic.db.read() as s:
        row = s.get(Appointment, appointment_id)
        assert row is not None
        return row.status


def _pencilled_on_a_day_away(clinic: SmallClinic) -> tuple[int, dt.date, dt.datetime]:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    day = _weekday_ahead(clinic, 2, at_least=4)
    held = _pencil(clinic, CLEARED, day, 48, now)
    # The patient calls after the hold was pencilled in: away that week.
    add_day_away(
        clinic.db,
        FRONT_DESK,
        clinic.ids["Ada Lovelace"],
        day - dt.timedelta(days=1),
        day + dt.timedelta(days=1),
        "work trip",
        now=now,
    )
    return held, day, now


def test_the_front_desk_confirms_a_hold_on_a_day_away_with_a_reason(clinic: SmallClinic) -> None:
    held, _day, now = _pencilled_on_a_day_away(clinic)
    # The hold's page says so before anyone presses Confirm.
    page = appointment_detail(clinic.db, held, FRONT_DESK, now=now)
    assert page.away.startswith("This session falls while the patient is away ")
    assert page.away.endswith("(work trip); confirming the hold asks a reason")
    with pytest.raises(GateRefused, match=r"Patient away \(patient_away\): ") as refused:
        tentative.confirm(clinic.db, FRONT_DESK, held, now=now)
    words = str(refused.value)
    assert "falls while the patient is away" in words
    assert "(work trip)" in words
    assert "whoever books or moves it may override this with a reason" in words
    assert [r.rule for r in refused.value.overridable_by(FRONT_DESK)] == ["patient_away"]
    assert _status(clinic, held) == "tentative"

    done = tentative.confirm(
        clinic.db,
        FRONT_DESK,
        held,
        overrides={"patient_away": "back a day early, confirmed by phone"},
        now=now,
    )
    assert done.appointment_ids == (held,)
    assert _status(clinic, held) == "booked"
    with clinic.db.read() as s:
        kept = s.execute(
            select(GatingOverride.rule, GatingOverride.reason).where(
                GatingOverride.appointment_id == held
            )
        ).all()
        audited = s.execute(
            select(AuditEvent.detail, AuditEvent.username, AuditEvent.after).where(
                AuditEvent.action == "override_rule", AuditEvent.entity_id == held
            )
        ).all()
    assert [tuple(k) for k in kept] == [("patient_away", "back a day early, confirmed by phone")]
    [(detail, who, after)] = audited
    assert detail == "patient_away: back a day early, confirmed by phone"
    assert who == FRONT_DESK.username
    assert "falls while the patient is away" in after["fact"]
    # Booked, the page still says it (the desk kept it there with a reason).
    assert appointment_detail(clinic.db, held, FRONT_DESK, now=now).away.endswith("(work trip)")


def test_a_clinical_gates_override_at_confirmation_stays_a_clinicians(
    clinic: SmallClinic,
) -> None:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    day = _weekday_ahead(clinic, 3, at_least=4)
    held = _pencil(clinic, CLEARED, day, 48, now)
    with clinic.db.write() as s:
        patient = s.get(Patient, clinic.ids["Ada Lovelace"])
        assert patient is not None
        patient.driver_name = ""  # no ride on file: a warn-level gate
    with pytest.raises(GateRefused, match=r"driver_arranged") as refused:
        tentative.confirm(clinic.db, FRONT_DESK, held, now=now)
    assert "a nurse or prescriber may override this with a reason" in str(refused.value)
    assert refused.value.overridable_by(FRONT_DESK) == ()
    assert [r.rule for r in refused.value.overridable_by(NURSE)] == ["driver_arranged"]
    with pytest.raises(PermissionDenied):
        tentative.confirm(
            clinic.db, FRONT_DESK, held, overrides={"driver_arranged": "a taxi"}, now=now
        )
    assert _status(clinic, held) == "tentative"
    with clinic.db.read() as s:
        assert s.scalar(select(GatingOverride.id)) is None
        assert s.scalars(select(AuditEvent.action).where(AuditEvent.action == "refused")).all()
    tentative.confirm(clinic.db, NURSE, held, overrides={"driver_arranged": "a taxi"}, now=now)
    assert _status(clinic, held) == "booked"


def test_a_day_away_and_a_clinical_gate_together_need_a_clinician(clinic: SmallClinic) -> None:
    held, _day, now = _pencilled_on_a_day_away(clinic)
    with clinic.db.write() as s:
        patient = s.get(Patient, clinic.ids["Ada Lovelace"])
        assert patient is not None
        patient.driver_name = ""
    with pytest.raises(GateRefused) as refused:
        tentative.confirm(clinic.db, FRONT_DESK, held, now=now)
    assert {r.rule for r in refused.value.results} == {"patient_away", "driver_arranged"}
    assert refused.value.overridable_by(FRONT_DESK) == ()
    assert len(refused.value.overridable_by(NURSE)) == 2
    # The desk may set aside the day away alone; the ride still stops the confirmation.
    with pytest.raises(GateRefused, match="driver_arranged") as still:
        tentative.confirm(clinic.db, FRONT_DESK, held, overrides={"patient_away": "ok"}, now=now)
    assert [r.rule for r in still.value.results] == ["driver_arranged"]
    assert _status(clinic, held) == "tentative"
