"""The monitoring record's forms and what the dialog shows around them: a record as typed, the
rules it is checked against, what a check says, the BP checks due, and the REMS form's fields.

A form holds what the nurse typed (times as local "HH:MM" on the session's day, numbers as
text); ``validation.validate_record`` checks it without the database.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ketadesk.scheduling.calendar import ClinicCalendar
from ketadesk.scheduling.catalog import ClinicSettings, cadence_label
from ketadesk.scheduling.chair_rules import BpRecheck
from ketadesk.scheduling.scale_rules import MOAAS_ANCHORS

# What the REMS Patient Monitoring Form asks about sedation and dissociation.  Words, not clinic
# numbers: the form records whether the effect was seen and how strong.
SEDATION_CHOICES = ("none", "mild", "moderate", "severe")
DISSOCIATION_CHOICES = ("none", "mild", "moderate", "severe")
# Roles whose staff may be named as having monitored a session.
MONITORING_ROLES = ("nurse", "prescriber")
# The follow-up kind of the REMS Patient Monitoring Form (session_types.toml followups).
REMS_FOLLOW_UP = "rems_form"
LOT_MAX = 40


@dataclass(frozen=True)
class ReadingForm:
    """One row of readings as typed: a configured check ("+40 min") or an extra reading."""

    label: str
    time: str = ""  # local "HH:MM" on the session's day
    systolic: str = ""
    diastolic: str = ""
    heart_rate: str = ""
    spo2: str = ""
    scheduled: bool = True  # one of the session type's configured BP checks

    @property
    def is_blank(self) -> bool:
        return not any(
            v.strip()
            for v in (self.time, self.systolic, self.diastolic, self.heart_rate, self.spo2)
        )


@dataclass(frozen=True)
class RecordForm:
    """A monitoring record as the user typed it.

    ``version`` is the stored record's last-saved stamp when the form was loaded ("" for a new
    record): a save over someone else's newer save is refused rather than overwriting it.
    """

    readings: tuple[ReadingForm, ...] = ()
    dose_mg: str = ""
    devices: str = ""
    lot_number: str = ""
    dose_started: str = ""
    discharged: str = ""
    monitored_by_id: int | None = None
    sedation: str = ""
    dissociation: str = ""
    respiratory_depression: bool = False
    events: str = ""
    version: str = ""
    # What current REMS forms also ask: the medicine classes taken at the session (None: not
    # asked yet; () none), whether the vital signs were acceptable, when ready to leave.
    concomitant_meds: tuple[str, ...] | None = None
    vitals_acceptable: bool | None = None
    ready_to_leave: str = ""
    # The effects seen, marked resolved before discharge (DOMAIN.md "Discharge").
    sedation_resolved: bool = False
    dissociation_resolved: bool = False
    respiratory_resolved: bool = False


def reading_field(index: int, name: str) -> str:
    """The error/warning key of one reading's field: ``readings[1].systolic``."""
    return f"readings[{index}].{name}"


@dataclass(frozen=True)
class RecordRules:
    """What checking a record needs, without the database: the day, the limits, the checks."""

    day: dt.date
    settings: ClinicSettings
    session_name: str
    observation_minutes: int | None
    check_labels: tuple[str, ...]
    pre_dose_labels: frozenset[str] = frozenset()
    #: The checks after the dose, each with its minutes after the dose start (``bp_checks``).
    after_dose: Mapping[str, int] = field(default_factory=dict)

    @property
    def monitoring(self) -> Mapping[str, int]:
        return self.settings.monitoring

    @property
    def calendar(self) -> ClinicCalendar:
        return ClinicCalendar(self.settings)

    def at(self, minute_of_day: int) -> dt.datetime:
        return self.calendar.at_local(self.day, minute_of_day)

    def clock(self, instant: dt.datetime) -> str:
        """The clinic's time of day of ``instant`` in its format ("9:30 AM" or "09:30")."""
        return self.calendar.clock(instant)


@dataclass(frozen=True)
class ParsedReading:
    label: str
    taken_at: dt.datetime
    systolic: int | None
    diastolic: int | None
    heart_rate: int | None
    spo2: int | None


@dataclass(frozen=True)
class ParsedRecord:
    dose_mg: int | None
    devices: int | None
    lot_number: str
    dose_started_at: dt.datetime | None
    discharged_at: dt.datetime | None
    monitored_minutes: int | None
    monitored_by_id: int | None
    sedation: str
    dissociation: str
    respiratory_depression: bool
    events: str
    readings: tuple[ParsedReading, ...]
    concomitant_meds: tuple[str, ...] | None = None
    vitals_acceptable: bool | None = None
    ready_to_leave_at: dt.datetime | None = None
    sedation_resolved: bool = False
    dissociation_resolved: bool = False
    respiratory_resolved: bool = False


@dataclass(frozen=True)
class Checked:
    """A form checked: refusals and warnings by field; ``record`` only when nothing is refused."""

    errors: dict[str, str]
    warnings: dict[str, str]
    record: ParsedRecord | None
    #: Readings above the clinic's hard stop (``chair_rules.hard_stop_note``), by field: said in
    #: red, with what to do; real readings, so saved like any other (the chair rules judge them).
    stops: dict[str, str] = field(default_factory=dict)
    #: The dose start as typed, whenever that field reads as a time (even while another field
    #: is refused): the checks after the dose and the discharge are timed from it.
    dose_started_at: dt.datetime | None = None
    #: What a reading did, by ``readings[i].note``: a pre-dose recheck after the hard stop
    #: ("... cleared dosing"; ``chair_rules.pre_dose_story``), said under its row.
    notes: dict[str, str] = field(default_factory=dict)
    #: While no dose start is typed: when the BP over the hard stop that still stops dosing was
    #: taken (``chair_rules.pre_dose_recheck_owed``): the next check is a pre-dose recheck.
    recheck_after: dt.datetime | None = None
    #: The BP recheck owed (``chair_rules.bp_recheck_owed``): a pre-dose BP over the hard
    #: stop, or a raised BP after the dose, with when the recheck is due.
    recheck: BpRecheck | None = None


@dataclass(frozen=True)
class CheckDue:
    """One configured BP check of a session: when it is due and whether it was taken."""

    label: str
    due_at: dt.datetime
    taken_at: dt.datetime | None
    state: str  # "done" | "upcoming" | "due" | "late"
    #: For a check counted from the dose: its minutes after the dose start (None: before it).
    after_dose: int | None = None

    @property
    def words(self) -> str:
        """What the nurse takes, in a sentence: "BP before discharge", "BP +40 min", "BP at
        dose"."""
        return bp_check_words(self.label, self.after_dose)


def duration_words(minutes: int) -> str:
    """ "2 h", "1 h 30 min", "40 min"."""
    hours, rest = divmod(minutes, 60)
    if not hours:
        return f"{rest} min"
    return f"{hours} h" + (f" {rest} min" if rest else "")


#: A check due at the dose itself, in words.
AT_DOSE_WORDS = "BP at dose"


def bp_check_words(label: str, after_dose: int | None = None) -> str:
    """A check's label inside a sentence: "BP before discharge" for "Before discharge" (a
    capital that only starts the label is lowered; "BP SpO2 …" or "BP +40 min" are kept).  A
    reading cadence's first check, due at the dose itself (``after_dose`` 0), is "BP at dose":
    its label, "+0 min", read as a time to count (a user trial's record and chair board said
    "BP +0 min due 0 min after the dose")."""
    if after_dose == 0 and label == cadence_label(0):
        return AT_DOSE_WORDS
    if len(label) > 1 and label[0].isupper() and label[1].islower():
        label = label[0].lower() + label[1:]
    return f"BP {label}"


def after_dose_words(minutes: int) -> str:
    """When a check counted from the dose falls due, while no dose start is recorded: "40
    min after the dose", and "at the dose" for one due at the dose itself (not "0 min after
    the dose")."""
    return f"{duration_words(minutes)} after the dose" if minutes > 0 else "at the dose"


def check_after_dose_words(label: str, minutes: int) -> str:
    """The next check, counted from a dose not recorded yet, as the chair board and the
    record say it: "BP +40 min due 40 min after the dose"; the one at the dose itself, "BP
    at dose" (a label of the clinic's own, due then, with "at dose" after it)."""
    words = bp_check_words(label, minutes)
    if minutes > 0:
        return f"{words} due {after_dose_words(minutes)}"
    return words if words == AT_DOSE_WORDS else f"{words} at dose"


@dataclass(frozen=True)
class ReadingsDue:
    """Where a session stands with its BP checks at ``now`` (the chair board shows this).

    ``next_label``/``next_due_at`` name the first check not yet taken (None when all are);
    ``late`` says whether any check is more than the configured grace past due.
    ``discharge_allowed_at`` is the dose start (actual, else planned) plus the observation
    minutes, None where the session type sets none.
    """

    appointment_id: int
    checks: tuple[CheckDue, ...]
    next_label: str | None
    next_due_at: dt.datetime | None
    late: bool
    dose_started_at: dt.datetime | None
    discharge_allowed_at: dt.datetime | None
    #: While no dose start is recorded: when the BP over the hard stop that still stops dosing
    #: was taken (``chair_rules.pre_dose_recheck_owed``): the next check is a pre-dose recheck.
    recheck_after: dt.datetime | None = None
    #: The BP recheck owed (``chair_rules.bp_recheck_owed``): a pre-dose BP over the hard
    #: stop, or a raised BP after the dose, with when the recheck is due.
    recheck: BpRecheck | None = None


@dataclass(frozen=True)
class StaffChoice:
    id: int
    name: str
    role: str


@dataclass(frozen=True)
class ChairOverride:
    """A chair rule set aside for one session: the rule in words, the reason, who and when."""

    rule: str
    title: str
    reason: str
    by: str
    at: dt.datetime


@dataclass(frozen=True, slots=True)
class ScaleRow:
    """A reading as the dialog and the paper list it: when (local), the scale's name, the
    score (with MOAA/S's anchor words), and who recorded it; a corrected one by its corrected
    score, with the score(s) it replaced and the correction in words."""

    taken_at: dt.datetime
    scale: str
    scale_name: str
    score: int
    score_words: str
    recorded_by: str
    #: MOAA/S's anchor words for the score ("responds readily to name ..."); "" for CADSS.
    anchor: str = ""
    #: A late entry in words ("entered 2:30 PM, 70 min later, by Kim Nguyen"; ``[chair]
    #: late_entry_minutes``); "" for a reading entered on time.
    entered: str = ""
    #: The stored reading (what a correction names).
    reading_id: int = 0
    #: The scores this reading corrected, the one first recorded first; () when never corrected.
    corrected_from: tuple[int, ...] = ()
    #: The correction in words, the screen's and the paper's alike: "corrected from 2: typo
    #: (Lee Park, 1:20 PM)"; "" when never corrected.
    correction: str = ""


@dataclass(frozen=True, slots=True)
class OwedRow:
    """An owed reading: its label ("MOAA/S +15 min"), when due (local), and its state
    ("done", "upcoming", "due", "missed")."""

    label: str
    due_at: dt.datetime
    state: str


@dataclass(frozen=True)
class ScaleSheet:
    """The scales of one session, for the monitoring dialog: which scales its type uses (code
    -> name, and the highest score of each), the readings taken, the owed readings with their
    state once a dose start is recorded, and the lines the board says ("MOAA/S due 10:45 AM",
    "MOAA/S +15 min missed (due 10:30 AM)")."""

    appointment_id: int
    scales: Mapping[str, str]
    highest: Mapping[str, int]
    readings: tuple[ScaleRow, ...]
    owed: tuple[OwedRow, ...] = ()
    next_words: str = ""
    missed_words: str = ""
    dose_recorded: bool = False
    anchors: Mapping[int, str] = field(default_factory=lambda: dict(MOAAS_ANCHORS))
    #: Minutes after the dose each reading is owed, as words, while no dose is recorded.
    plan_words: str = ""
    #: The reading just recorded or corrected (``record_scale_reading``'s and
    #: ``correct_scale_reading``'s answer); None otherwise.
    just_recorded: ScaleRow | None = None


@dataclass(frozen=True)
class RecordSheet:
    """Everything the monitoring dialog shows for one session."""

    appointment_id: int
    patient_id: int
    patient_name: str
    chart_number: str
    session_name: str
    status: str
    starts_at: dt.datetime
    rules: RecordRules
    form: RecordForm
    schedule: ReadingsDue
    staff: tuple[StaffChoice, ...]
    missing: tuple[str, ...]
    rems: bool  # the session type owes a REMS Patient Monitoring Form
    # The chair rules set aside for this session, and who may set one aside.
    overrides: tuple[ChairOverride, ...] = ()
    override_roles: tuple[str, ...] = ()
    #: The session type gives its dose in devices (``[dose] device_mg``, Spravato's nasal
    #: devices): only then does the record ask for the devices and their lot.
    uses_devices: bool = False
    #: The checks after the dose, each with its minutes after the dose start
    #: (``reading_schedule.due_after_dose``): while no dose start is recorded, a check is due
    #: so long after it, at no time yet.
    after_dose: Mapping[str, int] = field(default_factory=dict)
    #: The session's timed scale readings (MOAA/S, CADSS) and what is owed; None for a type
    #: without scales (``scale_readings``).
    scales: ScaleSheet | None = None
    #: The readings entered late, by label, in words ("entered 11:02 AM, 62 min later, by Kim
    #: Nguyen"; ``late_entries.vital_entries``): their rows are marked.
    late_entries: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SaveResult:
    record_id: int
    warnings: dict[str, str]
    missing: tuple[str, ...]
    #: The saved record's stamp: a further save from the same form goes on from it.
    version: str = ""


@dataclass(frozen=True)
class RemsReading:
    label: str
    taken_at: dt.datetime | None
    systolic: int | None
    diastolic: int | None
    heart_rate: int | None
    spo2: int | None


@dataclass(frozen=True)
class RemsForm:
    """The fields of the REMS Patient Monitoring Form for one session, from its record."""

    appointment_id: int
    patient_name: str
    rems_patient_id: str
    session_date: dt.date
    dose_mg: int | None
    devices: int | None
    lot_number: str
    dose_started_at: dt.datetime | None
    discharged_at: dt.datetime | None
    monitored_minutes: int | None
    monitored_by: str
    readings: tuple[RemsReading, ...]
    sedation: str
    dissociation: str
    respiratory_depression: bool | None  # None when no record exists yet
    events: str
    missing: tuple[str, ...] = field(default=())
    concomitant_meds: tuple[str, ...] | None = None
    vitals_acceptable: bool | None = None
    ready_to_leave_at: dt.datetime | None = None

    @property
    def complete(self) -> bool:
        return not self.missing


def with_reading(form: RecordForm, index: int, **values: Any) -> RecordForm:
    """A copy of ``form`` with reading ``index`` changed (tests and the dialog use it)."""
    rows = list(form.readings)
    rows[index] = dataclasses.replace(rows[index], **values)
    return dataclasses.replace(form, readings=tuple(rows))
