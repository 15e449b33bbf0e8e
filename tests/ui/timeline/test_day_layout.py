"""The day view's geometry, as plain functions: no window, no database."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from ketadesk.services.schedule.day_schedule import (
    NO_ROOM,
    ClosureBand,
    DayAppointment,
    DaySchedule,
    PhaseSpan,
    RoomColumn,
)
from ketadesk.ui.timeline.day_layout import (
    BlockBox,
    Metrics,
    TimeRange,
    assign_lanes,
    block_lines,
    clip_span,
    column_width,
    day_message,
    lane_fractions,
    layout_day,
    overrun_badge_rect,
    pixels_per_minute,
    text_bottom,
    time_ticks,
    visible_range,
    wall_minute,
)

LA = ZoneInfo("America/Los_Angeles")
DAY = dt.date(2026, 11, 24)
ROOMS = (
    RoomColumn(1, "Room 1", "R1", "treatment"),
    RoomColumn(2, "Room 2", "R2", "treatment"),
    RoomColumn(5, "Office A", "OA", "office"),
)
METRICS = Metrics()


def at(hhmm: str, day: dt.date = DAY) -> dt.datetime:
    hh, mm = hhmm.split(":")
    return dt.datetime(day.year, day.month, day.day, int(hh), int(mm), tzinfo=LA)


def appointment(
    id: int,
    room_id: int | None,
    start: str,
    end: str,
    *,
    status: str = "booked",
    series: tuple[int, int] | None = (3, 6),
    end_day: dt.date = DAY,
) -> DayAppointment:
    s, e = at(start), at(end, end_day)
    middle = s + (e - s) / 3
    return DayAppointment(
        id=id,
        room_id=room_id,
        start=s,
        end=e,
        patient_name="Lovelace, Ada",
        chart_number="BT-1",
        session_type_code="iv_infusion",
        session_type_name="IV ketamine infusion",
        session_type_short="IV",
        color="#3b7dd8",
        series_index=series[0] if series else None,
        series_count=series[1] if series else None,
        status=status,
        phases=(
            PhaseSpan("checkin", "Check-in", "checkin", s, middle),
            PhaseSpan("infusion", "Infusion", "dosing", middle, e),
        ),
    )


def schedule(
    *appointments: DayAppointment,
    rooms: tuple[RoomColumn, ...] = ROOMS,
    closed: str | None = None,
    closures: tuple[ClosureBand, ...] = (),
) -> DaySchedule:
    return DaySchedule(
        day=DAY,
        clinic_name="Bayside",
        timezone="America/Los_Angeles",
        day_start=at("00:00"),
        day_end=at("00:00", DAY + dt.timedelta(days=1)),
        opens=at("07:30"),
        closes=at("18:00"),
        closed_reason=closed,
        rooms=rooms,
        appointments=appointments,
        closures=closures,
    )


# -- time -------------------------------------------------------------------------------------


def test_wall_minute_counts_from_local_midnight() -> None:
    assert wall_minute(at("08:30"), DAY) == 510
    assert wall_minute(at("00:30", DAY + dt.timedelta(days=1)), DAY) == 24 * 60 + 30


def test_range_is_the_opening_hours_on_the_half_hour_grid() -> None:
    assert visible_range(450, 1080) == TimeRange(450, 1080)  # 07:30-18:00
    assert visible_range(455, 1075) == TimeRange(450, 1080)


def test_range_widens_to_a_session_outside_opening_hours() -> None:
    late = (18 * 60 + 30, 19 * 60 + 10)
    assert visible_range(450, 1080, [late]) == TimeRange(450, 19 * 60 + 30)


def test_range_without_hours_or_sessions_is_the_default_working_day() -> None:
    assert visible_range(None, None) == TimeRange(8 * 60, 18 * 60)


def test_range_stays_inside_the_day() -> None:
    assert visible_range(450, 1080, [(23 * 60, 25 * 60)]) == TimeRange(450, 24 * 60)


def test_clipping_to_the_opening_hours() -> None:
    hours = TimeRange(450, 1080)
    assert clip_span(420, 500, hours) == (450, 500)
    assert clip_span(1050, 1100, hours) == (1050, 1080)
    assert clip_span(500, 560, hours) == (500, 560)
    assert clip_span(1080, 1100, hours) is None
    assert clip_span(400, 450, hours) is None


def test_ticks_every_half_hour_with_hours_labelled() -> None:
    ticks = time_ticks(TimeRange(450, 600), 2.0, "24h")
    assert [t.minute for t in ticks] == [450, 480, 510, 540, 570, 600]
    assert [t.label for t in ticks] == ["", "08:00", "", "09:00", "", "10:00"]
    assert [t.y for t in ticks] == [0, 60, 120, 180, 240, 300]
    # A US clinic's ruler says the hour as narrow as it reads.
    twelve = time_ticks(TimeRange(660, 780), 2.0, "12h")
    assert [t.label for t in twelve] == ["11 AM", "", "12 PM", "", "1 PM"]


def test_scale_fits_the_height_within_readable_limits() -> None:
    day = TimeRange(450, 1080)  # 630 minutes
    assert pixels_per_minute(day, 945, METRICS) == pytest.approx(1.5)
    assert pixels_per_minute(day, 300, METRICS) == METRICS.min_pixels_per_minute
    assert pixels_per_minute(day, 5000, METRICS) == METRICS.max_pixels_per_minute


def test_columns_share_the_width_but_stay_readable() -> None:
    assert column_width(4, 1000, METRICS) == 250
    assert column_width(15, 1340, METRICS) == METRICS.min_column_width


# -- lanes ------------------------------------------------------------------------------------


def test_sessions_apart_or_touching_share_one_lane() -> None:
    assert assign_lanes([(540, 640), (640, 700), (800, 900)]) == [(0, 1), (0, 1), (0, 1)]


def test_overlapping_sessions_sit_side_by_side() -> None:
    assert assign_lanes([(540, 640), (600, 700)]) == [(0, 2), (1, 2)]


def test_a_chain_of_overlaps_shares_one_lane_count_and_reuses_free_lanes() -> None:
    # A overlaps B, B overlaps C, A ends before C: C reuses A's lane; D is on its own.
    spans = [(540, 600), (570, 700), (610, 660), (800, 850)]
    assert assign_lanes(spans) == [(0, 2), (1, 2), (0, 2), (0, 1)]


def test_lanes_are_given_in_input_order_whatever_the_start_order() -> None:
    assert assign_lanes([(600, 700), (540, 640)]) == [(1, 2), (0, 2)]


def test_three_at_once_make_three_lanes() -> None:
    assert [lanes for _, lanes in assign_lanes([(0, 10), (0, 10), (5, 15)])] == [3, 3, 3]


# -- the whole day ----------------------------------------------------------------------------


def test_block_sits_in_its_room_column_at_its_time() -> None:
    layout = layout_day(
        schedule(appointment(1, 2, "09:00", "10:40")), width=856, height=674, metrics=METRICS
    )
    # 800 px for 3 columns; 630 px for 07:30-18:00 would be 1 px a minute, below the minimum.
    assert layout.range == TimeRange(450, 1080)
    assert layout.pixels_per_minute == METRICS.min_pixels_per_minute
    assert [round(c.x) for c in layout.columns] == [0, 266, 532]
    (block,) = layout.blocks
    assert block.rect.x == 266 + METRICS.column_padding
    assert block.rect.right == 532 - METRICS.column_padding
    ppm = METRICS.min_pixels_per_minute
    assert block.rect.y == round((540 - 450) * ppm)
    assert block.rect.h == round(100 * ppm)
    assert [p.phase.key for p in block.phases] == ["checkin", "infusion"]
    assert block.phases[0].rect.y == block.rect.y
    assert block.phases[-1].rect.bottom == block.rect.bottom


def test_overlapping_blocks_in_a_room_split_its_width() -> None:
    layout = layout_day(
        schedule(appointment(1, 1, "09:00", "10:40"), appointment(2, 1, "10:00", "11:00")),
        width=856,
        height=1000,
    )
    first, second = layout.blocks
    assert (first.lane, first.lanes, second.lane, second.lanes) == (0, 2, 1, 2)
    assert first.rect.right < second.rect.x
    assert first.rect.w == pytest.approx(second.rect.w, abs=1)


def test_cancelled_blocks_can_be_hidden() -> None:
    day = schedule(
        appointment(1, 1, "09:00", "10:40", status="cancelled"),
        appointment(2, 1, "09:00", "10:40"),
    )
    shown = layout_day(day, width=856, height=800)
    assert [b.appointment.id for b in shown.blocks] == [2, 1]  # active first, on the left
    assert shown.blocks[0].lanes == 2
    hidden = layout_day(day, width=856, height=800, show_cancelled=False)
    assert [(b.appointment.id, b.lanes) for b in hidden.blocks] == [(2, 1)]


def test_session_past_midnight_is_clipped_and_marked() -> None:
    late = appointment(1, 1, "23:00", "01:00", end_day=DAY + dt.timedelta(days=1))
    layout = layout_day(schedule(late), width=856, height=800)
    (block,) = layout.blocks
    assert layout.range.last == 24 * 60
    assert block.clipped_after
    assert not block.clipped_before
    assert block.rect.bottom == round(layout.height)


def test_session_without_a_room_goes_in_the_no_room_column() -> None:
    layout = layout_day(
        schedule(appointment(1, None, "16:00", "16:20"), rooms=(*ROOMS, NO_ROOM)),
        width=1000,
        height=800,
    )
    (block,) = layout.blocks
    assert layout.columns[3].room is NO_ROOM
    assert layout.columns[3].x < block.rect.x < layout.columns[3].x + layout.columns[3].w


def test_hours_outside_opening_and_room_closures_are_banded() -> None:
    closure = ClosureBand(2, at("14:00"), at("18:00"), "Recliner repair")
    layout = layout_day(
        schedule(appointment(1, 1, "18:00", "19:00"), closures=(closure,)),
        width=856,
        height=800,
    )
    outside = [b for b in layout.bands if b.kind == "outside_hours"]
    assert [(b.column, b.rect.y) for b in outside] == [(None, layout.y_of(18 * 60))]
    (room,) = [b for b in layout.bands if b.kind == "closure"]
    assert room.column == 1
    assert room.reason == "Recliner repair"
    assert room.rect.y == layout.y_of(14 * 60)


def test_closed_day_bands_everything_and_says_why() -> None:
    day = schedule(closed="Clinic closed: Thanksgiving Day")
    layout = layout_day(day, width=856, height=800)
    assert [b.rect.h for b in layout.bands] == [layout.height]
    assert day_message(day, 0) == ("Clinic closed: Thanksgiving Day", "No sessions on this day")
    assert day_message(day, 2) == (
        "Clinic closed: Thanksgiving Day",
        "2 sessions booked on this day",
    )


def test_messages_for_an_empty_day_and_a_clinic_without_rooms() -> None:
    assert day_message(schedule(), 0) == ("No sessions booked", "")
    assert day_message(schedule(rooms=()), 0) == (
        "No rooms yet",
        "Add treatment rooms and offices in Settings",
    )
    assert day_message(schedule(appointment(1, 1, "09:00", "10:00")), 1) is None


def test_many_rooms_scroll_sideways_rather_than_shrink() -> None:
    rooms = tuple(RoomColumn(i, f"Room {i}", "", "treatment") for i in range(1, 16))
    layout = layout_day(schedule(rooms=rooms), width=1400, height=900)
    assert layout.column_width == METRICS.min_column_width
    assert layout.width == 15 * METRICS.min_column_width


def test_block_says_patient_type_series_and_time() -> None:
    a = appointment(1, 1, "09:00", "10:40")
    assert block_lines(a, 5, "24h") == [
        "Lovelace, Ada",
        "IV 3/6",
        "09:00–10:40",
        "Chart BT-1",
        "IV ketamine infusion",
    ]
    assert block_lines(a, 5, "12h")[2] == "9:00–10:40 AM"
    assert block_lines(a, 1, "12h") == ["Lovelace, Ada · IV 3/6"]
    assert block_lines(a, 0, "12h") == []


def test_a_narrow_block_leaves_am_and_pm_to_the_hour_ruler() -> None:
    a = appointment(1, 1, "10:30", "12:10")
    assert block_lines(a, 3, "12h")[2] == "10:30 AM–12:10 PM"
    narrow = block_lines(a, 3, "12h", fits=lambda text: len(text) <= 12)
    assert narrow[2] == "10:30–12:10"  # beside the ruler's "10 AM" … "12 PM"


def test_block_says_its_status_unless_a_badge_does() -> None:
    a = appointment(1, 1, "09:00", "10:40", status="no_show", series=None)
    assert block_lines(a, 2, "12h") == ["Lovelace, Ada", "IV · No-show"]
    assert block_lines(a, 2, "12h", with_status=False) == ["Lovelace, Ada", "IV"]


def test_a_cancelled_session_beside_a_booked_one_takes_a_sliver() -> None:
    spans = [(540, 640), (540, 640), (700, 760)]
    fractions = lane_fractions(spans, [1.0, 0.4, 1.0])
    assert fractions[0] == pytest.approx((0.0, 1 / 1.4))
    assert fractions[1] == pytest.approx((1 / 1.4, 0.4 / 1.4))
    assert fractions[2] == (0.0, 1.0)


def test_sessions_without_a_room_widen_their_column_rather_than_squeeze() -> None:
    day = schedule(
        appointment(1, None, "10:30", "11:20"),
        appointment(2, None, "10:30", "11:20"),
        rooms=(*ROOMS, NO_ROOM),
    )
    layout = layout_day(day, width=1056, height=800)
    assert layout.columns[-1].w == 2 * layout.column_width
    first, second = layout.blocks
    assert first.rect.w == pytest.approx(second.rect.w, abs=1)
    assert first.rect.w > layout.column_width - 2 * METRICS.column_padding - METRICS.lane_gap


# -- a session running over --------------------------------------------------------------------


def _running_over(*others: DayAppointment, now: str) -> tuple[BlockBox, list[BlockBox], float]:
    """Room 1's 10:00-12:30 session in progress at ``now``, beside ``others``."""
    layout = layout_day(
        schedule(appointment(1, 1, "10:00", "12:30", status="in_progress"), *others),
        width=1000,
        height=800,
        now=at(now),
    )
    first = layout.block_of(1)
    assert first is not None
    return first, [b for b in layout.blocks if b.appointment.id != 1], layout.pixels_per_minute


def test_an_overrun_with_nothing_after_runs_on_to_now() -> None:
    first, _, _ = _running_over(now="12:55")
    assert first.tail is None
    assert first.overrun_minutes == 25
    assert first.overrun_from is not None
    assert first.rect.bottom > first.overrun_from


def test_an_overrun_into_the_next_session_is_a_bar_beside_it_lanes_kept() -> None:
    first, (second,), ppm = _running_over(appointment(2, 1, "12:30", "14:10"), now="12:55")
    # The planned times lay the lanes: both keep the whole column.
    assert first.lanes == 1
    assert second.lanes == 1
    assert first.tail is not None
    assert first.rect.bottom == first.tail.y  # the block ends at its planned end
    assert first.tail.h == pytest.approx(25 * ppm, abs=1)
    assert first.tail.w == METRICS.overrun_bar_width
    assert second.rect.x >= first.tail.right + METRICS.lane_gap
    assert not second.rect.intersects(first.tail)
    assert not second.rect.intersects(first.rect)
    assert all(p.rect.x == second.rect.x for p in second.phases)
    assert second.busy_with is not None
    assert second.busy_with.id == 1
    assert second.busy_minutes == 25


def test_an_overrun_names_only_the_sessions_it_reaches() -> None:
    first, others, _ = _running_over(
        appointment(2, 1, "12:30", "13:00"),
        appointment(3, 1, "13:00", "14:00"),  # starts after now: not reached yet
        appointment(4, 2, "12:30", "14:00"),  # another room
        appointment(5, 1, "12:40", "12:50", status="cancelled"),  # moved aside, not named
        now="12:55",
    )
    by_id = {b.appointment.id: b for b in others}
    assert first.tail is not None
    assert by_id[2].busy_with is not None
    assert by_id[3].busy_with is None
    assert by_id[4].busy_with is None
    assert by_id[5].busy_with is None
    assert not by_id[5].rect.intersects(first.tail)
    assert by_id[3].rect.x < first.tail.right  # untouched: the bar does not reach it


def test_an_overrun_badge_and_the_text_above_it_stay_in_the_block() -> None:
    first, (second,), _ = _running_over(appointment(2, 1, "12:30", "14:10"), now="12:55")
    badge = overrun_badge_rect(first, 80, 15, 4)
    assert badge.x >= first.rect.x
    assert badge.bottom <= first.rect.bottom
    assert not badge.intersects(second.rect)
    assert text_bottom(first, 15) <= badge.y
    assert text_bottom(second, 15) == second.rect.bottom
    # A tail too short for the badge: it sits above the planned end, the text above it.
    short, _, _ = _running_over(now="12:35")
    assert short.overrun_from is not None
    badge = overrun_badge_rect(short, 80, 15, 4)
    assert badge.bottom <= short.overrun_from
    assert text_bottom(short, 15) == badge.y


def test_the_next_session_says_whose_overrun_holds_its_room() -> None:
    a = appointment(2, 1, "12:30", "14:10")
    lines = block_lines(a, 3, "24h", alert="⚠ Room busy: Lovelace +25 min")
    assert lines == ["Lovelace, Ada", "⚠ Room busy: Lovelace +25 min", "IV 3/6"]
