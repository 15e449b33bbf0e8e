"""The set-up assistant: a new clinic's first start, step by step.

Offered when an administrator signs into a clinic with no rooms and no staff (a clinic just
made with ``ketadesk db upgrade --create``, right after its first administrator), and from the
Settings window at any time.  Its steps are the pages marked as set-up steps in
``ui/settings/pages.py`` (clinic details, rooms and equipment, staff and shifts, the closed
days: public holidays and planned closures, users; a step whose page is not in this build is
left out), and its last page sums up what the clinic has and whether it can book yet.
"""

from __future__ import annotations

from html import escape

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QLabel,
    QScrollArea,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)

from ketadesk.services.settings.readiness import ClinicReadiness, clinic_readiness
from ketadesk.ui.common.background import LatestOnly
from ketadesk.ui.common.desk import Desk
from ketadesk.ui.settings.pages import PageSpec, SavedPage, SettingsPage, available_pages

#: What each set-up step asks of the administrator, under its title.
STEP_HINTS = {
    "clinic": "The clinic's name, address and phone as printed on sheets and cards, its logo, "
    "time zone, paper, and the hours it is open.",
    "resources": "The treatment rooms and chairs, and the equipment sessions need "
    "(vital-signs monitors, pulse oximeters, pumps).",
    "staff": "Who works here, their role and credentials, their weekly shifts, and what they "
    "can be booked for.",
    "closed_days": "The public holidays the clinic closes on, and any closures already "
    "planned. Skip it if there are none yet.",
    "users": "An account for each person who signs in to KetaDesk.",
}
WIZARD_SIZE = (960, 720)


class _StepPage(QWizardPage):
    """One set-up step: a Settings page inside the assistant; read when first shown, and
    saved (when it has its own Save and holds edits) before the assistant goes on."""

    def __init__(self, spec: PageSpec, page: QWidget, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.spec = spec
        self.page = page
        self._read = False
        self._going_on = False
        title = page.title if isinstance(page, SettingsPage) else spec.name.title()
        self.setTitle(title)
        self.setSubTitle(STEP_HINTS.get(spec.name, ""))
        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(page)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(scroll)
        if isinstance(page, SavedPage):
            page.saved.connect(self._on_page_saved)
            page.not_saved.connect(self._on_page_not_saved)

    def initializePage(self) -> None:
        if not self._read and isinstance(self.page, SettingsPage):
            self._read = True
            self.page.refresh()

    def validatePage(self) -> bool:
        if isinstance(self.page, SavedPage) and self.page.is_dirty():
            self._going_on = True  # go on once the save is through
            self.page.save()
            return False
        return True

    def _on_page_saved(self) -> None:
        wizard = self.wizard()
        if self._going_on and wizard is not None and wizard.currentPage() is self:
            self._going_on = False
            wizard.next()

    def _on_page_not_saved(self) -> None:
        self._going_on = False  # the mistakes are marked on the page; the user stays here


class _WelcomePage(QWizardPage):
    def __init__(self, steps: list[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTitle("Welcome to KetaDesk")
        self.setSubTitle("Your administrator account is ready. Now set up the clinic.")
        listed = "".join(f"<li>{step}</li>" for step in steps)
        text = QLabel(
            "<p>These steps describe the clinic so that sessions can be booked:</p>"
            f"<ol>{listed}</ol>"
            "<p>What you enter is saved as you go on. You can skip a step and come back to it "
            "at any time in <b>Clinic ▸ Settings…</b>, where this assistant can also be opened "
            "again.</p>",
            self,
        )
        text.setWordWrap(True)
        text.setTextFormat(Qt.TextFormat.RichText)
        layout = QVBoxLayout(self)
        layout.addWidget(text)
        layout.addStretch(1)


def readiness_text(readiness: ClinicReadiness) -> str:
    """The summary of what the clinic has, as the last page shows it (rich text)."""

    def count(n: int, one: str, many: str) -> str:
        return f"{n} {one if n == 1 else many}"

    rows = [
        count(readiness.rooms, "room", "rooms"),
        count(readiness.equipment, "piece of equipment", "pieces of equipment"),
        count(readiness.staff, "staff member", "staff members")
        + f" ({readiness.staff_with_shifts} with weekly shifts)",
        count(readiness.users, "user account", "user accounts"),
    ]
    listed = "".join(f"<li>{escape(row)}</li>" for row in rows)
    types = "".join(
        f"<li>{'' if kind.ready else '<b>'}{escape(kind.text())}{'' if kind.ready else '</b>'}</li>"
        for kind in readiness.session_types
    )
    per_type = f"<p>Session types:</p><ul>{types}</ul>" if types else ""
    if readiness.can_book:
        after = (
            " Close the assistant to see the schedule."
            if readiness.can_book_all
            else (" Go back to add what is missing, or use Clinic ▸ Settings… later.")
        )
        verdict = f"<p><b>{escape(readiness.verdict())}</b>{after}</p>"
    else:
        verdict = (
            f"<p><b>{escape(readiness.verdict())}</b> (go back, or use "
            "Clinic ▸ Settings… later).</p>"
        )
    return f"<p>The clinic now has:</p><ul>{listed}</ul>{per_type}{verdict}"


class _SummaryPage(QWizardPage):
    """What the clinic has now, read when the page is shown."""

    def __init__(self, desk: Desk, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._desk = desk
        self.readiness: ClinicReadiness | None = None
        self.setTitle("Ready?")
        self.setSubTitle("What the clinic has now, and whether it can book.")
        self.summary = QLabel("Reading…", self)
        self.summary.setObjectName("summary")
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addStretch(1)
        self._reads = LatestOnly(self, busy="Reading the clinic…")

    def initializePage(self) -> None:
        db = self._desk.db
        self.readiness = None
        self.summary.setText("Reading…")
        self._reads.run(lambda: clinic_readiness(db), self._on_read)

    def _on_read(self, readiness: ClinicReadiness) -> None:
        self.readiness = readiness
        self.summary.setText(readiness_text(readiness))


class SetupAssistant(QWizard):
    """Setting up a new clinic, step by step (not modal: the window stays usable).

    Attributes:
        steps: the Settings pages the assistant walks through, by registry name.
        summary: the last page.
    """

    def __init__(self, desk: Desk, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setObjectName("setup_assistant")
        self.setWindowTitle("Set up the clinic — KetaDesk")
        self.setWizardStyle(QWizard.WizardStyle.ModernStyle)
        self.setOption(QWizard.WizardOption.NoBackButtonOnStartPage, True)
        self.steps: dict[str, QWidget] = {}
        found = available_pages(setup_only=True)
        built = [(spec, cls(desk, None)) for spec, cls in found]
        titles = [
            page.title if isinstance(page, SettingsPage) else spec.name.title()
            for spec, page in built
        ]
        self.addPage(_WelcomePage(titles, self))
        for spec, page in built:
            page.setObjectName(f"{spec.name}_page")
            self.addPage(_StepPage(spec, page, self))
            self.steps[spec.name] = page
        self.summary = _SummaryPage(desk, self)
        self.addPage(self.summary)
        self.resize(*WIZARD_SIZE)
