"""In the chair: no dose without a pre-dose BP, a hard stop only a prescriber overrides, doses
checked as devices × strength, and no completion or discharge before the observation minutes,
the configured readings and the effects resolved; a prescriber's override, with a reason,
stored, audited and shown on the record.  IV infusions get their readings every 15 minutes."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from ketadesk.services.booking import appointment_changes, booking
from ketadesk.services.booking.booking import BookingRequest
from ketadesk.services.common.context import SYSTEM, Actor, InvalidFields, PermissionDenied
from ketadesk.services.monitoring import completion, reading_schedule, records
from ketadesk.services.monitoring.completion import ChairRefused
from ketadesk.services.monitoring.record_forms import (
    RecordForm,
    after_dose_words,
    bp_check_words,
    check_after_dose_words,
    with_reading,
)
from ketadesk.services.printing import session_record
from ketadesk.services.settings import rules
from ketadesk.store.models import Appointment, AuditEvent, GatingOverride, SessionRecord
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
PRESCRIBER = Actor(user_id=None, username="patel", role="prescriber")


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
    # Started at its booked time (its checks lie as booked): a dose needs a session started.
    clinic.start(result.appointment_ids[0], WED, hhmm)
    return result.appointment_ids[0]


@pytest.fixture
def spravato(clinic: SmallClinic) -> int:
    """Ada's first Spravato session, Wednesday 10:00: dose 10:15, discharge allowed 12:15."""
    return _book(clinic, "spravato", "10:00", SPR)


def _at(clinic: SmallClinic, hhmm: str) -> dt.datetime:
    return clinic.at(WED, hhmm)


def _form(clinic: SmallClinic, appointment_id: int, **changes: object) -> RecordForm:
    """The whole record of a good session; ``changes`` replace its fields."""
    form = records.load_record(clinic.db, NURSE, appointment_id)
    form = with_reading(form, 0, time="10:10", systolic="128", diastolic="82", spo2="98")
    form = with_reading(form, 1, time="10:56", systolic="134", diastolic="86", spo2="97")
    form = with_reading(form, 2, time="12:20", systolic="124", diastolic="80", spo2="98")
    form = dataclasses.replace(
        form,
        dose_mg="56",
        devices="2",
        lot_number="LOT-4471A",
        dose_started="10:15",
        discharged="12:25",
        monitored_by_id=clinic.ids["Nurse Kim"],
        sedation="mild",
        dissociation="none",
        sedation_resolved=True,
    )
    return dataclasses.replace(form, **changes)  # type: ignore[arg-type]


def _refused(clinic: SmallClinic, appointment_id: int, form: RecordForm, hhmm: str) -> list[str]:
    with pytest.raises(ChairRefused) as refused:
        records.save_record(clinic.db, NURSE, appointment_id, form, now=_at(clinic, hhmm))
    return [f.rule for f in refused.value.findings]


def _saved_records(clinic: SmallClinic) -> int:
    with clinic.db.read() as session:
        return len(session.scalars(select(SessionRecord)).all())


def _status(clinic: SmallClinic, appointment_id: int) -> str:
    with clinic.db.read() as session:
        appointment = session.get(Appointment, appointment_id)
        assert appointment is not None
        return appointment.status


# Before dosing ---------------------------------------------------------------------------


def test_a_dose_without_a_pre_dose_bp_is_refused_and_nothing_is_saved(
    clinic: SmallClinic, spravato: int
) -> None:
    form = with_reading(_form(clinic, spravato, discharged=""), 0, time="", systolic="")
    form = with_reading(form, 0, diastolic="", spo2="")
    with pytest.raises(ChairRefused) as refused:
        records.save_record(clinic.db, NURSE, spravato, form, now=_at(clinic, "12:30"))
    assert str(refused.value) == (
        "cannot save this record: Pre-dose BP before dosing: no “Pre-dose” blood pressure "
        "recorded before 10:15. A prescriber may override it with a reason on the session's "
        "monitoring record."
    )
    assert _saved_records(clinic) == 0
    # The pre-dose BP first, then the dose: saved.
    records.save_record(
        clinic.db, NURSE, spravato, _form(clinic, spravato, discharged=""), now=_at(clinic, "12:30")
    )
    assert _saved_records(clinic) == 1


def test_a_hard_stop_bp_needs_a_prescribers_override_a_nurse_cannot_give(
    clinic: SmallClinic, spravato: int
) -> None:
    form = with_reading(_form(clinic, spravato, discharged=""), 0, systolic="186", diastolic="104")
    assert _refused(clinic, spravato, form, "12:30") == ["pre_dose_hard_stop"]
    with pytest.raises(PermissionDenied, match="only a prescriber may override"):
        completion.override(
            clinic.db,
            NURSE,
            spravato,
            ["pre_dose_hard_stop"],
            "rechecked",
            now=_at(clinic, "10:16"),
        )
    with pytest.raises(Exception, match="an override needs a reason"):
        completion.override(
            clinic.db, PRESCRIBER, spravato, ["pre_dose_hard_stop"], " ", now=_at(clinic, "10:16")
        )
    completion.override(
        clinic.db,
        PRESCRIBER,
        spravato,
        ["pre_dose_hard_stop"],
        "Recheck 176/100 after 10 min rest; benefit outweighs risk",
        now=_at(clinic, "10:16"),
    )
    records.save_record(clinic.db, NURSE, spravato, form, now=_at(clinic, "12:30"))
    with clinic.db.read() as session:
        stored = session.scalars(select(GatingOverride)).one()
        assert (stored.appointment_id, stored.rule) == (spravato, "chair.pre_dose_hard_stop")
        events = {
            (e.username, e.action): e
            for e in session.scalars(
                select(AuditEvent).where(AuditEvent.action.in_(["override_chair_rule", "refused"]))
            )
        }
        # The nurse's attempt is in the audit trail as a refusal, the prescriber's as the
        # override.
        assert set(events) == {("kim", "refused"), ("patel", "override_chair_rule")}
        refusal = events["kim", "refused"].after
        assert refusal == {"action": "override_chair_rule", "role": "nurse"}
        assert events["patel", "override_chair_rule"].detail == (
            "Pre-dose BP hard stop: Recheck 176/100 after 10 min rest; benefit outweighs risk"
        )
    sheet = records.open_record(clinic.db, NURSE, spravato, now=_at(clinic, "10:21"))
    assert [(o.title, o.reason, o.by) for o in sheet.overrides] == [
        (
            "Pre-dose BP hard stop",
            "Recheck 176/100 after 10 min rest; benefit outweighs risk",
            "system",
        )
    ]
    assert sheet.override_roles == ("prescriber",)


# The dose ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dose", "devices", "rules"),
    [
        ("200", "1", ["dose_devices", "dose_allowed"]),
        ("84", "2", ["dose_devices", "dose_starting"]),
        ("84", "3", ["dose_starting"]),  # Ada's first Spravato session starts at 56 mg
        ("28", "1", ["dose_allowed"]),
    ],
)
def test_doses_are_checked_as_devices_times_strength(
    clinic: SmallClinic, spravato: int, dose: str, devices: str, rules: list[str]
) -> None:
    form = _form(clinic, spravato, dose_mg=dose, devices=devices, discharged="")
    assert _refused(clinic, spravato, form, "12:30") == rules


def test_84_mg_after_a_56_mg_start_is_accepted_and_a_protocol_may_start_at_84(
    clinic: SmallClinic, spravato: int
) -> None:
    records.save_record(
        clinic.db, NURSE, spravato, _form(clinic, spravato), now=_at(clinic, "12:30")
    )
    later = booking.book(
        clinic.db,
        SYSTEM,
        BookingRequest(
            patient_id=clinic.ids["Ada Lovelace"],
            sessions=(clinic.session("spravato", WED + dt.timedelta(days=7), "10:00", SPR),),
        ),
        now=BOOKED_AT,
    ).appointment_ids[0]
    form = records.load_record(clinic.db, NURSE, later)
    form = with_reading(form, 0, time="10:10", systolic="128", diastolic="82")
    form = dataclasses.replace(form, dose_mg="84", devices="3", dose_started="10:15")
    day = WED + dt.timedelta(days=7)
    clinic.start(later, day, "10:00")
    records.save_record(clinic.db, NURSE, later, form, now=clinic.at(day, "10:20"))


def test_a_warn_policy_saves_the_dose_with_the_rule_in_the_warnings(
    clinic: SmallClinic, spravato: int
) -> None:
    _set_chair(clinic, dose="warn")
    form = _form(clinic, spravato, dose_mg="84", devices="2", discharged="")
    result = records.save_record(clinic.db, NURSE, spravato, form, now=_at(clinic, "12:30"))
    assert result.warnings[records.CHAIR_WARNING] == (
        "Dose is whole devices: 84 mg with 2 devices: 2 × 28 mg is 56 mg; "
        "Starting dose: 84 mg at a first session: the starting dose is 56 mg"
    )


def _set_chair(clinic: SmallClinic, **values: object) -> None:
    from ketadesk.store.models import ClinicSetting

    with clinic.db.write() as session:
        row = session.scalars(select(ClinicSetting).where(ClinicSetting.key == "chair")).one()
        row.value = {**row.value, **values}


# Complete and discharge -------------------------------------------------------------------


def test_completing_25_minutes_after_the_start_with_no_record_is_refused(
    clinic: SmallClinic, spravato: int
) -> None:
    with pytest.raises(ChairRefused) as refused:
        appointment_changes.change_status(
            clinic.db, NURSE, spravato, "complete", now=_at(clinic, "10:25"), ride=RIDE_HOME
        )
    assert [f.rule for f in refused.value.findings] == [
        "discharge_no_dose",
        "discharge_readings",
        "discharge_monitored_by",
        "discharge_effects",
    ]
    assert "Readings before discharge: no BP recorded for “Pre-dose”, “+40 min”, " in str(
        refused.value
    )
    assert _status(clinic, spravato) == "in_progress"


def test_completing_before_the_observation_minutes_is_refused_then_allowed(
    clinic: SmallClinic, spravato: int
) -> None:
    records.save_record(
        clinic.db, NURSE, spravato, _form(clinic, spravato, discharged=""), now=_at(clinic, "12:21")
    )
    with pytest.raises(ChairRefused, match=r"10:25 is only 10 min after|12:14 is only 119 min"):
        appointment_changes.change_status(
            clinic.db, NURSE, spravato, "complete", now=_at(clinic, "12:14"), ride=RIDE_HOME
        )
    appointment_changes.change_status(
        clinic.db, NURSE, spravato, "complete", now=_at(clinic, "12:22"), ride=RIDE_HOME
    )
    assert _status(clinic, spravato) == "completed"


def test_discharge_at_120_min_with_severe_sedation_and_spo2_88_is_refused(
    clinic: SmallClinic, spravato: int
) -> None:
    form = _form(clinic, spravato, sedation="severe", sedation_resolved=False, discharged="12:15")
    form = with_reading(form, 2, time="12:14", spo2="88")
    with pytest.raises(ChairRefused) as refused:
        records.save_record(clinic.db, NURSE, spravato, form, now=_at(clinic, "12:16"))
    assert [f.text for f in refused.value.findings] == [
        "Effects resolved before discharge: sedation (severe) is not marked resolved; "
        "the latest SpO2 is 88% (12:14), below 93%"
    ]
    # Resolved and breathing well again: the discharge is recorded.
    form = with_reading(dataclasses.replace(form, sedation_resolved=True), 2, spo2="96")
    records.save_record(clinic.db, NURSE, spravato, form, now=_at(clinic, "12:16"))


def test_a_discharge_missing_a_reading_or_too_early_is_refused_at_save(
    clinic: SmallClinic, spravato: int
) -> None:
    form = with_reading(_form(clinic, spravato), 1, time="", systolic="", diastolic="", spo2="")
    assert _refused(clinic, spravato, form, "12:30") == ["discharge_readings"]
    assert _refused(clinic, spravato, _form(clinic, spravato, discharged="12:10"), "12:30") == [
        "discharge_observation"
    ]
    assert _saved_records(clinic) == 0


def test_who_monitored_is_offered_from_the_booking_and_a_discharge_without_it_is_refused(
    clinic: SmallClinic, spravato: int
) -> None:
    """A user trial: discharge and complete went through with "Monitored by" empty, though the
    record and the REMS form name who watched the patient."""
    # The new record offers the nurse the booking put on the chair.
    fresh = records.load_record(clinic.db, NURSE, spravato)
    assert fresh.monitored_by_id == clinic.ids["Nurse Kim"]
    # Cleared by hand, the discharge is refused at save, naming the field...
    cleared = _form(clinic, spravato, monitored_by_id=None)
    assert _refused(clinic, spravato, cleared, "12:30") == ["discharge_monitored_by"]
    # ...and a record saved without a discharge cannot be completed either.
    records.save_record(
        clinic.db,
        NURSE,
        spravato,
        dataclasses.replace(cleared, discharged=""),
        now=_at(clinic, "12:30"),
    )
    with pytest.raises(ChairRefused, match=r"who monitored the patient is not recorded"):
        appointment_changes.change_status(
            clinic.db, NURSE, spravato, "complete", now=_at(clinic, "12:30"), ride=RIDE_HOME
        )
    assert _status(clinic, spravato) == "in_progress"


def test_a_prescriber_overrides_an_early_completion_with_a_reason_audited_and_shown(
    clinic: SmallClinic, spravato: int
) -> None:
    records.save_record(
        clinic.db, NURSE, spravato, _form(clinic, spravato, discharged=""), now=_at(clinic, "12:21")
    )
    with pytest.raises(ChairRefused) as refused:
        appointment_changes.change_status(
            clinic.db, NURSE, spravato, "complete", now=_at(clinic, "12:05"), ride=RIDE_HOME
        )
    rules = [f.rule for f in refused.value.findings]
    assert rules == ["discharge_observation"]
    completion.override(
        clinic.db,
        PRESCRIBER,
        spravato,
        rules,
        "Transferred to the ED by ambulance, observed there",
        now=_at(clinic, "12:06"),
    )
    appointment_changes.change_status(
        clinic.db, NURSE, spravato, "complete", now=_at(clinic, "12:07"), ride=RIDE_HOME
    )
    assert _status(clinic, spravato) == "completed"
    sheet = records.open_record(clinic.db, NURSE, spravato, now=_at(clinic, "12:08"))
    assert [(o.rule, o.reason) for o in sheet.overrides] == [
        ("discharge_observation", "Transferred to the ED by ambulance, observed there")
    ]
    printed = session_record.session_record_sheet(
        clinic.db, NURSE, spravato, now=_at(clinic, "12:08")
    )
    assert printed.chair_overrides == (
        "Observation before discharge: Transferred to the ED by ambulance, observed there "
        "(system, 12:06)",
    )
    assert "Overridden by a prescriber" in "".join(
        b.html for b in session_record.session_record_layout(printed).blocks
    )
    with clinic.db.read() as session:
        event = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "override_chair_rule")
        ).one()
        assert event.patient_id == clinic.ids["Ada Lovelace"]
        assert event.after == {
            "rules": ["discharge_observation"],
            "reason": "Transferred to the ED by ambulance, observed there",
        }


def test_a_non_dosing_session_completes_without_a_record(clinic: SmallClinic) -> None:
    therapy = _book(clinic, "integration", "09:00", {"therapist": "Sam Rivera"})
    appointment_changes.change_status(
        clinic.db, SYSTEM, therapy, "complete", now=_at(clinic, "09:30"), ride=RIDE_HOME
    )
    assert _status(clinic, therapy) == "completed"


# IV infusions -----------------------------------------------------------------------------


def test_the_check_due_at_the_dose_itself_reads_at_dose(clinic: SmallClinic) -> None:
    """A user trial's record and board said "BP +0 min due 0 min after the dose": an IV
    infusion's first reading every 15 min is due at the dose itself, and says so."""
    iv = _book(clinic, "iv_infusion", "13:00", IV)
    due = reading_schedule.readings_due(clinic.db, [iv], now=_at(clinic, "13:12"))[iv]
    assert [(c.label, c.words) for c in due.checks[:3]] == [
        ("Pre-dose", "BP pre-dose"),
        ("+0 min", "BP at dose"),  # stored as "+0 min", said as a nurse says it
        ("+15 min", "BP +15 min"),
    ]
    assert check_after_dose_words("+0 min", 0) == "BP at dose"
    assert check_after_dose_words("+40 min", 40) == "BP +40 min due 40 min after the dose"
    assert check_after_dose_words("Dose start", 0) == "BP dose start at dose"
    assert after_dose_words(0) == "at the dose"
    assert after_dose_words(90) == "1 h 30 min after the dose"
    assert bp_check_words("+0 min") == "BP +0 min"  # not known to fall at the dose


def test_an_iv_infusion_has_readings_due_every_15_minutes(clinic: SmallClinic) -> None:
    iv = _book(clinic, "iv_infusion", "13:00", IV)  # infusion 13:15-13:55, recovery to 14:40
    due = reading_schedule.readings_due(clinic.db, [iv], now=_at(clinic, "13:31"))[iv]
    assert [(c.label, clinic.calendar.local(c.due_at).strftime("%H:%M")) for c in due.checks] == [
        ("Pre-dose", "13:10"),
        ("+0 min", "13:15"),
        ("+15 min", "13:30"),
        ("+30 min", "13:45"),
        ("+45 min", "14:00"),
        ("+60 min", "14:15"),
        ("+75 min", "14:30"),
        ("Before discharge", "14:35"),
    ]
    assert [c.state for c in due.checks[:4]] == ["late", "late", "due", "upcoming"]
    assert due.next_label == "Pre-dose"
    form = records.load_record(clinic.db, NURSE, iv)
    assert [r.label for r in form.readings][:3] == ["Pre-dose", "+0 min", "+15 min"]
    form = with_reading(form, 0, time="13:10", systolic="122", diastolic="78")
    form = with_reading(form, 1, time="13:15", systolic="124", diastolic="80")
    form = dataclasses.replace(form, dose_mg="35", dose_started="13:15")
    records.save_record(clinic.db, NURSE, iv, form, now=_at(clinic, "13:31"))
    due = reading_schedule.readings_due(clinic.db, [iv], now=_at(clinic, "13:31"))[iv]
    assert (due.next_label, due.late) == ("+15 min", False)


def test_the_chair_numbers_are_edited_on_the_clinic_rules_page(clinic: SmallClinic) -> None:
    shown = rules.read_rules(clinic.db)
    assert shown.value("chair.hard_stop_systolic") == 180
    assert shown.value("chair.hard_stop_diastolic") == 110
    assert shown.value("session_types.iv_infusion.reading_cadence.every") == 15
    assert shown.value("session_types.spravato.dose.device_mg") == 28
    with pytest.raises(InvalidFields) as refused:
        rules.save_rules(clinic.db, SYSTEM, {"chair.hard_stop_systolic": 0}, now=BOOKED_AT)
    assert refused.value.errors == {
        "chair.hard_stop_systolic": "must be a whole number of at least 1"
    }
    rules.save_rules(clinic.db, SYSTEM, {"chair.hard_stop_systolic": 160}, now=BOOKED_AT)
    assert rules.read_rules(clinic.db).value("chair.hard_stop_systolic") == 160
