"""One rules engine for a patient's treatment sessions, judged at every step: plan, book, drag,
keyboard move, series move and ``ketadesk check``.

Given the patient's live sessions as they would be after a change (``CourseSession``), which of
them are new or moved, the protocols and the patient's gating facts, ``judge`` returns what the
change breaks, each a ``Finding`` naming its rule (a stable code, also the override key) and the
fact in words.  Only what the change touches is judged: a session elsewhere in the series that
was booked with an override long ago does not stop a move of another one.

The rules (DOMAIN.md "Rules that hold at every step"; docs/RULES.md "Protocol and moves"):

- ``min_gap`` / ``max_gap``: days between consecutive sessions of a series, the later session's
  stage deciding (``protocols.toml`` ``min_gap_days`` / ``max_gap_days``);
- ``stage_window``: a stage's first to last session within ``window_days``;
- ``follow_gap``: a follow-on session (integration after KAP) within its ``followed_by`` days;
- ``window_cap``: at most ``sessions`` of the stage's session type in any ``days`` days
  (``window_cap = { sessions = 2, days = 7 }``: Spravato induction is twice weekly);
- ``series_order``: a session stays between its neighbours (1/6 never after 2/6);
- ``series_gap``: the days from the last session of the patient's previous series of a
  treatment to the first of the next (``protocols.toml`` ``series_gap``: a maintenance series
  after another keeps "every 1-2 weeks" across them);
- ``concurrent_course``: two ketamine/esketamine courses (series with dosing sessions) of one
  patient whose dates overlap, or a single dose of another treatment during a course;
- a single dose of a course's own treatment holds the course's ``min_gap`` to its sessions and
  counts against its ``window_cap`` (singles are not series, but they are doses);
- ``patient_away``: a new or moved session on a day the patient's record says they are away
  (``days_away.py``); the patient's own plans rather than a clinical rule, so anyone who books
  may go past it with a reason (``DESK_RULES``);
- the gating rules of ``gating.check_gates`` (prior authorization, REMS site certification...)
  for the new or moved sessions' dates.

How hard each protocol rule stops a change, and who may override, is ``[protocol_rules]`` in
clinic.toml (parsed here): "block" (refused, no override), "warn" (refused until a role of
``override_roles`` gives a reason), or "off".  Gating rules keep their own ``[gating]`` setting.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ketadesk.scheduling import gating
from ketadesk.scheduling.catalog import (
    GATING_RULES,
    ClinicSettings,
    ConfigError,
    ProtocolSpec,
    ProtocolStage,
    SessionTypeSpec,
    StaffRole,
    WindowCap,
    refuse_safety_off,
)
from ketadesk.scheduling.dates import short_date
from ketadesk.scheduling.days_away import AWAY_RULE, AwayRange, away_on
from ketadesk.scheduling.gating import GateResult, PatientFacts, Severity, check_gates
from ketadesk.scheduling.words import a_or_an, role_name

MIN_GAP = "min_gap"
MAX_GAP = "max_gap"
STAGE_WINDOW = "stage_window"
FOLLOW_GAP = "follow_gap"
WINDOW_CAP = "window_cap"
SERIES_ORDER = "series_order"
CONCURRENT_COURSE = "concurrent_course"
PATIENT_AWAY = AWAY_RULE
SERIES_GAP = "series_gap"
PROTOCOL_RULES = (
    MIN_GAP,
    MAX_GAP,
    STAGE_WINDOW,
    FOLLOW_GAP,
    WINDOW_CAP,
    SERIES_ORDER,
    CONCURRENT_COURSE,
    PATIENT_AWAY,
    SERIES_GAP,
)
#: Rules about the patient's own plans, not clinical ones: whoever may book or move the session
#: may go past them with a reason (the front desk too), whatever ``override_roles`` says.
DESK_RULES = frozenset({PATIENT_AWAY})
#: The override key of the booking dialog and the series move before rules had codes: it
#: stands for every spacing rule.
SPACING = "spacing"
SPACING_RULES = frozenset({MIN_GAP, MAX_GAP, STAGE_WINDOW, FOLLOW_GAP, SERIES_GAP})
SEVERITIES = ("block", "warn", "off")
SECTION = "protocol_rules"
_ROLES = (*(r.value for r in StaffRole), "admin")

PROTOCOL_RULE_DEFAULTS: Mapping[str, Any] = {
    MIN_GAP: "warn",
    MAX_GAP: "warn",
    STAGE_WINDOW: "warn",
    FOLLOW_GAP: "warn",
    WINDOW_CAP: "block",
    SERIES_ORDER: "block",
    CONCURRENT_COURSE: "warn",
    PATIENT_AWAY: "warn",
    SERIES_GAP: "warn",
    "override_roles": ["nurse", "prescriber"],
}

#: Each rule as the desk reads it, before its code: "Doses per window [window_cap]: ...".
RULE_TITLES: Mapping[str, str] = {
    MIN_GAP: "Too close",
    MAX_GAP: "Too far apart",
    STAGE_WINDOW: "Stage too long",
    FOLLOW_GAP: "Follow-on session",
    WINDOW_CAP: "Too many doses",
    SERIES_ORDER: "Series order",
    CONCURRENT_COURSE: "Two courses at once",
    PATIENT_AWAY: "Patient away",
    SERIES_GAP: "Gap between series",
    "screening_cleared": "Screening",
    "consent_signed": "Consent",
    "rems_patient_enrolled": "REMS enrollment",
    "rems_site_certified": "REMS site certification",
    "prior_auth_valid": "Prior authorization",
    "driver_arranged": "Driver",
}


def rule_title(code: str) -> str:
    """A protocol or gating rule's title for print and screen ("Prior authorization" for
    ``prior_auth_valid``); a rule without one reads as its code in words."""
    return (
        RULE_TITLES.get(code) or gating.RULE_TITLES.get(code) or code.replace("_", " ").capitalize()
    )


@dataclass(frozen=True, slots=True)
class ProtocolRuleSettings:
    """``severity``: each protocol rule's "block", "warn" or "off"; ``override_roles``: who may
    go ahead despite a "warn" rule (protocol or gating), with a reason."""

    severity: Mapping[str, str]
    override_roles: tuple[str, ...] = ("nurse", "prescriber")

    def level(self, rule: str) -> str:
        return self.severity.get(rule, "block")

    def may_override(self, role: str, rules: Collection[str] = ()) -> bool:
        """Whether a user of ``role`` may go ahead despite a "warn" rule, with a reason; when
        ``rules`` are named and all of them are the patient's own plans (``DESK_RULES``),
        anyone who may make the change may."""
        if rules and all(r in DESK_RULES for r in rules):
            return True
        return role in self.override_roles

    def who_may_override(self) -> str:
        """Who may, in the desk's words: "a nurse or a prescriber"."""
        return _roles_text(self.override_roles) if self.override_roles else "no one"


def parse_protocol_rule_settings(
    given: Mapping[str, Any] | None, source: str = "clinic.toml"
) -> ProtocolRuleSettings:
    """``[protocol_rules]`` over its defaults; a mistake names its key."""
    data = {**PROTOCOL_RULE_DEFAULTS, **(given or {})}
    unknown = sorted(set(data) - set(PROTOCOL_RULE_DEFAULTS))
    if unknown:
        raise ConfigError(
            f"{source}: [{SECTION}] {unknown[0]} is not a protocol rule; "
            f"known: {', '.join(PROTOCOL_RULES)}"
        )
    severity: dict[str, str] = {}
    for rule in PROTOCOL_RULES:
        refuse_safety_off(source, f"{SECTION}.{rule}", data[rule])
        if data[rule] not in SEVERITIES:
            raise ConfigError(
                f"{source}: [{SECTION}] {rule} must be one of {', '.join(SEVERITIES)}, "
                f"got {data[rule]!r}"
            )
        severity[rule] = data[rule]
    roles = data["override_roles"]
    if not isinstance(roles, list) or any(not isinstance(r, str) or r not in _ROLES for r in roles):
        raise ConfigError(
            f"{source}: [{SECTION}] override_roles must list roles of {', '.join(_ROLES)}"
        )
    return ProtocolRuleSettings(severity=severity, override_roles=tuple(roles))


# The last settings parsed and what they gave (as ``gating.eligibility_settings``): a booking
# asks several times, and the configuration kept between bookings is the same object until it
# changes.
_LAST_PARSED: tuple[ClinicSettings, ProtocolRuleSettings] | None = None


def rule_settings(clinic: ClinicSettings) -> ProtocolRuleSettings:
    """The clinic's ``[protocol_rules]`` (checked when the catalogue was built)."""
    global _LAST_PARSED
    last = _LAST_PARSED
    if last is not None and last[0] is clinic:
        return last[1]
    parsed = parse_protocol_rule_settings(clinic.extra.get(SECTION))
    _LAST_PARSED = (clinic, parsed)
    return parsed


def overridable_rules(clinic: ClinicSettings) -> tuple[str, ...]:
    """The rule codes an override may name: every protocol and gating rule set to "warn"."""
    rules = rule_settings(clinic)
    out = [r for r in PROTOCOL_RULES if rules.level(r) == "warn"]
    out += [r for r in GATING_RULES if clinic.gating.get(r, "block") == "warn"]
    return tuple(out)


def known_rules() -> tuple[str, ...]:
    return (*PROTOCOL_RULES, *GATING_RULES)


@dataclass(frozen=True, slots=True)
class CourseSession:
    """One of the patient's live sessions as the rules see it.

    Attributes:
        key: the appointment id; a plan not yet booked uses negative keys.
        series: its series (a plan not yet booked: a negative key), or None for a single session.
        index: its place in the series (1-based), None for a single session.
        session_type: its session type's code.
        protocol: its series' protocol code ("" for a single session).
        start: when it starts (aware), for the series order within a day.
        day: its local date.
        count: how many sessions the series has (the "/6" of "1/6"); 0: unknown.
    """

    key: int
    series: int | None
    index: int | None
    session_type: str
    protocol: str
    start: dt.datetime
    day: dt.date
    count: int = 0

    @property
    def label(self) -> str:
        if self.index is None:
            return "the session"
        return f"session {self.index}/{self.count}" if self.count else f"session {self.index}"


@dataclass(frozen=True, slots=True)
class Finding:
    """One rule a change breaks: its code, how hard it stops the change, the fact in words."""

    rule: str
    severity: Severity
    message: str
    override_reason: str | None = None

    @property
    def overridden(self) -> bool:
        return self.override_reason is not None

    @property
    def stops(self) -> bool:
        return self.severity is Severity.BLOCK or not self.overridden

    @property
    def title(self) -> str:
        return RULE_TITLES.get(self.rule, self.rule.replace("_", " ").capitalize())

    def as_gate(self) -> GateResult:
        """The finding as a gate a proposal shows beside the gating rules, overridable like
        them when the clinic set the rule to warn."""
        return GateResult(self.rule, self.severity, self.message, rule_title=self.title)

    def text(self, override_roles: Sequence[str] = ()) -> str:
        """The finding as the desk reads it: "Too close [min_gap]: ... (a nurse or prescriber
        may override this with a reason)"."""
        hint = ""
        if self.severity is Severity.WARN and not self.overridden and self.rule in DESK_RULES:
            hint = " (whoever books or moves it may override this with a reason)"
        elif self.severity is Severity.WARN and not self.overridden and override_roles:
            hint = f" ({_roles_text(override_roles)} may override this with a reason)"
        elif self.severity is Severity.BLOCK:
            hint = " (blocking: cannot be overridden)"
        return f"{self.title} [{self.rule}]: {self.message}{hint}"


def _roles_text(roles: Sequence[str]) -> str:
    names = [a_or_an(role_name(r)) for r in roles]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def stopping(findings: Sequence[Finding]) -> list[Finding]:
    return [f for f in findings if f.stops]


# --------------------------------------------------------------------------------------------
# The engine


@dataclass(frozen=True, slots=True)
class _Slot:
    stage: int
    follows: int | None  # a follow-on session: the index it follows


def _slots(protocol: ProtocolSpec) -> dict[int, _Slot]:
    """Each series index of a protocol: its stage, and the session it follows (follow-ons)."""
    out: dict[int, _Slot] = {}
    for stage_no, stage in enumerate(protocol.stages):
        for _ in range(stage.count):
            main = len(out) + 1
            out[main] = _Slot(stage_no, None)
            if stage.followed_by is not None:
                out[len(out) + 1] = _Slot(stage_no, main)
    return out


def judge(
    sessions: Sequence[CourseSession],
    changed: Collection[int],
    *,
    protocols: Mapping[str, ProtocolSpec],
    session_types: Mapping[str, SessionTypeSpec],
    clinic: ClinicSettings,
    before: Mapping[int, dt.date] | None = None,
    facts: PatientFacts | None = None,
    overrides: Mapping[str, str] | None = None,
    rules: ProtocolRuleSettings | None = None,
    away: Sequence[AwayRange] = (),
) -> list[Finding]:
    """What a change to the patient's sessions breaks.

    ``sessions``: every live session of the patient as it would be after the change;
    ``changed``: the keys of the sessions that are new or moved (only rules touching them are
    judged); ``before``: a moved session's day before the move (a course overlap that was there
    already is not news); ``facts``: the patient's gating facts, the prior authorization's units
    counting the unchanged sessions only (None: gating not judged, e.g. a tentative hold);
    ``overrides``: rule code -> a clinician's reason; ``away``: the patient's days away.
    """
    rules = rules or rule_settings(clinic)
    before = before or {}
    given = {k: v.strip() for k, v in (overrides or {}).items() if v and v.strip()}
    if SPACING in given:
        for rule in SPACING_RULES:
            given.setdefault(rule, given[SPACING])
    changed = set(changed)
    raw: list[tuple[str, str]] = []
    by_series: dict[int, list[CourseSession]] = {}
    for s in sessions:
        if s.series is not None:
            by_series.setdefault(s.series, []).append(s)
    for _series_key, members in by_series.items():
        if not changed & {m.key for m in members}:
            continue
        protocol = protocols.get(members[0].protocol)
        if protocol is None:
            continue
        raw += _series_rules(protocol, members, changed)
    raw += _series_gaps(by_series, changed, protocols)
    raw += _window_caps(sessions, changed, protocols)
    raw += _single_gaps(sessions, changed, protocols, session_types)
    raw += _concurrent_courses(sessions, changed, before, session_types)
    raw += _days_away(sessions, changed, away)
    found: list[Finding] = []
    for rule, message in raw:
        level = rules.level(rule)
        if level == "off":
            continue
        finding = _finding(rule, Severity(level), message, given)
        if finding not in found:
            found.append(finding)
    if facts is not None:
        found += _gates(sessions, changed, before, facts, session_types, clinic, given)
    return found


def _finding(rule: str, severity: Severity, message: str, given: Mapping[str, str]) -> Finding:
    reason = given.get(rule)
    if severity is Severity.BLOCK or reason is None:
        return Finding(rule, severity, message)
    return Finding(rule, severity, message, reason)


def _series_rules(
    protocol: ProtocolSpec, members: Sequence[CourseSession], changed: set[int]
) -> list[tuple[str, str]]:
    slots = _slots(protocol)
    by_index = {m.index: m for m in members if m.index is not None}
    mains = sorted(
        (m for m in members if m.index in slots and slots[m.index].follows is None),
        key=lambda m: m.index or 0,
    )
    out: list[tuple[str, str]] = []
    order_broken: set[tuple[int, int]] = set()
    for m in mains:
        if m.key not in changed:
            continue
        assert m.index is not None
        earlier = [o for o in mains if (o.index or 0) < m.index and o.start >= m.start]
        later = [o for o in mains if (o.index or 0) > m.index and o.start <= m.start]
        if earlier:
            first = min(earlier, key=lambda o: o.index or 0)
            out.append(
                (
                    SERIES_ORDER,
                    f"{m.label} on {_day(m.day)} would come before {first.label} on "
                    f"{_day(first.day)}; re-flow the series instead",
                )
            )
            order_broken |= {(o.key, m.key) for o in earlier}
        if later:
            last = max(later, key=lambda o: o.index or 0)
            out.append(
                (
                    SERIES_ORDER,
                    f"{m.label} on {_day(m.day)} would come after {last.label} on "
                    f"{_day(last.day)}; re-flow the series instead",
                )
            )
            order_broken |= {(m.key, o.key) for o in later}
    for prev, nxt in itertools.pairwise(mains):
        if not {prev.key, nxt.key} & changed or (prev.key, nxt.key) in order_broken:
            continue
        assert nxt.index is not None
        assert prev.index is not None
        stage = protocol.stages[slots[nxt.index].stage]
        gap = (nxt.day - prev.day).days
        if gap < stage.min_gap_days:
            out.append(
                (
                    MIN_GAP,
                    f"{prev.label} ({_day(prev.day)}) and {nxt.label} ({_day(nxt.day)}) would be "
                    f"{_days(gap)} apart; {stage.name} asks for at least "
                    f"{_days(stage.min_gap_days)}",
                )
            )
        # A gap left by a missed (released) session is the make-up's business, not a rule.
        if nxt.index - prev.index == 1 and gap > stage.max_gap_days:
            out.append(
                (
                    MAX_GAP,
                    f"{prev.label} ({_day(prev.day)}) and {nxt.label} ({_day(nxt.day)}) would be "
                    f"{_days(gap)} apart; {stage.name} allows at most {_days(stage.max_gap_days)}",
                )
            )
    for stage_no, stage in enumerate(protocol.stages):
        if stage.window_days is None:
            continue
        in_stage = [m for m in mains if slots[m.index or 0].stage == stage_no]
        if len(in_stage) < 2 or not {m.key for m in in_stage} & changed:
            continue
        first, last = min(in_stage, key=lambda m: m.day), max(in_stage, key=lambda m: m.day)
        span = (last.day - first.day).days + 1
        if span > stage.window_days:
            out.append(
                (
                    STAGE_WINDOW,
                    f"{stage.name} would run {span} days ({_day(first.day)} to {_day(last.day)}); "
                    f"the protocol allows {stage.window_days}",
                )
            )
    for m in members:
        slot = slots.get(m.index or 0)
        if slot is None or slot.follows is None:
            continue
        parent = by_index.get(slot.follows)
        follow = protocol.stages[slot.stage].followed_by
        if parent is None or follow is None or not {m.key, parent.key} & changed:
            continue
        gap = (m.day - parent.day).days
        if not follow.min_days <= gap <= follow.max_days:
            out.append(
                (
                    FOLLOW_GAP,
                    f"{m.label} ({_day(m.day)}) would be {_days(gap)} after {parent.label}; the "
                    f"protocol asks for {follow.min_days}-{follow.max_days} days",
                )
            )
    return out


def _series_gaps(
    by_series: Mapping[int, Sequence[CourseSession]],
    changed: set[int],
    protocols: Mapping[str, ProtocolSpec],
) -> list[tuple[str, str]]:
    """The days from the last session of the patient's previous series of the same treatment
    to the first session of a series whose protocol has a ``series_gap``: a maintenance
    series followed by another keeps its "every 1-2 weeks" across the two.  Series whose
    dates overlap are ``concurrent_course``'s business, not this rule's."""
    spans: dict[int, tuple[CourseSession, CourseSession, frozenset[str]]] = {}
    for key, members in by_series.items():
        if members:
            spans[key] = (
                min(members, key=lambda m: m.start),
                max(members, key=lambda m: m.start),
                frozenset(m.session_type for m in members),
            )
    out: list[tuple[str, str]] = []
    for key, members in by_series.items():
        protocol = protocols.get(members[0].protocol) if members else None
        if protocol is None or protocol.series_gap is None:
            continue
        first, _last, types = spans[key]
        earlier = [
            (other_first, other_last)
            for other, (other_first, other_last, other_types) in spans.items()
            if other != key and other_types & types and other_first.start < first.start
        ]
        if not earlier:
            continue
        _prev_first, prev_last = max(earlier, key=lambda pair: pair[0].start)
        if not {prev_last.key, first.key} & changed or prev_last.day > first.day:
            continue
        gap = (first.day - prev_last.day).days
        rule = protocol.series_gap
        if rule.allows(gap):
            continue
        out.append(
            (
                SERIES_GAP,
                f"{prev_last.label} of the patient's previous series, on {_day(prev_last.day)}, "
                f"and {first.label} of the next, on {_day(first.day)}, would be {_days(gap)} "
                f"apart; {protocol.name} asks for {rule.words} after the previous series",
            )
        )
    return out


def _stage_of(s: CourseSession, protocols: Mapping[str, ProtocolSpec]) -> ProtocolStage | None:
    """The protocol stage a series session belongs to; None for a single session."""
    if s.series is None or s.index is None:
        return None
    protocol = protocols.get(s.protocol)
    slot = _slots(protocol).get(s.index) if protocol else None
    return protocol.stages[slot.stage] if protocol is not None and slot is not None else None


def _single_gaps(
    sessions: Sequence[CourseSession],
    changed: set[int],
    protocols: Mapping[str, ProtocolSpec],
    session_types: Mapping[str, SessionTypeSpec],
) -> list[tuple[str, str]]:
    """A single dose of a course's own treatment holds the course's spacing (``min_gap``) to
    each of the course's sessions, as those do to one another: two Spravato doses a day apart
    are too close however the second was booked."""
    out: list[tuple[str, str]] = []
    for s in sessions:
        spec = session_types.get(s.session_type)
        if s.series is not None or spec is None or not spec.dosing:
            continue
        for o in sessions:
            if o.series is None or o.session_type != s.session_type:
                continue
            if not {s.key, o.key} & changed:
                continue
            stage = _stage_of(o, protocols)
            gap = abs((o.day - s.day).days)
            if stage is not None and gap < stage.min_gap_days:
                apart = "the same day as" if gap == 0 else f"{_days(gap)} from"
                out.append(
                    (
                        MIN_GAP,
                        f"the single {spec.name} on {_day(s.day)} would be {apart} "
                        f"{o.label} ({_day(o.day)}); {stage.name} asks for at least "
                        f"{_days(stage.min_gap_days)} between doses",
                    )
                )
    return out


def _window_caps(
    sessions: Sequence[CourseSession], changed: set[int], protocols: Mapping[str, ProtocolSpec]
) -> list[tuple[str, str]]:
    """At most ``window_cap.sessions`` sessions of the stage's type in any ``days`` days around
    each new or moved session of a capped stage (the patient's other sessions of that type,
    single ones included, count too).  A new or moved single session is held to the cap of
    any capped stage with a session of its type that near it: a single Spravato dose added to
    an induction week is the induction's third dose whatever it was booked as."""

    def cap_of(s: CourseSession) -> tuple[ProtocolStage, WindowCap] | None:
        stage = _stage_of(s, protocols)
        if stage is None or stage.window_cap is None:
            return None
        return stage, stage.window_cap

    out: list[tuple[str, str]] = []
    for s in sessions:
        if s.key not in changed:
            continue
        if s.series is not None:
            own = cap_of(s)
            caps = [own] if own is not None else []
        else:
            near = (
                (o, cap_of(o))
                for o in sessions
                if o.series is not None and o.session_type == s.session_type
            )
            caps = list(
                dict.fromkeys(
                    c for o, c in near if c is not None and abs((o.day - s.day).days) < c[1].days
                )
            )
        same = sorted(o.day for o in sessions if o.session_type == s.session_type)
        for stage, cap in caps:
            found = _over_cap(s.day, same, stage, cap)
            if found is not None:
                out.append((WINDOW_CAP, found))
                break
    return out


def _over_cap(
    day: dt.date, same: Sequence[dt.date], stage: ProtocolStage, cap: WindowCap
) -> str | None:
    """The first ``cap.days`` window around ``day`` holding more than ``cap.sessions`` of
    ``same`` (the days of the patient's sessions of the stage's type), in words; else None."""
    span = dt.timedelta(days=cap.days - 1)
    for offset in range(cap.days):
        first = day - dt.timedelta(days=cap.days - 1 - offset)
        inside = [d for d in same if first <= d <= first + span]
        if len(inside) > cap.sessions:
            return (
                f"{len(inside)} {stage.session_type.replace('_', ' ')} sessions in the "
                f"{cap.days} days {_day(first)} to {_day(first + span)} "
                f"({', '.join(_day(d) for d in inside)}); {stage.name} allows at most "
                f"{cap.sessions} in any {cap.days} days"
            )
    return None


def window_cap_problems(
    protocol: ProtocolSpec, placed: Sequence[tuple[int, str, dt.date]]
) -> tuple[str, ...]:
    """The doses-per-window rule over a plan's placed sessions ((index, session type, local
    day)), in words naming the rule: what the planner reports so it never offers a plan the
    booking refuses (Mon/Wed/Fri Spravato induction)."""
    sessions = [
        CourseSession(
            key=index,
            series=0,
            index=index,
            session_type=code,
            protocol=protocol.code,
            start=dt.datetime.combine(day, dt.time(), dt.UTC),
            day=day,
        )
        for index, code, day in placed
    ]
    found = _window_caps(sessions, {s.key for s in sessions}, {protocol.code: protocol})
    return tuple(dict.fromkeys(f"{message} [{rule}]" for rule, message in found))


def _concurrent_courses(
    sessions: Sequence[CourseSession],
    changed: set[int],
    before: Mapping[int, dt.date],
    session_types: Mapping[str, SessionTypeSpec],
) -> list[tuple[str, str]]:
    """Two courses of dosing sessions whose dates overlap; only an overlap the change makes is
    news (moved sessions are judged against their old days).

    A course is a series with dosing sessions.  A single dosing session of another treatment
    than a course's (a one-off IV infusion during a Spravato induction) is a treatment during
    that course too, and is judged as a course of one day; one of the course's own treatment
    is the window cap's business, and two single sessions are not courses."""
    courses: dict[tuple[bool, int], list[CourseSession]] = {}
    for s in sessions:
        spec = session_types.get(s.session_type)
        if spec is not None and spec.dosing:
            single = s.series is None
            courses.setdefault((single, s.key if single else s.series or 0), []).append(s)

    def span(members: Sequence[CourseSession], old: bool) -> tuple[dt.date, dt.date] | None:
        days = [
            (before.get(m.key) if m.key in changed else m.day) if old else m.day for m in members
        ]
        kept = [d for d in days if d is not None]
        return (min(kept), max(kept)) if kept else None

    out: list[tuple[str, str]] = []
    for key, members in courses.items():
        if not {m.key for m in members} & changed:
            continue
        new = span(members, old=False)
        old = span(members, old=True)
        assert new is not None
        for other_key, others in courses.items():
            if other_key == key:
                continue
            if key[0] or other_key[0]:
                if key[0] and other_key[0]:
                    continue
                if {m.session_type for m in members} & {m.session_type for m in others}:
                    continue
            theirs = span(others, old=False)
            theirs_old = span(others, old=True)
            assert theirs is not None
            if not _overlap(new, theirs):
                continue
            if old is not None and theirs_old is not None and _overlap(old, theirs_old):
                continue
            out.append(
                (
                    CONCURRENT_COURSE,
                    f"the {_course_words(members, new, session_types)} would "
                    f"{'fall during' if key[0] else 'overlap'} the patient's "
                    f"{_course_words(others, theirs, session_types)}",
                )
            )
    return out


def _course_words(
    members: Sequence[CourseSession],
    span: tuple[dt.date, dt.date],
    types: Mapping[str, SessionTypeSpec],
) -> str:
    """ "the IV infusion course (12/7 to 12/18)", or "single IV infusion on 12/9"."""
    name = _course_name(members, types)
    if members[0].series is None:
        return f"single {name} on {_day(span[0])}"
    return f"{name} course ({_day(span[0])} to {_day(span[1])})"


def _course_name(members: Sequence[CourseSession], types: Mapping[str, SessionTypeSpec]) -> str:
    code = members[0].session_type
    spec = types.get(code)
    return spec.name if spec is not None else code


def _overlap(a: tuple[dt.date, dt.date], b: tuple[dt.date, dt.date]) -> bool:
    return a[0] <= b[1] and b[0] <= a[1]


def _days_away(
    sessions: Sequence[CourseSession], changed: set[int], away: Sequence[AwayRange]
) -> list[tuple[str, str]]:
    """A new or moved session on a day the patient is away, naming the range and its reason."""
    out: list[tuple[str, str]] = []
    for s in sorted(sessions, key=lambda s: s.start):
        if s.key not in changed:
            continue
        found = away_on(away, s.day)
        if found is not None:
            out.append((PATIENT_AWAY, away_words(s.label, s.day, found)))
    return out


def away_words(label: str, day: dt.date, found: AwayRange) -> str:
    """ "session 3/6 on Mon Dec 14 falls while the patient is away Dec 14 – 18, 2026 (travel)"."""
    return f"{label} on {_day(day)} falls while the patient is away {found.words}"


def _gates(
    sessions: Sequence[CourseSession],
    changed: set[int],
    before: Mapping[int, dt.date],
    facts: PatientFacts,
    session_types: Mapping[str, SessionTypeSpec],
    clinic: ClinicSettings,
    given: Mapping[str, str],
) -> list[Finding]:
    """The gating rules for the new or moved sessions' days.  ``facts`` count the prior
    authorization's units used by the patient's other sessions only: the caller leaves the
    moved ones out (``load_patient_facts(..., excluding=...)``), so each changed session spends
    its units once, at its new date."""
    by_type: dict[str, list[dt.date]] = {}
    for s in sessions:
        if s.key in changed:
            by_type.setdefault(s.session_type, []).append(s.day)
    found: list[Finding] = []
    for code, days in by_type.items():
        spec = session_types.get(code)
        if spec is None:
            continue
        for r in check_gates(spec, facts, days, clinic, given):
            finding = Finding(r.rule, r.severity, r.message, r.override_reason)
            if finding not in found:
                found.append(finding)
    return found


def _day(day: dt.date) -> str:
    return short_date(day)


def _days(n: int) -> str:
    return f"{n} day" if abs(n) == 1 else f"{n} days"
