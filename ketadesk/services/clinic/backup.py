"""Backups of a SQLite clinic and restoring one: consistent copies, owner-only, verified.

A backup is made with SQLite's online backup API (``migrate.copy_sqlite``), so it is one
consistent moment of the clinic even while workstations keep booking.  It is written to a
temporary file beside the destination, verified (``PRAGMA integrity_check`` and "a KetaDesk
clinic at a schema this version knows") and only then put in place.  A restore checks the source
the same way before anything at the target changes; then, under one exclusive lock on the
target, copies it aside and writes the restored clinic into it, carrying the replaced clinic's
newer audit events across and recording the restore; finally it runs the clinic integrity check.

PostgreSQL clinics are backed up with the server's own tools (pg_dump/pg_restore).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import json
import os
import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ketadesk.services.common.context import Actor, ServiceError
from ketadesk.store import migrate
from ketadesk.store.database import (
    SQLITE_HEADER,
    Database,
    DatabaseOpenError,
    StoreError,
    file_header,
    parse_db_url,
)

PG_HINT = (
    "PostgreSQL clinics are backed up with the server's tools: "
    "pg_dump -Fc -f clinic.dump DBNAME, and restored with pg_restore --clean -d DBNAME "
    "clinic.dump (see the README)"
)
SCHEDULED_NAME = re.compile(r"^clinic-(\d{8}T\d{6}Z)\.sqlite$")
_STAMP = "%Y%m%dT%H%M%SZ"
RESTORE_LOCK_WAIT_S = 5  # how long a restore waits for workstations to finish a transaction


class BackupError(ServiceError):
    """A backup or restore failed (for example, the copy did not verify)."""


class BackupRefused(BackupError):
    """Bad input: a backup or restore refused before anything was changed."""


class TargetExists(BackupRefused):
    """The destination exists and replacing it was not allowed."""

    def __init__(self, path: Path) -> None:
        super().__init__(f"{path} already exists; nothing was changed")
        self.path = path


@dataclass(frozen=True)
class BackupResult:
    path: Path
    size: int  # bytes
    appointments: int
    revision: str
    removed: tuple[Path, ...] = ()  # older scheduled backups deleted by retention


@dataclass(frozen=True)
class RestoreResult:
    target: Path
    appointments: int
    revision: str
    problems: int  # what the integrity check found in the restored clinic
    set_aside: Path | None  # where the replaced clinic was copied
    upgraded_from: str | None  # the restored file had an older schema and was upgraded
    carried_events: int = 0  # newer audit events carried over from the replaced clinic


@dataclass(frozen=True)
class _FileFacts:
    revision: str
    appointments: int


# ---------------------------------------------------------------------------------------------
# Backup


def backup(url_or_db: str | Database, out: Path, *, overwrite: bool = False) -> BackupResult:
    """Copy a SQLite clinic to ``out`` (owner-only) and verify the copy.

    Refuses (BackupRefused) a PostgreSQL clinic, a missing or non-KetaDesk source and, unless
    ``overwrite``, an existing ``out``; raises BackupError when the copy does not verify (no
    file is left at ``out`` then).
    """
    source = _sqlite_file_of(url_or_db, "backed up")
    out = Path(out)
    if not source.is_file():
        raise BackupRefused(f"no database at {source} (the file does not exist)")
    if _same_file(source, out):
        raise BackupRefused(f"{out} is the clinic itself; choose another file for the backup")
    _facts(source, check_integrity=False)  # a KetaDesk clinic? (cheap checks before writing)
    if out.is_dir():
        raise BackupRefused(f"{out} is a folder; give the name of the backup file")
    if out.exists() and not overwrite:
        raise TargetExists(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with _temporary_beside(out) as tmp:
        try:
            migrate.copy_sqlite(source, tmp)
        except (sqlite3.Error, OSError) as err:
            raise BackupError(f"cannot back up {source}: {_first_line(err)}") from None
        facts = _facts(tmp, check_integrity=True, failure=BackupError, what="the backup copy")
        _fsync(tmp)
        _publish(tmp, out, overwrite=overwrite)
    return BackupResult(
        path=out, size=out.stat().st_size, appointments=facts.appointments, revision=facts.revision
    )


# ---------------------------------------------------------------------------------------------
# Restore


def restore(
    source: Path, url: str, *, overwrite: bool, actor: Actor, now: dt.datetime | None = None
) -> RestoreResult:
    """Restore the backup ``source`` as the SQLite clinic ``url``, on behalf of ``actor``.

    Refuses (BackupRefused, nothing changed) a source that is not a SQLite file, not a KetaDesk
    clinic, damaged, or from a newer KetaDesk; an existing target unless ``overwrite``; and a
    target another program has open.  With ``overwrite`` the current target is first copied
    aside (``<name>.before-restore-<stamp>.bak``, owner-only, a name no other restore uses).

    An existing SQLite clinic is restored in place, under an exclusive lock taken before it is
    copied aside and held until the restored content is in: no workstation can read or write it
    in between, so whatever was committed before the lock is in the set-aside copy and whatever
    comes after lands in the restored clinic.  (Renaming a file over a clinic that someone holds
    open would let their next write go to the old file, or mix the old file's WAL into the new
    one.)  Audit events of the replaced clinic newer than the backup's newest are carried into
    the restored one, and the restore itself is recorded in the audit trail.

    The restored clinic is then opened (an older schema is upgraded, after its own copy) and
    integrity-checked: problems are counted in the result, not refused.
    """
    source = Path(source)
    target = _sqlite_file_of(url, "restored")
    if not source.is_file():
        raise BackupRefused(f"no backup at {source} (the file does not exist)")
    if _same_file(source, target):
        raise BackupRefused(f"{source} is the clinic itself; nothing to restore")
    facts = _facts(source, check_integrity=True, what="the backup")
    if target.is_dir():
        raise BackupRefused(f"{target} is a folder, not a database file")
    exists = target.exists()
    if exists and not overwrite:
        raise TargetExists(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    when = now or dt.datetime.now(dt.UTC)
    with _temporary_beside(target) as tmp:
        try:
            migrate.copy_sqlite(source, tmp)
        except (sqlite3.Error, OSError) as err:
            raise BackupError(f"cannot read {source}: {_first_line(err)}") from None
        _facts(tmp, check_integrity=True, failure=BackupError, what="the restored copy")
        if exists and _is_sqlite_file(target):
            restored = _restore_in_place(tmp, target, source, actor, when)
        else:
            restored = _restore_by_rename(tmp, target, source, actor, when, exists=exists)
    _fsync_dir(target.parent)
    return _verify_restored(url, target, facts, restored)


@dataclass(frozen=True)
class _Restored:
    set_aside: Path | None
    carried: int  # audit events carried over from the replaced clinic


def _restore_in_place(
    tmp: Path, target: Path, source: Path, actor: Actor, when: dt.datetime
) -> _Restored:
    """Copy ``target`` aside and then ``tmp`` into it, holding an exclusive lock throughout."""
    try:
        lock = sqlite3.connect(
            f"{target.resolve().as_uri()}?mode=rw", uri=True, timeout=RESTORE_LOCK_WAIT_S
        )
    except sqlite3.Error as err:
        raise BackupRefused(
            f"cannot open {target} ({_first_line(err)}); nothing was changed"
        ) from None
    try:
        lock.isolation_level = None
        try:
            # Set before the file is first read: in WAL mode the connection then keeps the
            # database locked (readers included) until it closes, across the transactions below.
            lock.execute("PRAGMA locking_mode = EXCLUSIVE")
            lock.execute("BEGIN EXCLUSIVE")
            lock.execute("COMMIT")
        except sqlite3.Error as err:
            raise BackupRefused(
                f"{target} is in use ({_first_line(err)}); close KetaDesk everywhere and try "
                "again; nothing was changed"
            ) from None
        with _read_only(tmp) as restored:
            newest = _newest_audit_id(restored)
            columns = _audit_columns(restored)
        carried = _newer_audit_events(lock, newest, columns)
        aside = _set_aside_sqlite(lock, target)
        try:
            with contextlib.closing(sqlite3.connect(tmp)) as src:
                src.backup(lock)
            lock.execute("BEGIN IMMEDIATE")
            _write_restore_events(lock, carried, columns, actor, source, aside, when)
            lock.execute("COMMIT")
            # Back to WAL while the lock is still ours: switching journal modes needs the file
            # to itself, which a workstation reconnecting the moment the lock goes would deny.
            lock.execute("PRAGMA journal_mode = WAL")
        except (sqlite3.Error, OSError) as err:
            raise BackupError(
                f"restoring into {target} failed ({_first_line(err)}); the clinic as it was "
                f"is in {aside}"
            ) from None
    finally:
        lock.close()  # releases the lock: workstations now see the restored clinic
    return _Restored(set_aside=aside, carried=len(carried))


def _restore_by_rename(
    tmp: Path, target: Path, source: Path, actor: Actor, when: dt.datetime, *, exists: bool
) -> _Restored:
    """No clinic at ``target`` (nothing, or a file that is not SQLite): record the restore in
    the copy and rename it into place, the old bytes set aside first."""
    aside = _set_aside_bytes(target) if exists else None
    try:
        with contextlib.closing(sqlite3.connect(tmp, isolation_level=None)) as conn:
            conn.execute("BEGIN IMMEDIATE")
            _write_restore_events(conn, [], _audit_columns(conn), actor, source, aside, when)
            conn.execute("COMMIT")
    except sqlite3.Error as err:
        raise BackupError(f"cannot record the restore in {tmp}: {_first_line(err)}") from None
    _fsync(tmp)
    os.replace(tmp, target)
    return _Restored(set_aside=aside, carried=0)


def _verify_restored(url: str, target: Path, facts: _FileFacts, done: _Restored) -> RestoreResult:
    from ketadesk.services.clinic.clinic_setup import open_clinic
    from ketadesk.services.clinic.integrity import find_problems

    try:
        opened = open_clinic(url)
    except StoreError as err:
        raise BackupError(f"restored {target}, but it cannot be opened: {err}") from None
    try:
        problems = find_problems(opened.db)
    finally:
        opened.db.dispose()
    return RestoreResult(
        target=target,
        appointments=facts.appointments,
        revision=migrate.revision_graph().head if opened.upgraded_from else facts.revision,
        problems=len(problems),
        set_aside=done.set_aside,
        upgraded_from=opened.upgraded_from,
        carried_events=done.carried,
    )


def _aside_name(target: Path) -> Path:
    """Reserve a new set-aside name (created empty, owner-only, O_EXCL): two restores in the
    same second get two names."""
    stamp = dt.datetime.now(dt.UTC).strftime(_STAMP)
    for n in itertools.count(1):
        suffix = "" if n == 1 else f"-{n}"
        aside = target.with_name(f"{target.name}.before-restore-{stamp}{suffix}.bak")
        try:
            os.close(os.open(aside, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        except FileExistsError:
            continue
        return aside
    raise AssertionError("unreachable")


def _set_aside_sqlite(lock: sqlite3.Connection, target: Path) -> Path:
    """Copy the locked clinic aside through its own (locking) connection and check the copy."""
    aside = _aside_name(target)
    try:
        with contextlib.closing(sqlite3.connect(aside)) as dst:
            lock.backup(dst)
            dst.execute("PRAGMA journal_mode = DELETE")
            verdict = dst.execute("PRAGMA quick_check").fetchone()[0]
        if verdict != "ok":
            raise sqlite3.DatabaseError(f"the copy is damaged ({verdict})")
        _fsync(aside)
    except (sqlite3.Error, OSError) as err:
        aside.unlink(missing_ok=True)
        raise BackupError(
            f"cannot copy {target} aside ({_first_line(err)}); nothing was changed"
        ) from None
    return aside


def _set_aside_bytes(target: Path) -> Path:
    aside = _aside_name(target)
    try:
        with aside.open("wb") as fh:
            fh.write(target.read_bytes())
    except OSError as err:
        aside.unlink(missing_ok=True)
        raise BackupError(
            f"cannot copy {target} aside ({_first_line(err)}); nothing was changed"
        ) from None
    return aside


# The audit trail across a restore: events are only ever inserted (migration 0002's triggers
# refuse the rest), so the replaced clinic's events the backup does not have are inserted into
# the restored one with their own ids (all above the backup's newest), followed by the restore's.


def _audit_columns(conn: sqlite3.Connection) -> list[str]:
    return [str(r[1]) for r in conn.execute("PRAGMA table_info(audit_event)")]


def _newest_audit_id(conn: sqlite3.Connection) -> int:
    if not _audit_columns(conn):
        return 0
    return int(conn.execute("SELECT coalesce(max(id), 0) FROM audit_event").fetchone()[0])


def _newer_audit_events(
    conn: sqlite3.Connection, newest: int, columns: list[str]
) -> list[dict[str, Any]]:
    """The replaced clinic's audit events with ids above ``newest``, in the columns the
    restored clinic has."""
    have = set(_audit_columns(conn))
    wanted = [c for c in columns if c in have]
    if "id" not in wanted:
        return []
    rows = conn.execute(
        f"SELECT {', '.join(wanted)} FROM audit_event WHERE id > ? ORDER BY id",
        (newest,),
    ).fetchall()
    return [dict(zip(wanted, row, strict=True)) for row in rows]


def _write_restore_events(
    conn: sqlite3.Connection,
    carried: list[dict[str, Any]],
    columns: list[str],
    actor: Actor,
    source: Path,
    aside: Path | None,
    when: dt.datetime,
) -> None:
    """Insert the carried events and the restore's own event (inside the caller's transaction).

    A carried event may name a user or patient the backup predates: the reference is dropped
    (the foreign key would dangle) and said in its detail, the username stays as written."""
    if not columns:
        return
    users = {r[0] for r in conn.execute("SELECT id FROM app_user")}
    patients = {r[0] for r in conn.execute("SELECT id FROM patient")}
    for event in carried:
        row = dict(event)
        notes = []
        if row.get("user_id") is not None and row["user_id"] not in users:
            row["user_id"] = None
        if row.get("patient_id") is not None and row["patient_id"] not in patients:
            notes.append(f"patient #{row['patient_id']}, registered after the backup")
            row["patient_id"] = None
        if notes and "detail" in row:
            row["detail"] = "; ".join(filter(None, [row["detail"] or "", *notes]))
        _insert(conn, row)
    detail = (
        f"restored from {source}; {len(carried)} newer audit event"
        f"{'' if len(carried) == 1 else 's'} carried over"
        + (f"; the replaced clinic was copied to {aside}" if aside else "")
    )
    restore_event: dict[str, Any] = {
        "at": when.astimezone(dt.UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f"),
        "user_id": actor.user_id if actor.user_id in users else None,
        "username": actor.username,
        "action": "restore",
        "entity": "clinic",
        "entity_id": None,
        "patient_id": None,
        "before": None,
        "after": json.dumps(
            {
                "from": str(source),
                "carried_events": len(carried),
                "set_aside": str(aside) if aside else None,
            }
        ),
        "detail": detail,
    }
    _insert(conn, {k: v for k, v in restore_event.items() if k in columns})


def _insert(conn: sqlite3.Connection, row: dict[str, Any]) -> None:
    names = list(row)
    conn.execute(
        f"INSERT INTO audit_event ({', '.join(names)}) "  # names from the schema, values bound
        f"VALUES ({', '.join('?' for _ in names)})",
        [row[n] for n in names],
    )


# ---------------------------------------------------------------------------------------------
# Scheduled backups and retention


def backups_to_delete(
    backups: list[tuple[Path, dt.datetime]],
    now: dt.datetime,
    daily: int = 7,
    weekly: int = 4,
) -> list[Path]:
    """Which backups retention removes: kept are the newest of each of the last ``daily`` days
    (today included) and of each of the last ``weekly`` ISO weeks (this week included), the
    newest backup of all (so a long pause never deletes every copy), and any dated after
    ``now``.  Days and weeks are counted in UTC.  Pure: touches no file.
    """
    now = _utc(now)
    days = {(now - dt.timedelta(days=k)).date() for k in range(daily)}
    weeks = {(now - dt.timedelta(weeks=k)).isocalendar()[:2] for k in range(weekly)}
    ordered = sorted(((_utc(when), path) for path, when in backups), reverse=True)
    keep: set[Path] = set()
    seen_days: set[dt.date] = set()
    seen_weeks: set[tuple[int, int]] = set()
    for i, (when, path) in enumerate(ordered):
        day, week = when.date(), when.isocalendar()[:2]
        if i == 0 or when > now:
            keep.add(path)
        if day in days and day not in seen_days:
            keep.add(path)
        if week in weeks and week not in seen_weeks:
            keep.add(path)
        seen_days.add(day)
        seen_weeks.add(week)
    return [path for _when, path in sorted(ordered) if path not in keep]


def scheduled_backup(
    db: Database | str,
    folder: Path,
    now: dt.datetime,
    *,
    daily: int = 7,
    weekly: int = 4,
) -> BackupResult:
    """Write ``clinic-YYYYmmddTHHMMSSZ.sqlite`` into ``folder`` and apply retention to the
    scheduled backups there (other files are never touched)."""
    folder = Path(folder)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    name = f"clinic-{_utc(now).strftime(_STAMP)}.sqlite"
    # A backup of the same second already there (the window closed twice within it): this one
    # is as new or newer, and replaces it.
    result = backup(db, folder / name, overwrite=True)
    found: list[tuple[Path, dt.datetime]] = []
    for path in folder.iterdir():
        match = SCHEDULED_NAME.match(path.name)
        if match and path.is_file():
            when = dt.datetime.strptime(match[1], _STAMP).replace(tzinfo=dt.UTC)
            found.append((path, when))
    removed = [p for p in backups_to_delete(found, now, daily, weekly) if p != result.path]
    for path in removed:
        path.unlink(missing_ok=True)
    return BackupResult(
        path=result.path,
        size=result.size,
        appointments=result.appointments,
        revision=result.revision,
        removed=tuple(removed),
    )


# ---------------------------------------------------------------------------------------------
# Helpers


def _sqlite_file_of(url_or_db: str | Database, verb: str) -> Path:
    if isinstance(url_or_db, Database):
        url = url_or_db.url
    else:
        try:
            url = parse_db_url(url_or_db)
        except StoreError as err:
            raise BackupRefused(str(err)) from None
    if url.get_backend_name() != "sqlite":
        raise BackupRefused(f"only SQLite clinics are {verb} by KetaDesk; {PG_HINT}")
    if not url.database or url.database == ":memory:":
        raise BackupRefused("an in-memory SQLite database has no file to back up or restore")
    return Path(url.database)


def _facts(
    path: Path,
    *,
    check_integrity: bool,
    failure: type[BackupError] = BackupRefused,
    what: str | None = None,
) -> _FileFacts:
    """Check that ``path`` is a KetaDesk clinic at a schema this version knows (and, when
    asked, that SQLite finds it intact); raises ``failure`` naming the problem."""
    name = what or str(path)
    if not _is_sqlite_file(path):
        raise failure(f"{name} ({path}) is not a SQLite database; nothing was changed")
    try:
        with _read_only(path) as conn:
            if check_integrity:
                rows = [r[0] for r in conn.execute("PRAGMA integrity_check").fetchall()]
                if rows != ["ok"]:
                    raise failure(f"{name} ({path}) is damaged ({rows[0]}); nothing was changed")
            tables = {
                r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
            }
            if not {"alembic_version", "clinic_setting"} <= tables:
                raise failure(f"{name} ({path}) is not a KetaDesk database; nothing was changed")
            rev = conn.execute(migrate.REVISION_SQL).fetchone()
            clinic = conn.execute("SELECT 1 FROM clinic_setting WHERE key = 'clinic'").fetchone()
            count = conn.execute("SELECT count(*) FROM appointment").fetchone()[0]
    except sqlite3.Error as err:
        raise failure(f"cannot read {name} ({path}): {_first_line(err)}") from None
    if rev is None or clinic is None:
        raise failure(f"{name} ({path}) holds no KetaDesk clinic; nothing was changed")
    revision = str(rev[0])
    if migrate.state_of_revision(revision) is migrate.SchemaState.NEWER:
        raise failure(
            f"{name} ({path}) was written by a newer version of KetaDesk (schema {revision}); "
            f"this version knows schemas up to {migrate.revision_graph().head}. Install the "
            "newer KetaDesk; nothing was changed"
        )
    return _FileFacts(revision=revision, appointments=int(count))


@contextlib.contextmanager
def _read_only(path: Path) -> Iterator[sqlite3.Connection]:
    # rw + query_only rather than mode=ro: a read-only connection leaves -wal/-shm files behind.
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=rw", uri=True, timeout=10)
    try:
        conn.execute("PRAGMA query_only = ON")
        yield conn
    finally:
        conn.close()


def _is_sqlite_file(path: Path) -> bool:
    # Through ``file_header``, never a descriptor closed again: the file may be the clinic
    # this process has open, whose locks a closed descriptor would drop.
    try:
        return file_header(path) == SQLITE_HEADER
    except DatabaseOpenError:
        return False


@contextlib.contextmanager
def _temporary_beside(path: Path) -> Iterator[Path]:
    """A name for a temporary file in ``path``'s folder (same file system: renames are atomic);
    removed on the way out if it still exists."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    for p in (tmp, *_sidecars(tmp)):
        p.unlink(missing_ok=True)
    try:
        yield tmp
    finally:
        for p in (tmp, *_sidecars(tmp)):
            p.unlink(missing_ok=True)


def _publish(tmp: Path, out: Path, *, overwrite: bool) -> None:
    if overwrite:
        os.replace(tmp, out)
        return
    try:
        os.link(tmp, out)  # atomic and never replaces a file that appeared meanwhile
    except FileExistsError:
        raise TargetExists(out) from None
    except OSError:  # a file system without hard links (a FAT USB stick)
        if out.exists():
            raise TargetExists(out) from None
        os.replace(tmp, out)
        return
    tmp.unlink()


def _sidecars(path: Path) -> tuple[Path, ...]:
    return tuple(path.with_name(path.name + s) for s in ("-wal", "-shm", "-journal"))


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (b.exists() and a.samefile(b))
    except OSError:
        return False


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not every platform can open a folder
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _utc(when: dt.datetime) -> dt.datetime:
    if when.tzinfo is None:
        raise ValueError("backup times must be timezone-aware")
    return when.astimezone(dt.UTC)


def _first_line(err: object) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def human_size(size: int) -> str:
    """``2.1 MB``, ``540.0 kB``, ``812 bytes`` (decimal units)."""
    if size < 1000:
        return f"{size} bytes"
    value, unit = float(size), "bytes"
    for unit in ("kB", "MB", "GB", "TB"):  # noqa: B007 (the last unit used is wanted)
        value /= 1000
        if value < 1000:
            break
    return f"{value:.1f} {unit}"
