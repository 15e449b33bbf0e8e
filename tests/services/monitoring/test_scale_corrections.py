"""A scale reading typed wrong is corrected with a reason: the reading as recorded stays (the
screen and the paper say "corrected from 2: typo"), the correction is audited, and the board,
the discharge and the REMS form use the corrected score."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from ketadesk.services.booking import appointment_changes
from ketadesk.services.common.context import Actor, InvalidFields, InvalidRequest, PermissionDenied
from ketadesk.services.monitoring import chair_board, records, rems, scale_readings
from ketadesk.services.monitoring.completion import ChairRefused
from ketadesk.services.monitoring.record_forms import ScaleSheet
from ketadesk.services.printing import session_record
from ketadesk.store.models import AuditEvent, ScaleReading
from tests.clinic_fixtures import RIDE_HOME, SmallClinic
from tests.scale_fixtures import add_user, at, bp_checks_taken, iv_session, record_reading


def _correct(
    clinic: SmallClinic, who: Actor, reading_id: int, score: str, reason: str, hhmm: str
) -> ScaleSheet:
    return scale_readings.correct_scale_reading(
        clinic.db, who, reading_id, score, reason, now=at(clinic, hhmm)
    )


def _stored(clinic: SmallClinic) -> list[tuple[int, int, int | None, str | None]]:
    with clinic.db.read() as session:
        rows = session.execute(
            select(
                ScaleReading.id,
                ScaleReading.score,
                ScaleReading.corrects_id,
                ScaleReading.correction_reason,
            ).order_by(ScaleReading.id)
        ).all()
    return [(r[0], r[1], r[2], r[3]) for r in rows]


def test_a_mistyped_moaas_is_corrected_the_original_kept_and_the_correction_audited(
    scale_clinic: SmallClinic, scale_nurse: Actor
) -> None:
    clinic = scale_clinic
    iv = iv_session(clinic, scale_nurse)
    typed = record_reading(clinic, scale_nurse, iv, "moaas", "2", "13:16").readings[0]
    assert typed.reading_id
    assert typed.correction == ""
    lee = add_user(clinic, "lee", "Lee Park", "nurse")
    sheet = _correct(clinic, lee, typed.reading_id, "4", " typo ", "13:20")
    [row] = sheet.readings
    assert (row.score, row.recorded_by, row.corrected_from) == (4, "Kim Nguyen", (2,))
    assert row.taken_at == typed.taken_at  # the reading's own time
    assert row.correction == "corrected from 2: typo (Lee Park, 13:20)"
    assert row.anchor == "lethargic response to name spoken in normal tone"
    assert sheet.just_recorded == row
    # The reading as recorded stays in the database, the correction names it.
    assert _stored(clinic) == [
        (typed.reading_id, 2, None, None),
        (row.reading_id, 4, typed.reading_id, "typo"),
    ]
    with clinic.db.read() as session:
        event = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "correct_scale_reading")
        ).one()
        assert event.username == "lee"
        assert event.entity_id == row.reading_id
        assert event.before == {"id": typed.reading_id, "scale": "moaas", "score": 2}
        assert event.after is not None
        assert (event.after["score"], event.after["reason"]) == (4, "typo")
        assert event.detail == (
            "MOAA/S 2 (responds only after mild prodding or shaking) at 13:16 corrected to 4: "
            f"typo (appointment #{iv})"
        )
    # The record's sheet (the monitoring dialog) and the paper say the same.
    opened = records.open_record(clinic.db, scale_nurse, iv, now=at(clinic, "13:21"))
    assert opened.scales is not None
    assert [(r.score, r.correction) for r in opened.scales.readings] == [
        (4, "corrected from 2: typo (Lee Park, 13:20)")
    ]
    paper = session_record.session_record_sheet(clinic.db, lee, iv, now=at(clinic, "13:21"))
    assert [(r.score, r.corrected_from) for r in paper.scale_readings] == [(4, (2,))]


def test_a_correction_refused_names_the_problem_and_saves_nothing(
    scale_clinic: SmallClinic, scale_nurse: Actor
) -> None:
    clinic = scale_clinic
    iv = iv_session(clinic, scale_nurse)
    typed = record_reading(clinic, scale_nurse, iv, "moaas", "2", "13:16").readings[0]
    cases = {
        ("7", "typo"): {"score": "the MOAA/S score runs 0-5; 7 is above it"},
        ("2", "typo"): {"score": "the MOAA/S of 13:16 already says 2: type the right score"},
        ("4", "  "): {
            "reason": "say why the MOAA/S is corrected (e.g. typo): the reason is kept with it"
        },
        ("", ""): {
            "score": "type the MOAA/S score (0-5)",
            "reason": "say why the MOAA/S is corrected (e.g. typo): the reason is kept with it",
        },
    }
    for (score, reason), errors in cases.items():
        with pytest.raises(InvalidFields) as refused:
            _correct(clinic, scale_nurse, typed.reading_id, score, reason, "13:20")
        assert refused.value.errors == errors
    with pytest.raises(PermissionDenied):
        _correct(clinic, Actor(None, "desk", "front_desk"), typed.reading_id, "4", "x", "13:20")
    assert [r[1] for r in _stored(clinic)] == [2]
    # Corrected once: the reading as recorded is not corrected again (say the latest is wrong).
    _correct(clinic, scale_nurse, typed.reading_id, "4", "typo", "13:20")
    with pytest.raises(InvalidRequest) as refused_again:
        _correct(clinic, scale_nurse, typed.reading_id, "5", "typo", "13:22")
    assert str(refused_again.value) == (
        "the MOAA/S of 13:16 was corrected to 4 meanwhile (at another workstation?): open the "
        "record again to see it"
    )
    with pytest.raises(InvalidRequest, match="no longer on record"):
        _correct(clinic, scale_nurse, 999_999, "4", "typo", "13:22")


def test_a_correction_corrected_again_says_each_step(
    scale_clinic: SmallClinic, scale_nurse: Actor
) -> None:
    clinic = scale_clinic
    iv = iv_session(clinic, scale_nurse)
    typed = record_reading(clinic, scale_nurse, iv, "cadss", "21", "13:56").readings[0]
    first = _correct(clinic, scale_nurse, typed.reading_id, "12", "typo", "13:58").readings[0]
    sheet = _correct(clinic, scale_nurse, first.reading_id, "2", "scored the wrong form", "14:05")
    [row] = sheet.readings
    assert (row.score, row.corrected_from) == (2, (21, 12))
    assert row.correction == (
        "corrected from 21: typo (Kim Nguyen, 13:58); then from 12: scored the wrong form "
        "(Kim Nguyen, 14:05)"
    )
    assert len(_stored(clinic)) == 3


def test_the_board_the_discharge_and_the_rems_form_use_the_corrected_score(
    scale_clinic: SmallClinic, scale_nurse: Actor
) -> None:
    clinic = scale_clinic
    iv = iv_session(clinic, scale_nurse)
    bp_checks_taken(clinic, scale_nurse, iv)
    early = record_reading(clinic, scale_nurse, iv, "moaas", "3", "13:31").readings[0]
    record_reading(clinic, scale_nurse, iv, "cadss", "0", "14:39")
    typed = record_reading(clinic, scale_nurse, iv, "moaas", "2", "14:41").readings[-1]
    assert typed.score == 2
    # MOAA/S 2 at discharge (typed for 5): the board and the completion refuse it.
    board = chair_board.chair_board(clinic.db, scale_nurse, now=at(clinic, "14:42"))
    card = next(c for c in board.cards if c.appointment_id == iv)
    assert card.discharge_not_yet == ("sedation not resolved (MOAA/S)",)
    with pytest.raises(ChairRefused, match="the last MOAA/S 2"):
        appointment_changes.change_status(
            clinic.db, scale_nurse, iv, "complete", now=at(clinic, "14:43"), ride=RIDE_HOME
        )
    _correct(clinic, scale_nurse, typed.reading_id, "5", "typo: 5 meant", "14:44")
    board = chair_board.chair_board(clinic.db, scale_nurse, now=at(clinic, "14:44"))
    card = next(c for c in board.cards if c.appointment_id == iv)
    assert card.discharge_not_yet == ()
    form = rems.rems_form(clinic.db, scale_nurse, iv, now=at(clinic, "14:44"))
    assert form.sedation == "MOAA/S lowest 3 (13:31), last 5 (14:41)"
    appointment_changes.change_status(
        clinic.db, scale_nurse, iv, "complete", now=at(clinic, "14:45"), ride=RIDE_HOME
    )
    # A completed session's reading is still corrected (the record stays open to its nurses).
    again = _correct(clinic, scale_nurse, early.reading_id, "4", "misread", "15:00")
    assert [r.score for r in again.readings if r.scale == "moaas"] == [4, 5]
