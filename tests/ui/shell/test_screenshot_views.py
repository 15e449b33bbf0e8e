"""`ketadesk screenshot --view V`: every view of the window rendered offscreen to a PNG, with
its data read, and nobody signed in."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QAbstractItemView, QApplication

from ketadesk.cli import main
from ketadesk.commands import screenshot
from ketadesk.services.demo.clinic import build_demo
from ketadesk.ui.shell.main_window import VIEWS as WINDOW_VIEWS
from ketadesk.ui.shell.main_window import MainWindow
from tests.clinic_fixtures import SmallClinic

#: The demo is built for this day and the clock held at 10:52 there: the pictures never
#: depend on the day the tests run.
DAY = dt.date(2026, 11, 24)
TEXT = {v.name: v.text for v in WINDOW_VIEWS}


@pytest.fixture(scope="module")
def demo_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('demo') / 'demo.sqlite'}"
    build_demo(url, today=DAY, rooms=3, weeks_back=2, weeks_ahead=2, patients=40)
    return url


def shot(url: str, out: Path, *extra: str) -> list[str]:
    return [
        "screenshot",
        "--db",
        url,
        "--date",
        DAY.isoformat(),
        "--time",
        "10:52",
        "--out",
        str(out),
        *extra,
    ]


def distinct_colours(image: QImage, step: int = 7) -> int:
    """How many colours a grid of pixels over the picture holds (a blank one holds one or two)."""
    return len(
        {
            image.pixel(x, y)
            for x in range(0, image.width(), step)
            for y in range(0, image.height(), step)
        }
    )


def test_every_view_of_the_window_can_be_asked_for() -> None:
    assert set(screenshot.VIEWS.values()) == set(TEXT)
    assert screenshot.VIEWS["day"] == "rooms"


@pytest.mark.parametrize("view", list(screenshot.VIEWS))
def test_each_view_renders_to_a_png_of_the_size_asked(
    qapp: QApplication,
    demo_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    view: str,
) -> None:
    out = tmp_path / f"{view}.png"
    status = main(shot(demo_url, out, "--view", view, "--width", "1100", "--height", "720"))
    assert status == 0
    image = QImage(str(out))
    assert (image.width(), image.height()) == (1100, 720)
    assert distinct_colours(image) > 20
    # The window said which view it showed when the picture was taken: the one asked for.
    name = screenshot.VIEWS[view]
    assert capsys.readouterr().out.strip() == (
        f"wrote {out} (1100x720, {TEXT[name]}, Tue Nov 24, 2026)"
    )
    assert out.stat().st_mode & 0o777 == 0o600


@pytest.fixture
def shown(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, object]]:
    """What each window the command painted showed, looked at just before it closes."""
    facts: list[dict[str, object]] = []
    close = screenshot._close

    def look_then_close(window: MainWindow) -> None:
        facts.append(_facts(window))
        close(window)

    monkeypatch.setattr(screenshot, "_close", look_then_close)
    return facts


def _facts(window: MainWindow) -> dict[str, object]:
    """What the window showed at the moment of the picture (read before it closes)."""
    page = window.page(window.view())
    tables = page.findChildren(QAbstractItemView) if page is not None else []
    desk = window.desk()
    return {
        "view": window.view(),
        "reading": window.is_reading(),
        "rows": sum(t.model().rowCount() for t in tables if t.model() is not None),
        "user": desk.actor.username if desk is not None else None,
        "role": desk.actor.role if desk is not None else None,
        "page": page,
    }


@pytest.mark.parametrize("view", ["follow-ups", "my-day", "waitlist", "confirmations"])
def test_the_picture_waits_for_the_views_data(
    qapp: QApplication, demo_url: str, tmp_path: Path, shown: list[dict[str, object]], view: str
) -> None:
    assert main(shot(demo_url, tmp_path / "v.png", "--view", view)) == 0
    (facts,) = shown
    assert facts["view"] == screenshot.VIEWS[view]
    assert facts["reading"] is False
    assert isinstance(facts["rows"], int)
    assert facts["rows"] > 0
    # Nobody signed in: the command line acts, as administrator, and only reads.
    assert facts["role"] == "admin"
    assert str(facts["user"]).endswith("(command line)")


def test_my_day_as_a_user_shows_their_own_day(
    qapp: QApplication, demo_url: str, tmp_path: Path, shown: list[dict[str, object]]
) -> None:
    from ketadesk.ui.monitoring.my_day import MyDayView

    assert main(shot(demo_url, tmp_path / "v.png", "--view", "my-day", "--user", "nurse")) == 0
    (facts,) = shown
    assert (facts["user"], facts["role"]) == ("nurse", "nurse")
    page = facts["page"]
    assert isinstance(page, MyDayView)
    assert "Nurse" in page.staff_combo.currentText() or "RN" in page.staff_combo.currentText()


def test_the_day_with_nobody_signed_in_still_takes_the_quick_path(
    qapp: QApplication, demo_url: str, tmp_path: Path, shown: list[dict[str, object]]
) -> None:
    args = ["screenshot", "--db", demo_url, "--date", DAY.isoformat()]
    assert main([*args, "--out", str(tmp_path / "d.png")]) == 0
    (facts,) = shown
    assert facts["user"] is None  # no desk: the day read straight from the file


def test_views_differ_from_one_another(qapp: QApplication, demo_url: str, tmp_path: Path) -> None:
    pictures = []
    for view in ("day", "waitlist", "chairs"):
        out = tmp_path / f"{view}.png"
        assert main(shot(demo_url, out, "--view", view)) == 0
        image = QImage(str(out))
        # The central area (right of the left panel, below the toolbar).
        pictures.append(image.copy(400, 120, 800, 600))
    assert pictures[0] != pictures[1] != pictures[2] != pictures[0]


def test_a_real_clinics_views_need_the_word_that_they_show_patient_data(
    clinic: SmallClinic, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = clinic.db.url.render_as_string(hide_password=False)
    out = tmp_path / "w.png"
    assert main(shot(url, out, "--view", "waitlist")) == 2
    err = capsys.readouterr().err
    assert "not the demo clinic" in err
    assert err.count("\n") == 1
    assert not out.exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            ["--time", "25:00"],
            "--time '25:00' is not a time of day; use 24-hour HH:MM (14:30) or 12-hour with "
            "am/pm (2:30pm)",
        ),
        (["--time", "noon"], "is not a time of day"),
        (["--view", "week", "--user", "nobody"], "--user 'nobody': no active user of that name"),
    ],
)
def test_screenshot_refuses_bad_input_in_one_line(
    qapp: QApplication,
    demo_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    message: str,
) -> None:
    out = tmp_path / "x.png"
    assert main(shot(demo_url, out, *extra)) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1
    assert not out.exists()


def test_an_unknown_view_is_refused_with_the_list(
    demo_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(shot(demo_url, tmp_path / "x.png", "--view", "month"))
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'month'" in err
    assert "follow-ups" in err
    assert "confirmations" in err
