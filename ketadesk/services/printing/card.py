"""The patient's appointment card: every remaining session of the series, what to do before
each kind of session, and how to reach the clinic, on a card of the clinic's size.

Sessions only pencilled in (tentative holds, released unless confirmed by their deadline) are
never printed among the booked ones: they follow in a section of their own, headed "Pencilled
in - not confirmed" with the deadline, and each of their rows says so again, so a patient
handed the card cannot take a held time for a confirmed one (nor a row cut from the card).
A session on a day the patient told us they are away (booked before they said so) is printed
with "You told us you are away …: we will call you to move it." under its row, and the desk
is warned before printing; one kept there with an override on record was decided, and prints
as any other.

``appointment_card`` reads the database into a frozen ``AppointmentCard``; ``card_layout``
turns it into a ``PrintLayout`` of cards (``PrintLayout.card``): ui/printing flows the rows
onto the card, on to its back (or a further card) when a long series needs it, and prints the
cards at their true size with crop marks on the clinic's paper, or one a page on card stock.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Iterable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select

from ketadesk.scheduling.calendar import Interval
from ketadesk.scheduling.days_away import AwayRange, away_flagged
from ketadesk.scheduling.statuses import RELEASED_STATUSES, TENTATIVE_STATUSES
from ketadesk.services.common.context import NotFound, utcnow
from ketadesk.services.common.phones import display_phone
from ketadesk.services.printing.layout import (
    CardFormat,
    Logo,
    PrintBlock,
    PrintLayout,
    card_format,
    clinic_logo,
    fill,
    template,
    us_date,
    us_time,
)
from ketadesk.store.clinic_config import load_catalog
from ketadesk.store.database import Database
from ketadesk.store.days_away import kept_on_days_away, patient_away_ranges
from ketadesk.store.models import (
    Appointment,
    Patient,
    Resource,
    Series,
    SessionType,
)
from ketadesk.store.snapshot import load_calendar


@dataclass(frozen=True, slots=True)
class CardSession:
    start: dt.datetime
    end: dt.datetime
    session_type: str
    series: str
    room: str
    instructions: tuple[str, ...]
    #: A closure added after it was booked (scheduling/calendar.ClosedSession): "Clinic closed
    #: on this day: reschedule"; and why ("Christmas Day").  "" while its place is open.
    closed_notice: str = ""
    closed_reason: str = ""
    #: Pencilled in, not booked: held only until ``held_until`` (clinic time; None if the
    #: hold names no deadline), then released unless the clinic confirms it.
    tentative: bool = False
    held_until: dt.datetime | None = None
    #: The patient's days away holding its day (scheduling/days_away.AwayRange; None while
    #: they are not away then, or the session was kept there with an override on record).
    away: AwayRange | None = None

    @property
    def away_notice(self) -> str:
        """What the card tells the patient of a session on their days away: not a time to
        come, but a call to come ("" when they are not away then)."""
        if self.away is None:
            return ""
        # The days never split over two lines of a small card.
        span = self.away.span.replace(" ", "\N{NO-BREAK SPACE}")
        return f"You told us you are away {span}: we will call you to move it."


@dataclass(frozen=True, slots=True)
class AppointmentCard:
    clinic_name: str
    clinic_address: str
    clinic_phone: str
    cancellation_policy: str
    patient_name: str
    chart_number: str
    sessions: tuple[CardSession, ...]
    printed_at: dt.datetime
    logo: Logo | None = None
    #: The card it is printed on ([clinic] card_size, card_stock).
    card: CardFormat = field(default_factory=lambda: CardFormat("index_3x5", 3.0, 5.0))
    #: How the clinic reads a time of day ([clinic] time_format): the page's times say so.
    time_format: str = "12h"

    @property
    def booked(self) -> tuple[CardSession, ...]:
        return tuple(s for s in self.sessions if not s.tentative)

    @property
    def pencilled(self) -> tuple[CardSession, ...]:
        return tuple(s for s in self.sessions if s.tentative)


def appointment_card(
    db: Database,
    chart: str | None = None,
    *,
    patient_id: int | None = None,
    appointment_id: int | None = None,
    now: dt.datetime | None = None,
) -> AppointmentCard:
    """The patient's upcoming sessions (after ``now``, not cancelled nor missed; pencilled-in
    ones marked, those past their deadline left out: they are free, only not yet released) with
    what to do before each, and the clinic's contacts.  The patient is named by chart number,
    by id, or by one of their appointments (a session selected on the day view).  Raises
    NotFound for an unknown patient."""
    moment = now or utcnow()
    with db.read() as session:
        catalog = load_catalog(session)
        if chart is not None:
            patient = session.scalars(select(Patient).where(Patient.chart_number == chart)).first()
            missing = f"no patient with chart number {chart!r}"
        elif patient_id is not None:
            patient = session.get(Patient, patient_id)
            missing = f"no patient #{patient_id}"
        elif appointment_id is not None:
            patient = session.scalars(
                select(Patient)
                .join(Appointment, Appointment.patient_id == Patient.id)
                .where(Appointment.id == appointment_id)
            ).first()
            missing = f"no appointment #{appointment_id}"
        else:
            raise ValueError("name the patient: chart, patient_id or appointment_id")
        if patient is None:
            raise NotFound(missing)
        chart = patient.chart_number
        patient_name = f"{patient.first_name} {patient.last_name}"
        rows = session.execute(
            select(
                Appointment.id,
                Appointment.starts_at,
                Appointment.ends_at,
                Appointment.series_index,
                Series.planned_count,
                SessionType.code,
                SessionType.name,
                Resource.name,
                Appointment.room_id,
                Appointment.status,
                Appointment.hold_until,
            )
            .join(SessionType, SessionType.id == Appointment.session_type_id)
            .outerjoin(Series, Series.id == Appointment.series_id)
            .outerjoin(Resource, Resource.id == Appointment.room_id)
            .where(
                Appointment.patient_id == patient.id,
                Appointment.starts_at > moment,
                Appointment.status.not_in(RELEASED_STATUSES),
                Appointment.status != "completed",
                or_(
                    Appointment.status.not_in(TENTATIVE_STATUSES),
                    Appointment.hold_until.is_(None),
                    Appointment.hold_until > moment,
                ),
            )
            .order_by(Appointment.starts_at, Appointment.id)
        ).all()
        # The closures over the sessions shown: one added since they were booked strands them.
        calendar = (
            load_calendar(
                session,
                Interval(min(r.starts_at for r in rows), max(r.ends_at for r in rows)),
                catalog,
                resource_ids={r.room_id for r in rows if r.room_id is not None},
            )
            if rows
            else None
        )
        # The patient's days away, and the sessions kept on one with an override on record
        # (decided when booked or moved there, as ``ketadesk check`` leaves them out).
        ranges = patient_away_ranges(session, patient.id) if rows else []
        kept = kept_on_days_away(session, [r.id for r in rows]) if ranges else set()
    settings = catalog.settings
    tz = ZoneInfo(settings.timezone)
    sessions = []
    for (
        id_,
        starts_at,
        ends_at,
        index,
        count,
        code,
        type_name,
        room,
        room_id,
        status,
        until,
    ) in rows:
        spec = catalog.session_types.get(code)
        closed = (
            calendar.session_closed(Interval(starts_at, ends_at), room_id, room or "")
            if calendar is not None
            else None
        )
        series = ""
        if index is not None:
            series = f"{index}/{count}" if count else str(index)
        sessions.append(
            CardSession(
                start=starts_at.astimezone(tz),
                end=ends_at.astimezone(tz),
                session_type=type_name,
                series=series,
                room=room or "",
                instructions=spec.instructions if spec is not None else (),
                closed_notice=closed.notice if closed else "",
                closed_reason=closed.reason if closed else "",
                tentative=status in TENTATIVE_STATUSES,
                held_until=until.astimezone(tz) if until is not None else None,
                away=away_flagged(
                    ranges, starts_at.astimezone(tz).date(), kept_by_override=id_ in kept
                ),
            )
        )
    return AppointmentCard(
        clinic_name=settings.name,
        clinic_address=settings.address,
        clinic_phone=display_phone(settings.phone),
        cancellation_policy=settings.cancellation_policy,
        patient_name=patient_name,
        chart_number=chart,
        sessions=tuple(sessions),
        printed_at=moment.astimezone(tz),
        logo=clinic_logo(settings),
        card=card_format(settings),
        time_format=settings.time_format,
    )


def _bullets(items: Iterable[str]) -> str:
    return "<br/>".join(f"&bull; {html.escape(i)}" for i in items)


def _unbroken(text: str) -> str:
    """``text`` escaped, kept on one line ("Mon 11/30" never splits over two)."""
    return html.escape(text).replace(" ", "&nbsp;")


def patient_type_name(name: str) -> str:
    """A session type as the card names it: without its aside ("Spravato (esketamine)" ->
    "Spravato"), so each session keeps to one line of a small card."""
    return name.split(" (", 1)[0] or name


def closed_warnings(card: AppointmentCard) -> tuple[str, ...]:
    """What the desk is told when the card lists a session whose day or room has closed since
    it was booked: "Spravato on Fri 12/25: clinic closed on this day: reschedule (Christmas
    Day)", one a session."""
    return tuple(
        f"{patient_type_name(s.session_type)} on {us_date(s.start)}: "
        f"{s.closed_notice[:1].lower()}{s.closed_notice[1:]}"
        + (f" ({s.closed_reason})" if s.closed_reason else "")
        for s in card.sessions
        if s.closed_notice
    )


def away_warnings(card: AppointmentCard) -> tuple[str, ...]:
    """What the desk is told when the card lists a session on the patient's days away:
    "IV ketamine infusion on Mon 12/14: the patient is away Dec 14 – 18, 2026 (travel); call to
    move it", one a session."""
    return tuple(
        f"{patient_type_name(s.session_type)} on {us_date(s.start)}: the patient is away "
        f"{s.away.words}; call to move it"
        for s in card.sessions
        if s.away is not None
    )


# The card's outline (``PrintBlock.level``): under the card's own heading (the clinic and the
# patient, level 0, on every face), the pencilled-in section's heading, and a year above the
# first date of another year; what follows the sessions ends the section.
_SECTION = 1
_YEAR = 2
# What each pencilled-in row says of itself, however the card is cut or folded (its deadline
# is in the section's heading, printed again over its rows on each face).
PENCILLED_ROW = "Pencilled in \N{MIDDLE DOT} not confirmed"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'s' if count != 1 else ''}"


def card_count(card: AppointmentCard) -> str:
    """What the card's heading says it holds: "6 appointments", "1 appointment · 2 pencilled
    in", or "Nothing booked yet · 3 pencilled in" (a card of held times only)."""
    booked, pencilled = len(card.booked), len(card.pencilled)
    if not pencilled:
        return _plural(booked, "appointment")
    first = _plural(booked, "appointment") if booked else "Nothing booked yet"
    # Kept on one line beside the patient's name, or wrapped whole below it.
    return f"{first} · {pencilled} pencilled in".replace(" ", "\N{NO-BREAK SPACE}")


def _session_blocks(
    sessions: Iterable[CardSession], year: int, time_format: str
) -> list[PrintBlock]:
    """A row per session (the year once above the first date of another year), each pencilled
    one marked as such on its own row, and under its row a closed day's notice or the patient's
    days away (we will call to move it)."""
    blocks: list[PrintBlock] = []
    for s in sessions:
        if s.start.year != year:  # a series into the new year: the year once, above its dates
            year = s.start.year
            blocks.append(
                PrintBlock(fill("card_year.html", year=str(year)), keep_with_next=True, level=_YEAR)
            )
        values = {
            "date_html": _unbroken(us_date(s.start)),
            "time_html": _unbroken(us_time(s.start, time_format)),
            "session_type": patient_type_name(s.session_type),
            "series": s.series,
        }
        if s.tentative:
            row = fill(
                "card_pencilled_session.html",
                **values,
                status=PENCILLED_ROW,
            )
        else:
            row = fill("card_session.html", **values)
        blocks.append(PrintBlock(row))
        if s.closed_notice:  # never handed over as if it would happen
            blocks.append(PrintBlock(fill("card_closed.html", text=s.closed_notice)))
        if s.away is not None:  # nor as if the patient could come
            blocks.append(PrintBlock(fill("card_closed.html", text=s.away_notice)))
    return blocks


def _pencilled_blocks(card: AppointmentCard) -> list[PrintBlock]:
    """The pencilled-in sessions after the booked ones, under a heading per deadline that says
    they are held, not booked, and released unless confirmed by then."""
    by_deadline: dict[dt.datetime | None, list[CardSession]] = {}
    for s in card.pencilled:
        by_deadline.setdefault(s.held_until, []).append(s)
    blocks: list[PrintBlock] = []
    call = f" Call {card.clinic_phone} to confirm." if card.clinic_phone else ""
    for until, sessions in by_deadline.items():
        if until is None:
            held = "Held until the clinic confirms them"
        else:
            # The deadline never split over two lines of a small card.
            held = "Held until " + f"{us_date(until)} {us_time(until, card.time_format)}".replace(
                " ", "\N{NO-BREAK SPACE}"
            )
        # The heading is short: it is printed again on each further face of the section.
        blocks.append(
            PrintBlock(
                fill(
                    "card_pencilled_heading.html",
                    title="PENCILLED IN \N{EN DASH} NOT CONFIRMED",
                    held=held,
                ),
                keep_with_next=True,
                level=_SECTION,
            )
        )
        blocks.append(
            PrintBlock(
                fill(
                    "card_pencilled_note.html",
                    text="These times are not booked: unless the clinic confirms them by then, "
                    "they are released." + call,
                )
            )
        )
        blocks.extend(_session_blocks(sessions, card.printed_at.year, card.time_format))
    return blocks


def card_layout(card: AppointmentCard) -> PrintLayout:
    """The card: the clinic and the patient on top (again on each further side), then a line
    per remaining booked session (weekday and US month/day, time, type, place in the series),
    the pencilled-in sessions apart under their own heading, what to do before each kind of
    session, and the cancellation policy."""
    sessions = card.sessions
    blocks = [
        PrintBlock(
            fill(
                "card_heading.html",
                clinic=card.clinic_name,
                phone=f"Phone {card.clinic_phone}" if card.clinic_phone else "",
                patient=card.patient_name,
                count=card_count(card),
            ),
            keep_with_next=True,
        )
    ]
    if not sessions:
        blocks.append(PrintBlock(fill("notice_small.html", text="No upcoming appointments.")))
    blocks.extend(_session_blocks(card.booked, card.printed_at.year, card.time_format))
    blocks.extend(_pencilled_blocks(card))
    seen: dict[str, tuple[str, ...]] = {}
    for s in sessions:
        if s.instructions and s.session_type not in seen:
            seen[s.session_type] = s.instructions
    for name, instructions in seen.items():
        blocks.append(
            PrintBlock(
                fill(
                    "card_before.html",
                    session_type=patient_type_name(name),
                    instructions_html=_bullets(instructions),
                ),
                level=_SECTION,  # the card's heading over it, not the last section's
            )
        )
    blocks.append(
        PrintBlock(
            fill(
                "card_footer.html",
                # One printed line per line of the address: HTML would run them together.
                address_html="<br/>".join(
                    html.escape(line.strip())
                    for line in card.clinic_address.splitlines()
                    if line.strip()
                ),
                policy=card.cancellation_policy,
            ),
            level=_SECTION,
        )
    )
    return PrintLayout(
        clinic_name=card.clinic_name,
        title=f"Appointment card: {card.patient_name}",
        name=f"Appointment card {card.patient_name}",
        printed_at=card.printed_at,
        time_format=card.time_format,
        css=template("style.css").template + template("card.css").template,
        blocks=tuple(blocks),
        logo=card.logo.path if card.logo else None,
        warnings=(
            *((card.logo.problem,) if card.logo and card.logo.problem else ()),
            *closed_warnings(card),
            *away_warnings(card),
        ),
        card=card.card,
    )
