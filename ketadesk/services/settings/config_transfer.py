"""A clinic's whole set-up as one TOML file: export it, and import it (all or nothing).

The file holds the clinic settings sections (the tables of resources/config/clinic.toml, which
carry the clinic's details, logo, paper size, opening hours and holiday choice too), the session
types and protocols (as in session_types.toml and protocols.toml), the rooms and equipment
(retired ones too, with the session types each is kept for), the staff (inactive ones too) with
their weekly shifts (alternate weeks too) and the session type phases they may be booked for,
everyone's closures to come (time off, out of service), the clinic's own closures to come, and
the user accounts (role, linked staff member, active, asked for a new password; never a hash).

Import reads the whole file and checks it before it writes anything: the configuration loader's
own validation (``scheduling/catalog.py``, same messages), then the settings services' rules
(clinic details, holidays, session types served, shifts, qualifications), each mistake named by
its place in the file ("staff[1].shifts[0].every_n_weeks: ...").  Then it applies every change
in one transaction, one audit event per created or changed entity (before/after), and bumps the
change counter.  It matches by code, name and username and never deletes: what the clinic has
and the file lacks is left alone and reported.  New users get a one-time password, returned once
in the report, which they must change at their first sign-in whatever the file says; for an
existing user ``must_change_password = true`` asks for a new password, and false clears nothing
(only the user's own new password does, so re-importing a file never makes a one-time password
permanent).
"""

from __future__ import annotations

import datetime as dt
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, cast
from zoneinfo import ZoneInfo

import tomli_w
from sqlalchemy import select
from sqlalchemy.orm import Session

from ketadesk.config import Catalog, RawConfig, build_catalog
from ketadesk.scheduling.calendar import Interval
from ketadesk.scheduling.catalog import (
    EQUIPMENT_SUBKINDS,
    ROOM_SUBKINDS,
    WEEKDAYS,
    ConfigError,
    StaffRole,
    _Reader,
    parse_clinic_settings,
    parse_protocols,
    parse_session_types,
)
from ketadesk.scheduling.closure_repeats import parse_rule, repeat_problems
from ketadesk.scheduling.dates import clock
from ketadesk.services.access import audit
from ketadesk.services.access.accounts import generate_password, hash_password, normalize_username
from ketadesk.services.access.permissions import require
from ketadesk.services.common.context import ROLES, Actor, Database, utcnow
from ketadesk.services.settings.availability import holiday_problems
from ketadesk.services.settings.clinic_details import details_of, validate_details
from ketadesk.services.settings.resources import serves_problem, sessions_ahead
from ketadesk.services.settings.staff import (
    ShiftRow,
    overlapping_shifts,
    phase_choices,
    qualification_problem,
    shift_problem,
)
from ketadesk.store import changes
from ketadesk.store.clinic_config import load_catalog, read_raw_config
from ketadesk.store.models import (
    ClinicSetting,
    Closure,
    Protocol,
    Resource,
    SessionType,
    StaffMember,
    StaffQualification,
    StaffShift,
    User,
)

FORMAT = "ketadesk-config/1"
#: Top-level keys that are not clinic settings sections.
_ENTITY_KEYS = ("format", "session_types", "protocols", "rooms", "equipment", "staff", "closures")
_RESERVED = frozenset((*_ENTITY_KEYS, "users"))
_LISTS = {"rooms": "room", "equipment": "equipment", "staff": "staff"}
_DEFAULT_CLOSURE_KIND = {"room": "maintenance", "equipment": "maintenance", "staff": "time_off"}
_AVAILABILITY_KEY = {"room": "out_of_service", "equipment": "out_of_service", "staff": "time_off"}
_CLOSURE_KINDS = ("holiday", "closure", "time_off", "maintenance")
_NAME_MAX = 120
_USERNAME_MAX = 64
#: Where in a shift's table the staff service's field of a ShiftRow is written.
_SHIFT_KEYS = {
    "weekday": "day",
    "start_minute": "from",
    "end_minute": "to",
    "every_n_weeks": "every_n_weeks",
    "anchor": "anchor_date",
    "valid_from": "valid_from",
    "valid_until": "valid_until",
}
#: Where in the file each field of the clinic details form is written.
_DETAIL_KEYS = {"logo": "clinic.logo_image", "hours": "hours"}


# --------------------------------------------------------------------------------------------
# The document, as plain values


@dataclass
class ResourceEntry:
    kind: str  # room | equipment | staff
    name: str
    values: dict[str, Any]  # the resource's (and staff member's) own fields
    shifts: list[dict[str, Any]] = field(default_factory=list)
    closures: list[dict[str, Any]] = field(default_factory=list)
    # Staff: (session type code, phase key) pairs they may be booked for (none: anything).
    qualifications: list[tuple[str, str]] = field(default_factory=list)
    where: str = ""  # its place in the file ("staff[1]"), for messages


@dataclass
class ConfigDocument:
    settings: dict[str, Any]
    session_types: dict[str, Any]
    protocols: dict[str, Any]
    resources: list[ResourceEntry]
    closures: list[dict[str, Any]]  # the clinic's own (resource-less) closures
    users: list[dict[str, Any]]


@dataclass(frozen=True)
class Change:
    entity: str  # setting | session_type | protocol | resource | closure | user
    name: str
    action: str  # create | update | left alone
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None

    def line(self) -> str:
        return f"{self.action}: {self.entity.replace('_', ' ')} {self.name}"


@dataclass
class ImportReport:
    changes: list[Change]
    passwords: dict[str, str]  # username -> one-time password of a user created now
    dry_run: bool

    @property
    def written(self) -> list[Change]:
        return [c for c in self.changes if c.action != "left alone"]

    def lines(self) -> list[str]:
        out = [c.line() for c in self.changes]
        n = len(self.written)
        verb = "would change" if self.dry_run else "changed"
        out.append(
            f"{verb} {n} {'entity' if n == 1 else 'entities'}"
            + ("; nothing written (dry run)" if self.dry_run else "")
        )
        return out


# --------------------------------------------------------------------------------------------
# Export


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _local(instant: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    return instant.astimezone(zone).replace(tzinfo=None)


def _clean(value: Any) -> Any:
    """TOML has no null: drop None entries from stored JSON values."""
    if isinstance(value, Mapping):
        return {k: _clean(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_clean(v) for v in value if v is not None]
    return value


def _ordered(value: Any, template: Any) -> Any:
    """``value`` with its tables' keys in the order of ``template`` (the shipped files), then
    the rest alphabetically: PostgreSQL's JSONB keeps no key order, and the file should read
    the same whichever database it came from."""
    if isinstance(value, Mapping):
        known = template if isinstance(template, Mapping) else {}
        keys = [k for k in known if k in value] + sorted(k for k in value if k not in known)
        return {k: _ordered(value[k], known.get(k)) for k in keys}
    if isinstance(value, list):
        items = template if isinstance(template, list) else []
        return [
            _ordered(v, items[i] if i < len(items) else (items[0] if items else None))
            for i, v in enumerate(value)
        ]
    return value


def _shipped() -> RawConfig:
    from ketadesk.config import read_raw_config as read_shipped

    try:
        return read_shipped()
    except ConfigError:
        return RawConfig({}, {"session_types": {}}, {"protocols": {}})


def _ordered_all(definitions: Mapping[str, Any], shipped: Mapping[str, Any]) -> dict[str, Any]:
    fallback = next(iter(shipped.values()), None)
    return {
        code: _ordered(_clean(d), shipped.get(code, fallback)) for code, d in definitions.items()
    }


def read_document(session: Session, now: dt.datetime) -> ConfigDocument:
    """The clinic's configuration as stored now (shifts and closures still to come)."""
    catalog = load_catalog(session)
    zone = ZoneInfo(catalog.settings.timezone)
    today = now.astimezone(zone).date()
    shipped = _shipped()
    stored: dict[str, Any] = dict(
        session.execute(select(ClinicSetting.key, ClinicSetting.value)).all()
    )
    settings = _ordered(_clean(stored), shipped.clinic)
    types = _ordered_all(
        dict(
            session.execute(
                select(SessionType.code, SessionType.definition).order_by(
                    SessionType.sort_order, SessionType.id
                )
            ).all()
        ),
        shipped.session_types.get("session_types", {}),
    )
    protocols = _ordered_all(
        dict(
            session.execute(
                select(Protocol.code, Protocol.definition).order_by(
                    Protocol.sort_order, Protocol.id
                )
            ).all()
        ),
        shipped.protocols.get("protocols", {}),
    )
    resources: list[ResourceEntry] = []
    names: dict[int, str] = {}
    rows = session.scalars(select(Resource).order_by(Resource.sort_order, Resource.id)).all()
    staff = {m.resource_id: m for m in session.scalars(select(StaffMember))}
    shifts: dict[int, list[StaffShift]] = {}
    for shift in session.scalars(select(StaffShift)):
        if shift.valid_until is None or shift.valid_until >= today:
            shifts.setdefault(shift.resource_id, []).append(shift)
    qualified: dict[int, list[tuple[str, str]]] = {}
    for q in session.scalars(select(StaffQualification)):
        qualified.setdefault(q.resource_id, []).append((q.session_type, q.phase))
    closures: dict[int | None, list[Closure]] = {}
    for closure in session.scalars(
        select(Closure).where(Closure.ends_at > now).order_by(Closure.starts_at, Closure.id)
    ):
        closures.setdefault(closure.resource_id, []).append(closure)
    for res in rows:
        names[res.id] = res.name
        values: dict[str, Any] = {
            "name": res.name,
            "short_name": res.short_name,
            "capacity": res.capacity,
            "active": res.active,
            "notes": res.notes,
        }
        if res.kind == "staff":
            member = staff.get(res.id)
            values |= {
                "role": member.role if member else res.subkind,
                "first_name": member.first_name if member else "",
                "last_name": member.last_name if member else "",
                "credentials": member.credentials if member else "",
                "phone": member.phone if member else "",
                "email": member.email if member else "",
            }
        else:
            values["kind"] = res.subkind
            values["serves"] = sorted(res.serves or ())
        resources.append(
            ResourceEntry(
                kind=res.kind,
                name=res.name,
                values=values,
                shifts=[_shift_value(s) for s in _sorted_shifts(shifts.get(res.id, []))],
                closures=[_closure_value(c, zone) for c in closures.get(res.id, [])],
                qualifications=sorted(qualified.get(res.id, [])),
            )
        )
    users = []
    for user in session.scalars(select(User).order_by(User.id)):
        entry: dict[str, Any] = {
            "username": user.username,
            "display_name": user.display_name,
            "role": user.role,
            "active": user.active,
            "must_change_password": bool(user.must_change_password),
        }
        if user.staff_id is not None and user.staff_id in names:
            entry["staff"] = names[user.staff_id]
        users.append(entry)
    return ConfigDocument(
        settings=settings,
        session_types=types,
        protocols=protocols,
        resources=resources,
        closures=[_closure_value(c, zone) for c in closures.get(None, [])],
        users=users,
    )


def _sorted_shifts(shifts: list[StaffShift]) -> list[StaffShift]:
    return sorted(
        shifts,
        key=lambda s: (
            s.weekday,
            s.start_minute,
            s.valid_from or dt.date.min,
            s.end_minute,
            s.every_n_weeks,
            s.anchor_date or dt.date.min,
        ),
    )


def _shift_value(shift: StaffShift) -> dict[str, Any]:
    value: dict[str, Any] = {
        "day": WEEKDAYS[shift.weekday],
        "from": _hhmm(shift.start_minute),
        "to": _hhmm(shift.end_minute),
    }
    # Every week is the rule: only an alternate-week shift says how often, and from which week.
    if shift.every_n_weeks > 1:
        value["every_n_weeks"] = shift.every_n_weeks
        if shift.anchor_date is not None:
            value["anchor_date"] = shift.anchor_date
    if shift.valid_from is not None:
        value["valid_from"] = shift.valid_from
    if shift.valid_until is not None:
        value["valid_until"] = shift.valid_until
    return value


def _closure_value(closure: Closure, zone: ZoneInfo) -> dict[str, Any]:
    value = {
        "kind": closure.kind,
        "from": _local(closure.starts_at, zone),
        "to": _local(closure.ends_at, zone),
        "reason": closure.reason,
    }
    if closure.repeat_rule:  # From's time to To's on each day (or weekday) between them
        value["repeat"] = closure.repeat_rule
    return value


def to_toml_data(doc: ConfigDocument) -> dict[str, Any]:
    data: dict[str, Any] = {"format": FORMAT}
    data.update(doc.settings)
    data["session_types"] = doc.session_types
    data["protocols"] = doc.protocols
    for key, kind in _LISTS.items():
        items = []
        for entry in doc.resources:
            if entry.kind != kind:
                continue
            item = dict(entry.values)
            if kind == "staff":
                item["shifts"] = entry.shifts
                item["qualifications"] = [
                    {"session_type": t, "phase": p} for t, p in entry.qualifications
                ]
            item[_AVAILABILITY_KEY[kind]] = entry.closures
            items.append(item)
        data[key] = items
    data["closures"] = doc.closures
    data["users"] = doc.users
    return data


def export_config(db: Database, actor: Actor, *, now: dt.datetime | None = None) -> str:
    """The clinic's whole configuration as TOML text (administrators only; no password)."""
    require(actor, "configure", db, now=now)
    now = now or utcnow()
    with db.read() as session:
        doc = read_document(session, now)
    return tomli_w.dumps(to_toml_data(doc), multiline_strings=True)


# --------------------------------------------------------------------------------------------
# Reading and checking a file


def parse_text(text: str, source: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None


def _time(r: _Reader, key: str) -> int:
    value = r.text(key)
    parts = value.split(":")
    if (
        len(parts) != 2
        or not all(p.isdigit() and len(p) == 2 for p in parts)
        or int(parts[0]) > 24
        or int(parts[1]) > 59
        or (int(parts[0]) == 24 and int(parts[1]) != 0)
    ):
        raise r.fail(key, f'must be a time like "07:30", got {value!r}')
    return int(parts[0]) * 60 + int(parts[1])


def _date(r: _Reader, key: str) -> dt.date | None:
    if not r.has(key):
        return None
    value = r.raw(key)
    if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
        raise r.fail(key, f"must be a date like 2026-01-31, got {value!r}")
    return value


def _instant(r: _Reader, key: str, zone: ZoneInfo) -> dt.datetime:
    value = r.raw(key)
    if not isinstance(value, dt.datetime):
        raise r.fail(key, f"must be a date and time like 2026-01-31T08:00:00, got {value!r}")
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone)
    return value.astimezone(dt.UTC)


def _closures(r: _Reader, key: str, zone: ZoneInfo, default_kind: str) -> list[dict[str, Any]]:
    out = []
    for c in r.tables(key, required=False):
        starts, ends = _instant(c, "from", zone), _instant(c, "to", zone)
        if ends <= starts:
            raise c.fail("to", f"ends ({c.raw('to')}) before it starts ({c.raw('from')})")
        try:
            repeat = parse_rule(c.text("repeat", default=""))
        except ValueError as err:
            raise c.fail("repeat", str(err)) from None
        problems = repeat_problems(Interval(starts, ends), repeat, zone)
        if problems:
            raise c.fail("repeat", "; ".join(problems.values()))
        out.append(
            {
                "kind": c.choice("kind", _CLOSURE_KINDS, default=default_kind),
                "starts_at": starts,
                "ends_at": ends,
                "reason": c.text("reason", default=""),
                "repeat_rule": repeat.rule,
            }
        )
    return out


def _name(r: _Reader, key: str, seen: dict[str, str], maximum: int) -> str:
    value = r.text(key).strip()
    if not value:
        raise r.fail(key, "is required")
    if len(value) > maximum:
        raise r.fail(key, f"must be at most {maximum} characters")
    folded = value.casefold()
    if folded in seen:
        raise r.fail(key, f"{value!r} appears twice (also {seen[folded]})")
    seen[folded] = r.path
    return value


def _at(r: _Reader, message: str) -> ConfigError:
    """A mistake in the table ``r`` as a whole (not one of its keys)."""
    return ConfigError(f"{r.source}: {r.path}: {message}")


def _check_clinic(root: _Reader, catalog: Catalog, year: int) -> None:
    """The clinic details and holiday choice, by the rules their settings pages apply."""
    settings = catalog.settings
    errors = validate_details(details_of(settings))
    if errors:
        key, message = next(iter(errors.items()))
        raise ConfigError(f"{root.source}: {_DETAIL_KEYS.get(key, f'clinic.{key}')}: {message}")
    errors = holiday_problems(
        settings.holiday_country, settings.holiday_subdivision, settings.holidays_closed, year
    )
    if errors:
        key, message = next(iter(errors.items()))
        raise ConfigError(f"{root.source}: clinic.{key}: {message}")


def _shifts(r: _Reader) -> list[dict[str, Any]]:
    """A staff member's shifts, checked by the staff settings' own rules."""
    readers = r.tables("shifts", required=False)
    rows: list[ShiftRow] = []
    for s in readers:
        every = s.integer("every_n_weeks", default=1, minimum=1)
        row = ShiftRow(
            weekday=WEEKDAYS.index(s.choice("day", WEEKDAYS)),
            start_minute=_time(s, "from"),
            end_minute=_time(s, "to"),
            every_n_weeks=every,
            # Every week needs no anchor; the staff page keeps none either.
            anchor=_date(s, "anchor_date") if every > 1 else None,
            valid_from=_date(s, "valid_from"),
            valid_until=_date(s, "valid_until"),
        )
        problem = shift_problem(row, "24h")  # the file's own notation, "HH:MM"
        if problem is not None:
            raise s.fail(_SHIFT_KEYS[problem[0]], problem[1])
        rows.append(row)
    overlaps = overlapping_shifts(rows)
    if overlaps:
        i, j = overlaps[0]
        raise _at(readers[j], f"overlaps shifts[{i}] ({rows[i].describe('24h')})")
    return [
        {
            "weekday": row.weekday,
            "start_minute": row.start_minute,
            "end_minute": row.end_minute,
            "every_n_weeks": row.every_n_weeks,
            "anchor_date": row.anchor,
            "valid_from": row.valid_from,
            "valid_until": row.valid_until,
        }
        for row in rows
    ]


def _qualifications(r: _Reader, role: str, catalog: Catalog) -> list[tuple[str, str]]:
    """The (session type, phase) pairs a staff member may be booked for, checked against the
    file's session types by the staff settings' own rule."""
    readers = r.tables("qualifications", required=False)
    pairs = [(q.text("session_type"), q.text("phase")) for q in readers]
    choices = phase_choices(catalog)
    problem = qualification_problem(choices, role, pairs)
    if problem is not None:
        n, message = problem
        q = readers[n]
        if pairs[n][0] not in {c.session_type for c in choices}:
            raise q.fail("session_type", message)
        if not any((c.session_type, c.phase) == pairs[n] for c in choices):
            raise q.fail("phase", message)
        raise _at(q, message)
    return sorted(set(pairs))


def parse_document(data: dict[str, Any], source: str, *, year: int) -> ConfigDocument:
    """Check a whole file; the first mistake raises ConfigError naming its place.  ``year``:
    the clinic's current year, for the names of the public holidays it closes on."""
    root = _Reader(data, "", source)
    if root.has("format") and root.raw("format") != FORMAT:
        raise root.fail("format", f"must be {FORMAT!r}, got {root.raw('format')!r}")
    settings = {k: v for k, v in data.items() if k not in _RESERVED}
    clinic = parse_clinic_settings(settings, source)
    types_doc = {"session_types": root.raw("session_types")}
    protocols_doc = {"protocols": root.raw("protocols")}
    session_types = parse_session_types(types_doc, source)
    protocols = parse_protocols(protocols_doc, source, session_types)
    catalog = Catalog(clinic, session_types, protocols)
    zone = ZoneInfo(clinic.timezone)
    _check_clinic(root, catalog, year)
    seen_names: dict[str, str] = {}
    resources: list[ResourceEntry] = []
    subkinds = {"rooms": ROOM_SUBKINDS, "equipment": EQUIPMENT_SUBKINDS}
    roles = tuple(r.value for r in StaffRole)
    for key, kind in _LISTS.items():
        for r in root.tables(key, required=False):
            name = _name(r, "name", seen_names, _NAME_MAX)
            values: dict[str, Any] = {
                "name": name,
                "short_name": r.text("short_name", default=""),
                "active": r.flag("active", default=True),
                "notes": r.text("notes", default=""),
            }
            qualifications: list[tuple[str, str]] = []
            shifts: list[dict[str, Any]] = []
            if kind == "staff":
                role = r.choice("role", roles)
                values |= {
                    "role": role,
                    "first_name": r.text("first_name", default=""),
                    "last_name": r.text("last_name", default=""),
                    "credentials": r.text("credentials", default=""),
                    "phone": r.text("phone", default=""),
                    "email": r.text("email", default=""),
                    "capacity": r.integer(
                        "capacity", default=clinic.capacity_for_role(role), minimum=1
                    ),
                }
                shifts = _shifts(r)
                qualifications = _qualifications(r, role, catalog)
            else:
                values["kind"] = r.choice("kind", subkinds[key])
                values["capacity"] = r.integer("capacity", default=1, minimum=1)
                serves = sorted(set(r.str_list("serves")))
                problem = serves_problem(catalog, kind, values["kind"], serves)
                if problem:
                    raise r.fail("serves", problem)
                values["serves"] = serves
            closures = _closures(r, _AVAILABILITY_KEY[kind], zone, _DEFAULT_CLOSURE_KIND[kind])
            resources.append(
                ResourceEntry(kind, name, values, shifts, closures, qualifications, r.path)
            )
    clinic_closures = _closures(root, "closures", zone, "closure")
    staff_names = {e.name.casefold() for e in resources if e.kind == "staff"}
    seen_users: dict[str, str] = {}
    linked: dict[str, str] = {}
    users = []
    for r in root.tables("users", required=False):
        username = normalize_username(_name(r, "username", seen_users, _USERNAME_MAX))
        if not (username[0].isalnum() and all(c.isalnum() or c in "._-" for c in username)):
            raise r.fail(
                "username",
                "may hold only letters, digits, dots, dashes and underscores, starting with a "
                "letter or digit",
            )
        display = r.text("display_name").strip()
        if not display:
            raise r.fail("display_name", "is required")
        user: dict[str, Any] = {
            "username": username,
            "display_name": display,
            "role": r.choice("role", ROLES),
            "active": r.flag("active", default=True),
            "must_change_password": r.flag("must_change_password", default=False),
            "staff": None,
        }
        if r.has("staff"):
            staff = r.text("staff")
            if staff.casefold() not in staff_names:
                raise r.fail("staff", f"{staff!r} is not one of the file's staff")
            if staff.casefold() in linked:
                raise r.fail("staff", f"{staff} is already linked to {linked[staff.casefold()]}")
            linked[staff.casefold()] = r.path
            user["staff"] = staff
        users.append(user)
    return ConfigDocument(
        settings=settings,
        session_types=types_doc["session_types"],
        protocols=protocols_doc["protocols"],
        resources=resources,
        closures=clinic_closures,
        users=users,
    )


# --------------------------------------------------------------------------------------------
# Import


def _shift_key(s: Mapping[str, Any]) -> tuple[Any, ...]:
    return tuple(s[k] for k in _SHIFT_COLUMNS)


_SHIFT_COLUMNS = (
    "weekday",
    "start_minute",
    "end_minute",
    "every_n_weeks",
    "anchor_date",
    "valid_from",
    "valid_until",
)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def import_config(
    db: Database,
    actor: Actor,
    text: str,
    source: str,
    *,
    dry_run: bool = False,
    now: dt.datetime | None = None,
) -> ImportReport:
    """Check the whole file, then apply it in one transaction (nothing on ``dry_run``).

    Raises ConfigError (naming the file and the place) for any mistake; nothing is written.
    """
    require(actor, "configure", db, now=now)
    now = now or utcnow()
    with db.read() as session:
        catalog = load_catalog(session)
        existing = set(session.scalars(select(User.username)))
    year = now.astimezone(ZoneInfo(catalog.settings.timezone)).year
    doc = parse_document(parse_text(text, source), source, year=year)
    new_users = {u["username"] for u in doc.users}
    passwords: dict[str, str] = {}
    hashes: dict[str, str] = {}
    if not dry_run:
        # Hashed before the transaction: the slow hash must not hold the write lock.
        # The password rules the clinic will have once the file is applied.
        rules = parse_clinic_settings(doc.settings, source).accounts
        for username in sorted(new_users - existing):
            passwords[username] = generate_password(rules)
            hashes[username] = hash_password(passwords[username], rules)
    report = ImportReport([], passwords, dry_run)
    try:
        with db.write() as session:
            _apply(session, actor, doc, source, report, hashes, now)
            if dry_run:
                raise _DryRun
            if report.written:
                changes.bump(session, now=now)
    except _DryRun:
        pass  # the transaction was rolled back: nothing written
    return report


class _DryRun(Exception):
    """Raised inside the transaction to roll a dry run back."""


def _record(
    session: Session,
    actor: Actor,
    report: ImportReport,
    entity: str,
    entity_id: int | None,
    name: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    now: dt.datetime,
    shown: str = "",
) -> None:
    action = "create" if before is None else "update"
    before_j, after_j = _jsonable(before), _jsonable(after)
    report.changes.append(Change(shown or entity, name, action, before_j, after_j))
    audit.record(
        session,
        actor,
        f"import_{action}_{entity}",
        entity,
        entity_id,
        before=before_j,
        after=after_j,
        detail=f"configuration import: {name}",
        now=now,
    )


def _apply(
    session: Session,
    actor: Actor,
    doc: ConfigDocument,
    source: str,
    report: ImportReport,
    hashes: dict[str, str],
    now: dt.datetime,
) -> None:
    def record(
        entity: str, eid: int | None, name: str, before: Any, after: Any, shown: str = ""
    ) -> None:
        _record(session, actor, report, entity, eid, name, before, after, now, shown)

    def left_alone(entity: str, name: str) -> None:
        report.changes.append(Change(entity, name, "left alone"))

    # Settings sections, session types and protocols.
    stored = {s.key: s for s in session.scalars(select(ClinicSetting))}
    for key, value in doc.settings.items():
        row = stored.get(key)
        if row is None:
            session.add(ClinicSetting(key=key, value=value, updated_at=now))
            record("setting", None, key, None, {key: value})
        elif _clean(row.value) != value:
            before = {key: row.value}
            row.value = value
            row.updated_at = now
            record("setting", None, key, before, {key: value})
    for key in sorted(stored.keys() - doc.settings.keys()):
        left_alone("setting", key)
    kinds: tuple[tuple[type[SessionType] | type[Protocol], str, dict[str, Any]], ...] = (
        (SessionType, "session_type", doc.session_types),
        (Protocol, "protocol", doc.protocols),
    )
    for model, entity, definitions in kinds:
        defs: dict[str, SessionType | Protocol] = {
            r.code: r
            for r in cast("list[SessionType | Protocol]", session.scalars(select(model)).all())
        }
        order = max((r.sort_order for r in defs.values()), default=-1)
        for code, definition in definitions.items():
            columns: dict[str, Any] = {"name": definition["name"], "definition": definition}
            if model is SessionType:
                columns["color"] = definition["color"]
                columns["dosing"] = definition["dosing"]
            item = defs.get(code)
            if item is None:
                order += 1
                item = model(code=code, sort_order=order, **columns)
                session.add(item)
                session.flush()
                record(entity, item.id, code, None, definition)
            elif _clean(item.definition) != definition:
                old_definition = item.definition
                for k, v in columns.items():
                    setattr(item, k, v)
                record(entity, item.id, code, old_definition, definition)
        for code in sorted(defs.keys() - definitions.keys()):
            left_alone(entity, code)
    session.flush()
    # The configuration as it now stands must still be whole (types left alone included).
    raw = read_raw_config(session)
    catalog = build_catalog(RawConfig(raw.clinic, raw.session_types, raw.protocols), origin=source)

    # Resources, their shifts and closures.
    resources = {r.name.casefold(): r for r in session.scalars(select(Resource))}
    members = {m.resource_id: m for m in session.scalars(select(StaffMember))}
    zone = ZoneInfo(doc_timezone(doc))
    today = now.astimezone(zone).date()
    order = max((r.sort_order for r in resources.values()), default=-1)
    ids: dict[str, int] = {}
    for entry in doc.resources:
        v = entry.values
        res_cols = {
            "kind": entry.kind,
            "subkind": v["role"] if entry.kind == "staff" else v["kind"],
            "name": v["name"],
            "short_name": v["short_name"],
            "capacity": v["capacity"],
            "active": v["active"],
            "notes": v["notes"],
        }
        if entry.kind != "staff":
            res_cols["serves"] = v["serves"]
        staff_cols = (
            {k: v[k] for k in ("role", "first_name", "last_name", "credentials", "phone", "email")}
            if entry.kind == "staff"
            else {}
        )
        snapshot: dict[str, Any] | None
        res = resources.get(entry.name.casefold())
        if res is None:
            order += 1
            res = Resource(sort_order=order, **res_cols)
            session.add(res)
            session.flush()
            if entry.kind == "staff":
                session.add(StaffMember(resource_id=res.id, **staff_cols))
            snapshot = None
        else:
            snapshot = _resource_snapshot(res, members.get(res.id))
            if res.kind != entry.kind:
                raise ConfigError(
                    f"{source}: {entry.name!r} is a {res.kind} in this clinic, not a {entry.kind}"
                )
            if res.active and not v["active"]:
                _refuse_retiring(session, res, entry, catalog, source, now)
            for k, val in res_cols.items():
                setattr(res, k, val)
            if entry.kind == "staff":
                member = members.get(res.id)
                if member is None:
                    session.add(StaffMember(resource_id=res.id, **staff_cols))
                else:
                    for k, val in staff_cols.items():
                        setattr(member, k, val)
        ids[entry.name.casefold()] = res.id
        after = {**res_cols, **staff_cols}
        shifts_before: list[dict[str, Any]] = []
        shifts_after: list[dict[str, Any]] = []
        have: list[tuple[Any, ...]] = []
        want: list[tuple[Any, ...]] = []
        quals_before: list[tuple[str, str]] = []
        if entry.kind == "staff":
            stored_quals = list(
                session.scalars(
                    select(StaffQualification).where(StaffQualification.resource_id == res.id)
                )
            )
            quals_before = sorted((q.session_type, q.phase) for q in stored_quals)
            if quals_before != entry.qualifications:
                for old_q in stored_quals:
                    session.delete(old_q)
                session.flush()  # the unique (resource, type, phase) must be free again
                for type_code, phase in entry.qualifications:
                    session.add(
                        StaffQualification(resource_id=res.id, session_type=type_code, phase=phase)
                    )
            current = [
                s
                for s in session.scalars(select(StaffShift).where(StaffShift.resource_id == res.id))
                if s.valid_until is None or s.valid_until >= today
            ]
            have = sorted(_shift_key(_shift_row(s)) for s in current)
            want = sorted(_shift_key(s) for s in entry.shifts)
            if have != want:
                shifts_before = [_shift_row(s) for s in current]
                shifts_after = entry.shifts
                for old in current:
                    session.delete(old)
                for new in entry.shifts:
                    session.add(StaffShift(resource_id=res.id, **new))
        quals_changed = entry.kind == "staff" and quals_before != entry.qualifications
        if snapshot is None:
            created = {**after, "shifts": entry.shifts}
            if entry.kind == "staff":
                created["qualifications"] = [list(q) for q in entry.qualifications]
            record("resource", res.id, entry.name, None, created, entry.kind)
        else:
            changed = {k: val for k, val in after.items() if snapshot.get(k) != val}
            if changed or have != want or quals_changed:
                b = {k: snapshot.get(k) for k in changed}
                a = dict(changed)
                if have != want:
                    b["shifts"], a["shifts"] = shifts_before, shifts_after
                if quals_changed:
                    b["qualifications"] = [list(q) for q in quals_before]
                    a["qualifications"] = [list(q) for q in entry.qualifications]
                record("resource", res.id, entry.name, b, a, entry.kind)
    for key, res in resources.items():
        if key not in ids:
            left_alone(res.kind, res.name)
    session.flush()
    # Closures: added when not there yet (same resource, kind and times), reason updated.
    existing = {
        (c.resource_id, c.kind, c.starts_at, c.ends_at): c
        for c in session.scalars(select(Closure).where(Closure.ends_at > now))
    }
    wanted: list[tuple[int | None, str, dict[str, Any]]] = [
        (None, "clinic", c) for c in doc.closures
    ] + [(ids[e.name.casefold()], e.name, c) for e in doc.resources for c in e.closures]
    for resource_id, owner, c in wanted:
        ckey = (resource_id, c["kind"], c["starts_at"], c["ends_at"])
        local = _local(c["starts_at"], zone)
        label = f"{owner} {local:%m/%d/%Y} {clock(local, doc_time_format(doc))}"
        closure = existing.get(ckey)
        if closure is None:
            closure = Closure(resource_id=resource_id, **c)
            session.add(closure)
            session.flush()
            record("closure", closure.id, label, None, {"resource_id": resource_id, **c})
        elif closure.reason != c["reason"] or closure.repeat_rule != c["repeat_rule"]:
            was = {"reason": closure.reason, "repeat_rule": closure.repeat_rule}
            closure.reason, closure.repeat_rule = c["reason"], c["repeat_rule"]
            record("closure", closure.id, label, was, {k: c[k] for k in was})
    # Users: by username; passwords only for new ones.
    users = {u.username: u for u in session.scalars(select(User))}
    for u in doc.users:
        staff_id = ids[u["staff"].casefold()] if u["staff"] else None
        cols = {
            "display_name": u["display_name"],
            "role": u["role"],
            "active": u["active"],
            "staff_id": staff_id,
        }
        user = users.get(u["username"])
        if user is None:
            # A one-time password is changed at the first sign-in, whatever the file says.
            cols["must_change_password"] = True
            user = User(
                username=u["username"],
                password_hash=hashes.get(u["username"], ""),
                failed_attempts=0,
                created_at=now,
                **cols,
            )
            session.add(user)
            session.flush()
            record("user", user.id, u["username"], None, {"username": u["username"], **cols})
        else:
            # The file may ask for a new password; only the user's own new password clears
            # the demand (re-importing a file must not make a one-time password permanent).
            cols["must_change_password"] = user.must_change_password or u["must_change_password"]
            changed_u = {k: val for k, val in cols.items() if getattr(user, k) != val}
            if changed_u:
                before_u = {k: getattr(user, k) for k in changed_u}
                for k, val in changed_u.items():
                    setattr(user, k, val)
                record("user", user.id, u["username"], before_u, changed_u)
    for username in sorted(users.keys() - {u["username"] for u in doc.users}):
        left_alone("user", username)
    session.flush()


def _refuse_retiring(
    session: Session,
    res: Resource,
    entry: ResourceEntry,
    catalog: Catalog,
    source: str,
    now: dt.datetime,
) -> None:
    """Retiring a resource (or deactivating a staff member) that still holds booked sessions
    ahead is the settings pages' decision, with the sessions shown: the file does not force it."""
    ahead = sessions_ahead(session, res.id, now, catalog)
    if ahead:
        n = len(ahead)
        shown = "; ".join(s.label for s in ahead[:3]) + (f"; and {n - 3} more" if n > 3 else "")
        raise ConfigError(
            f"{source}: {entry.where}.active: {res.name} still holds {n} booked session"
            f"{'s' if n != 1 else ''} ahead ({shown}); {_BEFORE_RETIRING[res.kind]}"
        )


_BEFORE_RETIRING = {
    "room": "move them, or mark it out of service in Settings, before retiring it",
    "equipment": "move them, or mark it out of service in Settings, before retiring it",
    "staff": "re-plan them (time off in Settings) before deactivating them",
}


def doc_timezone(doc: ConfigDocument) -> str:
    return str(doc.settings["clinic"]["timezone"])


def doc_time_format(doc: ConfigDocument) -> str:
    """How the imported clinic reads a time of day (its [clinic] time_format, "12h" unset)."""
    return str(doc.settings["clinic"].get("time_format", "12h"))


def _shift_row(s: StaffShift) -> dict[str, Any]:
    return {k: getattr(s, k) for k in _SHIFT_COLUMNS}


def _resource_snapshot(res: Resource, member: StaffMember | None) -> dict[str, Any]:
    snap: dict[str, Any] = {
        "kind": res.kind,
        "subkind": res.subkind,
        "name": res.name,
        "short_name": res.short_name,
        "capacity": res.capacity,
        "active": res.active,
        "notes": res.notes,
    }
    if res.kind != "staff":
        snap["serves"] = sorted(res.serves or ())
    if member is not None:
        snap |= {
            k: getattr(member, k)
            for k in ("role", "first_name", "last_name", "credentials", "phone", "email")
        }
    return snap
