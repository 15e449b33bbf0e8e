"""The rebooking offer and the clinic's rules, through the widget: a make-up the rules refuse is
refused naming the rule; a nurse (a role that may override a "warn" rule) is asked the reason in
the shared override dialog and the make-up is booked with it; the front desk is not asked; a
blocking rule disables the button and is named in the offer.

The dialog's modal loop is replaced (``monkeypatch`` on ``override_dialog.ask_override_reason``,
as its docstring asks).  Dates come from the clinic's today (tests/services/rebooking/
test_makeup_rules.py).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator, Sequence

import pytest
from PySide6.QtWidgets import QPushButton
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
    TRD_12,
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
    assert text.startswith("No make-up the clinic's rules allow: ")
    assert panel.preview.count() == 0  # nothing listed that cannot be booked
    assert "[rems_site_certified]" in text
    assert "(blocking: cannot be overridden)" in text
    assert panel.short_button.isEnabled()  # the series may go on one short instead


def _coherent(panel: RebookPanel) -> bool:
    """Either a bookable offer listed, or none listed and the reason said: never both."""
    listed = panel.preview.count() > 0
    refused = panel.problems.text().startswith(("No make-up", "Already decided"))
    return listed == panel.make_up_button.isEnabled() and listed != refused


def test_a_no_show_after_a_cancellation_left_undecided_offers_one_coherent_make_up(
    qtbot: QtBot, today: Today
) -> None:
    """A user trial: a Spravato TRD series, session 3 cancelled and "Decide later" chosen, then
    a no-show of session 2: the panel listed "Make-up 2/12 … (new)" and said "No make-up that
    keeps the series: sessions 2 and 4 are 6 days apart" with Book greyed out."""
    t = today
    sessions = book_spravato(t, "spravato_trd", TRD_12)
    second, third = t.ids[1], t.ids[2]
    appointment_changes.change_status(
        t.clinic.db, FRONT_DESK, third, "cancel", reason="travelling", now=t.now
    )
    cancelled = makeup.offer_for(t.clinic.db, third, now=t.now)
    assert cancelled is not None
    first = _panel(qtbot, t, FRONT_DESK, cancelled)
    assert _coherent(first), (
        [first.preview.item(n).text() for n in range(first.preview.count())],
        first.problems.text(),
        first.make_up_button.isEnabled(),
    )
    decide_later = first.findChild(QPushButton, "rebooking_close")
    assert decide_later is not None
    decide_later.click()
    assert _decision(t, third) is None
    at = sessions[1].start + dt.timedelta(minutes=30)
    appointment_changes.change_status(t.clinic.db, FRONT_DESK, second, "no_show", now=at)
    offer = makeup.offer_for(t.clinic.db, second, now=at)
    assert offer is not None
    panel = _panel(qtbot, t, FRONT_DESK, offer)
    assert _coherent(panel)
    assert panel.make_up_button.isEnabled()
    assert panel.preview.item(0).text().startswith("Make-up 2/12: ")
    assert not panel.problems.text().startswith("No make-up")


def test_a_make_up_the_spacing_refuses_is_not_listed(qtbot: QtBot, today: Today) -> None:
    """An offer whose make-up breaks the spacing (as the trial's did) lists nothing and says
    why, with Book disabled; the other answers stay."""
    t = today
    sessions = book_spravato(t, "spravato_trd", MON_THU)
    second = t.ids[1]
    at = sessions[1].start + dt.timedelta(minutes=30)
    appointment_changes.change_status(t.clinic.db, FRONT_DESK, second, "no_show", now=at)
    offer = makeup.offer_for(t.clinic.db, second, now=at)
    assert offer is not None
    assert offer.can_make_up
    refused = dataclasses.replace(offer, problems=("sessions 2 and 4 are 6 days apart",))
    panel = _panel(qtbot, t, NURSE, refused)
    assert _coherent(panel), (
        panel.preview.count(),
        panel.problems.text(),
        panel.make_up_button.isEnabled(),
    )
    assert panel.preview.count() == 0
    assert not panel.make_up_button.isEnabled()
    assert panel.problems.text() == (
        "No make-up that keeps the series: sessions 2 and 4 are 6 days apart"
    )
    assert panel.short_button.isEnabled()
