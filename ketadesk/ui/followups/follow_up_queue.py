"""The follow-up queue: what the clinic owes its patients after (and before) their sessions.

Overdue, due today and upcoming follow-ups (``services.followups.follow_up_queue``) in a tree,
filtered by kind and assignee; a call attempt, completing with an outcome and snoozing with a
reason are dialogs whose mistakes are shown at their fields (the service refuses them whole, so
nothing is saved until they are fixed).  Overdue items are red, urgent ones bold on a tinted
row, and the REMS form shows its countdown and what its monitoring record still lacks.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from PySide6.QtCore import (
    QAbstractItemModel,
    QDate,
    QDateTime,
    QEvent,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QAction, QColor, QFont, QKeySequence, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QComboBox,
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QRadioButton,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from ketadesk.scheduling.catalog import StaffRole
from ketadesk.scheduling.followup_rules import (
    CLOSED_WHEN_REACHED,
    MEASURE_KINDS,
    Section,
    kind_label,
    moment_text,
)
from ketadesk.scheduling.words import role_name
from ketadesk.services.common.context import InvalidFields, ServiceError
from ketadesk.services.common.phones import display_phone
from ketadesk.services.followups.actions import (
    ATTEMPT_RESULTS,
    AttemptResult,
    complete_follow_up,
    record_attempt,
    record_not_taken,
    snooze_follow_up,
)
from ketadesk.services.followups.queue import (
    Assignee,
    FollowUpItem,
    FollowUpQueue,
    assignees,
    follow_up_queue,
    queue_counts,
)
from ketadesk.ui.common.background import BackgroundCall, run_service
from ketadesk.ui.common.colors import is_dark, mix
from ketadesk.ui.common.date_fields import DateField, DateTimeField
from ketadesk.ui.common.dates import short_date
from ketadesk.ui.common.sizing import ContentHeight

if TYPE_CHECKING:
    from typing_extensions import override

    from ketadesk.ui.common.desk import Desk
else:  # typing.override is Python 3.12+; the decorator only informs the type checker.
    _F = TypeVar("_F")

    def override(method: _F) -> _F:
        return method


#: Overdue red and urgent tint, readable on light and on dark palettes.
OVERDUE_COLORS = {False: "#b3261e", True: "#f2b8b5"}
#: A follow-up's dialog is this wide at first: a REMS form's override error reads in a few lines.
FOLLOW_UP_DIALOG_WIDTH = 560
HIGH_COLORS = {False: "#8a5300", True: "#ffcf7a"}
URGENT_TINT = 0.16
ITEM_ROLE = Qt.ItemDataRole.UserRole + 1
_READ_FAILED = "The follow-up queue could not be read"
_ROOT = QModelIndex()
_SECTION_ROW = 0  # internal id of a section row; an item's is its section's row + 1


class Column(enum.IntEnum):
    PATIENT = 0
    PHONE = 1
    FOLLOW_UP = 2
    DUE = 3
    COUNTDOWN = 4
    ATTEMPTS = 5
    ASSIGNED = 6
    DETAILS = 7


HEADERS = {
    Column.PATIENT: "Patient",
    Column.PHONE: "Phone",
    Column.FOLLOW_UP: "Follow-up",
    Column.DUE: "Due",
    Column.COUNTDOWN: "When",
    Column.ATTEMPTS: "Calls",
    Column.ASSIGNED: "Assigned",
    Column.DETAILS: "Details",
}


def _when(moment: dt.datetime, item: FollowUpItem) -> str:
    return moment_text(moment, item.time_format)


#: The columns that give up width, down to these, when the window is too narrow for every
#: column's content: their long texts are elided (the row's tooltip has them whole), so the
#: short ones after them (the calls made, who is assigned) stay in view (trial 3, C23).
SHRINKABLE_COLUMNS = {
    Column.PATIENT: 220,
    Column.FOLLOW_UP: 120,
    Column.DUE: 120,
    Column.COUNTDOWN: 120,
}
#: The widest the patient column gets, however long a name.
PATIENT_COLUMN_MAX = 260


def share_columns(wanted: dict[Column, int], available: int) -> dict[Column, int]:
    """The width of each column: what its content ``wanted``, unless together they are wider
    than ``available``; then the widest shrinkable columns give way first, each no narrower
    than its floor in ``SHRINKABLE_COLUMNS`` (a window narrower still scrolls)."""
    widths = dict(wanted)
    widths[Column.PATIENT] = min(widths.get(Column.PATIENT, 0), PATIENT_COLUMN_MAX)
    excess = sum(widths.values()) - available
    while excess > 0:
        shrinkable = [c for c, floor in SHRINKABLE_COLUMNS.items() if widths.get(c, 0) > floor]
        if not shrinkable:
            break
        widest = max(shrinkable, key=lambda c: widths[c])
        others = [widths[c] for c in shrinkable if c is not widest]
        # Down to the next widest (or its floor, or by the excess), so they end up level.
        target = max(max(others, default=0), SHRINKABLE_COLUMNS[widest], widths[widest] - excess)
        if target >= widths[widest]:
            target = widths[widest] - 1
        excess -= widths[widest] - target
        widths[widest] = target
    return widths


#: The section headings in red while they list anything.
_RED_SECTIONS = frozenset({Section.URGENT.value, Section.OVERDUE.value})


def queue_heading(queue: FollowUpQueue, *, kind: str = "", assignee: str = "") -> str:
    """What the queue shows, in one line: "Follow-ups due · Tue Dec 8 · 5 open, 2 overdue";
    narrowed, "Next-day calls due for Nurses · …" (``kind`` a follow-up kind, ``assignee`` the
    filter's words)."""
    what = f"{kind_label(kind)}s due" if kind else "Follow-ups due"
    if assignee:
        what += f" for {assignee}"
    parts = [what]
    if queue.today is not None:
        parts.append(short_date(queue.today))
    overdue = queue.counts()["overdue"]
    parts.append(
        f"{len(queue.items)} open, "
        + (f"{len(queue.urgent)} urgent, " if queue.urgent else "")
        + f"{overdue} overdue"
    )
    return " · ".join(parts)


def details_text(item: FollowUpItem) -> str:
    """The details column: what the REMS form lacks, the note, the session it is about."""
    parts: list[str] = []
    if item.missing:
        parts.append("Form still needs: " + ", ".join(item.missing))
    elif item.form_complete:  # the service's own judgement, never an empty list
        parts.append("Record complete: ready to submit")
    if item.warning:
        parts.append(f"⚠ {item.warning}")
    if item.assignee_away:
        role = role_name(item.assignee_role)
        parts.append(f"{item.assignee_away}: any {role} may work it")
    if item.snoozed_until is not None:
        parts.append(f"Snoozed until {_when(item.snoozed_until, item)}: {item.note}")
    elif item.note:
        parts.append(item.note)
    if item.session_label:
        parts.append(item.session_label)
    return " · ".join(parts)


def attempts_text(item: FollowUpItem) -> str:
    return item.attempts_words  # the printed call list says the same


def item_text(item: FollowUpItem, column: Column) -> str:
    if column is Column.PATIENT:
        return f"{item.patient_name} (chart {item.chart_number})"
    if column is Column.FOLLOW_UP:
        return ("URGENT · " if item.urgent else "") + item.kind_label
    if column is Column.DUE:
        return item.due_text
    if column is Column.COUNTDOWN:
        return item.countdown
    if column is Column.ATTEMPTS:
        return attempts_text(item)
    if column is Column.ASSIGNED:
        role = role_name(item.assignee_role)
        if item.assignee_away:
            # Off: the role's to work meanwhile (the details say until when).
            return f"any {role} ({item.assignee_name} off)"
        return item.assignee_name or f"any {role}"
    if column is Column.PHONE:
        return display_phone(item.phone)
    return details_text(item)


class FollowUpQueueModel(QAbstractItemModel):
    """Sections (overdue, due today, upcoming) with their follow-ups as children.

    ``ITEM_ROLE`` gives an item row's FollowUpItem (None on section rows).
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._sections: list[tuple[Section, str, tuple[FollowUpItem, ...]]] = []
        self._dark = False

    def set_queue(self, queue: FollowUpQueue | None, *, dark: bool = False) -> None:
        self.beginResetModel()
        self._sections = list(queue.sections()) if queue is not None else []
        self._dark = dark
        self.endResetModel()

    def item(self, index: QModelIndex | QPersistentModelIndex) -> FollowUpItem | None:
        if not index.isValid() or index.internalId() == _SECTION_ROW:
            return None
        return self._sections[index.internalId() - 1][2][index.row()]

    def section_index(self, section: Section) -> QModelIndex:
        for row, (key, _, _) in enumerate(self._sections):
            if key is section:
                return self.index(row, 0)
        return QModelIndex()

    def index_of(self, follow_up_id: int) -> QModelIndex:
        for row, (_, _, items) in enumerate(self._sections):
            for child, item in enumerate(items):
                if item.id == follow_up_id:
                    return self.createIndex(child, 0, row + 1)
        return QModelIndex()

    # -- QAbstractItemModel ---------------------------------------------------------------------

    @override
    def index(
        self, row: int, column: int, parent: QModelIndex | QPersistentModelIndex = _ROOT
    ) -> QModelIndex:
        if not self.hasIndex(row, column, parent):
            return QModelIndex()
        if not parent.isValid():
            return self.createIndex(row, column, _SECTION_ROW)
        return self.createIndex(row, column, parent.row() + 1)

    @override
    def parent(self, child: QModelIndex | QPersistentModelIndex = _ROOT) -> Any:
        if not child.isValid() or child.internalId() == _SECTION_ROW:
            return QModelIndex()
        return self.createIndex(child.internalId() - 1, 0, _SECTION_ROW)

    @override
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = _ROOT) -> int:
        if not parent.isValid():
            return len(self._sections)
        if parent.internalId() == _SECTION_ROW and parent.column() == 0:
            return len(self._sections[parent.row()][2])
        return 0

    @override
    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = _ROOT) -> int:
        return len(Column)

    @override
    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return HEADERS[Column(section)]
        return None

    @override
    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        if index.internalId() == _SECTION_ROW:
            return Qt.ItemFlag.ItemIsEnabled
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    @override
    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = 0) -> Any:
        if not index.isValid():
            return None
        if index.internalId() == _SECTION_ROW:
            return self._section_data(index, role)
        item = self.item(index)
        assert item is not None
        column = Column(index.column())
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.AccessibleTextRole):
            return item_text(item, column)
        if role == ITEM_ROLE:
            return item
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(item)
        if role == Qt.ItemDataRole.ForegroundRole:
            if item.overdue and column in (Column.DUE, Column.COUNTDOWN, Column.FOLLOW_UP):
                return QColor(OVERDUE_COLORS[self._dark])
            if item.urgent and column is Column.FOLLOW_UP:
                return QColor(OVERDUE_COLORS[self._dark])
            if item.priority == "high" and column is Column.FOLLOW_UP:
                return QColor(HIGH_COLORS[self._dark])
            return None
        if role == Qt.ItemDataRole.FontRole:
            if (
                item.urgent
                or item.priority == "high"
                or (item.overdue and column is Column.COUNTDOWN)
            ):
                font = QFont()
                font.setBold(True)
                return font
            return None
        if role == Qt.ItemDataRole.BackgroundRole and item.urgent:
            # Tinted against the view's base colour, set by the view (see _tint_base).
            return self._urgent_brush
        return None

    _urgent_brush: QColor | None = None

    def set_urgent_background(self, color: QColor) -> None:
        self._urgent_brush = color

    def _section_data(self, index: QModelIndex | QPersistentModelIndex, role: int) -> Any:
        section, title, items = self._sections[index.row()]
        if index.column() != 0:
            return None
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.AccessibleTextRole):
            return f"{title} ({len(items)})"
        if role == Qt.ItemDataRole.FontRole:
            font = QFont()
            font.setBold(True)
            return font
        if role == Qt.ItemDataRole.ForegroundRole and section.value in _RED_SECTIONS and items:
            return QColor(OVERDUE_COLORS[self._dark])
        return None

    def _tooltip(self, item: FollowUpItem) -> str:
        lines = [f"{item.kind_label} for {item.patient_name} (chart {item.chart_number})"]
        lines.append(f"Due {item.due_text}")
        if item.overdue_from is not None and item.deadline is not None:
            lines.append(
                f"Deadline {_when(item.deadline, item)}; not checked in, so {item.countdown} "
                f"since the session's end ({_when(item.overdue_from, item)})"
            )
        elif item.deadline is not None:
            lines.append(f"Deadline {_when(item.deadline, item)} ({item.countdown})")
        if item.phone:
            lines.append(f"Phone {display_phone(item.phone)}")
        if item.attempts:
            lines.append(f"Calls: {attempts_text(item)}")
        details = details_text(item)
        if details:
            lines.append(details)
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Dialogs


class _FollowUpDialog(QDialog):
    """One follow-up's form: its fields with the mistake under each, Save and Cancel.

    ``save`` calls the service on the writer worker; refused input is shown at its fields and
    nothing is saved.

    Signals:
        settled(): a save ended: the dialog was accepted, or it shows why not.
    """

    settled = Signal()

    def __init__(self, desk: Desk, item: FollowUpItem, title: str, parent: QWidget | None) -> None:
        super().__init__(parent)
        self.desk = desk
        self.item = item
        self.setWindowTitle(f"{title} — {item.patient_name}")
        layout = QVBoxLayout(self)
        heading = QLabel(
            f"<b>{item.kind_label}</b> for <b>{item.patient_name}</b> ({item.chart_number})"
            + (f" · {display_phone(item.phone)}" if item.phone else ""),
            self,
        )
        layout.addWidget(heading)
        shown = item
        if item.urgent and item.note and item.snoozed_until is None:
            # What made it urgent (the answer that opened it), where the reviewer reads first.
            why = QLabel(f"<b>Why it is urgent:</b> {html.escape(item.note)}", self)
            why.setObjectName("urgent_reason")
            why.setWordWrap(True)
            self._paint_error(why)
            layout.addWidget(why)
            shown = dataclasses.replace(item, note="")
        about = QLabel(f"{shown.countdown} · {details_text(shown)}".strip(" ·"), self)
        about.setWordWrap(True)
        layout.addWidget(about)
        self.form = QFormLayout()
        layout.addLayout(self.form)
        self.message = QLabel(self)
        self.message.setObjectName("dialog_message")
        self.message.setWordWrap(True)
        self.message.hide()
        self._paint_error(self.message)
        layout.addWidget(self.message)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.buttons.accepted.connect(self._on_buttons_accepted)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self._errors: dict[str, QLabel] = {}
        self._editors: dict[str, QWidget] = {}
        # An error under a field wraps and the window grows to show all of it (the REMS
        # form's override error was cut off at the dialog's first height).
        ContentHeight(self)
        self.resize(FOLLOW_UP_DIALOG_WIDTH, 1)  # as tall as its content, once shown

    def _add_field(self, name: str, label: str, editor: QWidget) -> None:
        box = QWidget(self)
        column = QVBoxLayout(box)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(2)
        column.addWidget(editor)
        error = QLabel(box)
        error.setObjectName(f"{name}_error")
        error.setWordWrap(True)
        error.hide()
        self._paint_error(error)
        column.addWidget(error)
        editor.setAccessibleName(label.rstrip(":"))
        self.form.addRow(label, box)
        self._errors[name] = error
        self._editors[name] = editor

    def _paint_error(self, label: QLabel) -> None:
        palette = label.palette()
        palette.setColor(
            QPalette.ColorRole.WindowText, QColor(OVERDUE_COLORS[is_dark(self.palette())])
        )
        label.setPalette(palette)

    def errors(self) -> dict[str, str]:
        """The mistakes shown now, by field."""
        return {name: label.text() for name, label in self._errors.items() if label.text()}

    def show_errors(self, errors: dict[str, str]) -> None:
        for name, label in self._errors.items():
            message = errors.get(name, "")
            label.setText(message)
            label.setVisible(bool(message))
            self._editors[name].setProperty("invalid", bool(message))
        self._say("Nothing has been saved: fix the marked fields." if errors else "")
        if errors:
            first = next(n for n in self._errors if n in errors)
            self._editors[first].setFocus()

    def _say(self, text: str) -> None:
        self.message.setText(text)
        self.message.setVisible(bool(text))

    def save(self) -> None:
        """Submit the form on the writer worker: once saved the dialog is accepted; refused,
        it shows why (``settled`` either way)."""
        self.buttons.setEnabled(False)  # one save at a time
        run_service(
            self,
            self._submission(),
            self._on_saved,
            failed=self._on_refused,
            busy="Saving…",
            writes=True,
            settled=self._on_settled,
        )

    def is_saved(self) -> bool:
        return self.result() == QDialog.DialogCode.Accepted

    def _submission(self) -> Callable[[], object]:
        """The service call to make, with what the form says now (read here, on the GUI
        thread; the call runs on the worker)."""
        raise NotImplementedError

    def _keep(self, _result: object) -> None:
        """What a subclass keeps of the service's answer."""

    def _on_saved(self, result: object) -> None:
        self._keep(result)
        self.accept()

    def _on_refused(self, err: ServiceError) -> None:
        if isinstance(err, InvalidFields):
            self.show_errors(err.errors)
        else:
            self.show_errors({})
            self._say(str(err))

    def _on_settled(self) -> None:
        self.buttons.setEnabled(True)
        self.settled.emit()

    def _on_buttons_accepted(self) -> None:
        self.save()


class AttemptDialog(_FollowUpDialog):
    """Record a call: reached, no answer or voicemail, with notes.

    Attributes:
        attempt: the service's AttemptResult once saved.
    """

    def __init__(self, desk: Desk, item: FollowUpItem, parent: QWidget | None = None) -> None:
        super().__init__(desk, item, "Record a call", parent)
        self.attempt: AttemptResult | None = None
        choices = QWidget(self)
        row = QHBoxLayout(choices)
        row.setContentsMargins(0, 0, 0, 0)
        self.result_group = QButtonGroup(self)
        self.result_buttons: dict[str, QRadioButton] = {}
        for key, text in ATTEMPT_RESULTS.items():
            button = QRadioButton(text, choices)
            button.setObjectName(f"result_{key}")
            button.setAccessibleName(text)
            self.result_group.addButton(button)
            self.result_buttons[key] = button
            row.addWidget(button)
        self._add_field("result", "Result:", choices)
        self.notes = QPlainTextEdit(self)
        self.notes.setObjectName("notes")
        self.notes.setTabChangesFocus(True)
        self.notes.setFixedHeight(self.notes.fontMetrics().lineSpacing() * 4)
        self._add_field("notes", "Notes:", self.notes)
        if item.attempts:
            self.form.addRow("Before:", QLabel(attempts_text(item), self))
        # A call reached is done in this one step: its notes are the outcome the queue keeps.
        self._closes_when_reached = item.kind in CLOSED_WHEN_REACHED
        self.result_group.buttonToggled.connect(self._on_result_group_button_toggled)
        self._on_result_group_button_toggled()

    def _on_result_group_button_toggled(self, *_args: object) -> None:
        closing = self._closes_when_reached and self.chosen() == "reached"
        self.notes.setPlaceholderText(
            "What came of it (required): the call is done with it"
            if closing
            else "What was said, or what you left on the voicemail"
        )

    def choose(self, result: str) -> None:
        self.result_buttons[result].setChecked(True)

    def chosen(self) -> str:
        return next((k for k, b in self.result_buttons.items() if b.isChecked()), "")

    @override
    def _submission(self) -> Callable[[], object]:
        desk, item_id, chosen, notes = (
            self.desk,
            self.item.id,
            self.chosen(),
            self.notes.toPlainText(),
        )
        return lambda: record_attempt(desk.db, desk.actor, item_id, chosen, notes, now=desk.now())

    @override
    def _keep(self, result: object) -> None:
        assert isinstance(result, AttemptResult)
        self.attempt = result

    @classmethod
    def ask(cls, desk: Desk, item: FollowUpItem, parent: QWidget | None) -> AttemptResult | None:
        dialog = cls(desk, item, parent)
        dialog.exec()
        return dialog.attempt


class CompleteDialog(_FollowUpDialog):
    """Mark a follow-up done with its outcome (required).

    A REMS form is marked submitted: the day it was sent and the REMS confirmation number, and
    while the monitoring record leaves it incomplete, the reason for submitting it as it is
    (the service decides who may: ``[rems_form] override_roles``).
    """

    def __init__(self, desk: Desk, item: FollowUpItem, parent: QWidget | None = None) -> None:
        title = "Mark the REMS form submitted" if item.kind == "rems_form" else None
        super().__init__(desk, item, title or "Complete a follow-up", parent)
        self.outcome = QPlainTextEdit(self)
        self.outcome.setObjectName("outcome")
        self.outcome.setTabChangesFocus(True)
        self.outcome.setPlaceholderText("What came of it")
        self.outcome.setFixedHeight(self.outcome.fontMetrics().lineSpacing() * 4)
        self._add_field("outcome", "Outcome:", self.outcome)
        self.submitted_on: QDateEdit | None = None
        self.confirmation: QLineEdit | None = None
        self.override: QLineEdit | None = None
        if item.kind == "rems_form":
            self._build_rems_fields(item)

    def _build_rems_fields(self, item: FollowUpItem) -> None:
        today = self.desk.now().astimezone(item.due.tzinfo).date()
        self.submitted_on = DateField(self)
        self.submitted_on.setObjectName("submitted_on")
        self.submitted_on.setDate(QDate(today.year, today.month, today.day))
        self._add_field("submitted_on", "Submitted on:", self.submitted_on)
        self.confirmation = QLineEdit(self)
        self.confirmation.setObjectName("confirmation_number")
        self.confirmation.setMaxLength(40)
        self.confirmation.setPlaceholderText("The REMS confirmation number")
        self._add_field("confirmation_number", "Confirmation no.:", self.confirmation)
        self.override = QLineEdit(self)
        self.override.setObjectName("override_reason")
        self.override.setPlaceholderText(
            "Why it is submitted incomplete (prescriber)"
            if item.missing
            else "Only if the record is incomplete"
        )
        self._add_field("override_reason", "Override reason:", self.override)

    @override
    def _submission(self) -> Callable[[], object]:
        desk, item_id, outcome = self.desk, self.item.id, self.outcome.toPlainText()
        extra: dict[str, Any] = {}
        if (
            self.submitted_on is not None
            and self.confirmation is not None
            and self.override is not None
        ):
            q = self.submitted_on.date()
            extra = {
                "submitted_on": dt.date(q.year(), q.month(), q.day()),
                "confirmation_number": self.confirmation.text(),
                "override_reason": self.override.text(),
            }
        return lambda: complete_follow_up(
            desk.db, desk.actor, item_id, outcome, now=desk.now(), **extra
        )

    @classmethod
    def ask(cls, desk: Desk, item: FollowUpItem, parent: QWidget | None) -> bool:
        return cls(desk, item, parent).exec() == QDialog.DialogCode.Accepted


class MeasureDoneDialog(_FollowUpDialog):
    """Complete a measure follow-up (the PHQ-9 before a session): it is done by entering its
    answers, so the dialog offers the measure's form first; a patient who did not take it is
    recorded as *not taken* with why (``actions.record_not_taken``), never "done" in words (a
    user trial marked a PHQ-9 done with no scores).

    ``enter_answers``: the user chose to enter the answers (the queue opens the form).
    """

    def __init__(self, desk: Desk, item: FollowUpItem, parent: QWidget | None = None) -> None:
        super().__init__(desk, item, f"Complete the {item.kind_label}", parent)
        self.enter_answers = False
        how = QLabel(
            f"A {item.kind_label} is done when its answers are entered: the score and the "
            "self-harm question are on the patient's record.",
            self,
        )
        how.setWordWrap(True)
        self.form.addRow(how)
        self.enter_button = QPushButton(f"Enter {item.kind_label} answers…", self)
        self.enter_button.setObjectName("enter_answers")
        self.enter_button.setEnabled(item.appointment_id is not None)
        self.enter_button.clicked.connect(self._on_enter_button_clicked)
        self.form.addRow(self.enter_button)
        self.reason = QLineEdit(self)
        self.reason.setObjectName("outcome")
        self.reason.setPlaceholderText("Declined today, too unwell, …")
        self._add_field("outcome", "Not taken because:", self.reason)
        save = self.buttons.button(QDialogButtonBox.StandardButton.Save)
        save.setText("Mark not taken")
        save.setAutoDefault(False)
        save.setDefault(False)
        self.enter_button.setDefault(True)

    def _on_enter_button_clicked(self) -> None:
        self.enter_answers = True
        self.reject()  # nothing saved here: the form saves the answers

    @override
    def _submission(self) -> Callable[[], object]:
        desk, item_id, reason = self.desk, self.item.id, self.reason.text()
        return lambda: record_not_taken(desk.db, desk.actor, item_id, reason, now=desk.now())

    @classmethod
    def shown(cls, desk: Desk, item: FollowUpItem, parent: QWidget | None) -> MeasureDoneDialog:
        """The dialog, once the user closed it (what they chose is on it)."""
        dialog = cls(desk, item, parent)
        dialog.exec()
        return dialog


class SnoozeDialog(_FollowUpDialog):
    """Put a follow-up aside until a later time, with a reason (both required)."""

    def __init__(self, desk: Desk, item: FollowUpItem, parent: QWidget | None = None) -> None:
        super().__init__(desk, item, "Snooze a follow-up", parent)
        self.zone = item.due.tzinfo
        # With its weekday: a follow-up is put aside "until Monday".
        self.until = DateTimeField(self, weekday=True, time_format=item.time_format)
        self.until.setObjectName("until")
        # The clinic's next opening (read with the queue); without one, tomorrow at this hour.
        proposed = item.snooze_default or desk.now().astimezone(self.zone) + dt.timedelta(days=1)
        self.set_until(proposed.astimezone(self.zone).replace(tzinfo=None))
        self._add_field("until", "Until:", self.until)
        self.reason = QLineEdit(self)
        self.reason.setObjectName("reason")
        self.reason.setPlaceholderText("Why it can wait")
        self._add_field("reason", "Reason:", self.reason)

    def set_until(self, local: dt.datetime) -> None:
        """Show a local wall-clock time (naive, in the clinic's zone)."""
        self.until.setDateTime(
            QDateTime(local.year, local.month, local.day, local.hour, local.minute, 0)
        )

    def until_instant(self) -> dt.datetime:
        q = self.until.dateTime()
        d, t = q.date(), q.time()
        return dt.datetime(d.year(), d.month(), d.day(), t.hour(), t.minute(), tzinfo=self.zone)

    @override
    def _submission(self) -> Callable[[], object]:
        desk, item_id, until, reason = (
            self.desk,
            self.item.id,
            self.until_instant(),
            self.reason.text(),
        )
        return lambda: snooze_follow_up(desk.db, desk.actor, item_id, until, reason, now=desk.now())

    @classmethod
    def ask(cls, desk: Desk, item: FollowUpItem, parent: QWidget | None) -> bool:
        return cls(desk, item, parent).exec() == QDialog.DialogCode.Accepted


# ---------------------------------------------------------------------------------------------
# The view


@dataclass(frozen=True)
class ActionSpec:
    """One user action of the queue, declared once (button, shortcut, tooltip)."""

    name: str
    text: str
    tip: str
    shortcut: str = ""


def _refusal(item: FollowUpItem, action: str) -> str:
    """Why the signed-in user may not take ``action`` on ``item``, saying who may ("" when
    they may), as the queue's read judged it by the services' own rules."""
    if action == "open_patient":
        return ""
    return item.refusals.work or (item.refusals.complete if action == "complete" else "")


ACTIONS = (
    ActionSpec("record_attempt", "Record call…", "Record a call attempt (Ctrl+R)", "Ctrl+R"),
    ActionSpec("complete", "Complete…", "Mark done with its outcome (Ctrl+D)", "Ctrl+D"),
    ActionSpec(
        "snooze", "Snooze…", "Put aside until later, with a reason (Ctrl+Shift+D)", "Ctrl+Shift+D"
    ),
    ActionSpec("open_patient", "Open patient", "Open the patient's record (Ctrl+O)", "Ctrl+O"),
    ActionSpec(
        "open_session",
        "Open session…",
        "Open the session this follow-up belongs to: its monitoring record, measures (Ctrl+E)",
        "Ctrl+E",
    ),
    # No key of its own: inside the main window, F5 (the window's Refresh) reads it again.
    ActionSpec("refresh", "Refresh", "Read the queue again (F5)", ""),
)
_Read = BackgroundCall[tuple[FollowUpQueue, dict[str, int], list[Assignee]]]
ASSIGNEE_CHOICES: tuple[tuple[str, str], ...] = (
    ("", "Anyone"),
    *((role.value, f"{role.value.replace('_', ' ').capitalize()}s") for role in StaffRole),
)


class FollowUpQueueView(QWidget):
    """The follow-up queue with its filters and actions.

    Signals:
        patient_requested(int): open this patient's record.
        appointment_requested(int): open the session the follow-up belongs to.
        measure_requested(int, str, int): open the measure's form (patient, instrument,
            session): how a measure follow-up is done.
        counts_changed(dict): overdue / due_today / upcoming / urgent counts of the whole
            queue (unfiltered), for the main window's left panel.
        refreshed(): the queue shown was read again.
        noted(str): an action on a follow-up completed, in a few words for the status bar
            ("Call recorded: Lovelace, Ada · call again Wed 10:00").

    Attributes:
        model: the FollowUpQueueModel shown.
        tree: the QTreeView.
        queue: the FollowUpQueue shown (None before the first read).
        counts: the latest unfiltered counts.
    """

    patient_requested = Signal(int)
    appointment_requested = Signal(int)
    measure_requested = Signal(int, str, int)
    counts_changed = Signal(dict)
    refreshed = Signal()
    noted = Signal(str)

    # Dialog entry points, replaceable in tests.
    attempt_dialog: Callable[[Desk, FollowUpItem, QWidget | None], AttemptResult | None] = (
        AttemptDialog.ask
    )
    complete_dialog: Callable[[Desk, FollowUpItem, QWidget | None], bool] = CompleteDialog.ask
    snooze_dialog: Callable[[Desk, FollowUpItem, QWidget | None], bool] = SnoozeDialog.ask
    measure_dialog: Callable[[Desk, FollowUpItem, QWidget | None], MeasureDoneDialog] = (
        MeasureDoneDialog.shown
    )

    def __init__(self, desk: Desk, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.desk = desk
        self.queue: FollowUpQueue | None = None
        self.counts: dict[str, int] = {}
        self._call: _Read | None = None
        self._again = False
        self._selected_id: int | None = None
        self._reveal = ""  # the section a count of the left panel asked to see (show_counted)
        self.setObjectName("follow_up_queue")
        self.setAccessibleName("Follow-up queue")

        self.kind_filter = QComboBox(self)
        self.kind_filter.setObjectName("kind_filter")
        self.kind_filter.setAccessibleName("Show follow-ups of kind")
        self.kind_filter.addItem("All follow-ups", "")
        # The kinds come with the queue: only those the signed-in role's queue lists.
        self._kinds_offered: tuple[str, ...] = ()
        self.assignee_filter = QComboBox(self)
        self.assignee_filter.setObjectName("assignee_filter")
        self.assignee_filter.setAccessibleName("Show follow-ups assigned to")
        for value, text in ASSIGNEE_CHOICES:
            self.assignee_filter.addItem(text, value)
        self._staff_added = False
        self.heading = QLabel(self)
        self.heading.setObjectName("queue_heading")
        heading_font = self.heading.font()
        heading_font.setBold(True)
        heading_font.setPointSizeF(heading_font.pointSizeF() * 1.2)
        self.heading.setFont(heading_font)
        self.summary = QLabel(self)
        self.summary.setObjectName("queue_summary")

        self.model = FollowUpQueueModel(self)
        self.tree = QTreeView(self)
        self.tree.setObjectName("follow_up_tree")
        self.tree.setAccessibleName("Follow-ups")
        self.tree.setModel(self.model)
        self.tree.setUniformRowHeights(True)
        self.tree.setAlternatingRowColors(True)
        self.tree.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.setAllColumnsShowFocus(True)
        header = self.tree.header()
        header.setStretchLastSection(True)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self._content_widths: dict[Column, int] = {}
        self.tree.viewport().installEventFilter(self)

        self.detail = QLabel(self)
        self.detail.setObjectName("follow_up_detail")
        self.detail.setWordWrap(True)
        self.detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.status = QLabel(self)
        self.status.setObjectName("queue_status")
        self.status.setWordWrap(True)

        self.actions_by_name: dict[str, QAction] = {}
        self.buttons: dict[str, QPushButton] = {}
        self._build()
        self._connect()
        self._update_actions()

    # -- building ---------------------------------------------------------------------------

    def _build(self) -> None:
        filters = QHBoxLayout()
        filters.addWidget(QLabel("Show:", self))
        filters.addWidget(self.kind_filter)
        filters.addWidget(QLabel("for", self))
        filters.addWidget(self.assignee_filter)
        filters.addStretch(1)
        filters.addWidget(self.summary)
        buttons = QHBoxLayout()
        for spec in ACTIONS:
            action = QAction(spec.text, self)
            action.setObjectName(spec.name)
            action.setToolTip(spec.tip)
            if spec.shortcut:
                action.setShortcut(QKeySequence(spec.shortcut))
                action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            self.addAction(action)
            self.actions_by_name[spec.name] = action
            button = QPushButton(spec.text, self)
            button.setObjectName(f"{spec.name}_button")
            button.setToolTip(spec.tip)
            button.setAccessibleName(spec.text.rstrip("…"))
            button.clicked.connect(action.trigger)
            self.buttons[spec.name] = button
            if spec.name == "refresh":
                buttons.addStretch(1)
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addLayout(filters)
        layout.addWidget(self.tree, 1)
        layout.addWidget(self.detail)
        layout.addWidget(self.status)
        layout.addLayout(buttons)

    def _connect(self) -> None:
        a = self.actions_by_name
        a["record_attempt"].triggered.connect(self._on_record_attempt_triggered)
        a["complete"].triggered.connect(self._on_complete_triggered)
        a["snooze"].triggered.connect(self._on_snooze_triggered)
        a["open_patient"].triggered.connect(self._on_open_patient_triggered)
        a["open_session"].triggered.connect(self._on_open_session_triggered)
        a["refresh"].triggered.connect(self.refresh)
        self.kind_filter.currentIndexChanged.connect(self._on_filter_changed)
        self.assignee_filter.currentIndexChanged.connect(self._on_filter_changed)
        self.tree.activated.connect(self._on_tree_activated)
        selection = self.tree.selectionModel()
        selection.currentRowChanged.connect(self._on_tree_current_changed)

    # -- reading ----------------------------------------------------------------------------

    def refresh(self) -> None:
        """Read the queue again on a worker thread; ``refreshed`` says when it is shown."""
        if self._call is not None:
            self._again = True
            return
        db, actor, now = self.desk.db, self.desk.actor, self.desk.now()
        kind = self.kind_filter.currentData() or None
        chosen = self.assignee_filter.currentData() or None
        role = chosen if isinstance(chosen, str) else None
        staff_id = chosen if isinstance(chosen, int) else None
        want_staff = not self._staff_added

        def work() -> tuple[FollowUpQueue, dict[str, int], list[Assignee]]:
            queue = follow_up_queue(
                db, actor, now=now, kind=kind, assignee_role=role, assignee_id=staff_id
            )
            counts = queue.counts() if not (kind or chosen) else queue_counts(db, actor, now=now)
            return queue, counts, assignees(db) if want_staff else []

        call: _Read = BackgroundCall(work, self)
        call.succeeded.connect(self._on_call_succeeded)
        call.failed.connect(self._on_call_failed)
        self._call = call
        self.setCursor(Qt.CursorShape.BusyCursor)
        call.start()

    def show_queue(self, queue: FollowUpQueue, counts: dict[str, int]) -> None:
        """Show a queue read elsewhere, keeping the selection and scroll position."""
        keep = self._selected_id
        scroll = self.tree.verticalScrollBar().value()
        self.queue = queue
        self.model.set_urgent_background(
            mix(
                QColor(OVERDUE_COLORS[False]),
                self.palette().color(QPalette.ColorRole.Base),
                URGENT_TINT,
            )
        )
        self._offer_kinds(queue.kinds)
        self.model.set_queue(queue, dark=is_dark(self.palette()))
        for row in range(self.model.rowCount()):
            self.tree.setFirstColumnSpanned(row, QModelIndex(), True)
        self.tree.expandAll()
        self._fit_columns()
        self.tree.verticalScrollBar().setValue(scroll)
        if keep is not None:
            self.select_follow_up(keep)
        self.summary.setText(
            (f"{len(queue.urgent)} urgent · " if queue.urgent else "")
            + f"{len(queue.overdue)} overdue · {len(queue.due_today)} due today · "
            f"{len(queue.upcoming)} upcoming"
        )
        kind = self.kind_filter.currentData() or ""
        who = self.assignee_filter.currentText() if self.assignee_filter.currentData() else ""
        self.heading.setText(queue_heading(queue, kind=kind, assignee=who))
        self.heading.setAccessibleName(self.heading.text())
        if counts != self.counts:
            self.counts = dict(counts)
            self.counts_changed.emit(dict(counts))
        self._update_actions()

    def status_summary(self) -> str:
        """The queue's account for the main window's status bar, of the whole queue whatever
        the filters ("Follow-ups: 4 due today · 2 overdue · 1 urgent · 9 upcoming")."""
        if self.queue is None:
            return ""
        c = self.counts
        parts = [f"{c.get('due_today', 0)} due today", f"{c.get('overdue', 0)} overdue"]
        if c.get("urgent"):
            parts.append(f"{c['urgent']} urgent")
        parts.append(f"{c.get('upcoming', 0)} upcoming")
        return "Follow-ups: " + " · ".join(parts)

    def _offer_kinds(self, kinds: tuple[str, ...]) -> None:
        """The kind filter's choices: the kinds the signed-in role's queue lists
        (``FollowUpQueue.kinds``; the front desk was offered PHQ-9, REMS forms and urgent
        reviews it is never shown), the choice made kept."""
        if kinds == self._kinds_offered:
            return
        self._kinds_offered = kinds
        chosen = self.kind_filter.currentData()
        self.kind_filter.blockSignals(True)
        while self.kind_filter.count() > 1:
            self.kind_filter.removeItem(1)
        for kind in kinds:
            self.kind_filter.addItem(kind_label(kind), kind)
        self.kind_filter.setCurrentIndex(max(self.kind_filter.findData(chosen), 0))
        self.kind_filter.blockSignals(False)

    def _add_staff(self, staff: Sequence[Assignee]) -> None:
        """Each staff member as a choice of the assignee filter, after the roles."""
        self._staff_added = True
        self.assignee_filter.blockSignals(True)
        self.assignee_filter.insertSeparator(self.assignee_filter.count())
        for person in staff:
            self.assignee_filter.addItem(f"{person.name} ({role_name(person.role)})", person.id)
        self.assignee_filter.blockSignals(False)

    def _fit_columns(self) -> None:
        """Each column as wide as its content (read again with the queue), shared out when the
        window is narrower than that (``share_columns``, again whenever the list is resized)."""
        self._content_widths = {
            column: self.tree.sizeHintForColumn(column)
            for column in Column
            if column is not Column.DETAILS
        }
        header = self.tree.header()
        for column in self._content_widths:
            header_width = header.sectionSizeHint(column)
            self._content_widths[column] = max(self._content_widths[column], header_width)
        self._share_columns()

    def _share_columns(self) -> None:
        if not self._content_widths:
            return
        header = self.tree.header()
        # The details column keeps at least its heading's width.
        available = self.tree.viewport().width() - header.sectionSizeHint(Column.DETAILS)
        for column, width in share_columns(self._content_widths, available).items():
            if header.sectionSize(column) != width:
                header.resizeSection(column, width)

    @override
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.tree.viewport() and event.type() == QEvent.Type.Resize:
            self._share_columns()
        return super().eventFilter(watched, event)

    def _finish_call(self) -> None:
        if self._call is not None:
            self._call.deleteLater()
        self._call = None
        self.unsetCursor()

    def _on_call_succeeded(self, result: object) -> None:
        self._finish_call()
        assert isinstance(result, tuple)
        queue, counts, staff = result
        if staff and not self._staff_added:
            self._add_staff(staff)
        if self.status.text().startswith(_READ_FAILED):
            self.status.setText("")
        self.show_queue(queue, counts)
        if self._reveal:
            self._reveal_counted()
        self.refreshed.emit()
        if self._again:
            self._again = False
            self.refresh()

    def _on_call_failed(self, error: object) -> None:
        self._finish_call()
        self.status.setText(f"{_READ_FAILED}: {error}")
        if self._again:
            self._again = False
            self.refresh()

    # -- selection --------------------------------------------------------------------------

    def selected_item(self) -> FollowUpItem | None:
        return self.model.item(self.tree.currentIndex())

    def select_follow_up(self, follow_up_id: int) -> bool:
        index = self.model.index_of(follow_up_id)
        if not index.isValid():
            self._selected_id = None
            self.tree.setCurrentIndex(QModelIndex())
            self._update_actions()
            return False
        self.tree.setCurrentIndex(index)
        self.tree.scrollTo(index)
        return True

    def _update_actions(self) -> None:
        item = self.selected_item()
        for spec in ACTIONS:
            if spec.name not in ("record_attempt", "complete", "snooze", "open_patient"):
                continue
            # A role the service would refuse sees the action greyed, with who may take it.
            refused = _refusal(item, spec.name) if item is not None else ""
            enabled = item is not None and not refused
            for widget in (self.actions_by_name[spec.name], self.buttons[spec.name]):
                widget.setEnabled(enabled)
                widget.setToolTip(refused or spec.tip)
        has_session = item is not None and item.appointment_id is not None
        self.actions_by_name["open_session"].setEnabled(has_session)
        self.buttons["open_session"].setEnabled(has_session)
        self.detail.setText(self.model._tooltip(item).replace("\n", " · ") if item else "")

    # -- slots ------------------------------------------------------------------------------

    def _on_filter_changed(self, _index: int) -> None:
        self.refresh()

    def show_counted(self, which: str) -> None:
        """Show what a count of the left panel counted ("urgent", "overdue", "due_today"):
        the counts are of the whole queue, so the kind and assignee filters are cleared (a
        trial's "1 urgent" showed nothing under a REMS filter), and once read the list opens
        at that section with its first item selected."""
        self._reveal = which
        cleared = False
        for box in (self.kind_filter, self.assignee_filter):
            if box.currentIndex() != 0:
                box.blockSignals(True)
                box.setCurrentIndex(0)
                box.blockSignals(False)
                cleared = True
        if cleared or self.queue is None:
            self.refresh()
        else:
            self._reveal_counted()

    def _reveal_counted(self) -> None:
        which, self._reveal = self._reveal, ""
        if which not in {s.value for s in Section}:
            return
        section = self.model.section_index(Section(which))
        if not section.isValid():
            return
        first = self.model.item(self.model.index(0, 0, section))
        if first is not None:
            self.select_follow_up(first.id)
        self.tree.scrollTo(section, QAbstractItemView.ScrollHint.PositionAtTop)

    def _on_tree_current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        item = self.model.item(current)
        self._selected_id = item.id if item is not None else self._selected_id
        self._update_actions()

    def _on_tree_activated(self, index: QModelIndex) -> None:
        item = self.model.item(index)
        if item is not None:
            self.patient_requested.emit(item.patient_id)

    def _work(self, dialog: Callable[[Desk, FollowUpItem, QWidget | None], Any], done: str) -> None:
        item = self.selected_item()
        if item is None:
            return
        if dialog(self.desk, item, self):
            self.status.setText("")
            self.noted.emit(f"{done}: {item.kind_label} for {item.patient_name}")
            self.refresh()

    def _on_record_attempt_triggered(self) -> None:
        item = self.selected_item()
        if item is None:
            return
        result = type(self).attempt_dialog(self.desk, item, self)
        if result is None:
            return
        if result.closed:
            told = len(result.confirmed)
            self.status.setText(
                f"{item.patient_name} reached: the {item.kind_label} is done."
                + (
                    f" {told} new time{'' if told == 1 else 's'} confirmed on the "
                    "confirmation list."
                    if told
                    else ""
                )
            )
            then = "reached, done"
        elif result.reached:
            self.status.setText(
                f"{item.patient_name} reached: complete the {item.kind_label} with its outcome."
            )
            then = "reached"
        elif result.next_attempt_at is not None:
            when = _when(result.next_attempt_at.astimezone(item.due.tzinfo), item)
            self.status.setText(f"Call {item.patient_name} again {when}.")
            then = f"call again {when}"
        else:
            self.status.setText(
                f"No calls left for {item.patient_name} after {result.attempts}: "
                "complete it with what was done."
            )
            then = "no calls left"
        self.noted.emit(f"Call recorded: {item.patient_name} · {then}")
        self.refresh()

    def _on_complete_triggered(self) -> None:
        item = self.selected_item()
        if item is not None and item.kind in MEASURE_KINDS:
            self._complete_measure(item)
            return
        self._work(type(self).complete_dialog, "Completed")

    def _complete_measure(self, item: FollowUpItem) -> None:
        dialog = type(self).measure_dialog(self.desk, item, self)
        if dialog.enter_answers and item.appointment_id is not None:
            self.measure_requested.emit(item.patient_id, item.kind, item.appointment_id)
        elif dialog.is_saved():
            self.status.setText("")
            self.noted.emit(f"Not taken: {item.kind_label} for {item.patient_name}")
            self.refresh()

    def _on_snooze_triggered(self) -> None:
        self._work(type(self).snooze_dialog, "Snoozed")

    def _on_open_patient_triggered(self) -> None:
        item = self.selected_item()
        if item is not None:
            self.patient_requested.emit(item.patient_id)

    def _on_open_session_triggered(self) -> None:
        item = self.selected_item()
        if item is not None and item.appointment_id is not None:
            self.appointment_requested.emit(item.appointment_id)

    def items(self) -> Sequence[FollowUpItem]:
        return self.queue.items if self.queue is not None else ()
