"""The rebooking offer and the clinic's rules, through the widget: a make-up the rules refuse is
refused naming the rule; a nurse (a role that may override a "warn" rule) is asked the reason in
the shared override dialog and the make-up is booked with it; the front desk is not asked; a
blocking rule disables the button and is named in the offer.

The dialog's modal loop is replaced (``monkeypatch`` on ``override_dialog.ask_override_reason``,
as its docstring asks).  Dates come from the clinic's today (tests/services/rebooking/
test_makeup_rules.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence

import pytest
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from ketadesk.services.booking import appointment_changes
from ketadesk.services.common.context import Actor
from ketadesk.services.rebooking import makeup
from ketadesk.store.models import GatingOverride, SeriesRebooking
from ketadesk.ui.common import override_dialog
from ketadesk.ui.common.desk import Desk
from ketadesk.ui.common.override_dialog import RefusedRule
from ketadesk.ui.rebooking.rebook_panel import RebookPanel
from tests.services.rebooking.test_makeup_rules import (
    FRONT_DESK,
    MON_THU,
    NURSE,
    Today,
    book_spravato,
    clinic_from_today,
    cut_rems,
    maintenance_make_up_too_close,
)

# The offer is a window of its own; the offscreen platform says so.
pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")


@pytest.fixture
def today(db_url: str) -> Iterator[Today]:
    t = clinic_from_today(db_url)
    yield t
    t.clinic.db.dispose()


class Asked:
    """What the replaced dialog was asked, and the reason it gives."""

    def __init__(self, reason: str | None) -> None:
        self.reason = reason
        self.calls: list[tuple[str, list[RefusedRule], str]] = []

    def __call__(
        self, parent: object, *, step: str, rules: Sequence[RefusedRule], actor_name: str
    ) -> str | None:
        self.calls.append((step, list(rules), actor_name))
        return self.reason


def _panel(qtbot: QtBot, t: Today, actor: Actor, offer: makeup.RebookingOffer) -> RebookPanel:
    panel = RebookPanel(Desk(t.clinic.db, actor, lambda: t.now), offer)
    qtbot.addWidget(panel)
    panel.show()
    qtbot.waitExposed(panel)
    return panel


def _decision(t: Today, missed: int) -> int | None:
    with t.clinic.db.read() as s:
        return s.scalar(
            select(SeriesRebooking.make_up_appointment_id).where(
                SeriesRebooking.appointment_id == missed
            )
        )


def test_a_nurse_overrides_a_make_up_too_close_with_a_reason(
    qtbot: QtBot, today: Today, monkeypatch: pytest.MonkeyPatch
) -> None:
    t = today
    third, offer, _now = maintenance_make_up_too_close(t)
    asked = Asked("travelling the week after")
    monkeypatch.setattr(override_dialog, "ask_override_reason", asked)
    panel = _panel(qtbot, t, NURSE, offer)
    made: list[object] = []
    panel.made_up.connect(lambda _offer, m: made.append(m))
    assert panel.make_up_button.isEnabled()
    panel.make_up_button.click()
    qtbot.waitUntil(lambda: panel.result.text().startswith("Make-up booked"), timeout=15_000)
    [(step, rules, who)] = asked.calls
    assert step == "book this make-up"
    assert [r.code for r in rules] == ["min_gap"]
    assert rules[0].title == "Too close"
    assert "4 days apart" in rules[0].fact
    assert who == NURSE.username
    assert len(made) == 1
    assert isinstance(made[0], makeup.MadeUp)
    assert made[0].overrides == {"min_gap": "travelling the week after"}
    assert not panel.make_up_button.isEnabled()
    with t.clinic.db.read() as s:
        reasons = s.scalars(select(GatingOverride.reason)).all()
    assert reasons == ["travelling the week after"]
    assert _decision(t, third) is not None


def test_the_front_desk_is_told_the_rule_and_not_asked(
    qtbot: QtBot, today: Today, monkeypatch: pytest.MonkeyPatch
) -> None:
    t = today
    third, offer, _now = maintenance_make_up_too_close(t)
    asked = Asked("they insisted")
    monkeypatch.setattr(override_dialog, "ask_override_reason", asked)
    panel = _panel(qtbot, t, FRONT_DESK, offer)
    panel.make_up_button.click()
    qtbot.waitUntil(lambda: panel.result.text().startswith("Not done"), timeout=15_000)
    assert "Too close [min_gap]" in panel.result.text()
    assert "a nurse or a prescriber may override this with a reason" in panel.result.text()
    assert asked.calls == []
    assert panel.make_up_button.isEnabled()  # a nurse at this desk may still go ahead
    assert _decision(t, third) is None


def test_a_cancelled_override_books_nothing(
    qtbot: QtBot, today: Today, monkeypatch: pytest.MonkeyPatch
) -> None:
    t = today
    third, offer, _now = maintenance_make_up_too_close(t)
    asked = Asked(None)
    monkeypatch.setattr(override_dialog, "ask_override_reason", asked)
    panel = _panel(qtbot, t, NURSE, offer)
    panel.make_up_button.click()
    qtbot.waitUntil(lambda: len(asked.calls) == 1, timeout=15_000)
    assert panel.result.text().startswith("Not done")
    assert _decision(t, third) is None


def test_a_blocking_rule_is_named_in_the_offer_and_the_button_disabled(
    qtbot: QtBot, today: Today
) -> None:
    t = today
    sessions = book_spravato(t, "spravato_trd", MON_THU)
    second = t.ids[1]
    at = sessions[1].start + dt.timedelta(minutes=30)
    appointment_changes.change_status(t.clinic.db, FRONT_DESK, second, "no_show", now=at)
    cut_rems(t, t.clinic.calendar.local_date(sessions[1].start))
    offer = makeup.offer_for(t.clinic.db, second, now=at)
    assert offer is not None
    panel = _panel(qtbot, t, NURSE, offer)
    assert not panel.make_up_button.isEnabled()
    text = panel.problems.text()
    assert text.startswith("The clinic's rules: ")
    assert "[rems_site_certified]" in text
    assert "(blocking: cannot be overridden)" in text
    assert panel.short_button.isEnabled()  # the series may go on one short instead
