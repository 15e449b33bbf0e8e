"""Late entries on a session's record (a user trial: a nurse entered at 11:02 a blood pressure
taken at 10:00, and the record, the screen and the paper showed it as one entered on time): a
reading keeps when it was entered and by whom; one entered more than ``[chair]
late_entry_minutes`` after it was taken is said so on the monitoring record, the session's page
and the scale readings, and a save of the whole record keeps each unchanged reading's own entry.

Ada Lovelace's IV infusion on Wednesday 2 Dec 2026 at 13:00 in Room 2 (tests/services/
monitoring/test_scale_readings.py): pre-dose BP 13:10 entered 13:16 with the dose 13:15.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from ketadesk.services.access import accounts
from ketadesk.services.booking.appointments import appointment_detail
from ketadesk.services.common.context import SYSTEM, Actor
from ketadesk.services.monitoring import records, scale_readings
from ketadesk.services.monitoring.record_forms import RecordForm, with_reading
from ketadesk.store.models import ClinicSetting, VitalReading
from tests.clinic_fixtures import SmallClinic, build_small_clinic, use_scales
from tests.scale_fixtures import BOOKED_AT, WED
from tests.scale_fixtures import iv_session as _iv
from tests.scale_fixtures import record_reading as _record

FRONT_DESK = Actor(user_id=None, username="maria", role="front_desk")


@pytest.fixture
def clinic(db_url: str) -> Iterator[SmallClinic]:
    c = build_small_clinic(db_url)
    with c.db.write() as session:
        use_scales(session)
    yield c
    c.db.dispose()


@pytest.fixture
def nurse(clinic: SmallClinic) -> Actor:
    user = accounts.create_user(
        clinic.db, SYSTEM, "kim", "Kim Nguyen", "nurse", "a-long-password-1", now=BOOKED_AT
    )
    return Actor(user_id=user.id, username="kim", role="nurse")


def _row(form: RecordForm, label: str) -> int:
    return next(i for i, r in enumerate(form.readings) if r.label == label)


def _save(clinic: SmallClinic, nurse: Actor, iv: int, hhmm: str, **change: str) -> None:
    """The record saved at ``hhmm`` with ``label=...`` readings filled (time, BP)."""
    now = clinic.at(WED, hhmm)
    form = records.load_record(clinic.db, nurse, iv, now=now)
    for label, typed in change.items():
        time, bp = typed.split(" ")
        systolic, diastolic = bp.split("/")
        form = with_reading(
            form, _row(form, label), time=time, systolic=systolic, diastolic=diastolic
        )
    records.save_record(clinic.db, nurse, iv, form, now=now)


def _late(clinic: SmallClinic, nurse: Actor, iv: int, hhmm: str) -> dict[str, str]:
    sheet = records.open_record(clinic.db, nurse, iv, now=clinic.at(WED, hhmm))
    return dict(sheet.late_entries)


def test_a_reading_back_filled_an_hour_later_says_when_and_by_whom(
    clinic: SmallClinic, nurse: Actor
) -> None:
    iv = _iv(clinic, nurse)  # the pre-dose BP (13:10) entered with the dose at 13:16: on time
    assert _late(clinic, nurse, iv, "13:20") == {}
    # The +15 min check, taken at 13:30, typed in at 14:32.
    _save(clinic, nurse, iv, "14:32", **{"+15 min": "13:30 128/80"})
    assert _late(clinic, nurse, iv, "14:33") == {
        "+15 min": "entered 14:32, 62 min later, by Kim Nguyen"
    }
    with clinic.db.read() as session:
        stamps = {
            label: (clinic.calendar.local(at).strftime("%H:%M") if at else None)
            for label, at in session.execute(select(VitalReading.label, VitalReading.recorded_at))
        }
    # Saved with the whole record at 14:32, the pre-dose BP keeps its own entry (13:16).
    assert stamps == {"Pre-dose": "13:16", "+15 min": "14:32"}
    # The reading itself is judged as ever, by when it was taken.
    sheet = records.open_record(clinic.db, nurse, iv, now=clinic.at(WED, "14:33"))
    assert sheet.form.readings[_row(sheet.form, "+15 min")].time == "13:30"


def test_a_reading_changed_later_is_entered_again(clinic: SmallClinic, nurse: Actor) -> None:
    iv = _iv(clinic, nurse)
    _save(clinic, nurse, iv, "14:40", **{"Pre-dose": "13:10 126/79"})
    assert _late(clinic, nurse, iv, "14:41") == {
        "Pre-dose": "entered 14:40, 90 min later, by Kim Nguyen"
    }


def test_the_minutes_are_the_clinics_own(clinic: SmallClinic, nurse: Actor) -> None:
    iv = _iv(clinic, nurse)
    _save(clinic, nurse, iv, "14:32", **{"+15 min": "13:30 128/80"})
    with clinic.db.write() as session:
        chair = session.scalars(select(ClinicSetting).where(ClinicSetting.key == "chair")).one()
        chair.value = {**chair.value, "late_entry_minutes": 62}
    assert _late(clinic, nurse, iv, "14:33") == {}  # 62 min is not more than 62


def test_a_scale_reading_typed_with_an_earlier_time_is_a_late_entry(
    clinic: SmallClinic, nurse: Actor
) -> None:
    iv = _iv(clinic, nurse)
    _record(clinic, nurse, iv, "moaas", "5", "13:16")  # taken now: on time
    sheet = _record(clinic, nurse, iv, "moaas", "4", "14:35", taken="13:30")
    assert [(r.score, r.entered) for r in sheet.readings] == [
        (5, ""),
        (4, "entered 14:35, 65 min later, by Kim Nguyen"),
    ]


def test_the_sessions_page_lists_the_late_entries_for_a_clinician_only(
    clinic: SmallClinic, nurse: Actor
) -> None:
    iv = _iv(clinic, nurse)
    _save(clinic, nurse, iv, "14:32", **{"+15 min": "13:30 128/80"})
    _record(clinic, nurse, iv, "cadss", "3", "14:35", taken="13:55")
    now = clinic.at(WED, "14:36")
    detail = appointment_detail(clinic.db, iv, nurse, now=now)
    assert detail.late_entries == (
        "BP +15 min taken 13:30: entered 14:32, 62 min later, by Kim Nguyen",
        "CADSS 3 taken 13:55: entered 14:35, 40 min later, by Kim Nguyen",
    )
    # Clinical: not on the front desk's page.
    assert appointment_detail(clinic.db, iv, FRONT_DESK, now=now).late_entries == ()


def test_a_corrected_late_reading_is_listed_once_as_it_now_stands(
    clinic: SmallClinic, nurse: Actor
) -> None:
    iv = _iv(clinic, nurse)
    sheet = _record(clinic, nurse, iv, "moaas", "2", "14:35", taken="13:30")
    typed = sheet.readings[0].reading_id
    scale_readings.correct_scale_reading(
        clinic.db, nurse, typed, "4", "typo", now=clinic.at(WED, "14:37")
    )
    detail = appointment_detail(clinic.db, iv, nurse, now=clinic.at(WED, "14:38"))
    assert detail.late_entries == (
        "MOAA/S 4 taken 13:30: entered 14:35, 65 min later, by Kim Nguyen",
    )


def test_readings_saved_before_entry_times_were_kept_carry_no_mark(
    clinic: SmallClinic, nurse: Actor
) -> None:
    iv = _iv(clinic, nurse)
    with clinic.db.write() as session:
        for reading in session.scalars(select(VitalReading)):
            reading.recorded_at = None
    assert _late(clinic, nurse, iv, "16:00") == {}
    # Saved again unchanged, it stays "not known", not "entered now".
    form = records.load_record(clinic.db, nurse, iv, now=clinic.at(WED, "16:00"))
    records.save_record(
        clinic.db, nurse, iv, dataclasses.replace(form), now=clinic.at(WED, "16:00")
    )
    assert _late(clinic, nurse, iv, "16:01") == {}
