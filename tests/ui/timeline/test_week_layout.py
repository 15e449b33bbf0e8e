"""The week view's geometry, as plain functions: no window, no database."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
from collections.abc import Callable
from zoneinfo import ZoneInfo

from ketadesk.services.schedule.day_schedule import (
    ClosureBand,
    DayAppointment,
    DaySchedule,
    PhaseSpan,
    RoomColumn,
)
from ketadesk.services.schedule.week import WeekSchedule
from ketadesk.ui.timeline.week_layout import (
    DayLoad,
    WeekDropTarget,
    WeekMetrics,
    day_detail,
    day_load,
    day_title,
    grid_anchors,
    layout_week,
    patient_initials,
    short_patient_name,
    week_block_lines,
    week_drop_target,
    week_ghost_rect,
    week_step_target,
)

LA = ZoneInfo("America/Los_Angeles")
MONDAY = dt.date(2026, 11, 23)
THANKSGIVING = dt.date(2026, 11, 26)
ROOMS = (RoomColumn(1, "Room 1", "R1", "treatment"), RoomColumn(2, "Room 2", "R2", "treatment"))
METRICS = WeekMetrics()
WIDTH, HEIGHT = 1400, 900


def at(day: dt.date, hhmm: str) -> dt.datetime:
    hh, mm = hhmm.split(":")
    return dt.datetime(day.year, day.month, day.day, int(hh), int(mm), tzinfo=LA)


def session(
    id: int, day: dt.date, start: str, end: str, room: int = 1, *, status: str = "booked"
) -> DayAppointment:
    s, e = at(day, start), at(day, end)
    return DayAppointment(
        id=id,
        room_id=room,
        start=s,
        end=e,
        patient_name=f"Patient{id}, Pat",
        chart_number=f"C-{id}",
        session_type_code="spravato",
        session_type_name="Spravato (esketamine)",
        session_type_short="SPR",
        color="#8e5bd6",
        series_index=3,
        series_count=12,
        status=status,
        phases=(PhaseSpan("session", "Session", "therapy", s, e),),
        room_name=f"Room {room}",
    )


def day_of(
    day: dt.date,
    appointments: tuple[DayAppointment, ...] = (),
    *,
    closed: str | None = None,
    closures: tuple[ClosureBand, ...] = (),
    rooms: tuple[RoomColumn, ...] = ROOMS,
) -> DaySchedule:
    open_ = closed is None and day.weekday() < 5
    return DaySchedule(
        day=day,
        clinic_name="Bayside",
        timezone="America/Los_Angeles",
        day_start=at(day, "00:00"),
        day_end=at(day + dt.timedelta(days=1), "00:00"),
        opens=at(day, "07:30") if open_ else None,
        closes=at(day, "18:00") if open_ else None,
        closed_reason=closed if closed else (None if open_ else f"Clinic closed on {day:%A}s"),
        rooms=rooms,
        appointments=appointments,
        closures=closures,
        time_format="24h",  # the hour rows' labels as written below ("07:00")
    )


def week_of(
    by_day: dict[int, tuple[DayAppointment, ...]] | None = None,
    *,
    closures: dict[int, tuple[ClosureBand, ...]] | None = None,
    rooms: tuple[RoomColumn, ...] = ROOMS,
) -> WeekSchedule:
    by_day, closures = by_day or {}, closures or {}
    days = []
    for i in range(7):
        day = MONDAY + dt.timedelta(days=i)
        closed = "Clinic closed: Thanksgiving Day" if day == THANKSGIVING else None
        days.append(
            day_of(day, by_day.get(i, ()), closed=closed, closures=closures.get(i, ()), rooms=rooms)
        )
    return WeekSchedule(first_day=MONDAY, days=tuple(days), label="All rooms")


def test_seven_day_columns_side_by_side_closed_days_narrow() -> None:
    layout = layout_week(week_of(), width=WIDTH, height=HEIGHT, metrics=METRICS)
    assert [c.day for c in layout.days] == [MONDAY + dt.timedelta(days=i) for i in range(7)]
    assert [c.title for c in layout.days][:4] == [
        "Mon Nov 23",
        "Tue Nov 24",
        "Wed Nov 25",
        "Thu 26",
    ]
    # Thursday (Thanksgiving), Saturday and Sunday are closed with nothing booked: narrow.
    widths = [c.w for c in layout.days]
    assert widths[0] == widths[1] == widths[2] == widths[4]
    assert widths[3] == widths[5] == widths[6] < widths[0] / 2
    # Columns touch, and fill the body.
    for left, right in zip(layout.days, layout.days[1:], strict=False):
        assert right.x == left.x + left.w
    assert layout.width <= WIDTH - METRICS.axis_width
    assert layout.width > WIDTH - METRICS.axis_width - 10


def test_the_hours_shown_are_the_opening_hours_widened_to_every_session() -> None:
    week = week_of({0: (session(1, MONDAY, "06:40", "08:00"),)})
    layout = layout_week(week, width=WIDTH, height=HEIGHT, metrics=METRICS)
    assert (layout.range.first, layout.range.last) == (6 * 60, 18 * 60)
    assert [t.label for t in layout.ticks if t.label][:3] == ["06:00", "07:00", "08:00"]


def test_a_block_sits_in_its_day_at_its_time() -> None:
    tuesday = MONDAY + dt.timedelta(days=1)
    week = week_of({1: (session(7, tuesday, "10:00", "12:30"),)})
    layout = layout_week(week, width=WIDTH, height=HEIGHT, metrics=METRICS)
    (block,) = layout.blocks
    column = layout.days[1]
    assert block.day_index == 1
    assert column.x < block.rect.x < block.rect.right <= column.x + column.w
    assert block.rect.y == round(layout.y_of(10 * 60))
    # One block of the hour's row, as tall as its lines (not its 150 minutes).
    assert block.rect.h == layout.block_lines * METRICS.line_height - METRICS.block_gap
    assert layout.block_at(block.rect.x + 2, block.rect.y + 2) == block
    assert layout.block_at(block.rect.x + 2, block.rect.y - 2) is None
    assert layout.day_at(column.x + 1) == 1
    assert layout.day_at(layout.width + 5) is None


def test_sessions_of_one_hour_stack_in_its_row_each_the_whole_day_wide() -> None:
    week = week_of(
        {
            0: (
                session(1, MONDAY, "09:00", "11:30", 1),
                session(2, MONDAY, "09:15", "12:30", 2),
                session(3, MONDAY, "13:00", "14:00", 1),
            ),
            1: (session(4, MONDAY + dt.timedelta(days=1), "09:30", "10:00", 1),),
        }
    )
    layout = layout_week(week, width=WIDTH, height=HEIGHT, metrics=METRICS)
    first, second, third, tuesday = sorted(layout.blocks, key=lambda b: b.appointment.id)
    assert (first.lane, first.lanes, second.lane, second.lanes) == (0, 2, 1, 2)
    assert first.rect.bottom <= second.rect.y  # one under the other, in start order
    assert first.rect.x == second.rect.x == third.rect.x
    assert first.rect.w == second.rect.w == third.rect.w
    assert first.rect.w >= layout.days[0].w - 2 * METRICS.column_padding
    # The hours line up across the days: Tuesday's 09:30 sits level with Monday's 09:00.
    assert tuesday.rect.y == first.rect.y == round(layout.y_of(9 * 60))
    nine = next(r for r in layout.rows if r.minute == 9 * 60)
    ten = next(r for r in layout.rows if r.minute == 10 * 60)
    assert nine.h >= 2 * layout.block_lines * METRICS.line_height
    assert ten.h < nine.h or ten.h == nine.h  # the busiest hour sets the row


def test_many_sessions_at_once_keep_every_day_in_view_and_scroll_down() -> None:
    """Issue 15: a week at 1,400 px showed about 4 1/2 days, busy days widened for lanes."""
    crowd = tuple(session(i, MONDAY, "10:00", "12:30", i) for i in range(1, 61))
    layout = layout_week(week_of({0: crowd}), width=WIDTH, height=HEIGHT, metrics=METRICS)
    assert layout.width <= WIDTH - METRICS.axis_width  # no scrolling sideways
    assert min(b.rect.w for b in layout.blocks) >= layout.days[0].w - 2 * METRICS.column_padding
    assert layout.block_lines == 1
    assert layout.height > HEIGHT - METRICS.header_height  # the body scrolls down instead
    tops = sorted(b.rect.y for b in layout.blocks)
    assert all(b - a >= METRICS.line_height for a, b in itertools.pairwise(tops))


def test_a_day_s_load_is_its_booked_chair_time_against_its_open_chairs() -> None:
    monday = week_of(
        {
            0: (
                session(1, MONDAY, "09:00", "11:30", 1),  # 150 min
                session(2, MONDAY, "07:00", "08:30", 2),  # 60 of them inside the hours
                session(3, MONDAY, "13:00", "14:00", 2, status="cancelled"),  # freed
            )
        },
        closures={0: (ClosureBand(2, at(MONDAY, "14:00"), at(MONDAY, "16:00"), "Repair"),)},
    )
    load = day_load(monday.days[0])
    assert load is not None
    # Two chairs open 07:30-18:00 (630 min each), Room 2 closed for 120 of them.
    assert load == DayLoad(booked_minutes=210, capacity_minutes=2 * 630 - 120, chairs=2)
    assert load.percent == 18
    assert day_load(monday.days[3]) is None  # Thanksgiving
    layout = layout_week(monday, width=WIDTH, height=HEIGHT, metrics=METRICS)
    assert layout.days[0].load == load
    # The cancelled one is shown (greyed) but not counted: only sessions that stand.
    assert layout.days[0].detail == "2 sessions · 18%"
    assert layout.days[3].load is None


def test_an_office_holds_no_chair() -> None:
    office = RoomColumn(9, "Office A", "OA", "office")
    day = day_of(MONDAY, (session(1, MONDAY, "09:00", "10:00", 9),), rooms=(*ROOMS, office))
    load = day_load(day)
    assert load is not None
    assert (load.booked_minutes, load.chairs) == (0, 2)
    only_offices = day_of(MONDAY, (session(1, MONDAY, "09:00", "10:00", 9),), rooms=(office,))
    assert day_load(only_offices) == DayLoad(60, 630, 1)


def test_closed_days_and_hours_outside_opening_are_shaded() -> None:
    layout = layout_week(week_of(), width=WIDTH, height=HEIGHT, metrics=METRICS)
    thanksgiving = [b for b in layout.bands if b.column == 3]
    assert [(b.kind, b.reason) for b in thanksgiving] == [
        ("outside_hours", "Clinic closed: Thanksgiving Day")
    ]
    assert thanksgiving[0].rect.h == layout.height
    monday = [b for b in layout.bands if b.column == 0]
    # The hours shown are 07:00-18:00 on the hour grid; the clinic opens at 07:30, inside the
    # 07:00 row, whose sessions are not laid on a shade.
    assert monday == []
    late = layout_week(
        week_of({0: (session(1, MONDAY, "18:00", "19:30"),)}), width=WIDTH, height=HEIGHT
    )
    evening = [b for b in late.bands if b.column == 0]
    assert [(b.kind, b.rect.y) for b in evening] == [("outside_hours", round(late.y_of(18 * 60)))]


def test_a_room_closure_shows_only_in_a_week_of_that_room() -> None:
    repair = ClosureBand(1, at(MONDAY, "14:00"), at(MONDAY, "16:00"), "Recliner repair")
    staff_training = ClosureBand(None, at(MONDAY, "08:00"), at(MONDAY, "09:00"), "Training")
    both_rooms = layout_week(
        week_of(closures={0: (repair, staff_training)}), width=WIDTH, height=HEIGHT
    )
    assert [b.reason for b in both_rooms.bands if b.kind == "closure"] == ["Training"]
    one_room = layout_week(
        week_of(closures={0: (repair, staff_training)}, rooms=ROOMS[:1]), width=WIDTH, height=HEIGHT
    )
    assert sorted(b.reason for b in one_room.bands if b.kind == "closure") == [
        "Recliner repair",
        "Training",
    ]


def test_today_is_marked_and_cancelled_sessions_can_be_hidden() -> None:
    cancelled = session(2, MONDAY, "10:00", "11:00", status="cancelled")
    week = week_of({0: (session(1, MONDAY, "09:00", "10:00"), cancelled)})
    layout = layout_week(week, width=WIDTH, height=HEIGHT, today=MONDAY + dt.timedelta(days=2))
    assert [c.is_today for c in layout.days] == [False, False, True, False, False, False, False]
    assert len(layout.blocks) == 2
    assert layout.days[0].detail == "1 session · 5%"  # the cancelled one shown, not counted
    hidden = layout_week(week, width=WIDTH, height=HEIGHT, show_cancelled=False)
    assert [b.appointment.id for b in hidden.blocks] == [1]
    assert hidden.days[0].detail == "1 session · 5%"  # 60 of two chairs' 630 minutes


def test_what_a_block_says() -> None:
    a = session(4, MONDAY, "09:05", "11:35", status="checked_in")
    roomy = lambda time, rest: True  # noqa: E731
    assert week_block_lines(a, 1, roomy, "24h") == [("09:05", "Patient4 P. SPR 3/12")]
    assert week_block_lines(a, 2, roomy, "24h") == [
        ("09:05", "Patient4 P. SPR 3/12"),
        ("", "Room 1 · Checked in"),
    ]
    assert week_block_lines(a, 3, roomy, "24h") == [
        ("09:05", "Patient4 P. SPR 3/12"),
        ("", "Room 1"),
        ("", "Checked in"),
    ]
    assert week_block_lines(a, 0, roomy, "24h") == []
    # A US clinic's block leaves AM/PM to the hour row beside it: "9:05".
    assert week_block_lines(a, 1, roomy, "12h") == [("9:05", "Patient4 P. SPR 3/12")]


def test_a_narrow_block_names_by_initials_before_it_drops_the_series_place() -> None:
    """The place in the series stays, as on the day view: a user trial found "Hernandez M.
    SPR" beside "Moreno E. SPR 4/12" in one column, the longer name having cost the "5/12"."""
    a = session(4, MONDAY, "09:05", "11:35")
    a = dataclasses.replace(a, patient_name="Seacole, Mary")

    def width(n: int) -> Callable[[str, str], bool]:
        return lambda time, rest: len(time) + 1 + len(rest) <= n

    assert week_block_lines(a, 1, width(30), "24h") == [("09:05", "Seacole M. SPR 3/12")]
    assert week_block_lines(a, 1, width(24), "24h") == [("09:05", "Seacole SPR 3/12")]
    assert week_block_lines(a, 1, width(21), "24h") == [("09:05", "M.S. SPR 3/12")]
    assert week_block_lines(a, 1, width(19), "24h") == [("09:05", "M.S. SPR 3/12")]
    assert week_block_lines(a, 1, width(18), "24h") == [("09:05", "M.S. SPR")]  # too narrow even so
    assert week_block_lines(a, 1, width(14), "24h") == [("09:05", "M.S. SPR")]
    assert week_block_lines(a, 1, width(5), "24h") == [("09:05", "M.S. SPR")]  # the painter elides
    assert short_patient_name("Seacole, Mary") == "Seacole M."
    assert short_patient_name("Cher") == "Cher"
    assert patient_initials("Seacole, Mary") == "M.S."


def test_what_a_day_header_says() -> None:
    assert day_title(THANKSGIVING) == "Thu Nov 26"
    assert day_title(THANKSGIVING, narrow=True) == "Thu 26"
    closed = day_of(THANKSGIVING, closed="Clinic closed: Thanksgiving Day")
    assert day_detail(closed, 0) == "Thanksgiving Day"
    assert day_detail(closed, 2) == "Thanksgiving Day · 2 booked"
    assert day_detail(day_of(MONDAY + dt.timedelta(days=6)), 0) == "Closed"
    assert day_detail(day_of(MONDAY), 0) == "Nothing booked"
    assert day_detail(day_of(MONDAY), 12) == "12 sessions"


def test_the_empty_week_lays_out() -> None:
    empty = WeekSchedule(first_day=MONDAY, days=(), label="No rooms")
    layout = layout_week(empty, width=WIDTH, height=HEIGHT)
    assert layout.days == ()
    assert layout.width == 0


# -- moving a block: where the ghost goes -----------------------------------------------------


def test_a_dragged_block_lands_on_the_day_under_the_pointer_snapped_to_the_grid() -> None:
    week = week_of({0: (session(1, MONDAY, "09:00", "11:30"),)})
    layout = layout_week(week, width=WIDTH, height=HEIGHT)
    anchors = grid_anchors(week_of())
    wednesday = layout.days[2]
    # Held 10 minutes below its top; the pointer 2 minutes past 13:10 on Wednesday.
    y = layout.y_of(13 * 60 + 12)
    target = week_drop_target(
        layout, wednesday.x + 5, y, grab_minutes=10, duration=150, slot=15, anchors=anchors
    )
    assert target == WeekDropTarget(2, 13 * 60)  # 13:02 snaps to 13:00 (grid from 07:30)
    # Left of the first day and right of the last: the nearest day.
    left = week_drop_target(layout, -40, y, grab_minutes=0, duration=150, slot=15, anchors=anchors)
    right = week_drop_target(
        layout, layout.width + 40, y, grab_minutes=0, duration=150, slot=15, anchors=anchors
    )
    assert (left and left.day, right and right.day) == (0, 6)


def test_the_ghost_stays_inside_the_hours_shown() -> None:
    layout = layout_week(week_of(), width=WIDTH, height=HEIGHT)
    anchors = grid_anchors(week_of())
    shown = layout.range
    top = week_drop_target(layout, 10, -500, grab_minutes=0, duration=60, slot=15, anchors=anchors)
    bottom = week_drop_target(
        layout, 10, layout.height + 500, grab_minutes=0, duration=60, slot=15, anchors=anchors
    )
    assert top is not None
    assert bottom is not None
    assert top.minute >= shown.first
    assert bottom.minute + 60 <= shown.last
    assert (top.minute - anchors[0]) % 15 == 0
    assert (bottom.minute - anchors[0]) % 15 == 0


def test_the_keyboard_moves_the_ghost_by_days_and_slots_within_the_week() -> None:
    layout = layout_week(week_of(), width=WIDTH, height=HEIGHT)
    anchors = grid_anchors(week_of())
    start = WeekDropTarget(1, 9 * 60)

    def step(slots: int = 0, days: int = 0) -> WeekDropTarget:
        return week_step_target(
            layout, start, slots=slots, days=days, duration=100, slot=15, anchors=anchors
        )

    assert step(days=1) == WeekDropTarget(2, 9 * 60)
    assert step(slots=-2) == WeekDropTarget(1, 8 * 60 + 30)
    assert step(days=-5).day == 0
    assert step(days=9).day == 6


def test_a_closed_day_keeps_the_grid_of_the_open_days() -> None:
    anchors = grid_anchors(week_of())
    assert anchors[0] == 7 * 60 + 30  # opens 07:30
    assert anchors[3] == anchors[0]  # Thanksgiving: closed, same grid
    assert anchors[5] == anchors[0]  # Saturday
    closed_week = WeekSchedule(
        first_day=MONDAY, days=(day_of(MONDAY, closed="Closed"),), label="All rooms"
    )
    assert grid_anchors(closed_week) == (0,)


def test_the_ghost_takes_its_day_s_whole_width() -> None:
    layout = layout_week(week_of(), width=WIDTH, height=HEIGHT)
    target = WeekDropTarget(4, 10 * 60)
    ghost = week_ghost_rect(layout, target, 90, METRICS)
    friday = layout.days[4]
    assert ghost.x == friday.x + METRICS.column_padding
    assert ghost.w == friday.w - 2 * METRICS.column_padding
    assert ghost.y == round(layout.y_of(10 * 60))
    assert ghost.h == round(layout.y_of(11 * 60 + 30)) - ghost.y


def test_the_now_line_runs_between_the_sessions_that_started_and_those_to_come() -> None:
    week = week_of(
        {
            0: (
                session(1, MONDAY, "10:00", "11:00"),
                session(2, MONDAY, "10:15", "11:00", 2),
                session(3, MONDAY, "10:45", "11:30", 2),
            )
        }
    )
    layout = layout_week(week, width=WIDTH, height=HEIGHT, metrics=METRICS)
    first, second, third = sorted(layout.blocks, key=lambda b: b.appointment.id)
    at_half_past = layout.now_y(0, 10 * 60 + 30)
    assert second.rect.bottom <= at_half_past <= third.rect.y
    assert layout.now_y(0, 10 * 60) >= first.rect.bottom  # one started on the minute
    assert layout.now_y(0, 10 * 60 + 59) >= third.rect.bottom
    assert layout.now_y(1, 10 * 60 + 30) == layout.y_of(10 * 60 + 30)  # nothing that day
