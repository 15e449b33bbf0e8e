"""The main window: a toolbar to move between days, the day view, and a status bar.

The window knows nothing of databases: it is given a function that returns a day's schedule
(services.schedule.day_schedule bound to an open clinic) and a function that says what day it
is at the clinic.  At start-up it may also be handed its first day already read, and later the
functions to read days with from then on (``set_day_source``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QDate, QSize, Qt
from PySide6.QtGui import QAction, QKeySequence, QPalette
from PySide6.QtWidgets import (
    QDateEdit,
    QLabel,
    QLayout,
    QMainWindow,
    QSizePolicy,
    QStatusBar,
    QToolBar,
    QToolButton,
    QWidget,
)

from ketadesk import APP_NAME
from ketadesk.services.schedule import DaySchedule
from ketadesk.ui.day_view import DayView
from ketadesk.ui.icons import chevron

MINIMUM_SIZE = QSize(720, 480)


@dataclass(frozen=True)
class ActionSpec:
    """One user action, declared once: menus, toolbar and shortcuts are built from these."""

    name: str
    text: str
    tip: str
    shortcuts: tuple[str, ...] = ()
    icon: str = ""  # a chevron direction: "left" or "right"
    checkable: bool = False
    checked: bool = False


ACTIONS = (
    ActionSpec("today", "Today", "Go to today (T)", ("T",)),
    ActionSpec(
        "previous_day",
        "Previous day",
        "Previous day (Left arrow)",
        ("Left",),
        "left",
    ),
    ActionSpec(
        "next_day",
        "Next day",
        "Next day (Right arrow)",
        ("Right",),
        "right",
    ),
    ActionSpec(
        "show_cancelled",
        "Show cancelled",
        "Show cancelled and no-show sessions, hatched",
        checkable=True,
        checked=True,
    ),
)


class MainWindow(QMainWindow):
    """KetaDesk's main window, showing one day of the clinic by room.

    Attributes:
        day_view: the central DayView.
        date_edit: the toolbar's date picker.
        actions_by_name: the QActions built from ACTIONS.
    """

    def __init__(
        self,
        *,
        load_day: Callable[[dt.date], DaySchedule],
        today: Callable[[], dt.date],
        database_label: str,
        start_day: dt.date | None = None,
        schedule: DaySchedule | None = None,
        now: Callable[[], dt.datetime] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        """``schedule``, when given, is the first day to show, already read (its day is the
        start day); otherwise ``load_day`` reads ``start_day``, by default today."""
        super().__init__(parent)
        self._load_day = load_day
        self._today = today
        self._day: dt.date | None = None
        self._schedule: DaySchedule | None = None
        self.setWindowTitle(APP_NAME)
        # The window's minimum size is fixed here rather than derived from the layout: a
        # layout-driven minimum is pushed to the platform window on every change, which the
        # offscreen platform (screenshots, tests) answers with a warning.
        layout = self.layout()
        if layout is not None:
            layout.setSizeConstraint(QLayout.SizeConstraint.SetNoConstraint)
        self.setMinimumSize(MINIMUM_SIZE)

        self.day_view = DayView(self, now=now)
        self.setCentralWidget(self.day_view)
        self.actions_by_name = self._create_actions()
        self.date_edit = self._create_date_edit()
        self._heading = QLabel(self)
        self._status_label = QLabel(self)
        self._database_label = QLabel(f"Database: {database_label}", self)
        self._database_label.setToolTip(database_label)
        self._build_toolbar()
        self._build_status_bar()
        self._connect()
        if schedule is not None:
            self._show_schedule(schedule)
        else:
            self.set_day(start_day or today())
        self.day_view.setFocus()

    # -- building ---------------------------------------------------------------------------

    def _create_actions(self) -> dict[str, QAction]:
        actions: dict[str, QAction] = {}
        ink = self.palette().color(QPalette.ColorRole.ButtonText)
        for spec in ACTIONS:
            action = QAction(spec.text, self)
            action.setObjectName(spec.name)
            action.setToolTip(spec.tip)
            if spec.shortcuts:
                action.setShortcuts([QKeySequence(s) for s in spec.shortcuts])
                action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            if spec.icon:
                action.setIcon(chevron(spec.icon, ink))
            if spec.checkable:
                action.setCheckable(True)
                action.setChecked(spec.checked)
            self.addAction(action)
            actions[spec.name] = action
        return actions

    def _create_date_edit(self) -> QDateEdit:
        edit = QDateEdit(self)
        edit.setObjectName("date_edit")
        edit.setCalendarPopup(True)
        edit.setDisplayFormat("ddd d MMM yyyy")
        edit.setToolTip("Go to a date")
        edit.setMinimumDate(QDate(2000, 1, 1))
        edit.setMaximumDate(QDate(2100, 12, 31))
        return edit

    def _build_toolbar(self) -> None:
        bar = QToolBar("Navigation", self)
        bar.setObjectName("navigation")
        bar.setMovable(False)
        bar.setFloatable(False)
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        bar.setIconSize(QSize(16, 16))
        a = self.actions_by_name
        bar.addAction(a["today"])
        bar.addAction(a["previous_day"])
        bar.addAction(a["next_day"])
        bar.addWidget(self.date_edit)
        self._heading.setObjectName("day_heading")
        font = self._heading.font()
        font.setPointSizeF(font.pointSizeF() * 1.25)
        font.setBold(True)
        self._heading.setFont(font)
        self._heading.setContentsMargins(12, 0, 12, 0)
        bar.addWidget(self._heading)
        spacer = QWidget(bar)
        spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        bar.addWidget(spacer)
        bar.addAction(a["show_cancelled"])
        for name in ("previous_day", "next_day"):  # arrows alone; the words are in the tooltip
            button = bar.widgetForAction(a[name])
            if isinstance(button, QToolButton):
                button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
        self.addToolBar(bar)

    def _build_status_bar(self) -> None:
        bar = QStatusBar(self)
        bar.setSizeGripEnabled(False)
        self._status_label.setObjectName("day_summary")
        bar.addWidget(self._status_label, 1)
        bar.addPermanentWidget(self._database_label)
        self.setStatusBar(bar)

    def _connect(self) -> None:
        a = self.actions_by_name
        a["today"].triggered.connect(self._on_today_triggered)
        a["previous_day"].triggered.connect(self._on_previous_day_triggered)
        a["next_day"].triggered.connect(self._on_next_day_triggered)
        a["show_cancelled"].toggled.connect(self._on_show_cancelled_toggled)
        self.date_edit.dateChanged.connect(self._on_date_edit_date_changed)

    # -- the day shown ----------------------------------------------------------------------

    def day(self) -> dt.date:
        assert self._day is not None
        return self._day

    def schedule(self) -> DaySchedule | None:
        return self._schedule

    def set_day(self, day: dt.date) -> None:
        """Show ``day`` (reloaded even when it is the day already shown)."""
        self._show_schedule(self._load_day(day))

    def set_day_source(
        self, load_day: Callable[[dt.date], DaySchedule], today: Callable[[], dt.date]
    ) -> None:
        """Read days with these from now on (the day shown stays as it is)."""
        self._load_day = load_day
        self._today = today

    def _show_schedule(self, schedule: DaySchedule) -> None:
        day = schedule.day
        self._day = day
        self._schedule = schedule
        self.date_edit.blockSignals(True)
        self.date_edit.setDate(QDate(day.year, day.month, day.day))
        self.date_edit.blockSignals(False)
        self.day_view.set_schedule(schedule)
        self._heading.setText(f"{day:%A} {day.day} {day:%B %Y}")
        self.setWindowTitle(f"{schedule.clinic_name} — {day:%a} {day.day} {day:%b %Y} — {APP_NAME}")
        self._status_label.setText(self.summary())

    def summary(self) -> str:
        """The status bar's account of the day: sessions, cancellations, opening hours."""
        s = self._schedule
        if s is None:
            return ""
        active = s.active_count
        parts = [f"{active} session{'s' if active != 1 else ''}"]
        cancelled, no_show = s.count_by_status("cancelled"), s.count_by_status("no_show")
        if cancelled:
            parts.append(f"{cancelled} cancelled")
        if no_show:
            parts.append(f"{no_show} no-show{'s' if no_show != 1 else ''}")
        if s.closed_reason:
            parts.append(s.closed_reason)
        elif s.opens and s.closes:
            parts.append(f"open {s.opens:%H:%M}–{s.closes:%H:%M}")
        if not self.day_view.show_cancelled() and (cancelled or no_show):
            parts.append("cancelled sessions hidden")
        return " · ".join(parts)

    # -- slots ------------------------------------------------------------------------------

    def _on_today_triggered(self) -> None:
        self.set_day(self._today())

    def _on_previous_day_triggered(self) -> None:
        self.set_day(self.day() - dt.timedelta(days=1))

    def _on_next_day_triggered(self) -> None:
        self.set_day(self.day() + dt.timedelta(days=1))

    def _on_show_cancelled_toggled(self, checked: bool) -> None:
        self.day_view.set_show_cancelled(checked)
        self._status_label.setText(self.summary())

    def _on_date_edit_date_changed(self, date: QDate) -> None:
        self.set_day(dt.date(date.year(), date.month(), date.day()))
