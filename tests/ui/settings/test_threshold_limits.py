"""Settings ▸ Clinic rules: the monitoring thresholds keep their order (warn < hard stop <=
highest accepted, systolic and diastolic; SpO2 in percent), refused naming both keys and
values, and each threshold's spin box offers only the clinic's own range."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from ketadesk.services.common.context import SYSTEM, InvalidFields
from ketadesk.services.settings.rules import read_rules, save_rules
from ketadesk.ui.common.desk import Desk
from ketadesk.ui.settings.rules_page import RulesPage
from tests.clinic_fixtures import SmallClinic, build_small_clinic

pytestmark = pytest.mark.qt_log_ignore("does not support propagateSizeHints")


@pytest.fixture
def small(tmp_path: Path) -> Iterator[SmallClinic]:
    c = build_small_clinic(f"sqlite:///{os.path.join(tmp_path, 'clinic.sqlite')}")
    yield c
    c.db.dispose()


def _refused(small: SmallClinic, values: dict[str, int | str]) -> dict[str, str]:
    with pytest.raises(InvalidFields) as caught:
        save_rules(small.db, SYSTEM, values)
    return caught.value.errors


def test_a_warning_above_the_hard_stop_or_the_highest_reading_is_refused(
    small: SmallClinic,
) -> None:
    hard_stop = read_rules(small.db).value("chair.hard_stop_systolic")
    assert _refused(small, {"monitoring.bp_warn_systolic": 260}) == {
        "monitoring.bp_warn_systolic": "monitoring.bp_warn_systolic = 260 must be below "
        f"chair.hard_stop_systolic = {hard_stop}"
    }
    assert (
        "monitoring.bp_warn_systolic = 5000"
        in _refused(small, {"monitoring.bp_warn_systolic": 5000})["monitoring.bp_warn_systolic"]
    )
    highest = read_rules(small.db).value("monitoring.bp_max_diastolic")
    assert _refused(small, {"chair.hard_stop_diastolic": highest + 1}) == {
        "chair.hard_stop_diastolic": f"chair.hard_stop_diastolic = {highest + 1} must be at "
        f"most monitoring.bp_max_diastolic = {highest}"
    }
    # Lowering the highest accepted reading under the hard stop is refused at that field.
    errors = _refused(small, {"monitoring.bp_max_systolic": hard_stop - 1})
    assert list(errors) == ["monitoring.bp_max_systolic"]
    assert errors["monitoring.bp_max_systolic"] == (
        f"chair.hard_stop_systolic = {hard_stop} must be at most "
        f"monitoring.bp_max_systolic = {hard_stop - 1}"
    )
    assert _refused(small, {"monitoring.spo2_warn_below": 101}) == {
        "monitoring.spo2_warn_below": "monitoring.spo2_warn_below = 101 must be a percentage "
        "from 50 to 100"
    }
    assert read_rules(small.db).value("monitoring.bp_warn_systolic") == 140  # nothing saved
    # In order, saved; both sides of a pair changed together are judged together.
    assert save_rules(
        small.db, SYSTEM, {"monitoring.bp_warn_systolic": 150, "chair.hard_stop_systolic": 170}
    )
    assert read_rules(small.db).value("chair.hard_stop_systolic") == 170


def test_the_spin_boxes_offer_the_clinics_range(qtbot: QtBot, small: SmallClinic) -> None:
    page = RulesPage(Desk(small.db, SYSTEM))
    qtbot.addWidget(page)
    page.resize(720, 640)
    page.show()
    qtbot.waitUntil(lambda: bool(page.rows))
    rules = read_rules(small.db)
    low, high = rules.value("monitoring.bp_min_systolic"), rules.value("monitoring.bp_max_systolic")
    for key in ("monitoring.bp_warn_systolic", "chair.hard_stop_systolic"):
        spin = page.field(key).spin
        assert (spin.minimum(), spin.maximum()) == (low, high)
    spin = page.field("monitoring.spo2_warn_below").spin
    assert (spin.minimum(), spin.maximum()) == (50, 100)
    page.field("monitoring.bp_warn_systolic").spin.setValue(5000)
    assert page.field("monitoring.bp_warn_systolic").spin.value() == high
    with qtbot.waitSignal(page.not_saved, timeout=10_000):
        page.save()
    error = page.field("monitoring.bp_warn_systolic").error
    assert error.isVisibleTo(page)
    assert "must be below chair.hard_stop_systolic" in error.text()
    qtbot.wait(200)  # the marked field scrolled into view
