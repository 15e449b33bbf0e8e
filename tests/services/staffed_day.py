"""Bayside Test Clinic with a staffed Tuesday: sessions booked through the booking service, so
every session holds its room, equipment and staff as a real booking does.

Tuesday 24 November 2026 (booked on Friday 20 November):

    09:00 Room 1    Ada Lovelace        IV infusion    Monitor 1, Nurse Kim
    10:00 Room 2    Mary Seacole        Spravato       Monitor 2, Oximeter 1, Nurse Kim, Dr Patel
    13:00 Room 3    Rosalind Franklin   KAP            Monitor 3, Sam Rivera
    15:45 Office A  Florence Nightingale Integration   Sam Rivera

Dr Patel works only 09:00-13:00 on Tuesdays; Nurse Kim is off from 16:00 (time off); Lee Front
(front desk) works the usual hours and holds nothing; Jo Weekend (nurse) works only Saturdays.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import delete

from ketadesk.services.booking.booking import BookingRequest, book
from ketadesk.services.common.context import SYSTEM
from ketadesk.store.models import Closure, Resource, StaffMember, StaffShift
from tests.clinic_fixtures import SmallClinic, build_small_clinic

TUESDAY = dt.date(2026, 11, 24)
MONDAY = dt.date(2026, 11, 23)
THANKSGIVING = dt.date(2026, 11, 26)
SATURDAY = dt.date(2026, 11, 28)
BOOKED_ON = dt.datetime(2026, 11, 20, 17, 0, tzinfo=dt.UTC)

SESSIONS = (
    ("iv", "Ada Lovelace", "iv_infusion", "09:00", {"room": "Room 1", "monitor": "Monitor 1",
                                                    "nurse": "Nurse Kim"}),
    ("spravato", "Mary Seacole", "spravato", "10:00",
     {"room": "Room 2", "monitor": "Monitor 2", "oximeter": "Oximeter 1", "nurse": "Nurse Kim",
      "prescriber": "Dr Patel"}),
    ("kap", "Rosalind Franklin", "kap", "13:00",
     {"room": "Room 3", "monitor": "Monitor 3", "therapist": "Sam Rivera"}),
    ("integration", "Florence Nightingale", "integration", "15:45",
     {"office": "Office A", "therapist": "Sam Rivera"}),
)  # fmt: skip


@dataclass
class StaffedDay:
    clinic: SmallClinic
    appointments: dict[str, int]  # "iv", "spravato", "kap", "integration" -> appointment id

    def id(self, name: str) -> int:
        return self.clinic.ids[name]


def _add_staff(
    clinic: SmallClinic, name: str, role: str, weekdays: range | tuple[int, ...]
) -> None:
    with clinic.db.write() as session:
        res = Resource(kind="staff", subkind=role, name=name, capacity=1, sort_order=50)
        session.add(res)
        session.flush()
        first, last = name.split(" ")
        session.add(StaffMember(resource_id=res.id, role=role, first_name=first, last_name=last))
        for weekday in weekdays:
            session.add(
                StaffShift(
                    resource_id=res.id, weekday=weekday, start_minute=8 * 60, end_minute=17 * 60
                )
            )
        clinic.ids[name] = res.id


def build_staffed_day(url: str) -> StaffedDay:
    clinic = build_small_clinic(url)
    patel = clinic.ids["Dr Patel"]
    with clinic.db.write() as session:
        session.execute(
            delete(StaffShift).where(StaffShift.resource_id == patel, StaffShift.weekday == 1)
        )
        session.add(
            StaffShift(resource_id=patel, weekday=1, start_minute=9 * 60, end_minute=13 * 60)
        )
        session.add(
            Closure(
                resource_id=clinic.ids["Nurse Kim"],
                kind="time_off",
                starts_at=clinic.at(TUESDAY, "16:00"),
                ends_at=clinic.at(TUESDAY, "18:30"),
                reason="Dentist",
            )
        )
    _add_staff(clinic, "Lee Front", "front_desk", range(5))
    _add_staff(clinic, "Jo Weekend", "nurse", (5,))
    appointments: dict[str, int] = {}
    for key, patient, session_type, hhmm, assignment in SESSIONS:
        planned = clinic.session(session_type, TUESDAY, hhmm, assignment)
        result = book(
            clinic.db,
            SYSTEM,
            BookingRequest(patient_id=clinic.ids[patient], sessions=(planned,)),
            now=BOOKED_ON,
        )
        (appointments[key],) = result.appointment_ids
    return StaffedDay(clinic, appointments)
