"""Where can this appointment go?  The read-only check behind dragging a block in the day view.

``prepare_move`` reads, in one short read transaction, everything a move of one appointment
within a window (a clinic day) depends on: the window's holds without the appointment's own, the
calendar, the patient's other sessions and who sits in each room.  Every check after that
(``MoveCheck.check``) is plain computation on that snapshot through the scheduling package, a
fraction of a millisecond, so a drag can ask at every slot it crosses.  A check is advice: the
write (``appointment_changes.move``) re-checks inside its own transaction, as every booking does.

``plan_move`` turns an accepted place into the ``PlannedSession`` that
``appointment_changes.move`` writes (the room asked for, the other resources kept where they are
still free), and
``placement_of`` captures an appointment's place exactly as booked, holds and all, so that an
undo can put it back.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from sqlalchemy import select

from ketadesk.config import Catalog
from ketadesk.scheduling.availability import Availability, describe_day, seconds
from ketadesk.scheduling.calendar import ClinicCalendar, Interval
from ketadesk.scheduling.catalog import HoldMode, ResourceKind, ResourceNeed, SessionTypeSpec
from ketadesk.scheduling.days_away import AwayRange
from ketadesk.scheduling.dosing_days import crowded_days
from ketadesk.scheduling.gating import PatientFacts, Severity
from ketadesk.scheduling.model import PlannedHold, PlannedSession, session_holds
from ketadesk.scheduling.openings import SessionSearch
from ketadesk.scheduling.protocol_rules import (
    DESK_RULES,
    CourseSession,
    Finding,
    ProtocolRuleSettings,
    judge,
    rule_settings,
    stopping,
)
from ketadesk.scheduling.statuses import MOVABLE_STATUSES, RELEASED_STATUSES
from ketadesk.services.booking.plan_check import BookingConflict
from ketadesk.services.booking.planning import load_patient_facts
from ketadesk.services.booking.rule_check import course_sessions, moved_into, stored_overrides
from ketadesk.services.common.context import InvalidRequest, NotFound, utcnow
from ketadesk.store.clinic_config import load_config
from ketadesk.store.database import Database
from ketadesk.store.days_away import patient_away_ranges
from ketadesk.store.models import Appointment, Patient, SessionType
from ketadesk.store.queries import overlapping
from ketadesk.store.snapshot import load_snapshot


@dataclass(frozen=True)
class Placement:
    """Where an appointment is, exactly as booked (its active holds included).

    Attributes:
        appointment_id: the appointment.
        status: its status now.
        room_id: its room (None: no room, e.g. telehealth).
        session: its time and holds as a plan ``appointment_changes.move`` can write back.
        series_id: its series, if any.
        patient_name: whose session it is ("Seacole, Mary"), for what an undo is called.
    """

    appointment_id: int
    status: str
    room_id: int | None
    session: PlannedSession
    series_id: int | None = None
    patient_name: str = ""

    @property
    def start(self) -> dt.datetime:
        return self.session.start


@dataclass(frozen=True)
class _Occupant:
    room_id: int
    start: dt.datetime
    end: dt.datetime
    label: str  # "Franklin, R. — IV ketamine infusion,"


def _placement(appointment: Appointment, type_code: str) -> Placement:
    holds = tuple(
        PlannedHold(
            need=h.need,
            resource_id=h.resource_id,
            mode=HoldMode(h.mode),
            span=Interval(h.starts_at, h.ends_at),
            units=h.units,
        )
        for h in appointment.holds
        if h.active
    )
    return Placement(
        appointment_id=appointment.id,
        status=appointment.status,
        room_id=appointment.room_id,
        session=PlannedSession(
            index=appointment.series_index or 1,
            session_type=type_code,
            start=appointment.starts_at,
            end=appointment.ends_at,
            holds=holds,
        ),
        series_id=appointment.series_id,
    )


def placement_of(db: Database, appointment_id: int) -> Placement:
    """Where an appointment is now, holds and all (what an undo puts back)."""
    with db.read() as session:
        appointment = session.get(Appointment, appointment_id)
        if appointment is None:
            raise NotFound(f"no appointment #{appointment_id}")
        config = load_config(session)
        placed = _placement(appointment, config.session_type_code(appointment.session_type_id))
        patient = session.get(Patient, appointment.patient_id)
        if patient is None:
            return placed
        return replace(placed, patient_name=patient.display_name)


@dataclass(frozen=True)
class MoveVerdict:
    """What a check says of one place: it fits, it is refused, or it is refused only by rules
    set to "warn" that a role of ``[protocol_rules] override_roles`` may go past with a reason.

    Attributes:
        reasons: why the session cannot go there, in the desk's words; empty: it fits.
        overridable: when the place is refused only by "warn" rules (and fits otherwise: room,
            staff and equipment are free), those rules; empty: it fits, or the refusal is hard.
        rules: the clinic's ``[protocol_rules]`` (who may override).
    """

    reasons: tuple[str, ...] = ()
    overridable: tuple[Finding, ...] = ()
    rules: ProtocolRuleSettings | None = field(default=None, repr=False)

    @property
    def fits(self) -> bool:
        return not self.reasons

    @property
    def needs_override(self) -> bool:
        """Refused only by "warn" rules: a role that may override can go ahead with a reason."""
        return bool(self.reasons) and bool(self.overridable)

    @property
    def override_roles(self) -> tuple[str, ...]:
        """The roles that may go past a "warn" rule with a reason (``[protocol_rules]``)."""
        return self.rules.override_roles if self.rules is not None else ()

    def may_override(self, role: str) -> bool:
        """Whether a user of ``role`` may move the session here with a reason."""
        return (
            self.needs_override
            and self.rules is not None
            and self.rules.may_override(role, [f.rule for f in self.overridable])
        )

    def who_may_override(self) -> str:
        """ "a nurse or a prescriber": who may go past the rules refusing this place."""
        if self.rules is not None and all(f.rule in DESK_RULES for f in self.overridable):
            return "whoever moves it"
        return self.rules.who_may_override() if self.rules is not None else "no one"


@dataclass
class MoveCheck:
    """One appointment's possible places within a window, read once, checked in memory.

    Attributes:
        placement: where the appointment is now.
        window: the span checks may ask about (a local day, or two).
        spec: its session type.
        now: moves into the past are refused.
    """

    placement: Placement
    window: Interval
    spec: SessionTypeSpec
    now: dt.datetime
    catalog: Catalog = field(repr=False)
    availability: Availability = field(repr=False)
    patient_sessions: tuple[tuple[int, dt.datetime, dt.datetime, bool], ...] = field(repr=False)
    occupants: tuple[_Occupant, ...] = field(repr=False)
    #: The patient's live sessions as the protocol rules see them (this one included), the
    #: patient's gating facts (None: a tentative hold, gated when confirmed), and the overrides
    #: on record for this appointment and its series, to which a caller may add its own
    #: (``ketadesk move --override``) before checking.
    course: tuple[CourseSession, ...] = field(default=(), repr=False)
    facts: PatientFacts | None = field(default=None, repr=False)
    overrides: dict[str, str] = field(default_factory=dict, repr=False)
    #: The patient's days away (a move onto one is a "warn" the mover may override).
    away: tuple[AwayRange, ...] = field(default=(), repr=False)
    _rules: ProtocolRuleSettings | None = field(default=None, repr=False)
    _cache: dict[tuple[dt.datetime, int | None], tuple[PlannedSession, tuple[Finding, ...]]] = (
        field(default_factory=dict, repr=False)
    )

    @property
    def calendar(self) -> ClinicCalendar:
        return self.availability.calendar

    @property
    def duration(self) -> dt.timedelta:
        return self.placement.session.end - self.placement.session.start

    def covers(self, start: dt.datetime) -> bool:
        """Whether a session starting at ``start`` lies in the window read."""
        return self.window.start <= start and start + self.duration <= self.window.end

    def findings(self, new_start: dt.datetime) -> list[Finding]:
        """The protocol and gating rules a move to ``new_start`` breaks (overridden ones too,
        marked so), judged by ``scheduling/protocol_rules``."""
        moved = {self.placement.appointment_id: replace(self.placement.session, start=new_start)}
        sessions, before = moved_into(self.course, moved, self.calendar)
        return judge(
            sessions,
            set(moved),
            protocols=self.catalog.protocols,
            session_types=self.catalog.session_types,
            clinic=self.catalog.settings,
            before=before,
            facts=self.facts,
            overrides=self.overrides,
            away=self.away,
        )

    def check(self, new_start: dt.datetime, new_room_id: int | None) -> list[str]:
        """Why the appointment cannot go to ``new_start`` in ``new_room_id``; empty: it fits."""
        return list(self.plan(new_start, new_room_id).problems)

    def verdict(self, new_start: dt.datetime, new_room_id: int | None) -> MoveVerdict:
        """``check`` with what a drop needs to know: whether the refusal is only by "warn"
        rules (an override by a role of ``override_roles`` lets the session go there)."""
        planned, overridable = self._planned(new_start, new_room_id)
        if self._rules is None:
            self._rules = rule_settings(self.catalog.settings)
        return MoveVerdict(reasons=planned.problems, overridable=overridable, rules=self._rules)

    def plan(self, new_start: dt.datetime, new_room_id: int | None) -> PlannedSession:
        """The session at its new place, resources chosen; ``problems`` say why it cannot be."""
        return self._planned(new_start, new_room_id)[0]

    def _planned(
        self, new_start: dt.datetime, new_room_id: int | None
    ) -> tuple[PlannedSession, tuple[Finding, ...]]:
        key = (new_start, new_room_id)
        found = self._cache.get(key)
        if found is None:
            found = self._plan(new_start, new_room_id)
            self._cache[key] = found
        return found

    # -- the rules, in the order the desk wants to hear them -------------------------------------

    def _plan(
        self, new_start: dt.datetime, new_room_id: int | None
    ) -> tuple[PlannedSession, tuple[Finding, ...]]:
        """The session at its new place (or why not), and, when only "warn" rules refuse it
        and it fits otherwise, those rules."""
        spec, placement = self.spec, self.placement
        end = new_start + dt.timedelta(minutes=spec.total_minutes)

        def refused(*reasons: str) -> tuple[PlannedSession, tuple[Finding, ...]]:
            return PlannedSession(
                index=placement.session.index,
                session_type=spec.code,
                start=new_start,
                end=end,
                holds=(),
                problems=tuple(reasons),
            ), ()

        if placement.status not in MOVABLE_STATUSES:
            status = placement.status.replace("_", " ")
            return refused(f"the session is {status} and cannot be moved")
        if new_start < self.now:
            return refused("an appointment cannot be moved into the past")
        if not self.covers(new_start):
            return refused(f"{describe_day(self.calendar.local_date(new_start))} was not loaded")
        room_need = next((n for n in spec.needs if n.kind is ResourceKind.ROOM), None)
        room_problem = self._room_problem(room_need, new_room_id)
        if room_problem:
            return refused(room_problem)
        occupant = self._occupant(new_room_id, new_start, end)
        if occupant is not None:
            span = f"{self._hm(occupant.start)}–{self._hm(occupant.end)}"
            room = self.availability.resources[occupant.room_id].name
            return refused(f"{room} is taken by {occupant.label} {span}")
        dosing = self._dosing_problem(new_start)
        if dosing:
            return refused(dosing)
        broken = stopping(self.findings(new_start))
        if broken:
            roles = rule_settings(self.catalog.settings).override_roles
            reasons = tuple(f.text(roles) for f in broken)
            if any(f.severity is not Severity.WARN for f in broken):
                return refused(*reasons)
            # Only "warn" rules: an override would let it go ahead if the room, staff and
            # equipment are free there, so that is asked too (a refusal there is hard).
            placed = self._place(new_start, end, room_need, new_room_id)
            if not placed.placed:
                return refused(*reasons, *placed.problems)
            return refused(*reasons)[0], tuple(broken)
        return self._place(new_start, end, room_need, new_room_id), ()

    def _place(
        self,
        new_start: dt.datetime,
        end: dt.datetime,
        room_need: ResourceNeed | None,
        new_room_id: int | None,
    ) -> PlannedSession:
        """The session's resources at its new place (the room asked for, the others kept where
        they are still free); ``problems`` say why they cannot be had."""
        spec, placement = self.spec, self.placement
        kept = {h.need: h.resource_id for h in placement.session.holds}
        only: dict[str, int] = {}
        if room_need is not None:
            kept.pop(room_need.key, None)
            if new_room_id is not None:
                kept[room_need.key] = new_room_id
                only[room_need.key] = new_room_id
        search = SessionSearch(
            self.availability,
            spec,
            preferred_room=new_room_id,
            keep=kept,
            patient_busy=[
                (seconds(s), seconds(e))
                for _id, s, e, _dosing in self.patient_sessions
                if s < end and new_start < e
            ],
        )
        t = seconds(new_start)
        # First with the room pinned, for the reason in the desk's words when it cannot be...
        chosen, reasons = search.at(t, only=only)
        if chosen is None:
            return PlannedSession(
                index=placement.session.index,
                session_type=spec.code,
                start=new_start,
                end=end,
                holds=(),
                problems=tuple(reasons),
            )
        if new_room_id is not None or room_need is None:
            # ...then with every need free to choose, so optional needs get theirs as well
            # (a room left out on purpose stays out: the session goes to telehealth).
            full, _ = search.at(t)
            if full is not None and (room_need is None or full.get(room_need.key) == new_room_id):
                chosen = full
        return PlannedSession(
            index=placement.session.index,
            session_type=spec.code,
            start=new_start,
            end=end,
            holds=session_holds(spec, new_start, chosen),
        )

    def _room_problem(self, room_need: ResourceNeed | None, new_room_id: int | None) -> str:
        spec = self.spec
        if new_room_id is None:
            if room_need is not None and not room_need.optional:
                return f"{spec.name} needs a {_label(room_need.subkind)}"
            return ""
        room = self.availability.resources.get(new_room_id)
        if room is None:
            return "that room is not in use"
        if room_need is None:
            return f"{spec.name} takes no room"
        if room.subkind != room_need.subkind:
            article = "an" if room.subkind[:1] in "aeiou" else "a"
            return (
                f"{room.name} is {article} {_label(room.subkind)}; "
                f"{spec.name} needs a {_label(room_need.subkind)}"
            )
        if not room.serves_type(spec.code):
            return f"{room.name} is not used for {spec.name} sessions"
        return ""

    def _occupant(
        self, room_id: int | None, start: dt.datetime, end: dt.datetime
    ) -> _Occupant | None:
        if room_id is None:
            return None
        return next(
            (o for o in self.occupants if o.room_id == room_id and o.start < end and start < o.end),
            None,
        )

    def _dosing_problem(self, new_start: dt.datetime) -> str:
        crowded = crowded_days(
            [(self.calendar.local_date(new_start), self.spec.dosing)],
            [
                (self.calendar.local_date(s), dosing, self._hm(s))
                for _id, s, _e, dosing in self.patient_sessions
            ],
            self.catalog.settings.dosing_sessions_per_patient_day,
        )
        if not crowded:
            return ""
        day = crowded[0]
        return (
            f"the patient would have {day.count} dosing sessions on {describe_day(day.day)} "
            f"(at most {day.limit}); already booked: {', '.join(day.booked)}"
        )

    def _hm(self, moment: dt.datetime) -> str:
        return self.calendar.clock(moment)


def _label(subkind: str) -> str:
    return "office" if subkind == "office" else f"{subkind.replace('_', ' ')} room"


_OCCUPANTS = (
    select(
        Appointment.id,
        Appointment.room_id,
        Appointment.starts_at,
        Appointment.ends_at,
        Patient.last_name,
        Patient.first_name,
        SessionType.name,
    )
    .join(Patient, Patient.id == Appointment.patient_id)
    .join(SessionType, SessionType.id == Appointment.session_type_id)
    .where(Appointment.room_id.is_not(None), Appointment.status.not_in(tuple(RELEASED_STATUSES)))
)


def prepare_move(
    db: Database,
    appointment_id: int,
    *,
    day: dt.date | None = None,
    around: dt.datetime | None = None,
    now: dt.datetime | None = None,
) -> MoveCheck:
    """Read what moving ``appointment_id`` within the local ``day`` (or the day of
    ``around``; default: its own day) depends on; check places with ``MoveCheck.check``.
    One read transaction."""
    now = now or utcnow()
    with db.read() as session:
        config = load_config(session)
        catalog = config.catalog
        appointment = session.get(Appointment, appointment_id)
        if appointment is None:
            raise NotFound(f"no appointment #{appointment_id}")
        code = config.session_type_code(appointment.session_type_id)
        spec = catalog.session_types[code]
        placement = _placement(appointment, code)
        calendar = ClinicCalendar(catalog.settings)
        own_day = calendar.local_date(appointment.starts_at)
        if around is not None:
            day = calendar.local_date(around)
        days = sorted({own_day, day or own_day})
        window = Interval(calendar.day_bounds(days[0]).start, calendar.day_bounds(days[-1]).end)
        snapshot = load_snapshot(session, window, catalog)
        availability = snapshot.availability()
        availability.release(placement.session.holds)
        for d in days:
            # Opening hours and public holidays worked out now (the first holiday lookup
            # imports a package): the caller's checks then cost only arithmetic.
            availability.open_spans(d)
        dosing_ids = {
            tid for c, tid in config.session_type_ids.items() if catalog.session_types[c].dosing
        }
        patient_rows = session.execute(
            select(
                Appointment.id,
                Appointment.starts_at,
                Appointment.ends_at,
                Appointment.session_type_id,
            ).where(
                Appointment.patient_id == appointment.patient_id,
                Appointment.id != appointment.id,
                Appointment.status.not_in(tuple(RELEASED_STATUSES)),
                *overlapping(Appointment.starts_at, Appointment.ends_at, window),
            )
        ).all()
        occupant_rows = session.execute(
            _OCCUPANTS.where(
                Appointment.id != appointment.id,
                *overlapping(Appointment.starts_at, Appointment.ends_at, window),
            )
        ).all()
        course = course_sessions(session, config, calendar, appointment.patient_id)
        facts = (
            None
            if appointment.status == "tentative"
            # The moved session's own units are spent once, at its new date.
            else load_patient_facts(
                session, appointment.patient_id, catalog, excluding=[appointment.id]
            )
        )
        overrides = stored_overrides(
            session,
            [appointment.id],
            [appointment.series_id] if appointment.series_id is not None else [],
        )
        away = tuple(patient_away_ranges(session, appointment.patient_id))
    return MoveCheck(
        placement=placement,
        window=window,
        spec=spec,
        now=now,
        catalog=catalog,
        availability=availability,
        patient_sessions=tuple(
            (id_, s, e, type_id in dosing_ids) for id_, s, e, type_id in patient_rows
        ),
        occupants=tuple(
            _Occupant(room, s, e, f"{last}, {first[:1]}. — {type_name},")
            for _id, room, s, e, last, first, type_name in occupant_rows
            if room is not None
        ),
        course=tuple(course),
        facts=facts,
        overrides=overrides,
        away=away,
    )


def check_move(
    db: Database,
    appointment_id: int,
    new_start: dt.datetime,
    new_room_id: int | None,
    *,
    now: dt.datetime | None = None,
    overrides: Mapping[str, str] | None = None,
) -> list[str]:
    """Why ``appointment_id`` cannot move to ``new_start`` in ``new_room_id`` (read-only);
    an empty list when it fits.  ``overrides``: rule code -> a clinician's reason."""
    if new_start.tzinfo is None:
        raise InvalidRequest("the new start must be an aware datetime")
    check = prepare_move(db, appointment_id, around=new_start, now=now)
    check.overrides.update(overrides or {})
    return check.check(new_start, new_room_id)


def plan_move(
    db: Database,
    appointment_id: int,
    new_start: dt.datetime,
    new_room_id: int | None,
    *,
    now: dt.datetime | None = None,
    overrides: Mapping[str, str] | None = None,
) -> PlannedSession:
    """The session ``appointment_changes.move`` writes to put ``appointment_id`` at ``new_start`` in
    ``new_room_id`` (its other resources kept where they are still free); raises
    BookingConflict with the reasons when it does not fit."""
    check = prepare_move(db, appointment_id, around=new_start, now=now)
    check.overrides.update(overrides or {})
    planned = check.plan(new_start, new_room_id)
    if not planned.placed:
        raise BookingConflict(planned.problems)
    return planned


def refusal_text(reasons: Sequence[str]) -> str:
    """Reasons as one sentence for a status bar or tooltip."""
    text = "; ".join(reasons)
    return text[:1].upper() + text[1:] if text else ""
