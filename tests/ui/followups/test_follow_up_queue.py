"""Working the follow-up queue as a nurse would, and the recall and dropout lists.

The clinic day of clinic_day.py (Tuesday 24 November 2026) with its follow-ups brought in line
by ``sync_follow_ups``: Alan Turing's IM session this morning owes a next-day call on
Wednesday; Ada Lovelace's 09:00 infusion and the two Spravato sessions owe their PHQ-9 today.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QLabel
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from ketadesk.scheduling.followup_rules import (
    QUEUE_KINDS,
    SCHEDULE_CHANGE_CALL,
    Section,
    listed_without_clinical,
)
from ketadesk.services.booking import appointment_changes
from ketadesk.services.common.context import SYSTEM, Actor
from ketadesk.services.followups import sync
from ketadesk.services.followups.actions import AttemptResult
from ketadesk.services.followups.queue import FollowUpItem, follow_up_queue
from ketadesk.store.clinic_config import load_catalog
from ketadesk.store.models import Appointment, FollowUp
from ketadesk.ui.common.desk import Desk
from ketadesk.ui.common.table_model import ROW_ROLE, SORT_ROLE
from ketadesk.ui.followups.follow_up_queue import (
    OVERDUE_COLORS,
    PATIENT_COLUMN_MAX,
    SHRINKABLE_COLUMNS,
    AttemptDialog,
    Column,
    CompleteDialog,
    FollowUpQueueView,
    MeasureDoneDialog,
    SnoozeDialog,
    attempts_text,
    share_columns,
)
from ketadesk.ui.followups.recall_lists import RecallListsView
from tests.clinic_fixtures import RIDE_HOME, SmallClinic, ready_for_discharge
from tests.pictures import picture_folder
from tests.ui.clinic_day import TUESDAY, WEDNESDAY, open_urgent_review
from tests.ui.conftest import NOW

NURSE = Actor(user_id=None, username="kim", role="nurse")
FRONT_DESK = Actor(user_id=None, username="maria", role="front_desk")


class Clock:
    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def owed(clinic: SmallClinic) -> SmallClinic:
    """The clinic day with the follow-ups its sessions owe."""
    with clinic.db.write() as session:
        ids = session.scalars(select(Appointment.id)).all()
        sync.sync_follow_ups(session, NURSE, ids, now=NOW)
    return clinic


def _view(
    qtbot: QtBot, clinic: SmallClinic, clock: Clock, actor: Actor = NURSE
) -> FollowUpQueueView:
    view = FollowUpQueueView(Desk(clinic.db, actor, clock))
    qtbot.addWidget(view)
    view.resize(1100, 600)
    _refresh(qtbot, view)
    return view


def _refresh(qtbot: QtBot, view: FollowUpQueueView) -> None:
    with qtbot.waitSignal(view.refreshed, timeout=10_000):
        view.refresh()


def _wait(qtbot: QtBot, view: FollowUpQueueView) -> None:
    """Wait for the read a filter change started."""
    with qtbot.waitSignal(view.refreshed, timeout=10_000):
        pass


def _rows(view: FollowUpQueueView, section: Section) -> list[tuple[str, str, str]]:
    model = view.model
    parent = model.section_index(section)
    return [
        (
            model.index(r, Column.PATIENT, parent).data(),
            model.index(r, Column.FOLLOW_UP, parent).data(),
            model.index(r, Column.COUNTDOWN, parent).data(),
        )
        for r in range(model.rowCount(parent))
    ]


def _item(view: FollowUpQueueView, patient: str, kind: str) -> FollowUpItem:
    return next(i for i in view.items() if i.patient_name == patient and i.kind == kind)


def saved(
    qtbot: QtBot, dialog: AttemptDialog | CompleteDialog | SnoozeDialog | MeasureDoneDialog
) -> bool:
    """Save the dialog and wait for the answer (written on a worker): whether it was saved."""
    with qtbot.waitSignal(dialog.settled, timeout=10_000):
        dialog.save()
    return dialog.is_saved()


def test_the_model_passes_the_model_tester(qtmodeltester, owed: SmallClinic) -> None:  # type: ignore[no-untyped-def]
    from ketadesk.ui.followups.follow_up_queue import FollowUpQueueModel

    model = FollowUpQueueModel()
    model.set_queue(follow_up_queue(owed.db, SYSTEM, now=NOW))
    qtmodeltester.check(model, force_py=True)


def test_the_queue_on_tuesday_morning(qtbot: QtBot, owed: SmallClinic) -> None:
    # Grace Hopper's Spravato session is done: her REMS form joins the queue with its countdown.
    ready_for_discharge(owed.db, _grace_spravato(owed))  # what completing asks
    appointment_changes.change_status(
        owed.db, NURSE, _grace_spravato(owed), "complete", now=NOW, ride=RIDE_HOME
    )
    counts: list[dict[str, int]] = []
    clock = Clock(NOW)
    view = FollowUpQueueView(Desk(owed.db, NURSE, clock))
    qtbot.addWidget(view)
    view.counts_changed.connect(counts.append)
    _refresh(qtbot, view)
    # Ada's 09:00 infusion has begun without her: her PHQ-9 waits for her check-in, overdue
    # only once she is in (or her session is over); a trial's queue had it overdue already.
    assert _rows(view, Section.OVERDUE) == []
    assert _rows(view, Section.DUE_TODAY) == [
        ("Lovelace, Ada (chart BT-1)", "PHQ-9", "due at check-in"),
        ("Hopper, Grace (chart BT-2)", "PHQ-9", "due today by 11:00"),
        ("Turing, Alan (chart DAY-1)", "PHQ-9", "due today by 13:30"),
    ]
    # The REMS form may be filled now, but is due in 7 days: upcoming, as its words say.
    upcoming = _rows(view, Section.UPCOMING)
    assert ("Turing, Alan (chart DAY-1)", "Next-day call", "due tomorrow") in upcoming
    form_row = upcoming.index(
        ("Hopper, Grace (chart BT-2)", "REMS monitoring form", "due in 7 days")
    )
    assert counts == [{"overdue": 0, "due_today": 3, "upcoming": 3, "urgent": 0}]
    # The REMS form is due by the end of the session's date + 7 (DOMAIN.md: print that date,
    # not the day after); its Due column showed the session's end.  It says what its
    # monitoring record still lacks.
    today = view.model.section_index(Section.DUE_TODAY)
    later = view.model.section_index(Section.UPCOMING)
    assert view.model.index(form_row, Column.DUE, later).data() == "by end of Tue Dec 1"
    assert "Due by end of Tue Dec 1" in view.model.index(form_row, 0, later).data(
        Qt.ItemDataRole.ToolTipRole
    )
    assert view.model.index(0, Column.DUE, today).data() == "Tue Nov 24 09:00"
    form = view.model.index(form_row, Column.DETAILS, later)
    assert form.data().startswith("Form still needs: ")
    # Completing asked for the discharge and who monitored; the lot number it did not.
    assert "lot" in form.data()
    assert "who monitored" not in form.data()

    # Ada checks in at 10:20: her PHQ-9, late since 09:00, is overdue now, and reads red.
    appointment_changes.change_status(
        owed.db, NURSE, _ada_infusion(owed), "check_in", now=owed.at(TUESDAY, "10:20")
    )
    clock.now = owed.at(TUESDAY, "10:25")
    _refresh(qtbot, view)
    assert _rows(view, Section.OVERDUE) == [
        ("Lovelace, Ada (chart BT-1)", "PHQ-9", "overdue by 1 hour 25 mins"),
    ]
    overdue = view.model.section_index(Section.OVERDUE)
    color = view.model.index(0, Column.COUNTDOWN, overdue).data(Qt.ItemDataRole.ForegroundRole)
    assert color == QColor(OVERDUE_COLORS[False])


def _ada_infusion(clinic: SmallClinic) -> int:
    with clinic.db.read() as session:
        found = session.scalar(
            select(Appointment.id).where(
                Appointment.patient_id == clinic.ids["Ada Lovelace"],
                Appointment.starts_at == clinic.at(TUESDAY, "09:00"),
            )
        )
    assert found is not None
    return found


def _grace_spravato(clinic: SmallClinic) -> int:
    with clinic.db.read() as session:
        found = session.scalar(
            select(Appointment.id).where(
                Appointment.patient_id == clinic.ids["Grace Hopper"],
                Appointment.status == "checked_in",
            )
        )
    assert found is not None
    return found


def test_a_nurse_records_an_unreached_call_sees_the_reattempt_and_completes_it(
    qtbot: QtBot, owed: SmallClinic, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock(owed.at(WEDNESDAY, "09:00"))
    view = _view(qtbot, owed, clock)
    call = _item(view, "Turing, Alan", "next_day_call")
    assert call.section is Section.DUE_TODAY
    assert view.select_follow_up(call.id)
    assert view.buttons["record_attempt"].isEnabled()

    def no_answer(desk: Desk, item: FollowUpItem, parent: object) -> AttemptResult | None:
        dialog = AttemptDialog(desk, item)
        qtbot.addWidget(dialog)
        assert not saved(qtbot, dialog)  # no result chosen: marked at the field, nothing saved
        assert set(dialog.errors()) == {"result"}
        dialog.choose("no_answer")
        dialog.notes.setPlainText("Rang out, no voicemail")
        assert saved(qtbot, dialog)
        return dialog.attempt

    monkeypatch.setattr(FollowUpQueueView, "attempt_dialog", no_answer)
    with qtbot.waitSignal(view.refreshed, timeout=10_000):
        view.actions_by_name["record_attempt"].trigger()
    assert view.status.text() == "Call Turing, Alan again Wed Nov 25 13:00."
    again = _item(view, "Turing, Alan", "next_day_call")
    assert (again.attempts, again.last_attempt) == (1, "No answer Wed 09:00")
    assert f"{again.due:%H:%M}" == "13:00"
    assert view.model.index_of(call.id).isValid()
    selected = view.selected_item()
    assert selected is not None
    assert selected.id == call.id

    clock.now = owed.at(WEDNESDAY, "13:05")

    def complete(desk: Desk, item: FollowUpItem, parent: object) -> bool:
        dialog = CompleteDialog(desk, item)
        qtbot.addWidget(dialog)
        assert not saved(qtbot, dialog)  # the outcome is required
        assert set(dialog.errors()) == {"outcome"}
        assert dialog.message.text() == "Nothing has been saved: fix the marked fields."
        dialog.outcome.setPlainText("Reached at 13:05: sleeping well, no side effects")
        return saved(qtbot, dialog)

    monkeypatch.setattr(FollowUpQueueView, "complete_dialog", complete)
    with qtbot.waitSignal(view.refreshed, timeout=10_000):
        view.actions_by_name["complete"].trigger()
    assert all(i.id != call.id for i in view.items())
    with owed.db.read() as session:
        done = session.get(FollowUp, call.id)
        assert done is not None
        assert (done.status, done.outcome) == (
            "done",
            "Reached at 13:05: sleeping well, no side effects",
        )


def test_a_snooze_in_the_past_without_a_reason_is_marked_and_nothing_saved(
    qtbot: QtBot, owed: SmallClinic
) -> None:
    clock = Clock(owed.at(WEDNESDAY, "09:00"))
    view = _view(qtbot, owed, clock)
    call = _item(view, "Turing, Alan", "next_day_call")
    dialog = SnoozeDialog(view.desk, call)
    qtbot.addWidget(dialog)
    dialog.set_until(dt.datetime(2026, 11, 25, 8, 0))
    assert not saved(qtbot, dialog)
    assert dialog.errors() == {
        "until": "must be in the future",
        "reason": "say why it can wait (the reason is required)",
    }
    assert dialog.until.property("invalid") is True
    with owed.db.read() as session:
        row = session.get(FollowUp, call.id)
        assert row is not None
        assert row.status == "open"
    dialog.set_until(dt.datetime(2026, 11, 27, 9, 0))
    dialog.reason.setText("Asked to be called on Friday")
    assert saved(qtbot, dialog)
    _refresh(qtbot, view)
    snoozed = _item(view, "Turing, Alan", "next_day_call")
    assert snoozed.status == "snoozed"
    assert snoozed.section is Section.UPCOMING
    details = view.model.index_of(call.id).siblingAtColumn(Column.DETAILS).data()
    assert details.startswith("Snoozed until Fri Nov 27 09:00: Asked to be called on Friday")


def test_the_front_desk_is_refused_a_clinical_call_at_the_dialog(
    qtbot: QtBot, owed: SmallClinic
) -> None:
    clock = Clock(owed.at(WEDNESDAY, "09:00"))
    view = _view(qtbot, owed, clock, actor=FRONT_DESK)
    call = _item(view, "Turing, Alan", "next_day_call")
    dialog = CompleteDialog(view.desk, call)
    qtbot.addWidget(dialog)
    dialog.outcome.setPlainText("Fine")
    assert not saved(qtbot, dialog)
    assert "Only a nurse or prescriber may work a Next-day call" in dialog.message.text()


def test_filters_and_opening_a_patient(qtbot: QtBot, owed: SmallClinic) -> None:
    view = _view(qtbot, owed, Clock(NOW))
    view.kind_filter.setCurrentIndex(view.kind_filter.findData("next_day_call"))
    _wait(qtbot, view)
    assert [i.kind for i in view.items()] == ["next_day_call"]
    view.assignee_filter.setCurrentIndex(view.assignee_filter.findData("therapist"))
    _wait(qtbot, view)
    assert view.items() == ()
    assert view.counts["due_today"] == 3  # the left panel's counts stay unfiltered
    view.assignee_filter.setCurrentIndex(0)
    _wait(qtbot, view)
    (call,) = view.items()
    view.select_follow_up(call.id)
    with qtbot.waitSignal(view.patient_requested) as opened:
        view.actions_by_name["open_patient"].trigger()
    assert opened.args == [owed.ids["Alan Turing"]]


def test_filtering_by_staff_member(qtbot: QtBot, owed: SmallClinic) -> None:
    kim = owed.ids["Nurse Kim"]
    with owed.db.write() as session:
        call = session.scalars(select(FollowUp).where(FollowUp.kind == "next_day_call")).one()
        call.assignee_id = kim
    view = _view(qtbot, owed, Clock(NOW))
    choice = view.assignee_filter.findData(kim)
    assert view.assignee_filter.itemText(choice) == "Nurse Kim (nurse)"
    view.assignee_filter.setCurrentIndex(choice)
    _wait(qtbot, view)
    assert [(i.kind, i.assignee_name) for i in view.items()] == [("next_day_call", "Nurse Kim")]


def test_urgent_items_come_first_and_stand_out(qtbot: QtBot, owed: SmallClinic) -> None:
    open_urgent_review(owed, NOW)
    view = _view(qtbot, owed, Clock(NOW))
    urgent = view.model.section_index(Section.URGENT)
    assert urgent.row() == 0
    first = view.model.index(0, Column.FOLLOW_UP, urgent)
    assert first.data() == "URGENT · Urgent review"
    assert first.data(Qt.ItemDataRole.FontRole).bold()
    assert first.data(Qt.ItemDataRole.BackgroundRole) is not None
    assert view.counts["urgent"] == 1


def test_a_new_urgent_review_due_by_tomorrow_is_listed_first_as_due_now(
    qtbot: QtBot, owed: SmallClinic
) -> None:
    """A trial's PHQ-9 item 9 = 1 opened a review with a 24 h deadline, filed under "Upcoming
    · due by tomorrow": an urgent review is due at once, first, and its Complete dialog says
    the answer that opened it."""
    reason = "PHQ-9 item 9 answered 1: thoughts of self-harm"
    with owed.db.write() as session:
        review = FollowUp(
            patient_id=owed.ids["Mary Seacole"],
            kind="urgent_review",
            due_at=NOW,
            deadline_at=NOW + dt.timedelta(hours=24),
            assignee_role="prescriber",
            priority="urgent",
            status="open",
            outcome=reason,
        )
        session.add(review)
        session.flush()
        review_id = review.id
    view = _view(qtbot, owed, Clock(NOW + dt.timedelta(minutes=1)))
    assert view.queue is not None
    assert [i.id for i in view.queue.urgent] == [review_id]
    assert review_id not in {i.id for i in view.queue.upcoming + view.queue.due_today}
    header = view.model.section_index(Section.URGENT)
    assert header.row() == 0
    assert header.data() == "Urgent · due now (1)"
    assert header.data(Qt.ItemDataRole.ForegroundRole) is not None  # red
    assert "1 urgent" in view.heading.text()
    urgent_row = view.model.index(0, Column.COUNTDOWN, header)
    assert urgent_row.data() == "due now"
    assert view.counts["urgent"] == 1
    folder = picture_folder("follow_ups")
    view.grab().save(str(folder / "urgent_review_first.png"))

    prescriber = Desk(owed.db, PRESCRIBER, Clock(NOW + dt.timedelta(minutes=1)))
    dialog = CompleteDialog(prescriber, view.queue.urgent[0])
    qtbot.addWidget(dialog)
    why = dialog.findChild(QLabel, "urgent_reason")
    assert why is not None
    assert reason in why.text()
    dialog.grab().save(str(folder / "urgent_review_complete_dialog.png"))


def test_the_left_panels_urgent_count_shows_the_urgent_item_whatever_the_filter(
    qtbot: QtBot, owed: SmallClinic
) -> None:
    """A trial's "1 urgent" showed nothing under a REMS filter: the counts are of the whole
    queue, so showing what one counted clears the filters and selects its first item."""
    review = open_urgent_review(owed, NOW)
    view = _view(qtbot, owed, Clock(NOW))
    view.kind_filter.setCurrentIndex(view.kind_filter.findData("phq9"))
    _wait(qtbot, view)
    assert view.queue is not None
    assert view.queue.urgent == ()
    assert view.counts["urgent"] == 1  # the whole queue's
    with qtbot.waitSignal(view.refreshed, timeout=10_000):
        view.show_counted("urgent")
    assert view.kind_filter.currentData() == ""
    assert view.selected_item() is not None
    assert view.selected_item().id == review  # type: ignore[union-attr]
    view.grab().save(str(picture_folder("follow_ups") / "urgent_count_clicked.png"))


def _kinds_offered(view: FollowUpQueueView) -> list[str]:
    return [view.kind_filter.itemData(i) for i in range(1, view.kind_filter.count())]


def test_the_front_desk_is_offered_only_the_kinds_and_counts_its_queue_lists(
    qtbot: QtBot, owed: SmallClinic
) -> None:
    """A user trial's front desk was offered PHQ-9, REMS forms and urgent reviews to filter
    by, and counted "0 urgent", none of which its queue ever lists (``read_clinical``)."""
    open_urgent_review(owed, NOW)
    desk = _view(qtbot, owed, Clock(NOW), actor=FRONT_DESK)
    offered = _kinds_offered(desk)
    assert "next_day_call" in offered  # a call is owed: the desk sees it (greyed)
    assert {"integration", "outreach_call"} <= set(offered)
    clinical = {"phq9", "gad7", "rems_form", "adverse_event", "urgent_review"}
    # The stage reviews are a prescriber's (a trial's desk closed an end-of-induction review).
    assert not set(offered) & (clinical | {"booster_review", "induction_review"})
    assert "urgent" not in desk.counts
    assert "urgent" not in desk.status_summary()
    nurse = _view(qtbot, owed, Clock(NOW))
    assert {"phq9", "rems_form", "urgent_review"} <= set(_kinds_offered(nurse))
    assert nurse.counts["urgent"] == 1
    # A filter chosen stays chosen when the queue is read again.
    desk.kind_filter.setCurrentIndex(desk.kind_filter.findData("next_day_call"))
    _wait(qtbot, desk)
    _refresh(qtbot, desk)
    assert desk.kind_filter.currentData() == "next_day_call"
    assert [i.kind for i in desk.items()] == ["next_day_call"]


def test_the_front_desk_may_filter_by_the_schedule_change_calls_it_lists(
    qtbot: QtBot, owed: SmallClinic
) -> None:
    """A closure puts a "Schedule change call" on the front desk's queue, but its filter
    never offered that kind: the kinds offered are exactly those the role's queue lists."""
    with owed.db.write() as session:
        call = session.scalars(select(FollowUp).where(FollowUp.kind == "next_day_call")).one()
        session.add(
            FollowUp(
                patient_id=call.patient_id,
                appointment_id=call.appointment_id,
                kind=SCHEDULE_CHANGE_CALL,
                due_at=NOW,
                deadline_at=None,
                assignee_role="front_desk",
                priority="normal",
                status="open",
                outcome="Clinic closed: flooded hallway. IV ketamine infusion moved from …",
                created_at=NOW,
            )
        )
    desk = _view(qtbot, owed, Clock(NOW), actor=FRONT_DESK)
    offered = _kinds_offered(desk)
    assert SCHEDULE_CHANGE_CALL in offered
    assert desk.kind_filter.itemText(desk.kind_filter.findData(SCHEDULE_CHANGE_CALL)) == (
        "Schedule change call"
    )
    # Exactly the kinds the desk's queue may list: every kind there is, less the clinical.
    with owed.db.read() as session:
        clinical_kinds = load_catalog(session).settings.followups.clinical_kinds
    assert offered == [k for k in QUEUE_KINDS if listed_without_clinical(k, clinical_kinds)]
    desk.kind_filter.setCurrentIndex(desk.kind_filter.findData(SCHEDULE_CHANGE_CALL))
    _wait(qtbot, desk)
    assert [i.kind for i in desk.items()] == [SCHEDULE_CHANGE_CALL]


def test_every_kind_of_follow_up_is_one_a_queue_may_list() -> None:
    from ketadesk.scheduling.catalog import FOLLOWUP_KINDS
    from ketadesk.scheduling.followup_rules import CALL_KINDS, KIND_LABELS

    assert set(QUEUE_KINDS) == set(FOLLOWUP_KINDS) | set(CALL_KINDS) == set(KIND_LABELS)
    assert len(QUEUE_KINDS) == len(set(QUEUE_KINDS))


# -- recall and dropout ------------------------------------------------------------------------


def test_the_dropout_list_offers_booking(qtbot: QtBot, owed: SmallClinic) -> None:
    # Katherine Johnson cancelled her first KAP session this afternoon and has nothing booked.
    view = RecallListsView(Desk(owed.db, FRONT_DESK, Clock(owed.at(TUESDAY, "17:00"))))
    qtbot.addWidget(view)
    with qtbot.waitSignal(view.refreshed, timeout=10_000):
        view.refresh()
    assert view.tabs.tabText(2) == "Dropped out (1)"
    (row,) = view.dropout_model.rows()
    assert row.patient_name == "Johnson, Katherine"
    assert row.why.startswith("Missed Ketamine-assisted psychotherapy 1/3 (cancelled) Tue Nov 24")
    button = view.book_button(view.dropout_table, 0)
    assert button.accessibleName() == "Book Johnson, Katherine"
    with qtbot.waitSignal(view.book_requested) as booked:
        button.click()
    assert booked.args == [owed.ids["Katherine Johnson"]]


def test_the_recall_models_pass_the_model_tester(
    qtbot: QtBot, qtmodeltester: ModelTester, owed: SmallClinic
) -> None:
    view = RecallListsView(Desk(owed.db, FRONT_DESK, Clock(owed.at(TUESDAY, "17:00"))))
    qtbot.addWidget(view)
    with qtbot.waitSignal(view.refreshed, timeout=10_000):
        view.refresh()
    model = view.dropout_model
    assert model.rowCount() == 1
    (row,) = model.rows()
    assert model.index(0, 0).data(ROW_ROLE) == row
    assert model.index(0, 3).data(SORT_ROLE) == row.since.toordinal()  # sorts by the date
    assert model.index(0, 4).data() == ""
    assert model.index(0, 4).data(Qt.ItemDataRole.AccessibleTextRole) == "Book…"
    qtmodeltester.check(model, force_py=True)  # type: ignore[no-untyped-call]
    qtmodeltester.check(view.recall_model, force_py=True)  # type: ignore[no-untyped-call]


def test_the_heading_says_what_is_shown(qtbot: QtBot, owed: SmallClinic) -> None:
    """A user trial: the queue had no heading saying what it shows, for which day, how many."""
    clock = Clock(NOW)
    view = _view(qtbot, owed, clock)
    shown = len(view.items())
    assert view.heading.text() == f"Follow-ups due · Tue Nov 24 · {shown} open, 0 overdue"
    view.kind_filter.setCurrentIndex(view.kind_filter.findData("next_day_call"))
    _wait(qtbot, view)
    assert view.heading.text() == "Next-day calls due · Tue Nov 24 · 1 open, 0 overdue"
    view.assignee_filter.setCurrentIndex(view.assignee_filter.findData("therapist"))
    _wait(qtbot, view)
    assert view.heading.text() == (
        "Next-day calls due for Therapists · Tue Nov 24 · 0 open, 0 overdue"
    )
    view.assignee_filter.setCurrentIndex(0)
    _wait(qtbot, view)
    view.kind_filter.setCurrentIndex(0)
    _wait(qtbot, view)
    # The clinic's day by the desk's clock, not the computer's.
    clock.now = owed.at(WEDNESDAY, "16:00")
    _refresh(qtbot, view)
    queue = view.queue
    assert queue is not None
    assert view.heading.text() == (
        f"Follow-ups due · Wed Nov 25 · {len(queue.items)} open, {len(queue.overdue)} overdue"
    )
    assert queue.overdue  # Tuesday's PHQ-9s
    image = view.grab()
    folder = os.environ.get("KETADESK_SCREENSHOTS")
    if folder:
        assert image.save(str(Path(folder) / "follow-up-queue-heading.png"))


def test_working_a_follow_up_leaves_a_short_message(
    qtbot: QtBot, owed: SmallClinic, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Recording a call, snoozing and completing each say what was done (the window shows it
    in its status bar: ui/shell/pages.py)."""
    view = _view(qtbot, owed, Clock(owed.at(WEDNESDAY, "09:00")))
    said: list[str] = []
    view.noted.connect(said.append)
    call = _item(view, "Turing, Alan", "next_day_call")

    def work(action: str) -> None:
        assert view.select_follow_up(call.id)
        with qtbot.waitSignal(view.refreshed, timeout=10_000):
            view.actions_by_name[action].trigger()

    monkeypatch.setattr(
        FollowUpQueueView,
        "attempt_dialog",
        lambda desk, item, parent: AttemptResult(item.id, 1, False, owed.at(WEDNESDAY, "13:00"), 2),
    )
    monkeypatch.setattr(FollowUpQueueView, "snooze_dialog", lambda desk, item, parent: True)
    monkeypatch.setattr(FollowUpQueueView, "complete_dialog", lambda desk, item, parent: True)
    for action in ("record_attempt", "snooze", "complete"):
        work(action)
    assert said == [
        "Call recorded: Turing, Alan · call again Wed Nov 25 13:00",
        "Snoozed: Next-day call for Turing, Alan",
        "Completed: Next-day call for Turing, Alan",
    ]


# -- what the signed-in role may do ------------------------------------------------------------

PRESCRIBER = Actor(user_id=None, username="dr_lee", role="prescriber")


def test_a_nurse_sees_an_urgent_reviews_complete_greyed_with_who_may(
    qtbot: QtBot, owed: SmallClinic
) -> None:
    review = open_urgent_review(owed, NOW)
    view = _view(qtbot, owed, Clock(NOW))
    assert view.select_follow_up(review)
    button = view.buttons["complete"]
    assert not button.isEnabled()
    assert not view.actions_by_name["complete"].isEnabled()
    assert button.toolTip() == "An urgent review is closed by a prescriber"
    # The rest of the work on it stays the nurse's: a call, a snooze.
    assert view.buttons["record_attempt"].isEnabled()
    assert view.buttons["snooze"].isEnabled()
    view.resize(1000, 420)
    view.grab().save(str(picture_folder("follow_ups") / "urgent_review_for_a_nurse.png"))

    # The prescriber may close it; and a next-day call is greyed for nobody here.
    prescriber = _view(qtbot, owed, Clock(NOW), actor=PRESCRIBER)
    assert prescriber.select_follow_up(review)
    assert prescriber.buttons["complete"].isEnabled()
    assert prescriber.buttons["complete"].toolTip() == "Mark done with its outcome (Ctrl+D)"


def test_who_may_close_an_urgent_review_is_the_clinics_setting(
    qtbot: QtBot, owed: SmallClinic
) -> None:
    from ketadesk.store.models import ClinicSetting

    review = open_urgent_review(owed, NOW)
    with owed.db.write() as session:
        row = session.get(ClinicSetting, "urgent_review")
        value = dict(row.value) if row is not None else {}
        value["close_roles"] = ["prescriber", "nurse"]
        if row is None:
            session.add(ClinicSetting(key="urgent_review", value=value))
        else:
            row.value = value
    view = _view(qtbot, owed, Clock(NOW))
    assert view.select_follow_up(review)
    assert view.buttons["complete"].isEnabled()


def test_the_front_desk_sees_a_clinical_call_greyed(qtbot: QtBot, owed: SmallClinic) -> None:
    view = _view(qtbot, owed, Clock(owed.at(WEDNESDAY, "09:00")), actor=FRONT_DESK)
    call = _item(view, "Turing, Alan", "next_day_call")
    assert view.select_follow_up(call.id)
    for name in ("record_attempt", "complete", "snooze"):
        assert not view.buttons[name].isEnabled(), name
        assert view.buttons[name].toolTip() == "Only a nurse or prescriber may work a Next-day call"
    assert view.buttons["open_patient"].isEnabled()


@pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")  # offscreen
def test_the_calls_made_stay_in_view_in_a_window_too_narrow_for_every_column(
    qtbot: QtBot, owed: SmallClinic
) -> None:
    """Trial 3, C23: the Calls column ran off the list's right edge ("1 · No answer Mo")."""
    from ketadesk.services.followups import actions

    clock = Clock(owed.at(WEDNESDAY, "09:00"))
    view = _view(qtbot, owed, clock)
    call = _item(view, "Turing, Alan", "next_day_call")
    actions.record_attempt(owed.db, NURSE, call.id, "voicemail", now=clock.now)
    view.resize(800, 600)
    _refresh(qtbot, view)
    view.show()
    qtbot.waitExposed(view)
    header = view.tree.header()
    text = attempts_text(_item(view, "Turing, Alan", "next_day_call"))
    needed = view.tree.fontMetrics().horizontalAdvance(text)
    qtbot.waitUntil(
        lambda: (
            header.sectionViewportPosition(Column.ATTEMPTS) + header.sectionSize(Column.ATTEMPTS)
            <= view.tree.viewport().width()
        )
    )
    assert header.sectionSize(Column.ATTEMPTS) >= needed
    view.grab().save(str(picture_folder("trial3") / "follow_ups_calls_in_view.png"))


def test_the_widest_columns_give_way_first_and_no_further_than_their_floor() -> None:
    wanted = {
        Column.PATIENT: 300,
        Column.PHONE: 110,
        Column.FOLLOW_UP: 170,
        Column.DUE: 240,
        Column.COUNTDOWN: 195,
        Column.ATTEMPTS: 166,
        Column.ASSIGNED: 160,
    }
    roomy = share_columns(wanted, 2000)
    assert roomy == {**wanted, Column.PATIENT: PATIENT_COLUMN_MAX}
    tight = share_columns(wanted, 1100)
    assert sum(tight.values()) <= 1100
    assert tight[Column.ATTEMPTS] == 166  # the short ones keep their content's width
    assert tight[Column.PHONE] == 110
    assert tight[Column.ASSIGNED] == 160
    assert tight[Column.DUE] < 240
    too_narrow = share_columns(wanted, 500)
    assert all(too_narrow[c] == floor for c, floor in SHRINKABLE_COLUMNS.items())


def test_a_phq9_is_completed_by_entering_its_answers_or_marked_not_taken_with_why(
    qtbot: QtBot, owed: SmallClinic, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A user trial completed a PHQ-9 follow-up with the word "done" and no scores.  Complete…
    on a measure offers its form first; "not taken" needs a reason and says so."""
    clock = Clock(owed.at(TUESDAY, "08:30"))
    view = _view(qtbot, owed, clock)
    phq9 = _item(view, "Lovelace, Ada", "phq9")
    assert view.select_follow_up(phq9.id)
    opened: list[tuple[int, str, int]] = []
    view.measure_requested.connect(lambda *args: opened.append(args))

    def enter(desk: Desk, item: FollowUpItem, parent: object) -> MeasureDoneDialog:
        dialog = MeasureDoneDialog(desk, item)
        qtbot.addWidget(dialog)
        assert dialog.windowTitle() == "Complete the PHQ-9 — Lovelace, Ada"
        assert dialog.enter_button.text() == "Enter PHQ-9 answers…"
        assert dialog.enter_button.isDefault()
        dialog.enter_button.click()
        return dialog

    monkeypatch.setattr(FollowUpQueueView, "measure_dialog", enter)
    view.actions_by_name["complete"].trigger()
    assert opened == [(owed.ids["Ada Lovelace"], "phq9", phq9.appointment_id)]
    assert _item(view, "Lovelace, Ada", "phq9").id == phq9.id  # still open: nothing saved

    def not_taken(desk: Desk, item: FollowUpItem, parent: object) -> MeasureDoneDialog:
        dialog = MeasureDoneDialog(desk, item)
        qtbot.addWidget(dialog)
        assert not saved(qtbot, dialog)  # a reason is required
        assert dialog.errors()["outcome"].startswith("say why it was not taken")
        dialog.reason.setText("declined today")
        assert saved(qtbot, dialog)
        return dialog

    monkeypatch.setattr(FollowUpQueueView, "measure_dialog", not_taken)
    with qtbot.waitSignal(view.refreshed, timeout=10_000):
        view.actions_by_name["complete"].trigger()
    assert all(i.id != phq9.id for i in view.items())
    with owed.db.read() as session:
        row = session.get(FollowUp, phq9.id)
        assert row is not None
        assert (row.status, row.outcome) == ("cancelled", "Not taken: declined today")
    # The words of the ordinary Complete dialog never close a measure either.
    other = next(i for i in view.items() if i.kind == "phq9")
    dialog = CompleteDialog(view.desk, other)
    qtbot.addWidget(dialog)
    dialog.outcome.setPlainText("done")
    assert not saved(qtbot, dialog)
    assert "is done when its answers are entered" in dialog.errors()["outcome"]
