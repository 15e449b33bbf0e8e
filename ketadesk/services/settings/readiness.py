"""Whether a clinic is set up enough to book: what the set-up assistant sums up at its end,
and what decides whether it is offered at all (a clinic with no rooms and no staff)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from ketadesk.services.common.context import Database
from ketadesk.store.models import Resource, StaffShift, User


@dataclass(frozen=True, slots=True)
class ClinicReadiness:
    """Counts of what the clinic has (active only), and what it still lacks to book."""

    rooms: int
    equipment: int
    staff: int
    staff_with_shifts: int
    users: int

    @property
    def is_empty(self) -> bool:
        """No rooms and no staff: a clinic just created, which the assistant is offered for."""
        return self.rooms == 0 and self.staff == 0

    @property
    def can_book(self) -> bool:
        return self.rooms > 0 and self.staff_with_shifts > 0

    def missing(self) -> tuple[str, ...]:
        """What must still be added before a session can be booked, in words."""
        lacks = []
        if self.rooms == 0:
            lacks.append("at least one room")
        if self.staff == 0:
            lacks.append("at least one staff member")
        elif self.staff_with_shifts == 0:
            lacks.append("weekly shifts for a staff member")
        return tuple(lacks)


def clinic_readiness(db: Database) -> ClinicReadiness:
    """What the clinic has now."""
    with db.read() as session:
        counts = dict(
            session.execute(
                select(Resource.kind, func.count())
                .where(Resource.active.is_(True))
                .group_by(Resource.kind)
            ).all()
        )
        with_shifts = session.scalar(
            select(func.count(func.distinct(StaffShift.resource_id)))
            .join(Resource, Resource.id == StaffShift.resource_id)
            .where(Resource.active.is_(True))
        )
        users = session.scalar(select(func.count()).select_from(User).where(User.active.is_(True)))
    return ClinicReadiness(
        rooms=int(counts.get("room", 0)),
        equipment=int(counts.get("equipment", 0)),
        staff=int(counts.get("staff", 0)),
        staff_with_shifts=int(with_shifts or 0),
        users=int(users or 0),
    )
