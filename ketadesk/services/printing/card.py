"""The patient's appointment card: upcoming sessions with what to do before each, and the
clinic's contacts.

``appointment_card`` reads the database into a frozen ``AppointmentCard``; ``card_layout``
turns it into a ``PrintLayout``.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import select

from ketadesk.scheduling.statuses import RELEASED_STATUSES
from ketadesk.services.common.context import NotFound, utcnow
from ketadesk.services.printing.layout import (
    Logo,
    PrintBlock,
    PrintLayout,
    clinic_logo,
    fill,
    hour_minute,
    template,
)
from ketadesk.store.clinic_config import load_catalog
from ketadesk.store.database import Database
from ketadesk.store.models import (
    Appointment,
    Patient,
    Resource,
    Series,
    SessionType,
)


@dataclass(frozen=True, slots=True)
class CardSession:
    start: dt.datetime
    end: dt.datetime
    session_type: str
    series: str
    room: str
    instructions: tuple[str, ...]


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


def appointment_card(
    db: Database, chart: str, *, now: dt.datetime | None = None
) -> AppointmentCard:
    """The patient's upcoming sessions (after ``now``, not cancelled nor missed) with what to do
    before each, and the clinic's contacts.  Raises NotFound for an unknown chart number."""
    moment = now or utcnow()
    with db.read() as session:
        catalog = load_catalog(session)
        patient = session.scalars(select(Patient).where(Patient.chart_number == chart)).first()
        if patient is None:
            raise NotFound(f"no patient with chart number {chart!r}")
        patient_name = f"{patient.first_name} {patient.last_name}"
        rows = session.execute(
            select(
                Appointment.starts_at,
                Appointment.ends_at,
                Appointment.series_index,
                Series.planned_count,
                SessionType.code,
                SessionType.name,
                Resource.name,
            )
            .join(SessionType, SessionType.id == Appointment.session_type_id)
            .outerjoin(Series, Series.id == Appointment.series_id)
            .outerjoin(Resource, Resource.id == Appointment.room_id)
            .where(
                Appointment.patient_id == patient.id,
                Appointment.starts_at > moment,
                Appointment.status.not_in(RELEASED_STATUSES),
                Appointment.status != "completed",
            )
            .order_by(Appointment.starts_at, Appointment.id)
        ).all()
    settings = catalog.settings
    tz = ZoneInfo(settings.timezone)
    sessions = []
    for starts_at, ends_at, index, count, code, type_name, room in rows:
        spec = catalog.session_types.get(code)
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
            )
        )
    return AppointmentCard(
        clinic_name=settings.name,
        clinic_address=settings.address,
        clinic_phone=settings.phone,
        cancellation_policy=settings.cancellation_policy,
        patient_name=patient_name,
        chart_number=chart,
        sessions=tuple(sessions),
        printed_at=moment.astimezone(tz),
        logo=clinic_logo(settings),
    )


def _bullets(items: Iterable[str]) -> str:
    return "<br/>".join(f"&bull; {html.escape(i)}" for i in items)


def card_layout(card: AppointmentCard) -> PrintLayout:
    blocks = [
        PrintBlock(
            fill(
                "card_heading.html",
                patient=card.patient_name,
                chart=card.chart_number,
                count=str(len(card.sessions)),
            ),
            keep_with_next=True,
        )
    ]
    if not card.sessions:
        blocks.append(PrintBlock(fill("notice.html", text="No upcoming appointments.")))
    for s in card.sessions:
        blocks.append(
            PrintBlock(
                fill(
                    "card_session.html",
                    date=f"{s.start:%a} {s.start.day} {s.start:%b %Y}",
                    time=f"{hour_minute(s.start)} to {hour_minute(s.end)}",
                    session_type=s.session_type,
                    series=f"Session {s.series}" if s.series else "",
                    room=s.room,
                    instructions_html=_bullets(s.instructions) or "&nbsp;",
                )
            )
        )
    blocks.append(
        PrintBlock(
            fill(
                "card_footer.html",
                clinic=card.clinic_name,
                address=card.clinic_address,
                phone=card.clinic_phone,
                policy=card.cancellation_policy,
            )
        )
    )
    return PrintLayout(
        clinic_name=card.clinic_name,
        title=f"Appointment card: {card.patient_name}",
        printed_at=card.printed_at,
        css=template("style.css").template,
        blocks=tuple(blocks),
        logo=card.logo.path if card.logo else None,
        warnings=(card.logo.problem,) if card.logo and card.logo.problem else (),
    )
