"""The monitoring record of one dosing session: BP checks, dose and lot, observations, discharge.

The dialog checks what is typed with ``services.monitoring.validate_record`` (no database) as
the nurse works: warnings (a high BP, a low SpO2) appear beside the field in amber at once;
refusals (a BP that cannot be real, a discharge before the dose) appear in red at the field
once it has been left, or on Save, and nothing is saved until they are fixed.  A line at the
bottom says what the REMS Patient Monitoring Form still lacks.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import html
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QKeySequence, QPalette, QShortcut, QShowEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLayout,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from ketadesk.scheduling.words import role_name
from ketadesk.services.common.context import InvalidFields, ServiceError, may
from ketadesk.services.monitoring import completion, records, rems, validation
from ketadesk.services.monitoring.completion import ChairRefused
from ketadesk.services.monitoring.record_forms import (
    DISSOCIATION_CHOICES,
    SEDATION_CHOICES,
    ChairOverride,
    CheckDue,
    Checked,
    ReadingForm,
    RecordForm,
    RecordSheet,
    SaveResult,
    after_dose_words,
    check_after_dose_words,
    duration_words,
    reading_field,
)
from ketadesk.ui.common.app import has_screen
from ketadesk.ui.common.background import run_service
from ketadesk.ui.common.dates import short_date
from ketadesk.ui.common.desk import Desk
from ketadesk.ui.common.qt_workarounds import keep_none_alive
from ketadesk.ui.monitoring.scale_panel import LATE_MARK, ScalePanel

if TYPE_CHECKING:
    from typing_extensions import override
else:  # typing.override is Python 3.12+; the decorator only informs the type checker.
    _F = TypeVar("_F")

    def override(method: _F) -> _F:
        return method


READING_COLUMNS = (
    ("time", "Time", "HH:MM"),
    ("systolic", "Systolic", "mmHg"),
    ("diastolic", "Diastolic", "mmHg"),
    ("heart_rate", "HR", "/min"),
    ("spo2", "SpO2", "%"),
)
COLUMN_WORDS = {key: words for key, words, _ in READING_COLUMNS}


#: How a field's message starts, by kind: a refusal; a hard stop (red, bold) or a warning
#: (amber); a note of what a reading did (a pre-dose recheck that cleared dosing: plain).
#: (No "⛔": the fonts Qt finds offscreen and on some desks draw it as a box.)
MESSAGE_MARKS = {"error": "✖ ", "stop": "⚠ ", "warning": "⚠ ", "note": "✔ "}


def message_colors(palette: QPalette) -> tuple[QColor, QColor]:
    """Red for refusals and amber for warnings, readable on the palette's window colour."""
    dark = palette.color(QPalette.ColorRole.Window).lightness() < 128
    if dark:
        return QColor("#ff7b72"), QColor("#f2b84b")
    return QColor("#b3261e"), QColor("#8a5300")


class _ReadingRow:
    """The editors of one reading (a configured check, or an extra one with its own label)."""

    def __init__(
        self, dialog: MonitoringDialog, form: ReadingForm, due: str, late: str = ""
    ) -> None:
        self.scheduled = form.scheduled
        self.loaded = form
        self.label_edit: QLineEdit | None = None
        if form.scheduled:
            self.label: QLabel | QLineEdit = QLabel(form.label, dialog)
        else:
            self.label_edit = QLineEdit(form.label, dialog)
            self.label_edit.setPlaceholderText("Reading name")
            self.label_edit.setAccessibleName("Name of the extra reading")
            self.label = self.label_edit
        self.due = QLabel(due, dialog)
        self.edits: dict[str, QLineEdit] = {}
        name = form.label or "extra reading"
        for key, words, unit in READING_COLUMNS:
            edit = QLineEdit(getattr(form, key), dialog)
            edit.setPlaceholderText(unit)
            edit.setAccessibleName(f"{name}: {words}")
            edit.setMaximumWidth(90 if key == "time" else 80)
            self.edits[key] = edit
        self.now_button = QPushButton("Now", dialog)
        self.now_button.setAccessibleName(f"{name}: time now")
        self.now_button.setToolTip("Fill in the current time")
        self.now_button.setAutoDefault(False)
        self.message = QLabel(dialog)
        self.message.setWordWrap(True)
        self.message.setVisible(False)
        # A reading entered well after it was taken says so, as the paper does: a mark on its
        # row, when and by whom in the tooltip (``[chair] late_entry_minutes``).
        self.late = QLabel(LATE_MARK, dialog)
        self.late.setObjectName("late_entry")
        self.late.setToolTip(f"Late entry: {late}")
        self.late.setAccessibleName(f"{name}: late entry, {late}")
        self.late_words = late
        self.late.setVisible(bool(late))

    def show_late(self) -> None:
        """The late-entry mark stands for the reading as stored: once its time or a value is
        typed over, the save enters it anew (now), and the mark goes."""
        same = all(getattr(self.loaded, key) == edit.text() for key, edit in self.edits.items())
        self.late.setVisible(bool(self.late_words) and same)

    def form(self) -> ReadingForm:
        label = self.label_edit.text() if self.label_edit is not None else self.label.text()
        values = {key: edit.text() for key, edit in self.edits.items()}
        return ReadingForm(label=label, scheduled=self.scheduled, **values)

    def editors(self) -> list[QLineEdit]:
        return ([self.label_edit] if self.label_edit is not None else []) + list(
            self.edits.values()
        )


class MonitoringDialog(QDialog):
    """The monitoring record of one dosing session.

    Signals:
        saved(int): the appointment whose record was saved.

    Attributes:
        sheet: what the service returned for the session when the dialog opened.
        field_messages: the message shown at each field now, by field key (for tests).
    """

    saved = Signal(int)

    def __init__(
        self,
        desk: Desk,
        appointment_id: int,
        parent: QWidget | None = None,
        *,
        sheet: RecordSheet,
    ) -> None:
        """``sheet`` is the record as ``monitoring.open_record`` read it (``open_for``)."""
        super().__init__(parent)
        self._desk = desk
        self._id = appointment_id
        self.setObjectName("monitoring_dialog")
        self.sheet: RecordSheet = sheet
        self.field_messages: dict[str, tuple[str, str]] = {}  # key -> (kind, message)
        self._touched: set[str] = set()
        self.save_result: SaveResult | None = None
        self._saving = False
        self._show_all_errors = False
        self._version = self.sheet.form.version
        # The warnings the record already carried when it was opened: a save bringing a new one
        # stays open to show it ("Saved; note: …") rather than closing over it.
        opened = validation.validate_record(sheet.form, sheet.rules, now=desk.now())
        self._known_warnings = {*opened.warnings.values(), *opened.stops.values()}
        # The dose start as saved (None: none yet): "Discharge allowed" is laid from it only,
        # never from one typed and refused (a user trial).
        self._saved_dose_at = opened.dose_started_at if self._version else None
        self._saving_dose_at: dt.datetime | None = None
        sheet = self.sheet
        day = sheet.rules.calendar.local(sheet.starts_at)
        self.setWindowTitle(f"Monitoring record — {sheet.patient_name}")

        title = QLabel(
            f"<b>{sheet.patient_name}</b> (chart {sheet.chart_number}) · {sheet.session_name} · "
            f"{short_date(day, year=True)}, {sheet.rules.clock(sheet.starts_at)}",
            self,
        )
        title.setTextFormat(Qt.TextFormat.RichText)
        title.setObjectName("monitoring_title")
        self._schedule_label = QLabel(self)
        self._schedule_label.setObjectName("monitoring_schedule")
        self._schedule_label.setWordWrap(True)

        # Readings -------------------------------------------------------------------------
        self._readings_box = QGroupBox("Blood pressure, heart rate and SpO2", self)
        self._grid = QGridLayout(self._readings_box)
        self._grid.setHorizontalSpacing(8)
        self._grid.setColumnStretch(3 + len(COLUMN_WORDS), 1)  # spare width goes right
        for column, words in enumerate(["Check", "Due", *COLUMN_WORDS.values()]):
            header = QLabel(f"<b>{words}</b>", self._readings_box)
            self._grid.addWidget(header, 0, column)
        self._rows: list[_ReadingRow] = []
        due_by_label = {c.label: c for c in sheet.schedule.checks}
        for reading in sheet.form.readings:
            check = due_by_label.get(reading.label)
            due = sheet.rules.clock(check.due_at) if check is not None else ""
            self._add_row(reading, due)
        self._add_reading = QPushButton("Add reading", self._readings_box)
        self._add_reading.setAccessibleName("Add an extra reading")
        self._add_reading.setAutoDefault(False)
        self._add_reading.clicked.connect(self._on_add_reading_clicked)

        # Timed scales (MOAA/S, CADSS), saved as each is entered --------------------------
        self._scale_panel = (
            ScalePanel(desk, appointment_id, sheet.scales, sheet.rules.clock, self)
            if sheet.scales is not None
            else None
        )

        # Dose -----------------------------------------------------------------------------
        form = sheet.form
        self._dose_mg = self._line(form.dose_mg, "Dose (mg)", "mg")
        self._devices = self._line(form.devices, "Devices", "number of devices")
        self._lot = self._line(form.lot_number, "Lot number", "as printed on the device")
        self._dose_started = self._line(form.dose_started, "Dose started", "HH:MM")
        self._dose_now = QPushButton("Now", self)
        self._dose_now.setAccessibleName("Dose started: time now")
        self._dose_now.setAutoDefault(False)
        self._dose_now.clicked.connect(lambda: self._fill_now(self._dose_started))

        # Observations ---------------------------------------------------------------------
        self._sedation = self._combo("Sedation", SEDATION_CHOICES, form.sedation)
        self._dissociation = self._combo("Dissociation", DISSOCIATION_CHOICES, form.dissociation)
        self._respiratory = QCheckBox("Respiratory depression", self)
        self._respiratory.setChecked(form.respiratory_depression)
        self._respiratory.setAccessibleName("Respiratory depression")
        # Discharge waits until each effect seen is marked resolved (DOMAIN.md "Discharge").
        self._resolved = {
            key: self._resolved_box(words, checked)
            for key, words, checked in (
                ("sedation_resolved", "Sedation", form.sedation_resolved),
                ("dissociation_resolved", "Dissociation", form.dissociation_resolved),
                ("respiratory_resolved", "Respiratory depression", form.respiratory_resolved),
            )
        }
        # An effect the session type times with a scale is judged at discharge by its last
        # reading, not by a mark: the mark is not offered (``scale_rules.scaled_effects``).
        scaled = sheet.scales.scales if sheet.scales is not None else {}
        for code, key, combo in (
            ("moaas", "sedation_resolved", self._sedation),
            ("cadss", "dissociation_resolved", self._dissociation),
        ):
            if code in scaled:
                self._resolved[key].setVisible(False)
                combo.setToolTip(
                    f"Discharge judges this by the last {scaled[code]} reading (scales below)"
                )
        self._events = QPlainTextEdit(form.events, self)
        self._events.setAccessibleName("Events")
        self._events.setPlaceholderText("Adverse events, interventions, how they resolved")
        self._events.setMaximumHeight(70)

        # Discharge ------------------------------------------------------------------------
        self._discharged = self._line(form.discharged, "Discharged at", "HH:MM")
        self._discharge_now = QPushButton("Now", self)
        self._discharge_now.setAccessibleName("Discharged at: time now")
        self._discharge_now.setAutoDefault(False)
        self._discharge_now.clicked.connect(lambda: self._fill_now(self._discharged))
        self._minutes = QLabel(self)
        self._minutes.setObjectName("monitoring_minutes")
        self._monitored_by = QComboBox(self)
        self._monitored_by.setAccessibleName("Monitored by")
        self._monitored_by.addItem("—", None)
        for staff in sheet.staff:
            self._monitored_by.addItem(f"{staff.name} ({role_name(staff.role)})", staff.id)
        found = self._monitored_by.findData(form.monitored_by_id)
        self._monitored_by.setCurrentIndex(max(found, 0))

        self._messages: dict[str, QLabel] = {}
        rems_box = self._build_rems_box(form)
        dose_box = QGroupBox("Dose", self)
        dose_form = QFormLayout(dose_box)
        self._form_row(dose_form, "Dose (mg)", self._dose_mg, "dose_mg")
        if sheet.uses_devices:
            self._form_row(dose_form, "Devices", self._devices, "devices")
            self._form_row(dose_form, "Lot number", self._lot, "lot_number")
        else:  # devices and their lot belong to a type dosed in devices (Spravato) only
            self._devices.hide()
            self._lot.hide()
        self._form_row(
            dose_form, "Dose started", self._dose_started, "dose_started", self._dose_now
        )
        obs_box = QGroupBox("Observations", self)
        obs_form = QFormLayout(obs_box)
        self._form_row(
            obs_form, "Sedation", self._sedation, "sedation", self._resolved["sedation_resolved"]
        )
        self._form_row(
            obs_form,
            "Dissociation",
            self._dissociation,
            "dissociation",
            self._resolved["dissociation_resolved"],
        )
        respiratory = QHBoxLayout()
        respiratory.addWidget(self._respiratory)
        respiratory.addWidget(self._resolved["respiratory_resolved"])
        respiratory.addStretch(1)
        obs_form.addRow("", respiratory)
        obs_form.addRow("Events", self._events)
        discharge_box = QGroupBox("Discharge", self)
        discharge_form = QFormLayout(discharge_box)
        self._form_row(
            discharge_form, "Discharged at", self._discharged, "discharged", self._discharge_now
        )
        discharge_form.addRow("Minutes monitored", self._minutes)
        self._form_row(discharge_form, "Monitored by", self._monitored_by, "monitored_by_id")

        self._rems = QLabel(self)
        self._rems.setObjectName("monitoring_rems")
        self._rems.setWordWrap(True)
        self._rems.setVisible(sheet.rems)
        self._status = QLabel(self)
        self._status.setObjectName("monitoring_status")
        self._status.setWordWrap(True)
        self._build_chair_rules(sheet)

        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel, self
        )
        self._save = buttons.button(QDialogButtonBox.StandardButton.Save)
        self._close = buttons.button(QDialogButtonBox.StandardButton.Cancel)
        self._save.setAccessibleName("Save the monitoring record")
        buttons.accepted.connect(self._on_save_clicked)
        buttons.rejected.connect(self.reject)
        if not may(desk.actor, "record_monitoring"):
            self._save.setEnabled(False)
            self._save.setToolTip("Only nurses and prescribers record monitoring")
        QShortcut(QKeySequence.StandardKey.Save, self, self._on_save_clicked)

        body = QWidget(self)
        body_layout = QVBoxLayout(body)
        body_layout.setContentsMargins(0, 0, 0, 0)
        body_layout.addWidget(self._readings_box)
        if self._scale_panel is not None:
            body_layout.addWidget(self._scale_panel)
        columns = QHBoxLayout()
        left = QVBoxLayout()
        left.addWidget(dose_box)
        left.addWidget(discharge_box)
        left.addStretch(1)
        columns.addLayout(left, 1)
        right = QVBoxLayout()
        right.addWidget(obs_box)
        right.addWidget(rems_box)
        right.addStretch(1)
        columns.addLayout(right, 1)
        body_layout.addLayout(columns)
        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(body)
        layout = QVBoxLayout(self)
        # Messages come and go as the nurse types; the window keeps its size meanwhile (and
        # the offscreen platform has no size hints to pass on).
        layout.setSizeConstraint(QLayout.SizeConstraint.SetNoConstraint)
        layout.addWidget(title)
        layout.addWidget(self._schedule_label)
        layout.addWidget(scroll, 1)
        layout.addWidget(self._rems)
        layout.addWidget(self._overrides)
        layout.addWidget(self._status)
        chair_row = QHBoxLayout()
        chair_row.addStretch(1)
        chair_row.addWidget(self._override)
        layout.addLayout(chair_row)
        layout.addWidget(buttons)

        keep_none_alive()  # many small calls while typing: see qt_workarounds
        self._connect_editors()
        self._place_add_button()
        self._refresh()
        self.resize(880, 640)

    def _resolved_box(self, words: str, checked: bool) -> QCheckBox:
        box = QCheckBox("Resolved", self)
        box.setChecked(checked)
        box.setAccessibleName(f"{words} resolved")
        return box

    def _build_chair_rules(self, sheet: RecordSheet) -> None:
        """The chair rules set aside for this session, and the prescriber's override of a
        refusal (shown once a save is refused)."""
        self._overrides = QLabel(self)
        self._overrides.setObjectName("monitoring_overrides")
        self._overrides.setWordWrap(True)
        self._show_overrides(sheet.overrides)
        self._refused: ChairRefused | None = None
        self._override = QPushButton("Override with a reason…", self)
        self._override.setObjectName("monitoring_override")
        self._override.setAccessibleName("Override the refused rules with a reason")
        self._override.setAutoDefault(False)
        self._override.setVisible(False)
        self._override.clicked.connect(self._on_override_clicked)

    def _show_overrides(self, overrides: tuple[ChairOverride, ...]) -> None:
        lines = [
            f"Overridden: <b>{o.title}</b> — {o.reason} ({o.by}, {self.sheet.rules.clock(o.at)})"
            for o in overrides
        ]
        self._overrides.setText("<br>".join(lines))
        self._overrides.setVisible(bool(lines))

    # -- entry point -------------------------------------------------------------------------

    @classmethod
    def open_for(
        cls,
        desk: Desk,
        appointment_id: int,
        parent: QWidget | None,
        then: Callable[[MonitoringDialog], None],
    ) -> None:
        """Read the record on a worker, then make its dialog and hand it to ``then`` (which
        opens it): the dialog opens with its data.  Tests may replace this."""
        db, actor, now = desk.db, desk.actor, desk.now()

        def opened(sheet: RecordSheet) -> None:
            then(cls(desk, appointment_id, parent, sheet=sheet))

        run_service(
            parent,
            lambda: records.open_record(db, actor, appointment_id, now=now),
            opened,
            busy="Opening the monitoring record…",
        )

    # -- building ----------------------------------------------------------------------------

    def _build_rems_box(self, form: RecordForm) -> QGroupBox:
        """What current REMS forms also ask: medicines taken at the session, whether the vital
        signs were acceptable, when the patient was ready to leave (``[rems_form]``)."""
        box = QGroupBox("REMS form", self)
        box.setObjectName("rems_box")
        box.setVisible(self.sheet.rems)
        rems_settings = validation.rems_form_settings_of(self.sheet.rules.settings)
        taken = set(form.concomitant_meds or ())
        self._meds: dict[str, QCheckBox] = {}
        meds = QWidget(box)
        meds_column = QVBoxLayout(meds)
        meds_column.setContentsMargins(0, 0, 0, 0)
        for name in rems_settings.concomitant_medicines:
            check = QCheckBox(name, meds)
            check.setChecked(name in taken)
            self._meds[name] = check
            meds_column.addWidget(check)
        self._no_meds = QCheckBox("None of these", meds)
        self._no_meds.setObjectName("no_concomitant_meds")
        self._no_meds.setChecked(form.concomitant_meds is not None and not taken)
        meds_column.addWidget(self._no_meds)
        self._vitals_ok = QComboBox(box)
        self._vitals_ok.setAccessibleName("Vital signs acceptable")
        for words, value in (("— not recorded —", None), ("Yes", True), ("No", False)):
            self._vitals_ok.addItem(words, value)
        self._vitals_ok.setCurrentIndex({None: 0, True: 1, False: 2}.get(form.vitals_acceptable, 0))
        self._ready = self._line(form.ready_to_leave, "Ready to leave at", "HH:MM")
        self._ready_now = QPushButton("Now", box)
        self._ready_now.setAccessibleName("Ready to leave: time now")
        self._ready_now.setAutoDefault(False)
        self._ready_now.clicked.connect(lambda: self._fill_now(self._ready))
        rems_form = QFormLayout(box)
        self._form_row(rems_form, "Concomitant medicines", meds, "concomitant_meds")
        self._form_row(rems_form, "Vital signs acceptable", self._vitals_ok, "vitals_acceptable")
        self._form_row(
            rems_form, "Ready to leave at", self._ready, "ready_to_leave", self._ready_now
        )
        return box

    def _concomitant(self) -> tuple[str, ...] | None:
        """The medicine classes ticked; () for "none of these"; None when nothing is ticked."""
        taken = tuple(name for name, check in self._meds.items() if check.isChecked())
        if taken:
            return taken
        return () if self._no_meds.isChecked() else None

    def _line(self, text: str, name: str, placeholder: str) -> QLineEdit:
        edit = QLineEdit(text, self)
        edit.setAccessibleName(name)
        edit.setPlaceholderText(placeholder)
        return edit

    def _combo(self, name: str, choices: tuple[str, ...], current: str) -> QComboBox:
        combo = QComboBox(self)
        combo.setAccessibleName(name)
        combo.addItem("— not recorded —", "")
        for choice in choices:
            combo.addItem(choice.capitalize(), choice)
        combo.setCurrentIndex(max(combo.findData(current), 0))
        return combo

    def _form_row(
        self,
        form: QFormLayout,
        words: str,
        editor: QWidget,
        key: str,
        extra: QWidget | None = None,
    ) -> None:
        holder = QWidget(self)
        holder.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        column = QVBoxLayout(holder)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(2)
        line = QHBoxLayout()
        line.addWidget(editor, 1)
        if extra is not None:
            line.addWidget(extra)
        column.addLayout(line)
        message = QLabel(holder)
        message.setWordWrap(True)
        message.setVisible(False)
        message.setObjectName(f"message_{key}")
        column.addWidget(message)
        self._messages[key] = message
        form.addRow(words, holder)

    def _add_row(self, reading: ReadingForm, due: str) -> _ReadingRow:
        late = self.sheet.late_entries.get(reading.label, "") if reading.time else ""
        row = _ReadingRow(self, reading, due, late)
        index = len(self._rows)
        grid_row = 1 + index * 2
        self._grid.addWidget(row.label, grid_row, 0)
        self._grid.addWidget(row.due, grid_row, 1)
        for column, key in enumerate(COLUMN_WORDS, start=2):
            self._grid.addWidget(row.edits[key], grid_row, column)
        self._grid.addWidget(row.now_button, grid_row, 2 + len(COLUMN_WORDS))
        self._grid.addWidget(row.late, grid_row, 3 + len(COLUMN_WORDS))
        self._grid.addWidget(row.message, grid_row + 1, 0, 1, 3 + len(COLUMN_WORDS))
        row.now_button.clicked.connect(lambda: self._fill_now(row.edits["time"]))
        self._rows.append(row)
        return row

    def _place_add_button(self) -> None:
        self._grid.addWidget(self._add_reading, 1 + len(self._rows) * 2, 0, 1, 2)

    def _connect_editors(self) -> None:
        for edit, key in self._field_editors():
            self._watch(edit, key)
        for combo in (self._sedation, self._dissociation, self._monitored_by):
            combo.currentIndexChanged.connect(self._refresh)
        self._respiratory.toggled.connect(self._refresh)
        for box in self._resolved.values():
            box.toggled.connect(self._refresh)
        self._events.textChanged.connect(self._refresh)
        self._vitals_ok.currentIndexChanged.connect(self._refresh)
        for check in (*self._meds.values(), self._no_meds):
            check.toggled.connect(self._refresh)

    def _field_editors(self) -> list[tuple[QLineEdit, str]]:
        pairs = [
            (self._dose_mg, "dose_mg"),
            (self._devices, "devices"),
            (self._lot, "lot_number"),
            (self._dose_started, "dose_started"),
            (self._discharged, "discharged"),
            (self._ready, "ready_to_leave"),
        ]
        for i, row in enumerate(self._rows):
            pairs.extend((edit, reading_field(i, key)) for key, edit in row.edits.items())
            if row.label_edit is not None:
                pairs.append((row.label_edit, reading_field(i, "label")))
        return pairs

    def _watch(self, edit: QLineEdit, key: str) -> None:
        edit.setProperty("field_key", key)
        edit.textChanged.connect(self._refresh)
        # A bound slot, not a lambda: Qt drops it when the dialog goes, so an editor losing
        # focus while the dialog is torn down calls nothing.
        edit.editingFinished.connect(self._on_editor_editing_finished)

    # -- the form ----------------------------------------------------------------------------

    def form(self) -> RecordForm:
        """What is typed now, as the service's form."""
        return RecordForm(
            readings=tuple(row.form() for row in self._rows),
            dose_mg=self._dose_mg.text(),
            devices=self._devices.text(),
            lot_number=self._lot.text(),
            dose_started=self._dose_started.text(),
            discharged=self._discharged.text(),
            monitored_by_id=self._monitored_by.currentData(),
            sedation=self._sedation.currentData() or "",
            dissociation=self._dissociation.currentData() or "",
            respiratory_depression=self._respiratory.isChecked(),
            sedation_resolved=self._resolved["sedation_resolved"].isChecked(),
            dissociation_resolved=self._resolved["dissociation_resolved"].isChecked(),
            respiratory_resolved=self._resolved["respiratory_resolved"].isChecked(),
            events=self._events.toPlainText(),
            version=self._version,
            concomitant_meds=self._concomitant(),
            vitals_acceptable=self._vitals_ok.currentData(),
            ready_to_leave=self._ready.text(),
        )

    def _check(self) -> Checked:
        return validation.validate_record(self.form(), self.sheet.rules, now=self._desk.now())

    def _refresh(self) -> None:
        checked = self._check()
        shown: dict[str, tuple[str, str]] = {}
        for key, message in checked.warnings.items():
            shown[key] = ("warning", message)
        for key, message in checked.stops.items():  # said at once, typed or not
            shown[key] = ("stop", message)
        for key, message in checked.notes.items():
            shown[key] = ("note", message)
        for key, message in checked.errors.items():
            if self._show_all_errors or key in self._touched or self._always_shown(key):
                shown[key] = ("error", message)
        self.field_messages = shown
        self._show_messages(shown)
        for row in self._rows:
            row.show_late()
        self._show_minutes(checked)
        self._show_schedule(checked)
        missing = rems.missing_from_form(self.form(), self.sheet.rules, checked)
        if missing:
            self._rems.setText("<b>REMS form:</b> still missing " + ", ".join(missing))
        else:
            self._rems.setText("<b>REMS form:</b> complete — nothing missing")
        self._rems.setAccessibleName(self._rems.text().replace("<b>", "").replace("</b>", ""))

    def _always_shown(self, key: str) -> bool:
        # A discharge the rules forbid is worth saying at once, whatever field was typed last.
        return key == "discharged" and "discharged" in self._touched

    def _show_messages(self, shown: dict[str, tuple[str, str]]) -> None:
        red, amber = message_colors(self.palette())

        def paint(label: QLabel, items: list[tuple[str, str]]) -> None:
            if not items:
                label.setVisible(False)
                label.clear()
                return
            red_kinds = ("error", "stop")
            worst = "error" if any(kind in red_kinds for kind, _ in items) else "warning"
            color = red if worst == "error" else amber
            if all(kind == "note" for kind, _ in items):
                color = self.palette().color(QPalette.ColorRole.WindowText)
            # A hard stop is the loudest thing on the form: bold, and its own line.
            weight = " font-weight: bold;" if any(kind == "stop" for kind, _ in items) else ""
            label.setStyleSheet(f"color: {color.name()};{weight}")
            label.setText("\n".join(MESSAGE_MARKS[kind] + m for kind, m in items))
            label.setAccessibleName(label.text())
            label.setVisible(True)

        for key, label in self._messages.items():
            paint(label, [shown[key]] if key in shown else [])
        for i, row in enumerate(self._rows):
            items = []
            for key in ("label", *COLUMN_WORDS, "note"):
                found = shown.get(reading_field(i, key))
                if found is not None:
                    kind, message = found
                    words = "Name" if key == "label" else COLUMN_WORDS.get(key, "")
                    # A hard stop names its rule and the whole BP: not "Systolic: ...".
                    whole = kind in ("stop", "note")
                    items.append((kind, message if whole else f"{words}: {message}"))
            paint(row.message, items)
        for edit, key in self._field_editors():
            kind = shown.get(key, ("", ""))[0]
            border = red if kind in ("error", "stop") else amber
            edit.setStyleSheet(f"border: 1px solid {border.name()};" if kind else "")
            edit.setToolTip(shown[key][1] if kind else "")

    def _show_minutes(self, checked: Checked) -> None:
        # Laid from the saved dose start only: a dose typed and not saved (or refused) gives
        # no discharge time (a user trial's record showed one from a rejected dose).
        need = self.sheet.rules.observation_minutes
        saved = self._saved_dose_at
        allowed = saved + dt.timedelta(minutes=need) if saved and need is not None else None
        hint = f"discharge allowed from {self.sheet.rules.clock(allowed)}" if allowed else ""
        if checked.dose_started_at is not None and checked.dose_started_at != saved:
            hint = (
                f"discharge allowed {duration_words(need)} after the dose start, once it is saved"
                if need is not None
                else ""
            )
        minutes = checked.record.monitored_minutes if checked.record is not None else None
        observation = self.sheet.rules.observation_minutes
        if minutes is not None:
            self._minutes.setText(f"{minutes} min" + (f" ({hint})" if hint else ""))
        elif hint:
            self._minutes.setText(hint[0].upper() + hint[1:])
        elif observation is not None:
            words = duration_words(observation)
            self._minutes.setText(f"Discharge allowed {words} after the dose start")
        else:
            self._minutes.setText("—")

    def _show_schedule(self, checked: Checked) -> None:
        """The next BP check not yet typed in, and whether one is late (as the form stands).

        A check after the dose is timed from the dose start as typed, saved or not; while none
        is, it is due so long after the dose, at no time yet (as the chair board says), and
        never "late" by a dose time that was only planned."""
        dose_at = checked.dose_started_at
        after = self.sheet.after_dose
        checks = [
            dataclasses.replace(c, due_at=dose_at + dt.timedelta(minutes=after[c.label]))
            if dose_at is not None and c.label in after
            else c
            for c in self.sheet.schedule.checks
        ]
        untimed = {c.label for c in checks if dose_at is None and c.label in after}

        def due_words(check: CheckDue) -> str:
            if check.label in untimed:
                return after_dose_words(after[check.label])
            return self.sheet.rules.clock(check.due_at)

        self._show_due_column(checks, untimed)
        if not checks:
            self._schedule_label.setText(
                f"No timed BP checks are configured for {self.sheet.session_name}: "
                "add readings as they are taken."
            )
            return
        typed = {
            row.label.strip()
            for i, row in enumerate(self.form().readings)
            if row.time.strip()
            and row.systolic.strip()
            and row.diastolic.strip()
            and not any(reading_field(i, k) in checked.errors for k in ("time", "systolic"))
        }
        pending = [c for c in checks if c.label not in typed]
        if not pending and (checked.recheck is None or self.sheet.status == "completed"):
            self._schedule_label.setStyleSheet("")
            self._schedule_label.setText("All blood-pressure checks are recorded.")
            return
        if self.sheet.status == "completed" and pending:
            red, _ = message_colors(self.palette())
            self._schedule_label.setStyleSheet(f"color: {red.name()};")
            words = "Not recorded: " + ", ".join(f"{c.label} (due {due_words(c)})" for c in pending)
            self._schedule_label.setText(words)
            self._schedule_label.setAccessibleName(words)
            return
        now = self._desk.now()
        grace = dt.timedelta(minutes=self.sheet.rules.monitoring.get("reading_late_minutes", 0))
        owed = checked.recheck
        if owed is not None and owed.before_dose:
            # A hard stop stands: the next reading is the recheck after rest, not a check
            # counted from a dose nobody may give yet (chair_rules.bp_recheck_owed), due when
            # the clinic's recheck minutes have passed.
            red, _ = message_colors(self.palette())
            self._schedule_label.setStyleSheet(f"color: {red.name()};")
            words = (
                "Next check: a pre-dose recheck after rest, due "
                f"{self.sheet.rules.clock(owed.due_at)} (the BP taken at "
                f"{self.sheet.rules.clock(owed.reading.taken_at)} is over the hard stop: "
                "do not dose); the checks after the dose wait for the dose"
            )
            self._schedule_label.setText(words)
            self._schedule_label.setAccessibleName(words)
            return
        first = pending[0] if pending else None
        if owed is not None and (
            first is None or first.label in untimed or owed.due_at <= first.due_at
        ):
            # A raised BP after the dose: its recheck comes before the next configured check
            # (a user trial: +40 min 168/102, and the next check said "Before discharge").
            red, _ = message_colors(self.palette())
            self._schedule_label.setStyleSheet(f"color: {red.name()};")
            r = owed.reading
            over = "over the hard stop" if owed.over_hard_stop else "raised"
            words = (
                f"Next check: BP recheck due {self.sheet.rules.clock(owed.due_at)} "
                f"(BP {r.systolic}/{r.diastolic} at {self.sheet.rules.clock(r.taken_at)} "
                f"is {over}; recheck while it stays above "
                f"{owed.limit_systolic}/{owed.limit_diastolic})"
            )
            if now > owed.due_at + grace:
                words += " — late"
            self._schedule_label.setText(words)
            self._schedule_label.setAccessibleName(words)
            return
        assert first is not None
        late = [c for c in pending if c.label not in untimed and now > c.due_at + grace]
        if first.label in untimed:
            said = check_after_dose_words(first.label, after[first.label])
            words = f"Next check: {said} (no dose start recorded yet)"
        else:
            words = f"Next check: {first.words} due {due_words(first)}"
        if late:
            red, _ = message_colors(self.palette())
            self._schedule_label.setStyleSheet(f"color: {red.name()};")
            words += " — late"
        else:
            self._schedule_label.setStyleSheet("")
        self._schedule_label.setText(words)
        self._schedule_label.setAccessibleName(words)

    def _show_due_column(self, checks: list[CheckDue], untimed: set[str]) -> None:
        """The grid's "Due" column, as the header counts it."""
        by_label = {c.label: c for c in checks}
        for row in self._rows:
            check = by_label.get(row.label.text()) if row.scheduled else None
            if check is None:
                continue
            if check.label in untimed:
                minutes = self.sheet.after_dose[check.label]
                row.due.setText(f"dose + {duration_words(minutes)}" if minutes else "at dose")
                row.due.setToolTip(
                    f"Due {after_dose_words(minutes)} start; no dose start is recorded yet"
                )
            else:
                row.due.setText(self.sheet.rules.clock(check.due_at))
                row.due.setToolTip("")
        self._hold_due_width()

    def _hold_due_width(self) -> None:
        """Keep the "Due" column as wide as either of its forms ("dose + 40 min" before a
        dose start, "10:52 AM" after): a user trial pressed Now on the dose mid-entry, the
        column narrowed, every field moved left, and the next click typed into the wrong
        one (SpO2 74).  The column only ever widens."""
        metrics = self.fontMetrics()
        widest = 0
        for row in self._rows:
            minutes = self.sheet.after_dose.get(row.label.text())
            words = [row.due.text()]
            if minutes is not None:
                words.append(f"dose + {duration_words(minutes)}" if minutes else "at dose")
                guess = self.sheet.starts_at + dt.timedelta(minutes=minutes)
                words.append(self.sheet.rules.clock(guess))
            widest = max(widest, *(metrics.horizontalAdvance(w) for w in words))
        if widest > self._grid.columnMinimumWidth(1):
            self._grid.setColumnMinimumWidth(1, widest)

    # -- slots -------------------------------------------------------------------------------

    def _on_editor_editing_finished(self) -> None:
        sender = self.sender()
        key = sender.property("field_key") if sender is not None else None
        if isinstance(key, str):
            self._on_field_left(key)

    def _on_field_left(self, key: str) -> None:
        self._touched.add(key)
        self._refresh()

    def _fill_now(self, edit: QLineEdit) -> None:
        edit.setText(self.sheet.rules.clock(self._desk.now()))
        edit.setFocus()

    def _on_add_reading_clicked(self) -> None:
        row = self._add_row(ReadingForm(label=self._extra_label(), scheduled=False), "")
        index = len(self._rows) - 1
        for key, edit in row.edits.items():
            self._watch(edit, reading_field(index, key))
        if row.label_edit is not None:
            self._watch(row.label_edit, reading_field(index, "label"))
        self._place_add_button()
        row.edits["time"].setFocus()
        self._refresh()

    def _extra_label(self) -> str:
        """The name an added reading starts with: "Pre-dose recheck" while the pre-dose BP is
        typed and no dose start yet (the recheck after rest the hard stop asks for, named as
        the record will print it), else "Extra N"."""
        form = self.form()
        taken = {r.label.strip() for r in form.readings}
        pre_typed = any(
            r.label.strip() in self.sheet.rules.pre_dose_labels and r.systolic.strip()
            for r in form.readings
        )
        if pre_typed and not form.dose_started.strip():
            label, n = "Pre-dose recheck", 2
            while label in taken:
                label, n = f"Pre-dose recheck {n}", n + 1
            return label
        number = sum(1 for row in self._rows if not row.scheduled) + 1
        return f"Extra {number}"

    def _on_save_clicked(self) -> None:
        if not self._save.isEnabled():
            return
        self._show_all_errors = True
        self._refresh()
        if any(kind == "error" for kind, _ in self.field_messages.values()):
            self._status_error("Fix the fields marked in red; nothing was saved.")
            return
        desk, appointment_id, form = self._desk, self._id, self.form()
        self._saving_dose_at = validation.validate_record(
            form, self.sheet.rules, now=desk.now()
        ).dose_started_at
        self._save.setEnabled(False)  # one save at a time
        self._saving = True
        run_service(
            self,
            lambda: records.save_record(desk.db, desk.actor, appointment_id, form, now=desk.now()),
            self._on_saved,
            failed=self._on_save_refused,
            busy="Saving the record…",
            writes=True,
        )

    def is_saving(self) -> bool:
        return self._saving

    def _on_saved(self, result: SaveResult) -> None:
        self._saving = False
        self.save_result = result
        self._saved_dose_at = self._saving_dose_at
        warned = result.warnings.get(records.URGENT_REVIEW_WARNING)
        if warned and has_screen():
            # Saved, but the nurse must see it: the dialog closes, the box stays (not modal).
            box = QMessageBox(
                QMessageBox.Icon.Warning,
                "Dose recorded, with a warning",
                warned,
                parent=self.parentWidget(),
            )
            box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            box.open()
        self.saved.emit(self._id)
        new = [
            m
            for k, m in result.warnings.items()
            if k != records.URGENT_REVIEW_WARNING and m not in self._known_warnings
        ]
        if not new:
            self.accept()
            return
        # Saved, with a warning the nurse may not have seen: the dialog stays open to show it
        # before the next step (a dose given over "consider delaying the dose").
        self._known_warnings.update(new)
        self._version = result.version
        self._save.setEnabled(True)
        self._close.setText("Close")
        _, amber = message_colors(self.palette())
        self._status.setStyleSheet(f"color: {amber.name()};")
        items = "<br>".join(f"⚠ {html.escape(m)}" for m in new)
        self._status.setText(f"<b>Saved; note:</b> {items}")
        self._status.setAccessibleName("Saved; note: " + "; ".join(new))

    def _on_save_refused(self, err: ServiceError) -> None:
        self._saving = False
        self._save.setEnabled(True)
        if isinstance(err, InvalidFields):
            self.field_messages.update({k: ("error", m) for k, m in err.errors.items()})
            self._show_messages(self.field_messages)
            self._status_error("Fix the fields marked in red; nothing was saved.")
        elif isinstance(err, ChairRefused):
            self._show_refusal(err)
        else:
            # The save is all or nothing: say so, the readings typed with it included, and
            # that what was typed is still on the form (a user trial: "cannot record a dose"
            # left the nurse asking whether the BP was kept).
            self._status_error(
                f"Not saved, nor the readings typed with it: {err}. What you typed is still "
                "here; clear the dose to save the readings alone."
            )

    def _show_refusal(self, err: ChairRefused) -> None:
        """The chair's rules refused the save: each rule and fact in words, and the override
        for the roles that may give one."""
        self._refused = err
        who = " or ".join(role_name(r) for r in err.override_roles)
        lines = "".join(f"<li><b>{f.title}</b>: {f.fact}</li>" for f in err.findings)
        self._status_error("")
        allowed = self._desk.actor.role in err.override_roles
        after = (
            "Fix what is named, or override it with a reason."
            if allowed
            else f"Fix what is named, or ask a {who} to override it with a reason."
        )
        self._status.setText(
            f"<b>Not saved.</b> The clinic's rules refuse it:<ul>{lines}</ul>{after}"
        )
        self._status.setAccessibleName(str(err))
        self._override.setVisible(True)
        self._override.setEnabled(allowed)
        self._override.setToolTip(
            "" if allowed else f"Only a {who} may override; ask them to open this record"
        )

    @classmethod
    def ask_reason(cls, parent: QWidget, rules: str) -> str | None:
        """The prescriber's reason for an override (None: cancelled); tests replace it."""
        text, ok = QInputDialog.getMultiLineText(
            parent, "Override the clinic's rule", f"Why go ahead despite: {rules}?"
        )
        return text if ok else None

    def _on_override_clicked(self) -> None:
        refused = self._refused
        if refused is None:
            return
        reason = type(self).ask_reason(self, ", ".join(f.title for f in refused.findings))
        if reason is None:
            return
        if not reason.strip():
            self._status_error("An override needs a reason; nothing was saved.")
            return
        desk, appointment_id = self._desk, self._id
        rules = [f.rule for f in refused.findings]
        self._override.setEnabled(False)
        run_service(
            self,
            lambda: completion.override(
                desk.db, desk.actor, appointment_id, rules, reason, now=desk.now()
            ),
            self._on_overridden,
            failed=self._on_save_refused,
            busy="Recording the override…",
            writes=True,
        )

    def _on_overridden(self, overrides: tuple[ChairOverride, ...]) -> None:
        self._refused = None
        self._override.setVisible(False)
        self._show_overrides(overrides)
        self._save.setEnabled(True)
        self._on_save_clicked()  # the save the rules refused, now with the override

    def _status_error(self, text: str) -> None:
        red, _ = message_colors(self.palette())
        self._status.setStyleSheet(f"color: {red.name()};")
        self._status.setText(text)
        self._status.setAccessibleName(text)

    # -- for tests ---------------------------------------------------------------------------

    def reading_editor(self, index: int, key: str) -> QLineEdit:
        return self._rows[index].edits[key]

    def late_mark(self, index: int) -> QLabel:
        """The late-entry mark of reading ``index`` (for tests)."""
        return self._rows[index].late

    def reading_message(self, index: int) -> QLabel:
        """The message line under a reading's row (refusal, hard stop or warning)."""
        return self._rows[index].message

    def editor(self, key: str) -> QWidget:
        editors: dict[str, QWidget] = {
            "dose_mg": self._dose_mg,
            "devices": self._devices,
            "lot_number": self._lot,
            "dose_started": self._dose_started,
            "discharged": self._discharged,
            "monitored_by_id": self._monitored_by,
            "sedation": self._sedation,
            "dissociation": self._dissociation,
            "respiratory_depression": self._respiratory,
            **self._resolved,
            "events": self._events,
            "ready_to_leave": self._ready,
            "vitals_acceptable": self._vitals_ok,
            "no_concomitant_meds": self._no_meds,
        }
        return editors[key]

    def scale_panel(self) -> ScalePanel | None:
        return self._scale_panel

    def rems_text(self) -> str:
        return self._rems.accessibleName()

    def status_text(self) -> str:
        return self._status.text()

    @override
    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._refresh()


__all__ = ["MonitoringDialog", "message_colors"]
