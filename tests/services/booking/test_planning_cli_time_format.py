"""The command line in the clinic's time format: `ketadesk openings` and `plan` print "9:00–10:40
AM" for a US clinic and "09:00–10:40" for one that reads 24-hour; times given on the command
line are read either way ("14:30", "2:30pm"), and a time that is neither says both forms."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from collections.abc import Iterator

import pytest

from ketadesk.cli import main
from ketadesk.commands._planning_args import local_datetime
from ketadesk.services.common.context import SYSTEM
from ketadesk.services.settings.clinic_details import clinic_details, save_clinic_details
from tests.clinic_fixtures import SmallClinic, build_small_clinic

TODAY = "2026-12-01"
#: One line of `ketadesk openings`: "Wed 2026-12-02 9:00–11:30 AM  Room 1, ...".
TWELVE = re.compile(r"^\w{3} \d{4}-\d{2}-\d{2} \d{1,2}:\d{2}(?: [AP]M)?–\d{1,2}:\d{2} [AP]M  \S")
TWENTY_FOUR = re.compile(r"^\w{3} \d{4}-\d{2}-\d{2} \d{2}:\d{2}–\d{2}:\d{2}  \S")


@pytest.fixture
def clinic(sqlite_url: str) -> Iterator[SmallClinic]:
    c = build_small_clinic(sqlite_url)
    _choose(c, "12h")  # a US clinic's default (the small clinic's other tests read 24-hour)
    yield c
    c.db.dispose()


def _choose(clinic: SmallClinic, fmt: str) -> None:
    details = clinic_details(clinic.db)
    save_clinic_details(clinic.db, SYSTEM, dataclasses.replace(details, time_format=fmt))


def _openings(capsys: pytest.CaptureFixture[str], clinic: SmallClinic, *extra: str) -> list[str]:
    status = main(
        ["openings", "--db", str(clinic.db.url.database), "--session-type", "spravato",
         "--from", "2026-12-02", "--days", "1", "--today", TODAY, *extra]
    )  # fmt: skip
    out, err = capsys.readouterr()
    assert status == 0, err
    return out.splitlines()[:-1]  # the last line counts them


def test_openings_print_in_the_clinics_format(
    clinic: SmallClinic, capsys: pytest.CaptureFixture[str]
) -> None:
    twelve = _openings(capsys, clinic)
    assert twelve
    assert all(TWELVE.match(line) for line in twelve), twelve[:3]
    _choose(clinic, "24h")
    twenty_four = _openings(capsys, clinic)
    assert len(twenty_four) == len(twelve)
    assert all(TWENTY_FOUR.match(line) for line in twenty_four), twenty_four[:3]
    assert not any(" AM" in line or " PM" in line for line in twenty_four)


def test_a_time_given_twelve_hour_is_the_same_time_given_24_hour(
    clinic: SmallClinic, capsys: pytest.CaptureFixture[str]
) -> None:
    def plan(time: str) -> list[str]:
        status = main(
            ["plan", "--db", str(clinic.db.url.database), "--patient", "BT-1", "--today", TODAY,
             "--protocol", "iv_induction", "--start", "2026-12-02", "--time", time, "--json"]
        )  # fmt: skip
        out, err = capsys.readouterr()
        assert status == 0, err
        return [s["start"] for s in json.loads(out)["sessions"]]

    starts = plan("14:30")
    assert all(s.endswith("T14:30:00-08:00") for s in starts)
    assert plan("2:30pm") == starts
    assert plan("2:30 PM") == starts


def test_plan_prints_its_sessions_in_the_clinics_format(
    clinic: SmallClinic, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["plan", "--db", str(clinic.db.url.database), "--patient", "BT-1", "--today", TODAY,
            "--protocol", "iv_induction", "--start", "2026-12-02", "--time", "10:00"]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert " 10:00–11:40 AM  " in out
    _choose(clinic, "24h")
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert " 10:00–11:40  " in out
    assert " AM" not in out


@pytest.mark.parametrize("bad", ["25:00", "2:30xm", "noon"])
def test_a_time_that_is_neither_names_both_forms(
    clinic: SmallClinic, capsys: pytest.CaptureFixture[str], bad: str
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["openings", "--db", str(clinic.db.url.database), "--session-type", "spravato",
              "--from", "2026-12-02", "--time", bad])  # fmt: skip
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert f"{bad!r} is not a time; use 24-hour HH:MM (14:30) or 12-hour with am/pm (2:30pm)" in err


def test_a_date_and_time_is_read_either_way() -> None:
    assert local_datetime("2026-12-07 14:30") == local_datetime("2026-12-07 2:30pm")
    assert local_datetime("2026-12-07 2:30 PM").hour == 14
    with pytest.raises(Exception, match="'YYYY-MM-DD 2:30pm'"):
        local_datetime("12/07/2026 14:30")


def test_the_screenshots_clock_is_read_either_way() -> None:
    from ketadesk.commands.screenshot import parse_time

    assert parse_time("2:30pm") == parse_time("14:30") == dt.time(14, 30)
