"""What the main window offers once the clinic is open and someone is signed in.

``MainWindow`` paints its first day knowing nothing of the clinic (start-up must be quick).
When ``attach_desk`` is called, this module builds the rest around it: the other views, undo
and redo, booking and finding patients, printing, the follow-up counts, the refresh when
another workstation changes the schedule, and the dialogs each of those opens.  It wires
widgets to services; it holds no clinic rule and no SQL.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtGui import QUndoStack
from PySide6.QtWidgets import QMessageBox, QWidget

from ketadesk.services.common.context import ServiceError
from ketadesk.ui.common.app import has_screen
from ketadesk.ui.common.desk import Desk

if TYPE_CHECKING:
    from ketadesk.ui.shell.main_window import MainWindow
    from ketadesk.ui.timeline.day_view import DayView
    from ketadesk.ui.timeline.week_view import WeekView

#: How often the follow-up counts in the left panel are read again, besides after each change.
COUNTS_INTERVAL_MS = 60_000


class DeskController(QObject):
    """The signed-in user's desk, wired into one main window."""

    def __init__(self, window: MainWindow, desk: Desk) -> None:
        super().__init__(window)
        self.window = window
        self.desk = desk
        self.undo_stack = QUndoStack(self)
        self.last_refusal = ""
        from ketadesk.ui.shell.change_watch import ChangeWatcher
        from ketadesk.ui.timeline.undo import ScheduleEditor

        self.editor = ScheduleEditor(desk, self.undo_stack, self)
        self.editor.changed.connect(self._on_changed)
        self.editor.changed.connect(self._on_own_change)
        self.editor.refused.connect(self._on_refused)
        self.watcher = ChangeWatcher(desk, parent=self)
        self.watcher.changed.connect(self._on_changed)
        from ketadesk.ui.shell.connection_banner import ConnectionBanner

        # Shown while the clinic server cannot be reached; "Retry now" asks the watcher.
        self.banner = ConnectionBanner(window)
        self.banner.follow(self.watcher)
        window.set_banner(self.banner)
        self.destroyed.connect(self.banner.hide)  # signed out: no watcher, no banner
        self._counts_timer = QTimer(self)
        self._counts_timer.setInterval(COUNTS_INTERVAL_MS)
        self._counts_timer.timeout.connect(self.refresh_counts)
        self._counts_timer.start()
        self._connections: list[tuple[object, object]] = []
        a = window.actions_by_name
        self._connect(a["undo"].triggered, self.undo_stack.undo)
        self._connect(a["redo"].triggered, self.undo_stack.redo)
        self._connect(self.undo_stack.canUndoChanged, a["undo"].setEnabled)
        self._connect(self.undo_stack.canRedoChanged, a["redo"].setEnabled)
        # Bound methods, not partials: Qt drops a connection to a QObject's method when the
        # object goes, whereas a stack being cleared as the window closes would still call a
        # partial, on actions already deleted.
        self._connect(self.undo_stack.undoTextChanged, self._on_undo_text)
        self._connect(self.undo_stack.redoTextChanged, self._on_redo_text)
        a["undo"].setEnabled(False)
        a["redo"].setEnabled(False)
        self._connect(a["new_booking"].triggered, self.new_booking)
        self._connect(a["find_patient"].triggered, self.find_patient)
        self._connect(a["print"].triggered, self._on_print_triggered)
        self._connect(a["print_preview"].triggered, self._on_print_preview_triggered)
        self._connect(a["print_calls"].triggered, self.print_calls)
        self._connect(a["audit_trail"].triggered, self.open_audit)
        self._connect(window.side_panel.follow_ups_requested, self._on_follow_ups_requested)
        from ketadesk.ui.printing.print_dialogs import DocumentMenu, DocumentPrinter

        self.printer = DocumentPrinter(desk, window)
        self._connect(self.printer.busy, self._on_printer_busy)
        self.print_menu = DocumentMenu(self.printer, window.day, window)
        for action in self.print_menu.actions_by_name.values():
            action.setShortcut("")  # Ctrl+P is the window's Print action
        window.set_print_menu(self.print_menu)
        self.wire_day_view(window.day_view)
        self.refresh_counts()

    # -- connections that end with this controller ------------------------------------------

    def _connect(self, signal: object, slot: object) -> None:
        signal.connect(slot)  # type: ignore[attr-defined]
        self._connections.append((signal, slot))

    def dispose(self) -> None:
        for signal, slot in self._connections:
            with contextlib.suppress(RuntimeError, TypeError):  # already gone with its sender
                signal.disconnect(slot)  # type: ignore[attr-defined]
        self._connections.clear()
        self._counts_timer.stop()
        self.watcher.stop()
        self.deleteLater()

    def wire_day_view(self, view: DayView | WeekView) -> None:
        """Drag, context menu and double-click of a DayView (by room or by staff) or of the
        WeekView: the same signals, made by the same undoable editor."""
        view.set_desk(self.desk)
        self._connect(view.move_requested, self.editor.move)
        self._connect(view.status_requested, self.editor.set_status)
        self._connect(view.appointment_activated, self.open_appointment)
        self._connect(view.series_move_requested, self.move_series)
        self._connect(view.move_refused, self._on_move_refused)
        self._connect(view.feedback, self._on_feedback)

    def _on_move_refused(self, reason: str) -> None:
        self.window.show_message(reason, 12000)

    def _on_feedback(self, text: str) -> None:
        if text:
            self.window.show_message(text, 0)
        else:
            self.window.statusBar().clearMessage()

    # -- after changes ----------------------------------------------------------------------

    def _on_changed(self) -> None:
        """A change made here or at another workstation: read what is shown again."""
        self.window.refresh()
        self.refresh_counts()

    def _on_own_change(self) -> None:
        self.watcher.acknowledge()  # our own write is not news from another workstation

    def _on_refused(self, message: str) -> None:
        """A refused edit: said in the status bar and, where there is a screen, in a box the
        user closes (not modal: the schedule stays usable behind it)."""
        self.last_refusal = message
        self.window.show_message(message, 12000)
        if has_screen():
            box = QMessageBox(QMessageBox.Icon.Warning, "Not done", message, parent=self.window)
            box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            box.open()

    def _on_printer_busy(self, busy: bool) -> None:
        if busy:
            self.window.show_message("Preparing the document…", 0)
        else:
            self.window.statusBar().clearMessage()

    def _on_undo_text(self, text: str) -> None:
        self.window.actions_by_name["undo"].setText(f"Undo {text}" if text else "Undo")

    def _on_redo_text(self, text: str) -> None:
        self.window.actions_by_name["redo"].setText(f"Redo {text}" if text else "Redo")

    def refresh_counts(self) -> None:
        from ketadesk.services.followups.queue import queue_counts

        try:
            counts = queue_counts(self.desk.db, now=self.desk.now())
        except ServiceError:
            counts = None
        self.window.side_panel.set_counts(counts)

    def _on_follow_ups_requested(self, _which: str) -> None:
        self.window.set_view("follow_ups")

    # -- dialogs ----------------------------------------------------------------------------

    def open_appointment(self, appointment_id: int) -> None:
        from ketadesk.ui.booking.appointment_dialog import AppointmentDialog

        try:
            dialog = AppointmentDialog(self.desk, appointment_id, self.window)
        except ServiceError as err:
            self.window.show_message(str(err))
            return

        def set_status(aid: int, action: str, reason: str) -> None:
            if self.editor.set_status(aid, action, reason):
                dialog.reload()

        dialog.status_requested.connect(set_status)
        dialog.monitoring_requested.connect(self.open_monitoring)
        dialog.measure_requested.connect(self.open_measure)
        dialog.patient_requested.connect(self.open_patient)
        dialog.print_record_requested.connect(self.print_record)
        dialog.show()

    def open_monitoring(self, appointment_id: int) -> None:
        from ketadesk.ui.monitoring.monitoring_dialog import MonitoringDialog

        dialog = MonitoringDialog(self.desk, appointment_id, self.window)
        dialog.finished.connect(lambda _r: self._on_changed())
        dialog.open()

    def open_measure(self, patient_id: int, instrument: str, appointment_id: int) -> None:
        from ketadesk.ui.monitoring.measure_dialog import MeasureDialog

        dialog = MeasureDialog(
            self.desk, patient_id, instrument, appointment_id=appointment_id, parent=self.window
        )
        dialog.finished.connect(lambda _r: self.refresh_counts())
        dialog.open()

    def open_patient(self, patient_id: int) -> None:
        from ketadesk.ui.patients.patient_record import PatientRecordView

        view = PatientRecordView(self.desk, patient_id, None)
        view.setWindowTitle("Patient record")
        view.book_requested.connect(self.new_booking_for)
        view.appointment_activated.connect(self.open_appointment)
        view.resize(900, 700)
        view.show()
        self._patient_windows = [*getattr(self, "_patient_windows", []), view]

    def new_booking(self) -> None:
        self.new_booking_for(None)

    def new_booking_for(self, patient_id: int | None) -> None:
        from ketadesk.ui.booking.booking_dialog import BookingDialog

        dialog = BookingDialog(self.desk, patient_id, self.window)
        dialog.booked.connect(self._on_booked)
        dialog.open()

    def _on_booked(self, _ids: object, first_day: dt.date) -> None:
        self.window.set_day(first_day)
        self._on_changed()

    def find_patient(self) -> None:
        from ketadesk.ui.patients.patient_search import FindPatientDialog

        dialog = FindPatientDialog(self.desk, self.window)
        dialog.patient_chosen.connect(self.open_patient)
        dialog.open()

    def move_series(self, appointment_id: int) -> None:
        from ketadesk.ui.booking.series_move_dialog import SeriesMoveDialog

        dialog = SeriesMoveDialog(self.desk, appointment_id, self.window)

        def apply() -> None:
            proposal = dialog.proposal()
            if proposal is not None:
                self.editor.apply_series_move(
                    proposal, reason=dialog.reason(), spacing_reason=dialog.reason()
                )

        dialog.accepted.connect(apply)
        dialog.open()

    def open_audit(self) -> None:
        from ketadesk.ui.access.audit_viewer import AuditViewer

        viewer = AuditViewer(self.desk, None)
        viewer.resize(1000, 600)
        viewer.show()
        self._audit_window = viewer

    # -- printing ---------------------------------------------------------------------------

    def _day_sheet_by(self) -> str:
        from ketadesk.services.printing.day_sheet import BY_ROOM, BY_STAFF

        return BY_STAFF if self.window.view() in ("staff", "my_day") else BY_ROOM

    def _on_print_triggered(self) -> None:
        self.print_day(False)

    def _on_print_preview_triggered(self) -> None:
        self.print_day(True)

    def print_day(self, preview: bool) -> None:
        from ketadesk.ui.printing.print_dialogs import PREVIEW, PRINT

        mode = PREVIEW if preview else PRINT
        self.printer.day_sheet(self.window.day(), by=self._day_sheet_by(), mode=mode)

    def print_calls(self) -> None:
        self.printer.call_list(self.window.day())

    def print_record(self, appointment_id: int) -> None:
        self.printer.session_record(appointment_id)


def attach(window: MainWindow, desk: Desk) -> None:
    old = getattr(window, "controller", None)
    if isinstance(old, DeskController):
        old.dispose()
    window.controller = desk_controller = DeskController(window, desk)  # type: ignore[attr-defined]
    del desk_controller


def detach(window: MainWindow) -> None:
    """Nobody is signed in any more: stop what the desk was running (watcher, timers)."""
    old = getattr(window, "controller", None)
    if isinstance(old, DeskController):
        old.dispose()
    window.controller = None  # type: ignore[attr-defined]


def controller(window: MainWindow) -> DeskController:
    found = getattr(window, "controller", None)
    assert isinstance(found, DeskController), "no clinic attached to the window"
    return found


def build(name: str, window: MainWindow, desk: Desk) -> QWidget:
    """The widget of view ``name`` (a ViewSpec name other than "rooms")."""
    ctl = controller(window)
    if name == "staff":
        from ketadesk.ui.timeline.day_view import DayView

        view = DayView(window, now=desk.now)
        view.setAccessibleName("Day by staff")
        ctl.wire_day_view(view)
        return view
    if name == "week":
        from ketadesk.ui.timeline.week_view import WeekView

        week = WeekView(window, now=desk.now)
        week.set_show_cancelled(window.actions_by_name["show_cancelled"].isChecked())
        window.actions_by_name["show_cancelled"].toggled.connect(week.set_show_cancelled)
        week.setAccessibleName("Week")

        def open_day(day: dt.date) -> None:
            window.set_view("rooms")
            window.set_day(day)

        week.day_activated.connect(open_day)
        ctl.wire_day_view(week)
        return week
    if name == "chairs":
        from ketadesk.ui.monitoring.chair_board import ChairBoardView

        board = ChairBoardView(desk, window)
        board.appointment_activated.connect(ctl.open_appointment)
        return board
    if name == "follow_ups":
        from ketadesk.ui.followups.follow_up_queue import FollowUpQueueView

        queue = FollowUpQueueView(desk, window)
        queue.patient_requested.connect(ctl.open_patient)
        queue.appointment_requested.connect(ctl.open_appointment)
        # The queue read the counts with the queue itself: no second query for the panel.
        queue.counts_changed.connect(window.side_panel.set_counts)
        return queue
    if name == "recall":
        from ketadesk.ui.followups.recall_lists import RecallListsView

        recall = RecallListsView(desk, window)
        recall.book_requested.connect(ctl.new_booking_for)
        return recall
    if name == "my_day":
        from ketadesk.ui.monitoring.my_day import MyDayView

        mine = MyDayView(desk, window)
        mine.appointment_activated.connect(ctl.open_appointment)
        return mine
    raise ValueError(f"no view called {name!r}")


def show_day(window: MainWindow, name: str, page: QWidget, day: dt.date) -> None:
    """Point view ``name`` at ``day`` (the week view shows the week around it)."""
    desk = controller(window).desk
    if name == "staff":
        from ketadesk.services.schedule.day import day_schedule

        page.set_schedule(  # type: ignore[attr-defined]
            day_schedule(desk.db, day, by="staff"), keep_place=True
        )
    elif name == "week":
        from ketadesk.services.schedule.week import week_schedule

        monday = day - dt.timedelta(days=day.weekday())
        # The rooms ticked in the left panel (all of them when none is unticked).
        rooms = window.side_panel.current_filter().column_ids
        page.set_week(week_schedule(desk.db, monday, room_ids=rooms))  # type: ignore[attr-defined]
    elif hasattr(page, "set_day"):
        page.set_day(day)
    elif hasattr(page, "refresh"):
        page.refresh()
