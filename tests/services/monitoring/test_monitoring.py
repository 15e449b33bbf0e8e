"""Session monitoring records: impossible readings refused at the field, worrying ones warned,
discharge after the observation time, BP checks falling due, and the REMS form filling up."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from ketadesk.services.booking import appointment_changes, booking
from ketadesk.services.booking.booking import BookingRequest
from ketadesk.services.common.context import (
    SYSTEM,
    Actor,
    InvalidFields,
    InvalidRequest,
    PermissionDenied,
)
from ketadesk.services.demo.clinic import build_demo
from ketadesk.services.monitoring import reading_schedule, record_forms, records, rems, validation
from ketadesk.services.monitoring.completion import ChairRefused
from ketadesk.services.monitoring.record_forms import RecordForm, reading_field, with_reading
from ketadesk.store.database import open_database
from ketadesk.store.models import AuditEvent, FollowUp, SessionRecord, VitalReading
from tests.clinic_fixtures import RIDE_HOME, SmallClinic, build_small_clinic

BOOKED_AT = dt.datetime(2026, 12, 1, 16, 0, tzinfo=dt.UTC)  # Tue 1 Dec 2026, 08:00 local
WED = dt.date(2026, 12, 2)
SPR = {
    "room": "Room 1",
    "monitor": "Monitor 1",
    "oximeter": "Oximeter 1",
    "nurse": "Nurse Kim",
    "prescriber": "Dr Patel",
}
IV = {"room": "Room 2", "monitor": "Monitor 2", "nurse": "Nurse Kim"}
NURSE = Actor(user_id=None, username="kim", role="nurse")
FRONT_DESK = Actor(user_id=None, username="maria", role="front_desk")
THERAPIST = Actor(user_id=None, username="sam", role="therapist")


@pytest.fixture
def clinic(db_url: str) -> Iterator[SmallClinic]:
    c = build_small_clinic(db_url)
    yield c
    c.db.dispose()


def _book(
    clinic: SmallClinic,
    code: str,
    hhmm: str,
    assignment: dict[str, str],
    who: str = "Ada Lovelace",
) -> int:
    result = booking.book(
        clinic.db,
        SYSTEM,
        BookingRequest(
            patient_id=clinic.ids[who],
            sessions=(clinic.session(code, WED, hhmm, assignment),),
        ),
        now=BOOKED_AT,
    )
    # Started at its booked time (its checks lie as booked): a dose needs a session started.
    clinic.start(result.appointment_ids[0], WED, hhmm)
    return result.appointment_ids[0]


@pytest.fixture
def spravato(clinic: SmallClinic) -> int:
    """Ada's Spravato session on Wednesday at 10:00: dose 10:15, discharge allowed 12:15."""
    return _book(clinic, "spravato", "10:00", SPR)


def _complete_form(clinic: SmallClinic, appointment_id: int) -> RecordForm:
    form = records.load_record(clinic.db, NURSE, appointment_id)
    form = with_reading(
        form, 0, time="10:10", systolic="128", diastolic="82", heart_rate="72", spo2="98"
    )
    form = with_reading(
        form, 1, time="10:56", systolic="134", diastolic="86", heart_rate="76", spo2="97"
    )
    form = with_reading(
        form, 2, time="12:20", systolic="124", diastolic="80", heart_rate="70", spo2="98"
    )
    return dataclasses.replace(
        form,
        dose_mg="56",
        devices="2",
        lot_number="LOT-4471A",
        dose_started="10:15",
        discharged="12:25",
        monitored_by_id=clinic.ids["Nurse Kim"],
        sedation="mild",
        dissociation="mild",
        sedation_resolved=True,
        dissociation_resolved=True,
        events="Mild dizziness at 10:40, resolved by 11:30.",
        concomitant_meds=(),
        vitals_acceptable=True,
        ready_to_leave="12:20",
    )


def _records(clinic: SmallClinic) -> tuple[int, int]:
    with clinic.db.read() as session:
        records = session.scalar(select(func.count()).select_from(SessionRecord)) or 0
        readings = session.scalar(select(func.count()).select_from(VitalReading)) or 0
        return records, readings


def _at(clinic: SmallClinic, hhmm: str) -> dt.datetime:
    return clinic.at(WED, hhmm)


def test_new_spravato_session_misses_everything_on_the_rems_form(
    clinic: SmallClinic, spravato: int
) -> None:
    with clinic.db.read() as session:
        missing = rems.rems_missing(session, spravato)
    assert missing == [
        "dose, devices and lot",
        "dose start time",
        "BP Pre-dose",
        "BP +40 min",
        "BP Before discharge",
        "sedation and dissociation",
        "discharge time",
        "who monitored",
        # What current copies of the form also ask ([rems_form] asks).
        "concomitant medicines",
        "SpO2",
        "vital signs acceptable (yes/no)",
        "time ready to leave",
    ]


def test_complete_record_leaves_nothing_missing_and_is_audited(
    clinic: SmallClinic, spravato: int
) -> None:
    result = records.save_record(
        clinic.db, NURSE, spravato, _complete_form(clinic, spravato), now=_at(clinic, "12:30")
    )
    assert result.missing == ()
    assert result.warnings == {}
    with clinic.db.read() as session:
        assert rems.rems_missing(session, spravato) == []
        record = session.scalars(select(SessionRecord)).one()
        assert record.monitored_minutes == 130
        assert record.dose_started_at == _at(clinic, "10:15")
        assert [r.label for r in record.readings] == ["Pre-dose", "+40 min", "Before discharge"]
        event = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "record_monitoring")
        ).one()
        assert event.before is None
        assert event.after is not None
        assert event.after["dose_mg"] == 56
        assert event.patient_id == clinic.ids["Ada Lovelace"]
    form = rems.rems_form(clinic.db, NURSE, spravato)
    assert form.complete
    assert form.lot_number == "LOT-4471A"
    assert form.monitored_by == "Nurse Kim"
    assert [(r.label, r.systolic, r.diastolic) for r in form.readings] == [
        ("Pre-dose", 128, 82),
        ("+40 min", 134, 86),
        ("Before discharge", 124, 80),
    ]


def test_partial_record_lists_exactly_what_is_still_missing(
    clinic: SmallClinic, spravato: int
) -> None:
    form = _complete_form(clinic, spravato)
    form = dataclasses.replace(
        with_reading(form, 1, time="", systolic="", diastolic="", heart_rate="", spo2=""),
        lot_number="",
        discharged="",
    )
    result = records.save_record(clinic.db, NURSE, spravato, form, now=_at(clinic, "12:22"))
    assert result.missing == ("lot", "BP +40 min", "discharge time")
    # Filling in the rest empties the list; the second save is checked against the first.
    form = dataclasses.replace(
        _complete_form(clinic, spravato),
        version=records.load_record(clinic.db, NURSE, spravato).version,
    )
    result = records.save_record(clinic.db, NURSE, spravato, form, now=_at(clinic, "12:30"))
    assert result.missing == ()
    assert _records(clinic) == (1, 3)


@pytest.mark.parametrize(
    ("systolic", "diastolic", "field", "words"),
    [
        ("0", "0", "systolic", "systolic 0 cannot be real: it must be between 50 and 300"),
        ("400", "20", "systolic", "systolic 400 cannot be real"),
        ("120", "250", "diastolic", "diastolic 250 cannot be real"),
        ("80", "90", "systolic", "the systolic must be higher than the diastolic"),
        ("12o", "80", "systolic", "“12o” is not a whole number"),
        ("120", "", "diastolic", "a blood pressure needs both numbers"),
    ],
)
def test_blood_pressure_that_cannot_be_real_is_refused_at_the_field_and_nothing_saved(
    clinic: SmallClinic, spravato: int, systolic: str, diastolic: str, field: str, words: str
) -> None:
    form = with_reading(_complete_form(clinic, spravato), 1, systolic=systolic, diastolic=diastolic)
    with pytest.raises(InvalidFields) as refused:
        records.save_record(clinic.db, NURSE, spravato, form, now=_at(clinic, "12:30"))
    assert words in refused.value.errors[reading_field(1, field)]
    assert _records(clinic) == (0, 0)


def test_spo2_and_heart_rate_outside_the_configured_limits_are_refused(
    clinic: SmallClinic, spravato: int
) -> None:
    form = with_reading(_complete_form(clinic, spravato), 0, spo2="101", heart_rate="5")
    with pytest.raises(InvalidFields) as refused:
        records.save_record(clinic.db, NURSE, spravato, form, now=_at(clinic, "12:30"))
    assert refused.value.errors == {
        reading_field(0, "spo2"): "SpO2 101 cannot be real: it must be between 50 and 100",
        reading_field(
            0, "heart_rate"
        ): "heart rate 5 cannot be real: it must be between 20 and 250",
    }


def test_high_bp_and_low_spo2_are_warnings_and_the_record_is_saved(
    clinic: SmallClinic, spravato: int
) -> None:
    form = _complete_form(clinic, spravato)
    form = with_reading(form, 0, systolic="152", diastolic="94")
    form = with_reading(form, 1, systolic="146", diastolic="88", spo2="91")
    result = records.save_record(clinic.db, NURSE, spravato, form, now=_at(clinic, "12:30"))
    assert result.warnings == {
        reading_field(0, "systolic"): "BP 152/94 is above 140/90: consider delaying the dose",
        reading_field(1, "systolic"): "BP 146/88 is above 140/90: recheck while it stays elevated",
        reading_field(1, "spo2"): "SpO2 91% is below 93%",
    }
    assert _records(clinic) == (1, 3)


def test_warn_threshold_comes_from_configuration(clinic: SmallClinic, spravato: int) -> None:
    sheet = records.open_record(clinic.db, NURSE, spravato, now=_at(clinic, "12:30"))
    form = with_reading(_complete_form(clinic, spravato), 0, systolic="145", diastolic="85")
    strict = dataclasses.replace(
        sheet.rules,
        settings=dataclasses.replace(
            sheet.rules.settings,
            monitoring={**sheet.rules.settings.monitoring, "bp_warn_systolic": 150},
        ),
    )
    assert (
        reading_field(0, "systolic")
        in validation.validate_record(form, sheet.rules, now=_at(clinic, "12:30")).warnings
    )
    assert validation.validate_record(form, strict, now=_at(clinic, "12:30")).warnings == {}


def test_discharge_before_the_dose_is_refused(clinic: SmallClinic, spravato: int) -> None:
    form = dataclasses.replace(
        _complete_form(clinic, spravato), discharged="10:05", ready_to_leave="10:05"
    )
    with pytest.raises(InvalidFields) as refused:
        records.save_record(clinic.db, NURSE, spravato, form, now=_at(clinic, "12:30"))
    assert refused.value.errors == {
        "discharged": "discharge at 10:05 is before the dose started (10:15)"
    }
    assert _records(clinic) == (0, 0)


def test_discharge_before_the_observation_minutes_is_refused(
    clinic: SmallClinic, spravato: int
) -> None:
    form = dataclasses.replace(
        _complete_form(clinic, spravato), discharged="12:14", ready_to_leave="12:14"
    )
    # Marked at the field as the nurse types, refused at the save (a prescriber may override:
    # tests/services/monitoring/test_chair_checks.py).
    assert validation.validate_record(
        form, records.open_record(clinic.db, NURSE, spravato).rules, now=_at(clinic, "12:30")
    ).warnings["discharged"] == (
        "only 119 min after the dose: Spravato (esketamine) needs at least 120 min of "
        "observation before discharge (earliest 12:15)"
    )
    with pytest.raises(ChairRefused) as refused:
        records.save_record(clinic.db, NURSE, spravato, form, now=_at(clinic, "12:30"))
    assert [f.text for f in refused.value.findings] == [
        "Observation before discharge: 12:14 is only 119 min after the dose (10:15): "
        "Spravato (esketamine) needs 120 min (earliest 12:15)"
    ]
    form = dataclasses.replace(form, discharged="12:15")
    assert records.save_record(clinic.db, NURSE, spravato, form, now=_at(clinic, "12:30"))


def test_times_later_than_now_or_not_times_are_refused(clinic: SmallClinic, spravato: int) -> None:
    form = dataclasses.replace(_complete_form(clinic, spravato), dose_started="25:10")
    form = with_reading(form, 2, time="12:20")
    with pytest.raises(InvalidFields) as refused:
        records.save_record(clinic.db, NURSE, spravato, form, now=_at(clinic, "12:00"))
    assert refused.value.errors[reading_field(2, "time")] == "12:20 is later than now (12:00)"
    assert (
        refused.value.errors["dose_started"] == "“25:10” is not a time: type it as 2:30 PM or 14:30"
    )


def test_dose_and_devices_must_be_positive(clinic: SmallClinic, spravato: int) -> None:
    form = dataclasses.replace(_complete_form(clinic, spravato), dose_mg="0", devices="-2")
    with pytest.raises(InvalidFields) as refused:
        records.save_record(clinic.db, NURSE, spravato, form, now=_at(clinic, "12:30"))
    assert refused.value.errors == {
        "dose_mg": "the dose must be more than 0, not 0",
        "devices": "the number of devices must be more than 0, not -2",
    }


@pytest.mark.parametrize("actor", [FRONT_DESK, THERAPIST])
def test_only_nurses_and_prescribers_record_monitoring(
    clinic: SmallClinic, spravato: int, actor: Actor
) -> None:
    with pytest.raises(PermissionDenied):
        records.save_record(
            clinic.db, actor, spravato, _complete_form(clinic, spravato), now=_at(clinic, "12:30")
        )
    assert _records(clinic) == (0, 0)


def test_a_save_over_a_newer_save_is_refused(clinic: SmallClinic, spravato: int) -> None:
    stale = _complete_form(clinic, spravato)
    records.save_record(clinic.db, NURSE, spravato, stale, now=_at(clinic, "12:30"))
    with pytest.raises(InvalidRequest, match="someone else saved this monitoring record"):
        records.save_record(
            clinic.db,
            NURSE,
            spravato,
            dataclasses.replace(stale, lot_number="OTHER"),
            now=_at(clinic, "12:31"),
        )


def test_bp_checks_fall_due_and_late_from_the_planned_then_actual_dose(
    clinic: SmallClinic, spravato: int
) -> None:
    due = reading_schedule.readings_due(clinic.db, [spravato], now=_at(clinic, "10:05"))[spravato]
    assert (due.next_label, due.next_due_at, due.late) == ("Pre-dose", _at(clinic, "10:10"), False)
    assert [c.state for c in due.checks] == ["upcoming", "upcoming", "upcoming"]
    assert due.discharge_allowed_at == _at(clinic, "12:15")
    due = reading_schedule.readings_due(clinic.db, [spravato], now=_at(clinic, "10:21"))[spravato]
    assert due.late
    assert due.checks[0].state == "late"
    # The pre-dose reading is taken and the dose starts late, at 10:20: the +40 check and the
    # discharge move with it.
    form = with_reading(
        records.load_record(clinic.db, NURSE, spravato),
        0,
        time="10:18",
        systolic="130",
        diastolic="84",
    )
    form = dataclasses.replace(form, dose_started="10:20")
    records.save_record(clinic.db, NURSE, spravato, form, now=_at(clinic, "10:22"))
    due = reading_schedule.readings_due(clinic.db, [spravato], now=_at(clinic, "11:05"))[spravato]
    assert [c.state for c in due.checks] == ["done", "due", "upcoming"]
    assert (due.next_label, due.next_due_at) == ("+40 min", _at(clinic, "11:00"))
    assert not due.late
    assert due.discharge_allowed_at == _at(clinic, "12:20")
    due = reading_schedule.readings_due(clinic.db, [spravato], now=_at(clinic, "11:11"))[spravato]
    assert due.late


def test_iv_infusion_keeps_extra_readings_and_has_no_rems_checks(clinic: SmallClinic) -> None:
    iv = _book(clinic, "iv_infusion", "13:00", IV)
    form = records.load_record(clinic.db, NURSE, iv)
    # Its checks are the pre-dose BP and the readings every 15 minutes ([reading_cadence]).
    assert [r.label for r in form.readings][:3] == ["Pre-dose", "+0 min", "+15 min"]
    form = with_reading(form, 0, time="13:10", systolic="122", diastolic="78")
    form = with_reading(form, 2, time="13:31", spo2="98")
    form = dataclasses.replace(
        form,
        readings=(
            *form.readings,
            record_forms.ReadingForm("Start", "13:16", "118", "76", "70", "99", scheduled=False),
        ),
        dose_mg="35",
        dose_started="13:15",
    )
    records.save_record(clinic.db, NURSE, iv, form, now=_at(clinic, "13:40"))
    again = records.load_record(clinic.db, NURSE, iv)
    # In the order taken, as the printed record lists them: the extra reading at 13:16 before
    # the +15 min check taken at 13:31.
    assert [(r.label, r.spo2) for r in again.readings if r.time] == [
        ("Pre-dose", ""),
        ("Start", "99"),
        ("+15 min", "98"),
    ]
    with clinic.db.read() as session:
        assert rems.rems_missing(session, iv) == []  # no REMS form for an IV infusion


def test_readings_due_accepts_a_session_and_skips_unknown_ids(
    clinic: SmallClinic, spravato: int
) -> None:
    with clinic.db.read() as session:
        found = reading_schedule.readings_due(session, [spravato, 999], now=_at(clinic, "10:00"))
    assert list(found) == [spravato]


def test_a_session_type_without_a_rems_form_misses_nothing(clinic: SmallClinic) -> None:
    iv = _book(clinic, "iv_infusion", "13:00", IV)
    with clinic.db.read() as session:
        assert rems.rems_missing(session, iv) == []


def test_demo_clinic_records_its_sessions_and_leaves_one_rems_form_incomplete(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'demo.sqlite'}"
    build_demo(
        url, seed=3, today=dt.date(2025, 12, 3), rooms=2, weeks_back=2, weeks_ahead=0, patients=16
    )
    db = open_database(url)
    try:
        with db.read() as session:
            records = session.scalars(select(SessionRecord)).all()
            assert records
            missing = {
                r.appointment_id: rems.rems_missing(session, r.appointment_id) for r in records
            }
            high = session.scalar(
                select(func.count()).select_from(VitalReading).where(VitalReading.systolic > 140)
            )
        incomplete = [a for a, words in missing.items() if words]
        assert len(incomplete) == 1
        assert missing[incomplete[0]] == ["lot", "BP +40 min"]
        assert high
    finally:
        db.dispose()


def test_rems_follow_up_shows_nothing_missing_once_complete_and_stays_open(
    clinic: SmallClinic, spravato: int
) -> None:
    records.save_record(
        clinic.db,
        NURSE,
        spravato,
        dataclasses.replace(_complete_form(clinic, spravato), lot_number=""),
        now=_at(clinic, "12:29"),
    )
    for action, hhmm in (("complete", "12:30"),):
        appointment_changes.change_status(
            clinic.db, NURSE, spravato, action, now=_at(clinic, hhmm), ride=RIDE_HOME
        )
    with clinic.db.read() as session:
        form = session.scalars(
            select(FollowUp).where(
                FollowUp.appointment_id == spravato, FollowUp.kind == "rems_form"
            )
        ).one()
        assert form.status == "open"
        assert rems.rems_missing(session, spravato) == ["lot"]
    records.save_record(
        clinic.db,
        NURSE,
        spravato,
        dataclasses.replace(
            _complete_form(clinic, spravato),
            version=records.load_record(clinic.db, NURSE, spravato).version,
        ),
        now=_at(clinic, "12:40"),
    )
    with clinic.db.read() as session:
        form = session.scalars(
            select(FollowUp).where(
                FollowUp.appointment_id == spravato, FollowUp.kind == "rems_form"
            )
        ).one()
        assert form.status == "open"  # open until someone submits it
        assert rems.rems_missing(session, spravato) == []


def test_a_refused_role_is_recorded_in_the_audit_trail(clinic: SmallClinic, spravato: int) -> None:
    with pytest.raises(PermissionDenied):
        records.save_record(
            clinic.db,
            FRONT_DESK,
            spravato,
            _complete_form(clinic, spravato),
            now=_at(clinic, "12:30"),
        )
    with clinic.db.read() as session:
        assert session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.username == "maria")
        )


def test_rems_missing_many_agrees_with_one_at_a_time(clinic: SmallClinic, spravato: int) -> None:
    iv = _book(clinic, "iv_infusion", "13:00", IV, who="Mary Seacole")
    form = dataclasses.replace(_complete_form(clinic, spravato), lot_number="")
    records.save_record(clinic.db, NURSE, spravato, form, now=_at(clinic, "12:30"))
    with clinic.db.read() as session:
        many = rems.rems_missing_many(session, [spravato, iv, 12345])
        assert many == {
            spravato: rems.rems_missing(session, spravato),
            iv: [],
        }
        assert many[spravato] == ["lot"]
