"""Settings ▸ E-mail reminders: the clinic's SMTP server, the template and the outbox timing,
a "Send a test message" button, and the record of the messages sent or failed.

The page holds no rule: ``services/reminders`` checks a save (a mistake comes back per field and
nothing is saved) and never hands the stored password back, only a mask.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import zoneinfo

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ketadesk.scheduling.dates import clock
from ketadesk.services.common.context import InvalidFields, ServiceError, may
from ketadesk.services.reminders.mail_settings import (
    PLACEHOLDERS,
    SECURITY_MODES,
    ReminderSettings,
    read_reminder_settings,
    save_reminder_settings,
)
from ketadesk.services.reminders.outbox import OutboxRow, outbox, send_test_message
from ketadesk.services.settings.clinic_details import ClinicDetails, clinic_details
from ketadesk.ui.common.background import LatestOnly, run_service
from ketadesk.ui.common.desk import Desk

#: How each security mode reads in the form.
SECURITY_LABELS = {
    "starttls": "STARTTLS (usually port 587)",
    "tls": "TLS (usually port 465)",
    "none": "None (a relay on this network only)",
}
OUTBOX_COLUMNS = ("Session", "To", "Status", "Attempts", "Sent / next try", "Problem")
_PORT_MAX = 65535
_NUMBER_MAX = 10_000


def _spin(parent: QWidget, minimum: int, maximum: int, suffix: str = "") -> QSpinBox:
    spin = QSpinBox(parent)
    spin.setRange(minimum, maximum)
    spin.setSuffix(suffix)
    return spin


class RemindersPage(QWidget):
    """The e-mail reminder settings and the outbox record (administrators)."""

    title = "E-mail reminders"
    saved = Signal(int)
    not_saved = Signal()

    def __init__(self, desk: Desk, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._desk = desk
        self._reads = LatestOnly(self, busy="Reading the reminder settings…")
        self._saving = False
        self._shown: ReminderSettings | None = None
        self._timezone = "UTC"
        self._time_format = "12h"
        self.editors: dict[str, QWidget] = {}
        self.errors: dict[str, QLabel] = {}
        self.message = QLabel("", self)
        self.message.setWordWrap(True)
        layout = QVBoxLayout(self)
        columns = QHBoxLayout()
        columns.addWidget(self._build_server_box(), 1)
        columns.addWidget(self._build_message_box(), 1)
        layout.addLayout(columns)
        layout.addWidget(self._build_test_row())
        layout.addWidget(self._build_outbox_box(), 1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.message, 1)
        self.revert_button = QPushButton("Revert", self)
        self.revert_button.clicked.connect(self.refresh)
        self.save_button = QPushButton("Save", self)
        self.save_button.clicked.connect(self.save)
        buttons.addWidget(self.revert_button)
        buttons.addWidget(self.save_button)
        layout.addLayout(buttons)
        self._allowed = may(desk.actor, "configure")
        for widget in (self.save_button, self.test_button):
            widget.setEnabled(self._allowed)
        if not self._allowed:
            self.message.setText("Only an administrator may see and change e-mail reminders.")
        else:
            self.refresh()

    # -- building ---------------------------------------------------------------------------

    def _row(self, form: QFormLayout, name: str, label: str, editor: QWidget) -> None:
        editor.setObjectName(f"field_{name}")
        editor.setAccessibleName(label)
        error = QLabel("", self)
        error.setStyleSheet("color: #b3261e")
        error.setWordWrap(True)
        error.hide()
        cell = QWidget(self)
        stack = QVBoxLayout(cell)
        stack.setContentsMargins(0, 0, 0, 0)
        stack.setSpacing(2)
        stack.addWidget(editor)
        stack.addWidget(error)
        form.addRow(f"{label}:", cell)
        self.editors[name] = editor
        self.errors[name] = error

    def _build_server_box(self) -> QGroupBox:
        box = QGroupBox("The clinic's mail server (SMTP)", self)
        form = QFormLayout(box)
        self.enabled = QCheckBox("Send e-mail reminders to patients who agreed", box)
        form.addRow(self.enabled)
        self.host = QLineEdit(box)
        self.host.setPlaceholderText("smtp.example.org")
        self._row(form, "host", "Server", self.host)
        self.port = _spin(box, 1, _PORT_MAX)
        self._row(form, "port", "Port", self.port)
        self.security = QComboBox(box)
        for mode in SECURITY_MODES:
            self.security.addItem(SECURITY_LABELS[mode], mode)
        self._row(form, "security", "Security", self.security)
        self.username = QLineEdit(box)
        self._row(form, "username", "User name", self.username)
        self.password = QLineEdit(box)
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setPlaceholderText("kept as stored unless typed anew")
        self._row(form, "password", "Password", self.password)
        self.from_address = QLineEdit(box)
        self.from_address.setPlaceholderText("frontdesk@clinic.example")
        self._row(form, "from_address", "From address", self.from_address)
        return box

    def _build_message_box(self) -> QGroupBox:
        box = QGroupBox("The reminder and when it goes", self)
        form = QFormLayout(box)
        self.hours_before = _spin(box, 1, _NUMBER_MAX, " hours before the session")
        self._row(form, "hours_before", "Send", self.hours_before)
        self.max_attempts = _spin(box, 1, _NUMBER_MAX, " attempts")
        self._row(form, "max_attempts", "Try", self.max_attempts)
        self.backoff_minutes = _spin(box, 1, _NUMBER_MAX, " minutes, doubled each time")
        self._row(form, "backoff_minutes", "Retry after", self.backoff_minutes)
        self.send_every_minutes = _spin(box, 1, _NUMBER_MAX, " minutes, while KetaDesk runs")
        self._row(form, "send_every_minutes", "Send due messages every", self.send_every_minutes)
        self.subject = QLineEdit(box)
        self._row(form, "subject", "Subject", self.subject)
        self.body = QPlainTextEdit(box)
        self.body.setTabChangesFocus(True)
        self.body.setFixedHeight(self.body.fontMetrics().lineSpacing() * 7)
        self._row(form, "body", "Text", self.body)
        hint = QLabel(
            "Placeholders: "
            + ", ".join("{" + p + "}" for p in PLACEHOLDERS)
            + ". Nothing clinical: the calendar entry says only “Appointment”.",
            box,
        )
        hint.setWordWrap(True)
        form.addRow(hint)
        return box

    def _build_test_row(self) -> QWidget:
        row = QWidget(self)
        line = QHBoxLayout(row)
        line.setContentsMargins(0, 0, 0, 0)
        self.test_address = QLineEdit(row)
        self.test_address.setObjectName("field_test_address")
        self.test_address.setPlaceholderText("send a test to this address")
        self.test_button = QPushButton("Send a test message", row)
        self.test_button.clicked.connect(self._on_test_button_clicked)
        self.test_result = QLabel("", row)
        self.test_result.setWordWrap(True)
        line.addWidget(self.test_address, 1)
        line.addWidget(self.test_button)
        line.addWidget(self.test_result, 2)
        return row

    def _build_outbox_box(self) -> QGroupBox:
        box = QGroupBox("Messages sent, waiting or failed (newest first)", self)
        self.outbox_table = QTableWidget(0, len(OUTBOX_COLUMNS), box)
        self.outbox_table.setHorizontalHeaderLabels(OUTBOX_COLUMNS)
        self.outbox_table.verticalHeader().hide()
        self.outbox_table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        header = self.outbox_table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        layout = QVBoxLayout(box)
        layout.addWidget(self.outbox_table)
        return box

    # -- reading ----------------------------------------------------------------------------

    def refresh(self) -> None:
        if not self._allowed:
            return
        db, actor = self._desk.db, self._desk.actor

        def read() -> tuple[ReminderSettings, list[OutboxRow], ClinicDetails]:
            return read_reminder_settings(db), outbox(db, actor), clinic_details(db)

        self._reads.run(read, self._show)

    def _show(self, read: tuple[ReminderSettings, list[OutboxRow], ClinicDetails]) -> None:
        settings, rows, clinic = read
        self._timezone, self._time_format = clinic.timezone, clinic.time_format
        self._shown = settings
        self.enabled.setChecked(settings.enabled)
        self.host.setText(settings.host)
        self.port.setValue(settings.port)
        self.security.setCurrentIndex(max(0, self.security.findData(settings.security)))
        self.username.setText(settings.username)
        self.password.setText(settings.password)  # the mask, never the password
        self.from_address.setText(settings.from_address)
        self.hours_before.setValue(settings.hours_before)
        self.max_attempts.setValue(settings.max_attempts)
        self.backoff_minutes.setValue(settings.backoff_minutes)
        self.send_every_minutes.setValue(settings.send_every_minutes)
        self.subject.setText(settings.subject)
        self.body.setPlainText(settings.body)
        self.show_errors({})
        self.show_outbox(rows)

    def _local(self, instant: dt.datetime | None) -> str:
        if instant is None:
            return ""
        local = instant.astimezone(zoneinfo.ZoneInfo(self._timezone))
        return f"{local.month}/{local.day} {clock(local, self._time_format)}"

    def show_outbox(self, rows: list[OutboxRow]) -> None:
        self.outbox_table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            when = row.sent_at if row.status == "sent" else row.next_attempt_at
            cells = (
                self._local(row.starts_at),
                row.to_address,
                row.status,
                str(row.attempts),
                self._local(when) if row.status in ("sent", "queued") else "",
                row.last_error,
            )
            for c, text in enumerate(cells):
                self.outbox_table.setItem(r, c, QTableWidgetItem(text))

    # -- saving -----------------------------------------------------------------------------

    def settings(self) -> ReminderSettings:
        base = self._shown or ReminderSettings()
        return dataclasses.replace(
            base,
            enabled=self.enabled.isChecked(),
            host=self.host.text(),
            port=self.port.value(),
            security=str(self.security.currentData()),
            username=self.username.text(),
            password=self.password.text(),
            from_address=self.from_address.text(),
            hours_before=self.hours_before.value(),
            max_attempts=self.max_attempts.value(),
            backoff_minutes=self.backoff_minutes.value(),
            send_every_minutes=self.send_every_minutes.value(),
            subject=self.subject.text(),
            body=self.body.toPlainText(),
        )

    def is_dirty(self) -> bool:
        return self._shown is not None and self.settings() != self._shown

    def show_errors(self, errors: dict[str, str]) -> None:
        for name, label in self.errors.items():
            label.setText(errors.get(name, ""))
            label.setVisible(name in errors)
        unplaced = [m for k, m in errors.items() if k not in self.errors]
        if errors:
            self.message.setText(
                "Not saved: " + ("; ".join(unplaced) or "correct the marked fields.")
            )

    def save(self) -> None:
        if self._saving:
            return
        desk, wanted = self._desk, self.settings()

        def work() -> ReminderSettings | dict[str, str]:
            try:
                return save_reminder_settings(desk.db, desk.actor, wanted, now=desk.now())
            except InvalidFields as err:
                return err.errors

        self._saving = True
        self.save_button.setEnabled(False)
        run_service(
            self,
            work,
            self._on_saved,
            failed=self._on_refused,
            busy="Saving the reminder settings…",
            writes=True,
        )

    def _on_saved(self, outcome: ReminderSettings | dict[str, str]) -> None:
        self._saving = False
        self.save_button.setEnabled(True)
        if isinstance(outcome, dict):
            self.show_errors(outcome)
            self.not_saved.emit()
            return
        self.show_errors({})
        self._shown = outcome
        self.password.setText(outcome.password)
        self.message.setText("Saved.")
        self.saved.emit(1)

    def _on_refused(self, err: ServiceError) -> None:
        self._saving = False
        self.save_button.setEnabled(True)
        self.message.setText(f"Not saved: {err}")
        self.not_saved.emit()

    # -- the test message -------------------------------------------------------------------

    def _on_test_button_clicked(self) -> None:
        desk, address = self._desk, self.test_address.text()

        def work() -> str:
            try:
                return send_test_message(desk.db, desk.actor, address, now=desk.now())
            except InvalidFields as err:
                return "Not sent: " + "; ".join(err.errors.values())

        self.test_button.setEnabled(False)
        self.test_result.setText("Sending…")
        run_service(
            self,
            work,
            self._on_test_done,
            failed=self._on_test_refused,
            busy="Sending a test message…",
        )

    def _on_test_done(self, answer: str) -> None:
        self.test_button.setEnabled(True)
        self.test_result.setText(answer)

    def _on_test_refused(self, err: ServiceError) -> None:
        self.test_button.setEnabled(True)
        self.test_result.setText(f"Not sent: {err}")
