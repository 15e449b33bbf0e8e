"""The clinic server going away and coming back: the watcher says so, the banner shows and hides,
retries back off; on PostgreSQL a NOTIFY from another connection wakes the watcher at once."""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot
from sqlalchemy import create_engine, text

from ketadesk.commands.run import open_day_window
from ketadesk.services.booking import appointment_changes
from ketadesk.services.common.context import Actor
from ketadesk.services.common.errors import ServerUnavailable, server_errors
from ketadesk.services.schedule.day import day_schedule
from ketadesk.store.database import open_database, parse_db_url
from ketadesk.ui.common.desk import Desk
from ketadesk.ui.shell.change_watch import ChangeWatcher, retry_delays
from ketadesk.ui.shell.connection_banner import ConnectionBanner, banner_colors, banner_text
from tests.clinic_fixtures import SmallClinic
from tests.pictures import picture_folder
from tests.ui.clinic_day import TUESDAY, build_clinic_day
from tests.ui.conftest import NOW
from tests.ui.shell.desk_helpers import desk_controller_of, open_desk_window

FRONT_DESK = Actor(user_id=None, username="maria", role="front_desk")


@pytest.fixture
def pg_clinic(pg_url: str) -> Iterator[tuple[SmallClinic, str]]:
    c = build_clinic_day(pg_url)
    yield c, pg_url
    c.db.dispose()


def _status(clinic: SmallClinic, appointment_id: int) -> str:
    schedule = day_schedule(clinic.db, TUESDAY)
    return next(a.status for a in schedule.appointments if a.id == appointment_id)


class ServerSwitch:
    """Makes the clinic's PostgreSQL database refuse every connection (and cuts the open ones),
    as a server that went down would, without touching the server other tests use."""

    def __init__(self, url: str) -> None:
        parsed = parse_db_url(url)
        self.name = parsed.database
        self.admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")

    def down(self) -> None:
        with self.admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS false'))
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": self.name},
            )

    def up(self) -> None:
        with self.admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS true'))

    def close(self) -> None:
        self.up()
        self.admin.dispose()


# -- the banner alone ---------------------------------------------------------------------------


def _hosted_banner(qtbot: QtBot) -> ConnectionBanner:
    """A banner inside a plain window of fixed size (as in the main window: a child)."""
    host = QWidget()
    qtbot.addWidget(host)
    host.setFixedSize(1000, 64)
    banner = ConnectionBanner(host)
    banner.setGeometry(0, 0, 1000, 64)
    host.show()
    qtbot.waitExposed(host)
    banner.host = host  # type: ignore[attr-defined]  # kept alive as long as the banner
    return banner


def test_the_banner_says_why_when_it_retries_and_what_is_safe(qtbot: QtBot) -> None:
    banner = _hosted_banner(qtbot)
    assert banner.isHidden()
    banner.show_lost("connection refused")
    banner.set_retry_in(4000)
    assert banner.isVisible()
    said = banner.text()
    assert said.startswith("Connection to the clinic server lost: connection refused.")
    assert "Retrying in 4 s…" in said
    assert "Changes you confirmed are saved; new changes wait until the server is back." in said
    assert banner.accessibleDescription() == said
    assert banner.retry_button.accessibleName()
    with qtbot.waitSignal(banner.retry_requested, timeout=500):
        banner.retry_button.click()
    assert "Retrying now…" in banner.text()
    banner.show_restored()
    assert banner.isHidden()


def test_banner_text_counts_down_to_now() -> None:
    assert "Retrying in 30 s…" in banner_text("timeout", 30)
    assert "Retrying now…" in banner_text("timeout", 0)
    assert "Retrying" not in banner_text("timeout", None)
    assert banner_text("", None).startswith("Connection to the clinic server lost: no answer.")


def test_banner_colours_read_on_light_and_dark_palettes() -> None:
    for window_colour in ("#f5f5f5", "#202124"):
        palette = QPalette()
        palette.setColor(QPalette.ColorRole.Window, QColor(window_colour))
        background, fore = banner_colors(palette)
        assert abs(background.lightness() - fore.lightness()) > 120
        window_dark = QColor(window_colour).lightness() < 128
        assert (background.lightness() < 128) == window_dark


def test_retries_back_off_from_one_second_to_thirty() -> None:
    assert retry_delays() == [1000, 2000, 4000, 8000, 16000, 30000]


def test_banner_screenshots(qtbot: QtBot) -> None:
    banner = _hosted_banner(qtbot)
    banner.show_lost('connection to server at "clinic-db", port 5432 failed: Connection refused')
    banner.set_retry_in(8000)
    assert banner.grab().save(str(picture_folder() / "connection_banner.png"))


# -- the watcher against a server that goes away ----------------------------------------------


@pytest.mark.postgres
def test_a_lost_server_shows_the_banner_retries_and_hides_it_when_back(
    qtbot: QtBot, pg_clinic: tuple[SmallClinic, str]
) -> None:
    clinic, url = pg_clinic
    switch = ServerSwitch(url)
    desk = Desk(clinic.db, FRONT_DESK, now=lambda: NOW)
    watcher = ChangeWatcher(desk, interval_ms=200, retry_first_ms=100, retry_max_ms=400)
    banner = _hosted_banner(qtbot)
    banner.follow(watcher)
    delays: list[int] = []
    watcher.retrying.connect(delays.append)
    ada = next(
        a.id
        for a in day_schedule(clinic.db, TUESDAY).appointments
        if a.patient_name == "Lovelace, Ada" and a.status == "booked"
    )
    try:
        assert not watcher.is_lost()
        with qtbot.waitSignal(watcher.connection_lost, timeout=5000) as lost:
            switch.down()
        reason = lost.args[0]
        assert "not currently accepting connections" in reason or "terminat" in reason
        assert watcher.is_lost()
        assert banner.isVisible()
        assert "Connection to the clinic server lost:" in banner.text()
        qtbot.waitUntil(lambda: len(delays) >= 4, timeout=5000)
        assert delays[:4] == [100, 200, 400, 400]  # doubling, then capped
        assert not banner.isHidden()

        # While lost an edit fails with a ServiceError naming the problem; nothing is written.
        with (
            pytest.raises(ServerUnavailable, match="not currently accepting connections"),
            server_errors(),
        ):
            appointment_changes.change_status(clinic.db, FRONT_DESK, ada, "check_in", now=NOW)

        with qtbot.waitSignals(
            [watcher.connection_restored, watcher.changed], timeout=5000, order="strict"
        ):
            switch.up()
        assert not watcher.is_lost()
        assert banner.isHidden()
        assert _status(clinic, ada) == "booked"
    finally:
        watcher.stop()
        switch.close()


@pytest.mark.postgres
def test_retry_now_tries_at_once(qtbot: QtBot, pg_clinic: tuple[SmallClinic, str]) -> None:
    clinic, url = pg_clinic
    switch = ServerSwitch(url)
    desk = Desk(clinic.db, FRONT_DESK, now=lambda: NOW)
    watcher = ChangeWatcher(desk, interval_ms=200, retry_first_ms=60_000, retry_max_ms=60_000)
    banner = _hosted_banner(qtbot)
    banner.follow(watcher)
    try:
        with qtbot.waitSignal(watcher.connection_lost, timeout=5000):
            switch.down()
        assert watcher.seconds_to_retry() > 50
        switch.up()
        started = time.monotonic()
        with qtbot.waitSignal(watcher.connection_restored, timeout=5000):
            banner.retry_button.click()
        assert time.monotonic() - started < 5
        assert banner.isHidden()
    finally:
        watcher.stop()
        switch.close()


@pytest.mark.postgres
def test_a_notify_from_another_workstation_wakes_the_watcher_before_the_poll(
    qtbot: QtBot, pg_clinic: tuple[SmallClinic, str]
) -> None:
    clinic, url = pg_clinic
    desk = Desk(clinic.db, FRONT_DESK, now=lambda: NOW)
    # The poll alone would take ten minutes: a change heard within half a minute (generous for
    # a loaded CI machine) can only have come from the notification.
    watcher = ChangeWatcher(desk, interval_ms=600_000)
    try:
        qtbot.waitUntil(watcher.is_listening, timeout=10_000)
        schedule = day_schedule(clinic.db, TUESDAY)
        ada = next(a.id for a in schedule.appointments if a.patient_name == "Lovelace, Ada")
        other = open_database(url)
        try:
            started = time.monotonic()
            with qtbot.waitSignal(watcher.changed, timeout=30_000):
                appointment_changes.change_status(other, FRONT_DESK, ada, "check_in", now=NOW)
            assert time.monotonic() - started < 30  # the poll alone: ten minutes
        finally:
            other.dispose()
    finally:
        watcher.stop()
    assert not watcher.is_listening()


@pytest.mark.postgres
def test_the_main_window_shows_the_banner_above_its_views(
    qtbot: QtBot, pg_clinic: tuple[SmallClinic, str]
) -> None:

    clinic, url = pg_clinic
    switch = ServerSwitch(url)
    window = open_desk_window(
        qtbot, clinic.db, TUESDAY, now=lambda: NOW, actor=FRONT_DESK, size=(1200, 700)
    )
    ctl = desk_controller_of(window)
    banner = window.banner()
    assert isinstance(banner, ConnectionBanner)
    assert banner is ctl.banner
    assert banner.isHidden()
    try:
        with qtbot.waitSignal(ctl.watcher.connection_lost, timeout=5000):
            switch.down()
        qtbot.waitUntil(banner.isVisible, timeout=2000)
        # Above the day view, across the central area.
        day_top = window.day_view.mapTo(window, window.day_view.rect().topLeft()).y()
        banner_bottom = banner.mapTo(window, banner.rect().bottomLeft()).y()
        assert banner_bottom < day_top
        assert window.grab().save(str(picture_folder() / "connection_banner_window.png"))
        switch.up()
        with qtbot.waitSignal(ctl.watcher.connection_restored, timeout=5000):
            banner.retry_button.click()
        assert banner.isHidden()
    finally:
        ctl.watcher.stop()
        switch.close()


# -- the picture for the README --------------------------------------------------------------

SHOT_DAY = dt.date(2026, 11, 24)
SHOT_NOW = dt.datetime(2026, 11, 24, 18, 52, tzinfo=dt.UTC)  # 10:52 at the demo clinic


def render_lost_connection(url: str, out: Path) -> ConnectionBanner:
    """The demo clinic's day with the banner up, as a workstation shows it when the server is
    gone (the reason is the one psycopg gives for a server that is down)."""
    from PySide6.QtCore import QCoreApplication

    from ketadesk.services.clinic.clinic_setup import open_clinic

    db = open_clinic(url).db
    nurse = Actor(user_id=2, username="nurse", role="nurse")
    window = open_day_window(db, SHOT_DAY, now=lambda: SHOT_NOW, actor=nurse)
    window.resize(1400, 900)
    window.show()
    ctl = desk_controller_of(window)
    ctl.watcher.stop()  # the picture, not the (working) file: nothing to retry here
    ctl.banner.show_lost(
        'connection to server at "clinic-db.bayside.lan" (10.0.0.20), port 5432 failed: '
        "Connection refused"
    )
    ctl.banner.set_retry_in(8000)
    for _ in range(20):
        QCoreApplication.processEvents()
    assert window.grab().save(str(out))
    window.close()
    db.dispose()
    return ctl.banner


def test_the_lost_connection_picture_on_the_demo_clinic(qtbot: QtBot, tmp_path: Path) -> None:
    from ketadesk.services.demo.clinic import build_demo

    url = f"sqlite:///{tmp_path / 'demo.sqlite'}"
    build_demo(url, today=SHOT_DAY, rooms=2, weeks_back=1, weeks_ahead=1, patients=14)
    out = tmp_path / "connection-lost.png"
    banner = render_lost_connection(url, out)
    assert out.stat().st_size > 10_000
    # The countdown ticks in real time while the window is laid out and painted: a loaded
    # machine (a whole suite on 2 cores beside other work) has shown 4 s left of the 8, and
    # once all 8 gone ("Retrying now…"); the countdown's own words are tested above.
    assert re.search(r"Retrying (in [1-8] s|now)…", banner.text()), banner.text()
