"""Registering or editing a patient: one field per fact, each mistake shown at its field.

The dialog holds no rules: ``services.patients`` checks the form (``validate_patient``) and saves
it (``register_patient`` / ``update_patient``), which refuse the whole form when any field is
wrong, so nothing is saved until every marked field is fixed.  Clinical gating facts are
read-only for roles that may not edit them (the service would refuse them anyway).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Callable

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from ketadesk.scheduling.gating import EligibilitySettings, consent_lapses_on
from ketadesk.services.common.context import InvalidFields, ServiceError, may
from ketadesk.services.common.phones import display_phone
from ketadesk.services.patients.duplicates import (
    DuplicatePatient,
    PossibleDuplicate,
    find_duplicates,
)
from ketadesk.services.patients.patient_fields import (
    CLINICAL_FIELDS,
    CONTACT_FIELDS,
    DATE_FIELDS,
    FIELD_LABELS,
    PAYMENT_CHOICES,
    PHONE_FIELDS,
    PRIOR_AUTH_FIELDS,
    SCREENING_STATUSES,
    PatientForm,
    flag_codes,
    parse_date,
    validate_patient,
)
from ketadesk.services.patients.registration import (
    WITHHELD_FIELDS,
    EligibilityChoices,
    eligibility_choices,
    patient_form,
    register_patient,
    update_patient,
)
from ketadesk.services.reminders.consent import (
    ReminderConsentRecord,
    reminder_consent,
    set_reminder_consent,
)
from ketadesk.services.schedule.day import clinic_today
from ketadesk.ui.common.background import run_service
from ketadesk.ui.common.colors import is_dark
from ketadesk.ui.common.dates import us_date
from ketadesk.ui.common.desk import Desk
from ketadesk.ui.common.sizing import fixed_minimum

#: Fields typed over several lines.
MULTILINE_FIELDS = frozenset({"address", "notes", "contraindications"})
#: A US clinic types month first; ISO (YYYY-MM-DD) is accepted too but never shown.
DATE_HINT = "MM/DD/YYYY"
#: Error text: a red that reads on light and on dark backgrounds.
ERROR_COLORS = {"light": "#b3261e", "dark": "#f2b8b5"}
MULTILINE_ROWS = 3
FORM_MINIMUM = QSize(640, 420)


def error_color(palette: QPalette) -> QColor:
    return QColor(ERROR_COLORS["dark" if is_dark(palette) else "light"])


def names_from_hint(text: str) -> tuple[str, str]:
    """(first, last) from what was typed in a search: "Lovelace, Ada" or "Ada Lovelace";
    nothing from a chart number, phone or date."""
    text = text.strip()
    if not text or re.search(r"\d", text):
        return "", ""
    if "," in text:
        last, _, first = text.partition(",")
        return first.strip(), last.strip()
    words = text.split()
    if len(words) == 1:
        return "", words[0]
    return " ".join(words[:-1]), words[-1]


def _form_layout(parent: QWidget) -> QFormLayout:
    """A form whose long rows put the field under its label when the window is narrow (the
    two columns of the form fit a 1000 px window without scrolling sideways)."""
    form = QFormLayout(parent)
    form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
    return form


class FlagBoxes(QWidget):
    """The clinic's contraindications and precautions as checkboxes (the patient form's
    ``eligibility_flags``: the checked codes, comma-separated).  A stored code the clinic no
    longer lists is kept as it is."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.boxes: dict[str, QCheckBox] = {}
        self._kept: list[str] = []
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(2)
        self._waiting = QLabel("Reading the clinic's list…", self)
        self._layout.addWidget(self._waiting)
        self._pending = ""

    def set_choices(self, choices: EligibilityChoices) -> None:
        self._waiting.hide()
        for heading, items, effect in (
            ("Contraindications", choices.contraindications, "each stops a dosing booking"),
            ("Precautions", choices.precautions, "each warns; a clinician may go ahead"),
        ):
            if not items:
                continue
            title = QLabel(f"<b>{heading}</b> ({effect}):", self)
            title.setWordWrap(True)
            self._layout.addWidget(title)
            for code, label in items.items():
                box = QCheckBox(label, self)
                box.setObjectName(f"flag_{code}")
                box.setAccessibleName(f"{heading[:-1]}: {label}")
                box.setEnabled(self.isEnabled())
                box.toggled.connect(self.changed)
                self._layout.addWidget(box)
                self.boxes[code] = box
        self.set_text(self._pending)

    def text(self) -> str:
        if not self.boxes:
            return self._pending
        checked = [c for c, box in self.boxes.items() if box.isChecked()]
        return ",".join(sorted({*checked, *self._kept}))

    def set_text(self, value: str) -> None:
        self._pending = value
        if not self.boxes:
            return
        codes = flag_codes(value)
        self._kept = [c for c in codes if c not in self.boxes]
        for code, box in self.boxes.items():
            box.setChecked(code in codes)


def shown_date(text: str) -> str:
    """A form's date (ISO, as the services give it, or as typed) as the desk reads it,
    ``05/17/1980``; text that is not a date is left as it is."""
    try:
        return us_date(parse_date(text)) if text.strip() else text
    except ValueError:
        return text


class _Field:
    """One form field: its editor and the label under it that names what is wrong.

    A date is shown month first, a US phone number as "(555) 123-4567"; the text it was given
    (ISO from the services, the phone as typed) is handed back while the text shown is
    untouched, so an unchanged field reads as unchanged to the save."""

    def __init__(self, name: str, editor: QWidget, error: QLabel) -> None:
        self.name = name
        self.editor = editor
        self.error = error
        self._given: tuple[str, str] | None = None  # (the text given, the text shown for it)

    def text(self) -> str:
        if self._given is not None and isinstance(self.editor, QLineEdit):
            given, shown = self._given
            if self.editor.text() == shown:
                return given
        if isinstance(self.editor, FlagBoxes):
            return self.editor.text()
        if isinstance(self.editor, QComboBox):
            return str(self.editor.currentData())
        if isinstance(self.editor, QPlainTextEdit):
            return self.editor.toPlainText()
        assert isinstance(self.editor, QLineEdit)
        return self.editor.text()

    def set_text(self, value: str) -> None:
        shows = shown_date if self.name in DATE_FIELDS else None
        if self.name in PHONE_FIELDS:
            shows = display_phone
        if shows is not None and isinstance(self.editor, QLineEdit):
            shown = shows(value)
            self._given = (value, shown)
            self.editor.setText(shown)
            return
        if isinstance(self.editor, FlagBoxes):
            self.editor.set_text(value)
        elif isinstance(self.editor, QComboBox):
            at = self.editor.findData(value)
            self.editor.setCurrentIndex(max(at, 0))
        elif isinstance(self.editor, QPlainTextEdit):
            self.editor.setPlainText(value)
        else:
            assert isinstance(self.editor, QLineEdit)
            self.editor.setText(value)

    def set_error(self, message: str) -> None:
        self.error.setText(message)
        self.error.setVisible(bool(message))
        label = FIELD_LABELS[self.name]
        self.editor.setAccessibleDescription(f"{label}: {message}" if message else "")
        self.editor.setProperty("invalid", bool(message))


#: The opt-in to reminders needs somewhere to send them.
NO_ADDRESS_FOR_REMINDERS = "e-mail reminders need the patient's e-mail address"


def consent_note(consent: ReminderConsentRecord | None) -> str:
    """Who recorded the patient's answer about reminders, and when (US month/day)."""
    if consent is None or consent.recorded_at is None:
        return "Not asked yet."
    when = consent.recorded_at
    answer = "Agreed" if consent.opted_in else "Declined"
    who = f" by {consent.recorded_by}" if consent.recorded_by else ""
    return f"{answer} {us_date(when)}{who}."


class PatientFormDialog(QDialog):
    """Register a new patient (``patient_id`` None) or edit one.

    Signals:
        saved(int): the patient's id, once the form has been saved.
        existing_chosen(int): the user chose an existing chart over this form (nothing saved).

    Attributes:
        patient_id: the registered or edited patient (None until a new one is saved; the
            existing chart's id once the user chose it).
        duplicates: the possible duplicates shown (empty when none).
    """

    saved = Signal(int)
    existing_chosen = Signal(int)
    # A save that ended without saving (mistakes marked, or refused with a message).
    not_saved = Signal()

    def __init__(
        self,
        desk: Desk,
        patient_id: int | None = None,
        parent: QWidget | None = None,
        *,
        original: PatientForm | None = None,
        consent: ReminderConsentRecord | None = None,
        choices: EligibilityChoices | None = None,
    ) -> None:
        """A new patient (``patient_id`` None), or ``patient_id`` as ``original`` has it (read
        by the caller off the GUI thread: see ``open_for``)."""
        super().__init__(parent)
        if patient_id is not None and original is None:
            raise ValueError("editing a patient needs the form as read: use open_for")
        self._desk = desk
        self.patient_id = patient_id
        self._original: PatientForm | None = original
        self._saving = False
        self._today: dt.date | None = None  # set once a save has found mistakes
        # The form the user confirmed as a new patient despite the duplicates shown.
        self._confirmed_new: PatientForm | None = None
        self.duplicates: tuple[PossibleDuplicate, ...] = ()
        self.setObjectName("patient_form_dialog")
        self.setWindowTitle("New patient" if patient_id is None else "Edit patient")
        self.setAccessibleName(self.windowTitle())
        self.fields: dict[str, _Field] = {}
        self.message = QLabel(self)
        self.message.setObjectName("patient_form_message")
        self.message.setWordWrap(True)
        self.message.setAccessibleName("Problems with the form")
        self.message.setVisible(False)
        self._color_errors(self.message)

        contact = QGroupBox("Patient and contact", self)
        contact_form = _form_layout(contact)
        for name in CONTACT_FIELDS:
            self._add_field(contact_form, name, contact)
        self._consent = consent
        contact_form.addRow("Reminders:", self._build_reminder_consent(contact))
        clinical = QGroupBox("Clinical gating facts", self)
        clinical_form = _form_layout(clinical)
        for name in CLINICAL_FIELDS:
            self._add_field(clinical_form, name, clinical)
            if name == "consent_signed_on":
                self.consent_validity = QLabel("", clinical)
                self.consent_validity.setObjectName("consent_validity")
                self.consent_validity.setWordWrap(True)
                clinical_form.addRow("", self.consent_validity)
        self._choices: EligibilityChoices | None = None
        self._clinical_allowed = may(desk.actor, "edit_patient_clinical")
        if not self._clinical_allowed:
            note = QLabel("Kept by nurses and prescribers; shown here read-only.", clinical)
            note.setWordWrap(True)
            clinical_form.insertRow(0, note)
            for name in CLINICAL_FIELDS:
                self.fields[name].editor.setEnabled(False)
        self._withheld = not may(desk.actor, "read_clinical")
        if self._withheld:
            # The services leave these out of the form for this role: no empty boxes for them.
            for name in WITHHELD_FIELDS:
                cell = self.fields[name].editor.parentWidget()  # the row's field: editor + error
                if cell is not None:
                    clinical_form.setRowVisible(cell, False)
            withheld = QLabel(
                "Screening, consent, REMS and contraindications are shown to clinicians only.",
                clinical,
            )
            withheld.setObjectName("clinical_withheld")
            withheld.setWordWrap(True)
            clinical_form.addRow(withheld)

        columns = QHBoxLayout()
        columns.addWidget(contact, 1, Qt.AlignmentFlag.AlignTop)
        columns.addWidget(clinical, 1, Qt.AlignmentFlag.AlignTop)
        body = QWidget(self)
        body.setLayout(columns)
        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setWidget(body)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)

        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel, self
        )
        save = self.buttons.button(QDialogButtonBox.StandardButton.Save)
        save.setText("&Register" if patient_id is None else "&Save")
        save.setAccessibleName("Register the patient" if patient_id is None else "Save changes")
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setAccessibleName("Cancel")
        layout = QVBoxLayout(self)
        layout.addWidget(self.message)
        layout.addWidget(self._build_duplicates_box())
        layout.addWidget(scroll, 1)
        layout.addWidget(self.buttons)
        self.resize(900, 640)

        if original is not None:
            self.set_form(original)
        if choices is not None:
            self.set_choices(choices)
        else:
            db = desk.db
            run_service(self, lambda: eligibility_choices(db), self.set_choices)
        self.fields["first_name"].editor.setFocus()

        self.buttons.accepted.connect(self._on_buttons_accepted)
        self.buttons.rejected.connect(self.reject)
        fixed_minimum(self, FORM_MINIMUM)

    @classmethod
    def open_for(
        cls,
        desk: Desk,
        patient_id: int,
        parent: QWidget | None,
        then: Callable[[PatientFormDialog], None],
    ) -> None:
        """Read the patient on a worker, then ``then(dialog)`` with the dialog that edits them."""
        db, actor = desk.db, desk.actor

        def opened(read: tuple[PatientForm, ReminderConsentRecord, EligibilityChoices]) -> None:
            then(cls(desk, patient_id, parent, original=read[0], consent=read[1], choices=read[2]))

        def read() -> tuple[PatientForm, ReminderConsentRecord, EligibilityChoices]:
            return (
                patient_form(db, actor, patient_id, now=desk.now()),
                reminder_consent(db, patient_id),
                eligibility_choices(db),
            )

        run_service(
            parent,
            read,
            opened,
            busy="Opening the patient's details…",
        )

    @classmethod
    def register(cls, desk: Desk, parent: QWidget | None = None, name_hint: str = "") -> int | None:
        """Ask for a new patient (modal); their id once registered, None when cancelled."""
        dialog = cls(desk, None, parent)
        first, last = names_from_hint(name_hint)
        dialog.set_form(dataclasses.replace(dialog.form(), first_name=first, last_name=last))
        try:
            return dialog.patient_id if dialog.exec() == QDialog.DialogCode.Accepted else None
        finally:
            dialog.deleteLater()

    def _build_duplicates_box(self) -> QGroupBox:
        box = QGroupBox("This patient may already have a chart", self)
        box.setObjectName("patient_duplicates")
        self.duplicate_list = QListWidget(box)
        self.duplicate_list.setAccessibleName("Possible duplicate charts")
        self.duplicate_list.setMaximumHeight(110)
        self.use_existing_button = QPushButton("&Use the existing chart", box)
        self.use_existing_button.setToolTip("Open the chart chosen above; this form is not saved")
        self.save_new_button = QPushButton("Save as a &new patient anyway", box)
        self.save_new_button.setToolTip("A different person: save this form as a new chart")
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.use_existing_button)
        buttons.addWidget(self.save_new_button)
        inner = QVBoxLayout(box)
        inner.addWidget(self.duplicate_list)
        inner.addLayout(buttons)
        box.setVisible(False)
        self.duplicates_box = box
        self.use_existing_button.clicked.connect(self._on_use_existing_button_clicked)
        self.save_new_button.clicked.connect(self._on_save_new_button_clicked)
        return box

    def show_duplicates(self, duplicates: tuple[PossibleDuplicate, ...]) -> None:
        """List the charts that may be this patient (none: the box is hidden)."""
        self.duplicates = duplicates
        self.duplicate_list.clear()
        for dup in duplicates:
            born = dup.date_of_birth
            if born:
                born = us_date(dt.date.fromisoformat(born))
            facts = ", ".join(
                f
                for f in (f"born {born}" if born else "", display_phone(dup.phone), dup.email)
                if f
            )
            text = f"Chart {dup.chart_number}: {dup.name}" + (f" ({facts})" if facts else "")
            text += f" - {', '.join(dup.reasons)}"
            item = QListWidgetItem(text, self.duplicate_list)
            item.setData(Qt.ItemDataRole.UserRole, dup.patient_id)
        if duplicates:
            self.duplicate_list.setCurrentRow(0)
        self.duplicates_box.setVisible(bool(duplicates))
        self.save_new_button.setText(
            "Save as a &new patient anyway" if self.patient_id is None else "Save &anyway"
        )

    def _on_use_existing_button_clicked(self) -> None:
        item = self.duplicate_list.currentItem()
        if item is None:
            return
        existing = int(item.data(Qt.ItemDataRole.UserRole))
        self.existing_chosen.emit(existing)
        if self.patient_id is None:
            # register() hands the existing chart to its caller, which opens it.
            self.patient_id = existing
            self.accept()
        else:
            self.reject()

    def _on_save_new_button_clicked(self) -> None:
        self._confirmed_new = self.form()
        self.save()

    # -- the form -----------------------------------------------------------------------------

    def _build_reminder_consent(self, parent: QWidget) -> QWidget:
        """The opt-in to e-mail reminders, with who recorded the patient's answer and when."""
        consent = self._consent
        self.reminders = QCheckBox("E-mail appointment reminders (the patient agreed)", parent)
        self.reminders.setObjectName("field_reminder_consent")
        self.reminders.setAccessibleName("E-mail reminders: the patient consents")
        self.reminders.setChecked(bool(consent and consent.opted_in))
        self.reminders.setEnabled(may(self._desk.actor, "edit_patient_contact"))
        self.consent_note = QLabel(consent_note(consent), parent)
        self.consent_note.setObjectName("reminder_consent_note")
        self.consent_note.setWordWrap(True)
        cell = QWidget(parent)
        stack = QVBoxLayout(cell)
        stack.setContentsMargins(0, 0, 0, 0)
        stack.setSpacing(2)
        stack.addWidget(self.reminders)
        stack.addWidget(self.consent_note)
        return cell

    def _add_field(self, form: QFormLayout, name: str, parent: QWidget) -> None:
        label = FIELD_LABELS[name]
        editor: QWidget
        if name == "eligibility_flags":
            flags = FlagBoxes(parent)
            flags.changed.connect(self._on_any_field_changed)
            editor = flags
        elif name == "self_pay":
            combo = QComboBox(parent)
            for value, words in PAYMENT_CHOICES:
                combo.addItem(words, value)
            combo.currentIndexChanged.connect(self._on_any_field_changed)
            editor = combo
        elif name == "screening_status":
            combo = QComboBox(parent)
            for status in SCREENING_STATUSES:
                combo.addItem(status.replace("_", " ").capitalize(), status)
            combo.currentIndexChanged.connect(self._on_any_field_changed)
            editor = combo
        elif name in MULTILINE_FIELDS:
            text = QPlainTextEdit(parent)
            text.setTabChangesFocus(True)
            rows = text.fontMetrics().lineSpacing() * MULTILINE_ROWS
            text.setFixedHeight(rows + 2 * text.frameWidth() + 8)
            text.textChanged.connect(self._on_any_field_changed)
            editor = text
        else:
            line = QLineEdit(parent)
            if name in DATE_FIELDS:
                line.setPlaceholderText(DATE_HINT)
            line.textChanged.connect(self._on_any_field_changed)
            editor = line
        editor.setObjectName(f"field_{name}")
        editor.setAccessibleName(label)
        error = QLabel(parent)
        error.setObjectName(f"error_{name}")
        error.setAccessibleName(f"{label} problem")
        error.setWordWrap(True)
        error.setVisible(False)
        self._color_errors(error)
        cell = QWidget(parent)
        stack = QVBoxLayout(cell)
        stack.setContentsMargins(0, 0, 0, 0)
        stack.setSpacing(2)
        stack.addWidget(editor)
        stack.addWidget(error)
        if isinstance(editor, FlagBoxes):
            form.addRow(cell)  # its own headings name the lists: no caption beside them
        else:
            caption = QLabel(f"{label}:", parent)
            caption.setBuddy(editor)
            form.addRow(caption, cell)
        self.fields[name] = _Field(name, editor, error)

    def _color_errors(self, label: QLabel) -> None:
        palette = label.palette()
        palette.setColor(QPalette.ColorRole.WindowText, error_color(self.palette()))
        label.setPalette(palette)

    def form(self) -> PatientForm:
        texts = {name: field.text() for name, field in self.fields.items()}
        if self._withheld:
            # Hidden, so untouched: give them back as they came (the save keeps what is stored).
            before = self._original or PatientForm()
            texts.update({n: getattr(before, n) for n in WITHHELD_FIELDS})
        return PatientForm(**texts)

    def set_form(self, form: PatientForm) -> None:
        for name, field in self.fields.items():
            field.set_text(getattr(form, name))
        self._show_payment()
        self._show_consent_validity()

    def set_choices(self, choices: EligibilityChoices) -> None:
        """The clinic's contraindications, precautions and consent validity (read on a worker)."""
        self._choices = choices
        flags = self.fields["eligibility_flags"].editor
        assert isinstance(flags, FlagBoxes)
        flags.set_choices(choices)
        self._show_consent_validity()

    def _show_consent_validity(self) -> None:
        """Until when the consent typed covers sessions, as the clinic's validity says."""
        choices = self._choices
        text = self.fields["consent_signed_on"].text().strip()
        note = ""
        if choices is not None and choices.consent_valid_months:
            months = choices.consent_valid_months
            note = f"A consent is valid {months} months."
            try:
                signed = parse_date(text) if text else None
            except ValueError:
                signed = None
            lapses = (
                consent_lapses_on(signed, EligibilitySettings(consent_valid_months=months))
                if signed
                else None
            )
            if lapses is not None:
                last = us_date(lapses - dt.timedelta(days=1))
                note = f"Valid {months} months: covers sessions through {last}."
        self.consent_validity.setText(note)
        self.consent_validity.setVisible(bool(note) and not self._withheld_now())

    def _withheld_now(self) -> bool:
        return bool(getattr(self, "_withheld", False))

    def errors(self) -> dict[str, str]:
        """The messages shown at the fields now."""
        return {n: f.error.text() for n, f in self.fields.items() if f.error.isVisibleTo(self)}

    def show_errors(self, errors: dict[str, str]) -> None:
        for name, field in self.fields.items():
            field.set_error(errors.get(name, ""))
        if errors:
            count = len(errors)
            self._show_message(
                f"{count} field{'s' if count > 1 else ''} to fix before saving "
                f"(nothing has been saved): {', '.join(FIELD_LABELS[n] for n in errors)}."
            )
            first = next(iter(errors))
            self.fields[first].editor.setFocus()
        else:
            self._show_message("")

    def _show_message(self, text: str) -> None:
        self.message.setText(text)
        self.message.setVisible(bool(text))

    def _show_payment(self) -> None:
        """A self-pay patient needs no prior authorization: its fields greyed (kept as typed,
        for a patient who goes back to insurance)."""
        if "self_pay" not in self.fields or not self._clinical_allowed_now():
            return
        needed = not self.fields["self_pay"].text()
        for name in PRIOR_AUTH_FIELDS:
            if name in self.fields:
                editor = self.fields[name].editor
                editor.setEnabled(needed)
                editor.setToolTip("" if needed else "Self-pay: no prior authorization needed")

    def _clinical_allowed_now(self) -> bool:
        return bool(getattr(self, "_clinical_allowed", False))

    def _on_any_field_changed(self) -> None:
        self._show_payment()
        if hasattr(self, "consent_validity"):
            self._show_consent_validity()
        # Once the user has seen the marks, clear each as soon as its field is right.
        if self._today is not None:
            current = validate_patient(self.form(), today=self._today)
            shown = self.errors()
            self.show_errors({n: m for n, m in current.items() if n in shown})

    # -- saving -------------------------------------------------------------------------------

    def _on_buttons_accepted(self) -> None:
        self.save()

    def is_saving(self) -> bool:
        return self._saving

    def save(self) -> None:
        """Save the form on the writer worker: then ``saved`` and the dialog closes, or the
        mistakes are marked at their fields (``not_saved``) and the dialog stays open."""
        if self._saving:
            return
        form = self.form()
        desk, patient_id, original = self._desk, self.patient_id, self._original
        confirmed = self._confirmed_new == form
        identity = ("first_name", "last_name", "date_of_birth", "phone", "email")
        wants_reminders = self.reminders.isChecked()
        had_reminders = bool(self._consent and self._consent.opted_in)
        check = not confirmed and (
            original is None or any(getattr(form, n) != getattr(original, n) for n in identity)
        )

        def work() -> int | _Mistakes | _Duplicates:
            try:
                if wants_reminders and not form.email.strip():
                    raise InvalidFields({"email": NO_ADDRESS_FOR_REMINDERS})
                if check and not validate_patient(
                    form, today=clinic_today(desk.db, now=desk.now())
                ):
                    found = find_duplicates(desk.db, desk.actor, form, exclude_id=patient_id)
                    if found:
                        return _Duplicates(found)
                if patient_id is None:
                    saved_id = register_patient(
                        desk.db, desk.actor, form, confirmed_new=confirmed, now=desk.now()
                    )
                else:
                    update_patient(
                        desk.db, desk.actor, patient_id, form, original=original, now=desk.now()
                    )
                    saved_id = patient_id
                if wants_reminders != had_reminders:
                    set_reminder_consent(
                        desk.db, desk.actor, saved_id, wants_reminders, now=desk.now()
                    )
                return saved_id
            except InvalidFields as err:
                # The day the date checks measure against, for marks cleared while typing.
                return _Mistakes(err.errors, clinic_today(desk.db, now=desk.now()))
            except DuplicatePatient as err:  # registered at another desk a moment ago
                return _Duplicates(err.duplicates)

        self._saving = True
        self.buttons.setEnabled(False)
        run_service(
            self,
            work,
            self._on_save_done,
            failed=self._on_save_refused,
            busy="Saving the patient…",
            writes=True,
        )

    def _on_save_done(self, outcome: int | _Mistakes | _Duplicates) -> None:
        self._saving = False
        self.buttons.setEnabled(True)
        if isinstance(outcome, _Duplicates):
            self.show_errors({})
            self.show_duplicates(outcome.found)
            self._show_message(
                "Not saved yet: check the charts below. Use the existing chart if it is this "
                "patient, or save this form as a new patient."
            )
            self.not_saved.emit()
            return
        if isinstance(outcome, _Mistakes):
            self._today = outcome.today
            self.show_errors(outcome.errors)
            self.not_saved.emit()
            return
        self.patient_id = outcome
        self.show_errors({})
        self.saved.emit(outcome)
        self.accept()

    def _on_save_refused(self, err: ServiceError) -> None:
        self._saving = False
        self.buttons.setEnabled(True)
        self._show_message(f"Not saved: {err}")
        self.not_saved.emit()


@dataclasses.dataclass(frozen=True)
class _Duplicates:
    """A save held back: these charts may already be the patient."""

    found: tuple[PossibleDuplicate, ...]


@dataclasses.dataclass(frozen=True)
class _Mistakes:
    """A save the services refused field by field, and the clinic's today to check against."""

    errors: dict[str, str]
    today: dt.date
