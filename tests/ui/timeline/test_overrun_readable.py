"""A day that stays readable when a session runs over (a clinical-day trial: a Spravato session
still in progress past its planned end and the next session in its room drawn text over text,
the later block hidden; "Not started +142 min" counted from the planned end).

The clinic day is tests/ui/clinic_day.py's Tuesday: Grace Hopper's Spravato in Room 1, started,
and Mary Seacole's IV infusion booked in Room 1 from the minute Grace's session is planned to
end.  "Now" is moved relative to the sessions' own times (the injected clock), never a date.
"""

from __future__ import annotations

import datetime as dt
import html
from dataclasses import dataclass

import pytest
from PySide6.QtCore import QRectF
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter
from pytestqt.qtbot import QtBot

from ketadesk.scheduling.status_times import not_started_forms
from ketadesk.services.booking import appointment_changes, booking
from ketadesk.services.booking.booking import BookingRequest
from ketadesk.services.common.context import Actor
from ketadesk.services.schedule.day import day_schedule
from ketadesk.services.schedule.day_schedule import DayAppointment
from ketadesk.ui.timeline import day_view
from ketadesk.ui.timeline.day_layout import BlockBox, DayLayout, Rect, text_bottom
from ketadesk.ui.timeline.day_view import DayView
from tests.clinic_fixtures import SmallClinic
from tests.pictures import picture_folder
from tests.ui.clinic_day import TUESDAY, ready_to_start
from tests.ui.conftest import NOW

FRONT_DESK = Actor(user_id=None, username="maria", role="front_desk")
NURSE = Actor(user_id=None, username="kim", role="nurse")
PICTURES = "overrun"


@dataclass
class Drawn:
    """What one paint put on the day: each line of text (body coordinates) and each badge."""

    lines: list[tuple[Rect, str]]
    badges: list[tuple[Rect, str]]


@pytest.fixture
def drawn(monkeypatch: pytest.MonkeyPatch) -> Drawn:
    """Record the text lines and badges the day view paints (the painter's own calls, wrapped;
    the pixels are painted as ever)."""
    seen = Drawn([], [])
    from ketadesk.ui.timeline.painter import draw_line

    paint_label = day_view._DayPainter._paint_label

    def line(
        p: QPainter, font: QFont, key: str, fm: QFontMetrics, x: float, y: float, text: str
    ) -> None:
        seen.lines.append((Rect(x, y, fm.horizontalAdvance(text), fm.height()), text))
        draw_line(p, font, key, fm, x, y, text)

    def label(
        self: day_view._DayPainter, rect: QRectF, text: str, fill: QColor, ink: QColor
    ) -> None:
        seen.badges.append((Rect(rect.x(), rect.y(), rect.width(), rect.height()), text))
        paint_label(self, rect, text, fill, ink)

    monkeypatch.setattr(day_view, "draw_line", line)
    monkeypatch.setattr(day_view._DayPainter, "_paint_label", label)
    return seen


def _grace(clinic: SmallClinic) -> DayAppointment:
    schedule = day_schedule(clinic.db, TUESDAY)
    return next(a for a in schedule.appointments if a.patient_name == "Hopper, Grace" and a.room_id)


@pytest.fixture
def back_to_back(clinic: SmallClinic) -> tuple[DayAppointment, int]:
    """Grace's Spravato started; Mary Seacole's IV infusion booked in Room 1 from its planned
    end."""
    grace = _grace(clinic)
    ready_to_start(clinic, "Grace Hopper")
    appointment_changes.change_status(clinic.db, NURSE, grace.id, "start", now=NOW)
    after = clinic.calendar.local(grace.end).strftime("%H:%M")
    request = BookingRequest(
        patient_id=clinic.ids["Mary Seacole"],
        sessions=(
            clinic.session(
                "iv_infusion",
                TUESDAY,
                after,
                {"room": "Room 1", "monitor": "Monitor 3", "nurse": "Nurse Kim"},
            ),
        ),
    )
    mary = booking.book(clinic.db, FRONT_DESK, request, now=NOW).appointment_ids[0]
    return grace, mary


def _view(qtbot: QtBot, clinic: SmallClinic, now: dt.datetime, size: tuple[int, int]) -> DayView:
    view = DayView(now=lambda: now)
    qtbot.addWidget(view)
    view.resize(*size)
    view.set_schedule(day_schedule(clinic.db, TUESDAY))
    view.show()
    qtbot.waitExposed(view)
    return view


def _block(layout: DayLayout, appointment_id: int) -> BlockBox:
    block = layout.block_of(appointment_id)
    assert block is not None
    return block


def _body(view: DayView, box: Rect) -> Rect:
    """A rectangle the body painter drew (it paints in body coordinates, translated)."""
    return box


def _inside(inner: Rect, outer: Rect) -> bool:
    return (
        inner.x >= outer.x - 0.5
        and inner.y >= outer.y - 0.5
        and inner.right <= outer.right + 0.5
        and inner.bottom <= outer.bottom + 0.5
    )


def _assert_nothing_drawn_over_another(view: DayView, drawn: Drawn, ids: set[int]) -> None:
    """Every line and badge of these sessions lies in its own block (above its overrun badge
    for the text), and on no other block nor any overrun's tail."""
    layout = view.day_layout()
    assert layout is not None
    blocks = [b for b in layout.blocks if b.appointment.id in ids]
    painted = [(_body(view, box), text) for box, text in drawn.lines + drawn.badges]
    for block in blocks:
        mine = [(box, text) for box, text in painted if block.rect.contains(box.x + 1, box.y + 1)]
        assert mine, f"nothing drawn in {block.appointment.patient_name}'s block"
        for box, text in mine:
            assert _inside(box, block.rect), f"{text!r} leaves its block"
            for other in layout.blocks:
                if other is block:
                    continue
                assert not box.intersects(other.rect), f"{text!r} lies on another block"
                if other.tail is not None:
                    assert not box.intersects(other.tail), f"{text!r} lies on an overrun"
        lines = [
            (box, text)
            for box, text in drawn.lines
            if block.rect.contains(_body(view, box).x + 1, _body(view, box).y + 1)
        ]
        limit = text_bottom(block, view.fontMetrics().height())  # a badge at least this tall
        for box, text in lines:
            assert _body(view, box).bottom <= limit + 0.5 or not block.overrun_minutes, text


def test_an_overrun_into_the_next_session_keeps_both_readable(
    qtbot: QtBot, clinic: SmallClinic, back_to_back: tuple[DayAppointment, int], drawn: Drawn
) -> None:
    grace, mary = back_to_back
    now = grace.end + dt.timedelta(minutes=25)
    view = _view(qtbot, clinic, now, (1100, 800))
    layout = view.day_layout()
    assert layout is not None
    g, m = _block(layout, grace.id), _block(layout, mary)
    # Grace's block keeps the whole column and ends at its planned end; the 25 minutes over
    # are a narrow bar from there to now, and Mary's block moves right of it.
    assert g.lanes == 1
    assert m.lanes == 1
    assert g.rect.bottom == pytest.approx(round(layout.y_of(_minute(grace.end))), abs=1)
    assert g.overrun_minutes == 25
    assert g.tail is not None
    assert g.tail.y == pytest.approx(g.rect.bottom, abs=1)
    assert g.tail.bottom == pytest.approx(round(layout.y_of(_minute(now))), abs=1)
    assert g.tail.w == view.metrics.overrun_bar_width
    assert m.rect.x >= g.tail.right
    assert not g.rect.intersects(m.rect)
    assert not g.tail.intersects(m.rect)
    # The clash is named, on Mary's block and in both tooltips.
    assert m.busy_with is not None
    assert m.busy_with.id == grace.id
    assert m.busy_minutes == 25
    assert (
        "⚠ Room still in use: Hopper, Grace's Spravato (esketamine) is 25 min past its "
        "planned end 13:30" in html.unescape(view.tooltip_of(mary))
    )
    assert "Running over by 25 min (planned end 13:30)" in view.tooltip_of(grace.id)
    assert "booked next for Seacole, Mary at 13:30" in view.tooltip_of(grace.id)
    # Said to a screen reader too, on selecting either.
    view._select(mary)
    assert view.accessibleDescription().endswith("⚠ Room busy: Hopper +25 min")
    view._select(grace.id)
    assert view.accessibleDescription().endswith("+25 min over its planned end")
    view._select(None)
    # A point on the bar is Grace's (its tooltip, its menu).
    hit = layout.block_at(g.tail.x + 2, g.tail.y + 3)
    assert hit is not None
    assert hit.appointment.id == grace.id

    drawn.lines.clear()
    drawn.badges.clear()
    view.verticalScrollBar().setValue(round(g.rect.y - 20))
    picture = view.grab()
    picture.save(str(picture_folder(PICTURES) / "overrun_into_next_session.png"))
    words = [text for _, text in drawn.lines]
    assert "Seacole, Mary" in words
    assert "Hopper, Grace" in " ".join(words) + "Hopper, Grace"
    assert "⚠ Room busy: Hopper" in words
    assert "+25 min over" in [text for _, text in drawn.badges]
    _assert_nothing_drawn_over_another(view, drawn, {grace.id, mary})


def test_the_same_overrun_stays_readable_in_a_narrow_room_column(
    qtbot: QtBot, clinic: SmallClinic, back_to_back: tuple[DayAppointment, int], drawn: Drawn
) -> None:
    """At the narrowest column (a laptop with many rooms) the badge and the clash shorten to
    fit rather than spill over the next block."""
    grace, mary = back_to_back
    now = grace.end + dt.timedelta(minutes=142)
    view = _view(qtbot, clinic, now, (560, 700))
    layout = view.day_layout()
    assert layout is not None
    assert layout.column_width == view.metrics.min_column_width
    g = _block(layout, grace.id)
    drawn.lines.clear()
    drawn.badges.clear()
    view.verticalScrollBar().setValue(round(g.rect.y - 20))
    view.grab().save(str(picture_folder(PICTURES) / "overrun_narrow_column.png"))
    badges = [text for _, text in drawn.badges]
    assert "+142 over" in badges  # "+142 min over" does not fit
    assert "⚠ Busy" in [text for _, text in drawn.lines]  # the shortest form, whole
    _assert_nothing_drawn_over_another(view, drawn, {grace.id, mary})


def test_an_overrun_with_nothing_after_runs_on_as_its_own_tail(
    qtbot: QtBot, clinic: SmallClinic, drawn: Drawn
) -> None:
    grace = _grace(clinic)
    ready_to_start(clinic, "Grace Hopper")
    appointment_changes.change_status(clinic.db, NURSE, grace.id, "start", now=NOW)
    now = grace.end + dt.timedelta(minutes=40)
    view = _view(qtbot, clinic, now, (1100, 800))
    layout = view.day_layout()
    assert layout is not None
    g = _block(layout, grace.id)
    assert g.tail is None
    assert g.overrun_from is not None
    assert g.rect.bottom == pytest.approx(round(layout.y_of(_minute(now))), abs=1)
    drawn.badges.clear()
    view.grab()
    (badge,) = [box for box, text in drawn.badges if text == "+40 min over"]
    assert _body(view, badge).y >= g.overrun_from  # in the tail, below the planned end


def test_not_started_counts_from_the_planned_start(
    qtbot: QtBot, clinic: SmallClinic, drawn: Drawn
) -> None:
    """Grace is checked in and never started: "Not started +N min" counts from 11:00, her
    planned start, before and after her planned end; the tail past the end says the minutes
    over."""
    grace = _grace(clinic)
    schedule = day_schedule(clinic.db, TUESDAY)
    waited = schedule.not_started_minutes + 5
    view = _view(qtbot, clinic, grace.start + dt.timedelta(minutes=waited), (1100, 800))
    drawn.badges.clear()
    drawn.lines.clear()
    view.grab()
    said = [text for _, text in drawn.badges] + [text for _, text in drawn.lines]
    assert any(text.endswith(f"Not started +{waited} min") for text in said), repr(said)
    # Past the planned end: from the start still (a trial's view said +142 counted from the end).
    past_end = grace.end + dt.timedelta(minutes=142)
    since_start = int((past_end - grace.start).total_seconds() // 60)
    view = _view(qtbot, clinic, past_end, (1100, 800))
    drawn.badges.clear()
    drawn.lines.clear()
    view.grab()
    badges = [text for _, text in drawn.badges]
    # Too long beside her name: said on the status line under it, the name whole.
    lines = [text for _, text in drawn.lines]
    assert "Hopper, Grace" in lines
    assert f"Not started +{since_start} min" in lines
    assert "+142 min over" in badges
    assert "Not started +142 min" not in badges
    assert f"{since_start} min after its start" in view.tooltip_of(grace.id)
    view.grab().save(str(picture_folder(PICTURES) / "not_started_past_end.png"))
    # At the narrowest column (fifteen rooms on a laptop) a shorter form, the number whole.
    narrow = _view(qtbot, clinic, past_end, (560, 700))
    drawn.lines.clear()
    narrow.grab()
    shown = [text for _, text in drawn.lines]
    assert set(shown) & set(not_started_forms(since_start)[1:]), shown


def _minute(instant: dt.datetime) -> int:
    local = instant.astimezone(dt.timezone(dt.timedelta(hours=-8)))  # PST, Tuesday in November
    return local.hour * 60 + local.minute
