"""Clinic configuration files: the defaults are valid, and every mistake names its place."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ketadesk.cli import main
from ketadesk.config import load_default_catalog
from ketadesk.paths import config_dir
from ketadesk.scheduling.catalog import ConfigError


@pytest.fixture
def config_copy(tmp_path: Path) -> Path:
    target = tmp_path / "config"
    shutil.copytree(config_dir(), target)
    return target


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_bundled_configuration_is_valid() -> None:
    catalog = load_default_catalog()
    iv = catalog.session_types["iv_infusion"]
    assert [p.minutes for p in iv.phases] == [15, 40, 45]
    assert catalog.session_types["spravato"].total_minutes == 150
    assert catalog.protocols["spravato_trd"].session_count == 12
    assert catalog.settings.capacity_for_role("nurse") == 3


def test_phase_minutes_that_are_not_a_number_are_named(config_copy: Path) -> None:
    _edit(config_copy / "session_types.toml", "minutes = 40", 'minutes = "forty"')
    with pytest.raises(ConfigError) as err:
        load_default_catalog(config_copy)
    assert "session_types.toml: session_types.iv_infusion.phases[1].minutes" in str(err.value)
    assert "must be a whole number, got 'forty'" in str(err.value)


def test_broken_toml_syntax_is_named_with_its_line(config_copy: Path) -> None:
    _edit(config_copy / "protocols.toml", 'name = "IV booster"', 'name = "IV booster')
    with pytest.raises(ConfigError, match=r"protocols.toml: not valid TOML: .*line \d+"):
        load_default_catalog(config_copy)


def test_bytes_that_are_not_utf8_are_named_with_their_file(config_copy: Path) -> None:
    path = config_copy / "protocols.toml"
    path.write_bytes(path.read_bytes().replace(b"IV booster", b"IV b\xf6oster", 1))
    with pytest.raises(ConfigError, match=r"protocols.toml: not UTF-8 text \(byte \d+ is 0xf6\)"):
        load_default_catalog(config_copy)


def test_protocol_naming_an_unknown_session_type_is_named(config_copy: Path) -> None:
    _edit(config_copy / "protocols.toml", 'session_type = "iv_infusion"', 'session_type = "iv"')
    with pytest.raises(ConfigError, match=r"protocols.iv_induction.stages\[0\].session_type"):
        load_default_catalog(config_copy)


def test_opening_hours_that_close_before_opening_are_named(config_copy: Path) -> None:
    _edit(config_copy / "clinic.toml", 'mon = ["07:30", "18:00"]', 'mon = ["18:00", "07:30"]')
    with pytest.raises(ConfigError, match=r"hours.mon: closes \(07:30\) before it opens"):
        load_default_catalog(config_copy)


def test_unknown_time_zone_is_named(config_copy: Path) -> None:
    _edit(config_copy / "clinic.toml", "America/Los_Angeles", "America/San_Diego")
    with pytest.raises(ConfigError, match=r"clinic\.timezone: 'America/San_Diego' is not a known"):
        load_default_catalog(config_copy)


def test_hold_outside_the_session_is_named(config_copy: Path) -> None:
    _edit(
        config_copy / "session_types.toml",
        '{ from = "infusion", minutes = 10, mode = "exclusive" }',
        '{ from = "infusion", minutes = 500, mode = "exclusive" }',
    )
    with pytest.raises(ConfigError, match="outside the session's 100 minutes"):
        load_default_catalog(config_copy)


def test_new_clinic_from_a_broken_configuration_writes_nothing(
    config_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _edit(config_copy / "clinic.toml", "slot_minutes = 5", "slot_minutes = 7")
    target = tmp_path / "new.sqlite"
    status = main(["db", "upgrade", "--db", str(target), "--create", "--config", str(config_copy)])
    assert status == 2
    assert "clinic.slot_minutes: must divide an hour evenly, got 7" in capsys.readouterr().err
    assert not target.exists()


def test_new_clinic_from_a_custom_configuration(
    config_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _edit(config_copy / "clinic.toml", 'name = "KetaDesk Clinic"', 'name = "North Park Clinic"')
    target = tmp_path / "new.sqlite"
    assert (
        main(["db", "upgrade", "--db", str(target), "--create", "--config", str(config_copy)]) == 0
    )
    assert "created a new clinic" in capsys.readouterr().out


def test_each_default_session_type_books_long_enough_for_its_observation_and_last_reading() -> None:
    """A user trial found Spravato's "Before discharge" BP laid after the time discharge is
    allowed.  With the default phases, a session booked as configured holds check-in, the dose,
    the observation minutes from it and every BP check (the last one due by then)."""
    catalog = load_default_catalog()
    for code, spec in catalog.session_types.items():
        if spec.observation_minutes is None:
            continue
        offsets = spec.phase_offsets()
        assert spec.observation_from is not None, code
        discharge = offsets[spec.observation_from][0] + spec.observation_minutes
        assert discharge <= spec.total_minutes, (code, discharge, spec.total_minutes)
        for check in spec.bp_checks:
            laid = offsets[check.phase][0] + check.offset_minutes
            assert min(laid, discharge) <= spec.total_minutes, (code, check.label)
