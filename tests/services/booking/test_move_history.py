"""A move's history names every change (SQLite and PostgreSQL): a user trial re-staffed a
session at the same time and room through Move… (the nurse called in sick) and its history read
"moved from Wed 8:00 AM, Room 1 to Wed 8:00 AM, Room 1".  A move's audit now records what the
session holds before and after (each need's resource by id and by its name then), and the
session's page, the desk's "moved at another workstation" and the audit viewer say only what
changed; a move recorded before (no holds in its snapshots) reads as it always did."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import select, update

from ketadesk.scheduling.held_changes import HELD_KEY
from ketadesk.services.access import audit_log
from ketadesk.services.access.audit_log import AuditRow
from ketadesk.services.booking import appointment_changes, booking
from ketadesk.services.booking.appointments import appointment_detail, moves_since
from ketadesk.services.booking.booking import BookingRequest
from ketadesk.services.booking.series_moves import move_series, propose_series_move
from ketadesk.services.common.context import SYSTEM, Actor
from ketadesk.store.models import AppointmentEvent, Resource, StaffMember, StaffShift
from tests.clinic_fixtures import SmallClinic, build_small_clinic
from tests.services.settings.availability_clinic import booked_clinic

NOW = dt.datetime(2026, 12, 1, 16, 0, tzinfo=dt.UTC)  # Tuesday 1 Dec 2026, 08:00 in San Diego
WED = dt.date(2026, 12, 2)
THU = dt.date(2026, 12, 3)
IV_A = {"room": "Room 1", "monitor": "Monitor 1", "nurse": "Nurse Kim"}
FRONT_DESK = Actor(user_id=None, username="maria", role="front_desk")
ADMIN = Actor(user_id=None, username="root", role="admin")


@pytest.fixture
def clinic(db_url: str) -> Iterator[SmallClinic]:
    c = build_small_clinic(db_url)
    yield c
    c.db.dispose()


def _add_nurse(clinic: SmallClinic, name: str) -> None:
    """A second nurse, on the same shifts as Nurse Kim."""
    with clinic.db.write() as s:
        res = Resource(kind="staff", subkind="nurse", name=name, capacity=3)
        s.add(res)
        s.flush()
        s.add(StaffMember(resource_id=res.id, role="nurse", first_name="Lee", last_name="Ortiz"))
        for weekday in range(5):
            s.add(
                StaffShift(resource_id=res.id, weekday=weekday, start_minute=420, end_minute=1110)
            )
        clinic.ids[name] = res.id


def _book(clinic: SmallClinic, day: dt.date, hhmm: str) -> int:
    request = BookingRequest(
        patient_id=clinic.ids["Ada Lovelace"],
        sessions=(clinic.session("iv_infusion", day, hhmm, IV_A),),
    )
    return booking.book(clinic.db, FRONT_DESK, request, now=NOW).appointment_ids[0]


def _move(clinic: SmallClinic, a: int, day: dt.date, hhmm: str, **held: str) -> None:
    appointment_changes.move(
        clinic.db,
        FRONT_DESK,
        a,
        clinic.session("iv_infusion", day, hhmm, IV_A | held),
        reason="Kim called in sick" if "nurse" in held else "",
        now=NOW,
        patient_knows=True,
    )


def _moved_line(clinic: SmallClinic, a: int) -> str:
    history = appointment_detail(clinic.db, a, FRONT_DESK, now=NOW).history
    return [h for h in history if h.action == "move"][-1].moved


def _audited_move(clinic: SmallClinic, a: int) -> AuditRow:
    return [r for r in audit_log.appointment_history(clinic.db, ADMIN, a) if r.action == "move"][-1]


def test_restaffing_at_the_same_time_and_room_names_the_nurse(clinic: SmallClinic) -> None:
    _add_nurse(clinic, "Nurse Lee")
    a = _book(clinic, WED, "08:00")
    _move(clinic, a, WED, "08:00", nurse="Nurse Lee")
    assert _moved_line(clinic, a) == "changed Nurse: Nurse Kim → Nurse Lee"
    # The audit keeps each need's resource by id and by its name then, before and after.
    row = _audited_move(clinic, a)
    assert row.before is not None
    assert row.after is not None
    nurse_before = next(h for h in row.before[HELD_KEY] if h["need"] == "nurse")
    nurse_after = next(h for h in row.after[HELD_KEY] if h["need"] == "nurse")
    assert nurse_before == {
        "need": "nurse",
        "kind": "staff",
        "id": clinic.ids["Nurse Kim"],
        "name": "Nurse Kim",
    }
    assert (nurse_after["id"], nurse_after["name"]) == (clinic.ids["Nurse Lee"], "Nurse Lee")
    assert {h["need"] for h in row.after[HELD_KEY]} == {"room", "monitor", "nurse"}
    # The audit viewer says the change as the page does: no room id, no list.
    assert row.change_summary() == "Nurse: Nurse Kim → Nurse Lee"
    assert row.detail == "Kim called in sick"


def test_a_move_says_only_what_changed(clinic: SmallClinic) -> None:
    a = _book(clinic, WED, "08:00")
    _move(clinic, a, WED, "10:00", monitor="Monitor 3")
    assert _moved_line(clinic, a) == "moved Wed Dec 2 08:00 → 10:00; Monitor 1 → Monitor 3"
    _move(clinic, a, THU, "09:00", room="Room 2", monitor="Monitor 3")
    assert _moved_line(clinic, a) == "moved Wed Dec 2 10:00 → Thu Dec 3 09:00; Room 1 → Room 2"
    summary = _audited_move(clinic, a).change_summary()
    assert "starts_at: Wed Dec 2, 2026 10:00 → Thu Dec 3, 2026 09:00" in summary
    assert summary.endswith("; Room: Room 1 → Room 2")
    assert "room_id" not in summary
    assert "Monitor" not in summary
    # Another workstation is told the same words.
    notices = moves_since(clinic.db, ADMIN, NOW - dt.timedelta(minutes=1))
    assert [n.text for n in notices][-1] == (
        "Lovelace, Ada moved Wed Dec 2 10:00 → Thu Dec 3 09:00; Room 1 → Room 2"
    )


def test_a_resource_renamed_later_reads_as_it_was_named(clinic: SmallClinic) -> None:
    a = _book(clinic, WED, "08:00")
    _move(clinic, a, WED, "08:00", monitor="Monitor 3")
    with clinic.db.write() as s:
        s.execute(
            update(Resource).where(Resource.name == "Monitor 1").values(name="Monitor 1 (old)")
        )
    assert _moved_line(clinic, a) == "changed Monitor 1 → Monitor 3"


def test_an_older_move_without_its_holds_reads_as_before(clinic: SmallClinic) -> None:
    a = _book(clinic, WED, "08:00")
    _move(clinic, a, WED, "10:00", room="Room 2", monitor="Monitor 2")
    # As a move was recorded before the holds were kept: status, start, end and room only.
    with clinic.db.write() as s:
        event = s.scalars(
            select(AppointmentEvent).where(
                AppointmentEvent.appointment_id == a, AppointmentEvent.action == "move"
            )
        ).one()
        detail = dict(event.detail)
        detail["before"] = {k: v for k, v in detail["before"].items() if k != HELD_KEY}
        detail["after"] = {k: v for k, v in detail["after"].items() if k != HELD_KEY}
        event.detail = detail
        old_before, old_after = detail["before"], detail["after"]
    assert _moved_line(clinic, a) == "moved from Wed Dec 2 08:00, Room 1 to Wed Dec 2 10:00, Room 2"
    row = _audited_move(clinic, a)
    old = dataclasses.replace(row, before=old_before, after=old_after)
    assert sorted(old.change_summary().split("; ")) == [
        "ends_at: Wed Dec 2, 2026 09:40 → Wed Dec 2, 2026 11:40",
        f"room_id: {clinic.ids['Room 1']} → {clinic.ids['Room 2']}",
        "starts_at: Wed Dec 2, 2026 08:00 → Wed Dec 2, 2026 10:00",
    ]


def test_a_series_move_records_each_sessions_holds(db_url: str) -> None:
    b = booked_clinic(db_url, whole_weeks=5)
    try:
        third = b.series[1]
        new_start = b.starts()[third] + dt.timedelta(days=2)
        proposal = propose_series_move(b.clinic.db, third, new_start, now=b.now)
        move_series(b.clinic.db, SYSTEM, proposal, now=b.now, spacing_reason="as asked")
        history = appointment_detail(b.clinic.db, third, FRONT_DESK, now=b.now).history
        (moved,) = [h for h in history if h.action == "move"]
        assert moved.moved.startswith("moved ")
        assert " → " in moved.moved
        assert " from " not in moved.moved
        row = [
            r
            for r in audit_log.appointment_history(b.clinic.db, ADMIN, third)
            if r.action == "move"
        ][-1]
        assert row.before is not None
        assert HELD_KEY in row.before
        assert row.after is not None
        assert HELD_KEY in row.after
    finally:
        b.clinic.db.dispose()
