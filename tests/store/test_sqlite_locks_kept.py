"""A workstation that looks at its own clinic file keeps its SQLite locks (store/database.py
``file_header``).

A user trial: after a print from the window and a ``ketadesk print day`` in a terminal, every
change made in the window (a monitor out of service, a nurse's day off) said "Saved" but
reached nobody: the window's process had read the clinic's first bytes with ``open()`` and
closed the descriptor, which drops every POSIX lock the process holds on the file, SQLite's
shared lock included.  The terminal's last connection then found itself alone, folded the WAL
into the file and deleted it; the window went on committing to the deleted ``-wal``, and its
exit overwrote what others had written since.  Here each way the window reads the file besides
its engine (the sign-in's and the day's stdlib reads, a second ``open_database``, the scheduled
backup) runs while its engine holds a connection, another process writes and closes, and the
window's next write must reach the file.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from ketadesk.services.clinic.backup import scheduled_backup
from ketadesk.services.clinic.clinic_setup import open_clinic
from ketadesk.store.database import Database, open_database, read_sqlite_file

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/fd").is_dir(), reason="reads this process's descriptors from /proc"
)

NOW = dt.datetime(2026, 12, 7, 18, 0, tzinfo=dt.UTC)  # only names the backup file


@pytest.fixture
def clinic(tmp_path: Path) -> Iterator[tuple[Path, Database]]:
    path = tmp_path / "clinic.sqlite"
    open_clinic(f"sqlite:///{path}", create=True).db.dispose()
    db = open_database(f"sqlite:///{path}")
    yield path, db
    db.dispose()


def _bump(db: Database) -> None:
    with db.write() as session:
        session.execute(text("UPDATE change_counter SET value = value + 1"))


def _counter_seen_by_another_process(path: Path) -> int:
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
            "print(c.execute('SELECT value FROM change_counter').fetchone()[0]); c.close()",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(out.stdout)


def _another_process_writes_and_closes(path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
            "c.execute('UPDATE change_counter SET value = value + 1'); c.commit(); c.close()",
            str(path),
        ],
        check=True,
    )


def _deleted_files_held(path: Path) -> list[str]:
    held = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(str(path)) and target.endswith("(deleted)"):
            held.append(target)
    return held


def _stdlib_read(path: Path, _db: Database) -> None:
    with read_sqlite_file(path) as conn:
        conn.execute("SELECT 1").fetchall()


def _second_database(path: Path, _db: Database) -> None:
    open_database(f"sqlite:///{path}").dispose()


def _scheduled_backup(path: Path, db: Database) -> None:
    scheduled_backup(db, path.parent / "backups", NOW)


@pytest.mark.parametrize(
    "look",
    [_stdlib_read, _second_database, _scheduled_backup],
    ids=["stdlib read", "second open_database", "scheduled backup"],
)
def test_the_windows_writes_reach_the_file_after_it_looked_at_it(
    clinic: tuple[Path, Database], look: Callable[[Path, Database], None]
) -> None:
    path, db = clinic
    _bump(db)  # the engine now holds a connection, and the file its WAL
    before = _counter_seen_by_another_process(path)
    look(path, db)
    _another_process_writes_and_closes(path)
    assert _deleted_files_held(path) == []
    _bump(db)
    assert _counter_seen_by_another_process(path) == before + 2
