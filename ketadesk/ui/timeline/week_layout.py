"""Geometry of the week view: seven day columns, a time axis, and compact session blocks.

Plain functions on plain numbers, no Qt, like ``day_layout`` (whose lane and tick functions this
reuses): the widget paints what ``layout_week`` returns and decides nothing.  Body coordinates
are pixels from the top-left corner of the first day at the first minute shown.  Sessions that
overlap within a day sit side by side in lanes; a day with many lanes widens every day column
(up to scrolling) rather than squeezing blocks below a readable sliver.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from typing import NamedTuple

from ketadesk.services.schedule.day_schedule import DayAppointment, DaySchedule
from ketadesk.services.schedule.week import WeekSchedule
from ketadesk.ui.timeline.day_layout import (
    INACTIVE_LANE_WEIGHT,
    Band,
    Rect,
    Tick,
    TimeRange,
    assign_lanes,
    clip_span,
    grid_bounds,
    lane_fractions,
    minute_to_y,
    snap_minute,
    time_ticks,
    visible_range,
    wall_minute,
)


class WeekMetrics(NamedTuple):
    """Sizes in device-independent pixels."""

    header_height: int = 44
    axis_width: int = 52
    min_day_width: int = 110
    min_lane_width: int = 30  # a day with many sessions at once widens (and scrolls) to keep this
    min_pixels_per_minute: float = 0.8
    max_pixels_per_minute: float = 2.0
    column_padding: int = 2
    lane_gap: int = 1
    snap_minutes: int = 60
    closed_day_share: float = 0.4  # a closed day with nothing booked, of an open day's width


class DayColumn(NamedTuple):
    """One day's column and its header."""

    day: dt.date
    x: float
    w: float
    title: str  # "Tue 24 Nov"
    detail: str  # "12 sessions", or why the clinic is closed
    is_today: bool
    is_closed: bool


class WeekBlock(NamedTuple):
    appointment: DayAppointment
    day_index: int
    rect: Rect
    lane: int
    lanes: int
    clipped_before: bool = False
    clipped_after: bool = False


class WeekLayout(NamedTuple):
    range: TimeRange
    pixels_per_minute: float
    day_width: float
    width: float  # of the body
    height: float
    days: tuple[DayColumn, ...]
    blocks: tuple[WeekBlock, ...]
    ticks: tuple[Tick, ...]
    bands: tuple[Band, ...]  # ``column`` is the day's index; None for every day

    def y_of(self, minute: float) -> float:
        return minute_to_y(minute, self.range, self.pixels_per_minute)

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
        return self.range.first + y / self.pixels_per_minute

    def block_of(self, appointment_id: int) -> WeekBlock | None:
        return next((b for b in self.blocks if b.appointment.id == appointment_id), None)


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


def day_title(day: dt.date) -> str:
    return f"{day:%a} {day.day} {day:%b}"


def day_detail(schedule: DaySchedule, shown: int) -> str:
    """The line under a day's title: its sessions, or why the clinic is closed."""
    if schedule.closed_reason:
        reason = schedule.closed_reason.removeprefix("Clinic closed: ")
        if reason.startswith("Clinic closed"):  # "... on Sundays": the band says it in full
            reason = "Closed"
        return reason if not shown else f"{reason} · {shown} booked"
    if not shown:
        return "Nothing booked"
    return f"{shown} session{'s' if shown != 1 else ''}"


def week_block_lines(
    appointment: DayAppointment, max_lines: int, *, narrow: bool = False
) -> list[str]:
    """What a compact block says, most important first: time, type and place in the series;
    the patient; the status unless simply booked; the room.  A ``narrow`` block puts the time
    and the type on lines of their own and names the patient by surname."""
    if max_lines <= 0:
        return []
    a = appointment
    kind = " ".join(part for part in (a.session_type_short, a.series_label) if part)
    if narrow:
        return [f"{a.start.hour}:{a.start:%M}", kind, a.patient_name.split(",")[0]][:max_lines]
    if max_lines == 1:
        return [f"{a.start:%H:%M} {a.patient_name}"]
    lines = [f"{a.start:%H:%M} {kind}", a.patient_name]
    if a.status != "booked":
        lines.append(a.status_label)
    if a.room_name:
        lines.append(a.room_name)
    return lines[:max_lines]


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
) -> WeekLayout:
    """Lay out a week for a viewport of ``width`` x ``height`` (header and axis included)."""
    m = metrics or WeekMetrics()
    days = week.days
    shown_by_day = [[a for a in d.appointments if show_cancelled or a.is_active] for d in days]
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
    ppm = _pixels_per_minute(shown_range, height - m.header_height, m)
    body_h = math.ceil(shown_range.minutes * ppm)

    placed: list[list[tuple[DayAppointment, tuple[int, int], int, int, tuple[float, float]]]] = []
    busiest = 1
    for shown, spans in zip(shown_by_day, spans_by_day, strict=True):
        # Sessions still on take the left lanes; a cancelled one takes a sliver beside them.
        order = sorted(
            range(len(shown)), key=lambda i: (spans[i][0], not shown[i].is_active, shown[i].id)
        )
        kept = [(shown[i], span) for i in order if (span := clip_span(*spans[i], shown_range))]
        kept_spans = [span for _, span in kept]
        fractions = lane_fractions(
            kept_spans, [1.0 if a.is_active else INACTIVE_LANE_WEIGHT for a, _ in kept]
        )
        lanes = assign_lanes(kept_spans)
        placed.append(
            [
                (a, span, lane, count, fraction)
                for (a, span), (lane, count), fraction in zip(kept, lanes, fractions, strict=True)
            ]
        )
        busiest = max([busiest, *(count for _, count in lanes)])

    # A closed day with nothing on it needs only room for its header.
    shares = [
        m.closed_day_share if d.is_closed and not shown else 1.0
        for d, shown in zip(days, shown_by_day, strict=True)
    ]
    body_w = width - m.axis_width
    day_w = float(
        max(
            m.min_day_width,
            math.floor(body_w / sum(shares)) if days else 0,
            busiest * (m.min_lane_width + m.lane_gap) + 2 * m.column_padding,
        )
    )
    columns: list[DayColumn] = []
    blocks: list[WeekBlock] = []
    x = 0.0
    for index, (d, shown_blocks) in enumerate(zip(days, placed, strict=True)):
        if index:
            x += columns[-1].w
        column_w = math.floor(day_w * shares[index])
        columns.append(
            DayColumn(
                day=d.day,
                x=x,
                w=column_w,
                title=day_title(d.day),
                detail=day_detail(d, len(shown_by_day[index])),
                is_today=d.day == today,
                is_closed=d.is_closed,
            )
        )
        inner_x, inner_w = x + m.column_padding, column_w - 2 * m.column_padding
        for a, (lo, hi), lane, count, (left, share) in shown_blocks:
            gap = m.lane_gap if count > 1 else 0
            x0 = round(inner_x + left * (inner_w + gap))
            x1 = round(inner_x + (left + share) * (inner_w + gap) - gap)
            top = round(minute_to_y(lo, shown_range, ppm))
            bottom = round(minute_to_y(hi, shown_range, ppm))
            start, end = wall_minute(a.start, d.day), wall_minute(a.end, d.day)
            blocks.append(
                WeekBlock(
                    appointment=a,
                    day_index=index,
                    rect=Rect(x0, top, max(x1 - x0, 1), max(bottom - top, 1)),
                    lane=lane,
                    lanes=count,
                    clipped_before=start < shown_range.first,
                    clipped_after=end > shown_range.last,
                )
            )
    bands = _bands(week, shown_range, ppm, columns)
    return WeekLayout(
        range=shown_range,
        pixels_per_minute=ppm,
        day_width=day_w,
        width=columns[-1].x + columns[-1].w if columns else 0.0,
        height=body_h,
        days=tuple(columns),
        blocks=tuple(blocks),
        ticks=tuple(time_ticks(shown_range, ppm, step=60)),
        bands=bands,
    )


def _pixels_per_minute(shown: TimeRange, body_height: float, m: WeekMetrics) -> float:
    if shown.minutes <= 0:
        return m.min_pixels_per_minute
    fit = body_height / shown.minutes
    return min(m.max_pixels_per_minute, max(m.min_pixels_per_minute, fit))


def _bands(
    week: WeekSchedule, shown: TimeRange, ppm: float, columns: Sequence[DayColumn]
) -> tuple[Band, ...]:
    bands: list[Band] = []
    own = _single_column(week)

    def band(index: int, lo: int, hi: int, kind: str, reason: str = "") -> None:
        clipped = clip_span(lo, hi, shown)
        if clipped is None:
            return
        top = round(minute_to_y(clipped[0], shown, ppm))
        bottom = round(minute_to_y(clipped[1], shown, ppm))
        column = columns[index]
        bands.append(Band(index, Rect(column.x, top, column.w, bottom - top), kind, reason))

    for index, d in enumerate(week.days):
        if d.is_closed or d.opens is None or d.closes is None:
            band(index, shown.first, shown.last, "outside_hours", d.closed_reason or "")
            continue
        band(index, shown.first, wall_minute(d.opens, d.day), "outside_hours")
        band(index, wall_minute(d.closes, d.day), shown.last, "outside_hours")
        for closure in d.closures:
            if closure.room_id is None or own:
                lo = wall_minute(closure.start, d.day)
                hi = wall_minute(closure.end, d.day)
                band(index, lo, hi, "closure", closure.reason)
    return tuple(bands)
