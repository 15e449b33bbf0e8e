"""File ▸ Print holds every document the desk prints, and no other menu holds a print entry:
the day sheets, the call lists, the waitlist, and the card and session record of the session
selected on the schedule (the card, with nothing selected, for a patient found by name)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QWidget
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from ketadesk.commands.run import open_day_window
from ketadesk.services.common.context import Actor
from ketadesk.services.printing.layout import PrintLayout
from ketadesk.store.models import Appointment
from ketadesk.ui.common.desk import Desk
from ketadesk.ui.printing.print_dialogs import DocumentMenu, DocumentPreview, PreviewOutcome
from ketadesk.ui.shell.main_window import MainWindow
from tests.clinic_fixtures import SmallClinic
from tests.ui.clinic_day import TUESDAY
from tests.ui.conftest import NOW
from tests.ui.shell.desk_helpers import wait_for_day

NURSE = Actor(user_id=None, username="kim", role="nurse")
FRONT_DESK = Actor(user_id=None, username="jo", role="front_desk")
pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")

EXPECTED = [
    "Day sheet by room…",
    "Day sheet by clinician…",
    "Day sheet with initials (public view)…",
    "Save day sheet as PDF…",
    "",
    "Follow-up call list…",
    "Follow-up call list for the next business day…",
    "Confirmation call sheet…",
    "Waitlist…",
    "",
    "Appointment card…",
    "Session record…",
]


@pytest.fixture
def window(qtbot: QtBot, clinic: SmallClinic) -> MainWindow:
    win = open_day_window(clinic.db, TUESDAY, now=lambda: NOW, actor=NURSE)
    qtbot.addWidget(win)
    win.resize(1400, 900)
    win.show()
    qtbot.waitExposed(win)
    wait_for_day(qtbot, win)
    return win


@pytest.fixture
def shown(monkeypatch: pytest.MonkeyPatch) -> list[PrintLayout]:
    layouts: list[PrintLayout] = []

    def fake_show(
        cls: type[DocumentPreview], p: QWidget | None, layout: PrintLayout
    ) -> PreviewOutcome:
        layouts.append(layout)
        return PreviewOutcome()  # closed without printing

    monkeypatch.setattr(DocumentPreview, "show_for", classmethod(fake_show))
    return layouts


def menu_of(window: MainWindow, title: str) -> QMenu:
    for action in window.menuBar().actions():
        if action.text().replace("&", "") == title:
            menu = action.menu()
            assert isinstance(menu, QMenu)
            return menu
    raise AssertionError(f"no {title} menu")


def every_entry(menu: QMenu, path: str = "") -> Iterator[tuple[str, QAction]]:
    for action in menu.actions():
        where = f"{path} ▸ {action.text().replace('&', '')}"
        yield where, action
        sub = action.menu()
        if isinstance(sub, QMenu):
            yield from every_entry(sub, where)


def print_menu(window: MainWindow) -> DocumentMenu:
    first = menu_of(window, "File").actions()[0]
    menu = first.menu()
    assert isinstance(menu, DocumentMenu)
    return menu


def test_file_print_lists_every_document_once(window: MainWindow) -> None:
    menu = print_menu(window)
    assert menu.title() == "&Print"
    assert [a.text() for a in menu.actions()] == EXPECTED
    assert all(a.isEnabled() for a in menu.actions())
    # No print entry anywhere else in the menus: File holds the submenu, then Quit.
    elsewhere = [
        where
        for top in window.menuBar().actions()
        if isinstance(top.menu(), QMenu)
        for where, action in every_entry(top.menu(), top.text().replace("&", ""))  # type: ignore[arg-type]
        if "print" in action.text().lower()
        and where != "File ▸ Print"
        and not where.startswith("File ▸ Print ▸ ")
    ]
    assert elsewhere == []
    assert [a.text() for a in menu_of(window, "File").actions() if not a.isSeparator()] == [
        "&Print",
        "Quit",
    ]
    # The toolbar's Print and the shortcuts still print the day sheet.
    assert window.actions_by_name["print"].shortcut().toString() == "Ctrl+P"
    assert window.actions_by_name["print_preview"].shortcut().toString() == "Ctrl+Shift+P"


def _ada_at_nine(clinic: SmallClinic) -> int:
    with clinic.db.read() as session:
        found = session.scalar(
            select(Appointment.id).where(
                Appointment.patient_id == clinic.ids["Ada Lovelace"],
                Appointment.starts_at == clinic.at(TUESDAY, "09:00"),
            )
        )
    assert found is not None
    return found


def test_each_document_of_the_menu_previews(
    qtbot: QtBot, window: MainWindow, clinic: SmallClinic, shown: list[PrintLayout]
) -> None:
    menu = print_menu(window)
    controller = window.desk_controller()
    assert controller is not None
    printer = controller.printer
    for name, title in (
        ("day_sheet_room", "Day sheet by room: Tuesday, November 24, 2026"),
        ("day_sheet_staff", "Day sheet by staff member: Tuesday, November 24, 2026"),
        ("call_list", "Follow-up calls: Tuesday, November 24, 2026"),
        # The evening before: the next business day's calls (Wednesday's).
        ("call_list_next", "Follow-up calls: Wednesday, November 25, 2026"),
        ("confirmations", "Confirmation calls: "),
        ("waitlist", "Waitlist: Tuesday, November 24, 2026"),
    ):
        with qtbot.waitSignal(printer.finished, timeout=10_000):
            menu.actions_by_name[name].trigger()
        assert shown[-1].title.startswith(title)

    # Nothing selected: the record says what to do, in the status bar; nothing is printed.
    count = len(shown)
    menu.actions_by_name["session_record"].trigger()
    assert "Select a dosing session" in window.statusBar().currentMessage()
    assert len(shown) == count

    # Ada's infusion selected: her card (a card, of the clinic's size) and its record.
    window.day_view.select_appointment(_ada_at_nine(clinic))
    with qtbot.waitSignal(printer.finished, timeout=10_000):
        menu.actions_by_name["appointment_card"].trigger()
    assert shown[-1].title == "Appointment card: Ada Lovelace"
    assert shown[-1].card is not None
    assert (shown[-1].card.width_in, shown[-1].card.height_in) == (3.0, 5.0)
    with qtbot.waitSignal(printer.finished, timeout=10_000):
        menu.actions_by_name["session_record"].trigger()
    assert shown[-1].title.startswith("Session monitoring record: Lovelace, Ada")


def test_the_card_without_a_selection_asks_whose(
    qtbot: QtBot, window: MainWindow, clinic: SmallClinic, shown: list[PrintLayout]
) -> None:
    from ketadesk.ui.patients.patient_search import FindPatientDialog

    menu = print_menu(window)
    window.day_view.select_appointment(None)
    menu.actions_by_name["appointment_card"].trigger()
    dialog = window.findChild(FindPatientDialog)
    assert isinstance(dialog, FindPatientDialog)
    assert dialog.isVisible()
    controller = window.desk_controller()
    assert controller is not None
    with qtbot.waitSignal(controller.printer.finished, timeout=10_000):
        dialog.patient_chosen.emit(clinic.ids["Mary Seacole"])
    assert shown[-1].title == "Appointment card: Mary Seacole"
    dialog.close()


def test_a_document_the_role_may_not_print_is_greyed_out_and_says_why(
    qtbot: QtBot, clinic: SmallClinic, shown: list[PrintLayout]
) -> None:
    """The front desk may not read clinical records: the session record was offered, and failed
    only once clicked ("may not read clinical").  It is greyed out with a tooltip saying who
    may print it; a switch of user to a nurse offers it again."""
    win = open_day_window(clinic.db, TUESDAY, now=lambda: NOW, actor=FRONT_DESK)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    wait_for_day(qtbot, win)
    menu = print_menu(win)
    assert menu.toolTipsVisible()
    record = menu.actions_by_name["session_record"]
    assert not record.isEnabled()
    assert record.toolTip() == (
        "The monitoring record of the selected dosing session. Only an administrator, nurse, "
        "prescriber or therapist may read clinical records."
    )
    assert record.statusTip() == record.toolTip()
    others = [a for name, a in menu.actions_by_name.items() if name != "session_record"]
    assert all(a.isEnabled() for a in others)
    assert all("Only" not in a.toolTip() for a in others)

    win.day_view.select_appointment(_ada_at_nine(clinic))
    record.trigger()  # a disabled action does nothing: no preview, no refusal afterwards
    assert shown == []

    win.attach_desk(Desk(clinic.db, NURSE, lambda: NOW))  # Clinic ▸ Switch user…
    menu = print_menu(win)
    record = menu.actions_by_name["session_record"]
    assert record.isEnabled()
    assert record.toolTip() == "The monitoring record of the selected dosing session"
