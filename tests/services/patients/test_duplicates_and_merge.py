"""Finding a patient's existing charts before a second one is made, and merging two charts of one
person: everything moves, the audit trail stays as written, only an administrator may."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from ketadesk.services.common.context import SYSTEM, Actor, InvalidRequest, PermissionDenied
from ketadesk.services.patients.duplicates import (
    SAME_EMAIL,
    SAME_NAME_AND_BIRTH,
    SAME_PHONE,
    DuplicatePatient,
    find_duplicates,
)
from ketadesk.services.patients.merge import KEPT_TABLES, MOVED_TABLES, merge_patients
from ketadesk.services.patients.patient_fields import PatientForm
from ketadesk.services.patients.registration import register_patient, update_patient
from ketadesk.store import changes
from ketadesk.store.models import (
    Appointment,
    AuditEvent,
    Base,
    FollowUp,
    Measurement,
    Patient,
    PatientAway,
    Protocol,
    ReminderMessage,
    Series,
    SessionFee,
    SessionType,
    WaitlistEntry,
)
from tests.clinic_fixtures import SmallClinic, build_small_clinic

NOW = dt.datetime(2026, 12, 1, 16, 0, tzinfo=dt.UTC)
FRONT_DESK = Actor(user_id=None, username="maria", role="front_desk")
NURSE = Actor(user_id=None, username="kim", role="nurse")

JUNE = PatientForm(
    first_name="June",
    last_name="Almeida",
    date_of_birth="04/02/1980",
    phone="(619) 555-0134",
    email="june.almeida@example.com",
)


@pytest.fixture
def clinic(db_url: str) -> Iterator[SmallClinic]:
    c = build_small_clinic(db_url)
    yield c
    c.db.dispose()


def _count(c: SmallClinic, model: type[Base]) -> int:
    with c.db.read() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


# --------------------------------------------------------------------------------------------
# Duplicates


def test_the_same_name_and_birthday_is_found_whatever_the_accents_case_and_spaces(
    clinic: SmallClinic,
) -> None:
    june = register_patient(clinic.db, FRONT_DESK, JUNE, now=NOW)
    typed = PatientForm(first_name="  JÚNE ", last_name="almeida", date_of_birth="1980-04-02")
    found = find_duplicates(clinic.db, FRONT_DESK, typed)
    assert [(d.patient_id, d.reasons, d.exact) for d in found] == [
        (june, (SAME_NAME_AND_BIRTH,), False)
    ]


def test_the_same_phone_digits_are_found(clinic: SmallClinic) -> None:
    june = register_patient(clinic.db, FRONT_DESK, JUNE, now=NOW)
    typed = PatientForm(first_name="Paul", last_name="Other", phone="+1 619.555.0134")
    found = find_duplicates(clinic.db, FRONT_DESK, typed)
    assert [(d.patient_id, d.reasons) for d in found] == [(june, (SAME_PHONE,))]


def test_the_same_email_in_another_case_is_found(clinic: SmallClinic) -> None:
    june = register_patient(clinic.db, FRONT_DESK, JUNE, now=NOW)
    typed = PatientForm(first_name="J", last_name="A", email=" June.ALMEIDA@Example.com")
    found = find_duplicates(clinic.db, FRONT_DESK, typed)
    assert [(d.patient_id, d.reasons) for d in found] == [(june, (SAME_EMAIL,))]


def test_a_birthday_twin_with_another_name_is_no_duplicate(clinic: SmallClinic) -> None:
    register_patient(clinic.db, FRONT_DESK, JUNE, now=NOW)
    typed = PatientForm(first_name="Paul", last_name="Other", date_of_birth="04/02/1980")
    assert find_duplicates(clinic.db, FRONT_DESK, typed) == ()


def test_an_edited_chart_is_not_its_own_duplicate(clinic: SmallClinic) -> None:
    june = register_patient(clinic.db, FRONT_DESK, JUNE, now=NOW)
    assert find_duplicates(clinic.db, FRONT_DESK, JUNE, exclude_id=june) == ()


def test_an_edited_phone_is_found_under_its_new_digits(clinic: SmallClinic) -> None:
    june = register_patient(clinic.db, FRONT_DESK, JUNE, now=NOW)
    update_patient(
        clinic.db, FRONT_DESK, june, dataclasses.replace(JUNE, phone="858-555-0199"), now=NOW
    )
    found = find_duplicates(clinic.db, FRONT_DESK, PatientForm(phone="(858) 555 0199"))
    assert [d.patient_id for d in found] == [june]


def test_registration_refuses_an_exact_duplicate_unless_confirmed(clinic: SmallClinic) -> None:
    june = register_patient(clinic.db, FRONT_DESK, JUNE, now=NOW)
    before = _count(clinic, Patient)
    again = dataclasses.replace(JUNE, first_name="june ", email="")
    with pytest.raises(DuplicatePatient) as refused:
        register_patient(clinic.db, FRONT_DESK, again, now=NOW)
    assert [d.patient_id for d in refused.value.duplicates] == [june]
    assert _count(clinic, Patient) == before
    second = register_patient(clinic.db, FRONT_DESK, again, confirmed_new=True, now=NOW)
    assert second != june
    assert _count(clinic, Patient) == before + 1


def test_registration_allows_a_shared_family_phone(clinic: SmallClinic) -> None:
    register_patient(clinic.db, FRONT_DESK, JUNE, now=NOW)
    sister = dataclasses.replace(JUNE, first_name="Rita", email="")
    assert register_patient(clinic.db, FRONT_DESK, sister, now=NOW)


# --------------------------------------------------------------------------------------------
# Merge


def test_every_table_naming_a_patient_is_moved_or_knowingly_kept() -> None:
    naming = {
        table.name
        for table in Base.metadata.sorted_tables
        if "patient_id" in table.c and table.name != "patient"
    }
    moved = {model.__tablename__ for model, _label in MOVED_TABLES}
    assert naming == moved | set(KEPT_TABLES)


def _history(c: SmallClinic, patient_id: int, day: dt.date) -> None:
    with c.db.write() as session:
        kind = session.scalars(select(SessionType)).first()
        assert kind is not None
        protocol_id = session.scalar(select(func.min(Protocol.id)))
        assert protocol_id is not None
        series = Series(patient_id=patient_id, protocol_id=protocol_id, planned_count=1)
        session.add(series)
        session.flush()
        start = c.at(day, "09:00")
        appt = Appointment(
            patient_id=patient_id,
            series_id=series.id,
            series_index=1,
            session_type_id=kind.id,
            starts_at=start,
            ends_at=start + dt.timedelta(hours=2),
        )
        session.add(appt)
        session.flush()
        session.add(
            FollowUp(
                patient_id=patient_id,
                appointment_id=appt.id,
                kind="check_in_call",
                due_at=start + dt.timedelta(days=1),
                assignee_role="nurse",
            )
        )
        session.add(
            Measurement(patient_id=patient_id, instrument="PHQ-9", score=12, taken_at=start)
        )
        session.add(
            WaitlistEntry(patient_id=patient_id, kind="earlier", session_type="iv_infusion")
        )
        session.add(
            ReminderMessage(
                appointment_id=appt.id,
                patient_id=patient_id,
                to_address="june@example.org",
                starts_at=start,
                next_attempt_at=start - dt.timedelta(days=1),
            )
        )
        session.add(
            SessionFee(
                appointment_id=appt.id,
                patient_id=patient_id,
                kind="no_show",
                amount_cents=7_500,
                charged_at=start,
            )
        )
        session.add(
            PatientAway(
                patient_id=patient_id,
                first_day=start.date() + dt.timedelta(days=7),
                last_day=start.date() + dt.timedelta(days=9),
                reason="travel",
            )
        )


def test_merge_moves_everything_and_records_both_charts(clinic: SmallClinic) -> None:
    kept = clinic.ids["Ada Lovelace"]
    merged = register_patient(clinic.db, FRONT_DESK, JUNE, now=NOW)
    _history(clinic, merged, NOW.date() + dt.timedelta(days=7))
    with clinic.db.read() as session:
        counter = changes.current(session)
        audit_before = session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.patient_id == merged)
        )
    preview = merge_patients(clinic.db, SYSTEM, kept, merged, now=NOW)
    assert dict(preview.moves) == {
        "series": 1,
        "appointments": 1,
        "follow-ups": 1,
        "measurements": 1,
        "waitlist entries": 1,
        "e-mail reminders": 1,
        "fees": 1,
        "days away": 1,
    }
    with clinic.db.read() as session:
        for model, _label in MOVED_TABLES:
            assert (
                session.scalar(
                    select(func.count()).select_from(model).where(model.patient_id == merged)
                )
                == 0
            )
        gone = session.get(Patient, merged)
        assert gone is not None
        assert gone.merged_into_id == kept
        assert not gone.active
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.action.in_(["merge_patients", "merged_into"]))
        ).all()
        assert {(e.action, e.patient_id) for e in events} == {
            ("merge_patients", kept),
            ("merged_into", merged),
        }
        into = next(e for e in events if e.action == "merged_into")
        assert into.before is not None
        assert into.before["rows"]["appointments"] == 1
        assert into.after is not None
        assert into.after["merged_into_id"] == kept
        # The trail as written stays: the registration is still under the merged chart.
        assert (
            session.scalar(
                select(func.count()).select_from(AuditEvent).where(AuditEvent.patient_id == merged)
            )
            == (audit_before or 0) + 1
        )
        assert changes.current(session) > counter
    # A merged chart is no longer offered as a duplicate.
    assert all(d.patient_id != merged for d in find_duplicates(clinic.db, SYSTEM, JUNE))


def test_merge_is_refused_to_a_non_administrator_and_the_refusal_recorded(
    clinic: SmallClinic,
) -> None:
    merged = register_patient(clinic.db, FRONT_DESK, JUNE, now=NOW)
    with pytest.raises(PermissionDenied):
        merge_patients(clinic.db, NURSE, clinic.ids["Ada Lovelace"], merged, now=NOW)
    with clinic.db.read() as session:
        chart = session.get(Patient, merged)
        assert chart is not None
        assert chart.merged_into_id is None
        refused = session.scalars(select(AuditEvent).where(AuditEvent.username == "kim")).all()
        assert refused
        assert "merge" in (refused[-1].detail + refused[-1].action)


def test_merge_is_refused_when_the_charts_have_overlapping_sessions(clinic: SmallClinic) -> None:
    day = NOW.date() + dt.timedelta(days=7)
    kept = clinic.ids["Ada Lovelace"]
    merged = register_patient(clinic.db, FRONT_DESK, JUNE, now=NOW)
    _history(clinic, kept, day)
    _history(clinic, merged, day)
    # The first of them said in the clinic's time and format (the small clinic's: 24-hour).
    when = f"{day.month:02d}/{day.day:02d}/{day.year} 09:00"
    with pytest.raises(InvalidRequest, match=f"overlapping session .*{when}"):
        merge_patients(clinic.db, SYSTEM, kept, merged, now=NOW)
    with clinic.db.read() as session:
        assert (
            session.scalar(
                select(func.count())
                .select_from(Appointment)
                .where(Appointment.patient_id == merged)
            )
            == 1
        )


def test_a_chart_cannot_be_merged_twice_or_into_itself(clinic: SmallClinic) -> None:
    kept = clinic.ids["Ada Lovelace"]
    merged = register_patient(clinic.db, FRONT_DESK, JUNE, now=NOW)
    with pytest.raises(InvalidRequest):
        merge_patients(clinic.db, SYSTEM, kept, kept, now=NOW)
    merge_patients(clinic.db, SYSTEM, kept, merged, now=NOW)
    with pytest.raises(InvalidRequest, match="already merged"):
        merge_patients(clinic.db, SYSTEM, clinic.ids["Mary Seacole"], merged, now=NOW)
