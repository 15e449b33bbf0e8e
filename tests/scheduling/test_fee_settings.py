"""The [fees] settings: parsed over their defaults, each mistake named by its key, checked by
the loader (a bad amount stops the clinic opening, not the first no-show)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ketadesk.config import load_default_catalog
from ketadesk.paths import config_dir
from ketadesk.scheduling.catalog import ConfigError
from ketadesk.scheduling.fees import (
    LATE_CANCEL,
    NO_SHOW,
    fee_kind_for,
    money,
    parse_fee_settings,
)

TYPES = ("iv_infusion", "spravato", "kap")


def test_the_bundled_fees_charge_an_iv_no_show_more_than_the_default() -> None:
    catalog = load_default_catalog()
    fees = parse_fee_settings(catalog.settings.extra["fees"], "clinic.toml", TYPES)
    assert fees.amount_cents(NO_SHOW, "iv_infusion") == 15_000
    assert fees.amount_cents(NO_SHOW, "kap") == 7_500  # the default
    assert fees.amount_cents(LATE_CANCEL, "iv_infusion") == 10_000
    assert fees.amount_cents(LATE_CANCEL, "spravato") == 5_000


def test_a_clinic_stored_before_fees_existed_gets_the_defaults() -> None:
    fees = parse_fee_settings(None)
    assert fees.enabled
    assert fees.amount_cents(NO_SHOW, "anything") == 7_500


def test_a_clinic_that_charges_nothing_owes_nothing() -> None:
    fees = parse_fee_settings({"enabled": False})
    assert fees.amount_cents(NO_SHOW, "iv_infusion") == 0


def test_only_a_no_show_or_a_late_cancellation_owes_a_fee() -> None:
    assert fee_kind_for("no_show", late_cancel=False) == NO_SHOW
    assert fee_kind_for("cancel", late_cancel=True) == LATE_CANCEL
    assert fee_kind_for("cancel", late_cancel=False) is None
    assert fee_kind_for("complete", late_cancel=False) is None
    assert money(15_000) == "$150.00"
    assert money(3_750, "EUR") == "37.50 EUR"


@pytest.mark.parametrize(
    ("given", "named"),
    [
        ({"no_show_default": -5}, "fees.no_show_default: must be a whole number of dollars >= 0"),
        ({"late_cancel_default": "fifty"}, "fees.late_cancel_default: must be a whole number"),
        ({"no_show": {"iv_infusoin": 100}}, "fees.no_show.iv_infusoin: is not a session type"),
        ({"no_show": {"spravato": 12.5}}, "fees.no_show.spravato: must be a whole number"),
        ({"no_show": 100}, "fees.no_show: must be a table"),
        ({"currency": "dollars"}, "fees.currency: must be a three-letter code"),
        ({"enabled": "yes"}, "fees.enabled: must be true or false"),
        ({"noshow_default": 75}, "fees.noshow_default: is not a fee setting"),
    ],
)
def test_a_mistake_in_fees_names_its_key(given: dict[str, object], named: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_fee_settings(given, "clinic.toml", TYPES)
    assert str(err.value).startswith("clinic.toml: ")
    assert named in str(err.value)


def test_the_loader_refuses_a_bad_fee_with_its_file_and_key(tmp_path: Path) -> None:
    target = tmp_path / "config"
    shutil.copytree(config_dir(), target)
    clinic = target / "clinic.toml"
    text = clinic.read_text(encoding="utf-8")
    assert "no_show_default = 75" in text
    clinic.write_text(text.replace("no_show_default = 75", "no_show_default = -1"), "utf-8")
    with pytest.raises(ConfigError) as err:
        load_default_catalog(target)
    assert "clinic.toml: fees.no_show_default: must be a whole number of dollars >= 0" in str(
        err.value
    )
