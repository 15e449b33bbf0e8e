"""Confirming a pencilled-in hold on a day the patient is away, from the schedule: the front desk
is asked the reason in the shared override dialog (a day away is the patient's own plans) and
the hold is booked with it, recorded and audited; a clinical gate's warning asks the front desk
nothing and names who may override; a nurse is asked.

The dialog's modal loop is replaced (``monkeypatch`` on ``override_dialog.ask_override_reason``).
Bayside Test Clinic on the fixed clock of ``tests/ui/conftest.py``: Wednesday is empty.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pytest
from PySide6.QtWidgets import QLabel, QWidget
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from ketadesk.scheduling.statuses import CONFIRM_TENTATIVE
from ketadesk.services.booking import booking
from ketadesk.services.booking.appointments import appointment_detail
from ketadesk.services.booking.booking import BookingRequest
from ketadesk.services.common.context import Actor
from ketadesk.services.patients.days_away import add_day_away
from ketadesk.store.models import AuditEvent, GatingOverride, Patient
from ketadesk.ui.booking.appointment_dialog import AppointmentDialog
from ketadesk.ui.common import override_dialog
from ketadesk.ui.common.desk import Desk
from ketadesk.ui.common.override_dialog import RefusedRule
from ketadesk.ui.timeline.undo import CONFIRM_STEP, ScheduleEditor
from tests.clinic_fixtures import SmallClinic
from tests.ui.clinic_day import WEDNESDAY
from tests.ui.conftest import NOW

FRONT_DESK = Actor(user_id=None, username="maria", role="front_desk")
NURSE = Actor(user_id=None, username="kim", role="nurse")
IV_ROOM_3 = {"room": "Room 3", "monitor": "Monitor 3", "nurse": "Nurse Kim"}
WHO = "Mary Seacole"
# The appointment dialog is a window of its own; the offscreen platform says so.
pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")


class _Asked:
    """Stands in for ``ask_override_reason``: what it was shown, and the reason it gives."""

    def __init__(self, reason: str | None) -> None:
        self.reason = reason
        self.calls: list[tuple[str, Sequence[RefusedRule], str]] = []

    def __call__(
        self, parent: object, *, step: str, rules: Sequence[RefusedRule], actor_name: str
    ) -> str | None:
        self.calls.append((step, rules, actor_name))
        return self.reason


def _pencil_then_away(clinic: SmallClinic) -> int:
    """Mary's IV infusion pencilled in Wednesday 10:00; then she says she is away that day."""
    request = BookingRequest(
        patient_id=clinic.ids[WHO],
        sessions=(clinic.session("iv_infusion", WEDNESDAY, "10:00", IV_ROOM_3),),
        tentative=True,
    )
    (held,) = booking.book(clinic.db, FRONT_DESK, request, now=NOW).appointment_ids
    add_day_away(clinic.db, FRONT_DESK, clinic.ids[WHO], WEDNESDAY, WEDNESDAY, "funeral", now=NOW)
    return held


def _keep_picture(widget: QWidget, name: str) -> None:
    """A picture of ``widget`` in $KETADESK_SCREENSHOTS to look at (nothing without it)."""
    folder = os.environ.get("KETADESK_SCREENSHOTS")
    if folder:
        widget.grab().save(str(Path(folder) / name))


def _editor(clinic: SmallClinic, actor: Actor) -> ScheduleEditor:
    return ScheduleEditor(Desk(clinic.db, actor, lambda: NOW))


def test_the_front_desk_confirms_a_hold_on_a_day_away_with_a_reason(
    qtbot: QtBot, clinic: SmallClinic, monkeypatch: pytest.MonkeyPatch
) -> None:
    held = _pencil_then_away(clinic)
    # The hold's dialog says the day is a day away before anyone confirms it.
    desk = Desk(clinic.db, FRONT_DESK, lambda: NOW)
    dialog = AppointmentDialog(
        desk, held, detail=appointment_detail(clinic.db, held, FRONT_DESK, now=NOW)
    )
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    away = dialog.findChild(QLabel, "field_patient_away")
    assert away is not None
    assert away.text() == (
        "⚠ This session falls while the patient is away Wed Nov 25, 2026 (funeral); "
        "confirming the hold asks a reason"
    )
    _keep_picture(dialog, "tentative-hold-day-away.png")
    asked = _Asked("the service moved to the morning; she can come at 10")
    monkeypatch.setattr(override_dialog, "ask_override_reason", asked)
    editor = _editor(clinic, FRONT_DESK)
    refused: list[str] = []
    editor.refused.connect(refused.append)
    editor.set_status(held, CONFIRM_TENTATIVE)
    qtbot.waitUntil(lambda: appointment_detail(clinic.db, held).status == "booked", timeout=10_000)
    qtbot.waitUntil(lambda: not editor.is_busy(), timeout=10_000)
    assert refused == []
    ((step, rules, actor_name),) = asked.calls
    assert step == CONFIRM_STEP == "confirm this pencilled-in hold"
    assert [(r.code, r.title) for r in rules] == [("patient_away", "Patient away")]
    assert "falls while the patient is away" in rules[0].fact
    assert "(funeral)" in rules[0].fact
    assert actor_name == "maria"
    with clinic.db.read() as s:
        kept = s.execute(
            select(GatingOverride.rule, GatingOverride.reason).where(
                GatingOverride.appointment_id == held
            )
        ).all()
        audited = s.scalars(
            select(AuditEvent.detail).where(
                AuditEvent.action == "override_rule", AuditEvent.entity_id == held
            )
        ).all()
    reason = "the service moved to the morning; she can come at 10"
    assert [tuple(k) for k in kept] == [("patient_away", reason)]
    assert audited == [f"patient_away: {reason}"]


def test_cancelling_the_dialog_leaves_the_hold_pencilled_in_and_says_why(
    qtbot: QtBot, clinic: SmallClinic, monkeypatch: pytest.MonkeyPatch
) -> None:
    held = _pencil_then_away(clinic)
    monkeypatch.setattr(override_dialog, "ask_override_reason", _Asked(None))
    editor = _editor(clinic, FRONT_DESK)
    refused: list[str] = []
    editor.refused.connect(refused.append)
    editor.set_status(held, CONFIRM_TENTATIVE)
    qtbot.waitUntil(lambda: bool(refused), timeout=10_000)
    assert refused[0].startswith("The tentative hold was not confirmed: Patient away")
    assert appointment_detail(clinic.db, held).status == "tentative"


@pytest.mark.parametrize("actor", [FRONT_DESK, NURSE])
def test_a_clinical_warning_asks_only_a_clinician(
    qtbot: QtBot, clinic: SmallClinic, monkeypatch: pytest.MonkeyPatch, actor: Actor
) -> None:
    held = _pencil_then_away(clinic)
    with clinic.db.write() as s:
        patient = s.get(Patient, clinic.ids[WHO])
        assert patient is not None
        patient.driver_name = ""  # no ride on file: a warn-level gate, a clinician's to waive
    asked = _Asked("her son drives her")
    monkeypatch.setattr(override_dialog, "ask_override_reason", asked)
    editor = _editor(clinic, actor)
    refused: list[str] = []
    editor.refused.connect(refused.append)
    editor.set_status(held, CONFIRM_TENTATIVE)
    if actor is FRONT_DESK:
        qtbot.waitUntil(lambda: bool(refused), timeout=10_000)
        assert asked.calls == []
        assert "Driver (driver_arranged)" in refused[0]
        assert "(a nurse or prescriber may override this with a reason)" in refused[0]
        assert appointment_detail(clinic.db, held).status == "tentative"
    else:
        qtbot.waitUntil(
            lambda: appointment_detail(clinic.db, held).status == "booked", timeout=10_000
        )
        ((_step, rules, _who),) = asked.calls
        assert sorted(r.code for r in rules) == ["driver_arranged", "patient_away"]
