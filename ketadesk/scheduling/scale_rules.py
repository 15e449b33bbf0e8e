"""Timed sedation (MOAA/S) and dissociation (CADSS) scale readings, as plain rules: which scales
a session type uses and when each reading is owed (minutes from the dose start, and at
discharge), which reading is due next and which were missed, and whether the last readings let
the patient go (sedation and dissociation resolved).

The same design as the BP checks (``chair_rules.check_due_times``): readings are laid from the
recorded dose start, a reading counts for the slot whose window it falls in (from
``[monitoring] reading_early_minutes`` before its due time to the next slot's window), and a
slot not filled ``[monitoring] reading_late_minutes`` after it fell due is missed.  A reading
owed "at discharge" is due when the observation minutes end (``earliest_discharge``); a timed
one laid past that is due by then, as a BP check is.  Every number is configuration: the
session type's ``scales`` (session_types.toml) and ``[scales]`` (clinic.toml).  Source:
DOMAIN.md "Monitoring during the session" (CADSS and MOAA/S "at set times") and "Discharge".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ketadesk.scheduling.catalog import ConfigError, ScalePlan
from ketadesk.scheduling.dates import clock

MOAAS = "moaas"
CADSS = "cadss"

#: The Modified Observer's Assessment of Alertness/Sedation, by score: the anchor words the
#: nurse reads (5 awake and alert ... 0 no response).
MOAAS_ANCHORS: Mapping[int, str] = {
    5: "responds readily to name spoken in normal tone",
    4: "lethargic response to name spoken in normal tone",
    3: "responds only after name is called loudly and/or repeatedly",
    2: "responds only after mild prodding or shaking",
    1: "responds only after painful trapezius squeeze",
    0: "no response after painful trapezius squeeze",
}

SCALE_DEFAULTS: Mapping[str, Any] = {
    # Sedation has resolved when the last MOAA/S is at least this (5: fully alert).
    "moaas_resolved": 5,
    # Dissociation has resolved when the last CADSS total is at most this.
    "cadss_resolved_max": 0,
    # The CADSS as the clinic scores it: the full 23-item form totals 0-92; a clinic using a
    # short form sets its own name and highest total.
    "cadss_name": "CADSS",
    "cadss_max": 92,
}


@dataclass(frozen=True, slots=True)
class ScaleSettings:
    """``[scales]``: when each scale says its effect has resolved, and the CADSS form used."""

    moaas_resolved: int = 5
    cadss_resolved_max: int = 0
    cadss_name: str = "CADSS"
    cadss_max: int = 92

    def name(self, scale: str) -> str:
        return "MOAA/S" if scale == MOAAS else self.cadss_name

    def highest(self, scale: str) -> int:
        return max(MOAAS_ANCHORS) if scale == MOAAS else self.cadss_max

    def score_words(self, scale: str, score: int) -> str:
        """ "MOAA/S 5 (responds readily to name spoken in normal tone)", "CADSS 12"."""
        if scale == MOAAS:
            return f"MOAA/S {score} ({MOAAS_ANCHORS.get(score, '')})"
        return f"{self.cadss_name} {score}"

    def resolved(self, scale: str, score: int) -> bool:
        if scale == MOAAS:
            return score >= self.moaas_resolved
        return score <= self.cadss_resolved_max

    def needs_words(self, scale: str) -> str:
        if scale == MOAAS:
            return f"MOAA/S {self.moaas_resolved} or more"
        return f"{self.cadss_name} {self.cadss_resolved_max} or less"


def parse_scale_settings(
    given: Mapping[str, Any] | None, source: str = "clinic.toml"
) -> ScaleSettings:
    """``[scales]`` over its defaults; a mistake names its key."""
    data = {**SCALE_DEFAULTS, **(given or {})}
    unknown = sorted(set(data) - set(SCALE_DEFAULTS))
    if unknown:
        raise ConfigError(
            f"{source}: scales.{unknown[0]}: not a setting of [scales] "
            f"(known: {', '.join(SCALE_DEFAULTS)})"
        )
    for key in ("moaas_resolved", "cadss_resolved_max", "cadss_max"):
        value = data[key]
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ConfigError(f"{source}: scales.{key}: must be a whole number of at least 0")
    if data["cadss_max"] < 1:
        raise ConfigError(f"{source}: scales.cadss_max: must be a whole number of at least 1")
    if data["moaas_resolved"] > max(MOAAS_ANCHORS):
        raise ConfigError(
            f"{source}: scales.moaas_resolved: the MOAA/S runs 0-{max(MOAAS_ANCHORS)}, "
            f"got {data['moaas_resolved']}"
        )
    if data["cadss_resolved_max"] > data["cadss_max"]:
        raise ConfigError(
            f"{source}: scales.cadss_resolved_max: {data['cadss_resolved_max']} is above "
            f"the CADSS's highest total (cadss_max = {data['cadss_max']})"
        )
    name = data["cadss_name"]
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f'{source}: scales.cadss_name: must be the form\'s name, e.g. "CADSS"')
    return ScaleSettings(
        moaas_resolved=data["moaas_resolved"],
        cadss_resolved_max=data["cadss_resolved_max"],
        cadss_name=name.strip(),
        cadss_max=data["cadss_max"],
    )


def score_problem(scale: str, text: str, settings: ScaleSettings) -> str | None:
    """Why a typed score cannot be recorded, in words; None when it can."""
    name = settings.name(scale)
    top = settings.highest(scale)
    value = text.strip()
    if not value:
        return f"type the {name} score (0-{top})"
    if not value.isdigit():
        return f"the {name} score is a whole number 0-{top}, not “{value}”"
    if int(value) > top:
        return f"the {name} score runs 0-{top}; {value} is above it"
    return None


@dataclass(frozen=True, slots=True)
class ScaleSlot:
    """One reading a session type owes: the scale, its minutes after the dose (None: the one
    at discharge), and when it is due."""

    scale: str
    after_dose: int | None
    due_at: dt.datetime

    @property
    def at_discharge(self) -> bool:
        return self.after_dose is None

    def label(self, settings: ScaleSettings) -> str:
        """ "MOAA/S +15 min", "MOAA/S at dose", "CADSS at discharge"."""
        name = settings.name(self.scale)
        if self.after_dose is None:
            return f"{name} at discharge"
        if self.after_dose == 0:
            return f"{name} at dose"
        return f"{name} +{self.after_dose} min"


@dataclass(frozen=True, slots=True)
class ScaleReading:
    """A scale reading as the rules need it: which scale, when, the score, and who recorded
    it (their name, for the record)."""

    scale: str
    taken_at: dt.datetime
    score: int
    recorded_by: str = ""


def scale_slots(
    plans: Sequence[ScalePlan], dose_at: dt.datetime, discharge_at: dt.datetime | None
) -> tuple[ScaleSlot, ...]:
    """The readings owed, in the order they fall due: each plan's minutes after ``dose_at``
    (the recorded dose start) and, where asked, one at ``discharge_at`` (the observation's end;
    None for a type without observation minutes: then only the discharge asks for it).  A timed
    reading laid after the discharge time is due by then; one that falls at the same time as
    the one at discharge is that one."""
    slots: list[ScaleSlot] = []
    for plan in plans:
        times: list[tuple[int | None, dt.datetime]] = []
        for minutes in plan.at_minutes:
            due = dose_at + dt.timedelta(minutes=minutes)
            if discharge_at is not None and due >= discharge_at:
                if plan.at_discharge:
                    continue  # the reading at discharge covers it
                due = discharge_at
            times.append((minutes, due))
        if plan.at_discharge and discharge_at is not None:
            # (A type without observation minutes has no time for it: the discharge asks.)
            times.append((None, discharge_at))
        slots.extend(ScaleSlot(plan.scale, minutes, due) for minutes, due in times)
    return tuple(sorted(slots, key=lambda s: (s.due_at, s.scale)))


#: A slot's state: taken, not yet due, due now (within the grace), or missed.
DONE, UPCOMING, DUE, MISSED = "done", "upcoming", "due", "missed"


@dataclass(frozen=True, slots=True)
class ScaleCheck:
    """One owed reading at a moment: its slot, the reading that filled it (None: not taken)
    and its state (``DONE``, ``UPCOMING``, ``DUE``, ``MISSED``)."""

    slot: ScaleSlot
    reading: ScaleReading | None
    state: str


@dataclass(frozen=True, slots=True)
class ScaleSchedule:
    """Where a session's scale readings stand: every owed reading in order, the next one due
    (None: all done, or no dose recorded yet), and the missed ones."""

    checks: tuple[ScaleCheck, ...]
    settings: ScaleSettings

    @property
    def next(self) -> ScaleCheck | None:
        return next((c for c in self.checks if c.state != DONE and c.state != MISSED), None)

    @property
    def missed(self) -> tuple[ScaleCheck, ...]:
        return tuple(c for c in self.checks if c.state == MISSED)

    def next_words(self, zone: dt.tzinfo | None, time_format: str) -> str:
        """The board's line: "MOAA/S due 10:45 AM", "CADSS at discharge due 11:45 AM"; ""
        when nothing more is owed."""
        check = self.next
        if check is None:
            return ""
        name = self.settings.name(check.slot.scale)
        if check.slot.at_discharge:
            name += " at discharge"
        return f"{name} due {_hhmm(check.slot.due_at, zone, time_format)}"

    def missed_words(self, zone: dt.tzinfo | None, time_format: str) -> str:
        """ "MOAA/S +15 min missed (due 10:30 AM)", or "3 scale readings missed since 10:30 AM
        (MOAA/S +15 min first)"; "" when none is missed."""
        missed = self.missed
        if not missed:
            return ""
        first = missed[0].slot
        since = _hhmm(first.due_at, zone, time_format)
        if len(missed) > 1:
            return (
                f"{len(missed)} scale readings missed since {since} "
                f"({first.label(self.settings)} first)"
            )
        return f"{first.label(self.settings)} missed (due {since})"


def _hhmm(value: dt.datetime, zone: dt.tzinfo | None, fmt: str) -> str:
    return clock(value.astimezone(zone) if zone is not None else value, fmt)


def scale_schedule(
    slots: Sequence[ScaleSlot],
    readings: Sequence[ScaleReading],
    *,
    now: dt.datetime,
    early_minutes: int,
    late_minutes: int,
    settings: ScaleSettings,
) -> ScaleSchedule:
    """Which owed readings are taken, due or missed at ``now``.  A reading fills the slot of
    its scale whose window holds it: from ``early_minutes`` before the slot's due time to the
    next slot's window (the last slot's runs on); one taken before the first window fills
    none.  A slot not filled ``late_minutes`` after it fell due is missed."""
    early = dt.timedelta(minutes=early_minutes)
    grace = dt.timedelta(minutes=late_minutes)
    checks: list[ScaleCheck] = []
    for slot in slots:
        same = [s for s in slots if s.scale == slot.scale]
        index = same.index(slot)
        opens = slot.due_at - early
        after = same[index + 1] if index + 1 < len(same) else None
        closes = after.due_at - early if after is not None else None
        taken = [
            r
            for r in readings
            if r.scale == slot.scale
            and r.taken_at <= now
            and r.taken_at >= opens
            and (closes is None or r.taken_at < closes)
        ]
        reading = max(taken, key=lambda r: r.taken_at) if taken else None
        if reading is not None:
            state = DONE
        elif now < slot.due_at:
            state = UPCOMING
        elif now <= slot.due_at + grace:
            state = DUE
        else:
            state = MISSED
        checks.append(ScaleCheck(slot, reading, state))
    return ScaleSchedule(tuple(checks), settings)


def last_reading(
    readings: Sequence[ScaleReading], scale: str, at: dt.datetime
) -> ScaleReading | None:
    """The latest reading of ``scale`` taken at or before ``at``."""
    taken = [r for r in readings if r.scale == scale and r.taken_at <= at]
    return max(taken, key=lambda r: r.taken_at) if taken else None


@dataclass(frozen=True, slots=True)
class ScaleFinding:
    """What a scale says against discharge: the fact in words and a few words for the board
    (never a score: the board is read by anyone clinical passing)."""

    fact: str
    brief: str


def scale_discharge_problems(
    plans: Sequence[ScalePlan],
    readings: Sequence[ScaleReading],
    *,
    discharge_at: dt.datetime,
    discharge_due: dt.datetime | None,
    settings: ScaleSettings,
    early_minutes: int,
    zone: dt.tzinfo | None = None,
    time_format: str,
) -> list[ScaleFinding]:
    """Discharging at ``discharge_at``: for each scale the session type uses, a reading taken
    (at discharge, when the type asks for one there: at or after ``early_minutes`` before the
    discharge's due time, ``discharge_due``, or before ``discharge_at`` when that is earlier),
    and the last one resolved: MOAA/S at least ``[scales] moaas_resolved``, CADSS at most
    ``[scales] cadss_resolved_max``."""
    problems: list[ScaleFinding] = []
    effect = {MOAAS: "sedation", CADSS: "dissociation"}
    for plan in plans:
        name = settings.name(plan.scale)
        last = last_reading(readings, plan.scale, discharge_at)
        if last is None:
            problems.append(ScaleFinding(f"no {name} is recorded", f"{name} not recorded"))
            continue
        at = _hhmm(last.taken_at, zone, time_format)
        if plan.at_discharge:
            due = discharge_due if discharge_due is not None else discharge_at
            opens = min(due, discharge_at) - dt.timedelta(minutes=early_minutes)
            if last.taken_at < opens:
                problems.append(
                    ScaleFinding(
                        f"no {name} at discharge is recorded (the last, {last.score}, was "
                        f"at {at}); take it from {_hhmm(opens, zone, time_format)}",
                        f"{name} at discharge not recorded",
                    )
                )
                continue
        if not settings.resolved(plan.scale, last.score):
            problems.append(
                ScaleFinding(
                    f"{effect[plan.scale]} not resolved: the last "
                    f"{settings.score_words(plan.scale, last.score)} at {at}; discharge "
                    f"needs {settings.needs_words(plan.scale)}",
                    f"{effect[plan.scale]} not resolved ({name})",
                )
            )
    return problems


def scaled_effects(plans: Sequence[ScalePlan]) -> frozenset[str]:
    """The effects a type judges by its scales ("sedation" by MOAA/S, "dissociation" by
    CADSS): the record's resolved checkbox no longer decides them."""
    effect = {MOAAS: "sedation", CADSS: "dissociation"}
    return frozenset(effect[p.scale] for p in plans)
