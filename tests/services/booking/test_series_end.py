"""A prescriber ends a series, on a real clinic (SQLite and PostgreSQL): the sessions from the
day it ends are cancelled in one transaction with the reason, the series says why it ended, its
misses owe no outreach call, nothing reads it as at risk or dropped, `ketadesk check` finds
nothing, and the end can be taken back.

Time is injected: the induction is booked on Tuesday 1 December 2026 (tests.services.rebooking)
and each step is made at an instant taken from the booked sessions themselves.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from ketadesk.services.booking import appointment_changes, series_end
from ketadesk.services.clinic.integrity import check_integrity
from ketadesk.services.common.context import Actor, InvalidRequest, PermissionDenied
from ketadesk.services.followups import recall
from ketadesk.services.patients.patient_record import patient_record
from ketadesk.store.models import (
    Appointment,
    AppointmentEvent,
    AuditEvent,
    ClinicSetting,
    FollowUp,
    ResourceHold,
    Series,
    SessionFee,
)
from tests.clinic_fixtures import SmallClinic, build_small_clinic
from tests.services.rebooking.test_makeup import Row, _rows, book_induction, no_show

PRESCRIBER = Actor(user_id=None, username="Dr Patel", role="prescriber")
NURSE = Actor(user_id=None, username="kim", role="nurse")
FRONT_DESK = Actor(user_id=None, username="maria", role="front_desk")


@pytest.fixture
def clinic(db_url: str) -> Iterator[SmallClinic]:
    c = build_small_clinic(db_url)
    yield c
    c.db.dispose()


def _day(clinic: SmallClinic, row: Row) -> dt.date:
    return clinic.calendar.local_date(row.starts_at)


def _end(clinic: SmallClinic, rows: list[Row], at: dt.datetime, *, index: int) -> str:
    """End the series from the day of its session ``index`` (1-based), for side effects."""
    done = series_end.end_series(
        clinic.db,
        PRESCRIBER,
        rows[0].series_id or 0,
        reason="side_effects",
        note="sustained hypertension",
        effective=_day(clinic, rows[index - 1]),
        now=at,
    )
    return done.words


def test_ending_cancels_every_session_from_its_day_in_one_go(clinic: SmallClinic) -> None:
    rows = book_induction(clinic)
    at = rows[0].starts_at - dt.timedelta(days=1)
    info = series_end.end_info(clinic.db, PRESCRIBER, rows[0].series_id or 0, _day(clinic, rows[2]))
    assert info.may_end
    assert info.refusal == ""
    assert len(info.to_cancel) == 4
    assert info.to_cancel[0].startswith("3/6 ")

    words = _end(clinic, rows, at, index=3)

    third = _day(clinic, rows[2])
    assert words == (
        f"Ended {third.strftime('%b')} {third.day}: side effects / safety: "
        "sustained hypertension (Dr Patel)"
    )
    after = _rows(clinic, rows[0].series_id)
    assert [r.status for r in after] == ["booked", "booked", *["cancelled"] * 4]
    cancelled = [r.id for r in after if r.status == "cancelled"]
    with clinic.db.read() as s:
        series = s.get(Series, rows[0].series_id)
        assert series is not None
        assert (series.status, series.end_reason, series.ended_on) == (
            "ended",
            "side_effects",
            third,
        )
        assert series.end_note == "sustained hypertension"
        # Released: another patient may have the places.
        assert not any(
            s.scalars(select(ResourceHold.active).where(ResourceHold.appointment_id.in_(cancelled)))
        )
        reasons = set(
            s.scalars(
                select(AppointmentEvent.reason).where(
                    AppointmentEvent.appointment_id.in_(cancelled),
                    AppointmentEvent.action == "cancel",
                )
            )
        )
        assert reasons == {"Series ended: side effects / safety: sustained hypertension"}
        # The clinic stopped it, not the patient: no late cancellation, no fee.
        assert not any(
            s.scalars(select(Appointment.late_cancel).where(Appointment.id.in_(cancelled)))
        )
        assert s.scalar(select(SessionFee.id)) is None
        audited = s.scalars(
            select(AuditEvent.action).where(
                AuditEvent.entity == "series", AuditEvent.entity_id == rows[0].series_id
            )
        ).all()
        assert audited == ["end_series"]
        # What the cancelled sessions owed is no longer owed.
        owed = s.scalars(
            select(FollowUp.status).where(FollowUp.appointment_id.in_(cancelled))
        ).all()
        assert set(owed) <= {"cancelled"}


def test_the_record_says_how_it_ended_and_stops_counting_places(clinic: SmallClinic) -> None:
    rows = book_induction(clinic)
    at = rows[0].starts_at - dt.timedelta(days=1)
    words = _end(clinic, rows, at, index=3)

    record = patient_record(clinic.db, PRESCRIBER, clinic.ids["Ada Lovelace"], now=at)
    (progress,) = [p for p in record.series if p.series_id == rows[0].series_id]
    assert progress.status_label == "Ended"
    # The record names the account that ended it; this actor (the command line's) has none.
    assert progress.ended == words.removesuffix(" (Dr Patel)")
    assert progress.summary == f"0 of 6 done, {progress.ended}"
    assert "cancelled" not in progress.summary
    assert "nothing booked" not in progress.summary


def test_an_ended_series_is_neither_at_risk_nor_dropped(clinic: SmallClinic) -> None:
    rows = book_induction(clinic)
    at = no_show(clinic, rows[1])
    patient = clinic.ids["Ada Lovelace"]
    assert recall.at_risk_list(clinic.db, now=at, patient_id=patient)

    _end(clinic, rows, at, index=3)

    assert recall.at_risk_list(clinic.db, now=at, patient_id=patient) == []
    later = rows[-1].starts_at + dt.timedelta(days=1)
    assert patient not in {r.patient_id for r in recall.dropout_list(clinic.db, now=later)}
    with clinic.db.read() as s:
        (call,) = s.execute(
            select(FollowUp.status, FollowUp.outcome).where(
                FollowUp.appointment_id == rows[1].id, FollowUp.kind == "outreach_call"
            )
        ).all()
    assert tuple(call) == ("cancelled", "Answered: the series was ended")
    report = check_integrity(clinic.db, now=later)
    assert not [p for p in report.problems if "series" in str(p).lower()], report.problems


def test_a_cancellation_counted_as_a_miss_is_not_one_when_the_series_ends(
    clinic: SmallClinic,
) -> None:
    with clinic.db.write() as s:
        row = s.get(ClinicSetting, "dropout")
        assert row is not None
        row.value = {**row.value, "at_risk_events": ["no_show", "cancel"]}
    rows = book_induction(clinic)
    at = rows[0].starts_at - dt.timedelta(days=1)
    _end(clinic, rows, at, index=1)
    with clinic.db.read() as s:
        calls = s.scalars(select(FollowUp.id).where(FollowUp.kind == "outreach_call")).all()
    assert calls == []
    assert recall.at_risk_list(clinic.db, now=at) == []


def test_only_a_prescriber_may_end_a_series_unless_the_clinic_says_nurses_may(
    clinic: SmallClinic,
) -> None:
    rows = book_induction(clinic)
    at = rows[0].starts_at - dt.timedelta(days=1)
    sid = rows[0].series_id or 0
    for actor in (FRONT_DESK, NURSE):
        with pytest.raises(PermissionDenied, match="Only a prescriber may end a series"):
            series_end.end_series(clinic.db, actor, sid, reason="patient_choice", now=at)
        assert not series_end.end_info(clinic.db, actor, sid, now=at).may_end
    with clinic.db.read() as s:
        refused = s.scalars(select(AuditEvent.action).where(AuditEvent.entity == "series")).all()
    assert len(refused) == 2  # each refusal recorded
    assert [r.status for r in _rows(clinic, sid)] == ["booked"] * 6

    with clinic.db.write() as s:
        s.add(ClinicSetting(key="series_end", value={"roles": ["prescriber", "nurse"]}))
    done = series_end.end_series(clinic.db, NURSE, sid, reason="patient_choice", now=at)
    assert done.words.endswith(": patient's choice (kim)")
    with pytest.raises(PermissionDenied, match="Only a nurse or prescriber may end a series"):
        series_end.undo_end_series(clinic.db, FRONT_DESK, sid, now=at)


def test_a_reason_is_required_and_other_says_more(clinic: SmallClinic) -> None:
    rows = book_induction(clinic)
    at = rows[0].starts_at - dt.timedelta(days=1)
    sid = rows[0].series_id or 0
    with pytest.raises(InvalidRequest, match="Choose why the series ends"):
        series_end.end_series(clinic.db, PRESCRIBER, sid, reason="", now=at)
    with pytest.raises(InvalidRequest, match="reason is 'other'"):
        series_end.end_series(clinic.db, PRESCRIBER, sid, reason="other", note=" ", now=at)
    with pytest.raises(InvalidRequest, match="has passed: a series ends today"):
        series_end.end_series(
            clinic.db,
            PRESCRIBER,
            sid,
            reason="no_response",
            effective=clinic.calendar.local_date(at) - dt.timedelta(days=1),
            now=at,
        )
    done = series_end.end_series(
        clinic.db, PRESCRIBER, sid, reason="other", note="moved out of state", now=at
    )
    assert ": moved out of state (Dr Patel)" in done.words
    with pytest.raises(InvalidRequest, match="ended already"):
        series_end.end_series(clinic.db, PRESCRIBER, sid, reason="no_response", now=at)


def test_an_end_taken_back_books_the_sessions_again_where_they_were(clinic: SmallClinic) -> None:
    rows = book_induction(clinic)
    at = no_show(clinic, rows[1])
    _end(clinic, rows, at, index=3)

    series_end.undo_end_series(clinic.db, PRESCRIBER, rows[0].series_id or 0, now=at)

    after = _rows(clinic, rows[0].series_id)
    assert [r.status for r in after] == ["booked", "no_show", *["booked"] * 4]
    assert [r.starts_at for r in after] == [r.starts_at for r in rows]
    with clinic.db.read() as s:
        series = s.get(Series, rows[0].series_id)
        assert series is not None
        assert (series.status, series.ended_on, series.end_reason) == ("active", None, None)
        assert all(
            s.scalars(select(ResourceHold.active).where(ResourceHold.appointment_id == rows[3].id))
        )
        (status,) = s.scalars(
            select(FollowUp.status).where(
                FollowUp.appointment_id == rows[1].id, FollowUp.kind == "outreach_call"
            )
        ).all()
    assert status == "open"  # the miss is the desk's to answer again
    assert recall.at_risk_list(clinic.db, now=at, patient_id=clinic.ids["Ada Lovelace"])


@pytest.mark.parametrize("kept_ids", [True, False], ids=["ids kept", "from the record"])
def test_undoing_an_end_restores_its_sessions_though_one_was_cancelled_since(
    clinic: SmallClinic, kept_ids: bool
) -> None:
    """The undo once took the series' latest cancellation for the ending's: a single session
    cancelled after the end made it restore nothing."""
    rows = book_induction(clinic)
    at = rows[0].starts_at - dt.timedelta(days=1)
    sid = rows[0].series_id or 0
    done = series_end.end_series(
        clinic.db, PRESCRIBER, sid, reason="side_effects", effective=_day(clinic, rows[2]), now=at
    )
    assert done.cancelled == tuple(r.id for r in rows[2:])
    later = at + dt.timedelta(hours=1)
    appointment_changes.change_status(
        clinic.db, FRONT_DESK, rows[1].id, "cancel", reason="patient has the flu", now=later
    )

    undone = series_end.undo_end_series(
        clinic.db,
        PRESCRIBER,
        sid,
        cancelled=done.cancelled if kept_ids else None,
        now=later + dt.timedelta(minutes=5),
    )

    assert undone.cancelled == done.cancelled
    after = _rows(clinic, sid)
    assert [r.status for r in after] == ["booked", "cancelled", *["booked"] * 4]
    with clinic.db.read() as s:
        series = s.get(Series, sid)
        assert series is not None
        assert series.status == "active"
