"""Opening a clinic database for use: schema up to date, configuration installed.

Opening an existing clinic needs SQLAlchemy Core only: the ORM models are loaded when a new
clinic is set up (or by the first service that works with them), not at start-up.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ketadesk.config import RawConfig, build_catalog, read_raw_config
from ketadesk.store import migrate
from ketadesk.store.database import Database, SchemaError, open_database


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
