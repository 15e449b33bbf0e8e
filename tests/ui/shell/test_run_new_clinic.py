"""``ketadesk run --db NEWFILE``: the window asks whether to create a new, empty clinic there,
open another clinic file, or quit; a new clinic goes on to its first administrator.  Without a
screen (a script, CI) the command line's own refusal stands."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

from ketadesk.cli import main
from ketadesk.services.clinic.clinic_setup import open_clinic
from ketadesk.store.database import Database
from ketadesk.ui.access.sign_in import FirstAdminDialog
from ketadesk.ui.common import app as app_module
from ketadesk.ui.shell.missing_clinic import MissingClinicAnswer, MissingClinicDialog
from tests.clinic_fixtures import build_small_clinic

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")


@pytest.fixture
def a_screen(monkeypatch: pytest.MonkeyPatch) -> None:
    """As on a desktop: the window may ask (offscreen Qt has no one to answer)."""
    monkeypatch.setattr(app_module, "has_screen", lambda: True)


def _answer_with(monkeypatch: pytest.MonkeyPatch, press: str, seen: list[str]) -> None:
    """The real question, answered by pressing ``press`` ("create", "open", "quit")."""

    def ask(path: Path, parent: QWidget | None = None) -> MissingClinicAnswer:
        dialog = MissingClinicDialog(path, parent)
        seen.append(dialog.windowTitle())
        button = {
            "create": dialog.create_button,
            "open": dialog.open_button,
            "quit": dialog.quit_button,
        }[press]
        # Tied to the dialog: a press that comes after the dialog is gone (an exec() that
        # returned at once) must not reach a deleted button in whatever test runs next.
        QTimer.singleShot(0, dialog, button.click)
        dialog.exec()
        return dialog.answer

    monkeypatch.setattr(MissingClinicDialog, "ask", staticmethod(ask))


def _first_admin_asked(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    asked: list[str] = []

    def ask(db: Database, parent: QWidget | None = None, **_: object) -> None:
        asked.append(db.label)
        # None: the administrator closed it, so the run ends

    monkeypatch.setattr(FirstAdminDialog, "ask", staticmethod(ask))
    return asked


@pytest.mark.usefixtures("a_screen")
def test_a_missing_file_becomes_a_new_clinic_that_asks_for_its_administrator(
    qapp: QApplication, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "harbor" / "clinic.sqlite"
    seen: list[str] = []
    _answer_with(monkeypatch, "create", seen)
    asked = _first_admin_asked(monkeypatch)
    assert main(["run", "--db", str(target)]) == 0
    assert seen == ["No clinic here yet"]
    assert target.exists()
    assert len(asked) == 1
    assert str(target) in asked[0]
    opened = open_clinic(f"sqlite:///{target}", upgrade=False)
    try:
        assert not opened.created  # a whole clinic, its schema current
    finally:
        opened.db.dispose()


@pytest.mark.usefixtures("a_screen")
def test_quitting_creates_nothing_and_says_how_to_make_one(
    qapp: QApplication,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    target = tmp_path / "none.sqlite"
    _answer_with(monkeypatch, "quit", [])
    assert main(["run", "--db", str(target)]) == 2
    assert "--demo-if-missing" in capsys.readouterr().err
    assert not target.exists()


@pytest.mark.usefixtures("a_screen")
def test_another_clinic_file_can_be_opened_instead(
    qapp: QApplication, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    existing = tmp_path / "existing.sqlite"
    build_small_clinic(f"sqlite:///{existing}").db.dispose()
    monkeypatch.setattr(MissingClinicDialog, "choose_file", lambda self: existing)
    _answer_with(monkeypatch, "open", [])
    titles: list[str] = []

    def look_and_quit() -> None:
        titles.extend(w.windowTitle() for w in qapp.topLevelWidgets() if w.isVisible())
        for w in qapp.topLevelWidgets():
            w.close()

    # A timer of this test's own, stopped when it ends: were the run over before it fired, it
    # would close the windows of whatever test runs next on this worker.
    timer = QTimer()
    timer.setSingleShot(True)
    timer.timeout.connect(look_and_quit)
    timer.start(500)
    try:
        main(["run", "--db", str(tmp_path / "typo.sqlite")])
    finally:
        timer.stop()
    assert not (tmp_path / "typo.sqlite").exists()
    assert any("KetaDesk" in t for t in titles)


def test_the_question_is_readable(qtbot: QtBot, tmp_path: Path) -> None:
    dialog = MissingClinicDialog(tmp_path / "clinic.sqlite")
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    texts = [b.text() for b in (dialog.create_button, dialog.open_button, dialog.quit_button)]
    assert texts == ["Create a new, empty clinic here", "Open another clinic file…", "Quit"]
