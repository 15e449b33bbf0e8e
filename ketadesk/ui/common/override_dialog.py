"""The one dialog in which a clinician overrides a clinic rule: the rules and facts that refused a
step (a drag, a keyboard move, a start, a make-up), and the reason, which is required.

The dialog decides nothing: the caller has already been told by the services which rules refused
and whether the signed-in role may override them; it asks the reason and hands it back, and the
service records the override (rule, reason, who, when) with the appointment.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from ketadesk.ui.common.sizing import ContentHeight

__all__ = ["OverrideDialog", "RefusedRule", "ask_override_reason"]


@dataclass(frozen=True, slots=True)
class RefusedRule:
    """One rule as the refusal named it: its code (the override key), title and fact."""

    code: str
    title: str
    fact: str


class OverrideDialog(QDialog):
    """Lists the refused rules, asks why the step should go ahead anyway; OK only with a reason."""

    def __init__(
        self,
        parent: QWidget | None,
        *,
        step: str,
        rules: Sequence[RefusedRule],
        actor_name: str,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Override the clinic's rules")
        self.setObjectName("override-dialog")
        items = "".join(
            f"<li><b>{_escape(r.title)}</b> [{_escape(r.code)}]: {_escape(r.fact)}</li>"
            for r in rules
        )
        heading = QLabel(
            f"<p>The clinic's rules refuse to <b>{_escape(step)}</b>:</p><ul>{items}</ul>"
            f"<p>Signed in as <b>{_escape(actor_name)}</b>, you may go ahead with a reason. "
            "The reason is recorded with the appointment, in the audit trail and on the day "
            "sheet.</p>"
        )
        heading.setWordWrap(True)
        heading.setObjectName("override-rules")
        self._reason = QPlainTextEdit()
        self._reason.setObjectName("override-reason")
        self._reason.setPlaceholderText("Why go ahead (required)")
        self._reason.setAccessibleName("Reason for the override")
        self._reason.setFixedHeight(self.fontMetrics().lineSpacing() * 4 + 12)
        self._buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        ok = self._buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setText("Override and go ahead")
        ok.setEnabled(False)
        self._buttons.accepted.connect(self.accept)
        self._buttons.rejected.connect(self.reject)
        self._reason.textChanged.connect(
            lambda: ok.setEnabled(bool(self._reason.toPlainText().strip()))
        )
        layout = QVBoxLayout(self)
        layout.addWidget(heading)
        layout.addWidget(QLabel("Reason:"))
        layout.addWidget(self._reason)
        layout.addWidget(self._buttons)
        ContentHeight(self)  # every refused rule shown, however many lines they wrap to
        self.setMinimumWidth(self.fontMetrics().averageCharWidth() * 64)

    def reason(self) -> str:
        return self._reason.toPlainText().strip()

    def set_reason(self, text: str) -> None:
        """For tests and the keyboard: the reason as if typed."""
        self._reason.setPlainText(text)


def ask_override_reason(
    parent: QWidget | None, *, step: str, rules: Sequence[RefusedRule], actor_name: str
) -> str | None:
    """The reason given in the dialog, or None when cancelled. Tests replace this function
    (``monkeypatch.setattr(override_dialog, "ask_override_reason", ...)``) rather than drive a
    modal loop."""
    dialog = OverrideDialog(parent, step=step, rules=rules, actor_name=actor_name)
    if dialog.exec() != QDialog.DialogCode.Accepted:
        return None
    return dialog.reason() or None


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
