"""Discharge holds the clinic's rules (a user trial: a Spravato patient was completed with the
last BP 158/98, "recheck while it stays elevated", and nobody asked about the ride home):
the last BP against ``[chair] discharge_max_systolic/diastolic``, refused naming the reading
and the recheck, or overridden by a prescriber with a reason; the ride home confirmed (the
driver on record) or why not, kept with the completion and in the audit; the discharge time
and minutes monitored recorded by the completion; and "ready to leave" not after discharge."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from ketadesk.scheduling.chair_rules import DISCHARGE_BP
from ketadesk.scheduling.ride_home import RideHome
from ketadesk.services.booking import appointment_changes, booking
from ketadesk.services.booking.booking import BookingRequest
from ketadesk.services.common.context import SYSTEM, Actor, InvalidFields
from ketadesk.services.monitoring import completion, records
from ketadesk.services.monitoring.completion import ChairRefused, RideNeeded
from ketadesk.services.monitoring.record_forms import ReadingForm, RecordForm, with_reading
from ketadesk.services.printing import session_record
from ketadesk.services.settings import rules
from ketadesk.store.models import AppointmentEvent, AuditEvent, SessionRecord
from tests.clinic_fixtures import SmallClinic, build_small_clinic

BOOKED_AT = dt.datetime(2026, 12, 1, 16, 0, tzinfo=dt.UTC)  # Tue 1 Dec 2026, 08:00 local
WED = dt.date(2026, 12, 2)
SPR = {
    "room": "Room 1",
    "monitor": "Monitor 1",
    "oximeter": "Oximeter 1",
    "nurse": "Nurse Kim",
    "prescriber": "Dr Patel",
}
NURSE = Actor(user_id=None, username="kim", role="nurse")
PRESCRIBER = Actor(user_id=None, username="patel", role="prescriber")
ZONE = ZoneInfo("America/Los_Angeles")  # the small clinic's


@pytest.fixture
def clinic(db_url: str) -> Iterator[SmallClinic]:
    c = build_small_clinic(db_url)
    yield c
    c.db.dispose()


def _book(clinic: SmallClinic, code: str, hhmm: str, assignment: dict[str, str]) -> int:
    result = booking.book(
        clinic.db,
        SYSTEM,
        BookingRequest(
            patient_id=clinic.ids["Ada Lovelace"],
            sessions=(clinic.session(code, WED, hhmm, assignment),),
        ),
        now=BOOKED_AT,
    )
    return result.appointment_ids[0]


@pytest.fixture
def spravato(clinic: SmallClinic) -> int:
    """Ada's first Spravato session, Wednesday 10:00: dose 10:15, discharge allowed 12:15."""
    appointment = _book(clinic, "spravato", "10:00", SPR)
    for action, hhmm in (("check_in", "09:55"), ("start", "10:00")):
        appointment_changes.change_status(clinic.db, NURSE, appointment, action, now=_at(hhmm))
    return appointment


def _at(hhmm: str) -> dt.datetime:
    hour, minute = map(int, hhmm.split(":"))
    local = dt.datetime.combine(WED, dt.time(hour, minute), ZONE)
    return local.astimezone(dt.UTC)


def _form(clinic: SmallClinic, appointment_id: int, **changes: object) -> RecordForm:
    """The trial's record: the BP still elevated before discharge, effects resolved."""
    form = records.load_record(clinic.db, NURSE, appointment_id)
    form = with_reading(form, 0, time="10:10", systolic="142", diastolic="88", spo2="98")
    form = with_reading(form, 1, time="10:56", systolic="168", diastolic="102", spo2="96")
    form = with_reading(form, 2, time="12:14", systolic="158", diastolic="98", spo2="97")
    form = dataclasses.replace(
        form,
        dose_mg="56",
        devices="2",
        lot_number="LOT-7781A",
        dose_started="10:15",
        monitored_by_id=clinic.ids["Nurse Kim"],
        sedation="mild",
        dissociation="mild",
        sedation_resolved=True,
        dissociation_resolved=True,
    )
    return dataclasses.replace(form, **changes)  # type: ignore[arg-type]


def _save(clinic: SmallClinic, appointment_id: int, form: RecordForm, hhmm: str) -> None:
    records.save_record(clinic.db, NURSE, appointment_id, form, now=_at(hhmm))


def _complete(
    clinic: SmallClinic, appointment_id: int, hhmm: str, ride: RideHome | None = None
) -> None:
    appointment_changes.change_status(
        clinic.db, NURSE, appointment_id, "complete", now=_at(hhmm), ride=ride
    )


def _record(clinic: SmallClinic, appointment_id: int) -> SessionRecord:
    with clinic.db.read() as session:
        record = session.scalar(
            select(SessionRecord).where(SessionRecord.appointment_id == appointment_id)
        )
        assert record is not None
        session.expunge(record)
        return record


RIDE = RideHome(here=True, name="A. Driver")


def test_a_discharge_with_the_bp_still_elevated_is_refused_naming_the_reading(
    clinic: SmallClinic, spravato: int
) -> None:
    _save(clinic, spravato, _form(clinic, spravato), "12:16")
    with pytest.raises(ChairRefused) as refused:
        _complete(clinic, spravato, "12:20", RIDE)
    assert [f.rule for f in refused.value.findings] == [DISCHARGE_BP]
    message = str(refused.value)
    assert "the last BP, 158/98 (“Before discharge” at 12:14), is still above 140/90" in message
    assert "recheck it" in message
    assert "A prescriber may override it with a reason" in message
    assert _record(clinic, spravato).discharged_at is None  # nothing written
    # Typing the discharge time on the record is judged by the same rule.
    with pytest.raises(ChairRefused, match="158/98"):
        _save(clinic, spravato, _form(clinic, spravato, discharged="12:20"), "12:21")

    # A recheck at or below the limit, after rest, clears it; the session completes.
    form = _form(clinic, spravato)
    recheck = ReadingForm("Recheck", "12:30", "136", "86", spo2="98", scheduled=False)
    form = dataclasses.replace(form, readings=(*form.readings, recheck))
    _save(clinic, spravato, form, "12:31")
    _complete(clinic, spravato, "12:32", RIDE)
    record = _record(clinic, spravato)
    assert record.discharged_at is not None
    assert record.discharged_at.replace(tzinfo=dt.UTC) == _at("12:32")
    assert record.monitored_minutes == 137  # from the dose at 10:15


def test_the_discharge_limit_is_configuration(clinic: SmallClinic, spravato: int) -> None:
    rules.save_rules(
        clinic.db,
        SYSTEM,
        {"chair.discharge_max_systolic": 160, "chair.discharge_max_diastolic": 100},
        now=BOOKED_AT,
    )
    _save(clinic, spravato, _form(clinic, spravato), "12:16")
    _complete(clinic, spravato, "12:20", RIDE)  # 158/98 is within 160/100


def test_a_prescriber_overrides_the_elevated_bp_with_a_reason(
    clinic: SmallClinic, spravato: int
) -> None:
    _save(clinic, spravato, _form(clinic, spravato), "12:16")
    with pytest.raises(ChairRefused):
        _complete(clinic, spravato, "12:20", RIDE)
    completion.override(
        clinic.db,
        PRESCRIBER,
        spravato,
        [DISCHARGE_BP],
        "known hypertensive, baseline 150s; seen by Dr Patel",
        now=_at("12:21"),
    )
    _complete(clinic, spravato, "12:22", RIDE)
    assert _record(clinic, spravato).discharged_at is not None


def test_completing_asks_the_ride_home_with_the_driver_on_record(
    clinic: SmallClinic, spravato: int
) -> None:
    # (the BP is overridden here: this test is about the ride)
    completion.override(
        clinic.db, PRESCRIBER, spravato, [DISCHARGE_BP], "baseline", now=_at("12:16")
    )
    _save(clinic, spravato, _form(clinic, spravato, discharged="12:20"), "12:21")
    with pytest.raises(RideNeeded) as asked:
        _complete(clinic, spravato, "12:25")
    assert asked.value.driver_name == "A. Driver"
    assert "may not drive for 24 hours after this Spravato" in asked.value.question
    assert "(on the record: A. Driver)" in asked.value.question
    with pytest.raises(RideNeeded, match="name the driver or escort"):
        _complete(clinic, spravato, "12:25", RideHome(here=True, name=" "))
    with pytest.raises(RideNeeded, match="say why the patient leaves without"):
        _complete(clinic, spravato, "12:25", RideHome(here=False))
    _complete(clinic, spravato, "12:25", RideHome(here=False, reason="taxi booked by the clinic"))
    with clinic.db.read() as session:
        event = session.scalars(
            select(AppointmentEvent).where(
                AppointmentEvent.appointment_id == spravato,
                AppointmentEvent.action == "complete",
            )
        ).one()
        assert event.detail["ride"] == {
            "here": False,
            "name": "",
            "reason": "taxi booked by the clinic",
        }
        audited = session.scalars(
            select(AuditEvent.detail).where(
                AuditEvent.action == "complete", AuditEvent.entity_id == spravato
            )
        ).one()
    assert "no ride home: taxi booked by the clinic" in audited
    record = _record(clinic, spravato)
    assert record.discharged_at is not None
    assert record.discharged_at.replace(tzinfo=dt.UTC) == _at("12:20")  # the one typed
    assert record.monitored_minutes == 125


def test_a_session_without_dosing_asks_no_ride(clinic: SmallClinic) -> None:
    therapy = _book(clinic, "integration", "09:00", {"therapist": "Sam Rivera"})
    for action in ("start", "complete"):
        appointment_changes.change_status(clinic.db, SYSTEM, therapy, action, now=_at("09:30"))


def test_ready_to_leave_after_the_discharge_is_refused(clinic: SmallClinic, spravato: int) -> None:
    form = _form(clinic, spravato, discharged="12:16", ready_to_leave="12:40")
    with pytest.raises(InvalidFields) as refused:
        _save(clinic, spravato, form, "12:45")
    assert refused.value.errors["ready_to_leave"] == (
        "ready to leave at 12:40 is after the discharge at 12:16: a patient is ready to "
        "leave at or before the discharge; correct one of the two times"
    )


def test_the_printed_record_says_the_discharge_the_app_recorded(
    clinic: SmallClinic, spravato: int
) -> None:
    """A user trial: "Discharge time ____ Minutes monitored ____", "(at least 45)" on an IV
    record while the app enforced 85, "mild" without saying resolved, and none of the REMS
    form's SpO2, vital signs acceptable or ready to leave."""
    form = _form(clinic, spravato, ready_to_leave="12:30", vitals_acceptable=True)
    recheck = ReadingForm("Recheck", "12:30", "136", "86", spo2="95", scheduled=False)
    _save(clinic, spravato, dataclasses.replace(form, readings=(*form.readings, recheck)), "12:31")
    _complete(clinic, spravato, "12:32", RideHome(here=True, name="Sam Lovelace (husband)"))
    sheet = session_record.session_record_sheet(clinic.db, NURSE, spravato, now=_at("12:40"))
    text = " ".join(b.html for b in session_record.session_record_layout(sheet).blocks)
    assert "Discharge time</span><br/><b>12:32</b>" in text
    assert "<b>137</b> min" in text
    assert "at least 120 from the dose start" in text  # the minimum enforced, not a phase
    assert "<b>mild</b>, resolved at or before discharge (12:32)" in text
    assert "Ready to leave</span><br/><b>12:30</b>" in text
    assert "&#9746; Yes" in text  # vital signs acceptable
    assert "lowest <b>95 %</b>: acceptable (at or above 93 %)" in text
    assert "Driver or escort here: <b>Sam Lovelace (husband)</b>" in text


@pytest.mark.parametrize("typed", ["", "12:20"], ids=["filled in", "typed on the record"])
def test_undoing_a_completion_puts_the_record_back_as_it_was(
    clinic: SmallClinic, spravato: int, typed: str
) -> None:
    """The undo once kept the discharge time the completion filled in: the record then said
    the patient left while the session was back in progress."""
    completion.override(
        clinic.db, PRESCRIBER, spravato, [DISCHARGE_BP], "baseline", now=_at("12:16")
    )
    _save(clinic, spravato, _form(clinic, spravato, discharged=typed), "12:21")
    before = _record(clinic, spravato)
    _complete(clinic, spravato, "12:25", RIDE)
    completed = _record(clinic, spravato)
    assert completed.discharged_at is not None
    assert completed.monitored_minutes is not None

    appointment_changes.undo_status(clinic.db, NURSE, spravato, now=_at("12:27"))

    after = _record(clinic, spravato)
    assert (after.discharged_at, after.monitored_minutes) == (
        before.discharged_at,
        before.monitored_minutes,
    )
    if not typed:
        assert after.discharged_at is None
    # Completed again, the discharge is that time's, not the first completion's.
    _complete(clinic, spravato, "12:40", RIDE)
    again = _record(clinic, spravato)
    assert again.discharged_at is not None
    expected = _at(typed) if typed else _at("12:40")
    assert again.discharged_at.replace(tzinfo=dt.UTC) == expected
