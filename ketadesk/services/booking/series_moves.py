"""Moving a session and re-flowing the rest of its series, so the protocol's spacing holds.

``propose_series_move`` is a dry run (the planner's ``reflow`` over the window's snapshot);
``move_series`` writes the proposal in one transaction, re-checked like any booking, all or
nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ketadesk.scheduling.calendar import ClinicCalendar, Interval
from ketadesk.scheduling.catalog import HoldMode
from ketadesk.scheduling.model import PlannedHold, PlannedSession
from ketadesk.scheduling.planner import ChangeKind, SeriesChange, SeriesPlan, reflow
from ketadesk.scheduling.protocol_rules import SPACING, SPACING_RULES, Finding
from ketadesk.scheduling.statuses import MOVABLE_STATUSES, RELEASED_STATUSES
from ketadesk.services.access.permissions import require
from ketadesk.services.booking import appointment_changes, booking, plan_check, rule_check
from ketadesk.services.booking.contention import retried_once
from ketadesk.services.booking.planning import horizon_days, load_patient_facts
from ketadesk.services.common.context import Actor, InvalidRequest, NotFound, utcnow
from ketadesk.services.common.errors import ChangedElsewhere
from ketadesk.services.common.session_words import session_words
from ketadesk.services.confirmations import desk_moves
from ketadesk.store import changes
from ketadesk.store.clinic_config import load_catalog, load_config
from ketadesk.store.database import Database
from ketadesk.store.days_away import patient_away_ranges
from ketadesk.store.models import (
    Appointment,
    GatingOverride,
    Protocol,
    Series,
    SessionType,
)
from ketadesk.store.snapshot import load_calendar, load_snapshot

#: A spacing override as the refusal, and the dialog's greyed button, say who may give it.
SPACING_OVERRIDE = "move these sessions against the protocol's spacing"


@dataclass(frozen=True)
class SeriesMove:
    """A proposed re-flow: which appointments move where (unchanged ones are left out), and
    the version each moving appointment had when it was proposed (an appointment changed since
    refuses the move; one left out is not checked)."""

    series_id: int
    moves: tuple[tuple[int, PlannedSession], ...]  # (appointment id, where it goes)
    plan: SeriesPlan
    calendar: ClinicCalendar
    versions: Mapping[int, int] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return self.plan.complete


def _series_plan(
    session: Session, appointment_id: int
) -> tuple[Appointment, Series, str, SeriesPlan, dict[int, Appointment]]:
    appointment = session.get(Appointment, appointment_id)
    if appointment is None:
        raise NotFound(f"no appointment #{appointment_id}")
    if appointment.series_id is None or appointment.series_index is None:
        raise InvalidRequest(f"{session_words(session, appointment)} is not part of a series")
    series = session.get(Series, appointment.series_id)
    assert series is not None
    protocol = session.scalar(select(Protocol.code).where(Protocol.id == series.protocol_id))
    assert protocol is not None
    types = dict(session.execute(select(SessionType.id, SessionType.code)).all())
    rows = session.scalars(
        select(Appointment)
        .where(
            Appointment.series_id == series.id,
            Appointment.status.not_in(tuple(RELEASED_STATUSES)),
        )
        .order_by(Appointment.series_index)
    ).all()
    sessions, ids = [], {}
    for row in rows:
        assert row.series_index is not None
        holds = tuple(
            PlannedHold(
                need=h.need,
                resource_id=h.resource_id,
                mode=HoldMode(h.mode),
                span=Interval(h.starts_at, h.ends_at),
                units=h.units,
            )
            for h in row.holds
            if h.active
        )
        sessions.append(
            PlannedSession(
                index=row.series_index,
                session_type=types[row.session_type_id],
                start=row.starts_at,
                end=row.ends_at,
                holds=holds,
            )
        )
        ids[row.series_index] = row
    # A miss not made up (nor decided) stays a gap the re-flow keeps its spacing across, not a
    # session it would plan again unseen (``reflow``; the make-up offer does the same).
    gaps = tuple(
        PlannedSession(
            index=place,
            session_type=types[row.session_type_id],
            start=row.starts_at,
            end=row.ends_at,
            holds=(),
        )
        for place, row in open_misses(session, series.id, set(ids))
    )
    return appointment, series, protocol, SeriesPlan(protocol, tuple(sessions), missed=gaps), ids


def open_misses(session: Session, series_id: int, taken: set[int]) -> list[tuple[int, Appointment]]:
    """The series' cancelled or missed appointments whose place no live session (nor one in
    ``taken``) holds: one per place (the latest), with its place, in series order."""
    rows = session.scalars(
        select(Appointment)
        .where(
            Appointment.series_id == series_id,
            Appointment.status.in_(("cancelled", "no_show")),
            Appointment.series_index.is_not(None),
        )
        .order_by(Appointment.series_index, Appointment.starts_at)
    ).all()
    by_place = {
        row.series_index: row
        for row in rows
        if row.series_index is not None and row.series_index not in taken
    }
    return sorted(by_place.items())


def propose_series_move(
    db: Database, appointment_id: int, new_start: dt.datetime, *, now: dt.datetime | None = None
) -> SeriesMove:
    """Where the rest of the series goes if this appointment moves to ``new_start``."""
    now = now or utcnow()
    if new_start < now:
        raise InvalidRequest("an appointment cannot be moved into the past")
    with db.read() as session:
        catalog = load_catalog(session)
        appointment, series, protocol, plan, ids = _series_plan(session, appointment_id)
        if appointment.status not in MOVABLE_STATUSES:
            raise InvalidRequest(
                f"{session_words(session, appointment)} is "
                f"{appointment.status.replace('_', ' ')} and cannot be moved"
            )
        spec = catalog.protocols[protocol]
        assert appointment.series_index is not None
        if appointment.series_index not in ids:
            # Read committed: cancelled at another workstation between our two reads.
            raise ChangedElsewhere(
                f"{session_words(session, appointment)} was changed at another workstation; "
                "look at the series again"
            )
        later = [s for s in plan.sessions if s.index >= appointment.series_index]
        first = min(new_start, *(s.start for s in later))
        last = max(new_start, *(s.end for s in later))
        window = Interval(
            first - dt.timedelta(days=1),
            last + dt.timedelta(days=horizon_days(spec)),
        )
        snapshot = load_snapshot(session, window, catalog)
        proposal = reflow(
            plan,
            SeriesChange(appointment.series_index, ChangeKind.MOVED, new_start=new_start),
            spec,
            snapshot.availability(),
            catalog.session_types,
            # The rest re-flowed keeps off the patient's days away (the day the desk chose for
            # the moved one is judged by the rules: a warning there).
            patient_away=patient_away_ranges(session, appointment.patient_id),
        )
        before = {s.index: s for s in plan.sessions}
        moves = tuple(
            (ids[s.index].id, s)
            for s in proposal.sessions
            if s.index in ids
            and s.index >= appointment.series_index
            and (s.start != before[s.index].start or s.holds != before[s.index].holds)
        )
        versions = {row.id: row.version for row in ids.values()}
        return SeriesMove(
            series.id,
            moves,
            proposal,
            snapshot.calendar,
            {appointment_id: versions[appointment_id] for appointment_id, _ in moves},
        )


def move_series(
    db: Database,
    actor: Actor,
    proposal: SeriesMove,
    *,
    reason: str = "",
    spacing_reason: str = "",
    now: dt.datetime | None = None,
    overrides: Mapping[str, str] | None = None,
    patient_knows: bool = False,
) -> int:
    """Write a proposed re-flow, all or nothing; returns how many appointments moved.

    ``patient_knows``: the patient was told the new times as they were moved; otherwise the
    sessions whose start changed owe one schedule-change call (``confirmations.desk_moves``).

    The protocol and gating rules are judged for every moved session inside the transaction
    (``rule_check``); ``spacing_reason`` overrides the spacing rules, ``overrides`` (rule code
    -> reason) any other "warn" rule."""
    require(actor, "move", db, now=now)
    now = now or utcnow()
    unplaced = [s for _, s in proposal.moves if not s.placed]
    if unplaced:
        problems = [p for s in unplaced for p in s.problems]
        raise InvalidRequest("the re-flowed series does not fit: " + "; ".join(problems))
    if proposal.plan.problems:
        # Every session has its place, but the protocol's spacing is broken: a clinician may
        # go ahead with a reason, which is recorded like any gating override.
        if not spacing_reason.strip():
            raise InvalidRequest(
                "the move breaks the clinic's rules: "
                + "; ".join(proposal.plan.problems)
                + " (a nurse or prescriber may override this with a reason)"
            )
        require(
            actor,
            "override_gate",
            db,
            now=now,
            doing=SPACING_OVERRIDE,
        )
    if not proposal.moves:
        return 0  # the series already sits where the proposal would put it
    moving = {appointment_id for appointment_id, _ in proposal.moves}
    sessions = [s for _, s in proposal.moves]

    def write() -> None:
        with db.write() as session:
            # The appointments first, in id order, then the resources (verify_plan): the order
            # every booking write locks in.
            locked = appointment_changes.lock_appointments(session, moving)
            for appointment_id in sorted(moving):
                appointment = locked.get(appointment_id)
                expected = proposal.versions.get(appointment_id)
                if appointment is None:
                    raise InvalidRequest(
                        "a session of the series is no longer on the schedule; plan the move again"
                    )
                if appointment.status not in MOVABLE_STATUSES or (
                    expected is not None and appointment.version != expected
                ):
                    raise InvalidRequest(
                        f"{session_words(session, appointment)} changed at another workstation; "
                        "plan the move again"
                    )
            config = load_config(session)
            catalog = config.catalog
            window = Interval(min(s.start for s in sessions), max(s.end for s in sessions))
            calendar = load_calendar(session, window, catalog)
            resources = plan_check.verify_plan(
                session, calendar, sessions, ignore_appointments=moving
            )
            # The patient's other appointments (a single session, another series) count too:
            # the soak found a series move landing on the patient's own infusion.
            patients = {locked[a].patient_id for a in moving}
            for patient_id in sorted(patients):
                plan_check.check_patient_free(
                    session,
                    calendar,
                    patient_id,
                    [s for a, s in proposal.moves if locked[a].patient_id == patient_id],
                    config,
                    ignore=moving,
                )
            # The protocol and gating rules for each moved session, judged on the patient's
            # sessions as they are now (scheduling/protocol_rules.py).
            given = {**(overrides or {})}
            if spacing_reason.strip():
                given[SPACING] = spacing_reason
            overridden: list[tuple[int, Finding]] = []
            for patient_id in sorted(patients):
                mine = {a: s for a, s in proposal.moves if locked[a].patient_id == patient_id}
                findings = rule_check.judge_moves(
                    session,
                    config,
                    patient_id,
                    mine,
                    facts=load_patient_facts(session, patient_id, catalog, excluding=list(mine)),
                    overrides=given,
                )
                first = min(mine)
                overridden += [
                    (first, f)
                    for f in rule_check.enforce(findings, actor, catalog, fresh=given)
                    if not (spacing_reason.strip() and f.rule in SPACING_RULES)
                ]
            # All the old holds go first: a session may move into the slot the next one leaves,
            # and PostgreSQL's exclusion constraint judges every row as it is written.
            held = appointment_changes.clear_holds(session, moving)
            moved: list[desk_moves.Moved] = []
            for appointment_id, planned in proposal.moves:
                was = locked[appointment_id].starts_at
                event = appointment_changes.relocate(
                    session,
                    actor,
                    locked[appointment_id],
                    planned,
                    resources,
                    reason=reason,
                    now=now,
                    detail={"series_reflow": True},
                    held_before=held.get(appointment_id, ()),
                )
                moved.append(desk_moves.Moved(locked[appointment_id], event, was))
            desk_moves.keep_calls(session, actor, moved, patient_knows=patient_knows, now=now)
            for appointment_id, finding in overridden:
                rule_check.record_overrides(
                    session,
                    actor,
                    [finding],
                    appointment_id,
                    locked[appointment_id].patient_id,
                    now=now,
                )
            if proposal.plan.problems:
                session.add(
                    GatingOverride(
                        series_id=proposal.series_id,
                        rule=booking.SPACING_RULE,
                        reason=spacing_reason,
                        user_id=actor.user_id,
                        at=now,
                    )
                )
            session.flush()  # every row written before the change counter, the last lock taken
            changes.bump(session, now)

    try:
        retried_once(write)
    except IntegrityError as err:
        raise plan_check.conflict_from(err) from None
    return len(proposal.moves)
