"""`ketadesk screenshot` and `ketadesk run`, called as the command line calls them."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QApplication, QMainWindow
from sqlalchemy import text

from ketadesk.cli import main
from ketadesk.services.common.context import Actor
from ketadesk.services.schedule.day import day_schedule
from ketadesk.ui.access.sign_in import SignInDialog
from ketadesk.ui.shell.main_window import MainWindow
from tests.clinic_fixtures import SmallClinic
from tests.ui.clinic_day import build_clinic_day
from tests.ui.shell.desk_helpers import desk_controller_of


def url_of(clinic: SmallClinic) -> str:
    return clinic.db.url.render_as_string(hide_password=False)


NURSE = Actor(user_id=None, username="kim", role="nurse")


def close_all(qapp: QApplication) -> None:
    """End `ketadesk run`'s event loop as a user does, by closing its windows.  Not
    ``qapp.quit()``: a quit still queued when the loop has already ended would end the event
    loops of the tests that come after (pytest-qt's waits), and stall their worker results."""
    for w in qapp.topLevelWidgets():
        w.close()


BOSS = Actor(user_id=None, username="boss", role="admin")
SHOW_EARLY = SignInDialog.__dict__["show_early"]  # before the fixture below replaces it


# The sign-in dialog grows for the demo sign-ins it is given (ui/common/sizing.ContentHeight):
# the offscreen platform warns that it cannot pass the new minimum size on to a window manager.
DIALOG_GROWS = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")


@pytest.fixture(autouse=True)
def sign_in_answers(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, bool]]:
    """`ketadesk run` asks who is there: here the nurse answers at once.  Each answer notes
    which dialog asked, and whether the window was still covered (signed out) when it did."""
    from ketadesk.ui.access.sign_in import FirstAdminDialog, SignInDialog

    answers: list[tuple[str, bool]] = []

    def covered(parent: object) -> bool:
        return isinstance(parent, MainWindow) and parent.is_signed_out()

    def sign_in(db: object, parent: object = None, **_: object) -> Actor:
        answers.append(("sign in", covered(parent)))
        return NURSE

    def first_admin(db: object, parent: object = None, **_: object) -> Actor:
        answers.append(("first admin", covered(parent)))
        return BOSS

    monkeypatch.setattr(SignInDialog, "ask", sign_in)
    monkeypatch.setattr(SignInDialog, "show_early", lambda *_, **__: None)  # ask answers
    monkeypatch.setattr(FirstAdminDialog, "ask", first_admin)
    return answers


def test_screenshot_writes_a_png_of_the_requested_size(
    qapp: QApplication, clinic: SmallClinic, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "day.png"
    status = main(
        [
            "screenshot",
            "--shows-patient-data",
            "--db",
            url_of(clinic),
            "--date",
            "2026-11-24",
            "--out",
            str(out),
            "--width",
            "1000",
            "--height",
            "700",
        ]
    )
    assert status == 0
    image = QImage(str(out))
    assert (image.width(), image.height()) == (1000, 700)
    assert "wrote" in capsys.readouterr().out


def test_screenshot_of_a_closed_day_works_too(
    qapp: QApplication, clinic: SmallClinic, tmp_path: Path
) -> None:
    out = tmp_path / "thanksgiving.png"
    args = [
        "screenshot",
        "--shows-patient-data",
        "--db",
        url_of(clinic),
        "--date",
        "2026-11-26",
        "--out",
        str(out),
    ]
    assert main(args) == 0
    assert QImage(str(out)).width() == 1400


@pytest.mark.parametrize(
    ("date", "out", "message"),
    [
        ("2026-13-01", "day.png", "is not a date; use YYYY-MM-DD"),
        ("yesterday", "day.png", "is not a date"),
        ("2026-11-24", "no/such/folder/day.png", "does not exist"),
        ("2026-11-24", ".", "is a folder"),
    ],
)
def test_screenshot_refuses_bad_input_in_one_line(
    clinic: SmallClinic,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    date: str,
    out: str,
    message: str,
) -> None:
    target = tmp_path / out
    status = main(
        [
            "screenshot",
            "--shows-patient-data",
            "--db",
            url_of(clinic),
            "--date",
            date,
            "--out",
            str(target),
        ]
    )
    err = capsys.readouterr().err
    assert status == 2
    assert message in err
    assert err.count("\n") == 1
    assert not (tmp_path / "day.png").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into a read-only folder")
def test_screenshot_refuses_an_unwritable_folder(
    clinic: SmallClinic, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        status = main(
            [
                "screenshot",
                "--shows-patient-data",
                "--db",
                url_of(clinic),
                "--date",
                "2026-11-24",
                "--out",
                str(folder / "day.png"),
            ]
        )
    finally:
        folder.chmod(0o700)
    assert status == 2
    assert "cannot be written" in capsys.readouterr().err


def test_screenshot_of_a_missing_database_fails_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [
        "screenshot",
        "--shows-patient-data",
        "--db",
        str(tmp_path / "none.sqlite"),
        "--date",
        "2026-11-24",
        "--out",
        str(tmp_path / "day.png"),
    ]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "no database at" in err
    assert err.count("\n") == 1
    assert not (tmp_path / "none.sqlite").exists()


def test_run_opens_the_window_on_the_date_asked(
    qapp: QApplication, clinic: SmallClinic, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[str] = []

    def look_and_quit() -> None:
        windows = [w for w in qapp.topLevelWidgets() if isinstance(w, QMainWindow)]
        seen.extend(w.windowTitle() for w in windows if w.isVisible())
        close_all(qapp)

    QTimer.singleShot(0, look_and_quit)
    assert main(["run", "--db", url_of(clinic), "--date", "2026-11-24"]) == 0
    assert seen == ["KetaDesk Clinic — Tue Nov 24, 2026 — KetaDesk"]


def test_run_without_a_database_says_how_to_make_one(
    qapp: QApplication, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "--db", str(tmp_path / "none.sqlite")]) == 2
    err = capsys.readouterr().err
    assert "no database at" in err
    assert "--demo-if-missing" in err
    assert err.count("\n") == 1


def test_run_refuses_a_bad_date(qapp: QApplication, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--date", "24/11/2026"]) == 2
    assert "is not a date" in capsys.readouterr().err


def test_screenshot_that_cannot_be_saved_fails_in_one_line(
    qapp: QApplication,
    clinic: SmallClinic,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A full disk, or a folder that refuses the file late (root ignores permissions).
    monkeypatch.setattr(QPixmap, "save", lambda *args, **kwargs: False)
    args = [
        "screenshot",
        "--shows-patient-data",
        "--db",
        url_of(clinic),
        "--date",
        "2026-11-24",
        "--out",
        str(tmp_path / "day.png"),
    ]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "could not be written" in err
    assert err.count("\n") == 1


def test_run_builds_the_demo_clinic_when_asked_and_missing(
    qapp: QApplication, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "new" / "clinic.sqlite"
    titles: list[str] = []

    def look_and_quit() -> None:
        titles.extend(w.windowTitle() for w in qapp.topLevelWidgets() if isinstance(w, QMainWindow))
        close_all(qapp)

    QTimer.singleShot(0, look_and_quit)
    args = ["run", "--db", str(target), "--demo-if-missing", "--date", "2026-11-24"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert f"no clinic database at {target} yet: building a demo clinic" in out
    assert "demo clinic ready" in out
    assert target.exists()
    assert any(t.startswith("Harbor Ketamine & Wellness — Tue Nov 24, 2026") for t in titles)


# What a command imports, from a fresh interpreter (the test process has everything loaded).
IMPORTS_AFTER = """
import json, sys
from ketadesk.cli import main
status = main(sys.argv[1:])
print(json.dumps([status, sorted(sys.modules)]))
"""


def modules_loaded_by(args: list[str], tmp_path: Path) -> tuple[int, set[str]]:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_CACHE_HOME=str(tmp_path / "cache"))
    done = subprocess.run(
        [sys.executable, "-c", IMPORTS_AFTER, *args],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[3],
    )
    status, modules = json.loads(done.stdout.splitlines()[-1])
    return status, set(modules)


def test_screenshot_of_a_sqlite_clinic_paints_without_sqlalchemy(
    clinic: SmallClinic, tmp_path: Path
) -> None:
    # The start-up budget (tests/benchmarks/test_startup.py) depends on it: SQLAlchemy alone
    # costs more time and memory than everything else KetaDesk does before its first paint.
    args = ["screenshot", "--shows-patient-data", "--db", url_of(clinic), "--date", "2026-11-24"]
    status, modules = modules_loaded_by([*args, "--out", str(tmp_path / "day.png")], tmp_path)
    assert status == 0
    assert QImage(str(tmp_path / "day.png")).width() == 1400
    assert {m for m in modules if m.startswith(("sqlalchemy", "alembic"))} == set()


@pytest.mark.postgres
def test_screenshot_of_a_server_clinic_needs_no_orm(pg_url: str, tmp_path: Path) -> None:
    build_clinic_day(pg_url).db.dispose()
    args = [
        "screenshot",
        "--shows-patient-data",
        "--db",
        pg_url,
        "--date",
        "2026-11-24",
        "--out",
        str(tmp_path / "d.png"),
    ]
    status, modules = modules_loaded_by(args, tmp_path)
    assert status == 0
    assert "sqlalchemy.engine" in modules
    orm = ("sqlalchemy.orm", "ketadesk.store.models")
    assert {m for m in modules if m.startswith(orm)} == set()


def test_screenshot_of_a_database_from_a_newer_version_is_refused(
    clinic: SmallClinic, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with clinic.db.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_from_the_future'"))
    args = ["screenshot", "--shows-patient-data", "--db", url_of(clinic), "--date", "2026-11-24"]
    assert main([*args, "--out", str(tmp_path / "day.png")]) == 2
    assert "newer version of KetaDesk" in capsys.readouterr().err
    assert not (tmp_path / "day.png").exists()


def quit_when(qapp: QApplication, ready: Callable[[], bool], then: Callable[[], None]) -> None:
    """Once ``ready()`` (checked every 20 ms, for at most 20 s): ``then()``, close, quit."""
    deadline = time.monotonic() + 20

    def check() -> None:
        if ready() or time.monotonic() > deadline:
            then()
            close_all(qapp)
        else:
            QTimer.singleShot(20, check)

    QTimer.singleShot(0, check)


def test_run_paints_the_first_day_from_the_file_then_reads_through_the_opened_clinic(
    qapp: QApplication, clinic: SmallClinic, monkeypatch: pytest.MonkeyPatch
) -> None:
    windows: list[MainWindow] = []
    sources: list[Callable[[dt.date], object]] = []
    seen: list[tuple[str, str]] = []
    original = MainWindow.set_day_source

    def remember(self: MainWindow, load_day: Callable[[dt.date], object], today: object) -> None:
        windows.append(self)
        sources.append(load_day)
        original(self, load_day, today)  # type: ignore[arg-type]

    monkeypatch.setattr(MainWindow, "set_day_source", remember)

    def next_day() -> None:
        if windows:
            seen.append(("first", windows[0].windowTitle()))
            windows[0].actions_by_name["next_day"].trigger()
            seen.append(("next", windows[0].windowTitle()))

    quit_when(qapp, lambda: bool(sources), next_day)
    assert main(["run", "--db", url_of(clinic), "--date", "2026-11-24"]) == 0
    # The window was up before the clinic was opened; then it read days through the clinic.
    assert len(sources) == 1
    assert getattr(sources[0], "func", None) is day_schedule
    assert seen == [
        ("first", "KetaDesk Clinic — Tue Nov 24, 2026 — KetaDesk"),
        ("next", "KetaDesk Clinic — Wed Nov 25, 2026 — KetaDesk"),
    ]


def test_run_says_why_and_closes_when_the_clinic_cannot_be_opened_after_the_first_paint(
    qapp: QApplication,
    clinic: SmallClinic,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    sign_in_answers: list[tuple[str, bool]],
) -> None:
    from ketadesk.services.clinic import clinic_setup
    from ketadesk.store.database import DatabaseOpenError

    attempts: list[str] = []

    def refuse(url: str, **_: object) -> None:
        attempts.append(url)
        raise DatabaseOpenError(f"cannot open {url}: the disk went away")

    monkeypatch.setattr(clinic_setup, "open_clinic", refuse)
    safety = QTimer()  # the window closes itself; this only stops a hang if it does not
    safety.setSingleShot(True)
    safety.timeout.connect(qapp.quit)
    safety.start(20_000)
    try:
        assert main(["run", "--db", url_of(clinic), "--date", "2026-11-24"]) == 0
    finally:
        safety.stop()
    assert attempts == [url_of(clinic)]
    assert "the disk went away" in capsys.readouterr().err
    # Nobody could sign in, so nobody was asked, and the window closed.
    assert sign_in_answers == []
    assert not [w for w in qapp.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()]


def test_run_covers_the_clinic_until_its_first_administrator_signs_in(
    qapp: QApplication, clinic: SmallClinic, sign_in_answers: list[tuple[str, bool]]
) -> None:

    state: list[object] = []

    def signed_in() -> bool:
        return bool(sign_in_answers)

    def look() -> None:
        windows = [w for w in qapp.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()]
        if len(windows) != 1:
            state.append(f"{len(windows)} windows")
            return
        window = windows[0]
        desk = window.desk()
        state.extend([window.is_signed_out(), desk.actor if desk else None])
        state.append(desk_controller_of(window).desk.actor)

    quit_when(qapp, signed_in, look)
    assert main(["run", "--db", url_of(clinic), "--date", "2026-11-24"]) == 0
    # A clinic with no accounts yet asks for its administrator first, over a covered window;
    # once answered, the clinic showed, signed in as them.
    assert sign_in_answers == [("first admin", True)]
    assert state == [False, BOSS, BOSS]


def test_screenshot_refuses_a_name_that_is_not_png(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ketadesk.cli import main

    status = main(
        [
            "screenshot",
            "--shows-patient-data",
            "--db",
            str(tmp_path / "x.sqlite"),
            "--date",
            "2026-11-24",
            "--out",
            str(tmp_path / "day.jpg"),
        ]
    )
    assert status == 2
    assert "screenshots are PNG files" in capsys.readouterr().err
    assert not (tmp_path / "day.jpg").exists()


@DIALOG_GROWS
def test_run_asks_who_is_there_while_the_clinic_opens_and_checks_the_password_once_open(
    qapp: QApplication, clinic: SmallClinic, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ketadesk.commands import run
    from ketadesk.services.access import accounts

    accounts.create_first_admin(clinic.db, "boss", "The Boss", "administrator!")
    order: list[str] = []
    opened = run._open_for_sign_in

    def show_early(cls: type[SignInDialog], /, *args: object, **kwargs: object) -> object:
        order.append("dialog")
        return SHOW_EARLY.__func__(cls, *args, **kwargs)

    def open_for_sign_in(url: str) -> object:
        order.append("opening")
        return opened(url)

    monkeypatch.setattr(SignInDialog, "show_early", classmethod(show_early))
    monkeypatch.setattr(run, "_open_for_sign_in", open_for_sign_in)
    windows: list[MainWindow] = []
    shown_while_asking: list[bool] = []
    # An earlier test's window may still await the garbage collector (it runs on a timer).
    earlier = [w for w in qapp.topLevelWidgets() if isinstance(w, MainWindow)]

    def type_in() -> bool:
        dialog = qapp.activeModalWidget()
        built = [
            w
            for w in qapp.topLevelWidgets()
            if isinstance(w, MainWindow) and not any(w is e for e in earlier)
        ]
        if isinstance(dialog, SignInDialog) and dialog.sign_in_button.isEnabled() and built:
            shown_while_asking.extend(w.isVisible() for w in built)
            dialog.username_edit.setText("boss")
            dialog.password_edit.setText("administrator!")
            dialog.sign_in_button.click()
        windows.extend(built)
        return any(w.desk() is not None for w in windows)

    seen: list[object] = []

    def look() -> None:
        window = next(w for w in windows if w.desk() is not None)
        desk = window.desk()
        seen.extend([window.is_signed_out(), desk.actor.username if desk else None])

    quit_when(qapp, type_in, look)
    assert main(["run", "--db", url_of(clinic), "--date", "2026-11-24"]) == 0
    # The dialog came first; the clinic opened behind it; the password was checked for real.
    assert order == ["dialog", "opening"]
    assert seen == [False, "boss"]
    # Nothing of the clinic showed before the sign-in: the window appeared after it.
    assert shown_while_asking == [False]


def test_run_ends_when_the_early_sign_in_is_cancelled(
    qapp: QApplication, clinic: SmallClinic, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(SignInDialog, "show_early", SHOW_EARLY)
    cancelled: list[bool] = []

    def cancel() -> bool:
        dialog = qapp.activeModalWidget()
        if isinstance(dialog, SignInDialog):
            dialog.reject()
            cancelled.append(True)
        return bool(cancelled)

    quit_when(qapp, cancel, lambda: None)
    assert main(["run", "--db", url_of(clinic), "--date", "2026-11-24"]) == 0
    assert cancelled == [True]
    assert not [w for w in qapp.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()]


def test_screenshot_of_a_real_clinic_needs_the_word_that_it_shows_patient_data(
    clinic: SmallClinic, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "day.png"
    args = ["screenshot", "--db", url_of(clinic), "--date", "2026-11-24", "--out", str(out)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "not the demo clinic" in err
    assert "--shows-patient-data" in err
    assert err.count("\n") == 1
    assert not out.exists()


def test_screenshot_of_the_demo_clinic_needs_no_word_and_is_owner_only(
    qapp: QApplication, tmp_path: Path
) -> None:
    from ketadesk.services.demo.clinic import build_demo

    url = f"sqlite:///{tmp_path / 'demo.sqlite'}"
    build_demo(url, rooms=1, weeks_back=0, weeks_ahead=1, patients=5)
    out = tmp_path / "demo.png"
    status = main(
        ["screenshot", "--db", url, "--date", dt.date.today().isoformat(), "--out", str(out)]
    )
    assert status == 0
    assert QImage(str(out)).width() == 1400
    assert out.stat().st_mode & 0o777 == 0o600


def test_run_remembers_its_clinic_for_the_next_run_and_for_the_commands(
    qapp: QApplication, clinic: SmallClinic, capsys: pytest.CaptureFixture[str]
) -> None:
    from ketadesk import workstation

    def signed_in() -> bool:
        return any(
            isinstance(w, MainWindow) and w.desk() is not None for w in qapp.topLevelWidgets()
        )

    quit_when(qapp, signed_in, lambda: None)
    assert main(["run", "--db", str(clinic.db.url.database), "--date", "2026-11-24"]) == 0
    url = f"sqlite:///{clinic.db.url.database}"
    assert f"this workstation's clinic is now {url}" in capsys.readouterr().out
    assert workstation.remembered_clinic() == url
    # Plain `ketadesk run` opens it; so does every command given no --db, and says so.
    titles: list[str] = []

    def look() -> None:
        titles.extend(w.windowTitle() for w in qapp.topLevelWidgets() if w.isVisible())

    quit_when(qapp, signed_in, look)
    assert main(["run", "--date", "2026-11-24"]) == 0
    assert "KetaDesk Clinic — Tue Nov 24, 2026 — KetaDesk" in titles
    assert "clinic is now" not in capsys.readouterr().out  # nothing changed: nothing said
    assert main(["db", "status"]) == 0
    assert capsys.readouterr().err == (
        f"ketadesk db: using the clinic at {url} (this workstation's)\n"
    )


def test_run_that_cannot_open_its_clinic_remembers_nothing(
    qapp: QApplication, tmp_path: Path
) -> None:
    from ketadesk import workstation

    assert main(["run", "--db", str(tmp_path / "none.sqlite")]) == 2
    assert workstation.remembered_clinic() is None


def test_run_building_a_demo_without_db_never_takes_the_remembered_clinic(
    qapp: QApplication, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ketadesk import workstation
    from ketadesk.cli import CommandError
    from ketadesk.commands import run
    from ketadesk.paths import default_db_url

    workstation.remember_clinic(str(tmp_path / "real-clinic.sqlite"))
    built: list[str] = []

    def build(url: str) -> None:
        built.append(url)
        raise CommandError("stop here")

    monkeypatch.setattr(run, "build_demo_if_missing", build)
    assert main(["run", "--demo-if-missing"]) == 2
    assert built == [default_db_url()]


@DIALOG_GROWS
def test_run_shows_the_day_once_the_early_check_lets_the_user_in_before_the_clinic_opens(
    qapp: QApplication, clinic: SmallClinic, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ketadesk.commands import run
    from ketadesk.services.access import accounts

    accounts.create_first_admin(clinic.db, "boss", "The Boss", "administrator!")
    monkeypatch.setattr(SignInDialog, "show_early", SHOW_EARLY)
    # The clinic opens only when asked to here (the timer would, much later): the day shows
    # on the early check's "yes" alone.
    monkeypatch.setattr(run, "OPEN_CLINIC_AFTER_MS", 600_000)
    opened = run._open_for_sign_in
    openings: list[str] = []

    def open_for_sign_in(url: str) -> object:
        openings.append(url)
        return opened(url)

    monkeypatch.setattr(run, "_open_for_sign_in", open_for_sign_in)
    earlier = [w for w in qapp.topLevelWidgets() if isinstance(w, MainWindow)]
    typed: list[bool] = []
    early_day: list[object] = []
    windows: list[MainWindow] = []

    def built() -> list[MainWindow]:
        return [
            w
            for w in qapp.topLevelWidgets()
            if isinstance(w, MainWindow) and not any(w is e for e in earlier)
        ]

    def step() -> bool:
        dialog = qapp.activeModalWidget()
        if not typed and isinstance(dialog, SignInDialog) and built():
            dialog.username_edit.setText("boss")
            dialog.password_edit.setText("administrator!")
            dialog.sign_in_button.click()
            typed.append(True)
        shown = [w for w in built() if w.isVisible()]
        if shown and not early_day:
            window = shown[0]
            windows.append(window)
            early_day.extend(
                [window.is_signed_out(), window.desk(), window.windowTitle(), list(openings)]
            )
            hidden = [
                w for w in qapp.topLevelWidgets() if isinstance(w, SignInDialog) and w.early_actor()
            ]
            hidden[0].needs_clinic.emit()  # now let the clinic open
        return bool(windows) and windows[0].desk() is not None

    seen: list[object] = []

    def look() -> None:
        desk = windows[0].desk()
        seen.extend([windows[0].is_signed_out(), desk.actor.username if desk else None])

    quit_when(qapp, step, look)
    assert main(["run", "--db", url_of(clinic), "--date", "2026-11-24"]) == 0
    # The day showed, uncovered, before the clinic was even being opened, without the desk.
    assert early_day == [False, None, "KetaDesk Clinic — Tue Nov 24, 2026 — KetaDesk", []]
    # Then the clinic opened and the full sign-in attached the desk, the day still in view.
    assert openings == [url_of(clinic)]
    assert seen == [False, "boss"]


def test_run_closed_while_the_early_day_shows_ends_cleanly_and_forgets_nothing(
    qapp: QApplication, clinic: SmallClinic, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The user is let in early and closes the window before the clinic has opened (and so
    before the full sign-in): the run ends with 0, nothing asks anyone to sign in afterwards,
    and the view the user last had open is still the one to come back to."""
    from PySide6.QtCore import QSettings

    from ketadesk.commands import run
    from ketadesk.services.access import accounts

    accounts.create_first_admin(clinic.db, "boss", "The Boss", "administrator!")
    monkeypatch.setattr(SignInDialog, "show_early", SHOW_EARLY)
    monkeypatch.setattr(run, "OPEN_CLINIC_AFTER_MS", 600_000)  # not before the window closes
    openings: list[str] = []
    opened = run._open_for_sign_in

    def open_for_sign_in(url: str) -> object:
        openings.append(url)
        return opened(url)

    monkeypatch.setattr(run, "_open_for_sign_in", open_for_sign_in)
    stored = QSettings()  # the application's, as `run` reads and writes them
    stored.setValue("view/last", "week")
    stored.sync()
    earlier = [w for w in qapp.topLevelWidgets() if isinstance(w, MainWindow)]
    typed: list[bool] = []
    shown: list[MainWindow] = []

    def step() -> bool:
        dialog = qapp.activeModalWidget()
        built = [
            w
            for w in qapp.topLevelWidgets()
            if isinstance(w, MainWindow) and not any(w is e for e in earlier)
        ]
        if not typed and isinstance(dialog, SignInDialog) and built:
            dialog.username_edit.setText("boss")
            dialog.password_edit.setText("administrator!")
            dialog.sign_in_button.click()
            typed.append(True)
        shown.extend(w for w in built if w.isVisible() and not w.is_signed_out() and not shown)
        return bool(shown)

    quit_when(qapp, step, lambda: None)
    assert main(["run", "--db", url_of(clinic), "--date", "2026-11-24"]) == 0
    assert shown, "the early check never let the user in"
    assert shown[0].desk() is None  # closed before the full sign-in
    assert openings == []
    assert QSettings().value("view/last") == "week"
