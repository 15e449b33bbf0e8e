"""A clinic built from an empty database entirely through the windows, as its first users would.

The administrator is created in the first-start dialog, the set-up assistant takes the clinic's
details, rooms, monitors, staff with shifts and users; the front desk registers a patient and
books an intake; the nurse clears screening and consent and books an IV induction; the
administrator sends a monitor for repair on a day the series uses it and applies the re-plan.
At the end ``ketadesk check`` is clean and the audit trail holds every step.

Dates come from a clock set to the next Monday morning after the real today, so the test means
the same on any date.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo

import holidays
import pytest
from PySide6.QtCore import QDate, QDateTime, Qt, QTime, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QLineEdit, QPushButton, QWidget, QWizard
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from ketadesk.cli import main as ketadesk_cli
from ketadesk.commands.run import open_day_window
from ketadesk.services.access.accounts import sign_in_screen
from ketadesk.services.booking.appointments import appointment_detail
from ketadesk.services.clinic.clinic_setup import open_clinic
from ketadesk.services.settings.clinic_details import clinic_details
from ketadesk.store.database import Database
from ketadesk.store.models import AuditEvent
from ketadesk.ui.access.sign_in import FirstAdminDialog, NewPasswordDialog, SignInDialog
from ketadesk.ui.booking.booking_dialog import SINGLE_PREFIX, BookingDialog
from ketadesk.ui.common.background import wait_for_background_work
from ketadesk.ui.patients.patient_form import PatientFormDialog
from ketadesk.ui.patients.patient_record import PatientRecordView
from ketadesk.ui.patients.patient_search import FindPatientDialog
from ketadesk.ui.settings.availability_page import AddClosureDialog, AvailabilityPage
from ketadesk.ui.settings.clinic_page import ClinicPage
from ketadesk.ui.settings.closed_days_page import ClosedDaysPage
from ketadesk.ui.settings.resources_page import ResourceDialog, ResourcesPage
from ketadesk.ui.settings.setup_assistant import SetupAssistant
from ketadesk.ui.settings.staff_page import StaffDialog, StaffPage
from ketadesk.ui.settings.users_page import UserDialog, UsersPage
from ketadesk.ui.shell.main_window import MainWindow
from ketadesk.ui.shell.session import SignedInSession
from tests.ui.shell.desk_helpers import desk_controller_of

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")
TIMEOUT = 20_000
W = TypeVar("W", bound=QWidget)
ADMIN_PASSWORD = "harbor-admin-2026"
ROOMS = ("Room 1", "Room 2", "Room 3", "Room 4")
MONITORS = ("Monitor 1", "Monitor 2", "Monitor 3", "Monitor 4")
WEEKDAYS = range(5)  # Monday to Friday
#: (role, first, last, credentials, shift start, shift end)
STAFF = (
    ("prescriber", "Rosa", "Alvarez", "MD", "08:00", "17:00"),
    ("nurse", "Kim", "Nguyen", "RN", "07:30", "16:30"),
    ("therapist", "Sam", "Rivera", "LMFT", "09:00", "17:00"),
)
#: (username, full name, role, staff member's last name or None, first password, own password)
USERS = (
    ("maria", "Maria Lopez", "front_desk", None, "front-desk-first", "maria-own-pass-1"),
    ("kim", "Kim Nguyen", "nurse", "Nguyen", "nurse-first-pass", "kim-own-pass-12"),
)


class Clock:
    """The clinic's "now", moved on by the test as the day goes on."""

    def __init__(self, start: dt.datetime) -> None:
        self.value = start

    def __call__(self) -> dt.datetime:
        return self.value


def first_open_monday(today: dt.date, country: str) -> dt.date:
    """The first Monday after ``today`` that is not a public holiday (the intake's day)."""
    day = today + dt.timedelta(days=7 - today.weekday())
    closed = holidays.country_holidays(country, years=(day.year, day.year + 1))
    while day in closed:
        day += dt.timedelta(days=7)
    return day


@pytest.fixture
def empty_clinic(tmp_path: Path) -> Iterator[tuple[Database, str]]:
    url = f"sqlite:///{tmp_path / 'new.sqlite'}"
    opened = open_clinic(url, create=True)
    yield opened.db, url
    opened.db.dispose()


def _shots() -> Path | None:
    folder = os.environ.get("KETADESK_SCREENSHOTS")
    if not folder:
        return None
    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _shot(widget: QWidget, name: str) -> None:
    folder = _shots()
    if folder is not None:
        widget.grab().save(str(folder / f"e2e-{name}.png"))


def _click(button: QWidget) -> None:
    QTest.mouseClick(button, Qt.MouseButton.LeftButton)


def _type(edit: QLineEdit, text: str) -> None:
    edit.clear()
    QTest.keyClicks(edit, text)


def _when_modal(kind: type[W], act: Callable[[W], None]) -> list[str]:
    """Do ``act`` with the next modal ``kind`` to open (a dialog run with exec(), which blocks
    the click that opened it); the returned list holds an error raised by ``act``, if any."""
    problems: list[str] = []
    tries = [0]

    def poll() -> None:
        widget = QApplication.activeModalWidget()
        if isinstance(widget, kind) and widget.isVisible():
            try:
                act(widget)
            except Exception as err:  # shown by the test after the dialog closed
                problems.append(repr(err))
                widget.close()
            return
        tries[0] += 1
        if tries[0] < 400:
            QTimer.singleShot(50, poll)
        else:
            problems.append(f"no {kind.__name__} opened")

    QTimer.singleShot(0, poll)
    return problems


def _modal(qtbot: QtBot, kind: type[W]) -> W:
    """The modal ``kind`` that was just opened (with open(), so the test goes on)."""
    qtbot.waitUntil(lambda: isinstance(QApplication.activeModalWidget(), kind), timeout=TIMEOUT)
    widget = QApplication.activeModalWidget()
    assert isinstance(widget, kind)
    return widget


# -- 1. the first administrator ---------------------------------------------------------------


def _create_first_admin(
    qtbot: QtBot, db: Database, clock: Clock
) -> tuple[MainWindow, SignedInSession]:
    win = open_day_window(db, clock().date(), now=clock)
    qtbot.addWidget(win)
    win.resize(1280, 800)
    win.show()
    qtbot.waitExposed(win)
    session = SignedInSession(win, db, now=clock)

    def fill(dialog: FirstAdminDialog) -> None:
        _type(dialog.edits["username"], "ada")
        _type(dialog.edits["display_name"], "Ada Byron")
        _type(dialog.edits["password"], ADMIN_PASSWORD)
        _type(dialog.edits["password_again"], ADMIN_PASSWORD)
        _click(dialog.create_button)

    problems = _when_modal(FirstAdminDialog, fill)
    assert session.start(sign_in_screen(db))
    assert problems == []
    desk = win.desk()
    assert desk is not None
    assert (desk.actor.username, desk.actor.role) == ("ada", "admin")
    return win, session


# -- 2. the set-up assistant ----------------------------------------------------------------


def _next(assistant: SetupAssistant) -> None:
    _click(assistant.button(QWizard.WizardButton.NextButton))


def _clinic_step(qtbot: QtBot, assistant: SetupAssistant) -> None:
    page = assistant.steps["clinic"]
    assert isinstance(page, ClinicPage)
    qtbot.waitUntil(lambda: page.details is not None and page.isEnabled(), timeout=TIMEOUT)
    _type(page.name_edit, "Harbor Ketamine Clinic")
    page.address_edit.setPlainText("200 Harbor Drive, Suite 4\nSan Diego, CA 92101")
    _type(page.phone_edit, "(619) 555-0100")
    with qtbot.waitSignal(page.saved, timeout=TIMEOUT):
        _next(assistant)  # saves the step, then goes on
    qtbot.waitUntil(lambda: assistant.currentPage() is not None and not page.isVisible())


def _add_resource(
    qtbot: QtBot, page: ResourcesPage, button: QPushButton, name: str, subkind: str
) -> None:
    _click(button)
    dialog = page.dialog
    assert isinstance(dialog, ResourceDialog)
    qtbot.waitExposed(dialog)
    dialog.subkind.setCurrentIndex(dialog.subkind.findData(subkind))
    _type(dialog.name, name)
    with qtbot.waitSignal(page.loaded, timeout=TIMEOUT):
        save = dialog.buttons.buttons()[0]
        _click(save)
    assert page.dialog is None, dialog.message.text()


def _resources_step(qtbot: QtBot, assistant: SetupAssistant) -> None:
    page = assistant.steps["resources"]
    assert isinstance(page, ResourcesPage)
    assert assistant.currentPage().findChild(ResourcesPage) is page
    qtbot.waitUntil(lambda: not page.is_busy(), timeout=TIMEOUT)
    for name in ROOMS:
        _add_resource(qtbot, page, page.add_room_button, name, "treatment")
    # The intake consult needs an office (resources/config/session_types.toml).
    _add_resource(qtbot, page, page.add_room_button, "Consult Office", "office")
    for name in MONITORS:
        _add_resource(qtbot, page, page.add_equipment_button, name, "vital_signs_monitor")
    assert sorted(r.name for r in page.model.rows()) == sorted(
        (*ROOMS, "Consult Office", *MONITORS)
    )
    _shot(assistant, "setup-rooms")
    _next(assistant)


def _staff_step(qtbot: QtBot, assistant: SetupAssistant) -> None:
    page = assistant.steps["staff"]
    assert isinstance(page, StaffPage)
    qtbot.waitUntil(lambda: assistant.currentPage().findChild(StaffPage) is page)
    for n, (role, first, last, credentials, start, end) in enumerate(STAFF):
        _click(page.add_button)
        dialog = page.dialog
        assert isinstance(dialog, StaffDialog)
        qtbot.waitExposed(dialog)
        dialog.role.setCurrentIndex(dialog.role.findData(role))
        _type(dialog.fields["first_name"], first)
        _type(dialog.fields["last_name"], last)
        _type(dialog.fields["credentials"], credentials)
        dialog.tabs.setCurrentIndex(1)
        editor = dialog.shift_editor
        for row, weekday in enumerate(WEEKDAYS):
            _click(editor.add_button)
            editor.set_row(row, weekday=weekday, start=start, end=end)
        _click(dialog.buttons.button(dialog.buttons.StandardButton.Save))
        _wait_saved(qtbot, page, dialog, n + 1)
        assert page.dialog is None, dialog.message.text()
    assert page.model.rowCount() == len(STAFF)
    _next(assistant)


def _closed_days_step(qtbot: QtBot, assistant: SetupAssistant) -> None:
    """The public holidays, all ticked in a new clinic, kept as they are: nothing to save."""
    page = assistant.steps["closed_days"]
    assert isinstance(page, ClosedDaysPage)
    qtbot.waitUntil(lambda: assistant.currentPage().findChild(ClosedDaysPage) is page)
    qtbot.waitUntil(lambda: page.read is not None, timeout=TIMEOUT)
    assert page.holidays.count() > 0
    assert not page.is_dirty()
    _next(assistant)


def _wait_saved(qtbot: QtBot, page: StaffPage, dialog: StaffDialog, rows: int) -> None:
    """Until the page lists ``rows`` staff, or the dialog says why it did not save."""

    def done() -> bool:
        return page.model.rowCount() == rows or dialog.message.isVisible()

    qtbot.waitUntil(done, timeout=TIMEOUT)


def _users_step(qtbot: QtBot, assistant: SetupAssistant) -> None:
    page = assistant.steps["users"]
    assert isinstance(page, UsersPage)
    qtbot.waitUntil(lambda: page.model.rowCount() == 1, timeout=TIMEOUT)  # the administrator
    for n, (username, name, role, staff_last, password, _own) in enumerate(USERS):
        _click(page.add_button)
        qtbot.waitUntil(lambda: page.user_dialog is not None, timeout=TIMEOUT)
        dialog = page.user_dialog
        assert isinstance(dialog, UserDialog)
        _type(dialog.username_edit, username)
        _type(dialog.name_edit, name)
        dialog.role_combo.setCurrentIndex(dialog.role_combo.findData(role))
        if staff_last is not None:
            index = next(
                i
                for i in range(dialog.staff_combo.count())
                if staff_last in dialog.staff_combo.itemText(i)
            )
            dialog.staff_combo.setCurrentIndex(index)
        _type(dialog.password_edit, password)
        _click(dialog.save_button)
        qtbot.waitUntil(_rows_are(page, n + 2), timeout=TIMEOUT)  # the administrator, and these
    _next(assistant)


def _rows_are(page: UsersPage, rows: int) -> Callable[[], bool]:
    return lambda: page.model.rowCount() == rows


def _set_up_the_clinic(qtbot: QtBot, win: MainWindow) -> None:
    controller = desk_controller_of(win)
    qtbot.waitUntil(lambda: controller.setup_assistant is not None, timeout=TIMEOUT)
    assistant = controller.setup_assistant
    assert isinstance(assistant, SetupAssistant)
    qtbot.addWidget(assistant)
    assert assistant.isVisible()
    _next(assistant)  # the welcome page
    _clinic_step(qtbot, assistant)
    _resources_step(qtbot, assistant)
    _staff_step(qtbot, assistant)
    _closed_days_step(qtbot, assistant)
    _users_step(qtbot, assistant)
    assert assistant.currentPage() is assistant.summary
    qtbot.waitUntil(lambda: assistant.summary.readiness is not None, timeout=TIMEOUT)
    assert "The clinic can book" in assistant.summary.summary.text()
    _click(assistant.button(QWizard.WizardButton.FinishButton))
    assert not assistant.isVisible()


# -- signing in as someone else ----------------------------------------------------------------


def _switch_user(
    qtbot: QtBot,
    win: MainWindow,
    session: SignedInSession,
    username: str,
    password: str,
    new_password: str | None = None,
) -> None:
    qtbot.waitUntil(lambda: session.lock is not None, timeout=TIMEOUT)
    lock = session.lock
    assert lock is not None

    def sign_in(dialog: SignInDialog) -> None:
        _type(dialog.username_edit, username)
        _type(dialog.password_edit, password)
        _click(dialog.sign_in_button)
        if new_password is not None:
            qtbot.waitUntil(lambda: dialog.new_password_dialog is not None, timeout=TIMEOUT)
            choose = dialog.new_password_dialog
            assert isinstance(choose, NewPasswordDialog)
            _type(choose.edits["password"], new_password)
            _type(choose.edits["password_again"], new_password)
            _click(choose.save_button)

    problems = _when_modal(SignInDialog, sign_in)
    win.actions_by_name["switch_user"].trigger()  # one action: the sign-in dialog at once
    assert problems == []
    desk = win.desk()
    assert desk is not None
    assert desk.actor.username == username
    assert not lock.is_locked()


# -- 3. a patient, an intake, screening, a series -----------------------------------------------


def _register_patient(qtbot: QtBot, win: MainWindow) -> PatientRecordView:
    win.actions_by_name["find_patient"].trigger()
    finder = _modal(qtbot, FindPatientDialog)

    def fill(form: PatientFormDialog) -> None:
        for name, value in (
            ("first_name", "Octavia"),
            ("last_name", "Butler"),
            ("date_of_birth", "06/22/1967"),
            ("phone", "(619) 555-0147"),
            ("email", "octavia@example.com"),
            ("driver_name", "Ernestine Butler"),
            ("driver_phone", "(619) 555-0148"),
        ):
            editor = form.fields[name].editor
            assert isinstance(editor, QLineEdit), name
            _type(editor, value)
        _click(form.buttons.buttons()[0])

    problems = _when_modal(PatientFormDialog, fill)
    _click(finder.picker.new_button)
    assert problems == []
    return _opened_record(qtbot, win)


def _opened_record(qtbot: QtBot, win: MainWindow) -> PatientRecordView:
    controller = desk_controller_of(win)
    qtbot.waitUntil(lambda: bool(controller.patient_windows), timeout=TIMEOUT)
    record = controller.patient_windows[-1]  # closed by the desk when its user goes
    qtbot.waitUntil(lambda: record.record is not None, timeout=TIMEOUT)
    return record


def _find_patient(qtbot: QtBot, win: MainWindow, name: str) -> PatientRecordView:
    win.actions_by_name["find_patient"].trigger()
    finder = _modal(qtbot, FindPatientDialog)
    QTest.keyClicks(finder.picker.field, name)
    qtbot.waitUntil(lambda: finder.picker.model.rowCount() == 1, timeout=TIMEOUT)
    QTest.keyClick(finder.picker.field, Qt.Key.Key_Return)
    return _opened_record(qtbot, win)


def _book(qtbot: QtBot, record: PatientRecordView) -> BookingDialog:
    _click(record.book_button)
    dialog = _modal(qtbot, BookingDialog)
    qtbot.waitUntil(lambda: not dialog.is_busy() and dialog.patient_id is not None)
    return dialog


def _plan(qtbot: QtBot, dialog: BookingDialog) -> None:
    with qtbot.waitSignal(dialog.settled, timeout=TIMEOUT):
        _click(dialog.plan_button)


def _book_intake(qtbot: QtBot, record: PatientRecordView, day: dt.date) -> int:
    dialog = _book(qtbot, record)
    dialog.protocol.setCurrentIndex(dialog.protocol.findData(SINGLE_PREFIX + "intake"))
    dialog.when.setCurrentIndex(dialog.when.findData("exact"))
    dialog.start.setDate(QDate(day.year, day.month, day.day))
    dialog.time.setTime(QTime(9, 0))
    _plan(qtbot, dialog)
    assert dialog.confirm.isEnabled(), dialog.blocker.text()
    with qtbot.waitSignal(dialog.booked, timeout=TIMEOUT) as booked:
        _click(dialog.confirm)
    (appointment_id,) = booked.args[0]
    return int(appointment_id)


def _clear_screening(qtbot: QtBot, record: PatientRecordView, day: dt.date) -> None:
    _click(record.edit_button)
    form = _modal(qtbot, PatientFormDialog)
    status = form.fields["screening_status"].editor
    status.setCurrentIndex(status.findData("cleared"))  # type: ignore[attr-defined]
    for name in ("screening_cleared_on", "consent_signed_on"):
        editor = form.fields[name].editor
        assert isinstance(editor, QLineEdit)
        assert editor.isEnabled()
        _type(editor, f"{day.month}/{day.day}/{day.year}")
    with qtbot.waitSignal(record.loaded, timeout=TIMEOUT):
        _click(form.buttons.buttons()[0])


def _book_series(qtbot: QtBot, record: PatientRecordView) -> list[int]:
    dialog = _book(qtbot, record)
    dialog.protocol.setCurrentIndex(dialog.protocol.findData("iv_induction"))
    _plan(qtbot, dialog)
    rows = dialog.model.rows()
    assert len(rows) == 6
    assert all(r.placed for r in rows), [r.warnings for r in rows]
    assert dialog.confirm.isEnabled(), dialog.blocker.text()
    _shot(dialog, "booking-series")
    with qtbot.waitSignal(dialog.booked, timeout=TIMEOUT) as booked:
        _click(dialog.confirm)
    return [int(i) for i in booked.args[0]]


# -- 4. a monitor out of service ----------------------------------------------------------------


def _monitor_out_of_service(
    qtbot: QtBot, win: MainWindow, monitor: str, start: dt.datetime, zone: ZoneInfo
) -> None:
    win.actions_by_name["settings"].trigger()
    settings = desk_controller_of(win).settings_window
    assert settings is not None
    qtbot.addWidget(settings)
    settings.show_page("availability")
    page = settings.pages["availability"]
    assert isinstance(page, AvailabilityPage)
    qtbot.waitUntil(lambda: page.loaded is not None, timeout=TIMEOUT)
    local = start.astimezone(zone)

    def fill(form: AddClosureDialog) -> None:
        form.kind.setCurrentIndex(form.kind.findData("maintenance"))
        form.resource.setCurrentIndex(form.resource.findText(monitor))
        day = QDate(local.year, local.month, local.day)
        form.first.setDateTime(QDateTime(day, QTime(7, 0)))
        form.last.setDateTime(QDateTime(day, QTime(19, 0)))
        _type(form.reason, f"{monitor} at calibration")
        ok = form.findChildren(QPushButton)
        see = next(b for b in ok if b.text() == "See consequences…")
        _click(see)

    problems = _when_modal(AddClosureDialog, fill)
    _click(page.add_button)
    assert problems == []
    qtbot.waitUntil(lambda: page.dialog is not None and page.dialog.isVisible(), timeout=TIMEOUT)
    dialog = page.dialog
    assert dialog is not None
    assert dialog.table.rowCount() == 1
    # Four monitors: the session keeps its time and room with another monitor; nobody to call.
    new_place = dialog.table.item(0, 4)
    assert new_place is not None
    # The new place names the monitor taken instead ("same time, Monitor 2 instead of Monitor 1").
    assert re.search(rf"\(same time, [^()]+ instead of {monitor}\)", new_place.text())
    assert "no patient needs a call" in dialog.summary.text()
    _shot(dialog, "consequences")
    _click(dialog.apply_button)
    qtbot.waitUntil(lambda: page.last_applied is not None, timeout=TIMEOUT)
    assert "1 session moved, none without a new place" in page.status.text()
    assert re.search(rf"same time, [^()]+ instead of {monitor}\.$", page.status.text())
    _shot(page, "consequences-applied")


# -- the test ---------------------------------------------------------------------------------


def _trail(db: Database) -> list[AuditEvent]:
    with db.read() as s:
        events = list(s.scalars(select(AuditEvent).order_by(AuditEvent.id)))
        s.expunge_all()
        return events


def test_a_new_clinic_is_built_and_booked_entirely_through_the_windows(
    qtbot: QtBot, empty_clinic: tuple[Database, str], capsys: pytest.CaptureFixture[str]
) -> None:
    db, url = empty_clinic
    zone = ZoneInfo(clinic_details(db).timezone)
    monday = first_open_monday(dt.date.today(), "US")
    start = dt.datetime.combine(monday, dt.time(8, 0), zone).astimezone(dt.UTC)
    clock = Clock(start)

    win, session = _create_first_admin(qtbot, db, clock)
    _set_up_the_clinic(qtbot, win)

    # The front desk registers a caller and books the intake consult.
    maria, kim = USERS
    _switch_user(qtbot, win, session, maria[0], maria[4], maria[5])
    record = _register_patient(qtbot, win)
    intake = _book_intake(qtbot, record, monday)
    assert appointment_detail(db, intake).session_type_code == "intake"

    # After the consult, the nurse clears screening and consent and books the series.
    clock.value += dt.timedelta(hours=2)
    _switch_user(qtbot, win, session, kim[0], kim[4], kim[5])
    assert not record.isVisible()  # the front desk's window went with her
    record = _find_patient(qtbot, win, "Butler")
    _clear_screening(qtbot, record, monday)
    series = _book_series(qtbot, record)
    qtbot.waitUntil(lambda: not win.is_reading(), timeout=TIMEOUT)
    qtbot.wait(100)
    _shot(win, "day")

    # The administrator sends the second session's monitor for calibration that day.
    _switch_user(qtbot, win, session, "ada", ADMIN_PASSWORD)
    second = appointment_detail(db, series[1])
    (monitor,) = [h.name for h in second.held if h.need == "monitor"]
    _monitor_out_of_service(qtbot, win, monitor, second.start, zone)
    wait_for_background_work()

    moved = appointment_detail(db, series[1])
    assert moved.status == "booked"
    assert (moved.start, moved.room) == (second.start, second.room)
    assert monitor not in [h.name for h in moved.held]

    # `ketadesk check` is clean, and the audit trail holds every step, by the right user.
    assert ketadesk_cli(["check", "--db", url]) == 0
    assert "no problems" in capsys.readouterr().out
    trail = _trail(db)

    # Every step dated by the desk's clock, in the order it was taken.
    times = [e.at if e.at.tzinfo else e.at.replace(tzinfo=dt.UTC) for e in trail]
    off_clock = [
        (e.action, e.entity, t)
        for e, t in zip(trail, times, strict=True)
        if not start <= t <= clock.value
    ]
    assert off_clock == []
    assert times == sorted(times)

    def done(action: str, entity: str, user: str) -> list[AuditEvent]:
        return [e for e in trail if (e.action, e.entity, e.username) == (action, entity, user)]

    first_admin = trail[0]  # the first thing that ever happened in this clinic
    assert (first_admin.action, first_admin.username) == ("create_user", "ada")
    assert first_admin.after is not None
    assert first_admin.after["role"] == "admin"
    (details,) = done("configure_clinic", "clinic_setting", "ada")
    assert details.after is not None
    assert details.after["name"] == "Harbor Ketamine Clinic"
    added = {e.after["name"] for e in done("add_resource", "resource", "ada") if e.after}
    assert added == {*ROOMS, "Consult Office", *MONITORS}
    staff = done("add_staff", "staff", "ada")
    assert len(staff) == len(STAFF)
    assert all(e.after and len(e.after["shifts"]) == len(WEEKDAYS) for e in staff)
    users = {e.after["username"] for e in done("create_user", "user", "ada") if e.after}
    assert users == {"ada", "maria", "kim"}
    nurse = next(e for e in staff if e.after and e.after["name"] == "Kim Nguyen")
    (kim_user,) = [
        e for e in done("create_user", "user", "ada") if e.after and e.after["username"] == "kim"
    ]
    assert kim_user.after is not None
    assert kim_user.after["staff_id"] == nurse.entity_id  # the nurse's account is linked to her
    assert len(done("register_patient", "patient", "maria")) == 1
    (intake_event,) = done("book", "appointment", "maria")
    assert intake_event.entity_id == intake
    (screening,) = done("edit_patient", "patient", "kim")
    assert screening.after is not None
    assert screening.after["screening_status"] == "cleared"
    assert {e.entity_id for e in done("book", "appointment", "kim")} == set(series)
    (out_of_service,) = done("create", "closure", "ada")
    assert out_of_service.after is not None
    assert "calibration" in out_of_service.after["reason"]
    assert series[1] in {e.entity_id for e in done("move", "appointment", "ada")}
