"""The legend names every mark the day view puts on a session, each mark its own (trial 3, A16:
the legend said a red dot meant "No-show", and red dots stood on a patient checked in but not
started and on one who had not arrived yet, neither marked a no-show)."""

from __future__ import annotations

import re

import pytest
from pytestqt.qtbot import QtBot

from ketadesk.scheduling.confirmations import ARRIVAL_NAMES, ARRIVED
from ketadesk.scheduling.status_times import not_started_words, over_words
from ketadesk.ui.monitoring.chair_board import DUE_COLORS, LATE_COLORS, READY_COLORS
from ketadesk.ui.shell.legend import LegendDialog, legend_html
from ketadesk.ui.timeline.painter import ARRIVAL_COLORS, HOLLOW_DOTS, STATUS_COLORS
from tests.pictures import picture_folder


def _marks() -> list[tuple[str, bool]]:
    return [(c, False) for c in STATUS_COLORS.values()] + [
        (c, state in HOLLOW_DOTS) for state, c in ARRIVAL_COLORS.items()
    ]


def test_every_mark_on_a_session_is_its_own() -> None:
    marks = _marks()
    assert len(set(marks)) == len(marks)
    # Every arrival state the day view can show has its mark.
    assert set(ARRIVAL_COLORS) == set(ARRIVAL_NAMES) - {ARRIVED}


@pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")  # offscreen
def test_the_legend_shows_each_mark_with_what_it_means(qtbot: QtBot) -> None:
    html = legend_html(None)
    shown = re.findall(
        r"color:(#[0-9a-f]{6}); font-size:large'>([●○])</span></td><td>([^<]*)", html
    )
    assert {(color, mark == "○") for color, mark, _words in shown} == set(_marks())
    words = {(color, mark): text for color, mark, text in shown}
    # Counted from the planned start, in the day view's words (scheduling/status_times).
    assert words[(ARRIVAL_COLORS["not_started"], "●")].startswith(
        f"{not_started_words(10)}: checked in and still not started, counted from the planned start"
    )
    assert f"{over_words(25)}</b>" in html  # the overrun's tail, and the bar beside the next
    assert "⚠ Room busy</b>" in html
    assert words[(ARRIVAL_COLORS["no_show_candidate"], "○")].startswith("No-show?")
    assert words[(STATUS_COLORS["no_show"], "●")].startswith("No-show: marked")
    # The chair board's colours: green for a good state, red for trouble (a trial saw "Ready
    # to discharge" in red).
    board = dict(
        re.findall(r"color:(#[0-9a-f]{6}); font-size:large'>■</span></td><td>([^<]*)", html)
    )
    assert board[READY_COLORS[0]] == "Green: ready to discharge"
    assert board[LATE_COLORS[0]].startswith("Red: late")
    assert board[DUE_COLORS[0]].startswith("Amber:")
    dialog = LegendDialog(None)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    dialog.grab().save(str(picture_folder("trial3") / "legend.png"))
    dialog.resize(460, 900)
    dialog.grab().save(str(picture_folder("fixes") / "legend_board.png"))
