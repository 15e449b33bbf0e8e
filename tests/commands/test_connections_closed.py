"""`ketadesk print ...`, `plan` and `book` close their database connections when they return,
refused or not: a PostgreSQL server shows no connection of theirs left idle afterwards."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from ketadesk.cli import main
from tests.clinic_fixtures import SmallClinic, build_small_clinic

pytestmark = pytest.mark.postgres


@pytest.fixture
def clinic(pg_url: str) -> SmallClinic:
    c = build_small_clinic(pg_url)
    c.db.dispose()
    return c


def _connections(pg_url: str) -> int:
    """Connections to the clinic's database, other than the one asking."""
    engine = create_engine(pg_url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            found = conn.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": make_url(pg_url).database},
            )
    finally:
        engine.dispose()
    return int(found or 0)


def _days(clinic: SmallClinic) -> tuple[dt.date, dt.date]:
    # From a fixed "today" given with --today: the test never depends on the real day.
    today = dt.date(2026, 12, 1)
    return today, clinic.open_day(today + dt.timedelta(days=7 - today.weekday()))


def test_print_plan_and_book_leave_no_connection_open(
    clinic: SmallClinic, pg_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    today, start = _days(clinic)
    series = ["--patient", "BT-1", "--protocol", "iv_induction", "--start", start.isoformat(),
              "--time", "10:00", "--today", today.isoformat()]  # fmt: skip
    runs: list[tuple[list[str], bool]] = [
        (["print", "day", "--date", start.isoformat(), "--out", str(tmp_path / "day.pdf")], True),
        (["print", "calls", "--date", start.isoformat(), "--out", str(tmp_path / "c.pdf")], True),
        (["print", "card", "--patient", "BT-1", "--out", str(tmp_path / "card.pdf")], True),
        (["plan", *series], True),
        (["book", *series], True),
        # Refused ones too: an unknown chart.
        (["plan", *series[:1], "NO-SUCH-CHART", *series[2:]], False),
        (["print", "card", "--patient", "NO-SUCH-CHART", "--out", str(tmp_path / "x.pdf")], False),
    ]
    before = _connections(pg_url)
    for argv, succeeds in runs:
        status = main([*argv[:2], "--db", pg_url, *argv[2:]] if argv[0] == "print" else
             [argv[0], "--db", pg_url, *argv[1:]])  # fmt: skip
        assert (status == 0) == succeeds, (argv, capsys.readouterr().err)
        assert _connections(pg_url) == before, argv
    capsys.readouterr()
