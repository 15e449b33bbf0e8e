"""The one question before a session is cancelled: it names the session (patient, type, date,
time) and answers with verbs, "Cancel session" or "Keep", never OK/Cancel (whose "Cancel" would
mean the opposite of the cancellation asked about)."""

from __future__ import annotations

import datetime as dt

from PySide6.QtWidgets import QInputDialog, QLineEdit, QWidget

from ketadesk.scheduling.dates import clock
from ketadesk.ui.common.dates import short_date

CANCEL_TEXT = "Cancel session"
KEEP_TEXT = "Keep"


def cancel_prompt(
    patient_name: str, session_type: str, start: dt.datetime, time_format: str
) -> str:
    """ "Cancel the IV ketamine infusion on Tue Dec 8 at 10:00 AM for Lovelace, Ada? Why is it
    cancelled? (kept with the appointment)" (``start`` in the clinic's time and format)."""
    at = clock(start, time_format)
    return (
        f"Cancel the {session_type} on {short_date(start)} at {at} for {patient_name}?\n"
        "Why is it cancelled? (kept with the appointment)"
    )


def cancel_dialog(parent: QWidget | None, prompt: str) -> QInputDialog:
    dialog = QInputDialog(parent)
    dialog.setWindowTitle(CANCEL_TEXT)
    dialog.setLabelText(prompt)
    dialog.setTextEchoMode(QLineEdit.EchoMode.Normal)
    dialog.setOkButtonText(CANCEL_TEXT)
    dialog.setCancelButtonText(KEEP_TEXT)
    return dialog


def ask_cancel_reason(
    parent: QWidget | None,
    patient_name: str,
    session_type: str,
    start: dt.datetime,
    time_format: str,
) -> str | None:
    """Why the session is cancelled, asked again while empty (a cancellation needs a reason);
    None when the user keeps the session."""
    prompt = cancel_prompt(patient_name, session_type, start, time_format)
    while True:
        dialog = cancel_dialog(parent, prompt)
        try:
            if not dialog.exec():
                return None
            reason = dialog.textValue().strip()
        finally:
            dialog.deleteLater()
        if reason:
            return reason
        prompt = cancel_prompt(patient_name, session_type, start, time_format).replace(
            "Why is it cancelled?", "A cancellation needs a reason: why is it cancelled?"
        )
