"""The demo's plan: the clinic's closures, each day's free template slots, and the patients'
journeys driven side by side so that each wanted session takes the earliest free slot.
"""

from __future__ import annotations

import datetime as dt
import heapq
import random

from ketadesk.config import Catalog
from ketadesk.scheduling.calendar import ClinicCalendar, ClosureSpan, Interval
from ketadesk.scheduling.catalog import ResourceKind, SessionTypeSpec
from ketadesk.scheduling.model import session_holds
from ketadesk.scheduling.statuses import ATTENDED_STATUSES
from ketadesk.services.demo import people
from ketadesk.services.demo.facts import (
    CANCEL_RATE,
    EARLY_CHECK_IN_MINUTES,
    INSPECTION_UNTIL,
    NO_SHOW_RATE,
    TRAINING_FROM,
    WARM_UP_WEEKS,
    demo_settings,
)
from ketadesk.services.demo.journeys import Journeys
from ketadesk.services.demo.layout import build_layout, open_minutes
from ketadesk.services.demo.planned import (
    MINUTE,
    DayBook,
    Journey,
    PatientPlan,
    Progress,
    Row,
    SeriesPlan,
    Slot,
    Visit,
    Want,
    days_of,
    started_at,
)
from ketadesk.services.demo.templates import weekday_template


class DemoPlan:
    """Everything the demo will write, decided in memory first."""

    def __init__(
        self,
        catalog: Catalog,
        *,
        seed: int,
        today: dt.date,
        now: dt.datetime,
        weeks_back: int,
        weeks_ahead: int,
        rooms: int,
        caseload: int,
    ) -> None:
        self.rng = random.Random(seed)
        self.seed = seed
        self.today = today
        self.now = now
        self.first_day = today - days_of(7 * weeks_back)
        self.last_day = today + days_of(7 * weeks_ahead)
        self.weeks_back = weeks_back
        self.settings = demo_settings(catalog, today)
        self.catalog = Catalog(self.settings, catalog.session_types, catalog.protocols)
        self.types = catalog.session_types
        self.protocols = catalog.protocols
        self.rooms = rooms
        self.caseload = caseload
        self.since = ClinicCalendar(self.settings).at_local(
            self.first_day - days_of(7 * WARM_UP_WEEKS + 60), 9 * 60
        )
        self.layout = build_layout(self.catalog, rooms, 1, 1, self.since)
        self.closure_rows = self._plan_closures()
        spans = [
            ClosureSpan(
                span=Interval(r["starts_at"], r["ends_at"]),
                reason=r["reason"],
                kind=r["kind"],
                resource_id=r["resource_id"],
            )
            for r in self.closure_rows
        ]
        self.calendar = ClinicCalendar(
            self.settings, closures=tuple(spans), shifts=tuple(self.layout.shift_patterns())
        )
        self.closure_days: set[dt.date] = set()
        for span in spans:
            day = self.calendar.local_date(span.span.start)
            while day <= self.calendar.local_date(span.span.end):
                self.closure_days.add(day)
                day += days_of(1)
        self.templates = [weekday_template(self.catalog, self.layout, wd) for wd in range(7)]
        self._day_books: dict[dt.date, DayBook | None] = {}
        self._open: dict[dt.date, list[Interval]] = {}
        self.patients: list[PatientPlan] = []
        self.series: list[SeriesPlan] = []
        self.visits: list[Visit] = []
        self.unplaced = 0
        self.journeys = Journeys(
            self.catalog,
            self.templates,
            rng=self.rng,
            today=today,
            first_day=self.first_day,
            weeks_back=weeks_back,
            caseload=caseload,
            patients=self.patients,
            series=self.series,
        )

    # -- describing -------------------------------------------------------------------------------

    def describe(self) -> str:
        slots = sum(len(t) for t in self.templates)
        return (
            f"{self.rooms} rooms ({slots} session slots a week), {self.caseload} patients in "
            f"care, {self.first_day.isoformat()} to {self.last_day.isoformat()}"
        )

    def state_counts(self) -> tuple[tuple[str, int], ...]:
        counts: dict[str, int] = {}
        for p in self.patients:
            if p.id:
                counts[p.state] = counts.get(p.state, 0) + 1
        return tuple(sorted(counts.items()))

    # -- closures ---------------------------------------------------------------------------------

    def _plan_closures(self) -> list[Row]:
        """A staff-training afternoon every quarter (the latest last week) and a monitor's
        biomedical inspection every half year (the next one next week)."""
        calendar = ClinicCalendar(self.settings)
        rows: list[Row] = []
        training = self.today - days_of((self.today.weekday() - 2) % 7 + 7)  # last week's Wed
        while training >= self.first_day:
            hours = open_minutes(self.catalog, training.weekday())
            if hours is not None and not calendar.holiday(training) and hours[1] > TRAINING_FROM:
                rows.append(
                    {
                        "resource_id": None,
                        "kind": "closure",
                        "starts_at": calendar.at_local(training, max(hours[0], TRAINING_FROM)),
                        "ends_at": calendar.at_local(training, hours[1]),
                        "reason": "Staff training afternoon: emergency response and airway skills",
                    }
                )
            training -= days_of(7 * 13)
        monitors = self.layout.of(ResourceKind.EQUIPMENT, "vital_signs_monitor")
        inspection = self.today + days_of((1 - self.today.weekday()) % 7 or 7)  # next Tuesday
        turn = 1
        while inspection >= self.first_day and monitors:
            hours = open_minutes(self.catalog, inspection.weekday())
            if (
                inspection <= self.last_day
                and hours is not None
                and not calendar.holiday(inspection)
                and hours[0] < INSPECTION_UNTIL
            ):
                rows.append(
                    {
                        "resource_id": monitors[turn % len(monitors)],
                        "kind": "maintenance",
                        "starts_at": calendar.at_local(inspection, hours[0]),
                        "ends_at": calendar.at_local(inspection, INSPECTION_UNTIL),
                        "reason": "Annual biomedical safety inspection",
                    }
                )
            inspection -= days_of(7 * 26)
            turn += 1
        rows.sort(key=lambda r: (r["starts_at"], r["resource_id"] or 0))
        for i, row in enumerate(rows, start=1):
            row["id"] = i
        return rows

    # -- days and slots ---------------------------------------------------------------------------

    def _day(self, day: dt.date) -> DayBook | None:
        if day in self._day_books:
            return self._day_books[day]
        book: DayBook | None = None
        if self.open_intervals(day):
            template = self.templates[day.weekday()]
            if day in self.closure_days:
                template = [s for s in template if self._slot_open(day, s)]
            by_code: dict[str, list[Slot]] = {}
            for slot in template:
                by_code.setdefault(slot.code, []).append(slot)
            book = DayBook(by_code)
        self._day_books[day] = book
        return book

    def _slot_open(self, day: dt.date, slot: Slot) -> bool:
        """Whether a template slot survives the day's closures (the calendar's own checks)."""
        spec = self.types[slot.code]
        start = self.calendar.at_local(day, slot.minute)
        span = Interval(start, start + dt.timedelta(minutes=spec.total_minutes))
        if self.calendar.unavailable_reason(None, span) is not None:
            return False
        return all(
            self.calendar.unavailable_reason(
                h.resource_id, h.span, is_staff=h.resource_id in self.layout.role
            )
            is None
            for h in session_holds(spec, start, dict(slot.assignment))
        )

    def open_intervals(self, day: dt.date) -> list[Interval]:
        found = self._open.get(day)
        if found is None:
            found = self._open[day] = self.calendar.open_intervals(day)
        return found

    def next_open_day(self, day: dt.date, n: int = 1) -> dt.date:
        for _ in range(n):
            day += days_of(1)
            while not self.open_intervals(day):
                day += days_of(1)
        return day

    # -- placing one session ----------------------------------------------------------------------

    def _place(self, p: PatientPlan, want: Want) -> Visit | None:
        hi = min(want.hi, self.last_day)
        if hi < want.lo:
            return None
        for day in self._days_to_try(p, want, hi):
            book = self._day(day)
            if book is None:
                continue
            slot = self._pick(book, p, want)
            if slot is not None:
                return self._book(book, day, slot, p, want)
        return None

    def _days_to_try(self, p: PatientPlan, want: Want, hi: dt.date) -> list[dt.date]:
        def order(day: dt.date) -> tuple[bool, int, dt.date]:
            off_pattern = bool(want.weekdays) and day.weekday() not in want.weekdays
            return (off_pattern, abs((day - want.target).days), day)

        days = [want.lo + days_of(n) for n in range((hi - want.lo).days + 1)]
        return sorted((d for d in days if d not in p.busy), key=order)

    def _pick(self, book: DayBook, p: PatientPlan, want: Want) -> Slot | None:
        free = [s for s in book.slots_by_code.get(want.code, ()) if s.key not in book.taken]
        if not free:
            return None
        if want.pref is not None:
            lane, minute = want.pref
            return min(free, key=lambda s: (s.lane != lane, abs(s.minute - minute), s.key))
        return min(
            free,
            key=lambda s: (abs(s.minute - p.pref_minute) // 60, (s.lane * 7 + p.seq) % 11, s.key),
        )

    def _book(self, book: DayBook, day: dt.date, slot: Slot, p: PatientPlan, want: Want) -> Visit:
        spec = self.types[slot.code]
        start = self.calendar.at_local(day, slot.minute)
        end = start + dt.timedelta(minutes=spec.total_minutes)
        series = want.series
        if want.after is not None and want.after.changed_at is not None:
            booked_at = want.after.changed_at + dt.timedelta(minutes=5)
        elif series is not None:
            if series.booked_at is None:
                series.booked_at = self._booking_time(start)
            booked_at = series.booked_at
        else:
            booked_at = self._booking_time(start)
        visit = Visit(
            patient=p,
            code=slot.code,
            day=day,
            slot=slot,
            start=start,
            end=end,
            status="booked",
            booked_at=booked_at,
            series=series,
            index=want.index,
            makeup=want.after is not None,
        )
        self._settle(visit, spec, want.force)
        if visit.active:
            book.taken[slot.key] = visit
        p.busy.add(day)
        p.visits.append(visit)
        if series is not None:
            series.visits.append(visit)
        self.visits.append(visit)
        return visit

    def _booking_time(self, start: dt.datetime) -> dt.datetime:
        """When the front desk booked a session: some days before it, never after "now"."""
        day = self.calendar.local_date(start) - days_of(self.rng.randint(2, 12))
        booked = self.calendar.at_local(day, self.rng.randrange(8 * 60, 17 * 60, 5))
        latest = self.now - dt.timedelta(minutes=self.rng.randrange(30, 48 * 60, 5))
        return min(booked, latest)

    def _settle(self, visit: Visit, spec: SessionTypeSpec, force: str | None) -> None:
        """How a session went (in the past), is going (now) or stays booked (ahead)."""
        now = self.now
        if visit.end <= now:
            status = force
            if status is None:
                roll = self.rng.random()
                status = (
                    "no_show"
                    if roll < NO_SHOW_RATE
                    else "cancelled"
                    if roll < NO_SHOW_RATE + CANCEL_RATE
                    else "completed"
                )
            visit.status = status
            if status == "cancelled":
                before = dt.timedelta(minutes=self.rng.randrange(60, 72 * 60, 5))
                visit.changed_at = max(visit.start - before, visit.booked_at + MINUTE * 10)
                late = dt.timedelta(hours=self.settings.late_cancel_hours)
                visit.late_cancel = visit.start - visit.changed_at < late
                visit.reason = (
                    "Patient decided to stop treatment"
                    if force
                    else self.rng.choice(people.CANCEL_REASONS)
                )
            elif status == "no_show":
                visit.changed_at = visit.start + MINUTE * min(20, spec.total_minutes)
                visit.reason = "Did not arrive; no answer by phone"
        elif visit.start - MINUTE * EARLY_CHECK_IN_MINUTES <= now:
            visit.status = "in_progress" if now >= started_at(visit, spec) else "checked_in"

    # -- driving the journeys ---------------------------------------------------------------------

    def simulate(self, say: Progress) -> None:
        current = self.journeys.current_caseload()
        self._drive([(p, self.journeys.journey(p)) for p in current])
        past = self.journeys.past_patients()
        if past:
            say(f"adding {len(past):,} past patients for the longer history")
            self._drive([(p, self.journeys.history_journey(p)) for p in past])
        for p in self.patients:
            number = 0
            for v in sorted(p.visits, key=lambda v: v.start):
                if v.status in ATTENDED_STATUSES and self.types[v.code].dosing:
                    number += 1
                    v.dose_number = number
        if self.unplaced:
            say(f"{self.unplaced:,} sessions found no free slot (their series stop there)")
        # The users and settings were there before the first booking.
        first_booking = min((v.booked_at for v in self.visits), default=self.since)
        self.since = min(self.since, first_booking - days_of(30))
        for row in self.layout.user_rows:
            row["created_at"] = self.since

    def _drive(self, journeys: list[tuple[PatientPlan, Journey]]) -> None:
        """Run the journeys side by side, always placing the earliest wanted session first."""
        queue: list[tuple[int, int, PatientPlan, Journey, Want]] = []
        counter = 0
        for p, journey in journeys:
            want = next(journey, None)
            if want is not None:
                queue.append((want.lo.toordinal(), counter, p, journey, want))
                counter += 1
        heapq.heapify(queue)
        while queue:
            _, _, p, journey, want = heapq.heappop(queue)
            visit = self._place(p, want)
            if visit is None and want.lo <= self.last_day:
                self.unplaced += 1
            try:
                following = journey.send(visit)
            except StopIteration:
                continue
            heapq.heappush(queue, (following.lo.toordinal(), counter, p, journey, following))
            counter += 1
