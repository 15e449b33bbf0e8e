"""The small clinic with dates from today and a booked IV induction, for the availability tests."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select, update

from ketadesk.services.booking import booking
from ketadesk.services.booking.booking import BookingRequest
from ketadesk.services.booking.planning import PlanWishes, propose_series
from ketadesk.services.common.context import SYSTEM, utcnow
from ketadesk.store.models import Appointment, ClinicSetting, Patient
from tests.clinic_fixtures import SmallClinic, build_small_clinic


@dataclass
class BookedClinic:
    clinic: SmallClinic
    now: dt.datetime
    today: dt.date
    series: list[int]  # Ada's induction, in series order

    def starts(self, ids: list[int] | None = None) -> dict[int, dt.datetime]:
        with self.clinic.db.read() as s:
            rows = s.execute(
                select(Appointment.id, Appointment.starts_at).where(
                    Appointment.id.in_(ids or self.series)
                )
            ).all()
        return dict(rows)

    def day_of(self, appointment_id: int) -> dt.date:
        return self.clinic.calendar.local_date(self.starts()[appointment_id])


def booked_clinic(url: str, *, whole_weeks: int = 0) -> BookedClinic:
    """``whole_weeks``: the series starts on the first Monday from which that many weeks have
    no holiday or closure (a test whose spacing must not depend on the calendar)."""
    clinic = build_small_clinic(url)
    now = utcnow()
    today = clinic.calendar.local_date(now)
    later = today + dt.timedelta(days=800)
    with clinic.db.write() as s:
        rems = s.get(ClinicSetting, "rems")
        assert rems is not None
        rems.value = {**rems.value, "site_certified_until": later.isoformat()}
        s.execute(
            update(Patient)
            .where(Patient.prior_auth_expires_on.is_not(None))
            .values(prior_auth_expires_on=later)
        )
    # A Monday a week or more ahead.
    start = today + dt.timedelta(days=7 + (7 - today.weekday()) % 7)
    calendar = clinic.calendar
    while any(
        calendar.closed_reason(start + dt.timedelta(days=d)) is not None
        for d in range(7 * whole_weeks)
        if d % 7 < 5
    ):
        start += dt.timedelta(days=7)
    proposal = propose_series(
        clinic.db,
        chart="BT-1",
        protocol="iv_induction",
        start=start,
        wishes=PlanWishes(weekdays=("mon", "wed", "fri"), time=dt.time(10)),
        today=today,
    )
    assert proposal.plan.complete, proposal.plan.problems
    result = booking.book(
        clinic.db,
        SYSTEM,
        BookingRequest(
            patient_id=proposal.patient_id, sessions=proposal.sessions, protocol="iv_induction"
        ),
        now=now,
    )
    return BookedClinic(clinic, now, today, list(result.appointment_ids))
