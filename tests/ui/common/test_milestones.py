"""The start-up milestones hook (ui.common.milestones): off unless KETADESK_MILESTONES names a
file, and then one line per milestone, each written once."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtWidgets import QLabel
from pytestqt.qtbot import QtBot

from ketadesk.ui.common import milestones


@pytest.fixture(autouse=True)
def fresh(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(milestones, "_written", set())


def test_without_the_variable_nothing_is_watched_or_written(
    qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(milestones.ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    label = QLabel("day")
    qtbot.addWidget(label)
    milestones.record_after_paint(label, milestones.DAY_PAINTED)
    assert not label.findChildren(milestones._PaintWatch)
    label.show()
    qtbot.waitExposed(label)
    milestones.record(milestones.SIGN_IN_PAINTED)
    assert milestones._written == set()
    assert list(tmp_path.iterdir()) == []


def test_with_the_variable_a_paint_is_recorded_once_with_time_and_memory(
    qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    out = tmp_path / "milestones.txt"
    monkeypatch.setenv(milestones.ENV, str(out))
    before = time.monotonic()
    ready = [False]
    label = QLabel("day")
    qtbot.addWidget(label)
    milestones.record_after_paint(label, milestones.DAY_PAINTED, lambda: ready[0])
    label.show()
    qtbot.waitExposed(label)
    qtbot.wait(50)
    assert not out.exists()  # painted, but not ready yet
    ready[0] = True
    label.update()
    qtbot.waitUntil(out.exists, timeout=5000)
    label.repaint()
    milestones.record(milestones.DAY_PAINTED)
    lines = out.read_text().splitlines()
    assert len(lines) == 1
    name, seconds, peak_kb = lines[0].split()
    assert name == milestones.DAY_PAINTED
    assert before <= float(seconds) <= time.monotonic()
    assert int(peak_kb) > 10_000
