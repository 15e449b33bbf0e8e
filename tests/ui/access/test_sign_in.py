"""The sign-in dialog and the first administrator's dialog, on a real clinic database."""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QDialog, QLabel, QWidget
from pytestqt.qtbot import QtBot

from ketadesk.services.access import accounts, audit_log
from ketadesk.services.common.context import Actor, Database
from ketadesk.ui.access.sign_in import FirstAdminDialog, SignInDialog
from tests.clinic_fixtures import new_clinic
from tests.pictures import picture_folder
from tests.ui.conftest import NOW

PASSWORD = "front desk rules"
# The window grows for a message: the offscreen platform of the tests warns that it cannot pass
# the new minimum size on to a window manager (there is none).
pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    db = new_clinic(f"sqlite:///{tmp_path / 'clinic.sqlite'}")
    yield db
    db.dispose()


@pytest.fixture
def maria(db: Database) -> Actor:
    admin = accounts.create_first_admin(db, "admin", "Admin", "administrator!", now=NOW)
    info = accounts.create_user(db, admin, "maria", "Maria Lopez", "front_desk", PASSWORD, now=NOW)
    return Actor(info.id, info.username, info.role)


def _dialog(qtbot: QtBot, db: Database, clock: list[dt.datetime]) -> SignInDialog:
    dialog = SignInDialog(db, now=lambda: clock[0])
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    return dialog


def _type(qtbot: QtBot, dialog: SignInDialog, username: str, password: str) -> None:
    dialog.username_edit.clear()
    QTest.keyClicks(dialog.username_edit, username)
    dialog.password_edit.clear()
    QTest.keyClicks(dialog.password_edit, password)


def test_the_right_password_signs_in_with_enter(qtbot: QtBot, db: Database, maria: Actor) -> None:
    dialog = _dialog(qtbot, db, [NOW])
    _type(qtbot, dialog, "Maria", PASSWORD)
    with qtbot.waitSignal(dialog.signed_in, timeout=10_000) as blocker:
        QTest.keyClick(dialog.password_edit, Qt.Key.Key_Return)
    assert blocker.args == [maria]
    assert dialog.actor() == maria
    assert dialog.result() == QDialog.DialogCode.Accepted
    assert dialog.password_edit.text() == ""


def test_a_wrong_password_says_so_and_too_many_make_the_user_wait(
    qtbot: QtBot, db: Database, maria: Actor
) -> None:
    clock = [NOW]
    dialog = _dialog(qtbot, db, clock)
    for n in range(4):
        _type(qtbot, dialog, "maria", "not it at all")
        dialog.submit()
        assert not dialog.sign_in_button.isEnabled()  # busy while the hash is checked
        qtbot.waitUntil(lambda: dialog.error_label.isVisible(), timeout=10_000)
        qtbot.waitUntil(lambda: dialog.username_edit.isEnabled(), timeout=10_000)
        if n < 3:
            assert dialog.error_label.text() == "Wrong username or password."
            assert dialog.sign_in_button.isEnabled()
        dialog.error_label.hide()
    assert dialog.error_label.text() == "Wrong username or password; try again in 2 s."
    assert not dialog.sign_in_button.isEnabled()
    assert dialog.sign_in_button.text() == "Wait 2 s"
    assert dialog.actor() is None
    # The button comes back once the wait is over.
    qtbot.waitUntil(lambda: dialog.sign_in_button.isEnabled(), timeout=5_000)
    assert dialog.sign_in_button.text() == "&Sign in"
    clock[0] = NOW + dt.timedelta(seconds=3)
    _type(qtbot, dialog, "maria", PASSWORD)
    with qtbot.waitSignal(dialog.signed_in, timeout=10_000):
        dialog.submit()
    assert dialog.actor() == maria


def test_an_empty_field_is_named_without_asking_the_database(
    qtbot: QtBot, db: Database, maria: Actor
) -> None:
    dialog = _dialog(qtbot, db, [NOW])
    dialog.submit()
    assert dialog.error_label.text() == "Enter your username."
    QTest.keyClicks(dialog.username_edit, "maria")
    QTest.mouseClick(dialog.sign_in_button, Qt.MouseButton.LeftButton)
    assert dialog.error_label.text() == "Enter your password."
    assert dialog.sign_in_button.isEnabled()


def test_first_administrator_marks_the_wrong_fields_then_creates_the_account(
    qtbot: QtBot, db: Database
) -> None:
    dialog = FirstAdminDialog(db, now=lambda: NOW)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    QTest.keyClicks(dialog.edits["username"], "bad name")
    QTest.keyClicks(dialog.edits["display_name"], "Clinic Admin")
    QTest.keyClicks(dialog.edits["password"], "short")
    QTest.keyClicks(dialog.edits["password_again"], "short")
    dialog.submit()
    qtbot.waitUntil(lambda: dialog.field_errors["password"].isVisible(), timeout=10_000)
    assert dialog.field_errors["username"].text().startswith("May hold only letters")
    assert dialog.field_errors["password"].text() == "Must be at least 10 characters long."
    assert not dialog.field_errors["display_name"].isVisible()
    assert dialog.edits["password"].property("invalid") is True
    assert dialog.edits["display_name"].property("invalid") is False
    assert accounts.needs_first_admin(db)
    # Passwords that differ are caught at once.
    dialog.edits["password_again"].setText("something else")
    dialog.submit()
    assert dialog.field_errors["password_again"].text() == "Does not match the password."
    for name, text in (("username", "admin"), ("password", "a long password")):
        dialog.edits[name].setText(text)
    dialog.edits["password_again"].setText("a long password")
    with qtbot.waitSignal(dialog.created, timeout=10_000) as blocker:
        dialog.submit()
    actor = blocker.args[0]
    assert isinstance(actor, Actor)
    assert actor.role == "admin"
    assert dialog.actor() == actor
    assert not accounts.needs_first_admin(db)
    assert not any(label.isVisible() for label in dialog.field_errors.values())


def test_the_dialog_shows_before_the_clinic_is_open_and_checks_once_it_is(
    qtbot: QtBot, db: Database, maria: Actor
) -> None:
    dialog = SignInDialog.show_early(None, label="/srv/clinic.sqlite", username="maria")
    assert dialog is not None
    qtbot.addWidget(dialog)
    qtbot.waitExposed(dialog)
    assert "/srv/clinic.sqlite" in dialog.heading.text()
    dialog.password_edit.setText(PASSWORD)
    dialog.submit()  # pressed while the clinic is still opening: waits for it
    assert not dialog.sign_in_button.isEnabled()
    qtbot.wait(50)
    assert dialog.actor() is None
    with qtbot.waitSignal(dialog.signed_in, timeout=10_000) as blocker:
        dialog.set_database(db, hint="Demo clinic: sign in as admin / demo-admin.")
    assert blocker.args == [maria]
    assert dialog.hint_label.text().startswith("Demo clinic")


def test_the_sign_in_module_loads_no_sqlalchemy_and_no_argon2() -> None:
    # The dialog paints before the clinic is open: the accounts service (SQLAlchemy, the ORM
    # models, argon2) is loaded on the worker that checks the password, not on the way there.
    import json
    import subprocess
    import sys

    code = (
        "import json, sys; import ketadesk.ui.access.sign_in; "
        "print(json.dumps(sorted(sys.modules)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[3],
    )
    modules = json.loads(done.stdout)
    heavy = ("sqlalchemy", "argon2", "ketadesk.store.models", "ketadesk.services.access")
    assert [m for m in modules if m.startswith(heavy)] == []


def test_a_reset_password_signs_in_only_after_a_new_one_is_chosen(
    qtbot: QtBot, db: Database, maria: Actor
) -> None:
    admin = accounts.sign_in(db, "admin", "administrator!", now=NOW)
    assert maria.user_id is not None
    one_time = accounts.reset_password(db, admin, maria.user_id, now=NOW)
    dialog = _dialog(qtbot, db, [NOW])
    _type(qtbot, dialog, "maria", one_time)
    QTest.keyClick(dialog.password_edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: dialog.new_password_dialog is not None, timeout=10_000)
    choose = dialog.new_password_dialog
    assert choose is not None
    qtbot.waitExposed(choose)
    assert dialog.actor() is None
    assert dialog.isVisible()
    # Too short, then not the same twice: each named at its field, nothing saved.
    QTest.keyClicks(choose.edits["password"], "short")
    QTest.keyClicks(choose.edits["password_again"], "short")
    choose.save_button.click()
    qtbot.waitUntil(lambda: choose.field_errors["password"].isVisible(), timeout=10_000)
    assert "characters" in choose.field_errors["password"].text()
    for edit in choose.edits.values():
        edit.clear()
    QTest.keyClicks(choose.edits["password"], "maria's own password")
    QTest.keyClicks(choose.edits["password_again"], "maria's own passwort")
    choose.save_button.click()
    qtbot.waitUntil(lambda: choose.field_errors["password_again"].isVisible(), timeout=10_000)
    assert accounts.password_change_required(db, maria.user_id)
    choose.edits["password_again"].clear()
    QTest.keyClicks(choose.edits["password_again"], "maria's own password")
    with qtbot.waitSignal(dialog.signed_in, timeout=10_000) as blocker:
        choose.save_button.click()
    assert blocker.args == [maria]
    assert dialog.result() == QDialog.DialogCode.Accepted
    assert not accounts.password_change_required(db, maria.user_id)
    assert accounts.sign_in(db, "maria", "maria's own password", now=NOW) == maria


def test_cancelling_the_new_password_leaves_the_desk_closed(
    qtbot: QtBot, db: Database, maria: Actor
) -> None:
    admin = accounts.sign_in(db, "admin", "administrator!", now=NOW)
    assert maria.user_id is not None
    accounts.require_new_password(db, admin, maria.user_id, now=NOW)
    dialog = _dialog(qtbot, db, [NOW])
    _type(qtbot, dialog, "maria", PASSWORD)
    QTest.keyClick(dialog.password_edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: dialog.new_password_dialog is not None, timeout=10_000)
    choose = dialog.new_password_dialog
    assert choose is not None
    choose.reject()
    qtbot.waitUntil(lambda: dialog.error_label.isVisible(), timeout=5_000)
    assert "new password" in dialog.error_label.text()
    assert dialog.actor() is None
    assert dialog.isVisible()
    assert accounts.password_change_required(db, maria.user_id)


def _shown_early(qtbot: QtBot, check: object) -> SignInDialog:
    dialog = SignInDialog.show_early(
        None,
        label="/srv/clinic.sqlite",
        username="maria",
        early_check=check,  # type: ignore[arg-type]
    )
    assert dialog is not None
    qtbot.waitExposed(dialog)
    return dialog


def test_an_early_yes_hides_the_dialog_and_the_full_sign_in_confirms_it(
    qtbot: QtBot, db: Database, maria: Actor, tmp_path: Path
) -> None:
    from sqlalchemy import text

    from ketadesk.services.access.file_sign_in import FileSignIn

    dialog = _shown_early(qtbot, FileSignIn(tmp_path / "clinic.sqlite").check)
    needed: list[bool] = []
    dialog.needs_clinic.connect(lambda: needed.append(True))
    dialog.password_edit.setText(PASSWORD)
    with qtbot.waitSignal(dialog.checked_early, timeout=10_000) as blocker:
        dialog.submit()  # before the clinic is open: checked on the file at once
    assert blocker.args == [maria]
    assert not dialog.isVisible()
    assert dialog.early_actor() == maria
    assert dialog.actor() is None  # signed in only once the full sign-in agrees
    assert needed == []  # the clinic may open when it was going to
    # The clinic is open: the full sign-in runs (the dialog stays hidden) and decides.
    assert dialog.ask_when_open(db) == maria
    assert not dialog.isVisible()
    with db.read() as session:
        actions = session.scalars(
            text("SELECT action FROM audit_event WHERE user_id = :id"), {"id": maria.user_id}
        ).all()
    assert "sign_in" in actions


def test_an_early_no_waits_for_the_clinic_and_asks_for_it_at_once(
    qtbot: QtBot, db: Database, maria: Actor, tmp_path: Path
) -> None:
    from ketadesk.services.access.file_sign_in import FileSignIn

    dialog = _shown_early(qtbot, FileSignIn(tmp_path / "clinic.sqlite").check)
    qtbot.addWidget(dialog)
    early: list[object] = []
    dialog.checked_early.connect(early.append)
    dialog.password_edit.setText("not her password")
    with qtbot.waitSignal(dialog.needs_clinic, timeout=10_000):
        dialog.submit()
    assert early == []
    assert dialog.isVisible()
    assert not dialog.sign_in_button.isEnabled()  # still waiting for the full sign-in
    dialog.set_database(db)
    qtbot.waitUntil(lambda: dialog.sign_in_button.isEnabled(), timeout=10_000)
    assert dialog.error_label.text() == "Wrong username or password."
    assert dialog.actor() is None


def test_an_early_yes_the_full_sign_in_refuses_shows_the_dialog_again(
    qtbot: QtBot, db: Database, maria: Actor
) -> None:
    from PySide6.QtCore import QTimer

    # The early check's answer went stale (the password changed as the clinic opened, say).
    dialog = _shown_early(qtbot, lambda _name, _password: maria)
    withdrawn: list[tuple[bool, str]] = []

    def look_then_cancel() -> None:
        withdrawn.append((dialog.isVisible(), dialog.error_label.text()))
        dialog.reject()

    dialog.early_withdrawn.connect(lambda: QTimer.singleShot(0, look_then_cancel))
    dialog.password_edit.setText("an old password")
    with qtbot.waitSignal(dialog.checked_early, timeout=10_000):
        dialog.submit()
    assert not dialog.isVisible()
    assert dialog.ask_when_open(db) is None  # shown again, then cancelled
    assert withdrawn == [(True, "Wrong username or password.")]
    assert dialog.early_actor() is None


# -- how the dialog looks and takes typing (a user trial: the demo sign-ins cut off, the fields
# squeezed to a few pixels after a wrong password, the last user's name added to) -----------

DEMO_HINT = (
    "Demo clinic: sign in as admin / demo-admin, frontdesk / demo-frontdesk, nurse / demo-nurse, "
    "prescriber / demo-prescriber, therapist / demo-therapist."
)


def _shown_whole(widget: QWidget) -> bool:
    """Whether a widget has at least the height its content needs at its width."""
    if isinstance(widget, QLabel) and widget.wordWrap():
        return widget.height() >= widget.heightForWidth(widget.width())
    return widget.height() >= widget.minimumSizeHint().height()


def _laid_out_whole(qtbot: QtBot, dialog: SignInDialog) -> None:
    parts = [
        dialog.heading,
        dialog.username_edit,
        dialog.password_edit,
        dialog.error_label,
        dialog.hint_label,
        dialog.buttons,
    ]
    shown = [w for w in parts if w.isVisible()]
    # The window grows on the events new content sends; on a loaded machine the label can be
    # laid out before the window's own resize has landed.  Wait for the settled layout, then
    # say which part is short if it never comes.
    with contextlib.suppress(qtbot.TimeoutError):
        qtbot.waitUntil(lambda: all(_shown_whole(w) for w in shown), timeout=5_000)
    for widget in shown:
        assert _shown_whole(widget), (widget.accessibleName(), widget.height())
    # One under the other, none over the next, all inside the window.
    for upper, lower in itertools.pairwise(shown):
        assert upper.geometry().bottom() < lower.geometry().top(), lower.accessibleName()
    assert shown[-1].geometry().bottom() < dialog.height()


def test_the_demo_sign_ins_read_once_the_clinic_is_open_show_whole(
    qtbot: QtBot, db: Database, maria: Actor
) -> None:
    dialog = SignInDialog.show_early(None, label="/srv/clinic.sqlite", username="maria")
    assert dialog is not None
    qtbot.addWidget(dialog)
    qtbot.waitExposed(dialog)
    _laid_out_whole(qtbot, dialog)
    dialog.set_database(db, hint=DEMO_HINT)  # the hint arrives with the open clinic
    qtbot.waitUntil(lambda: _shown_whole(dialog.hint_label))
    _laid_out_whole(qtbot, dialog)
    dialog.grab().save(str(picture_folder() / "sign-in-with-demo-hint.png"))


def test_a_wrong_password_adds_its_message_without_squeezing_the_fields(
    qtbot: QtBot, db: Database, maria: Actor
) -> None:
    dialog = SignInDialog.show_early(None, label="/srv/clinic.sqlite", username="maria")
    assert dialog is not None
    qtbot.addWidget(dialog)
    qtbot.waitExposed(dialog)
    dialog.set_database(db, hint=DEMO_HINT)
    dialog.password_edit.setText("not it at all")
    dialog.submit()
    qtbot.waitUntil(lambda: dialog.error_label.isVisible(), timeout=10_000)
    qtbot.waitUntil(lambda: _shown_whole(dialog.error_label))
    assert dialog.error_label.text() == "Wrong username or password."
    _laid_out_whole(qtbot, dialog)
    dialog.grab().save(str(picture_folder() / "sign-in-after-a-wrong-password.png"))
    # Nor can the window be made too small for them: its minimum follows the content.
    dialog.resize(dialog.width() - 60, 40)
    qtbot.waitUntil(lambda: _shown_whole(dialog.hint_label))
    _laid_out_whole(qtbot, dialog)


def test_the_last_users_name_is_replaced_by_typing_not_added_to(
    qtbot: QtBot, db: Database, maria: Actor
) -> None:
    dialog = SignInDialog(db, username="maria", now=lambda: NOW)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitActive(dialog)
    # The cursor is in the name, selected whole: someone else types theirs over it...
    assert dialog.focusWidget() is dialog.username_edit
    assert dialog.username_edit.selectedText() == "maria"
    QTest.keyClicks(dialog.username_edit, "kim")
    assert dialog.username_edit.text() == "kim"
    # ...and a name being typed is the user's own: a click then only places the cursor.
    QTest.mouseClick(dialog.password_edit, Qt.MouseButton.LeftButton)
    QTest.mouseClick(dialog.username_edit, Qt.MouseButton.LeftButton)
    qtbot.wait(10)
    assert dialog.username_edit.selectedText() == ""


def test_at_a_shared_desk_the_next_user_types_their_name_not_the_last_users_password(
    qtbot: QtBot, db: Database, maria: Actor
) -> None:
    """Trial 3, A9: the last user's name filled in, the cursor in Password: the next person
    typed their name as Maria's password, a failed sign-in on Maria's account."""
    admin = accounts.sign_in(db, "admin", "administrator!", now=NOW)
    kim = accounts.create_user(db, admin, "kim", "Kim Chan", "nurse", "night shift 42", now=NOW)
    dialog = SignInDialog(db, username="maria", now=lambda: NOW)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitActive(dialog)
    QTest.keyClicks(dialog.focusWidget(), "kim")  # as they would: straight away
    QTest.keyClick(dialog.focusWidget(), Qt.Key.Key_Tab)
    QTest.keyClicks(dialog.focusWidget(), "night shift 42")
    dialog.grab().save(str(picture_folder("trial3") / "sign_in_next_user.png"))
    with qtbot.waitSignal(dialog.signed_in, timeout=5000):
        QTest.keyClick(dialog.focusWidget(), Qt.Key.Key_Return)
    actor = dialog.actor()
    assert actor is not None
    assert actor.user_id == kim.id
    # Nothing was tried against Maria's account.
    assert accounts.sign_in(db, "maria", PASSWORD, now=NOW).user_id == maria.user_id
    assert audit_log.audit_events(db, admin, action="sign_in_failed") == []


def test_the_last_user_goes_on_with_enter_then_their_password(
    qtbot: QtBot, db: Database, maria: Actor
) -> None:
    dialog = SignInDialog(db, username="maria", now=lambda: NOW)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitActive(dialog)
    QTest.keyClick(dialog.focusWidget(), Qt.Key.Key_Return)  # the name is theirs
    assert dialog.focusWidget() is dialog.password_edit
    assert dialog.error_label.text() == ""  # not told off for a password not yet typed
    QTest.keyClicks(dialog.password_edit, PASSWORD)
    with qtbot.waitSignal(dialog.signed_in, timeout=5000):
        QTest.keyClick(dialog.password_edit, Qt.Key.Key_Return)
    actor = dialog.actor()
    assert actor is not None
    assert actor.user_id == maria.user_id
