"""Restore under fire: a workstation writing while ``restore --force`` runs loses nothing it was
told was done, every set-aside copy is intact, two restores in one second keep both copies, and
the audit trail runs on across a restore (newer events carried over, the restore recorded)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ketadesk.cli import main
from ketadesk.services.clinic import backup as svc
from ketadesk.services.common.context import Actor
from ketadesk.store import migrate
from tests.services.clinic.test_backup import ACTOR, demo_file, url  # noqa: F401 (fixture)

REPO = Path(__file__).resolve().parents[3]

# A workstation in another process: opens the clinic, writes a few rows (each its own
# BEGIN IMMEDIATE transaction through the application's write path), closes it, again and again;
# prints the key of every row whose commit returned, and nothing for one that failed.
WRITER = """
import sys, time
from sqlalchemy import text
from ketadesk.store.database import open_database
url, seconds, tag = sys.argv[1], float(sys.argv[2]), sys.argv[3]
end = time.monotonic() + seconds
n = 0
while time.monotonic() < end:
    try:
        db = open_database(url)
    except Exception:
        continue
    try:
        for _ in range(3):
            n += 1
            key = f"{tag}-{n}"
            try:
                with db.write() as s:
                    s.execute(
                        text("INSERT INTO clinic_setting (key, value, updated_at) "
                             "VALUES (:k, '{}', '2026-01-01 00:00:00.000000')"),
                        {"k": key},
                    )
            except Exception:
                continue
            print(key, flush=True)
    finally:
        db.dispose()
    time.sleep(0.01)
"""


@pytest.fixture
def clinic(demo_file: Path, tmp_path: Path) -> Path:  # noqa: F811
    path = tmp_path / "clinic" / "clinic.sqlite"
    path.parent.mkdir()
    migrate.copy_sqlite(demo_file, path)
    return path


def _keys(path: Path) -> set[str]:
    with sqlite3.connect(path) as conn:
        return {r[0] for r in conn.execute("SELECT key FROM clinic_setting WHERE key LIKE 'w%'")}


def _intact(path: Path) -> bool:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        conn.close()


def test_restore_while_workstations_write_loses_nothing_reported_done(
    clinic: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(svc, "RESTORE_LOCK_WAIT_S", 1)
    out = tmp_path / "b.sqlite"
    svc.backup(url(clinic), out)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, url(clinic), "8", f"w{i}"],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        for i in range(2)
    ]
    restored = refused = 0
    try:
        time.sleep(1.0)
        deadline = time.monotonic() + 6
        while time.monotonic() < deadline:
            try:
                svc.restore(out, url(clinic), overwrite=True, actor=ACTOR)
                restored += 1
            except svc.BackupRefused:
                refused += 1  # a workstation had the clinic open: nothing was changed
            time.sleep(0.05)
    finally:
        reported: set[str] = set()
        for w in writers:
            stdout, _ = w.communicate(timeout=60)
            reported |= set(stdout.split())
    assert restored >= 1, f"no restore got through ({refused} refused)"
    assert reported, "the workstations wrote nothing"
    asides = sorted(clinic.parent.glob("clinic.sqlite.before-restore-*.bak"))
    assert len(asides) == restored  # no two restores shared a set-aside name
    damaged = [p.name for p in asides if not _intact(p)]
    assert not damaged
    assert _intact(clinic)
    kept = _keys(clinic).union(*(_keys(p) for p in asides))
    lost = reported - kept
    assert not lost, f"{len(lost)} of {len(reported)} writes reported done were lost"


def test_two_restores_in_one_second_keep_both_set_aside_copies(
    clinic: Path, tmp_path: Path
) -> None:
    out = tmp_path / "b.sqlite"
    svc.backup(url(clinic), out)
    first = svc.restore(out, url(clinic), overwrite=True, actor=ACTOR)
    second = svc.restore(out, url(clinic), overwrite=True, actor=ACTOR)
    assert first.set_aside is not None
    assert second.set_aside is not None
    assert first.set_aside != second.set_aside
    assert first.set_aside.exists()
    assert second.set_aside.exists()
    # The second copy holds the first restore's event: it is the clinic as the first left it.
    assert _restore_events(second.set_aside) == 1
    assert _restore_events(first.set_aside) == 0


def _restore_events(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        found = conn.execute("SELECT count(*) FROM audit_event WHERE action = 'restore'")
        return int(found.fetchone()[0])


def test_restore_carries_newer_audit_events_and_records_itself(
    clinic: Path, tmp_path: Path
) -> None:
    out = tmp_path / "b.sqlite"
    svc.backup(url(clinic), out)
    with sqlite3.connect(out) as conn:
        newest_in_backup = conn.execute("SELECT max(id) FROM audit_event").fetchone()[0]
        patients = [r[0] for r in conn.execute("SELECT id FROM patient ORDER BY id LIMIT 1")]
    # After the backup the clinic goes on: two more events, one about a patient registered
    # after the backup (id not in the backup).
    conn = sqlite3.connect(clinic)
    conn.execute("PRAGMA foreign_keys = OFF")
    conn.execute("CREATE TEMP TABLE late AS SELECT * FROM patient WHERE id = ?", patients)
    conn.execute("UPDATE late SET id = 999999, chart_number = 'LATE-1'")
    conn.execute("INSERT INTO patient SELECT * FROM late")
    for patient_id, detail in ((patients[0], "called back"), (999999, "registered")):
        conn.execute(
            "INSERT INTO audit_event (at, username, action, entity, entity_id, patient_id, "
            "detail) VALUES ('2026-11-25 10:00:00.000000', 'nurse.kim', 'note', 'patient', "
            "?, ?, ?)",
            (patient_id, patient_id, detail),
        )
    conn.commit()
    conn.close()

    assert main(["restore", "--from", str(out), "--db", url(clinic), "--force"]) == 0

    with sqlite3.connect(clinic) as conn:
        rows = conn.execute(
            "SELECT id, username, action, patient_id, detail, after FROM audit_event "
            "WHERE id > ? ORDER BY id",
            (newest_in_backup,),
        ).fetchall()
    assert [r[2] for r in rows] == ["note", "note", "restore"]
    assert rows[0][3] == patients[0]
    assert rows[0][4] == "called back"
    assert rows[1][3] is None
    assert "patient #999999" in rows[1][4]
    restore_event = rows[2]
    assert restore_event[1].endswith("(command line)")
    after = json.loads(restore_event[5])
    assert after["from"] == str(out)
    assert after["carried_events"] == 2
    assert after["set_aside"]
    assert Path(after["set_aside"]).exists()
    # The set-aside copy is the clinic as it was, events and all.
    with sqlite3.connect(after["set_aside"]) as conn:
        aside_details = {r[0] for r in conn.execute("SELECT detail FROM audit_event")}
    assert {"called back", "registered"} <= aside_details


def test_restore_into_a_new_file_records_itself(clinic: Path, tmp_path: Path) -> None:
    out = tmp_path / "b.sqlite"
    svc.backup(url(clinic), out)
    target = tmp_path / "new" / "clinic.sqlite"
    actor = Actor(user_id=None, username="ops", role="admin")
    result = svc.restore(out, url(target), overwrite=False, actor=actor)
    assert result.set_aside is None
    assert result.carried_events == 0
    with sqlite3.connect(target) as conn:
        who = conn.execute("SELECT username FROM audit_event WHERE action = 'restore'").fetchall()
    assert who == [("ops",)]
