"""From a session's page the desk can do what the app tells it to (the user trial: "2 sessions
fall in this time ... open each to move it", and the page offered no way to move them).

The page says the patient is away that day, with the range and reason, and what to do; its
Move… lists openings off the days away, judges the place chosen by the drag's check and moves
the session through the undo stack; a refusal keeps the dialog open.  The block's menu has
Move… too, greyed with who may for a role that may not move.  The series move proposes a
start past the days away and greys a spacing override the role may not give."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from PySide6.QtWidgets import QDialogButtonBox, QLabel
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from ketadesk.commands.run import open_day_window
from ketadesk.services.common.context import SYSTEM, Actor, who_may
from ketadesk.services.patients.days_away import add_day_away
from ketadesk.store.models import Appointment, Patient
from ketadesk.ui.booking.appointment_dialog import AppointmentDialog
from ketadesk.ui.booking.move_dialog import MoveSessionDialog
from ketadesk.ui.booking.series_move_dialog import SeriesMoveDialog
from ketadesk.ui.shell.main_window import MainWindow
from tests.clinic_fixtures import SmallClinic
from tests.ui.clinic_day import TUESDAY
from tests.ui.conftest import NOW
from tests.ui.shell.desk_helpers import desk_controller_of, wait_for_day

FRONT_DESK = Actor(user_id=None, username="jo", role="front_desk")
THERAPIST = Actor(user_id=None, username="sam", role="therapist")
PICTURES = Path("/tmp/sessionpage")


def _window(qtbot: QtBot, clinic: SmallClinic, actor: Actor) -> MainWindow:
    win = open_day_window(clinic.db, TUESDAY, now=lambda: NOW, actor=actor)
    qtbot.addWidget(win)
    win.resize(1400, 900)
    win.show()
    qtbot.waitExposed(win)
    wait_for_day(qtbot, win)
    return win


def _adas(clinic: SmallClinic, type_code_like: str) -> tuple[int, dt.datetime]:
    """Ada's first booked session still to come whose type starts so."""
    from ketadesk.store.models import SessionType

    with clinic.db.read() as s:
        row = s.execute(
            select(Appointment.id, Appointment.starts_at)
            .join(Patient, Patient.id == Appointment.patient_id)
            .join(SessionType, SessionType.id == Appointment.session_type_id)
            .where(
                Patient.last_name == "Lovelace",
                Appointment.status == "booked",
                Appointment.starts_at > NOW,
                SessionType.code.like(f"{type_code_like}%"),
            )
            .order_by(Appointment.starts_at)
        ).first()
    assert row is not None
    return row[0], row[1]


def _book_induction(clinic: SmallClinic) -> list[int]:
    """Ada's IV induction from the Wednesday after next (as tests/services/booking/
    test_series_moves.py books it)."""
    from ketadesk.services.booking import booking
    from ketadesk.services.booking.booking import BookingRequest
    from ketadesk.services.booking.planning import PlanWishes, propose_series

    proposal = propose_series(
        clinic.db,
        chart="BT-1",
        protocol="iv_induction",
        start=TUESDAY + dt.timedelta(days=8),
        wishes=PlanWishes(weekdays=("mon", "wed", "fri"), time=dt.time(10)),
        today=TUESDAY,
    )
    assert proposal.plan.complete, proposal.plan.problems
    request = BookingRequest(
        patient_id=proposal.patient_id, sessions=proposal.sessions, protocol="iv_induction"
    )
    return list(booking.book(clinic.db, SYSTEM, request, now=NOW).appointment_ids)


def _start_of(clinic: SmallClinic, appointment_id: int) -> dt.datetime:
    with clinic.db.read() as s:
        start = s.scalar(select(Appointment.starts_at).where(Appointment.id == appointment_id))
    assert start is not None
    return start


def _grab(widget: object, name: str) -> None:
    PICTURES.mkdir(parents=True, exist_ok=True)
    widget.grab().save(str(PICTURES / name))  # type: ignore[attr-defined]


@pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")  # offscreen
def test_the_page_says_the_patient_is_away_and_moves_the_session_from_there(
    qtbot: QtBot, clinic: SmallClinic
) -> None:
    session, start = _adas(clinic, "integration")
    day = clinic.calendar.local_date(start)
    add_day_away(
        clinic.db,
        SYSTEM,
        clinic.ids["Ada Lovelace"],
        day,
        day + dt.timedelta(days=1),
        "travel",
        now=NOW,
    )
    window = _window(qtbot, clinic, FRONT_DESK)
    controller = desk_controller_of(window)
    with qtbot.waitSignal(controller.appointment_opened, timeout=10_000) as opened:
        controller.open_appointment(session)
    page = opened.args[0]
    assert isinstance(page, AppointmentDialog)
    said = page.findChild(QLabel, "field_this_day")
    assert said is not None
    assert "The patient is away" in said.text()
    assert "(travel)" in said.text()
    assert "Move… finds it another place" in said.text()
    move = page.buttons["move"]
    assert move.isEnabled()
    _grab(page, "session_page_away.png")

    with qtbot.waitSignal(controller.session_move_opened, timeout=10_000) as moving:
        move.click()
    dialog = moving.args[0]
    assert isinstance(dialog, MoveSessionDialog)
    qtbot.waitUntil(lambda: dialog.openings.count() > 0, timeout=10_000)
    # The openings keep off the days away (the first proposed is the day after them).
    for row in range(dialog.openings.count()):
        item = dialog.openings.item(row)
        assert item is not None
        opening = item.data(0x0100)
        assert clinic.calendar.local_date(opening.start) > day + dt.timedelta(days=1), opening
    chosen = dialog.openings.item(0).data(0x0100)
    qtbot.waitUntil(lambda: dialog.verdict() is not None, timeout=10_000)
    assert dialog.move_button.isEnabled(), dialog.verdict_label.text()
    assert dialog.verdict_label.text().startswith("✓ Fits")
    _grab(dialog, "move_dialog.png")
    with qtbot.waitSignal(dialog.finished, timeout=10_000):
        dialog.move_button.click()
    assert _start_of(clinic, session) == chosen.start
    # On the undo stack, as the window's own moves are.
    assert controller.editor.stack.undoText().startswith("Move ")
    # The page shows the new place, and the day no longer holds anything against it.
    qtbot.waitUntil(lambda: page.findChild(QLabel, "field_this_day") is None, timeout=10_000)
    page.close()


@pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")  # offscreen
def test_a_refused_move_keeps_the_dialog_open_with_the_place_chosen(
    qtbot: QtBot, clinic: SmallClinic
) -> None:
    session, _start = _adas(clinic, "integration")
    window = _window(qtbot, clinic, FRONT_DESK)
    controller = desk_controller_of(window)
    with qtbot.waitSignal(controller.session_move_opened, timeout=10_000) as moving:
        controller.move_session(session)
    dialog = moving.args[0]
    qtbot.waitUntil(lambda: dialog.verdict() is not None, timeout=10_000)
    chosen = dialog.new_start()
    dialog.refused("changed at another workstation")
    assert dialog.isVisible()
    assert dialog.new_start() == chosen
    assert "Not moved: changed at another workstation" in dialog.verdict_label.text()
    dialog.close()


@pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")  # offscreen
def test_the_blocks_menu_offers_move_greyed_for_a_role_that_may_not(
    qtbot: QtBot, clinic: SmallClinic
) -> None:
    session, _start = _adas(clinic, "integration")
    for actor, enabled in ((FRONT_DESK, True), (THERAPIST, False)):
        window = _window(qtbot, clinic, actor)
        schedule = window.schedule()
        assert schedule is not None
        block = next(a for a in schedule.appointments if a.id == session)
        menu = window.day_view.context_menu(block)
        item = next(a for a in menu.actions() if a.objectName() == "move_session")
        assert item.text() == "Move…"
        assert item.isEnabled() is enabled
        if not enabled:
            assert item.toolTip() == who_may("move")
        else:
            with qtbot.waitSignal(
                desk_controller_of(window).session_move_opened, timeout=10_000
            ) as moving:
                item.trigger()
            moving.args[0].close()
        menu.deleteLater()
        window.close()


@pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")  # offscreen
def test_the_series_move_proposes_past_days_away_and_greys_an_override_the_desk_cannot_give(
    qtbot: QtBot, clinic: SmallClinic
) -> None:
    ids = _book_induction(clinic)
    session, start = ids[1], _start_of(clinic, ids[1])
    day = clinic.calendar.local_date(start)
    away = (day + dt.timedelta(days=1), day + dt.timedelta(days=3))
    add_day_away(clinic.db, SYSTEM, clinic.ids["Ada Lovelace"], *away, "travel", now=NOW)
    window = _window(qtbot, clinic, FRONT_DESK)
    controller = desk_controller_of(window)
    controller.move_series(session)

    def opened() -> SeriesMoveDialog | None:
        found = window.findChild(SeriesMoveDialog, "series_move_dialog")
        return found if isinstance(found, SeriesMoveDialog) else None

    qtbot.waitUntil(lambda: opened() is not None, timeout=10_000)
    dialog = opened()
    assert dialog is not None
    proposed = clinic.calendar.local_date(dialog.new_start())
    assert proposed == away[1] + dt.timedelta(days=1)  # not the day after: she is away
    # A start too far for the protocol's spacing: the desk may not override it.
    dialog.set_new_start(start + dt.timedelta(days=4))
    dialog.show_plan()
    qtbot.waitUntil(
        lambda: bool(dialog.message.text()) and "Working" not in dialog.message.text(),
        timeout=10_000,
    )
    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    proposal = dialog.proposal()
    assert proposal is not None, dialog.message.text()
    assert proposal.plan.problems, "the spacing should be off"
    who = "Only a nurse or prescriber may move these sessions against the protocol's spacing"
    assert not ok.isEnabled()
    assert ok.toolTip() == who
    assert not dialog.reason_edit.isEnabled()
    assert who in dialog.message.text()
    _grab(dialog, "series_move_greyed.png")
    # A refusal keeps the dialog open with what was typed.
    dialog.reason_edit.setText("she asked")
    dialog.refused("changed at another workstation")
    assert dialog.isVisible()
    assert dialog.reason_edit.text() == "she asked"
    dialog.reject()
