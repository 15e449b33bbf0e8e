"""The legend (F1): what the colours, abbreviations, shades and marks of the views mean."""

from __future__ import annotations

from html import escape

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout, QWidget

from ketadesk.scheduling.status_times import not_started_words, over_words
from ketadesk.services.schedule.day_schedule import DaySchedule
from ketadesk.ui.monitoring.chair_board import BOARD_COLOR_WORDS
from ketadesk.ui.timeline.painter import ARRIVAL_COLORS, HOLLOW_DOTS, STATUS_COLORS

STATUS_WORDS = {
    "checked_in": "Checked in: the patient is here",
    "in_progress": "In session: dosing or observation under way",
    "no_show": "No-show: marked as not come (the block is hatched)",
}
#: What the arrival marks say (scheduling/confirmations.arrival_state), each its own mark.
ARRIVAL_WORDS = {
    "late": "Late: not checked in after the grace period",
    "no_show_candidate": "No-show?: still not checked in well after the start; not marked yet",
    "not_started": (
        f"{not_started_words(10)}: checked in and still not started, counted from the planned "
        "start (shown from the clinic's not-started minutes after it)"
    ),
}
MARKS = (
    (
        "Shades inside a block",
        "lightest: check-in and discharge; darkest: dosing; middle: observation or therapy",
    ),
    (
        "Hatched block",
        "cancelled or no-show; it no longer holds the room (hide with View ▸ Show cancelled)",
    ),
    ("Grey band", "closed: outside opening hours, a holiday, maintenance or time off"),
    (
        "Red dashed outline",
        "⚠ Reschedule: its day or room closed after it was booked (the tooltip says why)",
    ),
    (
        "Amber dashed outline",
        "⚠ Patient away: booked on a day the patient told us they are away; call them to move "
        "it (the tooltip says which days)",
    ),
    (
        f"Red hatched tail, {over_words(25)}",
        "a session still in progress (or checked in, never started) past its planned end; "
        "the dashed red line is that end",
    ),
    (
        "Red bar at a room's left, ⚠ Room busy",
        "the overrun runs into the next session booked in the room: the bar is the minutes "
        "over, and the next session says whose session still holds the room",
    ),
    ("Red line", "now"),
    ("3/6", "the session's place in its series: the third of six"),
)


def legend_html(schedule: DaySchedule | None) -> str:
    rows = []
    if schedule is not None:
        seen: dict[str, tuple[str, str]] = {}
        for a in schedule.appointments:
            seen.setdefault(a.session_type_short, (a.session_type_name, a.color))
        for short, (name, color) in sorted(seen.items()):
            rows.append(
                f"<tr><td><span style='background:{escape(color)}'>&nbsp;&nbsp;&nbsp;&nbsp;"
                f"</span> <b>{escape(short)}</b></td><td>{escape(name)}</td></tr>"
            )
    types = (
        "<h3>Session types on this day</h3><table cellpadding='3'>" + "".join(rows) + "</table>"
        if rows
        else ""
    )
    marks = [
        (color, False, STATUS_WORDS.get(status, status)) for status, color in STATUS_COLORS.items()
    ]
    marks += [
        (color, state in HOLLOW_DOTS, ARRIVAL_WORDS[state])
        for state, color in ARRIVAL_COLORS.items()
    ]
    # The mark as a narrow block shows it (a wide one has a badge of that colour with the word).
    status_rows = "".join(
        f"<tr><td><span style='color:{color}; font-size:large'>{'○' if hollow else '●'}</span>"
        f"</td><td>{escape(words)}</td></tr>"
        for color, hollow, words in marks
    )
    mark_rows = "".join(
        f"<tr><td><b>{escape(k)}</b></td><td>{escape(v)}</td></tr>" for k, v in MARKS
    )
    board_rows = "".join(
        f"<tr><td><span style='color:{light}; font-size:large'>■</span></td>"
        f"<td>{escape(words)}</td></tr>"
        for (light, _dark), words in BOARD_COLOR_WORDS
    )
    return (
        f"{types}<h3>Status marks</h3><p>A dot on a narrow block; a badge of that colour, with the "
        f"word, on a wide one.</p><table cellpadding='3'>{status_rows}</table>"
        f"<h3>Other marks</h3><table cellpadding='3'>{mark_rows}</table>"
        f"<h3>Chair board</h3><table cellpadding='3'>{board_rows}</table>"
    )


class LegendDialog(QDialog):
    def __init__(self, schedule: DaySchedule | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Legend")
        self.setObjectName("legend")
        text = QTextBrowser(self)
        text.setObjectName("legend_text")
        text.setAccessibleName("Legend")
        text.setHtml(legend_html(schedule))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(text)
        layout.addWidget(buttons)
        self.resize(460, 480)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)


def show_legend(parent: QWidget, schedule: DaySchedule | None) -> LegendDialog:
    dialog = LegendDialog(schedule, parent)
    dialog.show()
    return dialog
