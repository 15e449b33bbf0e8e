"""Settings ▸ Clinic: the site's REMS certification date typed month first and saved; a short
clinic phone ("555-01") is refused at its field with the patient form's words."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import pytest
from pytestqt.qtbot import QtBot

from ketadesk.services.common.context import Actor
from ketadesk.services.common.phones import phone_problem
from ketadesk.store.clinic_config import load_catalog
from ketadesk.store.database import Database
from ketadesk.ui.common.desk import Desk
from ketadesk.ui.settings.clinic_page import ClinicPage
from tests.clinic_fixtures import new_clinic
from tests.pictures import picture_folder
from tests.ui.conftest import NOW

ADMIN = Actor(user_id=None, username="admin", role="admin")
TIMEOUT = 10_000
pytestmark = pytest.mark.qt_log_ignore("does not support propagateSizeHints")  # offscreen


@pytest.fixture
def db(sqlite_url: str) -> Iterator[Database]:
    db = new_clinic(sqlite_url)
    yield db
    db.dispose()


def _page(qtbot: QtBot, db: Database) -> ClinicPage:
    page = ClinicPage(Desk(db, ADMIN, now=lambda: NOW))
    qtbot.addWidget(page)
    page.resize(900, 1000)
    page.show()
    with qtbot.waitSignal(page.loaded, timeout=TIMEOUT):
        page.refresh()
    return page


def test_the_rems_date_is_typed_month_first_and_saved(qtbot: QtBot, db: Database) -> None:
    page = _page(qtbot, db)
    assert page.rems_until_edit.text() == ""
    with db.read() as session:
        zone = ZoneInfo(load_catalog(session).settings.timezone)
    until = dt.datetime.now(zone).date() + dt.timedelta(days=300)
    typed = f"{until.month:02d}/{until.day:02d}/{until.year}"
    page.rems_until_edit.setText("31/12/2027")
    with qtbot.waitSignal(page.not_saved, timeout=TIMEOUT):
        page.save()
    assert "month first" in page.errors["rems_certified_until"].text()
    page.rems_until_edit.setText(typed)
    with qtbot.waitSignal(page.saved, timeout=TIMEOUT):
        page.save()
    with db.read() as session:
        assert load_catalog(session).settings.rems_site_certified_until == until.isoformat()
    assert page.rems_until_edit.text() == typed
    assert not page.is_dirty()


def test_a_short_clinic_phone_is_refused_at_its_field(qtbot: QtBot, db: Database) -> None:
    page = _page(qtbot, db)
    page.phone_edit.setText("555-01")
    with qtbot.waitSignal(page.not_saved, timeout=TIMEOUT):
        page.save()
    assert page.errors["phone"].text() == phone_problem("555-01")
    assert page.errors["phone"].isVisibleTo(page)
    qtbot.wait(100)
    page.grab().save(str(picture_folder("setup-shots") / "clinic-page-rems-phone.png"))
