"""The day sheet: the clinic's sessions of one day grouped by room or by staff member, with
what the station checks before each (monitor, driver, fasting, open gating rules).

``day_sheet`` reads the database into a frozen ``DaySheet`` (times in the clinic's zone);
``day_sheet_layout`` turns it into a ``PrintLayout``.

Everything is read with plain SQL through ``services.schedule.day_rows.Queries``, in one read
transaction: through SQLAlchemy's core (``day_sheet``, SQLite or PostgreSQL), or with the
standard library's sqlite3 straight from a clinic file (``services/printing/sqlite_file.py``),
so that ``ketadesk print day`` prints without importing SQLAlchemy or the ORM at all.  This
module imports neither.
"""

from __future__ import annotations

import datetime as dt
import html
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from ketadesk.config import Catalog
from ketadesk.scheduling.confirmations import parse_confirmation_settings
from ketadesk.scheduling.dates import typed_clock
from ketadesk.scheduling.gating import (
    PRIOR_AUTH_GIVEN_STATUSES,
    PatientFacts,
    ScreeningStatus,
    check_gates,
    eligibility_settings,
    prior_auth_spending,
    prior_auth_spends,
    prior_auth_units,
)
from ketadesk.scheduling.protocol_rules import rule_title
from ketadesk.scheduling.statuses import PRIOR_AUTH_SPENDING_STATUSES
from ketadesk.scheduling.words import role_name
from ketadesk.services.common.context import utcnow
from ketadesk.services.common.phones import display_phone
from ketadesk.services.printing.layout import (
    Logo,
    PrintBlock,
    PrintLayout,
    clinic_logo,
    file_date,
    fill,
    hour_minute,
    long_date,
    staff_label,
    template,
)
from ketadesk.services.schedule.day_rows import (
    Queries,
    as_utc,
    day_schedule_from_rows,
    read_catalog,
    read_day_rows,
)
from ketadesk.services.schedule.day_schedule import (
    AWAY_NOTICE,
    STATUS_LABELS,
    DayAppointment,
    DaySchedule,
)

if TYPE_CHECKING:
    from ketadesk.store.database import Database

BY_ROOM = "room"
BY_STAFF = "staff"


@dataclass(frozen=True, slots=True)
class SheetPhase:
    name: str
    start: dt.datetime
    end: dt.datetime


@dataclass(frozen=True, slots=True)
class SheetSession:
    """One session on the day sheet (times local to the clinic)."""

    appointment_id: int
    start: dt.datetime
    end: dt.datetime
    patient: str  # "Lovelace, Ada", or "A. L." when the sheet prints initials
    chart_number: str
    session_type: str
    series: str  # "3/6", or ""
    status: str
    room: str
    phases: tuple[SheetPhase, ...]
    monitor: str  # the equipment held, the vital-signs monitor first ("Monitor A · Oximeter 1")
    staff: tuple[str, ...]
    driver: str  # who drives the patient home ("" when nobody is recorded)
    pickup: dt.datetime  # the planned end of the session
    fasting_confirmed: bool
    needs_driver: bool  # a dosing session: the patient may not drive home
    # Gating rules the session does not meet and nobody overrode ("no signed consent on file").
    gate_warnings: tuple[str, ...] = ()
    #: The pre-visit checklist of its session type ([confirmations.checklist]): (name, ticked),
    #: ticked in the Confirmations view.
    checklist: tuple[tuple[str, bool], ...] = ()
    #: The ride's pickup time as agreed on the confirmation call ("" when none: the planned end).
    ride_pickup: str = ""
    #: The desk's note on the appointment (printed shortened: the sheet keeps a row per session).
    notes: str = ""
    #: The driver's phone ("" when none, or on the public sheet).
    driver_phone: str = ""
    #: ``staff`` as the compact row names them ("Reyes RN"); empty: ``staff`` in full.
    staff_short: tuple[str, ...] = ()
    #: The rules a clinician overrode for this session or its series: (rule code, reason, who),
    #: printed where the station looks (the reason left out on the public sheet).
    overrides: tuple[tuple[str, str, str], ...] = ()
    #: What the session spends of the patient's prior authorization, in words read at a
    #: glance ("PA 4 of 6 (exp 12/31)"); "" when its type needs none or none is on file.
    prior_auth: str = ""
    #: Why that spend is not covered ("past its units", "past expiry"); "" when it is.
    prior_auth_problem: str = ""
    #: A closure added after the session was booked: "Clinic closed on this day: reschedule
    #: (Christmas Day)"; "" while its place is open.
    closed: str = ""
    #: The patient's days away holding the session's day ("Dec 14 – 18, 2026 (travel)"), as
    #: the views and the card flag it (scheduling/days_away.away_flagged); "" when not.
    away: str = ""


@dataclass(frozen=True, slots=True)
class SheetGroup:
    """One room's (or one staff member's) sessions, in time order."""

    title: str
    sessions: tuple[SheetSession, ...]


@dataclass(frozen=True, slots=True)
class DaySheet:
    clinic_name: str
    day: dt.date
    by: str  # BY_ROOM | BY_STAFF
    initials: bool
    closed_reason: str | None
    groups: tuple[SheetGroup, ...]
    printed_at: dt.datetime  # local
    logo: Logo | None = None
    #: How the clinic reads a time of day ([clinic] time_format): the page's times say so.
    time_format: str = "12h"

    @property
    def session_count(self) -> int:
        return sum(len(g.sessions) for g in self.groups)


def initials(first_name: str, last_name: str) -> str:
    """ "Ada", "Lovelace" -> "A. L." (what a sheet in public view shows)."""
    parts = [p for p in (*first_name.split(), *last_name.split()) if p]
    return " ".join(f"{p[0].upper()}." for p in parts)


def day_sheet(
    db: Database,
    day: dt.date,
    *,
    by: str = BY_ROOM,
    use_initials: bool = False,
    now: dt.datetime | None = None,
) -> DaySheet:
    """The day sheet of the clinic's local ``day``, grouped by room or by staff member.

    Cancelled and no-show sessions are left out: the sheet is what the station works from.
    """
    from ketadesk.services.schedule.day import core_queries

    _check_by(by)
    with core_queries(db) as queries:  # one read transaction for all of it
        return day_sheet_from_queries(queries, day, by=by, use_initials=use_initials, now=now)


def _check_by(by: str) -> None:
    if by not in (BY_ROOM, BY_STAFF):
        raise ValueError(f"by must be {BY_ROOM!r} or {BY_STAFF!r}, not {by!r}")


HOLDS_SQL = """
SELECT h.appointment_id, h.need, r.id, r.name, r.kind, s.first_name, s.last_name, s.credentials
FROM resource_hold h
JOIN resource r ON r.id = h.resource_id
LEFT JOIN staff_member s ON s.resource_id = r.id
WHERE h.appointment_id IN ({ids}) AND h.active
ORDER BY h.starts_at, h.id
"""
PEOPLE_SQL = """
SELECT a.id, a.checklist, p.first_name, p.last_name, p.driver_name, p.driver_phone, t.dosing,
       a.patient_id, a.series_id, a.notes
FROM appointment a
JOIN patient p ON p.id = a.patient_id
JOIN session_type t ON t.id = a.session_type_id
WHERE a.id IN ({ids})
"""
PATIENTS_SQL = """
SELECT id, screening_status, screening_cleared_on, consent_signed_on, rems_enrolled_on,
       prior_auth_expires_on, prior_auth_sessions, driver_name, date_of_birth,
       eligibility_flags, prior_auth_starts_on, self_pay
FROM patient
WHERE id IN ({patients})
"""
OVERRIDES_SQL = """
SELECT appointment_id, series_id, rule, reason
FROM gating_override
WHERE appointment_id IN ({ids}) OR series_id IN ({series})
"""
RULE_OVERRIDES_SQL = """
SELECT o.appointment_id, o.series_id, o.rule, o.reason, u.display_name, u.role
FROM gating_override o
LEFT JOIN app_user u ON u.id = o.user_id
WHERE o.appointment_id IN ({ids}) OR o.series_id IN ({series})
ORDER BY o.at, o.id
"""
PRIOR_AUTH_SQL = """
SELECT a.id, a.patient_id, t.code, a.status, a.starts_at
FROM appointment a
JOIN session_type t ON t.id = a.session_type_id
WHERE a.patient_id IN ({patients}) AND t.code IN ({codes}) AND a.status IN ({statuses})
ORDER BY a.starts_at, a.id
"""


def _in(name: str, values: Sequence[object], params: dict[str, object]) -> str:
    """Placeholders ``:name0, :name1...`` for an IN list, their values put in ``params`` (the
    same text for sqlite3 and SQLAlchemy's ``text``); an empty list matches nothing."""
    if not values:
        return "NULL"
    for n, value in enumerate(values):
        params[f"{name}{n}"] = value
    return ", ".join(f":{name}{n}" for n in range(len(values)))


def _fetch(queries: Queries, sql: str, **lists: Sequence[object]) -> list[Sequence[Any]]:
    params: dict[str, object] = {}
    text = sql.format(**{name: _in(name, values, params) for name, values in lists.items()})
    return list(queries.fetch(text, params))


def _json(value: Any) -> dict[str, Any]:
    """A JSON column as a dict (SQLite keeps JSON as text; PostgreSQL gives the dict)."""
    import json

    if value is None:
        return {}
    found = json.loads(value) if isinstance(value, str | bytes) else value
    return found if isinstance(found, dict) else {}


def _json_list(value: Any) -> list[str]:
    """A JSON list column (SQLite keeps JSON as text; PostgreSQL gives the list)."""
    import json

    if value is None:
        return []
    found = json.loads(value) if isinstance(value, str | bytes) else value
    return [str(v) for v in found] if isinstance(found, list) else []


def _date(value: Any) -> dt.date | None:
    """A date column (SQLite keeps dates as text)."""
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def day_sheet_from_queries(
    queries: Queries,
    day: dt.date,
    *,
    by: str = BY_ROOM,
    use_initials: bool = False,
    now: dt.datetime | None = None,
) -> DaySheet:
    """``day_sheet``, read with ``queries`` (one read transaction, SQLAlchemy's or sqlite3's)."""
    _check_by(by)
    catalog = read_catalog(queries)
    schedule = day_schedule_from_rows(read_day_rows(queries, day, catalog, counter=False))
    tz = ZoneInfo(schedule.timezone)
    active = [a for a in schedule.appointments if a.is_active]
    ids = [a.id for a in active]
    holds = _fetch(queries, HOLDS_SQL, ids=ids) if ids else []
    people = _fetch(queries, PEOPLE_SQL, ids=ids) if ids else []
    gates, prior_auth = _open_gates(queries, catalog, active, people) if ids else ({}, {})
    overridden = _overrides(queries, people) if ids else {}
    # Every piece of equipment a session holds, its monitor first: a Spravato chair's pulse
    # oximeter is checked at the station as its monitor is.
    equipment: dict[int, list[tuple[bool, str]]] = defaultdict(list)
    staff: dict[int, dict[int, str]] = defaultdict(dict)  # appointment -> {resource id: label}
    short: dict[int, dict[int, str]] = defaultdict(dict)  # the same, by last name
    for appointment_id, need, resource_id, name, kind, first, last, credentials in holds:
        if kind == "equipment" and (need != "monitor", name) not in equipment[appointment_id]:
            equipment[appointment_id].append((need != "monitor", name))
        if kind == "staff":
            staff[appointment_id][resource_id] = staff_label(name, first, last, credentials)
            short[appointment_id][resource_id] = " ".join(
                part for part in ((last or "").strip() or name, credentials or "") if part
            )
    facts = {row[0]: row for row in people}
    rooms = {r.id: r.name for r in schedule.rooms}

    confirmations = parse_confirmation_settings(catalog.settings.extra.get("confirmations"))
    sessions: dict[int, SheetSession] = {}
    for a in active:
        _id, stored, first, last, driver, driver_phone, dosing, _patient, _series, notes = facts[
            a.id
        ]
        checklist = _json(stored)
        if use_initials:
            patient = initials(first, last)
            driver_label = initials(*_split_name(driver)) if driver else ""
        else:
            patient = a.patient_name
            driver_label = driver or ""
        sessions[a.id] = SheetSession(
            appointment_id=a.id,
            start=a.start,
            end=a.end,
            patient=patient,
            # A chart number names the patient as surely as the name does: not on the
            # public (initials) sheet.
            chart_number="" if use_initials else a.chart_number,
            session_type=a.session_type_name,
            series=a.series_label,
            status=a.status_label,
            room=rooms.get(a.room_id, "No room"),
            phases=tuple(SheetPhase(p.name, p.start, p.end) for p in a.phases),
            monitor=" · ".join(name for _later, name in sorted(equipment.get(a.id, []))),
            staff=tuple(staff[a.id].values()),
            staff_short=tuple(short[a.id].values()),
            driver=driver_label,
            driver_phone="" if use_initials or not driver else display_phone(driver_phone or ""),
            pickup=a.end,
            fasting_confirmed=bool(checklist.get("fasting_confirmed")),
            checklist=tuple(
                (confirmations.items[key], bool(checklist.get(key)))
                for key in confirmations.items_for(a.session_type_code)
            ),
            ride_pickup=str(checklist.get("ride_pickup") or ""),
            needs_driver=bool(dosing),
            gate_warnings=gates.get(a.id, ()),
            prior_auth=prior_auth.get(a.id, ("", ""))[0],
            prior_auth_problem=prior_auth.get(a.id, ("", ""))[1],
            overrides=tuple(
                (rule, "" if use_initials else reason, who)
                for rule, reason, who in overridden.get(a.id, ())
            ),
            # A note may name the patient ("call her husband Bob"): not on the public sheet.
            notes="" if use_initials else (notes or "").strip(),
            closed=a.closed_words,
            # (the reason is the patient's own: left off the sheet that shows initials)
            away=("that day" if use_initials else a.away) if a.away else "",
        )
    groups = (
        _by_room(schedule, active, sessions)
        if by == BY_ROOM
        else _by_staff(active, staff, sessions)
    )
    spec_names = catalog.settings.name
    return DaySheet(
        clinic_name=spec_names,
        day=day,
        by=by,
        initials=use_initials,
        closed_reason=schedule.closed_reason,
        groups=groups,
        printed_at=(now or utcnow()).astimezone(tz),
        logo=clinic_logo(catalog.settings),
        time_format=catalog.settings.time_format,
    )


def _overrides(queries: Queries, people: Sequence[Any]) -> dict[int, list[tuple[str, str, str]]]:
    """Per appointment of the day, the overrides on record for it or its series: (rule,
    reason, who), oldest first."""
    series_of = {row[0]: row[8] for row in people}
    series_ids = sorted({s for s in series_of.values() if s is not None})
    rows = _fetch(queries, RULE_OVERRIDES_SQL, ids=sorted(series_of), series=series_ids)
    out: dict[int, list[tuple[str, str, str]]] = defaultdict(list)
    for appointment_id, series_id, rule, reason, name, role in rows:
        who = f"{name} ({role_name(role)})" if name else "command line"
        targets = (
            [appointment_id]
            if appointment_id is not None
            else [a for a, s in series_of.items() if s == series_id]
        )
        for a in targets:
            if a in series_of and (rule, reason, who) not in out[a]:
                out[a].append((rule, reason, who))
    return out


# The day sheet shows a missing driver in its own words ("NO DRIVER RECORDED").
_SHOWN_ELSEWHERE = frozenset({"driver_arranged"})


def _open_gates(
    queries: Queries,
    catalog: Catalog,
    active: Sequence[DayAppointment],
    people: Sequence[Any],
) -> tuple[dict[int, tuple[str, ...]], dict[int, tuple[str, str]]]:
    """Per appointment of the day, the gating rules it does not meet that no clinician has
    overridden (for that appointment or its series); and what it spends of the patient's prior
    authorization, (words, problem or "") as ``prior_auth_text`` says them.

    Prior-authorized sessions count as ``prior_auth_valid`` counts them: the patient's sessions
    booked or given (``scheduling.gating.prior_auth_spends``: on or after the authorization's
    start, at the clinic's local date) in time order, each spending its
    ``[eligibility.prior_auth_units]`` after those ahead (``prior_auth_spending``), all read in
    one query for the day's patients; a session of the day that spends none (before the start)
    is shown as the first."""
    facts_of = {row[0]: row for row in people}
    patient_ids = sorted({row[7] for row in people})
    series_ids = sorted({row[8] for row in people if row[8] is not None})
    patients = {row[0]: row for row in _fetch(queries, PATIENTS_SQL, patients=patient_ids)}
    overrides: dict[tuple[str, int], dict[str, str]] = defaultdict(dict)
    rows = _fetch(queries, OVERRIDES_SQL, ids=[a.id for a in active], series=series_ids)
    for appointment_id, series_id, rule, reason in rows:
        if appointment_id is not None:
            overrides[("a", appointment_id)][rule] = reason
        if series_id is not None:
            overrides[("s", series_id)][rule] = reason
    prior_auth_codes = [
        c for c, t in catalog.session_types.items() if "prior_auth_valid" in t.gating
    ]
    elig = eligibility_settings(catalog.settings)
    # Each patient's prior-authorized sessions that spend the authorization, in time order:
    # (id, type); and per session, the units the sessions given before it spent.
    ahead: dict[int, list[tuple[int, str]]] = defaultdict(list)
    given_units: dict[int, int] = defaultdict(int)
    given_before: dict[int, int] = {}
    if prior_auth_codes:
        tz = ZoneInfo(catalog.settings.timezone)
        for appointment_id, patient_id, code, status, starts_at in _fetch(
            queries,
            PRIOR_AUTH_SQL,
            patients=patient_ids,
            codes=prior_auth_codes,
            statuses=sorted(PRIOR_AUTH_SPENDING_STATUSES),
        ):
            starts_on = _date(patients[patient_id][10])
            if prior_auth_spends(status, as_utc(starts_at).astimezone(tz).date(), starts_on):
                ahead[patient_id].append((appointment_id, code))
                given_before[appointment_id] = given_units[patient_id]
                if status in PRIOR_AUTH_GIVEN_STATUSES:
                    given_units[patient_id] += prior_auth_units(code, elig)
    spends = {p: prior_auth_spending(queue, elig) for p, queue in ahead.items()}
    show_prior_auth = catalog.settings.gating.get("prior_auth_valid") != "off"
    out: dict[int, tuple[str, ...]] = {}
    words: dict[int, tuple[str, str]] = {}
    for a in active:
        spec = catalog.session_types.get(a.session_type_code)
        row = facts_of.get(a.id)
        if spec is None or row is None or not spec.gating:
            continue
        (
            patient_id,
            screening_status,
            screening_cleared_on,
            consent_signed_on,
            rems_enrolled_on,
            prior_auth_expires_on,
            left,
            driver_name,
            date_of_birth,
            eligibility_flags,
            prior_auth_starts_on,
            self_pay,
        ) = patients[row[7]]
        self_pay = bool(self_pay)
        authorized = left
        spend = (
            spends.get(patient_id, {}).get(a.id)
            or prior_auth_spending([(a.id, a.session_type_code)], elig)[a.id]
        )
        if left is not None:
            left = spend.left_for(left)
        if self_pay and show_prior_auth and "prior_auth_valid" in spec.gating:
            # The patient pays for their own sessions: no authorization to spend or check.
            words[a.id] = (SELF_PAY_TEXT, "")
        elif show_prior_auth and "prior_auth_valid" in spec.gating:
            said = prior_auth_text(
                a.start.date(),
                spend.before,
                spend.units,
                authorized,
                _date(prior_auth_starts_on),
                _date(prior_auth_expires_on),
                given_before=given_before.get(a.id, 0),
            )
            if said[0]:
                words[a.id] = said
        facts = PatientFacts(
            screening_status=ScreeningStatus(screening_status),
            screening_cleared_on=_date(screening_cleared_on),
            consent_signed_on=_date(consent_signed_on),
            rems_enrolled_on=_date(rems_enrolled_on),
            prior_auth_expires_on=_date(prior_auth_expires_on),
            prior_auth_sessions_left=left,
            driver_name=driver_name,
            date_of_birth=_date(date_of_birth),
            flags=frozenset(_json_list(eligibility_flags)),
            prior_auth_starts_on=_date(prior_auth_starts_on),
            prior_auth_given=given_before.get(a.id, 0),
            self_pay=self_pay,
        )
        given = dict(overrides.get(("s", row[8]), {})) if row[8] is not None else {}
        given.update(overrides.get(("a", a.id), {}))
        results = check_gates(spec, facts, [a.start.date()], catalog.settings, given)
        open_ = tuple(
            r.message for r in results if r.stops_booking and r.rule not in _SHOWN_ELSEWHERE
        )
        if open_:
            out[a.id] = open_
    return out, words


#: What the day sheet prints for a self-pay patient's prior-authorized session, where it would
#: print "PA n of N".
SELF_PAY_TEXT = "Self-pay"


def _month_day(day: dt.date, sheet_day: dt.date) -> str:
    """``12/31``, with the year when it is not the sheet's (``1/15/2027``)."""
    text = f"{day.month}/{day.day}"
    return text if day.year == sheet_day.year else f"{text}/{day.year}"


def prior_auth_text(
    day: dt.date,
    before: int,
    units: int,
    authorized: int | None,
    starts_on: dt.date | None,
    expires_on: dt.date | None,
    *,
    given_before: int = 0,
) -> tuple[str, str]:
    """A session's spend of a prior authorization as the front desk reads it, and what is wrong
    with it, in a few words (the rule's own warning says it in full): ("PA 4 of 6 (exp 12/31)",
    ""), ("PA 3-4 of 6" for a two-unit session), ("PA 7 of 6", "past its units"; "past its
    units (no start date)" when none is on file and sessions ``given_before`` it count), ("PA 2
    of 6 (exp 11/30)", "past expiry").
    ("", "") when no authorization is on file (the gating warning says so)."""
    if authorized is None and expires_on is None:
        return "", ""
    parts = ["PA"]
    if authorized is not None:
        spent = before + units
        span = f"{before + 1}-{spent}" if units > 1 else f"{spent}"
        parts.append(f"{span} of {authorized}")
    if expires_on is not None:
        parts.append(f"(exp {_month_day(expires_on, day)})")
    problems = []
    if authorized is not None and before + units > authorized:
        # Without a start date every session given counts, an earlier authorization's too.
        missing = starts_on is None and given_before > 0
        problems.append("past its units" + (" (no start date)" if missing else ""))
    if expires_on is not None and day > expires_on:
        problems.append("past expiry")
    if starts_on is not None and day < starts_on:
        problems.append(f"before it starts {_month_day(starts_on, day)}")
    return " ".join(parts), "; ".join(problems)


def _split_name(full: str) -> tuple[str, str]:
    first, _, last = full.strip().partition(" ")
    return first, last


def _by_room(
    schedule: DaySchedule, active: Sequence[DayAppointment], sessions: dict[int, SheetSession]
) -> tuple[SheetGroup, ...]:
    groups = []
    for room in schedule.rooms:
        mine = tuple(sessions[a.id] for a in active if a.room_id == room.id)
        if mine:
            groups.append(SheetGroup(room.name, mine))
    return tuple(groups)


def _by_staff(
    active: Sequence[DayAppointment],
    staff: dict[int, dict[int, str]],
    sessions: dict[int, SheetSession],
) -> tuple[SheetGroup, ...]:
    per: dict[str, list[SheetSession]] = defaultdict(list)
    unstaffed: list[SheetSession] = []
    for a in active:  # already in time order
        if not staff[a.id]:
            unstaffed.append(sessions[a.id])
        for label in staff[a.id].values():
            per[label].append(sessions[a.id])
    groups = [SheetGroup(label, tuple(per[label])) for label in sorted(per)]
    if unstaffed:
        groups.append(SheetGroup("No staff assigned", tuple(unstaffed)))
    return tuple(groups)


#: How much of an appointment's note the day sheet prints (the rest is on screen): a row per
#: session is what lets a busy day fit one or two pages.
NOTE_CHARS = 60


def day_sheet_layout(sheet: DaySheet) -> PrintLayout:
    """The day sheet as compact rows, one per session (time, patient, session, staff or room,
    ride, checklist and notes), under a heading per room or staff member that repeats with its
    column names on every page the group runs onto."""
    by = "room" if sheet.by == BY_ROOM else "staff member"
    blocks: list[PrintBlock] = []
    if sheet.closed_reason:
        blocks.append(PrintBlock(fill("notice.html", text=sheet.closed_reason)))
    if not sheet.groups:
        blocks.append(
            PrintBlock(fill("notice.html", text=f"No appointments on {long_date(sheet.day)}."))
        )
    for group in sheet.groups:
        count = len(group.sessions)
        blocks.append(
            PrintBlock(
                fill(
                    "day_group.html",
                    title=group.title,
                    detail=f"{count} session{'s' if count != 1 else ''}",
                    who_heading="Staff, equipment" if sheet.by == BY_ROOM else "Room, equipment",
                ),
                keep_with_next=True,
            )
        )
        for s in group.sessions:
            blocks.append(PrintBlock(_session_row(s, sheet.by, sheet.time_format)))
    return PrintLayout(
        clinic_name=sheet.clinic_name,
        title=f"Day sheet by {by}: {long_date(sheet.day)}",
        name=f"Day sheet by {by} {file_date(sheet.day)}",
        printed_at=sheet.printed_at,
        time_format=sheet.time_format,
        css=template("style.css").template,
        blocks=tuple(blocks),
        logo=sheet.logo.path if sheet.logo else None,
        warnings=(sheet.logo.problem,) if sheet.logo and sheet.logo.problem else (),
    )


def _lines(items: Iterable[str]) -> str:
    return "<br/>".join(html.escape(i) for i in items if i)


def shortened(text: str, limit: int = NOTE_CHARS) -> str:
    """``text`` on one line, cut at a word to at most ``limit`` characters, with "…" if cut."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat[: limit - 1].rsplit(" ", 1)[0] or flat[: limit - 1]
    return cut.rstrip(" ,;.") + "…"


def _short_type(name: str) -> str:
    """A session type's name without its aside ("Spravato (esketamine)" -> "Spravato"), so the
    type keeps to one line of the row."""
    return name.split(" (", 1)[0] or name


def _session_row(s: SheetSession, by: str, time_format: str) -> str:
    who = [s.room] if by == BY_STAFF else [" · ".join(s.staff_short or s.staff)]
    if s.monitor:
        who.append(s.monitor)
    if s.needs_driver:
        # The pickup is the session's end ("to 10:00") unless the confirmation call agreed
        # another time, which is then said here.
        said = typed_clock(s.ride_pickup, time_format)
        pickup = f"Pickup <b>{html.escape(said)}</b>" if s.ride_pickup else ""
        if not s.driver:
            ride = "<br/>".join(p for p in ("<b>NO DRIVER RECORDED</b>", pickup) if p)
        else:
            reach = " · ".join(p for p in (html.escape(s.driver_phone), pickup) if p)
            ride = "<br/>".join(p for p in (html.escape(s.driver), reach) if p)
    else:
        ride = "No ride needed"
    checks: list[str] = []
    if s.closed:  # first: the session cannot take place where and when it is booked
        checks.append(f'<span class="warn">&#9888; <b>{html.escape(s.closed)}</b></span>')
    if s.away:  # the patient told us they are away that day: a call to move it is owed
        checks.append(
            f'<span class="warn">&#9888; <b>{AWAY_NOTICE} {html.escape(s.away)}</b>: '
            "call to move it</span>"
        )
    if s.checklist:
        checks.append(
            " ".join(
                ("&#9746;&nbsp;" if ticked else "&#9744;&nbsp;") + html.escape(name)
                for name, ticked in s.checklist
            )
        )
    elif s.needs_driver:
        checks.append(("&#9746;" if s.fasting_confirmed else "&#9744;") + "&nbsp;Fasting")
    if s.prior_auth_problem:  # flagged: the payer may not cover this session
        checks.append(
            f'<span class="warn">&#9888; <b>{html.escape(s.prior_auth)}</b>: '
            f"{html.escape(s.prior_auth_problem)}</span>"
        )
    elif s.prior_auth:
        checks.append(f"<b>{html.escape(s.prior_auth)}</b>")
    for warning in s.gate_warnings:  # never shortened: each is a reason not to dose
        checks.append(f'<span class="warn">&#9888; {html.escape(warning)}</span>')
    for rule, reason, decided_by in s.overrides:  # a clinician's decision, for the station
        checks.append(
            fill(
                "day_override.html",
                title=html.escape(rule_title(rule)),
                rule=html.escape(rule),
                reason_html=f" — {html.escape(reason)}" if reason else "",
                who=decided_by,
            )
        )
    if s.notes:
        checks.append(f"<i>{html.escape(shortened(s.notes))}</i>")
    # "Booked" is what a sheet printed ahead says of nearly every row: only the others print.
    status = "" if s.status == STATUS_LABELS.get("booked") else s.status
    detail = " · ".join(part for part in (f"Series {s.series}" if s.series else "", status) if part)
    return fill(
        "day_row.html",
        # "12:25 PM" kept on one line: the time column is narrow.
        time_html=html.escape(hour_minute(s.start, time_format)).replace(" ", "&nbsp;"),
        end_html=html.escape(hour_minute(s.end, time_format)).replace(" ", "&nbsp;"),
        patient=s.patient,
        chart_html=f'<br/><span class="tiny">Chart {html.escape(s.chart_number)}</span>'
        if s.chart_number
        else "",
        session_type=_short_type(s.session_type),
        detail=detail,
        who_html=_lines(who) or "&nbsp;",
        ride_html=ride,
        checks_html="<br/>".join(checks) or "&nbsp;",
    )
