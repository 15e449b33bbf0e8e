"""The rebooking offer when its make-up falls on a patient's day away (entered after the offer
was read), through the widget, for the front desk: the refusal names the rule, the desk is
asked the reason in the shared override dialog (a day away is the patient's own plans) and the
make-up is booked with it, recorded and audited.  A clinical rule still asks the desk nothing
(``test_rebook_panel_rules.test_the_front_desk_is_told_the_rule_and_not_asked``).

The dialog's modal loop is replaced (``monkeypatch`` on ``override_dialog.ask_override_reason``).
Dates come from the clinic's today (tests/services/rebooking/test_makeup_rules.py).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from ketadesk.services.rebooking import makeup
from ketadesk.store.models import AuditEvent, GatingOverride
from ketadesk.ui.common import override_dialog
from tests.services.rebooking.test_makeup_days_away import make_up_on_a_day_away
from tests.services.rebooking.test_makeup_rules import FRONT_DESK, Today, clinic_from_today
from tests.ui.rebooking.test_rebook_panel_rules import Asked, _decision, _panel

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")


@pytest.fixture
def today(db_url: str) -> Iterator[Today]:
    t = clinic_from_today(db_url)
    yield t
    t.clinic.db.dispose()


def _keep_picture(widget: QWidget, name: str) -> None:
    """A picture of ``widget`` in $KETADESK_SCREENSHOTS to look at (nothing without it)."""
    folder = os.environ.get("KETADESK_SCREENSHOTS")
    if folder:
        widget.grab().save(str(Path(folder) / name))


def test_the_front_desk_overrides_a_make_up_on_a_day_away_with_a_reason(
    qtbot: QtBot, today: Today, monkeypatch: pytest.MonkeyPatch
) -> None:
    t = today
    third, offer, _day = make_up_on_a_day_away(t)
    asked = Asked("the wedding is in the evening")
    monkeypatch.setattr(override_dialog, "ask_override_reason", asked)
    panel = _panel(qtbot, t, FRONT_DESK, offer)
    made: list[object] = []
    panel.made_up.connect(lambda _offer, m: made.append(m))
    panel.make_up_button.click()
    qtbot.waitUntil(lambda: panel.result.text().startswith("Make-up booked"), timeout=15_000)
    _keep_picture(panel, "rebooking-day-away-front-desk.png")
    [(step, rules, who)] = asked.calls
    assert step == "book this make-up"
    assert [(r.code, r.title) for r in rules] == [("patient_away", "Patient away")]
    assert "(wedding)" in rules[0].fact
    assert who == FRONT_DESK.username
    [done] = made
    assert isinstance(done, makeup.MadeUp)
    assert done.overrides == {"patient_away": "the wedding is in the evening"}
    assert _decision(t, third) == done.appointment_id
    with t.clinic.db.read() as s:
        reasons = s.scalars(select(GatingOverride.reason)).all()
        audited = s.scalars(
            select(AuditEvent.detail).where(
                AuditEvent.action == "override_rule", AuditEvent.entity_id == done.appointment_id
            )
        ).all()
    assert reasons == ["the wedding is in the evening"]
    assert audited == ["patient_away: the wedding is in the evening"]
