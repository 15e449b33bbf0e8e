"""What the demo plans in memory before it writes anything: patients, their series and visits,
the sessions their journeys ask for, and each day's book of template slots.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

from ketadesk.scheduling.catalog import SessionTypeSpec
from ketadesk.scheduling.statuses import ATTENDED_STATUSES, RELEASED_STATUSES

Progress = Callable[[str], None]
# A row to insert, as the writer takes it.
Row = dict[str, Any]
MINUTE = dt.timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class Slot:
    key: int  # its place in the weekday's template
    code: str  # session type
    minute: int  # local start, minutes after midnight
    lane: int  # the room, or the clinician whose office hours these are
    room_id: int | None
    assignment: tuple[tuple[str, int], ...]  # need key -> resource
    clinician: int | None  # the staff member who runs it


@dataclass(slots=True, eq=False)
class PatientPlan:
    seq: int
    state: str
    historical: bool
    pref_minute: int
    baseline: int  # PHQ-9 at intake
    responder: bool
    floor: float  # a responder's score settles near baseline * floor
    weekday_shift: int = 0  # how far the patient's usual weekdays are from a protocol's
    start_day: dt.date | None = None
    eligible: bool = True
    intake: Visit | None = None
    busy: set[dt.date] = field(default_factory=set)
    visits: list[Visit] = field(default_factory=list)
    id: int = 0


@dataclass(slots=True, eq=False)
class SeriesPlan:
    patient: PatientPlan
    protocol: str
    planned: int
    booked_at: dt.datetime | None = None
    finished: bool = False  # it ran through all its stages
    dropped: bool = False
    stalled_on: dt.date | None = None  # no slot could be found from this day on
    weekdays: frozenset[int] = frozenset()
    visits: list[Visit] = field(default_factory=list)
    id: int = 0

    def last_active_day(self) -> dt.date | None:
        days = [v.day for v in self.visits if v.status in ATTENDED_STATUSES or v.status == "booked"]
        return max(days) if days else None


@dataclass(slots=True, eq=False)
class Visit:
    patient: PatientPlan
    code: str
    day: dt.date
    slot: Slot
    start: dt.datetime
    end: dt.datetime
    status: str
    booked_at: dt.datetime
    series: SeriesPlan | None = None
    index: int | None = None
    changed_at: dt.datetime | None = None  # when it was cancelled or marked a no-show
    late_cancel: bool = False
    reason: str = ""
    makeup: bool = False
    dose_number: int = 0  # the patient's how-manieth attended dosing session
    id: int = 0

    @property
    def active(self) -> bool:
        return self.status not in RELEASED_STATUSES


@dataclass(slots=True)
class Want:
    """A session a patient's journey asks for: its type and the days it may fall on."""

    code: str
    lo: dt.date
    hi: dt.date
    target: dt.date
    weekdays: frozenset[int] = frozenset()
    series: SeriesPlan | None = None
    index: int | None = None
    pref: tuple[int, int] | None = None  # (lane, minute) of the series' usual slot
    force: str | None = None  # how it ends if it falls in the past (a patient dropping out)
    after: Visit | None = None  # the missed visit this one makes up for


Journey = Generator[Want, "Visit | None", None]


@dataclass(slots=True)
class DayBook:
    slots_by_code: dict[str, list[Slot]]
    taken: dict[int, Visit] = field(default_factory=dict)


def days_of(n: int) -> dt.timedelta:
    return dt.timedelta(days=n)


def started_at(visit: Visit, spec: SessionTypeSpec) -> dt.datetime:
    """When a session moves from checked in to in progress: after its first phase, if it has
    more than one (check-in and vitals), else at its start."""
    first = spec.phases[0].minutes if len(spec.phases) > 1 else 0
    return visit.start + MINUTE * first
