"""Backups and restores of a SQLite clinic, retention, and the backup/restore commands."""

from __future__ import annotations

import datetime as dt
import sqlite3
import stat
from pathlib import Path

import pytest

from ketadesk.cli import main
from ketadesk.services.clinic import backup as svc
from ketadesk.services.clinic.at_rest import volume_encryption
from ketadesk.services.common.context import Actor
from ketadesk.services.demo.clinic import build_demo
from ketadesk.store import migrate

TODAY = dt.date(2026, 11, 24)
ACTOR = Actor(user_id=None, username="tester", role="admin")


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small demo clinic, built once; tests copy it before changing anything."""
    path = tmp_path_factory.mktemp("demo") / "demo.sqlite"
    build_demo(f"sqlite:///{path}", rooms=2, weeks_back=1, weeks_ahead=1, patients=20, today=TODAY)
    return path


@pytest.fixture
def clinic(demo_file: Path, tmp_path: Path) -> Path:
    path = tmp_path / "clinic" / "clinic.sqlite"
    path.parent.mkdir()
    migrate.copy_sqlite(demo_file, path)
    return path


def url(path: Path) -> str:
    return f"sqlite:///{path}"


def dump(path: Path) -> dict[str, list[tuple[object, ...]]]:
    conn = sqlite3.connect(path)
    try:
        names = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        # A restore's own audit event is left out: the rest must be what the backup held.
        where = {"audit_event": " WHERE action != 'restore'"}
        return {
            n: conn.execute(f'SELECT * FROM "{n}"{where.get(n, "")} ORDER BY 1').fetchall()
            for n in names
        }
    finally:
        conn.close()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# ---------------------------------------------------------------------------------------------
# Backup and restore


def test_round_trip_restores_identical_data(clinic: Path, tmp_path: Path) -> None:
    before = dump(clinic)
    assert before["appointment"], "the demo clinic should have appointments"
    out = tmp_path / "backups" / "b.sqlite"
    result = svc.backup(url(clinic), out)
    assert result.path == out
    assert result.appointments == len(before["appointment"])
    assert result.revision == migrate.revision_graph().head
    assert mode(out) == 0o600
    assert not Path(f"{out}-wal").exists()

    target = tmp_path / "restored" / "clinic.sqlite"
    restored = svc.restore(out, url(target), overwrite=False, actor=ACTOR)
    assert restored.problems == 0
    assert restored.set_aside is None
    assert restored.appointments == result.appointments
    assert dump(target) == before
    assert mode(target) == 0o600


def test_backup_refuses_to_overwrite_without_force(clinic: Path, tmp_path: Path) -> None:
    out = tmp_path / "b.sqlite"
    out.write_bytes(b"precious")
    with pytest.raises(svc.TargetExists):
        svc.backup(url(clinic), out)
    assert out.read_bytes() == b"precious"
    svc.backup(url(clinic), out, overwrite=True)
    assert dump(out) == dump(clinic)
    assert mode(out) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.sqlite", "clinic"]


def test_backup_refuses_a_foreign_source(tmp_path: Path) -> None:
    foreign = tmp_path / "foreign.sqlite"
    conn = sqlite3.connect(foreign)
    conn.execute("CREATE TABLE t (x)")
    conn.close()
    with pytest.raises(svc.BackupRefused, match="not a KetaDesk database"):
        svc.backup(url(foreign), tmp_path / "out.sqlite")
    assert not (tmp_path / "out.sqlite").exists()


def test_restore_overwrite_copies_target_aside(clinic: Path, tmp_path: Path) -> None:
    out = tmp_path / "b.sqlite"
    svc.backup(url(clinic), out)
    original = dump(clinic)
    conn = sqlite3.connect(clinic)
    conn.execute("DELETE FROM resource_hold")
    conn.commit()
    conn.close()
    changed = dump(clinic)

    with pytest.raises(svc.TargetExists):
        svc.restore(out, url(clinic), overwrite=False, actor=ACTOR)
    assert dump(clinic) == changed

    result = svc.restore(out, url(clinic), overwrite=True, actor=ACTOR)
    assert result.set_aside is not None
    assert result.set_aside.name.startswith("clinic.sqlite.before-restore-")
    assert result.set_aside.name.endswith(".bak")
    assert mode(result.set_aside) == 0o600
    assert dump(result.set_aside) == changed
    assert dump(clinic) == original


def test_restore_of_a_clinic_with_problems_succeeds_and_counts_them(
    clinic: Path, tmp_path: Path
) -> None:
    conn = sqlite3.connect(clinic)
    conn.execute("DELETE FROM resource_hold")  # appointments without their holds
    conn.commit()
    conn.close()
    out = tmp_path / "b.sqlite"
    svc.backup(url(clinic), out)
    result = svc.restore(out, url(tmp_path / "r.sqlite"), overwrite=False, actor=ACTOR)
    assert result.problems > 0


def _newer(clinic: Path, tmp_path: Path) -> Path:
    out = tmp_path / "newer.sqlite"
    svc.backup(url(clinic), out)
    conn = sqlite3.connect(out)
    conn.execute("UPDATE alembic_version SET version_num = '9999_from_the_future'")
    conn.commit()
    conn.close()
    return out


def _foreign(clinic: Path, tmp_path: Path) -> Path:
    out = tmp_path / "foreign.sqlite"
    conn = sqlite3.connect(out)
    conn.execute("CREATE TABLE notes (x)")
    conn.commit()
    conn.close()
    return out


def _not_sqlite(clinic: Path, tmp_path: Path) -> Path:
    out = tmp_path / "notes.txt"
    out.write_text("this is not a database\n" * 10)
    return out


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (_not_sqlite, "not a SQLite database"),
        (_foreign, "not a KetaDesk database"),
        (_newer, "newer version of KetaDesk"),
    ],
)
@pytest.mark.parametrize("force", [False, True])
def test_restore_refuses_bad_sources_and_changes_nothing(
    clinic: Path, tmp_path: Path, make: object, message: str, force: bool
) -> None:
    assert callable(make)
    source = make(clinic, tmp_path)
    before = clinic.read_bytes()
    files = sorted(clinic.parent.iterdir())
    with pytest.raises(svc.BackupRefused, match=message):
        svc.restore(source, url(clinic), overwrite=force, actor=ACTOR)
    assert clinic.read_bytes() == before
    assert sorted(clinic.parent.iterdir()) == files


def test_restore_refuses_a_clinic_in_use(clinic: Path, tmp_path: Path) -> None:
    from ketadesk.services.clinic.clinic_setup import open_clinic

    out = tmp_path / "b.sqlite"
    svc.backup(url(clinic), out)
    opened = open_clinic(url(clinic))  # switches the clinic to WAL, as the application does
    try:
        with opened.db.read() as session:
            session.connection().exec_driver_sql("SELECT count(*) FROM appointment").all()
            before = dump(clinic)
            with pytest.raises(svc.BackupRefused, match="in use"):
                svc.restore(out, url(clinic), overwrite=True, actor=ACTOR)
            assert dump(clinic) == before
    finally:
        opened.db.dispose()
    assert not list(clinic.parent.glob("*.before-restore-*"))
    # Closed everywhere: now the restore goes through, and no stale -wal is left behind.
    result = svc.restore(out, url(clinic), overwrite=True, actor=ACTOR)
    assert result.problems == 0
    assert result.set_aside is not None


def test_backup_is_consistent_while_the_clinic_is_written(clinic: Path, tmp_path: Path) -> None:
    from ketadesk.services.clinic.clinic_setup import open_clinic

    opened = open_clinic(url(clinic))
    try:
        with opened.db.engine.begin() as conn:  # committed, still in the WAL only
            conn.exec_driver_sql("DELETE FROM resource_hold")
        expected = dump(clinic)
        result = svc.backup(opened.db, tmp_path / "b.sqlite")
    finally:
        opened.db.dispose()
    assert dump(result.path) == expected


def test_postgresql_is_refused_with_the_pg_dump_hint(clinic: Path, tmp_path: Path) -> None:
    pg = "postgresql+psycopg://clinic@db.example/ketadesk"
    with pytest.raises(svc.BackupRefused, match="pg_dump"):
        svc.backup(pg, tmp_path / "b.sqlite")
    with pytest.raises(svc.BackupRefused, match="pg_restore"):
        svc.restore(clinic, pg, overwrite=True, actor=ACTOR)


# ---------------------------------------------------------------------------------------------
# Retention and scheduled backups


def _at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


def test_retention_keeps_newest_per_day_and_per_week() -> None:
    now = _at("2026-11-26T12:00")  # a Thursday, ISO week 48
    times = [
        "2026-11-26T11:00",  # today, newest: kept
        "2026-11-26T09:00",  # today, older: deleted
        "2026-11-25T18:00",  # kept (day)
        "2026-11-25T08:00",  # deleted
        "2026-11-20T10:00",  # 6 days back: kept (day)
        "2026-11-19T23:00",  # 7 days back, week 47 (whose newest is Nov 20): deleted
        "2026-11-19T10:00",  # deleted
        "2026-11-12T10:00",  # week 46, newest: kept
        "2026-11-10T10:00",  # week 46, older: deleted
        "2026-11-03T10:00",  # week 45: kept (4th week)
        "2026-10-27T10:00",  # week 44: too old, deleted
        "2026-01-01T10:00",  # deleted
    ]
    backups = [(Path(f"b{i}"), _at(t)) for i, t in enumerate(times)]
    deleted = {p.name for p in svc.backups_to_delete(backups, now)}
    # Week 47 (Nov 16-22): its newest is Nov 20 (also a kept day), so Nov 19 goes.
    assert deleted == {"b1", "b3", "b5", "b6", "b8", "b10", "b11"}


def test_retention_parameters_and_safety() -> None:
    now = _at("2026-11-26T12:00")
    old = [(Path("old1"), _at("2025-01-01T00:00")), (Path("old2"), _at("2024-01-01T00:00"))]
    # The newest backup survives even when it is outside every window.
    assert svc.backups_to_delete(old, now) == [Path("old2")]
    future = [(Path("f"), _at("2026-12-30T00:00")), (Path("t"), _at("2026-11-26T10:00"))]
    assert svc.backups_to_delete(future, now) == []
    days = [(Path(f"d{k}"), now - dt.timedelta(days=k)) for k in range(5)]
    assert {p.name for p in svc.backups_to_delete(days, now, daily=2, weekly=0)} == {
        "d2",
        "d3",
        "d4",
    }
    assert svc.backups_to_delete([], now) == []


def test_scheduled_backup_names_and_prunes(clinic: Path, tmp_path: Path) -> None:
    folder = tmp_path / "auto"
    folder.mkdir()
    stale = folder / "clinic-20260101T000000Z.sqlite"
    stale.write_bytes(b"old")
    other = folder / "keep-me.txt"
    other.write_text("not a backup")
    now = _at("2026-11-26T12:34:56")
    result = svc.scheduled_backup(url(clinic), folder, now)
    assert result.path == folder / "clinic-20261126T123456Z.sqlite"
    assert mode(result.path) == 0o600
    assert result.removed == (stale,)
    assert sorted(p.name for p in folder.iterdir()) == [
        "clinic-20261126T123456Z.sqlite",
        "keep-me.txt",
    ]


def test_two_scheduled_backups_in_one_second_both_succeed(clinic: Path, tmp_path: Path) -> None:
    """The window closed twice within a second (a test's two runs did): the second backup is
    as new as the first and replaces it, rather than failing on the name."""
    folder = tmp_path / "auto"
    now = _at("2026-11-26T12:34:56")
    first = svc.scheduled_backup(url(clinic), folder, now)
    second = svc.scheduled_backup(url(clinic), folder, now)
    assert second.path == first.path
    assert [p.name for p in folder.iterdir()] == ["clinic-20261126T123456Z.sqlite"]


# ---------------------------------------------------------------------------------------------
# Commands


def test_commands_exit_statuses(
    clinic: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "b.sqlite"
    assert main(["backup", "--db", url(clinic), "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert said.startswith("backed up ")
    assert "verified" in said
    assert str(out) in said
    # A backup on a disk not known to be encrypted is said so (this machine's own disk).
    if not volume_encryption(out).verified:
        assert f"warning: {out} is on a disk that is not known to be encrypted" in said

    assert main(["backup", "--db", url(clinic), "--out", str(out)]) == 2
    assert "--force" in capsys.readouterr().err
    assert main(["backup", "--db", url(clinic), "--out", str(out), "--force"]) == 0

    target = tmp_path / "r.sqlite"
    assert main(["restore", "--from", str(out), "--db", url(target)]) == 0
    assert "restored " in capsys.readouterr().out
    assert main(["restore", "--from", str(out), "--db", str(target)]) == 2
    err = capsys.readouterr().err
    assert "--force" in err
    assert len(err.strip().splitlines()) == 1
    assert main(["restore", "--from", str(out), "--db", str(target), "--force"]) == 0
    assert "copied to" in capsys.readouterr().out

    junk = tmp_path / "junk.sqlite"
    junk.write_text("junk")
    assert main(["restore", "--from", str(junk), "--db", str(target), "--force"]) == 2
    assert "not a SQLite database" in capsys.readouterr().err
    assert main(["backup", "--db", "postgresql://u@h/db", "--out", str(out)]) == 2
    assert "pg_dump" in capsys.readouterr().err


class _Tty:
    def isatty(self) -> bool:
        return True


def test_commands_ask_only_on_a_terminal(
    clinic: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "b.sqlite"
    out.write_bytes(b"precious")
    asked: list[str] = []

    def no_prompt(question: str) -> str:
        raise AssertionError(f"prompted without a terminal: {question}")

    monkeypatch.setattr("builtins.input", no_prompt)
    assert main(["backup", "--db", url(clinic), "--out", str(out)]) == 2
    assert out.read_bytes() == b"precious"

    monkeypatch.setattr("sys.stdin", _Tty())

    def answer(text: str) -> object:
        def ask(question: str) -> str:
            asked.append(question)
            return text

        return ask

    monkeypatch.setattr("builtins.input", answer("n"))
    assert main(["backup", "--db", url(clinic), "--out", str(out)]) == 2
    assert out.read_bytes() == b"precious"
    monkeypatch.setattr("builtins.input", answer("yes"))
    assert main(["backup", "--db", url(clinic), "--out", str(out)]) == 0
    assert len(asked) == 2
    assert out.read_bytes() != b"precious"
