"""The user trial's new clinic (rooms, an office, vital-signs monitors, staff with shifts, no
pulse oximeter): the set-up assistant's summary and Settings ▸ Rooms and equipment say which
session types it can book and what Spravato lacks; the Add-equipment dialog names the session
types that need each kind of equipment."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from ketadesk.services.common.context import Actor
from ketadesk.services.settings.resources import ResourceForm, add_resource
from ketadesk.store.database import Database
from ketadesk.ui.common.desk import Desk
from ketadesk.ui.settings.resources_page import ResourcesPage
from ketadesk.ui.settings.setup_assistant import SetupAssistant
from tests.clinic_fixtures import new_clinic
from tests.pictures import picture_folder
from tests.services.settings.test_readiness import _trial_clinic
from tests.ui.conftest import NOW

ADMIN = Actor(user_id=None, username="admin", role="admin")
TIMEOUT = 10_000
pytestmark = pytest.mark.qt_log_ignore("does not support propagateSizeHints")  # offscreen


@pytest.fixture
def trial(sqlite_url: str) -> Iterator[Database]:
    db = new_clinic(sqlite_url)
    _trial_clinic(db)
    yield db
    db.dispose()


def _shot(qtbot: QtBot, widget: object, name: str) -> None:
    qtbot.wait(100)  # the labels' new text laid out
    assert widget.grab().save(str(picture_folder("setup-shots") / name))  # type: ignore[attr-defined]


def test_the_summary_names_what_each_session_type_lacks(qtbot: QtBot, trial: Database) -> None:
    assistant = SetupAssistant(Desk(trial, ADMIN, now=lambda: NOW))
    qtbot.addWidget(assistant)
    assistant.show()
    while assistant.currentPage() is not assistant.summary:
        assistant.next()
    qtbot.waitUntil(lambda: assistant.summary.readiness is not None, timeout=TIMEOUT)
    text = assistant.summary.summary.text()
    assert "Spravato (esketamine): needs a pulse oximeter (none yet)" in text
    assert "IV ketamine infusion: ready" in text
    assert "The clinic can book: IV ketamine infusion" in text
    assert "not yet: Spravato (esketamine) (no pulse oximeter)." in text
    _shot(qtbot, assistant, "setup-summary.png")


def test_rooms_and_equipment_shows_readiness_and_the_needed_equipment(
    qtbot: QtBot, trial: Database
) -> None:
    page = ResourcesPage(Desk(trial, ADMIN, now=lambda: NOW))
    qtbot.addWidget(page)
    page.resize(1100, 620)
    page.show()
    qtbot.waitUntil(lambda: page.model.rowCount() > 0 and not page.is_busy(), timeout=TIMEOUT)
    assert "Spravato (esketamine): needs a pulse oximeter (none yet)" in page.readiness.text()
    page.add_equipment_button.click()
    dialog = page.dialog
    assert dialog is not None
    qtbot.waitExposed(dialog)
    offered = {dialog.subkind.itemData(i): dialog.subkind.itemText(i)
               for i in range(dialog.subkind.count())}  # fmt: skip
    assert offered["pulse_oximeter"] == "Pulse oximeter (needed by Spravato (esketamine))"
    assert "IV ketamine infusion" in offered["vital_signs_monitor"]
    # Equipment no session type holds reads as information, not as a fault.
    assert offered["pump"] == "Infusion pump (kept on record; no booking reserves one)"
    pump = dialog.subkind.findData("pump")
    assert dialog.subkind.itemData(pump, Qt.ItemDataRole.ToolTipRole) == (
        "No session type holds an infusion pump: it is listed with the clinic's equipment, "
        "and bookings never wait for one."
    )
    dialog.subkind.setCurrentIndex(pump)
    assert dialog.served_hint.text() == "Kept on record: no session type reserves an infusion pump."
    _shot(qtbot, dialog, "setup-add-pump.png")
    dialog.subkind.setCurrentIndex(dialog.subkind.findData("pulse_oximeter"))
    _shot(qtbot, dialog, "setup-add-equipment.png")
    _shot(qtbot, page, "setup-resources-before.png")
    dialog.reject()
    add_resource(trial, ADMIN, ResourceForm("equipment", "pulse_oximeter", "Oximeter", "OX"))
    with qtbot.waitSignal(page.loaded, timeout=TIMEOUT):
        page.refresh()
    assert "Spravato (esketamine): ready" in page.readiness.text()
    assert "not yet" not in page.readiness.text()
    _shot(qtbot, page, "setup-resources-after.png")
