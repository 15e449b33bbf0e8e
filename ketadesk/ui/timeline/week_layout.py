"""Geometry of the week view: seven day columns, an hour axis, and one-line session blocks.

Plain functions on plain numbers, no Qt, like ``day_layout``: the widget paints what
``layout_week`` returns and decides nothing.  Body coordinates are pixels from the top-left
corner of the first day at the first hour shown.

The week is an appointment book, not a scaled clock.  At 1,400 px five open days get about
190 px each, and a clinic of six rooms and two offices has up to eight sessions at once:
side-by-side lanes (one per room or per overlap) would be 25 px wide and say nothing.  So each
hour is a row as tall as the busiest day needs, and a day's sessions of that hour are stacked in
it, one full-width block each, in start order: every session keeps a readable line ("07:30
Seacole M. SPR 2/6"), the hours stay aligned across the days, and the load bar in each header
says how full the day is.  Within a row, minutes map linearly onto its height (``y_of``,
``minute_at``), so dragging to a day and time works as before.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterable, Sequence
from typing import NamedTuple

from ketadesk.scheduling.dates import clock, hour_label
from ketadesk.scheduling.status_times import (
    minutes_over,
    over_forms,
    room_busy_forms,
)
from ketadesk.services.schedule.day_schedule import AWAY_BADGE, DayAppointment, DaySchedule
from ketadesk.services.schedule.week import WeekSchedule
from ketadesk.ui.timeline.day_layout import (
    Band,
    Rect,
    Tick,
    TimeRange,
    clip_span,
    grid_bounds,
    meets_overrun,
    runs_over,
    snap_minute,
    visible_range,
    wall_minute,
)


class WeekMetrics(NamedTuple):
    """Sizes in device-independent pixels."""

    header_height: int = 56  # the day's title, its line of detail and its load bar
    axis_width: int = 52
    min_day_width: int = 120  # narrower than this, open days scroll sideways
    line_height: int = 16  # one line of a block (the view sets it from its font)
    max_block_lines: int = 3  # a quiet week's blocks grow to say the room and the status
    min_hour_height: int = 14  # an hour with nothing booked on any day
    column_padding: int = 2
    block_gap: int = 1
    snap_minutes: int = 60
    closed_day_share: float = 0.35  # a closed day with nothing booked, of an open day's width
    load_bar_height: int = 5


class DayLoad(NamedTuple):
    """How full a day is: booked minutes of its chairs (treatment rooms; in a staff member's
    week, their time) against the minutes those chairs are open."""

    booked_minutes: int
    capacity_minutes: int
    chairs: int

    @property
    def fraction(self) -> float:
        return self.booked_minutes / self.capacity_minutes if self.capacity_minutes else 0.0

    @property
    def percent(self) -> int:
        return round(100 * self.fraction)

    def describe(self) -> str:
        """In words, for the header's tooltip: "Booked 62% of the chair time: 41 h 00 of
        66 h 00 (6 chairs while open)"."""
        return (
            f"Booked {self.percent}% of the chair time: {_hours(self.booked_minutes)} of "
            f"{_hours(self.capacity_minutes)} ({self.chairs} chair{'s' if self.chairs != 1 else ''}"
            " while open)"
        )


def _hours(minutes: int) -> str:
    return f"{minutes // 60} h {minutes % 60:02d}"


class DayColumn(NamedTuple):
    """One day's column and its header."""

    day: dt.date
    x: float
    w: float
    title: str  # "Tue Nov 24" ("Sat 28" for a narrow closed day)
    detail: str  # "12 sessions · 62%", or why the clinic is closed
    is_today: bool
    is_closed: bool
    load: DayLoad | None = None  # None: closed, nothing to fill


class BlockNames(NamedTuple):
    """How a block names its patient, each form told apart from every other patient of the
    week shown (``block_names``), so two patients never read the same.

    Attributes:
        short: the surname and an initial, "Allen J."; more letters of the first name where
            another patient shown shares the surname and initial ("Allen Jam.", "Allen Jan."),
            and the chart number's tail where even the names are the same ("Allen J. #21").
        surname: the surname alone, "Allen"; "" when another patient shown has it too.
        initials: "J.A."; a letter or two more where another patient shown has the same
            initials ("L.Mo.", "L.Ma."), the chart number's tail for the same name.
    """

    short: str
    surname: str
    initials: str


class WeekBlock(NamedTuple):
    appointment: DayAppointment
    day_index: int
    rect: Rect
    lane: int  # its place in its hour row, from the top
    lanes: int  # the blocks of its day in that row
    clipped_before: bool = False
    clipped_after: bool = False
    #: How it names its patient (None: by the name alone, as a block outside a week does).
    names: BlockNames | None = None
    #: For a session still in progress, or checked in and never started, past its planned end
    #: (today): how long (``status_times.minutes_over``); 0 otherwise.
    overrun_minutes: int = 0
    #: For a session whose room an earlier one still holds past its planned end: that one
    #: (the first, if several) and how long it has run over; None otherwise.
    busy_with: DayAppointment | None = None
    busy_minutes: int = 0


class HourRow(NamedTuple):
    """One hour of the axis: from ``minute`` for 60 minutes, at ``y``, ``h`` pixels tall."""

    minute: int
    y: float
    h: float


class WeekLayout(NamedTuple):
    range: TimeRange
    pixels_per_minute: float  # on average (scroll steps); ``y_of`` is exact
    day_width: float
    width: float  # of the body
    height: float
    days: tuple[DayColumn, ...]
    blocks: tuple[WeekBlock, ...]
    ticks: tuple[Tick, ...]
    bands: tuple[Band, ...]  # ``column`` is the day's index; None for every day
    rows: tuple[HourRow, ...] = ()
    block_lines: int = 1  # lines of text each block has room for

    def y_of(self, minute: float) -> float:
        return _y_of(self.rows, self.range, minute)

    def block_at(self, x: float, y: float) -> WeekBlock | None:
        """The block under a body point (the one drawn on top when blocks touch)."""
        for block in reversed(self.blocks):
            if block.rect.contains(x, y):
                return block
        return None

    def blocks_in(self, area: Rect) -> list[WeekBlock]:
        """Blocks that show in a body area: the painter draws only these."""
        return [b for b in self.blocks if b.rect.intersects(area)]

    def day_at(self, x: float) -> int | None:
        """The index of the day column at body ``x``, or None outside the days."""
        for i, column in enumerate(self.days):
            if column.x <= x < column.x + column.w:
                return i
        return None

    def minute_at(self, y: float) -> float:
        """The wall-clock minute at a body y (the inverse of ``y_of``)."""
        if not self.rows:
            return self.range.first + y / self.pixels_per_minute
        if y <= 0:
            return float(self.range.first)
        for row in self.rows:
            if y < row.y + row.h:
                return row.minute + (y - row.y) / row.h * 60 if row.h else float(row.minute)
        return float(self.range.last)

    def block_of(self, appointment_id: int) -> WeekBlock | None:
        return next((b for b in self.blocks if b.appointment.id == appointment_id), None)

    def now_y(self, day_index: int, minute: float) -> float:
        """Where the "now" line crosses a day: at ``minute`` on the axis, moved to the gap
        between the sessions of that hour that have started and those still to come, so it
        never runs through a block's text."""
        y = self.y_of(minute)
        row = next((r for r in self.rows if r.minute <= minute < r.minute + 60), None)
        if row is None:
            return y
        in_row = [
            b for b in self.blocks if b.day_index == day_index and row.y <= b.rect.y < row.y + row.h
        ]
        started = [b.rect.bottom for b in in_row if _minute_of(b) <= minute]
        coming = [b.rect.y for b in in_row if _minute_of(b) > minute]
        low = max(started, default=row.y)
        high = min(coming, default=row.y + row.h)
        return min(max(y, low), max(low, high))


def _minute_of(block: WeekBlock) -> int:
    a = block.appointment
    return a.start.hour * 60 + a.start.minute


def _y_of(rows: Sequence[HourRow], shown: TimeRange, minute: float) -> float:
    """A wall-clock minute's body y: linear within its hour's row."""
    if not rows:
        return 0.0
    if minute <= shown.first:
        return rows[0].y
    for row in rows:
        if minute < row.minute + 60:
            return row.y + (minute - row.minute) / 60 * row.h
    last = rows[-1]
    return last.y + last.h


class WeekDropTarget(NamedTuple):
    """Where a dragged block would go: a day (its column's index) and a start on that day's
    slot grid, in local wall-clock minutes."""

    day: int
    minute: int


def week_drop_target(
    layout: WeekLayout,
    x: float,
    y: float,
    *,
    grab_minutes: float,
    duration: int,
    slot: int,
    anchors: Sequence[int],
) -> WeekDropTarget | None:
    """Where a block held ``grab_minutes`` below its top goes when the pointer is at body
    ``(x, y)``: the day under the pointer (the nearest one at either side), the start snapped
    to that day's slot grid (laid from ``anchors[day]``, its opening minute) and kept within
    the range shown.  None without days."""
    if not layout.days:
        return None
    day = layout.day_at(x)
    if day is None:
        day = 0 if x < layout.days[0].x else len(layout.days) - 1
    anchor = anchors[day]
    start = snap_minute(layout.minute_at(y) - grab_minutes, slot, anchor)
    lo, hi = grid_bounds(layout.range, duration, slot, anchor)
    return WeekDropTarget(day, min(max(start, lo), hi))


def week_step_target(
    layout: WeekLayout,
    target: WeekDropTarget,
    *,
    slots: int = 0,
    days: int = 0,
    duration: int,
    slot: int,
    anchors: Sequence[int],
) -> WeekDropTarget:
    """``target`` moved by whole slots and days (the keyboard's way to drag), kept inside the
    week and the range shown; the time stays on the new day's grid."""
    day = min(max(target.day + days, 0), max(len(layout.days) - 1, 0))
    anchor = anchors[day] if anchors else 0
    lo, hi = grid_bounds(layout.range, duration, slot, anchor)
    minute = snap_minute(target.minute, slot, anchor) + slots * max(1, slot)
    return WeekDropTarget(day, min(max(minute, lo), hi))


def week_ghost_rect(
    layout: WeekLayout, target: WeekDropTarget, duration: int, metrics: WeekMetrics
) -> Rect:
    """The rectangle of a dragged block's ghost: the whole inner width of its day."""
    column = layout.days[target.day]
    top = round(layout.y_of(target.minute))
    bottom = round(layout.y_of(target.minute + duration))
    return Rect(
        column.x + metrics.column_padding,
        top,
        max(column.w - 2 * metrics.column_padding, 1),
        max(bottom - top, 1),
    )


def grid_anchors(week: WeekSchedule) -> tuple[int, ...]:
    """Each day's slot-grid anchor: its opening minute; a closed day takes the first open
    day's (so a ghost dragged across it keeps its time), or midnight in a week never open."""
    opening = [wall_minute(d.opens, d.day) if d.opens else None for d in week.days]
    default = next((m for m in opening if m is not None), 0)
    return tuple(default if m is None else m for m in opening)


def day_title(day: dt.date, *, narrow: bool = False) -> str:
    """A day's header, as a US clinic writes it: "Mon Nov 30" ("Sat 5" in a narrow column)."""
    if narrow:
        return f"{day:%a} {day.day}"
    return f"{day:%a} {day:%b} {day.day}"


def day_detail(schedule: DaySchedule, shown: int, load: DayLoad | None = None) -> str:
    """The line under a day's title: its sessions and how full it is, or why it is closed."""
    if schedule.closed_reason:
        reason = schedule.closed_reason.removeprefix("Clinic closed: ")
        if reason.startswith("Clinic closed"):  # "... on Sundays": the band says it in full
            reason = "Closed"
        return reason if not shown else f"{reason} · {shown} booked"
    if not shown:
        return "Nothing booked"
    text = f"{shown} session{'s' if shown != 1 else ''}"
    return f"{text} · {load.percent}%" if load is not None and load.capacity_minutes else text


def day_load(schedule: DaySchedule) -> DayLoad | None:
    """Booked chair-minutes against the day's capacity, None on a closed day.

    The chairs are the treatment rooms shown (an office or telehealth session holds no chair);
    a week of offices only, or of one staff member, counts its own columns.  Capacity is each
    chair's opening hours less its closures (off shift, time off, maintenance); a session
    counts the part of it inside the opening hours."""
    if schedule.is_closed or schedule.opens is None or schedule.closes is None:
        return None
    opens = wall_minute(schedule.opens, schedule.day)
    closes = wall_minute(schedule.closes, schedule.day)
    if closes <= opens:
        return None
    columns = [c for c in schedule.rooms if c.id is not None and c.active]
    if schedule.grouping == "room":
        chairs = [c for c in columns if c.subkind == "treatment"]
        columns = chairs or columns
    ids = {c.id for c in columns}
    capacity = 0
    for column in columns:
        closed = [
            (wall_minute(b.start, schedule.day), wall_minute(b.end, schedule.day))
            for b in schedule.closures
            if b.room_id is None or b.room_id == column.id
        ]
        capacity += closes - opens - _covered(closed, opens, closes)
    booked = sum(
        _covered(
            [(wall_minute(a.start, schedule.day), wall_minute(a.end, schedule.day))], opens, closes
        )
        for a in schedule.appointments
        if a.is_active and a.room_id in ids
    )
    return DayLoad(booked, capacity, len(columns))


def _covered(spans: Sequence[tuple[int, int]], lo: int, hi: int) -> int:
    """Minutes of [lo, hi) that the spans cover, overlaps counted once."""
    total, reach = 0, lo
    for start, end in sorted(spans):
        start, end = max(start, reach), min(end, hi)
        if end > start:
            total += end - start
            reach = end
    return total


def short_patient_name(patient_name: str) -> str:
    """The surname a receptionist calls out, and an initial: "Seacole, Mary" -> "Seacole M."."""
    last, _, first = patient_name.partition(",")
    first = first.strip()
    return f"{last.strip()} {first[0]}." if first else last.strip()


def patient_initials(patient_name: str) -> str:
    """Initials, for a block too narrow for a surname: "Seacole, Mary" -> "M.S."."""
    last, _, first = patient_name.partition(",")
    letters = [part.strip()[:1].upper() for part in (first, last) if part.strip()]
    return "".join(f"{letter}." for letter in letters)


def _names(patient_name: str) -> tuple[str, str]:
    """(surname, first name) of "Surname, First"."""
    last, _, first = patient_name.partition(",")
    return last.strip(), first.strip()


def _differ_at(a: str, b: str) -> int:
    """Where two different first names part (a name that begins the other parts where it
    ends): the letters up to there tell them apart."""
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return i
    return min(len(a), len(b))


def _first_letters(first: str, letters: int) -> str:
    """The first name's first ``letters`` letters and a full stop, or the whole name when
    that is as short: "James", 3 -> "Jam."; "Jo", 3 -> "Jo"."""
    return first if letters >= len(first) else f"{first[:letters]}."


def _chart_tails(charts: Sequence[str]) -> dict[str, str]:
    """The shortest tail (two characters at least, a separator before it dropped) of each
    chart number that no other of ``charts`` ends with: "#21" for BT-0021 beside BT-0035,
    "#3" for DAY-3 beside DAY-5."""
    longest = max(len(c) for c in charts)
    n = min(2, longest)

    def tail(chart: str) -> str:
        return chart[-n:].lstrip(" -_/.#") or chart[-n:]

    while len({tail(c) for c in charts}) < len(charts) and n < longest:
        n += 1  # at the longest, each tail is the whole (unique) chart number
    return {c: f"#{tail(c)}" for c in charts}


def block_names(patients: Iterable[tuple[str, str]]) -> dict[str, BlockNames]:
    """How each block of a week names its patient, by chart number, from (chart number,
    "Surname, First") of every session shown: short, and never the same for two patients
    (a user trial: two patients both read "Allen J." on the week view)."""
    people: dict[str, tuple[str, str]] = {}
    for chart, name in patients:
        people.setdefault(chart, _names(name))
    by_surname: dict[str, list[str]] = {}
    for chart, (last, _first) in people.items():
        by_surname.setdefault(last.casefold(), []).append(chart)
    shorts: dict[str, str] = {}
    for charts in by_surname.values():
        same_name: dict[str, list[str]] = {}
        for chart in charts:
            last, first = people[chart]
            folded = first.casefold()
            same_name.setdefault(folded, []).append(chart)
            letters = 1
            for other in charts:
                theirs = people[other][1].casefold()
                if theirs != folded:  # told apart by the letters up to where the names part
                    letters = max(letters, _differ_at(folded, theirs) + 1)
            shorts[chart] = f"{last} {_first_letters(first, letters)}" if first else last
        for twins in same_name.values():  # the same name twice: the chart number tells
            if len(twins) > 1:
                for chart, tail in _chart_tails(twins).items():
                    shorts[chart] = f"{shorts[chart]} {tail}"
    initials = {
        chart: patient_initials(f"{last}, {first}") for chart, (last, first) in people.items()
    }
    by_initials: dict[str, list[str]] = {}
    for chart, those in initials.items():
        by_initials.setdefault(those, []).append(chart)
    for charts in by_initials.values():
        if len(charts) > 1:
            initials.update(_told_apart_initials({c: people[c] for c in charts}))
    return {
        chart: BlockNames(
            short=shorts[chart],
            surname=last if len(by_surname[last.casefold()]) == 1 else "",
            initials=initials[chart],
        )
        for chart, (last, _first) in people.items()
    }


def _told_apart_initials(people: dict[str, tuple[str, str]]) -> dict[str, str]:
    """Initials that are the same for these patients told apart by a few more letters, of the
    surname first ("L.Mo.", "L.Ma."), then of the first name ("Ja.A.", "Jo.A."), and the chart
    number's tail for the same name ("J.A. #21"): a letter or two, not a cut name."""
    out: dict[str, str] = {}
    twins: dict[tuple[str, str], list[str]] = {}
    for chart, (last, first) in people.items():
        mine = (last.casefold(), first.casefold())
        twins.setdefault(mine, []).append(chart)
        surname_letters = first_letters = 1
        for their_last, their_first in people.values():
            theirs = (their_last.casefold(), their_first.casefold())
            if theirs[0] != mine[0]:
                surname_letters = max(surname_letters, _differ_at(mine[0], theirs[0]) + 1)
            elif theirs[1] != mine[1]:
                first_letters = max(first_letters, _differ_at(mine[1], theirs[1]) + 1)
        out[chart] = "".join(
            _first_letters(part.strip(), n) if len(part.strip()) > n else f"{part.strip()}."
            for part, n in ((first, first_letters), (last, surname_letters))
            if part.strip()
        )
    for charts in twins.values():
        if len(charts) > 1:
            for chart, tail in _chart_tails(charts).items():
                out[chart] = f"{out[chart]} {tail}"
    return out


def lone_names(patient_name: str) -> BlockNames:
    """How a block names its patient with no other patient to tell apart."""
    return BlockNames(
        short_patient_name(patient_name),
        _names(patient_name)[0],
        patient_initials(patient_name),
    )


def week_block_lines(
    appointment: DayAppointment,
    max_lines: int,
    fits: Callable[[str, str], bool],
    time_format: str,
    names: BlockNames | None = None,
    alert: Sequence[str] = (),
) -> list[tuple[str, str]]:
    """What a block says, as (bold, plain) pairs, one a line: first the start time (without
    AM/PM in a 12-hour clinic: the hour's row beside it says that), then the patient and the
    session type with its place in the series ("7:30", "Seacole M. SPR 2/6",
    as the day view's blocks say it), shortened until ``fits`` says the line fits (the first
    name's initial goes first, "Seacole SPR 2/6", then the patient is named by initials,
    "M.S. SPR 2/6"; only a block too narrow even for that drops the series place, then
    initials told apart from another patient's for the plain ones, and the painter elides what
    still does not fit); further lines say the room
    and the status (with "⚠ Reschedule" first when its day or room has closed since it was
    booked, and the first of ``alert`` that fits first when given: "+25 min over",
    ``week_alert``)."""
    if max_lines <= 0:
        return []
    a = appointment
    time = clock(a.start, time_format, compact=True)  # the hour's row says AM or PM
    names = names or lone_names(a.patient_name)
    kind = a.session_type_short or a.session_type_name
    series = f"{kind} {a.series_label}" if a.series_label else kind
    candidates = [
        f"{names.short} {series}",
        *([f"{names.surname} {series}"] if names.surname else []),
        f"{names.initials} {series}",
        f"{names.initials} {kind}",
    ]
    plain = patient_initials(a.patient_name)
    if plain != names.initials:
        # Initials told apart ("San.R.") that leave no room: the plain ones rather than cut
        # the session type (the tooltip names the patient in full).
        candidates.append(f"{plain} {kind}")
    first = next((c for c in candidates if fits(time, c)), candidates[-1])
    lines = [(time, first)]
    status = "" if a.status == "booked" else a.status_label
    if a.closed_notice:  # its day or room closed since it was booked (the tooltip says why)
        status = " · ".join(p for p in ("⚠ Reschedule", status) if p)
    elif a.away:  # on the patient's days away (the tooltip says which, and what to do)
        status = " · ".join(p for p in (AWAY_BADGE, status) if p)
    if alert:  # an overrun, or the room an overrun still holds: the longest form that fits
        before = a.room_name if max_lines == 2 else ""
        said = [" · ".join(p for p in (form, status) if p) for form in alert]
        status = next(
            (line for line in said if fits("", " · ".join(p for p in (before, line) if p))),
            said[-1],
        )
    if max_lines == 2:
        lines.append(("", " · ".join(p for p in (a.room_name, status) if p)))
    elif max_lines >= 3:
        lines.extend([("", a.room_name), ("", status)])
    return [line for line in lines if line[0] or line[1]][:max_lines]


class Overrun(NamedTuple):
    """How a session of the day stands with an overrun at a moment: its own minutes past its
    planned end (0: not running over), or the earlier session that still holds its room (the
    ``WeekBlock`` fields of the same names)."""

    overrun_minutes: int = 0
    busy_with: DayAppointment | None = None
    busy_minutes: int = 0


def _room_key(a: DayAppointment, grouping: str) -> object:
    """The room a session holds: its column in a week by room, else its room's name (a week of
    one staff member lays its sessions in that member's column)."""
    if grouping == "room":
        return a.room_id
    return a.room_name or None


def day_overruns(
    schedule: DaySchedule, shown: Sequence[DayAppointment], now: dt.datetime
) -> dict[int, Overrun]:
    """The day's overruns at ``now``, by the day view's rules (``day_layout.runs_over``,
    ``meets_overrun``, ``status_times.minutes_over``): each session still in progress, or
    checked in and never started, past its planned end, and each session of the same room due
    in those minutes (the first overrun that holds it); nothing on another day than now's."""
    day = schedule.day
    now_minute = wall_minute(now.astimezone(schedule.day_start.tzinfo), day)
    out: dict[int, Overrun] = {}
    for a in shown:
        if not runs_over(a, day, now_minute):
            continue
        planned_end = wall_minute(a.end, day)
        minutes = minutes_over(a.end, now)
        out[a.id] = out.get(a.id, Overrun())._replace(overrun_minutes=minutes)
        room = _room_key(a, schedule.grouping)
        if room is None:
            continue
        for b in shown:
            if b.id == a.id or not b.is_active or _room_key(b, schedule.grouping) != room:
                continue
            span = (wall_minute(b.start, day), wall_minute(b.end, day))
            mine = out.get(b.id, Overrun())
            if meets_overrun(span, planned_end, now_minute) and mine.busy_with is None:
                out[b.id] = mine._replace(busy_with=a, busy_minutes=minutes)
    return out


def week_mark_forms(block: WeekBlock) -> tuple[str, ...]:
    """What a block's mark at its right end may say, longest first (the painter takes the
    first that fits, the tooltip says the whole): an overrun's minutes ("+25 min over",
    "+25 over", "+25"), or that an overrun holds the room ("⚠ Room busy", "⚠ Busy"); none for
    any other block."""
    if block.overrun_minutes:
        return over_forms(block.overrun_minutes)
    if block.busy_with is not None:
        return room_busy_forms(block.busy_with.patient_name, block.busy_minutes)[2:]
    return ()


def week_alert(block: WeekBlock) -> tuple[str, ...]:
    """What a taller block's status line says first of an overrun, longest first (the line
    takes the first that fits): "+25 min over", or "⚠ Room busy: Hopper +25 min", "⚠ Room
    busy: Hopper", ...; none for any other block."""
    if block.overrun_minutes:
        return over_forms(block.overrun_minutes)
    if block.busy_with is not None:
        return room_busy_forms(block.busy_with.patient_name, block.busy_minutes)
    return ()


def _single_column(week: WeekSchedule) -> bool:
    """Whether the week shows one room or one staff member: their own closures (off shift,
    time off, maintenance) are then shaded across the day column."""
    ids = {c.id for d in week.days for c in d.rooms}
    return len(ids) == 1 and None not in ids


def layout_week(
    week: WeekSchedule,
    *,
    width: float,
    height: float,
    today: dt.date | None = None,
    show_cancelled: bool = True,
    metrics: WeekMetrics | None = None,
    now: dt.datetime | None = None,
) -> WeekLayout:
    """Lay out a week for a viewport of ``width`` x ``height`` (header and axis included):
    the days share the width (a closed, empty day a sliver of it), the hours the height.
    ``now`` (aware) marks the sessions running over on its day, and those whose room they
    still hold (``day_overruns``); the geometry stays the same."""
    m = metrics or WeekMetrics()
    days = week.days
    shown_by_day = [
        sorted(
            (a for a in d.appointments if show_cancelled or a.is_active),
            # Sessions still on first in their hour, then the ones that freed their place.
            key=lambda a: (a.start, not a.is_active, a.room_name, a.id),
        )
        for d in days
    ]
    spans_by_day = [
        [(wall_minute(a.start, d.day), wall_minute(a.end, d.day)) for a in shown]
        for d, shown in zip(days, shown_by_day, strict=True)
    ]
    open_days = [d for d in days if not d.is_closed and d.opens and d.closes]
    opens = min((wall_minute(d.opens, d.day) for d in open_days if d.opens), default=None)
    closes = max((wall_minute(d.closes, d.day) for d in open_days if d.closes), default=None)
    shown_range = visible_range(
        opens, closes, (s for spans in spans_by_day for s in spans), snap=m.snap_minutes
    )
    hours = list(range(shown_range.first, shown_range.last, 60))
    # Each day's sessions by the hour they start in (one before the range: its first hour).
    by_hour: list[dict[int, list[int]]] = []
    for spans in spans_by_day:
        rows: dict[int, list[int]] = {}
        for i, (start, _end) in enumerate(spans):
            hour = min(max(start, shown_range.first), shown_range.last - 1)
            rows.setdefault(shown_range.first + (hour - shown_range.first) // 60 * 60, []).append(i)
        by_hour.append(rows)
    busiest = [max((len(rows.get(h, ())) for rows in by_hour), default=0) for h in hours]
    body_h = max(0.0, height - m.header_height)
    block_lines, row_heights = _row_heights(busiest, body_h, m)
    rows_out: list[HourRow] = []
    y = 0.0
    for hour, h in zip(hours, row_heights, strict=True):
        rows_out.append(HourRow(hour, y, h))
        y += h
    total_h = y

    load_by_day = [day_load(d) for d in days]
    narrow = [d.is_closed and not shown for d, shown in zip(days, shown_by_day, strict=True)]
    shares = [m.closed_day_share if n else 1.0 for n in narrow]
    body_w = width - m.axis_width
    names = block_names((a.chart_number, a.patient_name) for shown in shown_by_day for a in shown)
    day_w = float(max(m.min_day_width, math.floor(body_w / sum(shares)) if days else 0))
    block_h = block_lines * m.line_height
    columns: list[DayColumn] = []
    blocks: list[WeekBlock] = []
    x = 0.0
    for index, d in enumerate(days):
        if index:
            x += columns[-1].w
        column_w = math.floor(day_w * shares[index])
        shown = shown_by_day[index]
        columns.append(
            DayColumn(
                day=d.day,
                x=x,
                w=column_w,
                title=day_title(d.day, narrow=narrow[index]),
                # Only sessions that stand count: a cancelled one shown greyed is not one.
                detail=day_detail(d, sum(1 for a in shown if a.is_active), load_by_day[index]),
                is_today=d.day == today,
                is_closed=d.is_closed,
                load=load_by_day[index],
            )
        )
        inner_x, inner_w = x + m.column_padding, column_w - 2 * m.column_padding
        overruns = day_overruns(d, shown, now) if now is not None else {}
        for row in rows_out:
            in_row = by_hour[index].get(row.minute, [])
            for lane, i in enumerate(in_row):
                a = shown[i]
                start, end = spans_by_day[index][i]
                top = round(row.y + lane * block_h)
                blocks.append(
                    WeekBlock(
                        appointment=a,
                        day_index=index,
                        rect=Rect(
                            round(inner_x),
                            top,
                            max(round(inner_w), 1),
                            max(block_h - m.block_gap, 1),
                        ),
                        lane=lane,
                        lanes=len(in_row),
                        clipped_before=start < shown_range.first,
                        clipped_after=end > shown_range.last,
                        names=names.get(a.chart_number),
                        **overruns.get(a.id, Overrun())._asdict(),
                    )
                )
    ticks = tuple(
        Tick(row.minute, row.y, hour_label(row.minute // 60, week.time_format), True)
        for row in rows_out
    ) + ((Tick(shown_range.last, total_h, "", True),) if rows_out else ())
    bands = _bands(week, shown_range, tuple(rows_out), columns)
    return WeekLayout(
        range=shown_range,
        pixels_per_minute=total_h / shown_range.minutes if shown_range.minutes else 1.0,
        day_width=day_w,
        width=columns[-1].x + columns[-1].w if columns else 0.0,
        height=math.ceil(total_h),
        days=tuple(columns),
        blocks=tuple(blocks),
        ticks=ticks,
        bands=bands,
        rows=tuple(rows_out),
        block_lines=block_lines,
    )


def _row_heights(busiest: Sequence[int], body_h: float, m: WeekMetrics) -> tuple[int, list[int]]:
    """Lines per block and each hour's height: as many lines as let the busiest hours fit in
    ``body_h`` (one at least: then the body scrolls), the height left over shared out evenly
    so the week fills the view."""
    for lines in range(max(1, m.max_block_lines), 0, -1):
        natural = [max(m.min_hour_height, n * lines * m.line_height) for n in busiest]
        if sum(natural) <= body_h or lines == 1:
            break
    spare = body_h - sum(natural)
    if spare > 0 and natural:
        each = int(spare // len(natural))
        natural = [h + each for h in natural]
    return lines, natural


def _bands(
    week: WeekSchedule, shown: TimeRange, rows: Sequence[HourRow], columns: Sequence[DayColumn]
) -> tuple[Band, ...]:
    bands: list[Band] = []
    own = _single_column(week)

    def band(index: int, lo: int, hi: int, kind: str, reason: str = "") -> None:
        clipped = clip_span(lo, hi, shown)
        if clipped is None:
            return
        top = round(_y_of(rows, shown, clipped[0]))
        bottom = round(_y_of(rows, shown, clipped[1]))
        column = columns[index]
        bands.append(Band(index, Rect(column.x, top, column.w, bottom - top), kind, reason))

    for index, d in enumerate(week.days):
        if d.is_closed or d.opens is None or d.closes is None:
            band(index, shown.first, shown.last, "outside_hours", d.closed_reason or "")
            continue
        # Whole hours only: a session at 07:30 sits at the top of the 07:00 row, and should
        # not sit on the shade of the half hour before opening.
        opens, closes = wall_minute(d.opens, d.day), wall_minute(d.closes, d.day)
        band(index, shown.first, opens // 60 * 60, "outside_hours")
        band(index, -(-closes // 60) * 60, shown.last, "outside_hours")
        for closure in d.closures:
            if closure.room_id is None or own:
                lo = wall_minute(closure.start, d.day)
                hi = wall_minute(closure.end, d.day)
                band(index, lo, hi, "closure", closure.reason)
    return tuple(bands)
