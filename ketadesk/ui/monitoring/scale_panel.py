"""The timed sedation (MOAA/S) and dissociation (CADSS) readings of a session, inside its
monitoring record: what is owed next and what was missed, the readings taken (time, scale,
score, by whom), and a quick entry: a score and Enter records it, taken now (or at a typed
time).  A reading is saved the moment it is entered, apart from the record's Save.  A reading
typed wrong is corrected (chosen, then *Correct…* or a double-click: the right score and why,
``scale_correction.py``); it stays listed at its time by its corrected score, with "corrected
from 2: typo (…)".

The words and the rules are the services' (``services/monitoring/scale_readings.py``); this
widget shows them and sends what is typed.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QKeyEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ketadesk.services.common.context import InvalidFields, ServiceError, may
from ketadesk.services.monitoring import scale_readings
from ketadesk.services.monitoring.record_forms import ScaleRow, ScaleSheet
from ketadesk.ui.common.background import run_service
from ketadesk.ui.common.desk import Desk
from ketadesk.ui.monitoring import scale_correction

if TYPE_CHECKING:
    from typing_extensions import override
else:

    def override(method: Any) -> Any:
        return method


#: The table's columns, in order.
COLUMNS = ("Time", "Scale", "Score", "Recorded by")
#: Beside a reading entered late, here and on the record's BP rows (its tooltip says when and
#: by whom).
LATE_MARK = "✎ late entry"


class ScalePanel(QGroupBox):
    """The session's scale readings and their quick entry.

    Signals:
        recorded(int): the appointment a reading was recorded for.

    Attributes:
        sheet: the readings and what is owed, as the service last returned them.
        message: the last refusal or confirmation shown under the entry (for tests).
    """

    recorded = Signal(int)

    def __init__(
        self,
        desk: Desk,
        appointment_id: int,
        sheet: ScaleSheet,
        clock: Callable[[dt.datetime], str],
        parent: QWidget | None = None,
    ) -> None:
        """``clock``: turns an instant into the clinic's time of day (``RecordRules.clock``)."""
        super().__init__("Sedation and dissociation scales", parent)
        self.setObjectName("scale_panel")
        self._desk = desk
        self._id = appointment_id
        self._clock = clock
        self.sheet = sheet
        self.message = ""
        self._busy = False
        self._build_owed()
        self._build_entry()
        self._build_table()
        layout = QVBoxLayout(self)
        layout.addWidget(self._owed)
        layout.addWidget(self._missed)
        layout.addLayout(self._entry_row)
        layout.addWidget(self._anchor)
        layout.addWidget(self._message)
        layout.addWidget(self._table)
        layout.addLayout(self._table_actions)
        self._connect()
        self._show(sheet)

    # -- building ----------------------------------------------------------------------------

    def _build_owed(self) -> None:
        self._owed = QLabel(self)
        self._owed.setObjectName("scale_owed")
        self._owed.setWordWrap(True)
        self._missed = QLabel(self)
        self._missed.setObjectName("scale_missed")
        self._missed.setWordWrap(True)
        self._missed.setStyleSheet("color: #c62828; font-weight: bold;")

    def _build_entry(self) -> None:
        self._scale = QComboBox(self)
        self._scale.setAccessibleName("Scale")
        for code, name in self.sheet.scales.items():
            self._scale.addItem(name, code)
        self._score = QLineEdit(self)
        self._score.setObjectName("scale_score")
        self._score.setAccessibleName("Score")
        self._score.setMaximumWidth(90)
        self._score.setToolTip("Alt+O from anywhere in the record; type the score and press Enter")
        self._taken = QLineEdit(self)
        self._taken.setObjectName("scale_taken")
        self._taken.setAccessibleName("Time taken (blank: now)")
        self._taken.setPlaceholderText("now")
        self._taken.setMaximumWidth(110)
        self._record = QPushButton("Record", self)
        self._record.setAccessibleName("Record the scale reading")
        self._record.setAutoDefault(False)
        self._entry_row = QHBoxLayout()
        self._entry_row.addWidget(QLabel("Scale", self))
        self._entry_row.addWidget(self._scale)
        self._entry_row.addWidget(QLabel("Score", self))
        self._entry_row.addWidget(self._score)
        self._entry_row.addWidget(QLabel("Taken at", self))
        self._entry_row.addWidget(self._taken)
        self._entry_row.addWidget(self._record)
        self._entry_row.addStretch(1)
        self._anchor = QLabel(self)
        self._anchor.setObjectName("scale_anchor")
        self._anchor.setWordWrap(True)
        self._message = QLabel(self)
        self._message.setObjectName("scale_message")
        self._message.setWordWrap(True)
        self._message.setVisible(False)
        if not may(self._desk.actor, "record_monitoring"):
            for widget in (self._scale, self._score, self._taken, self._record):
                widget.setEnabled(False)
            self._record.setToolTip("Only nurses and prescribers record monitoring")

    def _build_table(self) -> None:
        self._table = QTableWidget(0, len(COLUMNS), self)
        self._table.setObjectName("scale_readings")
        self._table.setAccessibleName("Scale readings taken")
        self._table.setHorizontalHeaderLabels(list(COLUMNS))
        self._table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self._table.verticalHeader().setVisible(False)
        header = self._table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)  # the score's words
        self._table.setMinimumHeight(90)
        self._table.setMaximumHeight(170)
        self._table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self._table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self._correct = QPushButton("Correct…", self)
        self._correct.setObjectName("scale_correct")
        self._correct.setAccessibleName("Correct the chosen scale reading")
        self._correct.setToolTip(
            "A reading typed wrong: the right score and why (the reading as recorded stays)"
        )
        self._correct.setAutoDefault(False)
        self._correct.setEnabled(False)
        self._table_actions = QHBoxLayout()
        self._table_actions.addWidget(self._correct)
        self._table_actions.addStretch(1)

    def _connect(self) -> None:
        self._record.clicked.connect(self._on_record_clicked)
        self._correct.clicked.connect(self._on_correct_clicked)
        self._table.itemSelectionChanged.connect(self._on_table_selection_changed)
        self._table.cellDoubleClicked.connect(self._on_table_cell_double_clicked)
        self._scale.currentIndexChanged.connect(self._on_scale_changed)
        self._score.textChanged.connect(self._on_score_text_changed)
        # Alt+O: to the score from anywhere in the record, then a score and Enter.
        self.score_shortcut = QShortcut(QKeySequence("Alt+O"), self, self._on_score_shortcut)
        # Enter in the score or the time records the reading; the dialog's Save must not take it.
        self._score.installEventFilter(self)
        self._taken.installEventFilter(self)

    def _on_score_shortcut(self) -> None:
        self._score.setFocus()
        self._score.selectAll()

    # -- showing -----------------------------------------------------------------------------

    def _show(self, sheet: ScaleSheet) -> None:
        self.sheet = sheet
        if sheet.dose_recorded:
            owed = f"Next: {sheet.next_words}" if sheet.next_words else "All scale readings taken"
        else:
            owed = f"Owed from the dose start: {sheet.plan_words}"
        self._owed.setText(owed)
        self._missed.setText(f"⚠ {sheet.missed_words}" if sheet.missed_words else "")
        self._missed.setVisible(bool(sheet.missed_words))
        self._table.setRowCount(len(sheet.readings))
        for row, reading in enumerate(sheet.readings):
            score = _score_text(reading)
            taken = self._clock(reading.taken_at)
            if reading.entered:  # entered well after it was taken: said as the paper says it
                taken += f" {LATE_MARK}"
            for column, text in enumerate((taken, reading.scale_name, score, reading.recorded_by)):
                item = QTableWidgetItem(text)
                item.setToolTip(
                    f"Late entry: {reading.entered}" if reading.entered and not column else text
                )
                self._table.setItem(row, column, item)
        self._on_scale_changed()
        self._on_table_selection_changed()

    def _code(self) -> str:
        return str(self._scale.currentData())

    def _on_scale_changed(self) -> None:
        code = self._code()
        self._score.setPlaceholderText(f"0-{self.sheet.highest.get(code, 0)}")
        self._on_score_text_changed(self._score.text())

    def _on_score_text_changed(self, text: str) -> None:
        """Under the entry: the MOAA/S anchor of the score typed, else the scale's range."""
        code = self._code()
        value = text.strip()
        if code == "moaas" and value.isdigit() and int(value) in self.sheet.anchors:
            self._anchor.setText(f"{value}: {self.sheet.anchors[int(value)]}")
        elif code == "moaas":
            words = "; ".join(f"{k} {v}" for k, v in sorted(self.sheet.anchors.items()))
            self._anchor.setText(f"MOAA/S: {words}")
        else:
            self._anchor.setText(
                f"{self.sheet.scales.get(code, '')}: total score 0-"
                f"{self.sheet.highest.get(code, 0)}"
            )

    # -- recording ---------------------------------------------------------------------------

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (
            event.type() == QEvent.Type.KeyPress
            and isinstance(event, QKeyEvent)
            and event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
            and watched in (self._score, self._taken)
        ):
            self._on_record_clicked()
            return True
        return super().eventFilter(watched, event)

    def _on_record_clicked(self) -> None:
        if self._busy or not self._record.isEnabled():
            return
        desk, appointment_id = self._desk, self._id
        scale, score, taken = self._code(), self._score.text(), self._taken.text()
        self._busy = True
        run_service(
            self,
            lambda: scale_readings.record_scale_reading(
                desk.db, desk.actor, appointment_id, scale, score, taken=taken, now=desk.now()
            ),
            self._on_recorded,
            failed=self._on_refused,
            busy="Recording the reading…",
            writes=True,
        )

    def is_recording(self) -> bool:
        return self._busy

    def _on_recorded(self, sheet: ScaleSheet) -> None:
        self._busy = False
        last = sheet.just_recorded
        self._say(
            f"Recorded {last.score_words} at {self._clock(last.taken_at)}"
            if last is not None
            else "Recorded",
            error=False,
        )
        self._score.clear()
        self._taken.clear()
        self._show(sheet)
        self._score.setFocus()
        self.recorded.emit(self._id)

    def _on_refused(self, err: ServiceError) -> None:
        """Refused: the problem named, what was typed kept."""
        self._busy = False
        text = "; ".join(err.errors.values()) if isinstance(err, InvalidFields) else str(err)
        self._say(f"Not recorded: {text}", error=True)

    def _say(self, text: str, *, error: bool) -> None:
        self.message = text
        colour = "#c62828" if error else "#2e7d32"
        self._message.setStyleSheet(f"color: {colour};")
        self._message.setText(html.escape(text))
        self._message.setAccessibleName(text)
        self._message.setVisible(True)

    # -- correcting --------------------------------------------------------------------------

    def _may_record(self) -> bool:
        return may(self._desk.actor, "record_monitoring")

    def _chosen(self) -> ScaleRow | None:
        rows = self._table.selectionModel().selectedRows()
        if not rows or not 0 <= rows[0].row() < len(self.sheet.readings):
            return None
        return self.sheet.readings[rows[0].row()]

    def _on_table_selection_changed(self) -> None:
        self._correct.setEnabled(
            self._may_record() and not self._busy and self._chosen() is not None
        )

    def _on_table_cell_double_clicked(self, _row: int, _column: int) -> None:
        self._on_correct_clicked()

    def _on_correct_clicked(self) -> None:
        reading = self._chosen()
        if reading is None or self._busy or not self._may_record():
            return
        self._ask_correction(reading, None, "")

    def _ask_correction(
        self, reading: ScaleRow, typed: scale_correction.CorrectionAnswer | None, problem: str
    ) -> None:
        """Ask the right score and why (again, with what was typed and the refusal, when the
        service refused it), then send it."""
        answer = scale_correction.ask_correction(
            self,
            reading=reading,
            clock=self._clock,
            highest=self.sheet.highest.get(reading.scale, 0),
            anchors=self.sheet.anchors,
            answer=typed,
            problem=problem,
        )
        if answer is None:
            return
        desk = self._desk
        self._busy = True
        self._correct.setEnabled(False)
        run_service(
            self,
            lambda: scale_readings.correct_scale_reading(
                desk.db, desk.actor, reading.reading_id, answer.score, answer.reason, now=desk.now()
            ),
            lambda sheet: self._on_corrected(reading, answer, sheet),
            failed=lambda err: self._on_correction_refused(reading, answer, err),
            busy="Correcting the reading…",
            writes=True,
        )

    def _on_corrected(
        self, before: ScaleRow, answer: scale_correction.CorrectionAnswer, sheet: ScaleSheet
    ) -> None:
        self._busy = False
        after = sheet.just_recorded
        score = after.score if after is not None else answer.score
        self._say(
            f"Corrected {before.scale_name} {before.score} to {score} at "
            f"{self._clock(before.taken_at)}: {answer.reason}",
            error=False,
        )
        self._show(sheet)
        self.recorded.emit(self._id)

    def _on_correction_refused(
        self, reading: ScaleRow, answer: scale_correction.CorrectionAnswer, err: ServiceError
    ) -> None:
        """Refused: asked again with what was typed and the problem named (nothing lost); a
        refusal of the reading itself (corrected meanwhile) is said in the panel."""
        self._busy = False
        self._on_table_selection_changed()
        if isinstance(err, InvalidFields):
            self._ask_correction(reading, answer, "; ".join(err.errors.values()))
        else:
            self._say(f"Not corrected: {err}", error=True)

    # -- for tests ---------------------------------------------------------------------------

    def correct_button(self) -> QPushButton:
        return self._correct

    def select_row(self, row: int) -> None:
        self._table.selectRow(row)

    def score_editor(self) -> QLineEdit:
        return self._score

    def time_editor(self) -> QLineEdit:
        return self._taken

    def choose(self, scale: str) -> None:
        self._scale.setCurrentIndex(self._scale.findData(scale))

    def owed_text(self) -> str:
        return self._owed.text()

    def missed_text(self) -> str:
        return self._missed.text()

    def anchor_text(self) -> str:
        return self._anchor.text()

    def rows(self) -> list[tuple[str, ...]]:
        table = self._table
        out = []
        for r in range(table.rowCount()):
            cells = [table.item(r, c) for c in range(table.columnCount())]
            out.append(tuple(cell.text() if cell is not None else "" for cell in cells))
        return out


def _score_text(reading: ScaleRow) -> str:
    """The score cell: "4 — lethargic response …", and for a corrected reading "; corrected
    from 2: typo (Lee Park, 1:20 PM)"."""
    text = str(reading.score) + (f" — {reading.anchor}" if reading.anchor else "")
    return f"{text}; {reading.correction}" if reading.correction else text
