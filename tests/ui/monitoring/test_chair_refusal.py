"""The monitoring record refuses a discharge the chair's rules forbid, in words naming each
rule; a nurse cannot override it, a prescriber can, with a reason, and the override stays on
the record.  Writes discharge-refused.png when KETADESK_SCREENSHOTS is
set to a folder (docs/screenshots/ for the README's picture of the refusal)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PySide6.QtTest import QTest
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from ketadesk.services.common.context import Actor
from ketadesk.services.monitoring import records
from ketadesk.store.models import GatingOverride, SessionRecord
from ketadesk.ui.common.desk import Desk
from ketadesk.ui.monitoring.monitoring_dialog import MonitoringDialog
from tests.clinic_fixtures import SmallClinic
from tests.ui.monitoring.spravato_day import NURSE, PRESCRIBER, WED, book_spravato


@pytest.fixture
def spravato(clinic: SmallClinic) -> int:
    booked = book_spravato(clinic)
    clinic.start(booked, WED, "10:00")  # a dose is recorded on a session in progress
    return booked


def _dialog(qtbot: QtBot, clinic: SmallClinic, appointment: int, actor: Actor) -> MonitoringDialog:
    now = clinic.at(WED, "12:16")
    sheet = records.open_record(clinic.db, actor, appointment, now=now)
    dialog = MonitoringDialog(Desk(clinic.db, actor, lambda: now), appointment, sheet=sheet)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def _fill_a_discharge_at_120_minutes(dialog: MonitoringDialog) -> None:
    """Sedation severe, not resolved; SpO2 88 % before discharge; discharged at 12:15."""
    readings = {
        0: ("10:10", "128", "82", "72", "98"),
        1: ("10:56", "134", "86", "76", "95"),
        2: ("12:14", "124", "80", "70", "88"),
    }
    for index, values in readings.items():
        for key, text in zip(
            ("time", "systolic", "diastolic", "heart_rate", "spo2"), values, strict=True
        ):
            edit = dialog.reading_editor(index, key)
            QTest.keyClicks(edit, text)
            edit.editingFinished.emit()
    for key, text in (
        ("dose_mg", "56"),
        ("devices", "2"),
        ("lot_number", "LOT-88"),
        ("dose_started", "10:15"),
        ("discharged", "12:15"),
    ):
        QTest.keyClicks(dialog.editor(key), text)
    dialog._sedation.setCurrentIndex(dialog._sedation.findData("severe"))
    dialog._dissociation.setCurrentIndex(dialog._dissociation.findData("none"))


def _saved(clinic: SmallClinic) -> int:
    with clinic.db.read() as session:
        return len(session.scalars(select(SessionRecord)).all())


def test_a_nurse_sees_the_refused_discharge_in_words_and_cannot_override_it(
    qtbot: QtBot, clinic: SmallClinic, spravato: int
) -> None:
    dialog = _dialog(qtbot, clinic, spravato, NURSE)
    _fill_a_discharge_at_120_minutes(dialog)
    dialog._save.click()
    qtbot.waitUntil(lambda: dialog._override.isVisible(), timeout=10_000)
    text = dialog._status.text()
    assert "<b>Effects resolved before discharge</b>: sedation (severe) is not marked" in text
    assert "the latest SpO2 is 88% (12:14), below 93%" in text
    assert not dialog._override.isEnabled()
    assert dialog._override.toolTip() == (
        "Only a prescriber may override; ask them to open this record"
    )
    assert dialog.isVisible()
    assert _saved(clinic) == 0
    dialog.resize(1000, 900)
    image = dialog.grab()
    assert not image.isNull()
    folder = os.environ.get("KETADESK_SCREENSHOTS")  # docs/screenshots/discharge-refused.png
    if folder:
        assert image.save(str(Path(folder) / "discharge-refused.png"))
    # Marked resolved and breathing well again, the same discharge is saved.
    resolved = dialog.editor("sedation_resolved")
    resolved.setProperty("checked", True)
    spo2 = dialog.reading_editor(2, "spo2")
    spo2.clear()
    QTest.keyClicks(spo2, "96")
    with qtbot.waitSignal(dialog.saved, timeout=10_000):
        dialog._save.click()
    assert _saved(clinic) == 1


def test_a_prescriber_overrides_the_refusal_with_a_reason_and_the_record_is_saved(
    qtbot: QtBot, clinic: SmallClinic, spravato: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    dialog = _dialog(qtbot, clinic, spravato, PRESCRIBER)
    _fill_a_discharge_at_120_minutes(dialog)
    dialog._save.click()
    qtbot.waitUntil(lambda: dialog._override.isVisible(), timeout=10_000)
    assert dialog._override.isEnabled()
    asked: list[str] = []

    def reason(parent: object, rules: str) -> str:
        asked.append(rules)
        return "Sedation lifting, SpO2 rising on room air; escort a nurse; I stay with her"

    monkeypatch.setattr(MonitoringDialog, "ask_reason", classmethod(lambda cls, p, r: reason(p, r)))
    with qtbot.waitSignal(dialog.saved, timeout=10_000):
        dialog._override.click()
    assert asked == ["Effects resolved before discharge"]
    assert _saved(clinic) == 1
    with clinic.db.read() as session:
        stored = session.scalars(select(GatingOverride)).one()
        assert (stored.rule, stored.reason) == (
            "chair.discharge_effects",
            "Sedation lifting, SpO2 rising on room air; escort a nurse; I stay with her",
        )
    again = _dialog(qtbot, clinic, spravato, PRESCRIBER)
    assert again._overrides.isVisible()
    assert "Overridden: <b>Effects resolved before discharge</b> — Sedation lifting" in (
        again._overrides.text()
    )
