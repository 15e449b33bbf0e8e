"""Geometry of the day view: where each room column, time tick and session block goes.

Plain functions on plain numbers, no Qt, so the layout is tested without a window; the widget
paints what these return and decides nothing.  Body coordinates are pixels from the top-left
corner of the first room column at the first minute shown; the widget draws the room header
above and the time axis to the left, and scrolls the body under them.

Minutes are local wall-clock minutes after the day's midnight (08:30 is 510), which is what the
time axis is labelled in, also on a daylight-saving day.  The records are named tuples: immutable,
and cheap to define and to make by the thousand.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterable, Sequence
from typing import NamedTuple

from ketadesk.scheduling.dates import clock_span, hour_label
from ketadesk.scheduling.status_times import minutes_over
from ketadesk.services.schedule.day_schedule import (
    DayAppointment,
    DaySchedule,
    PhaseSpan,
    RoomColumn,
)

MINUTES_PER_DAY = 24 * 60
#: The hours shown on a day without opening hours and without sessions.
DEFAULT_RANGE = (8 * 60, 18 * 60)
#: How wide a lane of only cancelled or no-show sessions is next to one of booked sessions.
INACTIVE_LANE_WEIGHT = 0.4
#: The no-room column widens for up to this many sessions at once.
MAX_NO_ROOM_LANES = 3
#: The statuses of a session that can run past its planned end (an overrun): one in progress,
#: and one checked in and never started (the patient still waits in the clinic).
OVERRUN_STATUSES = frozenset({"in_progress", "checked_in"})
#: Shorter ways a block says its status, longest first, for a block too narrow for the whole
#: word beside the session type (the tooltip and a screen reader say it whole): each still
#: says it, where an elided word said "Co…" for Completed.
STATUS_SHORT_FORMS: dict[str, tuple[str, ...]] = {
    "checked_in": ("Here",),
    "in_progress": ("In chair", "▶"),
    "completed": ("Done", "✓"),
    "cancelled": ("Canc.", "✕"),
    "no_show": ("NS",),
    "tentative": ("Pencil", "✎"),
    "released": ("Released", "Rel."),
}


class Metrics(NamedTuple):
    """Sizes in device-independent pixels."""

    header_height: int = 44
    axis_width: int = 56
    min_column_width: int = 104
    min_pixels_per_minute: float = 1.2
    max_pixels_per_minute: float = 3.0
    column_padding: int = 3  # between a column's edge and its blocks
    lane_gap: int = 2  # between side-by-side blocks in one column
    snap_minutes: int = 30  # the range shown starts and ends on this grid
    overrun_bar_width: int = 10  # an overrun's tail beside the next session in its room


class Rect(NamedTuple):
    x: float
    y: float
    w: float
    h: float

    @property
    def right(self) -> float:
        return self.x + self.w

    @property
    def bottom(self) -> float:
        return self.y + self.h

    def contains(self, px: float, py: float) -> bool:
        return self.x <= px < self.right and self.y <= py < self.bottom

    def intersects(self, other: Rect) -> bool:
        return (
            self.x < other.right
            and other.x < self.right
            and self.y < other.bottom
            and other.y < self.bottom
        )


class TimeRange(NamedTuple):
    """The minutes shown, [first, last)."""

    first: int
    last: int

    @property
    def minutes(self) -> int:
        return self.last - self.first


class Tick(NamedTuple):
    minute: int
    y: float
    label: str  # "08:00"; empty for a minor tick
    major: bool  # on the hour


class ColumnBox(NamedTuple):
    room: RoomColumn
    x: float
    w: float


class PhaseBox(NamedTuple):
    phase: PhaseSpan
    rect: Rect


class BlockBox(NamedTuple):
    """One session's block: its rectangle, its phases' slices, and whether it was cut short
    at the top or bottom of the range shown."""

    appointment: DayAppointment
    rect: Rect
    phases: tuple[PhaseBox, ...]
    lane: int
    lanes: int
    clipped_before: bool = False
    clipped_after: bool = False
    #: For a session still in progress, or checked in and never started, past its planned end:
    #: the body y of that end (the block runs on below it to now); None otherwise.
    overrun_from: float | None = None
    #: How long past its planned end (``scheduling.status_times.minutes_over``).
    overrun_minutes: int = 0
    #: Where the overrun is drawn when the minutes past the planned end are another session's
    #: in the same room: a narrow bar down the lane's left edge, from the planned end to now,
    #: beside that session (moved right to leave room for it), and the block itself ends at
    #: its planned end.  None: the block itself runs on to now (nothing else is there).
    tail: Rect | None = None
    #: For a session whose room an earlier one still holds past its planned end: that one
    #: (the first, if several) and how long it has run over; None otherwise.
    busy_with: DayAppointment | None = None
    busy_minutes: int = 0

    def covers(self, px: float, py: float) -> bool:
        """Whether a body point is on the block or on its overrun's tail."""
        return self.rect.contains(px, py) or (self.tail is not None and self.tail.contains(px, py))

    def shows_in(self, area: Rect) -> bool:
        return self.rect.intersects(area) or (self.tail is not None and self.tail.intersects(area))


class Band(NamedTuple):
    """A stretch of a column (or of all columns, ``column`` None) that cannot be booked."""

    column: int | None
    rect: Rect
    kind: str  # "outside_hours" | "closure"
    reason: str = ""


class DayLayout(NamedTuple):
    range: TimeRange
    pixels_per_minute: float
    column_width: float  # of an ordinary room column
    width: float  # of the body
    height: float
    columns: tuple[ColumnBox, ...]
    blocks: tuple[BlockBox, ...]
    ticks: tuple[Tick, ...]
    bands: tuple[Band, ...]

    def y_of(self, minute: float) -> float:
        return minute_to_y(minute, self.range, self.pixels_per_minute)

    def block_at(self, x: float, y: float) -> BlockBox | None:
        """The block under a body point (the one drawn on top when blocks touch)."""
        for block in reversed(self.blocks):
            if block.covers(x, y):
                return block
        return None

    def blocks_in(self, area: Rect) -> list[BlockBox]:
        """Blocks that show in a body area: the painter draws only these."""
        return [b for b in self.blocks if b.shows_in(area)]

    def minute_at(self, y: float) -> float:
        """The wall-clock minute at a body y (the inverse of ``y_of``)."""
        return self.range.first + y / self.pixels_per_minute

    def column_at(self, x: float) -> int | None:
        """The index of the column under a body x, or None beside them all."""
        for i, column in enumerate(self.columns):
            if column.x <= x < column.x + column.w:
                return i
        return None

    def block_of(self, appointment_id: int) -> BlockBox | None:
        return next((b for b in self.blocks if b.appointment.id == appointment_id), None)

    def column_of(self, room_id: int | None) -> int | None:
        return next((i for i, c in enumerate(self.columns) if c.room.id == room_id), None)


# ---------------------------------------------------------------------------------------------
# The plain functions


def wall_minute(instant: dt.datetime, day: dt.date) -> int:
    """Local wall-clock minutes after ``day``'s midnight (negative before it, past 1440 after).

    ``instant`` must already be in the clinic's zone, as the schedule service gives it.
    """
    return (instant.date() - day).days * MINUTES_PER_DAY + instant.hour * 60 + instant.minute


def visible_range(
    opens: int | None,
    closes: int | None,
    spans: Iterable[tuple[int, int]] = (),
    *,
    snap: int = 30,
    default: tuple[int, int] = DEFAULT_RANGE,
) -> TimeRange:
    """The minutes to show: the opening hours, widened to any session outside them so nothing
    booked is ever out of sight, on a ``snap``-minute grid, within the day."""
    starts: list[int] = []
    ends: list[int] = []
    if opens is not None and closes is not None and closes > opens:
        starts.append(opens)
        ends.append(closes)
    for start, end in spans:
        if end > start:
            starts.append(start)
            ends.append(end)
    if not starts:
        starts, ends = [default[0]], [default[1]]
    first = max(0, min(starts) // snap * snap)
    last = min(MINUTES_PER_DAY, -(-max(ends) // snap) * snap)
    if last <= first:  # everything lies outside the day: show the default hours
        return TimeRange(*default)
    return TimeRange(first, last)


def clip_span(start: int, end: int, shown: TimeRange) -> tuple[int, int] | None:
    """The part of [start, end) inside the range shown, or None when none of it is."""
    lo, hi = max(start, shown.first), min(end, shown.last)
    return (lo, hi) if lo < hi else None


def pixels_per_minute(shown: TimeRange, body_height: float, metrics: Metrics) -> float:
    """Fit the range to the height when that stays readable; otherwise scroll."""
    if shown.minutes <= 0:
        return metrics.min_pixels_per_minute
    fit = body_height / shown.minutes
    return min(metrics.max_pixels_per_minute, max(metrics.min_pixels_per_minute, fit))


def column_width(count: int, body_width: float, metrics: Metrics) -> float:
    """Share the width between the columns, but never below the readable minimum."""
    if count <= 0:
        return float(metrics.min_column_width)
    return float(max(metrics.min_column_width, math.floor(body_width / count)))


def minute_to_y(minute: float, shown: TimeRange, ppm: float) -> float:
    return (minute - shown.first) * ppm


def time_ticks(shown: TimeRange, ppm: float, time_format: str, step: int = 30) -> list[Tick]:
    """A tick every ``step`` minutes; hours are major and labelled in the clinic's format as
    narrow as it reads ("9 AM", or "09:00")."""
    ticks: list[Tick] = []
    minute = -(-shown.first // step) * step
    while minute <= shown.last:
        major = minute % 60 == 0
        label = hour_label(minute // 60, time_format) if major else ""
        ticks.append(Tick(minute, minute_to_y(minute, shown, ppm), label, major))
        minute += step
    return ticks


def assign_lanes(spans: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """Side-by-side lanes for overlapping spans: ``(lane, lanes)`` for each span, in order.

    Spans that overlap, directly or through others, form a cluster sharing one lane count, so
    the blocks of a cluster line up; a span takes the lowest lane free at its start.  Touching
    spans (one ends when the next starts) do not overlap.
    """
    lanes, clusters = _lanes_and_clusters(spans)
    return [(lane, len(clusters[cluster])) for lane, cluster in lanes]


def lane_fractions(
    spans: Sequence[tuple[int, int]], weights: Sequence[float]
) -> list[tuple[float, float]]:
    """Where each span sits across its column: ``(left, width)`` as fractions of the width.

    Lanes are as ``assign_lanes`` gives them; a lane is as wide as the heaviest span in it
    (in its cluster), so a cancelled session (light) beside a booked one (heavy) takes a
    sliver and leaves the booked one readable.
    """
    lanes, clusters = _lanes_and_clusters(spans)
    widths = [[0.0] * len(c) for c in clusters]
    for (lane, cluster), weight in zip(lanes, weights, strict=True):
        widths[cluster][lane] = max(widths[cluster][lane], weight)
    result: list[tuple[float, float]] = []
    for lane, cluster in lanes:
        total = sum(widths[cluster])
        result.append((sum(widths[cluster][:lane]) / total, widths[cluster][lane] / total))
    return result


def _lanes_and_clusters(
    spans: Sequence[tuple[int, int]],
) -> tuple[list[tuple[int, int]], list[list[int]]]:
    """Each span's ``(lane, cluster)``, and per cluster the end of each of its lanes."""
    order = sorted(range(len(spans)), key=lambda i: (spans[i][0], -spans[i][1], i))
    result: list[tuple[int, int]] = [(0, 0)] * len(spans)
    clusters: list[list[int]] = []
    cluster_end = -math.inf
    for i in order:
        start, end = spans[i]
        if not clusters or start >= cluster_end:
            clusters.append([])
            cluster_end = end
        lane_ends = clusters[-1]
        lane = next((n for n, lane_end in enumerate(lane_ends) if lane_end <= start), None)
        if lane is None:
            lane = len(lane_ends)
            lane_ends.append(end)
        else:
            lane_ends[lane] = end
        result[i] = (lane, len(clusters) - 1)
        cluster_end = max(cluster_end, end)
    return result, clusters


class DropTarget(NamedTuple):
    """Where a dragged block would go: a column (its index) and a start on the slot grid."""

    column: int
    minute: int  # local wall-clock minute of the new start


def snap_minute(minute: float, slot: int, anchor: int = 0) -> int:
    """The nearest start on the grid of ``slot`` minutes laid from ``anchor`` (the opening
    time: the clinic's slots count from there)."""
    step = max(1, slot)
    return anchor + round((minute - anchor) / step) * step


def grid_bounds(shown: TimeRange, duration: int, slot: int, anchor: int) -> tuple[int, int]:
    """The first and last grid starts that keep a ``duration``-minute block inside the range
    shown (the first when it cannot fit at all)."""
    step = max(1, slot)
    first = anchor + -(-(shown.first - anchor) // step) * step
    last = anchor + (shown.last - duration - anchor) // step * step
    return first, max(first, last)


def drop_target(
    layout: DayLayout,
    x: float,
    y: float,
    *,
    grab_minutes: float,
    duration: int,
    slot: int,
    anchor: int,
) -> DropTarget | None:
    """Where a block held ``grab_minutes`` below its top goes when the pointer is at body
    ``(x, y)``: the column under the pointer (the nearest one at either side), the start
    snapped to the slot grid and kept within the range shown.  None without columns."""
    if not layout.columns:
        return None
    column = layout.column_at(x)
    if column is None:
        column = 0 if x < layout.columns[0].x else len(layout.columns) - 1
    start = snap_minute(layout.minute_at(y) - grab_minutes, slot, anchor)
    lo, hi = grid_bounds(layout.range, duration, slot, anchor)
    return DropTarget(column, min(max(start, lo), hi))


def step_target(
    layout: DayLayout,
    target: DropTarget,
    *,
    slots: int = 0,
    columns: int = 0,
    duration: int,
    slot: int,
    anchor: int,
) -> DropTarget:
    """``target`` moved by whole slots and columns (the keyboard's way to drag), kept inside
    the columns and the range shown."""
    column = min(max(target.column + columns, 0), max(len(layout.columns) - 1, 0))
    lo, hi = grid_bounds(layout.range, duration, slot, anchor)
    minute = snap_minute(target.minute, slot, anchor) + slots * max(1, slot)
    return DropTarget(column, min(max(minute, lo), hi))


def ghost_rect(layout: DayLayout, target: DropTarget, duration: int, metrics: Metrics) -> Rect:
    """The rectangle of a dragged block's ghost: the whole inner width of its column."""
    column = layout.columns[target.column]
    top = round(layout.y_of(target.minute))
    bottom = round(layout.y_of(target.minute + duration))
    return Rect(
        column.x + metrics.column_padding,
        top,
        column.w - 2 * metrics.column_padding,
        max(bottom - top, 1),
    )


def block_lines(
    appointment: DayAppointment,
    max_lines: int,
    time_format: str,
    *,
    with_status: bool = True,
    fits: Callable[[str], bool] | None = None,
    status_words: str = "",
    alert: str = "",
) -> list[str]:
    """What a block says, most important first, in at most ``max_lines`` lines.

    The patient; ``alert`` when given (the room still held by an earlier session running
    over: "⚠ Room busy: Hopper +25 min"); the type and place in the series, then the status
    unless it is simply booked (or ``with_status`` is off because the painter shows it as a
    badge; ``status_words`` say it instead of the status's name: "Not started +35 min"; a
    shorter form of the status, "IV 3/6 · ✓", where ``fits`` says the whole does not fit); the
    time, in the clinic's format ("10:30 AM–12:10 PM"; without AM/PM, which the hour ruler
    beside it says, when ``fits`` says the whole does not fit: "10:30–12:10"); the chart
    number; the session type's full name.  A single line says patient and type.
    """
    if max_lines <= 0:
        return []
    a = appointment
    kind = " ".join(part for part in (a.session_type_short, a.series_label) if part)
    if max_lines == 1:
        return [f"{a.patient_name} · {kind}"]
    status = (status_words or a.status_label) if with_status and a.status != "booked" else ""
    said = " · ".join(part for part in (kind, status) if part)
    if status and not status_words and fits is not None and not fits(said):
        said = _short_status_line(kind, status_forms(a), fits)
    lines = [
        a.patient_name,
        *([alert] if alert else []),
        said,
        _block_time(a, time_format, fits),
        f"Chart {a.chart_number}",
        a.session_type_name,
    ]
    return lines[:max_lines]


def status_forms(a: DayAppointment) -> tuple[str, ...]:
    """The block's status word and its shorter forms, longest first ("Completed", "Done",
    "✓")."""
    return (a.status_label, *STATUS_SHORT_FORMS.get(a.status, ()))


def _short_status_line(kind: str, forms: Sequence[str], fits: Callable[[str], bool]) -> str:
    """The session type with the longest short form of its status that fits beside it; else
    the shortest form first, so that what the painter cuts is the type, never the status."""
    for form in forms[1:]:
        line = f"{kind} · {form}" if kind else form
        if fits(line):
            return line
    return f"{forms[-1]} {kind}".rstrip()


def _block_time(a: DayAppointment, time_format: str, fits: Callable[[str], bool] | None) -> str:
    span = clock_span(a.start, a.end, time_format)
    if fits is None or fits(span):
        return span
    return clock_span(a.start, a.end, time_format, compact=True)


def day_message(schedule: DaySchedule, shown_blocks: int) -> tuple[str, str] | None:
    """The heading (and a detail line) a day shows over its grid, if any: why the clinic is
    closed, that there are no rooms yet, or that nothing is booked."""
    if schedule.closed_reason:
        if shown_blocks:
            plural = "s" if shown_blocks != 1 else ""
            return schedule.closed_reason, f"{shown_blocks} session{plural} booked on this day"
        return schedule.closed_reason, "No sessions on this day"
    if not schedule.rooms:
        return "No rooms yet", "Add treatment rooms and offices in Settings"
    if shown_blocks == 0:
        return "No sessions booked", ""
    return None


def layout_day(
    schedule: DaySchedule,
    *,
    width: float,
    height: float,
    show_cancelled: bool = True,
    metrics: Metrics | None = None,
    now: dt.datetime | None = None,
) -> DayLayout:
    """Lay out a day for a viewport of ``width`` x ``height`` (header and axis included).

    ``now`` (aware) draws a session still in progress (or checked in and not started) past its
    planned end running on to now (``_place_overruns``).  Lanes are laid on the planned times,
    so a session running over never squeezes the day into lanes behind it.
    """
    m = metrics or Metrics()
    day = schedule.day
    shown_appointments = [a for a in schedule.appointments if show_cancelled or a.is_active]
    spans = {
        a.id: (wall_minute(a.start, day), wall_minute(a.end, day)) for a in schedule.appointments
    }
    planned_ends: dict[int, int] = {}
    now_minute = 0
    if now is not None:
        now_minute = wall_minute(now.astimezone(schedule.day_start.tzinfo), day)
        for a in schedule.appointments:
            if runs_over(a, day, now_minute):
                planned_ends[a.id] = spans[a.id][1]
    opens = wall_minute(schedule.opens, day) if schedule.opens else None
    closes = wall_minute(schedule.closes, day) if schedule.closes else None
    shown = visible_range(
        None if schedule.is_closed else opens,
        None if schedule.is_closed else closes,
        (
            (spans[a.id][0], now_minute if a.id in planned_ends else spans[a.id][1])
            for a in shown_appointments
        ),
        snap=m.snap_minutes,
    )
    ppm = pixels_per_minute(shown, height - m.header_height, m)
    body_h = math.ceil(shown.minutes * ppm)
    index_of_room = {room.id: i for i, room in enumerate(schedule.rooms)}

    # Each column's sessions, in view, with where they sit across it.
    placed: list[list[tuple[DayAppointment, tuple[int, int], int, int, tuple[float, float]]]] = []
    weights: list[float] = []
    for room in schedule.rooms:
        mine = [a for a in shown_appointments if a.room_id == room.id]
        # Sessions still on take the left lanes; a cancelled one takes a sliver beside them.
        mine.sort(key=lambda a: (spans[a.id][0], not a.is_active, a.id))
        kept = [(a, span) for a in mine if (span := clip_span(*spans[a.id], shown))]
        kept_spans = [span for _, span in kept]
        lanes = assign_lanes(kept_spans)
        fractions = lane_fractions(
            kept_spans, [1.0 if a.is_active else INACTIVE_LANE_WEIGHT for a, _ in kept]
        )
        placed.append(
            [
                (a, span, lane, count, fraction)
                for (a, span), (lane, count), fraction in zip(kept, lanes, fractions, strict=True)
            ]
        )
        # Sessions without a room overlap as a matter of course: widen their column instead
        # of squeezing them (in a real room an overlap is a conflict, and should look cramped).
        busiest = max((count for _, _, _, count, _ in placed[-1]), default=1)
        weights.append(float(min(busiest, MAX_NO_ROOM_LANES)) if room.id is None else 1.0)

    unit = column_width(1, (width - m.axis_width) / sum(weights), m) if weights else 0.0
    columns: list[ColumnBox] = []
    x = 0.0
    for room, weight in zip(schedule.rooms, weights, strict=True):
        columns.append(ColumnBox(room, x, unit * weight))
        x += unit * weight

    blocks: list[BlockBox] = []
    for column, column_blocks in zip(columns, placed, strict=True):
        boxes: list[BlockBox] = []
        inner_x = column.x + m.column_padding
        inner_w = column.w - 2 * m.column_padding
        for a, (lo, hi), lane, lane_count, (left, share) in column_blocks:
            gap = m.lane_gap if lane_count > 1 else 0
            x0 = round(inner_x + left * (inner_w + gap))
            x1 = round(inner_x + (left + share) * (inner_w + gap) - gap)
            top = round(minute_to_y(lo, shown, ppm))
            bottom = round(minute_to_y(hi, shown, ppm))
            rect = Rect(x0, top, x1 - x0, max(bottom - top, 1))
            phases = []
            for phase in a.phases:
                clipped = clip_span(
                    wall_minute(phase.start, day), wall_minute(phase.end, day), shown
                )
                if clipped is None:
                    continue
                p_top = round(minute_to_y(clipped[0], shown, ppm))
                p_bottom = round(minute_to_y(clipped[1], shown, ppm))
                if p_bottom > p_top:
                    phases.append(PhaseBox(phase, Rect(rect.x, p_top, rect.w, p_bottom - p_top)))
            start, end = spans[a.id]
            boxes.append(
                BlockBox(
                    appointment=a,
                    rect=rect,
                    phases=tuple(phases),
                    lane=lane,
                    lanes=lane_count,
                    clipped_before=start < shown.first,
                    clipped_after=end > shown.last,
                )
            )
        if planned_ends and any(b.appointment.id in planned_ends for b in boxes):
            assert now is not None
            boxes = _place_overruns(boxes, spans, planned_ends, now, now_minute, shown, ppm, m)
        blocks.extend(boxes)

    bands = _bands(schedule, shown, ppm, columns, index_of_room, opens, closes)
    return DayLayout(
        range=shown,
        pixels_per_minute=ppm,
        column_width=unit,
        width=x,
        height=body_h,
        columns=tuple(columns),
        blocks=tuple(blocks),
        ticks=tuple(time_ticks(shown, ppm, schedule.time_format)),
        bands=bands,
    )


def runs_over(a: DayAppointment, day: dt.date, now_minute: int) -> bool:
    """Whether ``a`` holds its room past its planned end at ``now_minute`` (a wall-clock
    minute of ``day``): a session in progress, or checked in and never started, while its day
    lasts (the day and the week views ask this one rule)."""
    return a.status in OVERRUN_STATUSES and (
        wall_minute(a.end, day) < now_minute <= MINUTES_PER_DAY
    )


def meets_overrun(span: tuple[int, int], planned_end: int, now_minute: int) -> bool:
    """Whether a session over ``span`` (wall-clock minutes) is booked in the minutes an
    overrun holds its room: from that session's ``planned_end`` to now."""
    return span[0] < now_minute and span[1] > planned_end


def _place_overruns(
    boxes: list[BlockBox],
    spans: dict[int, tuple[int, int]],
    planned_ends: dict[int, int],
    now: dt.datetime,
    now_minute: int,
    shown: TimeRange,
    ppm: float,
    m: Metrics,
) -> list[BlockBox]:
    """A column's blocks with its overruns drawn: a session past its planned end runs on to now
    as its block's tail, when no other session is booked in those minutes; when one is (the
    next patient in the room is due), the block ends at its planned end, the tail is a narrow
    bar down the lane's left edge, and the sessions it would cover move right to leave it
    room and say whose overrun holds their room (``busy_with``).  Both stay readable, and
    neither's text lies under the other (a trial's day showed the two blocks text over text).

    Only a column with an overrun comes here (about 1% of sessions), so the search for what
    its tail meets costs nothing on an ordinary day.
    """
    placed = list(boxes)
    for i, block in enumerate(boxes):
        a = block.appointment
        planned_end = planned_ends.get(a.id)
        if planned_end is None:
            continue
        over = clip_span(planned_end, now_minute, shown)
        if over is None:
            continue
        top = round(minute_to_y(over[0], shown, ppm))
        bottom = round(minute_to_y(over[1], shown, ppm))
        overrun_from = float(top) if shown.first <= planned_end <= shown.last else None
        minutes = minutes_over(a.end, now)
        met = [
            j
            for j, other in enumerate(boxes)
            if j != i and meets_overrun(spans[other.appointment.id], planned_end, now_minute)
        ]
        r = placed[i].rect
        if not met:  # nothing booked there: the block itself runs on to now
            placed[i] = placed[i]._replace(
                rect=Rect(r.x, r.y, r.w, max(bottom - r.y, 1)),
                clipped_after=now_minute > shown.last,
                overrun_from=overrun_from,
                overrun_minutes=minutes,
            )
            continue
        bar = Rect(r.x, top, float(m.overrun_bar_width), max(bottom - top, 1))
        placed[i] = placed[i]._replace(overrun_from=overrun_from, overrun_minutes=minutes, tail=bar)
        for j in met:
            other = placed[j]
            o = other.rect
            if o.x < bar.right + m.lane_gap and bar.x < o.right:
                shift = bar.right + m.lane_gap - o.x
                moved = Rect(o.x + shift, o.y, max(o.w - shift, 1), o.h)
                other = other._replace(
                    rect=moved,
                    phases=tuple(
                        PhaseBox(ph.phase, Rect(moved.x, ph.rect.y, moved.w, ph.rect.h))
                        for ph in other.phases
                    ),
                )
            if other.appointment.is_active and other.busy_with is None:
                other = other._replace(busy_with=a, busy_minutes=minutes)
            placed[j] = other
    return placed


def overrun_badge_rect(block: BlockBox, w: float, h: float, padding: float) -> Rect:
    """Where the overrun's badge ("+25 min over", ``w`` x ``h``) goes: at the bottom right of
    the block's own tail when that holds it, else just above the planned end inside the block
    (the tail is a bar beside the next session, too short, or above the hours shown); always
    inside the block, never over another."""
    r = block.rect
    short_tail = (
        block.tail is None
        and block.overrun_from is not None
        and r.bottom - block.overrun_from < h + 2
    )
    bottom = block.overrun_from if short_tail and block.overrun_from is not None else r.bottom
    return Rect(r.right - padding - w, bottom - h - 2, w, h)


def text_bottom(block: BlockBox, badge_h: float) -> float:
    """The lowest body y a block's text may reach: above its overrun's badge when that sits
    in the block's planned part, else the block's bottom."""
    if not block.overrun_minutes:
        return block.rect.bottom
    badge = overrun_badge_rect(block, 0, badge_h, 0)
    in_tail = (
        block.tail is None and block.overrun_from is not None and badge.y >= block.overrun_from
    )
    return block.rect.bottom if in_tail else badge.y


def _bands(
    schedule: DaySchedule,
    shown: TimeRange,
    ppm: float,
    columns: Sequence[ColumnBox],
    index_of_room: dict[int | None, int],
    opens: int | None,
    closes: int | None,
) -> tuple[Band, ...]:
    width = columns[-1].x + columns[-1].w if columns else 0
    bands: list[Band] = []

    def band(column: int | None, lo: int, hi: int, kind: str, reason: str = "") -> None:
        clipped = clip_span(lo, hi, shown)
        if clipped is None:
            return
        top = round(minute_to_y(clipped[0], shown, ppm))
        bottom = round(minute_to_y(clipped[1], shown, ppm))
        if column is None:
            rect = Rect(0, top, width, bottom - top)
        else:
            rect = Rect(columns[column].x, top, columns[column].w, bottom - top)
        bands.append(Band(column, rect, kind, reason))

    if schedule.is_closed or opens is None or closes is None:
        band(None, shown.first, shown.last, "outside_hours", schedule.closed_reason or "")
    else:
        band(None, shown.first, opens, "outside_hours")
        band(None, closes, shown.last, "outside_hours")
    for closure in schedule.closures:
        lo, hi = wall_minute(closure.start, schedule.day), wall_minute(closure.end, schedule.day)
        if closure.room_id is None:
            band(None, lo, hi, "closure", closure.reason)
        elif closure.room_id in index_of_room:
            band(index_of_room[closure.room_id], lo, hi, "closure", closure.reason)
    return tuple(bands)
