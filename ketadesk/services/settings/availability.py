"""Closures, staff time off and rooms or equipment out of service; and the public holidays the
clinic closes on.

A ``Closure`` row with no resource closes the whole clinic (a training day, a half day with a
reason); with a resource it is staff time off (``time_off``) or a room or a piece of equipment
out of service (``maintenance``).  Any of them may repeat (scheduling/closure_repeats.py): the
same hours every day, or on chosen weekdays, from its first day to its last, as one row.
Every change here is the administrator's ("configure"): it takes people and machines out of the
schedule, so the sessions it breaks are moved through
``consequences.py`` (the usual way in, which shows them first); the plain ``add_closure`` is for
a stretch with nothing booked in it.

Which public holidays close the clinic is kept in the configuration's ``[clinic]`` section:
``holiday_subdivision`` (a state) and ``holidays_closed`` (the holiday names; absent = all),
which the clinic calendar honours (scheduling/calendar.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from ketadesk.scheduling.calendar import Interval
from ketadesk.scheduling.closure_repeats import (
    NO_REPEAT,
    Repeat,
    daily_hours,
    parse_rule,
    repeat_days,
    repeat_problems,
)
from ketadesk.scheduling.dates import short_date
from ketadesk.services.access import audit
from ketadesk.services.access.permissions import require
from ketadesk.services.common.context import Actor, InvalidFields, NotFound, utcnow
from ketadesk.store import changes
from ketadesk.store.clinic_config import load_catalog
from ketadesk.store.database import Database
from ketadesk.store.models import ClinicSetting, Closure, Resource

#: Kinds of closure: a whole clinic one (holiday, closure) or a resource's (time off for staff,
#: maintenance for rooms and equipment).
CLINIC_KINDS = ("closure", "holiday")
RESOURCE_KINDS = ("time_off", "maintenance")
KINDS = CLINIC_KINDS + RESOURCE_KINDS
KIND_LABELS = {
    "closure": "Clinic closed",
    "holiday": "Holiday",
    "time_off": "Time off",
    "maintenance": "Out of service",
}
REASON_MAX = 200  # the column's length


@dataclass(frozen=True, slots=True)
class Unavailability:
    """A stretch to close: the clinic (``resource_id`` None) or one resource."""

    kind: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    reason: str
    resource_id: int | None = None
    #: Repeating: the same hours each day (or each chosen weekday) from ``starts_at``'s day
    #: to ``ends_at``'s, ``starts_at``'s time to ``ends_at``'s.
    repeat: Repeat = NO_REPEAT


@dataclass(frozen=True, slots=True)
class ClosureRow:
    id: int
    kind: str
    resource_id: int | None
    resource_name: str  # "" for the whole clinic
    starts_at: dt.datetime
    ends_at: dt.datetime
    reason: str
    repeat: Repeat = NO_REPEAT

    @property
    def kind_label(self) -> str:
        return KIND_LABELS.get(self.kind, self.kind)


@dataclass(frozen=True, slots=True)
class HolidayChoice:
    day: dt.date
    name: str
    closed: bool


def closure_state(row: Closure) -> dict[str, Any]:
    state: dict[str, Any] = {
        "kind": row.kind,
        "resource_id": row.resource_id,
        "starts_at": row.starts_at.isoformat(),
        "ends_at": row.ends_at.isoformat(),
        "reason": row.reason,
    }
    if row.repeat_rule:
        state["repeat"] = row.repeat_rule
    return state


def list_closures(
    db: Database, *, since: dt.datetime | None = None, now: dt.datetime | None = None
) -> list[ClosureRow]:
    """Closures ending after ``since`` (default: now), earliest first."""
    since = since or now or utcnow()
    with db.read() as session:
        rows = session.execute(
            select(Closure, Resource.name)
            .outerjoin(Resource, Resource.id == Closure.resource_id)
            .where(Closure.ends_at > since)
            .order_by(Closure.starts_at, Closure.id)
        ).all()
        return [
            ClosureRow(
                c.id,
                c.kind,
                c.resource_id,
                name or "",
                c.starts_at,
                c.ends_at,
                c.reason,
                parse_rule(c.repeat_rule),
            )
            for c, name in rows
        ]


@dataclass(frozen=True, slots=True)
class ResourceChoice:
    id: int
    name: str
    is_staff: bool


def resource_choices(db: Database) -> list[ResourceChoice]:
    """The active rooms, equipment and staff a closure may name, in the clinic's order."""
    with db.read() as session:
        rows = session.execute(
            select(Resource.id, Resource.name, Resource.kind)
            .where(Resource.active.is_(True))
            .order_by(Resource.kind, Resource.sort_order, Resource.name)
        ).all()
    return [ResourceChoice(rid, name, kind == "staff") for rid, name, kind in rows]


def resource_by_name(session: Session, name: str) -> Resource | None:
    return session.scalar(select(Resource).where(Resource.name == name.strip()))


def check(session: Session, proposed: Unavailability) -> Resource | None:
    """Refuse a bad closure, naming each field; returns its resource (None: the clinic)."""
    errors: dict[str, str] = {}
    if proposed.kind not in KINDS:
        errors["kind"] = f"must be one of {', '.join(KINDS)}"
    if proposed.starts_at.tzinfo is None or proposed.ends_at.tzinfo is None:
        errors["starts_at"] = "needs a time zone"
    elif proposed.ends_at <= proposed.starts_at:
        errors["ends_at"] = "must be after the start"
    if not proposed.reason.strip():
        errors["reason"] = "say why (it is shown on the schedule and to the patients called)"
    elif len(proposed.reason.strip()) > REASON_MAX:
        errors["reason"] = f"at most {REASON_MAX} characters"
    resource = None
    if proposed.resource_id is not None:
        resource = session.get(Resource, proposed.resource_id)
        if resource is None:
            errors["resource"] = f"no resource #{proposed.resource_id}"
        elif proposed.kind == "time_off" and resource.kind != "staff":
            errors["resource"] = f"{resource.name} is not a staff member (time off is for staff)"
        elif proposed.kind == "maintenance" and resource.kind == "staff":
            errors["resource"] = f"{resource.name} is staff: use time off"
    if proposed.kind in CLINIC_KINDS and proposed.resource_id is not None:
        errors["resource"] = "a clinic closure is for the whole clinic, not one resource"
    if proposed.kind in RESOURCE_KINDS and proposed.resource_id is None:
        errors.setdefault("resource", "say which staff member, room or equipment")
    if proposed.repeat.repeats and "starts_at" not in errors and "ends_at" not in errors:
        zone = ZoneInfo(load_catalog(session).settings.timezone)
        span = Interval(proposed.starts_at, proposed.ends_at)
        errors.update(repeat_problems(span, proposed.repeat, zone))
    if errors:
        raise InvalidFields(errors)
    return resource


def insert_closure(
    session: Session, actor: Actor, proposed: Unavailability, *, now: dt.datetime
) -> Closure:
    """Write a checked closure in the caller's transaction, with its audit event."""
    check(session, proposed)
    row = Closure(
        kind=proposed.kind,
        resource_id=proposed.resource_id,
        starts_at=proposed.starts_at,
        ends_at=proposed.ends_at,
        reason=proposed.reason.strip(),
        repeat_rule=proposed.repeat.rule,
    )
    session.add(row)
    session.flush()
    audit.record(session, actor, "create", "closure", row.id, after=closure_state(row), now=now)
    return row


def add_closure(
    db: Database, actor: Actor, proposed: Unavailability, *, now: dt.datetime | None = None
) -> int:
    """Add a closure on its own (the sessions it breaks are not moved: see consequences.py)."""
    require(actor, "configure", db, now=now)
    now = now or utcnow()
    with db.write() as session:
        row = insert_closure(session, actor, proposed, now=now)
        changes.bump(session, now)
        return row.id


def edit_closure(
    db: Database,
    actor: Actor,
    closure_id: int,
    proposed: Unavailability,
    *,
    now: dt.datetime | None = None,
) -> None:
    require(actor, "configure", db, now=now)
    now = now or utcnow()
    with db.write() as session:
        row = session.get(Closure, closure_id)
        if row is None:
            raise NotFound(f"no closure #{closure_id}")
        check(session, proposed)
        before = closure_state(row)
        row.kind = proposed.kind
        row.resource_id = proposed.resource_id
        row.starts_at = proposed.starts_at
        row.ends_at = proposed.ends_at
        row.reason = proposed.reason.strip()
        row.repeat_rule = proposed.repeat.rule
        session.flush()
        audit.record(
            session,
            actor,
            "update",
            "closure",
            row.id,
            before=before,
            after=closure_state(row),
            now=now,
        )
        changes.bump(session, now)


def remove_closure(
    db: Database, actor: Actor, closure_id: int, *, now: dt.datetime | None = None
) -> None:
    require(actor, "configure", db, now=now)
    now = now or utcnow()
    with db.write() as session:
        row = session.get(Closure, closure_id)
        if row is None:
            raise NotFound(f"no closure #{closure_id}")
        before = closure_state(row)
        session.delete(row)
        session.flush()
        audit.record(session, actor, "delete", "closure", closure_id, before=before, now=now)
        changes.bump(session, now)


# ---------------------------------------------------------------------------------------------
# Public holidays


def holiday_choices(db: Database, year: int) -> list[HolidayChoice]:
    """The public holidays of the clinic's country (and state) in ``year``, and whether the
    clinic closes on each."""
    with db.read() as session:
        settings = load_catalog(session).settings
    if not settings.holiday_country:
        return []
    import holidays

    found = holidays.country_holidays(
        settings.holiday_country, subdiv=settings.holiday_subdivision or None, years=year
    )
    return [
        HolidayChoice(day, str(name), settings.closes_on_holiday(str(name)))
        for day, name in sorted(found.items())
    ]


@dataclass(frozen=True, slots=True)
class ClosedDaysChoice:
    """What a new clinic's set-up asks about its closed days: the public holidays of its
    country (``country``, "" when none is set; ``subdivision`` its state), each once at its
    next date within a year of today, ticked when the clinic closes on it; and its closures
    to come."""

    country: str
    subdivision: str
    holidays: tuple[HolidayChoice, ...]
    closures: tuple[ClosureRow, ...]


def closed_days_choice(db: Database, *, now: dt.datetime | None = None) -> ClosedDaysChoice:
    """The holidays and closures the set-up assistant's "Closed days" step shows."""
    now = now or utcnow()
    with db.read() as session:
        settings = load_catalog(session).settings
    today = now.astimezone(ZoneInfo(settings.timezone)).date()
    year_on = today + dt.timedelta(days=365)
    seen: set[str] = set()
    coming: list[HolidayChoice] = []
    for h in holiday_choices(db, today.year) + holiday_choices(db, today.year + 1):
        if today <= h.day < year_on and h.name not in seen:
            seen.add(h.name)
            coming.append(h)
    return ClosedDaysChoice(
        settings.holiday_country or "",
        settings.holiday_subdivision or "",
        tuple(sorted(coming, key=lambda h: h.day)),
        tuple(list_closures(db, now=now)),
    )


def holiday_problems(
    country: str, subdivision: str, names: Sequence[str] | None, year: int
) -> dict[str, str]:
    """What is wrong with a holiday choice (field -> message, empty when nothing): a state the
    ``holidays`` package does not know for ``country``, or a name that is not one of its public
    holidays in ``year`` or the next.  Settings and the configuration import both ask this."""
    if not country:
        return {}
    import holidays

    subdiv = subdivision or None
    try:
        known = holidays.country_holidays(country, subdiv=subdiv)
    except NotImplementedError as err:
        return {"holiday_subdivision": str(err)}
    if subdiv and subdiv not in known.subdivisions:
        return {
            "holiday_subdivision": f"{subdiv!r} is not a state of {country}; known: "
            + ", ".join(known.subdivisions)
        }
    if names is None:
        return {}
    listed = {
        part.strip()
        for y in (year, year + 1)
        for n in holidays.country_holidays(country, subdiv=subdiv, years=y).values()
        for part in str(n).split(";")
    }
    unknown = [n for n in names if n not in listed]
    if unknown:
        return {"holidays_closed": "not a public holiday here: " + ", ".join(unknown)}
    return {}


def set_holidays_closed(
    db: Database,
    actor: Actor,
    names: list[str] | None,
    *,
    subdivision: str | None = None,
    now: dt.datetime | None = None,
) -> None:
    """Choose the public holidays the clinic closes on (None: every one) and the state."""
    require(actor, "configure", db, now=now)
    now = now or utcnow()
    with db.write() as session:
        row = session.get(ClinicSetting, "clinic")
        if row is None:
            raise NotFound("the clinic has no [clinic] settings")
        before = dict(row.value)
        after = dict(before)
        if subdivision is not None:
            after["holiday_subdivision"] = subdivision.strip()
        errors = holiday_problems(
            str(after.get("holiday_country", "")),
            str(after.get("holiday_subdivision", "")),
            names,
            now.year,
        )
        if errors:
            raise InvalidFields(errors)
        if names is None:
            after.pop("holidays_closed", None)
        else:
            after["holidays_closed"] = sorted(set(names))
        row.value = after
        row.updated_at = now
        session.flush()
        load_catalog(session)  # a configuration that does not load is not stored
        audit.record(
            session, actor, "update", "clinic_setting", None, before=before, after=after, now=now
        )
        changes.bump(session, now)


@dataclass(frozen=True, slots=True)
class LocalRequest:
    """A closure as a form gives it: the clinic's wall-clock times."""

    kind: str
    first_day: dt.date
    first_minute: int  # minutes after local midnight
    last_day: dt.date
    last_minute: int
    reason: str
    resource_id: int | None = None
    #: Repeating: ``first_minute`` to ``last_minute`` on each day (or chosen weekday) from
    #: ``first_day`` to ``last_day``.
    repeat: Repeat = NO_REPEAT

    @classmethod
    def for_days(
        cls,
        kind: str,
        first: dt.date,
        last: dt.date,
        reason: str,
        resource_id: int | None = None,
        repeat: Repeat = NO_REPEAT,
    ) -> LocalRequest:
        """Whole days, ``first`` to ``last`` closed (the form's "All day"; with ``repeat``,
        each of its days between them): stored as every closure is, to the midnight after the
        last day."""
        return cls(kind, first, 0, last + dt.timedelta(days=1), 0, reason, resource_id, repeat)

    def whole_days(self) -> tuple[dt.date, dt.date] | None:
        """The first and last day closed of a request from a midnight to a later midnight;
        None for a part-day one."""
        if self.first_minute or self.last_minute or self.last_day <= self.first_day:
            return None
        return self.first_day, self.last_day - dt.timedelta(days=1)


def request_problems(request: LocalRequest) -> dict[str, str]:
    """The mistakes a closure form can be told about before it is sent (no database): To not
    after From, no reason, no resource for time off or maintenance.  ``check`` says the same
    again when the closure is saved; the form shows these at once, so nothing typed is lost."""
    errors: dict[str, str] = {}
    if (request.last_day, request.last_minute) <= (request.first_day, request.first_minute):
        errors["ends_at"] = "must be after the start"
    elif request.repeat.repeats:
        errors.update(_repeat_request_problems(request))
    reason = request.reason.strip()
    if not reason:
        errors["reason"] = "say why (it is shown on the schedule and to the patients called)"
    elif len(reason) > REASON_MAX:
        errors["reason"] = f"at most {REASON_MAX} characters"
    if request.kind in RESOURCE_KINDS and request.resource_id is None:
        errors["resource"] = "say which staff member, room or equipment"
    return errors


def _repeat_request_problems(request: LocalRequest) -> dict[str, str]:
    """A repeating request's mistakes: its hours the same each day, so To's time after
    From's (whole days aside), a weekday for a weekly one, and one of them between the two
    days."""
    repeat = request.repeat
    if repeat.every == "weekly" and not repeat.weekdays:
        return {"weekdays": "choose at least one weekday for a weekly closure"}
    if request.whole_days() is None and request.last_minute <= request.first_minute:
        return {
            "ends_at": "To's time must be after From's: a repeating closure closes the same "
            "hours each day, From's time to To's, from From's day to To's"
        }
    hours = daily_hours(
        dt.datetime.combine(request.first_day, dt.time())
        + dt.timedelta(minutes=request.first_minute),
        dt.datetime.combine(request.last_day, dt.time())
        + dt.timedelta(minutes=request.last_minute),
    )
    if not repeat_days(hours.first_day, hours.last_day, repeat):
        first, last = short_date(hours.first_day), short_date(hours.last_day)
        return {"weekdays": f"none of the chosen weekdays falls between {first} and {last}"}
    return {}


def from_local(db: Database, request: LocalRequest) -> Unavailability:
    """The closure a form asks for, its local times made instants in the clinic's time zone."""
    from ketadesk.store.snapshot import calendar_of

    with db.read() as session:
        calendar = calendar_of(load_catalog(session).settings)
    return Unavailability(
        request.kind,
        calendar.at_local(request.first_day, request.first_minute),
        calendar.at_local(request.last_day, request.last_minute),
        request.reason,
        request.resource_id,
        request.repeat,
    )


def clinic_zone(db: Database) -> ZoneInfo:
    """The clinic's time zone, to show closures in its wall-clock time."""
    with db.read() as session:
        return ZoneInfo(load_catalog(session).settings.timezone)
