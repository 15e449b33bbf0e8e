"""The migrated schema is the models' schema, and opening bad databases fails clearly."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from ketadesk.paths import migrations_dir
from ketadesk.services.clinic.clinic_setup import open_clinic
from ketadesk.store import migrate
from ketadesk.store.database import (
    DatabaseOpenError,
    SchemaError,
    open_database,
    parse_db_url,
    plain_sqlite_path,
    read_sqlite_file,
)
from ketadesk.store.models import Base


def test_migrated_schema_matches_the_models(db_url: str) -> None:
    opened = open_clinic(db_url, create=True)
    try:
        with opened.db.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(context, Base.metadata)
        assert diff == []
    finally:
        opened.db.dispose()


def test_postgres_refuses_overlapping_exclusive_holds_by_itself(pg_url: str) -> None:
    opened = open_clinic(pg_url, create=True)
    try:
        with opened.db.engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT conname FROM pg_constraint WHERE contype = 'x' "
                    "AND conrelid = 'resource_hold'::regclass"
                )
            ).all()
        assert [r[0] for r in rows] == ["no_overlapping_exclusive_holds"]
    finally:
        opened.db.dispose()


def test_new_clinic_gets_the_default_configuration(sqlite_url: str) -> None:
    from ketadesk.store.clinic_config import load_catalog

    opened = open_clinic(sqlite_url, create=True)
    try:
        with opened.db.read() as session:
            catalog = load_catalog(session)
        assert "iv_infusion" in catalog.session_types
        assert catalog.protocols["iv_induction"].stages[0].count == 6
        assert catalog.settings.timezone == "America/Los_Angeles"
    finally:
        opened.db.dispose()


def test_sqlite_file_is_private_to_its_owner(sqlite_url: str) -> None:
    opened = open_clinic(sqlite_url, create=True)
    opened.db.dispose()
    assert opened.db.sqlite_path is not None
    assert opened.db.sqlite_path.stat().st_mode & 0o077 == 0


def test_missing_file_is_not_created_unless_asked(tmp_path: Path) -> None:
    target = tmp_path / "nope.sqlite"
    with pytest.raises(DatabaseOpenError, match="no database at"):
        open_database(str(target))
    assert not target.exists()


def test_corrupt_file_is_refused_and_left_alone(tmp_path: Path) -> None:
    target = tmp_path / "clinic.sqlite"
    target.write_bytes(b"this is a spreadsheet, honestly" * 10)
    before = target.read_bytes()
    with pytest.raises(DatabaseOpenError, match="not a SQLite database"):
        open_clinic(str(target))
    assert target.read_bytes() == before


def test_damaged_sqlite_file_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "clinic.sqlite"
    opened = open_clinic(str(target), create=True)
    opened.db.dispose()
    data = bytearray(target.read_bytes())
    data[100:4096] = b"\xff" * (4096 - 100)  # smash the first page's b-tree
    target.write_bytes(bytes(data))
    with pytest.raises((DatabaseOpenError, SchemaError)):
        open_clinic(str(target))


def test_database_from_a_newer_version_is_refused_untouched(sqlite_url: str) -> None:
    opened = open_clinic(sqlite_url, create=True)
    path = opened.db.sqlite_path
    opened.db.dispose()
    assert path is not None
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999_from_the_future'")
    before = path.read_bytes()
    with pytest.raises(SchemaError, match="newer version of KetaDesk"):
        open_clinic(sqlite_url)
    assert path.read_bytes() == before


def test_another_alembic_application_is_not_called_a_newer_ketadesk(tmp_path: Path) -> None:
    target = tmp_path / "billing.sqlite"
    with sqlite3.connect(target) as conn:
        conn.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)")
        conn.execute("INSERT INTO alembic_version VALUES ('ae1027a6acf')")
        conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY)")
    before = target.read_bytes()
    with pytest.raises(SchemaError, match="not a KetaDesk database") as err:
        open_clinic(str(target))
    assert "newer" not in str(err.value)
    assert target.read_bytes() == before


def test_a_failing_statement_never_prints_its_values(db_url: str) -> None:
    """Patient data stays out of tracebacks and logs: SQLAlchemy is told to hide parameters."""
    opened = open_clinic(db_url, create=True)
    statement = text("SELECT :chart FROM no_such_table")
    try:
        with pytest.raises(DBAPIError) as err, opened.db.read() as session:
            session.execute(statement, {"chart": "Lovelace 1815-12-10 555-0100"})
    finally:
        opened.db.dispose()
    assert "Lovelace" not in str(err.value)
    assert "hidden due to hide_parameters" in str(err.value)


def test_foreign_sqlite_database_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "other.sqlite"
    with sqlite3.connect(target) as conn:
        conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY)")
    with pytest.raises(SchemaError, match="not a KetaDesk database"):
        open_clinic(str(target))


def test_unknown_url_scheme_is_named() -> None:
    with pytest.raises(DatabaseOpenError, match="'mysql' databases are not supported"):
        open_database("mysql://localhost/clinic")


def test_unreachable_postgres_server_is_named() -> None:
    with pytest.raises(DatabaseOpenError, match="cannot open postgresql"):
        open_database("postgresql+psycopg://nobody@127.0.0.1:1/clinic")


def test_revision_graph_has_one_head() -> None:
    graph = migrate.revision_graph()
    assert graph.head in graph.parents


def test_revision_graph_read_from_the_headers_is_alembic_s(tmp_path: Path) -> None:
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory(str(migrations_dir()))
    graph = migrate.revision_graph()
    assert graph.head == scripts.get_current_head()
    assert graph.parents == {
        script.revision: script.down_revision for script in scripts.walk_revisions()
    }
    # A second migration, written as Alembic writes them, moves the head.
    versions = tmp_path / "versions"
    versions.mkdir()
    (versions / "0001_first.py").write_text('revision: str = "0001"\ndown_revision = None\n')
    (versions / "0002_second.py").write_text(
        '"""second\n\nRevision ID: 0002\nRevises: 0001\n"""\n'
        "revision: str = '0002'\ndown_revision: Union[str, None] = '0001'  # the first\n"
    )
    assert migrate.revision_graph(tmp_path) == migrate.RevisionGraph({"0001": None, "0002": "0001"})


def test_schema_state_of_a_new_database_then_of_the_clinic_made_in_it(db_url: str) -> None:
    db = open_database(db_url, create=True)
    try:
        assert migrate.schema_state(db) == (migrate.SchemaState.EMPTY, None)
    finally:
        db.dispose()
    opened = open_clinic(db_url, create=True)
    try:
        head = migrate.revision_graph().head
        assert migrate.schema_state(opened.db) == (migrate.SchemaState.CURRENT, head)
        assert migrate.current_revision(opened.db) == head
    finally:
        opened.db.dispose()


def test_schema_state_of_someone_else_s_database(db_url: str) -> None:
    db = open_database(db_url, create=True)
    try:
        with db.engine.begin() as conn:
            conn.execute(text("CREATE TABLE invoices (id INTEGER PRIMARY KEY)"))
        assert migrate.schema_state(db) == (migrate.SchemaState.FOREIGN, None)
        assert migrate.current_revision(db) is None
    finally:
        db.dispose()


@pytest.mark.parametrize(
    "text_url",
    [
        "clinic.sqlite",
        "/srv/desk/clinic.sqlite",
        "~/clinic.sqlite",
        "sqlite:///relative/clinic.sqlite",
        "sqlite:////srv/desk/clinic.sqlite",
        "sqlite:///~/clinic.sqlite",
    ],
)
def test_a_plain_sqlite_url_names_the_same_file_without_sqlalchemy(text_url: str) -> None:
    path = plain_sqlite_path(text_url)
    assert path is not None
    assert path == Path(str(parse_db_url(text_url).database))


@pytest.mark.parametrize(
    "text_url",
    [
        "",
        "sqlite://",
        "sqlite:///",
        "sqlite:///:memory:",
        "sqlite:///a%20b.sqlite",
        "sqlite:///clinic.sqlite?timeout=5",
        "sqlite+pysqlite:///clinic.sqlite",
        "postgresql+psycopg://desk@server/clinic",
    ],
)
def test_anything_else_is_left_to_sqlalchemy(text_url: str) -> None:
    assert plain_sqlite_path(text_url) is None


def test_reading_a_sqlite_file_directly_changes_nothing(sqlite_url: str, tmp_path: Path) -> None:
    opened = open_clinic(sqlite_url, create=True)
    path = opened.db.sqlite_path
    opened.db.dispose()
    assert path is not None
    before = path.read_bytes()
    with read_sqlite_file(path) as conn:
        (rev,) = conn.execute(migrate.REVISION_SQL).fetchone()
        assert rev == migrate.revision_graph().head
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            conn.execute("DELETE FROM clinic_setting")
    assert path.read_bytes() == before
    # No WAL files are left behind (a read-only connection could not remove them).
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]
    with pytest.raises(DatabaseOpenError, match="no database at"):
        read_sqlite_file(tmp_path / "none.sqlite").__enter__()
    assert not (tmp_path / "none.sqlite").exists()


@pytest.mark.parametrize(
    "argv",
    [
        ["check"],
        ["db", "status"],
        ["plan", "--patient", "X-1", "--protocol", "iv_induction", "--start", "2030-01-07"],
        ["openings", "--session-type", "iv_infusion", "--from", "2030-01-07"],
    ],
)
def test_commands_leave_a_foreign_or_empty_sqlite_file_byte_for_byte_alone(
    tmp_path: Path, argv: list[str]
) -> None:
    from ketadesk.cli import main

    foreign = tmp_path / "foreign.sqlite"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE foo (id INTEGER PRIMARY KEY)")
    empty = tmp_path / "empty.sqlite"
    empty.write_bytes(b"")
    for target in (foreign, empty):
        before = target.read_bytes()
        assert main([*argv, "--db", str(target)]) != 0
        assert target.read_bytes() == before
        assert not target.with_name(target.name + "-wal").exists()


def test_a_clinic_file_uses_the_wal_journal(sqlite_url: str) -> None:
    opened = open_clinic(sqlite_url, create=True)
    try:
        with opened.db.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    finally:
        opened.db.dispose()


def test_the_database_itself_refuses_to_change_or_delete_audit_events(db_url: str) -> None:
    from ketadesk.services.access.audit import entry, write
    from ketadesk.services.common.context import SYSTEM

    opened = open_clinic(db_url, create=True)
    db = opened.db
    try:
        with db.write() as session:
            write(session, [entry(SYSTEM, "book", "appointment", 1, detail="kept")])
        for statement in (
            "UPDATE audit_event SET detail = 'rewritten'",
            "DELETE FROM audit_event",
        ):
            with pytest.raises(DBAPIError, match="append-only"), db.write() as session:
                session.execute(text(statement))
        if db.engine.dialect.name == "postgresql":
            with pytest.raises(DBAPIError, match="append-only"), db.write() as session:
                session.execute(text("TRUNCATE audit_event"))
        with db.read() as session:
            kept = session.execute(text("SELECT detail FROM audit_event")).scalars().all()
        assert "kept" in kept
        assert "rewritten" not in kept
    finally:
        db.dispose()


def test_a_sqlite3_shell_cannot_delete_the_audit_trail_either(sqlite_url: str) -> None:
    opened = open_clinic(sqlite_url, create=True)
    path = opened.db.sqlite_path
    opened.db.dispose()
    assert path is not None
    with sqlite3.connect(path) as conn:
        conn.execute(
            "INSERT INTO audit_event (at, username, action, entity, detail) "
            "VALUES ('2026-01-01 00:00:00', 'x', 'book', 'appointment', '')"
        )
    with sqlite3.connect(path) as conn, pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("DELETE FROM audit_event")
