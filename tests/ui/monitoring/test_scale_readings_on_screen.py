"""Timed MOAA/S and CADSS readings where nurses work: in the monitoring record a score and Enter
records one (taken now), a wrong score is refused in words with what was typed kept, and the
dialog's Save is not pressed by that Enter; the chair board shows the next reading beside the
next BP check and a missed one in red, counted in "need attention".

Ada Lovelace's IV infusion on Wednesday 2 Dec 2026 at 13:00 in Room 2, dose 13:15: MOAA/S at
the dose, +15, +30, +45 min and at discharge; CADSS +40 min and at discharge (the shipped
scales).
"""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from ketadesk.scheduling.scale_rules import MOAAS_ANCHORS
from ketadesk.services.common.context import Actor
from ketadesk.services.monitoring import records, scale_readings
from ketadesk.services.monitoring.record_forms import ScaleRow
from ketadesk.store.models import ScaleReading
from ketadesk.ui.common.desk import Desk
from ketadesk.ui.monitoring import scale_correction
from ketadesk.ui.monitoring.chair_board import ChairBoardView, card_lines
from ketadesk.ui.monitoring.monitoring_dialog import MonitoringDialog
from ketadesk.ui.monitoring.scale_panel import ScalePanel
from tests.clinic_fixtures import SmallClinic
from tests.pictures import picture_folder
from tests.scale_fixtures import at, bp_checks_taken, iv_session, record_reading


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    """Screens: the clinic on SQLite is enough (the service's tests run both databases)."""
    return sqlite_url


def _dialog(
    qtbot: QtBot, scale_clinic: SmallClinic, scale_nurse: Actor, iv: int, hhmm: str
) -> MonitoringDialog:
    now = at(scale_clinic, hhmm)
    sheet = records.open_record(scale_clinic.db, scale_nurse, iv, now=now)
    dialog = MonitoringDialog(Desk(scale_clinic.db, scale_nurse, lambda: now), iv, sheet=sheet)
    qtbot.addWidget(dialog)
    dialog.resize(900, 900)
    dialog.show()
    qtbot.waitExposed(dialog)
    return dialog


def _enter(qtbot: QtBot, panel: ScalePanel, score: str) -> None:
    edit = panel.score_editor()
    edit.setFocus()
    edit.clear()
    QTest.keyClicks(edit, score)
    QTest.keyClick(edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not panel.is_recording())


def _stored(scale_clinic: SmallClinic) -> list[tuple[str, int]]:
    with scale_clinic.db.read() as session:
        return [tuple(r) for r in session.execute(select(ScaleReading.scale, ScaleReading.score))]  # type: ignore[misc]


def test_a_score_and_enter_records_a_reading_and_a_wrong_one_is_named_and_kept(
    qtbot: QtBot, scale_clinic: SmallClinic, scale_nurse: Actor
) -> None:
    iv = iv_session(scale_clinic, scale_nurse)
    dialog = _dialog(qtbot, scale_clinic, scale_nurse, iv, "13:17")
    panel = dialog.scale_panel()
    assert panel is not None
    assert panel.owed_text() == "Next: MOAA/S due 13:15"
    # The sedation mark is the MOAA/S's business now: not offered.
    assert not dialog.editor("sedation_resolved").isVisible()
    assert dialog.editor("respiratory_resolved").isVisible()
    # The anchor words of the score being typed.
    panel.score_editor().setText("5")
    assert panel.anchor_text() == "5: responds readily to name spoken in normal tone"
    # Alt+O takes the keyboard to the score from anywhere in the record.  (The key press
    # itself does not reach a QShortcut on the offscreen platform here: its action is run.)
    assert panel.score_shortcut.key().toString() == "Alt+O"
    dialog.editor("dose_mg").setFocus()
    panel.score_shortcut.activated.emit()
    assert dialog.focusWidget() is panel.score_editor()
    _enter(qtbot, panel, "7")
    assert panel.message == "Not recorded: the MOAA/S score runs 0-5; 7 is above it"
    assert panel.score_editor().text() == "7"  # nothing lost
    assert _stored(scale_clinic) == []
    assert dialog.isVisible()  # Enter recorded (or refused) the reading; it did not Save
    _enter(qtbot, panel, "3")
    assert _stored(scale_clinic) == [("moaas", 3)]
    assert panel.message == (
        "Recorded MOAA/S 3 (responds only after name is called loudly and/or repeatedly) at 13:17"
    )
    assert panel.rows() == [
        (
            "13:17",
            "MOAA/S",
            "3 — responds only after name is called loudly and/or repeatedly",
            "Kim Nguyen",
        )
    ]
    assert panel.owed_text() == "Next: MOAA/S due 13:30"
    assert panel.score_editor().text() == ""
    assert dialog.isVisible()
    # The CADSS, at a typed time.
    panel.choose("cadss")
    panel.time_editor().setText("13:16")
    _enter(qtbot, panel, "12")
    assert ("cadss", 12) in _stored(scale_clinic)
    assert panel.message == "Recorded CADSS 12 at 13:16"
    assert panel.rows()[0][:3] == ("13:16", "CADSS", "12")
    folder = picture_folder("scales")
    dialog.grab().save(str(folder / "monitoring_dialog_scales.png"))


def test_the_board_shows_the_next_reading_beside_the_bp_and_a_missed_one_in_red(
    qtbot: QtBot, scale_clinic: SmallClinic, scale_nurse: Actor
) -> None:
    iv = iv_session(scale_clinic, scale_nurse)
    record_reading(scale_clinic, scale_nurse, iv, "moaas", "3", "13:16")
    view = ChairBoardView(Desk(scale_clinic.db, scale_nurse, lambda: at(scale_clinic, "13:41")))
    qtbot.addWidget(view)
    view.resize(1300, 760)
    view.show()
    qtbot.waitExposed(view)
    qtbot.waitUntil(lambda: view.board() is not None and not view.is_reading())
    card = view.card_for_room("Room 2")
    assert card is not None
    chair = card.card()
    assert chair is not None
    scale = card.labels["scale"]
    assert scale.text() == "MOAA/S due 13:45", card_lines(chair, "24h")
    assert scale.isVisibleTo(card)
    assert "⚠ MOAA/S +15 min missed (due 13:30)" in card.labels["late"].text()
    assert chair.needs_attention
    board = view.board()
    assert board is not None
    assert board.late_count >= 1
    folder = picture_folder("scales")
    view.grab().save(str(folder / "chair_board_scales.png"))


def test_a_reading_typed_wrong_is_corrected_with_a_reason_and_the_original_said(
    qtbot: QtBot, scale_clinic: SmallClinic, scale_nurse: Actor, monkeypatch: pytest.MonkeyPatch
) -> None:
    clinic, nurse = scale_clinic, scale_nurse
    iv = iv_session(clinic, nurse)
    record_reading(clinic, nurse, iv, "moaas", "2", "13:16")
    dialog = _dialog(qtbot, clinic, nurse, iv, "13:20")
    panel = dialog.scale_panel()
    assert panel is not None
    # Nothing chosen: nothing to correct.
    assert not panel.correct_button().isEnabled()
    panel.select_row(0)
    assert panel.correct_button().isEnabled()
    asked: list[tuple[str, str]] = []
    answers = iter(
        [
            scale_correction.CorrectionAnswer("9", "typo"),  # refused: kept and asked again
            scale_correction.CorrectionAnswer("4", "typo"),
        ]
    )

    def answer(
        _parent: object,
        *,
        reading: ScaleRow,
        answer: scale_correction.CorrectionAnswer | None = None,
        problem: str = "",
        **_rest: object,
    ) -> scale_correction.CorrectionAnswer | None:
        asked.append((reading.score_words, problem))
        if answer is not None:
            assert answer == scale_correction.CorrectionAnswer("9", "typo")  # nothing lost
        return next(answers)

    monkeypatch.setattr(scale_correction, "ask_correction", answer)
    panel.correct_button().click()
    qtbot.waitUntil(lambda: not panel.is_recording() and len(asked) == 2 and panel.message != "")
    qtbot.waitUntil(lambda: not panel.is_recording())
    assert asked == [
        ("MOAA/S 2 (responds only after mild prodding or shaking)", ""),
        (
            "MOAA/S 2 (responds only after mild prodding or shaking)",
            "the MOAA/S score runs 0-5; 9 is above it",
        ),
    ]
    assert panel.message == "Corrected MOAA/S 2 to 4 at 13:16: typo"
    assert panel.rows() == [
        (
            "13:16",
            "MOAA/S",
            "4 — lethargic response to name spoken in normal tone; corrected from 2: typo "
            "(Kim Nguyen, 13:20)",
            "Kim Nguyen",
        )
    ]
    with clinic.db.read() as session:
        stored = session.execute(select(ScaleReading.score).order_by(ScaleReading.id)).all()
    assert [r[0] for r in stored] == [2, 4]
    folder = picture_folder("scales")
    dialog.grab().save(str(folder / "monitoring_dialog_corrected.png"))


def test_the_correction_dialog_asks_the_score_and_why(
    qtbot: QtBot, scale_clinic: SmallClinic, scale_nurse: Actor
) -> None:
    clinic, nurse = scale_clinic, scale_nurse
    iv = iv_session(clinic, nurse)
    row = record_reading(clinic, nurse, iv, "moaas", "2", "13:16").readings[0]
    dialog = scale_correction.ScaleCorrectionDialog(
        None,
        reading=row,
        clock=lambda value: value.strftime("%H:%M"),
        highest=5,
        anchors=MOAAS_ANCHORS,
        problem="",
    )
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    ok = dialog.ok_button()
    assert not ok.isEnabled()
    dialog.set_answer(scale_correction.CorrectionAnswer("4", ""))
    assert dialog.anchor_text() == "4: lethargic response to name spoken in normal tone"
    assert not ok.isEnabled()  # a reason is required
    dialog.set_answer(scale_correction.CorrectionAnswer("4", "typo"))
    assert ok.isEnabled()
    assert dialog.answer() == scale_correction.CorrectionAnswer("4", "typo")
    dialog.grab().save(str(picture_folder("scales") / "scale_correction_dialog.png"))


def test_the_board_lets_the_patient_go_once_a_mistyped_moaas_is_corrected(
    qtbot: QtBot, scale_clinic: SmallClinic, scale_nurse: Actor
) -> None:
    clinic, nurse = scale_clinic, scale_nurse
    iv = iv_session(clinic, nurse)
    bp_checks_taken(clinic, nurse, iv)
    record_reading(clinic, nurse, iv, "cadss", "0", "14:39")
    typed = record_reading(clinic, nurse, iv, "moaas", "2", "14:41").readings[-1]
    view = ChairBoardView(Desk(clinic.db, nurse, lambda: at(clinic, "14:44")))
    qtbot.addWidget(view)
    view.resize(1300, 760)
    view.show()
    qtbot.waitExposed(view)
    qtbot.waitUntil(lambda: view.board() is not None and not view.is_reading())
    card = view.card_for_room("Room 2")
    assert card is not None
    assert card.labels["discharge"].text() == "Not yet: sedation not resolved (MOAA/S)"
    folder = picture_folder("scales")
    view.grab().save(str(folder / "chair_board_mistyped.png"))
    # Typed 2 for 5: corrected, the board reads the corrected score.
    scale_readings.correct_scale_reading(
        clinic.db, nurse, typed.reading_id, "5", "typo: 5 meant", now=at(clinic, "14:43")
    )
    view.refresh()
    qtbot.waitUntil(lambda: not view.is_reading())
    qtbot.waitUntil(lambda: "Not yet" not in card.labels["discharge"].text())
    chair = card.card()
    assert chair is not None
    assert chair.discharge_ready, card_lines(chair, "24h")
    view.grab().save(str(folder / "chair_board_corrected.png"))
