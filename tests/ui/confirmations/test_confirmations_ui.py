"""The confirmation list worked through to the end through the widgets: Go ▸ Confirmations
opens on the clinic's next open day; every visit gets an outcome (one after a first call with
no answer, one cancelled with its reason, refused first without one), one visit's ride is
ticked with its phone and pickup time; then the list says all done, and prints as a call sheet.

The clinic is tests/ui/clinic_day.py's, "now" its Tuesday 10:15 (tests/ui/conftest.py NOW); the
visits are booked on the next open day after it.
"""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from ketadesk.commands.run import open_day_window
from ketadesk.services.booking import booking
from ketadesk.services.common.context import Actor
from ketadesk.store.models import Appointment, ConfirmationCall, Patient
from ketadesk.ui.confirmations.confirmations_view import ConfirmationModel, ConfirmationsView
from ketadesk.ui.printing.print_dialogs import PDF
from ketadesk.ui.shell.main_window import MainWindow
from tests.clinic_fixtures import SmallClinic, say_times
from tests.ui.clinic_day import TUESDAY
from tests.ui.conftest import NOW
from tests.ui.shell.desk_helpers import wait_for_day

FRONT_DESK = Actor(user_id=None, username="jo", role="front_desk")
pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")
#: (patient, start, room, monitor) of the next open day's infusions.
VISITS = (
    ("Ada Lovelace", "09:00", "Room 1", "Monitor 1"),
    ("Mary Seacole", "11:00", "Room 2", "Monitor 2"),
    ("Rosalind Franklin", "13:00", "Room 3", "Monitor 3"),
)


def _next_open_day(clinic: SmallClinic) -> dt.date:
    day = clinic.calendar.local_date(NOW) + dt.timedelta(days=1)
    while clinic.calendar.closed_reason(day) is not None:
        day += dt.timedelta(days=1)
    return day


def book_the_next_open_day(clinic: SmallClinic) -> dict[str, int]:
    ids: dict[str, int] = {}
    with clinic.db.write() as s:
        for n, (name, *_rest) in enumerate(VISITS):
            patient = s.get(Patient, clinic.ids[name])
            assert patient is not None
            patient.phone = f"(619) 555-014{n}"
    for name, hhmm, room, monitor in VISITS:
        planned = clinic.session(
            "iv_infusion",
            _next_open_day(clinic),
            hhmm,
            {"room": room, "monitor": monitor, "nurse": "Nurse Kim"},
        )
        result = booking.book(
            clinic.db,
            FRONT_DESK,
            booking.BookingRequest(patient_id=clinic.ids[name], sessions=(planned,)),
            now=NOW,
        )
        ids[name] = result.appointment_ids[0]
    return ids


@pytest.fixture
def window(qtbot: QtBot, clinic: SmallClinic) -> MainWindow:
    win = open_day_window(clinic.db, TUESDAY, now=lambda: NOW, actor=FRONT_DESK)
    qtbot.addWidget(win)
    win.resize(1400, 900)
    win.show()
    qtbot.waitExposed(win)
    wait_for_day(qtbot, win)
    return win


def _confirmations_view(window: MainWindow) -> ConfirmationsView:
    QTest.keyClick(window, Qt.Key.Key_9, Qt.KeyboardModifier.ControlModifier)
    assert window.view() == "confirmations"
    view = window.page("confirmations")
    assert isinstance(view, ConfirmationsView)
    return view


def _select(view: ConfirmationsView, name: str) -> None:
    number = next(i for i, r in enumerate(view.model.rows()) if r.patient_name == name)
    view.table.selectRow(number)


def _status_of(view: ConfirmationsView, name: str) -> str:
    return next(r.status for r in view.model.rows() if r.patient_name == name)


def test_a_confirmation_list_worked_through_to_the_end(
    qtbot: QtBot, window: MainWindow, clinic: SmallClinic, tmp_path: Path, qtmodeltester: object
) -> None:
    ids = book_the_next_open_day(clinic)
    view = _confirmations_view(window)
    qtbot.waitUntil(lambda: view.model.rowCount() == 3, timeout=10_000)
    qtmodeltester.check(view.model)  # type: ignore[attr-defined]
    assert view.day_edit.date().toPython() == _next_open_day(clinic)
    assert "3 of 3 to call" in view.summary.text()
    assert [r.phone for r in view.model.rows()] == [f"(619) 555-014{n}" for n in range(3)]

    # Ada: no answer first, then confirmed with a note; her ride ticked with phone and pickup.
    _select(view, "Lovelace, Ada")
    view.outcome_buttons["no_answer"].click()
    qtbot.waitUntil(lambda: _status_of(view, "Lovelace, Ada") == "no_answer", timeout=10_000)
    _select(view, "Lovelace, Ada")
    view.note.setText("her son drives")
    view.outcome_buttons["confirmed"].click()
    qtbot.waitUntil(lambda: _status_of(view, "Lovelace, Ada") == "confirmed", timeout=10_000)
    _select(view, "Lovelace, Ada")
    assert set(view.checks) == {"driver_confirmed", "fasting_confirmed"}
    view.ride_phone.setText("(619) 555-0199")
    # Prefilled with the planned end of observation (the infusion's recovery ends 10:40).
    assert view.ride_pickup.text() == "10:40"
    view.ride_pickup.setText("10:45")
    view.checks["driver_confirmed"].setChecked(True)
    qtbot.waitUntil(
        lambda: (
            next(r for r in view.model.rows() if r.patient_name == "Lovelace, Ada")
            .checklist[0]
            .ticked
        ),
        timeout=10_000,
    )

    # Mary: a message left.
    _select(view, "Seacole, Mary")
    view.outcome_buttons["left_message"].click()
    qtbot.waitUntil(lambda: _status_of(view, "Seacole, Mary") == "left_message", timeout=10_000)
    assert "1 of 3 to call" in view.summary.text()

    # Rosalind cancels: refused without a reason (the field named), then cancelled with one.
    _select(view, "Franklin, Rosalind")
    view.cancel_button.click()
    qtbot.waitUntil(lambda: "Reason" in view.status.text(), timeout=10_000)
    assert "Not saved" in view.status.text()
    view.reason.setText("moving to another city")
    view.cancel_button.click()
    qtbot.waitUntil(lambda: _status_of(view, "Franklin, Rosalind") == "cancelled", timeout=10_000)

    assert view.summary.text().startswith("All done")
    assert view.listed is not None
    assert view.listed.all_done
    with clinic.db.read() as s:
        cancelled = s.get(Appointment, ids["Rosalind Franklin"])
        assert cancelled is not None
        assert cancelled.status == "cancelled"
        ada = s.get(Appointment, ids["Ada Lovelace"])
        assert ada is not None
        assert ada.checklist["driver_confirmed"] is True
        assert ada.checklist["ride_phone"] == "(619) 555-0199"
        calls = s.scalars(select(ConfirmationCall.outcome).order_by(ConfirmationCall.id)).all()
    assert list(calls) == ["no_answer", "confirmed", "left_message", "cancelled"]

    # The call sheet: every visit with its outcome, on paper.
    pdf = tmp_path / "calls.pdf"
    done: list[str] = []
    view.printer.finished.connect(done.append)
    view.print_sheet(PDF, pdf)
    qtbot.waitUntil(lambda: bool(done), timeout=20_000)
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True, text=True
    ).stdout
    # ("Confirmed" would read "Con\ufb01rmed": the PDF keeps the font's fi ligature.)
    for expected in ("Lovelace, Ada", "jo: No answer", "Left a message", "Cancelled", "all called"):
        assert expected in text


def test_the_confirmation_model_passes_the_model_tester(qtmodeltester: object) -> None:
    model = ConfirmationModel()
    qtmodeltester.check(model)  # type: ignore[attr-defined]


def test_a_therapist_sees_the_list_but_cannot_work_it(qtbot: QtBot, clinic: SmallClinic) -> None:
    book_the_next_open_day(clinic)
    therapist = Actor(user_id=None, username="sam", role="therapist")
    win = open_day_window(clinic.db, TUESDAY, now=lambda: NOW, actor=therapist)
    qtbot.addWidget(win)
    win.show()
    wait_for_day(qtbot, win)
    view = _confirmations_view(win)
    qtbot.waitUntil(lambda: view.model.rowCount() == 3, timeout=10_000)
    _select(view, "Lovelace, Ada")
    assert not any(b.isEnabled() for b in view.outcome_buttons.values())
    assert not view.cancel_button.isEnabled()
    assert not any(c.isEnabled() for c in view.checks.values())


def test_a_visit_a_closure_moved_asks_for_one_call_that_tells_the_new_time(
    qtbot: QtBot, clinic: SmallClinic
) -> None:
    from ketadesk.services.common.context import SYSTEM
    from ketadesk.services.settings import consequences
    from ketadesk.services.settings.availability import Unavailability
    from ketadesk.ui.common.desk import Desk
    from ketadesk.ui.confirmations.confirmations_view import moved_note
    from tests.pictures import picture_folder

    ids = book_the_next_open_day(clinic)
    day = _next_open_day(clinic)
    cal = clinic.calendar
    # The morning closed: Ada's 09:00 infusion moves to a free start that day.
    proposed = Unavailability(
        "closure", cal.at_local(day, 0), cal.at_local(day, 10 * 60), "water leak"
    )
    preview = consequences.preview(clinic.db, proposed, now=NOW)
    consequences.apply(clinic.db, SYSTEM, preview, now=NOW)
    view = ConfirmationsView(Desk(clinic.db, FRONT_DESK, lambda: NOW))
    qtbot.addWidget(view)
    view.resize(1300, 420)
    view.refresh()
    qtbot.waitUntil(lambda: view.model.rowCount() == 3, timeout=10_000)
    ada = next(r for r in view.model.rows() if r.appointment_id == ids["Ada Lovelace"])
    assert ada.status_name == "Moved: tell the new time"
    assert "3 of 3 to call" in view.summary.text()
    _select(view, "Lovelace, Ada")
    assert view.moved_note.isVisibleTo(view)
    assert view.moved_note.text() == moved_note(ada)
    assert "water leak" in view.moved_note.text()
    view.grab().save(str(picture_folder("calls") / "confirmations_moved.png"))
    view.note.setText("10:00 suits her")
    view.outcome_buttons["confirmed"].click()
    qtbot.waitUntil(lambda: _status_of(view, "Lovelace, Ada") == "confirmed", timeout=10_000)
    _select(view, "Lovelace, Ada")
    assert not view.moved_note.isVisibleTo(view)


def test_a_pickup_typed_as_the_desk_hears_it_and_a_bad_one_kept(
    qtbot: QtBot, window: MainWindow, clinic: SmallClinic, tmp_path: Path
) -> None:
    """The pickup took 24-hour HH:MM only, and a refused one was wiped by the re-read."""
    with clinic.db.write() as s:
        say_times(s, "12h")  # a US clinic's default (the small clinic says 24h)
    ids = book_the_next_open_day(clinic)
    view = _confirmations_view(window)
    qtbot.waitUntil(lambda: view.model.rowCount() == 3, timeout=10_000)
    _select(view, "Lovelace, Ada")
    assert view.ride_pickup.text() == "10:40 AM"  # the planned end, in the clinic's format
    view.ride_pickup.setText("25:99")
    view.checks["driver_confirmed"].setChecked(True)
    qtbot.waitUntil(lambda: "Not saved" in view.status.text(), timeout=10_000)
    assert "Pickup at: '25:99' is not a time of day" in view.status.text()
    with qtbot.waitSignal(view.refreshed, timeout=10_000):
        view.refresh()
    assert view.ride_pickup.text() == "25:99"  # kept to be put right
    assert not view.checks["driver_confirmed"].isChecked()
    view.grab().save(str(tmp_path / "pickup_refused.png"))

    view.ride_pickup.setText("230pm")
    view.checks["driver_confirmed"].setChecked(True)
    qtbot.waitUntil(lambda: view.ride_pickup.text() == "2:30 PM", timeout=10_000)
    assert view.checks["driver_confirmed"].isChecked()
    with clinic.db.read() as s:
        ada = s.get(Appointment, ids["Ada Lovelace"])
        assert ada is not None
        assert ada.checklist["ride_pickup"] == "14:30"
