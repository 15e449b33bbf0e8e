"""One appointment moved by name and wall-clock time (``ketadesk move``): the same checks as a
drag (``move_check``), then the same write (``appointment_changes.move``, which judges the
rules again in its transaction).

The request is checked before anything is read twice: the appointment must exist, the time must
be a time at the clinic, the room must be one of the clinic's rooms, and an override must name
a rule the clinic lets a clinician override ("warn"), given by an account whose role may.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import select

from ketadesk.scheduling.calendar import ClinicCalendar
from ketadesk.scheduling.catalog import ResourceKind
from ketadesk.scheduling.dates import clock, short_date_time
from ketadesk.scheduling.protocol_rules import known_rules, overridable_rules
from ketadesk.services.booking import appointment_changes
from ketadesk.services.booking.changed_elsewhere import changed_elsewhere
from ketadesk.services.booking.move_check import prepare_move
from ketadesk.services.booking.plan_check import BookingConflict
from ketadesk.services.common.context import Actor, InvalidRequest, NotFound
from ketadesk.store.clinic_config import load_catalog
from ketadesk.store.database import Database
from ketadesk.store.models import Appointment, Resource, User


class MoveRefused(BookingConflict):
    """The move does not fit: each reason names its rule ("Too close [min_gap]: ...");
    ``version``: the appointment's version, untouched."""

    def __init__(self, reasons: Sequence[str], version: int | None = None) -> None:
        super().__init__(reasons)
        self.version = version


@dataclass(frozen=True)
class MoveDone:
    appointment_id: int
    start: dt.datetime  # aware
    room: str
    was: dt.datetime  # aware, where it was
    overridden: tuple[str, ...]  # the rules overridden
    version: int = 0  # the appointment's version the move left
    was_version: int = 0  # its version before


def account_actor(db: Database, username: str) -> Actor:
    """The active account ``username`` as the actor of a command (its role decides what it
    may override)."""
    with db.read() as session:
        row = session.execute(
            select(User.id, User.username, User.role).where(
                User.username == username.strip().lower(), User.active.is_(True)
            )
        ).one_or_none()
    if row is None:
        raise NotFound(f"no active account {username!r}")
    return Actor(user_id=row[0], username=row[1], role=row[2])


def move_appointment(
    db: Database,
    actor: Actor,
    appointment_id: int,
    to_local: dt.datetime,
    *,
    room: str | None = None,
    overrides: Mapping[str, str] | None = None,
    now: dt.datetime,
    reason: str = "",
    expected_version: int | None = None,
    patient_knows: bool = False,
) -> MoveDone:
    """Move ``appointment_id`` to the clinic's wall-clock ``to_local`` (naive), in ``room``
    (a room's name; default: the room it has), overriding the rules named in ``overrides``.
    ``expected_version``: move it only if it is still at that version (``ChangedElsewhere``
    otherwise, in the window's words, nothing written), read first and again in the write's
    own transaction; None: whatever it is now.  ``patient_knows``: the patient was told the
    new time (otherwise the move may owe a schedule-change call, ``appointment_changes.move``)."""
    with db.read() as session:
        catalog = load_catalog(session)
        appointment = session.get(Appointment, appointment_id)
        if appointment is None:
            raise NotFound(f"no appointment #{appointment_id}")
        if expected_version is not None and appointment.version != expected_version:
            raise changed_elsewhere(session, appointment)
        was_version = appointment.version
        rooms = {
            name.casefold(): (id_, name)
            for id_, name in session.execute(
                select(Resource.id, Resource.name).where(
                    Resource.kind == ResourceKind.ROOM.value, Resource.active.is_(True)
                )
            )
        }
        room_id = appointment.room_id
        was = appointment.starts_at
    overrides = dict(overrides or {})
    known = known_rules()
    allowed = overridable_rules(catalog.settings)
    for rule, why in overrides.items():
        if rule not in known:
            raise InvalidRequest(f"unknown rule {rule!r}; rules: {', '.join(known)}")
        if rule not in allowed:
            raise InvalidRequest(
                f"the rule {rule!r} is not one the clinic lets anyone override; "
                f"overridable: {', '.join(allowed) or 'none'}"
            )
        if not why.strip():
            raise InvalidRequest(f"an override of {rule} needs a reason")
    if room is not None:
        found = rooms.get(room.strip().casefold())
        if found is None:
            names = ", ".join(sorted(name for _, name in rooms.values()))
            raise NotFound(f"no room named {room!r}; rooms: {names}")
        room_id = found[0]
    calendar = ClinicCalendar(catalog.settings)
    start = calendar.at_local(to_local.date(), to_local.hour * 60 + to_local.minute)
    if calendar.local(start).replace(tzinfo=None) != to_local:
        raise InvalidRequest(
            f"{to_local:%Y-%m-%d} {clock(to_local, catalog.settings.time_format)} does not "
            "exist at the clinic (a daylight-saving change)"
        )
    check = prepare_move(db, appointment_id, around=start, now=now)
    check.overrides.update(overrides)
    planned = check.plan(start, room_id)
    if not planned.placed:
        raise MoveRefused(planned.problems, was_version)
    done = appointment_changes.move(
        db,
        actor,
        appointment_id,
        planned,
        expected_version=expected_version,
        reason=reason or "moved from the command line",
        now=now,
        overrides=overrides,
        patient_knows=patient_knows,
    )
    room_name = next((n for i, n in rooms.values() if i == room_id), "")
    return MoveDone(
        appointment_id,
        start,
        room_name,
        was,
        tuple(sorted(overrides)),
        version=done.version,
        was_version=was_version,
    )


def describe(done: MoveDone, calendar: ClinicCalendar) -> str:
    """ "appointment #12 moved from Mon Dec 7, 2026 10:00 AM to Tue Dec 8, 2026 10:00 AM
    (Room 2); now version 4 (was 3)": the version a script gives ``--if-version`` next."""
    where = f" ({done.room})" if done.room else ""
    fmt = calendar.settings.time_format
    text = (
        f"appointment #{done.appointment_id} moved from "
        f"{short_date_time(calendar.local(done.was), fmt, year=True)} to "
        f"{short_date_time(calendar.local(done.start), fmt, year=True)}{where}; "
        f"now version {done.version} (was {done.was_version})"
    )
    if done.overridden:
        text += f"; overridden: {', '.join(done.overridden)}"
    return text
