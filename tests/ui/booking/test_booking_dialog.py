"""The booking dialog on a real clinic: register a patient (mistakes first), plan an IV
induction, swap a session, book it and find it on the days; gating and its override path; a
booking that lost a race with another workstation keeps the draft and offers a re-plan."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QLineEdit, QPushButton
from pytestqt.qtbot import QtBot
from sqlalchemy import func, select

from ketadesk.scheduling.gating import GateResult, Severity
from ketadesk.scheduling.model import PlannedSession
from ketadesk.scheduling.planner import spacing_problems
from ketadesk.services.booking import booking
from ketadesk.services.booking.appointments import appointment_detail
from ketadesk.services.booking.booking import BookingRequest
from ketadesk.services.booking.planning import booking_choices, propose_series, session_alternatives
from ketadesk.services.common.context import SYSTEM, Actor
from ketadesk.services.patients.patient_fields import PatientForm
from ketadesk.services.patients.registration import register_patient
from ketadesk.services.schedule.day import day_schedule
from ketadesk.store.database import open_database
from ketadesk.store.models import GatingOverride, Patient
from ketadesk.ui.booking.booking_dialog import BookingDialog, confirm_blocker, read_setup
from ketadesk.ui.common.desk import Desk
from ketadesk.ui.common.gate_overrides import may_override_for
from ketadesk.ui.patients.patient_form import PatientFormDialog
from tests.clinic_fixtures import SmallClinic
from tests.ui.conftest import NOW
from tests.ui.sql_guard import allow_gui_thread_sql

NURSE = Actor(user_id=None, username="kim", role="nurse")
FRONT_DESK = Actor(user_id=None, username="maria", role="front_desk")
TIMEOUT = 20_000


def _desk(clinic: SmallClinic, actor: Actor = NURSE) -> Desk:
    return Desk(clinic.db, actor, now=lambda: NOW)


@pytest.fixture
def open_dialog(qtbot: QtBot, clinic: SmallClinic) -> Iterator[list[BookingDialog]]:
    shown: list[BookingDialog] = []
    yield shown
    for dialog in shown:
        if dialog.isVisible():
            dialog.done(0)


def _dialog(
    qtbot: QtBot,
    clinic: SmallClinic,
    shown: list[BookingDialog],
    actor: Actor = NURSE,
    patient_id: int | None = None,
) -> BookingDialog:
    desk = _desk(clinic, actor)
    with allow_gui_thread_sql():  # what open_for reads on a worker, read here by the test
        setup = read_setup(desk)
    dialog = BookingDialog(desk, patient_id, setup=setup)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    qtbot.waitUntil(lambda: not dialog.is_busy())  # the patient is read on a worker
    shown.append(dialog)
    return dialog


def _choose_protocol(dialog: BookingDialog, code: str) -> None:
    dialog.protocol.setCurrentIndex(dialog.protocol.findData(code))


def _plan(qtbot: QtBot, dialog: BookingDialog) -> None:
    with qtbot.waitSignal(dialog.settled, timeout=TIMEOUT):
        QTest.mouseClick(dialog.plan_button, Qt.MouseButton.LeftButton)
    assert not dialog.is_busy()


def _patients(clinic: SmallClinic) -> int:
    with clinic.db.read() as session:
        return session.scalar(select(func.count()).select_from(Patient)) or 0


def _save_button(form: PatientFormDialog) -> QPushButton:
    button = form.buttons.buttons()[0]
    assert isinstance(button, QPushButton)
    return button


def _set(form: PatientFormDialog, **values: str) -> None:
    for name, value in values.items():
        editor = form.fields[name].editor
        if isinstance(editor, QLineEdit):
            editor.setText(value)
        else:
            form.fields[name].set_text(value)


def test_register_a_new_patient_and_book_an_iv_induction(
    qtbot: QtBot, clinic: SmallClinic, open_dialog: list[BookingDialog]
) -> None:
    dialog = _dialog(qtbot, clinic, open_dialog)
    assert not dialog.confirm.isEnabled()
    before = _patients(clinic)
    seen: dict[str, object] = {}

    def register_in_the_form() -> None:
        form = QApplication.activeModalWidget()
        assert isinstance(form, PatientFormDialog)
        # Mistakes first: marked at their fields, nothing saved.
        _set(
            form,
            first_name="Octavia",
            last_name="Butler",
            date_of_birth="1947-06-31",
            phone="555",
            email="octavia@",
        )
        QTest.mouseClick(_save_button(form), Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: not form.is_saving())  # saved on the writer worker
        seen["errors"] = form.errors()
        seen["saved"] = _patients(clinic) - before
        # Then right, with the gating facts a nurse keeps.
        _set(
            form,
            date_of_birth="06/22/1947",
            phone="(619) 555-0147",
            email="octavia@example.com",
            driver_name="Ernestine Butler",
            screening_status="cleared",
            screening_cleared_on="2026-11-20",
            consent_signed_on="2026-11-20",
        )
        QTest.mouseClick(_save_button(form), Qt.MouseButton.LeftButton)

    QTimer.singleShot(0, register_in_the_form)
    QTest.mouseClick(dialog.picker.new_button, Qt.MouseButton.LeftButton)
    assert seen["saved"] == 0
    assert seen["errors"] == {
        "date_of_birth": "'1947-06-31' is not a real date",
        "phone": "a phone number needs 10 digits with the area code (this has 3); "
        "start international numbers with +",
        "email": "not an email address (name@example.com)",
    }
    assert _patients(clinic) == before + 1
    qtbot.waitUntil(lambda: dialog.patient_id is not None)  # read on a worker
    assert dialog.patient_name.text().startswith("<b>Butler, Octavia</b>")

    _choose_protocol(dialog, "iv_induction")
    _plan(qtbot, dialog)
    rows = dialog.model.rows()
    assert len(rows) == 6
    assert all(r.placed and r.room.startswith("Room") and r.monitor for r in rows)
    assert all(r.staff == "Nurse Kim" for r in rows)
    assert dialog.gating.isHidden()
    assert dialog.confirm.isEnabled(), dialog.blocker.text()

    # Swap the third session for one of its alternatives.
    dialog.table.selectRow(2)
    with qtbot.waitSignal(dialog.settled, timeout=TIMEOUT):
        QTest.mouseClick(dialog.other_times, Qt.MouseButton.LeftButton)
    assert dialog.alternatives.count() > 0
    third_before = rows[2]
    chosen = dialog._alternatives[dialog.alternatives.count() - 1]
    dialog.alternatives.setCurrentRow(dialog.alternatives.count() - 1)
    QTest.mouseClick(dialog.use_alternative, Qt.MouseButton.LeftButton)
    third = dialog.model.rows()[2]
    assert (third.date, third.time) != (third_before.date, third_before.time)
    assert (
        third.warnings
        == f"moved from {third_before.date.rsplit(',', 1)[0]} {third_before.time[:5]}"
    )
    assert dialog.confirm.isEnabled(), dialog.blocker.text()

    with qtbot.waitSignal(dialog.booked, timeout=TIMEOUT) as booked:
        QTest.mouseClick(dialog.confirm, Qt.MouseButton.LeftButton)
    ids, first_day = booked.args
    assert len(ids) == 6
    assert dialog.result() == BookingDialog.DialogCode.Accepted
    details = [appointment_detail(clinic.db, i) for i in ids]
    assert {d.patient_id for d in details} == {dialog.patient_id}
    assert [d.series_label for d in details] == [f"{n}/6" for n in range(1, 7)]
    assert {d.status for d in details} == {"booked"}
    assert {d.protocol_name for d in details} == {"IV induction (6 infusions)"}
    assert details[2].start == chosen.start
    assert min(d.start for d in details).date() == first_day
    for detail in details:
        day = detail.start.date()
        schedule = day_schedule(clinic.db, day)
        here = [a for a in schedule.appointments if a.id == detail.id]
        assert len(here) == 1
        assert here[0].patient_name == "Butler, Octavia"
        assert here[0].series_label.endswith("/6")


def test_a_booking_that_lost_a_race_keeps_the_draft_and_offers_a_replan(
    qtbot: QtBot, clinic: SmallClinic, open_dialog: list[BookingDialog]
) -> None:
    ada = clinic.ids["Ada Lovelace"]
    dialog = _dialog(qtbot, clinic, open_dialog, patient_id=ada)
    _choose_protocol(dialog, "iv_induction")
    _plan(qtbot, dialog)
    draft = dialog.model.rows()
    assert len(draft) == 6
    assert dialog.confirm.isEnabled()
    first = dialog._sessions[0]
    with clinic.db.read() as session:
        adas_before = booking_count(session, ada)

    # Meanwhile, at the front desk's workstation: Mary takes the first session's room and time.
    other = open_database(str(clinic.db.url.render_as_string(hide_password=False)))
    try:
        mine = dataclasses.replace(first, index=1)
        booking.book(
            other,
            SYSTEM,
            BookingRequest(patient_id=clinic.ids["Mary Seacole"], sessions=(mine,)),
            now=NOW,
        )
    finally:
        other.dispose()

    with qtbot.waitSignal(dialog.settled, timeout=TIMEOUT):
        QTest.mouseClick(dialog.confirm, Qt.MouseButton.LeftButton)
    assert dialog.isVisible()
    assert dialog.model.rows() == draft  # the draft is kept
    message = dialog.message.text()
    assert message.startswith("Not booked: another workstation took part of this plan")
    assert "Your draft is kept below." in message
    assert "Room" in message
    assert dialog.replan.isVisibleTo(dialog)
    with clinic.db.read() as session:
        assert booking_count(session, ada) == adas_before  # nothing of the draft was saved

    with qtbot.waitSignal(dialog.settled, timeout=TIMEOUT):
        QTest.mouseClick(dialog.replan, Qt.MouseButton.LeftButton)
    rows = dialog.model.rows()
    assert len(rows) == 6
    assert rows[0].warnings.startswith("changed (was ")
    assert dialog.replan.isHidden()
    assert dialog.confirm.isEnabled(), dialog.blocker.text()
    with qtbot.waitSignal(dialog.booked, timeout=TIMEOUT) as booked:
        QTest.mouseClick(dialog.confirm, Qt.MouseButton.LeftButton)
    assert len(booked.args[0]) == 6


def booking_count(session: object, patient_id: int) -> int:
    from ketadesk.store.models import Appointment

    return int(
        session.scalar(  # type: ignore[attr-defined]
            select(func.count())
            .select_from(Appointment)
            .where(Appointment.patient_id == patient_id)
        )
    )


def _patient_without_driver(clinic: SmallClinic) -> int:
    form = PatientForm(
        first_name="Audre",
        last_name="Lorde",
        screening_status="cleared",
        screening_cleared_on="2026-11-20",
        consent_signed_on="2026-11-20",
    )
    return register_patient(clinic.db, NURSE, form, now=NOW)


def test_front_desk_sees_the_warning_but_no_override(
    qtbot: QtBot, clinic: SmallClinic, open_dialog: list[BookingDialog]
) -> None:
    pid = _patient_without_driver(clinic)
    dialog = _dialog(qtbot, clinic, open_dialog, FRONT_DESK, pid)
    _choose_protocol(dialog, "iv_induction")
    _plan(qtbot, dialog)
    assert dialog.gating.isVisibleTo(dialog)
    row = dialog.gate_row("driver_arranged")
    assert row is not None
    box, reason = row
    assert box.isHidden()
    assert reason.isHidden()
    assert not dialog.confirm.isEnabled()
    assert dialog.blocker.text() == "Gating warnings need a nurse or prescriber to override them."


def test_a_nurse_overrides_a_warning_with_a_reason(
    qtbot: QtBot, clinic: SmallClinic, open_dialog: list[BookingDialog]
) -> None:
    pid = _patient_without_driver(clinic)
    dialog = _dialog(qtbot, clinic, open_dialog, NURSE, pid)
    _choose_protocol(dialog, "iv_induction")
    _plan(qtbot, dialog)
    row = dialog.gate_row("driver_arranged")
    assert row is not None
    box, reason = row
    assert box.isVisibleTo(dialog)
    assert not dialog.confirm.isEnabled()
    box.setChecked(True)
    assert not dialog.confirm.isEnabled()  # a reason is needed
    reason.setText("Takes the clinic shuttle home")
    assert dialog.confirm.isEnabled(), dialog.blocker.text()
    with qtbot.waitSignal(dialog.booked, timeout=TIMEOUT) as booked:
        QTest.mouseClick(dialog.confirm, Qt.MouseButton.LeftButton)
    with clinic.db.read() as session:
        overrides = session.execute(
            select(GatingOverride.rule, GatingOverride.reason).where(
                GatingOverride.appointment_id.in_(booked.args[0])
            )
        ).all()
    assert {tuple(o) for o in overrides} == {("driver_arranged", "Takes the clinic shuttle home")}
    assert len(overrides) == 6


CLINICIAN = may_override_for(Actor(user_id=None, username="kim", role="nurse"))
FRONT_DESK_MAY = may_override_for(Actor(user_id=None, username="jo", role="front_desk"))


def test_what_stops_a_confirm() -> None:
    warn = GateResult("driver_arranged", Severity.WARN, "no driver or escort arranged")
    block = GateResult("consent_signed", Severity.BLOCK, "no consent on file")
    assert confirm_blocker([], [], {}, CLINICIAN) == "Plan first."
    placed = [_session(1), _session(2)]
    assert confirm_blocker(placed, [], {}, FRONT_DESK_MAY) == ""
    assert confirm_blocker(placed, [warn], {}, FRONT_DESK_MAY) == (
        "Gating warnings need a nurse or prescriber to override them."
    )
    assert confirm_blocker(placed, [warn], {}, CLINICIAN) == (
        "Override each gating warning with a reason, or fix the patient's record."
    )
    assert confirm_blocker(placed, [warn], {"driver_arranged": "  "}, CLINICIAN) != ""
    assert confirm_blocker(placed, [warn], {"driver_arranged": "shuttle"}, CLINICIAN) == ""
    assert confirm_blocker(placed, [warn, block], {"driver_arranged": "shuttle"}, CLINICIAN) == (
        "A gating rule blocks this booking (see Gating)."
    )
    # A day the patient is away is the desk's to set aside (the services' rule).
    away = GateResult("patient_away", Severity.WARN, "the session falls while the patient is away")
    assert confirm_blocker(placed, [away], {}, FRONT_DESK_MAY) == (
        "Override each gating warning with a reason, or fix the patient's record."
    )
    assert confirm_blocker(placed, [away], {"patient_away": "back early"}, FRONT_DESK_MAY) == ""
    assert confirm_blocker(placed, [away, warn], {"patient_away": "ok"}, FRONT_DESK_MAY) == (
        "Gating warnings need a nurse or prescriber to override them."
    )
    unplaced = [_session(1), dataclasses.replace(_session(2), problems=("no room free",))]
    assert confirm_blocker(unplaced, [], {}, CLINICIAN) == (
        "Session 2 could not be placed: choose another time for it."
    )


def _session(index: int) -> PlannedSession:
    start = NOW + dt.timedelta(days=index)
    return PlannedSession(index, "iv_infusion", start, start + dt.timedelta(minutes=100), ())


def test_the_plan_table_passes_the_model_tester(
    qtbot: QtBot,
    qtmodeltester: object,
    clinic: SmallClinic,
    open_dialog: list[BookingDialog],
) -> None:
    dialog = _dialog(qtbot, clinic, open_dialog, patient_id=clinic.ids["Ada Lovelace"])
    _choose_protocol(dialog, "iv_induction")
    _plan(qtbot, dialog)
    assert dialog.model.rowCount() == 6
    qtmodeltester.check(dialog.model)  # type: ignore[attr-defined]


# --------------------------------------------------------------------------------------------
# What the dialog asks of the planning service


def test_alternatives_keep_the_spacing_and_stay_off_the_series_days(clinic: SmallClinic) -> None:
    today = NOW.astimezone(clinic.calendar.tz).date()
    proposal = propose_series(
        clinic.db, chart="BT-1", protocol="iv_induction", start=today, today=today
    )
    sessions = proposal.sessions
    assert len(sessions) == 6
    found = session_alternatives(
        clinic.db,
        patient_id=clinic.ids["Ada Lovelace"],
        protocol="iv_induction",
        sessions=sessions,
        index=3,
        today=today,
    )
    assert found
    other_days = {clinic.calendar.local_date(s.start) for s in sessions if s.index != 3}
    protocol = clinic.catalog.protocols["iv_induction"]
    for alternative in found:
        assert alternative.index == 3
        assert alternative.placed
        assert alternative.start != sessions[2].start
        assert clinic.calendar.local_date(alternative.start) not in other_days
        trial = [alternative if s.index == 3 else s for s in sessions]
        assert spacing_problems(protocol, trial, clinic.calendar) == ()
    assert [a.start for a in found] == sorted(a.start for a in found)


def test_booking_choices_list_the_stored_protocols_and_rooms(clinic: SmallClinic) -> None:
    choices = booking_choices(clinic.db)
    assert ("iv_induction", "IV induction (6 infusions)") in choices.protocols
    assert choices.rooms == ("Room 1", "Room 2", "Room 3", "Room 4", "Office A")
    assert choices.resource_kinds[clinic.ids["Room 1"]] == "room"
    assert choices.resource_kinds[clinic.ids["Nurse Kim"]] == "staff"


def test_enter_on_a_session_offers_its_other_times(
    qtbot: QtBot, clinic: SmallClinic, open_dialog: list[BookingDialog]
) -> None:
    dialog = _dialog(qtbot, clinic, open_dialog, patient_id=clinic.ids["Ada Lovelace"])
    _choose_protocol(dialog, "iv_induction")
    _plan(qtbot, dialog)
    dialog.table.setFocus()
    dialog.table.selectRow(1)
    with qtbot.waitSignal(dialog.settled, timeout=TIMEOUT):
        QTest.keyClick(dialog.table, Qt.Key.Key_Return)
    assert dialog.alternatives_heading.text() == "Other times for session 2:"
    assert dialog.alternatives.count() > 0
    before = dialog.model.rows()[1]
    QTest.keyClick(dialog.alternatives, Qt.Key.Key_Return)
    after = dialog.model.rows()[1]
    assert (after.date, after.time) != (before.date, before.time)
    assert after.warnings.startswith("moved from ")
    assert dialog.alternatives.isHidden()


def test_a_server_out_of_reach_is_said_in_words_and_the_draft_stays(
    qtbot: QtBot, clinic: SmallClinic, open_dialog: list[BookingDialog]
) -> None:
    from sqlalchemy.exc import OperationalError

    dialog = _dialog(qtbot, clinic, open_dialog, patient_id=clinic.ids["Ada Lovelace"])
    _choose_protocol(dialog, "iv_induction")

    def unreachable() -> None:
        raise OperationalError("SELECT 1", {}, ConnectionRefusedError("connection refused"))

    with qtbot.waitSignal(dialog.settled, timeout=10_000):
        dialog._run(unreachable, lambda _result: None)
    text = dialog.message.text()
    assert text.startswith("Not done: ")
    assert "OperationalError" not in text
    assert text == "Not done: the clinic database cannot be reached: connection refused"
    assert dialog.protocol.currentData() == "iv_induction"  # the draft is as it was


def test_a_second_course_at_once_is_shown_as_a_warning_a_nurse_overrides(
    qtbot: QtBot, clinic: SmallClinic, open_dialog: list[BookingDialog]
) -> None:
    ada = clinic.ids["Ada Lovelace"]
    induction = _dialog(qtbot, clinic, open_dialog, patient_id=ada)
    _choose_protocol(induction, "iv_induction")
    _plan(qtbot, induction)
    with qtbot.waitSignal(induction.booked, timeout=TIMEOUT):
        QTest.mouseClick(induction.confirm, Qt.MouseButton.LeftButton)

    # A booster course while the induction runs (a second whole induction, the series search
    # now plans after the first ends).
    dialog = _dialog(qtbot, clinic, open_dialog, patient_id=ada)
    _choose_protocol(dialog, "iv_booster")
    _plan(qtbot, dialog)
    row = dialog.gate_row("concurrent_course")
    assert row is not None
    box, reason = row
    assert box.isVisibleTo(dialog)
    assert not dialog.confirm.isEnabled()
    box.setChecked(True)
    reason.setText("Restarting after a missed week; Dr Patel aware")
    assert dialog.confirm.isEnabled(), dialog.blocker.text()
    with qtbot.waitSignal(dialog.booked, timeout=TIMEOUT) as booked:
        QTest.mouseClick(dialog.confirm, Qt.MouseButton.LeftButton)
    with clinic.db.read() as session:
        rules = set(
            session.scalars(
                select(GatingOverride.rule).where(GatingOverride.appointment_id.in_(booked.args[0]))
            )
        )
    assert "concurrent_course" in rules
