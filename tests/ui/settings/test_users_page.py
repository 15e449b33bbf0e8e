"""The Users settings page, driven through its window on a real clinic database."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QComboBox, QLineEdit
from pytestqt.qtbot import QtBot
from sqlalchemy import select

from ketadesk.services.access import accounts
from ketadesk.services.common.context import Actor
from ketadesk.store.models import AuditEvent
from ketadesk.ui.common.desk import Desk
from ketadesk.ui.common.table_model import ROW_ROLE
from ketadesk.ui.settings.users_page import UserDialog, UsersPage
from tests.clinic_fixtures import SmallClinic
from tests.ui.conftest import NOW

# The dialogs grow for their messages (ui/common/sizing.ContentHeight): the offscreen platform
# warns that it cannot pass the new minimum size on to a window manager (there is none).
pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")

ADMIN_PASSWORD = "administrator!"
SCREENSHOT = Path(__file__).resolve().parents[3] / "docs" / "screenshots" / "settings-users.png"


@pytest.fixture
def admin(clinic: SmallClinic) -> Actor:
    return accounts.create_first_admin(clinic.db, "admin", "Clinic Admin", ADMIN_PASSWORD, now=NOW)


def _page(qtbot: QtBot, desk: Desk, rows: int) -> UsersPage:
    page = UsersPage(desk)
    qtbot.addWidget(page)
    page.resize(900, 420)
    page.show()
    qtbot.waitExposed(page)
    qtbot.waitUntil(lambda: page.model.rowCount() == rows, timeout=10_000)
    return page


def _open_add(qtbot: QtBot, page: UsersPage) -> UserDialog:
    page.add_button.click()
    qtbot.waitUntil(lambda: page.user_dialog is not None, timeout=5_000)
    dialog = page.user_dialog
    assert dialog is not None
    qtbot.waitExposed(dialog)
    return dialog


def _type(edit: QLineEdit, text: str) -> None:
    edit.clear()
    QTest.keyClicks(edit, text)


def _choose(combo: QComboBox, data: object) -> None:
    index = combo.findData(data)
    assert index >= 0, data
    combo.setCurrentIndex(index)


def _select(page: UsersPage, username: str) -> None:
    for row in range(page.model.rowCount()):
        if page.model.row_at(row).username == username:
            page.select_user(page.model.row_at(row).id)
            return
    raise AssertionError(username)


def _row(page: UsersPage, username: str) -> accounts.UserInfo:
    for row in range(page.model.rowCount()):
        info = page.model.index(row, 0).data(ROW_ROLE)
        if info.username == username:
            return info  # type: ignore[no-any-return]
    raise AssertionError(username)


def test_an_administrator_adds_a_nurse_and_a_front_desk_user(
    qtbot: QtBot, clinic: SmallClinic, admin: Actor, tmp_path: Path
) -> None:
    page = _page(qtbot, Desk(clinic.db, admin, now=lambda: NOW), rows=1)
    assert page.title == "Users"

    # A nurse linked to her staff member; first with the name left out: named, nothing saved.
    dialog = _open_add(qtbot, page)
    _type(dialog.username_edit, "kim")
    _choose(dialog.role_combo, "nurse")
    _choose(dialog.staff_combo, clinic.ids["Nurse Kim"])
    # The linked staff member's name fills the empty full name; cleared here to see the refusal.
    assert dialog.name_edit.text() == "Nurse Kim"
    dialog.name_edit.clear()
    _type(dialog.password_edit, "first-sign-in-1")
    dialog.save_button.click()
    qtbot.waitUntil(lambda: dialog.fields.errors["display_name"].isVisible(), timeout=10_000)
    assert "required" in dialog.fields.errors["display_name"].text()
    if os.environ.get("KETADESK_SCREENSHOTS"):
        dialog.grab().save(str(tmp_path.parent / "add.png"))
    assert [u.username for u in accounts.list_users(clinic.db)] == ["admin"]
    _type(dialog.name_edit, "Kim Nguyen")
    dialog.save_button.click()
    qtbot.waitUntil(lambda: page.model.rowCount() == 2, timeout=10_000)

    # A front-desk user with no staff member.
    dialog = _open_add(qtbot, page)
    _type(dialog.username_edit, "Maria")
    _type(dialog.name_edit, "Maria Lopez")
    _choose(dialog.role_combo, "front_desk")
    _type(dialog.password_edit, "front-desk-first")
    dialog.save_button.click()
    qtbot.waitUntil(lambda: page.model.rowCount() == 3, timeout=10_000)

    kim, maria = _row(page, "kim"), _row(page, "maria")
    assert (kim.role, kim.staff_name, kim.must_change_password) == ("nurse", "Nurse Kim", True)
    assert (maria.role, maria.staff_id, maria.active) == ("front_desk", None, True)
    texts = [page.model.index(0, c).data() for c in range(page.model.columnCount())]
    assert texts[0] == "admin"

    # Kim's staff member is taken now: the combo says so, and the service refuses it.
    dialog = _open_add(qtbot, page)
    assert "linked to another user" in dialog.staff_combo.itemText(
        dialog.staff_combo.findData(clinic.ids["Nurse Kim"])
    )
    dialog.reject()

    # Reset Maria's password: a generated one-time password, shown once, signs her in.
    _select(page, "maria")
    page.reset_button.click()
    qtbot.waitUntil(lambda: page.reset_dialog is not None, timeout=5_000)
    reset = page.reset_dialog
    assert reset is not None
    with qtbot.waitSignal(reset.reset, timeout=10_000) as blocker:
        reset.reset_button.click()
    (one_time,) = blocker.args
    if os.environ.get("KETADESK_SCREENSHOTS"):
        reset.grab().save(str(tmp_path.parent / "reset.png"))
    assert one_time in reset.result_label.text()
    reset.reset_button.click()  # Done
    assert accounts.sign_in(clinic.db, "maria", one_time, now=NOW).username == "maria"
    qtbot.waitUntil(lambda: _row(page, "maria").must_change_password, timeout=10_000)

    # Deactivate Maria: gone from the list until "Show inactive"; then reactivate.
    _select(page, "maria")
    page.active_button.click()
    qtbot.waitUntil(lambda: page.model.rowCount() == 2, timeout=10_000)
    page.show_inactive_check.setChecked(True)
    qtbot.waitUntil(lambda: page.model.rowCount() == 3, timeout=10_000)
    _select(page, "maria")
    assert page.active_button.text() == "&Reactivate"
    page.active_button.click()
    qtbot.waitUntil(lambda: _row(page, "maria").active, timeout=10_000)

    _select(page, "kim")
    page.table.setFocus()
    qtbot.wait(50)
    picture = tmp_path / "users.png"
    assert page.grab().save(str(picture))
    if os.environ.get("KETADESK_SCREENSHOTS"):
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        page.grab().save(str(SCREENSHOT))

    # The administrator cannot deactivate themselves: said in words, nothing saved.
    _select(page, "admin")
    page.active_button.click()
    qtbot.waitUntil(lambda: page.error_label.isVisible(), timeout=10_000)
    assert "own account" in page.error_label.text()

    with clinic.db.read() as s:
        created = s.scalars(
            select(AuditEvent.entity_id).where(
                AuditEvent.action == "create_user", AuditEvent.username == "admin"
            )
        ).all()
    assert {kim.id, maria.id} <= set(created)


def test_editing_a_user_changes_role_and_link_and_names_bad_fields(
    qtbot: QtBot, clinic: SmallClinic, admin: Actor
) -> None:
    info = accounts.create_user(
        clinic.db, admin, "sam", "Sam Rivera", "therapist", "therapist-pw-1", now=NOW
    )
    page = _page(qtbot, Desk(clinic.db, admin, now=lambda: NOW), rows=2)
    _select(page, "sam")
    page.edit_button.click()
    qtbot.waitUntil(lambda: page.user_dialog is not None, timeout=5_000)
    dialog = page.user_dialog
    assert dialog is not None
    _type(dialog.name_edit, "   ")
    dialog.save_button.click()
    qtbot.waitUntil(lambda: dialog.fields.errors["display_name"].isVisible(), timeout=10_000)
    _type(dialog.name_edit, "Sam Rivera, LMFT")
    _choose(dialog.staff_combo, clinic.ids["Sam Rivera"])
    dialog.save_button.click()
    qtbot.waitUntil(lambda: _row(page, "sam").staff_name == "Sam Rivera", timeout=10_000)
    assert _row(page, "sam").display_name == "Sam Rivera, LMFT"
    assert _row(page, "sam").id == info.id


def test_a_nurse_is_refused_and_the_refusal_is_audited(
    qtbot: QtBot, clinic: SmallClinic, admin: Actor
) -> None:
    kim = accounts.create_user(clinic.db, admin, "kim", "Kim", "nurse", "nurse-pass-12", now=NOW)
    nurse = Actor(user_id=kim.id, username="kim", role="nurse")
    page = _page(qtbot, Desk(clinic.db, nurse, now=lambda: NOW), rows=2)
    dialog = _open_add(qtbot, page)
    _type(dialog.username_edit, "sneaky")
    _type(dialog.name_edit, "Sneaky")
    _type(dialog.password_edit, "sneaky-password")
    dialog.save_button.click()
    qtbot.waitUntil(lambda: dialog.fields.general.isVisible(), timeout=10_000)
    assert "Only an administrator may manage user accounts" in dialog.fields.general.text()
    assert "sneaky" not in [u.username for u in accounts.list_users(clinic.db)]
    with clinic.db.read() as s:
        refused = s.scalars(select(AuditEvent.username).where(AuditEvent.action == "refused")).all()
    assert "kim" in refused


def test_linking_a_staff_member_fills_the_name_and_generate_gives_a_one_time_password(
    qtbot: QtBot, clinic: SmallClinic, admin: Actor
) -> None:
    page = _page(qtbot, Desk(clinic.db, admin, now=lambda: NOW), rows=1)
    dialog = _open_add(qtbot, page)
    _type(dialog.username_edit, "kim")
    _choose(dialog.staff_combo, clinic.ids["Nurse Kim"])
    assert dialog.name_edit.text() == "Nurse Kim"
    # Another choice replaces a name it filled in, never one typed by hand.
    _choose(dialog.staff_combo, None)
    _choose(dialog.staff_combo, clinic.ids["Nurse Kim"])
    _type(dialog.name_edit, "Kim Nguyen")
    _choose(dialog.staff_combo, None)
    assert dialog.name_edit.text() == "Kim Nguyen"
    _choose(dialog.staff_combo, clinic.ids["Nurse Kim"])
    assert dialog.name_edit.text() == "Kim Nguyen"

    dialog.must_change_check.setChecked(False)
    dialog.generate_button.click()
    qtbot.waitUntil(lambda: bool(dialog.password_edit.text()), timeout=10_000)
    generated = dialog.password_edit.text()
    settings = accounts.account_settings(clinic.db)
    assert accounts.password_problem(generated, settings, username="kim") == ""
    # Shown in clear, once, and marked one-time.
    assert dialog.password_edit.echoMode() == QLineEdit.EchoMode.Normal
    assert "not shown again" in dialog.generated_note.text()
    assert dialog.must_change_check.isChecked()
    dialog.save_button.click()
    qtbot.waitUntil(lambda: page.model.rowCount() == 2, timeout=10_000)
    kim = _row(page, "kim")
    assert (kim.display_name, kim.must_change_password) == ("Kim Nguyen", True)
    assert accounts.sign_in(clinic.db, "kim", generated, now=NOW).username == "kim"
