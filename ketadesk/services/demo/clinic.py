"""The demo clinic: Harbor Ketamine & Wellness, San Diego, with weeks of believable history.

``build_demo`` makes a new clinic database and fills it: rooms, equipment, staff and their weekly
shifts, users, patients in every state of care, their series and appointments with the resource
holds the booking code would take (``session_holds``), the appointments' status history,
follow-ups and PHQ-9 scores, a staff-training closure and an equipment inspection.

Every booking keeps the clinic's rules by construction.  Each weekday first gets a template of
slots, placed one at a time with the checks a booking makes (opening hours, staff shifts, no two
exclusive holds at once, shared capacity): a room runs its sessions back to back, a nurse watches
only as many rooms as her ratio allows, and her rooms' dosing starts are staggered so that she is
never needed by two at once.  Any subset of a conflict-free template is conflict-free, so patients
then simply take free template slots on days the clinic is open, following their protocols'
spacing; a closure removes the slots it touches.

Rows go in with bulk inserts and ids chosen here, in one transaction, so that a five-year clinic
takes seconds.  The same seed and the same ``today`` give the same database.
"""

from __future__ import annotations

import datetime as dt
import heapq
import math
import random
import time
from collections.abc import Callable, Generator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import Table, bindparam, func, insert, select, text, update
from sqlalchemy.orm import Session

from ketadesk.config import Catalog
from ketadesk.scheduling.availability import Availability
from ketadesk.scheduling.calendar import ClinicCalendar, ClosureSpan, Interval, ShiftPattern
from ketadesk.scheduling.catalog import (
    WEEKDAYS,
    ClinicSettings,
    ProtocolSpec,
    ResourceKind,
    ResourceNeed,
    SessionTypeSpec,
)
from ketadesk.scheduling.followup_rules import reattempt_at
from ketadesk.scheduling.model import PlannedHold, ResourceInfo, hold_units, session_holds
from ketadesk.scheduling.statuses import ATTENDED_STATUSES, RELEASED_STATUSES
from ketadesk.services.clinic.clinic_setup import open_clinic
from ketadesk.services.common.context import ServiceError
from ketadesk.services.demo import monitoring as demo_monitoring
from ketadesk.services.demo import people
from ketadesk.services.demo import users as demo_users
from ketadesk.store import changes
from ketadesk.store.clinic_config import load_catalog
from ketadesk.store.database import Database
from ketadesk.store.models import (
    Appointment,
    AppointmentEvent,
    AuditEvent,
    ClinicSetting,
    Closure,
    FollowUp,
    FollowUpAttempt,
    Measurement,
    Patient,
    Protocol,
    Resource,
    ResourceHold,
    Series,
    SessionType,
    StaffMember,
    StaffShift,
    User,
    UTCDateTime,
)

Progress = Callable[[str], None]

# ---------------------------------------------------------------------------------------------
# The demo's own invented facts.  Clinic rules (durations, gaps, ratios, hours) come from the
# clinic's configuration; what is here is only how this particular clinic chose to run.

CLINIC = {
    "name": "Harbor Ketamine & Wellness",
    "timezone": "America/Los_Angeles",
    "address": "3625 Fifth Avenue, Suite 210\nSan Diego, CA 92103",
    "phone": "(619) 555-0140",
    "email": "frontdesk@harborketamine.example",
}
CHART_PREFIX = "HK-"
FIRST_CHART_NUMBER = 10001
# "Now" in a demo built for a given day: mid-morning, when the chairs are busiest.
DEMO_CLOCK_MINUTE = 10 * 60 + 40
ROOM_TURNOVER_MINUTES = 15  # clean and reset the recliner between patients
OFFICE_GAP_MINUTES = 10
OFFICE_LUNCH = (12 * 60, 12 * 60 + 45)  # offices see nobody then (local minutes)
OFFICE_HOURS_DELAY = 30  # prescribers see the chairs first, then start their office hours
THERAPIST_HOURS = (8 * 60, 17 * 60)
NURSE_SETUP_MINUTES = 15  # nurses come in before opening to set up the rooms
FRONT_DESK_SHIFT_MINUTES = 8 * 60 + 30  # one early and one late shift cover the day
TRAINING_FROM = 13 * 60  # the staff-training afternoon starts then
INSPECTION_UNTIL = 12 * 60  # a monitor's inspection takes the morning
# The Monday of the week the weekday templates are laid out on: a winter week, no clock change.
_TEMPLATE_WEEK = dt.date(2001, 1, 8)
PATIENCE_MINUTES = 30  # a room waits this long for its next planned kind of session
ODD_ROOM_DELAY_MINUTES = 15  # every other room starts later, so arrivals are spread out
EARLY_CHECK_IN_MINUTES = 10
INTAKE_LEAD_DAYS = 5  # screening is reviewed before a first dosing session
PATIENTS_PER_ROOM = 25  # the caseload today
NO_SHOW_RATE = 0.03
CANCEL_RATE = 0.05
MAX_MISSES_IN_A_ROW = 2
# Past patients, when the history is long: how full they keep the clinic, when they start.
HISTORY_UTILISATION = 0.8
HISTORY_AFTER_WEEKS = 16  # today's caseload began within about this many weeks
WARM_UP_WEEKS = 8  # past patients may have begun this long before the first day shown

# The session types and protocols of the default configuration that the demo books.
IV, SPRAVATO, KAP, INTEGRATION, INTAKE, REVIEW = (
    "iv_infusion",
    "spravato",
    "kap",
    "integration",
    "intake",
    "booster_review",
)
IV_INDUCTION, IV_BOOSTER = "iv_induction", "iv_booster"
SPRAVATO_TRD, SPRAVATO_MAINTENANCE, SPRAVATO_MDD_SI = (
    "spravato_trd",
    "spravato_maintenance",
    "spravato_mdd_si",
)
KAP_PROGRAM = "kap_program"

# Where today's caseload stands (weights out of 150 patients).
STATES: tuple[tuple[str, int], ...] = (
    ("screening_pending", 10),
    ("intake_scheduled", 8),
    ("intake_done", 8),
    ("iv_starting", 6),
    ("iv_induction", 16),
    ("iv_completed", 6),
    ("iv_boosters", 18),
    ("spravato_induction", 12),
    ("spravato_optimization", 8),
    ("spravato_maintenance", 18),
    ("kap_program", 10),
    ("dropped_out", 14),
    ("discharged", 16),
)
# What past patients came for (weights), and how long they stayed.
HISTORY_MIX: tuple[tuple[str, int], ...] = (
    ("iv", 42),
    ("spravato", 18),
    ("mdd", 5),
    ("kap", 12),
    ("dropped", 15),
    ("intake_only", 8),
)
BOOSTER_COUNTS = (0, 0, 1, 2, 3, 4)
WEEKDAY_SHIFTS = (0, 0, 0, 1, 2, 4)  # half the patients keep a protocol's usual weekdays
MAINTENANCE_SERIES_COUNTS = (0, 1, 1, 2)

PRESCRIBER_DAY_OFF = (3, 0, 4, 1, 2)  # Thursday, Monday, Friday, ... (weekday numbers)
ROLE_USERNAMES = {
    "nurse": "nurse",
    "prescriber": "prescriber",
    "therapist": "therapist",
    "front_desk": "frontdesk",
}

_Row = dict[str, Any]


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
        plan = _DemoPlan(
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
            counts = _Writer(plan, session, say).write_all()
            demo_monitoring.write_records(session, seed=seed, now=plan.now)
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
    calendar = ClinicCalendar(_demo_settings(catalog, dt.date(2000, 1, 1)))
    if today is None:
        now = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
        return now, calendar.local_date(now)
    return calendar.at_local(today, DEMO_CLOCK_MINUTE), today


def _demo_settings(catalog: Catalog, today: dt.date) -> ClinicSettings:
    return replace(
        catalog.settings,
        name=CLINIC["name"],
        timezone=CLINIC["timezone"],
        address=CLINIC["address"],
        phone=CLINIC["phone"],
        email=CLINIC["email"],
        rems_site_certified_until=(today + dt.timedelta(days=300)).isoformat(),
    )


def _advance_sequences(session: Session) -> None:
    """PostgreSQL: ids were chosen here, so move each id sequence past the largest one."""
    for table in _ID_TABLES:
        name = table.name
        session.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                f"(SELECT MAX(id) FROM {name}))"
            )
        )


# ---------------------------------------------------------------------------------------------
# Rooms, equipment, staff, shifts and users


@dataclass
class _Layout:
    """The clinic's resources, as rows to insert and as the planner sees them."""

    resource_rows: list[_Row] = field(default_factory=list)
    staff_rows: list[_Row] = field(default_factory=list)
    shift_rows: list[_Row] = field(default_factory=list)
    user_rows: list[_Row] = field(default_factory=list)
    by_subkind: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    names: dict[int, str] = field(default_factory=dict)
    capacity: dict[int, int] = field(default_factory=dict)
    role: dict[int, str] = field(default_factory=dict)  # staff only
    shifts: dict[int, dict[int, tuple[int, int]]] = field(default_factory=dict)
    room_monitor: dict[int, int] = field(default_factory=dict)
    room_oximeter: dict[int, int] = field(default_factory=dict)
    room_nurse: dict[int, int] = field(default_factory=dict)
    user_of: dict[int, int] = field(default_factory=dict)  # staff resource -> user
    admin_user: int = 0

    def of(self, kind: ResourceKind, subkind: str) -> list[int]:
        return self.by_subkind.get((kind.value, subkind), [])

    @property
    def rooms(self) -> list[int]:
        return self.of(ResourceKind.ROOM, "treatment")

    @property
    def offices(self) -> list[int]:
        return self.of(ResourceKind.ROOM, "office")

    def staff(self, role: str) -> list[int]:
        return self.of(ResourceKind.STAFF, role)

    def users_of_role(self, role: str) -> list[int]:
        return [self.user_of[s] for s in self.staff(role) if s in self.user_of]

    def resource_infos(self) -> list[ResourceInfo]:
        return [
            ResourceInfo(
                id=r["id"],
                kind=ResourceKind(r["kind"]),
                subkind=r["subkind"],
                name=r["name"],
                capacity=r["capacity"],
                active=r["active"],
                sort_order=r["sort_order"],
            )
            for r in self.resource_rows
        ]

    def shift_patterns(self) -> list[ShiftPattern]:
        return [
            ShiftPattern(resource_id=rid, weekday=wd, start_minute=s, end_minute=e)
            for rid, days in self.shifts.items()
            for wd, (s, e) in days.items()
        ]


def _resource_counts(rooms: int, nurse_capacity: int) -> dict[str, int]:
    """How much of everything a clinic of ``rooms`` treatment rooms has (6 rooms: the brief's
    2 offices, 6 monitors, 4 oximeters, 3 nurses, 2 prescribers, 2 therapists, 2 front desk)."""
    # A nurse takes one room fewer than her ratio allows, keeping a place for an overrun.
    rooms_per_nurse = max(1, nurse_capacity - 1)
    oximeters = max(1, round(rooms * 2 / 3))
    return {
        "offices": max(2, round(rooms / 3)),
        "monitors": rooms,
        "oximeters": oximeters,
        "rooms_per_nurse": rooms_per_nurse,
        "nurse": math.ceil(rooms / rooms_per_nurse),
        "prescriber": max(2, math.ceil(rooms / 4)),
        "therapist": max(2, rooms - oximeters),
        "front_desk": max(2, math.ceil(rooms / 5)),
    }


def _staff_person(role: str, index: int) -> people.StaffPerson:
    known = people.STAFF[role]
    if index < len(known):
        return known[index]
    first = people.FIRST_NAMES[(index * 37 + len(role)) % len(people.FIRST_NAMES)]
    last = people.LAST_NAMES[(index * 53 + 11 * len(role)) % len(people.LAST_NAMES)]
    return people.StaffPerson(first, last, known[0].credentials)


def _ascii(text_: str) -> str:
    return "".join(ch for ch in text_.lower() if ch.isascii() and ch.isalnum())


def _build_layout(
    catalog: Catalog, rooms: int, first_resource_id: int, first_user_id: int, since: dt.datetime
) -> _Layout:
    settings = catalog.settings
    counts = _resource_counts(rooms, settings.capacity_for_role("nurse"))
    layout = _Layout()
    next_id = first_resource_id
    order = 0

    def add(kind: ResourceKind, subkind: str, name: str, short: str, capacity: int = 1) -> int:
        nonlocal next_id, order
        rid = next_id
        next_id += 1
        order += 1
        layout.resource_rows.append(
            {
                "id": rid,
                "kind": kind.value,
                "subkind": subkind,
                "name": name,
                "short_name": short,
                "capacity": capacity,
                "active": True,
                "sort_order": order,
                "notes": "",
            }
        )
        layout.by_subkind.setdefault((kind.value, subkind), []).append(rid)
        layout.names[rid] = name
        layout.capacity[rid] = capacity
        return rid

    room_ids = [
        add(ResourceKind.ROOM, "treatment", f"Room {i}", f"R{i}") for i in range(1, rooms + 1)
    ]
    for i in range(counts["offices"]):
        letter = chr(ord("A") + i) if i < 26 else str(i + 1)
        add(ResourceKind.ROOM, "office", f"Office {letter}", f"O{letter}")
    monitors = [
        add(ResourceKind.EQUIPMENT, "vital_signs_monitor", f"Monitor {i}", f"M{i}")
        for i in range(1, counts["monitors"] + 1)
    ]
    oximeters = [
        add(ResourceKind.EQUIPMENT, "pulse_oximeter", f"Pulse oximeter {i}", f"OX{i}")
        for i in range(1, counts["oximeters"] + 1)
    ]
    for role in ("nurse", "prescriber", "therapist", "front_desk"):
        for i in range(counts[role]):
            person = _staff_person(role, i)
            name = f"{person.first} {person.last}"
            if person.credentials:
                name += f", {person.credentials}"
            while name in layout.names.values():
                name += " (2)"
            rid = add(
                ResourceKind.STAFF,
                role,
                name,
                (person.first[0] + person.last[:3]).upper(),
                settings.capacity_for_role(role),
            )
            layout.role[rid] = role
            domain = "harborketamine.example"
            layout.staff_rows.append(
                {
                    "resource_id": rid,
                    "role": role,
                    "first_name": person.first,
                    "last_name": person.last,
                    "credentials": person.credentials,
                    "phone": f"(619) 555-01{(40 + len(layout.staff_rows)) % 100:02d}",
                    "email": f"{_ascii(person.first)}.{_ascii(person.last)}@{domain}",
                }
            )
    for index, room in enumerate(room_ids):
        layout.room_monitor[room] = monitors[index]
        if index < len(oximeters):
            layout.room_oximeter[room] = oximeters[index]
        layout.room_nurse[room] = layout.staff("nurse")[index // counts["rooms_per_nurse"]]
    _plan_shifts(layout, catalog)
    _plan_users(layout, first_user_id, since)
    return layout


def _open_minutes(catalog: Catalog, weekday: int) -> tuple[int, int] | None:
    hours = catalog.settings.hours.get(WEEKDAYS[weekday])
    if hours is None:
        return None
    opens, closes = hours
    return opens.hour * 60 + opens.minute, closes.hour * 60 + closes.minute


def _plan_shifts(layout: _Layout, catalog: Catalog) -> None:
    """Nurses cover the whole opening day; prescribers and therapists work four days a week,
    staggered so that every open day has both; the front desk splits early and late."""
    for weekday in range(7):
        hours = _open_minutes(catalog, weekday)
        if hours is None:
            continue
        opens, closes = hours
        day_shifts: dict[int, tuple[int, int]] = {}
        for rid in layout.staff("nurse"):
            day_shifts[rid] = (max(0, opens - NURSE_SETUP_MINUTES), closes)
        for k, rid in enumerate(layout.staff("prescriber")):
            if weekday != PRESCRIBER_DAY_OFF[k % len(PRESCRIBER_DAY_OFF)]:
                day_shifts[rid] = (opens, closes)
        for k, rid in enumerate(layout.staff("therapist")):
            if weekday != (0 if k % 2 == 0 else 4):
                start, end = max(opens, THERAPIST_HOURS[0]), min(closes, THERAPIST_HOURS[1])
                if start < end:
                    day_shifts[rid] = (start, end)
        for k, rid in enumerate(layout.staff("front_desk")):
            if k % 2 == 0:
                start = max(0, opens - 2 * NURSE_SETUP_MINUTES)
                day_shifts[rid] = (start, min(24 * 60, start + FRONT_DESK_SHIFT_MINUTES))
            else:
                end = min(24 * 60, closes + NURSE_SETUP_MINUTES)
                day_shifts[rid] = (max(0, end - FRONT_DESK_SHIFT_MINUTES), end)
        for rid, (start, end) in day_shifts.items():
            layout.shifts.setdefault(rid, {})[weekday] = (start, end)
    shift_id = 0
    for rid in sorted(layout.shifts):
        for weekday, (start, end) in sorted(layout.shifts[rid].items()):
            shift_id += 1
            layout.shift_rows.append(
                {
                    "id": shift_id,
                    "resource_id": rid,
                    "weekday": weekday,
                    "start_minute": start,
                    "end_minute": end,
                    "valid_from": None,
                    "valid_until": None,
                }
            )


def _plan_users(layout: _Layout, first_id: int, since: dt.datetime) -> None:
    """An administrator, and one login per staff member (the first of each role gets the
    role's short name: "nurse", "frontdesk", ...)."""
    next_id = first_id

    def add(username: str, display: str, role: str, staff_id: int | None) -> int:
        nonlocal next_id
        uid = next_id
        next_id += 1
        layout.user_rows.append(
            {
                "id": uid,
                "username": username,
                "display_name": display,
                "role": role,
                "password_hash": "",
                "staff_id": staff_id,
                "active": True,
                "failed_attempts": 0,
                "last_failed_at": None,
                "created_at": since,
            }
        )
        return uid

    layout.admin_user = add("admin", "Clinic Administrator", "admin", None)
    taken = {"admin"}
    staff = {row["resource_id"]: row for row in layout.staff_rows}
    for role, short in ROLE_USERNAMES.items():
        for k, rid in enumerate(layout.staff(role)):
            row = staff[rid]
            username = short if k == 0 else _ascii(row["first_name"][0] + row["last_name"])
            while username in taken:
                username += "2"
            taken.add(username)
            layout.user_of[rid] = add(username, layout.names[rid], role, rid)


# ---------------------------------------------------------------------------------------------
# Weekday templates: every slot a room or an office can offer, conflict-free together


@dataclass(frozen=True, slots=True)
class _Slot:
    key: int  # its place in the weekday's template
    code: str  # session type
    minute: int  # local start, minutes after midnight
    lane: int  # the room, or the clinician whose office hours these are
    room_id: int | None
    assignment: tuple[tuple[str, int], ...]  # need key -> resource
    clinician: int | None  # the staff member who runs it


class _TemplateBuilder:
    """Places one weekday's slots on minutes of the day, asking the scheduling engine
    (``Availability``, the rules every booking is checked by) whether each session's holds fit.

    The engine answers for real instants, so the weekday is played on a reference date of that
    weekday with no holidays, closures or clock change: a template that fits there fits every
    ordinary week (the days' own closures are taken out later, per day).
    """

    def __init__(self, catalog: Catalog, layout: _Layout, weekday: int) -> None:
        self.types = catalog.session_types
        self.layout = layout
        self.weekday = weekday
        self.step = catalog.settings.slot_minutes
        hours = _open_minutes(catalog, weekday)
        self.opens, self.closes = hours if hours is not None else (0, 0)
        calendar = ClinicCalendar(
            replace(catalog.settings, holiday_country=""), shifts=tuple(layout.shift_patterns())
        )
        self.day = _TEMPLATE_WEEK + _days(weekday)
        self.availability = Availability(calendar, layout.resource_infos())
        self.slots: list[_Slot] = []

    def _at(self, minute: int) -> dt.datetime:
        return self.availability.calendar.at_local(self.day, minute)

    def _fits(self, holds: Sequence[PlannedHold]) -> bool:
        return not self.availability.refusals(holds)

    def _assign(
        self, spec: SessionTypeSpec, start: int, candidates: Mapping[tuple[str, str], list[int]]
    ) -> dict[str, int] | None:
        if start < self.opens or start + spec.total_minutes > self.closes:
            return None
        at = self._at(start)
        assignment: dict[str, int] = {}
        for need in spec.needs:
            key = (need.kind.value, need.subkind)
            options = candidates.get(key, self.layout.by_subkind.get(key, []))
            chosen = next(
                (rid for rid in options if self._fits(_need_holds(spec, need, at, rid))),
                None,
            )
            if chosen is None:
                if need.optional:
                    continue
                return None
            assignment[need.key] = chosen
        return assignment

    def _commit(self, code: str, start: int, lane: int, assignment: dict[str, int]) -> None:
        spec = self.types[code]
        room_id = None
        clinician = None
        for need in spec.needs:
            rid = assignment.get(need.key)
            if rid is not None and need.kind is ResourceKind.ROOM:
                room_id = rid
        self.availability.add(session_holds(spec, self._at(start), assignment))
        for role in ("nurse", "therapist", "prescriber"):
            clinician = next(
                (r for r in assignment.values() if self.layout.role.get(r) == role), None
            )
            if clinician is not None:
                break
        self.slots.append(
            _Slot(
                key=len(self.slots),
                code=code,
                minute=start,
                lane=lane,
                room_id=room_id,
                assignment=tuple(sorted(assignment.items())),
                clinician=clinician,
            )
        )

    def _earliest(
        self,
        code: str,
        after: int,
        candidates: Mapping[tuple[str, str], list[int]],
        lunch: bool,
    ) -> tuple[int, dict[str, int]] | None:
        spec = self.types.get(code)
        if spec is None:
            return None
        total = spec.total_minutes
        start = -(-after // self.step) * self.step
        while start + total <= self.closes:
            if not (lunch and start < OFFICE_LUNCH[1] and OFFICE_LUNCH[0] < start + total):
                assignment = self._assign(spec, start, candidates)
                if assignment is not None:
                    return start, assignment
            start += self.step
        return None

    def run_lane(
        self,
        lane: int,
        cycle: Sequence[str],
        candidates: Mapping[tuple[str, str], list[int]],
        *,
        start: int,
        gap: int,
        lunch: bool = False,
    ) -> None:
        """Sessions back to back, following ``cycle`` while it fits, else whatever fits first."""
        t, position = start, 0
        while True:
            options: list[tuple[int, int, str, dict[str, int]]] = []
            for k in range(len(cycle)):
                code = cycle[(position + k) % len(cycle)]
                found = self._earliest(code, t, candidates, lunch)
                if found is not None:
                    options.append((found[0], k, code, found[1]))
            if not options:
                return
            planned = next((o for o in options if o[1] == 0), None)
            if planned is None or planned[0] > t + PATIENCE_MINUTES:
                planned = min(options)
            begins, k, code, assignment = planned
            self._commit(code, begins, lane, assignment)
            t = begins + self.types[code].total_minutes + gap
            position = (position + k + 1) % len(cycle)


def _need_holds(
    spec: SessionTypeSpec, need: ResourceNeed, start: dt.datetime, resource_id: int
) -> list[PlannedHold]:
    """The holds one need of a session starting at ``start`` takes on ``resource_id`` (what
    ``session_holds`` gives for that need; the template chooses needs one at a time)."""
    return [
        PlannedHold(
            need=need.key,
            resource_id=resource_id,
            mode=hold.mode,
            span=Interval(start + begins * _MINUTE, start + ends * _MINUTE),
            units=hold_units(hold.mode),
        )
        for hold in need.holds
        for begins, ends in (spec.hold_window(hold),)
    ]


def _weekday_template(catalog: Catalog, layout: _Layout, weekday: int) -> list[_Slot]:
    builder = _TemplateBuilder(catalog, layout, weekday)
    if builder.closes <= builder.opens:
        return []
    kap_days = {
        WEEKDAYS.index(d)
        for p in catalog.protocols.values()
        if any(s.session_type == KAP for s in p.stages)
        for d in p.default_weekdays
    }
    room = (ResourceKind.ROOM.value, "treatment")
    office = (ResourceKind.ROOM.value, "office")
    monitor = (ResourceKind.EQUIPMENT.value, "vital_signs_monitor")
    oximeter = (ResourceKind.EQUIPMENT.value, "pulse_oximeter")
    nurse = (ResourceKind.STAFF.value, "nurse")
    for index, rid in enumerate(layout.rooms):
        if rid in layout.room_oximeter:
            cycle = [SPRAVATO, SPRAVATO, IV] if index % 2 == 0 else [SPRAVATO, IV, SPRAVATO]
        elif weekday in kap_days:
            cycle = [KAP, IV]
        else:
            cycle = [IV]
        candidates = {
            room: [rid],
            monitor: [layout.room_monitor[rid]],
            oximeter: [layout.room_oximeter[rid]] if rid in layout.room_oximeter else [],
            nurse: [layout.room_nurse[rid]],
            office: [],
        }
        builder.run_lane(
            rid,
            cycle,
            candidates,
            start=builder.opens + (index % 2) * ODD_ROOM_DELAY_MINUTES,
            gap=ROOM_TURNOVER_MINUTES,
        )
    offices = layout.offices
    for k, (role, cycle) in enumerate(
        [("prescriber", [INTAKE, REVIEW, REVIEW]), ("therapist", [INTEGRATION])]
    ):
        for j, rid in enumerate(layout.staff(role)):
            shift = layout.shifts.get(rid, {}).get(weekday)
            if shift is None:
                continue
            turn = (j + k * len(layout.staff("prescriber"))) % max(1, len(offices))
            candidates = {
                (ResourceKind.STAFF.value, role): [rid],
                office: offices[turn:] + offices[:turn],
                room: [],
            }
            builder.run_lane(
                rid,
                cycle,
                candidates,
                start=max(builder.opens, shift[0])
                + (OFFICE_HOURS_DELAY if role == "prescriber" else 0),
                gap=OFFICE_GAP_MINUTES,
                lunch=True,
            )
    return builder.slots


# ---------------------------------------------------------------------------------------------
# The plan: patients, their journeys, and the slots they take


@dataclass(slots=True, eq=False)
class _PatientPlan:
    seq: int
    state: str
    historical: bool
    pref_minute: int
    baseline: int  # PHQ-9 at intake
    responder: bool
    floor: float  # a responder's score settles near baseline * floor
    weekday_shift: int = 0  # how far the patient's usual weekdays are from a protocol's
    start_day: dt.date | None = None
    eligible: bool = True
    intake: _Visit | None = None
    busy: set[dt.date] = field(default_factory=set)
    visits: list[_Visit] = field(default_factory=list)
    id: int = 0


@dataclass(slots=True, eq=False)
class _SeriesPlan:
    patient: _PatientPlan
    protocol: str
    planned: int
    booked_at: dt.datetime | None = None
    finished: bool = False  # it ran through all its stages
    dropped: bool = False
    stalled_on: dt.date | None = None  # no slot could be found from this day on
    weekdays: frozenset[int] = frozenset()
    visits: list[_Visit] = field(default_factory=list)
    id: int = 0

    def last_active_day(self) -> dt.date | None:
        days = [v.day for v in self.visits if v.status in ATTENDED_STATUSES or v.status == "booked"]
        return max(days) if days else None


@dataclass(slots=True, eq=False)
class _Visit:
    patient: _PatientPlan
    code: str
    day: dt.date
    slot: _Slot
    start: dt.datetime
    end: dt.datetime
    status: str
    booked_at: dt.datetime
    series: _SeriesPlan | None = None
    index: int | None = None
    changed_at: dt.datetime | None = None  # when it was cancelled or marked a no-show
    late_cancel: bool = False
    reason: str = ""
    makeup: bool = False
    dose_number: int = 0  # the patient's how-manieth attended dosing session
    id: int = 0

    @property
    def active(self) -> bool:
        return self.status not in RELEASED_STATUSES


@dataclass(slots=True)
class _Want:
    """A session a patient's journey asks for: its type and the days it may fall on."""

    code: str
    lo: dt.date
    hi: dt.date
    target: dt.date
    weekdays: frozenset[int] = frozenset()
    series: _SeriesPlan | None = None
    index: int | None = None
    pref: tuple[int, int] | None = None  # (lane, minute) of the series' usual slot
    force: str | None = None  # how it ends if it falls in the past (a patient dropping out)
    after: _Visit | None = None  # the missed visit this one makes up for


_Journey = Generator[_Want, "_Visit | None", None]


@dataclass(slots=True)
class _DayBook:
    slots_by_code: dict[str, list[_Slot]]
    taken: dict[int, _Visit] = field(default_factory=dict)


def _days(n: int) -> dt.timedelta:
    return dt.timedelta(days=n)


class _DemoPlan:
    """Everything the demo will write, decided in memory first."""

    def __init__(
        self,
        catalog: Catalog,
        *,
        seed: int,
        today: dt.date,
        now: dt.datetime,
        weeks_back: int,
        weeks_ahead: int,
        rooms: int,
        caseload: int,
    ) -> None:
        self.rng = random.Random(seed)
        self.seed = seed
        self.today = today
        self.now = now
        self.first_day = today - _days(7 * weeks_back)
        self.last_day = today + _days(7 * weeks_ahead)
        self.weeks_back = weeks_back
        self.settings = _demo_settings(catalog, today)
        self.catalog = Catalog(self.settings, catalog.session_types, catalog.protocols)
        self.types = catalog.session_types
        self.protocols = catalog.protocols
        self.rooms = rooms
        self.caseload = caseload
        self.since = ClinicCalendar(self.settings).at_local(
            self.first_day - _days(7 * WARM_UP_WEEKS + 60), 9 * 60
        )
        self.layout = _build_layout(self.catalog, rooms, 1, 1, self.since)
        self.closure_rows = self._plan_closures()
        spans = [
            ClosureSpan(
                span=Interval(r["starts_at"], r["ends_at"]),
                reason=r["reason"],
                kind=r["kind"],
                resource_id=r["resource_id"],
            )
            for r in self.closure_rows
        ]
        self.calendar = ClinicCalendar(
            self.settings, closures=tuple(spans), shifts=tuple(self.layout.shift_patterns())
        )
        self.closure_days: set[dt.date] = set()
        for span in spans:
            day = self.calendar.local_date(span.span.start)
            while day <= self.calendar.local_date(span.span.end):
                self.closure_days.add(day)
                day += _days(1)
        self.templates = [_weekday_template(self.catalog, self.layout, wd) for wd in range(7)]
        self._day_books: dict[dt.date, _DayBook | None] = {}
        self._open: dict[dt.date, list[Interval]] = {}
        self.patients: list[_PatientPlan] = []
        self.series: list[_SeriesPlan] = []
        self.visits: list[_Visit] = []
        self.unplaced = 0

    # -- describing -------------------------------------------------------------------------------

    def describe(self) -> str:
        slots = sum(len(t) for t in self.templates)
        return (
            f"{self.rooms} rooms ({slots} session slots a week), {self.caseload} patients in "
            f"care, {self.first_day.isoformat()} to {self.last_day.isoformat()}"
        )

    def state_counts(self) -> tuple[tuple[str, int], ...]:
        counts: dict[str, int] = {}
        for p in self.patients:
            if p.id:
                counts[p.state] = counts.get(p.state, 0) + 1
        return tuple(sorted(counts.items()))

    # -- closures ---------------------------------------------------------------------------------

    def _plan_closures(self) -> list[_Row]:
        """A staff-training afternoon every quarter (the latest last week) and a monitor's
        biomedical inspection every half year (the next one next week)."""
        calendar = ClinicCalendar(self.settings)
        rows: list[_Row] = []
        training = self.today - _days((self.today.weekday() - 2) % 7 + 7)  # last week's Wed
        while training >= self.first_day:
            hours = _open_minutes(self.catalog, training.weekday())
            if hours is not None and not calendar.holiday(training) and hours[1] > TRAINING_FROM:
                rows.append(
                    {
                        "resource_id": None,
                        "kind": "closure",
                        "starts_at": calendar.at_local(training, max(hours[0], TRAINING_FROM)),
                        "ends_at": calendar.at_local(training, hours[1]),
                        "reason": "Staff training afternoon: emergency response and airway skills",
                    }
                )
            training -= _days(7 * 13)
        monitors = self.layout.of(ResourceKind.EQUIPMENT, "vital_signs_monitor")
        inspection = self.today + _days((1 - self.today.weekday()) % 7 or 7)  # next Tuesday
        turn = 1
        while inspection >= self.first_day and monitors:
            hours = _open_minutes(self.catalog, inspection.weekday())
            if (
                inspection <= self.last_day
                and hours is not None
                and not calendar.holiday(inspection)
                and hours[0] < INSPECTION_UNTIL
            ):
                rows.append(
                    {
                        "resource_id": monitors[turn % len(monitors)],
                        "kind": "maintenance",
                        "starts_at": calendar.at_local(inspection, hours[0]),
                        "ends_at": calendar.at_local(inspection, INSPECTION_UNTIL),
                        "reason": "Annual biomedical safety inspection",
                    }
                )
            inspection -= _days(7 * 26)
            turn += 1
        rows.sort(key=lambda r: (r["starts_at"], r["resource_id"] or 0))
        for i, row in enumerate(rows, start=1):
            row["id"] = i
        return rows

    # -- days and slots ---------------------------------------------------------------------------

    def _day(self, day: dt.date) -> _DayBook | None:
        if day in self._day_books:
            return self._day_books[day]
        book: _DayBook | None = None
        if self.open_intervals(day):
            template = self.templates[day.weekday()]
            if day in self.closure_days:
                template = [s for s in template if self._slot_open(day, s)]
            by_code: dict[str, list[_Slot]] = {}
            for slot in template:
                by_code.setdefault(slot.code, []).append(slot)
            book = _DayBook(by_code)
        self._day_books[day] = book
        return book

    def _slot_open(self, day: dt.date, slot: _Slot) -> bool:
        """Whether a template slot survives the day's closures (the calendar's own checks)."""
        spec = self.types[slot.code]
        start = self.calendar.at_local(day, slot.minute)
        span = Interval(start, start + dt.timedelta(minutes=spec.total_minutes))
        if self.calendar.unavailable_reason(None, span) is not None:
            return False
        return all(
            self.calendar.unavailable_reason(
                h.resource_id, h.span, is_staff=h.resource_id in self.layout.role
            )
            is None
            for h in session_holds(spec, start, dict(slot.assignment))
        )

    def open_intervals(self, day: dt.date) -> list[Interval]:
        found = self._open.get(day)
        if found is None:
            found = self._open[day] = self.calendar.open_intervals(day)
        return found

    def next_open_day(self, day: dt.date, n: int = 1) -> dt.date:
        for _ in range(n):
            day += _days(1)
            while not self.open_intervals(day):
                day += _days(1)
        return day

    # -- placing one session ----------------------------------------------------------------------

    def _place(self, p: _PatientPlan, want: _Want) -> _Visit | None:
        hi = min(want.hi, self.last_day)
        if hi < want.lo:
            return None
        for day in self._days_to_try(p, want, hi):
            book = self._day(day)
            if book is None:
                continue
            slot = self._pick(book, p, want)
            if slot is not None:
                return self._book(book, day, slot, p, want)
        return None

    def _days_to_try(self, p: _PatientPlan, want: _Want, hi: dt.date) -> list[dt.date]:
        def order(day: dt.date) -> tuple[bool, int, dt.date]:
            off_pattern = bool(want.weekdays) and day.weekday() not in want.weekdays
            return (off_pattern, abs((day - want.target).days), day)

        days = [want.lo + _days(n) for n in range((hi - want.lo).days + 1)]
        return sorted((d for d in days if d not in p.busy), key=order)

    def _pick(self, book: _DayBook, p: _PatientPlan, want: _Want) -> _Slot | None:
        free = [s for s in book.slots_by_code.get(want.code, ()) if s.key not in book.taken]
        if not free:
            return None
        if want.pref is not None:
            lane, minute = want.pref
            return min(free, key=lambda s: (s.lane != lane, abs(s.minute - minute), s.key))
        return min(
            free,
            key=lambda s: (abs(s.minute - p.pref_minute) // 60, (s.lane * 7 + p.seq) % 11, s.key),
        )

    def _book(
        self, book: _DayBook, day: dt.date, slot: _Slot, p: _PatientPlan, want: _Want
    ) -> _Visit:
        spec = self.types[slot.code]
        start = self.calendar.at_local(day, slot.minute)
        end = start + dt.timedelta(minutes=spec.total_minutes)
        series = want.series
        if want.after is not None and want.after.changed_at is not None:
            booked_at = want.after.changed_at + dt.timedelta(minutes=5)
        elif series is not None:
            if series.booked_at is None:
                series.booked_at = self._booking_time(start)
            booked_at = series.booked_at
        else:
            booked_at = self._booking_time(start)
        visit = _Visit(
            patient=p,
            code=slot.code,
            day=day,
            slot=slot,
            start=start,
            end=end,
            status="booked",
            booked_at=booked_at,
            series=series,
            index=want.index,
            makeup=want.after is not None,
        )
        self._settle(visit, spec, want.force)
        if visit.active:
            book.taken[slot.key] = visit
        p.busy.add(day)
        p.visits.append(visit)
        if series is not None:
            series.visits.append(visit)
        self.visits.append(visit)
        return visit

    def _booking_time(self, start: dt.datetime) -> dt.datetime:
        """When the front desk booked a session: some days before it, never after "now"."""
        day = self.calendar.local_date(start) - _days(self.rng.randint(2, 12))
        booked = self.calendar.at_local(day, self.rng.randrange(8 * 60, 17 * 60, 5))
        latest = self.now - dt.timedelta(minutes=self.rng.randrange(30, 48 * 60, 5))
        return min(booked, latest)

    def _settle(self, visit: _Visit, spec: SessionTypeSpec, force: str | None) -> None:
        """How a session went (in the past), is going (now) or stays booked (ahead)."""
        now = self.now
        if visit.end <= now:
            status = force
            if status is None:
                roll = self.rng.random()
                status = (
                    "no_show"
                    if roll < NO_SHOW_RATE
                    else "cancelled"
                    if roll < NO_SHOW_RATE + CANCEL_RATE
                    else "completed"
                )
            visit.status = status
            if status == "cancelled":
                before = dt.timedelta(minutes=self.rng.randrange(60, 72 * 60, 5))
                visit.changed_at = max(visit.start - before, visit.booked_at + _MINUTE * 10)
                late = dt.timedelta(hours=self.settings.late_cancel_hours)
                visit.late_cancel = visit.start - visit.changed_at < late
                visit.reason = (
                    "Patient decided to stop treatment"
                    if force
                    else self.rng.choice(people.CANCEL_REASONS)
                )
            elif status == "no_show":
                visit.changed_at = visit.start + _MINUTE * min(20, spec.total_minutes)
                visit.reason = "Did not arrive; no answer by phone"
        elif visit.start - _MINUTE * EARLY_CHECK_IN_MINUTES <= now:
            visit.status = "in_progress" if now >= _started_at(visit, spec) else "checked_in"

    # -- driving the journeys ---------------------------------------------------------------------

    def simulate(self, say: Progress) -> None:
        current = self._current_caseload()
        self._drive([(p, self._journey(p)) for p in current])
        past = self._past_patients()
        if past:
            say(f"adding {len(past):,} past patients for the longer history")
            self._drive([(p, self._history_journey(p)) for p in past])
        for p in self.patients:
            number = 0
            for v in sorted(p.visits, key=lambda v: v.start):
                if v.status in ATTENDED_STATUSES and self.types[v.code].dosing:
                    number += 1
                    v.dose_number = number
        if self.unplaced:
            say(f"{self.unplaced:,} sessions found no free slot (their series stop there)")
        # The users and settings were there before the first booking.
        first_booking = min((v.booked_at for v in self.visits), default=self.since)
        self.since = min(self.since, first_booking - _days(30))
        for row in self.layout.user_rows:
            row["created_at"] = self.since

    def _drive(self, journeys: list[tuple[_PatientPlan, _Journey]]) -> None:
        """Run the journeys side by side, always placing the earliest wanted session first."""
        queue: list[tuple[int, int, _PatientPlan, _Journey, _Want]] = []
        counter = 0
        for p, journey in journeys:
            want = next(journey, None)
            if want is not None:
                queue.append((want.lo.toordinal(), counter, p, journey, want))
                counter += 1
        heapq.heapify(queue)
        while queue:
            _, _, p, journey, want = heapq.heappop(queue)
            visit = self._place(p, want)
            if visit is None and want.lo <= self.last_day:
                self.unplaced += 1
            try:
                following = journey.send(visit)
            except StopIteration:
                continue
            heapq.heappush(queue, (following.lo.toordinal(), counter, p, journey, following))
            counter += 1

    def _new_patient(self, state: str, historical: bool) -> _PatientPlan:
        rng = self.rng
        hours = _open_minutes(self.catalog, 1) or (8 * 60, 17 * 60)
        p = _PatientPlan(
            seq=len(self.patients),
            state=state,
            historical=historical,
            pref_minute=rng.randrange(hours[0], max(hours[0] + 5, hours[1] - 150), 5),
            baseline=rng.randint(14, 25),
            responder=rng.random() < 0.72,
            floor=rng.uniform(0.2, 0.5),
            weekday_shift=rng.choice(WEEKDAY_SHIFTS),
        )
        self.patients.append(p)
        return p

    def _current_caseload(self) -> list[_PatientPlan]:
        total = sum(w for _, w in STATES)
        shares = [(state, self.caseload * w / total) for state, w in STATES]
        counts = {state: int(share) for state, share in shares}
        if self.caseload >= len(STATES):
            for state in counts:
                counts[state] = max(1, counts[state])
        missing = self.caseload - sum(counts.values())
        by_remainder = sorted(shares, key=lambda s: (-(s[1] - int(s[1])), s[0]))
        i = 0
        while missing != 0 and by_remainder:
            state = by_remainder[i % len(by_remainder)][0]
            if missing > 0:
                counts[state] += 1
                missing -= 1
            elif counts[state] > 1:
                counts[state] -= 1
                missing += 1
            i += 1
        states = [state for state, _ in STATES for _ in range(counts[state])]
        self.rng.shuffle(states)
        return [self._new_patient(state, historical=False) for state in states]

    def _weekly_supply(self) -> dict[str, float]:
        supply: dict[str, float] = {}
        for template in self.templates:
            for slot in template:
                supply[slot.code] = supply.get(slot.code, 0.0) + 1.0
        return supply

    def _protocol_sessions(self, code: str) -> dict[str, float]:
        counts: dict[str, float] = {}
        for stage in self.protocols[code].stages:
            counts[stage.session_type] = counts.get(stage.session_type, 0.0) + stage.count
            if stage.followed_by is not None:
                fb = stage.followed_by.session_type
                counts[fb] = counts.get(fb, 0.0) + stage.count
        return counts

    def _past_patients(self) -> list[_PatientPlan]:
        """Patients who came and (mostly) went before today's caseload, enough to keep the
        clinic about as busy in the past as it is now."""
        if self.weeks_back <= HISTORY_AFTER_WEEKS:
            return []
        demand: dict[str, float] = {}

        def add(counts: Mapping[str, float], weight: float) -> None:
            for code, n in counts.items():
                demand[code] = demand.get(code, 0.0) + n * weight

        total = sum(w for _, w in HISTORY_MIX)
        mix = {kind: w / total for kind, w in HISTORY_MIX}
        boosters = sum(BOOSTER_COUNTS) / len(BOOSTER_COUNTS)
        maintenance = sum(MAINTENANCE_SERIES_COUNTS) / len(MAINTENANCE_SERIES_COUNTS)
        add(self._protocol_sessions(IV_INDUCTION), mix["iv"])
        add(self._protocol_sessions(IV_BOOSTER), mix["iv"] * boosters)
        add(self._protocol_sessions(SPRAVATO_TRD), mix["spravato"])
        add(self._protocol_sessions(SPRAVATO_MAINTENANCE), mix["spravato"] * maintenance)
        add(self._protocol_sessions(SPRAVATO_MDD_SI), mix["mdd"])
        add(self._protocol_sessions(KAP_PROGRAM), mix["kap"])
        add({IV: 1.0, SPRAVATO: 1.0}, mix["dropped"])
        supply = self._weekly_supply()
        per_week = min(
            (supply.get(code, 0.0) / need for code, need in demand.items() if need > 0),
            default=0.0,
        )
        weekly_patients = HISTORY_UTILISATION * per_week
        first = self.first_day - _days(7 * WARM_UP_WEEKS)
        last = self.today - _days(7 * HISTORY_AFTER_WEEKS)
        span = (last - first).days
        count = round(weekly_patients * span / 7)
        kinds = [k for k, _ in HISTORY_MIX]
        weights = [w for _, w in HISTORY_MIX]
        past = []
        for _ in range(count):
            p = self._new_patient(self.rng.choices(kinds, weights)[0], historical=True)
            p.start_day = first + _days(self.rng.randint(0, span))
            past.append(p)
        past.sort(key=lambda p: (p.start_day or self.today, p.seq))
        return past

    # -- journeys ---------------------------------------------------------------------------------

    def _journey(self, p: _PatientPlan) -> _Journey:
        """Today's caseload: each journey is timed so that the patient is in ``p.state`` now."""
        rng = self.rng
        t = self.today

        def ago(a: int, b: int) -> dt.date:
            return t - _days(rng.randint(a, b))

        state = p.state
        if state == "screening_pending":
            return
        if state == "intake_scheduled":
            yield from self._intake(p, t + _days(1), t + _days(12))
        elif state == "intake_done":
            yield from self._intake(p, t - _days(20), t - _days(2))
            p.eligible = rng.random() > 0.25
        elif state == "iv_starting":
            first = t + _days(rng.randint(1, 10))
            yield from self._program(p, IV_INDUCTION, first, first + _days(3), screened_by=t)
        elif state == "iv_induction":
            first = ago(1, 11)
            yield from self._program(p, IV_INDUCTION, first, first + _days(2))
        elif state == "iv_completed":
            first = ago(16, 30)
            series = yield from self._program(p, IV_INDUCTION, first, first + _days(2))
            yield from self._after_induction(p, series, boosters=0)
        elif state == "iv_boosters":
            first = ago(70, 200)
            series = yield from self._program(p, IV_INDUCTION, first, first + _days(3))
            yield from self._after_induction(p, series, boosters=99)
        elif state == "spravato_induction":
            code = SPRAVATO_MDD_SI if rng.random() < 0.25 else SPRAVATO_TRD
            first = ago(0, 24)
            yield from self._program(p, code, first, first + _days(2))
        elif state == "spravato_optimization":
            first = ago(30, 52)
            yield from self._program(p, SPRAVATO_TRD, first, first + _days(2))
        elif state == "spravato_maintenance":
            first = ago(60, 150)
            series = yield from self._program(p, SPRAVATO_TRD, first, first + _days(3))
            yield from self._maintenance(p, series, 99)
        elif state == "kap_program":
            first = ago(3, 30)
            yield from self._program(p, KAP_PROGRAM, first, first + _days(6))
        elif state == "dropped_out":
            code = IV_INDUCTION if rng.random() < 0.6 else SPRAVATO_TRD
            first = ago(8, 35)
            yield from self._program(
                p, code, first, first + _days(2), dropout_after=rng.choice((1, 1, 2))
            )
        elif state == "discharged":
            roll = rng.random()
            if roll < 0.4:
                first = ago(45, 70)
                yield from self._program(p, KAP_PROGRAM, first, first + _days(6))
            elif roll < 0.7:
                first = ago(40, 60)
                yield from self._program(p, SPRAVATO_MDD_SI, first, first + _days(2))
            else:
                first = ago(35, 60)
                yield from self._program(p, IV_INDUCTION, first, first + _days(2))

    def _history_journey(self, p: _PatientPlan) -> _Journey:
        rng = self.rng
        first = p.start_day or self.today
        kind = p.state
        p.state = "history"
        if kind == "iv":
            series = yield from self._program(p, IV_INDUCTION, first, first + _days(4))
            yield from self._after_induction(p, series, boosters=rng.choice(BOOSTER_COUNTS))
        elif kind == "spravato":
            series = yield from self._program(p, SPRAVATO_TRD, first, first + _days(4))
            yield from self._maintenance(p, series, rng.choice(MAINTENANCE_SERIES_COUNTS))
        elif kind == "mdd":
            yield from self._program(p, SPRAVATO_MDD_SI, first, first + _days(4))
        elif kind == "kap":
            yield from self._program(p, KAP_PROGRAM, first, first + _days(7))
        elif kind == "dropped":
            code = IV_INDUCTION if rng.random() < 0.6 else SPRAVATO_TRD
            yield from self._program(
                p, code, first, first + _days(4), dropout_after=rng.choice((1, 1, 2))
            )
        else:
            yield from self._intake(p, first, first + _days(10))
            p.eligible = rng.random() < 0.5

    def _intake(
        self, p: _PatientPlan, lo: dt.date, hi: dt.date
    ) -> Generator[_Want, _Visit | None, _Visit | None]:
        target = lo + _days(self.rng.randint(0, max(0, (hi - lo).days)))
        visit = yield _Want(INTAKE, lo, hi, target)
        if visit is not None and not visit.active:
            again = visit.day + _days(2)
            visit = yield _Want(INTAKE, again, again + _days(10), again, after=visit)
        if visit is not None and visit.status == "completed":
            p.intake = visit
        return visit

    def _program(
        self,
        p: _PatientPlan,
        protocol: str,
        lo: dt.date,
        hi: dt.date,
        *,
        dropout_after: int | None = None,
        screened_by: dt.date | None = None,
    ) -> Generator[_Want, _Visit | None, _SeriesPlan | None]:
        """An intake some days ahead (before ``screened_by``), then the protocol's series, if
        the intake happened."""
        latest = lo - _days(INTAKE_LEAD_DAYS)
        if screened_by is not None:
            latest = min(latest, screened_by - _days(1))
        intake = yield from self._intake(p, latest - _days(self.rng.randint(5, 16)), latest)
        if intake is None or intake.status != "completed":
            return None
        first = max(lo, intake.day + _days(INTAKE_LEAD_DAYS))
        hi = max(hi, first + _days(6))
        return (yield from self._series(p, protocol, first, hi, dropout_after=dropout_after))

    def _series(
        self,
        p: _PatientPlan,
        protocol: str,
        lo: dt.date,
        hi: dt.date,
        *,
        target: dt.date | None = None,
        gap: int | None = None,
        dropout_after: int | None = None,
    ) -> Generator[_Want, _Visit | None, _SeriesPlan]:
        """One series by its protocol.  Consecutive appointments, a missed one included, keep
        the stage's gaps.  A missed session of a stage with a window (an induction) leaves a
        visible gap and the schedule goes on; elsewhere it is made up.  Two misses in a row, or
        a patient who means to drop out, end the series."""
        spec: ProtocolSpec = self.protocols[protocol]
        series = _SeriesPlan(patient=p, protocol=protocol, planned=spec.session_count)
        series.weekdays = self._weekday_pattern(spec, p)
        self.series.append(series)
        index = attended = misses = 0
        last: dt.date | None = None  # the latest appointment, attended or missed
        missed: _Visit | None = None
        pref: tuple[int, int] | None = None
        for stage in spec.stages:
            stage_first: dt.date | None = None
            for _ in range(stage.count):
                index += 1
                while True:
                    if last is None:
                        w_lo, w_hi, w_target = lo, hi, target or lo
                    elif attended == 0 and index == 1:  # the first session, made up
                        w_lo = max(lo, last + _days(1))
                        w_hi, w_target = w_lo + (hi - lo), w_lo
                    else:
                        w_lo = last + _days(stage.min_gap_days)
                        w_hi = last + _days(stage.max_gap_days)
                        step = gap if gap is not None else stage.target_gap_days
                        w_target = min(max(last + _days(step), w_lo), w_hi)
                        if stage_first is not None and stage.window_days is not None:
                            w_hi = min(w_hi, stage_first + _days(stage.window_days - 1))
                    if w_hi < w_lo:
                        break  # the stage's window is used up: on to the next stage
                    force = None
                    if dropout_after is not None and attended >= dropout_after:
                        force = self.rng.choice(("no_show", "cancelled"))
                    visit = yield _Want(
                        stage.session_type,
                        w_lo,
                        w_hi,
                        w_target,
                        weekdays=series.weekdays,
                        series=series,
                        index=index,
                        pref=pref,
                        force=force,
                        after=missed,
                    )
                    if visit is None:
                        series.stalled_on = w_lo
                        series.dropped = w_lo <= self.today
                        return series
                    last = visit.day
                    pref = pref or (visit.slot.lane, visit.slot.minute)
                    if visit.active:
                        attended += 1
                        misses = 0
                        missed = None
                        stage_first = stage_first or visit.day
                        break
                    misses += 1
                    if force is not None or misses >= MAX_MISSES_IN_A_ROW:
                        series.dropped = True
                        return series
                    if stage.window_days is not None:
                        break  # keep the schedule: the missed session stays a visible gap
                    missed = visit  # make it up: a new booking with the same number
                if w_hi < w_lo:
                    break
                if stage.followed_by is not None and missed is None and last is not None:
                    index += 1
                    fb = stage.followed_by
                    f_lo = last + _days(fb.min_days)
                    yield _Want(
                        fb.session_type,
                        f_lo,
                        last + _days(fb.max_days),
                        f_lo,
                        series=series,
                        index=index,
                    )
        series.finished = True
        return series

    def _weekday_pattern(self, spec: ProtocolSpec, p: _PatientPlan) -> frozenset[int]:
        """The protocol's usual weekdays, or the same rhythm moved to other days that suit the
        patient (and on which the clinic offers every session the protocol needs)."""
        default = [WEEKDAYS.index(d) for d in spec.default_weekdays]
        if not default or p.weekday_shift == 0:
            return frozenset(default)
        codes = {s.session_type for s in spec.stages}
        codes |= {s.followed_by.session_type for s in spec.stages if s.followed_by is not None}
        offered = [codes <= {slot.code for slot in template} for template in self.templates]
        days: set[int] = set()
        for day in sorted((d + p.weekday_shift) % 7 for d in default):
            # A day the clinic does not offer moves to the nearest free one that it does.
            for step in (0, -1, 1, -2, 2):
                moved = (day + step) % 7
                if offered[moved] and moved not in days:
                    days.add(moved)
                    break
        return frozenset(days if len(days) == len(default) else default)

    def _after_induction(
        self, p: _PatientPlan, series: _SeriesPlan | None, *, boosters: int
    ) -> _Journey:
        """A booster review with the prescriber, then boosters for as long as they help."""
        if series is None or not series.finished:
            return
        last = series.last_active_day()
        on_complete = self.protocols[series.protocol].stages[-1].on_complete
        if last is None or on_complete is None:
            return
        lo = last + _days(on_complete.min_days)
        target = lo + _days(self.rng.randint(0, 7))
        review = yield _Want(REVIEW, lo, last + _days(on_complete.max_days), target)
        after = review.day if review is not None and review.active else lo
        lo, hi = after + _days(1), after + _days(10)
        for _ in range(boosters):
            booster = yield from self._series(p, IV_BOOSTER, lo, hi, target=lo)
            day = booster.last_active_day()
            oc = self.protocols[IV_BOOSTER].stages[-1].on_complete
            if not booster.finished or day is None or oc is None:
                return
            # Boosters come in the later half of the booster-review window.
            lo = day + _days((oc.min_days + oc.max_days) // 2)
            hi = day + _days(oc.max_days)

    def _maintenance(self, p: _PatientPlan, series: _SeriesPlan | None, count: int) -> _Journey:
        """Spravato maintenance after induction: series after series, weekly or fortnightly."""
        if series is None or not series.finished:
            return
        last = series.last_active_day()
        stage = self.protocols[SPRAVATO_MAINTENANCE].stages[0]
        weekly = self.rng.random() < 0.3
        gap = min(
            max(7 if weekly else stage.target_gap_days, stage.min_gap_days), stage.max_gap_days
        )
        for _ in range(count):
            if last is None:
                return
            lo, hi = last + _days(stage.min_gap_days), last + _days(stage.max_gap_days)
            target = min(max(last + _days(gap), lo), hi)
            following = yield from self._series(
                p, SPRAVATO_MAINTENANCE, lo, hi, target=target, gap=gap
            )
            if not following.finished:
                return
            last = following.last_active_day()


_MINUTE = dt.timedelta(minutes=1)


def _started_at(visit: _Visit, spec: SessionTypeSpec) -> dt.datetime:
    """When a session moves from checked in to in progress: after its first phase, if it has
    more than one (check-in and vitals), else at its start."""
    first = spec.phases[0].minutes if len(spec.phases) > 1 else 0
    return visit.start + _MINUTE * first


# ---------------------------------------------------------------------------------------------
# Writing the rows


def _table(model: type[Any]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


_ID_TABLES: tuple[Table, ...] = tuple(
    _table(m)
    for m in (
        Resource,
        StaffShift,
        Closure,
        User,
        Patient,
        Series,
        Appointment,
        AppointmentEvent,
        ResourceHold,
        FollowUp,
        FollowUpAttempt,
        Measurement,
        AuditEvent,
    )
)
_TABLES = {t.name: t for t in (*_ID_TABLES, _table(StaffMember))}
_VISIT_TABLES = (
    "appointment",
    "resource_hold",
    "appointment_event",
    "follow_up",
    "follow_up_attempt",
    "measurement",
)
_CHUNK = 10_000
STALE_FOLLOW_UP_DAYS = 30  # older open follow-ups were closed when the patient was discharged


class _SqliteRows:
    """Bulk inserts on SQLite straight through the driver's executemany.

    The values go through the columns' own SQLAlchemy bind processors, so they are stored
    exactly as an ORM insert would store them; skipping SQLAlchemy's per-row parameter
    handling (and remembering the clinic's many repeated instants) makes a five-year clinic
    several times faster to write.
    """

    def __init__(self, session: Session) -> None:
        self.connection = session.connection()
        self.dialect = self.connection.dialect
        self.prepared: dict[
            tuple[str, tuple[str, ...]], tuple[str, list[str], list[Callable[[Any], Any]]]
        ] = {}

    def __call__(self, table: Table, rows: list[_Row]) -> None:
        key = (table.name, tuple(rows[0]))
        if key not in self.prepared:
            self.prepared[key] = self._prepare(table, key[1])
        sql, names, processors = self.prepared[key]
        # Column by column: most values need no conversion, and zip() does the rest in C.
        columns = [[row[name] for row in rows] for name in names]
        for i, process in enumerate(processors):
            if process is not _same:
                columns[i] = [process(value) for value in columns[i]]
        self.connection.exec_driver_sql(sql, list(zip(*columns, strict=True)))

    def _prepare(
        self, table: Table, columns: tuple[str, ...]
    ) -> tuple[str, list[str], list[Callable[[Any], Any]]]:
        statement = insert(table).values({c: bindparam(c) for c in columns})
        compiled = statement.compile(dialect=self.dialect)
        names = list(compiled.positiontup or ())
        if sorted(names) != sorted(columns):
            raise RuntimeError(f"cannot prepare the insert into {table.name}: {names}")
        processors: list[Callable[[Any], Any]] = []
        for name in names:
            column_type = table.c[name].type
            process = column_type.dialect_impl(self.dialect).bind_processor(self.dialect)
            if process is None:
                processors.append(_same)
            elif isinstance(column_type, UTCDateTime):
                processors.append(_remembering(_quick_instants(process)))
            else:
                processors.append(process)
        return str(compiled), names, processors


def _same(value: Any) -> Any:
    return value


def _quick_instants(process: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A faster twin of SQLite's storage of an aware instant (naive UTC text), used only when
    it gives exactly what SQLAlchemy's own processor gives on a few probes."""

    def quick(value: dt.datetime | None) -> str | None:
        if value is None:
            return None
        text_ = value.astimezone(dt.UTC).replace(tzinfo=None).isoformat(" ")
        return text_ if len(text_) > 19 else text_ + ".000000"

    probes = [
        dt.datetime(2025, 11, 27, 17, 30, tzinfo=dt.UTC),
        dt.datetime(2024, 3, 10, 1, 59, 59, 123456, tzinfo=dt.UTC),
        dt.datetime(2024, 11, 3, 1, 30, tzinfo=dt.timezone(dt.timedelta(hours=-7))),
    ]
    if all(quick(v) == process(v) for v in probes):
        return quick
    return process


def _remembering(process: Callable[[Any], Any]) -> Callable[[Any], Any]:
    seen: dict[Any, Any] = {}

    def remembered(value: Any) -> Any:
        if value is None:
            return None
        found = seen.get(value)
        if found is None:
            found = seen[value] = process(value)
        return found

    return remembered


def _codes(session: Session, model: type[SessionType] | type[Protocol]) -> dict[str, int]:
    return {row.code: row.id for row in session.execute(select(model.code, model.id))}


@dataclass(slots=True)
class _Task:
    """A follow-up being written: what, for whom, when it is due."""

    visit: _Visit
    kind: str
    role: str
    assignee: int | None
    due: dt.datetime
    deadline: dt.datetime | None
    priority: str = "normal"


class _Writer:
    """Turns the plan into rows and bulk-inserts them, parents before children."""

    def __init__(self, plan: _DemoPlan, session: Session, say: Progress) -> None:
        self.plan = plan
        self.session = session
        self.say = say
        self.rng = random.Random(plan.seed * 7919 + 1)
        self.calendar = plan.calendar
        self.now = plan.now
        self.today = plan.today
        self.layout = plan.layout
        self.counts: dict[str, int] = dict.fromkeys([*_TABLES, "open_follow_up"], 0)
        self.next_id: dict[str, int] = {}
        self.type_ids: dict[str, int] = {}
        self.protocol_ids: dict[str, int] = {}
        self.buffers: dict[str, list[_Row]] = {}
        self.created: dict[int, dt.datetime] = {}
        self.urgent: _Visit | None = None
        bind = session.get_bind()
        self.fast = _SqliteRows(session) if bind.dialect.name == "sqlite" else None

    # -- plumbing ----------------------------------------------------------------------------

    def _id(self, table: str) -> int:
        value = self.next_id.get(table, 1)
        self.next_id[table] = value + 1
        return value

    def _add(self, table: str, row: _Row) -> None:
        self.buffers.setdefault(table, []).append(row)

    def _flush(self, *order: str) -> None:
        for name in order:
            rows = self.buffers.pop(name, None)
            if not rows:
                continue
            if self.fast is not None:
                self.fast(_TABLES[name], rows)
            else:
                self.session.execute(insert(_TABLES[name]), rows)
            self.counts[name] = self.counts.get(name, 0) + len(rows)

    def _insert(self, name: str, rows: Iterable[_Row]) -> None:
        for row in rows:
            self._add(name, row)
            if len(self.buffers[name]) >= _CHUNK:
                self._flush(name)
        self._flush(name)

    # -- the whole clinic --------------------------------------------------------------------

    def write_all(self) -> dict[str, int]:
        session = self.session
        for table in _ID_TABLES:
            top = session.scalar(select(func.max(table.c.id)))
            self.next_id[table.name] = (top or 0) + 1
        self.type_ids = _codes(session, SessionType)
        self.protocol_ids = _codes(session, Protocol)
        self._write_settings()
        layout = self.layout
        self._insert("resource", layout.resource_rows)
        self._insert("staff_member", layout.staff_rows)
        self._insert("staff_shift", self._renumbered("staff_shift", layout.shift_rows))
        demo_users.set_demo_passwords(layout.user_rows)
        self._insert("app_user", layout.user_rows)
        self._insert("closure", self._renumbered("closure", self.plan.closure_rows))
        patients, series, visits = self._number_rows()
        self.say(f"writing {len(patients):,} patients and {len(visits):,} appointments")
        self._insert("patient", (self._patient_row(p) for p in patients))
        self._insert("series", (self._series_row(s) for s in series))
        self._choose_urgent(visits)
        for visit in visits:
            self._visit_rows(visit)
            if len(self.buffers.get("appointment", ())) >= _CHUNK // 2:
                self._flush(*_VISIT_TABLES)
        for s in series:
            self._series_follow_up(s)
        self._flush(*_VISIT_TABLES)
        self._insert("audit_event", [self._audit_row(len(patients), len(visits))])
        self.counts["past"] = sum(1 for v in visits if v.day < self.today)
        self.counts["today"] = sum(1 for v in visits if v.day == self.today)
        self.counts["future"] = sum(1 for v in visits if v.day > self.today)
        return self.counts

    def _renumbered(self, table: str, rows: list[_Row]) -> list[_Row]:
        return [{**row, "id": self._id(table)} for row in rows]

    def _write_settings(self) -> None:
        session = self.session
        clinic = dict(session.get_one(ClinicSetting, "clinic").value)
        clinic.update(CLINIC)
        session.execute(
            update(ClinicSetting).where(ClinicSetting.key == "clinic").values(value=clinic)
        )
        certified = self.plan.settings.rems_site_certified_until
        rems_row = session.get(ClinicSetting, "rems")
        if rems_row is None:
            rems = {"site_certified_until": certified}
            session.execute(insert(ClinicSetting).values(key="rems", value=rems))
        else:
            rems = {**rems_row.value, "site_certified_until": certified}
            session.execute(
                update(ClinicSetting).where(ClinicSetting.key == "rems").values(value=rems)
            )
        # The same seed and day give the same database: the settings carry the demo's clock.
        session.execute(update(ClinicSetting).values(updated_at=self.plan.since))

    # -- numbering ---------------------------------------------------------------------------

    def _number_rows(self) -> tuple[list[_PatientPlan], list[_SeriesPlan], list[_Visit]]:
        plan = self.plan
        visits = [v for v in plan.visits if plan.first_day <= v.day <= plan.last_day]
        visits.sort(key=lambda v: (v.start, v.slot.lane, v.slot.key, v.status))
        for v in visits:
            v.id = self._id("appointment")
        kept = {id(v.series): v.series for v in visits if v.series is not None}
        series = sorted(
            kept.values(), key=lambda s: (min(v.id for v in s.visits if v.id), s.patient.seq)
        )
        for s in series:
            s.id = self._id("series")
        shown = {id(v.patient) for v in visits}
        patients = [p for p in plan.patients if not p.historical or id(p) in shown]
        self.created = {id(p): self._created_at(p) for p in patients}
        patients.sort(key=lambda p: (self.created[id(p)], p.seq))
        for p in patients:
            p.id = self._id("patient")
        return patients, series, visits

    def _created_at(self, p: _PatientPlan) -> dt.datetime:
        if p.visits:
            first = min(v.booked_at for v in p.visits)
            return first - _MINUTE * self.rng.randrange(60, 4 * 24 * 60, 5)
        day = self.today - _days(self.rng.randint(0, 10))
        registered = self.calendar.at_local(day, self.rng.randrange(8 * 60, 17 * 60, 5))
        return min(registered, self.now - _MINUTE * 30)

    # -- patients and series -----------------------------------------------------------------

    def _phone(self, area: str) -> str:
        return f"({area}) 555-01{self.rng.randint(0, 99):02d}"

    def _patient_row(self, p: _PatientPlan) -> _Row:
        rng = self.rng
        first, last = rng.choice(people.FIRST_NAMES), rng.choice(people.LAST_NAMES)
        city, zip_code, area = rng.choice(people.PLACES)
        relative_last = last if rng.random() < 0.7 else rng.choice(people.LAST_NAMES)
        relative = f"{rng.choice(people.FIRST_NAMES)} {relative_last}"
        row: _Row = {
            "id": p.id,
            "chart_number": f"{CHART_PREFIX}{FIRST_CHART_NUMBER + p.id - 1}",
            "first_name": first,
            "last_name": last,
            "preferred_name": "",
            "date_of_birth": self.today - _days(rng.randint(19 * 365, 74 * 365)),
            "phone": self._phone(area),
            "email": f"{_ascii(first)}.{_ascii(last)}{rng.randint(1, 99)}@example.com",
            "address": f"{rng.randint(100, 9999)} {rng.choice(people.STREETS)}\n"
            f"{city}, CA {zip_code}",
            "emergency_contact_name": relative,
            "emergency_contact_phone": self._phone(area),
            "screening_status": "pending",
            "screening_cleared_on": None,
            "screening_cleared_by_id": None,
            "consent_signed_on": None,
            "rems_enrolled_on": None,
            "rems_patient_id": "",
            "prior_auth_number": "",
            "prior_auth_expires_on": None,
            "prior_auth_sessions": None,
            "driver_name": "",
            "driver_phone": "",
            "contraindications": "",
            "notes": "",
            "active": True,
            "created_at": self.created[id(p)],
        }
        intake = p.intake
        if intake is None:
            return row
        row["screening_status"] = "cleared" if p.eligible else "not_eligible"
        row["screening_cleared_on"] = intake.day
        row["screening_cleared_by_id"] = intake.slot.clinician
        if not p.eligible:
            row["notes"] = "Not eligible at screening: uncontrolled hypertension; back to PCP."
            return row
        row["consent_signed_on"] = intake.day
        if rng.random() < 0.6:
            row["driver_name"], row["driver_phone"] = relative, row["emergency_contact_phone"]
        else:
            row["driver_name"] = f"{rng.choice(people.FIRST_NAMES)} {rng.choice(people.LAST_NAMES)}"
            row["driver_phone"] = self._phone(area)
        if rng.random() < 0.1:
            row["contraindications"] = rng.choice(people.CONTRAINDICATIONS)
        if rng.random() < 0.12:
            row["notes"] = rng.choice(people.PATIENT_NOTES)
        spravato = [v for v in p.visits if v.code == SPRAVATO]
        if spravato:
            row["rems_enrolled_on"] = intake.day
            row["rems_patient_id"] = f"RP{rng.randint(1_000_000, 9_999_999)}"
            row["prior_auth_number"] = f"PA-{rng.randint(100_000, 999_999)}"
            last_day = max(max(v.day for v in spravato), self.today)
            row["prior_auth_expires_on"] = last_day + _days(rng.randint(30, 150))
            row["prior_auth_sessions"] = sum(v.active for v in spravato) + rng.randint(2, 10)
        if p.historical and max(v.day for v in p.visits) < self.today - _days(180):
            row["active"] = False
        return row

    def _series_status(self, s: _SeriesPlan) -> str:
        statuses = {v.status for v in s.visits if v.active}
        if s.dropped or not statuses:
            return "dropped"
        if s.finished and statuses == {"completed"}:
            return "completed"
        return "active" if statuses & ATTENDED_STATUSES else "planned"

    def _series_row(self, s: _SeriesPlan) -> _Row:
        first = min(s.visits, key=lambda v: v.start)
        minute = first.slot.minute
        preferences: _Row = {
            "weekdays": [WEEKDAYS[d] for d in sorted(s.weekdays)],
            "time": f"{minute // 60:02d}:{minute % 60:02d}",
        }
        if first.slot.room_id is not None:
            preferences["room_id"] = first.slot.room_id
        return {
            "id": s.id,
            "patient_id": s.patient.id,
            "protocol_id": self.protocol_ids[s.protocol],
            "status": self._series_status(s),
            "planned_count": s.planned,
            "preferences": preferences,
            "created_at": s.booked_at or first.booked_at,
        }

    # -- appointments ------------------------------------------------------------------------

    def _user(self, staff_id: int | None, role: str) -> int:
        if staff_id is not None and staff_id in self.layout.user_of:
            return self.layout.user_of[staff_id]
        users = self.layout.users_of_role(role)
        return users[0] if users else self.layout.admin_user

    def _front_desk(self) -> int:
        users = self.layout.users_of_role("front_desk")
        return self.rng.choice(users) if users else self.layout.admin_user

    def _visit_rows(self, v: _Visit) -> None:
        spec = self.plan.types[v.code]
        events = self._events(v, spec)
        checklist: _Row = {}
        if spec.dosing and v.status in ATTENDED_STATUSES:
            checklist = {"fasting_confirmed": True, "driver_confirmed": True, "vitals_taken": True}
        in_series = v.series is not None and v.series.id > 0
        self._add(
            "appointment",
            {
                "id": v.id,
                "patient_id": v.patient.id,
                "series_id": v.series.id if v.series is not None and in_series else None,
                "series_index": v.index if in_series else None,
                "session_type_id": self.type_ids[v.code],
                "room_id": v.slot.room_id,
                "starts_at": v.start,
                "ends_at": v.end,
                "status": v.status,
                "late_cancel": v.late_cancel,
                "checklist": checklist,
                "notes": v.reason,
                "version": len(events),
                "created_at": v.booked_at,
                "updated_at": max(e["at"] for e in events),
            },
        )
        for event in events:
            self._add("appointment_event", event)
        for hold in session_holds(spec, v.start, dict(v.slot.assignment)):
            self._add(
                "resource_hold",
                {
                    "id": self._id("resource_hold"),
                    "appointment_id": v.id,
                    "resource_id": hold.resource_id,
                    "need": hold.need,
                    "mode": hold.mode.value,
                    "exclusive": hold.exclusive,
                    "units": hold.units,
                    "starts_at": hold.span.start,
                    "ends_at": hold.span.end,
                    "active": v.active,
                },
            )
        self._follow_ups(v, spec)

    def _events(self, v: _Visit, spec: SessionTypeSpec) -> list[_Row]:
        """The status history a real day at the desk would have left."""
        events: list[_Row] = []

        def event(at: dt.datetime, user: int, action: str, to: str, why: str = "") -> None:
            before = events[-1]["to_status"] if events else None
            events.append(
                {
                    "id": self._id("appointment_event"),
                    "appointment_id": v.id,
                    "at": at,
                    "user_id": user,
                    "action": action,
                    "from_status": before,
                    "to_status": to,
                    "reason": why,
                    "detail": {},
                }
            )

        event(v.booked_at, self._front_desk(), "book", "booked", "make-up" if v.makeup else "")
        clinician = self._user(v.slot.clinician, "nurse")
        if v.status in ATTENDED_STATUSES:
            arrived = v.start - _MINUTE * self.rng.randint(2, EARLY_CHECK_IN_MINUTES)
            event(min(arrived, self.now), self._front_desk(), "check_in", "checked_in")
            if v.status != "checked_in":
                event(_started_at(v, spec), clinician, "start", "in_progress")
            if v.status == "completed":
                event(v.end, clinician, "complete", "completed")
        elif v.status in RELEASED_STATUSES and v.changed_at is not None:
            action = "cancel" if v.status == "cancelled" else "no_show"
            event(v.changed_at, self._front_desk(), action, v.status, v.reason)
        return events

    # -- follow-ups and measurements ---------------------------------------------------------

    def _follow_up(
        self,
        task: _Task,
        created: dt.datetime,
        *,
        done_at: dt.datetime | None = None,
        outcome: str = "",
        status: str = "",
    ) -> int:
        fid = self._id("follow_up")
        status = status or ("done" if done_at is not None else "open")
        if status == "open" and (task.deadline or task.due) < self.now - _days(
            STALE_FOLLOW_UP_DAYS
        ):
            status, outcome = "cancelled", "Closed at discharge"
        if status == "open":
            self.counts["open_follow_up"] += 1
        self._add(
            "follow_up",
            {
                "id": fid,
                "patient_id": task.visit.patient.id,
                "appointment_id": task.visit.id,
                "kind": task.kind,
                "due_at": task.due,
                "deadline_at": task.deadline,
                "assignee_role": task.role,
                "assignee_id": task.assignee,
                "priority": task.priority,
                "status": status,
                "outcome": outcome,
                "snoozed_until": None,
                "completed_at": done_at if status == "done" else None,
                "completed_by_id": self._user(task.assignee, task.role)
                if status == "done"
                else None,
                "created_at": min(created, task.due),
            },
        )
        return fid

    def _day_hours(self, day: dt.date) -> tuple[dt.datetime, dt.datetime]:
        intervals = self.plan.open_intervals(day)
        if intervals:
            return intervals[0].start, intervals[-1].end
        bounds = self.calendar.day_bounds(day)
        return bounds.start, bounds.end

    def _follow_ups(self, v: _Visit, spec: SessionTypeSpec) -> None:
        """The session type's follow-up rules, as the clinic would have worked them off."""
        if v.code == INTAKE and v.status == "completed":
            self._measure(v, v.start + _MINUTE * 15, self._user(v.slot.clinician, "prescriber"))
        staff = {self.layout.role.get(r): r for _, r in v.slot.assignment}
        for rule in spec.followups:
            task = _Task(
                v, rule.kind, rule.assignee_role, staff.get(rule.assignee_role), v.start, v.start
            )
            if rule.before_session:
                self._before_session(task)
            elif v.status != "completed":
                continue
            elif rule.business_days is not None:
                self._next_day_call(task, rule.business_days)
            elif rule.calendar_days is not None:
                self._form(task, rule.calendar_days)
            elif rule.min_days is not None or rule.max_days is not None:
                low = rule.min_days or 0
                self._after_days(task, low, rule.max_days or low)

    def _before_session(self, task: _Task) -> None:
        """A measure taken at check-in: done for sessions attended, open for today's."""
        v = task.visit
        taken = min(v.start - _MINUTE * 5, self.now)
        if v.status in ATTENDED_STATUSES and (v is self.urgent or self.rng.random() > 0.04):
            self._follow_up(task, v.booked_at, done_at=taken, outcome="Collected at check-in")
            self._measure(v, taken, self._user(task.assignee, task.role))
        elif v.status in ATTENDED_STATUSES:
            self._follow_up(task, v.booked_at)  # missed: overdue (or closed, when long ago)
        elif v.status == "booked" and v.day >= self.today:
            self._follow_up(task, v.booked_at)  # owed since booking (services.followups)

    def _next_day_call(self, task: _Task, business_days: int) -> None:
        rng, v = self.rng, task.visit
        day = self.plan.next_open_day(v.day, business_days)
        task.due, task.deadline = self._day_hours(day)
        reached = task.due + _MINUTE * rng.randrange(15, 240, 5)
        tried = task.due + _MINUTE * rng.randrange(5, 60, 5)
        retry = rng.random() < 0.2
        unreached = 0 < (self.today - day).days <= 5 and rng.random() < 0.1
        if reached > self.now or unreached:
            called = tried <= self.now and (retry or unreached)
            if called:  # an unreached call is due again later (services.followups)
                hours = self.plan.settings.followups.retry_hours
                task.due = reattempt_at(self.calendar, tried, hours)
            fid = self._follow_up(task, v.end)
            if called:
                self._attempt(fid, tried, task, rng.choice(("no_answer", "voicemail")))
            return
        outcome = rng.choice(people.CALL_OUTCOMES)
        fid = self._follow_up(task, v.end, done_at=reached, outcome=outcome)
        if retry:
            self._attempt(fid, tried, task, "no_answer")
        self._attempt(fid, reached, task, "reached")

    def _attempt(self, follow_up: int, at: dt.datetime, task: _Task, result: str) -> None:
        self._add(
            "follow_up_attempt",
            {
                "id": self._id("follow_up_attempt"),
                "follow_up_id": follow_up,
                "at": at,
                "user_id": self._user(task.assignee, task.role),
                "result": result,
                "notes": "" if result == "reached" else "Left a message to call back",
            },
        )

    def _form(self, task: _Task, days: int) -> None:
        v = task.visit
        task.due = v.end
        task.deadline = self.calendar.day_bounds(v.day + _days(days)).end
        done = v.end + _MINUTE * self.rng.randrange(20, 3 * 24 * 60, 5)
        late = v.day >= self.today - _days(14) and self.rng.random() < 0.08
        if done > self.now or late:
            self._follow_up(task, v.end)
        else:
            self._follow_up(task, v.end, done_at=done, outcome="Submitted to the REMS portal")

    def _after_days(self, task: _Task, low: int, high: int) -> None:
        """A session that should follow within some days (integration after a KAP session)."""
        v = task.visit
        # Due from the first open day that many days on, at the latest by the end of the window
        # (services.followups' window).
        task.deadline = self.calendar.day_bounds(v.day + _days(high)).end
        first = self._day_hours(self.plan.next_open_day(v.day + _days(low - 1)))[0]
        task.due = min(first, task.deadline)
        follow = min(
            (
                w
                for w in v.patient.visits
                if w.code == task.kind and w.active and v.day < w.day <= v.day + _days(high)
            ),
            key=lambda w: w.start,
            default=None,
        )
        if follow is not None and follow.status == "completed":
            self._follow_up(task, v.end, done_at=follow.end, outcome="Session held")
        else:
            self._follow_up(task, v.end)

    def _series_follow_up(self, s: _SeriesPlan) -> None:
        """A completed series' own follow-up (a booster review after an IV induction)."""
        on_complete = self.plan.protocols[s.protocol].stages[-1].on_complete
        if on_complete is None or self._series_status(s) != "completed":
            return
        last = max((v for v in s.visits if v.active), key=lambda v: v.start)
        final = max(s.visits, key=lambda v: (v.index, v.start))
        if not last.id or final.status != "completed":  # last place missed: not over
            return
        p = s.patient
        prescriber = p.intake.slot.clinician if p.intake is not None else None
        task = _Task(
            last,
            on_complete.followup,
            self.plan.settings.followups.series_review_role,
            prescriber,
            self._day_hours(self.plan.next_open_day(last.day + _days(on_complete.min_days - 1)))[0],
            self.calendar.day_bounds(last.day + _days(on_complete.max_days)).end,
        )
        seen = [
            v.end
            for v in p.visits
            if v.code in (REVIEW, IV) and v.day > last.day and v.status == "completed"
        ]
        if seen:
            self._follow_up(task, last.end, done_at=min(seen), outcome="Reviewed with the patient")
        else:
            self._follow_up(task, last.end)

    def _choose_urgent(self, visits: Sequence[_Visit]) -> None:
        """The latest attended dosing session of today's caseload gets a PHQ-9 with a positive
        item 9 (thoughts of self-harm): an urgent review for the prescriber, still open."""
        candidates = [
            v
            for v in visits
            if v.status in ATTENDED_STATUSES
            and not v.patient.historical
            and any(r.before_session for r in self.plan.types[v.code].followups)
        ]
        self.urgent = max(candidates, key=lambda v: (v.start, v.id), default=None)

    def _measure(self, v: _Visit, taken: dt.datetime, user: int) -> None:
        """A PHQ-9: the baseline at intake, then falling for responders, flat for the rest."""
        rng, p = self.rng, v.patient
        if v.code == INTAKE:
            score = p.baseline
        elif p.responder:
            settle = p.floor + (1 - p.floor) * math.exp(-v.dose_number / 4)
            score = round(p.baseline * settle) + rng.randint(-2, 2)
        else:
            score = p.baseline - v.dose_number // 4 + rng.randint(-2, 2)
        # Item 9 (thoughts of self-harm) stays 0 but for the few who need an urgent review.
        item9 = 1 if v is self.urgent or (v.code == INTAKE and rng.random() < 0.1) else 0
        score = min(24 + item9, max(10 * item9, score))
        items = [0] * 8 + [item9]
        rest = score - item9
        while rest > 0:
            i = rng.randrange(8)
            if items[i] < 3:
                items[i] += 1
                rest -= 1
        self._add(
            "measurement",
            {
                "id": self._id("measurement"),
                "patient_id": p.id,
                "appointment_id": v.id,
                "instrument": "phq9",
                "score": score,
                "items": items,
                "taken_at": taken,
                "entered_by_id": user,
            },
        )
        if item9:
            prescriber = v.slot.clinician if v.code == INTAKE else None
            due = taken + _MINUTE * 5
            task = _Task(v, "urgent_review", "prescriber", prescriber, due, due + _MINUTE * 120)
            task.priority = "urgent"
            if v is self.urgent:
                self._follow_up(task, taken)
            else:
                outcome = "C-SSRS: passive thoughts, no plan or intent; safety plan reviewed"
                self._follow_up(task, taken, done_at=v.end, outcome=outcome)

    def _audit_row(self, patients: int, appointments: int) -> _Row:
        return {
            "id": self._id("audit_event"),
            "at": self.now,
            "user_id": None,
            "username": "system",
            "action": "build_demo",
            "entity": "clinic",
            "entity_id": None,
            "patient_id": None,
            "before": None,
            "after": {"seed": self.plan.seed, "today": self.today.isoformat()},
            "detail": f"demo clinic built: {patients} patients, {appointments} appointments",
        }
