"""The left panel's filters narrow the day shown; its calendar moves the day; its follow-up
counts are those of the signed-in role's queue."""

from __future__ import annotations

import datetime as dt

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from ketadesk.services.common.context import Actor
from ketadesk.services.schedule.day import day_schedule
from ketadesk.ui.shell.side_panel import SidePanel
from ketadesk.ui.timeline.schedule_filter import ScheduleFilter
from tests.clinic_fixtures import SmallClinic
from tests.pictures import picture_folder
from tests.ui.clinic_day import TUESDAY, open_urgent_review
from tests.ui.conftest import NOW
from tests.ui.shell.desk_helpers import open_desk_window

FRONT_DESK = Actor(user_id=None, username="maria", role="front_desk")
NURSE = Actor(user_id=None, username="kim", role="nurse")


def test_filter_keeps_the_chosen_rooms_and_session_types(clinic: SmallClinic) -> None:
    day = day_schedule(clinic.db, TUESDAY)
    room1 = clinic.ids["Room 1"]
    only_room1 = ScheduleFilter(column_ids=frozenset({room1})).apply(day)
    assert [c.name for c in only_room1.rooms] == ["Room 1"]
    assert {a.patient_name for a in only_room1.appointments} == {"Lovelace, Ada", "Hopper, Grace"}
    spravato = ScheduleFilter(session_types=frozenset({"spravato"})).apply(day)
    assert len(spravato.rooms) == len(day.rooms)  # columns stay; blocks of other types go
    assert {a.session_type_code for a in spravato.appointments} == {"spravato"}
    assert ScheduleFilter().apply(day) is day


def test_unticking_a_room_emits_the_filter(qtbot: QtBot, clinic: SmallClinic) -> None:
    day = day_schedule(clinic.db, TUESDAY)
    panel = SidePanel()
    qtbot.addWidget(panel)
    panel.set_columns((c.id, c.name) for c in day.rooms)
    panel.set_session_types({a.session_type_code: a.session_type_name for a in day.appointments})
    item = panel.columns_list.item(1)
    assert item is not None
    assert item.text() == "Room 2"
    with qtbot.waitSignal(panel.filter_changed) as blocker:
        item.setCheckState(Qt.CheckState.Unchecked)
    chosen = blocker.args[0]
    assert isinstance(chosen, ScheduleFilter)
    assert chosen.column_ids is not None
    assert clinic.ids["Room 2"] not in chosen.column_ids
    assert clinic.ids["Room 1"] in chosen.column_ids
    assert chosen.session_types is None


def test_calendar_click_picks_the_day_and_counts_show(qtbot: QtBot) -> None:
    panel = SidePanel()
    qtbot.addWidget(panel)
    panel.set_day(dt.date(2026, 11, 24))
    with qtbot.waitSignal(panel.day_picked) as blocker:
        panel.calendar.clicked.emit(panel.calendar.selectedDate().addDays(1))
    assert blocker.args == [dt.date(2026, 11, 25)]
    assert panel.follow_ups_box.isHidden()
    panel.set_counts({"urgent": 1, "overdue": 3, "due_today": 5})
    assert not panel.follow_ups_box.isHidden()
    assert panel.count_buttons["overdue"].text() == "3 overdue"
    with qtbot.waitSignal(panel.follow_ups_requested) as blocker:
        panel.count_buttons["urgent"].click()
    assert blocker.args == ["urgent"]


def _listed(panel: SidePanel) -> list[tuple[str, bool]]:
    items = [panel.types_list.item(i) for i in range(panel.types_list.count())]
    return [(i.text(), i.checkState() == Qt.CheckState.Checked) for i in items if i is not None]


def test_the_session_types_listed_are_the_days_and_an_unticked_one_stays_unticked(
    qtbot: QtBot,
) -> None:
    """Trial 3, C21: back from 12/14 to 12/07, the list still offered "Booster review", which
    12/07 has none of.  A filter persists from day to day; the list says what it filters."""
    panel = SidePanel()
    qtbot.addWidget(panel)
    monday = {"iv_infusion": "IV ketamine infusion", "spravato": "Spravato (esketamine)"}
    later = {**monday, "booster_review": "Booster review", "intake": "Intake / screening"}
    panel.set_session_types(monday)
    panel.set_session_types(later)
    assert len(_listed(panel)) == 4
    intake = next(
        panel.types_list.item(i)
        for i in range(panel.types_list.count())
        if panel.types_list.item(i).text() == "Intake / screening"
    )
    intake.setCheckState(Qt.CheckState.Unchecked)  # hides intakes
    panel.set_session_types(monday)  # back to the first day
    assert _listed(panel) == [
        ("Intake / screening (none shown)", False),  # still filtered out, and says so
        ("IV ketamine infusion", True),
        ("Spravato (esketamine)", True),
    ]
    chosen = panel.current_filter()
    assert chosen.session_types is not None
    assert "intake" not in chosen.session_types
    assert {"iv_infusion", "spravato", "booster_review"} <= chosen.session_types
    panel.set_session_types(later)  # and on a day with intakes, they stay hidden
    assert ("Intake / screening", False) in _listed(panel)
    assert ("Booster review", True) in _listed(panel)


def test_the_panel_counts_only_what_the_role_s_queue_lists(
    qtbot: QtBot, clinic: SmallClinic
) -> None:
    """A user trial's front desk read "0 urgent" in its left panel: urgent reviews are never
    on its queue (``read_clinical``), so it has no such count; a nurse's panel has one."""
    open_urgent_review(clinic, NOW)
    shown: dict[str, list[str]] = {}
    for actor in (FRONT_DESK, NURSE):
        window = open_desk_window(qtbot, clinic.db, TUESDAY, now=lambda: NOW, actor=actor)
        panel = window.side_panel
        qtbot.waitUntil(panel.follow_ups_box.isVisible, timeout=10_000)  # counts read
        shown[actor.role] = [b.text() for b in panel.count_buttons.values() if not b.isHidden()]
        panel.grab().save(str(picture_folder() / f"side_panel_{actor.role}.png"))
        window.close()
    assert not any("urgent" in text for text in shown["front_desk"])
    assert [t.split(" ", 1)[1] for t in shown["front_desk"]] == ["overdue", "due today"]
    assert "1 urgent" in shown["nurse"]
