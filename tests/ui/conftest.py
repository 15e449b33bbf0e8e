"""Fixtures for the UI tests: the clinic day of clinic_day.py, and a holiday cache in tmp."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.clinic_fixtures import SmallClinic
from tests.ui.clinic_day import build_clinic_day

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


@pytest.fixture
def clinic(tmp_path: Path) -> Iterator[SmallClinic]:
    c = build_clinic_day(f"sqlite:///{tmp_path / 'clinic.sqlite'}")
    yield c
    c.db.dispose()
