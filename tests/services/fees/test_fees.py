"""Fees on a real clinic (SQLite and PostgreSQL): a no-show and a late cancellation are charged
with the status change, an early one is not, an undo voids the fee, a fee is waived with a
reason by a role allowed to, and the list filters by date range and status."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from ketadesk.services.booking import appointment_changes, booking
from ketadesk.services.common.context import (
    SYSTEM,
    Actor,
    InvalidFields,
    InvalidRequest,
    PermissionDenied,
)
from ketadesk.services.fees import fees
from ketadesk.store import changes
from ketadesk.store.models import AuditEvent, SessionFee
from tests.clinic_fixtures import SmallClinic, build_small_clinic

#: Tuesday 24 November 2026, 10:15 at the clinic.
NOW = dt.datetime(2026, 11, 24, 18, 15, tzinfo=dt.UTC)
FRONT_DESK = Actor(user_id=None, username="maria", role="front_desk")
IV_ROOM_1 = {"room": "Room 1", "monitor": "Monitor 1", "nurse": "Nurse Kim"}
IV_ROOM_2 = {"room": "Room 2", "monitor": "Monitor 2", "nurse": "Nurse Kim"}


@pytest.fixture
def clinic(db_url: str) -> Iterator[SmallClinic]:
    c = build_small_clinic(db_url)
    yield c
    c.db.dispose()


def _open_day(clinic: SmallClinic, after: int) -> dt.date:
    day = clinic.calendar.local_date(NOW) + dt.timedelta(days=after)
    while clinic.calendar.closed_reason(day) is not None:
        day += dt.timedelta(days=1)
    return day


def _book(clinic: SmallClinic, patient: str, day: dt.date, hhmm: str, rooms: dict[str, str]) -> int:
    planned = clinic.session("iv_infusion", day, hhmm, rooms)
    return booking.book(
        clinic.db,
        SYSTEM,
        booking.BookingRequest(patient_id=clinic.ids[patient], sessions=(planned,)),
        now=NOW,
    ).appointment_ids[0]


def test_fees_are_charged_with_the_change_voided_by_its_undo_and_waived_with_a_reason(
    clinic: SmallClinic,
) -> None:
    day = _open_day(clinic, 1)
    ada = _book(clinic, "Ada Lovelace", day, "09:00", IV_ROOM_1)
    mary = _book(clinic, "Mary Seacole", day, "11:00", IV_ROOM_2)
    rosalind = _book(clinic, "Rosalind Franklin", _open_day(clinic, 5), "09:00", IV_ROOM_1)
    start = clinic.at(day, "09:00")
    mary_start = clinic.at(day, "11:00")
    # Ada does not come; Mary cancels two hours ahead (late); Rosalind days ahead (not late).
    no_show = appointment_changes.change_status(
        clinic.db, FRONT_DESK, ada, "no_show", now=start + dt.timedelta(minutes=30)
    )
    late = appointment_changes.change_status(
        clinic.db,
        FRONT_DESK,
        mary,
        "cancel",
        reason="no ride",
        now=mary_start - dt.timedelta(hours=2),
    )
    early = appointment_changes.change_status(
        clinic.db, FRONT_DESK, rosalind, "cancel", reason="travel", now=NOW
    )
    # The desk is told of each fee as it is recorded, not left to find it under Fees.
    assert no_show.notes == ("No-show fee $150.00 recorded as owed (Go ▸ Fees)",)
    assert late.notes == ("Late cancellation fee $100.00 recorded as owed (Go ▸ Fees)",)
    assert early.notes == ()
    listed = fees.list_fees(clinic.db, FRONT_DESK, day, day + dt.timedelta(days=7), now=NOW)
    assert [(r.patient_name, r.kind_name, r.amount_text, r.status_name) for r in listed.rows] == [
        ("Lovelace, Ada", "No-show", "$150.00", "Owed"),
        ("Seacole, Mary", "Late cancellation", "$100.00", "Owed"),
    ]
    assert listed.summary == "2 fees, 2 owed: $250.00"

    # The cancellation taken back: its fee is voided, kept on the list as voided.
    appointment_changes.undo_status(
        clinic.db, FRONT_DESK, mary, now=mary_start - dt.timedelta(hours=1)
    )
    voided = fees.list_fees(clinic.db, FRONT_DESK, day, day, status="voided", now=NOW)
    assert [r.appointment_id for r in voided.rows] == [mary]

    ada_fee = next(r for r in listed.rows if r.appointment_id == ada)
    with pytest.raises(PermissionDenied):
        fees.waive_fee(clinic.db, FRONT_DESK, ada_fee.id, "first time", now=NOW)
    with pytest.raises(InvalidFields) as err:
        fees.waive_fee(clinic.db, SYSTEM, ada_fee.id, "   ", now=NOW)
    assert set(err.value.errors) == {"reason"}
    counter = changes.change_counter(clinic.db)
    fees.waive_fee(clinic.db, SYSTEM, ada_fee.id, "car broke down, first miss", now=NOW)
    assert changes.change_counter(clinic.db) > counter  # other workstations refresh
    with pytest.raises(InvalidRequest, match="only an owed fee"):
        fees.waive_fee(clinic.db, SYSTEM, ada_fee.id, "again", now=NOW)
    owed = fees.list_fees(clinic.db, FRONT_DESK, day, day, status="owed", now=NOW)
    assert owed.rows == ()
    waived = fees.list_fees(clinic.db, FRONT_DESK, day, day, status="waived", now=NOW)
    assert waived.rows[0].waive_reason == "car broke down, first miss"
    with clinic.db.read() as s:
        assert s.get(SessionFee, ada_fee.id) is not None
        actions = list(
            s.scalars(select(AuditEvent.action).where(AuditEvent.entity == "session_fee"))
        )
        assert sorted(actions) == ["charge_fee", "charge_fee", "void_fee", "waive_fee"]


def test_a_bad_fee_list_request_names_its_field_and_roles_are_checked(
    clinic: SmallClinic,
) -> None:
    today = clinic.calendar.local_date(NOW)
    with pytest.raises(InvalidFields) as err:
        fees.list_fees(
            clinic.db, FRONT_DESK, today, today - dt.timedelta(days=1), status="paid", now=NOW
        )
    assert set(err.value.errors) == {"last", "status"}
    assert "before it starts" in err.value.errors["last"]
    with pytest.raises(PermissionDenied):
        fees.list_fees(
            clinic.db, Actor(user_id=None, username="sam", role="therapist"), today, today
        )


def test_the_fees_are_clinic_rules_saved_through_the_loaders_check(clinic: SmallClinic) -> None:
    from ketadesk.services.settings.rules import read_rules, save_rules

    rules = read_rules(clinic.db)
    assert rules.value("fees.no_show_default") == 75
    group = next(g for g in rules.groups if g.title == "Fees")
    assert sorted(f.label for f in group.fields) == ["Late cancellation fee", "No-show fee"]
    with pytest.raises(InvalidFields) as err:
        save_rules(clinic.db, SYSTEM, {"fees.no_show_default": -20}, now=NOW)
    assert err.value.errors == {
        "fees.no_show_default": "must be a whole number of dollars >= 0, got -20"
    }
    save_rules(clinic.db, SYSTEM, {"fees.no_show_default": 90}, now=NOW)
    day = _open_day(clinic, 1)
    florence = _book(clinic, "Florence Nightingale", day, "14:00", IV_ROOM_1)
    # Florence's session type has its own amount; the default applies to one that has none.
    with clinic.db.read() as s:
        from ketadesk.store.clinic_config import load_catalog

        settings = fees.fee_settings(load_catalog(s))
    assert settings.amount_cents("no_show", "kap") == 9_000
    assert settings.amount_cents("no_show", "iv_infusion") == 15_000
    appointment_changes.change_status(
        clinic.db, FRONT_DESK, florence, "no_show", now=clinic.at(day, "14:30")
    )
    listed = fees.list_fees(clinic.db, FRONT_DESK, day, day, now=NOW)
    assert [r.amount_text for r in listed.rows] == ["$150.00"]
