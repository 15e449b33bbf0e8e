"""Entering an outcome measure (PHQ-9, GAD-7): every item with its answers, a live total and
severity band, and an urgent answer (PHQ-9 item 9) shown where nobody can miss it.

Each item's answers are radio buttons in their own group: Tab moves from item to item, the
arrow keys choose within one, and the digit keys answer the item that has the focus.  The
instrument (items, answers, bands, urgent rules) comes from measures.toml through the services.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeyEvent, QKeySequence, QPalette, QShortcut, QTextDocumentFragment
from PySide6.QtWidgets import (
    QButtonGroup,
    QDialog,
    QDialogButtonBox,
    QFrame,
    QGridLayout,
    QLabel,
    QLayout,
    QRadioButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from ketadesk.scheduling.measures import InstrumentSpec, MeasureError, score
from ketadesk.services.common.context import InvalidFields, ServiceError, may
from ketadesk.services.monitoring import measurements
from ketadesk.services.monitoring.measurements import MeasureSubject, SavedMeasure, item_field
from ketadesk.ui.common.background import run_service
from ketadesk.ui.common.dates import us_date
from ketadesk.ui.common.desk import Desk
from ketadesk.ui.common.qt_workarounds import keep_none_alive
from ketadesk.ui.monitoring.monitoring_dialog import message_colors

if TYPE_CHECKING:
    from typing_extensions import override
else:  # typing.override is Python 3.12+; the decorator only informs the type checker.
    _F = TypeVar("_F")

    def override(method: _F) -> _F:
        return method


def urgent_messages(spec: InstrumentSpec, answers: list[int | None]) -> list[str]:
    """The urgent answers given so far (before every item is answered), in plain words."""
    found = []
    for rule in spec.urgent:
        answer = answers[rule.item - 1]
        if answer is not None and answer > rule.above:
            found.append(f"{spec.name} item {rule.item} answered {answer}: {rule.reason}")
    return found


class _AnswerButton(QRadioButton):
    """A radio button that lets a digit key answer its item (the button's group decides)."""

    def __init__(self, text: str, parent: QWidget, item: int) -> None:
        # Made with its parent, and holding no reference to the dialog: a button owned by
        # Python that pointed back at its dialog made a reference cycle, and the garbage
        # collector freeing that cycle freed the button twice (a crash, seen in CI).
        super().__init__(text, parent)
        self._item = item

    @override
    def keyPressEvent(self, event: QKeyEvent) -> None:
        text = event.text()
        dialog = self.window()
        if (
            text.isdigit()
            and isinstance(dialog, MeasureDialog)
            and dialog.answer_by_key(self._item, int(text))
        ):
            return
        super().keyPressEvent(event)


class MeasureDialog(QDialog):
    """One questionnaire for one patient (optionally for one appointment).

    Signals:
        saved(object): the SavedMeasure the service returned.

    Attributes:
        spec: the instrument.
        item_errors: the message shown at each item now, by item number (1-based).
        saved_measure: the SavedMeasure once saved, else None.
    """

    saved = Signal(object)

    def __init__(
        self,
        desk: Desk,
        subject: MeasureSubject,
        instrument: str,
        appointment_id: int | None = None,
        parent: QWidget | None = None,
    ) -> None:
        """``subject``: whose answers these are, read before (``open_for``): the form names
        the patient from the moment it opens."""
        super().__init__(parent)
        keep_none_alive()
        self._desk = desk
        self._patient_id = subject.patient_id
        self._appointment_id = appointment_id
        self.spec: InstrumentSpec = measurements.instrument(instrument)
        self.item_errors: dict[int, str] = {}
        self.saved_measure: SavedMeasure | None = None
        spec = self.spec
        self.setObjectName("measure_dialog")
        self.setWindowTitle(f"{spec.name} — {spec.title}")

        # Whose answers these are, above everything else (the form once named nobody).
        self._subject = QLabel(self)
        self._subject.setObjectName("measure_subject")
        self._subject.setWordWrap(True)
        self._subject.setTextFormat(Qt.TextFormat.RichText)
        title = QLabel(f"<b>{spec.name}</b> — {spec.title}", self)
        title.setWordWrap(True)
        period = QLabel(spec.period, self)
        period.setWordWrap(True)

        self._urgent = QLabel(self)
        self._urgent.setObjectName("measure_urgent")
        self._urgent.setWordWrap(True)
        self._urgent.setVisible(False)
        self._urgent.setFrameShape(QFrame.Shape.Box)
        self._urgent.setMargin(8)

        items = QWidget(self)
        grid = QGridLayout(items)
        grid.setHorizontalSpacing(12)
        grid.setVerticalSpacing(4)
        labels = spec.answers or tuple(str(v) for v in range(spec.item_min, spec.item_max + 1))
        for column, words in enumerate(labels, start=1):
            header = QLabel(f"<b>{words}</b>", items)
            header.setWordWrap(True)
            header.setAlignment(Qt.AlignmentFlag.AlignCenter)
            grid.addWidget(header, 0, column)
        self._groups: list[QButtonGroup] = []
        self._messages: list[QLabel] = []
        self._prompts: list[QLabel] = []
        urgent_items = {rule.item for rule in spec.urgent}
        for number, prompt in enumerate(spec.items, start=1):
            row = 1 + (number - 1) * 2
            text = QLabel(f"{number}. {prompt}", items)
            text.setWordWrap(True)
            if number in urgent_items:
                font = text.font()
                font.setBold(True)
                text.setFont(font)
            grid.addWidget(text, row, 0)
            self._prompts.append(text)
            group = QButtonGroup(self)
            group.setExclusive(True)
            for column, value in enumerate(range(spec.item_min, spec.item_max + 1), start=1):
                button = _AnswerButton("", items, number)
                button.setAccessibleName(f"Item {number}, {labels[column - 1]} ({value})")
                button.setToolTip(f"{labels[column - 1]} ({value})")
                group.addButton(button, value)
                grid.addWidget(button, row, column, Qt.AlignmentFlag.AlignCenter)
            group.idToggled.connect(self._on_group_id_toggled)
            self._groups.append(group)
            message = QLabel(items)
            message.setVisible(False)
            message.setObjectName(f"message_item{number}")
            grid.addWidget(message, row + 1, 0, 1, 1 + len(labels))
            self._messages.append(message)
        grid.setColumnStretch(0, 1)
        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(items)

        self._total = QLabel(self)
        self._total.setObjectName("measure_total")
        font = self._total.font()
        font.setPointSizeF(font.pointSizeF() * 1.25)
        font.setBold(True)
        self._total.setFont(font)
        self._status = QLabel(self)
        self._status.setWordWrap(True)

        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel, self
        )
        self._save = buttons.button(QDialogButtonBox.StandardButton.Save)
        self._save.setAccessibleName(f"Save the {spec.name}")
        buttons.accepted.connect(self._on_save_clicked)
        buttons.rejected.connect(self.reject)
        if not may(desk.actor, "enter_measure"):
            self._save.setEnabled(False)
            self._save.setToolTip("Only clinicians enter outcome measures")
        QShortcut(QKeySequence.StandardKey.Save, self, self._on_save_clicked)

        layout = QVBoxLayout(self)
        layout.setSizeConstraint(QLayout.SizeConstraint.SetNoConstraint)
        layout.addWidget(self._subject)
        layout.addWidget(title)
        layout.addWidget(period)
        layout.addWidget(self._urgent)
        layout.addWidget(scroll, 1)
        layout.addWidget(self._total)
        layout.addWidget(self._status)
        layout.addWidget(buttons)
        self._refresh()
        self.resize(820, 640)
        self.show_subject(subject)

    @classmethod
    def open_for(
        cls,
        desk: Desk,
        patient_id: int,
        instrument: str,
        appointment_id: int | None,
        parent: QWidget | None,
        then: Callable[[MeasureDialog], None],
    ) -> None:
        """Read whose answers these are on a worker, then make the dialog and hand it to
        ``then`` (which opens it): it opens naming the patient.  Tests may replace this."""
        db, now = desk.db, desk.now()

        def read() -> MeasureSubject:
            return measurements.measure_subject(db, patient_id, appointment_id, now=now)

        def opened(subject: MeasureSubject) -> None:
            then(cls(desk, subject, instrument, appointment_id, parent))

        run_service(parent, read, opened, busy="Opening the questionnaire…")

    def show_subject(self, subject: MeasureSubject) -> None:
        """Name the patient, their date of birth and the session on the title and header."""
        born = (
            f"DOB {us_date(subject.date_of_birth)}" if subject.date_of_birth else "DOB not on file"
        )
        about = subject.session if subject.for_session else f"not for a session, {subject.session}"
        self.setWindowTitle(f"{self.spec.name} — {subject.patient_name} ({born}) — {about}")
        self._subject.setText(
            f"<span style='font-size:large'><b>{html.escape(subject.patient_name)}</b></span>"
            f" · chart {html.escape(subject.chart_number)} · <b>{born}</b><br/>"
            f"{'Session' if subject.for_session else 'Taken'}: {html.escape(about)}"
        )
        self._subject.setAccessibleName(
            f"{subject.patient_name}, chart {subject.chart_number}, {born}, {about}"
        )

    def subject_text(self) -> str:
        """The header's words (without the markup)."""
        return QTextDocumentFragment.fromHtml(self._subject.text()).toPlainText()

    @classmethod
    def enter(
        cls,
        desk: Desk,
        subject: MeasureSubject,
        instrument: str,
        appointment_id: int | None = None,
        parent: QWidget | None = None,
    ) -> SavedMeasure | None:
        """Open the questionnaire modally; the saved measure, or None.  Tests may replace it."""
        dialog = cls(desk, subject, instrument, appointment_id, parent)
        dialog.exec()
        return dialog.saved_measure

    # -- answers -----------------------------------------------------------------------------

    def answers(self) -> list[int | None]:
        return [g.checkedId() if g.checkedId() >= 0 else None for g in self._groups]

    def set_answer(self, item: int, value: int) -> None:
        """Answer item ``item`` (1-based) with ``value``."""
        button = self._groups[item - 1].button(value)
        if button is not None:
            button.setChecked(True)

    def answer_by_key(self, item: int, value: int) -> bool:
        """A digit typed on an item's answers: choose that answer if it is one."""
        if not self.spec.item_min <= value <= self.spec.item_max:
            return False
        self.set_answer(item, value)
        button = self._groups[item - 1].button(value)
        if button is not None:
            button.setFocus()
        return True

    def _on_group_id_toggled(self, _id: int, checked: bool) -> None:
        if checked:
            self.item_errors = {
                n: m for n, m in self.item_errors.items() if self.answers()[n - 1] is None
            }
            self._refresh()

    # -- showing -----------------------------------------------------------------------------

    def _refresh(self) -> None:
        spec = self.spec
        answers = self.answers()
        unanswered = sum(1 for a in answers if a is None)
        if unanswered:
            partial = sum(a for a in answers if a is not None)
            self._total.setText(
                f"Total so far {partial} of {spec.total_max} — "
                f"{unanswered} item{'s' if unanswered != 1 else ''} unanswered"
            )
        else:
            try:
                scored = score(spec, answers)
            except MeasureError as err:
                self._total.setText(str(err))
            else:
                self._total.setText(f"Total {scored.total} of {spec.total_max} — {scored.band}")
        self._total.setAccessibleName(self._total.text())
        red, _amber = message_colors(self.palette())
        urgent = urgent_messages(spec, answers)
        if urgent:
            self._urgent.setText("⚠ " + "\n⚠ ".join(urgent))
            self._urgent.setStyleSheet(
                f"color: {red.name()}; border: 2px solid {red.name()}; font-weight: bold;"
            )
            self._urgent.setAccessibleName("Urgent: " + " ".join(urgent))
            self._urgent.setVisible(True)
        else:
            self._urgent.setVisible(False)
        for number, message in enumerate(self._messages, start=1):
            text = self.item_errors.get(number)
            message.setVisible(text is not None)
            message.setText(f"✖ {text}" if text else "")
            message.setStyleSheet(f"color: {red.name()};" if text else "")
            message.setAccessibleName(text or "")

    def urgent_text(self) -> str:
        return self._urgent.text() if self._urgent.isVisibleTo(self) else ""

    def total_text(self) -> str:
        return self._total.text()

    def status_text(self) -> str:
        return self._status.text()

    # -- saving ------------------------------------------------------------------------------

    def _on_save_clicked(self) -> None:
        if not self._save.isEnabled():
            return
        answers = self.answers()
        missing = {n: f"item {n} has no answer" for n, a in enumerate(answers, 1) if a is None}
        if missing:
            self.item_errors = missing
            self._say(
                f"Answer every item before saving ({len(missing)} left); nothing was saved.",
                error=True,
            )
            self._refresh()
            first = self._groups[min(missing) - 1].buttons()[0]
            first.setFocus()
            return
        desk, patient_id, code, appointment_id = (
            self._desk,
            self._patient_id,
            self.spec.code,
            self._appointment_id,
        )
        self._save.setEnabled(False)  # one save at a time
        run_service(
            self,
            lambda: measurements.save_measurement(
                desk.db,
                desk.actor,
                patient_id,
                code,
                answers,
                appointment_id=appointment_id,
                now=desk.now(),
            ),
            self._on_saved,
            failed=self._on_save_refused,
            busy="Saving…",
            writes=True,
        )

    def _on_saved(self, result: SavedMeasure) -> None:
        self.saved_measure = result
        self.saved.emit(result)
        self.accept()

    def _on_save_refused(self, err: ServiceError) -> None:
        self._save.setEnabled(True)
        if isinstance(err, InvalidFields):
            self.item_errors = {
                n: err.errors[item_field(n)]
                for n in range(1, self.spec.item_count + 1)
                if item_field(n) in err.errors
            }
            self._say(str(err) + "; nothing was saved.", error=True)
            self._refresh()
        else:
            self._say(str(err), error=True)

    def _say(self, text: str, *, error: bool) -> None:
        red, _ = message_colors(self.palette())
        color = red.name() if error else self.palette().color(QPalette.ColorRole.WindowText).name()
        self._status.setStyleSheet(f"color: {color};")
        self._status.setText(text)
        self._status.setAccessibleName(text)


__all__ = ["MeasureDialog", "urgent_messages"]
