"""Start pressed on the schedule when the clinic's rules refuse it (issue 13): a nurse is asked
the reason in the shared override dialog and the session starts with the override recorded; a
role that may not override is told who may; a blocking rule asks nothing.

Bayside Test Clinic; the day is the first open weekday two weeks after the clinic's today, the
desk's clock 10:00 that day.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from PySide6.QtWidgets import QLabel
from pytestqt.qtbot import QtBot
from sqlalchemy import select, update

from ketadesk.services.booking import booking
from ketadesk.services.booking.booking import BookingRequest
from ketadesk.services.booking.move_check import placement_of
from ketadesk.services.common.context import SYSTEM, Actor, utcnow
from ketadesk.store.models import ClinicSetting, GatingOverride, Patient
from ketadesk.ui.common import override_dialog
from ketadesk.ui.common.desk import Desk
from ketadesk.ui.common.override_dialog import OverrideDialog, RefusedRule
from ketadesk.ui.timeline.undo import START_STEP, ScheduleEditor
from tests.clinic_fixtures import SmallClinic, build_small_clinic, extend_authorizations

SPRAVATO = {
    "room": "Room 1",
    "monitor": "Monitor 1",
    "oximeter": "Oximeter 1",
    "nurse": "Nurse Kim",
    "prescriber": "Dr Patel",
}
NURSE = Actor(user_id=None, username="kim", role="nurse")
ADMIN = Actor(user_id=None, username="root", role="admin")
WHO = "Ada Lovelace"


@pytest.fixture
def clinic(sqlite_url: str) -> Iterator[SmallClinic]:
    c = build_small_clinic(sqlite_url)
    yield c
    c.db.dispose()


@pytest.fixture
def day(clinic: SmallClinic) -> dt.date:
    found = clinic.calendar.local_date(utcnow()) + dt.timedelta(days=14)
    while found.weekday() >= 5 or clinic.calendar.closed_reason(found) is not None:
        found += dt.timedelta(days=1)
    extend_authorizations(clinic, found + dt.timedelta(days=365))
    return found


def _book_then_lapse(clinic: SmallClinic, day: dt.date, level: str = "warn") -> int:
    """A Spravato session booked a week ahead; its prior authorization expired since."""
    request = BookingRequest(
        patient_id=clinic.ids[WHO],
        sessions=(clinic.session("spravato", day, "10:00", SPRAVATO),),
    )
    at = clinic.at(day, "08:00") - dt.timedelta(days=7)
    (appointment,) = booking.book(clinic.db, SYSTEM, request, now=at).appointment_ids
    with clinic.db.write() as s:
        s.execute(
            update(Patient)
            .where(Patient.id == clinic.ids[WHO])
            .values(prior_auth_expires_on=day - dt.timedelta(days=1))
        )
        gating = s.get(ClinicSetting, "gating")
        assert gating is not None
        gating.value = {**gating.value, "prior_auth_valid": level}
    return appointment


def _editor(clinic: SmallClinic, day: dt.date, actor: Actor) -> ScheduleEditor:
    return ScheduleEditor(Desk(clinic.db, actor, lambda: clinic.at(day, "10:00")))


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


def test_a_nurse_gives_a_reason_and_the_session_starts_with_the_override_recorded(
    qtbot: QtBot, clinic: SmallClinic, day: dt.date, monkeypatch: pytest.MonkeyPatch
) -> None:
    appointment = _book_then_lapse(clinic, day)
    asked = _Asked("renewal faxed, payer confirmed by phone")
    monkeypatch.setattr(override_dialog, "ask_override_reason", asked)
    editor = _editor(clinic, day, NURSE)
    refused: list[str] = []
    editor.refused.connect(refused.append)

    editor.set_status(appointment, "start")
    qtbot.waitUntil(
        lambda: placement_of(clinic.db, appointment).status == "in_progress", timeout=10_000
    )
    qtbot.waitUntil(lambda: not editor.is_busy(), timeout=10_000)

    assert refused == []
    ((step, rules, actor_name),) = asked.calls
    assert step == START_STEP == "start this session"
    assert [(r.code, r.title) for r in rules] == [("prior_auth_valid", "Prior authorization")]
    assert "prior authorization expires" in rules[0].fact
    assert actor_name == "kim"
    with clinic.db.read() as s:
        recorded = s.execute(
            select(GatingOverride.rule, GatingOverride.reason).where(
                GatingOverride.appointment_id == appointment
            )
        ).all()
    assert [tuple(r) for r in recorded] == [
        ("prior_auth_valid", "renewal faxed, payer confirmed by phone")
    ]
    assert editor.stack.undoText() == "Start session Lovelace, Ada"


def test_cancelling_the_dialog_leaves_the_session_booked_and_says_why(
    qtbot: QtBot, clinic: SmallClinic, day: dt.date, monkeypatch: pytest.MonkeyPatch
) -> None:
    appointment = _book_then_lapse(clinic, day)
    monkeypatch.setattr(override_dialog, "ask_override_reason", _Asked(None))
    editor = _editor(clinic, day, NURSE)
    refused: list[str] = []
    editor.refused.connect(refused.append)
    editor.set_status(appointment, "start")
    qtbot.waitUntil(lambda: bool(refused), timeout=10_000)
    assert refused[0].startswith("The session was not started: starting this session breaks")
    assert placement_of(clinic.db, appointment).status == "booked"


@pytest.mark.parametrize(("actor", "level"), [(ADMIN, "warn"), (NURSE, "block")])
def test_no_dialog_for_a_role_that_may_not_override_or_a_blocking_rule(
    qtbot: QtBot,
    clinic: SmallClinic,
    day: dt.date,
    monkeypatch: pytest.MonkeyPatch,
    actor: Actor,
    level: str,
) -> None:
    appointment = _book_then_lapse(clinic, day, level)
    asked = _Asked("should not be asked")
    monkeypatch.setattr(override_dialog, "ask_override_reason", asked)
    editor = _editor(clinic, day, actor)
    refused: list[str] = []
    editor.refused.connect(refused.append)
    editor.set_status(appointment, "start")
    qtbot.waitUntil(lambda: bool(refused), timeout=10_000)
    assert asked.calls == []
    text = refused[0]
    assert text.startswith("The status was not changed: starting this session breaks")
    assert "Prior authorization [prior_auth_valid]" in text
    if level == "warn":
        assert "(a nurse or a prescriber may override this with a reason)" in text
    else:
        assert "(blocking: cannot be overridden)" in text
    assert placement_of(clinic.db, appointment).status == "booked"


def test_the_dialog_shows_the_refused_start(qtbot: QtBot) -> None:
    """The shared dialog as a refused start opens it (saved for a look when
    KETADESK_SCREENSHOT_DIR is set)."""
    dialog = OverrideDialog(
        None,
        step=START_STEP,
        rules=[
            RefusedRule(
                "prior_auth_valid",
                "Prior authorization",
                "prior authorization expires Mon Dec 14, 2026; 1 session after that (Tue Dec 15)",
            )
        ],
        actor_name="kim",
    )
    qtbot.addWidget(dialog)
    dialog.set_reason("renewal faxed, payer confirmed by phone")
    dialog.adjustSize()
    heading = dialog.findChild(QLabel, "override-rules")
    assert heading is not None
    assert "start this session" in heading.text()
    image = dialog.grab()
    assert not image.isNull()
    folder = os.environ.get("KETADESK_SCREENSHOT_DIR")
    if folder:
        image.save(str(Path(folder) / "start-override.png"))
