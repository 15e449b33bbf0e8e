"""A prescriber changes a patient's protocol, on a real clinic (SQLite and PostgreSQL): the old
series ends "changed to <new protocol>: <why>", the booking of the new protocol starts from
the day after the last session kept with the old series' weekdays, time and room, booking it
links the new series to the old, the record shows the chain, and one undo takes the whole
change back while nothing has happened to the new series.

Time is injected: the IV induction is booked on Tuesday 1 December 2026
(tests.services.rebooking) and each step is made at an instant taken from its sessions.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import select, update

from ketadesk.services.booking import appointment_changes, booking, protocol_change
from ketadesk.services.booking.booking import BookingRequest, BookingResult, GateRefused
from ketadesk.services.booking.planning import PlanWishes, propose_series
from ketadesk.services.common.context import Actor, InvalidRequest, PermissionDenied
from ketadesk.services.patients.patient_record import patient_record
from ketadesk.store.models import (
    AppointmentEvent,
    AuditEvent,
    Patient,
    ResourceHold,
    Series,
)
from tests.clinic_fixtures import SmallClinic, build_small_clinic
from tests.services.rebooking.test_makeup import Row, _rows, book_induction

PRESCRIBER = Actor(user_id=None, username="Dr Patel", role="prescriber")
FRONT_DESK = Actor(user_id=None, username="maria", role="front_desk")
SPRAVATO = "spravato_trd"
WHY = "no response after 2 infusions"


@pytest.fixture
def clinic(db_url: str) -> Iterator[SmallClinic]:
    c = build_small_clinic(db_url)
    yield c
    c.db.dispose()


def _after_second(clinic: SmallClinic, rows: list[Row]) -> dt.datetime:
    """Noon of the day after the induction's second session: two sessions kept."""
    day = clinic.calendar.local_date(rows[1].starts_at) + dt.timedelta(days=1)
    return clinic.calendar.day_bounds(day).start + dt.timedelta(hours=12)


def _book_draft(
    clinic: SmallClinic,
    draft: protocol_change.BookingDraft,
    at: dt.datetime,
    overrides: dict[str, str] | None = None,
) -> BookingResult:
    """Plan and book the draft as the booking dialog does."""
    proposal = propose_series(
        clinic.db,
        chart="BT-1",
        protocol=draft.protocol,
        start=draft.start,
        wishes=PlanWishes(weekdays=draft.weekdays, time=draft.time, room=draft.room),
        today=clinic.calendar.local_date(at),
    )
    assert proposal.plan.complete, proposal.plan.problems
    return booking.book(
        clinic.db,
        PRESCRIBER,
        BookingRequest(
            patient_id=draft.patient_id,
            sessions=proposal.sessions,
            protocol=draft.protocol,
            previous_series_id=draft.previous_series_id,
            overrides=overrides or {},
        ),
        now=at,
    )


def _statuses(clinic: SmallClinic, series_id: int | None) -> list[str]:
    return [r.status for r in _rows(clinic, series_id)]


def test_a_change_ends_the_old_series_and_books_the_new_one_after_it(clinic: SmallClinic) -> None:
    rows = book_induction(clinic)
    old = rows[0].series_id
    assert old is not None
    at = _after_second(clinic, rows)
    today = clinic.calendar.local_date(at)

    info = protocol_change.change_info(clinic.db, PRESCRIBER, old, now=at)
    assert info.may_change
    assert info.effective == today  # the day after the last session kept
    assert len(info.kept) == 2
    assert len(info.to_cancel) == 4
    assert info.to_cancel[0].startswith("3/6 ")
    codes = [code for code, _name in info.protocols]
    assert "iv_induction" not in codes  # the series is on it already
    assert SPRAVATO in codes

    started = protocol_change.start_change(
        clinic.db, PRESCRIBER, old, protocol=SPRAVATO, why=WHY, now=at
    )
    draft = started.draft
    name = draft.protocol_name
    assert _statuses(clinic, old) == ["booked", "booked", *["cancelled"] * 4]
    assert started.ended.words == (
        f"Ended {today.strftime('%b')} {today.day}: changed to {name}: {WHY} (Dr Patel)"
    )
    # The old series' wishes, read from its sessions (the test booking recorded none).
    assert draft.weekdays == ("mon", "wed", "fri")
    assert draft.time == clinic.calendar.local(rows[0].starts_at).time()
    assert draft.room
    assert (draft.patient_id, draft.previous_series_id, draft.start) == (
        clinic.ids["Ada Lovelace"],
        old,
        today,
    )
    with clinic.db.read() as s:
        series = s.get(Series, old)
        assert series is not None
        assert (series.status, series.end_reason) == ("ended", "protocol_change")
        reasons = set(
            s.scalars(
                select(AppointmentEvent.reason).where(
                    AppointmentEvent.appointment_id.in_([r.id for r in rows[2:]]),
                    AppointmentEvent.action == "cancel",
                )
            )
        )
    assert reasons == {f"Series ended: changed to {name}: {WHY}"}

    result = _book_draft(clinic, draft, at)
    assert result.series_id is not None
    with clinic.db.read() as s:
        new = s.get(Series, result.series_id)
        assert new is not None
        assert new.previous_series_id == old
        audited = s.scalars(
            select(AuditEvent.action).where(
                AuditEvent.entity == "series", AuditEvent.entity_id == result.series_id
            )
        ).all()
    assert audited == ["change_protocol"]

    record = patient_record(clinic.db, PRESCRIBER, clinic.ids["Ada Lovelace"], now=at)
    progress = {p.series_id: p for p in record.series}
    first = min(clinic.calendar.local_date(r.starts_at) for r in _rows(clinic, result.series_id))
    assert progress[old].changed_to == f"→ {name} from {first.strftime('%b')} {first.day}"
    assert progress[old].ended.startswith(f"Ended {today.strftime('%b')} {today.day}: changed")
    assert progress[result.series_id].changed_from == (
        f"← after IV induction (6 infusions), ended {today.strftime('%b')} {today.day}"
    )
    assert record.change_protocol_refusal == ""


def test_one_undo_takes_the_whole_change_back(clinic: SmallClinic) -> None:
    rows = book_induction(clinic)
    old = rows[0].series_id
    assert old is not None
    at = _after_second(clinic, rows)
    started = protocol_change.start_change(
        clinic.db, PRESCRIBER, old, protocol=SPRAVATO, why=WHY, now=at
    )
    result = _book_draft(clinic, started.draft, at)
    new_ids = list(result.appointment_ids)

    undone = protocol_change.undo_change(
        clinic.db,
        PRESCRIBER,
        old,
        cancelled=started.ended.cancelled,
        now=at + dt.timedelta(minutes=5),
    )

    assert undone.new_series_id == result.series_id
    assert sorted(undone.cancelled) == sorted(new_ids)
    assert sorted(undone.restored) == sorted(r.id for r in rows[2:])
    assert _statuses(clinic, old) == ["booked"] * 6
    assert set(_statuses(clinic, result.series_id)) == {"cancelled"}
    with clinic.db.read() as s:
        assert s.scalar(select(Series.status).where(Series.id == old)) == "active"
        assert s.scalar(select(Series.status).where(Series.id == result.series_id)) == ("cancelled")
        assert not any(
            s.scalars(select(ResourceHold.active).where(ResourceHold.appointment_id.in_(new_ids)))
        )
    record = patient_record(clinic.db, PRESCRIBER, clinic.ids["Ada Lovelace"], now=at)
    assert all(p.changed_to == "" and p.changed_from == "" for p in record.series)


def test_the_undo_is_refused_once_something_happened_to_the_new_series(
    clinic: SmallClinic,
) -> None:
    rows = book_induction(clinic)
    old = rows[0].series_id
    assert old is not None
    at = _after_second(clinic, rows)
    started = protocol_change.start_change(
        clinic.db, PRESCRIBER, old, protocol=SPRAVATO, why=WHY, now=at
    )
    result = _book_draft(clinic, started.draft, at)
    first = result.appointment_ids[0]
    appointment_changes.change_status(
        clinic.db, PRESCRIBER, first, "cancel", reason="flu", now=at + dt.timedelta(minutes=1)
    )

    with pytest.raises(InvalidRequest, match=r"1/.* is cancelled; the change cannot be taken back"):
        protocol_change.undo_change(
            clinic.db,
            PRESCRIBER,
            old,
            cancelled=started.ended.cancelled,
            now=at + dt.timedelta(minutes=5),
        )
    # Nothing was written: the old series still ended, the new one as it was.
    assert _statuses(clinic, old) == ["booked", "booked", *["cancelled"] * 4]
    assert _statuses(clinic, result.series_id).count("booked") == len(result.appointment_ids) - 1


def test_a_refused_new_booking_leaves_the_end_to_take_back(clinic: SmallClinic) -> None:
    """Spravato needs the patient enrolled in the REMS: the new booking is refused, the old
    series has ended, and the undo takes the end back (there is no new series to cancel)."""
    rows = book_induction(clinic)
    old = rows[0].series_id
    assert old is not None
    at = _after_second(clinic, rows)
    with clinic.db.write() as s:
        s.execute(
            update(Patient)
            .where(Patient.id == clinic.ids["Ada Lovelace"])
            .values(rems_enrolled_on=None)
        )
    started = protocol_change.start_change(
        clinic.db, PRESCRIBER, old, protocol=SPRAVATO, why=WHY, now=at
    )
    draft = started.draft
    proposal = propose_series(
        clinic.db,
        chart="BT-1",
        protocol=draft.protocol,
        start=draft.start,
        wishes=PlanWishes(weekdays=draft.weekdays, time=draft.time, room=draft.room),
        today=clinic.calendar.local_date(at),
    )
    assert any(g.rule == "rems_patient_enrolled" for g in proposal.gates)
    with pytest.raises(GateRefused, match="REMS"):
        booking.book(
            clinic.db,
            PRESCRIBER,
            BookingRequest(
                patient_id=draft.patient_id,
                sessions=proposal.sessions,
                protocol=draft.protocol,
                previous_series_id=old,
            ),
            now=at,
        )
    assert _statuses(clinic, old) == ["booked", "booked", *["cancelled"] * 4]

    undone = protocol_change.undo_change(
        clinic.db, PRESCRIBER, old, cancelled=started.ended.cancelled, now=at
    )
    assert undone.new_series_id is None
    assert _statuses(clinic, old) == ["booked"] * 6


def test_a_booking_after_the_end_was_taken_back_is_not_linked(clinic: SmallClinic) -> None:
    rows = book_induction(clinic)
    old = rows[0].series_id
    assert old is not None
    at = _after_second(clinic, rows)
    started = protocol_change.start_change(
        clinic.db, PRESCRIBER, old, protocol=SPRAVATO, why=WHY, now=at
    )
    protocol_change.undo_change(
        clinic.db, PRESCRIBER, old, cancelled=started.ended.cancelled, now=at
    )
    # With the old series going on again, the two courses at once are warned first; a
    # prescriber going past that still may not link the booking to a series not ended.
    with pytest.raises(InvalidRequest, match="no longer ended"):
        _book_draft(clinic, started.draft, at, {"concurrent_course": "switching to Spravato"})


def test_only_who_may_end_a_series_may_change_its_protocol(clinic: SmallClinic) -> None:
    rows = book_induction(clinic)
    old = rows[0].series_id
    assert old is not None
    at = _after_second(clinic, rows)
    info = protocol_change.change_info(clinic.db, FRONT_DESK, old, now=at)
    assert not info.may_change
    assert info.refusal == "Only a prescriber may change a series' protocol"
    with pytest.raises(PermissionDenied, match="Only a prescriber may change"):
        protocol_change.start_change(clinic.db, FRONT_DESK, old, protocol=SPRAVATO, why=WHY, now=at)
    assert _statuses(clinic, old) == ["booked"] * 6
    with clinic.db.read() as s:
        refused = s.scalars(
            select(AuditEvent.action).where(
                AuditEvent.entity == "series", AuditEvent.entity_id == old
            )
        ).all()
    assert refused  # the refusal is in the audit trail
    record = patient_record(clinic.db, FRONT_DESK, clinic.ids["Ada Lovelace"], now=at)
    assert record.change_protocol_refusal == "Only a prescriber may change a series' protocol"


@pytest.mark.parametrize(
    ("protocol", "why", "problem"),
    [
        ("", WHY, "Choose the new protocol"),
        ("iv_induction", WHY, "on this protocol already"),
        (SPRAVATO, "  ", "Say why the protocol changes"),
        ("no_such", WHY, "unknown protocol 'no_such'"),
    ],
)
def test_a_change_asked_wrongly_is_refused_and_writes_nothing(
    clinic: SmallClinic, protocol: str, why: str, problem: str
) -> None:
    rows = book_induction(clinic)
    old = rows[0].series_id
    assert old is not None
    at = _after_second(clinic, rows)
    with pytest.raises(InvalidRequest, match=problem):
        protocol_change.start_change(clinic.db, PRESCRIBER, old, protocol=protocol, why=why, now=at)
    assert _statuses(clinic, old) == ["booked"] * 6
