"""Timed MOAA/S and CADSS readings of a session: a nurse records one with a score (and a time,
or now), who recorded it is kept; the record says which is due next and which were missed, the
chair board shows it beside the next BP check and counts a missed one; completing refuses
until the last MOAA/S is 5 and the last CADSS at or below the clinic's threshold, naming the
reading; the printed record lists them and the REMS form summary uses them."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from ketadesk.services.access import accounts
from ketadesk.services.booking import appointment_changes, booking
from ketadesk.services.booking.booking import BookingRequest
from ketadesk.services.common.context import (
    SYSTEM,
    Actor,
    InvalidFields,
    InvalidRequest,
    PermissionDenied,
)
from ketadesk.services.monitoring import chair_board, completion, records, rems, scale_readings
from ketadesk.services.monitoring.completion import ChairRefused
from ketadesk.services.monitoring.record_forms import ScaleSheet, with_reading
from ketadesk.services.printing import session_record
from ketadesk.store.models import Appointment, AuditEvent, ClinicSetting, ScaleReading
from tests.clinic_fixtures import RIDE_HOME, SmallClinic, build_small_clinic, use_scales

BOOKED_AT = dt.datetime(2026, 12, 1, 16, 0, tzinfo=dt.UTC)  # Tue 1 Dec 2026, 08:00 local
WED = dt.date(2026, 12, 2)
IV = {"room": "Room 2", "monitor": "Monitor 2", "nurse": "Nurse Kim"}
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
    with c.db.write() as session:
        use_scales(session)  # the shipped scales: IV MOAA/S and CADSS, Spravato MOAA/S
    yield c
    c.db.dispose()


@pytest.fixture
def nurse(clinic: SmallClinic) -> Actor:
    user = accounts.create_user(
        clinic.db, SYSTEM, "kim", "Kim Nguyen", "nurse", "a-long-password-1", now=BOOKED_AT
    )
    return Actor(user_id=user.id, username="kim", role="nurse")


def _at(clinic: SmallClinic, hhmm: str) -> dt.datetime:
    return clinic.at(WED, hhmm)


def _iv(clinic: SmallClinic, nurse: Actor, *, dosed: bool = True) -> int:
    """Ada's IV infusion, Wednesday 13:00, started; dose 13:15 (discharge from 14:40)."""
    result = booking.book(
        clinic.db,
        SYSTEM,
        BookingRequest(
            patient_id=clinic.ids["Ada Lovelace"],
            sessions=(clinic.session("iv_infusion", WED, "13:00", IV),),
        ),
        now=BOOKED_AT,
    )
    iv = result.appointment_ids[0]
    clinic.start(iv, WED, "13:00")
    if dosed:
        form = records.load_record(clinic.db, nurse, iv)
        form = with_reading(form, 0, time="13:10", systolic="122", diastolic="78", spo2="98")
        form = dataclasses.replace(
            form, dose_mg="35", dose_started="13:15", monitored_by_id=clinic.ids["Nurse Kim"]
        )
        records.save_record(clinic.db, nurse, iv, form, now=_at(clinic, "13:16"))
    return iv


def _record(
    clinic: SmallClinic, nurse: Actor, iv: int, scale: str, score: str, hhmm: str, taken: str = ""
) -> ScaleSheet:
    return scale_readings.record_scale_reading(
        clinic.db, nurse, iv, scale, score, taken=taken, now=_at(clinic, hhmm)
    )


def test_a_reading_is_stored_with_who_recorded_it_and_audited(
    clinic: SmallClinic, nurse: Actor
) -> None:
    iv = _iv(clinic, nurse)
    sheet = _record(clinic, nurse, iv, "moaas", "3", "13:16")
    assert [(r.scale_name, r.score, r.recorded_by) for r in sheet.readings] == [
        ("MOAA/S", 3, "Kim Nguyen")
    ]
    assert sheet.readings[0].score_words == (
        "MOAA/S 3 (responds only after name is called loudly and/or repeatedly)"
    )
    # A time typed: the reading is the one taken then (on the session's day).
    sheet = _record(clinic, nurse, iv, "cadss", "14", "13:58", taken="13:55")
    assert clinic.calendar.local(sheet.readings[-1].taken_at).strftime("%H:%M") == "13:55"
    with clinic.db.read() as session:
        rows = session.execute(select(ScaleReading.scale, ScaleReading.score)).all()
        details = session.scalars(
            select(AuditEvent.detail)
            .where(AuditEvent.action == "record_scale_reading")
            .order_by(AuditEvent.id)
        ).all()
    assert sorted(rows) == [("cadss", 14), ("moaas", 3)]
    assert list(details) == [
        f"MOAA/S 3 (responds only after name is called loudly and/or repeatedly) at 13:16 "
        f"(appointment #{iv})",
        f"CADSS 14 at 13:55 (appointment #{iv})",
    ]


def test_bad_input_is_refused_with_the_problem_named_and_nothing_saved(
    clinic: SmallClinic, nurse: Actor
) -> None:
    iv = _iv(clinic, nurse)
    cases = {
        ("moaas", "7", ""): {"score": "the MOAA/S score runs 0-5; 7 is above it"},
        ("cadss", "93", ""): {"score": "the CADSS score runs 0-92; 93 is above it"},
        ("moaas", "abc", ""): {"score": "the MOAA/S score is a whole number 0-5, not “abc”"},
        ("moaas", "4", "25:99"): {"taken": "“25:99” is not a time: type it as 2:30 PM or 14:30"},
        ("moaas", "4", "15:00"): {
            "taken": "15:00 is still to come: a reading is recorded when it is taken"
        },
    }
    for (scale, score, taken), errors in cases.items():
        with pytest.raises(InvalidFields) as refused:
            _record(clinic, nurse, iv, scale, score, "13:20", taken=taken)
        assert refused.value.errors == errors
    with clinic.db.read() as session:
        assert session.scalars(select(ScaleReading)).all() == []
    # A front desk user may not record one.
    with pytest.raises(PermissionDenied):
        scale_readings.record_scale_reading(
            clinic.db, Actor(None, "desk", "front_desk"), iv, "moaas", "5", now=_at(clinic, "13:20")
        )


def test_a_scale_the_type_does_not_use_or_a_session_not_started_is_refused(
    clinic: SmallClinic, nurse: Actor
) -> None:
    spravato = booking.book(
        clinic.db,
        SYSTEM,
        BookingRequest(
            patient_id=clinic.ids["Ada Lovelace"],
            sessions=(clinic.session("spravato", WED, "09:00", SPR),),
        ),
        now=BOOKED_AT,
    ).appointment_ids[0]
    with pytest.raises(InvalidRequest, match="Start the session first"):
        _record(clinic, nurse, spravato, "moaas", "5", "09:20")
    clinic.start(spravato, WED, "09:00")
    with pytest.raises(InvalidRequest) as refused:
        _record(clinic, nurse, spravato, "cadss", "5", "09:20")
    assert str(refused.value) == (
        "Spravato (esketamine) does not use the CADSS scale (its scales: MOAA/S; "
        "session_types.toml scales)"
    )


def test_the_record_and_the_board_say_the_next_reading_and_count_a_missed_one(
    clinic: SmallClinic, nurse: Actor
) -> None:
    iv = _iv(clinic, nurse)
    sheet = _record(clinic, nurse, iv, "moaas", "4", "13:16")
    assert sheet.next_words == "MOAA/S due 13:30"
    assert sheet.missed_words == ""
    board = chair_board.chair_board(clinic.db, nurse, now=_at(clinic, "13:25"))
    card = next(c for c in board.cards if c.appointment_id == iv)
    assert card.next_scale == "MOAA/S due 13:30"
    assert card.scale_missed == ""
    # 13:30 not taken by 13:40 (the clinic's 10 minutes' grace): missed, red, counted.
    board = chair_board.chair_board(clinic.db, nurse, now=_at(clinic, "13:41"))
    card = next(c for c in board.cards if c.appointment_id == iv)
    assert card.scale_missed == "MOAA/S +15 min missed (due 13:30)"
    assert card.scale_missed in card.late
    assert card.needs_attention
    assert card.next_scale == "MOAA/S due 13:45"
    # The front desk's board says nothing clinical.
    desk = chair_board.chair_board(
        clinic.db, Actor(None, "d", "front_desk"), now=_at(clinic, "13:41")
    )
    desk_card = next(c for c in desk.cards if c.appointment_id == iv)
    assert (desk_card.next_scale, desk_card.scale_missed) == ("", "")
    assert card.scale_missed not in desk_card.late
    # The record's sheet says the same.
    opened = records.open_record(clinic.db, nurse, iv, now=_at(clinic, "13:41"))
    assert opened.scales is not None
    assert opened.scales.missed_words == "MOAA/S +15 min missed (due 13:30)"
    assert [(o.label, o.state) for o in opened.scales.owed][:3] == [
        ("MOAA/S at dose", "done"),
        ("MOAA/S +15 min", "missed"),
        ("MOAA/S +30 min", "upcoming"),
    ]


def _complete(clinic: SmallClinic, nurse: Actor, iv: int, hhmm: str) -> None:
    appointment_changes.change_status(
        clinic.db, nurse, iv, "complete", now=_at(clinic, hhmm), ride=RIDE_HOME
    )


def _resolved_record(clinic: SmallClinic, nurse: Actor, iv: int) -> None:
    """The record's other discharge facts in order: the before-discharge BP taken."""
    form = records.load_record(clinic.db, nurse, iv)
    rows = {r.label: i for i, r in enumerate(form.readings)}
    for label, hhmm in (
        ("+0 min", "13:15"),
        ("+15 min", "13:30"),
        ("+30 min", "13:45"),
        ("+45 min", "14:00"),
        ("+60 min", "14:15"),
        ("+75 min", "14:30"),
        ("Before discharge", "14:35"),
    ):
        form = with_reading(form, rows[label], time=hhmm, systolic="124", diastolic="80")
    form = dataclasses.replace(form, respiratory_depression=False)
    records.save_record(clinic.db, nurse, iv, form, now=_at(clinic, "14:36"))


def test_completing_waits_for_moaas_5_and_cadss_resolved_naming_the_reading(
    clinic: SmallClinic, nurse: Actor
) -> None:
    iv = _iv(clinic, nurse)
    _resolved_record(clinic, nurse, iv)
    _record(clinic, nurse, iv, "moaas", "4", "14:38")
    _record(clinic, nurse, iv, "cadss", "3", "14:39")
    with pytest.raises(ChairRefused) as refused:
        _complete(clinic, nurse, iv, "14:45")
    assert [f.rule for f in refused.value.findings] == ["discharge_scales"]
    assert refused.value.findings[0].text == (
        "Sedation and dissociation scales at discharge: sedation not resolved: the last "
        "MOAA/S 4 (lethargic response to name spoken in normal tone) at 14:38; discharge "
        "needs MOAA/S 5 or more; dissociation not resolved: the last CADSS 3 at 14:39; "
        "discharge needs CADSS 0 or less"
    )
    # The board says what still refuses it, in a few words without scores.
    board = chair_board.chair_board(clinic.db, nurse, now=_at(clinic, "14:45"))
    card = next(c for c in board.cards if c.appointment_id == iv)
    assert card.discharge_not_yet == (
        "sedation not resolved (MOAA/S); dissociation not resolved (CADSS)",
    )
    # Resolved: the completion goes ahead, the record's checkboxes not asked.
    _record(clinic, nurse, iv, "moaas", "5", "14:46")
    _record(clinic, nurse, iv, "cadss", "0", "14:46")
    _complete(clinic, nurse, iv, "14:47")


def test_the_threshold_and_the_warn_policy_are_the_clinics(
    clinic: SmallClinic, nurse: Actor
) -> None:
    with clinic.db.write() as session:
        stored = session.get(ClinicSetting, "scales")
        assert stored is not None
        stored.value = {**stored.value, "cadss_resolved_max": 4}
        chair = session.get(ClinicSetting, "chair")
        assert chair is not None
        chair.value = {**chair.value, "discharge": "warn"}
    iv = _iv(clinic, nurse)
    _resolved_record(clinic, nurse, iv)
    _record(clinic, nurse, iv, "moaas", "4", "14:38")
    _record(clinic, nurse, iv, "cadss", "3", "14:39")  # at or below 4: resolved
    with clinic.db.read() as session:
        appointment = session.get(Appointment, iv)
        assert appointment is not None
        warnings = completion.check_complete(session, appointment, now=_at(clinic, "14:45"))
    assert warnings == [
        "Sedation and dissociation scales at discharge: sedation not resolved: the last "
        "MOAA/S 4 (lethargic response to name spoken in normal tone) at 14:38; discharge "
        "needs MOAA/S 5 or more"
    ]


def test_the_record_sheet_lists_the_readings_and_the_rems_summary_uses_them(
    clinic: SmallClinic, nurse: Actor
) -> None:
    iv = _iv(clinic, nurse)
    _record(clinic, nurse, iv, "moaas", "3", "13:16")
    _record(clinic, nurse, iv, "cadss", "12", "13:56")
    _record(clinic, nurse, iv, "moaas", "5", "14:41")
    sheet = session_record.session_record_sheet(clinic.db, nurse, iv, now=_at(clinic, "14:42"))
    assert [(r.scale_name, r.score, r.recorded_by) for r in sheet.scale_readings] == [
        ("MOAA/S", 3, "Kim Nguyen"),
        ("CADSS", 12, "Kim Nguyen"),
        ("MOAA/S", 5, "Kim Nguyen"),
    ]
    form = rems.rems_form(clinic.db, nurse, iv, now=_at(clinic, "14:42"))
    assert form.sedation == "MOAA/S lowest 3 (13:16), last 5 (14:41)"
    assert form.dissociation == "CADSS highest 12 (13:56), last 12 (13:56)"
    assert "sedation" not in " ".join(form.missing)
