"""The soak's pieces, quickly (the soak itself is `make soak`, never part of `make test`): a
ten-second run of two workstations finishes clean, so does one whose workstations are killed
five times, and the independent checker catches an overlap, a lost success, a partial series,
an unlogged change and a missing audit event put into the database with raw SQL."""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing
import sqlite3
import sys
from pathlib import Path

import pytest

from tests.soak import checker, run

pytestmark = pytest.mark.skipif(
    sys.platform == "win32" or "fork" not in multiprocessing.get_all_start_methods(),
    reason="the soak forks its workstations",
)


@pytest.fixture(scope="module")
def soaked(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clinic after a ten-second soak with two workstations (run once for the module)."""
    out = tmp_path_factory.mktemp("soak")
    status = run.main(
        ["--workers", "2", "--minutes", str(10 / 60), "--seed", "20261204", "--out", str(out)]
    )
    assert status == 0, (out / "figures.json").read_text(encoding="utf-8")
    return out


def test_a_short_soak_finishes_clean_and_writes_its_figures(soaked: Path) -> None:
    figures = json.loads((soaked / "figures.json").read_text(encoding="utf-8"))
    assert figures["workers"] == 2
    assert figures["seed"] == 20261204
    assert figures["totals"]["ok"] > 0, "nothing succeeded: the run proves nothing"
    assert figures["totals"]["refused"] > 0, "nothing was refused: no contention"
    assert figures["totals"]["raw"] == 0
    assert set(figures["violations"].values()) == {0}
    assert {"book", "move", "cancel", "undo"} <= set(figures["operations"])


def test_the_checker_catches_an_overlap_a_lost_success_and_a_partial_series(
    soaked: Path, tmp_path: Path
) -> None:
    # A copy, so the clean run stays clean for the other test.
    db_path = tmp_path / "clinic.sqlite"
    with sqlite3.connect(soaked / "clinic.sqlite") as src, sqlite3.connect(db_path) as dst:
        src.backup(dst)
    logs = tmp_path / "logs"
    logs.mkdir()
    for log in (soaked / "logs").glob("*.jsonl"):
        (logs / log.name).write_bytes(log.read_bytes())
    url = f"sqlite:///{db_path}"
    assert checker.check(url, logs).total == 0

    with sqlite3.connect(db_path) as raw:
        # An overlap: a second appointment's room hold copied onto another's room and time.
        (a, b) = raw.execute(
            "SELECT h.appointment_id FROM resource_hold h WHERE h.active AND h.exclusive "
            "AND h.need = 'room' GROUP BY h.appointment_id ORDER BY h.appointment_id LIMIT 2"
        ).fetchall()
        raw.execute(
            "INSERT INTO resource_hold (appointment_id, resource_id, need, mode, exclusive, "
            "units, starts_at, ends_at, active) SELECT ?, resource_id, 'room', mode, exclusive, "
            "0, starts_at, ends_at, 1 FROM resource_hold WHERE appointment_id = ? "
            "AND need = 'room'",
            (b[0], a[0]),
        )
        # A partial series: one booked with one appointment more than it has.
        series = raw.execute("SELECT id FROM series ORDER BY id LIMIT 1").fetchone()
        assert series is not None, "the short soak booked no series"
        raw.execute("UPDATE series SET planned_count = planned_count + 1 WHERE id = ?", series)
    # A lost success: a booking a workstation was told succeeded, not in the database.
    start = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(days=1)
    missing = {"id": 10**9, "action": "book", "status": "booked", "room": None}
    missing |= {"start": start.isoformat(), "end": (start + dt.timedelta(hours=1)).isoformat()}
    line = {"w": "forged", "n": 1, "op": "book", "r": "ok", "appts": [missing]}
    (logs / "forged.jsonl").write_text(json.dumps(line) + "\n", encoding="utf-8")

    found = checker.check(url, logs)
    assert found.counts["overlap"] >= 1
    assert found.counts["lost_success"] == 1
    assert found.counts["partial_series"] >= 1  # the series row, and the logged series
    assert checker.main(["--db", url, "--logs", str(logs)]) == 1

    # A change no workstation reported, and that left no audit event.
    with sqlite3.connect(db_path) as raw:
        raw.execute(
            "INSERT INTO appointment_event (appointment_id, at, action, from_status, to_status, "
            "reason, detail) SELECT id, updated_at, 'book', NULL, status, '', '{}' "
            "FROM appointment ORDER BY id LIMIT 1"
        )
    found = checker.check(url, logs)
    assert found.counts["unlogged_change"] == 1
    assert found.counts["audit_missing"] == 1


def test_workstations_killed_with_sigkill_leave_nothing_half_done(tmp_path: Path) -> None:
    status = run.main(
        ["--workers", "2", "--kills", "5", "--seed", "20261205", "--out", str(tmp_path)]
    )
    figures = json.loads((tmp_path / "figures.json").read_text(encoding="utf-8"))
    assert status == 0, figures
    assert figures["kills"] == 5
    assert set(figures["violations"].values()) == {0}
