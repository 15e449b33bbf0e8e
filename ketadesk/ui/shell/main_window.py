"""The main window: menus and toolbar built from one table of actions, a left panel, the
central views, and a status bar.

The window knows nothing of databases.  To paint its first day it is given a function that
returns a day's schedule (services.schedule.day_schedule bound to an open clinic, or read
straight from the file at start-up) and a function that says what day it is at the clinic.
Everything else (booking, the other views, undo, follow-ups) arrives with ``attach_desk`` once
the clinic is open and someone has signed in: a ``ketadesk.ui.shell.pages.DeskController``
registers those views into the window's ``PageRegistry``.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, TypeVar

import shiboken6
from PySide6.QtCore import QByteArray, QDate, QRect, QSettings, QSize, Qt, QTimer
from PySide6.QtGui import (
    QAction,
    QActionGroup,
    QCloseEvent,
    QKeySequence,
    QPainter,
    QPaintEvent,
    QPalette,
    QShowEvent,
    QStandardItemModel,
)
from PySide6.QtWidgets import (
    QComboBox,
    QDockWidget,
    QLabel,
    QLayout,
    QMainWindow,
    QMenu,
    QSizePolicy,
    QStackedWidget,
    QStatusBar,
    QToolBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ketadesk import APP_NAME
from ketadesk.scheduling.dates import clock_span
from ketadesk.scheduling.words import role_name
from ketadesk.services.common.context import ServiceError, may
from ketadesk.services.schedule.day_schedule import DaySchedule
from ketadesk.ui.common.background import LatestOnly, run_service
from ketadesk.ui.common.date_fields import DateField
from ketadesk.ui.common.dates import short_date, us_date_range, us_long_date
from ketadesk.ui.common.desk import Desk
from ketadesk.ui.common.icons import chevron
from ketadesk.ui.shell.page_registry import Page, PageRegistry
from ketadesk.ui.shell.pages import DeskController
from ketadesk.ui.shell.side_panel import SidePanel
from ketadesk.ui.timeline.day_view import DayView
from ketadesk.ui.timeline.read_ahead import ReadAhead
from ketadesk.ui.timeline.schedule_filter import ScheduleFilter

if TYPE_CHECKING:
    from typing_extensions import override

    from ketadesk.services.schedule.week import WeekSchedule
else:  # typing.override is Python 3.12+; the decorator only informs the type checker.
    _F = TypeVar("_F")

    def override(method: _F) -> _F:
        return method


MINIMUM_SIZE = QSize(720, 480)
#: The most of the window's width the left panel may take when it comes back from the last run.
MAX_SIDE_PANEL_SHARE = 1 / 3
ONE_DAY = dt.timedelta(days=1)
#: How long after a change the days either side wait to be read ahead again.
READ_AHEAD_AFTER_CHANGE_S = 1.0


@dataclass(frozen=True)
class ActionSpec:
    """One user action, declared once: menus, toolbar and shortcuts are built from these.

    ``menu`` names the menu it sits in; ``needs_desk`` actions stay disabled until the clinic is
    open and someone is signed in; ``permission`` (services.context.PERMISSIONS) hides the
    action from roles the services would refuse anyway.
    """

    name: str
    text: str
    tip: str
    shortcuts: tuple[str, ...] = ()
    icon: str = ""  # a chevron direction: "left" or "right"
    checkable: bool = False
    checked: bool = False
    menu: str = ""
    needs_desk: bool = False
    permission: str = ""


ACTIONS = (
    ActionSpec("today", "Today", "Go to today (T)", ("T",), menu="Go"),
    ActionSpec(
        "previous_day",
        "Previous day",
        "Previous day (Left arrow; a week back on the week view)",
        ("Left",),
        "left",
        menu="Go",
    ),
    ActionSpec(
        "next_day",
        "Next day",
        "Next day (Right arrow; a week on on the week view)",
        ("Right",),
        "right",
        menu="Go",
    ),
    ActionSpec(
        "fees",
        "Fees…",
        "Late-cancellation and no-show fees: the list, waivers, printing",
        menu="Go",
        needs_desk=True,
        permission="view_fees",
    ),
    ActionSpec(
        "show_cancelled",
        "Show cancelled",
        "Show cancelled and no-show sessions, hatched",
        checkable=True,
        checked=True,
        menu="View",
    ),
    ActionSpec(
        "new_booking",
        "New booking…",
        "Book a treatment series or a single session (Ctrl+N)",
        ("Ctrl+N",),
        menu="Patient",
        needs_desk=True,
        permission="book",
    ),
    ActionSpec(
        "find_patient",
        "Find patient…",
        "Find a patient by name, chart number, phone or date of birth (Ctrl+F)",
        ("Ctrl+F",),
        menu="Patient",
        needs_desk=True,
    ),
    ActionSpec(
        "import_patients",
        "Import patients…",
        "Register a list of patients from a CSV file, checked row by row",
        menu="Patient",
        needs_desk=True,
        permission="register_patient",
    ),
    # The toolbar's Print and the two shortcuts; File ▸ Print (ui/printing DocumentMenu, set by
    # the signed-in desk) holds every document, so these sit in no menu.
    ActionSpec(
        "print",
        "Print…",
        "Print the day sheet of the day shown (Ctrl+P)",
        ("Ctrl+P",),
        needs_desk=True,
    ),
    ActionSpec(
        "print_preview",
        "Print preview…",
        "Preview the day sheet of the day shown (Ctrl+Shift+P)",
        ("Ctrl+Shift+P",),
        needs_desk=True,
    ),
    ActionSpec(
        "undo",
        "Undo",
        "Undo the last change to the schedule (Ctrl+Z)",
        ("Ctrl+Z",),
        menu="Edit",
        needs_desk=True,
    ),
    ActionSpec(
        "redo",
        "Redo",
        "Redo the change just undone (Ctrl+Shift+Z)",
        ("Ctrl+Shift+Z", "Ctrl+Y"),
        menu="Edit",
        needs_desk=True,
    ),
    ActionSpec(
        "refresh",
        "Refresh",
        "Read the schedule again now (F5)",
        ("F5",),
        menu="View",
    ),
    ActionSpec(
        "audit_trail",
        "Audit trail…",
        "Who changed what, and when",
        menu="Clinic",
        needs_desk=True,
        permission="view_audit",
    ),
    ActionSpec(
        "settings",
        "Settings…",
        "The clinic's settings: details, rooms, equipment, staff, users (administrators)",
        menu="Clinic",
        needs_desk=True,
        permission="configure",
    ),
    ActionSpec(
        "lock",
        "Lock",
        "Lock the screen now; your password opens it again (Ctrl+L)",
        ("Ctrl+L",),
        menu="Clinic",
        needs_desk=True,
    ),
    ActionSpec(
        "switch_user",
        "Switch user…",
        "Sign in as someone else on this workstation",
        menu="Clinic",
        needs_desk=True,
    ),
    ActionSpec("legend", "Legend", "What the colours and abbreviations mean", ("F1",), menu="Help"),
    ActionSpec("quit", "Quit", "Close KetaDesk (Ctrl+Q)", ("Ctrl+Q",), menu="File"),
)


@dataclass(frozen=True)
class ViewSpec:
    """One central view the user can switch to."""

    name: str
    text: str
    shortcut: str
    tip: str
    needs_desk: bool = True


VIEWS = (
    ViewSpec("rooms", "Day by room", "Ctrl+1", "The day, a column per room", needs_desk=False),
    ViewSpec("staff", "Day by staff", "Ctrl+2", "The day, a column per staff member"),
    ViewSpec("week", "Week", "Ctrl+3", "Seven days of the chosen rooms or staff member"),
    ViewSpec("chairs", "Chair board", "Ctrl+4", "Live: who is in each chair, phase, BP due"),
    ViewSpec("follow_ups", "Follow-ups", "Ctrl+5", "Calls, forms and measures owed to patients"),
    ViewSpec("recall", "Recall", "Ctrl+6", "Patients due a booster, and those who dropped out"),
    ViewSpec("my_day", "My day", "Ctrl+7", "One clinician's own sessions today"),
    ViewSpec("waitlist", "Waitlist", "Ctrl+8", "Patients waiting for an earlier place"),
    ViewSpec("confirmations", "Confirmations", "Ctrl+9", "Calls to confirm the coming visits"),
)
DAY_VIEWS = frozenset({"rooms", "staff"})


#: About how many characters of the database's path or address the status bar shows.
DATABASE_LABEL_CHARS = 36


class ElidedLabel(QLabel):
    """A one-line label that gives way to its neighbours: it may shrink to nothing and then
    ends its text with "…" (the whole text in its tooltip) instead of running under them."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setMinimumWidth(0)

    @override
    def setText(self, text: str) -> None:
        super().setText(text)
        self.setToolTip(text)

    @override
    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        rect = self.contentsRect()
        shown = self.fontMetrics().elidedText(
            self.text(), Qt.TextElideMode.ElideRight, rect.width()
        )
        painter.setPen(self.palette().color(QPalette.ColorRole.WindowText))
        painter.drawText(
            rect, int(Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft), shown
        )
        painter.end()


class ElidingStatusBar(QStatusBar):
    """A status bar whose passing message ends in "…" where the permanent labels begin (the
    signed-in user, the database), rather than being cut mid-word against them: Qt clips it
    there, and a long message read "…(Waitl frontdesk (front desk)" (trial 3, C18)."""

    def message_rect(self) -> QRect:
        """Where the message is painted: as Qt's own, up to the first permanent label."""
        right = self.width() - 12
        for label in self.findChildren(QWidget, options=Qt.FindChildOption.FindDirectChildrenOnly):
            if label.isVisible() and label.property(PERMANENT):
                right = min(right, label.x() - 2)
        return QRect(6, 0, max(0, right - 6), self.height())

    def add_permanent(self, widget: QWidget) -> None:
        widget.setProperty(PERMANENT, True)
        self.addPermanentWidget(widget)

    @override
    def paintEvent(self, event: QPaintEvent) -> None:
        message = self.currentMessage()
        if not message:
            super().paintEvent(event)
            return
        rect = self.message_rect()
        painter = QPainter(self)
        painter.setPen(self.palette().color(QPalette.ColorRole.WindowText))
        shown = self.fontMetrics().elidedText(message, Qt.TextElideMode.ElideRight, rect.width())
        painter.drawText(
            rect,
            int(
                Qt.AlignmentFlag.AlignLeading
                | Qt.AlignmentFlag.AlignVCenter
                | Qt.TextFlag.TextSingleLine
            ),
            shown,
        )
        painter.end()


#: The property that marks a status bar's permanent labels (``ElidingStatusBar``).
PERMANENT = "permanent_in_status_bar"


class MainWindow(QMainWindow):
    """KetaDesk's main window: the day by room at first, and every other view once the clinic
    is open and someone is signed in (``attach_desk``).

    Attributes:
        day_view: the day by room (always there: it is what start-up paints first).
        date_edit: the toolbar's date picker.
        side_panel: the left panel (month calendar, follow-ups due, filters).
        actions_by_name: the QActions built from ACTIONS, and "view_<name>" for VIEWS.
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
        settings: QSettings | None = None,
        parent: QWidget | None = None,
    ) -> None:
        """``schedule``, when given, is the first day to show, already read (its day is the
        start day); otherwise ``load_day`` reads ``start_day``, by default today.
        ``settings``, when given, keeps the window's geometry and last view between runs."""
        super().__init__(parent)
        self._load_day = load_day
        self._today = today
        self._now = now
        self._settings = settings
        self._day: dt.date | None = None
        self._schedule: DaySchedule | None = None
        self._week: WeekSchedule | None = None  # the week view's week, as shown (filtered)
        self._desk: Desk | None = None
        self._controller: DeskController | None = None
        #: The views the signed-in desk offers; built on first use into ``_pages``.
        self.pages = PageRegistry()
        self._pages: dict[str, Page] = {}
        self._view = "rooms"
        self._filter = ScheduleFilter()
        # Days are read on a worker; only the latest day asked for is shown.
        self._day_reads = LatestOnly(self, busy="Reading the day…")
        # The days either side of the one shown, read ahead once someone is signed in: the
        # next key press then only paints.  Forgotten whenever the clinic changes (refresh).
        self._days: ReadAhead[dt.date, DaySchedule] = ReadAhead(
            load_day, landed=self._on_day_read_ahead
        )
        self._today_reads = 0
        # What day it was at the clinic when last read: a window on it follows a new today
        # (a change of the clinic's time zone), a window on another day stays where it is.
        self._known_today: dt.date | None = None
        self._clamp_side_panel_pending = False  # set when a remembered layout is restored
        self.setWindowTitle(APP_NAME)
        # The window's minimum size is fixed here rather than derived from the layout: a
        # layout-driven minimum is pushed to the platform window on every change, which the
        # offscreen platform (screenshots, tests) answers with a warning.
        layout = self.layout()
        if layout is not None:
            layout.setSizeConstraint(QLayout.SizeConstraint.SetNoConstraint)
        self.setMinimumSize(MINIMUM_SIZE)

        self.day_view = DayView(self, now=now)
        self._ahead_of: dt.date | None = None  # read around this day once it is painted
        self._quiet_until = 0.0  # no reads ahead before this (time.monotonic), see refresh
        self.day_view.painted.connect(self._on_day_view_painted)
        self.day_view.setAccessibleName("Day by room")
        self._stack = QStackedWidget(self)
        self._stack.setObjectName("views")
        self._stack.addWidget(self.day_view)
        # The day by room is the window's own: it reads days through ``load_day``.
        self._pages["rooms"] = Page(self.day_view, self._on_rooms_day)
        # The views sit in a column from the start, with room above them for the connection
        # banner (set_banner): wrapped in it only when the first banner came, at sign-in, the
        # window was for a moment without a central widget, and a left panel restored from the
        # last run took the whole width and kept most of it (trial 3, S7: ~1,100 of 1,400 px).
        central = QWidget(self)
        central.setObjectName("central")
        self._column = QVBoxLayout(central)
        self._column.setContentsMargins(0, 0, 0, 0)
        self._column.setSpacing(0)
        self._column.addWidget(self._stack, 1)
        self.setCentralWidget(central)
        self.actions_by_name = self._create_actions()
        self._view_group = self._create_view_actions()
        self.date_edit = self._create_date_edit()
        self._heading = QLabel(self)
        self._status_label = ElidedLabel(self)
        # The clinic file's disk-encryption warning (services/clinic/at_rest.py) stays put
        # beside the summary, in few words with the whole notice in its tooltip: as a status
        # bar message it was painted over the day's summary on every day view.
        self._at_rest_label = QLabel(self)
        self._at_rest_label.setObjectName("at_rest_notice")
        self._at_rest_label.hide()
        self._user_label = QLabel(self)
        self._user_label.setObjectName("signed_in_user")
        self._database_label = QLabel(self)
        self._database_label.setObjectName("database")
        # A long path is cut in its middle (it is whole in the tooltip), so that the day's
        # summary keeps its room at the narrowest window.
        self._database_label.setText(
            "Database: "
            + self._database_label.fontMetrics().elidedText(
                database_label,
                Qt.TextElideMode.ElideMiddle,
                self._database_label.fontMetrics().averageCharWidth() * DATABASE_LABEL_CHARS,
            )
        )
        self._database_label.setToolTip(database_label)
        self.side_panel = SidePanel(self)
        self._build_menus()
        self._build_toolbar()
        self._build_side_panel()
        self._build_status_bar()
        self._connect()
        self._enable_desk_actions()
        if schedule is not None:
            self._show_schedule(schedule)
        elif start_day is not None:
            self.set_day(start_day)
        else:
            self._on_today_triggered()
        self._restore_settings()
        self.day_view.setFocus()

    # -- building ---------------------------------------------------------------------------

    def _create_actions(self) -> dict[str, QAction]:
        actions: dict[str, QAction] = {}
        ink = self.palette().color(QPalette.ColorRole.ButtonText)
        for spec in ACTIONS:
            action = QAction(spec.text, self)
            action.setObjectName(spec.name)
            action.setToolTip(spec.tip)
            action.setStatusTip(spec.tip)
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

    def _create_view_actions(self) -> QActionGroup:
        group = QActionGroup(self)
        group.setExclusive(True)
        for view in VIEWS:
            action = QAction(view.text, self)
            action.setObjectName(f"view_{view.name}")
            action.setCheckable(True)
            action.setChecked(view.name == "rooms")
            action.setShortcut(QKeySequence(view.shortcut))
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            action.setToolTip(f"{view.tip} ({view.shortcut})")
            action.setStatusTip(view.tip)
            action.setData(view.name)
            group.addAction(action)
            self.addAction(action)
            self.actions_by_name[f"view_{view.name}"] = action
        return group

    def _create_date_edit(self) -> DateField:
        edit = DateField(self, weekday=True)
        edit.setObjectName("date_edit")
        edit.setAccessibleName("Date shown")
        edit.setToolTip("Go to a date")
        edit.setMinimumDate(QDate(2000, 1, 1))
        edit.setMaximumDate(QDate(2100, 12, 31))
        return edit

    def _build_menus(self) -> None:
        bar = self.menuBar()
        menus: dict[str, QMenu] = {}
        for title in ("File", "Edit", "View", "Go", "Patient", "Clinic", "Help"):
            menus[title] = bar.addMenu(f"&{title}")
        for spec in ACTIONS:
            if spec.menu == "View" and spec.name == "show_cancelled":
                continue  # added after the views
            if spec.menu:
                menus[spec.menu].addAction(self.actions_by_name[spec.name])
        view_menu = menus["View"]
        view_menu.addSeparator()
        for view in VIEWS:
            view_menu.addAction(self.actions_by_name[f"view_{view.name}"])
        view_menu.addSeparator()
        view_menu.addAction(self.actions_by_name["show_cancelled"])
        self._menus = menus

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
        self._view_combo = QComboBox(bar)
        self._view_combo.setObjectName("view_switch")
        self._view_combo.setAccessibleName("View")
        self._view_combo.setToolTip("Switch view (Ctrl+1 … Ctrl+7)")
        for spec in VIEWS:
            self._view_combo.addItem(spec.text, spec.name)
        bar.addWidget(self._view_combo)
        bar.addAction(a["new_booking"])
        bar.addAction(a["find_patient"])
        bar.addAction(a["print"])
        bar.addAction(a["show_cancelled"])
        for name in ("previous_day", "next_day"):  # arrows alone; the words are in the tooltip
            button = bar.widgetForAction(a[name])
            if isinstance(button, QToolButton):
                button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
        self.addToolBar(bar)

    def _build_side_panel(self) -> None:
        dock = QDockWidget("Calendar and filters", self)
        dock.setObjectName("side_dock")
        dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetMovable
            | QDockWidget.DockWidgetFeature.DockWidgetClosable
        )
        dock.setAllowedAreas(
            Qt.DockWidgetArea.LeftDockWidgetArea | Qt.DockWidgetArea.RightDockWidgetArea
        )
        dock.setWidget(self.side_panel)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, dock)
        toggle = dock.toggleViewAction()
        toggle.setText("Side panel")
        toggle.setShortcut(QKeySequence("Ctrl+B"))
        self._menus["View"].addAction(toggle)
        self._dock = dock

    def _build_status_bar(self) -> None:
        bar = ElidingStatusBar(self)
        bar.setSizeGripEnabled(False)
        self._status_label.setObjectName("day_summary")
        bar.addWidget(self._status_label, 1)
        bar.add_permanent(self._at_rest_label)
        bar.add_permanent(self._user_label)
        bar.add_permanent(self._database_label)
        self.setStatusBar(bar)

    def _connect(self) -> None:
        a = self.actions_by_name
        a["today"].triggered.connect(self._on_today_triggered)
        a["previous_day"].triggered.connect(self._on_previous_day_triggered)
        a["next_day"].triggered.connect(self._on_next_day_triggered)
        a["show_cancelled"].toggled.connect(self._on_show_cancelled_toggled)
        a["refresh"].triggered.connect(self.refresh)
        a["legend"].triggered.connect(self._on_legend_triggered)
        a["quit"].triggered.connect(self.close)
        self.date_edit.dateChanged.connect(self._on_date_edit_date_changed)
        self._view_group.triggered.connect(self._on_view_action_triggered)
        self._view_combo.activated.connect(self._on_view_combo_activated)
        self.side_panel.day_picked.connect(self.set_day)
        self.side_panel.filter_changed.connect(self._on_filter_changed)

    # -- the open clinic ----------------------------------------------------------------------

    def desk(self) -> Desk | None:
        return self._desk

    def desk_controller(self) -> DeskController | None:
        """What the signed-in desk wired into this window (None while nobody is signed in)."""
        return self._controller

    def widget(self) -> QWidget:
        """The window as a plain widget (``DeskWindow``): the parent of the desk's dialogs."""
        return self

    def attach_desk(self, desk: Desk) -> None:
        """The clinic is open and ``desk.actor`` is signed in: offer everything they may do."""
        self._desk = desk
        self._days.clear()
        self._user_label.setText(f"{desk.actor.username} ({role_name(desk.actor.role)})")
        self._enable_desk_actions()
        # The view on screen is one of those rebuilt below: stand on the day by room meanwhile,
        # or the stack would fall on another page (the "Sign in" one) and the view go missing.
        shown, covered = self._view, self.is_signed_out()
        if shown != "rooms":
            self._view = "rooms"
            if not covered:
                self._stack.setCurrentWidget(self._pages["rooms"].widget)
        for name, page in list(self._pages.items()):
            if name != "rooms":  # views of the previous user are rebuilt for the new one
                self._stack.removeWidget(page.widget)
                page.widget.deleteLater()
                del self._pages[name]
        if self._controller is not None:
            self._controller.dispose()
        self._controller = DeskController(self, desk)
        if shown != "rooms" and not covered:  # back to the view the switch was made from
            self.set_view(shown)
        self._recheck_today()

    def detach_desk(self) -> None:
        """Nobody is signed in any more (switch of user): back to what needs no one."""
        self._desk = None
        self._days.clear()
        self._user_label.setText("")
        self.set_view("rooms")
        self._enable_desk_actions()
        if self._controller is not None:  # stop what the desk was running (watcher, timers)
            self._controller.dispose()
            self._controller = None

    def set_signed_out(self, signed_out: bool) -> None:
        """Cover the clinic while nobody is signed in: no patient is shown before a sign-in."""
        if signed_out:
            page = getattr(self, "_signed_out_page", None)
            if page is None:
                page = QLabel("Sign in to see the clinic.", self._stack)
                page.setObjectName("signed_out")
                page.setAlignment(Qt.AlignmentFlag.AlignCenter)
                page.setAccessibleName("Signed out")
                self._signed_out_page = page
                self._stack.addWidget(page)
            self._stack.setCurrentWidget(page)
            self._dock.hide()
            self._status_label.setText("")
        else:
            self._stack.setCurrentWidget(self._pages[self._view].widget)
            self._dock.show()
            self._status_label.setText(self.summary())
            self._clamp_side_panel_later()

    def is_signed_out(self) -> bool:
        page = getattr(self, "_signed_out_page", None)
        return page is not None and self._stack.currentWidget() is page

    def _enable_desk_actions(self) -> None:
        desk = self._desk
        for spec in ACTIONS:
            action = self.actions_by_name[spec.name]
            allowed = not spec.permission or desk is None or may(desk.actor, spec.permission)
            if spec.needs_desk:
                action.setEnabled(desk is not None and allowed)
            if spec.permission:
                action.setVisible(allowed)
        for view in VIEWS:
            self.actions_by_name[f"view_{view.name}"].setEnabled(
                desk is not None or not view.needs_desk
            )
        model = self._view_combo.model()
        if isinstance(model, QStandardItemModel):
            for row, view in enumerate(VIEWS):
                item = model.item(row)
                if item is not None:
                    item.setEnabled(desk is not None or not view.needs_desk)

    # -- views --------------------------------------------------------------------------------

    def view(self) -> str:
        """The name of the view shown (a ViewSpec name)."""
        return self._view

    def page(self, name: str) -> QWidget | None:
        """The widget of view ``name``, if it has been built."""
        page = self._pages.get(name)
        return page.widget if page is not None else None

    def set_view(self, name: str) -> None:
        spec = next((v for v in VIEWS if v.name == name), None)
        if spec is None:
            raise ValueError(f"no view called {name!r}")
        if spec.needs_desk and self._desk is None:
            return
        page = self._pages.get(name)
        if self.is_signed_out():
            return
        if page is None:
            page = self.pages.build(name)
            self._pages[name] = page
            self._stack.addWidget(page.widget)
            if page.refreshed is not None:
                page.refreshed.connect(self._on_page_refreshed)
        self._view = name
        self._stack.setCurrentWidget(page.widget)
        self.side_panel.set_filters_visible(name in ("rooms", "week"))
        self.actions_by_name[f"view_{name}"].setChecked(True)
        self._view_combo.setCurrentIndex(self._view_combo.findData(name))
        if self._day is not None:
            self._heading.setText(self._heading_text(self._day))
            self._show_day_on_page(self._day)
        self._status_label.setText(self.summary())
        page.widget.setFocus()

    def _show_day_on_page(self, day: dt.date) -> None:
        self._pages[self._view].show_day(day)

    def _on_rooms_day(self, day: dt.date) -> None:
        """The day by room, shown again: ``set_day`` keeps it on the window's day whichever
        view changed the date, so it only offers its filters again; should it not hold
        ``day`` (nothing read yet), it reads it."""
        shown = self._schedule
        if shown is None or shown.day != day:
            self._read_rooms_day(day)
            return
        self._offer_filters(shown)

    # -- the day shown ----------------------------------------------------------------------

    def day(self) -> dt.date:
        assert self._day is not None
        return self._day

    def schedule(self) -> DaySchedule | None:
        return self._schedule

    def set_day(self, day: dt.date) -> None:
        """Show ``day`` (reloaded even when it is the day already shown).

        The heading says the new day at once; the day itself is read on a worker and shown
        when it arrives (``is_reading`` until then)."""
        self._set_day_heading(day)
        # The day by room is read whichever view is shown: it is the window's account of the
        # day (the status bar's), and it must hold this day when the user comes back to it.
        self._read_rooms_day(day)
        if self._view != "rooms" and self._desk is not None:
            self._show_day_on_page(day)

    def refresh(self) -> None:
        """Read what is shown again (another workstation may have changed it); the days read
        ahead are forgotten (and read again once things are quiet)."""
        self._days.clear()
        self._quiet_until = time.monotonic() + READ_AHEAD_AFTER_CHANGE_S
        self._recheck_today()
        if self._day is None:
            return
        self._read_rooms_day(self._day, keep_place=True)
        if self._view != "rooms" and self._desk is not None:
            self._show_day_on_page(self._day)

    def is_reading(self) -> bool:
        """Whether the day by room is still reading a day (or what day it is today)."""
        return self._today_reads > 0 or self._days.is_waited_for() or self._day_reads.is_busy()

    def is_read_ahead(self, day: dt.date) -> bool:
        """Whether ``day`` is in memory, read ahead: showing it will only paint."""
        return self._days.get(day) is not None

    def _read_rooms_day(self, day: dt.date, *, keep_place: bool = False) -> None:
        days = self._days
        days.cancel_waits()
        if not keep_place:
            held = days.get(day)
            if held is not None:  # read ahead: shown at once
                self._show_schedule(held)
                self._read_ahead(day)
                return
            if days.is_reading(day):  # being read ahead: shown when it lands
                days.when_read(day, partial(self._on_read_ahead, day))
                return
        load, generation = self._load_day, days.generation()

        def show(schedule: DaySchedule) -> None:
            days.put(schedule.day, schedule, generation)
            if schedule.day != self._day:  # the user went on to a day read ahead meanwhile
                return
            self._show_schedule(schedule, keep_place=keep_place)
            self._read_ahead(day)

        self._day_reads.run(lambda: load(day), show, failed=self._on_day_not_read)

    def _on_day_read_ahead(self, _day: dt.date, schedule: DaySchedule) -> None:
        if not shiboken6.isValid(self.day_view):  # the window closed while the day was read
            return
        if self._view == "rooms" and self._filter.is_empty:  # a filtered day is a new copy
            self.day_view.prepare(schedule)

    def _on_read_ahead(self, day: dt.date, schedule: DaySchedule | None) -> None:
        if day != self._day:
            return
        if schedule is None:  # it failed, or the clinic changed meanwhile: read it now
            self._read_rooms_day(day, keep_place=True)
            return
        self._show_schedule(schedule)
        self._read_ahead(day)

    def _read_ahead(self, day: dt.date) -> None:
        """Read the days either side of ``day`` on a worker once the day has been painted
        (only for someone signed in: before that the window is covered, and start-up busy)."""
        if self._desk is not None:
            self._ahead_of = day

    def _on_day_view_painted(self) -> None:
        day, self._ahead_of = self._ahead_of, None
        if day is not None:  # after this frame is out: the worker must not hold it back
            days = self._days
            # Just after a change (an edit, its undo: they come in bursts) the reads ahead wait
            # a little, so as not to slow the next edit's write and repaint.
            wait = max(0, round((self._quiet_until - time.monotonic()) * 1000))
            QTimer.singleShot(wait, self, lambda: days.read_ahead((day + ONE_DAY, day - ONE_DAY)))

    def _on_day_not_read(self, err: ServiceError) -> None:
        self.show_message(f"The day could not be read: {err}", 20000)

    def set_day_source(
        self, load_day: Callable[[dt.date], DaySchedule], today: Callable[[], dt.date]
    ) -> None:
        """Read days with these from now on (the day shown stays as it is)."""
        self._load_day = load_day
        self._today = today
        self._days.set_loader(load_day)

    def _set_day_heading(self, day: dt.date) -> None:
        self._day = day
        self.date_edit.blockSignals(True)
        self.date_edit.setDate(QDate(day.year, day.month, day.day))
        self.date_edit.blockSignals(False)
        self.side_panel.set_day(day)
        self._heading.setText(self._heading_text(day))
        clinic = self._schedule.clinic_name if self._schedule is not None else APP_NAME
        self.setWindowTitle(f"{clinic} — {short_date(day, year=True)} — {APP_NAME}")

    def _heading_text(self, day: dt.date) -> str:
        """The day, or on the week view the week holding it (Monday to Sunday, as it shows);
        on a view of its own moment (the chair board), what that view shows instead."""
        page = self._pages.get(self._view)
        if page is not None and page.heading is not None:
            return page.heading
        if self._view == "week":
            monday = day - dt.timedelta(days=day.weekday())
            return us_date_range(monday, monday + dt.timedelta(days=6))
        return us_long_date(day)

    def _show_schedule(self, schedule: DaySchedule, *, keep_place: bool = False) -> None:
        self._schedule = schedule
        self._set_day_heading(schedule.day)
        if self._view == "rooms":  # the week view offers its own columns
            self._offer_filters(schedule)
        self.day_view.set_schedule(self._filter.apply(schedule), keep_place=keep_place)
        self._status_label.setText(self.summary())

    def _offer_filters(self, schedule: DaySchedule) -> None:
        """The day's rooms and session types in the left panel's filters."""
        self.side_panel.set_columns((c.id, c.name) for c in schedule.rooms)
        self.side_panel.set_session_types(
            {a.session_type_code: a.session_type_name for a in schedule.appointments}
        )

    def set_week_shown(self, week: WeekSchedule) -> None:
        """The week the week view shows now, for the status bar's account of it."""
        self._week = week
        if self._view == "week":
            self._status_label.setText(self.summary())

    def _week_summary(self, week: WeekSchedule) -> str:
        """The status bar's account of the week shown: its sessions, cancellations and the
        days the clinic is closed ("Sat, Sun", a holiday named)."""
        active = sum(d.active_count for d in week.days)
        parts = [f"{active} session{'s' if active != 1 else ''} this week"]
        cancelled = sum(d.count_by_status("cancelled") for d in week.days)
        no_show = sum(d.count_by_status("no_show") for d in week.days)
        if cancelled:
            parts.append(f"{cancelled} cancelled")
        if no_show:
            parts.append(f"{no_show} no-show{'s' if no_show != 1 else ''}")
        closed = []
        for d in week.days:
            if not d.closed_reason:
                continue
            weekly = d.closed_reason.lower() == f"clinic closed on {d.day:%A}s".lower()
            reason = d.closed_reason.removeprefix("Clinic closed: ").removeprefix("Clinic closed")
            closed.append(f"{d.day:%a}" if weekly or not reason else f"{d.day:%a} ({reason})")
        if closed:
            parts.append("closed " + ", ".join(closed))
        if not self.day_view.show_cancelled() and (cancelled or no_show):
            parts.append("cancelled sessions hidden")
        return " · ".join(parts)

    def summary(self) -> str:
        """The status bar's account of the view shown: of the day on a day view (sessions,
        cancellations, opening hours), of the week on the week view, and on any other view
        its own (``Page.summary``: chairs in use, follow-ups due), or nothing."""
        if self._view == "week":
            return self._week_summary(self._week) if self._week is not None else ""
        if self._view not in DAY_VIEWS:
            page = self._pages.get(self._view)
            own = page.summary if page is not None else None
            return own() if own is not None else ""
        s = self._schedule
        if s is None or s.day != self._day:  # the day asked for is still being read
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
            parts.append(f"open {clock_span(s.opens, s.closes, s.time_format)}")
        if not self.day_view.show_cancelled() and (cancelled or no_show):
            parts.append("cancelled sessions hidden")
        filtered = self._filter.describe(s) if self._view == "rooms" else ""
        if filtered:
            parts.append(filtered)
        return " · ".join(parts)

    def set_print_menu(self, menu: QMenu) -> None:
        """The documents the signed-in user can print, as a submenu of File."""
        old = getattr(self, "_print_menu_action", None)
        if isinstance(old, QAction):
            self._menus["File"].removeAction(old)
            gone = old.menu()
            if isinstance(gone, QMenu):  # the signed-out user's menu: it goes with them
                gone.deleteLater()
        file_menu = self._menus["File"]
        actions = file_menu.actions()
        if actions:
            self._print_menu_action = file_menu.insertMenu(actions[0], menu)
        else:
            self._print_menu_action = file_menu.addMenu(menu)

    def show_message(self, text: str, msecs: int = 8000) -> None:
        """A passing message in the status bar (a refusal, a saved change)."""
        bar = self.statusBar()
        bar.showMessage(text, msecs)

    def set_at_rest_notice(self, notice: str) -> None:
        """Say, for as long as the window is open, that the clinic file is not known to be on an
        encrypted disk: a warning sign and a few words, ``notice`` whole in the tooltip."""
        label = self._at_rest_label
        label.setText("⚠ Clinic file not encrypted" if notice else "")
        label.setToolTip(notice)
        label.setAccessibleName(notice)
        label.setVisible(bool(notice))

    def clear_message(self) -> None:
        self.statusBar().clearMessage()

    def set_banner(self, banner: QWidget) -> None:
        """Put ``banner`` (the lost-connection banner) above the central views, replacing the
        one set before; it shows and hides itself."""
        old = getattr(self, "_banner", None)
        if isinstance(old, QWidget) and old is not banner:
            old.hide()
            old.deleteLater()
        self._column.insertWidget(0, banner)
        self._banner = banner

    def banner(self) -> QWidget | None:
        return getattr(self, "_banner", None)

    # -- remembering the window ----------------------------------------------------------------

    def _restore_settings(self) -> None:
        s = self._settings
        if s is None:
            return
        geometry = s.value("window/geometry")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        state = s.value("window/state")
        if isinstance(state, QByteArray):
            self.restoreState(state)
            self._clamp_side_panel_pending = True
        show_cancelled = s.value("view/show_cancelled")
        if show_cancelled is not None:
            self.actions_by_name["show_cancelled"].setChecked(str(show_cancelled) == "true")

    def settings(self) -> QSettings | None:
        return self._settings

    def remembered_view(self) -> str:
        """The view the user last had open, to return to once signed in."""
        if self._settings is None:
            return "rooms"
        name = str(self._settings.value("view/last", "rooms"))
        return name if any(v.name == name for v in VIEWS) else "rooms"

    def _clamp_side_panel(self) -> None:
        """Give a remembered left panel back no more than its share of the window: a panel
        dragged wide in one run (or saved at another screen's size) would otherwise leave the
        schedule a sliver in every view."""
        dock = self._dock
        if dock.isFloating() or not dock.isVisible():
            return
        limit = int(self.width() * MAX_SIDE_PANEL_SHARE)
        if dock.width() > limit:
            wanted = min(limit, max(dock.minimumSizeHint().width(), dock.sizeHint().width()))
            self.resizeDocks([dock], [wanted], Qt.Orientation.Horizontal)

    @override
    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._clamp_side_panel_later()

    def _clamp_side_panel_later(self) -> None:
        """Clamp a restored left panel once it is on screen: at the first show, or when the
        sign-in uncovers it (start-up shows the window covered, the panel hidden)."""
        if self._clamp_side_panel_pending and self._dock.isVisible():
            # The docks are laid out at the restored size only after this event: clamp then.
            self._clamp_side_panel_pending = False
            QTimer.singleShot(0, self, self._clamp_side_panel)

    @override
    def closeEvent(self, event: QCloseEvent) -> None:
        s = self._settings
        if s is not None:
            s.setValue("window/geometry", self.saveGeometry())
            s.setValue("window/state", self.saveState())
            if self._desk is not None:
                # Only a signed-in window chose its view: one closed while the early day shows
                # (or signed out) shows the day by room whatever the user last had open.
                s.setValue("view/last", self._view)
            s.setValue(
                "view/show_cancelled",
                "true" if self.actions_by_name["show_cancelled"].isChecked() else "false",
            )
            s.sync()
        super().closeEvent(event)

    # -- slots ------------------------------------------------------------------------------

    def _step(self) -> dt.timedelta:
        return dt.timedelta(days=7 if self._view == "week" else 1)

    def _on_today_triggered(self) -> None:
        # What day it is at the clinic is the clinic's setting: read on a worker too.
        self._today_reads += 1
        run_service(
            self,
            self._today,
            self._on_today_known,
            busy="Reading the day…",
            settled=self._on_today_read,
        )

    def _on_today_known(self, today: dt.date) -> None:
        self._known_today = today
        self.set_day(today)

    def _recheck_today(self) -> None:
        """Read again what day it is at the clinic (on a worker): a change of its time zone
        can move "today", and a window on the old today goes with it at once."""
        if self._desk is not None:
            run_service(self, self._today, self._on_today_rechecked, busy="")

    def _on_today_rechecked(self, today: dt.date) -> None:
        before, self._known_today = self._known_today, today
        if before is not None and today != before and self._day == before:
            self.set_day(today)

    def _on_today_read(self) -> None:
        self._today_reads -= 1

    def _on_previous_day_triggered(self) -> None:
        self.set_day(self.day() - self._step())

    def _on_next_day_triggered(self) -> None:
        self.set_day(self.day() + self._step())

    def _on_page_refreshed(self) -> None:
        """A view read what it shows again: its account in the status bar follows (a view
        not shown is asked again when the user switches to it)."""
        self._status_label.setText(self.summary())

    def _on_show_cancelled_toggled(self, checked: bool) -> None:
        self.day_view.set_show_cancelled(checked)
        self._status_label.setText(self.summary())

    def _on_date_edit_date_changed(self, date: QDate) -> None:
        self.set_day(dt.date(date.year(), date.month(), date.day()))

    def _on_view_action_triggered(self, action: QAction) -> None:
        self.set_view(str(action.data()))

    def _on_view_combo_activated(self, index: int) -> None:
        self.set_view(str(self._view_combo.itemData(index)))

    def _on_filter_changed(self, schedule_filter: ScheduleFilter) -> None:
        self._filter = schedule_filter
        if self._schedule is not None:
            self._show_schedule(self._schedule, keep_place=True)
        if self._view == "week" and self._day is not None:
            self._show_day_on_page(self._day)  # the week shows the rooms ticked

    def _on_legend_triggered(self) -> None:
        from ketadesk.ui.shell.legend import show_legend

        show_legend(self, self._schedule)
