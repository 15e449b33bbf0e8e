"""The patient record: who the patient is, their gating facts, each series with its progress and
gaps, past and upcoming sessions, open follow-ups and recent outcome measures.

Read-only, one transaction.  Everything comes back as frozen dataclasses with times in the
clinic's zone; the record view (ui/patients/patient_record.py) only lays it out.  A series'
gaps are the
days between its sessions held against the protocol's spacing (protocols.toml), so a missed
session shows as a gap instead of disappearing.

The clinical part (screening, consent, REMS enrolment, contraindications, outcome measures) is
read only for a role that may "read clinical"; the front desk gets the contact details, the
gating facts it arranges (prior authorization, driver), the series and sessions, and a line
saying what was left out.  Every opening is recorded in the audit trail as a "view".
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ketadesk.config import Catalog
from ketadesk.scheduling.calendar import ClinicCalendar
from ketadesk.scheduling.catalog import ProtocolSpec
from ketadesk.scheduling.dates import short_date
from ketadesk.scheduling.followup_rules import (
    Section,
    check_in_deadline,
    due_text,
    kind_label,
    listed_without_clinical,
    section_of,
)
from ketadesk.scheduling.gating import (
    check_gates,
    consent_lapses_on,
    eligibility_settings,
    rules_for,
)
from ketadesk.scheduling.planner import series_slots
from ketadesk.scheduling.protocol_change import (
    changed_from_words,
    changed_to_words,
    who_may_change,
)
from ketadesk.scheduling.series_end import ended_words, parse_series_end_settings, who_may_end
from ketadesk.scheduling.statuses import RELEASED_STATUSES
from ketadesk.services.access import audit
from ketadesk.services.booking.planning import load_patient_facts
from ketadesk.services.common.context import Actor, Database, NotFound, may, utcnow
from ketadesk.services.common.phones import display_phone
from ketadesk.services.followups.recall import AtRiskRow, at_risk_list
from ketadesk.services.followups.sync import followup_settings
from ketadesk.services.schedule.day_schedule import STATUS_LABELS
from ketadesk.store.clinic_config import load_catalog
from ketadesk.store.models import (
    Appointment,
    FollowUp,
    GatingOverride,
    Measurement,
    Patient,
    Protocol,
    Resource,
    Series,
    SeriesRebooking,
    SessionType,
    User,
)

RECENT_MEASURES = 12  # how many of the latest scores the record lists

# The gating facts that belong to the clinical part (the front desk arranges the others).
#: The Gating box's prior authorization for a self-pay patient.
SELF_PAY_GATING = "Self-pay, none needed"
CLINICAL_GATING = frozenset({"Screening", "Consent", "REMS", "Contraindications", "Precautions"})
CLINICAL_WITHHELD = (
    "Screening, consent, REMS enrolment, contraindications and outcome measures are shown "
    "to clinicians only."
)

SCREENING_LABELS = {
    "pending": "Pending",
    "cleared": "Cleared",
    "not_eligible": "Not eligible",
}
SERIES_STATUS_LABELS = {
    "planned": "Planned",
    "active": "Active",
    "completed": "Completed",
    "dropped": "Dropped",
    "cancelled": "Cancelled",
    "ended": "Ended",
}


@dataclass(frozen=True, slots=True)
class PatientDetails:
    """Contact details as the record shows them ("" where nothing is on file)."""

    id: int
    chart_number: str
    first_name: str
    last_name: str
    preferred_name: str
    date_of_birth: dt.date | None
    phone: str
    email: str
    address: str
    emergency_contact: str  # "Name, phone"
    driver: str  # "Name, phone"
    notes: str
    active: bool
    merged_into_chart: str = ""  # the chart this one was merged into (services/patients/merge)

    @property
    def display_name(self) -> str:
        return f"{self.last_name}, {self.first_name}"

    def age_on(self, day: dt.date) -> int | None:
        born = self.date_of_birth
        if born is None:
            return None
        return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


@dataclass(frozen=True, slots=True)
class GatingFact:
    """One gating fact in words, and whether it is in order (``ok``; None when none of the
    patient's session types asks for it, so nothing is wrong with its absence)."""

    label: str  # "Screening"
    value: str  # "Cleared 2 Oct 2026"
    ok: bool | None


@dataclass(frozen=True, slots=True)
class RecordSession:
    """One appointment of the patient (times local to the clinic)."""

    appointment_id: int
    start: dt.datetime
    end: dt.datetime
    session_type_code: str
    session_type: str
    short: str
    color: str
    status: str
    series_id: int | None
    series_index: int | None
    series_count: int | None
    room: str
    dosing: bool

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.status, self.status.replace("_", " ").capitalize())

    @property
    def series_label(self) -> str:
        if self.series_index is None:
            return ""
        if self.series_count is None:
            return str(self.series_index)
        return f"{self.series_index}/{self.series_count}"

    @property
    def is_active(self) -> bool:
        return self.status not in RELEASED_STATUSES


@dataclass(frozen=True, slots=True)
class SeriesGap:
    """The days between two sessions of a series, held against the protocol's rule."""

    from_index: int
    to_index: int
    from_day: dt.date
    to_day: dt.date
    min_days: int
    max_days: int | None  # None: no upper bound
    rule: str  # "Induction asks for 1-5 days"
    missed: tuple[int, ...] = ()  # places skipped between the two (no session held there)
    #: From the last session of the patient's previous series of the treatment to this
    #: series' first (``protocol_rules.SERIES_GAP``), not between two of its own sessions.
    across_series: bool = False

    @property
    def days(self) -> int:
        return (self.to_day - self.from_day).days

    @property
    def within_rule(self) -> bool:
        return not self.missed and self._days_within

    @property
    def _days_within(self) -> bool:
        return self.min_days <= self.days and (self.max_days is None or self.days <= self.max_days)

    @property
    def description(self) -> str:
        """ "2 → 3: 2 days" or "3 → 5: 9 days, no session 4 (Induction asks for 1-5 days)"."""
        text = f"{self.from_index} → {self.to_index}: {_days(self.days)}"
        if self.across_series:
            text = (
                f"Previous series' {self.from_index} → this series' {self.to_index}: "
                f"{_days(self.days)}"
            )
        notes = []
        if self.missed:
            places = ", ".join(str(i) for i in self.missed)
            notes.append(f"no session{'s' if len(self.missed) > 1 else ''} {places}")
        if not self._days_within:
            notes.append(f"too {'close' if self.days < self.min_days else 'far apart'}")
        if notes:
            text += f", {', '.join(notes)} ({self.rule})"
        return text


@dataclass(frozen=True, slots=True)
class SeriesProgress:
    """One series: where it stands, its sessions in series order, the gaps between them."""

    series_id: int
    protocol: str
    protocol_name: str
    status: str
    planned_count: int
    done: int
    missed: int  # no-shows
    cancelled: int
    booked: int  # still to come
    next_start: dt.datetime | None
    sessions: tuple[RecordSession, ...]
    gaps: tuple[SeriesGap, ...]
    #: What became of its cancelled or missed sessions (services/rebooking/makeup.py): made
    #: up, waiting on the waitlist for a make-up, or not made up (the series goes on short).
    made_up: int = 0
    waitlisted: int = 0
    not_made_up: int = 0
    #: A series a prescriber ended (services/booking/series_end.py): "Ended Dec 8: side
    #: effects / safety (Dr Okafor)"; "" while it goes on.
    ended: str = ""
    #: A change of protocol (services/booking/protocol_change.py): on the old series the
    #: series that follows it ("→ Spravato TRD from Dec 14"), on the new one the series it
    #: follows ("← after IV induction, ended Dec 9"); "" otherwise.
    changed_to: str = ""
    changed_from: str = ""
    ended_on: dt.date | None = None

    @property
    def is_ended(self) -> bool:
        return self.status == "ended"

    @property
    def status_label(self) -> str:
        return SERIES_STATUS_LABELS.get(self.status, self.status.capitalize())

    @property
    def summary(self) -> str:
        """ "4 of 6 done, 1 missed, next Tue 1 Dec"; an ended series "4 done, ended: ..."
        (its cancelled places were the prescriber's decision, not misses to make up)."""
        if self.is_ended:
            parts = [f"{self.done} of {self.planned_count} done"]
            if self.missed:
                parts.append(f"{self.missed} missed")
            return ", ".join([*parts, self.ended or "ended"])
        parts = [f"{self.done} of {self.planned_count} done"]
        if self.missed:
            parts.append(f"{self.missed} missed")
        if self.cancelled:
            parts.append(f"{self.cancelled} cancelled")
        if self.made_up:
            parts.append(f"{self.made_up} made up")
        if self.waitlisted:
            parts.append(f"{self.waitlisted} on the waitlist for a make-up")
        if self.not_made_up:
            parts.append(
                f"continues with {self.planned_count - self.not_made_up} of {self.planned_count}"
            )
        if self.next_start is not None:
            n = self.next_start
            parts.append(f"next {short_date(n)}")
        elif self.status in ("active", "planned") and self.done < self.planned_count:
            parts.append("nothing booked")
        return ", ".join(parts)

    @property
    def gaps_outside_rule(self) -> tuple[SeriesGap, ...]:
        return tuple(g for g in self.gaps if not g.within_rule)


@dataclass(frozen=True, slots=True)
class OpenFollowUp:
    id: int
    kind: str
    kind_label: str
    due: dt.datetime  # local
    deadline: dt.datetime | None
    overdue: bool
    priority: str
    assignee_role: str
    session: str  # "Spravato (esketamine), Tue 24 Nov", or ""
    status: str
    #: When it is due in the follow-up queue's own words (its Due column and the printed
    #: call list: ``followup_rules.due_text``), e.g. "by end of Tue Dec 15" of a REMS form
    #: (the record once said "Tue Dec 8", the day it became due).
    when: str = ""


def _due_words(
    due: dt.datetime,
    deadline: dt.datetime | None,
    snoozed_until: dt.datetime | None,
    now: dt.datetime,
    tz: dt.tzinfo,
    time_format: str,
) -> str:
    """When a follow-up is due, as the queue's Due column says it (a snooze moves it on)."""
    if snoozed_until is not None and snoozed_until > due:
        due = snoozed_until
    return due_text(
        _aware(due).astimezone(tz),
        _aware(deadline).astimezone(tz) if deadline is not None else None,
        now,
        time_format,
    )


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


@dataclass(frozen=True, slots=True)
class MeasureEntry:
    instrument: str
    score: int
    taken_at: dt.datetime  # local


@dataclass(frozen=True, slots=True)
class PatientRecord:
    """Everything the patient record shows, read at ``as_of``."""

    patient: PatientDetails
    gating: tuple[GatingFact, ...]
    contraindications: str
    # Gating rules the next dosing sessions do not meet (nobody overrode them).
    gate_problems: tuple[str, ...]
    series: tuple[SeriesProgress, ...]  # newest first
    history: tuple[RecordSession, ...]  # before ``as_of``, most recent first
    upcoming: tuple[RecordSession, ...]  # from ``as_of`` on, soonest first
    follow_ups: tuple[OpenFollowUp, ...]  # open (or snoozed), soonest due first
    measures: tuple[MeasureEntry, ...]  # most recent first
    instruments: tuple[str, ...]  # instruments the patient has scores for, most used first
    timezone: str
    as_of: dt.datetime  # local
    # Why the clinical part is left out ("" when it is shown): the reader's role may not read it.
    withheld: str = ""
    # The patient's series at risk (a counted miss with its outreach call standing), as the
    # recall list's At risk tab has them: what was missed, the call, the miss to make up.
    at_risk: tuple[AtRiskRow, ...] = ()
    #: How the clinic reads a time of day ([clinic] time_format): the record's times say so.
    time_format: str = "12h"
    #: Why the reader may not end a series ("Only a prescriber may end a series"; "" when
    #: they may: clinic.toml [series_end] roles).
    end_series_refusal: str = ""
    #: Why the reader may not change a series' protocol (the same roles: "Only a prescriber
    #: may change a series' protocol"; "" when they may).
    change_protocol_refusal: str = ""

    def at_risk_of(self, series_id: int) -> AtRiskRow | None:
        return next((r for r in self.at_risk if r.series_id == series_id), None)

    @property
    def clinical(self) -> bool:
        """Whether the record holds its clinical part."""
        return not self.withheld


def _days(n: int) -> str:
    return f"{n} day" if abs(n) == 1 else f"{n} days"


def _short_date(day: dt.date) -> str:
    return short_date(day, year=True, weekday=False)


def patient_record(
    db: Database, actor: Actor, patient_id: int, *, now: dt.datetime | None = None
) -> PatientRecord:
    """The patient's record as of ``now``, as ``actor`` may read it (the clinical part only for
    a role that may "read clinical"), the opening recorded in the audit trail.  Raises
    NotFound for an unknown patient."""
    moment = now or utcnow()
    clinical = may(actor, "read_clinical")
    with db.read() as session:
        catalog = load_catalog(session)
        tz = ZoneInfo(catalog.settings.timezone)
        patient = session.get(Patient, patient_id)
        if patient is None:
            raise NotFound(f"patient #{patient_id} does not exist")
        rows = session.execute(
            select(
                Appointment.id,
                Appointment.starts_at,
                Appointment.ends_at,
                Appointment.status,
                Appointment.series_id,
                Appointment.series_index,
                Series.planned_count,
                SessionType.code,
                SessionType.name,
                SessionType.color,
                SessionType.dosing,
                Resource.name,
            )
            .join(SessionType, SessionType.id == Appointment.session_type_id)
            .outerjoin(Series, Series.id == Appointment.series_id)
            .outerjoin(Resource, Resource.id == Appointment.room_id)
            .where(Appointment.patient_id == patient_id)
            .order_by(Appointment.starts_at, Appointment.id)
        ).all()
        links = dict(
            session.execute(
                select(Series.id, Series.previous_series_id).where(
                    Series.patient_id == patient_id,
                    Series.previous_series_id.is_not(None),
                    Series.status != "cancelled",
                )
            ).all()
        )
        series_rows = session.execute(
            select(
                Series.id,
                Series.status,
                Series.planned_count,
                Protocol.code,
                Protocol.name,
                Series.ended_on,
                Series.end_reason,
                Series.end_note,
                User.display_name,
            )
            .join(Protocol, Protocol.id == Series.protocol_id)
            .outerjoin(User, User.id == Series.ended_by_id)
            .where(Series.patient_id == patient_id)
            .order_by(Series.created_at.desc(), Series.id.desc())
        ).all()
        # What the desk decided for each cancelled or missed series session (rebooking).
        decisions: dict[tuple[int, str], int] = {}
        for series_id, decision, n in session.execute(
            select(SeriesRebooking.series_id, SeriesRebooking.decision, func.count())
            .join(Series, Series.id == SeriesRebooking.series_id)
            .where(Series.patient_id == patient_id)
            .group_by(SeriesRebooking.series_id, SeriesRebooking.decision)
        ).all():
            decisions[(series_id, decision)] = n
        follow_rows = session.execute(
            select(
                FollowUp.id,
                FollowUp.kind,
                FollowUp.due_at,
                FollowUp.deadline_at,
                FollowUp.priority,
                FollowUp.assignee_role,
                FollowUp.status,
                Appointment.starts_at,
                SessionType.name,
                Appointment.status,
                Appointment.ends_at,
                FollowUp.snoozed_until,
            )
            .outerjoin(Appointment, Appointment.id == FollowUp.appointment_id)
            .outerjoin(SessionType, SessionType.id == Appointment.session_type_id)
            .where(FollowUp.patient_id == patient_id, FollowUp.status.in_(("open", "snoozed")))
            .order_by(FollowUp.due_at, FollowUp.id)
        ).all()
        measure_rows = (
            session.execute(
                select(Measurement.instrument, Measurement.score, Measurement.taken_at)
                .where(Measurement.patient_id == patient_id)
                .order_by(Measurement.taken_at.desc(), Measurement.id.desc())
            ).all()
            if clinical
            else []
        )
        facts = load_patient_facts(session, patient_id, catalog)
        overrides: dict[str, str] = {}
        for rule, reason in session.execute(
            select(GatingOverride.rule, GatingOverride.reason).where(
                GatingOverride.series_id.in_([r[0] for r in series_rows])
                | GatingOverride.appointment_id.in_([r[0] for r in rows])
            )
        ):
            overrides[rule] = reason
        details = _details(patient, session)
        used = {r[7] for r in rows}
        needed = {
            rule
            for code, spec in catalog.session_types.items()
            if code in used or not used
            for rule in rules_for(spec, eligibility_settings(catalog.settings))
        }
        gating = _gating_facts(patient, catalog, needed, moment.astimezone(tz).date())
        contraindications = patient.contraindications
    if not clinical:
        gating = tuple(g for g in gating if g.label not in CLINICAL_GATING)
        contraindications = ""

    sessions = [
        RecordSession(
            appointment_id=a_id,
            start=starts.astimezone(tz),
            end=ends.astimezone(tz),
            session_type_code=code,
            session_type=name,
            short=(catalog.session_types[code].short if code in catalog.session_types else code),
            color=color,
            status=status,
            series_id=series_id,
            series_index=index,
            series_count=count,
            room=room or "",
            dosing=bool(dosing),
        )
        for (
            a_id,
            starts,
            ends,
            status,
            series_id,
            index,
            count,
            code,
            name,
            color,
            dosing,
            room,
        ) in rows
    ]
    local_now = moment.astimezone(tz)
    history = tuple(reversed([s for s in sessions if s.start < local_now]))
    upcoming = tuple(s for s in sessions if s.start >= local_now and s.is_active)

    gate_problems: list[str] = []
    if facts is not None:
        dosing_ahead: dict[str, list[dt.date]] = {}
        for s in upcoming:
            if s.dosing and s.session_type_code in catalog.session_types:
                dosing_ahead.setdefault(s.session_type_code, []).append(s.start.date())
        for code, dates in dosing_ahead.items():
            spec = catalog.session_types[code]
            for result in check_gates(spec, facts, dates, catalog.settings, overrides):
                if result.stops_booking and result.message not in gate_problems:
                    gate_problems.append(result.message)

    series = tuple(
        dataclasses.replace(
            _progress(
                series_id,
                status,
                planned,
                code,
                name,
                [s for s in sessions if s.series_id == series_id],
                catalog.protocols.get(code),
                local_now,
            ),
            made_up=decisions.get((series_id, "made_up"), 0),
            waitlisted=decisions.get((series_id, "waitlisted"), 0),
            not_made_up=decisions.get((series_id, "continue_short"), 0),
            ended=(
                ended_words(ended_on, reason or "", note or "", by or "")
                if status == "ended" and ended_on is not None
                else ""
            ),
            ended_on=ended_on if status == "ended" else None,
        )
        for series_id, status, planned, code, name, ended_on, reason, note, by in series_rows
    )
    series = _with_gaps_between(series, catalog.protocols)
    series = _with_changes(series, links)
    end_settings = parse_series_end_settings(catalog.settings.extra.get("series_end"))
    clinical_kinds = followup_settings(catalog).clinical_kinds
    calendar = ClinicCalendar(catalog.settings)  # local dates only
    at_check_in = {
        rule.kind
        for spec in catalog.session_types.values()
        for rule in spec.followups
        if rule.before_session
    }
    follow_ups = tuple(
        OpenFollowUp(
            id=f_id,
            kind=kind,
            kind_label=kind_label(kind),
            due=due.astimezone(tz),
            deadline=deadline.astimezone(tz) if deadline is not None else None,
            # A PHQ-9 at check-in waits for the patient (followup_rules.check_in_deadline);
            # overdue as the queue says it (a call due this morning is "due today" there).
            overdue=section_of(
                moment,
                due,
                check_in_deadline(deadline, visit, ends) if kind in at_check_in else deadline,
                calendar,
                0,
            )
            is Section.OVERDUE,
            priority=priority,
            assignee_role=role,
            session=(
                f"{type_name}, {short_date(starts.astimezone(tz))}"
                if starts is not None and type_name
                else ""
            ),
            status=status,
            when=_due_words(due, deadline, snoozed_until, moment, tz, catalog.settings.time_format),
        )
        for (
            f_id,
            kind,
            due,
            deadline,
            priority,
            role,
            status,
            starts,
            type_name,
            visit,
            ends,
            snoozed_until,
        ) in follow_rows
        # The front desk sees the calls owed and the non-clinical kinds, as on its queue;
        # never a measure, a REMS form or a review (a user trial read PHQ-9 items here).
        if clinical or listed_without_clinical(kind, clinical_kinds)
    )
    counts = Counter(instrument for instrument, _score, _taken in measure_rows)
    measures = tuple(
        MeasureEntry(instrument, score, taken.astimezone(tz))
        for instrument, score, taken in measure_rows[:RECENT_MEASURES]
    )
    audit.record_view(
        db,
        actor,
        "patient record" if clinical else "patient record (contact details and schedule)",
        patient_id,
        detail=f"chart {details.chart_number}",
        now=now,
    )
    return PatientRecord(
        patient=details,
        gating=gating,
        contraindications=contraindications,
        gate_problems=tuple(gate_problems),
        series=series,
        history=history,
        upcoming=upcoming,
        follow_ups=follow_ups,
        measures=measures,
        instruments=tuple(code for code, _n in counts.most_common()),
        timezone=catalog.settings.timezone,
        as_of=local_now,
        withheld="" if clinical else CLINICAL_WITHHELD,
        at_risk=tuple(at_risk_list(db, now=moment, patient_id=patient_id)),
        time_format=catalog.settings.time_format,
        end_series_refusal=("" if actor.role in end_settings.roles else who_may_end(end_settings)),
        change_protocol_refusal=(
            "" if actor.role in end_settings.roles else who_may_change(end_settings)
        ),
    )


def _with_changes(
    series: tuple[SeriesProgress, ...], links: Mapping[int, int | None]
) -> tuple[SeriesProgress, ...]:
    """Each change of protocol said on both series: the old one names the new protocol and
    its first day, the new one the protocol it follows and the day that one ended."""
    by_id = {s.series_id: s for s in series}
    changed_to: dict[int, str] = {}
    changed_from: dict[int, str] = {}
    for new_id, old_id in links.items():
        new, old = by_id.get(new_id), by_id.get(old_id) if old_id is not None else None
        if new is None or old is None:
            continue
        starts = [s.start for s in new.sessions if s.status not in RELEASED_STATUSES]
        changed_to[old.series_id] = changed_to_words(
            new.protocol_name, min(starts).date() if starts else None
        )
        changed_from[new.series_id] = changed_from_words(old.protocol_name, old.ended_on)
    return tuple(
        dataclasses.replace(
            s,
            changed_to=changed_to.get(s.series_id, ""),
            changed_from=changed_from.get(s.series_id, ""),
        )
        for s in series
    )


def _joined(name: str, phone: str) -> str:
    """ "Ana Lopez, (510) 555-0151": the phone as the clinic reads it everywhere else."""
    return ", ".join(p for p in (name.strip(), display_phone(phone)) if p)


def _details(p: Patient, session: Session) -> PatientDetails:
    kept = session.get(Patient, p.merged_into_id) if p.merged_into_id is not None else None
    return PatientDetails(
        id=p.id,
        chart_number=p.chart_number,
        first_name=p.first_name,
        last_name=p.last_name,
        preferred_name=p.preferred_name,
        date_of_birth=p.date_of_birth,
        phone=p.phone,
        email=p.email,
        address=p.address,
        emergency_contact=_joined(p.emergency_contact_name, p.emergency_contact_phone),
        driver=_joined(p.driver_name, p.driver_phone),
        notes=p.notes,
        active=p.active,
        merged_into_chart=kept.chart_number if kept else "",
    )


def _gating_facts(
    p: Patient, catalog: Catalog, needed: set[str], today: dt.date
) -> tuple[GatingFact, ...]:
    """The gating facts in words, in the order the rules are checked; ``needed``: the rules
    the patient's session types apply; a consent is judged valid or lapsed on ``today``."""

    def ok(rule: str, met: bool) -> bool | None:
        return met if met or rule in needed else None

    screening = SCREENING_LABELS.get(p.screening_status, p.screening_status)
    if p.screening_status == "cleared" and p.screening_cleared_on:
        screening += f" {_short_date(p.screening_cleared_on)}"
    facts = [
        GatingFact(
            "Screening", screening, ok("screening_cleared", p.screening_status == "cleared")
        ),
    ]
    elig = eligibility_settings(catalog.settings)
    consent, consent_ok = "Not on file", False
    if p.consent_signed_on:
        consent, consent_ok = f"Signed {_short_date(p.consent_signed_on)}", True
        lapses = consent_lapses_on(p.consent_signed_on, elig)
        if lapses is not None:
            consent_ok = today < lapses
            last = _short_date(lapses - dt.timedelta(days=1))
            consent += f", valid through {last}" if consent_ok else f", lapsed after {last}"
    facts.append(GatingFact("Consent", consent, ok("consent_signed", consent_ok)))
    flags = set(p.eligibility_flags or ())
    for rule, label, items in (
        ("contraindications", "Contraindications", elig.contraindications),
        ("precautions", "Precautions", elig.precautions),
    ):
        if rule in needed or flags & set(items):
            found = [text for code, text in items.items() if code in flags]
            facts.append(GatingFact(label, "; ".join(found) or "None recorded", not found))
    rems_used = any("rems_patient_enrolled" in t.gating for t in catalog.session_types.values())
    if rems_used:
        if p.rems_enrolled_on:
            text = f"Enrolled {_short_date(p.rems_enrolled_on)}"
            if p.rems_patient_id:
                text += f", ID {p.rems_patient_id}"
        else:
            text = "Not enrolled"
        facts.append(
            GatingFact("REMS", text, ok("rems_patient_enrolled", p.rems_enrolled_on is not None))
        )
    if p.self_pay:
        # Nothing to check: the patient pays for their own sessions (``prior_auth_valid``).
        facts.append(GatingFact("Prior authorization", SELF_PAY_GATING, None))
    elif p.prior_auth_number or p.prior_auth_expires_on or p.prior_auth_sessions is not None:
        parts = [p.prior_auth_number] if p.prior_auth_number else []
        if p.prior_auth_starts_on:
            parts.append(f"from {_short_date(p.prior_auth_starts_on)}")
        if p.prior_auth_expires_on:
            parts.append(f"expires {_short_date(p.prior_auth_expires_on)}")
        if p.prior_auth_sessions is not None:
            parts.append(f"{p.prior_auth_sessions} units")
        facts.append(GatingFact("Prior authorization", ", ".join(parts), True))
    else:
        facts.append(
            GatingFact("Prior authorization", "None on file", ok("prior_auth_valid", False))
        )
    driver = _joined(p.driver_name, p.driver_phone)
    facts.append(
        GatingFact(
            "Driver", driver or "None arranged", ok("driver_arranged", bool(p.driver_name.strip()))
        )
    )
    return tuple(facts)


def _progress(
    series_id: int,
    status: str,
    planned: int,
    code: str,
    name: str,
    sessions: Sequence[RecordSession],
    protocol: ProtocolSpec | None,
    now: dt.datetime,
) -> SeriesProgress:
    ordered = sorted(sessions, key=lambda s: (s.series_index or 0, s.start))
    live = [s for s in ordered if s.is_active]
    ahead = [s for s in live if s.start >= now and s.status != "completed"]
    return SeriesProgress(
        series_id=series_id,
        protocol=code,
        protocol_name=name,
        status=status,
        planned_count=planned,
        done=sum(1 for s in ordered if s.status == "completed"),
        missed=sum(1 for s in ordered if s.status == "no_show"),
        cancelled=sum(1 for s in ordered if s.status == "cancelled"),
        booked=len(ahead),
        next_start=min((s.start for s in ahead), default=None),
        sessions=tuple(ordered),
        gaps=series_gaps(live, protocol) if protocol is not None else (),
    )


def _with_gaps_between(
    series: Sequence[SeriesProgress], protocols: Mapping[str, ProtocolSpec]
) -> tuple[SeriesProgress, ...]:
    """Each series whose protocol sets ``series_gap`` with, first among its gaps, the one from
    the last live session of the patient's previous series of the same treatment to its own
    first (as the rules engine judges it: a maintenance series after another keeps "every 1-2
    weeks"); series whose dates overlap are left to the two-courses rule."""
    spans: dict[int, tuple[RecordSession, RecordSession, frozenset[str]]] = {}
    for p in series:
        live = [s for s in p.sessions if s.is_active]
        if live:
            spans[p.series_id] = (
                min(live, key=lambda s: s.start),
                max(live, key=lambda s: s.start),
                frozenset(s.session_type_code for s in live),
            )
    out: list[SeriesProgress] = []
    for p in series:
        spec = protocols.get(p.protocol)
        rule = spec.series_gap if spec is not None else None
        if rule is None or p.series_id not in spans:
            out.append(p)
            continue
        first, _last, types = spans[p.series_id]
        earlier = [
            (f, last)
            for sid, (f, last, t) in spans.items()
            if sid != p.series_id and t & types and f.start < first.start
        ]
        if not earlier:
            out.append(p)
            continue
        _f, prev_last = max(earlier, key=lambda pair: pair[0].start)
        if prev_last.start.date() > first.start.date():
            out.append(p)
            continue
        gap = SeriesGap(
            from_index=prev_last.series_index or 0,
            to_index=first.series_index or 0,
            from_day=prev_last.start.date(),
            to_day=first.start.date(),
            min_days=rule.min_days,
            max_days=rule.max_days,
            rule=f"{rule.words} after the previous series",
            across_series=True,
        )
        out.append(dataclasses.replace(p, gaps=(gap, *p.gaps)))
    return tuple(out)


def series_gaps(sessions: Sequence[RecordSession], protocol: ProtocolSpec) -> tuple[SeriesGap, ...]:
    """The gaps between a series' live sessions by their places in the protocol: a main session
    against the main session before it (the stage's gap rule), a follow-on session (KAP
    integration) against the session it follows.  Places with no live session between two main
    sessions are named as missed."""
    by_index = {s.series_index: s for s in sessions if s.series_index is not None}
    slots = series_slots(protocol)
    gaps: list[SeriesGap] = []
    prev: tuple[int, dt.date] | None = None
    skipped: list[int] = []
    for slot in slots:
        stage = protocol.stages[slot.stage]
        s = by_index.get(slot.index)
        if slot.follows is not None:
            parent = by_index.get(slot.follows)
            follow = stage.followed_by
            if s is not None and parent is not None and follow is not None:
                gaps.append(
                    SeriesGap(
                        from_index=slot.follows,
                        to_index=slot.index,
                        from_day=parent.start.date(),
                        to_day=s.start.date(),
                        min_days=follow.min_days,
                        max_days=follow.max_days,
                        rule=f"{follow.min_days}-{follow.max_days} days after its session",
                    )
                )
            continue
        if s is None:
            if prev is not None:
                skipped.append(slot.index)
            continue
        day = s.start.date()
        if prev is not None:
            gaps.append(
                SeriesGap(
                    from_index=prev[0],
                    to_index=slot.index,
                    from_day=prev[1],
                    to_day=day,
                    min_days=stage.min_gap_days,
                    max_days=stage.max_gap_days,
                    rule=f"{stage.name} asks for {stage.min_gap_days}-{stage.max_gap_days} days",
                    missed=tuple(skipped),
                )
            )
        prev = (slot.index, day)
        skipped = []
    return tuple(gaps)
