"""What the integrity check reports: each problem as one readable line, with a code to sort
and filter by, and the whole report of one run."""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass

from ketadesk.scheduling.calendar import Interval


class ProblemCode(enum.StrEnum):
    OVERLAP = "overlap"  # two active exclusive holds on one resource at the same time
    CAPACITY = "capacity"  # more units held at once than the resource's capacity
    PATIENT_OVERLAP = "patient_overlap"  # one patient in two active sessions at the same time
    CLOSED = "closed"  # clinic closed that day (holiday, weekday, closure) or resource closed
    OUTSIDE_HOURS = "outside_hours"  # on an open day, but outside the opening hours
    OFF_SHIFT = "off_shift"  # a staff member held outside their shifts
    ORPHAN = "orphan"  # a row pointing to something that does not exist
    STATUS = "status"  # holds that do not match their appointment's status
    INCONSISTENT = "inconsistent"  # rows that contradict one another


class Severity(enum.StrEnum):
    ERROR = "error"  # must never be in the database: ``ketadesk check`` exits 1
    WARNING = "warning"  # worth a look (a booked session breaking a clinic rule): exit 0


@dataclass(frozen=True)
class Problem:
    """One thing wrong, as one readable line (``message`` starts with the code)."""

    code: str
    message: str
    appointment_ids: tuple[int, ...] = ()
    resource_id: int | None = None
    at: dt.datetime | None = None  # when it happens (UTC), for sorting and for jumping to it
    severity: Severity = Severity.ERROR

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class IntegrityReport:
    problems: tuple[Problem, ...]
    appointments: int  # how many appointments were read
    holds: int  # how many resource holds were read
    window: Interval | None = None
    #: Booked sessions that break a protocol or gating rule (integrity_rules.py): worth a
    #: clinician's look, not wrong rows, so they leave the report clean.
    warnings: tuple[Problem, ...] = ()

    @property
    def clean(self) -> bool:
        return not self.problems

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity is Severity.ERROR)


_CODE_ORDER = {code.value: i for i, code in enumerate(ProblemCode)}


def problem_order(p: Problem) -> tuple[bool, dt.datetime, int, str]:
    """Sorts problems by when they happen (timeless ones last), then by code and wording."""
    at = p.at or dt.datetime.max.replace(tzinfo=dt.UTC)
    return (p.at is None, at, _CODE_ORDER.get(p.code, len(_CODE_ORDER)), p.message)
