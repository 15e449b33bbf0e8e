"""Offering a freed place to the waitlist, and booking it for the patient the desk chose.

``freed_place`` reads where a session was before its latest cancellation, no-show or move;
``offers_for_freed`` finds the waiting entries that could take that place as it came free (its
start, its room), best fit first (``scheduling/waitlist.weigh_waitlist`` on the day's
availability), and keeps only the patients the booking would take there: its own checks of
the patient (gates, protocol rules, another session then, dosing sessions a day) are asked in
the same read (``booking.patient_refusals``), so nobody is offered a place that "Book" would
then refuse; a patient whom only warn-level rules stop is offered with those warnings, which
"Book" sets aside with a reason each, as the booking dialog does.  Everyone else waiting is
listed with why they cannot take it.  ``book_offer``
books the offered session through ``booking.book`` (every check made again in its
transaction), then marks the entry booked, and says whom to call.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ketadesk.config import Catalog
from ketadesk.scheduling.calendar import ClinicCalendar, Interval
from ketadesk.scheduling.catalog import ResourceKind
from ketadesk.scheduling.dates import clock, clock_span
from ketadesk.scheduling.gating import GateResult
from ketadesk.scheduling.model import PlannedSession
from ketadesk.scheduling.statuses import RELEASED_STATUSES
from ketadesk.scheduling.waitlist import FreedPlace, WaitlistMatch, WaitlistWish, weigh_waitlist
from ketadesk.services.access.permissions import require
from ketadesk.services.booking import booking
from ketadesk.services.common.context import (
    Actor,
    Database,
    InvalidRequest,
    NotFound,
    may,
    utcnow,
)
from ketadesk.services.waitlist import entries
from ketadesk.store.clinic_config import load_config
from ketadesk.store.models import (
    Appointment,
    AppointmentEvent,
    Patient,
    Resource,
    ResourceHold,
    WaitlistEntry,
)
from ketadesk.store.snapshot import load_snapshot

#: The appointment events that free the place the appointment held.
FREEING_ACTIONS = ("cancel", "no_show", "move")


@dataclass(frozen=True, slots=True)
class WaitlistOffer:
    """One waiting patient who could take the freed place, and the session they would get."""

    entry_id: int
    patient_id: int
    patient_name: str
    chart_number: str
    phone: str
    session_type_name: str
    session: PlannedSession
    room_name: str
    staff_names: tuple[str, ...]
    when_text: str  # "Tue 11/24 09:00-10:40"
    wish_text: str  # what they asked for: "Tue, Thu; 09:00-13:00; until 12/10/2026"
    #: The warn-level rules the booking would stop at (gates, protocol rules), each to be
    #: overridden with a reason by a nurse or prescriber before "Book", as in the booking
    #: dialog; () when none.  A block-level rule keeps the patient off the offers.
    warnings: tuple[GateResult, ...] = ()


@dataclass(frozen=True, slots=True)
class WaitlistUnable:
    """One waiting patient (one entry) who cannot take the freed place, and why."""

    entry_id: int
    patient_id: int
    patient_name: str
    chart_number: str
    session_type_name: str
    reasons: tuple[str, ...]  # "asks for Tue, Thu only"; the booking's refusal, in its words

    @property
    def reason_text(self) -> str:
        return "; ".join(self.reasons)


@dataclass(frozen=True, slots=True)
class WaitlistOffers:
    """The place that came free, in words, who could take it (best fit first: every one of
    them bookable there as far as the clinic's rules go) and who could not, with why."""

    freed_text: str
    offers: tuple[WaitlistOffer, ...]
    unable: tuple[WaitlistUnable, ...] = ()


@dataclass(frozen=True, slots=True)
class BookedOffer:
    """A waitlist entry booked into a freed place: whom to call, and what to tell them."""

    entry_id: int
    appointment_id: int
    patient_name: str
    phone: str
    when_text: str
    session_type_name: str

    @property
    def call_text(self) -> str:
        phone = self.phone or "no phone on file"
        return (
            f"Booked {self.patient_name} for {self.session_type_name}, {self.when_text}. "
            f"Call {self.patient_name} at {phone} to tell them."
        )


def _when(calendar: ClinicCalendar, start: dt.datetime, end: dt.datetime) -> str:
    a, b = calendar.local(start), calendar.local(end)
    return f"{a:%a %m/%d} {clock_span(a, b, calendar.settings.time_format)}"


def freed_place(session: Session, appointment_id: int) -> FreedPlace | None:
    """Where ``appointment_id`` was before its latest cancellation, no-show or move (None
    when its latest change freed nothing)."""
    appointment = session.get(Appointment, appointment_id)
    if appointment is None:
        raise NotFound(f"no appointment #{appointment_id}")
    event = session.scalar(
        select(AppointmentEvent)
        .where(AppointmentEvent.appointment_id == appointment_id)
        .order_by(AppointmentEvent.at.desc(), AppointmentEvent.id.desc())
        .limit(1)
    )
    if event is None or event.action not in FREEING_ACTIONS:
        return None
    if event.action == "move":
        before = event.detail.get("before") or {}
        return FreedPlace(
            start=dt.datetime.fromisoformat(before["starts_at"]),
            end=dt.datetime.fromisoformat(before["ends_at"]),
            room_id=before.get("room_id"),
        )
    if appointment.status not in RELEASED_STATUSES:
        return None
    staff = session.scalars(
        select(ResourceHold.resource_id)
        .join(Resource, Resource.id == ResourceHold.resource_id)
        .where(ResourceHold.appointment_id == appointment_id, Resource.kind == "staff")
    )
    return FreedPlace(
        start=appointment.starts_at,
        end=appointment.ends_at,
        room_id=appointment.room_id,
        staff_ids=frozenset(staff),
    )


def _wishes(
    session: Session, window: Interval, today: dt.date
) -> tuple[list[WaitlistWish], dict[int, WaitlistEntry]]:
    waiting = session.scalars(
        select(WaitlistEntry)
        .where(WaitlistEntry.status == "waiting")
        .where((WaitlistEntry.deadline.is_(None)) | (WaitlistEntry.deadline >= today))
        .order_by(WaitlistEntry.created_at, WaitlistEntry.id)
    ).all()
    patients = sorted({e.patient_id for e in waiting})
    busy: dict[int, list[Interval]] = {}
    if patients:
        rows = session.execute(
            select(Appointment.patient_id, Appointment.starts_at, Appointment.ends_at).where(
                Appointment.patient_id.in_(patients),
                Appointment.status.not_in(tuple(RELEASED_STATUSES)),
                Appointment.starts_at < window.end,
                Appointment.ends_at > window.start,
            )
        ).all()
        for pid, start, end in rows:
            busy.setdefault(pid, []).append(Interval(start, end))
    wishes = [
        WaitlistWish(
            entry_id=e.id,
            patient_id=e.patient_id,
            session_type=e.session_type,
            added_at=e.created_at,
            weekdays=tuple(e.weekdays),
            available_from=entries.local_time(e.earliest_minute),
            available_until=entries.local_time(e.latest_minute),
            rooms=frozenset(e.room_ids),
            staff=frozenset(e.staff_ids),
            deadline=e.deadline,
            patient_busy=tuple(busy.get(e.patient_id, ())),
        )
        for e in waiting
    ]
    return wishes, {e.id: e for e in waiting}


def offers_for_freed(
    db: Database, appointment_id: int, *, now: dt.datetime | None = None
) -> WaitlistOffers:
    """Who on the waitlist could take the place ``appointment_id`` left (its latest
    cancellation, no-show or move), best fit first.  Reads only."""
    with db.read() as session:
        freed = freed_place(session, appointment_id)
    if freed is None:
        return WaitlistOffers("", ())
    return offers_for_place(db, freed, now=now)


def _wish_text(entry: WaitlistEntry, fmt: str) -> str:
    """What the entry asked for: "Tue, Thu; 9:00 AM–1:00 PM; until 12/10/2026"."""
    wish = [", ".join(d.capitalize() for d in entry.weekdays) or "any day"]
    lo, hi = entries.local_time(entry.earliest_minute), entries.local_time(entry.latest_minute)
    if lo or hi:
        earliest = clock(lo, fmt) if lo else "opening"
        wish.append(f"{earliest}–{clock(hi, fmt) if hi else 'closing'}")
    if entry.deadline:
        wish.append(f"until {entry.deadline:%m/%d/%Y}")
    return "; ".join(wish)


def _offer(
    match: WaitlistMatch,
    catalog: Catalog,
    calendar: ClinicCalendar,
    patients: Mapping[int, Patient],
    entry: WaitlistEntry,
    names: Mapping[int, str],
    warnings: tuple[GateResult, ...] = (),
) -> WaitlistOffer:
    spec = catalog.session_types[match.wish.session_type]
    opening = match.opening
    patient = patients[match.wish.patient_id]
    room = next(
        (opening.resource_for(n.key) for n in spec.needs if n.kind is ResourceKind.ROOM), None
    )
    staff = tuple(
        names.get(rid, "")
        for n in spec.needs
        if n.kind is ResourceKind.STAFF and (rid := opening.resource_for(n.key)) is not None
    )
    return WaitlistOffer(
        entry_id=entry.id,
        patient_id=patient.id,
        patient_name=patient.display_name,
        chart_number=patient.chart_number,
        phone=patient.phone,
        session_type_name=spec.name,
        session=opening.as_session(spec, 1),
        room_name=names.get(room, "no room") if room else "no room",
        staff_names=staff,
        when_text=_when(calendar, opening.start, opening.end),
        wish_text=_wish_text(entry, calendar.settings.time_format),
        warnings=warnings,
    )


def offers_for_place(
    db: Database, freed: FreedPlace, *, now: dt.datetime | None = None
) -> WaitlistOffers:
    """Who on the waitlist could take ``freed`` (any stretch that came free: a session's
    place, or time a closure no longer takes) as it came free, best fit first, each judged by
    the booking's own checks of the patient; and why each of the others cannot.  Reads only."""
    now = now or utcnow()
    with db.read() as session:
        config = load_config(session)
        catalog = config.catalog
        calendar = ClinicCalendar(catalog.settings)
        day = calendar.local_date(freed.start)
        window = calendar.day_bounds(day)
        snapshot = load_snapshot(session, window, catalog, now=now)
        wishes, by_id = _wishes(session, window, calendar.local_date(now))
        names = dict(session.execute(select(Resource.id, Resource.name)).all())
        patients = {
            p.id: p
            for p in session.scalars(
                select(Patient).where(Patient.id.in_(sorted({w.patient_id for w in wishes})))
            )
        }
        room_name = names.get(freed.room_id, "no room") if freed.room_id else "no room"
        freed_text = f"{_when(calendar, freed.start, freed.end)}, {room_name}"

        def type_name(code: str) -> str:
            spec = catalog.session_types.get(code)
            return spec.name if spec is not None else code

        warned: dict[int, tuple[GateResult, ...]] = {}

        def patient_refusals(match: WaitlistMatch) -> tuple[str, ...]:
            # The booking's own checks of the patient, so that "Book" is not refused for a
            # reason known now (a dose that morning, a gate, a protocol rule).  A warn-level
            # rule does not keep the patient off: the offer shows it with its override, as the
            # booking dialog does (a user trial could not book such a patient at all).
            spec = catalog.session_types[match.wish.session_type]
            refusals = booking.patient_refusals(
                session,
                config,
                snapshot.calendar,
                match.wish.patient_id,
                (match.opening.as_session(spec, 1),),
                now=now,
            )
            warned[match.wish.entry_id] = refusals.warnings
            return refusals.stops

        answer = weigh_waitlist(
            snapshot.availability(),
            catalog.session_types,
            freed,
            wishes,
            now=now,
            judge=patient_refusals,
        )
        offers = tuple(
            _offer(
                match,
                catalog,
                calendar,
                patients,
                by_id[match.wish.entry_id],
                names,
                warned.get(match.wish.entry_id, ()),
            )
            for match in answer.matches
        )
        cannot = tuple(
            WaitlistUnable(
                entry_id=r.wish.entry_id,
                patient_id=r.wish.patient_id,
                patient_name=patients[r.wish.patient_id].display_name,
                chart_number=patients[r.wish.patient_id].chart_number,
                session_type_name=type_name(r.wish.session_type),
                reasons=r.reasons,
            )
            for r in answer.refused
        )
    return WaitlistOffers(freed_text, offers, cannot)


def book_offer(
    db: Database,
    actor: Actor,
    offer: WaitlistOffer,
    *,
    overrides: Mapping[str, str] | None = None,
    now: dt.datetime | None = None,
) -> BookedOffer:
    """Book the offered session for the entry's patient through the normal booking (every
    check made again there), then mark the entry booked.  ``overrides``: the offer's
    warnings set aside, rule -> reason, judged by the booking as its dialog's are (who may
    override, a reason each; a block-level rule is never set aside)."""
    if not (overrides and may(actor, "override_gate")):
        # The waitlist is the desk's; setting a warning aside is a nurse's or prescriber's
        # decision (``book`` checks it again), so they may book the offer they override.
        require(actor, "manage_waitlist", db, now=now)
    now = now or utcnow()
    with db.read() as session:
        entry = session.get(WaitlistEntry, offer.entry_id)
        if entry is None:
            raise NotFound(f"no waitlist entry #{offer.entry_id}")
        if entry.status != "waiting":
            raise InvalidRequest(
                f"{offer.patient_name}'s waitlist entry is {entry.status} now; read the list again"
            )
    result = booking.book(
        db,
        actor,
        booking.BookingRequest(
            patient_id=offer.patient_id,
            sessions=(offer.session,),
            overrides=dict(overrides or {}),
        ),
        now=now,
    )
    appointment_id = result.appointment_ids[0]
    entries.set_status(
        db,
        actor,
        offer.entry_id,
        "booked",
        appointment_id=appointment_id,
        reason=f"offered a freed place: {offer.when_text}",
        now=now,
    )
    return BookedOffer(
        entry_id=offer.entry_id,
        appointment_id=appointment_id,
        patient_name=offer.patient_name,
        phone=offer.phone,
        when_text=f"{offer.when_text}, {offer.room_name}",
        session_type_name=offer.session_type_name,
    )
