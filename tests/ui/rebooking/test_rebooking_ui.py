"""Rebooking through the widgets: a no-show of a series session in the day view offers a
make-up there and then; accepted, it books the make-up (in the database, under the same place
in the series); the no-show fee is recorded and shown on the Fees list (Go ▸ Fees…), which
waives a fee with a reason and prints on Letter.

The clinic is tests/ui/clinic_day.py's Tuesday, "now" 10:15 (tests/ui/conftest.py NOW): Ada
Lovelace's IV infusion 3/6 at 09:00 in Room 1 has not started.
"""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path

import pytest
from PySide6.QtCore import QDate, QPoint, Qt
from PySide6.QtGui import QImage, QPainter
from PySide6.QtTest import QTest
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from ketadesk.commands.run import open_day_window
from ketadesk.services.common.context import Actor
from ketadesk.services.rebooking import makeup
from ketadesk.store.models import Appointment, SeriesRebooking, SessionFee
from ketadesk.ui.common.desk import Desk
from ketadesk.ui.confirmations.confirmations_view import ConfirmationsView
from ketadesk.ui.printing.print_dialogs import PDF
from ketadesk.ui.rebooking.fees_view import FeesView
from ketadesk.ui.rebooking.rebook_panel import RebookPanel
from ketadesk.ui.shell.main_window import MainWindow
from tests.clinic_fixtures import SmallClinic
from tests.services.rebooking.test_makeup import book_induction, no_show
from tests.ui.clinic_day import TUESDAY, WEDNESDAY
from tests.ui.conftest import NOW
from tests.ui.shell.desk_helpers import desk_controller_of, wait_for_day

FRONT_DESK = Actor(user_id=None, username="jo", role="front_desk")
ADMIN = Actor(user_id=None, username="lee", role="admin")
SCREENSHOT = Path(__file__).resolve().parents[3] / "docs" / "screenshots" / "rebooking.png"
# The offer and the list are windows of their own; the offscreen platform says so.
pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")


@pytest.fixture
def window(qtbot: QtBot, clinic: SmallClinic) -> MainWindow:
    win = open_day_window(clinic.db, TUESDAY, now=lambda: NOW, actor=FRONT_DESK)
    qtbot.addWidget(win)
    win.resize(1400, 900)
    win.show()
    qtbot.waitExposed(win)
    wait_for_day(qtbot, win)
    return win


def _save_side_by_side(panel: RebookPanel, fees: FeesView, path: Path) -> None:
    left, right = panel.grab().toImage(), fees.grab().toImage()
    image = QImage(
        left.width() + right.width() + 12,
        max(left.height(), right.height()),
        QImage.Format.Format_RGB32,
    )
    image.fill(0xFFFFFF)
    painter = QPainter(image)
    painter.drawImage(QPoint(0, 0), left)
    painter.drawImage(QPoint(left.width() + 12, 0), right)
    painter.end()
    path.parent.mkdir(parents=True, exist_ok=True)
    assert image.save(str(path))


def test_a_no_show_offers_a_make_up_which_is_booked_and_the_fee_listed(
    qtbot: QtBot, window: MainWindow, clinic: SmallClinic, tmp_path: Path
) -> None:
    day = window.day_view
    layout = day.day_layout()
    assert layout is not None
    ada = next(
        b.appointment
        for b in layout.blocks
        if b.appointment.patient_name == "Lovelace, Ada"
        and b.appointment.status == "booked"
        and b.appointment.session_type_short == "IV"
    )
    controller = desk_controller_of(window)
    no_show = next(a for a in day.context_menu(ada).actions() if a.objectName() == "no_show")
    no_show.trigger()

    qtbot.waitUntil(lambda: controller.rebook_panel is not None, timeout=10_000)
    panel = controller.rebook_panel
    assert isinstance(panel, RebookPanel)
    assert panel.isVisible()
    assert not panel.isModal()
    assert panel.heading.text().startswith("Lovelace, Ada: No-show: IV ketamine infusion 3/6")
    assert panel.fee_label.text() == "No-show fee $150.00 recorded"
    # The preview: the make-up, a day after the missed one at the earliest, same time.
    assert panel.preview.count() >= 1
    first_line = panel.preview.item(0).text()
    assert first_line.startswith("Make-up 3/6: ")
    assert f"{WEDNESDAY:%a %m/%d} 09:00" in first_line
    assert "Room" in first_line
    assert panel.short_button.text().replace("&", "") == "Series continues with 5 of 6"
    assert panel.make_up_button.isEnabled()

    # The Fees list (Go ▸ Fees…) shows the no-show's fee.
    window.actions_by_name["fees"].trigger()
    fees = controller.fees_window
    assert isinstance(fees, FeesView)
    qtbot.waitUntil(lambda: fees.model.rowCount() == 1, timeout=10_000)
    row = fees.model.rows()[0]
    assert (row.patient_name, row.kind_name, row.amount_text, row.status_name) == (
        "Lovelace, Ada",
        "No-show",
        "$150.00",
        "Owed",
    )
    assert fees.summary.text() == "1 fee, 1 owed: $150.00"
    assert not fees.waive_button.isVisible()  # the front desk may not waive
    fees.resize(760, 300)
    _save_side_by_side(panel, fees, tmp_path / "rebooking.png")

    panel.make_up_button.click()
    qtbot.waitUntil(lambda: panel.result.text().startswith("Make-up booked"), timeout=10_000)
    assert not panel.make_up_button.isEnabled()
    assert not panel.short_button.isEnabled()
    assert window.statusBar().currentMessage().startswith("Make-up booked for Lovelace, Ada")
    with clinic.db.read() as s:
        made = s.scalars(
            select(Appointment).where(
                Appointment.patient_id == clinic.ids["Ada Lovelace"],
                Appointment.series_index == 3,
                Appointment.status == "booked",
            )
        ).one()
        assert clinic.calendar.local_date(made.starts_at) == WEDNESDAY
        assert clinic.calendar.local(made.starts_at).time() == dt.time(9, 0)
        assert made.room_id is not None
        decision = s.scalars(select(SeriesRebooking)).one()
        assert decision.decision == "made_up"
        assert decision.make_up_appointment_id == made.id
        fee = s.scalars(select(SessionFee)).one()
        assert (fee.kind, fee.amount_cents, fee.status) == ("no_show", 15_000, "owed")
        made_id = made.id

    # One step on the desk's undo stack: Edit ▸ Undo takes the make-up back, Redo books it.
    undo = window.actions_by_name["undo"]
    qtbot.waitUntil(lambda: undo.text() == "Undo Make-up for Lovelace, Ada", timeout=10_000)
    undo.trigger()
    qtbot.waitUntil(lambda: not controller.editor.is_busy(), timeout=10_000)

    def made_up_status() -> str | None:
        with clinic.db.read() as s:
            return s.scalar(select(Appointment.status).where(Appointment.id == made_id))

    qtbot.waitUntil(lambda: made_up_status() == "cancelled", timeout=10_000)
    with clinic.db.read() as s:
        assert s.scalars(select(SeriesRebooking)).all() == []
    window.actions_by_name["redo"].trigger()
    qtbot.waitUntil(lambda: not controller.editor.is_busy(), timeout=10_000)
    with clinic.db.read() as s:
        assert s.scalars(select(SeriesRebooking.decision)).one() == "made_up"


def test_the_fees_list_waives_with_a_reason_and_prints_on_letter(
    qtbot: QtBot,
    window: MainWindow,
    clinic: SmallClinic,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    qtmodeltester: object,
) -> None:
    day = window.day_view
    layout = day.day_layout()
    assert layout is not None
    ada = next(
        b.appointment
        for b in layout.blocks
        if b.appointment.patient_name == "Lovelace, Ada"
        and b.appointment.session_type_short == "IV"
    )
    controller = desk_controller_of(window)
    next(a for a in day.context_menu(ada).actions() if a.objectName() == "no_show").trigger()
    qtbot.waitUntil(lambda: controller.rebook_panel is not None, timeout=10_000)
    panel = controller.rebook_panel
    assert isinstance(panel, RebookPanel)
    panel.short_button.click()
    qtbot.waitUntil(lambda: "Series continues with" in panel.result.text(), timeout=10_000)

    fees = FeesView(Desk(clinic.db, ADMIN, lambda: NOW), None, day=TUESDAY)
    qtbot.addWidget(fees)
    fees.show()
    fees.set_range(TUESDAY, TUESDAY)
    qtbot.waitUntil(lambda: fees.model.rowCount() == 1, timeout=10_000)
    qtmodeltester.check(fees.model)  # type: ignore[attr-defined]
    fees.table.selectRow(0)
    assert fees.waive_button.isEnabled()
    monkeypatch.setattr(fees, "ask_waive_reason", lambda _row: "first miss, car broke down")
    fees.waive_button.click()
    qtbot.waitUntil(
        lambda: fees.model.rowCount() == 1 and fees.model.rows()[0].status == "waived",
        timeout=10_000,
    )
    assert fees.summary.text() == "1 fee, 0 owed: $0.00"
    # Only owed fees: none left.
    fees.set_range(TUESDAY, TUESDAY, "owed")
    qtbot.waitUntil(lambda: fees.model.rowCount() == 0, timeout=10_000)
    fees.set_range(TUESDAY, TUESDAY)
    qtbot.waitUntil(lambda: fees.model.rowCount() == 1, timeout=10_000)

    pdf = tmp_path / "fees.pdf"
    fees.print_list(PDF, pdf)
    qtbot.waitUntil(pdf.exists, timeout=10_000)
    qtbot.waitUntil(lambda: pdf.stat().st_size > 0, timeout=10_000)
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True)
    assert "612 x 792 pts (letter)" in info.stdout
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "Lovelace, Ada" in text
    assert "$150.00" in text
    assert "Waived by" in text
    assert "car broke down" in text  # the reason (it may wrap)
    with clinic.db.read() as s:
        assert s.scalars(select(SeriesRebooking.decision)).one() == "continue_short"


def test_a_cancellation_from_the_confirmations_list_offers_a_make_up_too(
    qtbot: QtBot, window: MainWindow, clinic: SmallClinic
) -> None:
    QTest.keyClick(window, Qt.Key.Key_9, Qt.KeyboardModifier.ControlModifier)
    view = window.page("confirmations")
    assert isinstance(view, ConfirmationsView)
    view.day_edit.setDate(QDate(TUESDAY.year, TUESDAY.month, TUESDAY.day))

    def ada_row() -> int | None:
        return next(
            (
                n
                for n, r in enumerate(view.model.rows())
                if r.patient_name == "Lovelace, Ada"
                and r.appointment_status == "booked"
                and "IV" in r.session_type_name
            ),
            None,
        )

    qtbot.waitUntil(lambda: ada_row() is not None, timeout=10_000)
    row = ada_row()
    assert row is not None
    view.table.selectRow(row)
    view.reason.setText("the patient is unwell")
    view.cancel_button.click()
    controller = desk_controller_of(window)
    qtbot.waitUntil(lambda: controller.rebook_panel is not None, timeout=10_000)
    panel = controller.rebook_panel
    assert isinstance(panel, RebookPanel)
    assert "Late cancellation: IV ketamine infusion 3/6" in panel.heading.text()
    # Cancelled after its start: late, so the clinic's late-cancellation fee is recorded.
    assert panel.fee_label.text() == "Late cancellation fee $100.00 recorded"


def test_the_offer_previews_the_later_sessions_a_make_up_moves(
    qtbot: QtBot, clinic: SmallClinic
) -> None:
    """A whole induction booked, its second infusion missed: the make-up takes the next place
    the spacing allows and the later infusions move on, each shown with where it was.  The
    README's picture, with the Fees list as an administrator sees it."""
    rows = book_induction(clinic)
    at = no_show(clinic, rows[1])
    offer = makeup.offer_for(clinic.db, rows[1].id, now=at)
    assert offer is not None
    panel = RebookPanel(Desk(clinic.db, FRONT_DESK, lambda: at), offer)
    qtbot.addWidget(panel)
    panel.show()
    lines = [panel.preview.item(n).text() for n in range(panel.preview.count())]
    assert lines[0].startswith("Make-up 2/6: ")
    assert [line.split(":")[0] for line in lines[1:]] == [
        "Session 3/6",
        "Session 4/6",
        "Session 5/6",
        "Session 6/6",
    ]
    assert all("(moves from " in line for line in lines[1:])
    assert panel.make_up_button.isEnabled()
    fees = FeesView(Desk(clinic.db, ADMIN, lambda: at), None, day=clinic.calendar.local_date(at))
    qtbot.addWidget(fees)
    fees.show()
    fees.refresh()
    qtbot.waitUntil(lambda: fees.model.rowCount() == 1, timeout=10_000)
    fees.table.selectRow(0)
    assert fees.waive_button.isEnabled()
    fees.resize(760, panel.height())
    _save_side_by_side(panel, fees, SCREENSHOT)
