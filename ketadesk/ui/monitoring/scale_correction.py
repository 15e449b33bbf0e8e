"""Correcting a scale reading typed wrong (MOAA/S 2 for 4): the right score and why, asked in
a small dialog.  The reading as first recorded stays in the record, marked corrected.

The dialog decides nothing: it shows the reading, asks the score and the reason and hands them
back; the service (``scale_readings.correct_scale_reading``) judges and records them, and a
refusal comes back here with what was typed, named under the fields.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ketadesk.services.monitoring.record_forms import ScaleRow
from ketadesk.ui.common.sizing import fit_dialog

__all__ = ["CorrectionAnswer", "ScaleCorrectionDialog", "ask_correction"]


@dataclass(frozen=True, slots=True)
class CorrectionAnswer:
    """The right score and the reason, as typed."""

    score: str
    reason: str


class ScaleCorrectionDialog(QDialog):
    """The reading to correct, the right score (with MOAA/S's anchor words as it is typed) and
    the reason; OK only with both, a refusal of the service said under them."""

    def __init__(
        self,
        parent: QWidget | None,
        *,
        reading: ScaleRow,
        clock: Callable[..., str],
        highest: int,
        anchors: Mapping[int, str],
        answer: CorrectionAnswer | None = None,
        problem: str = "",
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Correct a scale reading")
        self.setObjectName("scale-correction")
        self._anchors = anchors if reading.scale == "moaas" else {}
        self._highest = highest
        who = f", recorded by {reading.recorded_by}" if reading.recorded_by else ""
        heading = QLabel(
            f"<p><b>{html.escape(reading.score_words)}</b>, taken "
            f"{html.escape(clock(reading.taken_at))}{html.escape(who)}.</p>"
            "<p>The reading as recorded stays in the record, marked corrected with your "
            "reason; the board and the discharge use the corrected score.</p>"
        )
        heading.setWordWrap(True)
        heading.setObjectName("scale-correction-reading")
        self._score = QLineEdit(answer.score if answer is not None else "")
        self._score.setObjectName("scale-correction-score")
        self._score.setAccessibleName(f"Corrected {reading.scale_name} score")
        self._score.setPlaceholderText(f"0-{highest}")
        self._score.setMaximumWidth(90)
        self._anchor = QLabel()
        self._anchor.setObjectName("scale-correction-anchor")
        self._reason = QLineEdit(answer.reason if answer is not None else "")
        self._reason.setObjectName("scale-correction-reason")
        self._reason.setAccessibleName("Why the reading is corrected")
        self._reason.setPlaceholderText("Why (required): e.g. typo, 4 meant")
        self._problem = QLabel(html.escape(problem))
        self._problem.setObjectName("scale-correction-problem")
        self._problem.setWordWrap(True)
        self._problem.setStyleSheet("color: #c62828;")
        self._problem.setVisible(bool(problem))
        self._buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self._ok = self._buttons.button(QDialogButtonBox.StandardButton.Ok)
        self._ok.setText("Correct the reading")
        self._buttons.accepted.connect(self.accept)
        self._buttons.rejected.connect(self.reject)
        self._score.textChanged.connect(self._on_answer_changed)
        self._reason.textChanged.connect(self._on_answer_changed)
        score_row = QHBoxLayout()
        score_row.addWidget(self._score)
        score_row.addWidget(self._anchor, 1)
        form = QFormLayout()
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.DontWrapRows)
        form.addRow(f"Correct {reading.scale_name}:", score_row)
        form.addRow("Reason:", self._reason)
        layout = QVBoxLayout(self)
        layout.addWidget(heading)
        layout.addLayout(form)
        layout.addWidget(self._problem)
        layout.addWidget(self._buttons)
        self._on_answer_changed()
        # As tall as its content at its width; a refusal that wraps makes the window taller.
        fit_dialog(self, self.fontMetrics().averageCharWidth() * 90)
        self._score.setFocus()

    def answer(self) -> CorrectionAnswer:
        return CorrectionAnswer(self._score.text().strip(), self._reason.text().strip())

    def set_answer(self, answer: CorrectionAnswer) -> None:
        """For tests and the keyboard: the answer as if typed."""
        self._score.setText(answer.score)
        self._reason.setText(answer.reason)

    def problem_text(self) -> str:
        return self._problem.text()

    def anchor_text(self) -> str:
        return self._anchor.text()

    def ok_button(self) -> QPushButton:
        return self._ok

    def _on_answer_changed(self, *_args: object) -> None:
        answer = self.answer()
        self._ok.setEnabled(bool(answer.score) and bool(answer.reason))
        if answer.score.isdigit() and int(answer.score) in self._anchors:
            self._anchor.setText(f"{answer.score}: {self._anchors[int(answer.score)]}")
        elif self._anchors:
            self._anchor.setText(f"0-{self._highest}: type the score to see its words")
        else:
            self._anchor.setText(f"total score 0-{self._highest}")


def ask_correction(
    parent: QWidget | None,
    *,
    reading: ScaleRow,
    clock: Callable[..., str],
    highest: int,
    anchors: Mapping[int, str],
    answer: CorrectionAnswer | None = None,
    problem: str = "",
) -> CorrectionAnswer | None:
    """The score and reason given, or None when cancelled; ``answer`` and ``problem``: what was
    typed before and why the service refused it.  Tests replace this function
    (``monkeypatch.setattr(scale_correction, "ask_correction", ...)``) rather than drive a
    modal loop."""
    dialog = ScaleCorrectionDialog(
        parent,
        reading=reading,
        clock=clock,
        highest=highest,
        anchors=anchors,
        answer=answer,
        problem=problem,
    )
    if dialog.exec() != QDialog.DialogCode.Accepted:
        return None
    return dialog.answer()
