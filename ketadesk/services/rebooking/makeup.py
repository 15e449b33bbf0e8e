"""A cancelled or missed session of a series, offered there and then: a make-up session
re-flowed by the planner, a waitlist entry, or the series going on one short, recorded.

``offer_for`` reads the series and asks the planner's ``reflow`` (``SeriesChange`` with
``make_up``) where a make-up session would go, keeping the protocol's spacing, and which of the
later booked sessions would have to move with it, and what the rules engine
(``scheduling/protocol_rules.py``) says of the make-up and the moves; it is a dry run.
``book_make_up`` writes that proposal in one transaction through the booking checks (every hold
against the database as it is now, the patient's other sessions) and the rules engine again
(gaps, window cap, series order, concurrent courses, and the gates for each placed session's
day), all or nothing; a "warn" rule is passed only with an override, a role's reason, recorded
with the make-up like a move's.
``put_on_waitlist`` and ``continue_short`` record the other two answers.  Each answer is one
``series_rebooking`` row per missed session (migration 0011), audited and counted, so the
series shows what became of its missing session instead of quietly shrinking.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ketadesk.scheduling.calendar import ClinicCalendar, Interval
from ketadesk.scheduling.catalog import HoldMode
from ketadesk.scheduling.dates import clock_span
from ketadesk.scheduling.fees import FEE_KIND_NAMES, OWED, money
from ketadesk.scheduling.gating import Severity
from ketadesk.scheduling.model import PlannedHold, PlannedSession
from ketadesk.scheduling.planner import ChangeKind, SeriesChange, SeriesPlan, reflow
from ketadesk.scheduling.protocol_rules import Finding, rule_settings
from ketadesk.scheduling.statuses import MOVABLE_STATUSES, RELEASED_STATUSES
from ketadesk.services.access import audit
from ketadesk.services.access.permissions import require
from ketadesk.services.booking import appointment_changes, plan_check, rule_check, series_moves
from ketadesk.services.booking.booking import room_of, write_holds
from ketadesk.services.booking.contention import retried_once
from ketadesk.services.booking.planning import horizon_days, load_patient_facts
from ketadesk.services.common.context import (
    Actor,
    Database,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    utcnow,
)
from ketadesk.services.followups import sync
from ketadesk.services.waitlist import entries
from ketadesk.store import changes
from ketadesk.store.clinic_config import StoredConfig, load_catalog, load_config
from ketadesk.store.days_away import patient_away_ranges
from ketadesk.store.models import (
    Appointment,
    AppointmentEvent,
    Patient,
    Protocol,
    Resource,
    Series,
    SeriesRebooking,
    SessionFee,
    SessionType,
)
from ketadesk.store.snapshot import load_calendar, load_snapshot

#: The answers, as stored, and how the series shows each.
MADE_UP, WAITLISTED, CONTINUE_SHORT = "made_up", "waitlisted", "continue_short"
DECISION_NAMES = {
    MADE_UP: "made up",
    WAITLISTED: "on the waitlist for a make-up",
    CONTINUE_SHORT: "not made up: the series continues one short",
}
_KIND_OF_ACTION = {"no_show": ChangeKind.MISSED, "cancel": ChangeKind.CANCELLED}
_ACTION_NAMES = {"no_show": "No-show", "cancel": "Cancelled"}


@dataclass(frozen=True, slots=True)
class ProposedSession:
    """One session of the proposal: the make-up (``appointment_id`` None) or a booked later
    session that moves with it (``was_text``: where it is now)."""

    index: int
    session: PlannedSession
    when_text: str  # "Wed 11/25 09:00-10:40"
    room_name: str
    appointment_id: int | None = None
    was_text: str = ""
    was: PlannedSession | None = None  # where a moved session is now (an undo puts it back)


@dataclass(frozen=True, slots=True)
class RebookingOffer:
    """What the desk is offered after a series session was cancelled or missed."""

    appointment_id: int
    series_id: int
    patient_id: int
    patient_name: str
    phone: str
    session_type: str
    session_type_name: str
    protocol_name: str
    missed_index: int
    planned_count: int
    remaining: int  # sessions of the series that will still happen without a make-up
    missed_text: str  # "No-show: IV ketamine infusion 3/6, Tue 11/24 09:00"
    make_up: ProposedSession | None
    moves: tuple[ProposedSession, ...]
    problems: tuple[str, ...]  # why no make-up can be placed
    fee_text: str  # "No-show fee $150.00 recorded", or ""
    decided: str = ""  # an answer already recorded (DECISION_NAMES), else ""
    versions: Mapping[int, int] = field(default_factory=dict)
    #: The rules the proposal breaks (judged again when it is booked): a "warn" one asks an
    #: override, a "block" one refuses it.
    findings: tuple[Finding, ...] = ()
    override_roles: tuple[str, ...] = ()  # who may override a "warn" rule, with a reason

    @property
    def blocked(self) -> tuple[Finding, ...]:
        """The rules that refuse the make-up with no override possible."""
        return tuple(f for f in self.findings if f.severity is Severity.BLOCK)

    @property
    def can_make_up(self) -> bool:
        return (
            not self.decided
            and self.make_up is not None
            and self.make_up.session.placed
            and not self.problems
            and not self.blocked
        )

    @property
    def short_text(self) -> str:
        """ "Series continues with 5 of 6"."""
        return f"Series continues with {self.remaining} of {self.planned_count}"


@dataclass(frozen=True, slots=True)
class MadeUp:
    appointment_id: int
    moved: int
    text: str  # "Make-up booked: Wed 11/25 09:00-10:40, Room 1"
    #: The overrides it was booked with (rule -> reason): a redo books it with them again.
    overrides: Mapping[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class _Attempt:
    """One make-up the planner proposed, the later sessions it moves, and the rules' say."""

    plan: SeriesPlan
    make_up: ProposedSession | None = None
    moves: list[ProposedSession] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    @property
    def start(self) -> dt.datetime | None:
        return self.make_up.session.start if self.make_up is not None else None

    @property
    def refused(self) -> bool:
        """No place, or a place a rule refuses with no override possible."""
        return (
            self.make_up is None
            or not self.make_up.session.placed
            or bool(self.problems)
            or any(f.severity is Severity.BLOCK for f in self.findings)
        )


def _when(calendar: ClinicCalendar, start: dt.datetime, end: dt.datetime) -> str:
    a, b = calendar.local(start), calendar.local(end)
    return f"{a:%a %m/%d} {clock_span(a, b, calendar.settings.time_format)}"


def _planned_of(row: Appointment, code: str) -> PlannedSession:
    assert row.series_index is not None
    return PlannedSession(
        index=row.series_index,
        session_type=code,
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


def _missed(session: Session, appointment_id: int) -> tuple[Appointment, str]:
    """The cancelled or missed series appointment, and the action that released it."""
    appointment = session.get(Appointment, appointment_id)
    if appointment is None:
        raise NotFound(f"no appointment #{appointment_id}")
    if appointment.series_id is None or appointment.series_index is None:
        raise InvalidRequest(f"appointment #{appointment_id} is not part of a series")
    if appointment.status not in ("cancelled", "no_show"):
        raise InvalidRequest(
            f"appointment #{appointment_id} is {appointment.status.replace('_', ' ')}; only a "
            "cancelled or missed session is made up"
        )
    action = "no_show" if appointment.status == "no_show" else "cancel"
    return appointment, action


def _places_missed(session: Session, series_id: int) -> int:
    """How many places of the series were cancelled or missed and not made up (no live
    appointment holds that place now): by how much the series has shrunk."""
    live = select(Appointment.series_index).where(
        Appointment.series_id == series_id,
        Appointment.status.not_in(tuple(RELEASED_STATUSES)),
    )
    return (
        session.scalar(
            select(func.count(func.distinct(Appointment.series_index))).where(
                Appointment.series_id == series_id,
                Appointment.status.in_(("cancelled", "no_show")),
                Appointment.series_index.not_in(live),
            )
        )
        or 0
    )


def _propose(
    session: Session, appointment_id: int, now: dt.datetime
) -> tuple[RebookingOffer, SeriesPlan]:
    config = load_config(session)
    catalog = config.catalog
    calendar = ClinicCalendar(catalog.settings)
    missed, action = _missed(session, appointment_id)
    assert missed.series_id is not None
    assert missed.series_index is not None
    series = session.get(Series, missed.series_id)
    assert series is not None
    protocol_code, protocol_name = session.execute(
        select(Protocol.code, Protocol.name).where(Protocol.id == series.protocol_id)
    ).one()
    types = dict(session.execute(select(SessionType.id, SessionType.code)).all())
    type_names = dict(session.execute(select(SessionType.code, SessionType.name)).all())
    patient = session.get(Patient, missed.patient_id)
    assert patient is not None
    live = session.scalars(
        select(Appointment)
        .where(
            Appointment.series_id == series.id,
            Appointment.status.not_in(tuple(RELEASED_STATUSES)),
        )
        .order_by(Appointment.series_index)
    ).all()
    by_index = {row.series_index: row for row in live if row.series_index is not None}
    code = types[missed.session_type_id]
    decided = session.scalar(
        select(SeriesRebooking.decision).where(SeriesRebooking.appointment_id == missed.id)
    )
    if decided is None and missed.series_index in by_index:
        decided = MADE_UP  # made up under the same number some other way (a booking by hand)
    fee = session.execute(
        select(SessionFee.kind, SessionFee.amount_cents, SessionFee.currency).where(
            SessionFee.appointment_id == missed.id, SessionFee.status == OWED
        )
    ).first()
    fee_text = f"{FEE_KIND_NAMES[fee[0]]} fee {money(fee[1], fee[2])} recorded" if fee else ""
    missed_at = calendar.local(missed.starts_at)
    missed_text = (
        f"{'Late cancellation' if missed.late_cancel else _ACTION_NAMES[action]}: "
        f"{type_names.get(code, code)} "
        f"{missed.series_index}/{series.planned_count}, "
        f"{missed_at:%a %m/%d} {calendar.clock(missed_at)}"
    )
    missed_places = _places_missed(session, series.id)
    spec = catalog.protocols.get(protocol_code)
    plan = SeriesPlan(protocol_code, ())
    make_up: ProposedSession | None = None
    moves: list[ProposedSession] = []
    problems: list[str] = []
    findings: list[Finding] = []
    if spec is None:
        problems.append(f"the protocol {protocol_code!r} is no longer in the clinic's settings")
    elif not decided:
        today = calendar.local_date(now)
        not_before = max(calendar.local_date(missed.starts_at), today) + dt.timedelta(days=1)
        sessions = [_planned_of(row, types[row.session_type_id]) for row in by_index.values()]
        sessions.append(
            PlannedSession(
                index=missed.series_index,
                session_type=code,
                start=missed.starts_at,
                end=missed.ends_at,
                holds=(),
            )
        )
        sessions.sort(key=lambda s: s.index)
        # Other misses of the series not made up (a cancellation left to "Decide later", a
        # series going on short): gaps the make-up keeps its spacing across, never a session
        # the planner would count on and the offer would not book.
        gaps = tuple(
            PlannedSession(
                index=place,
                session_type=types[row.session_type_id],
                start=row.starts_at,
                end=row.ends_at,
                holds=(),
            )
            for place, row in series_moves.open_misses(
                session, series.id, set(by_index) | {missed.series_index}
            )
        )
        last = max([s.end for s in sessions] + [calendar.day_bounds(not_before).end])
        window = Interval(
            calendar.day_bounds(not_before).start - dt.timedelta(days=1),
            last
            + dt.timedelta(
                days=horizon_days(spec) + max(stage.max_gap_days for stage in spec.stages)
            ),
        )
        snapshot = load_snapshot(session, window, catalog)
        away = patient_away_ranges(session, missed.patient_id)
        rooms = dict(session.execute(select(Resource.id, Resource.name)).all())
        resources = snapshot.availability().resources

        def room_name(s: PlannedSession) -> str:
            room = room_of(s, resources)
            return rooms.get(room, "") if room is not None else "no room"

        index: int = missed.series_index

        def attempt(first_day: dt.date) -> _Attempt:
            """The planner's make-up from ``first_day`` on, and what the rules say of it."""
            plan = reflow(
                SeriesPlan(protocol_code, tuple(sessions), missed=gaps),
                SeriesChange(
                    index,
                    _KIND_OF_ACTION[action],
                    not_before=first_day,
                    make_up=True,
                ),
                spec,
                snapshot.availability(),
                catalog.session_types,
                patient_away=away,
            )
            out = _Attempt(plan)
            new = plan.session(index)
            if new is not None:
                out.make_up = ProposedSession(
                    new.index, new, _when(calendar, new.start, new.end), room_name(new)
                )
                out.problems.extend(new.problems)
            for s in plan.sessions:
                row = by_index.get(s.index)
                if row is not None and s.index != index:
                    before = _planned_of(row, types[row.session_type_id])
                    if s.index > index and (s.start != before.start or s.holds != before.holds):
                        out.moves.append(
                            ProposedSession(
                                s.index,
                                s,
                                _when(calendar, s.start, s.end),
                                room_name(s),
                                row.id,
                                _when(calendar, row.starts_at, row.ends_at),
                                before,
                            )
                        )
                        out.problems.extend(s.problems)
            if out.make_up is not None and out.make_up.session.placed and not out.problems:
                # The spacing, the cap and the gates, as the booking will judge them.
                out.findings = _judge(session, config, missed, out.make_up.session, out.moves, None)
            return out

        # The planner keeps the series' spacing but not every rule (a cap counting the
        # patient's other sessions, a gate's end date): a place a blocking rule refuses is no
        # offer, so the next days are tried, as far as the protocol's longest gap, and the
        # first place the rules allow is offered (else the first, with what refuses it).
        tried: list[_Attempt] = []
        for extra in range(max(stage.max_gap_days for stage in spec.stages) + 1):
            found = attempt(not_before + dt.timedelta(days=extra))
            if tried and found.start == tried[-1].start:
                continue  # the same place again (closed days in between)
            tried.append(found)
            if not found.refused:
                break
        chosen = next((a for a in tried if not a.refused), tried[0])
        plan = chosen.plan
        make_up, moves, problems, findings = (
            chosen.make_up,
            chosen.moves,
            chosen.problems,
            chosen.findings,
        )
    offer = RebookingOffer(
        appointment_id=missed.id,
        series_id=series.id,
        patient_id=patient.id,
        patient_name=patient.display_name,
        phone=patient.phone or "",
        session_type=code,
        session_type_name=type_names.get(code, code),
        protocol_name=protocol_name,
        missed_index=missed.series_index,
        planned_count=series.planned_count,
        remaining=series.planned_count - missed_places,
        missed_text=missed_text,
        make_up=make_up,
        moves=tuple(moves),
        problems=tuple(dict.fromkeys(problems)),
        fee_text=fee_text,
        decided=DECISION_NAMES.get(decided or "", ""),
        versions={row.id: row.version for row in live} | {missed.id: missed.version},
        findings=tuple(findings),
        override_roles=rule_settings(catalog.settings).override_roles,
    )
    return offer, plan


def _judge(
    session: Session,
    config: StoredConfig,
    missed: Appointment,
    make_up: PlannedSession,
    moves: Sequence[ProposedSession],
    overrides: Mapping[str, str] | None,
) -> list[Finding]:
    """What the make-up (a new session in the missed one's place) and the later sessions it
    moves break, by the one rules engine.  The moved sessions' prior-authorization units are
    counted once, at their new dates; the make-up spends its own."""
    assert missed.series_id is not None
    moved = {m.appointment_id: m.session for m in moves if m.appointment_id is not None}
    facts = load_patient_facts(session, missed.patient_id, config.catalog, excluding=list(moved))
    if facts is None:
        raise NotFound(f"no patient #{missed.patient_id}")
    return rule_check.judge_changes(
        session,
        config,
        missed.patient_id,
        moved,
        added=[(missed.series_id, make_up)],
        facts=facts,
        overrides=overrides,
    )


def offer_for(
    db: Database, appointment_id: int, *, now: dt.datetime | None = None
) -> RebookingOffer | None:
    """The offer after a series session was cancelled or missed (None when the appointment
    is not a cancelled or missed session of a series, or its series was ended by a
    prescriber: nothing to offer)."""
    now = now or utcnow()
    with db.read() as session:
        appointment = session.get(Appointment, appointment_id)
        if (
            appointment is None
            or appointment.series_id is None
            or appointment.status not in ("cancelled", "no_show")
            or session.scalar(select(Series.status).where(Series.id == appointment.series_id))
            == "ended"
        ):
            return None
        return _propose(session, appointment_id, now)[0]


def _refuse_if_decided(session: Session, missed: Appointment) -> None:
    taken = session.scalar(
        select(SeriesRebooking.decision).where(SeriesRebooking.appointment_id == missed.id)
    )
    if taken is not None:
        raise InvalidRequest(
            f"what becomes of appointment #{missed.id} is decided already: {DECISION_NAMES[taken]}"
        )


def _decide(
    session: Session,
    actor: Actor,
    missed: Appointment,
    decision: str,
    *,
    now: dt.datetime,
    make_up_id: int | None = None,
    entry_id: int | None = None,
    note: str = "",
) -> None:
    assert missed.series_id is not None
    _refuse_if_decided(session, missed)
    row = SeriesRebooking(
        appointment_id=missed.id,
        series_id=missed.series_id,
        decision=decision,
        make_up_appointment_id=make_up_id,
        waitlist_entry_id=entry_id,
        decided_at=now,
        decided_by_id=actor.user_id,
        note=note,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor,
        f"rebooking_{decision}",
        "series",
        missed.series_id,
        patient_id=missed.patient_id,
        after={
            "missed_appointment_id": missed.id,
            "decision": decision,
            "make_up_appointment_id": make_up_id,
            "waitlist_entry_id": entry_id,
        },
        detail=note,
        now=now,
    )


def book_make_up(
    db: Database,
    actor: Actor,
    offer: RebookingOffer,
    *,
    overrides: Mapping[str, str] | None = None,
    now: dt.datetime | None = None,
) -> MadeUp:
    """Book the proposed make-up (and move the later sessions it needs moved), all or nothing,
    re-checked as any booking: the holds, the patient's other sessions, and the rules engine
    for the make-up and each moved session (``rule_check.RuleRefused`` names every rule that
    stops it).  ``overrides`` (rule -> reason) let a "warn" rule through when the actor's role
    may override; each is recorded with the make-up and audited.  A session changed since the
    proposal refuses it ("plan it again")."""
    require(actor, "book", db, now=now)
    if offer.moves:
        require(actor, "move", db, now=now)
    now = now or utcnow()
    if offer.decided:
        raise InvalidRequest(f"the missed session is {offer.decided} already")
    make_up = offer.make_up
    if make_up is None or not make_up.session.placed:
        raise InvalidRequest(
            "no make-up session fits: "
            + ("; ".join(offer.problems) or "the planner found no place")
        )
    if offer.problems:
        raise InvalidRequest("no make-up session fits: " + "; ".join(offer.problems))
    if make_up.session.start < now:
        raise InvalidRequest("the make-up session would start in the past")
    moving = {m.appointment_id for m in offer.moves if m.appointment_id is not None}
    planned = [make_up.session, *(m.session for m in offer.moves)]

    def write() -> MadeUp:
        with db.write() as session:
            locked = appointment_changes.lock_appointments(session, moving | {offer.appointment_id})
            missed = locked.get(offer.appointment_id)
            if missed is None or missed.status not in ("cancelled", "no_show"):
                raise InvalidRequest(
                    f"appointment #{offer.appointment_id} changed at another workstation; "
                    "look at the series again"
                )
            _refuse_if_decided(session, missed)
            for appointment_id in sorted(moving):
                row = locked.get(appointment_id)
                expected = offer.versions.get(appointment_id)
                if (
                    row is None
                    or row.status not in MOVABLE_STATUSES
                    or (expected is not None and row.version != expected)
                ):
                    raise InvalidRequest(
                        f"appointment #{appointment_id} changed at another workstation; "
                        "plan the make-up again"
                    )
            config = load_config(session)
            catalog = config.catalog
            window = Interval(min(s.start for s in planned), max(s.end for s in planned))
            calendar = load_calendar(session, window, catalog)
            resources = plan_check.verify_plan(
                session, calendar, planned, ignore_appointments=moving, now=now
            )
            plan_check.check_patient_free(
                session, calendar, missed.patient_id, planned, config, ignore=moving
            )
            # The protocol and gating rules, judged here in the write's own transaction.
            findings = _judge(session, config, missed, make_up.session, offer.moves, overrides)
            overridden = rule_check.enforce(
                findings, actor, catalog, fresh=overrides, what="the make-up"
            )
            held = appointment_changes.clear_holds(session, moving) if moving else {}
            for move in offer.moves:
                assert move.appointment_id is not None
                appointment_changes.relocate(
                    session,
                    actor,
                    locked[move.appointment_id],
                    move.session,
                    resources,
                    reason=f"re-flowed for the make-up of session {offer.missed_index}",
                    now=now,
                    detail={"series_reflow": True, "make_up_for": offer.appointment_id},
                    held_before=held.get(move.appointment_id, ()),
                )
            s = make_up.session
            room = room_of(s, resources)
            new = Appointment(
                patient_id=missed.patient_id,
                series_id=missed.series_id,
                series_index=missed.series_index,
                session_type_id=config.session_type_ids[s.session_type],
                room_id=room,
                starts_at=s.start,
                ends_at=s.end,
                status="booked",
                late_cancel=False,
                checklist={},
                notes="",
                created_at=now,
                updated_at=now,
            )
            session.add(new)
            session.flush()
            write_holds(session, new.id, s.holds)
            rule_check.record_overrides(
                session, actor, overridden, new.id, missed.patient_id, now=now
            )
            session.add(
                AppointmentEvent(
                    appointment_id=new.id,
                    at=now,
                    user_id=actor.user_id,
                    action="book",
                    from_status=None,
                    to_status="booked",
                    reason=f"make-up for session {offer.missed_index}",
                    detail={"make_up_for": offer.appointment_id},
                )
            )
            audit.record(
                session,
                actor,
                "book",
                "appointment",
                new.id,
                patient_id=missed.patient_id,
                after={
                    "status": "booked",
                    "starts_at": s.start.isoformat(),
                    "ends_at": s.end.isoformat(),
                    "room_id": room,
                    "make_up_for": offer.appointment_id,
                },
                now=now,
            )
            _decide(session, actor, missed, MADE_UP, now=now, make_up_id=new.id)
            session.flush()
            # The missed session's outreach call is answered by its make-up.
            sync.sync_follow_ups(session, actor, [new.id, missed.id], now=now, config=config)
            session.flush()  # every row written before the change counter, the last lock taken
            changes.bump(session, now)
            return MadeUp(
                new.id,
                len(offer.moves),
                f"Make-up booked for {offer.patient_name}: {make_up.when_text}, "
                f"{make_up.room_name}"
                + (
                    f"; {len(offer.moves)} later session"
                    f"{'s' if len(offer.moves) != 1 else ''} moved"
                    if offer.moves
                    else ""
                ),
                {k: v.strip() for k, v in (overrides or {}).items() if v.strip()},
            )

    try:
        return retried_once(write)
    except IntegrityError as err:
        raise plan_check.conflict_from(err) from None
    except PermissionDenied as err:
        # An override by a role that may not give it, found inside the transaction.
        audit.record_refusal(db, err, entity="appointment", entity_id=offer.appointment_id, now=now)
        raise


def put_on_waitlist(
    db: Database,
    actor: Actor,
    appointment_id: int,
    *,
    deadline: dt.date | None = None,
    now: dt.datetime | None = None,
) -> int:
    """Put the patient on the waitlist for a make-up of the missed session (the waitlist's own
    checks and audit), and record it on the series; returns the entry's id."""
    require(actor, "manage_waitlist", db, now=now)
    now = now or utcnow()
    with db.read() as session:
        missed, _action = _missed(session, appointment_id)
        # Checked before the entry is added (and again when the answer is written).
        _refuse_if_decided(session, missed)
        catalog = load_catalog(session)
        calendar = ClinicCalendar(catalog.settings)
        code = session.scalar(
            select(SessionType.code).where(SessionType.id == missed.session_type_id)
        )
        assert code is not None
        assert missed.series_id is not None
        later = session.scalar(
            select(Appointment.starts_at)
            .where(
                Appointment.series_id == missed.series_id,
                Appointment.status.not_in(tuple(RELEASED_STATUSES)),
                Appointment.starts_at > now,
            )
            .order_by(Appointment.starts_at.desc())
            .limit(1)
        )
        series = session.get(Series, missed.series_id)
        assert series is not None
        protocol = session.scalar(select(Protocol.code).where(Protocol.id == series.protocol_id))
        spec = catalog.protocols.get(protocol or "")
        today = calendar.local_date(now)
        if deadline is None:
            # Before the series' last booked session, or within the protocol's reach.
            reach = horizon_days(spec) if spec is not None else 0
            deadline = (calendar.local_date(later) if later is not None else today) + dt.timedelta(
                days=0 if later is not None else max(reach, 1)
            )
        index, count = missed.series_index, series.planned_count
        patient_id, missed_on = missed.patient_id, calendar.local(missed.starts_at)
    entry_id = entries.add_entry(
        db,
        actor,
        entries.EntryFields(
            patient_id=patient_id,
            session_type=code,
            kind="earlier",
            deadline=deadline,
            notes=f"Make-up for session {index}/{count} ({missed_on:%m/%d})",
        ),
        now=now,
    )
    with db.write() as session:
        row = session.get(Appointment, appointment_id)
        assert row is not None
        _decide(session, actor, row, WAITLISTED, now=now, entry_id=entry_id)
        session.flush()
        sync.sync_follow_ups(session, actor, [row.id], now=now)  # its outreach call answered
        changes.bump(session, now)
    return entry_id


def continue_short(
    db: Database,
    actor: Actor,
    appointment_id: int,
    *,
    note: str = "",
    now: dt.datetime | None = None,
) -> str:
    """No make-up: the series goes on one short, recorded so the series shows it.  Returns
    what to tell the desk ("Series continues with 5 of 6")."""
    require(actor, "book", db, now=now)
    now = now or utcnow()
    with db.write() as session:
        row, _action = _missed(session, appointment_id)
        assert row.series_id is not None
        series = session.get(Series, row.series_id)
        assert series is not None
        _decide(session, actor, row, CONTINUE_SHORT, now=now, note=note.strip())
        session.flush()
        sync.sync_follow_ups(session, actor, [row.id], now=now)  # its outreach call answered
        changes.bump(session, now)
        count = series.planned_count
        return f"Series continues with {count - _places_missed(session, row.series_id)} of {count}"


def undo_make_up(
    db: Database,
    actor: Actor,
    offer: RebookingOffer,
    made_up_id: int,
    *,
    now: dt.datetime | None = None,
) -> None:
    """Take back a make-up booked from ``offer``: the make-up is cancelled (no fee: it is a
    correction, not a patient's cancellation), the sessions it moved go back where they were
    if those places are still free, and the missed session is undecided again.  All or
    nothing; refused with the reason when anything changed since."""
    require(actor, "book", db, now=now)
    now = now or utcnow()
    moved = {m.appointment_id: m for m in offer.moves if m.appointment_id is not None}
    back = [m.was for m in moved.values() if m.was is not None]

    def write() -> None:
        with db.write() as session:
            locked = appointment_changes.lock_appointments(
                session, {made_up_id, offer.appointment_id, *moved}
            )
            made = locked.get(made_up_id)
            decision = session.scalar(
                select(SeriesRebooking).where(
                    SeriesRebooking.appointment_id == offer.appointment_id
                )
            )
            if (
                made is None
                or made.status != "booked"
                or decision is None
                or decision.make_up_appointment_id != made_up_id
            ):
                raise InvalidRequest("the make-up changed since; it is no longer this to take back")
            for appointment_id, move in moved.items():
                row = locked.get(appointment_id)
                if (
                    row is None
                    or row.status not in MOVABLE_STATUSES
                    or (row.starts_at, row.ends_at) != (move.session.start, move.session.end)
                ):
                    raise InvalidRequest(
                        f"appointment #{appointment_id} was moved or changed since the make-up; "
                        "it is no longer this to take back"
                    )
            config = load_config(session)
            ignore = {made_up_id, *moved}
            resources = {}
            if back:
                window = Interval(min(s.start for s in back), max(s.end for s in back))
                calendar = load_calendar(session, window, config.catalog)
                resources = plan_check.verify_plan(
                    session, calendar, back, ignore_appointments=ignore, now=now
                )
                # The patient may have been booked into an old place since (issue 13).
                plan_check.check_patient_free(
                    session, calendar, made.patient_id, back, config, ignore=ignore
                )
            before = {"status": made.status, "starts_at": made.starts_at.isoformat()}
            made.status = "cancelled"
            made.updated_at = now
            for hold in made.holds:
                hold.active = False
            session.add(
                AppointmentEvent(
                    appointment_id=made.id,
                    at=now,
                    user_id=actor.user_id,
                    action="undo",
                    from_status="booked",
                    to_status="cancelled",
                    reason="make-up taken back",
                    detail={"make_up_for": offer.appointment_id},
                )
            )
            held = appointment_changes.clear_holds(session, moved) if moved else {}
            for appointment_id, move in moved.items():
                assert move.was is not None
                appointment_changes.relocate(
                    session,
                    actor,
                    locked[appointment_id],
                    move.was,
                    resources,
                    reason="undo",
                    now=now,
                    detail={"undoes_make_up_of": offer.appointment_id},
                    held_before=held.get(appointment_id, ()),
                )
            session.delete(decision)
            session.flush()
            audit.record(
                session,
                actor,
                "undo_make_up",
                "appointment",
                made.id,
                patient_id=made.patient_id,
                before=before,
                after={"status": "cancelled", "starts_at": made.starts_at.isoformat()},
                detail=f"make-up of appointment #{offer.appointment_id} taken back",
                now=now,
            )
            # The miss is unanswered again: its outreach call, if still owed, re-opens.
            sync.sync_follow_ups(
                session, actor, [made.id, offer.appointment_id], now=now, config=config
            )
            session.flush()
            changes.bump(session, now)

    try:
        retried_once(write)
    except IntegrityError as err:
        raise plan_check.conflict_from(err) from None
