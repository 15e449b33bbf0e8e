"""`ketadesk screenshot` and `ketadesk run`, called as the command line calls them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QApplication, QMainWindow

from ketadesk.cli import main
from tests.clinic_fixtures import SmallClinic


def url_of(clinic: SmallClinic) -> str:
    return clinic.db.url.render_as_string(hide_password=False)


def test_screenshot_writes_a_png_of_the_requested_size(
    qapp: QApplication, clinic: SmallClinic, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "day.png"
    status = main(
        [
            "screenshot",
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
    args = ["screenshot", "--db", url_of(clinic), "--date", "2026-11-26", "--out", str(out)]
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
    status = main(["screenshot", "--db", url_of(clinic), "--date", date, "--out", str(target)])
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
        for w in windows:
            w.close()
        qapp.quit()

    QTimer.singleShot(0, look_and_quit)
    assert main(["run", "--db", url_of(clinic), "--date", "2026-11-24"]) == 0
    assert seen == ["KetaDesk Clinic — Tue 24 Nov 2026 — KetaDesk"]


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
        for w in qapp.topLevelWidgets():
            w.close()
        qapp.quit()

    QTimer.singleShot(0, look_and_quit)
    args = ["run", "--db", str(target), "--demo-if-missing", "--date", "2026-11-24"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert f"no clinic database at {target} yet: building a demo clinic" in out
    assert "demo clinic ready" in out
    assert target.exists()
    assert any(t.startswith("Harbor Ketamine & Wellness — Tue 24 Nov 2026") for t in titles)
