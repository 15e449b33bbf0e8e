"""The sign-in suggests the last user of the clinic being opened, never another clinic's (a
trial: the demo's sign-in pre-filled a user of the clinic opened before it)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from pytestqt.qtbot import QtBot

from ketadesk.commands.run import open_day_window
from ketadesk.services.access import accounts
from ketadesk.services.access.file_sign_in import FileSignIn
from ketadesk.services.common.context import SYSTEM, Actor
from ketadesk.ui.access.remembered_user import clinic_of, remember_user
from ketadesk.ui.shell.session import SignedInSession
from tests.clinic_fixtures import SmallClinic
from tests.ui.clinic_day import TUESDAY, build_clinic_day
from tests.ui.conftest import NOW


@pytest.fixture
def other(tmp_path: Path) -> Iterator[SmallClinic]:
    """A second clinic on this workstation (the demo, say) with accounts of its own."""
    c = build_clinic_day(f"sqlite:///{tmp_path / 'other.sqlite'}")
    yield c
    c.db.dispose()


@pytest.fixture
def settings(tmp_path: Path) -> QSettings:
    return QSettings(str(tmp_path / "workstation.ini"), QSettings.Format.IniFormat)


def _user(clinic: SmallClinic, username: str, role: str = "nurse") -> Actor:
    info = accounts.create_user(
        clinic.db, SYSTEM, username, username.title(), role, "a long password 1", now=NOW
    )
    return Actor(info.id, info.username, info.role)


def _suggested(qtbot: QtBot, clinic: SmallClinic, settings: QSettings, then: Actor) -> str:
    """Open ``clinic`` as start-up does: the name its sign-in is given; ``then`` signs in."""
    win = open_day_window(clinic.db, TUESDAY, now=lambda: NOW)
    qtbot.addWidget(win)
    suggested: list[str] = []

    def ask(db: object, parent: object, *, username: str = "", hint: str = "") -> Actor:
        suggested.append(username)
        return then

    session = SignedInSession(win, clinic.db, settings=settings, now=lambda: NOW, ask_sign_in=ask)
    assert session.start(accounts.sign_in_screen(clinic.db))
    session.close()
    return suggested[0]


def test_each_clinic_suggests_its_own_last_user(
    qtbot: QtBot, clinic: SmallClinic, other: SmallClinic, settings: QSettings
) -> None:
    kim = _user(clinic, "kim")
    demo_nurse = _user(other, "nurse")
    assert _suggested(qtbot, clinic, settings, kim) == ""
    # The other clinic has no "kim": nothing is suggested there, the name is not carried over.
    assert _suggested(qtbot, other, settings, demo_nurse) == ""
    assert _suggested(qtbot, clinic, settings, kim) == "kim"
    assert _suggested(qtbot, other, settings, demo_nurse) == "nurse"


def test_a_name_the_clinic_no_longer_has_is_not_suggested(
    qtbot: QtBot, clinic: SmallClinic, settings: QSettings
) -> None:
    kim = _user(clinic, "kim")
    remember_user(settings, clinic_of(clinic.db), "someone_gone")
    assert _suggested(qtbot, clinic, settings, kim) == ""


def test_the_early_sign_in_checks_the_name_in_the_file(
    clinic: SmallClinic, other: SmallClinic
) -> None:
    # Start-up suggests a name before the clinic is open: only one its file has, active.
    _user(clinic, "kim")
    assert clinic.db.sqlite_path is not None
    assert other.db.sqlite_path is not None
    assert FileSignIn(clinic.db.sqlite_path).knows("Kim")
    assert not FileSignIn(other.db.sqlite_path).knows("kim")
    assert not FileSignIn(clinic.db.sqlite_path.with_name("missing.sqlite")).knows("kim")


def test_start_up_suggests_the_files_own_last_user(
    clinic: SmallClinic, other: SmallClinic, settings: QSettings
) -> None:
    from ketadesk.commands.run import remembered_user_of_file

    _user(clinic, "kim")
    _user(other, "nurse")
    assert clinic.db.sqlite_path is not None
    assert other.db.sqlite_path is not None
    remember_user(settings, clinic_of(clinic.db), "kim")
    assert remembered_user_of_file(settings, clinic.db.sqlite_path) == "kim"
    assert remembered_user_of_file(settings, other.db.sqlite_path) == ""  # kim is not theirs
    remember_user(settings, clinic_of(other.db), "kim")  # remembered there before kim left
    assert remembered_user_of_file(settings, other.db.sqlite_path) == ""
