"""Moving a test clinic's schema to a given revision, as `ketadesk db upgrade` would (Alembic
on the clinic's own connection); shared by the migration tests in tests/store."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from ketadesk.paths import migrations_dir
from ketadesk.store.database import open_database
from ketadesk.store.migrate import current_revision


def migrate_to(url: str, target: str) -> None:
    """Upgrade (``target`` "head") or downgrade the clinic at ``url`` to ``target``."""
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir()))
    db = open_database(url)
    try:
        with db.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            if target == "head":
                command.upgrade(cfg, target)
            else:
                command.downgrade(cfg, target)
        if target != "head":
            assert current_revision(db) == target
    finally:
        db.dispose()
