"""The rules of the chair, as plain functions: before dosing (a pre-dose BP, and a hard stop
above a threshold), the dose (whole devices, allowed doses, the starting dose, one step at a
time) and discharge (the observation minutes, every configured reading, effects resolved).

Each function takes the facts (readings, times, dose, the session type's rules) and returns
findings, each naming its rule and the fact that breaks it; whether a finding refuses or warns
is the clinic's ``[chair]`` configuration (clinic.toml, kept in ``ClinicSettings.extra`` and
parsed here), and so is who may override a refusal with a reason.  Sources: DOMAIN.md "Rules
that hold at every step" ("Dose", "Before dosing", "Discharge").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from ketadesk.scheduling.catalog import (
    ConfigError,
    DoseRule,
    SessionTypeSpec,
    StaffRole,
    refuse_safety_off,
)
from ketadesk.scheduling.dates import clock

POLICIES = ("block", "warn", "off")
_ROLES = (*(r.value for r in StaffRole), "admin")

CHAIR_DEFAULTS: Mapping[str, Any] = {
    "pre_dose_bp": "block",
    "hard_stop_systolic": 180,
    "hard_stop_diastolic": 110,
    "dose": "block",
    "discharge": "block",
    "override_roles": ["prescriber"],
    # The last BP before discharge must be at or below these (DOMAIN.md: "recheck while
    # elevated"); above either, discharge waits for a recheck or an override with a reason.
    "discharge_max_systolic": 140,
    "discharge_max_diastolic": 90,
    # Minutes after a BP over the clinic's limits ([monitoring] bp_warn_*, or the hard stop
    # before the dose) that a recheck falls due, until a reading is back in range.
    "bp_recheck_minutes": 15,
    # A reading entered (saved) more than this many minutes after the time it was taken is
    # shown as a late entry, with when and by whom (``scheduling/late_entries.py``).
    "late_entry_minutes": 15,
}

# The rules, by the key stored with an override and shown to staff.
PRE_DOSE_BP = "pre_dose_bp"
HARD_STOP = "pre_dose_hard_stop"
DOSE_DEVICES = "dose_devices"
DOSE_ALLOWED = "dose_allowed"
DOSE_STARTING = "dose_starting"
DOSE_STEP = "dose_step"
DISCHARGE_NO_DOSE = "discharge_no_dose"
DISCHARGE_TIME = "discharge_observation"
DISCHARGE_READINGS = "discharge_readings"
DISCHARGE_EFFECTS = "discharge_effects"
DISCHARGE_MONITOR = "discharge_monitored_by"
DISCHARGE_BP = "discharge_bp"
DISCHARGE_SCALES = "discharge_scales"

#: Each rule in words, as staff read it, and the ``[chair]`` key whose policy governs it.
RULES: Mapping[str, tuple[str, str]] = {
    PRE_DOSE_BP: ("Pre-dose BP before dosing", "pre_dose_bp"),
    HARD_STOP: ("Pre-dose BP hard stop", "pre_dose_bp"),
    DOSE_DEVICES: ("Dose is whole devices", "dose"),
    DOSE_ALLOWED: ("Allowed doses", "dose"),
    DOSE_STARTING: ("Starting dose", "dose"),
    DOSE_STEP: ("Dose changes one step at a time", "dose"),
    DISCHARGE_NO_DOSE: ("Discharge needs a recorded dose", "discharge"),
    DISCHARGE_TIME: ("Observation before discharge", "discharge"),
    DISCHARGE_READINGS: ("Readings before discharge", "discharge"),
    DISCHARGE_EFFECTS: ("Effects resolved before discharge", "discharge"),
    DISCHARGE_MONITOR: ("Who monitored, before discharge", "discharge"),
    DISCHARGE_BP: ("BP at discharge", "discharge"),
    DISCHARGE_SCALES: ("Sedation and dissociation scales at discharge", "discharge"),
}


@dataclass(frozen=True, slots=True)
class ChairSettings:
    """``[chair]``: a policy per group of rules ("block", "warn" or "off"), the hard stop of
    the pre-dose BP (above either number), and who may override a refusal with a reason."""

    pre_dose_bp: str = "block"
    hard_stop_systolic: int = 180
    hard_stop_diastolic: int = 110
    dose: str = "block"
    discharge: str = "block"
    override_roles: tuple[str, ...] = ("prescriber",)
    discharge_max_systolic: int = 140
    discharge_max_diastolic: int = 90
    bp_recheck_minutes: int = 15
    late_entry_minutes: int = 15

    def policy(self, rule: str) -> str:
        value: str = getattr(self, RULES[rule][1])
        return value


@dataclass(frozen=True, slots=True)
class ChairFinding:
    """One rule a step in the chair breaks: the rule's key, the fact in words, and whether the
    clinic refuses it (``blocks``) or only warns."""

    rule: str
    fact: str
    blocks: bool = True
    # The fact in a few words for the chair board, where anyone may read it: what is missing,
    # never a reading or a dose ("BP “Before discharge” missing"); "" when the fact says it.
    brief: str = ""

    @property
    def title(self) -> str:
        return RULES[self.rule][0]

    @property
    def text(self) -> str:
        return f"{self.title}: {self.fact}"

    @property
    def short(self) -> str:
        return self.brief or self.fact


def parse_chair_settings(
    given: Mapping[str, Any] | None, source: str = "clinic.toml"
) -> ChairSettings:
    """``[chair]`` over its defaults; a mistake names its key."""
    data = {**CHAIR_DEFAULTS, **(given or {})}
    for key in ("pre_dose_bp", "dose", "discharge"):
        refuse_safety_off(source, f"chair.{key}", data[key])
        if data[key] not in POLICIES:
            raise ConfigError(f"{source}: chair.{key}: must be one of {', '.join(POLICIES)}")
    for key in (
        "hard_stop_systolic",
        "hard_stop_diastolic",
        "discharge_max_systolic",
        "discharge_max_diastolic",
        "bp_recheck_minutes",
        "late_entry_minutes",
    ):
        value = data[key]
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ConfigError(f"{source}: chair.{key}: must be a whole number of at least 1")
    roles = data["override_roles"]
    if not isinstance(roles, list) or any(r not in _ROLES for r in roles):
        raise ConfigError(f"{source}: chair.override_roles: must list roles of {', '.join(_ROLES)}")
    return ChairSettings(
        pre_dose_bp=data["pre_dose_bp"],
        hard_stop_systolic=data["hard_stop_systolic"],
        hard_stop_diastolic=data["hard_stop_diastolic"],
        dose=data["dose"],
        discharge=data["discharge"],
        override_roles=tuple(roles),
        discharge_max_systolic=data["discharge_max_systolic"],
        discharge_max_diastolic=data["discharge_max_diastolic"],
        bp_recheck_minutes=data["bp_recheck_minutes"],
        late_entry_minutes=data["late_entry_minutes"],
    )


def hard_stop_note(
    systolic: int, diastolic: int, settings: ChairSettings, *, before_dose: bool
) -> str | None:
    """What the recording form says in red of a BP above the clinic's hard stop (``[chair]``
    hard_stop_systolic / hard_stop_diastolic): the rule, the reading, and what to do.  Before
    the dose it is the "Pre-dose BP hard stop" the save judges; after it, a reading to recheck
    before any discharge.  None at or below the hard stop, or when the rule is off."""
    stop_s, stop_d = settings.hard_stop_systolic, settings.hard_stop_diastolic
    if settings.pre_dose_bp == "off" or (systolic <= stop_s and diastolic <= stop_d):
        return None
    above = f"BP {systolic}/{diastolic} is above the clinic's hard stop {stop_s}/{stop_d}"
    who = " or ".join(settings.override_roles) or "prescriber"
    if not before_dose:
        return f"{above}: recheck now and tell the {who}; no discharge while it stays this high"
    title = RULES[HARD_STOP][0]
    if settings.pre_dose_bp == "block":
        todo = (
            "do not start dosing. Let the patient rest and recheck (as an extra reading); "
            f"dosing needs a {who}'s override with a reason"
        )
    else:
        todo = f"consider not dosing. Let the patient rest, recheck, and tell the {who}"
    return f"{title}: {above}: {todo}"


@dataclass(frozen=True, slots=True)
class BpReading:
    """A reading as the rules need it: its label, when, and the BP (None when not taken)."""

    label: str
    taken_at: dt.datetime
    systolic: int | None
    diastolic: int | None
    spo2: int | None = None

    @property
    def has_bp(self) -> bool:
        return self.systolic is not None and self.diastolic is not None


def _judged(findings: list[ChairFinding], settings: ChairSettings) -> list[ChairFinding]:
    out = []
    for f in findings:
        policy = settings.policy(f.rule)
        if policy != "off":
            out.append(replace(f, blocks=policy == "block"))
    return out


def _hhmm(value: dt.datetime, zone: dt.tzinfo | None, fmt: str) -> str:
    return clock(value.astimezone(zone) if zone is not None else value, fmt)


def _over(r: BpReading, settings: ChairSettings) -> bool:
    assert r.systolic is not None
    assert r.diastolic is not None
    return r.systolic > settings.hard_stop_systolic or r.diastolic > settings.hard_stop_diastolic


def _same_minute(a: dt.datetime, b: dt.datetime) -> bool:
    return a.replace(second=0, microsecond=0) == b.replace(second=0, microsecond=0)


@dataclass(frozen=True, slots=True)
class PreDoseState:
    """Where the BPs taken before the dose leave dosing: the one judgement the save
    (``pre_dose_findings``), the recording form and the paper (``pre_dose_story``), and the
    next check (``pre_dose_recheck_owed``) all read.

    ``before``: the BPs before the dose (pre-dose checks, and extra readings: a label not
    among the session type's checks), at or before the dose start (any time while none is
    recorded), in the order taken; readings of the same minute in the order entered.
    ``deciding``: the latest of them, the one that decides.  ``stopped_by``: the reading over
    the hard stop that still stops dosing (None when none does): the deciding reading itself,
    or one over the stop taken the same minute as it.  A recheck counts only when it is taken
    after the refused reading, at a later minute: the hard stop asks the nurse to let the
    patient rest and recheck, and two readings of one minute cannot show that rest (a user
    trial: "Now" twice in 10:22 gave a form saying the recheck cleared dosing and a save
    refusing the dose)."""

    before: tuple[BpReading, ...]
    deciding: BpReading | None
    stopped_by: BpReading | None


def pre_dose_state(
    readings: Sequence[BpReading],
    pre_dose_labels: Collection[str],
    check_labels: Collection[str],
    dose_at: dt.datetime | None,
    settings: ChairSettings,
) -> PreDoseState:
    """The BPs before the dose and what they leave standing (``PreDoseState``)."""
    before = tuple(
        sorted(
            (
                r
                for r in readings
                if r.has_bp
                and (r.label in pre_dose_labels or r.label not in check_labels)
                and (dose_at is None or r.taken_at <= dose_at)
            ),
            key=lambda r: r.taken_at,  # stable: one minute's readings stay as entered
        )
    )
    if not before:
        return PreDoseState(before, None, None)
    deciding = before[-1]
    stopped_by: BpReading | None = deciding
    if not _over(deciding, settings):
        stopped_by = next(
            (
                r
                for r in reversed(before)
                if _over(r, settings) and _same_minute(r.taken_at, deciding.taken_at)
            ),
            None,
        )
    return PreDoseState(before, deciding, stopped_by)


def pre_dose_findings(
    readings: Sequence[BpReading],
    pre_dose_labels: Collection[str],
    dose_at: dt.datetime | None,
    settings: ChairSettings,
    *,
    zone: dt.tzinfo | None = None,
    time_format: str,
    check_labels: Collection[str] = (),
) -> list[ChairFinding]:
    """Before the dose: a pre-dose BP recorded (at or before the dose start, when one is
    given), and not above the hard stop.  A session type with no pre-dose check owes none.

    The hard stop judges the latest BP taken at or before the dose start: a pre-dose check, or
    an extra reading (a label not among ``check_labels``, such as a "Pre-dose recheck" after
    rest); the earlier readings stay on the record.  A recheck of the same minute as a reading
    over the stop does not lift it (``PreDoseState``)."""
    if not pre_dose_labels:
        return []
    state = pre_dose_state(readings, pre_dose_labels, check_labels, dose_at, settings)
    findings: list[ChairFinding] = []
    if not any(r.label in pre_dose_labels for r in state.before):
        names = " or ".join(f"“{label}”" for label in sorted(pre_dose_labels))
        when = f" before {_hhmm(dose_at, zone, time_format)}" if dose_at is not None else ""
        findings.append(ChairFinding(PRE_DOSE_BP, f"no {names} blood pressure recorded{when}"))
    elif state.stopped_by is not None:
        over = state.stopped_by
        stop_s, stop_d = settings.hard_stop_systolic, settings.hard_stop_diastolic
        fact = (
            f"the pre-dose BP {over.systolic}/{over.diastolic} "
            f"({_hhmm(over.taken_at, zone, time_format)}) "
            f"is above the clinic's hard stop {stop_s}/{stop_d}"
        )
        if state.deciding is not over and state.deciding is not None:
            fact += (
                f"; the recheck {state.deciding.systolic}/{state.deciding.diastolic} was taken "
                "the same minute, and a recheck counts only when taken later, after rest"
            )
        findings.append(ChairFinding(HARD_STOP, fact))
    return _judged(findings, settings)


def pre_dose_recheck_owed(
    readings: Sequence[BpReading],
    pre_dose_labels: Collection[str],
    check_labels: Collection[str],
    dose_at: dt.datetime | None,
    settings: ChairSettings,
) -> BpReading | None:
    """While no dose start is recorded: the reading over the hard stop that still stops
    dosing, when there is one, so the next check is a pre-dose recheck after rest, not a
    check counted from a dose nobody may give yet (a user trial's record said "Next check:
    BP +0 min due 0 min after the dose" under a hard stop).  None once a dose is recorded,
    while the rule is off, or when nothing stops dosing."""
    if dose_at is not None or settings.pre_dose_bp == "off" or not pre_dose_labels:
        return None
    return pre_dose_state(readings, pre_dose_labels, check_labels, None, settings).stopped_by


@dataclass(frozen=True, slots=True)
class PreDoseNote:
    """What the record says of one BP taken before the dose when a pre-dose BP went over the
    clinic's hard stop: a fact about that reading as it was taken, never rewritten by a later
    one.  ``label`` as recorded, ``shown_label`` as the record names it ("Pre-dose recheck
    (Extra 1)" for an extra reading that rechecked the pre-dose BP), ``tag`` a few words for
    beside the label ("over the hard stop", "cleared dosing"), ``text`` the whole story."""

    label: str
    taken_at: dt.datetime
    over_hard_stop: bool
    recheck: bool
    cleared: bool
    shown_label: str
    tag: str
    text: str
    #: Taken the same minute as a reading over the hard stop: no recheck (``PreDoseState``).
    same_minute: bool = False


def _bp_words(r: BpReading, zone: dt.tzinfo | None, time_format: str) -> str:
    return f"{r.systolic}/{r.diastolic} at {_hhmm(r.taken_at, zone, time_format)}"


def pre_dose_story(
    readings: Sequence[BpReading],
    pre_dose_labels: Collection[str],
    check_labels: Collection[str],
    dose_at: dt.datetime | None,
    settings: ChairSettings,
    *,
    zone: dt.tzinfo | None = None,
    time_format: str,
) -> dict[str, PreDoseNote]:
    """The story of the BPs taken before the dose, by label, once one of them was above the
    hard stop ({} otherwise, or while the rule is off): the reading over the stop and what it
    did (dosing refused, and until when), each recheck after it, and the one that cleared
    dosing (the latest before the dose, at or below the stop, taken at a later minute than
    any reading over it: ``PreDoseState``, the judgement ``pre_dose_findings`` makes).  A
    reading of the same minute as one over the stop says it does not count as a recheck.
    Before the dose: a pre-dose check, or an extra reading (a label not among
    ``check_labels``) taken at or before the dose start (any time while none is recorded).
    The paper record and the recording form both tell it (a user trial: the refused 186/112
    printed as plain "Pre-dose" and its recheck as "Extra 1")."""
    if settings.pre_dose_bp == "off" or not pre_dose_labels:
        return {}
    stop_s, stop_d = settings.hard_stop_systolic, settings.hard_stop_diastolic
    state = pre_dose_state(readings, pre_dose_labels, check_labels, dose_at, settings)
    before = state.before

    def over(r: BpReading) -> bool:
        return _over(r, settings)

    first_over = next((i for i, r in enumerate(before) if over(r)), None)
    if first_over is None:
        return {}
    # Rechecks: every reading after the first pre-dose one (in the story from the first over).
    first_pre = next((i for i, r in enumerate(before) if r.label in pre_dose_labels), 0)
    cleared = state.deciding if state.stopped_by is None else None
    stop = f"{stop_s}/{stop_d}"
    dose_words = f"dose started {_hhmm(dose_at, zone, time_format)}" if dose_at is not None else ""
    if cleared is not None:
        outcome = f"the pre-dose recheck ({_bp_words(cleared, zone, time_format)}) cleared dosing"
        if dose_at is not None:
            outcome += f"; dose delayed to {_hhmm(dose_at, zone, time_format)}"
    elif dose_at is not None:
        outcome = f"{dose_words}, with the last pre-dose BP still above the hard stop"
    elif settings.pre_dose_bp == "block":
        outcome = "dose withheld"
    else:
        outcome = "consider not dosing"
    refused = "dosing refused" if settings.pre_dose_bp == "block" else "consider not dosing"
    notes: dict[str, PreDoseNote] = {}
    for i, r in enumerate(before[first_over:], start=first_over):
        recheck = i > first_pre
        shown = r.label
        if recheck and r.label not in check_labels and "recheck" not in r.label.lower():
            shown = f"Pre-dose recheck ({r.label})"
        name = "Pre-dose recheck" if recheck else "Pre-dose BP"
        same_minute = next(
            (o for o in before[:i] if over(o) and _same_minute(o.taken_at, r.taken_at)), None
        )
        if over(r):
            tag = "over the hard stop" if not recheck else "still over the hard stop"
            text = (
                f"{name} {_bp_words(r, zone, time_format)} is above the clinic's hard stop {stop}: "
                f"{refused}" + ("" if outcome == refused else f"; {outcome}")
            )
        elif same_minute is not None:
            tag = "same minute: not a recheck"
            text = (
                f"{name} {_bp_words(r, zone, time_format)} was taken the same minute as the "
                f"BP over the hard stop ({_bp_words(same_minute, zone, time_format)}): it does "
                "not clear dosing. A recheck counts only when taken later, after rest: enter the "
                "time it was taken"
            )
        elif r is cleared:
            tag = "cleared dosing"
            text = (
                f"{name} {_bp_words(r, zone, time_format)}, after the hard stop "
                f"({_bp_words(before[first_over], zone, time_format)}): at or below {stop}, "
                "cleared dosing" + (f"; {dose_words}" if dose_words else "")
            )
        else:
            tag = "at or below the hard stop"
            text = f"{name} {_bp_words(r, zone, time_format)}: at or below the hard stop {stop}"
        notes[r.label] = PreDoseNote(
            label=r.label,
            taken_at=r.taken_at,
            over_hard_stop=over(r),
            recheck=recheck,
            cleared=r is cleared,
            shown_label=shown,
            tag=tag,
            text=text,
            same_minute=same_minute is not None and not over(r),
        )
    return notes


def dose_findings(
    dose_mg: int | None,
    devices: int | None,
    rule: DoseRule | None,
    settings: ChairSettings,
    *,
    starting_mg: Sequence[int] | None = None,
    previous_mg: int | None = None,
) -> list[ChairFinding]:
    """The dose against the session type's rule: ``dose_mg`` = ``devices`` x the device's
    strength, one of the allowed doses; ``starting_mg`` (the first session's doses; None when
    this is not a first session); ``previous_mg`` (the patient's last dose of the type, for the
    step)."""
    if rule is None or (dose_mg is None and devices is None):
        return []
    findings: list[ChairFinding] = []
    device = rule.device_mg
    if devices is not None and dose_mg is not None and devices * device != dose_mg:
        findings.append(
            ChairFinding(
                DOSE_DEVICES,
                f"{dose_mg} mg with {devices} device{'s' if devices != 1 else ''}: "
                f"{devices} × {device} mg is {devices * device} mg",
            )
        )
    elif dose_mg is not None and dose_mg % device:
        findings.append(
            ChairFinding(DOSE_DEVICES, f"{dose_mg} mg is not a whole number of {device} mg devices")
        )
    mg = dose_mg if dose_mg is not None else (devices or 0) * device
    allowed = ", ".join(f"{a} mg" for a in rule.allowed_mg)
    if mg not in rule.allowed_mg:
        findings.append(ChairFinding(DOSE_ALLOWED, f"{mg} mg is not an allowed dose ({allowed})"))
    elif starting_mg and mg not in starting_mg:
        start = " or ".join(f"{a} mg" for a in starting_mg)
        findings.append(
            ChairFinding(DOSE_STARTING, f"{mg} mg at a first session: the starting dose is {start}")
        )
    elif (
        starting_mg is None
        and previous_mg is not None
        and rule.step_mg is not None
        and abs(mg - previous_mg) > rule.step_mg
    ):
        findings.append(
            ChairFinding(
                DOSE_STEP,
                f"{mg} mg after {previous_mg} mg last time: doses change by at most "
                f"{rule.step_mg} mg",
            )
        )
    return _judged(findings, settings)


@dataclass(frozen=True, slots=True)
class Effects:
    """What the record says of the effects: the sedation and dissociation seen ("" when not
    recorded, "none" when none), respiratory depression, and which were marked resolved."""

    sedation: str
    dissociation: str
    respiratory_depression: bool
    sedation_resolved: bool
    dissociation_resolved: bool
    respiratory_resolved: bool


def discharge_findings(
    *,
    session_name: str,
    dose_at: dt.datetime | None,
    discharge_at: dt.datetime,
    observation_minutes: int | None,
    required_labels: Sequence[str],
    readings: Sequence[BpReading],
    effects: Effects | None,
    settings: ChairSettings,
    monitored_by_recorded: bool,
    spo2_below: int | None = None,
    zone: dt.tzinfo | None = None,
    time_format: str,
    scale_problems: Sequence[tuple[str, str]] = (),
    scaled: Collection[str] = (),
) -> list[ChairFinding]:
    """Completing or discharging at ``discharge_at``: a dose recorded, at least the observation
    minutes after it, every configured reading recorded (with its BP), who monitored the
    patient recorded (the record and the REMS form name them), and sedation, dissociation and
    breathing effects recorded and, where seen, marked resolved; breathing is not resolved
    while the latest SpO2 is below ``spo2_below``.

    An effect the session type judges by a timed scale (``scaled``: "sedation" by MOAA/S,
    "dissociation" by CADSS) is judged by its readings instead of the record's checkbox:
    ``scale_problems`` (fact, brief) from ``scale_rules.scale_discharge_problems``."""
    findings: list[ChairFinding] = []
    if dose_at is None:
        findings.append(
            ChairFinding(
                DISCHARGE_NO_DOSE,
                f"no dose start is recorded for this {session_name}",
                brief="dose start not recorded",
            )
        )
    elif observation_minutes is not None:
        minutes = int((discharge_at - dose_at).total_seconds() // 60)
        earliest = earliest_discharge(dose_at, observation_minutes)
        if earliest is not None and discharge_at < earliest:
            findings.append(
                ChairFinding(
                    DISCHARGE_TIME,
                    f"{_hhmm(discharge_at, zone, time_format)} is only {minutes} min after the "
                    f"dose ({_hhmm(dose_at, zone, time_format)}): {session_name} needs "
                    f"{observation_minutes} min "
                    f"(earliest {_hhmm(earliest, zone, time_format)})",
                    brief=f"observation until {_hhmm(earliest, zone, time_format)}",
                )
            )
    taken = {r.label for r in readings if r.has_bp}
    missing = [label for label in required_labels if label not in taken]
    if missing:
        names = ", ".join(f"“{m}”" for m in missing)
        findings.append(
            ChairFinding(
                DISCHARGE_READINGS,
                f"no BP recorded for {names}",
                brief=f"BP {names} missing",
            )
        )
    if not monitored_by_recorded:
        findings.append(
            ChairFinding(
                DISCHARGE_MONITOR,
                "who monitored the patient is not recorded (Monitored by)",
                brief="monitored by not recorded",
            )
        )
    high = last_bp_elevated(readings, discharge_at, settings)
    if high is not None:
        findings.append(
            ChairFinding(
                DISCHARGE_BP,
                discharge_bp_fact(high, settings, zone=zone, time_format=time_format),
                brief="last BP still elevated: recheck",
            )
        )
    if scale_problems:
        findings.append(
            ChairFinding(
                DISCHARGE_SCALES,
                "; ".join(fact for fact, _ in scale_problems),
                brief="; ".join(brief for _, brief in scale_problems),
            )
        )
    pairs = _unresolved(effects, scaled)
    unresolved = [fact for fact, _ in pairs]
    briefs = [brief for _, brief in pairs]
    oximetry = sorted(
        (r.taken_at, r.spo2) for r in readings if r.spo2 is not None and r.taken_at <= discharge_at
    )
    if spo2_below is not None and oximetry and oximetry[-1][1] < spo2_below:
        taken_at, spo2 = oximetry[-1]
        unresolved.append(
            f"the latest SpO2 is {spo2}% ({_hhmm(taken_at, zone, time_format)}), "
            f"below {spo2_below}%"
        )
        briefs.append(f"SpO2 below {spo2_below}%")
    if unresolved:
        findings.append(
            ChairFinding(DISCHARGE_EFFECTS, "; ".join(unresolved), brief="; ".join(briefs))
        )
    return _judged(findings, settings)


def last_bp_elevated(
    readings: Sequence[BpReading], discharge_at: dt.datetime, settings: ChairSettings
) -> BpReading | None:
    """The last BP taken at or before ``discharge_at`` when it is above the clinic's discharge
    limit (``[chair] discharge_max_systolic`` / ``discharge_max_diastolic``); None when it is
    at or below, or no BP was taken.  A later recheck at or below the limit clears it: the
    label says to recheck while the BP stays elevated, and the last reading is the one that
    says whether it still is (a user trial discharged a patient at 158/98)."""
    taken = [r for r in readings if r.has_bp and r.taken_at <= discharge_at]
    if not taken:
        return None
    last = max(taken, key=lambda r: r.taken_at)
    assert last.systolic is not None
    assert last.diastolic is not None
    if (
        last.systolic > settings.discharge_max_systolic
        or last.diastolic > settings.discharge_max_diastolic
    ):
        return last
    return None


def discharge_bp_fact(
    reading: BpReading, settings: ChairSettings, *, zone: dt.tzinfo | None, time_format: str
) -> str:
    """The discharge BP finding in words: the reading, the limit, and what to do."""
    limit = f"{settings.discharge_max_systolic}/{settings.discharge_max_diastolic}"
    return (
        f"the last BP, {reading.systolic}/{reading.diastolic} "
        f"(“{reading.label}” at {_hhmm(reading.taken_at, zone, time_format)}), is still above "
        f"{limit}: recheck it (as an extra reading) and discharge once it is at or below "
        f"{limit}"
    )


def dose_phase(spec: SessionTypeSpec) -> str | None:
    """The phase that is the dose: the one observation is counted from (``observation_from``),
    else the first dosing phase; None for a session type without one."""
    if spec.observation_from is not None:
        return spec.observation_from
    return next((p.key for p in spec.phases if p.shade == "dosing"), None)


def check_due_times(
    spec: SessionTypeSpec,
    booked_start: dt.datetime,
    *,
    started_at: dt.datetime | None = None,
    dose_started_at: dt.datetime | None = None,
) -> tuple[tuple[str, dt.datetime], ...]:
    """When each configured BP check (``bp_checks``, in order) is due: the one rule the
    monitoring record, the chair board and the printed session record all lay them by.

    Laid from the actual start once the session has started (``started_at``), else from the
    booked start; moved with the recorded dose start (``dose_started_at``) when there is one.
    A check laid after the earliest discharge (Spravato's "Before discharge", at the start of
    the discharge phase, 10 min after the observation's end) is due by then: a reading must
    never be what keeps a patient past the time discharge is allowed.  Without observation
    minutes, by the end of the last phase.  (A user trial: the paper laid "Before discharge"
    at the discharge phase, 14:31, while the screen said 14:21.)"""
    anchor = started_at if started_at is not None else booked_start
    offsets = spec.phase_offsets()
    dose_key = dose_phase(spec)
    planned_dose = (
        anchor + dt.timedelta(minutes=offsets[dose_key][0]) if dose_key is not None else None
    )
    shift = (
        dose_started_at - planned_dose
        if dose_started_at is not None and planned_dose is not None
        else dt.timedelta()
    )
    dose = dose_started_at if dose_started_at is not None else planned_dose
    allowed = earliest_discharge(dose, spec.observation_minutes)
    latest = (
        allowed
        if allowed is not None
        else anchor + dt.timedelta(minutes=spec.total_minutes) + shift
    )
    return tuple(
        (
            check.label,
            min(
                anchor
                + dt.timedelta(minutes=offsets[check.phase][0] + check.offset_minutes)
                + shift,
                latest,
            ),
        )
        for check in spec.bp_checks
    )


def reading_place(
    taken_at: dt.datetime | None, due_at: dt.datetime | None
) -> tuple[int, dt.datetime]:
    """Where a reading stands in a session's record, on the screen and on paper alike (a sort
    key): in the order the readings were taken, a configured check not taken yet at its due
    time (``check_due_times``), one with neither last.  So a pre-dose recheck reads next to
    the reading it rechecked, not under "Before discharge" (a user trial)."""
    when = taken_at if taken_at is not None else due_at
    return (0, when) if when is not None else (1, dt.datetime.max.replace(tzinfo=dt.UTC))


def earliest_discharge(
    dose_at: dt.datetime | None, observation_minutes: int | None
) -> dt.datetime | None:
    """The observation's end: the dose start plus the session type's observation minutes (None
    without a dose start, or for a type that sets no minimum)."""
    if dose_at is None or observation_minutes is None:
        return None
    return dose_at + dt.timedelta(minutes=observation_minutes)


@dataclass(frozen=True, slots=True)
class DischargeVerdict:
    """May the patient leave at the moment judged?  The refusals the clinic blocks and nobody
    overrode (``ready`` when there are none), the warnings of a "warn" policy, and the
    observation's end (``earliest``, None when the type sets no minimum or no dose is
    recorded).  The completion refuses on ``refusals``; the chair board says the same words."""

    earliest: dt.datetime | None
    refusals: tuple[ChairFinding, ...]
    warnings: tuple[ChairFinding, ...] = ()

    @property
    def ready(self) -> bool:
        return not self.refusals

    @property
    def too_early(self) -> bool:
        """Refused because the observation minutes have not passed yet."""
        return any(f.rule == DISCHARGE_TIME for f in self.refusals)

    @property
    def not_yet(self) -> tuple[str, ...]:
        """What else refuses it, in a few words each ("BP “Before discharge” missing")."""
        return tuple(f.short for f in self.refusals if f.rule != DISCHARGE_TIME)


def discharge_verdict(
    findings: Sequence[ChairFinding],
    overridden: Collection[str],
    *,
    earliest: dt.datetime | None = None,
) -> DischargeVerdict:
    """The verdict on ``discharge_findings``: what refuses once the overridden rules are set
    aside, and what only warns."""
    return DischargeVerdict(
        earliest=earliest,
        refusals=tuple(blocking(findings, overridden)),
        warnings=tuple(f for f in findings if not f.blocks),
    )


def _unresolved(effects: Effects | None, scaled: Collection[str] = ()) -> list[tuple[str, str]]:
    """Each effect not resolved: the fact, and its words for the board (no severity).  An
    effect in ``scaled`` is its timed scale's business (``DISCHARGE_SCALES``), not asked here."""
    if effects is None:
        left = [name for name in ("sedation", "dissociation") if name not in scaled]
        if not left:
            return []
        both = " and ".join(left)
        verb = "are" if len(left) > 1 else "is"
        return [(f"{both} {verb} not recorded", f"{both} not recorded")]
    out = []
    for name, seen, resolved in (
        ("sedation", effects.sedation, effects.sedation_resolved),
        ("dissociation", effects.dissociation, effects.dissociation_resolved),
    ):
        if name in scaled:
            continue
        if not seen:
            out.append((f"{name} is not recorded", f"{name} not recorded"))
        elif seen != "none" and not resolved:
            out.append((f"{name} ({seen}) is not marked resolved", f"{name} not marked resolved"))
    if not scaled and not effects.sedation and not effects.dissociation:  # one phrase
        out = [(f"{out[0][0]}; {out[1][0]}", "sedation and dissociation not recorded")]
    if effects.respiratory_depression and not effects.respiratory_resolved:
        out.append(
            (
                "respiratory depression is not marked resolved",
                "respiratory depression not marked resolved",
            )
        )
    return out


def blocking(findings: Sequence[ChairFinding], overridden: Collection[str]) -> list[ChairFinding]:
    """The refusals left once the rules in ``overridden`` are set aside."""
    return [f for f in findings if f.blocks and f.rule not in overridden]


#: What a recheck is for: a pre-dose BP over the hard stop (no dosing until a later reading
#: clears it), or a BP after the dose above the clinic's limits (DOMAIN: "recheck while
#: elevated").
RECHECK_HARD_STOP = "hard_stop"
RECHECK_RAISED = "raised"


@dataclass(frozen=True, slots=True)
class BpRecheck:
    """A BP recheck owed: the reading that asks for it, what for (``kind``), and when it falls
    due (the reading's time plus ``[chair] bp_recheck_minutes``).  ``over_hard_stop``: the
    reading is over the clinic's hard stop too (after the dose: tell the prescriber)."""

    reading: BpReading
    kind: str
    due_at: dt.datetime
    over_hard_stop: bool
    limit_systolic: int
    limit_diastolic: int

    @property
    def before_dose(self) -> bool:
        return self.kind == RECHECK_HARD_STOP

    def words(self, zone: dt.tzinfo | None, time_format: str) -> str:
        """The card's and the session page's line: "Do not dose: BP 186/112 over the hard
        stop (180/110) at 10:50 AM; recheck due 11:05 AM", or "BP 168/102 raised (over
        140/90) at 12:54 PM; recheck due 1:09 PM"."""
        r = self.reading
        at = _hhmm(r.taken_at, zone, time_format)
        due = _hhmm(self.due_at, zone, time_format)
        limit = f"{self.limit_systolic}/{self.limit_diastolic}"
        if self.before_dose:
            return (
                f"Do not dose: BP {r.systolic}/{r.diastolic} over the hard stop ({limit}) "
                f"at {at}; recheck after rest, due {due}"
            )
        if self.over_hard_stop:
            return (
                f"BP {r.systolic}/{r.diastolic} over the hard stop ({limit}) at {at}: "
                f"tell the prescriber; recheck due {due}"
            )
        return f"BP {r.systolic}/{r.diastolic} raised (over {limit}) at {at}; recheck due {due}"


def raised(r: BpReading, warn_systolic: int | None, warn_diastolic: int | None) -> bool:
    """Above the clinic's warning limits ([monitoring] bp_warn_systolic / bp_warn_diastolic),
    as the recording form warns of it."""
    if not r.has_bp:
        return False
    assert r.systolic is not None
    assert r.diastolic is not None
    return (warn_systolic is not None and r.systolic > warn_systolic) or (
        warn_diastolic is not None and r.diastolic > warn_diastolic
    )


def bp_recheck_owed(
    readings: Sequence[BpReading],
    pre_dose_labels: Collection[str],
    check_labels: Collection[str],
    dose_at: dt.datetime | None,
    settings: ChairSettings,
    *,
    warn_systolic: int | None,
    warn_diastolic: int | None,
) -> BpRecheck | None:
    """The BP recheck a session owes now, the one rule the board, the record and the session
    page read (a user trial: +40 min BP 168/102 after a Spravato dose scheduled nothing; the
    next check said "Before discharge", 79 min later).

    Before a dose start is recorded: the reading over the hard stop that still stops dosing
    (``pre_dose_recheck_owed``).  Once it is: the latest BP taken at or after the dose start,
    when it is above the clinic's warning limits; a later reading back in range ends it.  Due
    ``[chair] bp_recheck_minutes`` after that reading.  None when nothing is owed."""
    step = dt.timedelta(minutes=settings.bp_recheck_minutes)
    stop_s, stop_d = settings.hard_stop_systolic, settings.hard_stop_diastolic
    if dose_at is None:
        stopped = pre_dose_recheck_owed(readings, pre_dose_labels, check_labels, dose_at, settings)
        if stopped is None:
            return None
        return BpRecheck(stopped, RECHECK_HARD_STOP, stopped.taken_at + step, True, stop_s, stop_d)
    after = sorted(
        (r for r in readings if r.has_bp and r.taken_at >= dose_at), key=lambda r: r.taken_at
    )
    if not after or not raised(after[-1], warn_systolic, warn_diastolic):
        return None
    latest = after[-1]
    over = settings.pre_dose_bp != "off" and _over(latest, settings)
    if over:
        return BpRecheck(latest, RECHECK_RAISED, latest.taken_at + step, True, stop_s, stop_d)
    return BpRecheck(
        latest,
        RECHECK_RAISED,
        latest.taken_at + step,
        False,
        warn_systolic if warn_systolic is not None else stop_s,
        warn_diastolic if warn_diastolic is not None else stop_d,
    )
