"""The confirmation rules, pure: the arrival state of a block, the list's day, all done, and
the settings with their mistakes named."""

from __future__ import annotations

import datetime as dt

import pytest

from ketadesk.scheduling.catalog import ConfigError
from ketadesk.scheduling.confirmations import (
    ARRIVED,
    LATE,
    NO_SHOW_CANDIDATE,
    NOT_STARTED,
    all_done,
    arrival_state,
    calls_progress,
    confirmation_day,
    not_started_by,
    parse_confirmation_settings,
)

START = dt.datetime(2026, 11, 24, 17, 0, tzinfo=dt.UTC)
GRACE, NO_SHOW = 10, 30


def _at(minutes: int) -> dt.datetime:
    return START + dt.timedelta(minutes=minutes)


@pytest.mark.parametrize(
    ("status", "minutes", "expected"),
    [
        ("booked", -30, None),
        ("booked", 9, None),
        ("booked", 10, LATE),
        ("booked", 29, LATE),
        ("booked", 30, NO_SHOW_CANDIDATE),
        ("checked_in", 45, ARRIVED),
        ("in_progress", 5, ARRIVED),
        ("completed", 200, ARRIVED),
        ("cancelled", 45, None),
        ("no_show", 45, None),
        ("tentative", 45, None),
    ],
)
def test_arrival_state(status: str, minutes: int, expected: str | None) -> None:
    assert arrival_state(status, START, _at(minutes), GRACE, NO_SHOW) == expected


def test_a_patient_checked_in_early_has_arrived() -> None:
    assert arrival_state("checked_in", START, _at(-20), GRACE, NO_SHOW) == ARRIVED


@pytest.mark.parametrize(
    ("status", "minutes", "expected"),
    [
        ("checked_in", 29, ARRIVED),
        ("checked_in", 30, NOT_STARTED),
        ("in_progress", 300, ARRIVED),  # running over is the in-session overrun's business
        ("booked", 300, NO_SHOW_CANDIDATE),
    ],
)
def test_a_patient_checked_in_and_never_started_becomes_an_overrun(
    status: str, minutes: int, expected: str | None
) -> None:
    end = START + dt.timedelta(minutes=150)
    assert (
        arrival_state(status, START, _at(minutes), GRACE, NO_SHOW, end=end, not_started_minutes=30)
        == expected
    )


def test_not_started_by_is_the_grace_after_the_start_or_the_planned_end() -> None:
    end = START + dt.timedelta(minutes=50)  # an integration session
    assert not_started_by(START, end, 30) == _at(30)
    assert not_started_by(START, end, 90) == end  # never later than the planned end
    settings = parse_confirmation_settings({"not_started_minutes": 45})
    assert settings.not_started_minutes == 45
    assert parse_confirmation_settings(None).not_started_minutes == 30
    with pytest.raises(ConfigError, match="not_started_minutes"):
        parse_confirmation_settings({"not_started_minutes": -5})


def test_the_list_is_for_the_next_open_day_by_default() -> None:
    friday = dt.date(2026, 11, 27)
    weekdays = lambda d: d.weekday() < 5  # noqa: E731
    assert confirmation_day(friday, 0, weekdays) == friday + dt.timedelta(days=3)
    assert confirmation_day(friday, 2, weekdays) == friday + dt.timedelta(days=2)


def test_all_done_once_every_row_had_its_call() -> None:
    assert all_done([])
    assert all_done(["confirmed", "no_answer", "cancelled", "left_message"])
    assert not all_done(["confirmed", "not_called"])


def test_the_settings_name_their_mistakes() -> None:
    settings = parse_confirmation_settings(None)
    assert settings.items_for("spravato")[-1] == "nasal_spray_instructions"
    assert settings.items_for("integration") == ()
    with pytest.raises(ConfigError, match="no_show_minutes"):
        parse_confirmation_settings({"late_grace_minutes": 40, "no_show_minutes": 30})
    with pytest.raises(ConfigError, match="checklist"):
        parse_confirmation_settings({"checklist": {"spravato": ["unknown"]}})
    with pytest.raises(ConfigError, match="days_ahead"):
        parse_confirmation_settings({"days_ahead": -1})


def test_the_defaults_match_clinic_toml() -> None:
    from ketadesk.config import read_toml
    from ketadesk.paths import config_dir

    given = read_toml(config_dir() / "clinic.toml")["confirmations"]
    assert parse_confirmation_settings(given) == parse_confirmation_settings(None)


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ((), "no calls due"),
        (("confirmed",), "1 visit, called"),
        (("confirmed", "cancelled"), "2 visits, all called"),
        (("not_called",), "1 visit, 1 to call"),
        (("confirmed", "not_called", "not_called"), "3 visits, 2 to call"),
    ],
)
def test_the_calls_progress_tells_none_due_from_all_called(
    statuses: tuple[str, ...], expected: str
) -> None:
    assert calls_progress(statuses) == expected
