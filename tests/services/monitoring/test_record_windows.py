"""Findings of a nurse's trial of the monitoring record: a reading fills a BP check only within
the check's window (``[monitoring] reading_early_minutes``), and the latest pre-dose reading
taken at or before the dose start (a documented recheck after rest) decides the hard stop."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from ketadesk.services.booking import booking
from ketadesk.services.booking.booking import BookingRequest
from ketadesk.services.common.context import SYSTEM, Actor, InvalidFields
from ketadesk.services.monitoring import records, validation
from ketadesk.services.monitoring.completion import ChairRefused
from ketadesk.services.monitoring.record_forms import (
    ReadingForm,
    RecordForm,
    reading_field,
    with_reading,
)
from ketadesk.services.settings import rules
from ketadesk.store.models import SessionRecord
from tests.clinic_fixtures import SmallClinic, build_small_clinic

NURSE = Actor(user_id=None, username="kim", role="nurse")
ADMIN = Actor(user_id=None, username="admin", role="admin")
SPR = {
    "room": "Room 1",
    "monitor": "Monitor 1",
    "oximeter": "Oximeter 1",
    "nurse": "Nurse Kim",
    "prescriber": "Dr Patel",
}


@pytest.fixture
def clinic(db_url: str) -> Iterator[SmallClinic]:
    c = build_small_clinic(db_url)
    yield c
    c.db.dispose()


#: The injected clock: booked on Tue 1 Dec 2026 for the Wednesday (the services take ``now``).
BOOKED_AT = dt.datetime(2026, 12, 1, 16, 0, tzinfo=dt.UTC)
WED = dt.date(2026, 12, 2)


@pytest.fixture
def spravato(clinic: SmallClinic) -> int:
    """A Spravato session at 10:00: the pre-dose check 5 min before the dose, "+40 min"."""
    result = booking.book(
        clinic.db,
        SYSTEM,
        BookingRequest(
            patient_id=clinic.ids["Ada Lovelace"],
            sessions=(clinic.session("spravato", WED, "10:00", SPR),),
        ),
        now=BOOKED_AT,
    )
    # Started at its booked time (its checks lie as booked): a dose needs a session started.
    clinic.start(result.appointment_ids[0], WED, "10:00")
    return result.appointment_ids[0]


def _at(clinic: SmallClinic, hhmm: str) -> dt.datetime:
    return clinic.at(WED, hhmm)


def _dosed(clinic: SmallClinic, appointment_id: int, pre: tuple[str, str, str]) -> RecordForm:
    form = records.load_record(clinic.db, NURSE, appointment_id)
    time, systolic, diastolic = pre
    form = with_reading(form, 0, time=time, systolic=systolic, diastolic=diastolic, spo2="98")
    return dataclasses.replace(
        form,
        dose_mg="56",
        devices="2",
        dose_started="10:12",
        monitored_by_id=clinic.ids["Nurse Kim"],
    )


def _extra(form: RecordForm, label: str, time: str, systolic: str, diastolic: str) -> RecordForm:
    row = ReadingForm(label, time, systolic, diastolic, scheduled=False)
    return dataclasses.replace(form, readings=(*form.readings, row))


def _stored_labels(clinic: SmallClinic) -> list[str]:
    with clinic.db.read() as session:
        record = session.scalars(select(SessionRecord)).one()
        return sorted(r.label for r in record.readings)


def test_a_plus_40_reading_taken_2_minutes_after_the_dose_is_refused_naming_the_check(
    clinic: SmallClinic, spravato: int
) -> None:
    form = _dosed(clinic, spravato, ("10:08", "128", "82"))
    early = with_reading(form, 1, time="10:14", systolic="130", diastolic="84")
    with pytest.raises(InvalidFields) as refused:
        records.save_record(clinic.db, NURSE, spravato, early, now=_at(clinic, "10:20"))
    assert refused.value.errors == {
        reading_field(1, "time"): "too early for the “+40 min” check: it is due at 10:52 "
        "(40 min after the dose at 10:12) and may be taken from 10:47; record a reading taken "
        "at 10:14 as an extra reading"
    }
    # As an extra reading it is saved, and the "+40 min" check stays owed on the REMS form.
    extra = _extra(form, "Extra 1", "10:14", "130", "84")
    saved = records.save_record(clinic.db, NURSE, spravato, extra, now=_at(clinic, "10:20"))
    assert any("+40 min" in m for m in saved.missing)
    assert _stored_labels(clinic) == ["Extra 1", "Pre-dose"]
    # Within the window (5 min before it is due, the configured tolerance) it fills the check.
    again = records.load_record(clinic.db, NURSE, spravato)
    # The extra reading at 10:14 now reads before the check due at 10:52 (the order taken).
    assert [r.label for r in again.readings][:3] == ["Pre-dose", "Extra 1", "+40 min"]
    on_time = with_reading(again, 2, time="10:47", systolic="130", diastolic="84")
    saved = records.save_record(clinic.db, NURSE, spravato, on_time, now=_at(clinic, "10:50"))
    assert not any("+40 min" in m for m in saved.missing)


def test_the_early_tolerance_is_configuration(clinic: SmallClinic, spravato: int) -> None:
    rules.save_rules(clinic.db, ADMIN, {"monitoring.reading_early_minutes": 10}, now=BOOKED_AT)
    form = _dosed(clinic, spravato, ("10:08", "128", "82"))
    form = with_reading(form, 1, time="10:42", systolic="130", diastolic="84")
    records.save_record(clinic.db, NURSE, spravato, form, now=_at(clinic, "10:50"))
    assert _stored_labels(clinic) == ["+40 min", "Pre-dose"]


def test_a_recheck_after_rest_decides_the_hard_stop_and_the_first_reading_stays(
    clinic: SmallClinic, spravato: int
) -> None:
    high = _dosed(clinic, spravato, ("10:10", "190", "112"))
    with pytest.raises(ChairRefused) as refused:
        records.save_record(clinic.db, NURSE, spravato, high, now=_at(clinic, "10:12"))
    assert "190/112 (10:10) is above the clinic's hard stop" in str(refused.value)
    rechecked = _extra(high, "Pre-dose recheck", "10:11", "148", "92")
    saved = records.save_record(clinic.db, NURSE, spravato, rechecked, now=_at(clinic, "10:12"))
    assert _stored_labels(clinic) == ["Pre-dose", "Pre-dose recheck"]
    # Not stopped any more, but the first reading's verdict is a fact of when it was taken:
    # still the hard stop (a user trial saw it turn into "consider delaying"), and what the
    # recheck did after it.
    first = saved.warnings[reading_field(0, "systolic")]
    assert first.startswith(
        "Pre-dose BP hard stop: BP 190/112 is above the clinic's hard stop 180/110"
    )
    assert "Then: Pre-dose recheck 148/92 at 10:11" in first
    assert "cleared dosing" in first
    # The recheck is above the label's 140/90, before the dose: consider delaying it.
    assert "consider delaying the dose" in saved.warnings[reading_field(3, "systolic")]


def test_a_recheck_after_the_dose_start_does_not_lift_the_hard_stop(
    clinic: SmallClinic, spravato: int
) -> None:
    high = _dosed(clinic, spravato, ("10:10", "190", "112"))
    late = _extra(high, "Pre-dose recheck", "10:13", "148", "92")
    with pytest.raises(ChairRefused, match="190/112"):
        records.save_record(clinic.db, NURSE, spravato, late, now=_at(clinic, "10:20"))


def test_a_same_minute_recheck_is_refused_at_save_and_said_as_the_nurse_types(
    clinic: SmallClinic, spravato: int
) -> None:
    # A user trial: 186/112 with "Now" at 10:22, the recheck 152/94 with "Now" in the same
    # minute; the form said the recheck cleared dosing, Save refused the dose.
    sheet = records.open_record(clinic.db, NURSE, spravato, now=_at(clinic, "10:11"))
    high = with_reading(sheet.form, 0, time="10:10", systolic="186", diastolic="112")
    same = _extra(high, "Pre-dose recheck", "10:10", "152", "94")
    typed = validation.validate_record(same, sheet.rules, now=_at(clinic, "10:11"))
    warned = typed.warnings[reading_field(3, "time")]
    assert "the same minute as the BP over the hard stop (186/112 at 10:10)" in warned
    assert "does not clear dosing" in warned
    assert not typed.notes  # no "cleared dosing" under it
    assert "Then:" not in typed.stops[reading_field(0, "systolic")]
    # Before any dose is typed, the next check is the recheck after rest.
    assert typed.recheck_after == _at(clinic, "10:10")

    dosed = dataclasses.replace(
        same,
        dose_mg="56",
        devices="2",
        dose_started="10:12",
        monitored_by_id=clinic.ids["Nurse Kim"],
    )
    with pytest.raises(ChairRefused, match="taken the same minute"):
        records.save_record(clinic.db, NURSE, spravato, dosed, now=_at(clinic, "10:13"))
    # A minute later, after rest: the form and the save agree that it cleared dosing.
    later = _extra(high, "Pre-dose recheck", "10:11", "152", "94")
    later = dataclasses.replace(
        later,
        dose_mg="56",
        devices="2",
        dose_started="10:12",
        monitored_by_id=clinic.ids["Nurse Kim"],
    )
    checked = validation.validate_record(later, sheet.rules, now=_at(clinic, "10:13"))
    assert "cleared dosing" in checked.notes[reading_field(3, "note")]
    assert checked.recheck_after is None
    records.save_record(clinic.db, NURSE, spravato, later, now=_at(clinic, "10:13"))
