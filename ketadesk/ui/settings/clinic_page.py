"""The Clinic page of Settings: name, address, phone, logo, time zone, time format, paper size, the
appointment card's size and stock, and opening hours, read and saved through
services/settings/clinic_details.py on a worker."""

from __future__ import annotations

import functools
import zoneinfo
from pathlib import Path

from PySide6.QtCore import QSize, Qt, QTime, Signal
from PySide6.QtGui import QPalette, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QCompleter,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ketadesk.scheduling.catalog import CARD_SIZES, WEEKDAYS
from ketadesk.scheduling.dates import TIME_FORMAT_LABELS, TIME_FORMATS
from ketadesk.services.common.context import InvalidFields, ServiceError
from ketadesk.services.settings.clinic_details import (
    ClinicDetails,
    DayHours,
    LogoImage,
    clinic_details,
    read_logo_file,
    save_clinic_details,
)
from ketadesk.ui.common.background import LatestOnly, run_service
from ketadesk.ui.common.date_fields import TimeField
from ketadesk.ui.common.desk import Desk
from ketadesk.ui.patients.patient_form import DATE_HINT, error_color

#: The paper sizes offered, as the services name them and as people do.
PAPER_LABELS = {"letter": "US Letter (8.5 × 11 in)", "legal": "US Legal (8.5 × 14 in)", "a4": "A4"}
#: What appointment cards are printed on ([clinic] card_stock), as people say it.
CARD_STOCK_LABELS = {
    "sheet": "The paper above, cut along crop marks",
    "card": "Card stock, one card a page",
}
DAY_LABELS = dict(zip(WEEKDAYS, ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday",
                                 "Saturday", "Sunday"), strict=True))  # fmt: skip
FIELD_LABELS = {
    "name": "Clinic name",
    "address": "Address",
    "phone": "Phone",
    "timezone": "Time zone",
    "time_format": "Times shown as",
    "paper_size": "Paper size",
    "card_size": "Appointment card",
    "card_stock": "Cards printed on",
    "logo": "Logo",
    "hours": "Opening hours",
    "clinic": "Configuration",
    "rems_certified_until": "Certified until",
    **{f"hours.{day}": label for day, label in DAY_LABELS.items()},
}
LOGO_PREVIEW = QSize(160, 64)
ADDRESS_ROWS = 3
#: How opening hours are stored ("HH:MM", services/settings/clinic_details.py), not shown.
STORED_TIME = "HH:mm"


@functools.cache
def time_zone_names() -> tuple[str, ...]:
    """Every IANA zone name, the US ones first (a US clinic picks from those)."""
    names = sorted(n for n in zoneinfo.available_timezones() if "/" in n)
    us = [n for n in names if n.startswith(("America/", "Pacific/Honolulu"))]
    return tuple(us + [n for n in names if n not in us])


class _DayRow:
    """One weekday's row of the opening hours: open or not, from, to, and what is wrong."""

    def __init__(self, day: str, parent: QWidget) -> None:
        self.day = day
        self.open = QCheckBox(DAY_LABELS[day], parent)
        self.open.setObjectName(f"open_{day}")
        self.opens = TimeField(parent)
        self.closes = TimeField(parent)
        for edit, what in ((self.opens, "opens"), (self.closes, "closes")):
            edit.setObjectName(f"{what}_{day}")
            edit.setAccessibleName(f"{DAY_LABELS[day]} {what}")
        self.error = QLabel(parent)
        self.error.setObjectName(f"error_hours.{day}")
        self.error.setVisible(False)
        self.open.toggled.connect(self._on_open_toggled)

    def _on_open_toggled(self, checked: bool) -> None:
        self.opens.setEnabled(checked)
        self.closes.setEnabled(checked)

    def hours(self) -> DayHours:
        if not self.open.isChecked():
            return DayHours(self.day, False)
        return DayHours(
            self.day,
            True,
            self.opens.time().toString(STORED_TIME),
            self.closes.time().toString(STORED_TIME),
        )

    def set_hours(self, hours: DayHours) -> None:
        self.open.setChecked(hours.open)
        self._on_open_toggled(hours.open)
        if hours.open:
            self.opens.setTime(QTime.fromString(hours.opens, STORED_TIME))
            self.closes.setTime(QTime.fromString(hours.closes, STORED_TIME))

    def set_time_format(self, fmt: str) -> None:
        self.opens.set_time_format(fmt)
        self.closes.set_time_format(fmt)


class ClinicPage(QWidget):
    """The clinic's own details, edited and saved as one form.

    Signals:
        loaded(): the details were read (after ``refresh``).
        saved(): the details were saved (or there was nothing to change).
        not_saved(): a save was refused; the mistakes are marked at their fields.

    Attributes:
        details: the details as last read or saved (None before the first read).
        fields: the editor of each field by its service name.
        errors: the label under each field naming what is wrong.
    """

    title = "Clinic"
    loaded = Signal()
    saved = Signal()
    not_saved = Signal()

    def __init__(self, desk: Desk, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("clinic_page")
        self._desk = desk
        self._reads = LatestOnly(self, busy="Reading the clinic's details…")
        self._saving = False
        self.details: ClinicDetails | None = None
        self._logo: LogoImage | None = None
        self.fields: dict[str, QWidget] = {}
        self.errors: dict[str, QLabel] = {}
        layout = QVBoxLayout(self)
        self.message = QLabel(self)
        self.message.setObjectName("message")
        self.message.setWordWrap(True)
        self.message.setVisible(False)
        layout.addWidget(self.message)
        layout.addWidget(self._build_details())
        layout.addWidget(self._build_rems())
        layout.addWidget(self._build_hours())
        layout.addStretch(1)
        layout.addLayout(self._build_buttons())
        for label in (*self.errors.values(), self.message):
            self._color_error(label)
        self.setEnabled(False)  # until the details are read

    # -- building -----------------------------------------------------------------------------

    def _build_details(self) -> QGroupBox:
        box = QGroupBox("The clinic", self)
        form = QFormLayout(box)
        self.name_edit = QLineEdit(box)
        self.address_edit = QPlainTextEdit(box)
        rows = self.address_edit.fontMetrics().lineSpacing() * ADDRESS_ROWS
        self.address_edit.setFixedHeight(rows + 2 * self.address_edit.frameWidth() + 8)
        self.address_edit.setTabChangesFocus(True)
        self.phone_edit = QLineEdit(box)
        self.phone_edit.setPlaceholderText("(555) 555-0100")
        self.timezone_combo = QComboBox(box)
        self.timezone_combo.setEditable(True)
        self.timezone_combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.timezone_combo.addItems(time_zone_names())
        completer = QCompleter(list(time_zone_names()), self.timezone_combo)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        self.timezone_combo.setCompleter(completer)
        self.paper_combo = QComboBox(box)
        for code, label in PAPER_LABELS.items():
            self.paper_combo.addItem(label, code)
        self._add_row(form, "name", self.name_edit)
        self._add_row(form, "address", self.address_edit)
        self._add_row(form, "phone", self.phone_edit)
        self._add_row(form, "logo", self._build_logo(box))
        self._add_row(form, "timezone", self.timezone_combo)
        self.time_format_combo = QComboBox(box)
        self.time_format_combo.setObjectName("time_format")
        for code in TIME_FORMATS:
            self.time_format_combo.addItem(TIME_FORMAT_LABELS[code], code)
        self.time_format_combo.currentIndexChanged.connect(
            self._on_time_format_combo_current_index_changed
        )
        self._add_row(form, "time_format", self.time_format_combo)
        self._add_row(form, "paper_size", self.paper_combo)
        self.card_size_combo = QComboBox(box)
        self.card_size_combo.setObjectName("card_size")
        for code, (_width, _height, label) in CARD_SIZES.items():
            self.card_size_combo.addItem(label, code)
        self.card_stock_combo = QComboBox(box)
        self.card_stock_combo.setObjectName("card_stock")
        for code, label in CARD_STOCK_LABELS.items():
            self.card_stock_combo.addItem(label, code)
        self._add_row(form, "card_size", self.card_size_combo)
        self._add_row(form, "card_stock", self.card_stock_combo)
        return box

    def _build_rems(self) -> QGroupBox:
        """The site's Spravato REMS certification: the last day it covers (month first)."""
        box = QGroupBox("REMS certification", self)
        box.setObjectName("rems_box")
        form = QFormLayout(box)
        self.rems_until_edit = QLineEdit(box)
        self.rems_until_edit.setObjectName("rems_certified_until")
        self.rems_until_edit.setPlaceholderText(DATE_HINT)
        self.rems_until_edit.setMaximumWidth(
            self.rems_until_edit.fontMetrics().horizontalAdvance("00/00/00000") * 2
        )
        self._add_row(form, "rems_certified_until", self.rems_until_edit)
        hint = QLabel(
            "The last day the site's Spravato REMS certification covers (MM/DD/YYYY). Spravato "
            "sessions after it are refused until a renewed date is entered here.",
            box,
        )
        hint.setWordWrap(True)
        form.addRow(hint)
        return box

    def _build_logo(self, parent: QWidget) -> QWidget:
        cell = QWidget(parent)
        row = QHBoxLayout(cell)
        row.setContentsMargins(0, 0, 0, 0)
        self.logo_preview = QLabel("No logo", cell)
        self.logo_preview.setObjectName("logo_preview")
        self.logo_preview.setFixedSize(LOGO_PREVIEW)
        self.logo_preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.logo_preview.setFrameShape(QLabel.Shape.StyledPanel)
        self.choose_logo_button = QPushButton("Choose image…", cell)
        self.remove_logo_button = QPushButton("Remove", cell)
        self.choose_logo_button.clicked.connect(self._on_choose_logo_button_clicked)
        self.remove_logo_button.clicked.connect(self._on_remove_logo_button_clicked)
        row.addWidget(self.logo_preview)
        row.addWidget(self.choose_logo_button)
        row.addWidget(self.remove_logo_button)
        row.addStretch(1)
        return cell

    def _build_hours(self) -> QGroupBox:
        box = QGroupBox("Opening hours (clinic time)", self)
        grid = QGridLayout(box)
        grid.addWidget(QLabel("Open on", box), 0, 0)
        grid.addWidget(QLabel("From", box), 0, 1)
        grid.addWidget(QLabel("To", box), 0, 2)
        self.day_rows: dict[str, _DayRow] = {}
        for line, day in enumerate(WEEKDAYS, start=1):
            row = _DayRow(day, box)
            grid.addWidget(row.open, line, 0)
            grid.addWidget(row.opens, line, 1)
            grid.addWidget(row.closes, line, 2)
            grid.addWidget(row.error, line, 3)
            self.day_rows[day] = row
            self.errors[f"hours.{day}"] = row.error
        grid.setColumnStretch(3, 1)
        return box

    def _build_buttons(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.status = QLabel(self)
        self.status.setObjectName("status")
        self.revert_button = QPushButton("Revert", self)
        self.save_button = QPushButton("Save", self)
        self.save_button.setDefault(True)
        self.revert_button.clicked.connect(self.refresh)
        self.save_button.clicked.connect(self.save)
        row.addWidget(self.status, 1)
        row.addWidget(self.revert_button)
        row.addWidget(self.save_button)
        return row

    def _add_row(self, form: QFormLayout, name: str, editor: QWidget) -> None:
        cell = QWidget(form.parentWidget())
        stack = QVBoxLayout(cell)
        stack.setContentsMargins(0, 0, 0, 0)
        stack.setSpacing(2)
        stack.addWidget(editor)
        error = QLabel(cell)
        error.setObjectName(f"error_{name}")
        error.setWordWrap(True)
        error.setVisible(False)
        stack.addWidget(error)
        caption = QLabel(f"{FIELD_LABELS[name]}:", cell)
        caption.setBuddy(editor)
        editor.setAccessibleName(FIELD_LABELS[name])
        form.addRow(caption, cell)
        self.fields[name] = editor
        self.errors[name] = error

    def _color_error(self, label: QLabel) -> None:
        palette = label.palette()
        palette.setColor(QPalette.ColorRole.WindowText, error_color(self.palette()))
        label.setPalette(palette)

    # -- reading ------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Read the details as stored now (on a worker), replacing what the form shows."""
        db = self._desk.db
        self._reads.run(lambda: clinic_details(db), self._on_details_read)

    def is_loading(self) -> bool:
        return self._reads.is_busy()

    def _on_details_read(self, details: ClinicDetails) -> None:
        self.set_details(details)
        self.show_errors({})
        self.status.setText("")
        self.setEnabled(True)
        self.loaded.emit()

    def set_details(self, details: ClinicDetails) -> None:
        self.details = details
        self.name_edit.setText(details.name)
        self.address_edit.setPlainText(details.address)
        self.phone_edit.setText(details.phone)
        self.timezone_combo.setCurrentText(details.timezone)
        self.time_format_combo.setCurrentIndex(
            max(self.time_format_combo.findData(details.time_format), 0)
        )
        self.paper_combo.setCurrentIndex(max(self.paper_combo.findData(details.paper_size), 0))
        for combo, code in (
            (self.card_size_combo, details.card_size),
            (self.card_stock_combo, details.card_stock),
        ):
            combo.setCurrentIndex(max(combo.findData(code), 0))
        for hours in details.hours:
            self.day_rows[hours.day].set_hours(hours)
        self._set_logo(details.logo)
        self.rems_until_edit.setText(details.rems_certified_until)

    def form(self) -> ClinicDetails:
        """The details as the form holds them now."""
        assert self.details is not None, "the details are read before the form is used"
        return ClinicDetails(
            name=self.name_edit.text(),
            address=self.address_edit.toPlainText(),
            phone=self.phone_edit.text(),
            timezone=self.timezone_combo.currentText().strip(),
            paper_size=str(self.paper_combo.currentData()),
            hours=tuple(row.hours() for row in self.day_rows.values()),
            logo=self._logo,
            logo_max_kb=self.details.logo_max_kb,
            card_size=str(self.card_size_combo.currentData()),
            card_stock=str(self.card_stock_combo.currentData()),
            time_format=str(self.time_format_combo.currentData()),
            rems_certified_until=self.rems_until_edit.text().strip(),
        )

    def _on_time_format_combo_current_index_changed(self, _index: int) -> None:
        """The opening hours say their times the way the clinic will read them."""
        for row in self.day_rows.values():
            row.set_time_format(str(self.time_format_combo.currentData()))

    def is_dirty(self) -> bool:
        return self.details is not None and self.form() != self.details

    # -- the logo -----------------------------------------------------------------------------

    @classmethod
    def ask_logo_file(cls, parent: QWidget) -> Path | None:
        """The image file the user chooses (tests replace this)."""
        name, _ = QFileDialog.getOpenFileName(
            parent, "Choose the clinic's logo", "", "Images (*.png *.jpg *.jpeg *.svg)"
        )
        return Path(name) if name else None

    def _on_choose_logo_button_clicked(self) -> None:
        path = self.ask_logo_file(self)
        if path is not None:
            self.use_logo_file(path)

    def use_logo_file(self, path: Path) -> None:
        """Read and check the image on a worker; shown in the preview, saved with the form."""
        limit = self.details.logo_max_kb if self.details else 0

        def failed(err: ServiceError) -> None:
            self.show_errors(err.errors if isinstance(err, InvalidFields) else {"logo": str(err)})

        run_service(
            self,
            lambda: read_logo_file(path, limit),
            self._on_logo_read,
            failed=failed,
            busy="Reading the image…",
        )

    def _on_logo_read(self, logo: LogoImage) -> None:
        self._set_logo(logo)
        self.errors["logo"].setVisible(False)

    def _on_remove_logo_button_clicked(self) -> None:
        self._set_logo(None)

    def _set_logo(self, logo: LogoImage | None) -> None:
        self._logo = logo
        self.remove_logo_button.setEnabled(logo is not None)
        if logo is None:
            self.logo_preview.setPixmap(QPixmap())
            self.logo_preview.setText("No logo")
            return
        pixmap = QPixmap()
        if pixmap.loadFromData(logo.raw()) and not pixmap.isNull():
            self.logo_preview.setPixmap(
                pixmap.scaled(
                    LOGO_PREVIEW,
                    Qt.AspectRatioMode.KeepAspectRatio,
                    Qt.TransformationMode.SmoothTransformation,
                )
            )
        else:
            self.logo_preview.setText(f"{logo.format.upper()}, {logo.size_bytes // 1024 + 1} KB")

    # -- saving -------------------------------------------------------------------------------

    def is_saving(self) -> bool:
        return self._saving

    def save(self) -> None:
        """Save the form on the writer worker; mistakes are marked at their fields."""
        if self._saving or self.details is None:
            return
        details, desk = self.form(), self._desk
        self._saving = True
        self.save_button.setEnabled(False)
        run_service(
            self,
            lambda: save_clinic_details(desk.db, desk.actor, details, now=desk.now()),
            self._on_saved,
            failed=self._on_save_refused,
            busy="Saving the clinic's details…",
            writes=True,
        )

    def _on_saved(self, details: ClinicDetails) -> None:
        self._saving = False
        self.save_button.setEnabled(True)
        self.set_details(details)
        self.show_errors({})
        self.status.setText("Saved.")
        self.saved.emit()

    def _on_save_refused(self, err: ServiceError) -> None:
        self._saving = False
        self.save_button.setEnabled(True)
        if isinstance(err, InvalidFields):
            self.show_errors(err.errors)
        else:
            self.show_errors({})
            self._show_message(f"Not saved: {err}")
        self.status.setText("")
        self.not_saved.emit()

    def show_errors(self, errors: dict[str, str]) -> None:
        for name, label in self.errors.items():
            message = errors.get(name, "")
            label.setText(message)
            label.setVisible(bool(message))
            editor = self.fields.get(name)
            if editor is not None:
                editor.setProperty("invalid", bool(message))
        unplaced = {n: m for n, m in errors.items() if n not in self.errors}
        if errors:
            names = ", ".join(FIELD_LABELS.get(n, n) for n in errors)
            extra = "".join(f" {m}" for m in unplaced.values())
            self._show_message(f"Please correct (nothing has been saved): {names}.{extra}")
        else:
            self.message.setVisible(False)

    def _show_message(self, text: str) -> None:
        self.message.setText(text)
        self.message.setVisible(True)
