"""Shared fixtures: fresh clinic databases on SQLite (always) and PostgreSQL (when configured).

PostgreSQL tests run when KETADESK_TEST_PG_URL points at a server where that role may create
databases (``.ci/run`` starts one); each test gets its own database, dropped afterwards.
"""

from __future__ import annotations

import functools
import os
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.event_loops import restore_event_loops

PG_ENV = "KETADESK_TEST_PG_URL"

#: Fixture modules shared by tests in several folders.
pytest_plugins = ["tests.scale_fixtures"]

#: The least time a pytest-qt wait gives a worker's answer (pytest-qt's own default is 5 s, and
#: tests name 1-10 s).  On a loaded CI machine (load 10-17 has been seen) a read on the worker
#: thread has taken longer than 10 s.  A wait returns as soon as its condition holds, so a longer
#: limit costs a passing test nothing and only makes a real hang slower to report; speed is the
#: benchmarks' business (tests/benchmarks), never a wait's limit.
QT_WAIT_MS = 30_000


def _longer_qt_waits() -> None:
    try:
        from pytestqt.qtbot import QtBot
    except ImportError:  # the scheduling tests run without Qt
        return
    for name in ("waitUntil", "waitSignal", "waitSignals", "waitCallback", "waitExposed"):
        method = getattr(QtBot, name)
        if getattr(method, "_kd_floor", False):
            continue

        def waiting(*args: object, _method: Any = method, **kwargs: Any) -> Any:
            timeout = kwargs.get("timeout", 5000)
            if isinstance(timeout, int) and 0 < timeout < QT_WAIT_MS:
                kwargs["timeout"] = QT_WAIT_MS
            return _method(*args, **kwargs)

        waiting._kd_floor = True  # type: ignore[attr-defined]
        functools.update_wrapper(waiting, method)
        setattr(QtBot, name, waiting)


_longer_qt_waits()


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Drop the clinic templates this process built (tests/clinic_fixtures.py)."""
    fixtures = sys.modules.get("tests.clinic_fixtures")
    if fixtures is not None:
        fixtures.drop_templates()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Iterator[None]:
    """Once a UI test has moved garbage collection to the GUI thread (ui/common/garbage.py),
    collect what is due after every test, including those that never run an event loop; and,
    once its fixtures are gone, leave the next test working event loops (tests/event_loops.py:
    after, since looking runs an event loop, which deletes what was left to deleteLater)."""
    garbage = sys.modules.get("ketadesk.ui.common.garbage")
    collector = garbage.installed() if garbage is not None else None
    if collector is not None:
        collector.check()
    try:
        return (yield)
    finally:
        if restore_event_loops() and sys.__stderr__ is not None:
            # Past pytest's capture, into the run's log: which test left them stopped.
            sys.__stderr__.write(f"\n{item.nodeid} left Qt's event loops stopped; restored\n")


@pytest.fixture(scope="session", autouse=True)
def temporary_folder_of_the_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """TMPDIR, for this process and every process a test starts, is a folder of this run's
    pytest base folder, which pytest removes a few runs later: the application leaves its
    SQLite writers' lock files there (``ketadesk-writers-<inode key>.lock``, one per clinic file
    and never removed: store/database.py ``writers_queue``), and tests their pictures
    (tests/pictures.py).  Every process of a test sees the same folder, so they queue on the
    same locks."""
    folder = tmp_path_factory.getbasetemp() / "tmp"
    folder.mkdir(exist_ok=True)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TMPDIR", str(folder))
        mp.setattr(tempfile, "tempdir", str(folder))
        yield folder


@pytest.fixture(autouse=True)
def workstation_in_tmp(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> os.PathLike[str]:
    """Keep this workstation's clinic (the setting `ketadesk run --db` writes, and the default
    clinic file in the user's data folder) out of the real home, for every test and every
    process a test starts."""
    folder = tmp_path_factory.mktemp("workstation")
    monkeypatch.setenv("KETADESK_CONFIG_DIR", os.path.join(folder, "config"))
    monkeypatch.setenv("XDG_DATA_HOME", os.path.join(folder, "data"))
    return folder


def _pg_admin_url() -> str:
    url = os.environ.get(PG_ENV)
    if not url:
        pytest.skip(f"{PG_ENV} is not set: PostgreSQL tests skipped (.ci/run sets it)")
    return url


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A new, empty PostgreSQL database for one test."""
    from sqlalchemy import create_engine, text

    from ketadesk.store.database import parse_db_url

    admin = parse_db_url(_pg_admin_url())
    name = f"ketadesk_test_{uuid.uuid4().hex[:12]}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


@pytest.fixture
def sqlite_url(tmp_path: os.PathLike[str]) -> str:
    return f"sqlite:///{os.path.join(tmp_path, 'clinic.sqlite')}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> str:
    """An empty database URL, once on SQLite and once on PostgreSQL."""
    name = "sqlite_url" if request.param == "sqlite" else "pg_url"
    url: str = request.getfixturevalue(name)
    return url
