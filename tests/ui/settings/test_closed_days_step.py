"""The set-up assistant's "Closed days" step, as a new clinic's administrator goes through it
(a user trial: the assistant never asked about holidays or closures): the US public holidays
by name with their dates in the coming year, all ticked as a new clinic closes on them; one
unticked with the keyboard; Christmas week's afternoons added as one repeating closure with the
Settings form; saved on Next; and skipped by simply going on."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtCore import QDate, QDateTime, Qt, QTime, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QPushButton, QWizard
from pytestqt.qtbot import QtBot

from ketadesk.services.common.context import Actor
from ketadesk.services.settings import availability
from ketadesk.store.database import Database
from ketadesk.ui.common.desk import Desk
from ketadesk.ui.settings.availability_page import AddClosureDialog
from ketadesk.ui.settings.closed_days_page import ClosedDaysPage
from ketadesk.ui.settings.setup_assistant import SetupAssistant
from tests.clinic_fixtures import new_clinic
from tests.pictures import picture_folder
from tests.ui.conftest import NOW

ADMIN = Actor(user_id=None, username="admin", role="admin")
TIMEOUT = 10_000
pytestmark = pytest.mark.qt_log_ignore("does not support propagateSizeHints")  # offscreen


@pytest.fixture
def empty(sqlite_url: str) -> Iterator[Database]:
    db = new_clinic(sqlite_url)
    yield db
    db.dispose()


def _to_closed_days(qtbot: QtBot, assistant: SetupAssistant) -> ClosedDaysPage:
    page = assistant.steps["closed_days"]
    assert isinstance(page, ClosedDaysPage)
    while assistant.currentPage().findChild(ClosedDaysPage) is not page:
        assistant.next()
    qtbot.waitUntil(lambda: page.read is not None, timeout=TIMEOUT)
    return page


def _lines(page: ClosedDaysPage) -> dict[str, bool]:
    found = {}
    for i in range(page.holidays.count()):
        item = page.holidays.item(i)
        found[item.text()] = item.checkState() == Qt.CheckState.Checked
    return found


def _fill_christmas_week(form: AddClosureDialog) -> None:
    """As typed in the form: every day, 1:00 to 5:00 PM, from Dec 21 to Dec 31."""
    QTest.mouseClick(form.all_day, Qt.MouseButton.LeftButton)
    form.first.setDateTime(QDateTime(QDate(2026, 12, 21), QTime(13, 0)))
    form.last.setDateTime(QDateTime(QDate(2026, 12, 31), QTime(17, 0)))
    form.repeat.setFocus()
    QTest.keyClick(form.repeat, Qt.Key.Key_Down)  # Every day
    QTest.keyClicks(form.reason, "Christmas week afternoons")
    see = next(b for b in form.findChildren(QPushButton) if b.text() == "See consequences…")
    QTest.mouseClick(see, Qt.MouseButton.LeftButton)


def _when_form(act: object) -> None:
    def look() -> None:
        form = QApplication.activeModalWidget()
        if not isinstance(form, AddClosureDialog):
            QTimer.singleShot(20, look)
            return
        act(form)  # type: ignore[operator]

    QTimer.singleShot(0, look)


def test_a_new_administrator_chooses_holidays_and_adds_a_repeating_closure(
    qtbot: QtBot, empty: Database
) -> None:
    assistant = SetupAssistant(Desk(empty, ADMIN, now=lambda: NOW))
    qtbot.addWidget(assistant)
    assistant.show()
    page = _to_closed_days(qtbot, assistant)
    assert assistant.currentPage().title() == "Closed days"
    lines = _lines(page)
    # The coming year's dates, each holiday once, all ticked in a new clinic.
    assert lines["Thanksgiving Day (Thu Nov 26, 2026)"] is True
    assert lines["Christmas Day (Fri Dec 25, 2026)"] is True
    assert lines["Columbus Day (Mon Oct 11, 2027)"] is True
    assert all(lines.values())
    assert "Thanksgiving Day (Thu Nov 25, 2027)" not in lines  # a year ahead at most
    assert not page.is_dirty()

    row = list(lines).index("Columbus Day (Mon Oct 11, 2027)")
    page.holidays.setFocus()
    page.holidays.setCurrentRow(row)
    QTest.keyClick(page.holidays, Qt.Key.Key_Space)
    assert _lines(page)["Columbus Day (Mon Oct 11, 2027)"] is False
    assert page.is_dirty()

    _when_form(_fill_christmas_week)
    with qtbot.waitSignal(page.loaded, timeout=TIMEOUT):
        QTest.mouseClick(page.add_button, Qt.MouseButton.LeftButton)
    closures = [page.closures.item(i).text() for i in range(page.closures.count())]
    assert closures == [
        "Every day Dec 21 – Dec 31, 1:00 PM – 5:00 PM: Christmas week afternoons"
    ], page.status.text()
    assert page.status.text() == "Closure added."
    assistant.resize(960, 720)
    qtbot.wait(50)
    assistant.grab().save(str(picture_folder("closures") / "setup-closed-days.png"))

    with qtbot.waitSignal(page.saved, timeout=TIMEOUT):
        QTest.mouseClick(
            assistant.button(QWizard.WizardButton.NextButton), Qt.MouseButton.LeftButton
        )
    qtbot.waitUntil(lambda: not page.isVisible(), timeout=TIMEOUT)
    closed = {h.name: h.closed for h in availability.holiday_choices(empty, 2027)}
    assert closed["Columbus Day"] is False
    assert closed["Christmas Day"] is True
    rows = availability.list_closures(empty, now=NOW)
    assert [(r.reason, r.repeat.rule) for r in rows] == [
        ("Christmas week afternoons", "FREQ=DAILY")
    ]


def test_the_step_is_skipped_by_going_on_and_changes_nothing(qtbot: QtBot, empty: Database) -> None:
    assistant = SetupAssistant(Desk(empty, ADMIN, now=lambda: NOW))
    qtbot.addWidget(assistant)
    assistant.show()
    page = _to_closed_days(qtbot, assistant)
    assert not page.is_dirty()
    assistant.next()  # nothing ticked or added: nothing to save
    qtbot.waitUntil(lambda: not page.isVisible(), timeout=TIMEOUT)
    assert all(h.closed for h in availability.holiday_choices(empty, 2027))
    assert availability.list_closures(empty, now=NOW) == []


def test_closed_days_is_a_set_up_step_only() -> None:
    from ketadesk.ui.settings.pages import available_pages

    assert "closed_days" in [spec.name for spec, _cls in available_pages(setup_only=True)]
    assert "closed_days" not in [spec.name for spec, _cls in available_pages()]
    steps = [spec.name for spec, _cls in available_pages(setup_only=True)]
    assert steps.index("staff") < steps.index("closed_days") < steps.index("users")
