"""The queue as the desk and the nurses work it: a reached call done in one step, and a nurse's
follow-ups shown as her role's while she is off.

The clinic day of clinic_day.py (Tuesday 24 November 2026): Alan Turing's IM session this
morning owes a next-day call on Wednesday, held by Nurse Kim.
"""

from __future__ import annotations

import datetime as dt

import pytest
from pytestqt.qtbot import QtBot
from sqlalchemy import select, update

from ketadesk.services.common.context import SYSTEM, Actor
from ketadesk.services.followups import sync
from ketadesk.services.followups.actions import AttemptResult
from ketadesk.services.followups.queue import FollowUpItem
from ketadesk.services.settings.availability import Unavailability, add_closure
from ketadesk.store.models import Appointment, FollowUp
from ketadesk.ui.common.desk import Desk
from ketadesk.ui.followups.follow_up_queue import AttemptDialog, Column, FollowUpQueueView
from tests.clinic_fixtures import SmallClinic
from tests.pictures import picture_folder
from tests.ui.clinic_day import WEDNESDAY
from tests.ui.conftest import NOW

NURSE = Actor(user_id=None, username="kim", role="nurse")


class Clock:
    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def owed(clinic: SmallClinic) -> SmallClinic:
    with clinic.db.write() as session:
        ids = session.scalars(select(Appointment.id)).all()
        sync.sync_follow_ups(session, NURSE, ids, now=NOW)
    return clinic


def _view(qtbot: QtBot, clinic: SmallClinic, clock: Clock) -> FollowUpQueueView:
    view = FollowUpQueueView(Desk(clinic.db, NURSE, clock))
    qtbot.addWidget(view)
    view.resize(1200, 600)
    with qtbot.waitSignal(view.refreshed, timeout=10_000):
        view.refresh()
    return view


def _call(view: FollowUpQueueView) -> FollowUpItem:
    return next(
        i for i in view.items() if i.patient_name == "Turing, Alan" and i.kind == "next_day_call"
    )


def test_a_reached_call_is_done_in_one_step(
    qtbot: QtBot, owed: SmallClinic, monkeypatch: pytest.MonkeyPatch
) -> None:
    view = _view(qtbot, owed, Clock(owed.at(WEDNESDAY, "09:00")))
    call = _call(view)
    assert view.select_follow_up(call.id)

    def reached(desk: Desk, item: FollowUpItem, parent: object) -> AttemptResult | None:
        dialog = AttemptDialog(desk, item)
        qtbot.addWidget(dialog)
        dialog.choose("reached")
        assert "required" in dialog.notes.placeholderText()
        with qtbot.waitSignal(dialog.settled, timeout=10_000):
            dialog.save()  # no outcome: marked at the notes, nothing saved
        assert set(dialog.errors()) == {"notes"}
        dialog.grab().save(str(picture_folder("calls") / "reached_needs_its_outcome.png"))
        dialog.notes.setPlainText("Sleeping well, no nausea")
        with qtbot.waitSignal(dialog.settled, timeout=10_000):
            dialog.save()
        assert dialog.is_saved()
        return dialog.attempt

    monkeypatch.setattr(FollowUpQueueView, "attempt_dialog", reached)
    with qtbot.waitSignal(view.refreshed, timeout=10_000):
        view.actions_by_name["record_attempt"].trigger()
    assert view.status.text() == "Turing, Alan reached: the Next-day call is done."
    assert all(i.id != call.id for i in view.items())
    with owed.db.read() as session:
        done = session.get(FollowUp, call.id)
        assert done is not None
        assert (done.status, done.outcome) == ("done", "Sleeping well, no nausea")


def test_a_call_whose_nurse_is_off_shows_as_the_nurses_to_make(
    qtbot: QtBot, owed: SmallClinic
) -> None:
    cal = owed.calendar
    with owed.db.write() as session:
        # The clinic day's call has no nurse of its own: it is given Nurse Kim's.
        session.execute(
            update(FollowUp)
            .where(FollowUp.kind == "next_day_call")
            .values(assignee_id=owed.ids["Nurse Kim"])
        )
    add_closure(
        owed.db,
        SYSTEM,
        Unavailability(
            "time_off",
            cal.at_local(WEDNESDAY, 0),
            cal.at_local(WEDNESDAY + dt.timedelta(days=2), 0),
            "flu",
            resource_id=owed.ids["Nurse Kim"],
        ),
        now=NOW,
    )
    view = _view(qtbot, owed, Clock(owed.at(WEDNESDAY, "09:00")))
    call = _call(view)
    assert call.assignee_away == "Assigned to Nurse Kim, who is off through Thu Nov 26"
    assert view.select_follow_up(call.id)
    index = view.model.index_of(call.id)
    assigned = index.siblingAtColumn(Column.ASSIGNED).data()
    assert assigned == "any nurse (Nurse Kim off)"
    details = index.siblingAtColumn(Column.DETAILS).data()
    assert "who is off through Thu Nov 26: any nurse may work it" in details
    assert "off through Thu Nov 26" in view.detail.text()
    view.grab().save(str(picture_folder("calls") / "queue_nurse_off.png"))
