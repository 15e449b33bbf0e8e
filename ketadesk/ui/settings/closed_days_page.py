"""The set-up assistant's "Closed days" step: which public holidays a new clinic closes on, and
the closures it already knows of (a training day, every afternoon of Christmas week).

A user trial of a new clinic's first week found the assistant never asked: the holidays were
all ticked by default and the closures were one entry a day in Settings.  Here the holidays of
the clinic's country are listed once each, by name with their date in the coming year, ticked
as the clinic's setting says, and saved when the administrator goes on; closures are added with
the Settings form (repeating ones too) and written at once, through their consequences when
they would break a booked session.  Skippable, and all of it is in Settings ▸ Closures and time
off afterwards.  Only the set-up assistant shows this page (``pages.PageSpec.in_settings``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ketadesk.scheduling.closure_repeats import repeat_words
from ketadesk.scheduling.dates import short_date, span_words
from ketadesk.services.common.context import InvalidFields, ServiceError
from ketadesk.services.settings import availability, consequences
from ketadesk.services.settings.availability import ClosedDaysChoice, ClosureRow, LocalRequest
from ketadesk.services.settings.clinic_details import clinic_time_format
from ketadesk.services.settings.consequences import Applied, Consequences
from ketadesk.ui.common.background import LatestOnly, run_service
from ketadesk.ui.common.desk import Desk
from ketadesk.ui.settings.availability_page import FIELD_LABELS, AddClosureDialog
from ketadesk.ui.settings.consequences_dialog import ConsequencesDialog


@dataclass(frozen=True)
class _Read:
    choice: ClosedDaysChoice
    zone: ZoneInfo
    time_format: str
    resources: list[availability.ResourceChoice]


def closure_line(c: ClosureRow, zone: ZoneInfo, fmt: str) -> str:
    """A closure as one line: "Every day Dec 21 – Dec 31, 1:00 PM – 5:00 PM: Christmas week
    afternoons", "Thu Dec 24, 2026, all day: Staff training" (with whom for time off)."""
    start, end = c.starts_at.astimezone(zone), c.ends_at.astimezone(zone)
    if c.repeat.repeats:
        when = repeat_words(start, end, c.repeat, fmt)
    else:
        when = span_words(start, end, fmt, year=True)
    who = f" ({c.resource_name}, {c.kind_label.lower()})" if c.resource_name else ""
    return f"{when}: {c.reason}{who}"


class ClosedDaysPage(QWidget):
    """Public holidays ticked, planned closures added: a new clinic's closed days.

    Signals:
        loaded(): the holidays and closures were read (after ``refresh``).
        saved(): the holiday choice was saved (or there was nothing to change).
        not_saved(): saving it was refused; ``status`` says why.

    Attributes:
        read: what was last read (None before the first read).
        holidays: the holidays, one checkable line each.
        closures: the closures to come, one line each.
    """

    title = "Closed days"
    loaded = Signal()
    saved = Signal()
    not_saved = Signal()

    def __init__(self, desk: Desk, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("closed_days_page")
        self._desk = desk
        self._reads = LatestOnly(self, busy="Reading the closed days…")
        self.read: _Read | None = None
        self.dialog: ConsequencesDialog | None = None
        #: A closure the service refused, and why: the next "Add a closure…" opens with it.
        self.refused: tuple[LocalRequest, dict[str, str]] | None = None
        layout = QVBoxLayout(self)
        intro = QLabel(
            "Which days is the clinic closed? Tick the public holidays it closes on and add "
            "the closures already planned: a training day, or every afternoon of Christmas "
            "week as one closure that repeats. Nothing to add? Go on: all of it can be changed "
            "later in Clinic ▸ Settings… ▸ Closures and time off.",
            self,
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)
        layout.addWidget(self._build_holidays(), 3)
        layout.addWidget(self._build_closures(), 2)
        self.status = QLabel("", self)
        self.status.setObjectName("status")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)

    def _build_holidays(self) -> QGroupBox:
        self.holiday_box = QGroupBox("Public holidays the clinic closes on", self)
        box = QVBoxLayout(self.holiday_box)
        self.holidays = QListWidget(self.holiday_box)
        self.holidays.setObjectName("holidays")
        box.addWidget(self.holidays)
        row = QHBoxLayout()
        self.tick_all = QPushButton("Tick all", self.holiday_box)
        self.untick_all = QPushButton("Untick all", self.holiday_box)
        for button in (self.tick_all, self.untick_all):
            row.addWidget(button)
        row.addStretch(1)
        box.addLayout(row)
        self.tick_all.clicked.connect(self._on_tick_all_clicked)
        self.untick_all.clicked.connect(self._on_untick_all_clicked)
        return self.holiday_box

    def _build_closures(self) -> QGroupBox:
        group = QGroupBox("Planned closures", self)
        box = QVBoxLayout(group)
        self.closures = QListWidget(group)
        self.closures.setObjectName("closures")
        box.addWidget(self.closures)
        row = QHBoxLayout()
        self.add_button = QPushButton("Add a closure…", group)
        self.remove_button = QPushButton("Remove", group)
        for button in (self.add_button, self.remove_button):
            row.addWidget(button)
        row.addStretch(1)
        box.addLayout(row)
        self.add_button.clicked.connect(self._on_add_button_clicked)
        self.remove_button.clicked.connect(self._on_remove_button_clicked)
        return group

    # -- reading --------------------------------------------------------------------------------

    def refresh(self) -> None:
        desk = self._desk

        def work() -> _Read:
            return _Read(
                availability.closed_days_choice(desk.db, now=desk.now()),
                availability.clinic_zone(desk.db),
                clinic_time_format(desk.db),
                availability.resource_choices(desk.db),
            )

        self._reads.run(work, self._on_read)

    def _on_read(self, read: _Read) -> None:
        # Read again after a closure was added: the holidays ticked, not saved yet, stay so.
        kept = set(self.ticked()) if self.is_dirty() else None
        self.read = read
        choice = read.choice
        where = choice.country + (f"-{choice.subdivision}" if choice.subdivision else "")
        self.holiday_box.setTitle(
            f"Public holidays ({where}) the clinic closes on"
            if where
            else "Public holidays: no country is set for them"
        )
        self.holidays.clear()
        for h in choice.holidays:
            entry = QListWidgetItem(f"{h.name} ({short_date(h.day, year=True)})")
            entry.setData(Qt.ItemDataRole.UserRole, h.name)
            entry.setFlags(entry.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            closed = h.closed if kept is None else h.name in kept
            entry.setCheckState(Qt.CheckState.Checked if closed else Qt.CheckState.Unchecked)
            self.holidays.addItem(entry)
        self.closures.clear()
        for c in choice.closures:
            entry = QListWidgetItem(closure_line(c, read.zone, read.time_format))
            entry.setData(Qt.ItemDataRole.UserRole, c.id)
            self.closures.addItem(entry)
        if not choice.closures:
            self.closures.addItem(QListWidgetItem("None yet."))
        self.loaded.emit()

    # -- the holidays: ticked here, saved when the assistant goes on ------------------------------

    def ticked(self) -> list[str]:
        return [
            str(item.data(Qt.ItemDataRole.UserRole))
            for i in range(self.holidays.count())
            if (item := self.holidays.item(i)).checkState() == Qt.CheckState.Checked
        ]

    def is_dirty(self) -> bool:
        if self.read is None:
            return False
        closed = [h.name for h in self.read.choice.holidays if h.closed]
        return self.ticked() != closed

    def _tick(self, state: Qt.CheckState) -> None:
        for i in range(self.holidays.count()):
            self.holidays.item(i).setCheckState(state)

    def _on_tick_all_clicked(self) -> None:
        self._tick(Qt.CheckState.Checked)

    def _on_untick_all_clicked(self) -> None:
        self._tick(Qt.CheckState.Unchecked)

    def save(self) -> None:
        """Save the holidays ticked (every one ticked: all of them, this year's and later
        years' new ones too, as a new clinic starts)."""
        if not self.is_dirty():
            self.saved.emit()
            return
        names = self.ticked()
        every = len(names) == self.holidays.count()
        desk = self._desk

        def work() -> None:
            availability.set_holidays_closed(
                desk.db, desk.actor, None if every else names, now=desk.now()
            )

        def done(_: Any) -> None:
            self.status.setText("Holiday choice saved.")
            self.refresh()
            self.saved.emit()

        def failed(err: ServiceError) -> None:
            self.status.setText(f"Holiday choice not saved: {err}")
            self.not_saved.emit()

        run_service(self, work, done, failed=failed, writes=True, busy="Saving…")

    # -- closures: added through the Settings form, at once ---------------------------------------

    def _on_add_button_clicked(self) -> None:
        self.add_closure()

    def add_closure(self, prefill: LocalRequest | None = None) -> None:
        """The closure form; what it asks for is written when it breaks no booked session,
        else shown with its consequences first, as Settings does."""
        read = self.read
        now = self._desk.now()
        today = now.astimezone(read.zone).date() if read else now.date()
        form = AddClosureDialog(
            read.resources if read else [],
            today,
            self,
            time_format=read.time_format if read else "12h",
        )
        if prefill is not None:
            form.set_request(prefill)
        elif self.refused is not None:  # as typed last time, with what was wrong
            form.set_request(self.refused[0])
            form.show_errors(self.refused[1])
        if form.exec() == QDialog.DialogCode.Accepted:
            self.propose(form.request())

    def propose(self, request: LocalRequest) -> None:
        desk = self._desk
        self.refused = None

        def work() -> Consequences | Applied:
            proposed = availability.from_local(desk.db, request)
            preview = consequences.preview(desk.db, proposed, now=desk.now())
            if preview.broken or preview.in_use:
                return preview
            return consequences.apply(desk.db, desk.actor, preview, now=desk.now())

        def done(outcome: Consequences | Applied) -> None:
            if isinstance(outcome, Applied):
                self.status.setText("Closure added.")
                self.refresh()
                return
            self.dialog = ConsequencesDialog(desk, outcome, self)
            self.dialog.finished.connect(self._on_dialog_finished)
            self.dialog.open()

        def failed(err: ServiceError) -> None:
            self.refused = (request, err.errors if isinstance(err, InvalidFields) else {})
            self._refused(err)

        run_service(self, work, done, failed=failed, writes=True, busy="Adding…")

    def _on_dialog_finished(self, _result: int) -> None:
        if self.dialog is not None and self.dialog.applied is not None:
            self.status.setText("Closure added; the sessions it broke were moved as shown.")
            self.refresh()

    def _refused(self, err: ServiceError) -> None:
        if isinstance(err, InvalidFields):
            said = "; ".join(f"{FIELD_LABELS.get(n, n)}: {m}" for n, m in err.errors.items())
            self.status.setText(f"Not added. {said} (Add a closure… shows it again as typed.)")
        else:
            self.status.setText(f"Not added: {err}")

    def _on_remove_button_clicked(self) -> None:
        items = self.closures.selectedItems()
        closure_id = items[0].data(Qt.ItemDataRole.UserRole) if items else None
        if closure_id is None:
            self.status.setText("Choose a closure to remove.")
            return
        desk = self._desk

        def work() -> None:
            availability.remove_closure(desk.db, desk.actor, int(closure_id), now=desk.now())

        def done(_: Any) -> None:
            self.status.setText("Removed.")
            self.refresh()

        run_service(self, work, done, failed=self._refused, writes=True, busy="Removing…")
