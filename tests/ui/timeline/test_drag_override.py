"""A drag or a keyboard move refused only by a "warn" rule (two Spravato doses a day apart:
"Too close [min_gap]") can be overridden by a nurse or a prescriber with a reason: the ghost
says "needs an override", the drop asks the reason in the shared override dialog, and the move
is written with the override, recorded (gating_override row, audit) and printed on the day
sheet.  Cancel leaves the session where it was; the front desk sees the refusal naming who may
override; a "block" rule (series order) asks nothing; undo and redo work.

The week is the first whole open week (Monday to Friday) at least a week after the clinic's
today; the desk's clock is injected (the Friday before it).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from PySide6.QtCore import QEvent, QPoint, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from ketadesk.services.access import accounts
from ketadesk.services.booking import booking
from ketadesk.services.booking.booking import BookingRequest
from ketadesk.services.booking.move_check import placement_of, prepare_move
from ketadesk.services.common.context import SYSTEM, Actor, utcnow
from ketadesk.services.printing.day_sheet import day_sheet, day_sheet_layout
from ketadesk.services.schedule.week import week_schedule
from ketadesk.store.models import AuditEvent, GatingOverride
from ketadesk.ui.common import override_dialog
from ketadesk.ui.common.desk import Desk
from ketadesk.ui.common.override_dialog import RefusedRule
from ketadesk.ui.printing.printing import print_pdf
from ketadesk.ui.timeline.undo import ScheduleEditor
from ketadesk.ui.timeline.week_view import WeekView
from tests.clinic_fixtures import SmallClinic, build_small_clinic, extend_authorizations
from tests.printing.test_print import pdf_pages
from tests.ui.timeline.drag_helpers import send_mouse

FRONT_DESK = Actor(user_id=None, username="maria", role="front_desk")
SPRAVATO = {
    "room": "Room 2",
    "monitor": "Monitor 2",
    "oximeter": "Oximeter 1",
    "nurse": "Nurse Kim",
    "prescriber": "Dr Patel",
}
REASON = "patient travels Thursday; prescriber agreed"
SCREENSHOT = Path(__file__).resolve().parents[3] / "docs" / "screenshots" / "drag-override.png"


class Week:
    """Ada Lovelace's Spravato induction begun: session 1/2 Monday, 2/2 Thursday, 10:00."""

    def __init__(self, clinic: SmallClinic, monday: dt.date, ids: Sequence[int]) -> None:
        self.clinic = clinic
        self.monday = monday
        self.first, self.second = ids
        self.now = clinic.at(monday - dt.timedelta(days=3), "12:00")  # the Friday before
        self.nurse = Actor(user_id=None, username="kim", role="nurse")

    def day(self, offset: int) -> dt.date:
        return self.monday + dt.timedelta(days=offset)

    def day_of(self, appointment_id: int) -> dt.date:
        return self.clinic.calendar.local_date(placement_of(self.clinic.db, appointment_id).start)


def _open_week(clinic: SmallClinic) -> dt.date:
    calendar = clinic.calendar
    day = calendar.local_date(utcnow()) + dt.timedelta(days=7)
    monday = day + dt.timedelta(days=(7 - day.weekday()) % 7)
    while any(calendar.closed_reason(monday + dt.timedelta(days=d)) is not None for d in range(5)):
        monday += dt.timedelta(days=7)
    return monday


@pytest.fixture
def week(tmp_path: Path) -> Iterator[Week]:
    c = build_small_clinic(f"sqlite:///{tmp_path / 'clinic.sqlite'}")
    monday = _open_week(c)
    extend_authorizations(c, monday + dt.timedelta(days=365))
    sessions = tuple(
        c.session("spravato", monday + dt.timedelta(days=d), "10:00", SPRAVATO, index=n + 1)
        for n, d in enumerate((0, 3))
    )
    ids = booking.book(
        c.db,
        SYSTEM,
        BookingRequest(
            patient_id=c.ids["Ada Lovelace"], sessions=sessions, protocol="spravato_trd"
        ),
        now=c.at(monday - dt.timedelta(days=7), "12:00"),
    ).appointment_ids
    built = Week(c, monday, ids)
    kim = accounts.create_user(c.db, SYSTEM, "kim", "Kim Nguyen", "nurse", "a-long-password-1")
    built.nurse = Actor(user_id=kim.id, username="kim", role="nurse")
    yield built
    c.db.dispose()


def _view(qtbot: QtBot, week: Week, actor: Actor) -> tuple[WeekView, ScheduleEditor]:
    desk = Desk(week.clinic.db, actor, now=lambda: week.now)
    view = WeekView(desk=desk)
    qtbot.addWidget(view)
    view.resize(1300, 700)
    view.set_week(week_schedule(week.clinic.db, week.monday))
    view.show()
    qtbot.waitExposed(view)
    editor = ScheduleEditor(desk)
    editor.attach(view)  # type: ignore[arg-type]
    editor.changed.connect(lambda: view.set_week(week_schedule(week.clinic.db, week.monday)))
    return view, editor


class Asked:
    """Stands in for the override dialog: records what it was shown, answers ``reason``."""

    def __init__(self, reason: str | None) -> None:
        self.reason = reason
        self.calls: list[tuple[str, list[RefusedRule], str]] = []

    def __call__(
        self,
        parent: QWidget | None,
        *,
        step: str,
        rules: Sequence[RefusedRule],
        actor_name: str,
    ) -> str | None:
        self.calls.append((step, list(rules), actor_name))
        return self.reason


@pytest.fixture
def asked(monkeypatch: pytest.MonkeyPatch) -> Asked:
    answer = Asked(REASON)
    monkeypatch.setattr(override_dialog, "ask_override_reason", answer)
    return answer


_mouse = send_mouse


def _drag_to(view: WeekView, week: Week, qtbot: QtBot, appointment_id: int, day: dt.date) -> QPoint:
    """Grab a block near its top and hold it over 10:00 of ``day`` until the verdict is in."""
    point = view.slot_point(day, week.clinic.at(day, "10:00"))
    assert point is not None
    target = point.toPoint() + QPoint(0, 2)
    layout = view.week_layout()
    assert layout is not None
    block = layout.block_of(appointment_id)
    assert block is not None
    origin = view.body_origin()
    press = QPoint(round(origin.x() + block.rect.x + 10), round(origin.y() + block.rect.y + 2))
    _mouse(view, QEvent.Type.MouseButtonPress, press)
    _mouse(view, QEvent.Type.MouseMove, press + QPoint(0, 12))
    _mouse(view, QEvent.Type.MouseMove, target)
    qtbot.waitUntil(lambda: (s := view.drag_state()) is not None and s.reasons is not None)
    return target


def _overrides(week: Week) -> list[tuple[str, str, int | None]]:
    with week.clinic.db.read() as session:
        rows = session.execute(
            select(GatingOverride.rule, GatingOverride.reason, GatingOverride.user_id)
            .where(GatingOverride.appointment_id == week.second)
            .order_by(GatingOverride.id)
        ).all()
    return [(r, reason, user) for r, reason, user in rows]


def test_the_services_say_a_min_gap_refusal_is_the_nurses_to_override(week: Week) -> None:
    check = prepare_move(week.clinic.db, week.second, day=week.day(0), now=week.now)
    tuesday = week.clinic.at(week.day(1), "10:00")
    verdict = check.verdict(tuesday, week.clinic.ids["Room 2"])
    assert verdict.reasons
    assert verdict.reasons[0].startswith("Too close [min_gap]")
    assert verdict.needs_override
    assert [f.rule for f in verdict.overridable] == ["min_gap"]
    assert verdict.may_override("nurse")
    assert verdict.may_override("prescriber")
    assert not verdict.may_override("front_desk")
    assert verdict.who_may_override() == "a nurse or a prescriber"
    assert verdict.override_roles == ("nurse", "prescriber")
    # Session 1/2 after 2/2: series order is "block", not anyone's to override.
    friday = week.clinic.at(week.day(4), "10:00")
    first = prepare_move(week.clinic.db, week.first, day=week.day(4), now=week.now)
    hard = first.verdict(friday, week.clinic.ids["Room 2"])
    assert any("[series_order]" in r for r in hard.reasons)
    assert not hard.needs_override
    assert not hard.may_override("nurse")


def test_a_nurses_drag_past_min_gap_asks_the_reason_and_moves_with_the_override(
    qtbot: QtBot, week: Week, asked: Asked
) -> None:
    view, editor = _view(qtbot, week, week.nurse)
    feedback: list[str] = []
    view.feedback.connect(feedback.append)
    target = _drag_to(view, week, qtbot, week.second, week.day(1))
    state = view.drag_state()
    assert state is not None
    assert state.needs_override
    assert state.reasons
    assert state.reasons[0].startswith("Too close [min_gap]")
    assert any(f.startswith("Needs an override:") and "[min_gap]" in f for f in feedback)
    shot = Path(os.environ.get("KETADESK_SCREENSHOTS", "/tmp")) / "drag-override.png"
    view.grab().save(str(shot))
    if os.environ.get("KETADESK_SCREENSHOTS"):
        shutil.copyfile(shot, SCREENSHOT)

    refused: list[str] = []
    editor.refused.connect(refused.append)
    _mouse(view, QEvent.Type.MouseButtonRelease, target, held=False)
    qtbot.waitUntil(lambda: not editor.is_busy(), timeout=30_000)

    assert refused == []
    (call,) = asked.calls
    step, rules, actor_name = call
    assert step == "move this session"
    assert [(r.code, r.title) for r in rules] == [("min_gap", "Too close")]
    assert "1 day apart" in rules[0].fact
    assert actor_name == "kim"
    assert week.day_of(week.second) == week.day(1)
    assert _overrides(week) == [("min_gap", REASON, week.nurse.user_id)]
    with week.clinic.db.read() as session:
        audited = session.execute(
            select(AuditEvent.username, AuditEvent.detail).where(
                AuditEvent.action == "override_rule", AuditEvent.entity_id == week.second
            )
        ).all()
    assert [tuple(e) for e in audited] == [("kim", f"min_gap: {REASON}")]

    # The day sheet of the new day prints the override, its reason and who decided.
    sheet = day_sheet(week.clinic.db, week.day(1), now=week.now)
    (row,) = [s for g in sheet.groups for s in g.sessions]
    assert row.overrides == (("min_gap", REASON, "Kim Nguyen (nurse)"),)
    pdf = Path(os.environ.get("TMPDIR", "/tmp")) / f"drag-override-{os.getpid()}.pdf"
    print_pdf(day_sheet_layout(sheet), pdf, "letter")
    text = " ".join(" ".join(pdf_pages(pdf)).split())
    pdf.unlink()
    assert "min_gap" in text
    assert "patient travels Thursday" in text
    assert "Kim Nguyen" in text


def test_cancelling_the_reason_leaves_the_session_where_it_was(
    qtbot: QtBot, week: Week, asked: Asked
) -> None:
    asked.reason = None
    view, editor = _view(qtbot, week, week.nurse)
    requested: list[object] = []
    view.override_move_requested.connect(lambda *args: requested.append(args))
    feedback: list[str] = []
    view.feedback.connect(feedback.append)
    target = _drag_to(view, week, qtbot, week.second, week.day(1))
    _mouse(view, QEvent.Type.MouseButtonRelease, target, held=False)
    qtbot.waitUntil(lambda: not editor.is_busy(), timeout=30_000)

    assert len(asked.calls) == 1
    assert requested == []
    assert "stays where it was" in feedback[-1]
    assert week.day_of(week.second) == week.day(3)
    assert _overrides(week) == []
    assert not editor.stack.canUndo()


def test_the_front_desk_is_refused_naming_who_may_override_and_asked_nothing(
    qtbot: QtBot, week: Week, asked: Asked
) -> None:
    view, _editor = _view(qtbot, week, FRONT_DESK)
    refused: list[str] = []
    view.move_refused.connect(refused.append)
    target = _drag_to(view, week, qtbot, week.second, week.day(1))
    state = view.drag_state()
    assert state is not None
    assert state.reasons
    assert not state.needs_override
    _mouse(view, QEvent.Type.MouseButtonRelease, target, held=False)

    assert asked.calls == []
    (text,) = refused
    assert "[min_gap]" in text
    assert "a nurse or a prescriber may override this with a reason" in text
    assert week.day_of(week.second) == week.day(3)
    assert _overrides(week) == []


def test_a_block_rule_asks_no_reason(qtbot: QtBot, week: Week, asked: Asked) -> None:
    view, _editor = _view(qtbot, week, week.nurse)
    refused: list[str] = []
    view.move_refused.connect(refused.append)
    target = _drag_to(view, week, qtbot, week.first, week.day(4))  # 1/2 after 2/2
    state = view.drag_state()
    assert state is not None
    assert state.reasons
    assert not state.needs_override
    _mouse(view, QEvent.Type.MouseButtonRelease, target, held=False)

    assert asked.calls == []
    (text,) = refused
    assert "[series_order]" in text
    assert "cannot be overridden" in text
    assert week.day_of(week.first) == week.day(0)


def test_a_keyboard_move_asks_the_reason_too_and_undo_and_redo_keep_the_override(
    qtbot: QtBot, week: Week, asked: Asked
) -> None:
    view, editor = _view(qtbot, week, week.nurse)
    refused: list[str] = []
    editor.refused.connect(refused.append)
    view.setFocus()
    view.select_appointment(week.second)
    for _ in range(2):  # Thursday -> Wednesday (fits) -> Tuesday (min_gap)
        QTest.keyClick(view, Qt.Key.Key_Left, Qt.KeyboardModifier.AltModifier)
        qtbot.waitUntil(lambda: (s := view.drag_state()) is not None and s.reasons is not None)
    state = view.drag_state()
    assert state is not None
    assert state.needs_override
    assert state.keyboard
    QTest.keyClick(view, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not editor.is_busy(), timeout=30_000)

    assert len(asked.calls) == 1
    assert week.day_of(week.second) == week.day(1)
    assert _overrides(week) == [("min_gap", REASON, week.nurse.user_id)]
    assert editor.stack.undoText().endswith("(override)")

    editor.undo()
    qtbot.waitUntil(lambda: not editor.is_busy(), timeout=30_000)
    assert refused == []
    assert week.day_of(week.second) == week.day(3)

    editor.redo()
    qtbot.waitUntil(lambda: not editor.is_busy(), timeout=30_000)
    assert refused == []
    assert week.day_of(week.second) == week.day(1)
    # The redo went ahead on the same decision, on record once (audited at each move).
    assert _overrides(week) == [("min_gap", REASON, week.nurse.user_id)]
    assert len(asked.calls) == 1  # nobody was asked again


def test_the_window_writes_an_override_move_its_views_ask_for(qtbot: QtBot, week: Week) -> None:
    from ketadesk.commands.run import open_day_window
    from tests.ui.shell.desk_helpers import desk_controller_of, wait_for_day

    window = open_day_window(week.clinic.db, week.day(3), now=lambda: week.now, actor=week.nurse)
    qtbot.addWidget(window)
    window.resize(1400, 1000)
    window.show()
    qtbot.waitExposed(window)
    wait_for_day(qtbot, window)
    editor = desk_controller_of(window).editor
    refused: list[str] = []
    editor.refused.connect(refused.append)
    tuesday = week.clinic.at(week.day(1), "10:00")
    overrides = {"min_gap": REASON}
    window.day_view.override_move_requested.emit(
        week.second, tuesday, week.clinic.ids["Room 2"], overrides, None
    )
    qtbot.waitUntil(lambda: not editor.is_busy(), timeout=10_000)
    assert refused == []
    assert week.day_of(week.second) == week.day(1)
    assert _overrides(week) == [("min_gap", REASON, week.nurse.user_id)]
    undo = window.actions_by_name["undo"]
    assert undo.text().startswith("Undo Move")
    assert undo.text().endswith("(override)")
