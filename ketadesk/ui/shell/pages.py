"""What the main window offers once the clinic is open and someone is signed in.

``MainWindow`` paints its first day knowing nothing of the clinic (start-up must be quick).
When ``attach_desk`` is called, it makes a ``DeskController``, which builds the rest around it:
the other views (registered into the window's ``PageRegistry``), undo and redo, booking and
finding patients, printing, the follow-up counts, the refresh when another workstation changes
the schedule, and the dialogs each of those opens.  It sees the window only as a ``DeskWindow``
and wires widgets to services off the GUI thread (``run_service``); it holds no clinic rule and
no SQL.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import shiboken6
from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QUndoStack
from PySide6.QtWidgets import QMessageBox, QWidget

from ketadesk.services.common.context import ServiceError
from ketadesk.ui.common.app import has_screen
from ketadesk.ui.common.background import LatestOnly, call_after_first_paint, run_service
from ketadesk.ui.common.desk import Desk
from ketadesk.ui.common.placement import place_over
from ketadesk.ui.shell.page_registry import DeskWindow, Page
from ketadesk.ui.timeline.read_ahead import ReadAhead

if TYPE_CHECKING:
    from PySide6.QtWidgets import QWidget

    from ketadesk.services.schedule.month import ClosedMonth
    from ketadesk.services.schedule.week import WeekSchedule
    from ketadesk.ui.access.audit_viewer import AuditViewer
    from ketadesk.ui.booking.appointment_dialog import AppointmentDialog
    from ketadesk.ui.booking.booking_dialog import BookingDialog
    from ketadesk.ui.booking.move_dialog import MoveSessionDialog
    from ketadesk.ui.booking.series_move_dialog import SeriesMoveDialog
    from ketadesk.ui.followups.follow_up_queue import FollowUpQueueView
    from ketadesk.ui.monitoring.measure_dialog import MeasureDialog
    from ketadesk.ui.monitoring.monitoring_dialog import MonitoringDialog
    from ketadesk.ui.patients.patient_record import PatientRecordView
    from ketadesk.ui.settings.settings_dialog import SettingsDialog
    from ketadesk.ui.settings.setup_assistant import SetupAssistant
    from ketadesk.ui.timeline.day_view import DayView
    from ketadesk.ui.timeline.week_view import WeekView

#: How often the follow-up counts in the left panel are read again, besides after each change.
COUNTS_INTERVAL_MS = 60_000
#: How long a view's word once a drag is over ("Move cancelled") stays in the status bar.
PASSING_FEEDBACK_MS = 5_000
#: A move shown at once is written once a view painted it, or after this long if none does.
WRITE_AFTER_PAINT_MS = 50


class DeskController(QObject):
    """The signed-in user's desk, wired into one main window.

    Signals:
        appointment_opened(AppointmentDialog): an appointment's dialog was read and shown.
        session_move_opened(MoveSessionDialog): a session's Move… dialog was read and shown.
        series_end_opened(SeriesEndDialog): a series' End series… dialog was read and shown.
        protocol_change_started(ProtocolChangeFlow): a series' Change protocol… began (its
            dialog is on the way).
    """

    appointment_opened = Signal(object)
    session_move_opened = Signal(object)
    series_end_opened = Signal(object)
    protocol_change_started = Signal(object)

    def __init__(self, window: DeskWindow, desk: Desk) -> None:
        super().__init__(window.widget())
        self.window = window
        self.parent_widget = window.widget()
        self.desk = desk
        self.undo_stack = QUndoStack(self)
        self.last_refusal = ""
        self.follow_up_queue: FollowUpQueueView | None = None  # once the view is built
        from ketadesk.ui.shell.change_watch import ChangeWatcher
        from ketadesk.ui.timeline.undo import ScheduleEditor

        self.editor = ScheduleEditor(desk, self.undo_stack, self, host=self.parent_widget)
        self.editor.changed.connect(self._on_changed)
        self.editor.changed.connect(self._on_own_change)
        # A change made here (a session moved from a record's session page) shows on the open
        # records at once: a trial's record listed the old day and "next" until reopened.
        self.editor.changed.connect(self.reload_patient_windows)
        self.editor.refused.connect(self._on_refused)
        self.editor.warned.connect(self._on_warned)
        self.editor.noted.connect(lambda message: self.window.show_message(message, 12000))
        self.editor.done.connect(self._on_done)
        self.editor.freed.connect(self._on_place_freed)
        # A move being written shows at once in the views; put back if refused.
        self.editor.moving.connect(self._on_moving)
        self.editor.move_refused.connect(self._on_move_not_written)
        self.editor.write_after_paint = self._after_move_painted
        #: The waitlist's offer of the place last freed here (ui/waitlist/offer_panel.py).
        self.offer_panel: QWidget | None = None
        self.watcher = ChangeWatcher(desk, parent=self)
        # Moves made elsewhere after this are said when they arrive, with why (_tell_moves).
        self._moves_seen_until = desk.now()
        self._asking_moves = False
        self.last_moves_notice = ""
        self.watcher.changed.connect(self._on_changed)
        self.watcher.counting.connect(self._on_counting)
        from ketadesk.ui.shell.connection_banner import ConnectionBanner

        # Shown while the clinic server cannot be reached; "Retry now" asks the watcher.
        self.banner = ConnectionBanner(self.parent_widget)
        self.banner.follow(self.watcher)
        window.set_banner(self.banner)
        self.destroyed.connect(self.banner.hide)  # signed out: no watcher, no banner
        self._counts = LatestOnly(self.parent_widget, busy="")
        self._counts_timer = QTimer(self)
        self._counts_timer.setInterval(COUNTS_INTERVAL_MS)
        self._counts_timer.timeout.connect(self.refresh_counts)
        self._counts_timer.start()
        self._connections: list[tuple[object, object]] = []
        # The month calendar marks the days the clinic is closed, read for the page shown.
        self._closed_days = LatestOnly(self.parent_widget, busy="")
        #: The closed days last marked: read again only once a closure or the holidays may
        #: have changed (``month.closed_month``), not at every booking.
        self._closed_month: ClosedMonth | None = None
        calendar = window.side_panel.calendar
        self._connect(calendar.currentPageChanged, self._on_month_page_changed)
        call_after_first_paint(self.parent_widget, self.read_closed_days)
        #: The views whose blocks are dragged (their feedback is live while a drag is).
        self._drag_views: list[DayView | WeekView] = []
        #: The pages' reads ahead, forgotten at every change (``_on_changed``).
        self._read_ahead: list[ReadAhead[Any, Any]] = []
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
        # A new user's stack is empty: nothing of the one before is offered to take back.
        for name in ("undo", "redo"):
            a[name].setEnabled(False)
            a[name].setText(name.capitalize())
        self._connect(a["new_booking"].triggered, self.new_booking)
        self._connect(a["find_patient"].triggered, self.find_patient)
        self._connect(a["import_patients"].triggered, self.import_patients)
        self._connect(a["print"].triggered, self._on_print_triggered)
        self._connect(a["print_preview"].triggered, self._on_print_preview_triggered)
        self._connect(a["audit_trail"].triggered, self.open_audit)
        self._connect(a["fees"].triggered, self.open_fees)
        #: The Fees list (ui/rebooking/fees_view.py), one per desk.
        self.fees_window: QWidget | None = None
        #: The rebooking offer after the series session last cancelled or missed here.
        self.rebook_panel: QWidget | None = None
        self._connect(a["settings"].triggered, self.open_settings)
        self.settings_window: SettingsDialog | None = None
        self.setup_assistant: SetupAssistant | None = None
        #: Top-level windows opened for this user (patient records, the audit trail): they
        #: act with this user's rights, so they close when the user signs out or switches.
        self.patient_windows: list[PatientRecordView] = []
        self.audit_window: AuditViewer | None = None
        self._connect(window.side_panel.follow_ups_requested, self._on_follow_ups_requested)
        from ketadesk.ui.printing.print_dialogs import DocumentMenu, DocumentPrinter

        self.printer = DocumentPrinter(desk, self.parent_widget)
        self._connect(self.printer.busy, self._on_printer_busy)
        self._connect(self.printer.finished, self._on_done)  # "Printed …", "Saved day-….pdf"
        self.print_menu = DocumentMenu(
            self.printer,
            window.day,
            self.parent_widget,
            selected=self.selected_appointment,
            choose_patient=self._choose_patient,
            tell=window.show_message,
            actor=desk.actor,
        )
        for action in self.print_menu.actions_by_name.values():
            action.setShortcut("")  # Ctrl+P is the window's Print action
        window.set_print_menu(self.print_menu)
        self.wire_day_view(window.day_view)
        self._register_pages()
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
        own: list[QWidget | None] = [
            self.settings_window,
            self.setup_assistant,
            self.audit_window,
            self.fees_window,
            self.rebook_panel,
            *self.patient_windows,
        ]
        for window in own:
            if window is not None:  # they act for the user signing out
                with contextlib.suppress(RuntimeError):  # already closed and deleted
                    window.close()
                    window.deleteLater()
        self.patient_windows.clear()
        self.audit_window = None
        self.settings_window = None
        self.setup_assistant = None
        self.fees_window = self.rebook_panel = None
        if self.offer_panel is not None:  # it books for the user signing out
            with contextlib.suppress(RuntimeError):  # already closed and deleted
                self.offer_panel.close()
        self.window.pages.clear()
        self.deleteLater()

    # -- the views ----------------------------------------------------------------------------

    def _register_pages(self) -> None:
        pages = self.window.pages
        for name in (
            "staff",
            "week",
            "chairs",
            "follow_ups",
            "recall",
            "my_day",
            "waitlist",
            "confirmations",
        ):
            pages.register(name, getattr(self, f"_build_{name}"))

    def _build_staff(self) -> Page:
        from ketadesk.services.schedule.day import day_schedule
        from ketadesk.ui.timeline.day_view import DayView

        view = DayView(self.parent_widget, now=self.desk.now)
        view.setAccessibleName("Day by staff")
        self.wire_day_view(view)
        reads = LatestOnly(view, busy="Reading the day…")
        db = self.desk.db

        def show_day(day: dt.date) -> None:
            reads.run(
                lambda: day_schedule(db, day, by="staff"),
                lambda schedule: view.set_schedule(schedule, keep_place=True),
            )

        return Page(view, show_day)

    def _build_week(self) -> Page:
        from ketadesk.services.schedule.week import week_schedule
        from ketadesk.ui.timeline.week_view import WeekView

        window = self.window
        week = WeekView(self.parent_widget, now=self.desk.now)
        week.set_show_cancelled(window.actions_by_name["show_cancelled"].isChecked())
        window.actions_by_name["show_cancelled"].toggled.connect(week.set_show_cancelled)
        week.setAccessibleName("Week")
        week.day_activated.connect(self._on_week_day_activated)
        self.wire_day_view(week)
        reads = LatestOnly(week, busy="Reading the week…")
        db = self.desk.db

        def load(key: tuple[dt.date, frozenset[int | None] | None]) -> WeekSchedule:
            return week_schedule(db, key[0], room_ids=key[1])

        def landed(key: tuple[dt.date, frozenset[int | None] | None], held: WeekSchedule) -> None:
            if shiboken6.isValid(week) and key[1] == window.side_panel.current_filter().column_ids:
                week.prepare(held)  # laid out and painted now, while the user looks

        # The weeks either side of the one shown, read ahead and painted ahead: "next week"
        # then only puts up a picture.
        ahead: ReadAhead[tuple[dt.date, frozenset[int | None] | None], WeekSchedule] = ReadAhead(
            load, keep=6, landed=landed
        )
        self._read_ahead.append(ahead)
        wanted: list[tuple[dt.date, frozenset[int | None] | None] | None] = [None]

        def read_around(around: list[tuple[dt.date, frozenset[int | None] | None]]) -> None:
            # Once the week shown has painted: the worker must not slow that frame down.
            call_after_first_paint(week.canvas(), lambda: ahead.read_ahead(around))

        def put_up(schedule: WeekSchedule) -> None:
            """Show a week narrowed to the session types ticked (it was read for the rooms
            ticked), and offer its columns and session types in the left panel."""
            panel = window.side_panel
            panel.set_columns((c.id, c.name) for c in schedule.columns)
            panel.set_session_types(dict(schedule.session_types))
            chosen = panel.current_filter()
            shown = chosen.apply_week(schedule)
            week.set_week(shown)
            window.set_week_shown(shown)
            if chosen.column_ids != schedule.room_ids:
                # A column new to the list (this week's telehealth) is ticked: read it too.
                show_day(schedule.first_day)

        def show_day(day: dt.date) -> None:
            monday = day - dt.timedelta(days=day.weekday())
            # The rooms ticked in the left panel (all of them when none is unticked).
            rooms = window.side_panel.current_filter().column_ids
            key = (monday, rooms)
            # The weeks either side, and the one after next in the direction the user goes
            # (a worker slower than their key presses then still has the next week ready).
            before = wanted[0][0] if wanted[0] is not None else monday
            steps = (7, -7, 14) if monday > before else (-7, 7, -14) if monday < before else (7, -7)
            around = [(monday + dt.timedelta(days=d), rooms) for d in steps]
            wanted[0] = key
            held = ahead.get(key)
            if held is not None:
                put_up(held)
                read_around(around)
                return
            generation = ahead.generation()

            def shown(schedule: WeekSchedule) -> None:
                ahead.put(key, schedule, generation)
                if wanted[0] != key:  # the user went on to a week read ahead meanwhile
                    return
                put_up(schedule)
                read_around(around)

            def read() -> None:
                reads.run(lambda: load(key), shown)

            if ahead.is_reading(key):  # being read ahead: wait for it rather than read twice

                def landed_now(schedule: WeekSchedule | None) -> None:
                    if wanted[0] != key:
                        return
                    if schedule is None:  # it failed, or the clinic changed: read it now
                        read()
                    else:
                        put_up(schedule)
                        read_around(around)

                ahead.when_read(key, landed_now)
                return
            read()

        return Page(week, show_day)

    def _on_week_day_activated(self, day: dt.date) -> None:
        self.window.set_view("rooms")
        self.window.set_day(day)

    def _build_chairs(self) -> Page:
        from ketadesk.ui.monitoring.chair_board import ChairBoardView

        board = ChairBoardView(self.desk, self.parent_widget)
        board.appointment_activated.connect(self.open_appointment)
        return Page(
            board,
            lambda _day: board.refresh(),
            board.status_summary,
            board.refreshed,
            heading="The chairs now",
        )

    def _build_follow_ups(self) -> Page:
        from ketadesk.ui.followups.follow_up_queue import FollowUpQueueView

        queue = FollowUpQueueView(self.desk, self.parent_widget)
        self.follow_up_queue = queue
        queue.patient_requested.connect(self.open_patient)
        queue.appointment_requested.connect(self.open_appointment)
        queue.measure_requested.connect(self.open_measure)
        # The queue read the counts with the queue itself: no second query for the panel.
        queue.counts_changed.connect(self.window.side_panel.set_counts)
        queue.noted.connect(self._on_done)
        return Page(
            queue,
            lambda _day: queue.refresh(),
            queue.status_summary,
            queue.refreshed,
            heading="Follow-ups, as of now",
        )

    def _build_recall(self) -> Page:
        from ketadesk.ui.followups.recall_lists import RecallListsView

        recall = RecallListsView(self.desk, self.parent_widget)
        recall.book_requested.connect(self.new_booking_for)
        recall.make_up_requested.connect(self._offer_rebooking)
        return Page(
            recall,
            lambda _day: recall.refresh(),
            recall.status_summary,
            recall.refreshed,
            heading="Recall and dropouts, as of now",
        )

    def _build_my_day(self) -> Page:
        from ketadesk.ui.monitoring.my_day import MyDayView

        mine = MyDayView(self.desk, self.parent_widget)
        mine.appointment_activated.connect(self.open_appointment)
        return Page(mine, mine.set_day, mine.status_summary, mine.refreshed)

    def _build_waitlist(self) -> Page:
        from ketadesk.ui.waitlist.waitlist_view import WaitlistView

        waitlist = WaitlistView(self.desk, self.parent_widget)
        waitlist.patient_requested.connect(self.open_patient)
        waitlist.changed.connect(self._on_own_change)
        return Page(
            waitlist,
            lambda _day: waitlist.refresh(),
            waitlist.status_summary,
            waitlist.refreshed,
            heading="The waitlist, as of now",
        )

    def _build_confirmations(self) -> Page:
        from ketadesk.ui.confirmations.confirmations_view import ConfirmationsView

        confirmations = ConfirmationsView(self.desk, self.parent_widget)
        confirmations.patient_requested.connect(self.open_patient)
        confirmations.changed.connect(self._on_own_change)
        confirmations.visit_cancelled.connect(self._on_place_freed)
        confirmations.move_requested.connect(self._on_confirmations_move_requested)
        return Page(
            confirmations,
            lambda _day: confirmations.refresh(),
            confirmations.status_summary,
            confirmations.refreshed,
            heading="Visits to confirm, from now",
        )

    def _on_confirmations_move_requested(self, appointment_id: int) -> None:
        """Move… on the confirmation list: the day view's own Move dialog, with the patient
        on the phone ("The patient knows" ticked); once moved, the list records the call
        rescheduled and shows the visit at its new time."""
        from ketadesk.ui.confirmations.confirmations_view import ConfirmationsView

        view = self.sender()
        if not isinstance(view, ConfirmationsView):
            return
        self.move_session(appointment_id, told=True, after=lambda: view.rescheduled(appointment_id))

    def _on_place_freed(self, appointment_id: int) -> None:
        """A session was cancelled, marked a no-show or moved here: offer its place to the
        waitlist (a panel shows only when someone could take it)."""
        from ketadesk.services.common.context import may
        from ketadesk.ui.waitlist.offer_panel import OfferPanel

        self._offer_rebooking(appointment_id)
        if not may(self.desk.actor, "manage_waitlist"):
            return
        OfferPanel.offer_after(
            self.desk,
            appointment_id,
            self.parent_widget,
            self._on_offer_shown,
            told=self.window.show_message,
        )

    def _offer_rebooking(self, appointment_id: int) -> None:
        """A session was cancelled or missed here: when it belongs to a series, ask what
        becomes of it (a make-up, the waitlist, or one short; ui/rebooking/rebook_panel.py)."""
        from ketadesk.ui.rebooking.rebook_panel import RebookPanel

        RebookPanel.offer_after(
            self.desk, appointment_id, self.parent_widget, self._on_rebook_shown
        )

    def _on_rebook_shown(self, panel: QWidget) -> None:
        from ketadesk.ui.rebooking.rebook_panel import RebookPanel

        assert isinstance(panel, RebookPanel)
        if self.rebook_panel is not None:
            with contextlib.suppress(RuntimeError):  # already closed and deleted
                self.rebook_panel.close()
        self.rebook_panel = panel
        panel.decided.connect(self._on_rebooked)
        panel.made_up.connect(self._on_made_up)

    def _on_made_up(self, offer: object, made: object) -> None:
        """A make-up was booked from the offer: one step on the undo stack."""
        from ketadesk.services.rebooking.makeup import MadeUp, RebookingOffer
        from ketadesk.ui.rebooking.make_up_command import MakeUpCommand

        assert isinstance(offer, RebookingOffer)
        assert isinstance(made, MadeUp)
        text = f"Make-up for {offer.patient_name}"
        self.undo_stack.push(MakeUpCommand(self.editor, offer, made, text))  # first redo skipped

    def _on_rebooked(self, text: str) -> None:
        self.window.show_message(text, 0)
        self._on_own_change()
        self._on_changed()

    def open_fees(self) -> None:
        """The Fees list (one per desk; shown again when already open)."""
        from ketadesk.ui.rebooking.fees_view import FeesView

        if self.fees_window is None:
            fees = FeesView(self.desk, None, day=self.window.day())
            fees.changed.connect(self._on_own_change)
            place_over(fees, self.parent_widget)
            self.fees_window = fees
        assert isinstance(self.fees_window, FeesView)
        self.fees_window.show()
        self.fees_window.refresh()

    def _on_offer_shown(self, panel: QWidget) -> None:
        from ketadesk.ui.waitlist.offer_panel import OfferPanel

        assert isinstance(panel, OfferPanel)
        if self.offer_panel is not None:
            with contextlib.suppress(RuntimeError):  # already closed and deleted
                self.offer_panel.close()
        self.offer_panel = panel
        panel.booked.connect(self._on_offer_booked)

    def _on_offer_booked(self, booked: object) -> None:
        from ketadesk.services.waitlist.offers import BookedOffer

        assert isinstance(booked, BookedOffer)
        self.window.show_message(booked.call_text, 0)
        self._on_own_change()
        self._on_changed()

    def wire_day_view(self, view: DayView | WeekView) -> None:
        """Drag, context menu and double-click of a DayView (by room or by staff) or of the
        WeekView: the same signals, made by the same undoable editor."""
        view.set_desk(self.desk)
        self._drag_views.append(view)
        self._connect(view.move_requested, self.editor.drop)
        self._connect(view.override_move_requested, self.editor.move)
        self._connect(view.status_requested, self.editor.status_from_view)
        self._connect(view.appointment_activated, self.open_appointment)
        self._connect(view.series_move_requested, self.move_series)
        self._connect(view.session_move_requested, self.move_session)
        self._connect(view.move_refused, self._on_move_refused)
        self._connect(view.feedback, self._on_feedback)

    def _on_moving(self, appointment_id: int, start: object, room_id: object) -> None:
        assert isinstance(start, dt.datetime)
        assert room_id is None or isinstance(room_id, int)
        for view in self._drag_views:
            if shiboken6.isValid(view):
                view.show_moved(appointment_id, start, room_id)

    def _after_move_painted(self, start: Callable[[], None]) -> None:
        """Start a move's write once a view showing it has painted it (then the writer does
        not slow that frame down), or after ``WRITE_AFTER_PAINT_MS`` if none paints."""
        started = [False]

        def once() -> None:
            if not started[0]:
                started[0] = True
                start()

        for view in self._drag_views:
            if shiboken6.isValid(view) and view.isVisible():
                call_after_first_paint(view.canvas(), once)
        QTimer.singleShot(WRITE_AFTER_PAINT_MS, self, once)

    def _on_move_not_written(self, _appointment_id: int) -> None:
        for view in self._drag_views:
            if shiboken6.isValid(view):
                view.put_back()

    def _on_move_refused(self, reason: str) -> None:
        self.window.show_message(reason, 12000)

    def _on_feedback(self, text: str) -> None:
        # The live verdict of a drag stays while the drag does; a word once it is over
        # ("Move cancelled") passes, or it would still be there after later actions.
        sender = self.sender()
        view = next((v for v in self._drag_views if v is sender), None)
        dragging = view is not None and view.is_dragging()
        if text:
            self.window.show_message(text, 0 if dragging else PASSING_FEEDBACK_MS)
        else:
            self.window.clear_message()

    # -- after changes ----------------------------------------------------------------------

    def _on_counting(self, value: object) -> None:
        """The watcher counts changes from ``value`` on.  The day on screen may have been read
        at an older value (from the file, before anyone signed in, while the sign-in waited):
        then it is read again, or a session booked at another workstation in between would
        stay missing until the next change anywhere."""
        shown = self.window.schedule()
        if shown is None or shown.counter is None or shown.counter != value:
            self._on_changed()

    def _on_changed(self) -> None:
        """A change made here or at another workstation: read what is shown again (and
        forget what was read ahead)."""
        for ahead in self._read_ahead:
            ahead.clear()
        self.window.refresh()
        self.refresh_counts()
        self.read_closed_days()
        if self.settings_window is not None:
            self.settings_window.refresh_pages()
        self._tell_moves()

    def read_closed_days(self) -> None:
        """Read the closed days of the month the calendar shows, on a worker: after a change
        (here or at another workstation) only one small row, unless the closures or the
        holidays the clinic closes on changed."""
        first, last = self.window.side_panel.shown_month()
        db = self.desk.db
        known = self._closed_month

        def work() -> ClosedMonth:
            from ketadesk.services.schedule.month import closed_month

            return closed_month(db, first, last, known)

        # Unread, the calendar is simply unmarked: no error box over the schedule for it.
        self._closed_days.run(work, self._on_closed_month_read, failed=lambda _err: None)

    def _on_closed_month_read(self, month: ClosedMonth) -> None:
        if month is self._closed_month:
            return  # nothing it is read from has changed: the marks stand
        self._closed_month = month
        self.window.side_panel.set_closed_days(month.days)

    def _on_month_page_changed(self, _year: int, _month: int) -> None:
        self.read_closed_days()

    def _tell_moves(self) -> None:
        """Say in the status bar which sessions another workstation moved, from where to where
        and why ("Santos, Jerry moved from … to …: Monitor 2 out of service"), as the day
        they were on changes under the user (trial 3, A12)."""
        if self._asking_moves:
            return
        from ketadesk.services.booking.appointments import MoveNotice, moves_since

        desk, since, asked_at = self.desk, self._moves_seen_until, self.desk.now()
        self._asking_moves = True

        def done(notices: tuple[MoveNotice, ...]) -> None:
            self._asking_moves = False
            self._moves_seen_until = asked_at
            if not notices:
                return
            if len(notices) == 1:
                text = f"Moved at another workstation: {notices[0].text}"
            else:
                text = f"{len(notices)} sessions moved at another workstation: " + "; ".join(
                    n.text for n in notices
                )
            self.last_moves_notice = text
            self.window.show_message(text, 30000)

        def failed(_err: ServiceError) -> None:
            self._asking_moves = False

        run_service(
            self.parent_widget,
            lambda: moves_since(desk.db, desk.actor, since),
            done,
            failed=failed,
            busy="",
        )

    def _on_own_change(self) -> None:
        self.watcher.acknowledge()  # our own write is not news from another workstation

    def _on_refused(self, message: str) -> None:
        """A refused edit: said in the status bar and, where there is a screen, in a box the
        user closes (not modal: the schedule stays usable behind it)."""
        self.last_refusal = message
        self.window.show_message(message, 12000)
        if has_screen():
            box = QMessageBox(
                QMessageBox.Icon.Warning, "Not done", message, parent=self.parent_widget
            )
            box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            box.open()

    def _on_warned(self, message: str) -> None:
        """A change made despite a warning (a dosing session started while an urgent review
        stands, under ``[urgent_review] dosing = "warn"``): said as a refusal is, but done."""
        self.window.show_message(message, 12000)
        if has_screen():
            box = QMessageBox(
                QMessageBox.Icon.Warning, "Done, with a warning", message, parent=self.parent_widget
            )
            box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            box.open()

    def _on_done(self, text: str) -> None:
        """An action that completed (an edit, an undo, a print, a follow-up worked): a few
        words that pass, so the user knows it happened without a box to close."""
        self.window.show_message(text, PASSING_FEEDBACK_MS)

    def _on_printer_busy(self, busy: bool) -> None:
        if busy:
            self.window.show_message("Preparing the document…", 0)
        else:
            self.window.clear_message()

    def _on_undo_text(self, text: str) -> None:
        self.window.actions_by_name["undo"].setText(f"Undo {text}" if text else "Undo")

    def _on_redo_text(self, text: str) -> None:
        self.window.actions_by_name["redo"].setText(f"Redo {text}" if text else "Redo")

    def refresh_counts(self) -> None:
        """Read the follow-up counts of the left panel again (on a worker)."""
        from ketadesk.services.followups.queue import queue_counts

        desk = self.desk
        self._counts.run(
            lambda: queue_counts(desk.db, desk.actor, now=desk.now()),
            self._on_counts_read,
            failed=self._on_counts_failed,
        )

    def _on_counts_read(self, counts: dict[str, int]) -> None:
        self.window.side_panel.set_counts(counts)

    def _on_counts_failed(self, _err: ServiceError) -> None:
        self.window.side_panel.set_counts(None)

    def _on_follow_ups_requested(self, which: str) -> None:
        """A count of the left panel clicked: the queue, showing what it counted (its filters
        cleared: the counts are of the whole queue)."""
        self.window.set_view("follow_ups")
        queue = self.follow_up_queue
        if queue is not None and shiboken6.isValid(queue):
            queue.show_counted(which)

    # -- dialogs ----------------------------------------------------------------------------

    def open_appointment(self, appointment_id: int) -> None:
        """Open the appointment's dialog once it is read (on a worker)."""
        from ketadesk.ui.booking.appointment_dialog import AppointmentDialog

        AppointmentDialog.open_for(
            self.desk,
            appointment_id,
            self.parent_widget,
            self._show_appointment,
            failed=self._on_appointment_not_opened,
        )

    def _on_appointment_not_opened(self, err: ServiceError) -> None:
        self.window.show_message(str(err))

    def _show_appointment(self, dialog: AppointmentDialog) -> None:
        def set_status(aid: int, action: str, reason: str, version: int) -> None:
            self.editor.set_status(aid, action, reason, then=dialog.reload, version=version)

        dialog.status_requested.connect(set_status)
        # What another workstation changes shows here too, as it does in the day.
        self.watcher.changed.connect(dialog.reload)
        dialog.monitoring_requested.connect(self.open_monitoring)
        dialog.move_requested.connect(self.move_session)
        dialog.series_move_requested.connect(self.move_series)
        dialog.series_end_requested.connect(self.end_series)
        dialog.protocol_change_requested.connect(self.change_protocol)
        # A move made here (or any edit of this workstation) shows on the page at once.
        self.editor.changed.connect(dialog.reload)
        dialog.measure_requested.connect(self.open_measure)
        dialog.patient_requested.connect(self.open_patient)
        dialog.print_record_requested.connect(self.print_record)
        dialog.show()
        self.appointment_opened.emit(dialog)

    def open_monitoring(self, appointment_id: int) -> None:
        from ketadesk.ui.monitoring.monitoring_dialog import MonitoringDialog

        MonitoringDialog.open_for(
            self.desk, appointment_id, self.parent_widget, self._show_monitoring
        )

    def _show_monitoring(self, dialog: MonitoringDialog) -> None:
        dialog.finished.connect(lambda _r: self._on_changed())
        dialog.open()

    def open_measure(self, patient_id: int, instrument: str, appointment_id: int) -> None:
        from ketadesk.ui.monitoring.measure_dialog import MeasureDialog

        # Opened once whose answers these are is read: it names the patient from the start.
        MeasureDialog.open_for(
            self.desk,
            patient_id,
            instrument,
            appointment_id,
            self.parent_widget,
            self._show_measure,
        )

    def _show_measure(self, dialog: MeasureDialog) -> None:
        dialog.finished.connect(lambda _r: self.refresh_counts())
        dialog.open()

    def open_patient(self, patient_id: int) -> None:
        from ketadesk.ui.patients.patient_record import RECORD_SIZE, PatientRecordView

        view = PatientRecordView(self.desk, patient_id, None)
        view.setWindowTitle("Patient record")
        view.book_requested.connect(self.new_booking_for)
        view.appointment_activated.connect(self.open_appointment)
        view.merged.connect(self.open_patient)
        view.make_up_requested.connect(self._offer_rebooking)
        view.end_series_requested.connect(lambda sid, v=view: self.end_series(sid, v.reload, v))
        view.change_protocol_requested.connect(
            lambda sid, v=view: self.change_protocol(sid, v.reload, v)
        )
        view.resize(RECORD_SIZE)
        # Centred on the main window, as Settings and the audit trail open (a trial found the
        # record wherever the window manager put a parentless window).
        place_over(view, self.parent_widget)
        view.show()
        self.patient_windows.append(view)

    def reload_patient_windows(self) -> None:
        """Read the open patient records again (after a change made at this desk; each
        reading is audited, so not after every change at other workstations)."""
        self.patient_windows = [w for w in self.patient_windows if shiboken6.isValid(w)]
        for view in self.patient_windows:
            if view.isVisible():
                view.reload()

    def new_booking(self) -> None:
        self.new_booking_for(None)

    def new_booking_for(self, patient_id: int | None) -> None:
        from ketadesk.ui.booking.booking_dialog import BookingDialog

        BookingDialog.open_for(self.desk, patient_id, self.parent_widget, self._show_booking)

    def _show_booking(self, dialog: BookingDialog) -> None:
        dialog.booked.connect(self._on_booked)
        dialog.open()

    def _on_booked(self, _ids: object, first_day: dt.date) -> None:
        self.window.set_day(first_day)
        self._on_changed()
        self.reload_patient_windows()

    def import_patients(self) -> None:
        from ketadesk.ui.patients.import_dialog import ImportPatientsDialog

        dialog = ImportPatientsDialog(self.desk, self.parent_widget)
        dialog.imported.connect(self._on_patients_imported)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()

    def _on_patients_imported(self, _charts: tuple[str, ...]) -> None:
        self._on_changed()

    def find_patient(self) -> None:
        from ketadesk.ui.patients.patient_search import FindPatientDialog

        dialog = FindPatientDialog(self.desk, self.parent_widget)
        dialog.patient_chosen.connect(self.open_patient)
        dialog.open()

    def move_session(
        self,
        appointment_id: int,
        *,
        told: bool = False,
        after: Callable[[], None] | None = None,
    ) -> None:
        """Ask where one session goes (the dialog opens once the session is read); ``told``:
        the patient is on the phone ("The patient knows" ticked to begin with); ``after``
        once it is moved."""
        from ketadesk.ui.booking.move_dialog import MoveSessionDialog

        MoveSessionDialog.open_for(
            self.desk,
            appointment_id,
            self.parent_widget,
            lambda dialog: self._show_session_move(dialog, after),
            failed=self._on_appointment_not_opened,
            told=told,
        )

    def _show_session_move(
        self, dialog: MoveSessionDialog, after: Callable[[], None] | None = None
    ) -> None:
        def moved() -> None:
            dialog.moved()
            if after is not None:
                after()

        def move(aid: int, start: object, room: object, overrides: object, version: int) -> None:
            assert isinstance(start, dt.datetime)
            self.editor.move(
                aid,
                start,
                room if isinstance(room, int) else None,
                overrides if isinstance(overrides, dict) else None,
                version,
                then=moved,
                failed=dialog.refused,
                told=dialog.patient_knows(),
            )

        dialog.move_requested.connect(move)
        dialog.show()
        self.session_move_opened.emit(dialog)

    def move_series(self, appointment_id: int) -> None:
        """Ask where the rest of the series goes (the dialog opens once the session is read)."""
        from ketadesk.ui.booking.series_move_dialog import SeriesMoveDialog

        SeriesMoveDialog.open_for(
            self.desk, appointment_id, self.parent_widget, self._show_series_move
        )

    def _show_series_move(self, dialog: SeriesMoveDialog) -> None:
        def apply() -> None:
            proposal = dialog.proposal()
            if proposal is not None:
                self.editor.apply_series_move(
                    proposal,
                    reason=dialog.reason(),
                    spacing_reason=dialog.reason(),
                    then=dialog.moved,
                    failed=dialog.refused,
                    told=dialog.patient_knows(),
                )

        dialog.move_requested.connect(apply)
        dialog.open()

    def end_series(
        self,
        series_id: int,
        after: Callable[[], None] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        """Ask why and from which day a series ends (the dialog opens once the series is
        read); written undoably by the editor, ``after`` then (the record read again)."""
        from ketadesk.ui.booking.series_end_dialog import SeriesEndDialog

        def show(dialog: SeriesEndDialog) -> None:
            def end() -> None:
                def ended() -> None:
                    dialog.ended()
                    if after is not None:
                        after()

                self.editor.end_series(
                    series_id,
                    reason=dialog.reason(),
                    note=dialog.note(),
                    effective=dialog.effective(),
                    then=ended,
                    failed=dialog.refused,
                )

            dialog.end_requested.connect(end)
            dialog.open()
            self.series_end_opened.emit(dialog)

        SeriesEndDialog.open_for(
            self.desk,
            series_id,
            parent or self.parent_widget,
            show,
            failed=self._on_appointment_not_opened,
        )

    def change_protocol(
        self,
        series_id: int,
        after: Callable[[], None] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        """Change a series' protocol (ui/booking/protocol_change_flow.py): its dialog, the end
        written undoably by the editor (``after`` then), the new protocol's booking."""
        from ketadesk.ui.booking.protocol_change_flow import ProtocolChangeFlow

        flow = ProtocolChangeFlow(
            self.desk,
            self.editor,
            parent or self.parent_widget,
            self,
            after=after,
            booked=self._on_booked,
            tell=self.window.show_message,
        )
        flow.finished.connect(lambda _how, f=flow: f.deleteLater())
        self.protocol_change_started.emit(flow)
        flow.start(series_id, failed=self._on_appointment_not_opened)

    def open_audit(self) -> None:
        from ketadesk.ui.access.audit_viewer import AuditViewer

        viewer = AuditViewer(self.desk, None)
        viewer.resize(1000, 600)
        place_over(viewer, self.parent_widget)
        viewer.show()
        self.audit_window = viewer

    # -- settings ---------------------------------------------------------------------------

    def open_settings(self) -> None:
        """The Settings window (one per desk; raised when already open)."""
        from ketadesk.ui.settings.settings_dialog import SettingsDialog

        if self.settings_window is None:
            self.settings_window = SettingsDialog(self.desk, None)
            self.settings_window.setup_requested.connect(self.open_setup_assistant)
            place_over(self.settings_window, self.parent_widget)
        self.settings_window.show()
        if has_screen():  # the offscreen platform cannot raise a window, and says so
            self.settings_window.raise_()
            self.settings_window.activateWindow()

    def open_setup_assistant(self) -> None:
        """The set-up assistant, from its first step (one per desk)."""
        from ketadesk.ui.settings.setup_assistant import SetupAssistant

        if self.setup_assistant is not None:
            self.setup_assistant.close()
            self.setup_assistant.deleteLater()
        self.setup_assistant = SetupAssistant(self.desk, None)
        place_over(self.setup_assistant, self.parent_widget)
        self.setup_assistant.show()
        if has_screen():
            self.setup_assistant.raise_()

    def offer_setup(self) -> None:
        """Open the set-up assistant when an administrator signs into a clinic with no rooms
        and no staff yet (read on a worker; nothing happens for anyone else)."""
        from ketadesk.services.common.context import may
        from ketadesk.services.settings.readiness import ClinicReadiness, clinic_readiness

        if not may(self.desk.actor, "configure"):
            return
        db = self.desk.db

        def offer(readiness: ClinicReadiness) -> None:
            if readiness.is_empty and self.setup_assistant is None:
                self.open_setup_assistant()

        run_service(self.parent_widget, lambda: clinic_readiness(db), offer, busy="")

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

    def selected_appointment(self) -> int | None:
        """The session selected on the schedule shown (day by room or staff, week), or None."""
        from ketadesk.ui.timeline.drag import DragMixin

        view = self.window.view()
        widget = self.window.day_view if view == "rooms" else self.window.page(view)
        return widget.selected_id() if isinstance(widget, DragMixin) else None

    def _choose_patient(self, then: Callable[[int], None]) -> None:
        from ketadesk.ui.patients.patient_search import FindPatientDialog

        dialog = FindPatientDialog(self.desk, self.parent_widget)
        dialog.setWindowTitle("Print appointment card: find the patient")
        dialog.patient_chosen.connect(then)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()

    def print_record(self, appointment_id: int) -> None:
        self.printer.session_record(appointment_id)
