"""Backups of a SQLite clinic and restoring one: consistent copies, owner-only, verified.

A backup is made with SQLite's online backup API (``migrate.copy_sqlite``), so it is one
consistent moment of the clinic even while workstations keep booking.  It is written to a
temporary file beside the destination, verified (``PRAGMA integrity_check`` and "a KetaDesk
clinic at a schema this version knows") and only then put in place.  A restore checks the source
the same way before anything at the target changes, copies the current target aside, puts the
restored file in place with an atomic rename and finally runs the clinic integrity check.

PostgreSQL clinics are backed up with the server's own tools (pg_dump/pg_restore).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ketadesk.services.common.context import ServiceError
from ketadesk.store import migrate
from ketadesk.store.database import Database, StoreError, parse_db_url

SQLITE_HEADER = b"SQLite format 3\x00"
PG_HINT = (
    "PostgreSQL clinics are backed up with the server's tools: "
    "pg_dump -Fc -f clinic.dump DBNAME, and restored with pg_restore --clean -d DBNAME "
    "clinic.dump (see the README)"
)
SCHEDULED_NAME = re.compile(r"^clinic-(\d{8}T\d{6}Z)\.sqlite$")
_STAMP = "%Y%m%dT%H%M%SZ"


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


def restore(source: Path, url: str, *, overwrite: bool) -> RestoreResult:
    """Restore the backup ``source`` as the SQLite clinic ``url``.

    Refuses (BackupRefused, nothing changed) a source that is not a SQLite file, not a KetaDesk
    clinic, damaged, or from a newer KetaDesk; and an existing target unless ``overwrite``.  With
    ``overwrite`` the current target is first copied aside (``<name>.before-restore-<stamp>.bak``,
    owner-only).  The restored clinic is opened (an older schema is upgraded, after its own copy)
    and integrity-checked: problems are counted in the result, not refused.
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
    set_aside: Path | None = None
    with _temporary_beside(target) as tmp:
        try:
            migrate.copy_sqlite(source, tmp)
        except (sqlite3.Error, OSError) as err:
            raise BackupError(f"cannot read {source}: {_first_line(err)}") from None
        _facts(tmp, check_integrity=True, failure=BackupError, what="the restored copy")
        _fsync(tmp)
        if exists:
            _quiesce(target)
            set_aside = _set_aside(target)
        os.replace(tmp, target)
    _fsync_dir(target.parent)
    return _verify_restored(url, target, facts, set_aside)


def _verify_restored(
    url: str, target: Path, facts: _FileFacts, set_aside: Path | None
) -> RestoreResult:
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
        set_aside=set_aside,
        upgraded_from=opened.upgraded_from,
    )


def _quiesce(target: Path) -> None:
    """Fold the target's WAL into its file and stop WAL mode, so no ``-wal`` is left behind to
    be replayed into the restored file.  Refuses when another program has the clinic open."""
    if not _is_sqlite_file(target):
        return
    try:
        conn = sqlite3.connect(f"{target.resolve().as_uri()}?mode=rw", uri=True, timeout=5)
        try:
            mode = conn.execute("PRAGMA journal_mode = DELETE").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error as err:
        raise BackupRefused(
            f"{target} is in use ({_first_line(err)}); close KetaDesk everywhere and try again"
        ) from None
    leftovers = [p for p in _sidecars(target) if p.exists()]
    if mode != "delete" or leftovers:
        raise BackupRefused(
            f"{target} is in use by another program; close KetaDesk everywhere and try again"
        )


def _set_aside(target: Path) -> Path:
    stamp = dt.datetime.now(dt.UTC).strftime(_STAMP)
    aside = target.with_name(f"{target.name}.before-restore-{stamp}.bak")
    try:
        if _is_sqlite_file(target):
            migrate.copy_sqlite(target, aside)
        else:
            fd = os.open(aside, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(target.read_bytes())
    except (sqlite3.Error, OSError) as err:
        raise BackupError(
            f"cannot copy {target} aside ({_first_line(err)}); nothing was changed"
        ) from None
    return aside


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
    result = backup(db, folder / name)
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
    try:
        with path.open("rb") as fh:
            return fh.read(16) == SQLITE_HEADER
    except OSError:
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
