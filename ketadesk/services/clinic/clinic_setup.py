"""Opening a clinic database for use: schema up to date, configuration installed.

Opening an existing clinic needs SQLAlchemy Core only: the ORM models are loaded when a new
clinic is set up (or by the first service that works with them), not at start-up.

A new SQLite clinic is built in a temporary file beside the target and renamed into place once
whole, so a crash while creating leaves either no clinic or a whole one, never a half-built file
that a second ``--create`` would refuse.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sqlite3
from dataclasses import dataclass, replace
from pathlib import Path

from ketadesk.config import RawConfig, build_catalog, read_raw_config
from ketadesk.scheduling.catalog import ConfigError
from ketadesk.services.common.context import ServiceError
from ketadesk.store import migrate
from ketadesk.store.database import Database, SchemaError, StoreError, open_database


@dataclass(frozen=True)
class OpenedClinic:
    db: Database
    created: bool  # a new, empty clinic was set up
    upgraded_from: str | None  # the schema revision it was upgraded from, if any
    backup: Path | None  # the copy made before upgrading


def open_clinic(
    url: str,
    *,
    create: bool = False,
    upgrade: bool = True,
    config: RawConfig | None = None,
) -> OpenedClinic:
    """Open a clinic database, bringing its schema up to date (after a backup copy).

    With ``create``, a missing SQLite file or an empty database becomes a new clinic with the
    default configuration (or ``config``).  Raises StoreError/ConfigError with a clear message.
    """
    if create:
        fresh = _new_sqlite_file(url)
        if fresh is not None:
            created = _create_beside(fresh, config)
            opened = _open(url, create=False, upgrade=upgrade, config=None)
            return replace(opened, created=created)
    return _open(url, create=create, upgrade=upgrade, config=config)


def create_clinic_file(path: Path) -> None:
    """A new, empty clinic with the default configuration in the SQLite file ``path``, for the
    window's "create a new clinic here" (``ketadesk db upgrade --create`` on the command line);
    a failure is a ServiceError in words."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        opened = open_clinic(f"sqlite:///{path}", create=True)
    except (StoreError, ConfigError, OSError) as err:
        raise ServiceError(f"the clinic could not be created at {path}: {err}") from None
    opened.db.dispose()


def _open(url: str, *, create: bool, upgrade: bool, config: RawConfig | None) -> OpenedClinic:
    db = open_database(url, create=create)
    try:
        state, rev = migrate.schema_state(db)
        if state is migrate.SchemaState.EMPTY and not create:
            raise SchemaError(f"{db.label} is empty: it is not a KetaDesk clinic yet")
        if state is migrate.SchemaState.OUTDATED and not upgrade:
            raise SchemaError(
                f"{db.label} has an older schema ({rev}); run `ketadesk db upgrade --db URL`"
            )
        raw = config or (read_raw_config() if state is migrate.SchemaState.EMPTY else None)
        if raw is not None:
            build_catalog(raw)  # a mistake in the configuration stops us before any write
        backup = migrate.upgrade(db)  # refuses a newer or foreign database before any write
        db.use_wal()  # only now: the file is known to be (or to have become) a clinic
        created = False
        if state is migrate.SchemaState.EMPTY:
            from ketadesk.store.clinic_config import install_configuration

            assert raw is not None
            with db.write() as session:
                install_configuration(session, raw)
            created = True
        elif not _has_clinic_configuration(db):
            raise SchemaError(f"{db.label} has no clinic configuration")
    except BaseException:
        db.dispose()
        raise
    return OpenedClinic(
        db=db,
        created=created,
        upgraded_from=rev if state is migrate.SchemaState.OUTDATED else None,
        backup=backup,
    )


def _has_clinic_configuration(db: Database) -> bool:
    from sqlalchemy import text

    with db.engine.connect() as conn:
        found = conn.execute(text("SELECT 1 FROM clinic_setting WHERE key = 'clinic'")).first()
    return found is not None


def _new_sqlite_file(url: str) -> Path | None:
    """The SQLite file ``url`` names when there is no clinic in it yet (missing or empty)."""
    from ketadesk.store.database import parse_db_url

    parsed = parse_db_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.query:
        return None
    path = Path(parsed.database)
    if parsed.database == ":memory:" or path.is_dir():
        return None
    try:
        return path if not path.exists() or path.stat().st_size == 0 else None
    except OSError:
        return None  # open_database says what is wrong with it


def _create_beside(target: Path, config: RawConfig | None) -> bool:
    """Build a new clinic in a temporary file beside ``target``, then put it in place.

    Returns False when another program created ``target`` meanwhile (theirs is kept)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_abandoned_builds(target)
    tmp = target.with_name(
        f"{_BUILD_PREFIX.format(name=target.name)}{os.getpid()}-{secrets.token_hex(4)}.tmp"
    )
    try:
        built = _open(f"sqlite:///{tmp}", create=True, upgrade=True, config=config)
        built.db.dispose()
        # Fold the WAL into the file: the rename moves the file alone, not its -wal.
        with contextlib.closing(sqlite3.connect(tmp)) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        _fsync(tmp)
        empty_target = target.exists()  # a zero-length file: nothing in it to lose
        if empty_target:
            os.replace(tmp, target)
        else:
            try:
                os.link(tmp, target)  # never replaces a clinic that appeared meanwhile
            except FileExistsError:
                return False
            except OSError:  # a file system without hard links
                if target.exists():
                    return False
                os.replace(tmp, target)
        _fsync(target.parent)
        return True
    finally:
        for p in (tmp, *_sidecars(tmp)):
            p.unlink(missing_ok=True)


_BUILD_PREFIX = ".{name}.creating-"


def _remove_abandoned_builds(target: Path) -> None:
    """Delete temporary files of creations that were killed (their process is gone)."""
    prefix = _BUILD_PREFIX.format(name=target.name)
    for path in target.parent.glob(f"{prefix}*"):
        pid_text = path.name[len(prefix) :].split("-", 1)[0]
        if pid_text.isdigit() and not _process_alive(int(pid_text)):
            path.unlink(missing_ok=True)


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by someone else
    return True


def _sidecars(path: Path) -> tuple[Path, ...]:
    return tuple(path.with_name(path.name + s) for s in ("-wal", "-shm", "-journal"))


def _fsync(path: Path) -> None:
    with contextlib.suppress(OSError):  # not every platform can open a folder
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
