"""The database's own failures come out of ``service_errors`` as words for the user."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy.exc import DataError, OperationalError
from sqlalchemy.orm.exc import StaleDataError

from ketadesk.services.common.context import NotFound
from ketadesk.services.common.errors import (
    ChangedElsewhere,
    DatabaseFailure,
    ReadOnlyDatabase,
    ServerUnavailable,
    service_errors,
    translated,
)


def test_a_row_changed_at_another_workstation_is_said_in_words() -> None:
    with pytest.raises(ChangedElsewhere) as raised, service_errors():
        raise StaleDataError("UPDATE statement on table 'appointment' expected 1 row; 0 matched")
    assert str(raised.value) == "changed at another workstation meanwhile; reloaded"
    assert "expected 1 row" in raised.value.detail


def test_a_server_out_of_reach_is_still_said_as_such() -> None:
    err = OperationalError("SELECT 1", {}, Exception("connection refused"))
    with pytest.raises(ServerUnavailable, match="connection refused"), service_errors():
        raise err


def test_another_database_failure_gives_the_drivers_first_line() -> None:
    with pytest.raises(DatabaseFailure, match="value too long"), service_errors():
        raise DataError("INSERT ...", {}, Exception("value too long for type\nDETAIL: ..."))


def test_a_service_error_passes_through_untouched() -> None:
    refusal = NotFound("no appointment #7")
    with pytest.raises(NotFound) as raised, service_errors():
        raise refusal
    assert raised.value is refusal


def _readonly_error(tmp_path: Path) -> sqlite3.OperationalError:
    path = tmp_path / "c.sqlite"
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("CREATE TABLE t (x)")
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        conn.execute("INSERT INTO t VALUES (1)")
    except sqlite3.OperationalError as err:
        return err
    finally:
        conn.close()
    raise AssertionError("a read-only connection wrote")


def test_a_read_only_clinic_is_said_as_such_not_as_a_server_out_of_reach(tmp_path: Path) -> None:
    wrapped = OperationalError("INSERT ...", {}, _readonly_error(tmp_path))
    with (
        pytest.raises(ReadOnlyDatabase, match="is read-only: nothing was written"),
        service_errors(),
    ):
        raise wrapped
    words = translated(wrapped)
    assert isinstance(words, ReadOnlyDatabase)
    assert "the clinic file /x.sqlite is read-only" in str(words.at("/x.sqlite"))


def test_translated_leaves_other_errors_alone() -> None:
    assert translated(ValueError("not ours")) is None
    assert translated(OSError(28, "No space left on device")) is None  # a file, not the database
