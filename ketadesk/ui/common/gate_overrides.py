"""The gating rules that stop a booking, shown with an override for each warning: the rule and
the fact, and for a warn-level rule an "Override" box and the reason it needs.  A block-level
rule has no override.  The booking dialog and the waitlist's offer of a freed place both show
them so, and book with ``overrides()`` (rule -> reason); the booking service judges them again
(who may override, a reason given) in its own transaction.  Who may override which rule is the
services' answer (``services/booking/override_rights.may_override``, handed in as
``MayOverride``): a day the patient is away is anyone's who books, a clinical rule a nurse's
or prescriber's.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Collection, Mapping, Sequence

from PySide6.QtWidgets import QCheckBox, QGridLayout, QGroupBox, QLabel, QLineEdit, QWidget

from ketadesk.scheduling.gating import GateResult, Severity
from ketadesk.services.booking import override_rights
from ketadesk.services.common.context import Actor

#: Whether the signed-in user may set these rules aside with a reason (the services' answer).
MayOverride = Callable[[Collection[str]], bool]

#: What a role that may not override is told beside the warnings.
WHO_OVERRIDES = "A nurse or prescriber can override warnings with a reason."


def may_override_for(actor: Actor) -> MayOverride:
    """The services' rule of who may override (``override_rights.may_override``) for ``actor``."""
    return lambda rules: override_rights.may_override(actor, rules)


def gates_blocker(
    gates: Sequence[GateResult], overrides: Mapping[str, str], may_override: MayOverride
) -> str:
    """Why the gates stop the booking ("" when they do not): a block, or a warning nobody has
    overridden with a reason."""
    if any(g.severity is Severity.BLOCK for g in gates):
        return "A gating rule blocks this booking (see Gating)."
    open_ = [g.rule for g in gates if not overrides.get(g.rule, "").strip()]
    if open_:
        if not may_override(open_):
            return "Gating warnings need a nurse or prescriber to override them."
        return "Override each gating warning with a reason, or fix the patient's record."
    return ""


class GateRow:
    """One gating result: its explanation, and for a warning the override box and reason."""

    def __init__(self, result: GateResult, parent: QWidget, can_override: bool) -> None:
        self.result = result
        word = "Blocks" if result.severity is Severity.BLOCK else "Warning"
        self.label = QLabel(f"<b>{word}:</b> {html.escape(result.explained)}", parent)
        self.label.setWordWrap(True)
        self.label.setAccessibleName(f"{word}: {result.explained}")
        self.override = QCheckBox("Override", parent)
        self.override.setObjectName(f"override_{result.rule}")
        self.override.setAccessibleName(f"Override: {result.message}")
        self.reason = QLineEdit(parent)
        self.reason.setObjectName(f"override_reason_{result.rule}")
        self.reason.setPlaceholderText("Reason (required to override)")
        self.reason.setAccessibleName(f"Reason for overriding: {result.message}")
        self.reason.setEnabled(False)
        warn = result.severity is Severity.WARN
        self.override.setVisible(warn and can_override)
        self.reason.setVisible(warn and can_override)
        self.override.toggled.connect(self.reason.setEnabled)

    def overridden_reason(self) -> str:
        if self.override.isChecked() and not self.override.isHidden():
            return self.reason.text().strip()
        return ""


class GateOverrides:
    """The gating rows of one box (a ``QGroupBox`` with a ``QGridLayout``), rebuilt by
    ``show``; ``changed`` is called whenever an override box or reason changes.

    Attributes:
        box: the group box the rows live in (hidden while there are none).
        rows: the rows shown, in the order given.
    """

    def __init__(
        self, box: QGroupBox, may_override: MayOverride, changed: Callable[[], None]
    ) -> None:
        self.box = box
        self._layout = QGridLayout(box)
        self._layout.setColumnStretch(1, 1)
        self._may_override = may_override
        self._changed = changed
        self.rows: list[GateRow] = []
        box.setVisible(False)

    def show(self, gates: Sequence[GateResult], *, kept: Mapping[str, str] | None = None) -> None:
        """Show ``gates``; ``kept``: reasons already typed, by rule, ticked again."""
        for row in self.rows:
            for widget in (row.label, row.override, row.reason):
                self._layout.removeWidget(widget)
                widget.deleteLater()
        self.rows = []
        while self._layout.count():
            item = self._layout.takeAt(0)
            leftover = item.widget() if item is not None else None
            if leftover is not None:
                leftover.deleteLater()
        for n, result in enumerate(gates):
            row = GateRow(result, self.box, self._may_override([result.rule]))
            self._layout.addWidget(row.label, 2 * n, 0, 1, 2)
            self._layout.addWidget(row.override, 2 * n + 1, 0)
            self._layout.addWidget(row.reason, 2 * n + 1, 1)
            if kept and result.rule in kept:
                row.override.setChecked(True)
                row.reason.setText(kept[result.rule])
            row.override.toggled.connect(self._changed)
            row.reason.textChanged.connect(self._changed)
            self.rows.append(row)
        if any(g.severity is Severity.WARN and not self._may_override([g.rule]) for g in gates):
            note = QLabel(WHO_OVERRIDES, self.box)
            note.setWordWrap(True)
            self._layout.addWidget(note, 2 * len(gates), 0, 1, 2)
        self.box.setVisible(bool(gates))

    def overrides(self) -> dict[str, str]:
        """The warnings overridden, each with its reason (rule -> reason)."""
        out: dict[str, str] = {}
        for row in self.rows:
            reason = row.overridden_reason()
            if reason and row.result.severity is Severity.WARN:
                out[row.result.rule] = reason
        return out

    def gate_row(self, rule: str) -> tuple[QCheckBox, QLineEdit] | None:
        """The override box and reason field of a gating rule (None if it is not shown)."""
        for row in self.rows:
            if row.result.rule == rule:
                return row.override, row.reason
        return None

    def results(self) -> tuple[GateResult, ...]:
        return tuple(row.result for row in self.rows)
