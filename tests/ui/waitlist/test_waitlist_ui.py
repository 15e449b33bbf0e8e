"""The waitlist through the widgets: a cancellation in the day view offers its place to the
matching waitlist entry, which is booked from the offer; the Waitlist view adds, filters,
removes and prints.

The clinic is tests/ui/clinic_day.py's Tuesday, "now" 10:15 (tests/ui/conftest.py NOW).
"""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QTime
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from ketadesk.commands.run import open_day_window
from ketadesk.services.common.context import Actor
from ketadesk.services.waitlist import entries
from ketadesk.store.models import Appointment, Patient, WaitlistEntry
from ketadesk.ui.printing.print_dialogs import PDF
from ketadesk.ui.shell.main_window import MainWindow
from ketadesk.ui.waitlist.entry_dialog import EntryDialog
from ketadesk.ui.waitlist.offer_panel import OfferPanel
from ketadesk.ui.waitlist.waitlist_view import WaitlistModel, WaitlistView
from tests.clinic_fixtures import SmallClinic
from tests.ui.clinic_day import TUESDAY
from tests.ui.conftest import NOW
from tests.ui.shell.desk_helpers import desk_controller_of, wait_for_day

FRONT_DESK = Actor(user_id=None, username="jo", role="front_desk")
MARY_PHONE = "(619) 555-0142"
# The offer and the dialogs are windows of their own; the offscreen platform says so.
pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")


@pytest.fixture
def window(qtbot: QtBot, clinic: SmallClinic) -> MainWindow:
    with clinic.db.write() as s:
        mary = s.get(Patient, clinic.ids["Mary Seacole"])
        assert mary is not None
        mary.phone = MARY_PHONE
    win = open_day_window(clinic.db, TUESDAY, now=lambda: NOW, actor=FRONT_DESK)
    qtbot.addWidget(win)
    win.resize(1400, 900)
    win.show()
    qtbot.waitExposed(win)
    wait_for_day(qtbot, win)
    return win


def _today(clinic: SmallClinic) -> dt.date:
    return clinic.calendar.local_date(NOW)


def _mary_waits_for_a_tuesday_afternoon_iv(clinic: SmallClinic) -> int:
    weekday = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[_today(clinic).weekday()]
    return entries.add_entry(
        clinic.db,
        FRONT_DESK,
        entries.EntryFields(
            patient_id=clinic.ids["Mary Seacole"],
            session_type="iv_infusion",
            kind="earlier",
            weekdays=(weekday,),
            available_from=dt.time(13, 0),
            available_until=dt.time(17, 0),
            deadline=_today(clinic) + dt.timedelta(days=10),
        ),
        now=NOW,
    )


def test_a_cancellation_offers_the_place_to_the_waitlist_and_books_it(
    qtbot: QtBot, window: MainWindow, clinic: SmallClinic, monkeypatch: pytest.MonkeyPatch
) -> None:
    entry_id = _mary_waits_for_a_tuesday_afternoon_iv(clinic)
    # Someone who never comes on that weekday is not offered the place.
    entries.add_entry(
        clinic.db,
        FRONT_DESK,
        entries.EntryFields(
            patient_id=clinic.ids["Rosalind Franklin"],
            session_type="iv_infusion",
            weekdays=("sat",),
        ),
        now=NOW,
    )
    day = window.day_view
    layout = day.day_layout()
    assert layout is not None
    turing = next(
        b.appointment
        for b in layout.blocks
        if b.appointment.patient_name == "Turing, Alan" and b.appointment.status == "booked"
    )
    monkeypatch.setattr(day, "ask_cancel_reason", lambda _appointment: "patient has the flu")
    menu = day.context_menu(turing)
    cancel = next(a for a in menu.actions() if a.objectName() == "cancel")
    controller = desk_controller_of(window)
    cancel.trigger()

    qtbot.waitUntil(lambda: controller.offer_panel is not None, timeout=10_000)
    panel = controller.offer_panel
    assert isinstance(panel, OfferPanel)
    assert panel.isVisible()
    assert not panel.isModal()
    assert panel.heading.text().startswith("1 patient on the waitlist could take this place")
    assert panel.offers_list.count() == 1
    line = panel.offers_list.item(0).text()
    assert "Seacole, Mary" in line
    assert MARY_PHONE in line
    assert "Room 2" in line

    panel.book_button.click()
    qtbot.waitUntil(lambda: "Call" in panel.result.text(), timeout=10_000)
    assert "Seacole, Mary" in panel.result.text()
    assert MARY_PHONE in panel.result.text()
    assert MARY_PHONE in window.statusBar().currentMessage()
    with clinic.db.read() as s:
        entry = s.get(WaitlistEntry, entry_id)
        assert entry is not None
        assert entry.status == "booked"
        booked = s.get(Appointment, entry.appointment_id)
        assert booked is not None
        assert booked.patient_id == clinic.ids["Mary Seacole"]
        assert booked.status == "booked"
        assert booked.starts_at == turing.start
        assert booked.room_id == clinic.ids["Room 2"]
    # The day view shows Mary where Alan Turing was.
    qtbot.waitUntil(
        lambda: any(
            b.appointment.patient_name == "Seacole, Mary"
            for b in (window.day_view.day_layout() or layout).blocks
        ),
        timeout=10_000,
    )
    # The offer acts for the user signed in: signing out closes it.
    window.detach_desk()
    assert not panel.isVisible()


def test_the_offer_chooses_only_a_patient_who_can_take_the_place_and_says_why_not(
    qtbot: QtBot, window: MainWindow, clinic: SmallClinic, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ada had her infusion at 09:00 and waits for an IM session with the nearest deadline;
    Alan Turing's 13:30 Spravato in Room 2 is cancelled.  The booking would refuse Ada a second
    dosing session that day, so the offer does not choose her: Mary is chosen, and Ada is
    listed apart with the booking's reason.  Someone who wants Room 3 only is told so."""
    mary = _mary_waits_for_a_tuesday_afternoon_iv(clinic)
    ada = entries.add_entry(
        clinic.db,
        FRONT_DESK,
        entries.EntryFields(
            patient_id=clinic.ids["Ada Lovelace"],
            session_type="im_ketamine",
            deadline=_today(clinic),
        ),
        now=NOW,
    )
    florence = entries.add_entry(
        clinic.db,
        FRONT_DESK,
        entries.EntryFields(
            patient_id=clinic.ids["Florence Nightingale"],
            session_type="iv_infusion",
            room_ids=(clinic.ids["Room 3"],),
        ),
        now=NOW,
    )
    day = window.day_view
    layout = day.day_layout()
    assert layout is not None
    turing = next(
        b.appointment
        for b in layout.blocks
        if b.appointment.patient_name == "Turing, Alan" and b.appointment.status == "booked"
    )
    monkeypatch.setattr(day, "ask_cancel_reason", lambda _appointment: "patient has the flu")
    controller = desk_controller_of(window)
    next(a for a in day.context_menu(turing).actions() if a.objectName() == "cancel").trigger()

    qtbot.waitUntil(lambda: controller.offer_panel is not None, timeout=10_000)
    panel = controller.offer_panel
    assert isinstance(panel, OfferPanel)
    assert panel.heading.text() == (
        "1 patient on the waitlist could take this place (Tue 11/24 13:30–16:00, Room 2)"
    )
    assert panel.offers_list.count() == 1
    assert panel.offers_list.currentRow() == 0
    chosen = panel.chosen()
    assert chosen is not None
    assert chosen.entry_id == mary
    assert "Tue 11/24 13:30–15:10, Room 2" in panel.offers_list.item(0).text()
    assert panel.book_button.isEnabled()
    assert panel.unable_list.isVisibleTo(panel)
    assert panel.unable_heading.text() == "Also waiting, who cannot take it (2):"
    why = {
        panel.unable_list.item(n).data(Qt.ItemDataRole.UserRole): panel.unable_list.item(n).text()
        for n in range(panel.unable_list.count())
    }
    assert why.keys() == {ada, florence}
    assert why[ada].startswith("Lovelace, Ada (chart BT-1) · IM ketamine\n")
    assert "would have 2 dosing sessions on Tue Nov 24" in why[ada]
    assert why[florence].endswith("asks for Room 3 only")
    # Nothing to choose among those who cannot.
    assert panel.unable_list.selectionMode() == panel.unable_list.SelectionMode.NoSelection
    _keep_picture(panel, "waitlist-offer.png")

    panel.book_button.click()
    qtbot.waitUntil(lambda: "Call" in panel.result.text(), timeout=10_000)
    assert "Seacole, Mary" in panel.result.text()


def _keep_picture(widget: QWidget, name: str) -> None:
    """A picture of ``widget`` in $KETADESK_SCREENSHOTS to look at (nothing without it)."""
    import os

    folder = os.environ.get("KETADESK_SCREENSHOTS")
    if folder:
        widget.grab().save(str(Path(folder) / name))


def test_no_offer_when_nobody_could_take_the_place(
    qtbot: QtBot, window: MainWindow, clinic: SmallClinic, monkeypatch: pytest.MonkeyPatch
) -> None:
    day = window.day_view
    layout = day.day_layout()
    assert layout is not None
    ada = next(b.appointment for b in layout.blocks if b.appointment.session_type_short == "INT")
    monkeypatch.setattr(day, "ask_cancel_reason", lambda _appointment: "no longer needed")
    next(a for a in day.context_menu(ada).actions() if a.objectName() == "cancel").trigger()
    qtbot.waitUntil(lambda: not desk_controller_of(window).editor.is_busy(), timeout=10_000)
    wait_for_day(qtbot, window)
    assert desk_controller_of(window).offer_panel is None


def test_when_nobody_waiting_can_take_the_place_the_status_bar_says_why(
    qtbot: QtBot, window: MainWindow, clinic: SmallClinic, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A helper's finding: with patients waiting and none able to take a freed place, nothing
    at all was shown, so the desk could not tell "nobody waits" from "nobody fits"."""
    _mary_waits_for_a_tuesday_afternoon_iv(clinic)  # afternoons only: the place is a morning's
    day = window.day_view
    layout = day.day_layout()
    assert layout is not None
    ada = next(b.appointment for b in layout.blocks if b.appointment.session_type_short == "INT")
    monkeypatch.setattr(day, "ask_cancel_reason", lambda _appointment: "no longer needed")
    next(a for a in day.context_menu(ada).actions() if a.objectName() == "cancel").trigger()
    bar = window.statusBar()
    qtbot.waitUntil(lambda: "cannot take it" in bar.currentMessage(), timeout=10_000)
    text = bar.currentMessage()
    assert text.startswith("A place came free (")
    assert "the patient waiting cannot take it: " in text
    assert desk_controller_of(window).offer_panel is None


def _waitlist_view(qtbot: QtBot, window: MainWindow) -> WaitlistView:
    QTest.keyClick(window, Qt.Key.Key_8, Qt.KeyboardModifier.ControlModifier)
    assert window.view() == "waitlist"
    view = window.page("waitlist")
    assert isinstance(view, WaitlistView)
    return view


def test_the_waitlist_view_adds_filters_removes_and_prints(
    qtbot: QtBot, window: MainWindow, clinic: SmallClinic, tmp_path: Path, qtmodeltester: object
) -> None:
    _mary_waits_for_a_tuesday_afternoon_iv(clinic)
    view = _waitlist_view(qtbot, window)
    qtbot.waitUntil(lambda: view.model.rowCount() == 1, timeout=10_000)
    qtmodeltester.check(view.model)  # type: ignore[attr-defined]
    assert view.add_button.isEnabled()

    # Add Ada through the dialog: KAP, Mondays and Wednesdays, 08:00-12:00, Room 3, a deadline.
    view.add_for(clinic.ids["Ada Lovelace"])
    qtbot.waitUntil(lambda: view.dialog is not None, timeout=10_000)
    dialog = view.dialog
    assert isinstance(dialog, EntryDialog)
    dialog.session_type.setCurrentIndex(dialog.session_type.findData("kap"))
    dialog.weekdays["mon"].setChecked(True)
    dialog.weekdays["wed"].setChecked(True)
    dialog.any_time.setChecked(False)
    dialog.available_from.setTime(QTime(8, 0))
    dialog.available_until.setTime(QTime(9, 0))  # too short for KAP: refused, field named
    dialog.save_button.click()
    qtbot.waitUntil(lambda: "Available until" in dialog.problems.text(), timeout=10_000)
    dialog.available_until.setTime(QTime(12, 0))
    for i in range(dialog.rooms.count()):
        if dialog.rooms.item(i).text() == "Room 3":
            dialog.rooms.item(i).setCheckState(Qt.CheckState.Checked)
    dialog.has_deadline.setChecked(True)
    dialog.save_button.click()
    qtbot.waitUntil(lambda: view.model.rowCount() == 2, timeout=10_000)
    rows = view.model.rows()
    ada = next(r for r in rows if r.patient_name == "Lovelace, Ada")
    assert ada.days_text == "Mon, Wed"
    assert ada.times_text == "08:00–12:00"
    assert ada.room_names == ("Room 3",)
    assert ada.deadline is not None

    # Search narrows the list; the print is the list as filtered, on Letter paper.
    view.search.setText("seacole")
    qtbot.waitUntil(lambda: view.model.rowCount() == 1, timeout=10_000)
    pdf = tmp_path / "waitlist.pdf"
    done: list[str] = []
    view.printer.finished.connect(done.append)
    view.print_list(PDF, pdf)
    qtbot.waitUntil(lambda: bool(done), timeout=20_000)
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True, text=True
    ).stdout
    assert "Seacole, Mary" in text
    assert MARY_PHONE in text
    assert "Lovelace" not in text
    info = subprocess.run(["pdfinfo", str(pdf)], check=True, capture_output=True, text=True)
    assert "612 x 792" in info.stdout  # US Letter

    # Remove Ada: she leaves the waiting list and shows under "Expired or removed".
    view.search.setText("")
    qtbot.waitUntil(lambda: view.model.rowCount() == 2, timeout=10_000)
    number = next(i for i, r in enumerate(view.model.rows()) if r.patient_name == "Lovelace, Ada")
    view.table.selectRow(number)
    assert view.remove_button.isEnabled()
    view.remove_button.click()
    qtbot.waitUntil(lambda: view.model.rowCount() == 1, timeout=10_000)
    view.status_filter.setCurrentIndex(2)
    qtbot.waitUntil(
        lambda: [r.patient_name for r in view.model.rows()] == ["Lovelace, Ada"], timeout=10_000
    )


def test_the_waitlist_model_passes_the_model_tester(qtmodeltester: object) -> None:
    model = WaitlistModel()
    qtmodeltester.check(model)  # type: ignore[attr-defined]


def test_a_nurse_sees_the_list_but_cannot_change_it(qtbot: QtBot, clinic: SmallClinic) -> None:
    _mary_waits_for_a_tuesday_afternoon_iv(clinic)
    nurse = Actor(user_id=None, username="kim", role="nurse")
    win = open_day_window(clinic.db, TUESDAY, now=lambda: NOW, actor=nurse)
    qtbot.addWidget(win)
    win.show()
    wait_for_day(qtbot, win)
    view = _waitlist_view(qtbot, win)
    qtbot.waitUntil(lambda: view.model.rowCount() == 1, timeout=10_000)
    view.table.selectRow(0)
    assert not view.add_button.isEnabled()
    assert not view.edit_button.isEnabled()
    assert not view.remove_button.isEnabled()
    with clinic.db.read() as s:
        assert s.scalars(select(WaitlistEntry.status)).all() == ["waiting"]


def test_a_cancellation_from_the_confirmations_list_offers_the_place_too(
    qtbot: QtBot, window: MainWindow, clinic: SmallClinic
) -> None:
    """A visit cancelled while working the confirmation calls frees its place like one
    cancelled on the day view: the waitlist is offered it."""
    from PySide6.QtCore import QDate

    from ketadesk.ui.confirmations.confirmations_view import ConfirmationsView

    _mary_waits_for_a_tuesday_afternoon_iv(clinic)
    QTest.keyClick(window, Qt.Key.Key_9, Qt.KeyboardModifier.ControlModifier)
    view = window.page("confirmations")
    assert isinstance(view, ConfirmationsView)
    view.day_edit.setDate(QDate(TUESDAY.year, TUESDAY.month, TUESDAY.day))

    def turing_row() -> int | None:
        return next(
            (
                n
                for n, r in enumerate(view.model.rows())
                if r.patient_name == "Turing, Alan" and r.appointment_status == "booked"
            ),
            None,
        )

    qtbot.waitUntil(lambda: turing_row() is not None, timeout=10_000)
    row = turing_row()
    assert row is not None
    view.table.selectRow(row)
    view.reason.setText("patient has the flu")
    controller = desk_controller_of(window)
    view.cancel_button.click()
    qtbot.waitUntil(lambda: controller.offer_panel is not None, timeout=10_000)
    panel = controller.offer_panel
    assert isinstance(panel, OfferPanel)
    assert "Seacole, Mary" in panel.offers_list.item(0).text()


def test_a_patient_only_warnings_stop_can_be_booked_from_the_offer_with_an_override(
    qtbot: QtBot, window: MainWindow, clinic: SmallClinic, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A user trial: Mary waits for the place, but has no driver on file, a warn-level gate the
    booking dialog lets a nurse override with a reason.  The offer listed her as one who cannot
    take it, with no way to book her.  Now she is offered with the warning; the desk is told a
    nurse or prescriber must override it; a nurse ticks "Override", gives the reason and books."""
    from ketadesk.ui.common.desk import Desk

    entry_id = _mary_waits_for_a_tuesday_afternoon_iv(clinic)
    with clinic.db.write() as s:
        mary = s.get(Patient, clinic.ids["Mary Seacole"])
        assert mary is not None
        mary.driver_name = ""
    day = window.day_view
    layout = day.day_layout()
    assert layout is not None
    turing = next(
        b.appointment
        for b in layout.blocks
        if b.appointment.patient_name == "Turing, Alan" and b.appointment.status == "booked"
    )
    monkeypatch.setattr(day, "ask_cancel_reason", lambda _appointment: "patient has the flu")
    controller = desk_controller_of(window)
    next(a for a in day.context_menu(turing).actions() if a.objectName() == "cancel").trigger()
    qtbot.waitUntil(lambda: controller.offer_panel is not None, timeout=10_000)
    panel = controller.offer_panel
    assert isinstance(panel, OfferPanel)
    assert panel.offers_list.count() == 1
    # The front desk is told, in the offer itself, that a nurse's or prescriber's override
    # is needed, not only by a greyed Book (trial 3, A13).
    assert panel.heading.text().endswith(
        ", but only after a nurse or prescriber overrides a warning: ask one to book it"
    )
    assert (
        "⚠ Warning: Driver (only a nurse or prescriber may override it and book)"
        in panel.offers_list.item(0).text()
    )
    # The front desk sees the warning and who may override it, and cannot book past it.
    assert panel.gating.isVisibleTo(panel)
    found = panel.gate_row("driver_arranged")
    assert found is not None
    assert not found[0].isVisibleTo(panel)
    assert not panel.book_button.isEnabled()
    assert panel.blocker.text() == "Gating warnings need a nurse or prescriber to override them."
    _keep_picture(panel, "waitlist-offer-warning-front-desk.png")

    nurse = Actor(user_id=None, username="kim", role="nurse")
    offer = OfferPanel(Desk(clinic.db, nurse, lambda: NOW), panel.offers)
    qtbot.addWidget(offer)
    offer.show()
    assert "could take this place" in offer.heading.text()
    assert "only after" not in offer.heading.text()  # the nurse may book her
    assert "⚠ Warning: Driver (override with a reason to book)" in offer.offers_list.item(0).text()
    box, reason = offer.gate_row("driver_arranged") or (None, None)
    assert box is not None
    assert reason is not None
    assert box.isVisibleTo(offer)
    assert not offer.book_button.isEnabled()
    assert offer.blocker.text() == (
        "Override each gating warning with a reason, or fix the patient's record."
    )
    box.setChecked(True)
    assert not offer.book_button.isEnabled()  # a reason first
    reason.setText("her sister drives her; confirmed by phone")
    assert offer.book_button.isEnabled()
    _keep_picture(offer, "waitlist-offer-warning-nurse.png")
    offer.book_button.click()
    qtbot.waitUntil(lambda: "Call" in offer.result.text(), timeout=10_000)
    with clinic.db.read() as s:
        entry = s.get(WaitlistEntry, entry_id)
        assert entry is not None
        assert entry.status == "booked"
        booked = s.get(Appointment, entry.appointment_id)
        assert booked is not None
        assert booked.starts_at == turing.start
