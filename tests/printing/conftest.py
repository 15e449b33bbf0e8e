"""Shared set-ups of the printing tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from ketadesk.services.schedule import public_holidays


@pytest.fixture
def holiday_cache_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The US holiday cache in the test's own folder, not the user's data folder (a test file
    uses it with ``pytestmark = pytest.mark.usefixtures("holiday_cache_in_tmp")``)."""
    monkeypatch.setattr(public_holidays, "holiday_cache_dir", lambda: tmp_path / "holidays")
