"""A session changed since the screen that asks to change it showed it: the refusal, in words.

Every change a person asks for from a screen (a drop, Check in, Cancel…, Undo) says which
version of the appointment that screen showed (``appointment.version``, raised by every move,
status change and undo).  When the appointment's version has moved on, someone else changed it
meanwhile (at another workstation, or a re-plan after a monitor broke) and the request was
made on a picture that is no longer true: it is refused, nothing is written, and the person is
told what happened, by whom and when, so they can look again and decide.  Without this the
last of two people wins without either knowing (a cancel landing on a check-in made a moment
before, two drags of one session, an undo pulling a checked-in patient back to another room).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from ketadesk.scheduling.calendar import ClinicCalendar
from ketadesk.scheduling.dates import clock, short_date
from ketadesk.services.booking.plan_check import BookingConflict
from ketadesk.services.common.session_words import session_words
from ketadesk.store.clinic_config import load_catalog
from ketadesk.store.models import Appointment, AppointmentEvent, User

#: What the latest change of an appointment did, by its event's action ("was checked in").
CHANGE_WORDS = {
    "book": "was booked",
    "pencil": "was pencilled in",
    "confirm": "was confirmed",
    "move": "was moved",
    "check_in": "was checked in",
    "start": "was started",
    "complete": "was completed",
    "no_show": "was marked a no-show",
    "cancel": "was cancelled",
    "undo": "had a change taken back",
    "release": "was released",
}


class ChangedElsewhere(BookingConflict):
    """The appointment's version is not the one the request was made on; ``version``: the
    one it has now (for ``ketadesk move --if-version``'s refusal)."""

    def __init__(self, reasons: Sequence[str], version: int | None = None) -> None:
        super().__init__(reasons)
        self.version = version


def changed_elsewhere(session: Session, appointment: Appointment) -> ChangedElsewhere:
    """The refusal of a request made on an older version of ``appointment``: the session as
    every refusal names it (``session_words``), what its latest change was, who made it and
    when, and that nothing was done."""
    settings = load_catalog(session).settings
    calendar = ClinicCalendar(settings)
    fmt = settings.time_format
    last = session.execute(
        select(AppointmentEvent.action, AppointmentEvent.at, User.username)
        .outerjoin(User, User.id == AppointmentEvent.user_id)
        .where(AppointmentEvent.appointment_id == appointment.id)
        .order_by(AppointmentEvent.at.desc(), AppointmentEvent.id.desc())
        .limit(1)
    ).first()
    if last is None:
        what = "was changed"
    else:
        what = CHANGE_WORDS.get(last.action, "was changed")
        if last.username:
            what += f" by {last.username}"
        at = calendar.local(last.at)
        what += f" at {clock(at, fmt)}"
        if at.date() != calendar.local(appointment.starts_at).date():
            what += f" on {short_date(at.date(), weekday=False)}"
    return ChangedElsewhere(
        [
            f"{session_words(session, appointment)} {what}, since you last saw it; "
            "nothing was done (the schedule shows it as it is now)"
        ],
        appointment.version,
    )
