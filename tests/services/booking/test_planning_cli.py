"""The scriptable desk: ketadesk openings / plan / book on a real clinic database."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from ketadesk.cli import main
from ketadesk.services.booking import booking
from ketadesk.services.booking.booking import BookingRequest, GateRefused
from ketadesk.services.common.context import Actor, InvalidRequest
from ketadesk.store.models import Appointment, GatingOverride
from tests.clinic_fixtures import SmallClinic, build_small_clinic

TODAY = "2026-12-01"


@pytest.fixture
def clinic(sqlite_url: str) -> Iterator[SmallClinic]:
    c = build_small_clinic(sqlite_url)
    yield c
    c.db.dispose()


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def _plan_json(
    capsys: pytest.CaptureFixture[str], clinic: SmallClinic, *extra: str
) -> dict[str, object]:
    status, out, err = _run(
        capsys,
        "plan",
        "--db",
        str(clinic.db.url.database),
        "--patient",
        "BT-1",
        "--today",
        TODAY,
        "--json",
        *extra,
    )
    assert status == 0, err
    result: dict[str, object] = json.loads(out)
    return result


def _count_appointments(clinic: SmallClinic) -> int:
    with clinic.db.read() as s:
        return s.scalar(select(func.count()).select_from(Appointment)) or 0


def test_plan_iv_induction_as_json(clinic: SmallClinic, capsys: pytest.CaptureFixture[str]) -> None:
    plan = _plan_json(
        capsys, clinic, "--protocol", "iv_induction", "--start", "2026-12-02", "--time", "10:00"
    )
    sessions = plan["sessions"]
    assert isinstance(sessions, list)
    assert [s["index"] for s in sessions] == [1, 2, 3, 4, 5, 6]
    for s in sessions:
        assert s["problems"] == []
        assert s["start"].endswith("T10:00:00-08:00")
        assert s["room"] == sessions[0]["room"]
        assert {"Nurse Kim"} <= set(s["resources"])
    days = [dt.date.fromisoformat(s["start"][:10]) for s in sessions]
    assert (days[-1] - days[0]).days < 21
    assert all(1 <= (b - a).days <= 5 for a, b in itertools.pairwise(days))
    assert _count_appointments(clinic) == 0  # a plan writes nothing


def test_series_keeps_ten_oclock_across_daylight_saving(
    clinic: SmallClinic, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = _plan_json(
        capsys, clinic, "--protocol", "iv_induction", "--start", "2027-03-08", "--time", "10:00"
    )
    starts = [s["start"] for s in plan["sessions"]]  # type: ignore[attr-defined]
    assert all("T10:00:00" in s for s in starts)
    assert any(s.endswith("-08:00") for s in starts)  # before 14 March 2027
    assert any(s.endswith("-07:00") for s in starts)  # after


def test_induction_series_steps_around_thanksgiving(
    clinic: SmallClinic, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = _plan_json(
        capsys,
        clinic,
        "--protocol",
        "iv_induction",
        "--start",
        "2027-11-23",
        "--weekdays",
        "tue,thu",
        "--time",
        "09:00",
    )
    days = [s["start"][:10] for s in plan["sessions"]]  # type: ignore[attr-defined]
    assert len(days) == 6
    assert "2027-11-25" not in days  # Thanksgiving
    assert any("Thanksgiving" in n for n in plan["notes"])  # type: ignore[attr-defined]


def test_book_commits_the_whole_series(
    clinic: SmallClinic, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = _run(
        capsys,
        "book",
        "--db",
        str(clinic.db.url.database),
        "--patient",
        "BT-1",
        "--protocol",
        "spravato_trd",
        "--start",
        "2026-12-02",
        "--today",
        TODAY,
        "--json",
    )
    assert status == 0, err
    result = json.loads(out)
    assert len(result["appointment_ids"]) == 12
    assert _count_appointments(clinic) == 12
    status, out, err = _run(capsys, "check", "--db", str(clinic.db.url.database))
    assert status == 0, out + err


def test_openings_lists_starts_with_their_resources(
    clinic: SmallClinic, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = _run(
        capsys,
        "openings",
        "--db",
        str(clinic.db.url.database),
        "--session-type",
        "spravato",
        "--from",
        "2026-12-02",
        "--days",
        "2",
        "--today",
        TODAY,
        "--json",
    )
    assert status == 0, err
    rows = json.loads(out)
    assert rows
    assert {"start", "end", "room", "resources"} <= set(rows[0])
    assert "Dr Patel" in rows[0]["resources"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--patient", "NOPE-1", "--protocol", "iv_induction", "--start", "2026-12-02"],
            "no patient with chart number 'NOPE-1'",
        ),
        (
            ["--patient", "BT-1", "--protocol", "iv_forever", "--start", "2026-12-02"],
            "no protocol 'iv_forever'",
        ),
        (
            ["--patient", "BT-1", "--protocol", "iv_induction", "--start", "2026-11-02"],
            "is in the past",
        ),
        (
            [
                "--patient",
                "BT-1",
                "--protocol",
                "iv_induction",
                "--start",
                "2026-12-02",
                "--room",
                "Room 9",
            ],
            "no room called 'Room 9'",
        ),
        (
            [
                "--patient",
                "BT-1",
                "--protocol",
                "iv_induction",
                "--start",
                "2026-12-02",
                "--earliest",
                "15:00",
                "--latest",
                "09:00",
            ],
            "is after the latest",
        ),
        (
            [
                "--patient",
                "BT-1",
                "--protocol",
                "iv_induction",
                "--start",
                "2026-12-02",
                "--room",
                "Office A",
            ],
            "Office A is an office; IV ketamine infusion needs a treatment room",
        ),
        (
            [
                "--patient",
                "BT-1",
                "--protocol",
                "iv_induction",
                "--start",
                "2026-12-02",
                "--staff",
                "Sam Rivera",
            ],
            "Sam Rivera is a therapist; IV ketamine infusion needs a nurse",
        ),
        (
            [
                "--patient",
                "BT-1",
                "--protocol",
                "iv_induction",
                "--start",
                "2026-12-02",
                "--time",
                "22:00",
            ],
            "a session at 22:00 does not fit the opening hours on any day",
        ),
    ],
)
def test_bad_requests_are_named_and_write_nothing(
    clinic: SmallClinic, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    status, _, err = _run(
        capsys, "book", "--db", str(clinic.db.url.database), "--today", TODAY, *argv
    )
    assert status != 0
    assert message in err
    assert _count_appointments(clinic) == 0


def test_bad_argument_values_are_refused_by_the_parser(
    clinic: SmallClinic, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(
            [
                "plan",
                "--db",
                str(clinic.db.url.database),
                "--patient",
                "BT-1",
                "--protocol",
                "iv_induction",
                "--start",
                "2026-13-45",
            ]
        )
    assert exit_info.value.code == 2
    assert "'2026-13-45' is not a date" in capsys.readouterr().err


def test_window_with_no_opening_says_why(
    clinic: SmallClinic, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = _run(
        capsys,
        "openings",
        "--db",
        str(clinic.db.url.database),
        "--session-type",
        "iv_infusion",
        "--from",
        "2026-12-05",
        "--days",
        "2",
        "--today",
        TODAY,
    )
    assert status == 1
    assert "clinic closed on Saturdays" in err


def test_screening_pending_blocks_booking(
    clinic: SmallClinic, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = _run(
        capsys,
        "book",
        "--db",
        str(clinic.db.url.database),
        "--patient",
        "BT-2",
        "--protocol",
        "iv_induction",
        "--start",
        "2026-12-02",
        "--today",
        TODAY,
    )
    assert status == 1
    assert "screening not yet cleared" in err
    assert _count_appointments(clinic) == 0


NOW = dt.datetime(2026, 12, 1, 16, 0, tzinfo=dt.UTC)
NURSE = Actor(user_id=None, username="kim", role="nurse")
DESK = Actor(user_id=None, username="maria", role="front_desk")
IV = {"room": "Room 1", "monitor": "Monitor 1", "nurse": "Nurse Kim"}


def test_missing_driver_warning_needs_a_clinicians_reason(clinic: SmallClinic) -> None:
    with clinic.db.write() as s:
        from ketadesk.store.models import Patient

        patient = s.get(Patient, clinic.ids["Ada Lovelace"])
        assert patient is not None
        patient.driver_name = ""
    plan = (clinic.session("iv_infusion", dt.date(2026, 12, 2), "10:00", IV),)
    request = BookingRequest(patient_id=clinic.ids["Ada Lovelace"], sessions=plan)
    with pytest.raises(GateRefused, match=r"no driver or escort arranged.*may override"):
        booking.book(clinic.db, DESK, request, now=NOW)
    overridden = BookingRequest(
        patient_id=clinic.ids["Ada Lovelace"],
        sessions=plan,
        overrides={"driver_arranged": "sister collects her; confirmed by phone"},
    )
    booking.book(clinic.db, NURSE, overridden, now=NOW)
    with clinic.db.read() as s:
        override = s.scalars(select(GatingOverride)).one()
        assert override.rule == "driver_arranged"
        assert "sister" in override.reason


def test_series_that_breaks_spacing_needs_an_override(clinic: SmallClinic) -> None:
    days = [dt.date(2026, 12, d) for d in (2, 3, 4, 7, 8, 9)]  # back-to-back days
    plan = tuple(
        clinic.session("iv_infusion", d, "10:00", IV, index=i) for i, d in enumerate(days, 1)
    )
    request = BookingRequest(
        patient_id=clinic.ids["Ada Lovelace"], sessions=plan, protocol="iv_induction"
    )
    days2 = [dt.date(2026, 12, d) for d in (2, 10, 11, 14, 15, 16)]
    gappy = tuple(
        clinic.session("iv_infusion", d, "10:00", IV, index=i) for i, d in enumerate(days2, 1)
    )
    with pytest.raises(InvalidRequest, match="breaks the clinic's rules"):
        booking.book(
            clinic.db,
            NURSE,
            BookingRequest(
                patient_id=clinic.ids["Ada Lovelace"], sessions=gappy, protocol="iv_induction"
            ),
            now=NOW,
        )
    booking.book(clinic.db, DESK, request, now=NOW)  # 1-day gaps are within the rules
    assert _count_appointments(clinic) == 6


def test_a_second_series_never_doubles_a_patients_dosing_day(
    clinic: SmallClinic, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--protocol", "iv_induction", "--start", "2026-12-02", "--time", "10:00"]
    status, out, err = _run(
        capsys,
        "book",
        "--db",
        str(clinic.db.url.database),
        "--patient",
        "BT-1",
        "--today",
        TODAY,
        "--json",
        *argv,
    )
    assert status == 0, err
    first_days = {s["start"][:10] for s in json.loads(out)["sessions"]}
    status, out, err = _run(
        capsys,
        "plan",
        "--db",
        str(clinic.db.url.database),
        "--patient",
        "BT-1",
        "--today",
        TODAY,
        "--json",
        *argv,
    )
    again = json.loads(out)
    second_days = {s["start"][:10] for s in again["sessions"]}
    assert first_days.isdisjoint(second_days)
    # Two IV inductions at once is a course overlap a clinician must override; the series search
    # keeps clear of it when it can: the second course begins after the first ends, no warning.
    assert min(second_days) > max(first_days)
    assert status == 0, out
    assert "concurrent_course" not in out
