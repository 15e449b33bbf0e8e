"""End a series: why (a reason is required; "other" says more), from which day (today unless
chosen), and the sessions that day on which will be cancelled, read again when the day changes.

The dialog only asks and shows; the ending is written by the owner through the undoable
``ScheduleEditor.end_series`` (``end_requested``), who answers ``ended()`` (the dialog closes)
or ``refused(text)`` (it stays open with what was chosen).  A role the clinic does not let end
a series ([series_end] roles) sees the dialog with End series greyed and who may.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from PySide6.QtCore import QDate, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QVBoxLayout,
    QWidget,
)

from ketadesk.scheduling.series_end import NOTE_REQUIRED, reason_problem
from ketadesk.services.booking.series_end import SeriesEndInfo, end_info
from ketadesk.services.common.context import ServiceError
from ketadesk.ui.common.background import LatestOnly, run_service
from ketadesk.ui.common.date_fields import DateField
from ketadesk.ui.common.desk import Desk
from ketadesk.ui.common.sizing import ContentHeight

CHOOSE = "Choose a reason…"


class SeriesEndDialog(QDialog):
    """Ending one series, read on a worker (``open_for``) and written by the owner.

    Signals:
        end_requested(): "End series" pressed with a reason (``reason``, ``note``,
            ``effective``); the owner answers ``ended()`` or ``refused(text)``.
    """

    end_requested = Signal()

    def __init__(self, desk: Desk, info: SeriesEndInfo, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._desk = desk
        self.info = info
        self._reads = LatestOnly(self, busy="Reading the sessions…")
        self.setObjectName("series_end_dialog")
        self.setWindowTitle(f"End series — {info.protocol_name}")
        self._build()
        self._show_info(info)
        ContentHeight(self)  # a refusal wraps, and the window grows to show all of it
        self.resize(560, 440)

    def _build(self) -> None:
        self.intro = QLabel(self)
        self.intro.setObjectName("series_end_intro")
        self.intro.setWordWrap(True)
        self.reason_box = QComboBox(self)
        self.reason_box.setObjectName("end_reason")
        self.reason_box.setAccessibleName("Why the series ends")
        self.reason_box.addItem(CHOOSE, "")
        for code, words in self.info.reasons:
            self.reason_box.addItem(words[:1].upper() + words[1:], code)
        self.note_edit = QLineEdit(self)
        self.note_edit.setObjectName("end_note")
        self.note_edit.setAccessibleName("More about why")
        self.note_edit.setPlaceholderText("e.g. sustained hypertension (needed for Other)")
        self.day_edit = DateField(self, value=self.info.effective, weekday=True)
        self.day_edit.setObjectName("end_day")
        self.day_edit.setAccessibleName("Ends from")
        # The sessions it would cancel follow the day as it is typed.
        self.day_edit.read_while_typing()
        self.sessions = QListWidget(self)
        self.sessions.setObjectName("end_sessions")
        self.sessions.setAccessibleName("Sessions that will be cancelled")
        self.message = QLabel(self)
        self.message.setObjectName("series_end_message")
        self.message.setWordWrap(True)
        self.message.setMinimumHeight(self.message.fontMetrics().lineSpacing() * 2)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok.setText("End series")
        self.ok.setObjectName("end_series")
        self.buttons.accepted.connect(self._on_buttons_accepted)
        self.buttons.rejected.connect(self.reject)
        form = QFormLayout()
        form.addRow("&Reason:", self.reason_box)
        form.addRow("&Details:", self.note_edit)
        form.addRow("Ends &from:", self.day_edit)
        layout = QVBoxLayout(self)
        layout.addWidget(self.intro)
        layout.addLayout(form)
        self.cancel_label = QLabel(self)
        self.cancel_label.setObjectName("end_sessions_label")
        layout.addWidget(self.cancel_label)
        layout.addWidget(self.sessions, 1)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)
        self.day_edit.dateChanged.connect(self._on_day_edit_date_changed)
        self.day_edit.refused.connect(self._on_day_edit_refused)
        self.reason_box.currentIndexChanged.connect(self._on_reason_box_changed)

    @classmethod
    def open_for(
        cls,
        desk: Desk,
        series_id: int,
        parent: QWidget | None,
        then: Callable[[SeriesEndDialog], None],
        failed: Callable[[ServiceError], None] | None = None,
    ) -> None:
        """Read the series on a worker, then make the dialog and hand it to ``then``."""
        db, actor, now = desk.db, desk.actor, desk.now()
        run_service(
            parent,
            lambda: end_info(db, actor, series_id, now=now),
            lambda info: then(cls(desk, info, parent)),
            failed=failed,
        )

    # -- what was chosen ----------------------------------------------------------------------

    def reason(self) -> str:
        return str(self.reason_box.currentData() or "")

    def note(self) -> str:
        return self.note_edit.text().strip()

    def effective(self) -> dt.date:
        d = self.day_edit.date()
        return dt.date(d.year(), d.month(), d.day())

    def set_effective(self, day: dt.date) -> None:
        self.day_edit.setDate(QDate(day.year, day.month, day.day))

    def choose_reason(self, code: str) -> None:
        self.reason_box.setCurrentIndex(max(0, self.reason_box.findData(code)))

    # -- showing --------------------------------------------------------------------------------

    def _show_info(self, info: SeriesEndInfo) -> None:
        self.info = info
        self.intro.setText(
            f"<b>{info.protocol_name}</b>: the sessions from the day chosen are cancelled "
            "with the reason, their places freed, and the series marked ended. Edit ▸ Undo "
            "takes it back while the places are still free."
        )
        self.sessions.clear()
        n = len(info.to_cancel)
        self.cancel_label.setText(
            f"{n} session{'s' if n != 1 else ''} will be cancelled:"
            if n
            else "No session from that day on is booked: only the series is marked ended."
        )
        self.sessions.addItems(list(info.to_cancel))
        self.sessions.setVisible(bool(n))
        if not info.may_end:
            self.ok.setEnabled(False)
            self.ok.setToolTip(info.refusal)
            self._say(f"{info.refusal}.", error=True)
        elif info.status == "ended":
            self.ok.setEnabled(False)
            self._say("This series has ended already.", error=True)

    def _on_day_edit_refused(self, words: str) -> None:
        self._say(words, error=True)

    def _say(self, text: str, *, error: bool = False) -> None:
        self.message.setText(text)
        self.message.setStyleSheet("color: #d93025;" if error else "")

    # -- slots ------------------------------------------------------------------------------------

    def _on_day_edit_date_changed(self, _date: QDate) -> None:
        db, actor, sid, day, now = (
            self._desk.db,
            self._desk.actor,
            self.info.series_id,
            self.effective(),
            self._desk.now(),
        )
        self._reads.run(
            lambda: end_info(db, actor, sid, day, now=now),
            self._show_info,
            failed=lambda err: self._say(str(err), error=True),
        )

    def _on_reason_box_changed(self, _index: int) -> None:
        if self.reason() in NOTE_REQUIRED:
            self.note_edit.setPlaceholderText("Say why (required for Other)")
        if self.message.text().startswith(("Choose", "Say why")):
            self._say("")

    def _on_buttons_accepted(self) -> None:
        problem = reason_problem(self.reason(), self.note())
        if problem:
            self._say(f"{problem}.", error=True)
            target = self.note_edit if self.reason() else self.reason_box
            target.setFocus(Qt.FocusReason.OtherFocusReason)
            return
        self.ok.setEnabled(False)
        self._say("Ending the series…")
        self.end_requested.emit()

    def ended(self) -> None:
        """The owner wrote it: done."""
        self.accept()

    def refused(self, text: str) -> None:
        """The owner's write was refused: say why, keep what was chosen."""
        self._say(f"Not ended: {text}", error=True)
        self.ok.setEnabled(self.info.may_end)
