"""``ketadesk demo`` ends with commands to paste next, dated from the demo's own today."""

from __future__ import annotations

import datetime as dt
import shlex
from pathlib import Path

import pytest

from ketadesk.cli import main


def test_demo_prints_examples_that_work_on_the_day_it_is_built(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "harbor.sqlite")
    assert main(["demo", "--db", db, "--quiet"]) == 0
    out = capsys.readouterr().out
    tried = out.split("Try:\n", 1)[1].splitlines()
    plan = next(shlex.split(line)[1:] for line in tried if " plan " in line)
    start = dt.date.fromisoformat(plan[plan.index("--start") + 1])
    today = dt.date.fromisoformat(out.split("today ", 1)[1][:10])
    assert start.weekday() == 0
    assert 0 < (start - today).days <= 7

    assert main(plan) == 0  # the example plans a whole series on this clinic, today
    planned = capsys.readouterr().out
    assert "6 sessions" in planned
    assert "NOT PLACED" not in planned
    day = next(shlex.split(line)[1:] for line in tried if " print day " in line)
    assert day[day.index("--date") + 1] == today.isoformat()
