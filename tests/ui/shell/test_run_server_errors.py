"""`ketadesk run --db postgresql+psycopg://…` against a server that is down or refuses the login:
one clear line on stderr, exit status 2, and no window left waiting."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

from ketadesk.store.database import parse_db_url


def _run(url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    return subprocess.run(
        [sys.executable, "-m", "ketadesk", "run", "--db", url],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port  # closed again: nothing listens there


def test_a_server_that_is_down_gives_one_clear_line_and_status_2() -> None:
    port = _free_port()
    done = _run(f"postgresql+psycopg://clinic:secret@127.0.0.1:{port}/ketadesk")
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    line = lines[0]
    assert line.startswith("ketadesk run: cannot open postgresql+psycopg://clinic:***@127.0.0.1")
    assert "Connection refused" in line
    assert "is the clinic server running and reachable from here?" in line
    assert "secret" not in done.stderr + done.stdout
    assert "demo-if-missing" not in line  # not a missing file: no advice about building one


@pytest.fixture
def refused_role() -> Iterator[str]:
    """A role on the test server that may not log in (the server trusts local passwords)."""
    admin_text = os.environ.get("KETADESK_TEST_PG_URL")
    if not admin_text:
        pytest.skip("KETADESK_TEST_PG_URL is not set: PostgreSQL tests skipped")
    admin = parse_db_url(admin_text)
    name = f"ketadesk_nologin_{uuid.uuid4().hex[:8]}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f"CREATE ROLE \"{name}\" NOLOGIN PASSWORD 'right'"))
    try:
        yield admin.set(username=name, password="wrong").render_as_string(hide_password=False)
    finally:
        with engine.connect() as conn:
            conn.execute(text(f'DROP ROLE IF EXISTS "{name}"'))
        engine.dispose()


@pytest.mark.postgres
def test_a_server_that_refuses_the_login_gives_one_clear_line_and_status_2(
    refused_role: str,
) -> None:
    done = _run(refused_role)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "is not permitted to log in" in lines[0]
    assert "the server refused the login: check the user and password in --db" in lines[0]
    assert "wrong" not in done.stderr


@pytest.mark.postgres
def test_an_unknown_role_is_a_refused_login_not_a_missing_file() -> None:
    admin_text = os.environ.get("KETADESK_TEST_PG_URL")
    if not admin_text:
        pytest.skip("KETADESK_TEST_PG_URL is not set: PostgreSQL tests skipped")
    url = parse_db_url(admin_text).set(username=f"nobody_{uuid.uuid4().hex[:6]}", password="x")
    done = _run(url.render_as_string(hide_password=False))
    assert done.returncode == 2
    line = done.stderr.strip()
    assert "does not exist" in line
    assert "the server refused the login" in line
    assert "demo-if-missing" not in line
