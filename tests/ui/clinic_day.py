"""A small clinic with one busy, named day, for the schedule service and the day view.

Bayside Test Clinic (tests/clinic_fixtures.py: Rooms 1-4, Office A) on Tuesday 24 November 2026:

    Room 1    09:00 Lovelace, Ada      IV 3/6           booked
              11:00 Hopper, Grace      SPR 2/12         checked in
    Room 2    08:00 Turing, Alan       IM               completed
              13:00 Johnson, Katherine KAP 1/3          cancelled
              13:30 Turing, Alan       SPR 1/12         booked    (beside the cancelled one)
    Room 4    closed 14:00-18:00 for maintenance
    Office A  15:00 Lovelace, Ada      INT              booked
    no room   16:00 Hopper, Grace      REV              booked    (telehealth)

Wednesday 25 November is empty, Thursday 26 November is Thanksgiving.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from ketadesk.services.common.context import SYSTEM
from ketadesk.services.settings.availability import Unavailability, add_closure
from ketadesk.store.models import (
    Appointment,
    Closure,
    FollowUp,
    Patient,
    Protocol,
    Series,
    SessionType,
)
from tests.clinic_fixtures import (
    SmallClinic,
    build_small_clinic_from_scratch,
    open_small,
    templated,
)

TUESDAY = dt.date(2026, 11, 24)
WEDNESDAY = dt.date(2026, 11, 25)
THANKSGIVING = dt.date(2026, 11, 26)
SUNDAY = dt.date(2026, 11, 29)

# (patient, session type, start, room or None, status, (protocol, index, count) or None)
TUESDAY_SESSIONS = [
    ("Ada Lovelace", "iv_infusion", "09:00", "Room 1", "booked", ("iv_induction", 3, 6)),
    ("Grace Hopper", "spravato", "11:00", "Room 1", "checked_in", ("spravato_trd", 2, 12)),
    ("Alan Turing", "im_ketamine", "08:00", "Room 2", "completed", None),
    ("Katherine Johnson", "kap", "13:00", "Room 2", "cancelled", ("kap_program", 1, 3)),
    ("Alan Turing", "spravato", "13:30", "Room 2", "booked", ("spravato_trd", 1, 12)),
    ("Ada Lovelace", "integration", "15:00", "Office A", "booked", None),
    ("Grace Hopper", "booster_review", "16:00", None, "booked", None),
]


def build_clinic_day(url: str) -> SmallClinic:
    """The clinic day in the empty database ``url`` (a copy of a template built once per test
    process: tests/clinic_fixtures.py)."""
    return open_small(url, templated(url, "day", _build_clinic_day_ids))


def _build_clinic_day_ids(url: str) -> dict[str, int]:
    clinic = build_clinic_day_from_scratch(url)
    clinic.db.dispose()
    return clinic.ids


def build_clinic_day_from_scratch(url: str) -> SmallClinic:
    clinic = build_small_clinic_from_scratch(url)
    with clinic.db.write() as session:
        for chart, first, last in (("DAY-1", "Alan", "Turing"), ("DAY-2", "Katherine", "Johnson")):
            patient = Patient(chart_number=chart, first_name=first, last_name=last)
            session.add(patient)
            session.flush()
            clinic.ids[f"{first} {last}"] = patient.id
        type_ids = dict(session.execute(select(SessionType.code, SessionType.id)).all())
        protocol_ids = dict(session.execute(select(Protocol.code, Protocol.id)).all())
        series_ids: dict[tuple[str, str], int] = {}
        for patient_name, code, hhmm, room, status, place in TUESDAY_SESSIONS:
            series_id = index = None
            if place is not None:
                protocol, index, count = place
                key = (patient_name, protocol)
                if key not in series_ids:
                    series = Series(
                        patient_id=clinic.ids[patient_name],
                        protocol_id=protocol_ids[protocol],
                        planned_count=count,
                    )
                    session.add(series)
                    session.flush()
                    series_ids[key] = series.id
                series_id = series_ids[key]
            start = clinic.at(TUESDAY, hhmm)
            minutes = clinic.catalog.session_types[code].total_minutes
            session.add(
                Appointment(
                    patient_id=clinic.ids[patient_name],
                    series_id=series_id,
                    series_index=index,
                    session_type_id=type_ids[code],
                    room_id=clinic.ids[room] if room else None,
                    starts_at=start,
                    ends_at=start + dt.timedelta(minutes=minutes),
                    status=status,
                )
            )
        session.add(
            Closure(
                resource_id=clinic.ids["Room 4"],
                kind="maintenance",
                starts_at=clinic.at(TUESDAY, "14:00"),
                ends_at=clinic.at(TUESDAY, "18:00"),
                reason="Recliner repair",
            )
        )
    return clinic


def ready_to_start(clinic: SmallClinic, name: str) -> None:
    """Give a patient of the day what starting a dosing session judges again (the gating
    rules, ``services/booking/start_check.py``): screening, consent, REMS enrolment, a prior
    authorization and a driver, as the small clinic's cleared patients have them.  Grace Hopper
    is checked in with her screening still pending: a test that starts her session calls this."""
    with clinic.db.write() as session:
        patient = session.get(Patient, clinic.ids[name])
        assert patient is not None
        patient.screening_status = "cleared"
        patient.screening_cleared_on = dt.date(2026, 1, 5)
        patient.consent_signed_on = dt.date(2026, 1, 5)
        patient.rems_enrolled_on = dt.date(2026, 1, 6)
        patient.prior_auth_expires_on = dt.date(2027, 12, 31)
        patient.driver_name = "A. Driver"


def open_urgent_review(clinic: SmallClinic, now: dt.datetime) -> int:
    """An urgent (suicidality) review of Mary Seacole's, due 5 min before ``now`` with its
    deadline 2 h after, for the prescriber: what a positive PHQ-9 item 9 opens."""
    with clinic.db.write() as session:
        review = FollowUp(
            patient_id=clinic.ids["Mary Seacole"],
            kind="urgent_review",
            due_at=now - dt.timedelta(minutes=5),
            deadline_at=now + dt.timedelta(hours=2),
            assignee_role="prescriber",
            priority="urgent",
            status="open",
        )
        session.add(review)
        session.flush()
        return review.id


def close_tuesday(clinic: SmallClinic, start: str, end: str, reason: str, room: str = "") -> None:
    """Close the clinic (or ``room``, for maintenance) on Tuesday from ``start`` to ``end``
    after the day was booked, at 06:00 that morning.  ``add_closure`` moves nothing: the day as
    it looks once the consequences dialog could place nobody."""
    add_closure(
        clinic.db,
        SYSTEM,
        Unavailability(
            "closure" if not room else "maintenance",
            clinic.at(TUESDAY, start),
            clinic.at(TUESDAY, end),
            reason,
            resource_id=clinic.ids[room] if room else None,
        ),
        now=clinic.at(TUESDAY, "06:00"),
    )
