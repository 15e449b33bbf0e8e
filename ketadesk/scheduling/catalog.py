"""The clinic's catalogue: session types, protocols and clinic settings as plain, checked data.

Definitions come from TOML (``resources/config``) or from the database, where they are kept as
the same dictionaries.  Parsing checks every field and names the exact place of a mistake
("session_types.toml: session_types.iv_infusion.phases[1].minutes: ...").
"""

from __future__ import annotations

import enum
import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import time
from typing import Any

from ketadesk.scheduling.dates import TIME_FORMATS


class ConfigError(ValueError):
    """A clinic configuration value is missing or wrong; the message names where."""


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class ResourceKind(enum.StrEnum):
    ROOM = "room"
    EQUIPMENT = "equipment"
    STAFF = "staff"


class HoldMode(enum.StrEnum):
    EXCLUSIVE = "exclusive"  # no other exclusive hold on the resource may overlap
    SHARED = "shared"  # counts towards the resource's capacity
    PRESENCE = "presence"  # the resource must be available; uses no capacity


class StaffRole(enum.StrEnum):
    PRESCRIBER = "prescriber"
    NURSE = "nurse"
    THERAPIST = "therapist"
    FRONT_DESK = "front_desk"


ROOM_SUBKINDS = ("treatment", "office")
EQUIPMENT_SUBKINDS = ("vital_signs_monitor", "pulse_oximeter", "pump")
SUBKINDS: dict[ResourceKind, tuple[str, ...]] = {
    ResourceKind.ROOM: ROOM_SUBKINDS,
    ResourceKind.EQUIPMENT: EQUIPMENT_SUBKINDS,
    ResourceKind.STAFF: tuple(r.value for r in StaffRole),
}
GATING_RULES = (
    "age",
    "contraindications",
    "precautions",
    "screening_cleared",
    "consent_signed",
    "rems_patient_enrolled",
    "rems_site_certified",
    "prior_auth_valid",
    "driver_arranged",
)
#: How hard a gating rule stops a booking: refused, refused until a clinician gives a reason,
#: or not checked.
GATING_LEVELS = ("block", "warn", "off")
#: The clinical safety rules, as ``<section>.<rule>`` of clinic.toml: what the Spravato label
#: and its REMS ask [A], and what DOMAIN.md says is "never silent" (two courses at once).  A
#: clinic may make each a "block" or a "warn" (refused until a role gives a reason), never
#: "off": the loader refuses it naming the key and the file, and Settings never offers it.
SAFETY_RULES: frozenset[str] = frozenset(
    {
        "gating.age",
        "gating.contraindications",
        "gating.rems_patient_enrolled",
        "gating.rems_site_certified",
        "gating.driver_arranged",
        "protocol_rules.window_cap",
        "protocol_rules.concurrent_course",
        "chair.pre_dose_bp",
        "chair.dose",
        "chair.discharge",
        "urgent_review.dosing",
    }
)


def allowed_levels(key: str, levels: Sequence[str]) -> tuple[str, ...]:
    """The levels the rule at ``key`` (``<section>.<rule>``) may take: ``levels``, without
    "off" for a safety rule."""
    return tuple(v for v in levels if not (v == "off" and key in SAFETY_RULES))


def refuse_safety_off(source: str, key: str, value: object) -> None:
    """Raise ConfigError when a safety rule (``key``, ``<section>.<rule>``) is set "off"."""
    if value == "off" and key in SAFETY_RULES:
        raise ConfigError(
            f'{source}: {key}: "off" is not allowed for a clinical safety rule; '
            'set it to "block" or "warn"'
        )


FOLLOWUP_KINDS = (
    "next_day_call",
    "rems_form",
    "phq9",
    "gad7",
    "integration",
    "booster_review",
    "adverse_event",
    "urgent_review",
    "induction_review",
)
PHASE_SHADES = ("checkin", "dosing", "observation", "therapy")
#: The reviews a protocol's stage owes when it ends (its ``on_complete`` follow-up), a
#: prescriber's clinical judgement: clinical whenever ``[followups] series_review_role`` is a
#: clinical role, and closed only by that role (a user trial's front desk closed an
#: end-of-induction review from its queue, on a stored configuration that listed neither).
STAGE_REVIEW_KINDS = ("booster_review", "induction_review")


@dataclass(frozen=True, slots=True)
class Phase:
    key: str
    name: str
    minutes: int
    shade: str


@dataclass(frozen=True, slots=True)
class HoldSpec:
    """One stretch of time a need holds its resource, measured against the session's phases."""

    start_phase: str
    end_phase: str
    offset_minutes: int
    minutes: int | None  # None: up to the end of end_phase
    mode: HoldMode


@dataclass(frozen=True, slots=True)
class ResourceNeed:
    """One resource a session needs (the same unit for all of the need's holds)."""

    key: str
    kind: ResourceKind
    subkind: str
    holds: tuple[HoldSpec, ...]
    optional: bool = False


@dataclass(frozen=True, slots=True)
class FollowUpRule:
    kind: str
    assignee_role: str
    business_days: int | None = None
    calendar_days: int | None = None
    min_days: int | None = None
    max_days: int | None = None
    before_session: bool = False
    # Owed once the session has started, not only once completed (the REMS form: a session
    # left "in progress" still owes it).
    owed_from_start: bool = False


@dataclass(frozen=True, slots=True)
class BpCheck:
    label: str
    phase: str
    offset_minutes: int


#: The timed scales a session type may ask for (``scheduling/scale_rules.py``).
SCALE_CODES = ("moaas", "cadss")


@dataclass(frozen=True, slots=True)
class ScalePlan:
    """A scale a session type uses (``scale``: one of ``SCALE_CODES``) and when its readings
    are owed: minutes from the dose start (``at_minutes``), and at discharge."""

    scale: str
    at_minutes: tuple[int, ...]
    at_discharge: bool = False


@dataclass(frozen=True, slots=True)
class DoseRule:
    """How a session type's dose is given (DOMAIN.md "Dose"): whole devices of ``device_mg``
    each; the doses allowed; the doses a patient's first session of the type may have; the
    largest change from the previous dose (None: any allowed dose)."""

    device_mg: int
    allowed_mg: tuple[int, ...]
    starting_mg: tuple[int, ...] = ()
    step_mg: int | None = None


@dataclass(frozen=True, slots=True)
class ReadingCadence:
    """Readings every ``every_minutes`` from the start of phase ``start_phase`` to the end of
    ``end_phase`` (IV: NIBP every 5-15 min), laid out as BP checks like the configured ones."""

    start_phase: str
    end_phase: str
    every_minutes: int


@dataclass(frozen=True, slots=True)
class SessionTypeSpec:
    code: str
    name: str
    short: str
    color: str
    dosing: bool
    phases: tuple[Phase, ...]
    needs: tuple[ResourceNeed, ...]
    gating: tuple[str, ...] = ()
    followups: tuple[FollowUpRule, ...] = ()
    instructions: tuple[str, ...] = ()
    bp_checks: tuple[BpCheck, ...] = ()
    drives_after_hours: int | None = None
    # Minimum observation after dosing before discharge, counted from the start of the phase
    # ``observation_from`` (the first device); None where the type sets no minimum.
    observation_from: str | None = None
    observation_minutes: int | None = None
    dose: DoseRule | None = None
    # The checks above include the readings the cadence lays out (``bp_checks``).
    reading_cadence: ReadingCadence | None = None
    # The timed sedation / dissociation scales (MOAA/S, CADSS) and when they are owed.
    scales: tuple[ScalePlan, ...] = ()

    @property
    def total_minutes(self) -> int:
        return sum(p.minutes for p in self.phases)

    def phase_offsets(self) -> dict[str, tuple[int, int]]:
        """Start and end of each phase in minutes from the session's start."""
        offsets: dict[str, tuple[int, int]] = {}
        t = 0
        for phase in self.phases:
            offsets[phase.key] = (t, t + phase.minutes)
            t += phase.minutes
        return offsets

    def need_phases(self, need: ResourceNeed) -> tuple[str, ...]:
        """The phases (in order) during which ``need`` holds its resource: a staff member
        booked for the need must be qualified for each of them."""
        windows = [self.hold_window(h) for h in need.holds]
        return tuple(
            key
            for key, (start, end) in self.phase_offsets().items()
            if any(a < end and start < b for a, b in windows)
        )

    def hold_window(self, hold: HoldSpec) -> tuple[int, int]:
        """Start and end minutes of a hold relative to the session's start."""
        offsets = self.phase_offsets()
        start = offsets[hold.start_phase][0] + hold.offset_minutes
        end = start + hold.minutes if hold.minutes is not None else offsets[hold.end_phase][1]
        return start, end


@dataclass(frozen=True, slots=True)
class FollowedBy:
    session_type: str
    min_days: int
    max_days: int


@dataclass(frozen=True, slots=True)
class CompletionFollowUp:
    followup: str
    min_days: int
    max_days: int


@dataclass(frozen=True, slots=True)
class WindowCap:
    """At most ``sessions`` sessions of a stage's type in any ``days`` consecutive days."""

    sessions: int
    days: int


@dataclass(frozen=True, slots=True)
class SeriesGap:
    """Days from the last session of the patient's previous series of the same treatment to
    this series' first (a maintenance series after another: every 1-2 weeks goes on across
    them).  ``max_days`` None: no upper bound (a booster may come months later)."""

    min_days: int
    max_days: int | None = None

    def allows(self, days: int) -> bool:
        return self.min_days <= days and (self.max_days is None or days <= self.max_days)

    @property
    def words(self) -> str:
        """ "6-16 days" or "at least 14 days"."""
        if self.max_days is None:
            return f"at least {self.min_days} days"
        return f"{self.min_days}-{self.max_days} days"


@dataclass(frozen=True, slots=True)
class ProtocolStage:
    name: str
    session_type: str
    count: int
    min_gap_days: int
    target_gap_days: int
    max_gap_days: int
    window_days: int | None = None
    followed_by: FollowedBy | None = None
    on_complete: CompletionFollowUp | None = None
    window_cap: WindowCap | None = None


@dataclass(frozen=True, slots=True)
class ProtocolSpec:
    code: str
    name: str
    stages: tuple[ProtocolStage, ...]
    default_weekdays: tuple[str, ...] = ()
    # The doses a patient's first session of this protocol may have, instead of the session
    # type's ``starting_mg`` (MDD with suicidal thinking starts at 84 mg) [A].
    starting_dose_mg: tuple[int, ...] | None = None
    # The gap to the previous series of the same treatment (``series_gap``); None: not judged.
    series_gap: SeriesGap | None = None

    @property
    def session_count(self) -> int:
        return sum(s.count * (2 if s.followed_by else 1) for s in self.stages)


@dataclass(frozen=True, slots=True)
class AccountSettings:
    """Sign-in rules ([accounts] in clinic.toml): password length, idle lock, failure delays.

    After ``free_failures`` wrong passwords in a row, each further attempt must wait
    ``failure_delay_seconds`` doubled for every failure beyond the free ones, at most
    ``failure_delay_max_seconds``.
    """

    min_password_length: int
    idle_lock_minutes: int
    free_failures: int
    failure_delay_seconds: int
    failure_delay_max_seconds: int
    # The argon2id cost of a password hash: memory (KiB), passes and lanes (OWASP's
    # recommendation by default).  A stored hash with other parameters is re-hashed at the
    # account's next successful sign-in.
    argon2_memory_kib: int
    argon2_time_cost: int
    argon2_parallelism: int

    def delay_after(self, failures: int) -> int:
        """Seconds to wait before the next attempt after ``failures`` failures in a row."""
        extra = failures - self.free_failures
        if extra <= 0 or self.failure_delay_seconds == 0:
            return 0
        # Capped before the shift grows huge: 2**40 s is past any sensible maximum already.
        delay = self.failure_delay_seconds << min(extra - 1, 40)
        return min(delay, self.failure_delay_max_seconds)


@dataclass(frozen=True, slots=True)
class FollowUpSettings:
    """How follow-ups are worked ([followups] in clinic.toml).

    An unreached call is tried again ``retry_hours`` later, up to ``max_attempts`` calls in all;
    the queue looks ``upcoming_days`` ahead.  An adverse event is followed up by
    ``adverse_event_role`` by the end of ``adverse_event_business_days`` business days; a
    protocol's ``on_complete`` follow-up (the booster review) goes to ``series_review_role``.
    Only ``clinical_roles`` may work the ``clinical_kinds`` (with the ``STAGE_REVIEW_KINDS``
    whenever ``series_review_role`` is clinical), and only ``series_review_role`` completes a
    stage review.  The recall and dropout lists look
    back ``recall_lookback_days``.
    """

    retry_hours: int
    max_attempts: int
    upcoming_days: int
    adverse_event_business_days: int
    adverse_event_role: str
    series_review_role: str
    clinical_kinds: tuple[str, ...]
    clinical_roles: tuple[str, ...]
    recall_lookback_days: int
    #: What the next-day call's caller does when the patient says yes to thoughts of
    #: self-harm, printed under the question on the call list.
    self_harm_instruction: str = ""


@dataclass(frozen=True, slots=True)
class ClinicSettings:
    """Clinic-wide settings; every field has its default in resources/config/clinic.toml."""

    name: str
    timezone: str
    address: str
    phone: str
    email: str
    holiday_country: str
    slot_minutes: int
    cancellation_policy: str
    late_cancel_hours: int
    hours: Mapping[str, tuple[time, time] | None]
    staffing: Mapping[str, int]
    gating: Mapping[str, str]
    rems_site_certified_until: str
    monitoring: Mapping[str, int]
    idle_lock_minutes: int
    accounts: AccountSettings
    dosing_sessions_per_patient_day: int = 1
    extra: Mapping[str, Any] = field(default_factory=dict)
    logo: str = ""  # an image file printed in document headers; relative to the config folder
    followups: FollowUpSettings = field(default_factory=lambda: default_follow_up_settings())
    #: [security] disk_encryption: what a clinic file on an unencrypted disk means (at_rest.py).
    disk_encryption: str = "warn"
    #: The paper documents are printed on (PAPER_SIZES); a US clinic prints on Letter.
    paper_size: str = "letter"
    #: The patient's appointment card (CARD_SIZES), and what it is printed on (CARD_STOCKS):
    #: laid out at its true size on the clinic's paper with crop marks, or one card a page.
    card_size: str = "index_3x5"
    card_stock: str = "sheet"
    #: How every view, printed page and command says a time of day (dates.TIME_FORMATS):
    #: "12h" ("9:30 AM", a US clinic's) or "24h" ("09:30").
    time_format: str = "12h"
    #: The logo chosen in Settings, kept in the database: base64 of the image file, and its
    #: format (LOGO_FORMATS).  When set it is printed instead of the ``logo`` file.
    logo_image: str = ""
    logo_format: str = ""
    #: The largest logo image Settings accepts, in kilobytes (it is stored in every clinic
    #: backup and read with the configuration).
    logo_max_kb: int = 256
    #: The state or province whose public holidays count too ("" for the country's only).
    holiday_subdivision: str = ""
    #: The public holidays (by name) the clinic closes on; None closes on every one.
    holidays_closed: tuple[str, ...] | None = None
    #: How long a tentative hold ("pencilled in") keeps its resources unless confirmed.
    tentative_hold_hours: int = 72
    #: How many days before a session's own clinic-local day it may be checked in or started
    #: (0: only on the day itself).
    check_in_days_ahead: int = 0

    def closes_on_holiday(self, name: str) -> bool:
        """Whether the clinic closes on the public holiday ``name`` ("A; B" when two fall on
        one day: closed when it closes on either)."""
        if self.holidays_closed is None:
            return True
        return any(part.strip() in self.holidays_closed for part in name.split(";"))

    def capacity_for_role(self, role: str) -> int:
        return self.staffing.get(f"{role}_patients", 1)


# --------------------------------------------------------------------------------------------
# Parsing


class _Reader:
    """Reads one table of a configuration, keeping the dotted path for error messages."""

    def __init__(self, data: Any, path: str, source: str) -> None:
        if not isinstance(data, Mapping):
            raise ConfigError(f"{source}: {path}: expected a table, got {_describe(data)}")
        self.data = data
        self.path = path
        self.source = source

    def where(self, key: str) -> str:
        return f"{self.source}: {self.path}.{key}" if self.path else f"{self.source}: {key}"

    def fail(self, key: str, message: str) -> ConfigError:
        return ConfigError(f"{self.where(key)}: {message}")

    def has(self, key: str) -> bool:
        return key in self.data

    def raw(self, key: str) -> Any:
        if key not in self.data:
            raise self.fail(key, "is missing")
        return self.data[key]

    def text(self, key: str, default: str | None = None) -> str:
        if key not in self.data and default is not None:
            return default
        value = self.raw(key)
        if not isinstance(value, str):
            raise self.fail(key, f"must be text, got {_describe(value)}")
        return value

    def integer(self, key: str, default: int | None = None, minimum: int = 0) -> int:
        if key not in self.data and default is not None:
            return default
        value = self.raw(key)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(key, f"must be a whole number, got {_describe(value)}")
        if value < minimum:
            raise self.fail(key, f"must be at least {minimum}, got {value}")
        return value

    def opt_int(self, key: str, minimum: int = 0) -> int | None:
        return self.integer(key, minimum=minimum) if key in self.data else None

    def flag(self, key: str, default: bool | None = None) -> bool:
        if key not in self.data and default is not None:
            return default
        value = self.raw(key)
        if not isinstance(value, bool):
            raise self.fail(key, f"must be true or false, got {_describe(value)}")
        return value

    def choice(self, key: str, choices: Sequence[str], default: str | None = None) -> str:
        value = self.text(key, default)
        if value not in choices:
            raise self.fail(key, f"must be one of {', '.join(choices)}; got {value!r}")
        return value

    def str_list(self, key: str, choices: Sequence[str] | None = None) -> tuple[str, ...]:
        if key not in self.data:
            return ()
        value = self.raw(key)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(key, f"must be a list of text, got {_describe(value)}")
        if choices is not None:
            for v in value:
                if v not in choices:
                    raise self.fail(key, f"{v!r} is not one of {', '.join(choices)}")
        return tuple(value)

    def table(self, key: str) -> _Reader:
        return _Reader(self.raw(key), f"{self.path}.{key}" if self.path else key, self.source)

    def tables(self, key: str, required: bool = True) -> list[_Reader]:
        if key not in self.data and not required:
            return []
        value = self.raw(key)
        if not isinstance(value, list):
            raise self.fail(key, f"must be a list of tables, got {_describe(value)}")
        prefix = f"{self.path}.{key}" if self.path else key
        return [_Reader(item, f"{prefix}[{i}]", self.source) for i, item in enumerate(value)]


def _describe(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, list):
        return "a list"
    return repr(value)


_CODE_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_COLOR_RE = re.compile(r"^#[0-9a-fA-F]{6}$")
_TIME_RE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def _check_code(r: _Reader, code: str) -> None:
    if not _CODE_RE.match(code):
        raise ConfigError(
            f"{r.source}: {r.path}: the name {code!r} must be lower-case letters, digits and _"
        )


def parse_session_type(code: str, data: Any, source: str, path: str) -> SessionTypeSpec:
    r = _Reader(data, path, source)
    _check_code(r, code)
    phases: list[Phase] = []
    for pr in r.tables("phases"):
        key = pr.text("key")
        if any(p.key == key for p in phases):
            raise pr.fail("key", f"phase {key!r} appears twice")
        phases.append(
            Phase(
                key=key,
                name=pr.text("name"),
                minutes=pr.integer("minutes", minimum=1),
                shade=pr.choice("shade", PHASE_SHADES, default="checkin"),
            )
        )
    if not phases:
        raise r.fail("phases", "needs at least one phase")
    phase_keys = [p.key for p in phases]
    needs: list[ResourceNeed] = []
    for nr in r.tables("needs", required=False):
        kind = ResourceKind(nr.choice("kind", [k.value for k in ResourceKind]))
        subkind = nr.choice("subkind", SUBKINDS[kind])
        holds: list[HoldSpec] = []
        for hr in nr.tables("holds"):
            start = hr.choice("from", phase_keys)
            end = hr.choice("to", phase_keys, default=start)
            if phase_keys.index(end) < phase_keys.index(start):
                raise hr.fail("to", f"phase {end!r} comes before {start!r}")
            minutes = hr.opt_int("minutes", minimum=1)
            holds.append(
                HoldSpec(
                    start_phase=start,
                    end_phase=end,
                    offset_minutes=hr.integer("offset", default=0),
                    minutes=minutes,
                    mode=HoldMode(hr.choice("mode", [m.value for m in HoldMode])),
                )
            )
        if not holds:
            raise nr.fail("holds", "needs at least one hold")
        needs.append(
            ResourceNeed(
                key=nr.text("key"),
                kind=kind,
                subkind=subkind,
                holds=tuple(holds),
                optional=nr.flag("optional", default=False),
            )
        )
    followups = tuple(
        FollowUpRule(
            kind=fr.choice("kind", FOLLOWUP_KINDS),
            assignee_role=fr.choice("assignee_role", [s.value for s in StaffRole]),
            business_days=fr.opt_int("business_days"),
            calendar_days=fr.opt_int("calendar_days"),
            min_days=fr.opt_int("min_days"),
            max_days=fr.opt_int("max_days"),
            before_session=fr.flag("before_session", default=False),
            owed_from_start=fr.flag("owed_from_start", default=False),
        )
        for fr in r.tables("followups", required=False)
    )
    bp_checks = tuple(
        BpCheck(
            label=br.text("label"),
            phase=br.choice("phase", phase_keys),
            offset_minutes=_signed_int(br, "offset"),
        )
        for br in r.tables("bp_checks", required=False)
    )
    cadence = _reading_cadence(r, phase_keys)
    if cadence is not None:
        # In the order they fall due, so the next one due is the first not yet taken.
        starts = dict(zip(phase_keys, itertools.accumulate(p.minutes for p in phases), strict=True))
        starts = {k: v - p.minutes for (k, v), p in zip(starts.items(), phases, strict=True)}
        configured = {starts[c.phase] + c.offset_minutes for c in bp_checks}
        laid = _cadence_checks(cadence, tuple(phases), {c.label for c in bp_checks}, configured)
        bp_checks = tuple(
            sorted(bp_checks + laid, key=lambda c: starts[c.phase] + c.offset_minutes)
        )
    color = r.text("color", default="#888888")
    if not _COLOR_RE.match(color):
        raise r.fail("color", f"must look like #3b7dd8, got {color!r}")
    spec = SessionTypeSpec(
        code=code,
        name=r.text("name"),
        short=r.text("short", default=code[:4].upper()),
        color=color,
        dosing=r.flag("dosing", default=False),
        phases=tuple(phases),
        needs=tuple(needs),
        gating=r.str_list("gating", GATING_RULES),
        followups=followups,
        instructions=r.str_list("instructions"),
        bp_checks=bp_checks,
        drives_after_hours=r.opt_int("drives_after_hours"),
        observation_from=(
            r.choice("observation_from", phase_keys) if r.has("observation_from") else None
        ),
        observation_minutes=r.opt_int("observation_minutes", minimum=1),
        dose=_dose_rule(r.table("dose")) if r.has("dose") else None,
        reading_cadence=cadence,
        scales=_scale_plans(r),
    )
    if spec.scales and dose_phase_key(spec) is None:
        raise r.fail("scales", "are owed from the dose: the session type needs a dosing phase")
    total = spec.total_minutes
    for need in spec.needs:
        for hold in need.holds:
            begins, ends = spec.hold_window(hold)
            if ends > total or ends <= begins:
                raise r.fail(
                    f"needs.{need.key}",
                    f"a hold runs from minute {begins} to {ends}, outside the session's "
                    f"{total} minutes",
                )
    return spec


def dose_phase_key(spec: SessionTypeSpec) -> str | None:
    """The phase a type's dose starts: ``observation_from``, else its first dosing phase."""
    if spec.observation_from is not None:
        return spec.observation_from
    return next((p.key for p in spec.phases if p.shade == "dosing"), None)


def _scale_plans(r: _Reader) -> tuple[ScalePlan, ...]:
    """``scales = [{ scale = "moaas", at = [0, 15], at_discharge = true }, ...]``: a mistake
    names the entry and what is wrong (an unknown scale, a negative minute)."""
    plans: list[ScalePlan] = []
    for sr in r.tables("scales", required=False):
        scale = sr.raw("scale") if sr.has("scale") else None
        if scale not in SCALE_CODES:
            raise sr.fail(
                "scale", f"unknown scale {scale!r}: must be one of {', '.join(SCALE_CODES)}"
            )
        if any(p.scale == scale for p in plans):
            raise sr.fail("scale", f"{scale!r} appears twice: list all its minutes in one entry")
        minutes = sr.raw("at") if sr.has("at") else []
        if not isinstance(minutes, list) or any(
            isinstance(m, bool) or not isinstance(m, int) for m in minutes
        ):
            raise sr.fail("at", f"must be a list of minutes after the dose, got {minutes!r}")
        negative = [m for m in minutes if m < 0]
        if negative:
            raise sr.fail(
                "at",
                f"{negative[0]} is a negative minute: readings are owed from the dose start on",
            )
        if len(set(minutes)) != len(minutes):
            raise sr.fail("at", "a minute appears twice")
        at_discharge = sr.flag("at_discharge", default=False)
        if not minutes and not at_discharge:
            raise sr.fail("at", "name when readings are owed (minutes, or at_discharge = true)")
        plans.append(ScalePlan(scale, tuple(sorted(minutes)), at_discharge))
    return tuple(plans)


def _int_list(r: _Reader, key: str, minimum: int = 1) -> tuple[int, ...]:
    value = r.raw(key)
    if (
        not isinstance(value, list)
        or not value
        or any(isinstance(v, bool) or not isinstance(v, int) or v < minimum for v in value)
    ):
        raise r.fail(key, f"must be a list of whole numbers of at least {minimum}, got {value!r}")
    return tuple(value)


def _dose_rule(dr: _Reader) -> DoseRule:
    device = dr.integer("device_mg", minimum=1)
    allowed = _int_list(dr, "allowed_mg")
    for mg in allowed:
        if mg % device:
            raise dr.fail("allowed_mg", f"{mg} mg is not a whole number of {device} mg devices")
    starting = _int_list(dr, "starting_mg") if dr.has("starting_mg") else ()
    for mg in starting:
        if mg not in allowed:
            raise dr.fail("starting_mg", f"{mg} mg is not one of allowed_mg")
    return DoseRule(device, allowed, starting, dr.opt_int("step_mg", minimum=1))


def _reading_cadence(r: _Reader, phase_keys: list[str]) -> ReadingCadence | None:
    if not r.has("reading_cadence"):
        return None
    cr = r.table("reading_cadence")
    start = cr.choice("from", phase_keys)
    end = cr.choice("to", phase_keys, default=start)
    if phase_keys.index(end) < phase_keys.index(start):
        raise cr.fail("to", f"phase {end!r} comes before {start!r}")
    return ReadingCadence(start, end, cr.integer("every", minimum=1))


def cadence_label(minute: int) -> str:
    """The label of a reading cadence's check ``minute`` minutes from the cadence's start,
    "+15 min": the key its readings are stored under.  Words for people may say it otherwise
    (the one at minute 0 of a cadence from the dose is "BP at dose":
    ``services/monitoring/record_forms.bp_check_words``)."""
    return f"+{minute} min"


def _cadence_checks(
    cadence: ReadingCadence,
    phases: tuple[Phase, ...],
    taken: set[str],
    configured_at: set[int],
) -> tuple[BpCheck, ...]:
    """A check every so many minutes, labelled from the cadence's start ("+15 min"), each laid
    against the phase it falls in; a label already configured, or a minute of the session a
    configured check already falls on ("Before discharge"), is left to that check."""
    keys = [p.key for p in phases]
    first, last = keys.index(cadence.start_phase), keys.index(cadence.end_phase)
    span = sum(p.minutes for p in phases[first : last + 1])
    begins = sum(p.minutes for p in phases[:first])
    checks = []
    for minute in range(0, span, cadence.every_minutes):
        label = cadence_label(minute)
        if label not in taken and begins + minute not in configured_at:
            checks.append(BpCheck(label, cadence.start_phase, minute))
    return tuple(checks)


def _signed_int(r: _Reader, key: str) -> int:
    value = r.raw(key) if r.has(key) else 0
    if isinstance(value, bool) or not isinstance(value, int):
        raise r.fail(key, f"must be a whole number, got {_describe(value)}")
    return value


def parse_session_types(data: Any, source: str) -> dict[str, SessionTypeSpec]:
    root = _Reader(data, "", source)
    table = root.table("session_types")
    return {
        code: parse_session_type(code, value, source, f"session_types.{code}")
        for code, value in table.data.items()
    }


def parse_protocol(
    code: str, data: Any, source: str, path: str, session_types: Mapping[str, SessionTypeSpec]
) -> ProtocolSpec:
    r = _Reader(data, path, source)
    _check_code(r, code)
    known = sorted(session_types)
    stages: list[ProtocolStage] = []
    for sr in r.tables("stages"):
        min_gap = sr.integer("min_gap_days")
        max_gap = sr.integer("max_gap_days")
        target = sr.integer("target_gap_days", default=min_gap)
        if not min_gap <= target <= max_gap:
            raise sr.fail(
                "target_gap_days",
                f"must lie between min_gap_days ({min_gap}) and max_gap_days ({max_gap}), "
                f"got {target}",
            )
        followed_by = None
        if sr.has("followed_by"):
            fr = sr.table("followed_by")
            followed_by = FollowedBy(
                session_type=fr.choice("session_type", known),
                min_days=fr.integer("min_days"),
                max_days=fr.integer("max_days"),
            )
            if followed_by.max_days < followed_by.min_days:
                raise fr.fail("max_days", "must not be less than min_days")
        on_complete = None
        if sr.has("on_complete"):
            cr = sr.table("on_complete")
            on_complete = CompletionFollowUp(
                followup=cr.choice("followup", FOLLOWUP_KINDS),
                min_days=cr.integer("min_days"),
                max_days=cr.integer("max_days"),
            )
        window_cap = None
        if sr.has("window_cap"):
            wr = sr.table("window_cap")
            window_cap = WindowCap(
                sessions=wr.integer("sessions", minimum=1), days=wr.integer("days", minimum=1)
            )
        stages.append(
            ProtocolStage(
                name=sr.text("name"),
                session_type=sr.choice("session_type", known),
                count=sr.integer("count", minimum=1),
                min_gap_days=min_gap,
                target_gap_days=target,
                max_gap_days=max_gap,
                window_days=sr.opt_int("window_days", minimum=1),
                followed_by=followed_by,
                on_complete=on_complete,
                window_cap=window_cap,
            )
        )
    if not stages:
        raise r.fail("stages", "needs at least one stage")
    series_gap = None
    if r.has("series_gap"):
        gr = r.table("series_gap")
        series_gap = SeriesGap(
            min_days=gr.integer("min_days"), max_days=gr.opt_int("max_days", minimum=1)
        )
        if series_gap.max_days is not None and series_gap.max_days < series_gap.min_days:
            raise gr.fail("max_days", "must not be less than min_days")
    return ProtocolSpec(
        code=code,
        name=r.text("name"),
        stages=tuple(stages),
        default_weekdays=r.str_list("default_weekdays", WEEKDAYS),
        starting_dose_mg=(_int_list(r, "starting_dose_mg") if r.has("starting_dose_mg") else None),
        series_gap=series_gap,
    )


def parse_protocols(
    data: Any, source: str, session_types: Mapping[str, SessionTypeSpec]
) -> dict[str, ProtocolSpec]:
    root = _Reader(data, "", source)
    table = root.table("protocols")
    return {
        code: parse_protocol(code, value, source, f"protocols.{code}", session_types)
        for code, value in table.data.items()
    }


def _parse_time(r: _Reader, key: str, text: Any) -> time:
    if not isinstance(text, str) or not _TIME_RE.match(text):
        raise r.fail(key, f"times must look like 07:30, got {_describe(text)}")
    hh, mm = text.split(":")
    return time(int(hh), int(mm))


def parse_clinic_settings(data: Any, source: str) -> ClinicSettings:
    root = _Reader(data, "", source)
    c = root.table("clinic")
    tz = c.text("timezone")
    _check_timezone(c, tz)
    slot = c.integer("slot_minutes", minimum=1)
    if 60 % slot:
        raise c.fail("slot_minutes", f"must divide an hour evenly, got {slot}")
    hr = root.table("hours")
    hours: dict[str, tuple[time, time] | None] = {}
    for day in WEEKDAYS:
        value = hr.raw(day) if hr.has(day) else []
        if not isinstance(value, list) or len(value) not in (0, 2):
            raise hr.fail(day, f'must be ["opens", "closes"] or [] for closed, got {value!r}')
        if value:
            opens, closes = _parse_time(hr, day, value[0]), _parse_time(hr, day, value[1])
            if closes <= opens:
                raise hr.fail(day, f"closes ({value[1]}) before it opens ({value[0]})")
            hours[day] = (opens, closes)
        else:
            hours[day] = None
    staffing_r = root.table("staffing")
    staffing = {k: staffing_r.integer(k, minimum=1) for k in staffing_r.data}
    gating_r = root.table("gating")
    gating = {}
    for rule in gating_r.data:
        if rule not in GATING_RULES:
            raise gating_r.fail(rule, f"is not a gating rule; known: {', '.join(GATING_RULES)}")
        refuse_safety_off(source, f"gating.{rule}", gating_r.raw(rule))
        gating[rule] = gating_r.choice(rule, GATING_LEVELS)
    mon = root.table("monitoring")
    monitoring = {k: mon.integer(k) for k in mon.data}
    rems = root.table("rems") if root.has("rems") else _Reader({}, "rems", source)
    accounts = _parse_accounts(root, source)
    return ClinicSettings(
        name=c.text("name"),
        timezone=tz,
        address=c.text("address", default=""),
        phone=c.text("phone", default=""),
        email=c.text("email", default=""),
        holiday_country=c.text("holiday_country", default=""),
        slot_minutes=slot,
        cancellation_policy=c.text("cancellation_policy", default=""),
        logo=c.text("logo", default=""),
        late_cancel_hours=c.integer("late_cancel_hours", default=24),
        tentative_hold_hours=c.integer("tentative_hold_hours", default=72, minimum=1),
        check_in_days_ahead=c.integer("check_in_days_ahead", default=0, minimum=0),
        dosing_sessions_per_patient_day=c.integer(
            "dosing_sessions_per_patient_day", default=1, minimum=1
        ),
        hours=hours,
        staffing=staffing,
        gating=gating,
        rems_site_certified_until=rems.text("site_certified_until", default=""),
        monitoring=monitoring,
        idle_lock_minutes=accounts.idle_lock_minutes,
        accounts=accounts,
        followups=_parse_followups(root, source),
        disk_encryption=_security(root, source).choice(
            "disk_encryption", DISK_ENCRYPTION_POLICIES, default="warn"
        ),
        paper_size=c.choice("paper_size", PAPER_SIZES, default="letter"),
        card_size=c.choice("card_size", tuple(CARD_SIZES), default="index_3x5"),
        card_stock=c.choice("card_stock", CARD_STOCKS, default="sheet"),
        time_format=c.choice("time_format", TIME_FORMATS, default="12h"),
        logo_image=c.text("logo_image", default=""),
        logo_format=c.choice("logo_format", ("", *LOGO_FORMATS), default=""),
        logo_max_kb=c.integer("logo_max_kb", default=256, minimum=1),
        holiday_subdivision=c.text("holiday_subdivision", default=""),
        holidays_closed=_holidays_closed(c),
        # Sections parsed by their own feature (scheduling/confirmations.py, scheduling/fees.py,
        # scheduling/safety_followups.py, scheduling/chair_rules.py, scheduling/dropout.py,
        # scheduling/gating.py, scheduling/series_end.py),
        # kept as given.
        extra={
            k: data[k]
            for k in (
                "confirmations",
                "fees",
                "urgent_review",
                "rems_form",
                "chair",
                "dropout",
                "protocol_rules",
                "eligibility",
                "series_end",
                "scales",
            )
            if isinstance(data, dict) and k in data
        },
    )


#: The paper sizes documents may be printed on ([clinic] paper_size).
PAPER_SIZES = ("letter", "legal", "a4")
#: The appointment cards a clinic may hand out ([clinic] card_size): width and height in
#: inches, as the card is read, and what people call it.
CARD_SIZES: Mapping[str, tuple[float, float, str]] = {
    "index_3x5": (3.0, 5.0, "Index card, 3 × 5 in"),
    "index_4x6": (4.0, 6.0, "Index card, 4 × 6 in"),
    "business": (3.5, 2.0, "Business card, 3.5 × 2 in (two sides)"),
}
#: What cards are printed on ([clinic] card_stock): "sheet", cards at their true size on the
#: clinic's paper with crop marks to cut along; "card", one card a page (a card printer).
CARD_STOCKS = ("sheet", "card")
#: The image formats a logo kept in the database may have ([clinic] logo_format).
LOGO_FORMATS = ("png", "jpeg", "svg")


def _holidays_closed(c: _Reader) -> tuple[str, ...] | None:
    """``[clinic] holidays_closed``: the holiday names the clinic closes on (absent: all)."""
    if "holidays_closed" not in c.data:
        return None
    value = c.data["holidays_closed"]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise c.fail("holidays_closed", "must be a list of holiday names")
    return tuple(value)


#: What ``[security] disk_encryption`` may say: warn about a clinic file on an unencrypted disk,
#: refuse to sign in to it, or say nothing (services/clinic/at_rest.py).
DISK_ENCRYPTION_POLICIES = ("warn", "require", "off")


def _security(root: _Reader, source: str) -> _Reader:
    return root.table("security") if root.has("security") else _Reader({}, "security", source)


# The [followups] of resources/config/clinic.toml, for a stored configuration written before
# that section existed (tests/services/test_followups.py keeps the two equal).
FOLLOW_UP_DEFAULTS: Mapping[str, Any] = {
    "retry_hours": 4,
    "max_attempts": 3,
    "upcoming_days": 7,
    "adverse_event_business_days": 1,
    "adverse_event_role": "prescriber",
    "series_review_role": "prescriber",
    "clinical_kinds": [
        "next_day_call",
        "rems_form",
        "phq9",
        "gad7",
        "adverse_event",
        "urgent_review",
        "booster_review",
        "induction_review",
    ],
    "clinical_roles": ["nurse", "prescriber"],
    "recall_lookback_days": 90,
    "self_harm_instruction": "If yes: stay on the line and tell the on-call prescriber now.",
}


def _parse_followups(root: _Reader, source: str) -> FollowUpSettings:
    given = root.table("followups").data if root.has("followups") else {}
    data = {**FOLLOW_UP_DEFAULTS, **given}
    fr = _Reader(data, "followups", source)
    roles = [r.value for r in StaffRole]
    series_review_role = fr.choice("series_review_role", roles)
    clinical_roles = fr.str_list("clinical_roles", roles)
    clinical_kinds = fr.str_list("clinical_kinds", FOLLOWUP_KINDS)
    if series_review_role in clinical_roles:
        # A stored configuration written before the stage reviews were listed still keeps
        # them from the roles that may not work them (STAGE_REVIEW_KINDS).
        clinical_kinds = tuple(dict.fromkeys((*clinical_kinds, *STAGE_REVIEW_KINDS)))
    return FollowUpSettings(
        retry_hours=fr.integer("retry_hours", minimum=1),
        max_attempts=fr.integer("max_attempts", minimum=1),
        upcoming_days=fr.integer("upcoming_days"),
        adverse_event_business_days=fr.integer("adverse_event_business_days"),
        adverse_event_role=fr.choice("adverse_event_role", roles),
        series_review_role=series_review_role,
        clinical_kinds=clinical_kinds,
        clinical_roles=clinical_roles,
        recall_lookback_days=fr.integer("recall_lookback_days", minimum=1),
        self_harm_instruction=fr.text("self_harm_instruction").strip(),
    )


def default_follow_up_settings() -> FollowUpSettings:
    return _parse_followups(_Reader({}, "", "defaults"), "defaults")


# The [accounts] of resources/config/clinic.toml, for a stored configuration written before
# that section existed (tests/services/test_accounts.py keeps the two equal).
ACCOUNT_DEFAULTS: Mapping[str, int] = {
    "min_password_length": 10,
    "idle_lock_minutes": 10,
    "free_failures": 3,
    "failure_delay_seconds": 2,
    "failure_delay_max_seconds": 300,
    "argon2_memory_kib": 19456,
    "argon2_time_cost": 2,
    "argon2_parallelism": 1,
}

# Argon2's own limits (RFC 9106, section 3.1): at least 8 KiB of memory per lane, at most
# 2**24 - 1 lanes and 2**32 - 1 KiB.
ARGON2_KIB_PER_LANE = 8
ARGON2_MAX_LANES = 2**24 - 1
ARGON2_MAX_KIB = 2**32 - 1


def _parse_accounts(root: _Reader, source: str) -> AccountSettings:
    # Clinics configured before [accounts] existed kept the idle lock in [security]; their
    # stored copy has no [accounts], so its other keys take the defaults of clinic.toml.
    legacy = _security(root, source)
    acc = root.table("accounts") if root.has("accounts") else _Reader({}, "accounts", source)
    defaults = ACCOUNT_DEFAULTS
    idle = (
        acc.integer("idle_lock_minutes", minimum=1)
        if acc.has("idle_lock_minutes")
        else legacy.integer("idle_lock_minutes", default=defaults["idle_lock_minutes"], minimum=1)
    )
    least = acc.integer("failure_delay_seconds", default=defaults["failure_delay_seconds"])
    most = acc.integer("failure_delay_max_seconds", default=defaults["failure_delay_max_seconds"])
    if most < least:
        raise acc.fail(
            "failure_delay_max_seconds",
            f"must be at least failure_delay_seconds ({least}), got {most}",
        )
    lanes = acc.integer("argon2_parallelism", default=defaults["argon2_parallelism"], minimum=1)
    if lanes > ARGON2_MAX_LANES:
        raise acc.fail("argon2_parallelism", f"must be at most {ARGON2_MAX_LANES}, got {lanes}")
    memory = acc.integer("argon2_memory_kib", default=defaults["argon2_memory_kib"], minimum=1)
    if memory < ARGON2_KIB_PER_LANE * lanes:
        raise acc.fail(
            "argon2_memory_kib",
            f"must be at least {ARGON2_KIB_PER_LANE} KiB per lane of argon2_parallelism "
            f"({ARGON2_KIB_PER_LANE * lanes} KiB for {lanes}), got {memory}",
        )
    if memory > ARGON2_MAX_KIB:
        raise acc.fail("argon2_memory_kib", f"must be at most {ARGON2_MAX_KIB}, got {memory}")
    return AccountSettings(
        min_password_length=acc.integer(
            "min_password_length", default=defaults["min_password_length"], minimum=1
        ),
        idle_lock_minutes=idle,
        free_failures=acc.integer("free_failures", default=defaults["free_failures"]),
        failure_delay_seconds=least,
        failure_delay_max_seconds=most,
        argon2_memory_kib=memory,
        argon2_time_cost=acc.integer(
            "argon2_time_cost", default=defaults["argon2_time_cost"], minimum=1
        ),
        argon2_parallelism=lanes,
    )


def _check_timezone(r: _Reader, name: str) -> None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise r.fail("timezone", f"{name!r} is not a known time zone") from None
