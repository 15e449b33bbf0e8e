"""The patient form shows every date month first (MM/DD/YYYY), accepts it typed that way or as
ISO, never shows ISO, and fits a 1000-1100 px wide window without scrolling sideways."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from PySide6.QtWidgets import QLineEdit, QScrollArea
from pytestqt.qtbot import QtBot

from ketadesk.services.common.context import Actor
from ketadesk.services.patients.patient_fields import DATE_FIELDS
from ketadesk.services.patients.registration import patient_form
from ketadesk.services.schedule.day import clinic_today
from ketadesk.store.models import Patient
from ketadesk.ui.common.desk import Desk
from ketadesk.ui.patients.patient_form import PatientFormDialog
from tests.clinic_fixtures import SmallClinic
from tests.pictures import picture_folder

NURSE = Actor(user_id=None, username="nurse", role="nurse")
ISO = re.compile(r"\d{4}-\d{1,2}-\d{1,2}")
WHO = "Ada Lovelace"  # born 05/17/1980 in the fixture clinic


def _open(qtbot: QtBot, clinic: SmallClinic) -> PatientFormDialog:
    opened: list[PatientFormDialog] = []
    PatientFormDialog.open_for(Desk(clinic.db, NURSE), clinic.ids[WHO], None, opened.append)
    qtbot.waitUntil(lambda: bool(opened), timeout=10_000)
    dialog = opened[0]
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: bool(dialog.consent_validity.text()), timeout=10_000)
    return dialog


def _line(dialog: PatientFormDialog, name: str) -> QLineEdit:
    editor = dialog.fields[name].editor
    assert isinstance(editor, QLineEdit)
    return editor


def test_dates_are_shown_month_first_and_an_untouched_form_is_unchanged(
    qtbot: QtBot, clinic: SmallClinic
) -> None:
    dialog = _open(qtbot, clinic)
    assert _line(dialog, "date_of_birth").text() == "05/17/1980"
    assert _line(dialog, "screening_cleared_on").text() == "01/05/2026"
    assert _line(dialog, "prior_auth_expires_on").text() == "12/31/2027"
    for name in DATE_FIELDS:
        line = _line(dialog, name)
        assert not ISO.search(line.text()), name
        assert line.placeholderText() == "MM/DD/YYYY"
    # 120 months from 01/05/2026: through 01/04/2036.
    assert dialog.consent_validity.text() == "Valid 120 months: covers sessions through 01/04/2036."
    # The form handed to the save is the form as read: nothing reads as changed.
    assert dialog.form() == patient_form(clinic.db, NURSE, clinic.ids[WHO])


@pytest.mark.parametrize("typed", ["03/04/1981", "1981-03-04", "3/4/1981"])
def test_a_date_typed_month_first_or_iso_is_saved_and_shown_month_first(
    qtbot: QtBot, clinic: SmallClinic, typed: str
) -> None:
    dialog = _open(qtbot, clinic)
    _line(dialog, "date_of_birth").setText(typed)
    with qtbot.waitSignal(dialog.saved, timeout=10_000):
        dialog.save()
    with clinic.db.read() as session:
        patient = session.get(Patient, clinic.ids[WHO])
        assert patient is not None
        assert patient.date_of_birth == dt.date(1981, 3, 4)
    again = _open(qtbot, clinic)
    assert _line(again, "date_of_birth").text() == "03/04/1981"


def test_a_wrong_date_is_named_month_first(qtbot: QtBot, clinic: SmallClinic) -> None:
    dialog = _open(qtbot, clinic)
    tomorrow = clinic_today(clinic.db) + dt.timedelta(days=1)
    _line(dialog, "consent_signed_on").setText("17/05/1980")
    _line(dialog, "rems_enrolled_on").setText(f"{tomorrow:%m/%d/%Y}")
    with qtbot.waitSignal(dialog.not_saved, timeout=10_000):
        dialog.save()
    errors = dialog.errors()
    assert errors["consent_signed_on"] == "'17/05/1980' is not a real date"
    assert errors["rems_enrolled_on"] == "rems enrolled on cannot be after today"
    assert not any(ISO.search(m) for m in errors.values())


@pytest.mark.parametrize("width", [1000, 1100])
def test_the_form_fits_a_narrow_window_without_scrolling_sideways(
    qtbot: QtBot, clinic: SmallClinic, width: int
) -> None:
    dialog = _open(qtbot, clinic)
    dialog.resize(width, 700)
    qtbot.wait(50)  # the layout settles
    scroll = dialog.findChild(QScrollArea)
    assert scroll is not None
    assert scroll.horizontalScrollBar().maximum() == 0
    for name in DATE_FIELDS:  # every date field is on screen, none cut at the right
        line = _line(dialog, name)
        right = line.mapTo(dialog, line.rect().topRight()).x()
        assert right < dialog.width(), name
    dialog.grab().save(str(picture_folder() / f"patient_form_{width}.png"))
