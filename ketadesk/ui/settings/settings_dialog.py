"""The Settings window (Clinic ▸ Settings…): a list of pages on the left, the chosen page on the
right, as a desktop application's preferences.  Not modal: the schedule stays usable beside it.

The pages come from ``ui/settings/pages.py``; each reads and saves through the services itself.
A page is read the first time it is shown, and again whenever the clinic changes elsewhere
(``refresh_pages``, called by the desk on every change) if it is the page in view.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialogButtonBox,
    QHBoxLayout,
    QListWidget,
    QPushButton,
    QScrollArea,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from ketadesk.ui.common.desk import Desk
from ketadesk.ui.settings.pages import EditedPage, SettingsPage, available_pages

PAGE_LIST_WIDTH = 180
WINDOW_SIZE = (900, 640)


class SettingsDialog(QWidget):
    """The clinic's settings, for administrators.

    Signals:
        setup_requested(): the user asked for the set-up assistant.

    Attributes:
        pages: the page widgets by their registry name, in list order.
        page_list: the list of page titles.
        stack: the page widgets (each inside a scroll area).
    """

    setup_requested = Signal()

    def __init__(self, desk: Desk, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setObjectName("settings_dialog")
        self.setWindowTitle("Settings — KetaDesk")
        self._desk = desk
        self.pages: dict[str, QWidget] = {}
        self._read: set[str] = set()
        self.page_list = QListWidget(self)
        self.page_list.setObjectName("page_list")
        self.page_list.setAccessibleName("Settings pages")
        self.page_list.setFixedWidth(PAGE_LIST_WIDTH)
        self.stack = QStackedWidget(self)
        self._build_pages()
        layout = QVBoxLayout(self)
        body = QHBoxLayout()
        body.addWidget(self.page_list)
        body.addWidget(self.stack, 1)
        layout.addLayout(body, 1)
        layout.addLayout(self._build_buttons())
        self.page_list.currentRowChanged.connect(self._on_page_list_current_row_changed)
        self.resize(*WINDOW_SIZE)
        if self.pages:
            self.page_list.setCurrentRow(0)

    def _build_pages(self) -> None:
        for spec, cls in available_pages():
            page = cls(self._desk, None)
            page.setObjectName(f"{spec.name}_page")
            scroll = QScrollArea(self.stack)
            scroll.setWidgetResizable(True)
            scroll.setFrameShape(QScrollArea.Shape.NoFrame)
            scroll.setWidget(page)
            self.stack.addWidget(scroll)
            self.pages[spec.name] = page
            title = page.title if isinstance(page, SettingsPage) else spec.name.title()
            self.page_list.addItem(title)
        from ketadesk.ui.settings.availability_page import AvailabilityPage
        from ketadesk.ui.settings.resources_page import ResourcesPage

        resources, availability = self.pages.get("resources"), self.pages.get("availability")
        if isinstance(resources, ResourcesPage) and isinstance(availability, AvailabilityPage):
            # Rooms and equipment's "Out of service…": the closure form, on its own page.
            resources.out_of_service_requested.connect(self._on_out_of_service_requested)

    def _on_out_of_service_requested(self, resource_id: int) -> None:
        from ketadesk.ui.settings.availability_page import AvailabilityPage

        page = self.pages.get("availability")
        if isinstance(page, AvailabilityPage):
            self.show_page("availability")
            page.add_out_of_service(resource_id)

    def _build_buttons(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.setup_button = QPushButton("Set-up assistant…", self)
        self.setup_button.setObjectName("setup_assistant")
        self.setup_button.setToolTip("Walk through setting up the clinic step by step")
        self.setup_button.clicked.connect(self.setup_requested)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.close)
        row.addWidget(self.setup_button)
        row.addStretch(1)
        row.addWidget(buttons)
        return row

    def current_page(self) -> str:
        names = list(self.pages)
        row = self.page_list.currentRow()
        return names[row] if 0 <= row < len(names) else ""

    def show_page(self, name: str) -> None:
        self.page_list.setCurrentRow(list(self.pages).index(name))

    def _on_page_list_current_row_changed(self, row: int) -> None:
        if row < 0:
            return
        self.stack.setCurrentIndex(row)
        name = list(self.pages)[row]
        if name not in self._read:  # read once when first shown; after that on changes
            self._read.add(name)
            self._refresh(name)

    def refresh_pages(self) -> None:
        """The clinic changed (here or at another workstation): read the page in view again,
        unless it holds edits not saved yet, and the others when they are next shown."""
        current = self.current_page()
        self._read = {current} if current else set()
        page = self.pages.get(current)
        if page is not None and not (isinstance(page, EditedPage) and page.is_dirty()):
            self._refresh(current)

    def _refresh(self, name: str) -> None:
        page = self.pages[name]
        if isinstance(page, SettingsPage):
            page.refresh()
