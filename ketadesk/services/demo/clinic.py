"""The demo clinic: Harbor Ketamine & Wellness, San Diego, with weeks of believable history.

``build_demo`` makes a new clinic database and fills it: rooms, equipment, staff and their weekly
shifts, users, patients in every state of care, their series and appointments with the resource
holds the booking code would take (``session_holds``), the appointments' status history,
monitoring records with their timed MOAA/S and CADSS readings, follow-ups and PHQ-9 scores,
a staff-training closure and an equipment inspection.

Every booking keeps the clinic's rules by construction.  Each weekday first gets a template of
slots (``templates.py``), placed one at a time through the scheduling engine's ``Availability``,
the checks every booking makes (opening hours, staff shifts, no two exclusive holds at once, shared
capacity): a room runs its sessions back to back, a nurse watches only as many rooms as her
ratio allows, and her rooms' dosing starts are staggered so that she is never needed by two at
once.  Any subset of a conflict-free template is conflict-free, so patients then simply take
free template slots on days the clinic is open, following their protocols' spacing; a closure
removes the slots it touches.

The plan is made in memory first (``plan.py``, ``journeys.py``); rows then go in with bulk inserts
and ids chosen here (``writer.py``), in one transaction, so that a five-year clinic takes
seconds.  The same seed and the same ``today`` give the same database.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from ketadesk.config import Catalog
from ketadesk.scheduling.calendar import ClinicCalendar
from ketadesk.services.clinic.clinic_setup import open_clinic
from ketadesk.services.common.context import ServiceError
from ketadesk.services.demo import monitoring as demo_monitoring
from ketadesk.services.demo import scales as demo_scales
from ketadesk.services.demo import waitlist as demo_waitlist
from ketadesk.services.demo.facts import DEMO_CLOCK_MINUTE, PATIENTS_PER_ROOM, demo_settings
from ketadesk.services.demo.plan import DemoPlan
from ketadesk.services.demo.planned import Progress
from ketadesk.services.demo.rows import ID_TABLES
from ketadesk.services.demo.writer import RowWriter
from ketadesk.store import changes
from ketadesk.store.clinic_config import load_catalog
from ketadesk.store.database import Database
from ketadesk.store.models import Patient, Resource, User


class DemoError(ServiceError):
    """The demo clinic cannot be built here (the database already holds a clinic, ...)."""


@dataclass(frozen=True)
class DemoSummary:
    """What ``build_demo`` wrote."""

    clinic: str
    database: str
    seed: int
    today: dt.date
    first_day: dt.date
    last_day: dt.date
    rooms: int
    resources: int
    staff: int
    users: int
    patients: int
    series: int
    appointments: int
    past_appointments: int
    today_appointments: int
    future_appointments: int
    holds: int
    events: int
    follow_ups: int
    open_follow_ups: int
    measurements: int
    closures: int
    seconds: float
    states: tuple[tuple[str, int], ...] = ()

    def __str__(self) -> str:
        return (
            f"{self.clinic}: {self.patients:,} patients, {self.appointments:,} appointments "
            f"({self.future_appointments:,} booked ahead), {self.rooms} treatment rooms, "
            f"today {self.today.isoformat()}"
        )

    def lines(self) -> list[str]:
        """A short report for the command line."""
        return [
            f"{self.clinic} demo clinic in {self.database} (seed {self.seed}, "
            f"today {self.today.isoformat()}, {self.first_day.isoformat()} to "
            f"{self.last_day.isoformat()})",
            f"  {self.rooms} treatment rooms, {self.resources} resources, {self.staff} staff, "
            f"{self.users} users, {self.closures} closures",
            f"  {self.patients:,} patients, {self.series:,} series, "
            f"{self.appointments:,} appointments ({self.past_appointments:,} past, "
            f"{self.today_appointments:,} today, {self.future_appointments:,} ahead)",
            f"  {self.holds:,} resource holds, {self.events:,} appointment events, "
            f"{self.follow_ups:,} follow-ups ({self.open_follow_ups:,} open), "
            f"{self.measurements:,} measurements",
            f"  built in {self.seconds:.1f} s",
        ]


def build_demo(
    url: str,
    *,
    seed: int = 7,
    today: dt.date | None = None,
    weeks_back: int = 6,
    weeks_ahead: int = 4,
    rooms: int = 6,
    patients: int | None = None,
    progress: Progress | None = None,
) -> DemoSummary:
    """Build the demo clinic into ``url`` (a new SQLite file or an empty database).

    ``patients`` is today's caseload (default: 25 per treatment room, 150 for six rooms); a
    history longer than about four months adds the past patients it needs.  Refuses with
    DemoError when the database already holds a clinic with resources or patients.
    """
    if rooms < 1:
        raise DemoError(f"a clinic needs at least one treatment room, not {rooms}")
    for name, value in (("weeks_back", weeks_back), ("weeks_ahead", weeks_ahead)):
        if value < 0:
            raise DemoError(f"{name} cannot be negative ({value})")
    if patients is not None and patients < 0:
        raise DemoError(f"the number of patients cannot be negative ({patients})")
    began = time.perf_counter()
    say: Progress = progress or (lambda _message: None)
    opened = open_clinic(url, create=True)
    db = opened.db
    try:
        with db.read() as session:
            _refuse_a_used_clinic(session, db)
            catalog = load_catalog(session)
        now, today = _clock(catalog, today)
        caseload = PATIENTS_PER_ROOM * rooms if patients is None else patients
        plan = DemoPlan(
            catalog,
            seed=seed,
            today=today,
            now=now,
            weeks_back=weeks_back,
            weeks_ahead=weeks_ahead,
            rooms=rooms,
            caseload=caseload,
        )
        say(f"planning {plan.describe()}")
        plan.simulate(say)
        say(f"writing to {db.label}")
        with db.write() as session:
            _refuse_a_used_clinic(session, db)
            counts = RowWriter(plan, session, say).write_all()
            demo_monitoring.write_records(session, seed=seed, now=plan.now)
            demo_scales.write_scale_readings(session, seed=seed, now=plan.now)
            demo_waitlist.write_waitlist(session, seed=seed, now=plan.now, today=today)
            changes.bump(session, now=plan.now)
            if not db.is_sqlite:
                _advance_sequences(session)
    finally:
        db.dispose()
    seconds = time.perf_counter() - began
    say(f"done in {seconds:.1f} s")
    return DemoSummary(
        clinic=plan.settings.name,
        database=db.label,
        seed=seed,
        today=today,
        first_day=plan.first_day,
        last_day=plan.last_day,
        rooms=rooms,
        resources=len(plan.layout.resource_rows),
        staff=len(plan.layout.staff_rows),
        users=len(plan.layout.user_rows),
        patients=counts["patient"],
        series=counts["series"],
        appointments=counts["appointment"],
        past_appointments=counts["past"],
        today_appointments=counts["today"],
        future_appointments=counts["future"],
        holds=counts["resource_hold"],
        events=counts["appointment_event"],
        follow_ups=counts["follow_up"],
        open_follow_ups=counts["open_follow_up"],
        measurements=counts["measurement"],
        closures=counts["closure"],
        seconds=seconds,
        states=plan.state_counts(),
    )


def _refuse_a_used_clinic(session: Session, db: Database) -> None:
    patients = session.scalar(select(func.count()).select_from(Patient)) or 0
    resources = session.scalar(select(func.count()).select_from(Resource)) or 0
    users = session.scalar(select(func.count()).select_from(User)) or 0
    if patients or resources or users:
        held = f"{patients:,} patients" if patients else f"{resources + users} resources and users"
        raise DemoError(
            f"{db.label} already holds a clinic with {held}: the demo is only built into a new "
            "file or an empty database"
        )


def _clock(catalog: Catalog, today: dt.date | None) -> tuple[dt.datetime, dt.date]:
    """The demo's "now": the wall clock by default, else mid-morning of the given day."""
    calendar = ClinicCalendar(demo_settings(catalog, dt.date(2000, 1, 1)))
    if today is None:
        now = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
        return now, calendar.local_date(now)
    return calendar.at_local(today, DEMO_CLOCK_MINUTE), today


def _advance_sequences(session: Session) -> None:
    """PostgreSQL: ids were chosen here, so move each id sequence past the largest one."""
    for table in ID_TABLES:
        name = table.name
        session.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                f"(SELECT MAX(id) FROM {name}))"
            )
        )
