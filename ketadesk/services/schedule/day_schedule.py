"""One clinic day as the day view draws it: rooms (or staff) as columns, opening hours,
closures and appointments, as frozen dataclasses with times already in the clinic's zone.

Nothing here reads the database (day_rows.py fills these in), so the UI imports them at no cost
at start-up.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace

from ketadesk.scheduling.confirmations import CONFIRMATION_DEFAULTS
from ketadesk.scheduling.status_times import too_early
from ketadesk.scheduling.statuses import RELEASED_STATUSES

STATUS_LABELS = {
    "booked": "Booked",
    "checked_in": "Checked in",
    "in_progress": "In session",
    "completed": "Completed",
    "cancelled": "Cancelled",
    "no_show": "No-show",
    "tentative": "Pencilled in",
    "released": "Released (deadline passed)",
}


@dataclass(frozen=True, slots=True)
class RoomColumn:
    """One column of the day view: a treatment room, an office, or (id None) no room at all."""

    id: int | None
    name: str
    short_name: str
    # "treatment", "office", "" for the no-room column; in a staff schedule the staff member's
    # role ("nurse", "prescriber", ...), or "unassigned" for sessions holding no staff.
    subkind: str
    active: bool = True

    @property
    def is_office(self) -> bool:
        return self.subkind == "office"

    @property
    def kind_label(self) -> str:
        """What the column is, for its header: "Treatment room", "Nurse", "Telehealth"..."""
        return COLUMN_KINDS.get(self.subkind) or self.subkind.replace("_", " ").capitalize()


#: A session on the patient's days away, as its block says it where a few words fit (a week's
#: status line; the day view's badge, beside the patient's name, the short one), and as its
#: tooltip and page begin it (services/booking/session_day).
AWAY_BADGE = "⚠ Patient away"
AWAY_BADGE_SHORT = "⚠ Away"
AWAY_NOTICE = "The patient is away"
AWAY_TO_DO = "Call the patient; Move… finds it another place, or cancel it."

COLUMN_KINDS = {
    "treatment": "Treatment room",
    "office": "Office",
    "": "Telehealth",
    "unassigned": "No staff held",
    "front_desk": "Front desk",
}


#: The column for sessions that hold no room (telehealth integration, booster reviews).
NO_ROOM = RoomColumn(id=None, name="No room", short_name="Telehealth", subkind="")
#: In a day by staff, the column for sessions that hold no staff member.
NO_STAFF = RoomColumn(id=None, name="No staff", short_name="No staff", subkind="unassigned")


@dataclass(frozen=True, slots=True)
class PhaseSpan:
    """One phase of a session (check-in, dosing, observation...), in local time."""

    key: str
    name: str
    shade: str  # "checkin" | "dosing" | "observation" | "therapy"
    start: dt.datetime
    end: dt.datetime


@dataclass(frozen=True, slots=True)
class DayAppointment:
    """One appointment as the day view shows it; times are aware, in the clinic's zone."""

    id: int
    room_id: int | None
    start: dt.datetime
    end: dt.datetime
    patient_name: str
    chart_number: str
    session_type_code: str
    session_type_name: str
    session_type_short: str
    color: str  # "#rrggbb", from the clinic's catalogue
    series_index: int | None
    series_count: int | None
    status: str
    phases: tuple[PhaseSpan, ...]
    room_name: str = ""  # the room it is in ("" for none), also in a day by staff
    #: A closure added after it was booked (scheduling/calendar.ClosedSession): "Clinic closed
    #: on this day: reschedule", and why ("Christmas Day"); "" while its place is open.
    closed_notice: str = ""
    closed_reason: str = ""
    #: The patient's days away holding the session's day, in the record's words ("Dec 14 – 18,
    #: 2026 (travel)"; scheduling/days_away.AwayRange.words), for a session still to come booked
    #: before the range was saved and not kept there with an override on record; "" otherwise.
    away: str = ""
    #: The appointment's version as read (``appointment.version``): a change asked for from
    #: this picture of it says so, and is refused if someone changed it since
    #: (``services/booking/changed_elsewhere``).  None: not known (a hand-made schedule).
    version: int | None = None

    @property
    def series_label(self) -> str:
        """The session's place in its series, "3/6"; empty for a session outside a series."""
        if self.series_index is None:
            return ""
        if self.series_count is None:
            return str(self.series_index)
        return f"{self.series_index}/{self.series_count}"

    @property
    def is_active(self) -> bool:
        """False for cancelled and no-show sessions, which no longer hold their room."""
        return self.status not in RELEASED_STATUSES

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.status, self.status.replace("_", " ").capitalize())

    @property
    def away_words(self) -> str:
        """What a session on the patient's days away tells the desk, and what to do, as its
        page says it ("" when the patient is not away that day)."""
        if not self.away:
            return ""
        return f"{AWAY_NOTICE} {self.away}: this session is still booked. {AWAY_TO_DO}"

    @property
    def closed_words(self) -> str:
        """The closure notice with its reason, for a tooltip, a sheet or a screen reader."""
        if not self.closed_notice:
            return ""
        return (
            f"{self.closed_notice} ({self.closed_reason})"
            if self.closed_reason
            else (self.closed_notice)
        )


@dataclass(frozen=True, slots=True)
class ClosureBand:
    """Part of the day when the clinic (``room_id`` None) or one room is unavailable."""

    room_id: int | None
    start: dt.datetime
    end: dt.datetime
    reason: str


@dataclass(frozen=True, slots=True)
class DaySchedule:
    """One local day of the clinic, ready to draw.

    Attributes:
        day: the local date.
        timezone: the clinic's IANA zone name; every datetime here is aware, in that zone.
        day_start, day_end: local midnight and the next local midnight (23 or 25 hours apart on
            a daylight-saving change).
        opens, closes: the opening hours by the weekly pattern (None on a day it never opens).
        closed_reason: why the clinic is closed all day (holiday, weekday, closure), or None.
        rooms: the columns.  By room: treatment rooms then offices, each in the clinic's sort
            order; NO_ROOM is added at the end when a session of the day holds no room.  By
            staff: everyone who works that day or holds a session, by role (prescribers,
            nurses, therapists, front desk) then sort order; NO_STAFF at the end when needed.
        appointments: ordered by start, cancelled and no-show sessions included.  By staff, a
            session appears once under each staff member it holds, its ``room_id`` naming that
            column (the staff member's resource id); ``room_name`` still says the real room.
        closures: partial-day closures of the clinic or of a column; by staff also the parts
            of the opening hours a staff member is off shift, and their time off.
        grouping: "room" or "staff": what the columns are.  Moving a block to another column
            only means "another room" by room.
    """

    day: dt.date
    clinic_name: str
    timezone: str
    day_start: dt.datetime
    day_end: dt.datetime
    opens: dt.datetime | None
    closes: dt.datetime | None
    closed_reason: str | None
    rooms: tuple[RoomColumn, ...]
    appointments: tuple[DayAppointment, ...]
    closures: tuple[ClosureBand, ...] = ()
    grouping: str = "room"
    #: The clinic's slot grid (ClinicSettings.slot_minutes): where a dragged block may start.
    slot_minutes: int = 1
    #: A booked patient is late, then a no-show candidate, this many minutes after the start
    #: ([confirmations] late_grace_minutes, no_show_minutes): the arrival badges.
    late_grace_minutes: int = CONFIRMATION_DEFAULTS["late_grace_minutes"]
    no_show_minutes: int = CONFIRMATION_DEFAULTS["no_show_minutes"]
    #: A patient checked in and not started is an overrun this many minutes after the start,
    #: at the planned end at the latest ([confirmations] not_started_minutes).
    not_started_minutes: int = CONFIRMATION_DEFAULTS["not_started_minutes"]
    #: How many days before its own day a session may be checked in or started ([clinic]
    #: check_in_days_ahead; 0, its default, the day itself): what the views grey out.
    check_in_days_ahead: int = 0
    #: How the clinic reads a time of day ([clinic] time_format: "12h" or "24h"): every view
    #: of this day says its times so (``scheduling/dates.clock``), and a change of it reaches
    #: the open views with the day read again, as a change of the time zone does.
    time_format: str = "12h"
    #: The clinic's change counter as it stood just before this day was read (None when not
    #: read): everything committed up to that value is in it.  Not part of equality.
    counter: int | None = field(default=None, compare=False)

    def too_early(self, action: str, appointment: DayAppointment, now: dt.datetime) -> str | None:
        """Why ``action`` cannot be taken yet on ``appointment`` at ``now``, in words for a
        greyed menu item (None: as far as time goes, it can): the services' own rule
        (``scheduling/status_times``) with this clinic's settings."""
        early = too_early(
            action,
            appointment.start,
            now,
            timezone=self.timezone,
            check_in_days_ahead=self.check_in_days_ahead,
            time_format=self.time_format,
        )
        return early.hint if early is not None else None

    @property
    def is_closed(self) -> bool:
        return self.closed_reason is not None

    @property
    def active_count(self) -> int:
        """Sessions still on (not cancelled, not no-show)."""
        return sum(1 for a in self.appointments if a.is_active)

    def count_by_status(self, status: str) -> int:
        return sum(1 for a in self.appointments if a.status == status)


def with_moved(
    schedule: DaySchedule, appointment_id: int, start: dt.datetime, room_id: int | None
) -> DaySchedule | None:
    """``schedule`` as it will read once the session ``appointment_id`` has moved to ``start``
    (aware) in ``room_id`` (None: no room), within the day: what a view shows at once on a
    drop or an undo, before the write answers.  Its phases move with it; in a day by staff it
    stays in its staff members' columns.  None when the session is not on this day, would
    leave it, or its room is not a column of the day (the view then waits for the day read
    again)."""
    copies = [a for a in schedule.appointments if a.id == appointment_id]
    if not copies:
        return None
    local = start.astimezone(copies[0].start.tzinfo)
    if local.date() != schedule.day:
        return None
    moved = [shifted(a, local) for a in copies]
    if schedule.grouping == "room":
        column = next((r for r in schedule.rooms if r.id == room_id), None)
        if column is None:
            return None
        moved = [
            replace(a, room_id=room_id, room_name=column.name if room_id else "") for a in moved
        ]
    else:
        moved = [replace(a, room_name=_room_name(schedule, room_id, a.room_name)) for a in moved]
    others = [a for a in schedule.appointments if a.id != appointment_id]
    return replace(schedule, appointments=in_order([*others, *moved]))


def _room_name(schedule: DaySchedule, room_id: int | None, was: str) -> str:
    """A room's name in a day by staff, whose columns are not rooms: kept unless the session
    left its room (its new room's name is not known here: said when the day is read again)."""
    return was if room_id is not None else ""


def shifted(appointment: DayAppointment, start: dt.datetime) -> DayAppointment:
    """``appointment`` starting at ``start`` (aware, in the clinic's zone), its length and its
    phases kept.  A closed-day notice and a day away go: the move is refused if the new place
    is closed too, warned of if the patient is away then, and the day is read again either
    way."""
    delta = start - appointment.start
    return replace(
        appointment,
        start=start,
        end=appointment.end + delta,
        closed_notice="",
        closed_reason="",
        away="",
        phases=tuple(
            replace(p, start=p.start + delta, end=p.end + delta) for p in appointment.phases
        ),
    )


def in_order(appointments: list[DayAppointment]) -> tuple[DayAppointment, ...]:
    """Appointments in the order a day holds them: by start, then id."""
    return tuple(sorted(appointments, key=lambda a: (a.start, a.id)))
