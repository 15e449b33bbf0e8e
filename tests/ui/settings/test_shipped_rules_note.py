"""Settings ▸ Clinic rules on a clinic whose stored rules lack the shipped keys (created before
the rules engine, or an old backup restored): a note says so, and "Add the shipped rules" adds
them through the services (audited), after which the note is gone and the page shows the new
numbers."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from ketadesk.services.common.context import SYSTEM, Actor
from ketadesk.store.clinic_config import read_raw_config
from ketadesk.store.models import AuditEvent
from ketadesk.ui.common.desk import Desk
from ketadesk.ui.settings.rules_page import RulesPage
from tests.clinic_fixtures import SmallClinic, build_small_clinic
from tests.store.old_config import strip_to_old_config

pytestmark = pytest.mark.qt_log_ignore("does not support propagateSizeHints")
WINDOW = "protocols.spravato_trd.stages[0].window_days"


@pytest.fixture
def old(tmp_path: Path) -> Iterator[SmallClinic]:
    c = build_small_clinic(f"sqlite:///{os.path.join(tmp_path, 'clinic.sqlite')}")
    strip_to_old_config(c.db)
    yield c
    c.db.dispose()


def _page(qtbot: QtBot, clinic: SmallClinic, actor: Actor = SYSTEM) -> RulesPage:
    page = RulesPage(Desk(clinic.db, actor))
    qtbot.addWidget(page)
    page.resize(760, 640)
    page.show()
    qtbot.waitUntil(lambda: bool(page.rows))
    return page


def test_the_note_adds_the_shipped_rules_and_goes(qtbot: QtBot, old: SmallClinic) -> None:
    page = _page(qtbot, old)
    note = page.shipped_note
    qtbot.waitUntil(note.isVisible)
    assert "lack" in note.label.text()
    assert 'protocol iv_induction, stage 1 "Induction": window_days' in note.label.text()
    assert "more" in note.label.text()
    assert WINDOW not in page.rows  # the old induction stage has no window
    qtbot.wait(50)  # the freshly built groups laid out

    with qtbot.waitSignal(note.added, timeout=10_000) as added:
        note.button.click()
    assert added.args is not None
    assert added.args[0] > 10
    qtbot.waitUntil(lambda: WINDOW in page.rows)
    assert not note.isVisible()
    assert page.rows[WINDOW].spin.value() == 28
    assert "shipped rule keys" in page.message.text()
    with old.db.read() as session:
        raw = read_raw_config(session)
        assert raw.protocols["protocols"]["spravato_trd"]["stages"][0]["window_cap"] == {
            "sessions": 2,
            "days": 7,
        }
        who = session.scalars(
            select(AuditEvent.username).where(AuditEvent.action == "add_shipped_rules")
        ).all()
    assert who
    assert set(who) == {SYSTEM.username}


def test_only_an_administrator_may_add_them(qtbot: QtBot, old: SmallClinic) -> None:
    page = _page(qtbot, old, Actor(user_id=None, username="kim", role="nurse"))
    qtbot.waitUntil(page.shipped_note.isVisible)
    assert not page.shipped_note.button.isEnabled()


def test_a_clinic_with_every_rule_shows_no_note(qtbot: QtBot, tmp_path: Path) -> None:
    clinic = build_small_clinic(f"sqlite:///{os.path.join(tmp_path, 'clinic.sqlite')}")
    try:
        page = _page(qtbot, clinic)
        qtbot.wait(200)
        assert not page.shipped_note.isVisible()
    finally:
        clinic.db.dispose()
