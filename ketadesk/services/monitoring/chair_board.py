"""The chair board: who is in each treatment room now, which phase, and what is due or late.

Read-only.  For every treatment room: the session in it now (in progress, checked in and
waiting, or booked and due without having arrived), its phase by the session type's phases laid
from the actual start (and the recorded dose start when there is one), minutes since dosing, the
next blood-pressure check the session type asks for (``bp_checks``) that is not recorded yet
(as the monitoring record counts them), when discharge becomes allowed (the dose start plus
``observation_minutes``) and, once it has come, whether the patient may go: the completion's
own verdict (``completion.discharge_verdict``, the same findings and overrides), and what is
late: a BP check ``reading_late_minutes`` past due, a patient still in the chair after the
verdict let them go and the session's end, a session past its planned end, a patient past
their start who has not arrived, a patient checked in and not started ``[confirmations]
not_started_minutes`` after the start (or at the planned end): an overrun, as the day view's.
Every duration comes from the clinic's configuration; the clock is passed in.

Not a clinical read for the clinicians: the board shows where each patient is and what is due
(phases, the labels of the checks already taken, times; the discharge line names what is
missing or unresolved, "sedation not marked resolved", never its value), never a reading, a dose
or an answer, so it records nothing (it refreshes every few seconds on every workstation).  A
role that may not "read clinical" (the front desk) gets each card cut to the logistics
(``ChairCard.logistics_only``): busy, waiting, free, expected to end, next; no monitoring.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from ketadesk.scheduling.calendar import ClinicCalendar, Interval
from ketadesk.scheduling.catalog import SessionTypeSpec
from ketadesk.scheduling.chair_rules import DischargeVerdict, earliest_discharge
from ketadesk.scheduling.confirmations import not_started_overrun, parse_confirmation_settings
from ketadesk.scheduling.dates import clock
from ketadesk.scheduling.scale_rules import ScaleSchedule
from ketadesk.services.common.context import Actor, Database, may, utcnow
from ketadesk.services.followups.urgent_reviews import StandingReview, standing_reviews
from ketadesk.services.monitoring.completion import (
    discharge_verdict,
    judged_at_discharge,
    overridden_by_session,
)
from ketadesk.services.monitoring.reading_schedule import (
    due_after_dose,
    readings_due,
    started_at,
)
from ketadesk.services.monitoring.record_forms import ReadingsDue, bp_check_words
from ketadesk.services.monitoring.scale_readings import readings_by_session, schedule_of
from ketadesk.services.monitoring.stored_records import find_records
from ketadesk.services.schedule.day_schedule import STATUS_LABELS
from ketadesk.store.clinic_config import load_config
from ketadesk.store.models import (
    Appointment,
    Patient,
    Resource,
    Series,
    SessionRecord,
    SessionType,
)
from ketadesk.store.queries import overlapping

#: clinic.toml [monitoring]: minutes after a BP check falls due before it shows as late.
READING_LATE_KEY = "reading_late_minutes"
#: Statuses of a session that may be in a chair now, best first.
IN_CHAIR_RANK = {"in_progress": 0, "checked_in": 1, "booked": 2}


@dataclass(frozen=True, slots=True)
class PhaseTime:
    """One phase of a session as it is actually running (aware datetimes, clinic zone)."""

    key: str
    name: str
    shade: str
    start: dt.datetime
    end: dt.datetime


@dataclass(frozen=True, slots=True)
class BpDue:
    """A blood-pressure check the session type asks for: due from ``due_at`` (``due_now``
    once that has passed), late once the clinic's ``reading_late_minutes`` have passed too."""

    label: str
    due_at: dt.datetime
    late: bool
    due_now: bool = False
    #: For a check counted from the dose: its minutes after the dose start.
    after_dose: int | None = None
    #: Late checks not recorded, this one the first (a user trial: five 15-min IV readings
    #: missed read as one, "BP +15 min overdue since 11:07").
    missed: int = 1

    @property
    def words(self) -> str:
        """What the nurse takes: "BP +40 min", "BP at dose" (``bp_check_words``)."""
        return bp_check_words(self.label, self.after_dose)

    def overdue_words(self, fmt: str) -> str:
        """ "BP +40 min overdue since 10:55 AM", or "5 readings missed since 11:07 AM (BP +15
        min first)" when more than one is late."""
        since = _hhmm(self.due_at, fmt)
        if self.missed > 1:
            return f"{self.missed} readings missed since {since} ({self.words} first)"
        return f"{self.words} overdue since {since}"


@dataclass(frozen=True, slots=True)
class NextUp:
    """The next session in a room today: a patient checked in and waiting for the chair (the
    earliest booked first), else the next booked after the one on the card."""

    appointment_id: int
    start: dt.datetime
    patient_name: str
    session_type_short: str
    checked_in: bool = False


@dataclass(frozen=True, slots=True)
class ChairCard:
    """One treatment room on the board.

    Attributes:
        appointment_id: the session in the room now; None when the room is free.
        stage: "in_session", "waiting" (checked in, not started), "due" (booked, start time
            passed, not checked in) or "free".
        phase: the phase's name ("Observation"), or what the stage says ("Waiting to start").
        phase_ends_at: when the current phase ends as things are running.
        started_at: when the session was started (None before it is).
        dose_started_at: the recorded dose start (None until the record has one: a session
            started without a recorded dose is not shown as dosed).
        dose_due_at: while no dose start is recorded, when the dose is due by the phases laid
            from the actual start (None once it is recorded, or for a type without a dose).
        minutes_since_dose: whole minutes since the recorded dose start (None before it).
        next_bp: the first configured BP check not recorded yet; None when all are done or the
            session type asks for none.
        bp_recorded: labels of the BP checks already recorded.
        discharge_allowed_at: the dose start plus the configured observation minutes (or the
            end of the observation phases for a type that sets no minimum).
        discharge_ready: the chair's discharge rules pass now, as completing would judge them.
        discharge_not_yet: once ``discharge_allowed_at`` has come, what the rules still refuse.
        late: what is late, in words, most urgent first ("BP +40 min overdue since 10:55").
        next_up: the next session booked in the room today after this one.
        urgent_review: the patient's standing urgent review and its deadline ("" when none).
    """

    room_id: int
    room_name: str
    stage: str
    appointment_id: int | None = None
    patient_name: str = ""
    chart_number: str = ""
    session_type_code: str = ""
    session_type_name: str = ""
    session_type_short: str = ""
    color: str = ""
    series_label: str = ""
    status: str = ""
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    phase: str = ""
    phase_key: str = ""
    phase_ends_at: dt.datetime | None = None
    started_at: dt.datetime | None = None
    dose_started_at: dt.datetime | None = None
    dose_due_at: dt.datetime | None = None
    minutes_since_dose: int | None = None
    next_bp: BpDue | None = None
    # While no dose start is recorded, the next check counted from the dose ("+40 min") is
    # not due at any clock time yet: its label and its minutes after the dose.
    next_bp_after_dose: tuple[str, int] | None = None
    bp_recorded: tuple[str, ...] = ()
    discharge_allowed_at: dt.datetime | None = None
    # While no dose start is recorded, discharge has no time yet: the minutes it comes after
    # the dose ([session_types] observation_minutes), for "discharge ≥ 2 h after dose".
    discharge_after_dose_minutes: int | None = None
    # The completion's verdict at ``now`` (services/monitoring/completion.discharge_verdict):
    # ready, or what still refuses it once the time has come ("BP “Before discharge” missing").
    discharge_ready: bool = False
    discharge_not_yet: tuple[str, ...] = ()
    bp_late: bool = False
    discharge_late: bool = False
    overrun: bool = False
    late: tuple[str, ...] = ()
    next_up: NextUp | None = None
    # A BP that makes the patient unsafe now, with its recheck (``chair_rules.BpRecheck``):
    # "Do not dose: BP 186/112 over the hard stop (180/110) at …; recheck after rest, due …",
    # or a raised BP after the dose; "" when none.  Counted in "need attention".
    bp_alert: str = ""
    # The alert is a hard stop (no dosing) or a reading over it after the dose.
    bp_alert_stop: bool = False
    # The next timed scale reading owed ("MOAA/S due 10:45 AM", ``scale_rules``), shown beside
    # the next BP check; "" when none is owed or no dose is recorded yet.
    next_scale: str = ""
    # Scale readings missed ("MOAA/S +15 min missed (due 10:30 AM)"), also a line of ``late``
    # (counted in "need attention" as a missed BP check is); "" when none.
    scale_missed: str = ""
    # The patient's standing urgent (suicidality) review: "" when none.
    urgent_review: str = ""
    urgent_review_id: int | None = None
    urgent_review_overdue: bool = False
    # When the chair is expected to come free: the last phase's end as the session is running
    # (from the actual start and the recorded dose), else the booked end.
    expected_end: dt.datetime | None = None
    # What is late that is not clinical (arrival, a start or an end overrun): what the front
    # desk is told; ``late`` holds these and the clinical ones (a BP check, the discharge).
    late_logistics: tuple[str, ...] = ()
    # False on a card cut to the logistics (``logistics_only``): no phase, dose, check,
    # discharge or review on it.
    clinical: bool = True

    def logistics_only(self) -> ChairCard:
        """The card as a role that may not "read clinical" sees it (README's role table: the
        front desk "sees no screening, consent, measures or monitoring"): which chair is busy,
        waiting, free or not arrived, whose session, its booked times, when it is expected to
        end, what is next, and what is late for the desk (not arrived, checked in and not
        started, running past its end); never the phase, the dose, a BP check, the discharge's
        readiness or an urgent review (a user trial's front desk read "⚠ Urgent review open",
        "BP +30 min overdue" and "Not yet: sedation not recorded")."""
        return ChairCard(
            room_id=self.room_id,
            room_name=self.room_name,
            stage=self.stage,
            appointment_id=self.appointment_id,
            patient_name=self.patient_name,
            chart_number=self.chart_number,
            session_type_code=self.session_type_code,
            session_type_name=self.session_type_name,
            session_type_short=self.session_type_short,
            color=self.color,
            series_label=self.series_label,
            status=self.status,
            start=self.start,
            end=self.end,
            phase=DESK_STAGES.get(self.stage, ""),
            overrun=self.overrun,
            late=self.late_logistics,
            late_logistics=self.late_logistics,
            next_up=self.next_up,
            expected_end=self.expected_end,
            clinical=False,
        )

    @property
    def is_free(self) -> bool:
        return self.appointment_id is None

    @property
    def is_late(self) -> bool:
        return bool(self.late)

    @property
    def needs_attention(self) -> bool:
        """Red on the board and counted in "need attention": something late, a BP that
        makes the patient unsafe (a hard stop, a raised BP owing its recheck), or a
        standing urgent review."""
        return bool(self.late or self.bp_alert or self.urgent_review)

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.status, self.status)


@dataclass(frozen=True, slots=True)
class ChairBoard:
    """Every active treatment room at ``now`` (clinic zone), in the clinic's room order."""

    now: dt.datetime
    day: dt.date
    clinic_name: str
    cards: tuple[ChairCard, ...]
    #: How the clinic reads a time of day ([clinic] time_format); the board's times say so.
    time_format: str = "12h"

    @property
    def late_count(self) -> int:
        return sum(1 for c in self.cards if c.needs_attention)

    @property
    def busy_count(self) -> int:
        """Chairs in use: a patient checked in or in session (one booked who has not arrived
        holds the room on paper only)."""
        return sum(1 for c in self.cards if c.stage in ("in_session", "waiting"))

    @property
    def not_arrived_count(self) -> int:
        return sum(1 for c in self.cards if c.stage == "due")


# ---------------------------------------------------------------------------------------------
# Plain functions: a session's timeline, checks and discharge, given the facts


def session_timeline(
    spec: SessionTypeSpec,
    start: dt.datetime,
    *,
    dose_started_at: dt.datetime | None = None,
) -> tuple[PhaseTime, ...]:
    """The session's phases laid from ``start`` (the actual start when it has started).

    A recorded dose start moves the dosing phase there: the phase before it stretches or
    shrinks to meet it, and the phases after follow on.
    """
    tz = start.tzinfo
    dose_index = _dose_index(spec)
    observed = [i for i, p in enumerate(spec.phases) if p.shade == "observation"]
    # The phase after the observation starts when the observation minutes, counted from the
    # dose, have passed: Spravato's 10-minute dosing phase overlaps its 120 minutes, so the
    # phases laid end to end would say "Observation until 2:23 PM" beside "Discharge 2:13 PM"
    # (a user trial).  One source: ``chair_rules.earliest_discharge``.
    after_observation = (
        observed[-1] + 1
        if observed and dose_index is not None and spec.observation_minutes is not None
        else None
    )
    starts: list[dt.datetime] = []
    for i in range(len(spec.phases)):
        if i == 0:
            at = start
        elif i == dose_index and dose_started_at is not None:
            at = max(dose_started_at, starts[-1])
        else:
            at = starts[-1] + dt.timedelta(minutes=spec.phases[i - 1].minutes)
        if i == after_observation and dose_index is not None:
            allowed = earliest_discharge(starts[dose_index], spec.observation_minutes)
            if allowed is not None:
                at = max(starts[-1], allowed)
        starts.append(at)
    ends = [*starts[1:], starts[-1] + dt.timedelta(minutes=spec.phases[-1].minutes)]
    return tuple(
        PhaseTime(p.key, p.name, p.shade, s.astimezone(tz), e.astimezone(tz))
        for p, s, e in zip(spec.phases, starts, ends, strict=True)
    )


def _dose_index(spec: SessionTypeSpec) -> int | None:
    """The phase that is the dose: the one observation is counted from, else the first dosing
    phase; None for a session type without one."""
    keys = [p.key for p in spec.phases]
    if spec.observation_from in keys:
        return keys.index(spec.observation_from)
    return next((i for i, p in enumerate(spec.phases) if p.shade == "dosing"), None)


def undosed(
    spec: SessionTypeSpec, timeline: tuple[PhaseTime, ...], dose_recorded: bool
) -> tuple[PhaseTime, ...]:
    """The phases a running session has reached for sure: without a recorded dose start, only
    those before the dose (the patient stays in the last of them, past its planned end, until
    the dose is recorded), never a dose or an observation nobody recorded."""
    dose_index = _dose_index(spec)
    if dose_recorded or not dose_index:
        return timeline
    return timeline[:dose_index]


def phase_at(timeline: Sequence[PhaseTime], moment: dt.datetime) -> PhaseTime | None:
    """The phase running at ``moment``; None before the first or after the last."""
    return next((p for p in timeline if p.start <= moment < p.end), None)


def discharge_allowed(spec: SessionTypeSpec, timeline: Sequence[PhaseTime]) -> dt.datetime | None:
    """The earliest discharge: ``observation_minutes`` after the start of ``observation_from``
    (the first device); for a type without a minimum, the end of its last observation phase;
    None for a type without dosing."""
    dose_index = _dose_index(spec)
    if dose_index is None:
        return None
    if spec.observation_minutes is not None:
        return timeline[dose_index].start + dt.timedelta(minutes=spec.observation_minutes)
    observed = [p.end for p in timeline if p.shade == "observation"]
    return observed[-1] if observed else timeline[-1].end


# ---------------------------------------------------------------------------------------------
# The board


@dataclass(frozen=True)
class _Row:
    id: int
    room_id: int
    starts_at: dt.datetime
    ends_at: dt.datetime
    status: str
    series_index: int | None
    planned_count: int | None
    first_name: str
    last_name: str
    chart_number: str
    code: str
    type_name: str
    color: str
    patient_id: int

    @property
    def patient_name(self) -> str:
        return f"{self.last_name}, {self.first_name}"

    @property
    def series_label(self) -> str:
        if self.series_index is None:
            return ""
        if self.planned_count is None:
            return str(self.series_index)
        return f"{self.series_index}/{self.planned_count}"


def chair_board(db: Database, actor: Actor, *, now: dt.datetime | None = None) -> ChairBoard:
    """The board at ``now`` (default: the wall clock), one card per active treatment room, as
    ``actor``'s role may see it: a role that may not "read clinical" (the front desk) gets
    the logistics only (``ChairCard.logistics_only``), here where the board is made, so every
    view of it follows the one rule."""
    now = now or utcnow()
    clinical = may(actor, "read_clinical")
    with db.read() as session:
        config = load_config(session)
        catalog = config.catalog
        calendar = ClinicCalendar(catalog.settings)
        tz = calendar.tz
        # A BP check counts as late this long after it falls due (the monitoring record's rule).
        grace = dt.timedelta(minutes=catalog.settings.monitoring.get(READING_LATE_KEY, 0))
        # A patient checked in and not started overruns as the day view says ([confirmations]).
        arrivals = parse_confirmation_settings(catalog.settings.extra.get("confirmations"))
        day = calendar.local_date(now)
        bounds = calendar.day_bounds(day)
        rooms = session.execute(
            select(Resource.id, Resource.name)
            .where(
                Resource.kind == "room", Resource.subkind == "treatment", Resource.active.is_(True)
            )
            .order_by(Resource.sort_order, Resource.name)
        ).all()
        rows = _rows(session, [r.id for r in rooms], bounds.start, bounds.end)
        current: dict[int, _Row] = {}
        for candidate in rows:
            if not _may_be_in_chair(candidate, now):
                continue
            best = current.get(candidate.room_id)
            if best is None or _rank(candidate) < _rank(best):
                current[candidate.room_id] = candidate
        ids = [r.id for r in current.values()]
        # One round of reads for the whole board: each read below covers every chair.
        started = started_at(session, ids)
        records = find_records(session, ids)
        doses = {i: r.dose_started_at for i, r in records.items() if r.dose_started_at}
        recorded = readings_due(session, ids, now=now, records=records)
        scale_readings = readings_by_session(session, ids)
        scales: dict[int, ScaleSchedule] = {}
        for here in current.values():
            spec = catalog.session_types.get(here.code)
            record = records.get(here.id)
            if spec is not None and here.status == "in_progress" and record is not None:
                owed = schedule_of(
                    catalog, spec, record.dose_started_at, scale_readings[here.id], now=now
                )
                if owed is not None:
                    scales[here.id] = owed
        reviews = (
            standing_reviews(session, [r.patient_id for r in current.values()], now=now)
            if clinical
            else {}
        )
        overrides = overridden_by_session(session, ids)
        verdicts: dict[int, DischargeVerdict] = {}
        for here in current.values():
            spec = catalog.session_types.get(here.code)
            if here.status == "in_progress" and spec is not None and judged_at_discharge(spec):
                verdicts[here.id] = discharge_verdict(
                    catalog,
                    spec,
                    records.get(here.id),
                    overrides[here.id],
                    now=now,
                    scales=scale_readings[here.id],
                )
    cards = []
    for room_id, room_name in rooms:
        row = current.get(room_id)
        after = row.starts_at if row is not None else now
        # Already here and waiting for the chair, whenever booked (a patient checked in for
        # 10:30 while another was started at 12:25 must not drop off the board), else the
        # next booked for later.
        next_row = next(
            (r for r in rows if r.room_id == room_id and r is not row and r.status == "checked_in"),
            None,
        ) or next(
            (
                r
                for r in rows
                if r.room_id == room_id
                and r is not row
                and r.starts_at >= after
                and r.status == "booked"
                and r.starts_at > now
            ),
            None,
        )
        next_up = (
            NextUp(
                next_row.id,
                next_row.starts_at.astimezone(tz),
                next_row.patient_name,
                _short(catalog.session_types.get(next_row.code), next_row.code),
                checked_in=next_row.status == "checked_in",
            )
            if next_row is not None
            else None
        )
        if row is None:
            cards.append(
                ChairCard(room_id=room_id, room_name=room_name, stage="free", next_up=next_up)
            )
            continue
        made = _card(
            room_name,
            row,
            catalog.session_types.get(row.code),
            now.astimezone(tz),
            started.get(row.id),
            doses.get(row.id),
            recorded.get(row.id),
            next_up,
            grace,
            reviews.get(row.patient_id),
            calendar,
            verdicts.get(row.id),
            not_started_minutes=arrivals.not_started_minutes,
            scales=scales.get(row.id),
        )
        cards.append(made if clinical else made.logistics_only())
    return ChairBoard(
        now=now.astimezone(tz),
        day=day,
        clinic_name=catalog.settings.name,
        cards=tuple(cards),
        time_format=catalog.settings.time_format,
    )


def running_timelines(
    db: Database, appointment_ids: Iterable[int]
) -> dict[int, tuple[PhaseTime, ...]]:
    """The phases of the sessions in progress among ``appointment_ids`` as the board lays
    them (from the actual start, the dosing phase at the recorded dose start; without one,
    only the phases before the dose: ``undosed``), clinic zone, so that other views (My day)
    say the same phase; sessions not in progress are left out."""
    ids = sorted(set(appointment_ids))
    if not ids:
        return {}
    with db.read() as session:
        catalog = load_config(session).catalog
        rows = session.execute(
            select(Appointment.id, Appointment.starts_at, SessionType.code)
            .join(SessionType, SessionType.id == Appointment.session_type_id)
            .where(Appointment.id.in_(ids), Appointment.status == "in_progress")
        ).all()
        running = [r[0] for r in rows]
        started = started_at(session, running)
        doses = _dose_starts(session, running)
    tz = ClinicCalendar(catalog.settings).tz
    timelines: dict[int, tuple[PhaseTime, ...]] = {}
    for appointment_id, starts_at, code in rows:
        spec = catalog.session_types.get(code)
        if spec is None:
            continue
        anchor = _aware(started.get(appointment_id) or starts_at).astimezone(tz)
        dose = doses.get(appointment_id)
        timeline = session_timeline(
            spec, anchor, dose_started_at=_aware(dose).astimezone(tz) if dose else None
        )
        timelines[appointment_id] = undosed(spec, timeline, dose is not None)
    return timelines


def _rows(
    session: Session, room_ids: Sequence[int], start: dt.datetime, end: dt.datetime
) -> list[_Row]:
    if not room_ids:
        return []
    window = Interval(start, end)
    stmt = (
        select(
            Appointment.id,
            Appointment.room_id,
            Appointment.starts_at,
            Appointment.ends_at,
            Appointment.status,
            Appointment.series_index,
            Series.planned_count,
            Patient.first_name,
            Patient.last_name,
            Patient.chart_number,
            SessionType.code,
            SessionType.name,
            SessionType.color,
            Appointment.patient_id,
        )
        .join(Patient, Patient.id == Appointment.patient_id)
        .join(SessionType, SessionType.id == Appointment.session_type_id)
        .outerjoin(Series, Series.id == Appointment.series_id)
        .where(
            *overlapping(Appointment.starts_at, Appointment.ends_at, window),
            Appointment.room_id.in_(room_ids),
            Appointment.status.in_(tuple(IN_CHAIR_RANK)),
        )
        .order_by(Appointment.starts_at, Appointment.id)
    )
    return [_Row(*cast(tuple[Any, ...], row)) for row in session.execute(stmt)]


def _may_be_in_chair(row: _Row, now: dt.datetime) -> bool:
    """In progress or checked in (whatever the clock says: they are there), or booked, past its
    start and never checked in: it stays on the card, late, until the desk marks it (checked
    in, no-show, cancelled), even after its planned end."""
    if row.status in ("in_progress", "checked_in"):
        return True
    return row.starts_at <= now


def _rank(row: _Row) -> tuple[int, float, int]:
    # Of two sessions that never arrived, the later one is the room's business now.
    order = -row.starts_at.timestamp() if row.status == "booked" else row.starts_at.timestamp()
    return (IN_CHAIR_RANK[row.status], order, row.id)


def _dose_starts(session: Session, ids: Iterable[int]) -> dict[int, dt.datetime]:
    ids = list(ids)
    if not ids:
        return {}
    stmt = select(SessionRecord.appointment_id, SessionRecord.dose_started_at).where(
        SessionRecord.appointment_id.in_(ids), SessionRecord.dose_started_at.is_not(None)
    )
    return {aid: at for aid, at in session.execute(stmt) if at is not None}


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def _short(spec: SessionTypeSpec | None, code: str) -> str:
    return spec.short if spec is not None else code.upper()[:4]


def _hhmm(moment: dt.datetime, fmt: str) -> str:
    return clock(moment, fmt)


def _review_text(review: StandingReview | None, calendar: ClinicCalendar | None) -> str:
    """The card's line for a standing urgent review and its deadline.  Not why: the board is
    on a wall where anyone may read it; the answer itself is in the patient's record."""
    if review is None:
        return ""
    if review.deadline is None or calendar is None:
        return "Urgent review open"
    when = "overdue since" if review.overdue else "review by"
    local = calendar.local(review.deadline)
    at = calendar.clock(review.deadline)
    return f"Urgent review open — {when} {local:%a} {local.month}/{local.day} {at}"


STAGE_PHASES = {"waiting": "Waiting to start", "due": "Not checked in"}
#: What a logistics card says in place of the phase.
DESK_STAGES = {"in_session": "In session", **STAGE_PHASES}
#: The next check while a pre-dose BP over the hard stop still stops dosing.
PRE_DOSE_RECHECK = "Pre-dose recheck"
#: The next check while a BP after the dose stays above the clinic's limits.
RAISED_RECHECK = "Recheck"


def _card(
    room_name: str,
    row: _Row,
    spec: SessionTypeSpec | None,
    now: dt.datetime,
    started_at: dt.datetime | None,
    dose_recorded: dt.datetime | None,
    readings: ReadingsDue | None,
    next_up: NextUp | None,
    grace: dt.timedelta,
    review: StandingReview | None = None,
    calendar: ClinicCalendar | None = None,
    verdict: DischargeVerdict | None = None,
    not_started_minutes: int | None = None,
    scales: ScaleSchedule | None = None,
) -> ChairCard:
    tz = now.tzinfo
    fmt = calendar.settings.time_format if calendar is not None else "12h"
    start, end = row.starts_at.astimezone(tz), row.ends_at.astimezone(tz)
    stage = {"in_progress": "in_session", "checked_in": "waiting"}.get(row.status, "due")
    common: dict[str, Any] = {
        "room_id": row.room_id,
        "room_name": room_name,
        "stage": stage,
        "appointment_id": row.id,
        "patient_name": row.patient_name,
        "chart_number": row.chart_number,
        "session_type_code": row.code,
        "session_type_name": row.type_name,
        "session_type_short": _short(spec, row.code),
        "color": row.color,
        "series_label": row.series_label,
        "status": row.status,
        "start": start,
        "end": end,
        "next_up": next_up,
        "urgent_review": _review_text(review, calendar),
        "urgent_review_id": review.follow_up_id if review is not None else None,
        "urgent_review_overdue": review is not None and review.overdue,
    }
    late: list[str] = []
    clinical_late: list[str] = []  # the lines of ``late`` that are monitoring, not logistics
    overrun = stage == "in_session" and now > end
    if not_started_minutes is not None and not_started_overrun(
        row.status, start, end, now, not_started_minutes
    ):
        # Checked in and still waiting: the session overruns its place before it begins.
        overrun = True
        past = f"; its planned end {_hhmm(end, fmt)} has passed" if now > end else ""
        late.append(f"Checked in, not started (due {_hhmm(start, fmt)}){past}")
    if spec is None:  # a type no longer in the catalogue: say what we know
        return ChairCard(
            **common,
            phase=STATUS_LABELS.get(row.status, row.status),
            overrun=overrun,
            late=tuple(late),
            late_logistics=tuple(late),
            expected_end=end,
        )
    running = stage == "in_session"
    anchor = (started_at.astimezone(tz) if started_at else start) if running else start
    dose = dose_recorded.astimezone(tz) if dose_recorded else None
    timeline = session_timeline(spec, anchor, dose_started_at=dose)
    dose_index = _dose_index(spec)
    dose_at = dose or (timeline[dose_index].start if dose_index is not None else None)
    # Only a recorded dose start is a dose given: a session started without one shows when
    # its dose is due (a user trial's board said "Dosed 41 min ago" of a dose nobody gave).
    dosed = dose is not None and now >= dose
    # Nor is a planned dose a reason to move on: until a dose start is recorded the patient
    # stays in the phase before the dose, and discharge has no time (a user trial's board
    # said "Observation" and "Discharge 12:15" of a dose nobody recorded).
    awaiting_dose = running and dose is None and dose_index is not None
    dose_passed = dose is not None and now >= dose
    if running:
        reached = undosed(spec, timeline, dose is not None) or timeline[:1]
        current = phase_at(reached, now)
        if current is None:
            current = reached[-1] if now >= reached[-1].end else reached[0]
        phase, phase_key = current.name, current.key
        phase_ends = current.end if now < current.end else None
    else:
        phase, phase_key, phase_ends = STAGE_PHASES[stage], "", None
        if stage == "due":
            late.append(f"Not checked in (due {_hhmm(start, fmt)})")
    # The checks and their due times are the monitoring record's (``readings_due``), so the
    # board and the record say the same time for the same check.
    checks = readings.checks if readings is not None else ()
    recorded = [c.label for c in checks if c.state == "done"]
    pending = [c for c in checks if c.state != "done"]
    next_bp = None
    next_after_dose = None
    # A check counted from the dose waits for a recorded dose, whether the patient is in
    # session or still waiting to start (a user trial's board said "BP +0 min overdue since
    # 11:15" of a checked-in patient nobody had dosed).
    undosed_checks = stage != "due" and dose is None and dose_index is not None
    after_dose = due_after_dose(spec) if undosed_checks else {}
    owed = readings.recheck if readings is not None and stage != "due" else None
    alert = owed.words(tz, fmt) if owed is not None else ""
    if owed is not None and owed.before_dose:
        # A pre-dose BP over the hard stop still stops dosing: the next check is its recheck
        # after rest, due when the clinic's recheck minutes have passed (not "due now": a
        # recheck in the same minute does not count), not one counted from a dose nobody may
        # give yet.
        due = _aware(owed.due_at).astimezone(tz)
        next_bp = BpDue(PRE_DOSE_RECHECK, due, late=now > due + grace, due_now=now >= due)
    elif pending and stage != "due" and pending[0].label in after_dose:
        # Counted from a dose nobody recorded: due so long after it, at no time yet.
        next_after_dose = (pending[0].label, after_dose[pending[0].label])
    elif pending and stage != "due":  # a patient who has not arrived has no BP to take yet
        check = pending[0]
        due = _aware(check.due_at).astimezone(tz)
        missed = sum(1 for c in pending if c.state == "late")
        next_bp = BpDue(
            check.label,
            due,
            late=now > due + grace,
            due_now=now >= due,
            after_dose=check.after_dose,
            missed=max(1, missed),
        )
    if owed is not None and not owed.before_dose:
        # A raised BP after the dose owes its recheck; a configured check due before the
        # recheck stays the next one (it is a reading too).
        due = _aware(owed.due_at).astimezone(tz)
        if next_bp is None or due <= next_bp.due_at:
            next_bp = BpDue(RAISED_RECHECK, due, late=now > due + grace, due_now=now >= due)
    if next_bp is not None and next_bp.late:
        late.insert(0, next_bp.overdue_words(fmt))
        clinical_late.append(late[0])
    next_scale = scale_missed = ""
    if scales is not None and running:
        next_scale = scales.next_words(tz, fmt)
        scale_missed = scales.missed_words(tz, fmt)
        if scale_missed:  # as a missed BP check: red, and counted in "need attention"
            late.append(scale_missed)
            clinical_late.append(scale_missed)
    if awaiting_dose and owed is None and dose_at is not None and now > dose_at + grace:
        # Started and no dose recorded past its time (with the checks' grace): say it, red.
        late.append(f"Dose not recorded (due {_hhmm(dose_at, fmt)})")
        clinical_late.append(late[-1])
    # Discharge is a time for a patient in session, not for one who has not started: the
    # rules' own (the recorded dose plus the observation minutes), else the planned one.
    allowed = discharge_allowed(spec, timeline) if dose_passed and running else None
    if verdict is not None and verdict.earliest is not None and running and not awaiting_dose:
        allowed = verdict.earliest.astimezone(tz)
    time_allows = running and dose_passed and allowed is not None and now >= allowed
    # The completion's own verdict says whether the patient may go (a prescriber's override
    # of the observation lets them go before the time); once the time has come, what the rules
    # still refuse.
    not_yet: tuple[str, ...] = ()
    if verdict is None:  # a type the discharge rules do not judge: the time is all
        ready = time_allows
    elif verdict.ready:  # (a prescriber's override may let a patient go without a dose)
        ready = running and (dose_passed or awaiting_dose)
    else:
        ready = False
        if time_allows:  # (the observation too, when the record's discharge time is early)
            not_yet = tuple(f.short for f in verdict.refusals)
    discharge_late = ready and allowed is not None and now > max(allowed, timeline[-1].end)
    if discharge_late and allowed is not None:
        late.append(f"Still in the chair; discharge allowed since {_hhmm(allowed, fmt)}")
        clinical_late.append(late[-1])
    if overrun and running:
        late.append(f"Running past the planned end ({_hhmm(end, fmt)})")
    return ChairCard(
        **common,
        phase=phase,
        phase_key=phase_key,
        phase_ends_at=phase_ends,
        started_at=anchor if running else None,
        dose_started_at=dose,
        dose_due_at=dose_at if dose is None and running else None,
        minutes_since_dose=int((now - dose).total_seconds() // 60) if dosed and dose else None,
        next_bp=next_bp,
        next_bp_after_dose=next_after_dose,
        bp_alert=alert,
        bp_alert_stop=owed is not None and owed.over_hard_stop,
        next_scale=next_scale,
        scale_missed=scale_missed,
        bp_recorded=tuple(recorded),
        discharge_allowed_at=allowed,
        discharge_after_dose_minutes=spec.observation_minutes if awaiting_dose else None,
        discharge_ready=ready,
        discharge_not_yet=not_yet,
        bp_late=next_bp is not None and next_bp.late,
        discharge_late=discharge_late,
        overrun=overrun,
        late=tuple(late),
        late_logistics=tuple(line for line in late if line not in clinical_late),
        expected_end=timeline[-1].end if running else end,
    )
