"""The note on Settings ▸ Clinic rules when the stored configuration lacks shipped rule keys
(a clinic created before the rules engine, an old backup restored), with "Add the shipped
rules": the services find and add them (``services/settings/shipped_rules.py``, audited); the
note holds no rule, it only says what they found.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

from ketadesk.services.common.context import ServiceError, may
from ketadesk.services.settings.shipped_rules import (
    MissingRules,
    add_missing_rules_now,
    read_missing_rules,
)
from ketadesk.ui.common.background import LatestOnly, run_service
from ketadesk.ui.common.desk import Desk

#: How many missing keys the note names before "and N more".
_NAMED = 3


def note_text(missing: MissingRules) -> str:
    """The note's words: how many keys are missing and the first few, by place and key."""
    named = "; ".join(missing.keys[:_NAMED])
    more = len(missing.keys) - _NAMED
    if more > 0:
        named += f"; and {more} more"
    count = len(missing.keys)
    keys = "rule key" if count == 1 else "rule keys"
    return (
        f"This clinic's stored rules lack {count} shipped {keys} ({named}), so those rules do "
        "not apply here. Adding them keeps every value the clinic set."
    )


class ShippedRulesNote(QFrame):
    """Shown only while shipped rule keys are missing.

    Signals:
        added(int): the shipped rules were added (how many keys); the page reads itself again.
    """

    added = Signal(int)

    def __init__(self, desk: Desk, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._desk = desk
        self._reads = LatestOnly(self, busy="Reading the clinic rules…")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.label = QLabel("", self)
        self.label.setWordWrap(True)
        self.button = QPushButton("Add the shipped rules", self)
        self.button.setEnabled(may(desk.actor, "configure"))
        self.button.clicked.connect(self._on_button_clicked)
        line = QHBoxLayout(self)
        line.addWidget(self.label, 1)
        line.addWidget(self.button)
        self.hide()  # until ``refresh`` (the page's) finds keys missing

    def refresh(self) -> None:
        db = self._desk.db
        self._reads.run(lambda: read_missing_rules(db), self._show)

    def _show(self, missing: MissingRules) -> None:
        self.label.setText(note_text(missing) if missing.keys else "")
        self.setVisible(bool(missing.keys))

    def _on_button_clicked(self) -> None:
        desk = self._desk
        self.button.setEnabled(False)
        run_service(
            self,
            lambda: add_missing_rules_now(desk.db, desk.actor, now=desk.now()),
            self._on_added,
            failed=self._on_refused,
            busy="Adding the shipped rules…",
            writes=True,
        )

    def _on_added(self, count: int) -> None:
        self.button.setEnabled(True)
        self.hide()
        self.added.emit(count)

    def _on_refused(self, err: ServiceError) -> None:
        self.button.setEnabled(True)
        self.label.setText(f"The shipped rules were not added: {err}")
