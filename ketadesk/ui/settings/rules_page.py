"""Settings ▸ Clinic rules: how hard each rule stops a step (Block / Warn / Off) and the numbers
of resources/config/ (durations, gaps, windows, thresholds, follow-up rules), edited in a form
generated from the configuration's structure.

The form holds no rule: the services list the fields (``services/settings/rules.py``) and check
a save with the configuration loader's own validation; a mistake comes back per field, with the
loader's message, and nothing is saved.
"""

from __future__ import annotations

from PySide6.QtCore import QTimer, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ketadesk.services.common.context import InvalidFields, ServiceError, may
from ketadesk.services.settings.rule_levels import LevelGroup, RuleLevel
from ketadesk.services.settings.rules import ClinicRules, read_rules, save_rules
from ketadesk.ui.common.background import LatestOnly, run_service
from ketadesk.ui.common.colors import is_dark
from ketadesk.ui.common.desk import Desk
from ketadesk.ui.settings.shipped_rules_note import ShippedRulesNote

#: Error text: a red that reads on light and on dark backgrounds (as in the patient form).
_ERROR_COLORS = {"light": "#b3261e", "dark": "#f2b8b5"}
#: The largest number a field takes: the loader judges the value, the box only holds it.
_SPIN_MAX = 1_000_000


class _RuleRow(QWidget):
    """One number with its unit, and the loader's message under it when it is wrong."""

    def __init__(
        self,
        key: str,
        unit: str,
        value: int,
        parent: QWidget | None = None,
        limits: tuple[int, int] | None = None,
    ) -> None:
        super().__init__(parent)
        self.key = key
        self.original = value
        self.spin = QSpinBox(self)
        # The service's range for a threshold (its clinic's limits), else any number.
        low, high = limits if limits is not None else (-_SPIN_MAX, _SPIN_MAX)
        self.spin.setRange(min(low, value), max(high, value))
        self.spin.setValue(value)
        self.spin.setAccessibleName(key)
        self.setFocusProxy(self.spin)
        self.unit = QLabel(unit, self)
        self.error = QLabel("", self)
        self.error.setWordWrap(True)
        self.error.hide()
        color = _ERROR_COLORS["dark" if is_dark(self.palette()) else "light"]
        self.error.setStyleSheet(f"color: {QColor(color).name()}")
        line = QHBoxLayout()
        line.setContentsMargins(0, 0, 0, 0)
        line.addWidget(self.spin)
        line.addWidget(self.unit)
        line.addStretch(1)
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.addLayout(line)
        box.addWidget(self.error)

    def set_error(self, message: str) -> None:
        self.error.setText(message)
        self.error.setVisible(bool(message))

    @property
    def changed(self) -> bool:
        return self.spin.value() != self.original


class _LevelRow(QWidget):
    """One rule's level in a combo, with what the chosen level means for who may go ahead, and
    the service's message under it (a bad stored value, a refused save)."""

    def __init__(self, rule: RuleLevel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.key = rule.key
        self.original = rule.level
        self._rule = rule
        self.combo = QComboBox(self)
        self.combo.setAccessibleName(rule.key)
        self.setFocusProxy(self.combo)
        for choice in rule.choices:
            self.combo.addItem(choice.label, choice.value)
        self.combo.setCurrentIndex(self.combo.findData(rule.level))
        self.hint = QLabel("", self)
        self.hint.setWordWrap(True)
        self.error = QLabel("", self)
        self.error.setWordWrap(True)
        color = _ERROR_COLORS["dark" if is_dark(self.palette()) else "light"]
        self.error.setStyleSheet(f"color: {QColor(color).name()}")
        self.set_error(rule.problem)
        self.combo.currentIndexChanged.connect(self._on_combo_changed)
        self._on_combo_changed()
        line = QHBoxLayout()
        line.setContentsMargins(0, 0, 0, 0)
        line.addWidget(self.combo)
        line.addWidget(self.hint, 1)
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.addLayout(line)
        box.addWidget(self.error)

    @property
    def value(self) -> str:
        data = self.combo.currentData()
        return data if isinstance(data, str) else ""

    def set_level(self, level: str) -> None:
        self.combo.setCurrentIndex(self.combo.findData(level))

    def _on_combo_changed(self) -> None:
        self.hint.setText(self._rule.meaning(self.value))

    def set_error(self, message: str) -> None:
        self.error.setText(message)
        self.error.setVisible(bool(message))

    @property
    def changed(self) -> bool:
        return bool(self.value) and self.value != self.original


class RulesPage(QWidget):
    """The clinic rules: one group per settings section, session type and protocol."""

    title = "Clinic rules"
    saved = Signal(int)  # how many configuration entities changed
    not_saved = Signal()

    def __init__(self, desk: Desk, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._desk = desk
        self._reads = LatestOnly(self, busy="Reading the clinic rules…")
        self._saving = False
        self.rows: dict[str, _RuleRow] = {}
        self.levels: dict[str, _LevelRow] = {}
        intro = QLabel(
            "How hard each rule stops a step (Block: refused; Warn: refused until a named role "
            "gives a reason; Off: not checked), and the numbers the planner and the desk work "
            "with. Each is checked as the configuration files are; a mistake is shown at its "
            "field and nothing is saved.",
            self,
        )
        intro.setWordWrap(True)
        self._body = QWidget()
        self._body_layout = QVBoxLayout(self._body)
        self._scroll = scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setWidget(self._body)
        self.message = QLabel("", self)
        self.message.setWordWrap(True)
        self.save_button = QPushButton("Save", self)
        self.save_button.clicked.connect(self.save)
        self.revert_button = QPushButton("Revert", self)
        self.revert_button.clicked.connect(self.refresh)
        allowed = may(desk.actor, "configure")
        self.save_button.setEnabled(allowed)
        if not allowed:
            self.message.setText("Only an administrator may change the clinic rules.")
        buttons = QHBoxLayout()
        buttons.addWidget(self.message, 1)
        buttons.addWidget(self.revert_button)
        buttons.addWidget(self.save_button)
        # Shown only when the stored rules lack shipped keys (an older clinic, an old backup).
        self.shipped_note = ShippedRulesNote(desk, self)
        self.shipped_note.added.connect(self._on_shipped_rules_added)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.shipped_note)
        layout.addWidget(scroll, 1)
        layout.addLayout(buttons)
        self.refresh()

    # -- reading ----------------------------------------------------------------------------

    def refresh(self) -> None:
        self.shipped_note.refresh()
        db = self._desk.db
        self._reads.run(lambda: read_rules(db), self._show)

    def _show(self, rules: ClinicRules) -> None:
        while self._body_layout.count():
            item = self._body_layout.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        self.rows = {}
        self.levels = {}
        for level_group in rules.levels:
            self._body_layout.addWidget(self._level_box(level_group))
        for group in rules.groups:
            box = QGroupBox(group.title, self._body)
            form = QFormLayout(box)
            for f in group.fields:
                row = _RuleRow(f.key, f.unit, f.value, box, f.limits)
                row.setToolTip(f.key)
                # "&" in a name ("Check-in, BP & checklist") is a letter, not a mnemonic.
                form.addRow(f.label.replace("&", "&&"), row)
                self.rows[f.key] = row
            self._body_layout.addWidget(box)
        self._body_layout.addStretch(1)

    def _level_box(self, group: LevelGroup) -> QGroupBox:
        box = QGroupBox(group.title, self._body)
        form = QFormLayout(box)
        for rule in group.rules:
            row = _LevelRow(rule, box)
            row.setToolTip(rule.key)
            form.addRow(rule.title, row)
            self.levels[rule.key] = row
        return box

    # -- saving -----------------------------------------------------------------------------

    def changed_values(self) -> dict[str, int | str]:
        values: dict[str, int | str] = {
            key: row.value for key, row in self.levels.items() if row.changed
        }
        values.update({key: row.spin.value() for key, row in self.rows.items() if row.changed})
        return values

    def show_errors(self, errors: dict[str, str]) -> None:
        for key, level in self.levels.items():
            if key in errors or level.value:  # a bad stored value keeps its message till chosen
                level.set_error(errors.get(key, ""))
        for key, row in self.rows.items():
            row.set_error(errors.get(key, ""))
        if errors:
            general = errors.get("", "")
            self.message.setText(
                "Not saved: " + (general or "correct the marked field (nothing has been saved).")
            )
            first: QWidget | None = next(
                (
                    self.levels.get(k) or self.rows[k]
                    for k in errors
                    if k in self.levels or k in self.rows
                ),
                None,
            )
            if first is not None:
                first.setFocus()
                # After the layout has placed the rows (a fresh page lays out lazily).
                QTimer.singleShot(0, lambda: self._scroll.ensureWidgetVisible(first, 0, 80))
        else:
            self.message.setText("")

    def save(self) -> None:
        if self._saving:
            return
        values = self.changed_values()
        if not values:
            self.message.setText("Nothing changed.")
            return
        desk = self._desk

        def work() -> int | dict[str, str]:
            try:
                return save_rules(desk.db, desk.actor, values, now=desk.now())
            except InvalidFields as err:
                return err.errors

        self._saving = True
        self.save_button.setEnabled(False)
        run_service(
            self,
            work,
            self._on_saved,
            failed=self._on_refused,
            busy="Saving the clinic rules…",
            writes=True,
        )

    def _on_saved(self, outcome: int | dict[str, str]) -> None:
        self._saving = False
        self.save_button.setEnabled(True)
        if isinstance(outcome, dict):
            self.show_errors(outcome)
            self.not_saved.emit()
            return
        self.show_errors({})
        for row in self.rows.values():
            row.original = row.spin.value()
        for level in self.levels.values():
            level.original = level.value or level.original
        self.message.setText("Saved. Every workstation uses the new rules from now on.")
        self.saved.emit(outcome)

    def _on_refused(self, err: ServiceError) -> None:
        self._saving = False
        self.save_button.setEnabled(True)
        self.message.setText(f"Not saved: {err}")
        self.not_saved.emit()

    def _on_shipped_rules_added(self, count: int) -> None:
        keys = "rule key" if count == 1 else "rule keys"
        self.message.setText(f"Added {count} shipped {keys}; the clinic's own values are kept.")
        self.refresh()

    def field(self, key: str) -> _RuleRow:
        return self.rows[key]

    def level(self, key: str) -> _LevelRow:
        return self.levels[key]
