"""Public holiday names, remembered between runs.

They are kept in a small file per country and year in the user's cache folder, because the
``holidays`` package costs more to import (0.2 s, 20 MB) than the rest of opening a day.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
from pathlib import Path

from ketadesk.scheduling.calendar import ClinicCalendar


class CachedHolidaysCalendar(ClinicCalendar):
    """The clinic calendar, asking the holiday file cache before the ``holidays`` package."""

    def holiday(self, day: dt.date) -> str | None:
        country = self.settings.holiday_country
        if not country:
            return None
        name = holiday_names(country, day.year, self.settings.holiday_subdivision).get(
            day.isoformat()
        )
        return name if name and self.settings.closes_on_holiday(name) else None


def holiday_cache_dir() -> Path | None:
    """Where holiday names are kept (None: do not keep them)."""
    from platformdirs import user_cache_path

    return user_cache_path("KetaDesk", appauthor=False) / "holidays"


@functools.cache
def holiday_names(country: str, year: int, subdivision: str = "") -> dict[str, str]:
    """``{"2026-11-26": "Thanksgiving Day", ...}`` for a country's public holidays in a year.

    Read from the cache file when the installed ``holidays`` package wrote it; otherwise worked
    out by that package and written for next time (a cache that cannot be written is skipped).
    """
    package_version = _holidays_package_stamp()
    folder = holiday_cache_dir()
    place = f"{country}-{subdivision}" if subdivision else country
    file = folder / f"{place}-{year}-{package_version}.json" if folder else None
    if file is not None:
        try:
            cached = json.loads(file.read_text(encoding="utf-8"))
            if isinstance(cached, dict) and all(
                isinstance(k, str) and isinstance(v, str) for k, v in cached.items()
            ):
                return cached
        except (OSError, ValueError):
            pass
    import holidays

    names = {
        day.isoformat(): str(name)
        for day, name in holidays.country_holidays(
            country, subdiv=subdivision or None, years=year
        ).items()
    }
    if file is not None:
        try:
            file.parent.mkdir(parents=True, exist_ok=True)
            partial = file.with_name(f"{file.name}.{os.getpid()}.tmp")
            partial.write_text(json.dumps(names, ensure_ascii=False, indent=0), encoding="utf-8")
            partial.replace(file)  # atomic: another process never reads half a file
        except OSError:
            pass
    return names


def _holidays_package_stamp() -> str:
    """Names the installed copy of ``holidays`` without importing it (nor reading package
    metadata, which costs as much memory as the rest of this module): a new version is a new
    file, so its cached names are worked out afresh."""
    from importlib.util import find_spec

    spec = find_spec("holidays")
    if spec is None or spec.origin is None:
        return "none"
    try:
        stat = os.stat(spec.origin)
    except OSError:
        return "none"
    return f"{stat.st_size:x}{stat.st_mtime_ns:x}"
