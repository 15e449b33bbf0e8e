"""Snoozing a follow-up as a first user did (issue 15): on a Friday the dialog proposed Saturday
09:00, when the clinic is closed, and the snoozed item still showed as overdue.

The clinic day of clinic_day.py: Alan Turing's IM session on Tuesday owes a next-day call on
Wednesday; by the Friday after, it is overdue.
"""

from __future__ import annotations

import datetime as dt
import os

import pytest
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from ketadesk.scheduling.followup_rules import Section
from ketadesk.services.common.context import Actor
from ketadesk.services.followups import sync
from ketadesk.services.schedule.day import day_schedule
from ketadesk.store.models import Appointment
from ketadesk.ui.common.desk import Desk
from ketadesk.ui.followups.follow_up_queue import FollowUpQueueView, SnoozeDialog
from tests.clinic_fixtures import SmallClinic
from tests.ui.clinic_day import TUESDAY
from tests.ui.conftest import NOW

NURSE = Actor(user_id=None, username="kim", role="nurse")


@pytest.fixture
def owed(clinic: SmallClinic) -> SmallClinic:
    with clinic.db.write() as session:
        ids = session.scalars(select(Appointment.id)).all()
        sync.sync_follow_ups(session, NURSE, ids, now=NOW)
    return clinic


def _friday_after(day: dt.date) -> dt.date:
    return day + dt.timedelta(days=(4 - day.weekday()) % 7 or 7)


def _open_queue(qtbot: QtBot, clinic: SmallClinic, now: dt.datetime) -> FollowUpQueueView:
    view = FollowUpQueueView(Desk(clinic.db, NURSE, lambda: now))
    qtbot.addWidget(view)
    view.resize(1100, 600)
    with qtbot.waitSignal(view.refreshed, timeout=10_000):
        view.refresh()
    return view


def test_snooze_proposes_the_next_day_the_clinic_opens_and_takes_the_item_off_overdue(
    qtbot: QtBot, owed: SmallClinic
) -> None:
    friday = _friday_after(TUESDAY)
    now = owed.at(friday, "10:00")
    view = _open_queue(qtbot, owed, now)
    call = next(i for i in view.items() if i.kind == "next_day_call")
    assert call.section is Section.OVERDUE

    dialog = SnoozeDialog(view.desk, call)
    qtbot.addWidget(dialog)
    proposed = dialog.until_instant()
    day = proposed.date()
    assert day > friday
    shown = day_schedule(owed.db, day)
    assert shown.closed_reason is None  # the clinic opens that day …
    assert shown.opens is not None
    assert proposed.time() == shown.opens.time()  # … and the proposal is its opening time
    between = friday + dt.timedelta(days=1)
    while between < day:  # … and it is the first such day (Saturday and Sunday are closed)
        assert day_schedule(owed.db, between).closed_reason is not None
        between += dt.timedelta(days=1)
    # The field says the weekday ("until Monday"), as the follow-up is put aside for one.
    assert dialog.until.text() == f"{proposed:%a %m/%d/%Y %H:%M}"
    assert dialog.until.text().startswith(f"{day:%a} ")
    folder = os.environ.get("KETADESK_SCREENSHOTS")
    if folder:  # a picture to look at
        dialog.grab().save(os.path.join(folder, "snooze-dialog.png"))

    dialog.reason.setText("Patient away for the weekend")
    with qtbot.waitSignal(dialog.settled, timeout=10_000):
        dialog.save()
    assert dialog.is_saved()
    with qtbot.waitSignal(view.refreshed, timeout=10_000):
        view.refresh()
    snoozed = next(i for i in view.items() if i.id == call.id)
    assert snoozed.status == "snoozed"
    assert snoozed.section is not Section.OVERDUE
    assert not snoozed.countdown.startswith("overdue")
