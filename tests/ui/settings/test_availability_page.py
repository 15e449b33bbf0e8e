"""Settings ▸ Closures and time off, and the consequences dialog, as an administrator uses them."""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from pytestqt.qtbot import QtBot

from ketadesk.scheduling.dates import short_date
from ketadesk.services.booking import booking
from ketadesk.services.booking.booking import BookingRequest
from ketadesk.services.common.context import SYSTEM
from ketadesk.services.settings.availability import LocalRequest
from ketadesk.ui.common.desk import Desk
from ketadesk.ui.settings.availability_page import AvailabilityPage
from tests.pictures import picture_folder
from tests.services.settings.availability_clinic import BookedClinic, booked_clinic

# Opening a dialog offscreen: the plugin cannot pass size hints on, and says so.
pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")

SHOTS = Path(__file__).resolve().parents[3] / "docs" / "screenshots"


@pytest.fixture
def booked(sqlite_url: str) -> Iterator[BookedClinic]:
    b = booked_clinic(sqlite_url)
    yield b
    b.clinic.db.dispose()


def _texts(table: object) -> list[str]:
    from PySide6.QtWidgets import QTableWidget

    assert isinstance(table, QTableWidget)
    items = [table.item(r, c) for r in range(table.rowCount()) for c in range(table.columnCount())]
    return [item.text() for item in items if item is not None]


def test_close_a_day_see_the_consequences_apply_and_undo(
    qtbot: QtBot, booked: BookedClinic
) -> None:
    b = booked
    desk = Desk(b.clinic.db, SYSTEM, now=lambda: b.now)
    page = AvailabilityPage(desk)
    qtbot.addWidget(page)
    qtbot.waitUntil(lambda: page.loaded is not None)
    assert page.title == "Closures and time off"
    assert page.table.rowCount() == 0
    assert page.holidays.count() > 0
    second = b.series[1]
    day = b.day_of(second)
    page.preview_closure(
        LocalRequest("closure", day, 0, day + dt.timedelta(days=1), 0, "staff training")
    )
    qtbot.waitUntil(lambda: page.dialog is not None and page.dialog.isVisible())
    dialog = page.dialog
    assert dialog is not None
    texts = _texts(dialog.table)
    assert "Lovelace, Ada" in texts
    assert any("staff training" in t for t in texts)
    assert dialog.table.rowCount() >= 1
    assert "1 patient goes on the call list" in dialog.summary.text()
    if os.environ.get("KETADESK_SCREENSHOTS"):
        dialog.grab().save(str(SHOTS / "consequences.png"))
    QTest.mouseClick(dialog.apply_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.last_applied is not None)
    qtbot.waitUntil(lambda: page.table.rowCount() == 1)
    assert page.undo_button.isEnabled()
    assert "1 patient added to the call list" in page.status.text()
    moved = b.starts()[second]
    assert b.clinic.calendar.local_date(moved) != day
    if os.environ.get("KETADESK_SCREENSHOTS"):
        page.resize(900, 640)
        page.grab().save(str(SHOTS / "availability.png"))
    QTest.mouseClick(page.undo_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.last_applied is None and page.table.rowCount() == 0)
    assert b.clinic.calendar.local_date(b.starts()[second]) == day


def test_cancel_changes_nothing(qtbot: QtBot, booked: BookedClinic) -> None:
    b = booked
    desk = Desk(b.clinic.db, SYSTEM, now=lambda: b.now)
    page = AvailabilityPage(desk)
    qtbot.addWidget(page)
    qtbot.waitUntil(lambda: page.loaded is not None)
    day = b.day_of(b.series[0])
    before = b.starts()
    page.preview_closure(LocalRequest("closure", day, 0, day + dt.timedelta(days=1), 0, "flood"))
    qtbot.waitUntil(lambda: page.dialog is not None and page.dialog.isVisible())
    assert page.dialog is not None
    page.dialog.reject()
    assert page.last_applied is None
    assert b.starts() == before
    page.refresh()
    qtbot.waitUntil(lambda: page.loaded is not None)
    assert page.table.rowCount() == 0


def test_a_bad_form_is_refused_in_words(qtbot: QtBot, booked: BookedClinic) -> None:
    b = booked
    page = AvailabilityPage(Desk(b.clinic.db, SYSTEM, now=lambda: b.now))
    qtbot.addWidget(page)
    qtbot.waitUntil(lambda: page.loaded is not None)
    day = b.today + dt.timedelta(days=2)
    page.preview_closure(LocalRequest("closure", day, 600, day, 540, ""))
    qtbot.waitUntil(lambda: page.status.text().startswith("Not saved"))
    assert "To: must be after the start" in page.status.text()
    assert "Reason: say why" in page.status.text()
    assert "ends_at" not in page.status.text()


def test_the_form_starts_on_the_clinic_s_tomorrow_in_the_evening(
    qtbot: QtBot, booked: BookedClinic
) -> None:
    """At 6 p.m. in California it is already tomorrow in UTC: the form still offers the
    clinic's tomorrow, not the day after."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from ketadesk.ui.settings.availability_page import AddClosureDialog

    b = booked
    zone = b.clinic.calendar.tz
    evening = dt.datetime.combine(b.today, dt.time(18, 0), zone).astimezone(dt.UTC)
    assert evening.date() != b.today  # the case this test is about
    page = AvailabilityPage(Desk(b.clinic.db, SYSTEM, now=lambda: evening))
    qtbot.addWidget(page)
    qtbot.waitUntil(lambda: page.loaded is not None)
    offered: list[dt.date] = []

    def look() -> None:
        form = QApplication.activeModalWidget()
        if not isinstance(form, AddClosureDialog):
            QTimer.singleShot(20, look)
            return
        offered.append(form.request().first_day)
        form.reject()

    QTimer.singleShot(0, look)
    QTest.mouseClick(page.add_button, Qt.MouseButton.LeftButton)
    assert offered == [b.today + dt.timedelta(days=1)]


def test_a_pencilled_in_session_on_a_monitor_out_of_service_names_the_monitor_it_gets(
    qtbot: QtBot, booked: BookedClinic
) -> None:
    """The preview and the status after "Apply all" say which monitor replaces the broken one,
    and that the session re-planned is only pencilled in (and stays so)."""
    b = booked
    day = b.day_of(b.series[0]) + dt.timedelta(days=1)
    where = {"room": "Room 3", "monitor": "Monitor 3", "nurse": "Nurse Kim"}
    booking.book(
        b.clinic.db,
        SYSTEM,
        BookingRequest(
            patient_id=b.clinic.ids["Grace Hopper"],
            sessions=(b.clinic.session("iv_infusion", day, "14:00", where),),
            tentative=True,
        ),
        now=b.now,
    )
    desk = Desk(b.clinic.db, SYSTEM, now=lambda: b.now)
    page = AvailabilityPage(desk)
    qtbot.addWidget(page)
    qtbot.waitUntil(lambda: page.loaded is not None)
    page.preview_closure(
        LocalRequest(
            "maintenance",
            day,
            0,
            day + dt.timedelta(days=1),
            0,
            "calibration",
            resource_id=b.clinic.ids["Monitor 3"],
        )
    )
    qtbot.waitUntil(lambda: page.dialog is not None and page.dialog.isVisible())
    dialog = page.dialog
    assert dialog is not None
    texts = _texts(dialog.table)
    assert "IV ketamine infusion (pencilled in)" in texts
    local = b.clinic.calendar.local(b.clinic.at(day, "14:00"))
    when = f"{short_date(local.date())} 14:00"  # the app's date words: "Wed Dec 16 14:00"
    assert f"{when} (same time, Monitor 1 instead of Monitor 3)" in texts
    assert "1 booked session (1 pencilled in) would be broken" in dialog.summary.text()
    QTest.mouseClick(dialog.apply_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.last_applied is not None)
    assert page.status.text().endswith(
        f"Hopper, Grace {when}: same time, Monitor 1 instead of Monitor 3."
    )


def test_the_page_a_refusal_sends_the_desk_to_is_this_one() -> None:
    from ketadesk.services.settings.resources import AVAILABILITY_PAGE

    assert f"Settings ▸ {AvailabilityPage.title}" == AVAILABILITY_PAGE


def test_the_add_dialog_shows_its_whole_title_and_dates(qtbot: QtBot) -> None:
    from ketadesk.ui.settings.availability_page import TITLE_BAR_ROOM, AddClosureDialog

    dialog = AddClosureDialog([], dt.date(2030, 12, 23))
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    title = dialog.fontMetrics().horizontalAdvance(dialog.windowTitle())
    assert dialog.width() >= title + TITLE_BAR_ROOM
    for field in (dialog.first, dialog.last):
        assert field.width() >= field.sizeHint().width()


def test_closures_and_holidays_read_in_the_app_s_date_words(
    qtbot: QtBot, booked: BookedClinic
) -> None:
    """Trial 3, C19: the page listed "Thu 12/24/2026 8:00 AM" and "Christmas Day
    (12/25/2026)", unlike every other date of the app; it says "Thu Dec 24, 2026 08:00" and
    "Christmas Day (Fri Dec 25, 2026)" (the year said: the lists run into next year)."""
    from ketadesk.services.settings import availability

    b = booked
    day = b.today + dt.timedelta(days=40)
    request = LocalRequest("closure", day, 8 * 60, day, 12 * 60, "fire drill")
    db = b.clinic.db
    availability.add_closure(db, SYSTEM, availability.from_local(db, request), now=b.now)
    page = AvailabilityPage(Desk(db, SYSTEM, now=lambda: b.now))
    qtbot.addWidget(page)
    qtbot.waitUntil(lambda: page.loaded is not None and page.table.rowCount() == 1)
    cells = [cell.text() for c in range(2) if (cell := page.table.item(0, c)) is not None]
    said = short_date(day, year=True)  # "Thu Dec 24, 2026"
    assert cells == [f"{said} 08:00", f"{said} 12:00"]  # the small clinic says 24-hour times
    assert re.fullmatch(r"[A-Z][a-z]{2} [A-Z][a-z]{2} \d{1,2}, \d{4} \d\d:\d\d", cells[0])
    holidays = [
        line.text() for i in range(page.holidays.count()) if (line := page.holidays.item(i))
    ]
    assert holidays, "the clinic's country has public holidays"
    for entry in holidays:
        assert re.fullmatch(r".+ \([A-Z][a-z]{2} [A-Z][a-z]{2} \d{1,2}, \d{4}\)", entry), entry
        assert "/" not in entry
    page.resize(900, 640)
    page.grab().save(str(picture_folder() / "closures_page_dates.png"))


def test_a_whole_day_closure_is_listed_by_its_last_day_closed(
    qtbot: QtBot, booked: BookedClinic
) -> None:
    """A three-day closure is listed to its last day closed, "all day", not to the midnight
    after it (which a user trial read as the wrong day); a part-day one keeps its times."""
    from ketadesk.services.settings import availability

    b = booked
    first = b.today + dt.timedelta(days=40)
    last = first + dt.timedelta(days=2)
    db = b.clinic.db
    for request in (
        LocalRequest.for_days("closure", first, last, "Staff retreat"),
        LocalRequest(
            "closure",
            last + dt.timedelta(days=7),
            8 * 60,
            last + dt.timedelta(days=7),
            12 * 60,
            "fire drill",
        ),
    ):
        availability.add_closure(db, SYSTEM, availability.from_local(db, request), now=b.now)
    page = AvailabilityPage(Desk(db, SYSTEM, now=lambda: b.now))
    qtbot.addWidget(page)
    qtbot.waitUntil(lambda: page.loaded is not None and page.table.rowCount() == 2)
    cells = [[page.table.item(r, c).text() for c in range(2)] for r in range(2)]  # type: ignore[union-attr]
    assert cells[0] == [short_date(first, year=True), f"{short_date(last, year=True)} (all day)"]
    drill = short_date(last + dt.timedelta(days=7), year=True)
    assert cells[1] == [f"{drill} 08:00", f"{drill} 12:00"]
    tip = page.table.item(0, 4).toolTip()  # type: ignore[union-attr]
    assert f"{short_date(first, year=True)} – {short_date(last, year=True)}, all day" in tip
    page.resize(900, 500)
    page.show()
    qtbot.waitExposed(page)
    page.grab().save(str(picture_folder("polish") / "closures-list.png"))
