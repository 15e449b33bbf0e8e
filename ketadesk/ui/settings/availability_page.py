"""Settings ▸ Closures and time off: the clinic's closures, staff time off, rooms and equipment
out of service, and the public holidays the clinic closes on.

Adding one first shows its consequences (ui/settings/consequences_dialog.py); "Undo last
change" takes back the last one applied here (the closure goes, the sessions go back if their
old places are still free).  Every read and write runs in the background.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from PySide6.QtCore import QDate, QDateTime, Qt, QTime, QTimer
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDateTimeEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ketadesk.scheduling.closure_repeats import NO_REPEAT, Repeat, repeat_words
from ketadesk.scheduling.dates import WEEKDAY_ABBR, short_date, span_ends, span_words
from ketadesk.services.common.context import InvalidFields, ServiceError
from ketadesk.services.settings import availability, consequences
from ketadesk.services.settings.availability import (
    ClosureRow,
    HolidayChoice,
    LocalRequest,
    ResourceChoice,
)
from ketadesk.services.settings.clinic_details import clinic_time_format
from ketadesk.services.settings.consequences import Applied, Consequences
from ketadesk.ui.common.background import run_service
from ketadesk.ui.common.date_fields import DateTimeField
from ketadesk.ui.common.desk import Desk
from ketadesk.ui.common.sizing import fit_dialog
from ketadesk.ui.patients.patient_form import error_color
from ketadesk.ui.settings.consequences_dialog import ConsequencesDialog, applied_text

COLUMNS = ("From", "To", "What", "Who or what", "Reason")
#: What the form offers, in the words of the desk: (label, kind).
FORM_KINDS = (
    ("Close the clinic", "closure"),
    ("Staff time off", "time_off"),
    ("Room or equipment out of service", "maintenance"),
)


#: How a closure may repeat, in the form's words: (label, ``Repeat.every``).
FORM_REPEATS = (
    ("Does not repeat", "none"),
    ("Every day", "daily"),
    ("Every week on…", "weekly"),
)

#: The closure form's labels for the fields the availability service names in a refusal.
FIELD_LABELS = {
    "kind": "What",
    "resource": "Who or what",
    "starts_at": "From",
    "ends_at": "To",
    "reason": "Reason",
    "repeat": "Repeat",
    "weekdays": "Repeat on",
}


@dataclasses.dataclass(frozen=True)
class _Loaded:
    closures: list[ClosureRow]
    holidays: list[HolidayChoice]
    resources: list[ResourceChoice]
    zone: ZoneInfo
    time_format: str = "12h"  # how the clinic reads a time of day ([clinic] time_format)


#: Room in a title bar beside the title (the window manager's buttons and margins), in pixels.
TITLE_BAR_ROOM = 200
#: Room in the form beside the label and the field (margins, spacing), in pixels.
FORM_ROOM = 120
MIN_WIDTH = 460


class AddClosureDialog(QDialog):
    """The form: what, who or what, from, to, how it repeats, why.  A repeating closure
    closes From's time to To's on each day (or each weekday ticked) from From's day to To's."""

    def __init__(
        self,
        resources: list[ResourceChoice],
        today: dt.date,
        parent: QWidget | None = None,
        *,
        time_format: str = "12h",
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Add a closure or time off")
        self.resources = resources
        self._time_format = time_format
        form = QFormLayout(self)
        self.kind = QComboBox(self)
        for label, kind in FORM_KINDS:
            self.kind.addItem(label, kind)
        self.resource = QComboBox(self)
        self.first = DateTimeField(self, weekday=True, time_format=time_format)
        self.last = DateTimeField(self, weekday=True, time_format=time_format)
        # Whole days take their first and last day closed: a To of "12/10 12:00 AM" (the
        # midnight a three-day closure ends at, as stored) was read as the wrong day.
        self.all_day = QCheckBox("All day (To is the last day closed)", self)
        self.all_day.setObjectName("all_day")
        tomorrow = _qdate(today + dt.timedelta(days=1))
        self._set_span(True, QDateTime(tomorrow, QTime(0, 0)), QDateTime(tomorrow, QTime(0, 0)))
        self.reason = QLineEdit(self)
        self.reason.setPlaceholderText("e.g. Monitor 3 at calibration")
        self._build_repeat()
        form.addRow("What", self.kind)
        form.addRow("Who or what", self.resource)
        form.addRow("", self.all_day)
        form.addRow("From", self.first)
        form.addRow("To", self.last)
        form.addRow("Repeat", self.repeat)
        form.addRow("Repeat on", self.weekday_row)
        form.addRow("", self.repeat_note)
        form.addRow("Reason", self.reason)
        self.errors = QLabel(self)
        self.errors.setObjectName("errors")
        self.errors.setWordWrap(True)
        self.errors.setVisible(False)
        palette = self.errors.palette()
        palette.setColor(QPalette.ColorRole.WindowText, error_color(self.palette()))
        self.errors.setPalette(palette)
        form.addRow(self.errors)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        ok = buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setText("See consequences…")
        buttons.accepted.connect(self._on_buttons_accepted)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
        self.kind.currentIndexChanged.connect(self._kind_changed)
        self.all_day.toggled.connect(self._on_all_day_toggled)
        for edit in (self.first, self.last):
            edit.dateTimeChanged.connect(self._on_time_set)
        self.repeat.currentIndexChanged.connect(self._on_repeat_chosen)
        self.all_day.toggled.connect(self._on_repeat_changed)
        for box in self.weekdays:
            box.toggled.connect(self._on_repeat_changed)
        for edit in (self.first, self.last):
            edit.dateTimeChanged.connect(self._on_repeat_changed)
        self._kind_changed()
        self._on_repeat_changed()
        fit_dialog(self, self.roomy_width())

    def _build_repeat(self) -> None:
        """Repeat: not at all, every day, or every week on the weekdays ticked; and a line
        saying what the form closes as it stands."""
        self.repeat = QComboBox(self)
        self.repeat.setObjectName("repeat")
        for label, every in FORM_REPEATS:
            self.repeat.addItem(label, every)
        self.weekday_row = QWidget(self)
        row = QHBoxLayout(self.weekday_row)
        row.setContentsMargins(0, 0, 0, 0)
        self.weekdays: list[QCheckBox] = []
        for day, name in enumerate(WEEKDAY_ABBR):
            box = QCheckBox(name, self.weekday_row)
            box.setObjectName(f"weekday_{day}")
            self.weekdays.append(box)
            row.addWidget(box)
        row.addStretch(1)
        self.repeat_note = QLabel(self)
        self.repeat_note.setObjectName("repeat_note")
        self.repeat_note.setWordWrap(True)

    def _on_repeat_chosen(self, _index: int) -> None:
        """Weekly with no weekday ticked yet: From's weekday, the likeliest one."""
        if self.repeat.currentData() == "weekly" and not any(b.isChecked() for b in self.weekdays):
            first = self.first.dateTime().date()
            box = self.weekdays[first.dayOfWeek() - 1]  # Qt counts Monday as 1
            box.blockSignals(True)
            box.setChecked(True)
            box.blockSignals(False)
        self._on_repeat_changed()

    def chosen_repeat(self) -> Repeat:
        every = self.repeat.currentData()
        if every == "weekly":
            return Repeat(
                "weekly", tuple(d for d, box in enumerate(self.weekdays) if box.isChecked())
            )
        return Repeat("daily") if every == "daily" else NO_REPEAT

    def _on_repeat_changed(self, *_args: object) -> None:
        """The weekdays only for a weekly closure, and what a repeating one closes in words
        ("Every Fri Jan 8 – Jan 29, 8:00 AM – 12:00 PM"), as the page will list it."""
        every = self.repeat.currentData()
        self.weekday_row.setEnabled(every == "weekly")
        if self.errors.isVisible():  # what was named is fixed: say only what is left
            self.show_errors(self.problems())
        repeat = self.chosen_repeat()
        note = ""
        if repeat.repeats:
            request = self.request()
            errors = availability.request_problems(request)
            if "ends_at" not in errors and "weekdays" not in errors:
                start = dt.datetime.combine(request.first_day, dt.time()) + dt.timedelta(
                    minutes=request.first_minute
                )
                end = dt.datetime.combine(request.last_day, dt.time()) + dt.timedelta(
                    minutes=request.last_minute
                )
                note = f"Closes {repeat_words(start, end, repeat, self._time_format)}."
            else:
                note = "Closes From's time to To's on each day from From's day to To's."
        self.repeat_note.setText(note)
        self.repeat_note.setVisible(bool(note))

    def roomy_width(self) -> int:
        """Wide enough for the whole title in the window's title bar (its buttons take room
        too) and for the date fields' full date and time: at its hint width the window manager
        cut the title to "Add a closure or t…e off" and the dates touched their buttons."""
        title = self.fontMetrics().horizontalAdvance(self.windowTitle())
        fields = max(self.first.sizeHint().width(), self.last.sizeHint().width())
        label = self.fontMetrics().horizontalAdvance("Who or what")
        return max(title + TITLE_BAR_ROOM, label + fields + FORM_ROOM, MIN_WIDTH)

    def _set_span(self, all_day: bool, first: QDateTime, last: QDateTime) -> None:
        """Show a span: ``all_day``, ``first`` and ``last`` are the first and the last day
        closed (their times unused); otherwise the times it starts and ends at."""
        for edit in (self.first, self.last):
            edit.blockSignals(True)
        self.all_day.blockSignals(True)
        try:
            self.all_day.setChecked(all_day)
            for edit, value in ((self.first, first), (self.last, last)):
                if all_day:
                    value = QDateTime(value.date(), QTime(0, 0))
                edit.set_date_only(all_day)
                edit.setDateTime(value)
        finally:
            self.all_day.blockSignals(False)
            for edit in (self.first, self.last):
                edit.blockSignals(False)

    def _on_all_day_toggled(self, all_day: bool) -> None:
        """The same span in the other way of saying it, where it can be: a span of whole
        days shown by its times ends at the midnight after its last day."""
        first, last = self.first.dateTime(), self.last.dateTime()
        if all_day:
            midnight = QTime(0, 0)
            if last.time() == midnight and last.date() > first.date():
                last = QDateTime(last.date().addDays(-1), midnight)
        else:
            last = QDateTime(last.date().addDays(1), QTime(0, 0))
        self._set_span(all_day, first, last)

    def _on_time_set(self, value: QDateTime) -> None:
        """A time other than midnight given to a field (a form filled again, the day of a
        broken monitor) makes the closure a part-day one, with its times shown."""
        midnight = QTime(0, 0)
        if self.all_day.isChecked() and value.time() != midnight:
            first, last = self.first.dateTime(), self.last.dateTime()
            if self.sender() is self.first:  # the last day closed ends at the next midnight
                last = QDateTime(last.date().addDays(1), midnight)
            self._set_span(False, first, last)

    def problems(self) -> dict[str, str]:
        """What is wrong with the form as it stands, by the service's field names."""
        errors = availability.request_problems(self.request())
        if self.all_day.isChecked() and "ends_at" in errors:
            errors["ends_at"] = "the last day closed cannot be before the first"
        return errors

    def _on_buttons_accepted(self) -> None:
        """Go on only with a form the service would take; otherwise say what is wrong here,
        keeping everything typed."""
        errors = self.problems()
        self.show_errors(errors)
        if not errors:
            self.accept()

    def show_errors(self, errors: dict[str, str]) -> None:
        said = "; ".join(f"{FIELD_LABELS.get(n, n)}: {m}" for n, m in errors.items())
        self.errors.setText(f"Please correct: {said}." if said else "")
        self.errors.setVisible(bool(said))

    def set_request(self, request: LocalRequest) -> None:
        """Fill the form again with what was typed (a closure the service refused)."""
        self.kind.setCurrentIndex(max(self.kind.findData(request.kind), 0))
        if request.resource_id is not None:
            self.resource.setCurrentIndex(max(self.resource.findData(request.resource_id), 0))
        days = request.whole_days()
        if days is not None:
            self._set_span(
                True,
                QDateTime(_qdate(days[0]), QTime(0, 0)),
                QDateTime(_qdate(days[1]), QTime(0, 0)),
            )
        else:
            self._set_span(
                False,
                QDateTime(_qdate(request.first_day), _qtime(request.first_minute)),
                QDateTime(_qdate(request.last_day), _qtime(request.last_minute)),
            )
        self.reason.setText(request.reason)
        repeat = request.repeat
        self.repeat.setCurrentIndex(max(self.repeat.findData(repeat.every), 0))
        for day, box in enumerate(self.weekdays):
            box.setChecked(day in repeat.weekdays)

    def _kind_changed(self) -> None:
        kind = self.kind.currentData()
        self.resource.clear()
        if kind == "closure":
            self.resource.addItem("The whole clinic", None)
            self.resource.setEnabled(False)
            return
        self.resource.setEnabled(True)
        for r in self.resources:
            if r.is_staff == (kind == "time_off"):
                self.resource.addItem(r.name, r.id)

    def request(self) -> LocalRequest:
        def split(edit: QDateTimeEdit) -> tuple[dt.date, int]:
            value = edit.dateTime()
            d, t = value.date(), value.time()
            return dt.date(d.year(), d.month(), d.day()), t.hour() * 60 + t.minute()

        first_day, first_minute = split(self.first)
        last_day, last_minute = split(self.last)
        if self.all_day.isChecked():
            return LocalRequest.for_days(
                self.kind.currentData(),
                first_day,
                last_day,
                self.reason.text(),
                self.resource.currentData(),
                self.chosen_repeat(),
            )
        return LocalRequest(
            kind=self.kind.currentData(),
            first_day=first_day,
            first_minute=first_minute,
            last_day=last_day,
            last_minute=last_minute,
            reason=self.reason.text(),
            resource_id=self.resource.currentData(),
            repeat=self.chosen_repeat(),
        )


class AvailabilityPage(QWidget):
    title = "Closures and time off"

    def __init__(self, desk: Desk, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.desk = desk
        #: The form the service last refused, and why: Add… opens with it again.
        self.refused_request: LocalRequest | None = None
        self.refused_errors: dict[str, str] = {}
        self.loaded: _Loaded | None = None
        self._pending_out_of_service: int | None = None
        self.last_applied: Applied | None = None
        self.dialog: ConsequencesDialog | None = None
        layout = QVBoxLayout(self)
        intro = QLabel(
            "Closures of the clinic, staff time off, and rooms or equipment out of service. "
            "Adding one shows the sessions it breaks and where they would go before anything "
            "is saved."
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.table = QTableWidget(0, len(COLUMNS), self)
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        layout.addWidget(self.table, 2)
        row = QHBoxLayout()
        self.add_button = QPushButton("Add…", self)
        self.remove_button = QPushButton("Remove", self)
        self.undo_button = QPushButton("Undo last change", self)
        self.undo_button.setEnabled(False)
        for b in (self.add_button, self.remove_button, self.undo_button):
            row.addWidget(b)
        row.addStretch(1)
        layout.addLayout(row)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        group = QGroupBox("Public holidays the clinic closes on", self)
        glay = QVBoxLayout(group)
        self.holidays = QListWidget(group)
        glay.addWidget(self.holidays)
        self.save_holidays = QPushButton("Save holiday choice", group)
        glay.addWidget(self.save_holidays, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(group, 1)
        self.add_button.clicked.connect(self._on_add_button_clicked)
        self.remove_button.clicked.connect(self._remove)
        self.undo_button.clicked.connect(self._undo)
        self.save_holidays.clicked.connect(self._save_holidays)
        self.refresh()

    # -- reading ------------------------------------------------------------------------------

    def refresh(self) -> None:
        desk = self.desk

        def work() -> _Loaded:
            now = desk.now()
            closures = availability.list_closures(desk.db, now=now)
            holidays = availability.holiday_choices(desk.db, now.year)
            holidays += availability.holiday_choices(desk.db, now.year + 1)
            resources = availability.resource_choices(desk.db)
            zone = availability.clinic_zone(desk.db)
            today = now.astimezone(zone).date()
            return _Loaded(
                closures,
                [h for h in holidays if h.day >= today],
                resources,
                zone,
                clinic_time_format(desk.db),
            )

        run_service(self, work, self._loaded, busy="Reading closures…")

    def _loaded(self, loaded: _Loaded) -> None:
        self.loaded = loaded
        self.table.setRowCount(len(loaded.closures))
        self.table.clearSpans()
        for r, c in enumerate(loaded.closures):
            start, end = c.starts_at.astimezone(loaded.zone), c.ends_at.astimezone(loaded.zone)
            if c.repeat.repeats:  # one line across From and To: its days and its hours
                said = repeat_words(start, end, c.repeat, loaded.time_format)
                ends: tuple[str, ...] = (said, "")
                self.table.setSpan(r, 0, 1, 2)
            else:
                said = span_words(start, end, loaded.time_format, year=True)
                ends = span_ends(start, end, loaded.time_format, year=True)
            cells = (*ends, c.kind_label, c.resource_name or "Whole clinic", c.reason)
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, c.id)
                item.setToolTip(f"{c.kind_label}, {said}: {c.reason}")
                self.table.setItem(r, col, item)
        self.holidays.clear()
        seen: set[str] = set()
        for h in loaded.holidays:
            if h.name in seen:
                continue
            seen.add(h.name)
            entry = QListWidgetItem(f"{h.name} ({short_date(h.day, year=True)})")
            entry.setData(Qt.ItemDataRole.UserRole, h.name)
            entry.setFlags(entry.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            entry.setCheckState(Qt.CheckState.Checked if h.closed else Qt.CheckState.Unchecked)
            self.holidays.addItem(entry)
        pending = self._pending_out_of_service
        if pending is not None:  # asked for before the page had read its choices
            QTimer.singleShot(0, self, lambda: self.add_out_of_service(pending))

    # -- adding: the form, the consequences, apply ----------------------------------------------

    def _on_add_button_clicked(self) -> None:
        self._add()  # (not connected itself: ``clicked`` would pass its ``checked`` as a form)

    def _add(self, prefill: LocalRequest | None = None) -> None:
        resources = self.loaded.resources if self.loaded else []
        now = self.desk.now()
        # The clinic's today, not UTC's: after 4 p.m. in California UTC is already tomorrow.
        today = now.astimezone(self.loaded.zone).date() if self.loaded else now.date()
        fmt = self.loaded.time_format if self.loaded else "12h"
        form = AddClosureDialog(resources, today, self, time_format=fmt)
        if prefill is not None:
            form.set_request(prefill)
        elif self.refused_request is not None:  # what was typed last time, and what was wrong
            form.set_request(self.refused_request)
            form.show_errors(self.refused_errors)
        if form.exec() == QDialog.DialogCode.Accepted:
            self.preview_closure(form.request())

    def add_out_of_service(self, resource_id: int) -> None:
        """The form for taking a room or piece of equipment out of service from now until the
        next day begins (it broke: a user trial had to type today over the form's tomorrow),
        opened once this page has read its choices."""
        if self.loaded is None:
            self._pending_out_of_service = resource_id
            self.refresh()
            return
        self._pending_out_of_service = None
        local = self.desk.now().astimezone(self.loaded.zone)
        minute = (local.hour * 60 + local.minute) // 5 * 5
        self._add(
            LocalRequest(
                kind="maintenance",
                first_day=local.date(),
                first_minute=minute,
                last_day=local.date() + dt.timedelta(days=1),
                last_minute=0,
                reason="",
                resource_id=resource_id,
            )
        )

    def preview_closure(self, request: LocalRequest) -> None:
        """Work out the consequences in the background, then show them."""
        desk = self.desk

        def work() -> Consequences:
            proposed = availability.from_local(desk.db, request)
            return consequences.preview(desk.db, proposed, now=desk.now())

        self.refused_request = None
        self.refused_errors = {}

        def refused(err: ServiceError) -> None:
            self.refused_request = request
            self.refused_errors = err.errors if isinstance(err, InvalidFields) else {}
            self._refused(err)

        run_service(self, work, self._show, failed=refused, busy="Looking at sessions…")

    def _show(self, preview: Consequences) -> None:
        self.dialog = ConsequencesDialog(self.desk, preview, self)
        self.dialog.finished.connect(self._dialog_finished)
        self.dialog.open()

    def _dialog_finished(self, _result: int) -> None:
        dialog = self.dialog
        if dialog is None or dialog.applied is None:
            return
        applied = dialog.applied
        self.last_applied = applied
        self.undo_button.setEnabled(True)
        self.status.setText(applied_text(applied, dialog.preview.calendar))
        self.refresh()

    def _refused(self, err: ServiceError) -> None:
        if isinstance(err, InvalidFields):  # each mistake named by the form's own label
            said = "; ".join(
                f"{FIELD_LABELS.get(name, name)}: {message}" for name, message in err.errors.items()
            )
            self.status.setText(f"Not saved. {said} (Add… shows the form again as typed.)")
        else:
            self.status.setText(f"Not saved: {err}")

    # -- removing, undoing, holidays -------------------------------------------------------------

    def selected_closure(self) -> int | None:
        items = self.table.selectedItems()
        return items[0].data(Qt.ItemDataRole.UserRole) if items else None

    def _remove(self) -> None:
        closure_id = self.selected_closure()
        if closure_id is None:
            self.status.setText("Choose a closure to remove.")
            return
        desk = self.desk

        def work() -> None:
            availability.remove_closure(desk.db, desk.actor, closure_id, now=desk.now())

        run_service(self, work, self._changed("Removed."), writes=True, busy="Removing…")

    def _undo(self) -> None:
        applied = self.last_applied
        if applied is None:
            return
        desk = self.desk

        def work() -> None:
            consequences.undo(desk.db, desk.actor, applied, now=desk.now())

        def done(_: Any) -> None:
            self.last_applied = None
            self.undo_button.setEnabled(False)
            self._changed("Undone: the closure is gone and the sessions are back.")(None)

        run_service(self, work, done, failed=self._refused, writes=True, busy="Undoing…")

    def _save_holidays(self) -> None:
        names = []
        for i in range(self.holidays.count()):
            item = self.holidays.item(i)
            if item.checkState() == Qt.CheckState.Checked:
                names.append(item.data(Qt.ItemDataRole.UserRole))
        every = len(names) == self.holidays.count()
        desk = self.desk

        def work() -> None:
            availability.set_holidays_closed(
                desk.db, desk.actor, None if every else names, now=desk.now()
            )

        run_service(self, work, self._changed("Holiday choice saved."), writes=True)

    def _changed(self, message: str) -> Any:
        def done(_: Any) -> None:
            self.status.setText(message)
            self.refresh()

        return done


def _qdate(day: dt.date) -> QDate:
    return QDate(day.year, day.month, day.day)


def _qtime(minute: int) -> QTime:
    return QTime(minute // 60, minute % 60)
