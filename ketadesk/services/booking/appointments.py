"""One appointment as the front desk and clinicians open it: who, what, where, its series, the
resources it holds, what happened to it so far, and what can be done next."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from ketadesk.config import Catalog
from ketadesk.scheduling.dates import clock, moved_words
from ketadesk.scheduling.days_away import away_on
from ketadesk.scheduling.held_changes import held_of, move_line
from ketadesk.scheduling.protocol_change import who_may_change
from ketadesk.scheduling.series_end import ended_words, parse_series_end_settings, who_may_end
from ketadesk.scheduling.status_times import too_early_in
from ketadesk.scheduling.statuses import REPLANNED_STATUSES, TRANSITIONS
from ketadesk.services.access.permissions import unassigned_refusal
from ketadesk.services.booking.appointment_changes import (
    ACTION_NAMES,
    assigned_staff,
    staff_member_of,
)
from ketadesk.services.common.context import Actor, NotFound, may, utcnow
from ketadesk.services.followups.urgent_reviews import standing_reviews
from ketadesk.services.monitoring.late_entries import entry_lines
from ketadesk.services.monitoring.reading_schedule import bp_alert
from ketadesk.services.schedule.day_schedule import STATUS_LABELS
from ketadesk.store.clinic_config import load_catalog
from ketadesk.store.database import Database
from ketadesk.store.days_away import patient_away_ranges
from ketadesk.store.models import (
    Appointment,
    AppointmentEvent,
    Patient,
    Protocol,
    Resource,
    ResourceHold,
    Series,
    SessionRecord,
    SessionType,
    User,
)


@dataclass(frozen=True, slots=True)
class HeldResource:
    need: str  # the session type's need key: "room", "monitor", "nurse"...
    name: str
    kind: str
    start: dt.datetime  # local
    end: dt.datetime


@dataclass(frozen=True, slots=True)
class HistoryLine:
    at: dt.datetime  # local
    who: str
    action: str
    from_status: str | None
    to_status: str | None
    reason: str
    #: A move in words, only what changed (``scheduling/held_changes.move_line``): "moved Mon
    #: Dec 7 12:25 PM → 12:40 PM; Room 2 → Room 3", "changed Nurse: Kim Lee → Ana Ruiz"; an
    #: older move, recorded without its holds, as before: "moved from Mon Dec 7 12:25 PM, Room
    #: 2 to Mon Dec 7 12:40 PM, Room 3".  "" for any other event.
    moved: str = ""

    @property
    def change(self) -> str:
        """The status change in the words every view uses ("Booked → Checked in"), never the
        stored codes; "" when the event changed no status (a move: "Booked → Booked" said
        nothing, trial 3, A12)."""
        if not self.to_status or self.to_status == self.from_status:
            return ""
        before = _status_words(self.from_status) if self.from_status else "—"
        return f"{before} → {_status_words(self.to_status)}"


def _moved(
    detail: Mapping[str, Any] | None, zone: ZoneInfo, rooms: Mapping[int, str], fmt: str
) -> str:
    """A move event's change in words, read from its before/after snapshots: what the move
    changed of the time and of each resource held (``held_changes.move_line``: "moved Mon Dec 7
    12:25 PM → 12:40 PM; Monitor 2 → Monitor 3", "changed Nurse: Kim Lee → Ana Ruiz"); a move
    recorded before the holds were kept reads as it always did (``dates.moved_words``: "moved
    from Mon Dec 7 12:25 PM, Room 2 to Mon Dec 7 12:40 PM, Room 3"); "" when unknown."""
    if not detail:
        return ""
    before, after = detail.get("before"), detail.get("after")
    if not isinstance(before, Mapping) or not isinstance(after, Mapping):
        return ""
    try:
        old = dt.datetime.fromisoformat(str(before["starts_at"])).astimezone(zone)
        new = dt.datetime.fromisoformat(str(after["starts_at"])).astimezone(zone)
    except (KeyError, ValueError):
        return ""
    held_before, held_after = held_of(before), held_of(after)
    if held_before is not None and held_after is not None:
        return move_line(old, new, held_before, held_after, fmt)
    return "moved " + moved_words(
        old,
        new,
        fmt,
        old_place=rooms.get(before.get("room_id") or -1, ""),
        new_place=rooms.get(after.get("room_id") or -1, ""),
    )


def _status_words(status: str) -> str:
    return STATUS_LABELS.get(status, status.replace("_", " ").capitalize())


@dataclass(frozen=True, slots=True)
class AppointmentDetail:
    id: int
    version: int
    patient_id: int
    patient_name: str
    chart_number: str
    phone: str
    session_type_code: str
    session_type_name: str
    dosing: bool
    has_bp_checks: bool
    start: dt.datetime  # local, in the clinic's zone
    end: dt.datetime
    status: str
    late_cancel: bool
    series_label: str  # "3/6", or "" outside a series
    protocol_name: str
    room: str
    held: tuple[HeldResource, ...]
    history: tuple[HistoryLine, ...]
    notes: str
    has_record: bool
    timezone: str
    #: How the clinic reads a time of day ([clinic] time_format): the dialog says its times so.
    time_format: str = "12h"
    # Of ``actions``, those the user it was read for may take (their role, and for a role that
    # acts only on its own sessions, whether this is one); None when read for nobody.
    actor_actions: tuple[str, ...] | None = None
    # The patient's standing urgent (suicidality) review, with its deadline ("" when none):
    # dosing waits for a prescriber to review it (clinic.toml [urgent_review] dosing).
    urgent_review: str = ""
    #: Of ``actions``, those that do not open yet, with when they do ("Check-in opens on the
    #: day of the session (Thu 12/17)"): offered greyed, saying so (``scheduling/status_times``).
    not_yet: tuple[tuple[str, str], ...] = ()
    #: A session still to come on one of the patient's days away, in words ("This session falls
    #: while the patient is away Dec 14 – 18, 2026 (travel)"); "" when it does not.  A
    #: pencilled-in hold says so before it is confirmed (the confirmation asks a reason).
    away: str = ""
    #: The series it belongs to (None outside one), and how that series ended, in words
    #: ("Ended Dec 8: side effects / safety (Dr Okafor)"; "" while it goes on).
    series_id: int | None = None
    series_ended: str = ""
    #: Why the user it was read for may not end its series ("" when they may, or read for
    #: nobody): clinic.toml [series_end] roles.
    end_series_refusal: str = ""
    #: The same for changing its series' protocol (the same roles, its own words).
    change_protocol_refusal: str = ""
    #: A BP recheck the session owes now, in the chair board's words ("Do not dose: BP
    #: 186/112 over the hard stop …; recheck after rest, due 11:05 AM"); "" when none.
    bp_alert: str = ""
    #: The readings entered well after they were taken, one a line ("BP pre-dose taken 10:00
    #: AM: entered 11:02 AM, 62 min later, by Kim Nguyen"; ``[chair] late_entry_minutes``):
    #: clinical, so only for a user who may read it.
    late_entries: tuple[str, ...] = ()

    @property
    def actions(self) -> tuple[str, ...]:
        """The status changes open from the current status, in button order."""
        return tuple(a for a in ACTION_NAMES if self.status in TRANSITIONS[a][0])

    @property
    def offered_actions(self) -> tuple[str, ...]:
        """The status changes to offer: ``actor_actions`` when read for a user."""
        return self.actions if self.actor_actions is None else self.actor_actions

    def not_yet_reason(self, action: str) -> str | None:
        """Why ``action`` cannot be taken yet (None: as far as time goes, it can)."""
        return dict(self.not_yet).get(action)

    @property
    def status_label(self) -> str:
        return _status_words(self.status)


def appointment_detail(
    db: Database,
    appointment_id: int,
    actor: Actor | None = None,
    *,
    now: dt.datetime | None = None,
) -> AppointmentDetail:
    """The appointment's page; with ``actor``, also which status changes that user may make."""
    now = now or utcnow()
    with db.read() as session:
        row = session.execute(
            select(Appointment, Patient, SessionType)
            .join(Patient, Patient.id == Appointment.patient_id)
            .join(SessionType, SessionType.id == Appointment.session_type_id)
            .where(Appointment.id == appointment_id)
        ).one_or_none()
        if row is None:
            raise NotFound(f"no appointment #{appointment_id}")
        appointment, patient, session_type = row
        catalog = load_catalog(session)
        zone = ZoneInfo(catalog.settings.timezone)

        series_label = protocol_name = series_ended = ""
        if appointment.series_id is not None:
            series_row = session.execute(
                select(
                    Series.planned_count,
                    Protocol.name,
                    Series.status,
                    Series.ended_on,
                    Series.end_reason,
                    Series.end_note,
                    User.display_name,
                )
                .join(Protocol, Protocol.id == Series.protocol_id)
                .outerjoin(User, User.id == Series.ended_by_id)
                .where(Series.id == appointment.series_id)
            ).one()
            count, protocol_name, series_status, ended_on, end_reason, end_note, by = series_row
            series_label = f"{appointment.series_index}/{count}"
            if series_status == "ended" and ended_on is not None:
                series_ended = ended_words(ended_on, end_reason or "", end_note or "", by or "")

        holds = session.execute(
            select(
                ResourceHold.need,
                Resource.name,
                Resource.kind,
                ResourceHold.starts_at,
                ResourceHold.ends_at,
            )
            .join(Resource, Resource.id == ResourceHold.resource_id)
            .where(ResourceHold.appointment_id == appointment_id)
            .order_by(ResourceHold.starts_at, Resource.sort_order)
        ).all()
        held: list[HeldResource] = []
        seen: set[tuple[str, str]] = set()
        for need, name, kind, start, end in holds:
            if (need, name) in seen:  # a need held in two stretches (exclusive, then shared)
                continue
            seen.add((need, name))
            held.append(
                HeldResource(need, name, kind, start.astimezone(zone), end.astimezone(zone))
            )
        room = ""
        if appointment.room_id is not None:
            room = (
                session.scalar(select(Resource.name).where(Resource.id == appointment.room_id))
                or ""
            )

        events = session.execute(
            select(AppointmentEvent, User.display_name)
            .outerjoin(User, User.id == AppointmentEvent.user_id)
            .where(AppointmentEvent.appointment_id == appointment_id)
            .order_by(AppointmentEvent.at, AppointmentEvent.id)
        ).all()
        room_names = dict(
            session.execute(select(Resource.id, Resource.name).where(Resource.kind == "room")).all()
        )
        history = tuple(
            HistoryLine(
                e.at.astimezone(zone),
                who or "system",
                e.action,
                e.from_status,
                e.to_status,
                e.reason,
                _moved(e.detail, zone, room_names, catalog.settings.time_format)
                if e.action == "move"
                else "",
            )
            for e, who in events
        )
        has_record = bool(
            session.scalar(
                select(func.count())
                .select_from(SessionRecord)
                .where(SessionRecord.appointment_id == appointment_id)
            )
        )
        spec = catalog.session_types.get(session_type.code)
        review = standing_reviews(session, [patient.id], now=now).get(patient.id)
        urgent = ""
        if review is not None:
            urgent = "Urgent review open"
            if review.deadline is not None:
                local = review.deadline.astimezone(zone)
                when = "overdue since" if review.overdue else "review by"
                at = clock(local, catalog.settings.time_format)
                urgent += f" — {when} {local:%a} {local.month}/{local.day} {at}"
            if session_type.dosing:
                urgent += ": dosing waits for a prescriber to review it"
        actor_actions = None
        if actor is not None:
            staff, staff_id = (
                assigned_staff(session, appointment_id),
                staff_member_of(session, actor),
            )
            actor_actions = tuple(
                a
                for a in ACTION_NAMES
                if appointment.status in TRANSITIONS[a][0]
                and may(actor, a)
                and unassigned_refusal(actor, a, appointment_id, staff, staff_id) is None
            )
        settings = catalog.settings
        not_yet: list[tuple[str, str]] = []
        for action in ACTION_NAMES:
            if appointment.status not in TRANSITIONS[action][0]:
                continue
            early = too_early_in(settings, action, appointment.starts_at, now)
            if early is not None:
                not_yet.append((action, early.hint))
        away = ""
        if appointment.status in REPLANNED_STATUSES and appointment.starts_at >= now:
            found = away_on(
                patient_away_ranges(session, patient.id),
                appointment.starts_at.astimezone(zone).date(),
            )
            if found is not None:
                away = f"This session falls while the patient is away {found.words}"
                if appointment.status == "tentative":
                    away += "; confirming the hold asks a reason"
        # A BP that makes the patient unsafe now, as the chair board says it: clinical, so
        # only for a user who may read it (a user trial: a pre-dose 186/112 over the hard stop
        # and the session's page said nothing).
        clinical = actor is None or may(actor, "read_clinical")
        unsafe = bp_alert(session, appointment_id, now=now) if has_record and clinical else ""
        late = entry_lines(session, catalog, appointment_id) if clinical else ()
        return AppointmentDetail(
            id=appointment.id,
            version=appointment.version,
            patient_id=patient.id,
            patient_name=f"{patient.first_name} {patient.last_name}",
            chart_number=patient.chart_number,
            phone=patient.phone,
            session_type_code=session_type.code,
            session_type_name=session_type.name,
            dosing=session_type.dosing,
            has_bp_checks=bool(spec and spec.bp_checks),
            start=appointment.starts_at.astimezone(zone),
            end=appointment.ends_at.astimezone(zone),
            status=appointment.status,
            late_cancel=appointment.late_cancel,
            series_label=series_label,
            protocol_name=protocol_name,
            series_id=appointment.series_id,
            series_ended=series_ended,
            end_series_refusal=_end_refusal(catalog, actor),
            change_protocol_refusal=_change_refusal(catalog, actor),
            room=room,
            held=tuple(held),
            history=history,
            notes=appointment.notes,
            has_record=has_record,
            timezone=catalog.settings.timezone,
            time_format=catalog.settings.time_format,
            actor_actions=actor_actions,
            urgent_review=urgent,
            not_yet=tuple(not_yet),
            away=away,
            bp_alert=unsafe,
            late_entries=late,
        )


@dataclass(frozen=True, slots=True)
class MoveNotice:
    """A session moved at another workstation, as the desk is told of it."""

    patient_name: str
    moved: str  # "moved Mon Dec 7 12:25 PM → 12:40 PM; Monitor 2 → Monitor 3" (``_moved``)
    reason: str  # "Monitor 2 out of service: …", or ""

    @property
    def text(self) -> str:
        why = f": {self.reason}" if self.reason else ""
        return f"{self.patient_name} {self.moved}{why}"


def moves_since(
    db: Database, actor: Actor, since: dt.datetime, *, limit: int = 20
) -> tuple[MoveNotice, ...]:
    """The sessions moved after ``since`` by anyone but ``actor`` (a closure's consequences,
    another desk's drag), oldest first, so a workstation whose day changed under its user can
    say why (trial 3, A12: the nurse's day moved Santos 12:25 → 12:40 and nothing said that
    Monitor 2 was out of service)."""
    with db.read() as session:
        settings = load_catalog(session).settings
        zone = ZoneInfo(settings.timezone)
        stmt = (
            select(AppointmentEvent, Patient.last_name, Patient.first_name)
            .join(Appointment, Appointment.id == AppointmentEvent.appointment_id)
            .join(Patient, Patient.id == Appointment.patient_id)
            .where(AppointmentEvent.action == "move", AppointmentEvent.at > since)
            .order_by(AppointmentEvent.at, AppointmentEvent.id)
            .limit(limit)
        )
        if actor.user_id is not None:
            stmt = stmt.where(
                (AppointmentEvent.user_id.is_(None)) | (AppointmentEvent.user_id != actor.user_id)
            )
        rows = session.execute(stmt).all()
        rooms = dict(
            session.execute(select(Resource.id, Resource.name).where(Resource.kind == "room")).all()
        )
        return tuple(
            MoveNotice(
                f"{last}, {first}",
                _moved(e.detail, zone, rooms, settings.time_format),
                e.reason,
            )
            for e, last, first in rows
        )


def _change_refusal(catalog: Catalog, actor: Actor | None) -> str:
    """ "Only a prescriber may change a series' protocol" ([series_end] roles, as an end)."""
    if actor is None:
        return ""
    settings = parse_series_end_settings(catalog.settings.extra.get("series_end"))
    return "" if actor.role in settings.roles else who_may_change(settings)


def _end_refusal(catalog: Catalog, actor: Actor | None) -> str:
    """ "Only a prescriber may end a series" for a role [series_end] roles leaves out."""
    if actor is None:
        return ""
    settings = parse_series_end_settings(catalog.settings.extra.get("series_end"))
    return "" if actor.role in settings.roles else who_may_end(settings)
