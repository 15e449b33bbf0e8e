"""A small, named clinic built with plain ORM inserts, for service and store tests.

"Bayside Test Clinic": Rooms 1-4 (treatment), Office A; Monitors 1-4; Oximeter 1;
Nurse Kim (watches 3), Dr Patel (prescriber), Sam Rivera (therapist); everyone works Mon-Fri
07:00-18:30; patients Ada Lovelace, Mary Seacole, Rosalind Franklin, Florence Nightingale
(cleared for everything) and Grace Hopper (screening pending).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import select

from ketadesk.config import Catalog
from ketadesk.scheduling.calendar import ClinicCalendar
from ketadesk.scheduling.model import PlannedSession, session_holds
from ketadesk.services.clinic.clinic_setup import open_clinic
from ketadesk.store.clinic_config import load_catalog, load_config
from ketadesk.store.database import Database
from ketadesk.store.models import (
    Appointment,
    ClinicSetting,
    Patient,
    Resource,
    SessionRecord,
    StaffMember,
    StaffShift,
    VitalReading,
)


@dataclass
class SmallClinic:
    db: Database
    catalog: Catalog
    ids: dict[str, int]  # resource and patient names -> ids

    @property
    def calendar(self) -> ClinicCalendar:
        return ClinicCalendar(self.catalog.settings)

    def open_day(self, found: dt.date) -> dt.date:
        """``found`` or the first open weekday after it (no weekend, holiday or closure)."""
        calendar = self.calendar
        while found.weekday() >= 5 or calendar.closed_reason(found) is not None:
            found += dt.timedelta(days=1)
        return found

    def at(self, day: dt.date, hhmm: str) -> dt.datetime:
        hh, mm = hhmm.split(":")
        return self.calendar.at_local(day, int(hh) * 60 + int(mm))

    def session(
        self,
        session_type: str,
        day: dt.date,
        hhmm: str,
        assignment: Mapping[str, str],
        index: int = 1,
    ) -> PlannedSession:
        spec = self.catalog.session_types[session_type]
        start = self.at(day, hhmm)
        holds = session_holds(spec, start, {k: self.ids[v] for k, v in assignment.items()})
        return PlannedSession(
            index=index,
            session_type=session_type,
            start=start,
            end=start + dt.timedelta(minutes=spec.total_minutes),
            holds=holds,
        )


RESOURCES = [
    ("Room 1", "room", "treatment", 1),
    ("Room 2", "room", "treatment", 1),
    ("Room 3", "room", "treatment", 1),
    ("Room 4", "room", "treatment", 1),
    ("Office A", "room", "office", 1),
    ("Monitor 1", "equipment", "vital_signs_monitor", 1),
    ("Monitor 2", "equipment", "vital_signs_monitor", 1),
    ("Monitor 3", "equipment", "vital_signs_monitor", 1),
    ("Monitor 4", "equipment", "vital_signs_monitor", 1),
    ("Oximeter 1", "equipment", "pulse_oximeter", 1),
]
STAFF = [
    ("Nurse Kim", "nurse", "Kim", "Nguyen"),
    ("Dr Patel", "prescriber", "Asha", "Patel"),
    ("Sam Rivera", "therapist", "Sam", "Rivera"),
]


PATIENTS = [
    ("BT-1", "Ada", "Lovelace", "cleared"),
    ("BT-2", "Grace", "Hopper", "pending"),
    ("BT-3", "Mary", "Seacole", "cleared"),
    ("BT-4", "Rosalind", "Franklin", "cleared"),
    ("BT-5", "Florence", "Nightingale", "cleared"),
]
CLEARED = [f"{first} {last}" for _, first, last, status in PATIENTS if status == "cleared"]


def build_small_clinic(url: str) -> SmallClinic:
    opened = open_clinic(url, create=True)
    db = opened.db
    ids: dict[str, int] = {}
    with db.write() as session:
        rems = session.get(ClinicSetting, "rems")
        assert rems is not None
        rems.value = {**rems.value, "site_certified_until": "2027-12-31"}
        # Consents (signed 2026-01-05) stay valid for ten years: the tests that run at the
        # clinic's today (also under faketime +400d) are not about consent; those that are set
        # the validity themselves.
        eligibility = session.get(ClinicSetting, "eligibility")
        assert eligibility is not None
        eligibility.value = {**eligibility.value, "consent_valid_months": 120}
        catalog = load_catalog(session)
        for order, (name, kind, subkind, capacity) in enumerate(RESOURCES):
            res = Resource(
                kind=kind, subkind=subkind, name=name, capacity=capacity, sort_order=order
            )
            session.add(res)
            session.flush()
            ids[name] = res.id
        for name, role, first, last in STAFF:
            res = Resource(
                kind="staff",
                subkind=role,
                name=name,
                capacity=catalog.settings.capacity_for_role(role),
            )
            session.add(res)
            session.flush()
            session.add(
                StaffMember(resource_id=res.id, role=role, first_name=first, last_name=last)
            )
            for weekday in range(5):
                session.add(
                    StaffShift(
                        resource_id=res.id,
                        weekday=weekday,
                        start_minute=7 * 60,
                        end_minute=18 * 60 + 30,
                    )
                )
            ids[name] = res.id
        for chart, first, last, status in PATIENTS:
            patient = Patient(
                chart_number=chart,
                first_name=first,
                last_name=last,
                screening_status=status,
                date_of_birth=dt.date(1980, 5, 17),
                screening_cleared_on=dt.date(2026, 1, 5) if status == "cleared" else None,
                consent_signed_on=dt.date(2026, 1, 5) if status == "cleared" else None,
                rems_enrolled_on=dt.date(2026, 1, 6) if status == "cleared" else None,
                prior_auth_expires_on=dt.date(2027, 12, 31) if status == "cleared" else None,
                driver_name="A. Driver" if status == "cleared" else "",
            )
            session.add(patient)
            session.flush()
            ids[f"{first} {last}"] = patient.id
    return SmallClinic(db=db, catalog=catalog, ids=ids)


def extend_authorizations(clinic: SmallClinic, until: dt.date) -> None:
    """Keep the site's REMS certification and the cleared patients' prior authorizations valid
    until ``until``: for tests whose days come from the clinic's today (which may lie past the
    fixed dates above, e.g. under ``make test-clock-ahead``)."""
    with clinic.db.write() as session:
        rems = session.get(ClinicSetting, "rems")
        assert rems is not None
        rems.value = {**rems.value, "site_certified_until": until.isoformat()}
        for patient in session.query(Patient).where(Patient.prior_auth_expires_on.is_not(None)):
            patient.prior_auth_expires_on = until
        # Consents signed 2026-01-05 stay valid through ``until`` too.
        months = (until.year - 2026) * 12 + until.month
        eligibility = session.get(ClinicSetting, "eligibility")
        assert eligibility is not None
        eligibility.value = {**eligibility.value, "consent_valid_months": max(120, months)}


def ready_for_discharge(db: Database, appointment_id: int) -> None:
    """Give a dosing session the monitoring record the chair's rules ask before it is completed
    (scheduling/chair_rules.py): the dose at its planned time, every configured reading at its
    due time, no sedation or dissociation, and the discharge once observation allows it.

    For tests about what follows a completed session; the rules themselves are tested in
    tests/services/monitoring/test_chair_rules.py."""
    with db.write() as session:
        appointment = session.get(Appointment, appointment_id)
        assert appointment is not None
        config = load_config(session)
        spec = config.catalog.session_types[config.session_type_code(appointment.session_type_id)]
        if not spec.dosing or session.scalar(
            select(SessionRecord.id).where(SessionRecord.appointment_id == appointment_id)
        ):
            return
        offsets = spec.phase_offsets()
        anchor = spec.observation_from or next(p.key for p in spec.phases if p.shade == "dosing")
        dose_at = appointment.starts_at + dt.timedelta(minutes=offsets[anchor][0])
        record = SessionRecord(
            appointment_id=appointment_id,
            dose_mg=spec.dose.starting_mg[0] if spec.dose and spec.dose.starting_mg else None,
            devices=(
                spec.dose.starting_mg[0] // spec.dose.device_mg
                if spec.dose and spec.dose.starting_mg
                else None
            ),
            dose_started_at=dose_at,
            discharged_at=dose_at + dt.timedelta(minutes=spec.observation_minutes or 0),
            sedation="none",
            dissociation="none",
        )
        record.readings = [
            VitalReading(
                label=c.label,
                taken_at=appointment.starts_at
                + dt.timedelta(minutes=offsets[c.phase][0] + c.offset_minutes),
                systolic=120,
                diastolic=80,
                heart_rate=70,
                spo2=98,
            )
            for c in spec.bp_checks
        ]
        session.add(record)
