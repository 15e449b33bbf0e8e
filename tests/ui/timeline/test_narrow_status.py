"""A narrow block in the day view says its status whole, in a shorter form, rather than an
elided fragment ("IV 3/6 · Co…" for Completed, a user trial's day of overlapping sessions):
"IV 3/6 · Done", "IV 3/6 · ✓", else the form first ("✓ IV 3/6") so that what is cut is the
session type; the tooltip says the status in full."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from PySide6.QtGui import QFont, QFontMetrics, QPainter
from pytestqt.qtbot import QtBot

from ketadesk.ui.timeline import day_view
from ketadesk.ui.timeline.day_layout import STATUS_SHORT_FORMS, block_lines, status_forms
from ketadesk.ui.timeline.day_view import DayView
from tests.pictures import picture_folder
from tests.ui.timeline.test_day_layout import appointment, at, schedule


def test_a_status_too_long_for_its_block_takes_a_shorter_form() -> None:
    a = appointment(1, 1, "09:00", "10:40", status="completed")
    assert block_lines(a, 2, "12h")[1] == "IV 3/6 · Completed"
    assert block_lines(a, 2, "12h", fits=lambda t: len(t) <= 18)[1] == "IV 3/6 · Completed"
    assert block_lines(a, 2, "12h", fits=lambda t: len(t) <= 13)[1] == "IV 3/6 · Done"
    assert block_lines(a, 2, "12h", fits=lambda t: len(t) <= 10)[1] == "IV 3/6 · ✓"
    # Too narrow even for that: the status first, the painter cuts the session type.
    assert block_lines(a, 2, "12h", fits=lambda t: len(t) <= 5)[1] == "✓ IV 3/6"


def test_every_status_has_a_short_form_that_still_says_it() -> None:
    for status, forms in STATUS_SHORT_FORMS.items():
        a = appointment(1, 1, "09:00", "10:40", status=status)
        assert status_forms(a) == (a.status_label, *forms)
        assert all(len(f) < len(a.status_label) for f in forms), status


@dataclass
class Line:
    x: float
    y: float
    text: str


@pytest.fixture
def drawn(monkeypatch: pytest.MonkeyPatch) -> list[Line]:
    seen: list[Line] = []
    from ketadesk.ui.timeline.painter import draw_line

    def line(
        p: QPainter, font: QFont, key: str, fm: QFontMetrics, x: float, y: float, text: str
    ) -> None:
        seen.append(Line(x, y, text))
        draw_line(p, font, key, fm, x, y, text)

    monkeypatch.setattr(day_view, "draw_line", line)
    return seen


def test_overlapping_blocks_say_their_status_whole(qtbot: QtBot, drawn: list[Line]) -> None:
    day = schedule(
        appointment(1, 1, "09:00", "10:40", status="completed"),
        appointment(2, 1, "09:00", "10:40", status="in_progress"),
        appointment(3, 1, "09:00", "10:40", status="checked_in"),
        appointment(4, 1, "09:00", "10:40", status="tentative"),
    )
    view = DayView(now=lambda: at("08:00"))
    qtbot.addWidget(view)
    view.resize(860, 640)
    view.set_schedule(day)
    view.show()
    qtbot.waitExposed(view)
    drawn.clear()
    view.grab().save(str(picture_folder("narrow_status") / "narrow_blocks.png"))
    layout = view.day_layout()
    assert layout is not None
    said = 0
    for block in layout.blocks:
        a = block.appointment
        mine = sorted(
            (line for line in drawn if block.rect.contains(line.x, line.y + 1)),
            key=lambda line: line.y,
        )
        assert len(mine) >= 2, a.status
        second = mine[1].text
        forms = status_forms(a)
        assert any(second.endswith(f) or second.startswith(f) for f in forms), second
        assert "…" not in second or any(second.startswith(f) for f in forms[1:]), second
        said += second != f"IV 3/6 · {a.status_label}"
        assert f"Status: {a.status_label}" in view.tooltip_of(a.id)
    assert said  # narrow enough that some block took a shorter form
    assert all(b.rect.w < day_view.BADGE_MIN_WIDTH for b in layout.blocks)
