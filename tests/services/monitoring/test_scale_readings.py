"""Timed MOAA/S and CADSS readings of a session: a nurse records one with a score (and a time,
or now), who recorded it is kept; the record says which is due next and which were missed, the
chair board shows it beside the next BP check and counts a missed one; completing refuses
until the last MOAA/S is 5 and the last CADSS at or below the clinic's threshold, naming the
reading; the printed record lists them and the REMS form summary uses them."""

from __future__ import annotations

import pytest
from sqlalchemy import select

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
from ketadesk.services.printing import session_record
from ketadesk.store.models import Appointment, AuditEvent, ClinicSetting, ScaleReading
from tests.clinic_fixtures import RIDE_HOME, SmallClinic
from tests.scale_fixtures import (
    BOOKED_AT,
    SPR,
    WED,
    at,
    bp_checks_taken,
    iv_session,
    record_reading,
)


def test_a_reading_is_stored_with_who_recorded_it_and_audited(
    scale_clinic: SmallClinic, scale_nurse: Actor
) -> None:
    iv = iv_session(scale_clinic, scale_nurse)
    sheet = record_reading(scale_clinic, scale_nurse, iv, "moaas", "3", "13:16")
    assert [(r.scale_name, r.score, r.recorded_by) for r in sheet.readings] == [
        ("MOAA/S", 3, "Kim Nguyen")
    ]
    assert sheet.readings[0].score_words == (
        "MOAA/S 3 (responds only after name is called loudly and/or repeatedly)"
    )
    # A time typed: the reading is the one taken then (on the session's day).
    sheet = record_reading(scale_clinic, scale_nurse, iv, "cadss", "14", "13:58", taken="13:55")
    assert scale_clinic.calendar.local(sheet.readings[-1].taken_at).strftime("%H:%M") == "13:55"
    with scale_clinic.db.read() as session:
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
    scale_clinic: SmallClinic, scale_nurse: Actor
) -> None:
    iv = iv_session(scale_clinic, scale_nurse)
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
            record_reading(scale_clinic, scale_nurse, iv, scale, score, "13:20", taken=taken)
        assert refused.value.errors == errors
    with scale_clinic.db.read() as session:
        assert session.scalars(select(ScaleReading)).all() == []
    # A front desk user may not record one.
    with pytest.raises(PermissionDenied):
        scale_readings.record_scale_reading(
            scale_clinic.db,
            Actor(None, "desk", "front_desk"),
            iv,
            "moaas",
            "5",
            now=at(scale_clinic, "13:20"),
        )


def test_a_scale_the_type_does_not_use_or_a_session_not_started_is_refused(
    scale_clinic: SmallClinic, scale_nurse: Actor
) -> None:
    spravato = booking.book(
        scale_clinic.db,
        SYSTEM,
        BookingRequest(
            patient_id=scale_clinic.ids["Ada Lovelace"],
            sessions=(scale_clinic.session("spravato", WED, "09:00", SPR),),
        ),
        now=BOOKED_AT,
    ).appointment_ids[0]
    with pytest.raises(InvalidRequest, match="Start the session first"):
        record_reading(scale_clinic, scale_nurse, spravato, "moaas", "5", "09:20")
    scale_clinic.start(spravato, WED, "09:00")
    with pytest.raises(InvalidRequest) as refused:
        record_reading(scale_clinic, scale_nurse, spravato, "cadss", "5", "09:20")
    assert str(refused.value) == (
        "Spravato (esketamine) does not use the CADSS scale (its scales: MOAA/S; "
        "session_types.toml scales)"
    )


def test_the_record_and_the_board_say_the_next_reading_and_count_a_missed_one(
    scale_clinic: SmallClinic, scale_nurse: Actor
) -> None:
    iv = iv_session(scale_clinic, scale_nurse)
    sheet = record_reading(scale_clinic, scale_nurse, iv, "moaas", "4", "13:16")
    assert sheet.next_words == "MOAA/S due 13:30"
    assert sheet.missed_words == ""
    board = chair_board.chair_board(scale_clinic.db, scale_nurse, now=at(scale_clinic, "13:25"))
    card = next(c for c in board.cards if c.appointment_id == iv)
    assert card.next_scale == "MOAA/S due 13:30"
    assert card.scale_missed == ""
    # 13:30 not taken by 13:40 (the scale_clinic's 10 minutes' grace): missed, red, counted.
    board = chair_board.chair_board(scale_clinic.db, scale_nurse, now=at(scale_clinic, "13:41"))
    card = next(c for c in board.cards if c.appointment_id == iv)
    assert card.scale_missed == "MOAA/S +15 min missed (due 13:30)"
    assert card.scale_missed in card.late
    assert card.needs_attention
    assert card.next_scale == "MOAA/S due 13:45"
    # The front desk's board says nothing clinical.
    desk = chair_board.chair_board(
        scale_clinic.db, Actor(None, "d", "front_desk"), now=at(scale_clinic, "13:41")
    )
    desk_card = next(c for c in desk.cards if c.appointment_id == iv)
    assert (desk_card.next_scale, desk_card.scale_missed) == ("", "")
    assert card.scale_missed not in desk_card.late
    # The record's sheet says the same.
    opened = records.open_record(scale_clinic.db, scale_nurse, iv, now=at(scale_clinic, "13:41"))
    assert opened.scales is not None
    assert opened.scales.missed_words == "MOAA/S +15 min missed (due 13:30)"
    assert [(o.label, o.state) for o in opened.scales.owed][:3] == [
        ("MOAA/S at dose", "done"),
        ("MOAA/S +15 min", "missed"),
        ("MOAA/S +30 min", "upcoming"),
    ]


def _complete(scale_clinic: SmallClinic, scale_nurse: Actor, iv: int, hhmm: str) -> None:
    appointment_changes.change_status(
        scale_clinic.db, scale_nurse, iv, "complete", now=at(scale_clinic, hhmm), ride=RIDE_HOME
    )


def test_completing_waits_for_moaas_5_and_cadss_resolved_naming_the_reading(
    scale_clinic: SmallClinic, scale_nurse: Actor
) -> None:
    iv = iv_session(scale_clinic, scale_nurse)
    bp_checks_taken(scale_clinic, scale_nurse, iv)
    record_reading(scale_clinic, scale_nurse, iv, "moaas", "4", "14:38")
    record_reading(scale_clinic, scale_nurse, iv, "cadss", "3", "14:39")
    with pytest.raises(ChairRefused) as refused:
        _complete(scale_clinic, scale_nurse, iv, "14:45")
    assert [f.rule for f in refused.value.findings] == ["discharge_scales"]
    assert refused.value.findings[0].text == (
        "Sedation and dissociation scales at discharge: sedation not resolved: the last "
        "MOAA/S 4 (lethargic response to name spoken in normal tone) at 14:38; discharge "
        "needs MOAA/S 5 or more; dissociation not resolved: the last CADSS 3 at 14:39; "
        "discharge needs CADSS 0 or less"
    )
    # The board says what still refuses it, in a few words without scores.
    board = chair_board.chair_board(scale_clinic.db, scale_nurse, now=at(scale_clinic, "14:45"))
    card = next(c for c in board.cards if c.appointment_id == iv)
    assert card.discharge_not_yet == (
        "sedation not resolved (MOAA/S); dissociation not resolved (CADSS)",
    )
    # Resolved: the completion goes ahead, the record's checkboxes not asked.
    record_reading(scale_clinic, scale_nurse, iv, "moaas", "5", "14:46")
    record_reading(scale_clinic, scale_nurse, iv, "cadss", "0", "14:46")
    _complete(scale_clinic, scale_nurse, iv, "14:47")


def test_the_threshold_and_the_warn_policy_are_the_clinics(
    scale_clinic: SmallClinic, scale_nurse: Actor
) -> None:
    with scale_clinic.db.write() as session:
        stored = session.get(ClinicSetting, "scales")
        assert stored is not None
        stored.value = {**stored.value, "cadss_resolved_max": 4}
        chair = session.get(ClinicSetting, "chair")
        assert chair is not None
        chair.value = {**chair.value, "discharge": "warn"}
    iv = iv_session(scale_clinic, scale_nurse)
    bp_checks_taken(scale_clinic, scale_nurse, iv)
    record_reading(scale_clinic, scale_nurse, iv, "moaas", "4", "14:38")
    record_reading(scale_clinic, scale_nurse, iv, "cadss", "3", "14:39")  # at or below 4: resolved
    with scale_clinic.db.read() as session:
        appointment = session.get(Appointment, iv)
        assert appointment is not None
        warnings = completion.check_complete(session, appointment, now=at(scale_clinic, "14:45"))
    assert warnings == [
        "Sedation and dissociation scales at discharge: sedation not resolved: the last "
        "MOAA/S 4 (lethargic response to name spoken in normal tone) at 14:38; discharge "
        "needs MOAA/S 5 or more"
    ]


def test_the_record_sheet_lists_the_readings_and_the_rems_summary_uses_them(
    scale_clinic: SmallClinic, scale_nurse: Actor
) -> None:
    iv = iv_session(scale_clinic, scale_nurse)
    record_reading(scale_clinic, scale_nurse, iv, "moaas", "3", "13:16")
    record_reading(scale_clinic, scale_nurse, iv, "cadss", "12", "13:56")
    record_reading(scale_clinic, scale_nurse, iv, "moaas", "5", "14:41")
    sheet = session_record.session_record_sheet(
        scale_clinic.db, scale_nurse, iv, now=at(scale_clinic, "14:42")
    )
    assert [(r.scale_name, r.score, r.recorded_by) for r in sheet.scale_readings] == [
        ("MOAA/S", 3, "Kim Nguyen"),
        ("CADSS", 12, "Kim Nguyen"),
        ("MOAA/S", 5, "Kim Nguyen"),
    ]
    form = rems.rems_form(scale_clinic.db, scale_nurse, iv, now=at(scale_clinic, "14:42"))
    assert form.sedation == "MOAA/S lowest 3 (13:16), last 5 (14:41)"
    assert form.dissociation == "CADSS highest 12 (13:56), last 12 (13:56)"
    assert "sedation" not in " ".join(form.missing)
