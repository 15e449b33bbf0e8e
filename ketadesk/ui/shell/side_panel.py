"""The main window's left panel: a month calendar, the follow-ups due, and the view filters.

The panel shows and asks; it decides nothing.  The window tells it the day, the columns and
session types on screen, and the follow-up counts; it tells the window which day was picked,
which filter is set, and that the user wants the follow-up queue.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from PySide6.QtCore import QDate, Qt, Signal
from PySide6.QtGui import QColor, QFont, QPalette, QTextCharFormat
from PySide6.QtWidgets import (
    QCalendarWidget,
    QGroupBox,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from ketadesk.ui.timeline.painter import CLOSED_COLOR
from ketadesk.ui.timeline.schedule_filter import ScheduleFilter

if TYPE_CHECKING:  # the service (and SQLAlchemy) stays off the path to the first paint
    from ketadesk.services.schedule.month import ClosedDay

#: The follow-up counts the panel shows, in order, with their words.
COUNT_LABELS = (
    ("urgent", "urgent"),
    ("overdue", "overdue"),
    ("due_today", "due today"),
)
ALL_ROLE = Qt.ItemDataRole.UserRole


class SidePanel(QWidget):
    """Month calendar, follow-ups due and filters.

    Signals:
        day_picked(date): the user chose a day on the calendar.
        filter_changed(ScheduleFilter): the rooms or session types to show changed.
        follow_ups_requested(str): the user clicked a follow-up count ("overdue", ...).
    """

    day_picked = Signal(dt.date)
    filter_changed = Signal(object)
    follow_ups_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("side_panel")
        self.calendar = QCalendarWidget(self)
        self.calendar.setObjectName("month_calendar")
        self.calendar.setAccessibleName("Month calendar")
        self.calendar.setGridVisible(False)
        self.calendar.setVerticalHeaderFormat(QCalendarWidget.VerticalHeaderFormat.NoVerticalHeader)
        self.calendar.setFirstDayOfWeek(Qt.DayOfWeek.Monday)
        self.calendar.clicked.connect(self._on_calendar_clicked)
        #: The days marked closed now, with why (``set_closed_days``).
        self.closed_days: dict[dt.date, str] = {}
        self.calendar.activated.connect(self._on_calendar_clicked)

        self.follow_ups_box = QGroupBox("Follow-ups", self)
        self.follow_ups_box.setObjectName("follow_ups_box")
        box = QVBoxLayout(self.follow_ups_box)
        box.setContentsMargins(6, 6, 6, 6)
        box.setSpacing(2)
        self.count_buttons: dict[str, QPushButton] = {}
        for key, _ in COUNT_LABELS:
            button = QPushButton(self.follow_ups_box)
            button.setObjectName(f"follow_ups_{key}")
            button.setFlat(True)
            button.setStyleSheet("text-align: left; padding: 2px 4px;")
            button.clicked.connect(lambda _=False, k=key: self.follow_ups_requested.emit(k))
            box.addWidget(button)
            self.count_buttons[key] = button
        self.follow_ups_box.setVisible(False)  # until counts arrive from an open clinic

        self.columns_list = self._checklist("Columns", "column_filter")
        self.types_list = self._checklist("Session types", "type_filter")
        self._known_types: dict[str, str] = {}  # every session type seen, code -> name
        self._listed_types: list[tuple[str, str]] = []
        self._column_ids: list[int | None] = []

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.calendar)
        layout.addWidget(self.follow_ups_box)
        self.filter_groups: list[QGroupBox] = []
        for lst, title in ((self.columns_list, "Columns"), (self.types_list, "Session types")):
            group = QGroupBox(title, self)
            inner = QVBoxLayout(group)
            inner.setContentsMargins(4, 4, 4, 4)
            inner.addWidget(lst)
            layout.addWidget(group, 1)
            self.filter_groups.append(group)
        layout.addStretch(1)  # the calendar keeps its size when the filters are hidden
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Expanding)

    def _checklist(self, name: str, object_name: str) -> QListWidget:
        lst = QListWidget(self)
        lst.setObjectName(object_name)
        lst.setAccessibleName(f"Show {name.lower()}")
        lst.setUniformItemSizes(True)
        lst.itemChanged.connect(self._on_item_changed)
        return lst

    # -- what the window tells the panel -----------------------------------------------------

    def set_closed_days(self, days: Sequence[ClosedDay]) -> None:
        """Mark the days the clinic is closed (a holiday, a whole-day closure) on the month
        calendar: bold in the closures' red, the reason as the tooltip ("Christmas Day")."""
        for day in self.closed_days:
            self.calendar.setDateTextFormat(QDate(day.year, day.month, day.day), QTextCharFormat())
        marked = QTextCharFormat()
        marked.setForeground(QColor(CLOSED_COLOR))
        marked.setFontWeight(QFont.Weight.Bold)
        self.closed_days = {}
        for closed in days:
            fmt = QTextCharFormat(marked)
            fmt.setToolTip(f"Clinic closed: {closed.reason}")
            d = closed.day
            self.calendar.setDateTextFormat(QDate(d.year, d.month, d.day), fmt)
            self.closed_days[d] = closed.reason

    def shown_month(self) -> tuple[dt.date, dt.date]:
        """The first and last day of the month page the calendar shows."""
        year, month = self.calendar.yearShown(), self.calendar.monthShown()
        first = dt.date(year, month, 1)
        after = dt.date(year + month // 12, month % 12 + 1, 1)
        return first, after - dt.timedelta(days=1)

    def set_day(self, day: dt.date) -> None:
        self.calendar.blockSignals(True)
        self.calendar.setSelectedDate(QDate(day.year, day.month, day.day))
        self.calendar.blockSignals(False)

    def set_columns(self, columns: Iterable[tuple[int | None, str]]) -> None:
        """The columns the current view could show; ticks are kept for columns seen before."""
        columns = list(columns)
        ids = [c for c, _ in columns]
        if ids == self._column_ids:
            return
        hidden = self._unticked(self.columns_list)
        self._column_ids = ids
        self._fill(self.columns_list, columns, hidden)

    def set_session_types(self, types: Mapping[str, str]) -> None:
        """The session types (code -> name) of the day or week shown.  A filter persists from
        day to day: a type unticked stays listed and unticked, "(none shown)" when the day has
        none of it, while a ticked type the day has none of is not listed (trial 3, C21: the
        list kept "Booster review" from 12/14 on 12/07, which has none)."""
        hidden = self._unticked(self.types_list)
        self._known_types.update(types)
        listed = [(code, name) for code, name in types.items()]
        listed += [
            (code, f"{self._known_types[code]} (none shown)")
            for code in sorted(hidden, key=lambda c: self._known_types.get(str(c), str(c)))
            if isinstance(code, str) and code not in types and code in self._known_types
        ]
        listed.sort(key=lambda kv: self._known_types[kv[0]].casefold())
        if listed == self._listed_types:
            return
        self._listed_types = listed
        self._fill(self.types_list, listed, hidden)

    def set_filters_visible(self, visible: bool) -> None:
        """The filters apply to the day by room and the week; other views hide them."""
        for group in self.filter_groups:
            group.setVisible(visible)

    def set_counts(self, counts: Mapping[str, int] | None) -> None:
        """Follow-up counts (keys of COUNT_LABELS); None hides the box (no clinic open).  A
        count the services leave out is not shown: the front desk's queue has no urgent
        reviews, so its panel has no "0 urgent" (``FollowUpQueue.counts``)."""
        self.follow_ups_box.setVisible(counts is not None)
        if counts is None:
            return
        warn = self.palette().color(QPalette.ColorRole.Text)
        for key, words in COUNT_LABELS:
            button = self.count_buttons[key]
            button.setVisible(key in counts)
            n = counts.get(key, 0)
            button.setText(f"{n} {words}")
            button.setAccessibleName(f"{n} follow-ups {words}; open the queue")
            urgent = n > 0 and key in ("urgent", "overdue")
            color = "#d93025" if urgent else warn.name()
            weight = "bold" if urgent else "normal"
            button.setStyleSheet(
                f"text-align: left; padding: 2px 4px; color: {color}; font-weight: {weight};"
            )

    def current_filter(self) -> ScheduleFilter:
        hidden_columns = self._unticked(self.columns_list)
        hidden_types = self._unticked(self.types_list)
        columns = (
            frozenset(c for c in self._column_ids if c not in hidden_columns)
            if hidden_columns
            else None
        )
        types = (
            frozenset(c for c in self._known_types if c not in hidden_types)
            if hidden_types
            else None
        )
        return ScheduleFilter(column_ids=columns, session_types=types)

    def clear_filter(self) -> None:
        for lst in (self.columns_list, self.types_list):
            lst.blockSignals(True)
            for i in range(lst.count()):
                item = lst.item(i)
                if item is not None:
                    item.setCheckState(Qt.CheckState.Checked)
            lst.blockSignals(False)
        self.filter_changed.emit(self.current_filter())

    # -- inside ------------------------------------------------------------------------------

    @staticmethod
    def _unticked(lst: QListWidget) -> set[object]:
        hidden = set()
        for i in range(lst.count()):
            item = lst.item(i)
            if item is not None and item.checkState() != Qt.CheckState.Checked:
                hidden.add(item.data(ALL_ROLE))
        return hidden

    @staticmethod
    def _fill(lst: QListWidget, entries: Iterable[tuple[object, str]], hidden: set[object]) -> None:
        lst.blockSignals(True)
        lst.clear()
        for key, name in entries:
            item = QListWidgetItem(name, lst)
            item.setData(ALL_ROLE, key)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked if key in hidden else Qt.CheckState.Checked)
        lst.blockSignals(False)

    def _on_calendar_clicked(self, date: QDate) -> None:
        self.day_picked.emit(dt.date(date.year(), date.month(), date.day()))

    def _on_item_changed(self, _item: QListWidgetItem) -> None:
        self.filter_changed.emit(self.current_filter())
