"""A small, named clinic built with plain ORM inserts, for service and store tests.

"Bayside Test Clinic": Rooms 1-4 (treatment), Office A; Monitors 1-4; Oximeter 1;
Nurse Kim (watches 3), Dr Patel (prescriber), Sam Rivera (therapist); everyone works Mon-Fri
07:00-18:30; patients Ada Lovelace, Mary Seacole, Rosalind Franklin, Florence Nightingale
(cleared for everything) and Grace Hopper (screening pending).  It says its times 24-hour
(``[clinic] time_format = "24h"``), as the expectations of the tests built on it are written; a
new clinic (``new_clinic``) has the shipped default, 12-hour.

Building a clinic runs every migration from an empty database (most of a second on SQLite,
seconds on PostgreSQL), and hundreds of tests want one.  So ``new_clinic``,
``build_small_clinic`` and ``templated`` build each kind of clinic once per test process, as a
template, and give every test its own copy of it: a copy of the file on SQLite, ``CREATE
DATABASE ... TEMPLATE`` on PostgreSQL.  The copy is the very database the build would have made
(the template is rebuilt when the configuration it was built with changes, when the day
changes and after a few minutes, so no timestamp in it is older than that), and it is opened as
the application opens an existing clinic.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import os
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from ketadesk.config import Catalog, read_raw_config
from ketadesk.scheduling.calendar import ClinicCalendar
from ketadesk.scheduling.model import PlannedSession, session_holds
from ketadesk.scheduling.ride_home import RideHome
from ketadesk.services.clinic.clinic_setup import open_clinic
from ketadesk.store.clinic_config import load_catalog, load_config
from ketadesk.store.database import Database
from ketadesk.store.models import (
    Appointment,
    ClinicSetting,
    Patient,
    Resource,
    SessionRecord,
    SessionType,
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

    def start(self, appointment_id: int, day: dt.date, hhmm: str) -> None:
        """Start the session at ``hhmm`` on ``day`` (as a nurse presses Start): a dose is
        recorded only on a session in progress."""
        from ketadesk.services.booking import appointment_changes
        from ketadesk.services.common.context import SYSTEM

        appointment_changes.change_status(
            self.db,
            SYSTEM,
            appointment_id,
            "start",
            now=self.at(day, hhmm),
            chair_confirmed=True,
        )

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


# ---------------------------------------------------------------------------------------------
# Templates: each kind of clinic built once per test process, copied for every test.

#: A template older than this is built again (its timestamps stay recent).
TEMPLATE_MAX_AGE_S = 300.0


@dataclass(frozen=True)
class _Template:
    location: str  # the SQLite file, or the PostgreSQL database name
    ids: dict[str, int]
    built: float  # time.monotonic()
    day: dt.date  # the UTC day it was built on


_TEMPLATES: dict[tuple[str, str, str], _Template] = {}
_template_dir: Path | None = None


def templated(url: str, kind: str, build: Callable[[str], dict[str, int]]) -> dict[str, int]:
    """Make the empty database ``url`` what ``build(url)`` would make of it and return what
    ``build`` returned (ids by name), copying a template of ``kind`` built once by ``build``.

    ``build`` opens the clinic with ``open_clinic(url, create=True)`` and must leave no
    connection open.  A database that is not empty, or a URL this cannot copy into, is built
    directly."""
    from ketadesk.store.database import parse_db_url

    parsed = parse_db_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        target = _empty_sqlite_target(parsed.database, bool(parsed.query))
        if target is None:
            return build(url)
    elif backend != "postgresql" or not _pg_is_empty(url):
        return build(url)
    raw = read_raw_config()
    config = hashlib.sha256(repr(raw).encode()).hexdigest()[:12]
    key = (backend, kind, config)
    template = _TEMPLATES.get(key)
    today = dt.datetime.now(dt.UTC).date()
    if template is not None and (
        template.day != today or time.monotonic() - template.built > TEMPLATE_MAX_AGE_S
    ):
        _drop_template(backend, template)
        del _TEMPLATES[key]
        template = None
    if template is None:
        template = _build_template(url, backend, f"{kind}_{config}", build)
        _TEMPLATES[key] = template
    if backend == "sqlite":
        assert target is not None
        _copy_sqlite_template(Path(template.location), target)
    else:
        _pg_copy_template(url, template.location)
    return dict(template.ids)


def new_clinic(url: str) -> Database:
    """The new clinic ``open_clinic(url, create=True)`` makes of an empty database (the default
    configuration), from a template; opened as an existing clinic."""

    def build(into: str) -> dict[str, int]:
        open_clinic(into, create=True).db.dispose()
        return {}

    templated(url, "new", build)
    return open_clinic(url).db


def drop_templates() -> None:
    """Remove this process's templates (end of the test session)."""
    global _template_dir
    for (backend, _kind, _config), template in list(_TEMPLATES.items()):
        with contextlib.suppress(Exception):
            _drop_template(backend, template)
    _TEMPLATES.clear()
    if _template_dir is not None:
        shutil.rmtree(_template_dir, ignore_errors=True)
        _template_dir = None


def _empty_sqlite_target(database: str | None, query: bool) -> Path | None:
    if not database or database == ":memory:" or query:
        return None
    path = Path(database)
    if path.is_dir():
        return None
    if path.exists() and path.stat().st_size > 0:
        return None
    if any(Path(f"{path}{suffix}").exists() for suffix in ("-wal", "-shm", "-journal")):
        return None
    return path


def _build_template(
    url: str, backend: str, name: str, build: Callable[[str], dict[str, int]]
) -> _Template:
    global _template_dir
    built = time.monotonic()
    day = dt.datetime.now(dt.UTC).date()
    if backend == "sqlite":
        if _template_dir is None:
            _template_dir = Path(tempfile.mkdtemp(prefix="ketadesk-test-templates-"))
        path = _template_dir / f"{name}-{time.monotonic_ns()}.sqlite"
        ids = build(f"sqlite:///{path}")
        # Fold the WAL into the file, so that the file alone is the whole clinic.
        with contextlib.closing(sqlite3.connect(path)) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        for suffix in ("-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return _Template(str(path), ids, built, day)
    database = f"ketadesk_tpl_{os.getpid()}_{name}_{time.monotonic_ns() % 10**9}"[:63]
    _pg_admin(url, f'CREATE DATABASE "{database}"')
    try:
        ids = build(_pg_url_of(url, database))
    except BaseException:
        _pg_admin(url, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        raise
    return _Template(database, ids, built, day)


def _drop_template(backend: str, template: _Template) -> None:
    if backend == "sqlite":
        Path(template.location).unlink(missing_ok=True)
    else:
        _pg_admin(None, f'DROP DATABASE IF EXISTS "{template.location}" WITH (FORCE)')


def _copy_sqlite_template(template: Path, target: Path) -> None:
    """The template's bytes into ``target``, created owner-only as the application does."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with open(fd, "wb") as out, open(template, "rb") as src:
        shutil.copyfileobj(src, out)


_PG_ADMIN_URL: str | None = None


def _pg_admin(url: str | None, statement: str) -> None:
    """Run one statement on the server's maintenance database (the test run's
    KETADESK_TEST_PG_URL, or the server of ``url``)."""
    from sqlalchemy import create_engine, text

    from ketadesk.store.database import parse_db_url

    global _PG_ADMIN_URL
    if _PG_ADMIN_URL is None:
        assert url is not None
        admin = os.environ.get("KETADESK_TEST_PG_URL") or _pg_url_of(url, "postgres")
        _PG_ADMIN_URL = parse_db_url(admin).render_as_string(hide_password=False)
    engine = create_engine(_PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(statement))
    finally:
        engine.dispose()


def _pg_url_of(url: str, database: str) -> str:
    from ketadesk.store.database import parse_db_url

    return parse_db_url(url).set(database=database).render_as_string(hide_password=False)


def _pg_is_empty(url: str) -> bool:
    """No table in the database, and nobody else connected to it."""
    from sqlalchemy import create_engine, text

    from ketadesk.store.database import parse_db_url

    engine = create_engine(parse_db_url(url), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            tables = conn.execute(
                text(
                    "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') "
                    "AND n.nspname NOT LIKE 'pg_toast%'"
                )
            ).scalar_one()
            others = conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            ).scalar_one()
    finally:
        engine.dispose()
    return bool(tables == 0 and others == 0)


def _pg_copy_template(url: str, template: str) -> None:
    """The empty database of ``url`` replaced by a copy of ``template`` under the same name."""
    from ketadesk.store.database import parse_db_url

    name = parse_db_url(url).database
    assert name
    _pg_admin(url, f'DROP DATABASE "{name}"')
    _pg_admin(url, f'CREATE DATABASE "{name}" TEMPLATE "{template}"')


# ---------------------------------------------------------------------------------------------
# The small clinic


def say_times(session: Session, time_format: str) -> None:
    """Make the clinic say its times of day in ``time_format`` ("12h" or "24h", ``[clinic]
    time_format``) in the write transaction ``session``, as its Settings page saves it."""
    clinic = session.get(ClinicSetting, "clinic")
    assert clinic is not None
    clinic.value = {**clinic.value, "time_format": time_format}


def use_scales(session: Session, on: bool = True) -> None:
    """Give every session type its shipped timed scales (session_types.toml ``scales``), or
    (``on`` False) none, in the write transaction ``session``."""
    shipped = read_raw_config().session_types["session_types"]
    for stored in session.scalars(select(SessionType)):
        definition = {k: v for k, v in stored.definition.items() if k != "scales"}
        if on and "scales" in shipped.get(stored.code, {}):
            definition["scales"] = shipped[stored.code]["scales"]
        stored.definition = definition


def build_small_clinic(url: str) -> SmallClinic:
    """The small clinic in the empty database ``url`` (from a template: see the top)."""
    ids = templated(url, "small", _build_small_clinic_ids)
    return open_small(url, ids)


def open_small(url: str, ids: dict[str, int]) -> SmallClinic:
    db = open_clinic(url).db
    with db.read() as session:
        catalog = load_catalog(session)
    return SmallClinic(db=db, catalog=catalog, ids=ids)


def _build_small_clinic_ids(url: str) -> dict[str, int]:
    clinic = build_small_clinic_from_scratch(url)
    clinic.db.dispose()
    return clinic.ids


def build_small_clinic_from_scratch(url: str) -> SmallClinic:
    """The small clinic built from nothing (what the template is)."""
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
        # The small clinic says its times 24-hour ("10:00–11:40"), as the expectations of the
        # tests built on it are written: they are about other things.  A new clinic's default,
        # 12-hour, is what the tests of the format (and of the demo clinic) read.
        say_times(session, "24h")
        # Nor does it time sedation and dissociation scales: its tests judge a discharge by
        # the record's resolved marks, as a clinic without ``scales`` configured does; the
        # tests of the scales put the shipped ones back (``use_scales``).
        use_scales(session, False)
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
            # The nurse on the chair, else the clinic's first (a KAP session books no nurse).
            monitored_by_id=next(
                (h.resource_id for h in appointment.holds if h.need == "nurse"),
                session.scalar(
                    select(StaffMember.resource_id)
                    .where(StaffMember.role == "nurse")
                    .order_by(StaffMember.resource_id)
                    .limit(1)
                ),
            ),
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


#: The ride home a completion records for a session type after which the patient may not
#: drive (``scheduling/ride_home.py``): the driver is there.  For tests about what follows a
#: completed session; the ride rule itself is tested in tests/services/monitoring.
RIDE_HOME = RideHome(here=True, name="A. Driver")
