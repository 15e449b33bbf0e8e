"""Settings ▸ Clinic rules: a gap edited in the window is the gap the planner plans with; a
value the configuration loader refuses shows the loader's message at its field and saves
nothing."""

from __future__ import annotations

import datetime as dt
import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot
from sqlalchemy import func, select

from ketadesk.services.booking.planning import PlanWishes, propose_series
from ketadesk.services.common.context import SYSTEM, Actor, InvalidFields, PermissionDenied
from ketadesk.services.schedule.day import clinic_today
from ketadesk.services.settings.rules import read_rules, save_rules
from ketadesk.store import changes
from ketadesk.store.clinic_config import load_catalog
from ketadesk.store.models import AuditEvent, ClinicSetting
from ketadesk.ui.common.desk import Desk
from ketadesk.ui.settings.rules_page import RulesPage
from tests.clinic_fixtures import SmallClinic, build_small_clinic

GAP = "protocols.iv_induction.stages[0]"
# The page is shown (so that a marked field scrolls into view); the offscreen platform says it
# cannot pass size hints on, which is no fault of the page.
pytestmark = pytest.mark.qt_log_ignore("does not support propagateSizeHints")


@pytest.fixture
def small(tmp_path: Path) -> Iterator[SmallClinic]:
    c = build_small_clinic(f"sqlite:///{os.path.join(tmp_path, 'clinic.sqlite')}")
    yield c
    c.db.dispose()


def _gaps(clinic: SmallClinic, start: dt.date, today: dt.date) -> list[int]:
    proposal = propose_series(
        clinic.db,
        chart="BT-1",
        protocol="iv_induction",
        start=start,
        wishes=PlanWishes(weekdays=("mon", "tue", "wed", "thu", "fri"), time=dt.time(10)),
        today=today,
    )
    days = [clinic.calendar.local_date(s.start) for s in proposal.sessions]
    return [(b - a).days for a, b in itertools.pairwise(days)]


def _page(qtbot: QtBot, clinic: SmallClinic, actor: Actor = SYSTEM) -> RulesPage:
    page = RulesPage(Desk(clinic.db, actor))
    qtbot.addWidget(page)
    page.resize(720, 640)
    page.show()
    qtbot.waitUntil(lambda: bool(page.rows))
    return page


def _audits(clinic: SmallClinic) -> tuple[int, int]:
    with clinic.db.read() as session:
        return (
            session.scalar(select(func.count()).select_from(AuditEvent)) or 0,
            changes.current(session),
        )


def test_a_gap_edited_in_the_window_is_used_by_the_planner(
    qtbot: QtBot, small: SmallClinic
) -> None:
    today = clinic_today(small.db)
    start = today + dt.timedelta(days=7 - today.weekday())  # next Monday
    # ... of three weeks without a holiday on a weekday (a holiday shortens a gap)
    while any(small.calendar.holiday(start + dt.timedelta(days=d)) for d in range(21) if d % 7 < 5):
        start += dt.timedelta(days=7)
    assert min(_gaps(small, start, today)) == 2  # the shipped target gap
    page = _page(qtbot, small)
    row = page.field(f"{GAP}.target_gap_days")
    assert row.unit.text() == "days"
    assert page.field("session_types.iv_infusion.phases[1].minutes").unit.text() == "minutes"
    assert page.field("monitoring.bp_warn_systolic").unit.text() == "mmHg"
    before = _audits(small)
    page.field(f"{GAP}.min_gap_days").spin.setValue(3)
    row.spin.setValue(3)
    with qtbot.waitSignal(page.saved, timeout=10_000) as saved:
        page.save()
    assert saved.args == [1]  # one protocol changed
    audits, counter = _audits(small)
    assert (audits, counter) == (before[0] + 1, before[1] + 1)
    with small.db.read() as session:
        stage = load_catalog(session).protocols["iv_induction"].stages[0]
        event = session.execute(
            select(AuditEvent.before, AuditEvent.after).order_by(AuditEvent.id.desc())
        ).first()
    assert (stage.min_gap_days, stage.target_gap_days) == (3, 3)
    assert event is not None
    assert event[0]["stages"][0]["target_gap_days"] == 2
    assert event[1]["stages"][0]["target_gap_days"] == 3
    assert min(_gaps(small, start, today)) >= 3  # the planner plans with the new gap


def test_a_bad_value_shows_the_loaders_message_and_saves_nothing(
    qtbot: QtBot, small: SmallClinic
) -> None:
    page = _page(qtbot, small)
    before = _audits(small)
    page.field(f"{GAP}.target_gap_days").spin.setValue(9)
    with qtbot.waitSignal(page.not_saved, timeout=10_000):
        page.save()
    error = page.field(f"{GAP}.target_gap_days").error
    assert error.isVisibleTo(page)
    assert error.text() == ("must lie between min_gap_days (1) and max_gap_days (5), got 9")
    assert page.message.text().startswith("Not saved")
    assert _audits(small) == before
    assert read_rules(small.db).value(f"{GAP}.target_gap_days") == 2
    shot = os.environ.get("KETADESK_RULES_SHOT")
    if shot:
        qtbot.wait(200)  # the marked field scrolled into view
        page.grab().save(shot)


def test_the_service_maps_the_loaders_messages_to_fields(db_url: str) -> None:
    """On SQLite and PostgreSQL (whose JSONB keeps no key order)."""
    small = build_small_clinic(db_url)
    try:
        _service_checks(small)
    finally:
        small.db.dispose()


def _service_checks(small: SmallClinic) -> None:
    with pytest.raises(InvalidFields) as caught:
        save_rules(small.db, SYSTEM, {"clinic.slot_minutes": 7})
    assert caught.value.errors == {"clinic.slot_minutes": "must divide an hour evenly, got 7"}
    with pytest.raises(InvalidFields) as caught:
        save_rules(small.db, SYSTEM, {"session_types.iv_infusion.phases[0].minutes": -5})
    assert caught.value.errors == {
        "session_types.iv_infusion.phases[0].minutes": "must be at least 1, got -5"
    }
    with pytest.raises(InvalidFields) as caught:
        save_rules(small.db, SYSTEM, {"protocols.kap_program.stages[1].followed_by.max_days": 0})
    assert caught.value.errors == {
        "protocols.kap_program.stages[1].followed_by.max_days": "must not be less than min_days"
    }
    with pytest.raises(InvalidFields) as caught:
        save_rules(small.db, SYSTEM, {"clinic.nothing_here": 3})
    assert "clinic.nothing_here" in caught.value.errors
    with pytest.raises(PermissionDenied):
        save_rules(small.db, Actor(None, "kim", "nurse"), {"clinic.slot_minutes": 10})
    assert read_rules(small.db).value("clinic.slot_minutes") == 5
    assert save_rules(small.db, SYSTEM, {"clinic.slot_minutes": 10}) == 1
    assert read_rules(small.db).value("clinic.slot_minutes") == 10


def test_a_level_chosen_in_the_window_is_saved_and_shown_on_reopening(
    qtbot: QtBot, small: SmallClinic
) -> None:
    page = _page(qtbot, small)
    row = page.level("gating.prior_auth_valid")
    assert row.combo.currentText() == "Warn"
    assert row.hint.text() == "Refused until a nurse or prescriber gives a reason"
    assert [row.combo.itemText(i) for i in range(row.combo.count())] == ["Block", "Warn", "Off"]
    row.set_level("block")
    assert row.hint.text() == "Refused; nobody may override"
    before = _audits(small)
    with qtbot.waitSignal(page.saved, timeout=10_000) as saved:
        page.save()
    assert saved.args == [1]
    assert _audits(small) == (before[0] + 1, before[1] + 1)
    with small.db.read() as session:
        assert load_catalog(session).settings.gating["prior_auth_valid"] == "block"
    again = _page(qtbot, small)
    assert again.level("gating.prior_auth_valid").combo.currentText() == "Block"
    assert not again.changed_values()
    shot = os.environ.get("KETADESK_RULES_LEVELS_SHOT")
    if shot:
        again.grab().save(shot)


def test_a_bad_stored_level_is_shown_at_its_rule(qtbot: QtBot, small: SmallClinic) -> None:
    with small.db.write() as session:
        row = session.get(ClinicSetting, "urgent_review")
        assert row is not None
        row.value = {**row.value, "dosing": "never"}
    page = _page(qtbot, small)
    level = page.level("urgent_review.dosing")
    assert level.combo.currentIndex() == -1
    qtbot.waitUntil(lambda: level.error.isVisibleTo(page))  # the layout shows new rows late
    assert "clinic.toml: urgent_review.dosing: the stored 'never'" in level.error.text()
    level.set_level("warn")
    assert page.changed_values() == {"urgent_review.dosing": "warn"}
    with qtbot.waitSignal(page.saved, timeout=10_000):
        page.save()
    assert not level.error.isVisibleTo(page)


def test_a_safety_rule_offers_block_and_warn_only(qtbot: QtBot, small: SmallClinic) -> None:
    page = _page(qtbot, small)
    for key in ("chair.pre_dose_bp", "urgent_review.dosing", "gating.contraindications"):
        combo = page.level(key).combo
        assert [combo.itemText(i) for i in range(combo.count())] == ["Block", "Warn"]
    combo = page.level("gating.precautions").combo
    assert [combo.itemText(i) for i in range(combo.count())] == ["Block", "Warn", "Off"]


NOT_STARTED = "confirmations.not_started_minutes"


def test_the_not_started_overrun_is_set_on_the_page_and_read_by_the_day(
    qtbot: QtBot, small: SmallClinic
) -> None:
    """``[confirmations] not_started_minutes`` was in the configuration file only: it is on
    the page beside the other arrival minutes, checked by the loader's rules on save, and read
    back by the day's arrival badges and the chair board."""
    from ketadesk.scheduling.confirmations import parse_confirmation_settings

    page = _page(qtbot, small)
    row = page.field(NOT_STARTED)
    assert row.unit.text() == "minutes"
    labels = {f.key: (g.title, f.label) for g in read_rules(small.db).groups for f in g.fields}
    assert labels[NOT_STARTED] == (
        "Confirmations and arrivals",
        "A patient checked in but not started is an overrun after",
    )
    assert labels["confirmations.late_grace_minutes"][0] == "Confirmations and arrivals"
    assert row.spin.value() == 30  # the shipped value
    # A value the loader refuses is said at the field, and nothing is saved.
    before = _audits(small)
    row.spin.setValue(-5)
    with qtbot.waitSignal(page.not_saved, timeout=10_000):
        page.save()
    assert row.error.isVisibleTo(page)
    assert row.error.text() == "must be a whole number >= 0, got -5"
    assert _audits(small) == before
    folder = os.environ.get("KETADESK_SCREENSHOTS")
    if folder:
        qtbot.wait(200)  # the marked field scrolled into view
        page.grab().save(str(Path(folder) / "rules-not-started.png"))
    with pytest.raises(InvalidFields) as caught:
        save_rules(small.db, SYSTEM, {NOT_STARTED: -5})
    assert caught.value.errors == {NOT_STARTED: "must be a whole number >= 0, got -5"}
    with pytest.raises(InvalidFields) as caught:
        save_rules(small.db, SYSTEM, {"confirmations.no_show_minutes": 5})
    assert caught.value.errors == {
        "confirmations.no_show_minutes": "must not be before late_grace_minutes (10), got 5"
    }
    # Saved, shown again on reopening, and what the day's arrival states are judged by.
    row.spin.setValue(45)
    with qtbot.waitSignal(page.saved, timeout=10_000) as saved:
        page.save()
    assert saved.args == [1]
    assert read_rules(small.db).value(NOT_STARTED) == 45
    assert _page(qtbot, small).field(NOT_STARTED).spin.value() == 45
    with small.db.read() as session:
        extra = load_catalog(session).settings.extra
    assert parse_confirmation_settings(extra.get("confirmations")).not_started_minutes == 45
