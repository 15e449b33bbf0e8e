"""The central views of the main window, registered by name, and what they need of the window.

The main window owns a ``PageRegistry``; the signed-in desk (``ui.shell.pages``) registers a
builder for each view it offers into it, and the window builds a page the first time the user
switches to it and points it at the day shown through its ``Page.show_day``.  The desk sees the
window only as a ``DeskWindow``: neither module imports the other's concrete class.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from PySide6.QtCore import SignalInstance
from PySide6.QtWidgets import QWidget

if TYPE_CHECKING:
    from PySide6.QtGui import QAction
    from PySide6.QtWidgets import QMenu

    from ketadesk.services.schedule.day_schedule import DaySchedule
    from ketadesk.services.schedule.week import WeekSchedule
    from ketadesk.ui.shell.side_panel import SidePanel
    from ketadesk.ui.timeline.day_view import DayView


@dataclass(frozen=True)
class Page:
    """A built view: its widget, and how to show a day on it (``day`` is the day the window
    shows; a view of its own moment, the follow-up queue, just reads again).

    A view that is not a day of the schedule gives the status bar its own account of what it
    shows (``summary``: "3 of 5 chairs in use · 1 due a BP check"), read again each time
    ``refreshed`` fires; without one the status bar says nothing of the day by room's day on it.
    Such a view's ``heading`` replaces the window's date above it (a user trial read a week
    ahead's date above the chair board's live chairs).
    """

    widget: QWidget
    show_day: Callable[[dt.date], None]
    summary: Callable[[], str] | None = None
    refreshed: SignalInstance | None = None
    heading: str | None = None


#: Builds the page of one view, for the signed-in desk.
PageBuilder = Callable[[], Page]


class PageRegistry:
    """The views the signed-in desk offers, by ViewSpec name (``MainWindow.VIEWS``)."""

    def __init__(self) -> None:
        self._builders: dict[str, PageBuilder] = {}

    def register(self, name: str, build: PageBuilder) -> None:
        self._builders[name] = build

    def clear(self) -> None:
        self._builders.clear()

    def offers(self, name: str) -> bool:
        return name in self._builders

    def build(self, name: str) -> Page:
        try:
            build = self._builders[name]
        except KeyError:
            raise ValueError(f"no view called {name!r}") from None
        return build()


class DeskWindow(Protocol):
    """What the signed-in desk needs of the main window."""

    actions_by_name: dict[str, QAction]
    side_panel: SidePanel
    day_view: DayView
    pages: PageRegistry

    def widget(self) -> QWidget:
        """The window itself, as the parent of the desk's widgets and dialogs."""
        ...

    def day(self) -> dt.date: ...

    def schedule(self) -> DaySchedule | None:
        """The day by room as last read (None before the first read lands)."""
        ...

    def view(self) -> str: ...

    def page(self, name: str) -> QWidget | None: ...

    def set_view(self, name: str) -> None: ...

    def set_day(self, day: dt.date) -> None: ...

    def set_week_shown(self, week: WeekSchedule) -> None: ...

    def refresh(self) -> None: ...

    def show_message(self, text: str, msecs: int = 8000) -> None: ...

    def clear_message(self) -> None: ...

    def set_banner(self, banner: QWidget) -> None: ...

    def set_print_menu(self, menu: QMenu) -> None: ...
