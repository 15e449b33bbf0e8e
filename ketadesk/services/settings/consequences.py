"""What a closure, time off or an out-of-service window breaks, before it is saved.

``preview`` lists every booked future session the proposed unavailability breaks (a session
holding that resource in the stretch, or any session in a closed stretch of the clinic; a
pencilled-in hold too, until its deadline) and proposes a new place for each.  A session of a
series is tried, in this order (``_series_proposals``): the same time with other resources;
the same day, the free start nearest the booked time (nothing else moves); only then another
day, moved there and the rest re-flowed by the planner (``reflow``) only as the protocol's gaps
need, ranked by the fewest sessions moved, the series' own weekdays, the nearest day and the
series' time -- never onto a day the patient is known to be away (a day they cancelled with a
reason, ``away_days``), and a session the desk moved by hand keeps its day whenever some
proposal allows (``moved_by_hand``).  A single session gets the nearest start with the same
resources where they can serve.  The administrator may leave any proposal for the desk
(``Consequences.leaving``): that session stays where it is, flagged as needing a new place.
The proposals are worked out one after another on one availability, so two of them never take
the same chair.  A pencilled-in hold is re-planned like a booking and stays pencilled in, with its
deadline (never moved to before it).  Each proposal names the resources it swaps ("Monitor 2
instead of Monitor 1"), which the dialog and the audit trail repeat.  Each proposal is judged
by the rules engine (``rule_check``: gaps, window cap, series order, concurrent courses, the
gates for each new day), with the patient's proposals before it; one the rules refuse is not
proposed: its session is left unplaced, the rule and the fact named.  A repeating closure
(one row: scheduling/closure_repeats.py) breaks what meets any one of its days' hours, and
only that.

``apply`` writes the closure row and every proposal in one transaction, re-checked like any
booking (plan_check.verify_plan sees the new closure) and by the rules engine, all or nothing;
each affected patient gets one "schedule change" call on the follow-up queue and the printed
call list.  Sessions with no proposal are not moved, cancelled or hidden: the result lists them
and their patients' calls say "find a new time" -- a clinic would rather a person rings the
patient and decides (another day, another clinician, or cancelling) than the program cancel a
treatment on its own. They show on the schedule as before, in the grey of the closure, until
someone moves them.

``undo`` removes the closure and puts the moved sessions back where they were, if those places
are still free and the sessions have not moved since; it cancels the calls it made.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ketadesk.scheduling.availability import Availability, instant, seconds
from ketadesk.scheduling.calendar import ClinicCalendar, ClosureSpan, Interval
from ketadesk.scheduling.catalog import WEEKDAYS, HoldMode
from ketadesk.scheduling.closure_repeats import expand, occurrences
from ketadesk.scheduling.dates import WEEKDAY_ABBR, moved_words, short_date, short_date_time
from ketadesk.scheduling.days_away import AwayRange, away_reason
from ketadesk.scheduling.days_away import away_days as days_away
from ketadesk.scheduling.followup_rules import NO_NEW_TIME_WORDS, SCHEDULE_CHANGE_CALL
from ketadesk.scheduling.model import PlannedHold, PlannedSession, session_holds
from ketadesk.scheduling.openings import Preferences, SessionSearch
from ketadesk.scheduling.planner import ChangeKind, SeriesChange, plan_score, reflow
from ketadesk.scheduling.protocol_rules import (
    MAX_GAP,
    MIN_GAP,
    WINDOW_CAP,
    Finding,
    rule_settings,
    rule_title,
    stopping,
)
from ketadesk.scheduling.statuses import (
    RELEASED_STATUSES,
    REPLANNED_STATUSES,
    TENTATIVE_STATUSES,
    UNDER_WAY_STATUSES,
    ResourceNeed,
    resource_need,
)
from ketadesk.services.access import audit
from ketadesk.services.access.permissions import require
from ketadesk.services.booking import appointment_changes, plan_check, rule_check
from ketadesk.services.booking.contention import retried_once
from ketadesk.services.booking.planning import horizon_days, load_patient_facts
from ketadesk.services.booking.series_moves import _series_plan
from ketadesk.services.common.context import Actor, InvalidRequest, utcnow
from ketadesk.services.common.session_words import session_words
from ketadesk.services.confirmations import desk_moves
from ketadesk.services.followups.sync import follow_up_state
from ketadesk.services.settings.availability import (
    KIND_LABELS,
    Unavailability,
    check,
    closure_state,
    insert_closure,
)
from ketadesk.store import changes
from ketadesk.store.clinic_config import StoredConfig, load_catalog, load_config
from ketadesk.store.database import Database
from ketadesk.store.days_away import patient_away_ranges
from ketadesk.store.models import (
    Appointment,
    AppointmentEvent,
    Closure,
    FollowUp,
    Patient,
    Resource,
    ResourceHold,
    SessionType,
)
from ketadesk.store.snapshot import calendar_of, load_calendar, load_snapshot

#: The follow-up a schedule change puts on the call list (services/printing/call_list.py).
CALL_KIND = SCHEDULE_CHANGE_CALL
CALL_ROLE = "front_desk"
#: How many days after the broken one a single session's new place is looked for.
SEARCH_DAYS = 14
#: A session moved this many days or more has lost its week: a nearer day is tried first.
WEEK = 7


@dataclass(frozen=True, slots=True)
class BrokenSession:
    appointment_id: int
    patient_id: int
    patient_name: str  # "Lovelace, Ada"
    session_type: str  # its name
    starts_at: dt.datetime
    ends_at: dt.datetime
    why: str  # "Monitor 3 out of service: calibration"
    series_id: int | None = None
    tentative: bool = False  # pencilled in: re-planned all the same, and stays pencilled in


@dataclass(frozen=True, slots=True)
class Move:
    """One appointment's new place: a broken session's, or a later one the re-flow shifted."""

    appointment_id: int
    patient_id: int
    patient_name: str
    session_type: str
    old: PlannedSession
    new: PlannedSession
    broken: bool  # False: moved only to keep the series' spacing
    #: The resources it swaps, by the names staff know: "Monitor 3 instead of Monitor 1" ("":
    #: it keeps them all).
    instead: str = ""
    #: The broken session whose proposal this move is part of (its own id for a broken one):
    #: leaving that session for the desk leaves this move out too.
    for_broken: int | None = None

    @property
    def same_time(self) -> bool:
        return self.new.start == self.old.start

    def change_text(self) -> str:
        """What the move does besides the time, said where it is shown and audited: "same
        time, Monitor 3 instead of Monitor 1"; for a move to another time, the resources it
        swaps ("Monitor 3 instead of Monitor 1"), "" when it keeps them all."""
        if not self.same_time:
            return self.instead
        return f"same time, {self.instead}" if self.instead else "same time"


@dataclass(frozen=True, slots=True)
class Unplaced:
    session: BrokenSession
    problem: str


@dataclass(frozen=True)
class Consequences:
    unavailability: Unavailability
    what: str  # "Monitor 3 out of service", "Clinic closed", "Dr Patel time off"
    broken: tuple[BrokenSession, ...]
    moves: tuple[Move, ...]
    unplaced: tuple[Unplaced, ...]
    calendar: ClinicCalendar
    versions: Mapping[int, int] = field(default_factory=dict)
    #: Sessions under way when the window begins: using the resource now, not re-planned.
    in_use: tuple[BrokenSession, ...] = ()

    def move_of(self, appointment_id: int) -> Move | None:
        return next((m for m in self.moves if m.appointment_id == appointment_id), None)

    def cause_of(self, move: Move) -> int:
        """The broken session whose proposal ``move`` belongs to."""
        return move.for_broken if move.for_broken is not None else move.appointment_id

    def leaving(self, appointment_ids: Collection[int]) -> Consequences:
        """These consequences with the proposals of the broken sessions ``appointment_ids``
        not applied: those sessions stay where they are, flagged as needing a new place (as a
        session with no proposal is), and the series' shifts made for them are left out too."""
        left = set(appointment_ids)
        if not left:
            return self
        dropped = [m for m in self.moves if self.cause_of(m) in left]
        dropped_ids = {m.appointment_id for m in dropped}
        unplaced = [
            *self.unplaced,
            *(Unplaced(b, LEFT_FOR_DESK) for b in self.broken if b.appointment_id in dropped_ids),
        ]
        return dataclasses.replace(
            self,
            moves=tuple(m for m in self.moves if m.appointment_id not in dropped_ids),
            unplaced=tuple(unplaced),
            versions={a: v for a, v in self.versions.items() if a not in dropped_ids},
        )

    @property
    def patients_to_call(self) -> frozenset[int]:
        """The patients ``apply`` puts on the call list: a session of theirs changes time or
        found no new place (the same time with another monitor or room changes nothing for
        them)."""
        moved = {m.patient_id for m in self.moves if m.new.start != m.old.start}
        return frozenset(moved | {u.session.patient_id for u in self.unplaced})


@dataclass(frozen=True)
class Applied:
    """What ``apply`` did, enough to undo it."""

    closure_id: int
    moves: tuple[Move, ...]
    unplaced: tuple[Unplaced, ...]
    follow_up_ids: tuple[int, ...]


def _planned(row: Appointment, type_code: str, index: int | None = None) -> PlannedSession:
    return PlannedSession(
        index=index if index is not None else (row.series_index or 1),
        session_type=type_code,
        start=row.starts_at,
        end=row.ends_at,
        holds=tuple(
            PlannedHold(
                need=h.need,
                resource_id=h.resource_id,
                mode=HoldMode(h.mode),
                span=Interval(h.starts_at, h.ends_at),
                units=h.units,
            )
            for h in row.holds
            if h.active
        ),
    )


def swapped_resources(old: PlannedSession, new: PlannedSession, names: Mapping[int, str]) -> str:
    """The resources ``new`` holds instead of ``old``'s, need by need, in the order of the
    session's needs: "Monitor 3 instead of Monitor 1, Nurse Lee instead of Nurse Kim"."""
    before = {h.need: h.resource_id for h in old.holds}
    swaps: dict[tuple[int, int], None] = {}
    for hold in new.holds:
        was = before.get(hold.need)
        if was is not None and was != hold.resource_id:
            swaps[(hold.resource_id, was)] = None
    return ", ".join(
        f"{names.get(now, f'#{now}')} instead of {names.get(was, f'#{was}')}" for now, was in swaps
    )


def _describe(session: Session, proposed: Unavailability) -> str:
    if proposed.resource_id is None:
        return KIND_LABELS.get(proposed.kind, proposed.kind)
    name = session.scalar(select(Resource.name).where(Resource.id == proposed.resource_id))
    suffix = "time off" if proposed.kind == "time_off" else "out of service"
    return f"{name} {suffix}"


def _touched_rows(
    session: Session, proposed: Unavailability, since: dt.datetime
) -> list[Appointment]:
    """The sessions whose holds (or, for the clinic, whose times) overlap ``proposed`` from
    ``since`` on and that may still need them; ``_broken_rows`` and ``_in_use_rows`` judge each
    by ``statuses.resource_need``."""
    start = max(proposed.starts_at, since)
    maybe = Appointment.status.in_(sorted(REPLANNED_STATUSES | UNDER_WAY_STATUSES))
    if proposed.resource_id is None:
        stmt = select(Appointment, Appointment.starts_at, Appointment.ends_at).where(
            maybe, Appointment.starts_at < proposed.ends_at, Appointment.ends_at > start
        )
    else:
        stmt = (
            select(Appointment, ResourceHold.starts_at, ResourceHold.ends_at)
            .join(ResourceHold, ResourceHold.appointment_id == Appointment.id)
            .where(
                maybe,
                ResourceHold.resource_id == proposed.resource_id,
                ResourceHold.active.is_(True),
                ResourceHold.starts_at < proposed.ends_at,
                ResourceHold.ends_at > start,
            )
        )
    # A repeating closure's row spans all its days: only what meets one of them is touched.
    stretches = _stretches(session, proposed)
    found: dict[int, Appointment] = {}
    for row, starts, ends in session.execute(stmt.order_by(Appointment.starts_at, Appointment.id)):
        if row.id not in found and any(
            starts < s.end and ends > max(s.start, since) for s in stretches
        ):
            found[row.id] = row
    return list(found.values())


def _stretches(session: Session, proposed: Unavailability) -> list[Interval]:
    """What ``proposed`` closes: its span, or each day's hours of a repeating one."""
    span = Interval(proposed.starts_at, proposed.ends_at)
    if not proposed.repeat.repeats:
        return [span]
    zone = ZoneInfo(load_catalog(session).settings.timezone)
    return occurrences(span, proposed.repeat, zone)


def _need(row: Appointment, proposed: Unavailability, now: dt.datetime) -> ResourceNeed:
    return resource_need(
        row.status, row.ends_at, max(proposed.starts_at, now), hold_until=row.hold_until, now=now
    )


def _in_use_why(session: Session, proposed: Unavailability) -> str:
    """Why a session under way is listed: "in progress, using BP Monitor A now"."""
    if proposed.resource_id is None:
        return "in progress now"
    name = session.scalar(select(Resource.name).where(Resource.id == proposed.resource_id))
    using = "with" if proposed.kind == "time_off" else "using"
    return f"in progress, {using} {name} now"


def _broken_rows(
    session: Session, proposed: Unavailability, since: dt.datetime
) -> list[Appointment]:
    """The sessions still ahead that ``proposed`` breaks: each is re-planned.  A session already
    attended, missed or cancelled is not broken, nor a pencilled-in hold past its deadline."""
    return [
        r
        for r in _touched_rows(session, proposed, since)
        if _need(r, proposed, since) is ResourceNeed.AHEAD
    ]


def preview(
    db: Database, proposed: Unavailability, *, now: dt.datetime | None = None
) -> Consequences:
    """The sessions ``proposed`` breaks and a new place for each (nothing is written)."""
    now = now or utcnow()
    with db.read() as session:
        check(session, proposed)
        config = load_config(session)
        catalog = config.catalog
        codes = {tid: code for code, tid in config.session_type_ids.items()}
        names = dict(session.execute(select(SessionType.id, SessionType.name)).all())
        what = _describe(session, proposed)
        reason = f"{what}: {proposed.reason.strip()}"
        touched = _touched_rows(session, proposed, now)
        rows = [r for r in touched if _need(r, proposed, now) is ResourceNeed.AHEAD]
        under_way = [r for r in touched if _need(r, proposed, now) is ResourceNeed.IN_USE]
        patients = {
            pid: f"{last}, {first}"
            for pid, first, last in session.execute(
                select(Patient.id, Patient.first_name, Patient.last_name).where(
                    Patient.id.in_({r.patient_id for r in touched})
                )
            )
        }
        broken = tuple(
            BrokenSession(
                r.id,
                r.patient_id,
                patients[r.patient_id],
                names[r.session_type_id],
                r.starts_at,
                r.ends_at,
                reason,
                r.series_id,
                r.status in TENTATIVE_STATUSES,
            )
            for r in rows
        )
        # Under way when the window begins: the patient is using it now, which the desk is told
        # (take it out of use once the session ends); such a session is never re-planned.
        in_use = tuple(
            BrokenSession(
                r.id,
                r.patient_id,
                patients[r.patient_id],
                names[r.session_type_id],
                r.starts_at,
                r.ends_at,
                _in_use_why(session, proposed),
                r.series_id,
                False,
            )
            for r in under_way
        )
        resource_names = dict(session.execute(select(Resource.id, Resource.name)).all())
        reach = max(horizon_days(p) for p in catalog.protocols.values()) if catalog.protocols else 0
        last = max((r.ends_at for r in rows), default=proposed.ends_at)
        window = Interval(
            min(now, proposed.starts_at) - dt.timedelta(days=1),
            max(last, proposed.ends_at) + dt.timedelta(days=reach + SEARCH_DAYS),
        )
        snapshot = load_snapshot(session, window, catalog)
        closure = ClosureSpan(
            Interval(proposed.starts_at, proposed.ends_at),
            proposed.reason.strip(),
            proposed.kind,
            proposed.resource_id,
        )
        # Each day of a repeating one, as every calendar read from the database will see it.
        added = expand(closure, proposed.repeat.rule, ZoneInfo(catalog.settings.timezone))
        calendar = calendar_of(
            catalog.settings,
            closures=(*snapshot.calendar.closures, *added),
            shifts=snapshot.calendar.shifts,
        )
        work = dataclasses.replace(snapshot, calendar=calendar).availability()
        today = calendar.local_date(now)
        moves: list[Move] = []
        unplaced: list[Unplaced] = []
        versions: dict[int, int] = {}
        done: set[int] = set()
        by_id = {b.appointment_id: b for b in broken}
        for row in rows:
            if row.id in done:
                continue
            info = by_id[row.id]
            if row.status not in REPLANNED_STATUSES:
                unplaced.append(Unplaced(info, f"already {row.status.replace('_', ' ')}"))
                done.add(row.id)
                continue
            candidates: Iterator[tuple[list[Move], str]]
            ruled_out: dict[dt.date, str] = {}
            if row.series_id is not None:
                candidates = _series_proposals(
                    session, row, catalog, work, today, now, names, patients, by_id, ruled_out
                )
            else:
                code = codes[row.session_type_id]
                new, problem = _single_proposal(
                    row,
                    code,
                    catalog.session_types,
                    work,
                    today,
                    now,
                    away=patient_away_ranges(session, row.patient_id),
                )
                single = (
                    [
                        Move(
                            row.id,
                            row.patient_id,
                            patients[row.patient_id],
                            names[row.session_type_id],
                            _planned(row, code),
                            new,
                            True,
                            for_broken=row.id,
                        )
                    ]
                    if new is not None
                    else []
                )
                candidates = iter([(single, problem)])
            # The first proposal the deadline of a pencilled-in hold and the rules allow.
            found, problem, refusal = [], "", ""
            for proposal, why in candidates:
                if not proposal:
                    problem = why
                    continue
                proposal = [
                    dataclasses.replace(m, instead=swapped_resources(m.old, m.new, resource_names))
                    for m in proposal
                ]
                refused = _before_deadline(session, calendar, proposal) or _refused(
                    session, config, [*moves, *proposal], proposal
                )
                if refused:
                    refusal = refusal or refused
                    mine = next((m for m in proposal if m.appointment_id == row.id), None)
                    if mine is not None:
                        ruled_out.setdefault(calendar.local_date(mine.new.start), refused)
                    continue
                found = proposal
                break
            if not found:
                # Every day tried, with what ruled it out: the planner's own make-up names
                # only the days its gaps allow, which may leave out the rule that decided.
                tried = days_ruled_out(ruled_out, row, calendar) if ruled_out else ""
                if refusal:
                    problem = f"{refusal}. Days tried: {tried}" if tried else refusal
                elif tried:
                    problem = f"no new place. Days tried: {tried}"
            if not found:
                unplaced.append(Unplaced(info, problem))
                done.add(row.id)
                continue
            for move in found:
                work.release(move.old.holds)
                work.add(move.new.holds)
                moves.append(move)
                done.add(move.appointment_id)
            for move in found:
                moved = session.get(Appointment, move.appointment_id)
                assert moved is not None
                versions[move.appointment_id] = moved.version
        # A broken session of a series whose re-flow did not reach it (should not happen).
        for b in broken:
            if b.appointment_id not in done:
                unplaced.append(Unplaced(b, "no new place was found"))
        return Consequences(
            proposed, what, broken, tuple(moves), tuple(unplaced), calendar, versions, in_use
        )


def _before_deadline(session: Session, calendar: ClinicCalendar, found: Sequence[Move]) -> str:
    """Why ``found`` cannot be had: it moves a pencilled-in hold to before its deadline (the hold
    would be due for confirmation after its session began); "" when it does not."""
    for move in found:
        row = session.get(Appointment, move.appointment_id)
        if row is None or row.status not in TENTATIVE_STATUSES or row.hold_until is None:
            continue
        if move.new.start < row.hold_until:
            return (
                f"pencilled in until {_fmt(calendar, row.hold_until)}: the only place found, "
                f"{_fmt(calendar, move.new.start)}, is before that deadline"
            )
    return ""


def days_ruled_out(
    ruled_out: Mapping[dt.date, str], row: Appointment, calendar: ClinicCalendar
) -> str:
    """Why each day tried for ``row`` gave no place, days with the same reason together, the
    reason nearest the booked day first: "Mon 12/14, Tue 12/15: a third dose in 7 days
    [window_cap]; Wed 12/16: clinic closed, Snow closure".  The days the clinic never opens
    (weekends) go unsaid."""
    booked = calendar.local_date(row.starts_at)
    groups: dict[str, list[dt.date]] = {}
    for day in sorted(ruled_out, key=lambda d: (abs((d - booked).days), d < booked)):
        if _CLOSED_WEEKDAY.fullmatch(ruled_out[day]):
            continue
        groups.setdefault(_brief(ruled_out[day]), []).append(day)
    return "; ".join(f"{_day_runs(days)}: {why}" for why, days in groups.items())


_CLOSED_WEEKDAY = re.compile(r"clinic closed on \w+s")
_RULE_CODE = re.compile(r"\[([a-z_]+)\]")
_OVER_CAP = re.compile(r"(\d+) \S+ sessions in the (\d+) days")
_SPACING = re.compile(r"sessions (\d+) and (\d+) are (-?\d+) days? apart; .*? asks for (\d+)-")
_ORDINALS = {2: "second", 3: "third", 4: "fourth", 5: "fifth"}


def _brief(reason: str) -> str:
    """A day's reason in a few words, no parentheses nested: the rules it breaks by title and
    code ("a third dose in 7 days [window_cap]", "sessions 5 and 6 too far apart [max_gap]"),
    else the reason ("clinic closed, Snow closure")."""
    words = []
    for a, b, gap, least in _SPACING.findall(reason):
        code = MIN_GAP if int(gap) < int(least) else MAX_GAP
        words.append(
            f"sessions {a} and {b} too {'close' if code == MIN_GAP else 'far apart'} [{code}]"
        )
    for code in dict.fromkeys(_RULE_CODE.findall(reason)):
        over = _OVER_CAP.search(reason) if code == WINDOW_CAP else None
        if over is not None:
            n = int(over.group(1))
            words.append(f"a {_ORDINALS.get(n, f'{n}th')} dose in {over.group(2)} days [{code}]")
        else:
            words.append(f"{rule_title(code).lower()} [{code}]")
    if not words:
        return (
            reason.replace("clinic closed: ", "clinic closed, ").replace("(", "").replace(")", "")
        )
    return ", ".join(words)


def _day_runs(days: Collection[dt.date]) -> str:
    """ "Mon 12/14, Tue 12/15", or "Mon 12/14 to Fri 12/18" for three or more days in a row
    (the clinic's closed days between them do not break a run)."""
    ordered = sorted(days)
    runs: list[list[dt.date]] = []
    for day in ordered:
        if runs and (day - runs[-1][-1]).days <= 3 and _only_weekend_between(runs[-1][-1], day):
            runs[-1].append(day)
        else:
            runs.append([day])
    parts = []
    for run in runs:
        if len(run) >= 3:
            parts.append(f"{_month_day(run[0])} to {_month_day(run[-1])}")
        else:
            parts.extend(_month_day(d) for d in run)
    return ", ".join(parts)


def _only_weekend_between(a: dt.date, b: dt.date) -> bool:
    return all((a + dt.timedelta(days=n)).weekday() >= 5 for n in range(1, (b - a).days))


def _month_day(day: dt.date) -> str:
    """ "Mon 12/14": a day as the call list names it."""
    return f"{WEEKDAY_ABBR[day.weekday()]} {day.month}/{day.day}"


def _judged(
    session: Session, config: StoredConfig, moves: Sequence[Move], patient_id: int
) -> list[Finding]:
    """What the patient's moves among ``moves`` break, by the rules engine: each moved session
    at its new day, its prior-authorization units counted once."""
    mine = {m.appointment_id: m.new for m in moves if m.patient_id == patient_id}
    tentative = set(
        session.scalars(
            select(Appointment.id).where(
                Appointment.id.in_(sorted(mine)), Appointment.status == "tentative"
            )
        )
    )
    # A tentative hold is not gated until it is confirmed (as a move of one).
    facts = (
        None
        if tentative == set(mine)
        else load_patient_facts(session, patient_id, config.catalog, excluding=sorted(mine))
    )
    return rule_check.judge_moves(session, config, patient_id, mine, facts=facts)


def _refused(
    session: Session, config: StoredConfig, moves: Sequence[Move], found: Sequence[Move]
) -> str:
    """Why the rules refuse the proposal ``found`` (with the patient's proposals before it in
    ``moves``), naming each rule and the fact; "" when they allow it.  Nobody overrides a rule
    here: a person who decides so moves the session by hand, with the reason."""
    refused: list[Finding] = []
    for patient_id in sorted({m.patient_id for m in found}):
        refused += stopping(_judged(session, config, moves, patient_id))
    if not refused:
        return ""
    roles = rule_settings(config.catalog.settings).override_roles
    return "refused by the clinic's rules: " + "; ".join(f.text(roles) for f in refused)


#: What a session left for the desk says (the administrator chose not to apply its proposal).
LEFT_FOR_DESK = "left for the desk to re-book by hand"

#: Markers of a move the program made (a closure, a series re-flow, a make-up, an undo): a
#: move event without any of these in its detail was made by a person at the desk.
_MACHINE_MOVES = ("closure_id", "series_reflow", "undo_closure_id", "make_up_for", "undoes")


def _series_preferences(stored: Mapping[str, Any]) -> Preferences:
    """The series' own wishes, as booked (``Series.preferences``): its weekdays, its time and
    its room rank the days and starts a re-flow looks at (none of them is a hard limit)."""
    weekdays = tuple(d for d in stored.get("weekdays") or () if d in WEEKDAYS)
    time = stored.get("time")
    start: dt.time | None = None
    if isinstance(time, str) and time:
        try:
            start = dt.time.fromisoformat(time)
        except ValueError:
            start = None
    room = stored.get("room")
    return Preferences(
        weekdays=weekdays,
        preferred_start=start,
        preferred_room=room if isinstance(room, int) else None,
    )


def away_days(
    session: Session, patient_id: int, since: dt.date, calendar: ClinicCalendar
) -> dict[dt.date, str]:
    """The days the patient is known to be away, from ``since`` on, each with why: the days
    away on their record (``days_away``: "the patient is away Dec 14 – 18, 2026 (travel)"),
    and each day on which they cancelled a session with a reason ("travelling for work that
    week")."""
    ranges = patient_away_ranges(session, patient_id)
    last = max((r.last for r in ranges), default=since)
    out = {d: away_reason(ranges, d) for d in sorted(days_away(ranges, since, last))}
    rows = session.execute(
        select(Appointment.starts_at)
        .join(AppointmentEvent, AppointmentEvent.appointment_id == Appointment.id)
        .where(
            Appointment.patient_id == patient_id,
            Appointment.status == "cancelled",
            AppointmentEvent.action == "cancel",
            AppointmentEvent.reason != "",
        )
    ).all()
    for (starts,) in rows:
        day = calendar.local_date(starts)
        if day >= since:
            out.setdefault(day, "the patient cancelled a session that day with a reason")
    return out


def moved_by_hand(session: Session, appointment_ids: Sequence[int]) -> set[int]:
    """The appointments whose last move was made by a person (the desk moved it, often at the
    patient's request), not by a closure, a re-flow or an undo."""
    last: dict[int, dict[str, Any]] = {}
    rows = session.execute(
        select(AppointmentEvent.appointment_id, AppointmentEvent.detail)
        .where(
            AppointmentEvent.appointment_id.in_(sorted(set(appointment_ids))),
            AppointmentEvent.action == "move",
        )
        .order_by(AppointmentEvent.at, AppointmentEvent.id)
    ).all()
    for appointment_id, detail in rows:
        last[appointment_id] = detail if isinstance(detail, dict) else {}
    return {a for a, d in last.items() if not any(k in d for k in _MACHINE_MOVES)}


def _series_proposals(
    session: Session,
    row: Appointment,
    catalog: Any,
    work: Availability,
    today: dt.date,
    now: dt.datetime,
    names: Mapping[int, str],
    patients: Mapping[int, str],
    broken: Mapping[int, BrokenSession],
    ruled_out: dict[dt.date, str] | None = None,
) -> Iterator[tuple[list[Move], str]]:
    """New places for a broken session of a series, best first; the last one yielded with no
    moves says why nothing more was found.

    In the order a scheduler would try them: (1) the same time with other resources (nothing
    else in the series moves); (2) the same day, the free start nearest the booked time; (3)
    another day, the session moved there and the rest re-flowed only as the protocol's gaps
    need.  Each keeps the protocol's spacing and never lands on a day the patient is known to
    be away (``away_days``); a session the desk moved by hand keeps its day whenever some
    proposal allows (``moved_by_hand``).  Among the other days the fewest sessions moved come
    first; then a day within a week of the booked one before a whole week away, of any
    weekday; then a later day before an earlier one (never earlier than needed: the patient
    has more notice, and a maintenance dose pulled a week ahead stretches the gap after it);
    then the planner's own score of the series as it would be (``plan_score``: the gaps'
    distance from their target, the series' weekdays, time and room), the nearest day and the
    series' time.  ``ruled_out`` is told why each day tried gave no proposal, for the words
    of a session left unplaced."""
    ruled_out = ruled_out if ruled_out is not None else {}
    _appointment, series, protocol, plan, ids = _series_plan(session, row.id)
    assert row.series_index is not None
    spec = catalog.protocols[protocol]
    calendar = work.calendar
    prefs = _series_preferences(series.preferences or {})
    before = {s.index: s for s in plan.sessions}
    index = row.series_index
    booked_day = calendar.local_date(row.starts_at)
    away = away_days(session, row.patient_id, today, calendar)
    ranges = patient_away_ranges(session, row.patient_id)
    away_spans = [
        Interval(calendar.at_local(d, 0), calendar.at_local(d + dt.timedelta(days=1), 0))
        for d in sorted(away)
    ]
    by_hand = {
        appt.id: calendar.local_date(appt.starts_at)
        for appt in ids.values()
        if appt.id in moved_by_hand(session, [a.id for a in ids.values()])
    }

    def attempt(change: SeriesChange) -> tuple[list[Move], str]:
        proposal = reflow(
            plan,
            change,
            spec,
            work,
            catalog.session_types,
            prefs,
            patient_busy=away_spans,
            patient_away=ranges,
        )
        changed = proposal.session(index)
        if changed is None or not changed.placed:
            problems = changed.problems if changed is not None else ()
            return [], "; ".join(problems) or "the series cannot be re-planned around it"
        moves: list[Move] = []
        for s in proposal.sessions:
            if s.index not in ids or s.index < index:
                continue
            if not s.placed:
                return [], f"session {s.index} of the series finds no place: " + "; ".join(
                    s.problems
                )
            old = before[s.index]
            if s.start == old.start and s.holds == old.holds:
                continue
            if s.start < now:
                return [], f"session {s.index} would move into the past"
            day = calendar.local_date(s.start)
            if day in away:
                return [], f"session {s.index} would fall on {short_date(day)}: {away[day]}"
            appt = ids[s.index]
            moves.append(
                Move(
                    appt.id,
                    appt.patient_id,
                    patients.get(appt.patient_id, ""),
                    names[appt.session_type_id],
                    old,
                    s,
                    appt.id in broken,
                    for_broken=row.id,
                )
            )
        if proposal.problems:
            return [], "the series' spacing cannot be kept: " + "; ".join(proposal.problems)
        return moves, ""

    def displaced(moves: Sequence[Move]) -> int:
        """How many sessions moved by hand this proposal takes off their day."""
        return sum(
            1
            for m in moves
            if m.appointment_id in by_hand
            and calendar.local_date(m.new.start) != by_hand[m.appointment_id]
        )

    old = before[index]
    type_spec = catalog.session_types[old.session_type]
    keep = {h.need: h.resource_id for h in old.holds}
    # The patient's other sessions (of any series) on the booked day: not to be overlapped.
    day_start = calendar.at_local(booked_day, 0)
    day_end = calendar.at_local(booked_day + dt.timedelta(days=1), 0)
    theirs = [
        (seconds(a), seconds(b))
        for a, b in session.execute(
            select(Appointment.starts_at, Appointment.ends_at).where(
                Appointment.patient_id == row.patient_id,
                Appointment.id != row.id,
                Appointment.status.not_in(tuple(RELEASED_STATUSES)),
                Appointment.starts_at < day_end,
                Appointment.ends_at > day_start,
            )
        )
    ]

    def on_booked_day(t: int, chosen: Mapping[str, int]) -> list[Move]:
        """Only the broken session moves, within its day: the series' spacing is unchanged."""
        start = instant(t)
        new = PlannedSession(
            index=index,
            session_type=old.session_type,
            start=start,
            end=start + dt.timedelta(minutes=type_spec.total_minutes),
            holds=session_holds(type_spec, start, dict(chosen)),
        )
        appt = ids[index]
        return [
            Move(
                appt.id,
                appt.patient_id,
                patients.get(appt.patient_id, ""),
                names[appt.session_type_id],
                old,
                new,
                True,
                for_broken=row.id,
            )
        ]

    # The session's own holds are not in its way while its new place is looked for.
    work.release(old.holds)
    try:
        search = SessionSearch(
            work, type_spec, keep=keep, preferred_room=prefs.preferred_room, patient_busy=theirs
        )
        same_day: list[list[Move]] = []
        if booked_day >= today and booked_day not in away:
            booked_t = seconds(row.starts_at)
            # 1. The same time, other resources.
            if row.starts_at >= now:
                chosen, _ = search.at(booked_t)
                if chosen is not None:
                    same_day.append(on_booked_day(booked_t, chosen))
            # 2. The same day, the free starts nearest the booked time first.
            options = search.day_options(booked_day, Preferences())
            if isinstance(options, str):
                ruled_out[booked_day] = options
            else:
                for t in sorted(search.grid(options), key=lambda t: (abs(t - booked_t), t)):
                    if t == booked_t or instant(t) < now:
                        continue
                    chosen = search.assign(options, t)
                    if chosen is not None:
                        same_day.append(on_booked_day(t, chosen))
        minute = (
            prefs.preferred_start.hour * 60 + prefs.preferred_start.minute
            if prefs.preferred_start is not None
            else calendar.minute_of_day(row.starts_at)
        )
        other_days: list[dt.datetime] = []
        # Earlier days too (from today): the day before may suit better than pushing the rest.
        for offset in range(-SEARCH_DAYS, SEARCH_DAYS + 1):
            day = booked_day + dt.timedelta(days=offset)
            if day < today or day == booked_day:
                continue
            if day in away:
                ruled_out[day] = away[day]
                continue
            options = search.day_options(day, Preferences())
            if isinstance(options, str):
                ruled_out[day] = options
                continue
            best = search.best_on_day(options, seconds(calendar.at_local(day, minute)))
            if best is None:
                ruled_out[day] = "no free place for the session"
            elif instant(best[1]) >= now:
                other_days.append(instant(best[1]))
    finally:
        work.add(old.holds)
    yield from ((moves, "") for moves in same_day)
    # 3. Another day: each day's best start for the session, and the planner's own make-up.
    pool: list[list[Move]] = []
    for start in other_days:
        moves, why = attempt(SeriesChange(index, ChangeKind.MOVED, new_start=start))
        if moves:
            pool.append(moves)
        else:
            ruled_out[calendar.local_date(start)] = why
    not_before = max(booked_day, today)
    planned, problem = attempt(
        SeriesChange(index, ChangeKind.CANCELLED, not_before=not_before, make_up=True)
    )
    if planned:
        pool.append(planned)
    first_day = calendar.local_date(min(s.start for s in plan.sessions))

    def score(moves: Sequence[Move]) -> int:
        """The planner's own score of the series with ``moves`` made (lower is better)."""
        new = {m.new.index: m.new for m in moves}
        sessions = [new.get(s.index, s) for s in plan.sessions]
        return plan_score(spec, first_day, prefs, work, catalog.session_types, sessions)

    def rank(moves: Sequence[Move]) -> tuple[int, int, bool, bool, int, int, int]:
        mine = next(m for m in moves if m.appointment_id == row.id)
        day = calendar.local_date(mine.new.start)
        distance = abs((day - booked_day).days)
        return (
            displaced(moves),
            sum(1 for m in moves if m.new.start != m.old.start),
            distance >= WEEK,  # a near day of any weekday before a whole week away
            day < booked_day,  # never earlier than needed (the patient has more notice)
            score(moves),
            distance,
            abs(calendar.minute_of_day(mine.new.start) - minute),
        )

    seen: set[tuple[tuple[int, dt.datetime], ...]] = set()
    for moves in sorted(pool, key=rank):
        key = tuple(sorted((m.appointment_id, m.new.start) for m in moves))
        if key in seen:
            continue
        seen.add(key)
        yield moves, ""
    yield [], problem or "no new place keeps the series' spacing"


def _single_proposal(
    row: Appointment,
    type_code: str,
    session_types: Mapping[str, Any],
    work: Availability,
    today: dt.date,
    now: dt.datetime,
    *,
    away: Sequence[AwayRange] = (),
) -> tuple[PlannedSession | None, str]:
    """The nearest start for a single session at its time of day, its resources preferred,
    from its own day on, never on one of the patient's days away."""
    old = _planned(row, type_code)
    spec = session_types[type_code]
    # The session's own holds are not in its way (its nurse's attention at its own start).
    work.release(old.holds)
    try:
        return _nearest_place(old, spec, work, today, now, away=away)
    finally:
        work.add(old.holds)


def _nearest_place(
    old: PlannedSession,
    spec: Any,
    work: Availability,
    today: dt.date,
    now: dt.datetime,
    *,
    away: Sequence[AwayRange] = (),
) -> tuple[PlannedSession | None, str]:
    type_code = old.session_type
    search = SessionSearch(work, spec, keep={h.need: h.resource_id for h in old.holds}, away=away)
    calendar = work.calendar
    first = max(calendar.local_date(old.start), today)
    minute = calendar.minute_of_day(old.start)
    for offset in range(SEARCH_DAYS + 1):
        day = first + dt.timedelta(days=offset)
        options = search.day_options(day, Preferences())
        if isinstance(options, str):
            continue
        best = search.best_on_day(options, seconds(calendar.at_local(day, minute)))
        if best is None:
            continue
        start = instant(best[1])
        if start < now:
            continue
        return (
            PlannedSession(
                index=old.index,
                session_type=type_code,
                start=start,
                end=start + dt.timedelta(minutes=spec.total_minutes),
                holds=session_holds(spec, start, best[2]),
            ),
            "",
        )
    return None, f"no free place in the {SEARCH_DAYS} days after"


def _fmt(calendar: ClinicCalendar, when: dt.datetime) -> str:
    """A session's time in the words of the rest of the app: "Wed Dec 16 10:00 AM"."""
    return short_date_time(calendar.local(when), calendar.settings.time_format)


def apply(
    db: Database,
    actor: Actor,
    consequences: Consequences,
    *,
    now: dt.datetime | None = None,
) -> Applied:
    """Save the closure and move every proposed session, in one transaction, all or nothing;
    each affected patient gets a schedule-change call."""
    require(actor, "configure", db, now=now)
    now = now or utcnow()
    moving = {m.appointment_id for m in consequences.moves}
    sessions = [m.new for m in consequences.moves]
    proposed = consequences.unavailability
    calendar = consequences.calendar

    def write() -> Applied:
        with db.write() as session:
            locked = appointment_changes.lock_appointments(session, moving)
            for appointment_id in sorted(moving):
                row = locked.get(appointment_id)
                if row is None:
                    raise InvalidRequest(
                        "a session to move is no longer on the schedule; "
                        "look at the consequences again"
                    )
                if (
                    row.status not in REPLANNED_STATUSES
                    or _expired(row, now)
                    or row.version != consequences.versions.get(appointment_id, row.version)
                ):
                    raise InvalidRequest(
                        f"{session_words(session, row)} changed at another workstation; "
                        "look at the consequences again"
                    )
            # The closure first: the re-checks below see it, as every later booking will.
            closure = insert_closure(session, actor, proposed, now=now)
            session.flush()
            # Sessions booked into the stretch since the preview was made are not moved.
            since = _broken_rows(session, proposed, now)
            known = moving | {u.session.appointment_id for u in consequences.unplaced}
            new_broken = [r for r in since if r.id not in known]
            if new_broken:
                named = "; ".join(session_words(session, r) for r in new_broken)
                raise InvalidRequest(
                    f"sessions were booked in the stretch since the preview ({named}); look again"
                )
            config = load_config(session)
            # The sessions a desk move's call still owes news of, and the time the patient
            # knows, read before the closure's moves (``desk_moves.owed_calls``).
            unplaced_ids = {u.session.appointment_id for u in consequences.unplaced}
            owed_by_desk = desk_moves.owed_calls(session, moving | unplaced_ids)
            if sessions:
                window = Interval(min(s.start for s in sessions), max(s.end for s in sessions))
                resources = plan_check.verify_plan(
                    session,
                    load_calendar(session, window, config.catalog),
                    sessions,
                    ignore_appointments=moving,
                )
                check_calendar = load_calendar(session, window, config.catalog)
                for patient_id in sorted({locked[a].patient_id for a in moving}):
                    plan_check.check_patient_free(
                        session,
                        check_calendar,
                        patient_id,
                        [m.new for m in consequences.moves if m.patient_id == patient_id],
                        config,
                        ignore=moving,
                    )
                # The rules again, on the patient's sessions as they are now: a move they
                # refuse is not written (look at the consequences again).
                for patient_id in sorted({m.patient_id for m in consequences.moves}):
                    refused = stopping(_judged(session, config, consequences.moves, patient_id))
                    if refused:
                        raise rule_check.RuleRefused(
                            refused,
                            rule_settings(config.catalog.settings).override_roles,
                            what="the closure's moves",
                        )
                held = appointment_changes.clear_holds(session, moving)
                why = f"{consequences.what}: {proposed.reason.strip()}"
                for move in consequences.moves:
                    change = move.change_text()
                    appointment_changes.relocate(
                        session,
                        actor,
                        locked[move.appointment_id],
                        move.new,
                        resources,
                        reason=f"{why}; {change}" if change else why,
                        now=now,
                        detail={"closure_id": closure.id, "series_reflow": not move.broken},
                        held_before=held.get(move.appointment_id, ()),
                    )
            follow_ups = _calls(session, actor, consequences, calendar, now=now, known=owed_by_desk)
            # One call per session: the closure's tells what a desk move's call owed.
            desk_moves.hand_over(session, actor, owed_by_desk, left=unplaced_ids, now=now)
            session.flush()
            changes.bump(session, now)
            return Applied(closure.id, consequences.moves, consequences.unplaced, tuple(follow_ups))

    try:
        return retried_once(write)
    except IntegrityError as err:
        raise plan_check.conflict_from(err) from None


def _expired(row: Appointment, now: dt.datetime) -> bool:
    """A pencilled-in hold past its deadline: released by the next write, not moved."""
    return row.status in TENTATIVE_STATUSES and row.hold_until is not None and row.hold_until <= now


def _calls(
    session: Session,
    actor: Actor,
    consequences: Consequences,
    calendar: ClinicCalendar,
    *,
    now: dt.datetime,
    known: Mapping[int, tuple[int, dt.datetime]] | None = None,
) -> list[int]:
    """One schedule-change call per patient whose session changes time or found no new place,
    saying what moved and what did not.  ``known``: the sessions a desk move's call still
    owed news of (``desk_moves.owed_calls``), told from the time the patient knows."""
    fmt = calendar.settings.time_format
    known = known or {}
    lines: dict[int, list[str]] = {}
    first: dict[int, int] = {}
    for move in consequences.moves:
        told = known[move.appointment_id][1] if move.appointment_id in known else move.old.start
        if move.new.start == told:
            continue  # the same time with another monitor or room: nothing to tell the patient
        moved = moved_words(calendar.local(told), calendar.local(move.new.start), fmt)
        lines.setdefault(move.patient_id, []).append(f"{move.session_type} moved {moved}")
        first.setdefault(move.patient_id, move.appointment_id)
    for u in consequences.unplaced:
        b = u.session
        # A session the administrator left for the desk may well have had a place: "none
        # found" was untrue there (a user trial).
        why = f": {u.problem}" if u.problem == LEFT_FOR_DESK else f", none found: {u.problem}"
        on = _fmt(calendar, b.starts_at)
        if b.appointment_id in known:
            knew = _fmt(calendar, known[b.appointment_id][1])
            on = f"{knew} (moved without the patient to {on})"
        lines.setdefault(b.patient_id, []).append(
            f"{b.session_type} on {on} {NO_NEW_TIME_WORDS}{why}"
        )
        first.setdefault(b.patient_id, b.appointment_id)
    reason = f"{consequences.what}: {consequences.unavailability.reason.strip()}"
    ids: list[int] = []
    for patient_id in sorted(lines):
        row = FollowUp(
            patient_id=patient_id,
            appointment_id=first[patient_id],
            kind=CALL_KIND,
            due_at=now,
            deadline_at=None,
            assignee_role=CALL_ROLE,
            priority="normal",
            status="open",
            # Sentences, not "; ": a reason may list days and rules with semicolons of its own.
            outcome=f"{reason}. " + ". ".join(lines[patient_id]),
            created_at=now,
        )
        session.add(row)
        session.flush()
        audit.record(
            session,
            actor,
            "create_follow_up",
            "follow_up",
            row.id,
            patient_id=patient_id,
            after=follow_up_state(row),
            detail=row.outcome,
            now=now,
        )
        ids.append(row.id)
    return ids


def undo(db: Database, actor: Actor, applied: Applied, *, now: dt.datetime | None = None) -> None:
    """Remove the closure and put the moved sessions back, if their old places are free and
    they have not moved since; cancels the open calls ``apply`` made.  All or nothing."""
    require(actor, "configure", db, now=now)
    now = now or utcnow()
    moving = {m.appointment_id for m in applied.moves}

    def write() -> None:
        with db.write() as session:
            locked = appointment_changes.lock_appointments(session, moving)
            for move in applied.moves:
                row = locked.get(move.appointment_id)
                if row is None:
                    raise InvalidRequest(
                        "a session the closure moved is no longer on the schedule; "
                        "it cannot be put back"
                    )
                if (
                    row.status not in REPLANNED_STATUSES
                    or _expired(row, now)
                    or row.starts_at != move.new.start
                ):
                    raise InvalidRequest(
                        f"{session_words(session, row)} has changed since; it cannot be put back"
                    )
            closure = session.get(Closure, applied.closure_id)
            if closure is None:
                raise InvalidRequest("the closure was already removed")
            before = closure_state(closure)
            session.delete(closure)
            session.flush()
            audit.record(
                session, actor, "delete", "closure", applied.closure_id, before=before, now=now
            )
            if applied.moves:
                config = load_config(session)
                olds = [m.old for m in applied.moves]
                window = Interval(min(s.start for s in olds), max(s.end for s in olds))
                calendar = load_calendar(session, window, config.catalog)
                resources = plan_check.verify_plan(
                    session, calendar, olds, ignore_appointments=moving
                )
                # Each patient may have been booked into an old place since (issue 13).
                for patient_id in sorted({m.patient_id for m in applied.moves}):
                    plan_check.check_patient_free(
                        session,
                        calendar,
                        patient_id,
                        [m.old for m in applied.moves if m.patient_id == patient_id],
                        config,
                        ignore=moving,
                    )
                held = appointment_changes.clear_holds(session, moving)
                back: list[desk_moves.Moved] = []
                for move in applied.moves:
                    moved_back = locked[move.appointment_id]
                    left_at = moved_back.starts_at
                    event = appointment_changes.relocate(
                        session,
                        actor,
                        moved_back,
                        move.old,
                        resources,
                        reason="undo: closure removed",
                        now=now,
                        detail={"undo_closure_id": applied.closure_id},
                        held_before=held.get(move.appointment_id, ()),
                    )
                    back.append(desk_moves.Moved(moved_back, event, left_at))
                # A desk move's call the closure's took over is owed again.
                desk_moves.take_back(session, actor, back, now=now)
            for follow_up_id in applied.follow_up_ids:
                call = session.get(FollowUp, follow_up_id)
                if call is None or call.status != "open":
                    continue
                was = follow_up_state(call)
                call.status = "cancelled"
                call.completed_at = now
                session.flush()
                audit.record(
                    session,
                    actor,
                    "update",
                    "follow_up",
                    call.id,
                    patient_id=call.patient_id,
                    before=was,
                    after=follow_up_state(call),
                    detail="the closure was undone",
                    now=now,
                )
            changes.bump(session, now)

    try:
        retried_once(write)
    except IntegrityError as err:
        raise plan_check.conflict_from(err) from None


__all__ = [
    "Applied",
    "BrokenSession",
    "Consequences",
    "Move",
    "Unplaced",
    "apply",
    "preview",
    "swapped_resources",
    "undo",
]
