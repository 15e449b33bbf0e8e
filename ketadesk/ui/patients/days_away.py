"""The patient's days away on their record: the ranges listed (upcoming first, the past greyed
below as history), added, edited and deleted by whoever may edit the patient's details.

``DaysAwayBox`` reads and writes through ``services/patients/days_away.py`` on workers; a range
saved over sessions already booked says which, each a link that opens the session, so the desk
can move them (nothing is moved by itself).  ``AwayRangeDialog`` asks for the first and last day
and the reason, and refuses a last day before the first as it is typed.
"""

from __future__ import annotations

import datetime as dt
import html

from PySide6.QtCore import QDate, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ketadesk.scheduling.days_away import REASON_LENGTH, AwayRange, range_problem
from ketadesk.services.common.context import ServiceError, may
from ketadesk.services.patients.days_away import (
    PERMISSION,
    AwaySaved,
    DaysAway,
    add_day_away,
    edit_day_away,
    list_days_away,
    remove_day_away,
)
from ketadesk.ui.common.background import run_service
from ketadesk.ui.common.date_fields import DateField
from ketadesk.ui.common.desk import Desk
from ketadesk.ui.common.sizing import ContentHeight

#: Reasons offered in the reason box (anything else may be typed).
REASONS = ("travel", "work", "family", "illness")
KEY_ROLE = Qt.ItemDataRole.UserRole


class AwayRangeDialog(QDialog):
    """First day, last day (inclusive) and reason of a range away.

    Attributes:
        first, last: the date fields.
        reason: the reason box (editable).
        problem: why the range cannot be saved as typed (hidden when it can).
    """

    def __init__(
        self, parent: QWidget | None, today: dt.date, initial: AwayRange | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Edit days away" if initial is not None else "Add days away")
        self.first = DateField(self, value=initial.first if initial else today, weekday=True)
        self.first.setObjectName("away_first")
        self.first.setAccessibleName("First day away")
        self.last = DateField(self, value=initial.last if initial else today, weekday=True)
        self.last.setObjectName("away_last")
        self.last.setAccessibleName("Last day away (inclusive)")
        self.reason = QComboBox(self)
        self.reason.setObjectName("away_reason")
        self.reason.setAccessibleName("Reason")
        self.reason.setEditable(True)
        self.reason.addItems(REASONS)
        self.reason.setCurrentText(initial.reason if initial else "")
        line = self.reason.lineEdit()
        if line is not None:
            line.setMaxLength(REASON_LENGTH)
            line.setPlaceholderText("travel, work, …")
        self.problem = QLabel(self)
        self.problem.setObjectName("away_problem")
        self.problem.setStyleSheet("color: #c5221f")
        self.problem.setVisible(False)
        self.problem.setWordWrap(True)  # the whole problem, never cut at the window's edge
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel, self
        )
        form = QFormLayout(self)
        form.addRow("&First day:", self.first)
        form.addRow("&Last day:", self.last)
        form.addRow("&Reason:", self.reason)
        form.addRow(self.problem)
        form.addRow(self.buttons)
        ContentHeight(self)
        self.setMinimumWidth(self.fontMetrics().averageCharWidth() * 48)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.first.dateChanged.connect(self._on_first_date_changed)
        self.last.dateChanged.connect(self._check)
        self.reason.editTextChanged.connect(self._check)
        self._check()

    def _on_first_date_changed(self, day: QDate) -> None:
        # A single day is the usual start: the last day follows the first until it is later.
        if self.last.date() < day:
            self.last.setDate(day)
        self._check()

    def value(self) -> AwayRange:
        first: dt.date = self.first.date().toPython()  # type: ignore[assignment]
        last: dt.date = self.last.date().toPython()  # type: ignore[assignment]
        return AwayRange(first, last, self.reason.currentText().strip())

    def _check(self) -> None:
        r = self.value()
        problem = range_problem(r.first, r.last, r.reason)
        self.problem.setText(problem[:1].upper() + problem[1:] + "." if problem else "")
        self.problem.setVisible(bool(problem))
        save = self.buttons.button(QDialogButtonBox.StandardButton.Save)
        if save is not None:
            save.setEnabled(not problem)

    @classmethod
    def ask(
        cls, parent: QWidget | None, today: dt.date, initial: AwayRange | None = None
    ) -> AwayRange | None:
        """The range typed, or None when cancelled (tests replace this)."""
        dialog = cls(parent, today, initial)
        return dialog.value() if dialog.exec() == QDialog.DialogCode.Accepted else None


class DaysAwayBox(QGroupBox):
    """The patient's days away, with Add…, Edit… and Delete.

    Signals:
        appointment_activated(int): open this appointment (a session falling in a range saved).
        changed(): a range was added, edited or deleted (and the list read again).
        problem(str): a change was refused (also shown in the box).

    Attributes:
        tree: the ranges, upcoming first; each item's ``KEY_ROLE`` is the range's id.
        notice: what the last change found (the booked sessions in the range, as links).
        days_away: the ranges shown (None until read).
    """

    appointment_activated = Signal(int)
    changed = Signal()
    problem = Signal(str)

    def __init__(self, desk: Desk, patient_id: int, parent: QWidget | None = None) -> None:
        super().__init__("Days away", parent)
        self.setObjectName("days_away_box")
        self._desk = desk
        self.patient_id = patient_id
        self.days_away: DaysAway | None = None
        self._build()
        self._connect()

    def _build(self) -> None:
        self.tree = QTreeWidget(self)
        self.tree.setObjectName("days_away")
        self.tree.setAccessibleName("Days away")
        self.tree.setHeaderLabels(["Days", "Reason"])
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(True)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.header().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.tree.header().setStretchLastSection(True)
        self.tree.setMaximumHeight(110)
        self.notice = QLabel(self)
        self.notice.setObjectName("days_away_notice")
        self.notice.setWordWrap(True)
        self.notice.setTextFormat(Qt.TextFormat.RichText)
        self.notice.setVisible(False)
        self.add_button = QPushButton("&Add…", self)
        self.add_button.setAccessibleName("Add days away")
        self.edit_button = QPushButton("Edit…", self)
        self.edit_button.setAccessibleName("Edit the selected days away")
        self.delete_button = QPushButton("Delete", self)
        self.delete_button.setAccessibleName("Delete the selected days away")
        may_edit = may(self._desk.actor, PERMISSION)
        for button in (self.add_button, self.edit_button, self.delete_button):
            button.setVisible(may_edit)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        for button in (self.add_button, self.edit_button, self.delete_button):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tree)
        layout.addWidget(self.notice)
        layout.addLayout(buttons)
        self._on_tree_selection_changed()

    def _connect(self) -> None:
        self.add_button.clicked.connect(self._on_add_button_clicked)
        self.edit_button.clicked.connect(self._on_edit_button_clicked)
        self.delete_button.clicked.connect(self._on_delete_button_clicked)
        self.tree.itemSelectionChanged.connect(self._on_tree_selection_changed)
        self.tree.itemActivated.connect(self._on_edit_button_clicked)
        self.notice.linkActivated.connect(self._on_notice_link_activated)

    # -- reading ----------------------------------------------------------------------------

    def reload(self) -> None:
        db, patient_id, now = self._desk.db, self.patient_id, self._desk.now()
        run_service(
            self,
            lambda: list_days_away(db, patient_id, now=now),
            self.show_days_away,
            failed=self._on_failed,
            busy="Reading days away…",
        )

    def show_days_away(self, days_away: DaysAway) -> None:
        self.days_away = days_away
        self.tree.clear()
        muted = self.palette().color(self.foregroundRole())
        muted.setAlpha(130)
        for r in days_away.ranges:
            past = r.last < days_away.today
            item = QTreeWidgetItem([r.span + (" (past)" if past else ""), r.reason or "—"])
            item.setData(0, KEY_ROLE, r.key)
            if past:
                for column in (0, 1):
                    item.setForeground(column, muted)
            self.tree.addTopLevelItem(item)
        if not days_away.ranges:
            empty = QTreeWidgetItem(["None on record", ""])
            empty.setFlags(Qt.ItemFlag.NoItemFlags)
            self.tree.addTopLevelItem(empty)
        upcoming = len(days_away.upcoming)
        self.setTitle(f"Days away ({upcoming} upcoming)" if upcoming else "Days away")
        self._on_tree_selection_changed()

    def selected(self) -> AwayRange | None:
        items = self.tree.selectedItems()
        if not items or self.days_away is None:
            return None
        key = items[0].data(0, KEY_ROLE)
        return next((r for r in self.days_away.ranges if r.key == key), None)

    # -- changing ---------------------------------------------------------------------------

    def _today(self) -> dt.date:
        return self.days_away.today if self.days_away is not None else self._desk.now().date()

    def _on_add_button_clicked(self) -> None:
        typed = AwayRangeDialog.ask(self, self._today())
        if typed is None:
            return
        db, actor, patient_id, now = (
            self._desk.db,
            self._desk.actor,
            self.patient_id,
            self._desk.now(),
        )
        run_service(
            self,
            lambda: add_day_away(
                db, actor, patient_id, typed.first, typed.last, typed.reason, now=now
            ),
            self._on_saved,
            failed=self._on_failed,
            busy="Saving days away…",
            writes=True,
        )

    def _on_edit_button_clicked(self) -> None:
        chosen = self.selected()
        if chosen is None or chosen.key is None or not self.edit_button.isVisible():
            return
        typed = AwayRangeDialog.ask(self, self._today(), chosen)
        if typed is None:
            return
        key = chosen.key
        db, actor, now = self._desk.db, self._desk.actor, self._desk.now()
        run_service(
            self,
            lambda: edit_day_away(db, actor, key, typed.first, typed.last, typed.reason, now=now),
            self._on_saved,
            failed=self._on_failed,
            busy="Saving days away…",
            writes=True,
        )

    def _on_delete_button_clicked(self) -> None:
        chosen = self.selected()
        if chosen is None or chosen.key is None:
            return
        if not self.confirm_delete(chosen):
            return
        key = chosen.key
        db, actor, now = self._desk.db, self._desk.actor, self._desk.now()
        run_service(
            self,
            lambda: remove_day_away(db, actor, key, now=now),
            self._on_removed,
            failed=self._on_failed,
            busy="Deleting days away…",
            writes=True,
        )

    def confirm_delete(self, chosen: AwayRange) -> bool:
        """Whether the user confirms deleting ``chosen`` (tests replace this)."""
        answer = QMessageBox.question(
            self,
            "Delete days away",
            f"Delete the days away {chosen.words}? The audit trail keeps a record of it.",
        )
        return answer == QMessageBox.StandardButton.Yes

    def _on_saved(self, saved: AwaySaved) -> None:
        if saved.sessions:
            links = ", ".join(
                f'<a href="appointment:{s.appointment_id}">{html.escape(s.when)}</a>'
                for s in saved.sessions
            )
            n = len(saved.sessions)
            noun = "session falls" if n == 1 else "sessions fall"
            self.notice.setText(
                f"<b>{n} {noun} in this time:</b> {links}. They stay booked: open each to move it."
            )
            self.notice.setAccessibleName(saved.summary)
            self.notice.setVisible(True)
        else:
            self.notice.setVisible(False)
        self.changed.emit()
        self.reload()

    def _on_removed(self, _gone: AwayRange) -> None:
        self.notice.setVisible(False)
        self.changed.emit()
        self.reload()

    def _on_failed(self, err: ServiceError) -> None:
        self.notice.setText(html.escape(f"Not done: {err}"))
        self.notice.setVisible(True)
        self.problem.emit(str(err))

    def _on_tree_selection_changed(self) -> None:
        chosen = self.selected() is not None
        self.edit_button.setEnabled(chosen)
        self.delete_button.setEnabled(chosen)

    def _on_notice_link_activated(self, link: str) -> None:
        kind, _, number = link.partition(":")
        if kind == "appointment" and number.isdigit():
            self.appointment_activated.emit(int(number))
