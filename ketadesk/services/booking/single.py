"""One appointment, not a series: an intake or screening consult, a booster review, a single
session of any type, at an exact date and time or at the next opening that meets the desk's
weekday and time-of-day wishes.  Planning is read-only (``propose_single``); booking goes through
``booking.book`` (plan re-checked in the transaction, gates per session type, audit, change
counter), tentatively too (``tentative=True``: pencilled in until a deadline).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

from ketadesk.scheduling.calendar import ClinicCalendar
from ketadesk.scheduling.gating import GateResult
from ketadesk.scheduling.model import PlannedSession
from ketadesk.scheduling.openings import find_openings, opening_at
from ketadesk.services.booking import booking
from ketadesk.services.booking.planning import (
    PlanWishes,
    _names,
    _patient_busy,
    _preferences,
    _window,
    find_patient,
    gate_sessions,
    patient_facts,
    rule_gates,
)
from ketadesk.services.common.context import Actor, InvalidRequest, NotFound
from ketadesk.store.clinic_config import load_catalog
from ketadesk.store.database import Database
from ketadesk.store.snapshot import load_snapshot

# "Next available" looks this many days ahead unless told otherwise.
DEFAULT_NEXT_DAYS = 28


@dataclass(frozen=True)
class SingleProposal:
    """One planned appointment for a patient (or why none could be placed), with its gates."""

    patient_id: int
    patient_name: str
    session_type: str
    session_type_name: str
    session: PlannedSession | None
    problems: tuple[str, ...]
    gates: tuple[GateResult, ...]
    resource_names: Mapping[int, str]
    calendar: ClinicCalendar = field(repr=False)

    @property
    def bookable(self) -> bool:
        return self.session is not None and not any(g.stops_booking for g in self.gates)


def day_part_bounds(part: str) -> tuple[dt.time | None, dt.time | None]:
    """The start-time window of "morning" (before noon) or "afternoon" (from noon), as
    (earliest, latest) starts; "any" is no window."""
    noon = dt.time(12, 0)
    if part == "morning":
        return None, (dt.datetime.combine(dt.date.min, noon) - dt.timedelta(minutes=1)).time()
    if part == "afternoon":
        return noon, None
    if part in ("", "any"):
        return None, None
    raise InvalidRequest(f"time of day: {part!r} is not morning, afternoon or any")


def propose_single(
    db: Database,
    *,
    session_type: str,
    today: dt.date,
    chart: str | None = None,
    patient_id: int | None = None,
    at: dt.datetime | None = None,
    first: dt.date | None = None,
    days: int = DEFAULT_NEXT_DAYS,
    wishes: PlanWishes | None = None,
    now: dt.datetime | None = None,
) -> SingleProposal:
    """Plan one session of ``session_type`` for a patient: exactly ``at`` (a local wall-clock
    time, naive, or an aware instant), or else the first opening from ``first`` (default
    tomorrow) over ``days`` days meeting ``wishes`` (weekdays, earliest/latest start, room,
    staff).  Writes nothing; ``now`` decides which tentative holds have expired."""
    if days < 1:
        raise InvalidRequest("days: the search needs at least one day")
    with db.read() as session:
        catalog = load_catalog(session)
        spec = catalog.session_types.get(session_type)
        if spec is None:
            known = ", ".join(sorted(catalog.session_types))
            raise NotFound(f"session type: no session type {session_type!r}; known: {known}")
        if chart is not None:
            patient = find_patient(session, chart)
        else:
            from ketadesk.store.models import Patient

            found = session.get(Patient, patient_id) if patient_id is not None else None
            if found is None:
                raise NotFound(f"patient: no patient #{patient_id}")
            patient = found
        prefs = _preferences(session, wishes or PlanWishes(), (), [spec], catalog.settings)
        calendar = ClinicCalendar(catalog.settings)
        problems: tuple[str, ...] = ()
        planned: PlannedSession | None = None
        if at is not None:
            if at.tzinfo is None:
                minute = at.hour * 60 + at.minute
                local = calendar.local(calendar.at_local(at.date(), minute))
            else:
                local = calendar.local(at)
            day = calendar.local_date(local)
            if day < today:
                raise InvalidRequest(f"at: {local:%m/%d/%Y %H:%M} is in the past")
            window = _window(catalog, day, 1)
            snapshot = load_snapshot(session, window, catalog, now=now)
            busy = _patient_busy(session, patient.id, window, catalog, snapshot.calendar)
            start = local.astimezone(dt.UTC)
            clash = next((b for b in busy if b.start < start and start < b.end), None)
            found_at = opening_at(snapshot.availability(), spec, start, prefs)
            if isinstance(found_at, tuple):
                problems = found_at
            else:
                candidate = found_at.as_session(spec, 1)
                overlap = [b for b in busy if b.start < candidate.end and candidate.start < b.end]
                if overlap or clash:
                    problems = ("the patient already has an appointment at that time",)
                else:
                    planned = candidate
        else:
            start_day = first or today + dt.timedelta(days=1)
            if start_day < today:
                raise InvalidRequest(f"from: {start_day:%Y-%m-%d} is in the past")
            window = _window(catalog, start_day, days)
            snapshot = load_snapshot(session, window, catalog, now=now)
            busy = _patient_busy(session, patient.id, window, catalog, snapshot.calendar)
            search = find_openings(
                snapshot.availability(),
                spec,
                start_day,
                start_day + dt.timedelta(days=days - 1),
                prefs,
                limit=1,
                patient_busy=busy,
            )
            if search.openings:
                planned = search.openings[0].as_session(spec, 1)
            else:
                problems = search.reasons or (
                    f"no opening for {spec.name} in the {days} days from {start_day:%m/%d/%Y}",
                )
        gates: list[GateResult] = []
        if planned is not None:
            facts = patient_facts(session, patient, catalog)
            gates = gate_sessions(catalog, facts, [planned], snapshot.calendar)
            # A single dose can break the patient's courses too: a second treatment during
            # one, an induction's doses a week.
            gates += rule_gates(session, snapshot.calendar, patient.id, [planned], None)
        return SingleProposal(
            patient_id=patient.id,
            patient_name=patient.display_name,
            session_type=session_type,
            session_type_name=spec.name,
            session=planned,
            problems=tuple(problems),
            gates=tuple(gates),
            resource_names=_names(session),
            calendar=snapshot.calendar,
        )


def book_single(
    db: Database,
    actor: Actor,
    proposal: SingleProposal,
    *,
    tentative: bool = False,
    hold_until: dt.datetime | None = None,
    overrides: Mapping[str, str] | None = None,
    now: dt.datetime | None = None,
) -> booking.BookingResult:
    """Book (or pencil in) the proposal's session through ``booking.book``: the gates of its
    session type, the plan and the patient's other appointments are checked again there."""
    if proposal.session is None:
        raise InvalidRequest(
            "when: nothing to book; " + ("; ".join(proposal.problems) or "no time was found")
        )
    return booking.book(
        db,
        actor,
        booking.BookingRequest(
            patient_id=proposal.patient_id,
            sessions=(proposal.session,),
            overrides=dict(overrides or {}),
            tentative=tentative,
            hold_until=hold_until,
        ),
        now=now,
    )
