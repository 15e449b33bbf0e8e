"""Fixtures for the UI tests: the clinic day of clinic_day.py, a holiday cache in tmp, and the
guard that fails a test whose widgets ran SQL on the GUI thread (tests/ui/sql_guard.py)."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.clinic_fixtures import SmallClinic
from tests.ui.clinic_day import build_clinic_day
from tests.ui.sql_guard import GUARD

#: "Now" in the tests: Tuesday 24 November 2026, 10:15 at the clinic (PST = UTC-8).
NOW = dt.datetime(2026, 11, 24, 18, 15, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def holiday_cache_in_tmp(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Keep the holiday name cache out of the user's real cache folder."""
    from ketadesk.services.schedule import public_holidays

    folder = tmp_path_factory.mktemp("holidays")
    monkeypatch.setattr(public_holidays, "holiday_cache_dir", lambda: folder)
    return folder


@pytest.fixture(autouse=True)
def settings_and_backups_in_tmp(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Keep window settings and scheduled backups out of the user's real folders."""
    from PySide6.QtCore import QSettings

    from ketadesk.ui.shell import session

    folder = tmp_path_factory.mktemp("user")
    for fmt in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
        QSettings.setPath(fmt, QSettings.Scope.UserScope, str(folder / "config"))
    monkeypatch.setattr(session, "default_backup_dir", lambda: folder / "backups")
    return folder


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_teardown(item: pytest.Item) -> None:
    """Let the widgets' background work finish before any fixture is torn down: a clinic
    disposed while a worker still holds one of its connections leaves that connection to the
    garbage collector, whose ResourceWarning then fails some later test."""
    from ketadesk.ui.common import garbage
    from ketadesk.ui.common.background import wait_for_background_work

    wait_for_background_work()
    collector = garbage.installed()
    if collector is not None:
        collector.check()  # a test may not spin the event loop long enough for the timer


@pytest.fixture(autouse=True)
def garbage_on_the_gui_thread(qapp: object) -> None:
    """As in the application: cyclic garbage is collected on the GUI thread only (a Qt object
    freed on a worker crashed the suite)."""
    from PySide6.QtCore import QObject

    from ketadesk.ui.common import garbage

    assert isinstance(qapp, QObject)
    garbage.install(qapp)
    collector = garbage.installed()
    if os.environ.get("KETADESK_GC_STRESS") and collector is not None:
        # Diagnosis: collect everything after every test, so that a crash in the collector
        # points at the test that left the garbage.
        collector.threshold = (0, 0, 0)
    trace = os.environ.get("KETADESK_GC_TRACE")
    if trace and collector is not None and not getattr(collector, "traced", False):
        _trace_collections(collector, trace)


def _trace_collections(collector: object, path: str) -> None:
    """Diagnosis: write to ``path`` the test running and the Qt object trees each collection
    had Qt delete first (ui/common/garbage.py)."""
    from ketadesk.ui.common import garbage

    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def trace(generation: int, names: list[str]) -> None:
        test = os.environ.get("PYTEST_CURRENT_TEST", "?")
        os.write(fd, f"{test} gen={generation}: {sorted(set(names))}\n".encode())

    garbage.trace = trace
    collector.traced = True  # type: ignore[attr-defined]


@pytest.fixture
def clinic(tmp_path: Path) -> Iterator[SmallClinic]:
    c = build_clinic_day(f"sqlite:///{tmp_path / 'clinic.sqlite'}")
    yield c
    c.db.dispose()


@pytest.fixture(autouse=True)
def no_sql_on_the_gui_thread() -> Iterator[None]:
    """Fail the test when a widget ran SQL on the GUI thread (tests/ui/sql_guard.py).

    Armed for the whole test, fixtures included: building a clinic runs no widget code and is
    not recorded.  With KETADESK_SQL_GUARD_REPORT set to a file, the sites are appended there
    instead of failing (to take stock)."""
    from ketadesk.ui.common.background import wait_for_background_work

    GUARD.listen()
    GUARD.found.clear()
    GUARD.armed = True
    try:
        yield
    finally:
        GUARD.armed = False
        wait_for_background_work()
    report = GUARD.report()
    GUARD.found.clear()
    if report:
        stock = os.environ.get("KETADESK_SQL_GUARD_REPORT")
        if stock:
            with open(stock, "a", encoding="utf-8") as out:
                out.write(report + "\n=====\n")
        else:
            pytest.fail(report, pytrace=False)
