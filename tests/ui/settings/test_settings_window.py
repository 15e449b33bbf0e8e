"""Clinic ▸ Settings… for administrators: the window opens from the menu, the Clinic page edits
and saves through it (mistakes marked, nothing saved), and the set-up assistant is offered on
a clinic with no rooms and no staff, not on one that has them."""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QTime
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from ketadesk.commands.run import open_day_window
from ketadesk.services.access.accounts import sign_in_screen
from ketadesk.services.clinic.clinic_setup import open_clinic
from ketadesk.services.common.context import Actor
from ketadesk.services.settings.clinic_details import clinic_details
from ketadesk.store.database import Database
from ketadesk.store.models import AuditEvent
from ketadesk.ui.common.background import wait_for_background_work
from ketadesk.ui.settings.clinic_page import ClinicPage
from ketadesk.ui.settings.settings_dialog import SettingsDialog
from ketadesk.ui.settings.setup_assistant import SetupAssistant
from ketadesk.ui.shell.main_window import MainWindow
from ketadesk.ui.shell.session import SignedInSession
from tests.clinic_fixtures import SmallClinic
from tests.ui.clinic_day import TUESDAY
from tests.ui.conftest import NOW
from tests.ui.shell.desk_helpers import desk_controller_of, wait_for_day

ADMIN = Actor(user_id=None, username="ada", role="admin")
FRONT_DESK = Actor(user_id=None, username="jo", role="front_desk")
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)
pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")


def _window(qtbot: QtBot, db: Database, actor: Actor) -> MainWindow:
    win = open_day_window(db, TUESDAY, now=lambda: NOW, actor=actor)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    wait_for_day(qtbot, win)
    return win


def _open_settings(qtbot: QtBot, win: MainWindow) -> SettingsDialog:
    action = win.actions_by_name["settings"]
    assert action.isVisible()
    assert action.isEnabled()
    action.trigger()
    settings = desk_controller_of(win).settings_window
    assert settings is not None
    qtbot.addWidget(settings)
    assert settings.isVisible()
    assert not settings.isModal()
    return settings


def _clinic_page(qtbot: QtBot, settings: SettingsDialog) -> ClinicPage:
    page = settings.pages["clinic"]
    assert isinstance(page, ClinicPage)
    qtbot.waitUntil(lambda: page.details is not None and page.isEnabled(), timeout=10_000)
    return page


def _save(qtbot: QtBot, page: ClinicPage, signal: str = "saved") -> None:
    with qtbot.waitSignal(getattr(page, signal), timeout=10_000):
        page.save_button.click()


def _audit(db: Database, action: str) -> list[AuditEvent]:
    with db.read() as session:
        rows = list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)))
        session.expunge_all()
        return rows


def test_settings_open_from_the_clinic_menu_for_an_administrator(
    qtbot: QtBot, clinic: SmallClinic
) -> None:
    win = _window(qtbot, clinic.db, ADMIN)
    assert win.actions_by_name["settings"] in win._menus["Clinic"].actions()
    settings = _open_settings(qtbot, win)
    assert settings.current_page() == "clinic"
    assert settings.page_list.item(0).text() == "Clinic"
    page = _clinic_page(qtbot, settings)
    assert page.name_edit.text() == clinic_details(clinic.db).name
    assert page.paper_combo.currentData() == "letter"
    win.actions_by_name["settings"].trigger()  # again: the same window, raised
    assert desk_controller_of(win).settings_window is settings


def test_the_front_desk_has_no_settings(qtbot: QtBot, clinic: SmallClinic) -> None:
    win = _window(qtbot, clinic.db, FRONT_DESK)
    action = win.actions_by_name["settings"]
    assert not action.isEnabled()
    assert not action.isVisible()


def test_the_clinic_page_marks_mistakes_then_saves(
    qtbot: QtBot, clinic: SmallClinic, tmp_path: Path
) -> None:
    win = _window(qtbot, clinic.db, ADMIN)
    page = _clinic_page(qtbot, _open_settings(qtbot, win))
    before = clinic_details(clinic.db)
    # Tuesday closing before it opens, and a phone number that is not one: both named.
    page.day_rows["tue"].closes.setTime(QTime(6, 0))
    page.phone_edit.setText("call us!")
    _save(qtbot, page, "not_saved")
    assert page.errors["hours.tue"].isVisibleTo(page)
    assert "before it opens" in page.errors["hours.tue"].text()
    assert page.errors["phone"].isVisibleTo(page)
    assert "nothing has been saved" in page.message.text()
    assert clinic_details(clinic.db) == before
    assert _audit(clinic.db, "configure_clinic") == []
    # Put right, with a new name, Saturday mornings and a logo.
    page.day_rows["tue"].closes.setTime(QTime(18, 0))
    page.phone_edit.setText("(415) 555-0199")
    page.name_edit.setText("Bayview Ketamine Clinic")
    page.day_rows["sat"].open.setChecked(True)
    page.day_rows["sat"].opens.setTime(QTime(9, 0))
    page.day_rows["sat"].closes.setTime(QTime(13, 0))
    logo = tmp_path / "logo.png"
    logo.write_bytes(PNG)
    page.use_logo_file(logo)
    qtbot.waitUntil(lambda: page.remove_logo_button.isEnabled(), timeout=10_000)
    assert page.is_dirty()
    _save(qtbot, page)
    assert not page.errors["hours.tue"].isVisibleTo(page)
    assert page.status.text() == "Saved."
    after = clinic_details(clinic.db)
    assert after.name == "Bayview Ketamine Clinic"
    assert after.phone == "(415) 555-0199"
    sat = next(h for h in after.hours if h.day == "sat")
    assert (sat.open, sat.opens, sat.closes) == (True, "09:00", "13:00")
    assert after.logo is not None
    assert after.logo.raw() == PNG
    (event,) = _audit(clinic.db, "configure_clinic")
    assert event.username == "ada"
    assert event.before is not None
    assert event.before["hours"]["sat"] == []
    assert event.after is not None
    assert event.after["hours"]["sat"] == ["09:00", "13:00"]
    assert not page.is_dirty()


def test_a_logo_too_large_is_refused_at_its_field(
    qtbot: QtBot, clinic: SmallClinic, tmp_path: Path
) -> None:
    win = _window(qtbot, clinic.db, ADMIN)
    page = _clinic_page(qtbot, _open_settings(qtbot, win))
    assert page.details is not None
    huge = tmp_path / "huge.png"
    huge.write_bytes(PNG + b"\0" * (page.details.logo_max_kb * 1024))
    page.use_logo_file(huge)
    qtbot.waitUntil(lambda: page.errors["logo"].isVisibleTo(page), timeout=10_000)
    assert f"at most {page.details.logo_max_kb} KB" in page.errors["logo"].text()
    assert not page.remove_logo_button.isEnabled()


@pytest.fixture
def empty_clinic(tmp_path: Path) -> Iterator[Database]:
    opened = open_clinic(f"sqlite:///{tmp_path / 'new.sqlite'}", create=True)
    yield opened.db
    opened.db.dispose()


def _sign_in_first_admin(qtbot: QtBot, db: Database) -> MainWindow:
    win = open_day_window(db, TUESDAY, now=lambda: NOW)
    qtbot.addWidget(win)
    session = SignedInSession(win, db, now=lambda: NOW, ask_first_admin=lambda _db, _p: ADMIN)
    assert session.start(sign_in_screen(db))
    return win


def test_the_assistant_is_offered_on_an_empty_clinic(qtbot: QtBot, empty_clinic: Database) -> None:
    win = _sign_in_first_admin(qtbot, empty_clinic)
    controller = desk_controller_of(win)
    qtbot.waitUntil(lambda: controller.setup_assistant is not None, timeout=10_000)
    assistant = controller.setup_assistant
    assert isinstance(assistant, SetupAssistant)
    qtbot.addWidget(assistant)
    assert assistant.isVisible()
    assert "clinic" in assistant.steps
    assistant.next()  # the clinic's details
    page = assistant.steps["clinic"]
    assert isinstance(page, ClinicPage)
    qtbot.waitUntil(lambda: page.details is not None, timeout=10_000)
    page.name_edit.setText("Harbor Clinic")
    with qtbot.waitSignal(page.saved, timeout=10_000):
        assistant.next()  # saves the step, then goes on
    qtbot.waitUntil(lambda: assistant.currentPage() is not None and not page.isVisible())
    assert clinic_details(empty_clinic).name == "Harbor Clinic"
    while assistant.currentPage() is not assistant.summary:
        assistant.next()
    qtbot.waitUntil(lambda: assistant.summary.readiness is not None, timeout=10_000)
    text = assistant.summary.summary.text()
    assert "0 rooms" in text
    assert "cannot book yet" in text
    assert "at least one room" in text


def test_the_assistant_is_not_offered_on_a_clinic_with_rooms_and_staff(
    qtbot: QtBot, clinic: SmallClinic
) -> None:
    win = _sign_in_first_admin(qtbot, clinic.db)
    wait_for_background_work()
    qtbot.wait(50)  # the readiness answer delivered
    assert desk_controller_of(win).setup_assistant is None


def test_the_assistant_opens_again_from_settings(qtbot: QtBot, clinic: SmallClinic) -> None:
    win = _window(qtbot, clinic.db, ADMIN)
    settings = _open_settings(qtbot, win)
    settings.setup_button.click()
    assistant = desk_controller_of(win).setup_assistant
    assert assistant is not None
    qtbot.addWidget(assistant)
    assert assistant.isVisible()
    while assistant.currentPage() is not assistant.summary:
        assistant.next()
    qtbot.waitUntil(lambda: assistant.summary.readiness is not None, timeout=10_000)
    assert "The clinic can book" in assistant.summary.summary.text()


def test_settings_open_centred_on_the_main_window_and_on_its_screen(
    qtbot: QtBot, clinic: SmallClinic
) -> None:
    """Trial 3, C22: Settings opened at the screen's bottom-left, over the schedule."""
    win = _window(qtbot, clinic.db, ADMIN)
    screen = win.screen().availableGeometry()
    win.setGeometry(screen.left() + 40, screen.top() + 100, 700, 650)
    qtbot.wait(20)
    settings = _open_settings(qtbot, win)
    centre, own = win.frameGeometry().center(), settings.frameGeometry().center()
    placed = settings.frameGeometry()
    # On the screen (the offscreen one is small: a window as wide as it lies along it)...
    assert placed.left() >= screen.left() - 4
    assert placed.top() >= screen.top() - 4
    # ...and centred on the main window as far as the screen lets it.
    if placed.width() < screen.width() - 8:
        assert abs(own.x() - centre.x()) <= 8
    if placed.height() < screen.height() - 8:
        assert abs(own.y() - centre.y()) <= 8
    assert placed.top() < win.frameGeometry().bottom() - placed.height() // 2  # not below it


def test_a_window_is_centred_on_another_then_kept_on_the_screen() -> None:
    from PySide6.QtCore import QRect, QSize

    from ketadesk.ui.common.placement import centred_rect

    screen = QRect(0, 0, 1600, 1000)
    over = QRect(100, 50, 1400, 900)
    assert centred_rect(QSize(800, 600), over, screen) == QRect(400, 200, 800, 600)
    # Over a window pushed to the right edge: moved back onto the screen.
    assert centred_rect(QSize(800, 600), QRect(1200, 50, 1400, 900), screen).right() == 1599
    # Taller than the screen: shrunk to it.
    assert centred_rect(QSize(800, 1200), over, screen).height() == 1000


def test_out_of_service_on_a_monitor_opens_the_closure_form_for_it_from_now(
    qtbot: QtBot, clinic: SmallClinic
) -> None:
    """A user trial's administrator, a monitor broken overnight, found nothing on Rooms and
    equipment to take it out of service, and a closure form that began tomorrow."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from ketadesk.ui.settings.availability_page import AddClosureDialog
    from ketadesk.ui.settings.resources_page import ResourcesPage

    win = _window(qtbot, clinic.db, ADMIN)
    settings = _open_settings(qtbot, win)
    settings.show_page("resources")
    page = settings.pages["resources"]
    assert isinstance(page, ResourcesPage)
    qtbot.waitUntil(lambda: page.model.rowCount() > 0, timeout=10_000)
    assert not page.out_of_service_button.isEnabled()  # nothing chosen yet
    page.select(clinic.ids["Monitor 2"])
    assert page.out_of_service_button.isEnabled()
    offered = []

    def look() -> None:
        form = QApplication.activeModalWidget()
        if not isinstance(form, AddClosureDialog):
            QTimer.singleShot(20, look)
            return
        offered.append(form.request())
        form.reject()

    QTimer.singleShot(0, look)
    page.out_of_service_button.click()
    qtbot.waitUntil(lambda: bool(offered), timeout=10_000)
    assert settings.current_page() == "availability"
    (request,) = offered
    local_now = NOW.astimezone(clinic.calendar.tz)
    assert (request.kind, request.resource_id) == ("maintenance", clinic.ids["Monitor 2"])
    assert request.first_day == local_now.date()  # from now, not tomorrow
    assert request.first_minute == (local_now.hour * 60 + local_now.minute) // 5 * 5
    assert (request.last_day, request.last_minute) == (
        local_now.date() + dt.timedelta(days=1),
        0,
    )
