"""The shared override dialog: it names every refused rule and will not go ahead without a
reason."""

from __future__ import annotations

from PySide6.QtWidgets import QDialogButtonBox, QLabel
from pytestqt.qtbot import QtBot

from ketadesk.ui.common.override_dialog import OverrideDialog, RefusedRule

RULES = [
    RefusedRule("min_gap", "Too close", "session 1/2 and 2/2 would be 1 day apart"),
    RefusedRule("prior_auth_valid", "Prior authorization", "expired Mon Nov 30 <soon>"),
]


def _dialog(qtbot: QtBot) -> OverrideDialog:
    dialog = OverrideDialog(None, step="move this session", rules=RULES, actor_name="Kim Nguyen")
    qtbot.addWidget(dialog)
    return dialog


def test_names_each_rule_with_its_code_and_fact(qtbot: QtBot) -> None:
    label = _dialog(qtbot).findChild(QLabel, "override-rules")
    assert label is not None
    text = label.text()
    assert "Too close" in text
    assert "[min_gap]" in text
    assert "1 day apart" in text
    assert "[prior_auth_valid]" in text
    assert "&lt;soon&gt;" in text
    assert "move this session" in text


def test_no_reason_no_override(qtbot: QtBot) -> None:
    dialog = _dialog(qtbot)
    box = dialog.findChild(QDialogButtonBox)
    assert box is not None
    ok = box.button(QDialogButtonBox.StandardButton.Ok)
    assert not ok.isEnabled()
    dialog.set_reason("   ")
    assert not ok.isEnabled()
    dialog.set_reason("  fever on the planned day  ")
    assert ok.isEnabled()
    assert dialog.reason() == "fever on the planned day"
