"""Transmission security: a clinic on another machine's PostgreSQL server is reached only over
an encrypted connection; a server on this machine (loopback, a Unix socket) needs no TLS."""

from __future__ import annotations

import pytest

from ketadesk.store.database import DatabaseOpenError, open_database


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://desk@clinic-db.lan/ketadesk",
        "postgresql+psycopg://desk@clinic-db.lan/ketadesk?sslmode=prefer",
        "postgresql+psycopg://desk@10.0.0.5:5432/ketadesk?sslmode=disable",
        "postgresql+psycopg://desk@/ketadesk?host=localhost,clinic-db.lan",
    ],
)
def test_a_remote_server_without_tls_is_refused_before_connecting(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PGSSLMODE", raising=False)
    with pytest.raises(DatabaseOpenError, match=r"would not be encrypted .*sslmode=verify-full"):
        open_database(url)


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://desk@clinic-db.invalid/ketadesk?sslmode=verify-full",
        "postgresql+psycopg://desk@clinic-db.invalid/ketadesk?sslmode=require",
        "postgresql+psycopg://desk@127.0.0.1:1/ketadesk",
        "postgresql+psycopg://desk@localhost:1/ketadesk",
        "postgresql+psycopg://desk@/ketadesk?host=/nonexistent/socket",
    ],
)
def test_tls_or_a_local_server_goes_on_to_connect(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PGSSLMODE", raising=False)
    with pytest.raises(DatabaseOpenError) as refused:
        open_database(url)  # no such server: refused by the connection, not by the rule
    assert "would not be encrypted" not in str(refused.value)
    assert str(refused.value).startswith("cannot open")


def test_pgsslmode_from_the_environment_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGSSLMODE", "verify-full")
    with pytest.raises(DatabaseOpenError) as refused:
        open_database("postgresql+psycopg://desk@clinic-db.invalid/ketadesk")
    assert "would not be encrypted" not in str(refused.value)
