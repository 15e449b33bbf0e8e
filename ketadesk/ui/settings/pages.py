"""The pages of the Settings window, declared once, in the order the page list shows them.

Each page is a QWidget class built as ``Page(desk, parent)``, with a ``title`` and a
``refresh()`` that reloads it from the services in the background (``SettingsPage``).  Pages
are imported only when the window opens, and a page whose module is not there is left out, so
a build without one of them still opens its settings.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, cast, runtime_checkable

from PySide6.QtWidgets import QWidget

from ketadesk.ui.common.desk import Desk


@runtime_checkable
class SettingsPage(Protocol):
    """What the Settings window and the set-up assistant ask of a page."""

    title: str

    def refresh(self) -> None: ...


@runtime_checkable
class EditedPage(Protocol):
    """A page that can tell whether it holds edits not saved yet (a live refresh waits)."""

    def is_dirty(self) -> bool: ...


@runtime_checkable
class SavedPage(Protocol):
    """A page with its own Save: the set-up assistant saves it when the user goes on.

    ``saved`` and ``not_saved`` are its signals (SignalInstance); ``save`` starts a save."""

    @property
    def saved(self) -> Any: ...

    @property
    def not_saved(self) -> Any: ...

    def is_dirty(self) -> bool: ...

    def save(self) -> None: ...


@dataclass(frozen=True)
class PageSpec:
    """One page: where its class lives, and its name in the set-up assistant (``setup``:
    whether it is a step of setting up a new clinic; ``in_settings``: whether the Settings
    window lists it, False for a step that only asks a new clinic what a Settings page
    edits in full)."""

    name: str
    module: str
    class_name: str
    setup: bool = True
    in_settings: bool = True


PAGES = (
    PageSpec("clinic", "ketadesk.ui.settings.clinic_page", "ClinicPage"),
    PageSpec("resources", "ketadesk.ui.settings.resources_page", "ResourcesPage"),
    PageSpec("staff", "ketadesk.ui.settings.staff_page", "StaffPage"),
    # Holidays and planned closures, for a new clinic; Settings has "availability" in full.
    PageSpec(
        "closed_days", "ketadesk.ui.settings.closed_days_page", "ClosedDaysPage", in_settings=False
    ),
    PageSpec("users", "ketadesk.ui.settings.users_page", "UsersPage"),
    PageSpec("availability", "ketadesk.ui.settings.availability_page", "AvailabilityPage", False),
    PageSpec("rules", "ketadesk.ui.settings.rules_page", "RulesPage", False),
    PageSpec("reminders", "ketadesk.ui.settings.reminders_page", "RemindersPage", False),
)


#: How a page is made: its class, called as ``Page(desk, parent)``.
PageClass = Callable[[Desk, QWidget | None], QWidget]


def page_class(spec: PageSpec) -> PageClass | None:
    """The page's class, or None when its module is not part of this build."""
    try:
        module = importlib.import_module(spec.module)
    except ModuleNotFoundError as err:
        if err.name != spec.module:  # the page is there but something it needs is not: a defect
            raise
        return None
    found = getattr(module, spec.class_name, None)
    if isinstance(found, type) and issubclass(found, QWidget):
        return cast(PageClass, found)
    return None


def available_pages(*, setup_only: bool = False) -> list[tuple[PageSpec, PageClass]]:
    """The pages this build has, in order: the Settings window's, or with ``setup_only`` the
    set-up assistant's steps."""
    found = []
    for spec in PAGES:
        if not (spec.setup if setup_only else spec.in_settings):
            continue
        cls = page_class(spec)
        if cls is not None:
            found.append((spec, cls))
    return found
