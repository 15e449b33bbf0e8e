"""The left panel's filters narrow the day shown; its calendar moves the day."""

from __future__ import annotations

import datetime as dt

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from ketadesk.services.schedule.day import day_schedule
from ketadesk.ui.shell.side_panel import SidePanel
from ketadesk.ui.timeline.schedule_filter import ScheduleFilter
from tests.clinic_fixtures import SmallClinic
from tests.ui.clinic_day import TUESDAY


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
    panel.add_session_types({a.session_type_code: a.session_type_name for a in day.appointments})
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
