"""The Rooms and equipment page: rooms and monitors added through the window, mistakes marked
at their fields with nothing written, retiring asks first when sessions ahead hold the room."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QPushButton, QWidget
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from ketadesk.services.common.context import Actor
from ketadesk.store import changes
from ketadesk.store.models import Closure, Resource
from ketadesk.ui.common.desk import Desk
from ketadesk.ui.settings.resources_page import ResourceDialog, ResourcesPage
from tests.clinic_fixtures import SmallClinic
from tests.pictures import picture_folder
from tests.ui.conftest import NOW

ADMIN = Actor(user_id=None, username="admin", role="admin")
FRONT_DESK = Actor(user_id=None, username="maria", role="front_desk")


def _page(qtbot: QtBot, clinic: SmallClinic, actor: Actor = ADMIN) -> ResourcesPage:
    page = ResourcesPage(Desk(clinic.db, actor, now=lambda: NOW))
    qtbot.addWidget(page)
    page.resize(1100, 520)
    page.show()
    qtbot.waitUntil(lambda: page.model.rowCount() > 0 and not page.is_busy())
    return page


@pytest.fixture
def page(qtbot: QtBot, clinic: SmallClinic) -> ResourcesPage:
    return _page(qtbot, clinic)


def _names(page: ResourcesPage) -> list[str]:
    return [row.name for row in page.model.rows()]


def _stored(clinic: SmallClinic) -> dict[str, tuple[str, str, list[str]]]:
    with clinic.db.read() as s:
        return {r.name: (r.kind, r.subkind, list(r.serves)) for r in s.scalars(select(Resource))}


def _counter(clinic: SmallClinic) -> int:
    with clinic.db.read() as s:
        return changes.current(s)


def _click(button: QWidget) -> None:
    QTest.mouseClick(button, Qt.MouseButton.LeftButton)


def _open(qtbot: QtBot, page: ResourcesPage, button: QPushButton) -> ResourceDialog:
    _click(button)
    dialog = page.dialog
    assert dialog is not None
    qtbot.waitExposed(dialog)
    return dialog


def _save(qtbot: QtBot, dialog: ResourceDialog) -> None:
    save = dialog.buttons.buttons()[0]
    assert isinstance(save, QPushButton)
    _click(save)
    qtbot.waitUntil(lambda: not dialog.is_saving())


def _tick(dialog: ResourceDialog, name: str) -> None:
    for i in range(dialog.served.count()):
        item = dialog.served.item(i)
        if item.text() == name:
            item.setCheckState(Qt.CheckState.Checked)
            return
    raise AssertionError(f"no session type {name!r} offered")


def test_a_room_and_a_monitor_are_added_through_the_window(
    qtbot: QtBot, clinic: SmallClinic, page: ResourcesPage
) -> None:
    dialog = _open(qtbot, page, page.add_room_button)
    assert dialog.windowTitle() == "Add room"
    offered = [dialog.served.item(i).text() for i in range(dialog.served.count())]
    assert "Spravato (esketamine)" in offered
    assert "Integration therapy" not in offered  # it asks for an office, not a treatment room
    dialog.name.setText("Garden Room")
    dialog.short_name.setText("GR")
    _tick(dialog, "Spravato (esketamine)")
    with qtbot.waitSignal(page.loaded):
        _save(qtbot, dialog)
    assert page.dialog is None  # closed
    assert "Garden Room" in _names(page)

    dialog = _open(qtbot, page, page.add_equipment_button)
    assert dialog.windowTitle() == "Add equipment"
    dialog.subkind.setCurrentIndex(dialog.subkind.findData("vital_signs_monitor"))
    dialog.name.setText("Monitor 9")
    with qtbot.waitSignal(page.loaded):
        _save(qtbot, dialog)
    assert "Monitor 9" in _names(page)
    stored = _stored(clinic)
    assert stored["Garden Room"] == ("room", "treatment", ["spravato"])
    assert stored["Monitor 9"] == ("equipment", "vital_signs_monitor", [])
    served = page.model.index(_names(page).index("Garden Room"), 5).data()
    assert served == "Spravato (esketamine)"


def test_mistakes_are_marked_at_their_fields_and_nothing_is_written(
    qtbot: QtBot, clinic: SmallClinic, page: ResourcesPage
) -> None:
    before, counter = _stored(clinic), _counter(clinic)
    dialog = _open(qtbot, page, page.add_room_button)
    dialog.name.setText("room 2")
    dialog.capacity.setText("none")
    with qtbot.waitSignal(dialog.not_saved):
        _save(qtbot, dialog)
    assert dialog.errors() == {
        "name": "Room 2 already exists; choose another name",
        "capacity": "enter a whole number, 1 or more",
    }
    assert "nothing has been saved" in dialog.message.text()
    assert dialog.isVisible()
    assert dialog.fields["capacity"].editor.accessibleDescription().startswith("Capacity: ")
    assert _stored(clinic) == before
    assert _counter(clinic) == counter
    dialog.name.setText("Room 5")
    dialog.capacity.setText("1")
    with qtbot.waitSignal(page.loaded):
        _save(qtbot, dialog)
    assert "Room 5" in _names(page)


def test_renaming_a_room_keeps_it_selected(
    qtbot: QtBot, clinic: SmallClinic, page: ResourcesPage
) -> None:
    page.select(clinic.ids["Room 3"])
    dialog = _open(qtbot, page, page.edit_button)
    assert dialog.name.text() == "Room 3"
    assert not dialog.kind.isEnabled()
    dialog.name.setText("Quiet Room")
    with qtbot.waitSignal(page.loaded):
        _save(qtbot, dialog)
    selected = page.selected()
    assert selected is not None
    assert selected.name == "Quiet Room"


def test_retiring_a_room_with_sessions_ahead_asks_first(
    qtbot: QtBot, clinic: SmallClinic, page: ResourcesPage
) -> None:
    asked: list[str] = []
    answers = iter([False, True])

    def confirm(_parent: QWidget, message: str) -> bool:
        asked.append(message)
        return next(answers)

    page.confirm_force = confirm
    page.select(clinic.ids["Room 1"])
    assert page.retire_button.text() == "Retire"
    _click(page.retire_button)
    qtbot.waitUntil(lambda: "was not retired" in page.message.text())
    assert "Room 1 still has" in asked[0]
    assert "Lovelace, A." in asked[0]
    assert _stored(clinic)["Room 1"][0] == "room"
    with qtbot.waitSignal(page.loaded):
        _click(page.retire_button)
    assert "Room 1" not in _names(page)
    assert "still hold it and must be moved" in page.message.text()
    with qtbot.waitSignal(page.loaded):
        page.show_retired.setChecked(True)
    assert "Room 1" in _names(page)
    page.select(clinic.ids["Room 1"])
    assert page.retire_button.text() == "Reactivate"
    with qtbot.waitSignal(page.loaded):
        _click(page.retire_button)
    row = page.selected()
    assert row is not None
    assert row.active


def test_the_front_desk_sees_the_list_but_changes_nothing(
    qtbot: QtBot, clinic: SmallClinic
) -> None:
    page = _page(qtbot, clinic, FRONT_DESK)
    page.select(clinic.ids["Room 1"])
    assert not page.add_room_button.isEnabled()
    assert not page.edit_button.isEnabled()
    assert not page.retire_button.isEnabled()


def test_the_model_keeps_qt_s_rules(page: ResourcesPage, qtmodeltester: object) -> None:
    qtmodeltester.check(page.model)  # type: ignore[attr-defined]


def test_rooms_page_screenshot(qtbot: QtBot, clinic: SmallClinic, tmp_path: Path) -> None:
    with clinic.db.write() as s:
        s.add(
            Closure(
                resource_id=clinic.ids["Monitor 3"],
                kind="maintenance",
                starts_at=NOW + dt.timedelta(days=1),
                ends_at=NOW + dt.timedelta(days=3),
                reason="calibration",
            )
        )
        room = s.get(Resource, clinic.ids["Room 4"])
        assert room is not None
        room.serves = ["spravato"]
    page = _page(qtbot, clinic)
    page.select(clinic.ids["Room 1"])
    assert page.grab().save(str(tmp_path / "settings-rooms.png"))
    page.grab().save(str(picture_folder("h2") / "settings-rooms.png"))
    dialog = _open(qtbot, page, page.edit_button)
    dialog.capacity.setText("0")
    with qtbot.waitSignal(dialog.not_saved):
        _save(qtbot, dialog)
    dialog.grab().save(str(picture_folder("h2") / "settings-rooms-dialog.png"))
