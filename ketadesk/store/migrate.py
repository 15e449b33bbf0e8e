"""Schema versions: what a database is at, and bringing it to what this KetaDesk expects.

Start-up must stay fast, so the revision graph is read from the migration files' header lines
(not parsed as Python), a database's revision straight from its ``alembic_version`` table, and
Alembic (a slow import) is loaded only when a database actually needs upgrading.
"""

from __future__ import annotations

import datetime as dt
import enum
import os
import re
import sqlite3
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from ketadesk.paths import migrations_dir
from ketadesk.store.database import Database, SchemaError

#: The query that says which schema a database is at.
REVISION_SQL = "SELECT version_num FROM alembic_version"

# ``revision: str = "0001"`` and ``down_revision: str | None = None``, as Alembic writes them.
_HEADER_LINE = re.compile(
    r"^(?P<name>revision|down_revision)\s*(?::[^=]*)?=\s*(?P<value>.*?)\s*(?:#.*)?$", re.M
)


class SchemaState(enum.Enum):
    EMPTY = "empty"  # no tables at all: a new clinic
    CURRENT = "current"
    OUTDATED = "outdated"  # an older KetaDesk wrote it; upgrade
    NEWER = "newer"  # a newer KetaDesk wrote it; refuse
    FOREIGN = "foreign"  # tables, but not KetaDesk's


@dataclass(frozen=True)
class RevisionGraph:
    parents: dict[str, str | None]

    @property
    def head(self) -> str:
        children = {p for p in self.parents.values() if p}
        heads = [r for r in self.parents if r not in children]
        if len(heads) != 1:
            raise SchemaError(f"the migration scripts have {len(heads)} heads: {heads}")
        return heads[0]


@cache
def revision_graph(directory: Path | None = None) -> RevisionGraph:
    versions = (directory or migrations_dir()) / "versions"
    parents: dict[str, str | None] = {}
    for script in sorted(versions.glob("*.py")):
        values: dict[str, str | None] = {}
        for match in _HEADER_LINE.finditer(script.read_text(encoding="utf-8")):
            values[match["name"]] = _header_value(script, match["name"], match["value"])
        if values.get("revision"):
            parents[str(values["revision"])] = values.get("down_revision")
    if not parents:
        raise SchemaError(f"no migration scripts found in {versions}")
    return RevisionGraph(parents)


def _header_value(script: Path, name: str, text: str) -> str | None:
    if text == "None":
        return None
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    raise SchemaError(f"{script.name}: cannot read its {name} ({text!r})")


def current_revision(db: Database) -> str | None:
    """The schema revision a database is at; None when it has no ``alembic_version`` table."""
    return schema_state(db)[1]


def schema_state(db: Database) -> tuple[SchemaState, str | None]:
    from sqlalchemy import exc, inspect, text

    with db.engine.connect() as conn:
        try:
            rev = conn.execute(text(REVISION_SQL)).scalar()
        except exc.DBAPIError:
            # No version table (or one that cannot be read): a new database, someone else's,
            # or a real problem that reading the table names will report.
            conn.rollback()
            names = set(inspect(conn).get_table_names())
            if not names:
                return SchemaState.EMPTY, None
            if "alembic_version" not in names:
                return SchemaState.FOREIGN, None
            raise
        state = state_of_revision(rev)
        if state is SchemaState.NEWER and not set(inspect(conn).get_table_names()) >= OUR_TABLES:
            # Another application that also keeps its schema with Alembic, not a newer us.
            return SchemaState.FOREIGN, rev
    return state, rev


# Tables every KetaDesk schema has had and will keep: what tells a newer KetaDesk's database
# from another Alembic application's.
OUR_TABLES = frozenset({"patient", "appointment", "resource_hold", "clinic_setting"})


def state_of_revision(rev: str | None) -> SchemaState:
    """What a database whose ``alembic_version`` holds ``rev`` needs."""
    graph = revision_graph()
    if rev == graph.head:
        return SchemaState.CURRENT
    if rev in graph.parents:
        return SchemaState.OUTDATED
    return SchemaState.NEWER


def backup_sqlite(db: Database, tag: str) -> Path | None:
    """Copy a SQLite database aside (consistently, with the backup API) before changing it."""
    path = db.sqlite_path
    if path is None or not path.exists() or path.stat().st_size == 0:
        return None
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    target = path.with_name(f"{path.name}.{tag}-{stamp}.bak")
    copy_sqlite(path, target)
    return target


def copy_sqlite(source: Path, target: Path) -> None:
    """Copy the SQLite file ``source`` into the new file ``target`` with the online backup API.

    The copy is one consistent moment of the source even while other connections write (it
    includes what is still in the source's WAL).  ``target`` is created owner-only (0600) and
    must not exist yet (FileExistsError); it is left as a single self-contained file (rollback
    journal, no ``-wal``).  Never creates ``source``.  Raises sqlite3.Error / OSError.
    """
    fd = os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    os.close(fd)
    try:
        src = sqlite3.connect(f"{source.resolve().as_uri()}?mode=rw", uri=True, timeout=10)
        try:
            dst = sqlite3.connect(target)
            try:
                src.backup(dst)
                dst.execute("PRAGMA journal_mode = DELETE")
            finally:
                dst.close()
        finally:
            src.close()
        os.chmod(target, 0o600)
    except BaseException:
        target.unlink(missing_ok=True)
        raise


def upgrade(db: Database, *, backup: bool = True) -> Path | None:
    """Bring the schema to head; an outdated SQLite file is first copied aside.

    Returns the path of the copy, if one was made.  Refuses databases it does not understand.
    """
    state, rev = schema_state(db)
    if state is SchemaState.CURRENT:
        return None
    if state is SchemaState.NEWER:
        raise SchemaError(
            f"{db.label} was written by a newer version of KetaDesk (schema {rev}); this "
            f"version knows schemas up to {revision_graph().head}. Install the newer KetaDesk."
        )
    if state is SchemaState.FOREIGN:
        raise SchemaError(
            f"{db.label} holds tables but is not a KetaDesk database; nothing was changed"
        )
    copy = backup_sqlite(db, f"pre-{revision_graph().head}") if backup and rev else None
    _run_alembic_upgrade(db)
    return copy


def _run_alembic_upgrade(db: Database) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    with db.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
