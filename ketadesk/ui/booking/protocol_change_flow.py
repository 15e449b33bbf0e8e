"""Change protocol… from the desk, end to end: the dialog (new protocol, why, from when), the
old series ended through the undo stack, then the series booking of the new protocol opened
with the patient, the first day and the old series' weekdays, time and room, and its plan made.

Booked: the new series follows the old one (the record shows the chain) and Edit ▸ Undo takes
the whole change back.  Refused or abandoned (the booking dialog cancelled, a REMS enrolment
missing): the desk is told the old series has ended and asked whether to take the end back
(``ask_take_back``), since a series ended with nothing booked after it is the state a clinic
must not drift into unnoticed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QMessageBox, QWidget

from ketadesk.services.booking.protocol_change import ChangeStarted, lowered
from ketadesk.services.common.context import ServiceError
from ketadesk.ui.booking.booking_dialog import BookingDialog
from ketadesk.ui.booking.protocol_change_dialog import ProtocolChangeDialog
from ketadesk.ui.common.desk import Desk

if TYPE_CHECKING:
    from ketadesk.ui.timeline.undo import ProtocolChangeCommand, ScheduleEditor

TAKE_BACK = "Undo the end"
KEEP_ENDED = "Keep it ended"


def ask_take_back(parent: QWidget | None, text: str) -> bool:
    """Ask whether to take the old series' end back (``text`` says what happened); tests
    replace this function."""
    box = QMessageBox(QMessageBox.Icon.Warning, "New protocol not booked", text, parent=parent)
    undo = box.addButton(TAKE_BACK, QMessageBox.ButtonRole.AcceptRole)
    box.addButton(KEEP_ENDED, QMessageBox.ButtonRole.RejectRole)
    box.setDefaultButton(undo)
    box.exec()
    return box.clickedButton() is undo


def not_booked_words(started: ChangeStarted) -> str:
    """What the desk is told when the new protocol was not booked."""
    draft = started.draft
    n = draft.cancelled
    return (
        f"{draft.old_protocol_name} has ended ({lowered(draft.ended_words)}; "
        f"{n} session{'s' if n != 1 else ''} cancelled), and {draft.protocol_name} was not "
        "booked. Undo the end to book the old series' sessions again where they were, or "
        "keep it ended and book the new protocol later (New booking)."
    )


class ProtocolChangeFlow(QObject):
    """One change of protocol, from its dialog to the booking.

    Signals:
        opened(ProtocolChangeDialog): the dialog was read and shown.
        booking_opened(BookingDialog): the old series ended; the booking of the new protocol
            was read and shown, its plan on the way.
        finished(str): how it ended: "booked", "kept_ended" (the new protocol not booked, the
            end kept) or "taken_back" (the end undone).

    Attributes:
        started: the old series' end and the booking draft, once ended (else None).
        command: the change on the undo stack, once ended (else None).
    """

    opened = Signal(object)
    booking_opened = Signal(object)
    finished = Signal(str)

    def __init__(
        self,
        desk: Desk,
        editor: ScheduleEditor,
        parent_widget: QWidget | None,
        parent: QObject | None = None,
        *,
        after: Callable[[], None] | None = None,
        booked: Callable[[list[int], dt.date], None] | None = None,
        tell: Callable[[str], None] | None = None,
    ) -> None:
        """``after``: once the old series ended (a record read again); ``booked``: the
        booking's ``booked`` (ids, first day); ``tell``: a message for the status bar."""
        super().__init__(parent)
        self._desk = desk
        self._editor = editor
        self._parent_widget = parent_widget
        self._after = after
        self._booked = booked
        self._tell = tell
        self.dialog: ProtocolChangeDialog | None = None
        self.started: ChangeStarted | None = None
        self.command: ProtocolChangeCommand | None = None
        self._was_booked = False

    def start(self, series_id: int, failed: Callable[[ServiceError], None] | None = None) -> None:
        ProtocolChangeDialog.open_for(
            self._desk, series_id, self._parent_widget, self._show, failed=failed
        )

    def _show(self, dialog: ProtocolChangeDialog) -> None:
        self.dialog = dialog
        dialog.change_requested.connect(self._on_dialog_change_requested)
        dialog.open()
        self.opened.emit(dialog)

    def _on_dialog_change_requested(self) -> None:
        dialog = self.dialog
        assert dialog is not None
        self._editor.change_protocol(
            dialog.info.series_id,
            protocol=dialog.protocol(),
            protocol_name=dialog.protocol_name(),
            why=dialog.why(),
            effective=dialog.effective(),
            then=self._on_ended,
            failed=dialog.refused,
        )

    def _on_ended(self, started: ChangeStarted, command: ProtocolChangeCommand) -> None:
        self.started = started
        self.command = command
        if self.dialog is not None:
            self.dialog.changed()
        if self._after is not None:
            self._after()
        BookingDialog.open_for(
            self._desk, started.draft.patient_id, self._parent_widget, self._show_booking
        )

    def _show_booking(self, booking: BookingDialog) -> None:
        assert self.started is not None
        booking.start_change(self.started.draft)
        booking.booked.connect(self._on_booking_booked)
        booking.rejected.connect(self._on_booking_rejected)
        booking.open()
        self.booking_opened.emit(booking)

    def _on_booking_booked(self, ids: list[int], first_day: object) -> None:
        self._was_booked = True
        if self._booked is not None and isinstance(first_day, dt.date):
            self._booked(ids, first_day)
        self.finished.emit("booked")

    def _on_booking_rejected(self) -> None:
        if self._was_booked or self.started is None or self.command is None:
            return
        if not ask_take_back(self._parent_widget, not_booked_words(self.started)):
            self.finished.emit("kept_ended")
            return
        if not self._editor.take_back(self.command):
            if self._tell is not None:
                self._tell(
                    "The end was not taken back: another change was made since; Edit ▸ Undo "
                    "takes the changes back in order"
                )
            self.finished.emit("kept_ended")
            return
        self.finished.emit("taken_back")
