"""One resource's holds swept in order of start (a sweep line), for the integrity check: two
exclusive holds at once (overlaps) and more units held than the resource has (capacity), with
quick answers for the holds pass: is a hold inside one of the resource's closures, or (for
staff) within a shift."""

from __future__ import annotations

import datetime as dt
import heapq
from dataclasses import dataclass, field

from ketadesk.scheduling.calendar import Interval
from ketadesk.scheduling.catalog import ResourceKind
from ketadesk.scheduling.model import ResourceInfo
from ketadesk.services.clinic.integrity_calendar import ClinicDays
from ketadesk.services.clinic.integrity_findings import Findings, Hold
from ketadesk.services.clinic.integrity_report import ProblemCode

_BEFORE_EVERYTHING = dt.datetime.min.replace(tzinfo=dt.UTC)


@dataclass
class _Stretch:
    """A stretch of time during which a resource is held beyond its capacity."""

    start: dt.datetime
    peak: int
    appointment_ids: set[int] = field(default_factory=set)
    only_exclusive: bool = True


class ResourcePass:
    """One resource's active holds, fed in order of start: overlaps, capacity and shifts.

    The holds still running sit in a heap by end time (a sweep line): a hold that starts is
    compared with the exclusive holds still running (overlaps) and its units are added to the
    load (capacity).  For staff, the shifts of the day being swept are kept at hand.
    """

    def __init__(
        self,
        resource_id: int,
        resource: ResourceInfo | None,
        days: ClinicDays,
        findings: Findings,
    ) -> None:
        self.days = days
        self.findings = findings
        self.resource_id = resource_id
        self.resource = resource
        self.is_staff = self.resource is not None and self.resource.kind is ResourceKind.STAFF
        self.closures = sorted(
            days.calendar.resource_closures(resource_id), key=lambda c: c.span.start
        )
        self.closures_ended = 0  # the closures before this one end before the holds to come
        self.capacity = self.resource.capacity if self.resource is not None else None
        self.running: list[tuple[dt.datetime, int, Hold]] = []
        self.load = 0
        self.over: _Stretch | None = None
        self.day_ends = _BEFORE_EVERYTHING
        self.shifts: list[Interval] = []

    def in_closure(self, hold: Hold) -> bool:
        closures = self.closures
        while (
            self.closures_ended < len(closures)
            and closures[self.closures_ended].span.end <= hold.starts_at
        ):
            self.closures_ended += 1
        for c in closures[self.closures_ended :]:
            if c.span.start >= hold.ends_at:
                break
            if hold.starts_at < c.span.end:
                return True
        return False

    def on_shift(self, hold: Hold) -> bool:
        if hold.starts_at >= self.day_ends:
            day = self.days.local_date(hold.starts_at)
            self.day_ends = self.days.next_midnight(day)
            self.shifts = self.days.shifts(self.resource_id, day)
        for shift in self.shifts:
            if shift.start <= hold.starts_at and hold.ends_at <= shift.end:
                return True
        return False

    def add(self, hold: Hold) -> None:
        running = self.running
        if running:
            if running[0][0] <= hold.starts_at:
                self._release(hold.starts_at)
            if hold.exclusive:
                for _, _, other in running:
                    if other.exclusive:
                        self._overlap(hold, other)
        heapq.heappush(running, (hold.ends_at, hold.id, hold))
        self.load += hold.units
        if self.capacity is None or self.load <= self.capacity:
            return
        if self.over is None:
            self.over = _Stretch(start=hold.starts_at, peak=self.load)
            for _, _, held in running:
                self._join(held)
        else:
            self.over.peak = max(self.over.peak, self.load)
            self._join(hold)

    def _overlap(self, hold: Hold, other: Hold) -> None:
        self.findings.gather(
            ProblemCode.OVERLAP,
            tuple(sorted({other.appointment_id, hold.appointment_id})),
            self.resource_id,
            Interval(hold.starts_at, min(hold.ends_at, other.ends_at)),
        )

    def finish(self) -> None:
        while self.running:
            self._release(self.running[0][0])

    def _join(self, hold: Hold) -> None:
        assert self.over is not None
        if hold.units:
            self.over.appointment_ids.add(hold.appointment_id)
            self.over.only_exclusive = self.over.only_exclusive and hold.exclusive

    def _release(self, until: dt.datetime) -> None:
        while self.running and self.running[0][0] <= until:
            end, _, hold = heapq.heappop(self.running)
            self.load -= hold.units
            over = self.over
            if over is not None and self.capacity is not None and self.load <= self.capacity:
                self.over = None
                # Exclusive holds alone over capacity are overlaps, already reported as such.
                if not over.only_exclusive:
                    self.findings.gather(
                        ProblemCode.CAPACITY,
                        tuple(sorted(over.appointment_ids)),
                        self.resource_id,
                        Interval(over.start, end),
                        f"is held {over.peak} times at once (capacity {self.capacity})",
                    )
