"""The idle lock: after some minutes without keyboard or mouse input, cover the window.

``IdleLock`` watches every input event of the application (an application-wide event filter).
When the clinic's ``[accounts] idle_lock_minutes`` pass without one, or when the user locks on
purpose (a shared front-desk workstation), an opaque curtain covers every window of the
application, so no patient data stays on screen, and keyboard shortcuts stop reaching the
window behind it.  The curtain asks for the signed-in user's password again, or lets another
user sign in ("Switch user…").  Open dialogs are covered too, not closed: nothing the user was
typing is lost.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import shiboken6
from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QApplication,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ketadesk import APP_NAME
from ketadesk.scheduling.words import role_name
from ketadesk.services.access import accounts
from ketadesk.services.access.accounts import SignInRefused
from ketadesk.services.common.context import Actor, ServiceError
from ketadesk.ui.access.sign_in import SignInDialog, error_label, show_error
from ketadesk.ui.common.background import BackgroundCall
from ketadesk.ui.common.desk import Desk

if TYPE_CHECKING:
    from typing_extensions import override
else:  # typing.override is Python 3.12+; the decorator only informs the type checker.
    _F = TypeVar("_F")

    def override(method: _F) -> _F:
        return method


#: Input that counts as "someone is here".
ACTIVITY_EVENTS = frozenset(
    {
        QEvent.Type.KeyPress,
        QEvent.Type.MouseButtonPress,
        QEvent.Type.MouseButtonDblClick,
        QEvent.Type.MouseMove,
        QEvent.Type.Wheel,
        QEvent.Type.TouchBegin,
        QEvent.Type.TabletPress,
    }
)
#: Input refused to everything but the unlock panel while locked.
BLOCKED_EVENTS = frozenset(
    {
        QEvent.Type.KeyPress,
        QEvent.Type.KeyRelease,
        QEvent.Type.Shortcut,
        QEvent.Type.ShortcutOverride,
        QEvent.Type.MouseButtonPress,
        QEvent.Type.MouseButtonRelease,
        QEvent.Type.MouseButtonDblClick,
        QEvent.Type.Wheel,
        QEvent.Type.ContextMenu,
    }
)


def display_name(actor: Actor) -> str:
    return f"{actor.username} ({role_name(actor.role)})" if actor.role else actor.username


class Curtain(QWidget):
    """An opaque cover over one top-level window; it follows the window's size."""

    def __init__(self, window: QWidget) -> None:
        super().__init__(window)
        self.setObjectName("idleLockCurtain")
        self.setAutoFillBackground(True)
        self.setBackgroundRole(QPalette.ColorRole.Window)
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setGeometry(window.rect())
        window.installEventFilter(self)

    @override
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.parent() and event.type() == QEvent.Type.Resize:
            parent = self.parentWidget()
            if parent is not None:
                self.setGeometry(parent.rect())
        return False

    def remove(self) -> None:
        parent = self.parentWidget()
        if parent is not None:
            parent.removeEventFilter(self)
        self.hide()
        self.deleteLater()


class UnlockPanel(QWidget):
    """The form on the main curtain: whose session is locked, their password, and buttons.

    Signals:
        unlock_requested(str): the password typed.
        switch_requested(): "Switch user…" pressed.
    """

    unlock_requested = Signal(str)
    switch_requested = Signal()

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("idleLockPanel")
        self.setFixedWidth(380)
        self.title = QLabel(f"<h2>{APP_NAME} is locked</h2>", self)
        self.title.setTextFormat(Qt.TextFormat.RichText)
        self.who = QLabel(self)
        self.who.setWordWrap(True)
        self.password_edit = QLineEdit(self)
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.password_edit.setAccessibleName("Password to unlock")
        self.password_edit.setPlaceholderText("Password")
        self.error_label = error_label(self)
        self.error_label.setAccessibleName("Unlock problem")
        self.unlock_button = QPushButton("&Unlock", self)
        self.unlock_button.setAccessibleName("Unlock")
        self.unlock_button.setDefault(True)
        self.switch_button = QPushButton("S&witch user…", self)
        self.switch_button.setAccessibleName("Switch user")
        buttons = QHBoxLayout()
        buttons.addWidget(self.switch_button)
        buttons.addStretch(1)
        buttons.addWidget(self.unlock_button)
        box = QVBoxLayout(self)
        box.addWidget(self.title)
        box.addWidget(self.who)
        box.addWidget(self.password_edit)
        box.addWidget(self.error_label)
        box.addLayout(buttons)
        self.password_edit.returnPressed.connect(self._on_password_edit_return_pressed)
        self.unlock_button.clicked.connect(self._on_unlock_button_clicked)
        self.switch_button.clicked.connect(self.switch_requested)

    def show_for(self, actor: Actor) -> None:
        can_unlock = actor.user_id is not None
        if can_unlock:
            self.who.setText(
                f"Signed in as <b>{display_name(actor)}</b>. Enter your password to go on, "
                "or let someone else sign in."
            )
        else:
            self.who.setText("Sign in to go on.")
        self.password_edit.setVisible(can_unlock)
        self.unlock_button.setVisible(can_unlock)
        self.password_edit.clear()
        show_error(self.error_label, "")
        (self.password_edit if can_unlock else self.switch_button).setFocus()

    def set_busy(self, busy: bool) -> None:
        self.password_edit.setEnabled(not busy)
        self.unlock_button.setEnabled(not busy)
        self.switch_button.setEnabled(not busy)

    def _on_password_edit_return_pressed(self) -> None:
        self.unlock_requested.emit(self.password_edit.text())

    def _on_unlock_button_clicked(self) -> None:
        self.unlock_requested.emit(self.password_edit.text())


class IdleLock(QObject):
    """Locks the application after ``minutes`` without input; unlocks with the password.

    ``desk_getter`` returns the current Desk (who is signed in, the database, the clock); it
    is asked each time, so a user switch made elsewhere is seen.  ``clock`` (seconds, like
    ``time.monotonic``) and ``check_interval_ms`` let tests move time instead of waiting.

    Signals:
        locked(): the curtain went up.
        unlocked(object): the Actor who unlocked (the same user, password checked again).
        user_switched(object): another user (an Actor) signed in from the lock screen.

    Attributes:
        curtain: the main window's curtain while locked, else None.
        panel: the unlock form while locked, else None.
    """

    locked = Signal()
    unlocked = Signal(object)
    user_switched = Signal(object)

    def __init__(
        self,
        desk_getter: Callable[[], Desk],
        minutes: float,
        parent: QWidget,
        *,
        clock: Callable[[], float] = time.monotonic,
        check_interval_ms: int = 5_000,
    ) -> None:
        super().__init__(parent)
        self._desk_getter = desk_getter
        self._window = parent
        self._clock = clock
        self._idle_seconds = minutes * 60
        self._last_input = clock()
        self._curtains: list[Curtain] = []
        self._call: BackgroundCall[Actor] | None = None
        self._switching = False
        self.curtain: Curtain | None = None
        self.panel: UnlockPanel | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(check_interval_ms)
        self._timer.timeout.connect(self._on_timer_timeout)
        app = QApplication.instance()
        assert app is not None, "IdleLock needs the QApplication"
        app.installEventFilter(self)
        self._timer.start()

    # -- public ------------------------------------------------------------------------------

    @property
    def minutes(self) -> float:
        return self._idle_seconds / 60

    def set_minutes(self, minutes: float) -> None:
        """Follow a changed setting; counts from the last input as before."""
        self._idle_seconds = minutes * 60

    def is_locked(self) -> bool:
        return self.curtain is not None

    def idle_seconds(self) -> float:
        return self._clock() - self._last_input

    def check_idle(self) -> bool:
        """Lock if the idle time has passed (the timer calls this); True when locked now."""
        if not self.is_locked() and self.idle_seconds() >= self._idle_seconds:
            self.lock()
            return True
        return False

    def lock(self) -> None:
        """Cover every window now (also the "Lock" / "Switch user" action of the window)."""
        if self.is_locked():
            return
        # The unlock form goes where the user can type: a modal dialog blocks the others.
        modal = QApplication.activeModalWidget()
        host = modal if modal is not None and modal.isVisible() else self._window
        for _ in range(8):  # an open menu or completer would float above the curtain
            popup = QApplication.activePopupWidget()
            if popup is None:
                break
            popup.close()
        windows = [self._window] + [
            w
            for w in QApplication.topLevelWidgets()
            if w.isVisible() and w is not self._window and _is_coverable(w)
        ]
        for window in windows:
            curtain = self._cover(window)
            if window is host:
                self.curtain = curtain
        assert self.curtain is not None
        panel = UnlockPanel(self.curtain)
        panel.unlock_requested.connect(self._on_panel_unlock_requested)
        panel.switch_requested.connect(self._on_panel_switch_requested)
        self.panel = panel
        _seat(panel, self.curtain)
        panel.show_for(self._desk_getter().actor)
        self.locked.emit()

    def switch_user(self) -> None:
        """The window's "Switch user…": one action that goes straight to the sign-in dialog,
        with the window covered behind it; cancelled, the lock stays up (the user who was
        signed in unlocks with their password, or someone else tries again)."""
        self.lock()
        self._on_panel_switch_requested()

    def unlock_with(self, password: str) -> None:
        """Check the password of the signed-in user (as the Unlock button does)."""
        if self.panel is None or self._call is not None:
            return
        desk = self._desk_getter()
        panel = self.panel
        if desk.actor.user_id is None:
            return
        if not password:
            show_error(panel.error_label, "Enter your password.")
            return
        user_id = desk.actor.user_id
        db = desk.db
        now = desk.now()
        panel.set_busy(True)
        call: BackgroundCall[Actor] = BackgroundCall(
            lambda: accounts.verify_password(db, user_id, password, now=now), self
        )
        call.succeeded.connect(self._on_call_succeeded)
        call.failed.connect(self._on_call_failed)
        self._call = call
        call.start()

    def dispose(self) -> None:
        """Stop watching (the window is closing)."""
        self._timer.stop()
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self)
        if self._call is not None:
            self._call.wait()
        self._take_down()

    # -- the event filter --------------------------------------------------------------------

    @override
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if "curtain" not in self.__dict__:
            # The garbage collector is taking this lock apart (its window is going, and the
            # window's widgets still send events through the application on their way out).
            return False
        kind = event.type()
        if kind in ACTIVITY_EVENTS and not self.is_locked():
            self._last_input = self._clock()
            return False
        if self.is_locked() and kind in BLOCKED_EVENTS:
            return not self._may_receive(watched, kind)
        if self.is_locked() and isinstance(watched, QWidget):
            if kind == QEvent.Type.Show:
                self._cover_late_window(watched)
            elif kind == QEvent.Type.Hide and self._hosts_panel(watched):
                self._reseat_panel()
        return False

    def _hosts_panel(self, widget: QWidget) -> bool:
        curtain = self.curtain
        return curtain is not None and widget.isWindow() and curtain.parentWidget() is widget

    def _reseat_panel(self) -> None:
        """The window holding the unlock form closed while locked: the form goes back to the
        topmost other covered window, so the lock can always be opened."""
        for curtain in reversed(self._curtains):
            if not shiboken6.isValid(curtain) or curtain is self.curtain:
                continue
            window = curtain.parentWidget()
            if window is not None and window.isVisible() and self.panel is not None:
                self.curtain = curtain
                _seat(self.panel, curtain)
                self.panel.show_for(self._desk_getter().actor)
                return

    def _cover_late_window(self, widget: QWidget) -> None:
        """A window shown while locked (a message box a background task raised, a window a
        timer opened) is covered as well; when it is modal, the unlock form moves onto it,
        since a modal window keeps the keyboard from every other one."""
        if self._switching or not widget.isWindow() or isinstance(widget, Curtain):
            return
        if widget.windowType() == Qt.WindowType.Popup:
            widget.close()  # a menu or completer would float above any curtain
            return
        if not _is_coverable(widget) or widget in {c.parentWidget() for c in self._curtains}:
            return
        curtain = self._cover(widget)
        if widget.isModal() and self.panel is not None:
            self.curtain = curtain
            _seat(self.panel, curtain)
            self.panel.show_for(self._desk_getter().actor)

    def _may_receive(self, watched: QObject, kind: QEvent.Type) -> bool:
        if not isinstance(watched, QWidget):
            # A shortcut goes straight to its QAction: none may fire behind the curtain.
            # Other events to non-widgets (windows' handles) are Qt's own routing to widgets,
            # judged when they reach one.
            return kind != QEvent.Type.Shortcut
        if self._switching:
            # The sign-in dialog of "Switch user…" is the one uncovered window.
            covered = {c.parentWidget() for c in self._curtains}
            return watched.window() not in covered
        panel = self.panel
        return panel is not None and (watched is panel or panel.isAncestorOf(watched))

    # -- slots -------------------------------------------------------------------------------

    def _on_timer_timeout(self) -> None:
        self.check_idle()

    def _on_panel_unlock_requested(self, password: str) -> None:
        self.unlock_with(password)

    def _on_panel_switch_requested(self) -> None:
        if self._call is not None or self.curtain is None:
            return
        self._switching = True
        try:
            actor = self.ask_sign_in(self._desk_getter(), self.curtain.window())
        finally:
            self._switching = False
        if actor is None:
            if self.panel is not None:
                self.panel.show_for(self._desk_getter().actor)
            return
        self._take_down()
        self.user_switched.emit(actor)

    def ask_sign_in(self, desk: Desk, parent: QWidget) -> Actor | None:
        """The sign-in for "Switch user…" (tests replace it)."""
        return SignInDialog.ask(desk.db, parent, now=desk.now)

    def _on_call_succeeded(self, actor: object) -> None:
        self._end_call()
        assert isinstance(actor, Actor)
        self._take_down()
        self.unlocked.emit(actor)

    def _on_call_failed(self, error: object) -> None:
        self._end_call()
        panel = self.panel
        if panel is None:
            return
        panel.password_edit.clear()
        panel.password_edit.setFocus()
        if isinstance(error, SignInRefused | ServiceError):
            text = str(error)
            show_error(panel.error_label, text[0].upper() + text[1:] + ".")
        else:
            show_error(panel.error_label, f"Could not check the password: {error}")

    # -- internals ---------------------------------------------------------------------------

    def _end_call(self) -> None:
        if self._call is not None:
            self._call.deleteLater()
        self._call = None
        if self.panel is not None:
            self.panel.set_busy(False)

    def _cover(self, window: QWidget) -> Curtain:
        curtain = Curtain(window)
        self._curtains.append(curtain)
        curtain.show()
        curtain.raise_()
        return curtain

    def _take_down(self) -> None:
        for curtain in self._curtains:
            if shiboken6.isValid(curtain):  # a covered window deleted while locked took its own
                curtain.remove()
        self._curtains.clear()
        self.curtain = None
        self.panel = None
        self._last_input = self._clock()


def _is_coverable(widget: QWidget) -> bool:
    return widget.windowType() in (Qt.WindowType.Window, Qt.WindowType.Dialog)


def _seat(panel: UnlockPanel, curtain: Curtain) -> None:
    """Put the unlock form in the middle of ``curtain`` (moving it from another curtain)."""
    layout = curtain.layout()
    if layout is None:
        layout = QVBoxLayout(curtain)
    panel.setParent(curtain)
    row = QHBoxLayout()
    row.addStretch(1)
    row.addWidget(panel)
    row.addStretch(1)
    assert isinstance(layout, QVBoxLayout)
    layout.addStretch(1)
    layout.addLayout(row)
    layout.addStretch(2)
    panel.show()
