"""The database's own failures come out of ``service_errors`` as words for the user."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import DataError, OperationalError
from sqlalchemy.orm.exc import StaleDataError

from ketadesk.services.common.context import NotFound
from ketadesk.services.common.errors import (
    ChangedElsewhere,
    DatabaseFailure,
    ServerUnavailable,
    service_errors,
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
