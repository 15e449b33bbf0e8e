"""Change a series' protocol: to which of the clinic's protocols, why (required), from which
day (the day after the last session kept unless chosen), and what that keeps and cancels of
the old series, read again when the day changes.

The dialog only asks and shows; the owner (``ProtocolChangeFlow``) ends the old series through
the undoable ``ScheduleEditor.change_protocol`` (``change_requested``) and answers
``changed()`` (the dialog closes, the series booking opens) or ``refused(text)`` (it stays open
with what was chosen).  A role that may not end a series ([series_end] roles) sees the dialog
with Change protocol greyed and who may.
"""

from __future__ import annotations

import datetime as dt
import html
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

from ketadesk.scheduling.protocol_change import change_problem
from ketadesk.services.booking.protocol_change import ChangeInfo, change_info
from ketadesk.services.common.context import ServiceError
from ketadesk.ui.common.background import LatestOnly, run_service
from ketadesk.ui.common.date_fields import DateField
from ketadesk.ui.common.desk import Desk
from ketadesk.ui.common.sizing import ContentHeight

CHOOSE = "Choose the new protocol…"


class ProtocolChangeDialog(QDialog):
    """Changing one series' protocol, read on a worker (``open_for``), written by the owner.

    Signals:
        change_requested(): "Change protocol" pressed with a protocol and a reason
            (``protocol``, ``why``, ``effective``); the owner answers ``changed()`` or
            ``refused(text)``.
    """

    change_requested = Signal()

    def __init__(self, desk: Desk, info: ChangeInfo, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._desk = desk
        self.info = info
        self._reads = LatestOnly(self, busy="Reading the sessions…")
        self.setObjectName("protocol_change_dialog")
        self.setWindowTitle(f"Change protocol — {info.patient_name}")
        self._build()
        self._show_info(info)
        ContentHeight(self)  # a refusal wraps, and the window grows to show all of it
        self.resize(600, 480)

    def _build(self) -> None:
        self.intro = QLabel(self)
        self.intro.setObjectName("protocol_change_intro")
        self.intro.setWordWrap(True)
        self.protocol_box = QComboBox(self)
        self.protocol_box.setObjectName("change_protocol_to")
        self.protocol_box.setAccessibleName("New protocol")
        self.protocol_box.addItem(CHOOSE, "")
        for code, name in self.info.protocols:
            self.protocol_box.addItem(name, code)
        self.why_edit = QLineEdit(self)
        self.why_edit.setObjectName("change_why")
        self.why_edit.setAccessibleName("Why the protocol changes")
        self.why_edit.setPlaceholderText("e.g. no response after 4 infusions (required)")
        self.day_edit = DateField(self, value=self.info.effective, weekday=True)
        self.day_edit.setObjectName("change_day")
        self.day_edit.setAccessibleName("New protocol from")
        self.kept_label = QLabel(self)
        self.kept_label.setObjectName("change_kept_label")
        self.kept = QListWidget(self)
        self.kept.setObjectName("change_kept")
        self.kept.setAccessibleName("Sessions of the old series that stay")
        self.cancel_label = QLabel(self)
        self.cancel_label.setObjectName("change_cancel_label")
        self.sessions = QListWidget(self)
        self.sessions.setObjectName("change_sessions")
        self.sessions.setAccessibleName("Sessions of the old series that will be cancelled")
        self.message = QLabel(self)
        self.message.setObjectName("protocol_change_message")
        self.message.setWordWrap(True)
        self.message.setMinimumHeight(self.message.fontMetrics().lineSpacing() * 2)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok.setText("Change protocol…")
        self.ok.setObjectName("change_protocol")
        self.ok.setToolTip(
            "End this series from the day chosen, then plan the new protocol's series"
        )
        self.buttons.accepted.connect(self._on_buttons_accepted)
        self.buttons.rejected.connect(self.reject)
        form = QFormLayout()
        form.addRow("&Change to:", self.protocol_box)
        form.addRow("&Why:", self.why_edit)
        form.addRow("&From:", self.day_edit)
        layout = QVBoxLayout(self)
        layout.addWidget(self.intro)
        layout.addLayout(form)
        layout.addWidget(self.kept_label)
        layout.addWidget(self.kept, 1)
        layout.addWidget(self.cancel_label)
        layout.addWidget(self.sessions, 1)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)
        self.day_edit.dateChanged.connect(self._on_day_edit_date_changed)
        self.protocol_box.currentIndexChanged.connect(self._on_protocol_box_changed)
        self.why_edit.textChanged.connect(self._on_why_edit_changed)

    @classmethod
    def open_for(
        cls,
        desk: Desk,
        series_id: int,
        parent: QWidget | None,
        then: Callable[[ProtocolChangeDialog], None],
        failed: Callable[[ServiceError], None] | None = None,
    ) -> None:
        """Read the series on a worker, then make the dialog and hand it to ``then``."""
        db, actor, now = desk.db, desk.actor, desk.now()
        run_service(
            parent,
            lambda: change_info(db, actor, series_id, now=now),
            lambda info: then(cls(desk, info, parent)),
            failed=failed,
        )

    # -- what was chosen ----------------------------------------------------------------------

    def protocol(self) -> str:
        return str(self.protocol_box.currentData() or "")

    def protocol_name(self) -> str:
        return self.protocol_box.currentText() if self.protocol() else ""

    def why(self) -> str:
        return self.why_edit.text().strip()

    def effective(self) -> dt.date:
        d = self.day_edit.date()
        return dt.date(d.year(), d.month(), d.day())

    def set_effective(self, day: dt.date) -> None:
        self.day_edit.setDate(QDate(day.year, day.month, day.day))

    def choose_protocol(self, code: str) -> None:
        self.protocol_box.setCurrentIndex(max(0, self.protocol_box.findData(code)))

    # -- showing --------------------------------------------------------------------------------

    def _show_info(self, info: ChangeInfo) -> None:
        self.info = info
        self.intro.setText(
            f"<b>{html.escape(info.protocol_name)}</b> of {html.escape(info.patient_name)}: "
            "the series ends from the day chosen (its sessions from then on cancelled, "
            '"changed to" the new protocol and why), then the new protocol\'s series is '
            "planned from that day with this series' weekdays, time and room, for you to "
            "book. Edit ▸ Undo takes the whole change back while nothing has happened to the "
            "new series."
        )
        self.kept.clear()
        self.kept.addItems(list(info.kept))
        self.kept_label.setText(
            f"{len(info.kept)} session{'s' if len(info.kept) != 1 else ''} kept:"
            if info.kept
            else "No session of this series is kept."
        )
        self.kept.setVisible(bool(info.kept))
        self.sessions.clear()
        n = len(info.to_cancel)
        self.cancel_label.setText(
            f"{n} session{'s' if n != 1 else ''} will be cancelled:"
            if n
            else "No session from that day on is booked: only the series is marked ended."
        )
        self.sessions.addItems(list(info.to_cancel))
        self.sessions.setVisible(bool(n))
        if not info.may_change:
            self.ok.setEnabled(False)
            self.ok.setToolTip(info.refusal)
            self._say(f"{info.refusal}.", error=True)
        elif info.status == "ended":
            self.ok.setEnabled(False)
            self._say("This series has ended already: book the new protocol instead.", error=True)

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
            lambda: change_info(db, actor, sid, day, now=now),
            self._show_info,
            failed=lambda err: self._say(str(err), error=True),
        )

    def _on_protocol_box_changed(self, _index: int) -> None:
        self._clear_problem()

    def _on_why_edit_changed(self, _text: str) -> None:
        self._clear_problem()

    def _clear_problem(self) -> None:
        """A mistake said goes once the user answers it (the next press judges again)."""
        if self.message.text().startswith(("Choose", "Say why", "The series is on")):
            self._say("")

    def _on_buttons_accepted(self) -> None:
        problem = change_problem(self.protocol(), self.info.protocol, self.why())
        if problem:
            self._say(f"{problem}.", error=True)
            target = self.why_edit if self.protocol() else self.protocol_box
            target.setFocus(Qt.FocusReason.OtherFocusReason)
            return
        self.ok.setEnabled(False)
        self._say("Ending the series…")
        self.change_requested.emit()

    def changed(self) -> None:
        """The owner ended the old series: done (the booking opens next)."""
        self.accept()

    def refused(self, text: str) -> None:
        """The owner's write was refused: say why, keep what was chosen."""
        self._say(f"Not changed: {text}", error=True)
        self.ok.setEnabled(self.info.may_change)
