"""``ketadesk resource out-of-service`` / ``staff time-off`` / ``closure add``: a dry run changes
nothing, ``--apply`` saves the closure and moves the sessions; bad arguments exit 2."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from ketadesk.cli import main
from ketadesk.store.models import Closure
from tests.services.settings.availability_clinic import BookedClinic, booked_clinic


@pytest.fixture
def booked(db_url: str) -> Iterator[tuple[BookedClinic, str]]:
    b = booked_clinic(db_url)
    yield b, db_url
    b.clinic.db.dispose()


def _closures(b: BookedClinic) -> int:
    with b.clinic.db.read() as s:
        return s.scalar(select(func.count()).select_from(Closure)) or 0


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_closure_add_dry_run_changes_nothing_and_apply_moves(
    booked: tuple[BookedClinic, str], capsys: pytest.CaptureFixture[str]
) -> None:
    b, url = booked
    second = b.series[1]
    day = b.day_of(second).isoformat()
    before = b.starts()
    args = ("closure", "add", "--db", url, "--date", day, "--reason", "staff training")
    status, out, err = _run(capsys, *args)
    assert status == 0, err
    assert "Lovelace, Ada" in out
    assert "Nothing was changed" in out
    assert b.starts() == before
    assert _closures(b) == 0
    status, out, err = _run(capsys, *args, "--apply", "--json")
    assert status == 0, err
    answer = json.loads(out)
    assert answer["applied"] is True
    assert [m["appointment_id"] for m in answer["moves"] if m["broken"]] == [second]
    assert _closures(b) == 1
    assert b.starts()[second] != before[second]


def test_staff_time_off_and_out_of_service_dry_runs(
    booked: tuple[BookedClinic, str], capsys: pytest.CaptureFixture[str]
) -> None:
    b, url = booked
    day = b.day_of(b.series[0])
    first, last = f"{day} 07:00", f"{day + dt.timedelta(days=1)} 07:00"
    status, out, err = _run(
        capsys, "staff", "time-off", "--db", url, "--name", "Nurse Kim",
        "--from", first, "--to", last, "--reason", "dentist", "--json",
    )  # fmt: skip
    assert status == 0, err
    answer = json.loads(out)
    assert answer["applied"] is False
    assert [x["appointment_id"] for x in answer["broken"]] == [b.series[0]]
    status, out, err = _run(
        capsys, "resource", "out-of-service", "--db", url, "--name", "Room 4",
        "--from", first, "--to", last, "--reason", "painting",
    )  # fmt: skip
    assert status == 0, err
    assert "Room 4 out of service" in out
    assert _closures(b) == 0


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (("--name", "Monitor 9"), "--name"),
        (("--name", "Monitor 1", "--to", "2000-01-01 07:00"), "--to"),
        (("--name", "Nurse Kim"), "--name"),  # a staff member is not out of service
    ],
)
def test_bad_arguments_say_which_and_exit_2(
    booked: tuple[BookedClinic, str],
    capsys: pytest.CaptureFixture[str],
    argv: tuple[str, ...],
    words: str,
) -> None:
    b, url = booked
    day = b.today + dt.timedelta(days=3)
    base = {"--from": f"{day} 08:00", "--to": f"{day} 12:00"}
    given = dict(zip(argv[::2], argv[1::2], strict=True))
    merged = {**base, **given}
    flat = [x for kv in merged.items() for x in kv]
    status, _out, err = _run(
        capsys, "resource", "out-of-service", "--db", url, *flat, "--reason", "x"
    )
    assert status == 2
    assert words in err
    assert _closures(b) == 0


def test_a_malformed_time_exits_2(
    booked: tuple[BookedClinic, str], capsys: pytest.CaptureFixture[str]
) -> None:
    _b, url = booked
    with pytest.raises(SystemExit) as exc:
        main(["staff", "time-off", "--db", url, "--name", "Nurse Kim", "--from", "tomorrow",
              "--to", "2030-01-01 10:00", "--reason", "x"])  # fmt: skip
    assert exc.value.code == 2
    assert "YYYY-MM-DD HH:MM" in capsys.readouterr().err


def test_closure_add_repeats_weekly_as_one_closure(
    booked: tuple[BookedClinic, str], capsys: pytest.CaptureFixture[str]
) -> None:
    b, url = booked
    first = b.series[0]
    day = b.day_of(first)
    weekday = day.strftime("%a").lower()  # the series' first session's weekday
    until = (day + dt.timedelta(days=14)).isoformat()
    status, out, err = _run(
        capsys, "closure", "add", "--db", url, "--date", day.isoformat(), "--from", "09:00",
        "--to", "12:00", "--repeat", "weekly", "--until", until, "--on", weekday,
        "--reason", "team meeting", "--apply", "--json",
    )  # fmt: skip
    assert status == 0, err
    answer = json.loads(out)
    assert first in [m["appointment_id"] for m in answer["moves"] if m["broken"]]
    with b.clinic.db.read() as s:
        rules = s.scalars(select(Closure.repeat_rule)).all()
    assert rules == [f"FREQ=WEEKLY;BYDAY={weekday[:2].upper()}"]


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (("--repeat", "weekly", "--until", "2031-01-31"), "--on"),
        (("--repeat", "weekly", "--until", "2031-01-31", "--on", "funday"), "funday"),
        (("--repeat", "daily"), "--until"),
        (("--until", "2031-01-31"), "--repeat"),
    ],
)
def test_a_repeat_missing_a_part_says_which_option(
    booked: tuple[BookedClinic, str],
    capsys: pytest.CaptureFixture[str],
    argv: tuple[str, ...],
    words: str,
) -> None:
    b, url = booked
    day = (b.today + dt.timedelta(days=3)).isoformat()
    status, _out, err = _run(
        capsys, "closure", "add", "--db", url, "--date", day, *argv, "--reason", "x"
    )
    assert status == 2
    assert words in err
    assert _closures(b) == 0
