"""Window sizing that every dialog shares: a fixed minimum size instead of one the layout works
out (and pushes to the platform) on every change, or, for the small dialogs whose messages come
and go (sign-in, accounts), a window kept as tall as its content needs at its width."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from PySide6.QtCore import QEvent, QObject, QSize
from PySide6.QtWidgets import QLayout, QWidget

if TYPE_CHECKING:
    from typing_extensions import override
else:  # typing.override is Python 3.12+; the decorator only informs the type checker.
    _F = TypeVar("_F")

    def override(method: _F) -> _F:
        return method


def fixed_minimum(widget: QWidget, size: QSize) -> None:
    """Fix a window's minimum size instead of deriving it from the layout: a layout-driven
    minimum is pushed to the platform window on every change (a message or an error label
    appearing), which the offscreen platform (screenshots, tests) answers with a warning."""
    layout = widget.layout()
    if layout is not None:
        layout.setSizeConstraint(QLayout.SizeConstraint.SetNoConstraint)
    widget.setMinimumSize(size)


def fit_dialog(dialog: QWidget, width: int) -> ContentHeight:
    """Size a dialog to ``width`` and the height its content needs there, and keep it at least
    that tall as its content changes (``ContentHeight``): an error or a hint that appears
    makes the window taller instead of squeezing the fields above it."""
    assert dialog.layout() is not None
    # Sized as it will be shown (style and fonts applied): a window already shown passes a
    # new minimum on to the platform, which the offscreen one of the tests warns about.
    dialog.ensurePolished()
    fit = ContentHeight(dialog)
    dialog.resize(width, max(fit.needed(width), 1))
    fit.fit()
    return fit


def _needed(layout: QLayout, width: int) -> int:
    if layout.hasHeightForWidth():
        return layout.totalHeightForWidth(width)
    return layout.totalSizeHint().height()


def _least(layout: QLayout, width: int) -> int:
    if layout.hasHeightForWidth():
        return layout.totalMinimumHeightForWidth(width)
    return layout.totalMinimumSize().height()


def _fit(window: QWidget) -> None:
    layout = window.layout()
    if layout is None:
        return
    width = window.width()
    least = _least(layout, width)
    if window.minimumHeight() != least:
        window.setMinimumHeight(least)
    needed = _needed(layout, width)
    if window.height() < needed:
        window.resize(width, needed)


class ContentHeight(QObject):
    """Keeps a window (a dialog with a layout) at least as tall as its layout needs at the
    window's width, and its minimum height the least the layout can live with there.

    Qt's own constraint (``QLayout.SizeConstraint.SetMinimumSize``) cannot: a window's
    minimum is worked out without height-for-width, so wrapped text (an error message, a
    hint of several lines) does not count, and the fields are squeezed to a few pixels to make
    room for it.  This asks the layout for its height at the width instead, whenever the
    content changes (a ``LayoutRequest``: a label shown, hidden or given new words) or the
    width does.  The window grows for new content but never shrinks by itself, so a message
    that goes and comes back (each "Sign in" clears the last error) does not make it jump.

    It keeps no Python attribute: the window is its Qt parent and the object it watches, the
    layout the window's.  Holding the window in an attribute made a reference cycle (the
    window, this child of it, the window again) that Python's cyclic collector broke by
    emptying this object's attributes, then deleting the window, whose teardown Qt still
    showed this filter: "AttributeError: '_window'" at the end of a run.
    """

    def __init__(self, window: QWidget) -> None:
        super().__init__(window)
        layout = window.layout()
        assert layout is not None
        # The minimum is this object's to keep (see the class docstring), not the layout's.
        layout.setSizeConstraint(QLayout.SizeConstraint.SetNoConstraint)
        window.setMinimumWidth(layout.totalMinimumSize().width())
        window.installEventFilter(self)

    def _layout(self) -> QLayout:
        window = self.parent()
        assert isinstance(window, QWidget)
        layout = window.layout()
        assert layout is not None
        return layout

    def needed(self, width: int) -> int:
        """The height the content asks for at ``width`` (margins included)."""
        return _needed(self._layout(), width)

    def least(self, width: int) -> int:
        """The least height the content fits in at ``width`` without squeezing a field."""
        return _least(self._layout(), width)

    def fit(self) -> None:
        window = self.parent()
        assert isinstance(window, QWidget)
        _fit(window)

    @override
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        # Only the window is watched: ``watched`` is it.
        if event.type() in (
            QEvent.Type.LayoutRequest,
            QEvent.Type.Resize,
            QEvent.Type.Show,
        ) and isinstance(watched, QWidget):
            _fit(watched)
        return False
