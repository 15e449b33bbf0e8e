"""The soak's clinic: the small test clinic's rooms, monitors and staff, a second nurse, more
patients and two signed-in users, every date taken from the clinic's today (nothing literal).

What the workers need to know about it (ids, the days they fight over) is written to
``clinic.json`` in the run's folder, so forked and restarted workers read the same facts.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from ketadesk.scheduling.calendar import ClinicCalendar
from ketadesk.services.clinic.clinic_setup import open_clinic
from ketadesk.services.common.context import utcnow
from ketadesk.store.clinic_config import load_catalog
from ketadesk.store.models import (
    ClinicSetting,
    Patient,
    Resource,
    StaffMember,
    StaffShift,
    User,
)
from tests.clinic_fixtures import RESOURCES, STAFF

SOAK_STAFF = [*STAFF, ("Nurse Lee", "nurse", "Lee", "Okafor")]
FIRST_NAMES = ("Ada", "Mary", "Rosalind", "Florence", "Grace", "Lise")
LAST_NAMES = ("Lovelace", "Seacole", "Franklin", "Nightingale")
# 24 patients: few enough that the same patient is wanted at two workstations at once, enough
# that the one-dosing-session-a-day rule does not fill the days in focus on its own.
PATIENT_NAMES = [(first, last) for first in FIRST_NAMES for last in LAST_NAMES]
USERS = [("desk", "front_desk", "Front Desk"), ("nurse", "nurse", "Nurse on duty")]


@dataclass(frozen=True)
class SoakClinic:
    """What a worker needs: resource, patient and user ids, and the open days ahead."""

    url: str
    rooms: list[int]
    monitors: list[int]
    nurses: list[int]
    patients: list[int]
    charts: list[str]  # the patients' chart numbers, in the same order
    users: dict[str, tuple[int, str]]  # username -> (user id, role)
    days: list[str]  # ISO dates of the clinic's open weekdays ahead, from tomorrow (~40 years)

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=1), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> SoakClinic:
        raw = json.loads(path.read_text(encoding="utf-8"))
        raw["users"] = {k: tuple(v) for k, v in raw["users"].items()}
        return cls(**raw)


def build_soak_clinic(url: str, *, days: int = 10_000) -> SoakClinic:
    """Create the clinic at ``url`` (an empty database) and return its facts."""
    opened = open_clinic(url, create=True)
    db = opened.db
    ids: dict[str, int] = {}
    try:
        with db.write() as session:
            catalog = load_catalog(session)
            calendar = ClinicCalendar(catalog.settings)
            today = calendar.local_date(utcnow())
            long_ago = today - dt.timedelta(days=60)
            far_ahead = today + dt.timedelta(days=50 * 365)  # past the last of the days
            rems = session.get(ClinicSetting, "rems")
            assert rems is not None
            rems.value = {**rems.value, "site_certified_until": far_ahead.isoformat()}
            for order, (name, kind, subkind, capacity) in enumerate(RESOURCES):
                res = Resource(
                    kind=kind, subkind=subkind, name=name, capacity=capacity, sort_order=order
                )
                session.add(res)
                session.flush()
                ids[name] = res.id
            for name, role, first, last in SOAK_STAFF:
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
            patients, charts = [], []
            for n, (first, last) in enumerate(PATIENT_NAMES, start=1):
                patient = Patient(
                    chart_number=f"SK-{n}",
                    first_name=first,
                    last_name=last,
                    screening_status="cleared",
                    date_of_birth=dt.date(1980, 5, 17),
                    screening_cleared_on=long_ago,
                    consent_signed_on=long_ago,
                    rems_enrolled_on=long_ago,
                    prior_auth_expires_on=far_ahead,
                    driver_name="A. Driver",
                )
                session.add(patient)
                session.flush()
                patients.append(patient.id)
                charts.append(patient.chart_number)
            users: dict[str, tuple[int, str]] = {}
            for username, role, display in USERS:
                user = User(username=username, display_name=display, role=role)
                session.add(user)
                session.flush()
                users[username] = (user.id, role)
            open_days: list[str] = []
            day = today + dt.timedelta(days=1)
            while len(open_days) < days:
                if day.weekday() < 5 and calendar.closed_reason(day) is None:
                    open_days.append(day.isoformat())
                day += dt.timedelta(days=1)
    finally:
        db.dispose()
    return SoakClinic(
        url=url,
        rooms=[ids[f"Room {n}"] for n in range(1, 5)],
        monitors=[ids[f"Monitor {n}"] for n in range(1, 5)],
        nurses=[ids["Nurse Kim"], ids["Nurse Lee"]],
        patients=patients,
        charts=charts,
        users=users,
        days=open_days,
    )
