"""Creating a SQLite clinic is atomic: a crash (or kill -9) while ``db upgrade --create`` runs
leaves either no clinic or a whole one, and a second ``--create`` always finishes the job."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ketadesk.cli import main
from ketadesk.services.clinic.clinic_setup import open_clinic
from ketadesk.store import clinic_config, migrate

REPO = Path(__file__).resolve().parents[3]


def _is_whole_clinic(path: Path) -> bool:
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        if conn.execute("PRAGMA integrity_check").fetchall() != [("ok",)]:
            return False
        rev = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        clinic = conn.execute("SELECT 1 FROM clinic_setting WHERE key = 'clinic'").fetchone()
        return rev == (migrate.revision_graph().head,) and clinic is not None
    finally:
        conn.close()


class SimulatedCrash(BaseException):
    """Stands for the process dying half-way (a BaseException: nothing may catch it)."""


def test_a_crash_half_way_leaves_no_clinic_and_create_then_succeeds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "clinic.sqlite"

    def crash(*_args: object, **_kwargs: object) -> None:
        raise SimulatedCrash  # after the schema is built, before the configuration is in

    with monkeypatch.context() as m:
        m.setattr(clinic_config, "install_configuration", crash)
        with pytest.raises(SimulatedCrash):
            open_clinic(f"sqlite:///{target}", create=True)
    assert not target.exists()  # never a half-built clinic at the target

    assert main(["db", "upgrade", "--create", "--db", str(target)]) == 0
    assert "created a new clinic" in capsys.readouterr().out
    assert _is_whole_clinic(target)
    assert [p.name for p in tmp_path.iterdir() if ".creating-" in p.name] == []


def test_a_leftover_build_is_cleaned_and_an_empty_file_becomes_a_clinic(tmp_path: Path) -> None:
    target = tmp_path / "clinic.sqlite"
    target.touch()  # an empty file: no clinic in it yet
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    leftover = tmp_path / f".clinic.sqlite.creating-{dead.stdout.strip()}-0123abcd.tmp"
    leftover.write_bytes(b"SQLite format 3\x00half a clinic")
    opened = open_clinic(str(target), create=True)
    opened.db.dispose()
    assert opened.created
    assert _is_whole_clinic(target)
    assert not leftover.exists()
    assert oct(target.stat().st_mode & 0o777) == "0o600"


def test_kill_9_during_create_never_strands_the_clinic(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    # Kill points spread over the creation (start-up, migrations, configuration, rename).
    for n, delay in enumerate((0.3, 0.6, 0.9, 1.2, 1.6, 2.2)):
        target = tmp_path / f"c{n}" / "clinic.sqlite"
        cmd = [sys.executable, "-m", "ketadesk", "db", "upgrade", "--create", "--db", str(target)]
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, cwd=REPO)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert not target.exists() or _is_whole_clinic(target), f"half-built after {delay}s"
        again = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=REPO)
        assert again.returncode == 0, again.stderr
        assert _is_whole_clinic(target)
        assert [p.name for p in target.parent.iterdir() if p.name.endswith(".tmp")] == []
