"""Settings ▸ Staff through the window: add a nurse with two shifts (one every other week),
bad input marked at its fields with nothing saved, deactivating a booked nurse asks first."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot
from sqlalchemy import func, select

from ketadesk.services.common.context import SYSTEM, Actor
from ketadesk.services.settings import staff
from ketadesk.services.settings.staff import StaffStillBooked
from ketadesk.store.models import AuditEvent, Resource
from ketadesk.ui.common.desk import Desk
from ketadesk.ui.settings.staff_page import StaffDialog, StaffPage, StaffTableModel
from tests.clinic_fixtures import SmallClinic
from tests.ui.conftest import NOW

SCREENSHOT = Path(__file__).resolve().parents[3] / "docs" / "screenshots" / "settings-staff.png"


def _page(qtbot: QtBot, clinic: SmallClinic, actor: Actor = SYSTEM) -> StaffPage:
    page = StaffPage(Desk(clinic.db, actor, now=lambda: NOW))
    qtbot.addWidget(page)
    page.resize(980, 420)
    page.show()
    qtbot.waitUntil(lambda: page.model.rowCount() > 0, timeout=5000)
    return page


def _open_add(qtbot: QtBot, page: StaffPage) -> StaffDialog:
    QTest.mouseClick(page.add_button, Qt.MouseButton.LeftButton)
    dialog = page.dialog
    assert dialog is not None
    qtbot.waitExposed(dialog)
    return dialog


def test_the_page_adds_a_nurse_with_two_shifts(qtbot: QtBot, clinic: SmallClinic) -> None:
    page = _page(qtbot, clinic)
    before = page.model.rowCount()
    dialog = _open_add(qtbot, page)
    QTest.keyClicks(dialog.fields["first_name"], "Lee")
    QTest.keyClicks(dialog.fields["last_name"], "Park")
    QTest.keyClicks(dialog.fields["credentials"], "RN")
    QTest.keyClicks(dialog.fields["phone"], "(619) 555-0142")
    dialog.tabs.setCurrentIndex(1)
    editor = dialog.shift_editor
    QTest.mouseClick(editor.add_button, Qt.MouseButton.LeftButton)
    editor.set_row(0, weekday=1, start="08:00", end="16:30")
    QTest.mouseClick(editor.add_button, Qt.MouseButton.LeftButton)
    anchor = dt.date(2026, 11, 30)
    editor.set_row(1, weekday=4, start="09:00", end="13:00", every_n_weeks=2, anchor=anchor)
    dialog.tabs.setCurrentIndex(2)
    spravato = [
        i
        for i in range(dialog.qualifications.count())
        if dialog.qualifications.item(i).text().startswith("Spravato")
    ]
    assert spravato, "the nurse's Spravato phases are offered"
    for i in spravato:
        dialog.qualifications.item(i).setCheckState(Qt.CheckState.Checked)
    dialog.tabs.setCurrentIndex(1)
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    dialog.grab().save(str(SCREENSHOT.with_name("settings-staff-shifts.png")))
    with qtbot.waitSignal(page.loaded, timeout=5000):
        dialog.save()
    assert page.model.rowCount() == before + 1
    page.select(next(r.id for r in page.model.rows() if r.name == "Lee Park"))
    page.grab().save(str(SCREENSHOT))
    [lee] = [s for s in staff.list_staff(clinic.db) if s.name == "Lee Park"]
    assert lee.printed_name == "Lee Park, RN"
    assert [(s.weekday, s.start_minute, s.end_minute, s.every_n_weeks) for s in lee.shifts] == [
        (1, 8 * 60, 16 * 60 + 30, 1),
        (4, 9 * 60, 13 * 60, 2),
    ]
    assert lee.shifts[1].anchor == anchor
    assert {q[0] for q in lee.qualifications} == {"spravato"}


def test_bad_input_is_marked_at_its_field_and_nothing_is_saved(
    qtbot: QtBot, clinic: SmallClinic
) -> None:
    page = _page(qtbot, clinic)
    dialog = _open_add(qtbot, page)
    QTest.keyClicks(dialog.fields["last_name"], "Park")
    QTest.keyClicks(dialog.fields["email"], "not-an-address")
    QTest.mouseClick(dialog.shift_editor.add_button, Qt.MouseButton.LeftButton)
    dialog.shift_editor.set_row(0, start="17:00", end="09:00")
    with qtbot.waitSignal(dialog.not_saved, timeout=5000):
        dialog.save()
    assert dialog.errors["first_name"].text() == "the first name is required"
    assert "e-mail" in dialog.errors["email"].text()
    assert "start before it ends" in dialog.shift_editor.error.text()
    assert dialog.isVisible()
    with clinic.db.read() as s:
        assert s.scalar(select(func.count()).where(Resource.name == " Park")) == 0
        assert s.scalar(select(func.count()).where(Resource.name == "Park")) == 0


def test_the_front_desk_is_refused_in_words_and_the_refusal_audited(
    qtbot: QtBot, clinic: SmallClinic
) -> None:
    page = _page(qtbot, clinic, Actor(user_id=None, username="maria", role="front_desk"))
    dialog = _open_add(qtbot, page)
    QTest.keyClicks(dialog.fields["first_name"], "Lee")
    QTest.keyClicks(dialog.fields["last_name"], "Park")
    with qtbot.waitSignal(dialog.not_saved, timeout=5000):
        dialog.save()
    assert "Only an administrator may change the clinic's settings" in dialog.message.text()
    with clinic.db.read() as s:
        assert s.scalar(select(func.count()).where(AuditEvent.action == "refused")) == 1


def test_deactivating_asks_first_when_the_nurse_has_sessions(
    qtbot: QtBot, clinic: SmallClinic, monkeypatch: pytest.MonkeyPatch
) -> None:
    page = _page(qtbot, clinic)
    kim = clinic.ids["Nurse Kim"]
    booked = staff.future_sessions(clinic.db, kim, now=NOW)
    asked: list[StaffStillBooked] = []

    def confirm(_parent: QWidget, err: StaffStillBooked) -> bool:
        asked.append(err)
        return True

    monkeypatch.setattr(page, "confirm_deactivation", confirm)
    page.select(kim)
    assert page.active_button.text() == "Deactivate"
    with qtbot.waitSignal(page.changed, timeout=5000):
        QTest.mouseClick(page.active_button, Qt.MouseButton.LeftButton)
    assert (len(asked) == 1) == bool(booked)
    assert not staff.get_staff(clinic.db, kim).active
    qtbot.waitUntil(lambda: page.active_button.text() == "Reactivate", timeout=5000)


def test_the_staff_model_passes_qtmodeltester(qtmodeltester: object, clinic: SmallClinic) -> None:
    model = StaffTableModel()
    model.set_rows(staff.list_staff(clinic.db, include_inactive=True))
    qtmodeltester.check(model)  # type: ignore[attr-defined]
