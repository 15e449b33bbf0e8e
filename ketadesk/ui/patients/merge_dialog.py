"""Merging a duplicate chart into the one to keep (administrators): choose the chart to keep,
see what would move, then merge.

The dialog holds no rules: ``services.patients.merge`` says what moves, what stands in the way
(overlapping sessions, a chart already merged) and does the merge in one transaction.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Signal
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ketadesk.services.common.context import ServiceError
from ketadesk.services.patients.merge import MergePreview, merge_patients, preview_merge
from ketadesk.ui.common.background import run_service
from ketadesk.ui.common.desk import Desk
from ketadesk.ui.common.sizing import fixed_minimum
from ketadesk.ui.patients.patient_search import PatientPicker

DIALOG_MINIMUM = QSize(520, 460)


def describe_preview(preview: MergePreview) -> str:
    """The preview in words, for the dialog (plain text)."""
    kept, merged = preview.kept, preview.merged
    moves = [f"{count} {label}" for label, count in preview.moves if count]
    lines = [
        f"Keep chart {kept.chart_number}: {kept.name}"
        + (f", born {kept.date_of_birth}" if kept.date_of_birth else ""),
        f"Merge chart {merged.chart_number}: {merged.name}"
        + (f", born {merged.date_of_birth}" if merged.date_of_birth else ""),
        "",
        "Moves to the kept chart: " + (", ".join(moves) if moves else "nothing recorded yet") + ".",
        f"Chart {merged.chart_number} stays, inactive, marked as merged into "
        f"chart {kept.chart_number}. The audit trail keeps every event as it was written.",
    ]
    if preview.refusal:
        lines += ["", f"Cannot merge: {preview.refusal}."]
    return "\n".join(lines)


class MergePatientsDialog(QDialog):
    """Merge chart ``merged_id`` into a chart chosen here.

    Signals:
        previewed(object): the MergePreview shown (None when refused).
        merged(int): the kept chart's id, once merged.
    """

    previewed = Signal(object)
    merged = Signal(int)

    def __init__(self, desk: Desk, merged_id: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._desk = desk
        self.merged_id = merged_id
        self.kept_id: int | None = None
        self.preview: MergePreview | None = None
        self.setObjectName("merge_patients_dialog")
        self.setWindowTitle("Merge into another chart")
        intro = QLabel(
            "Find the chart to keep. Everything recorded under this chart moves to it.", self
        )
        intro.setWordWrap(True)
        self.picker = PatientPicker(desk, self)
        self.picker.new_button.setVisible(False)  # merging is into a chart that exists
        self.preview_label = QLabel("Choose the chart to keep.", self)
        self.preview_label.setObjectName("merge_preview")
        self.preview_label.setWordWrap(True)
        self.merge_button = QPushButton("&Merge", self)
        self.merge_button.setEnabled(False)
        close = QPushButton("Close", self)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.merge_button)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.picker, 1)
        layout.addWidget(self.preview_label)
        layout.addLayout(buttons)
        self.resize(620, 560)
        fixed_minimum(self, DIALOG_MINIMUM)
        self.picker.patient_chosen.connect(self._on_picker_patient_chosen)
        self.merge_button.clicked.connect(self._on_merge_button_clicked)
        close.clicked.connect(self.reject)

    def choose(self, kept_id: int) -> None:
        """Preview merging into ``kept_id`` (read on a worker)."""
        desk, merged_id = self._desk, self.merged_id
        self.kept_id = kept_id
        self.preview = None
        self.merge_button.setEnabled(False)
        run_service(
            self,
            lambda: preview_merge(desk.db, desk.actor, kept_id, merged_id),
            self._on_previewed,
            failed=self._on_refused,
            busy="Reading both charts…",
        )

    def _on_picker_patient_chosen(self, patient_id: int) -> None:
        self.choose(patient_id)

    def _on_previewed(self, preview: MergePreview) -> None:
        self.preview = preview
        self.preview_label.setText(describe_preview(preview))
        self.merge_button.setEnabled(not preview.refusal)
        self.previewed.emit(preview)

    def _on_refused(self, err: ServiceError) -> None:
        self.preview_label.setText(f"Cannot merge: {err}")
        self.merge_button.setEnabled(False)
        self.previewed.emit(None)

    def _on_merge_button_clicked(self) -> None:
        kept_id = self.kept_id
        if kept_id is None or self.preview is None or self.preview.refusal:
            return
        desk, merged_id = self._desk, self.merged_id
        self.merge_button.setEnabled(False)
        run_service(
            self,
            lambda: merge_patients(desk.db, desk.actor, kept_id, merged_id, now=desk.now()),
            self._on_merged,
            failed=self._on_refused,
            busy="Merging the charts…",
            writes=True,
        )

    def _on_merged(self, _preview: MergePreview) -> None:
        assert self.kept_id is not None
        self.merged.emit(self.kept_id)
        self.accept()
