"""Rooms and equipment in the settings: added, renamed, retired without losing history, and the
session types a room serves honoured by the planner and by the booking re-check."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from ketadesk.services.booking import booking, planning
from ketadesk.services.booking.booking import BookingRequest
from ketadesk.services.booking.move_check import check_move
from ketadesk.services.booking.plan_check import BookingConflict
from ketadesk.services.common.context import Actor, InvalidFields, PermissionDenied
from ketadesk.services.settings import resources
from ketadesk.services.settings.resources import ResourceForm, ResourceInUse
from ketadesk.store import changes
from ketadesk.store.models import AuditEvent, Closure, Resource, ResourceHold
from tests.clinic_fixtures import SmallClinic, build_small_clinic

NOW = dt.datetime(2026, 12, 1, 16, 0, tzinfo=dt.UTC)  # Tuesday 1 Dec 2026, 08:00 in San Diego
WED = dt.date(2026, 12, 2)
ADMIN = Actor(user_id=None, username="admin", role="admin")
FRONT_DESK = Actor(user_id=None, username="maria", role="front_desk")
IV_A = {"room": "Room 1", "monitor": "Monitor 1", "nurse": "Nurse Kim"}


@pytest.fixture
def clinic(db_url: str) -> Iterator[SmallClinic]:
    c = build_small_clinic(db_url)
    yield c
    c.db.dispose()


@dataclass(frozen=True)
class _Event:
    entity: str
    entity_id: int | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    detail: str


def _events(clinic: SmallClinic, action: str) -> list[_Event]:
    with clinic.db.read() as s:
        stmt = select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        return [_Event(e.entity, e.entity_id, e.before, e.after, e.detail) for e in s.scalars(stmt)]


def _counter(clinic: SmallClinic) -> int:
    with clinic.db.read() as s:
        return changes.current(s)


def _book_iv(clinic: SmallClinic, day: dt.date, hhmm: str, assign: dict[str, str]) -> int:
    request = BookingRequest(
        patient_id=clinic.ids["Ada Lovelace"],
        sessions=(clinic.session("iv_infusion", day, hhmm, assign),),
    )
    return booking.book(clinic.db, FRONT_DESK, request, now=NOW).appointment_ids[0]


def test_adding_a_room_and_a_monitor_is_audited_and_refreshes_other_workstations(
    clinic: SmallClinic,
) -> None:
    before = _counter(clinic)
    room = resources.add_resource(
        clinic.db,
        ADMIN,
        ResourceForm(kind="room", subkind="treatment", name="Room 5", short_name="R5"),
        now=NOW,
    )
    monitor = resources.add_resource(
        clinic.db,
        ADMIN,
        ResourceForm(kind="equipment", subkind="vital_signs_monitor", name="  Monitor   5 "),
        now=NOW,
    )
    assert _counter(clinic) == before + 2
    listed = {r.name: r for r in resources.list_resources(clinic.db, now=NOW).rows}
    assert listed["Room 5"].id == room
    assert listed["Room 5"].short_name == "R5"
    assert listed["Monitor 5"].id == monitor  # spaces tidied
    assert listed["Monitor 5"].kind_label == "Equipment"
    assert "Nurse Kim" not in listed  # staff are the staff settings' own
    added = _events(clinic, "add_resource")
    assert [(e.entity, e.entity_id, e.before) for e in added] == [
        ("resource", room, None),
        ("resource", monitor, None),
    ]
    assert added[0].after is not None
    assert added[0].after["name"] == "Room 5"


def test_a_name_clash_names_the_field_and_saves_nothing(clinic: SmallClinic) -> None:
    before = _counter(clinic)
    with pytest.raises(InvalidFields) as err:
        resources.add_resource(
            clinic.db, ADMIN, ResourceForm(kind="room", name="room 1", capacity="0"), now=NOW
        )
    assert err.value.errors["name"] == "Room 1 already exists; choose another name"
    assert "capacity" in err.value.errors
    with pytest.raises(InvalidFields) as err:
        resources.update_resource(
            clinic.db,
            ADMIN,
            clinic.ids["Room 2"],
            ResourceForm(kind="room", subkind="treatment", name="Monitor 1"),
            now=NOW,
        )
    assert set(err.value.errors) == {"name"}
    with pytest.raises(InvalidFields) as err:
        resources.add_resource(
            clinic.db,
            ADMIN,
            ResourceForm(kind="equipment", subkind="treatment", name="Pump 1"),
            now=NOW,
        )
    assert set(err.value.errors) == {"subkind"}
    assert _counter(clinic) == before
    assert _events(clinic, "add_resource") == _events(clinic, "edit_resource") == []
    with clinic.db.read() as s:
        assert s.scalar(select(Resource).where(Resource.name == "Pump 1")) is None


def test_renaming_keeps_the_history_and_audits_before_and_after(clinic: SmallClinic) -> None:
    appointment = _book_iv(clinic, WED, "10:00", IV_A)
    changed = resources.update_resource(
        clinic.db,
        ADMIN,
        clinic.ids["Room 1"],
        ResourceForm(kind="room", subkind="treatment", name="Garden Room", short_name="GR"),
        now=NOW,
    )
    assert changed == ("name", "short_name")
    (event,) = _events(clinic, "edit_resource")
    assert event.before == {"name": "Room 1", "short_name": ""}
    assert event.after == {"name": "Garden Room", "short_name": "GR"}
    with clinic.db.read() as s:
        holds = s.scalars(select(ResourceHold).where(ResourceHold.appointment_id == appointment))
        assert clinic.ids["Room 1"] in {h.resource_id for h in holds}
    # Saving the same form again changes nothing and writes nothing.
    before = _counter(clinic)
    again = resources.update_resource(
        clinic.db,
        ADMIN,
        clinic.ids["Room 1"],
        ResourceForm(kind="room", subkind="treatment", name="Garden Room", short_name="GR"),
        now=NOW,
    )
    assert again == ()
    assert _counter(clinic) == before


def test_retiring_a_room_with_sessions_ahead_is_refused_with_the_list(
    clinic: SmallClinic,
) -> None:
    _book_iv(clinic, WED, "10:00", IV_A)
    with pytest.raises(ResourceInUse, match="Room 1 still has 1 booked session ahead") as err:
        resources.retire_resource(clinic.db, ADMIN, clinic.ids["Room 1"], now=NOW)
    assert "out of service" in str(err.value)
    assert [s.label for s in err.value.sessions] == [
        "Wed 12/2 10:00 Lovelace, A. (IV ketamine infusion)"
    ]
    assert _events(clinic, "retire_resource") == []
    listed = {r.name: r for r in resources.list_resources(clinic.db, now=NOW).rows}
    assert listed["Room 1"].active
    assert listed["Room 1"].sessions_ahead == 1

    result = resources.retire_resource(clinic.db, ADMIN, clinic.ids["Room 1"], force=True, now=NOW)
    assert len(result.left_in_place) == 1
    assert "must be moved" in result.message
    (event,) = _events(clinic, "retire_resource")
    assert event.before == {"active": True}
    assert event.after == {"active": False}
    assert "left 1 booked session" in event.detail
    assert "Room 1" not in {r.name for r in resources.list_resources(clinic.db, now=NOW).rows}
    retired = {r.name: r for r in resources.list_resources(clinic.db, include_retired=True).rows}
    assert not retired["Room 1"].active


def test_a_retired_monitor_keeps_its_past_holds_and_comes_back(clinic: SmallClinic) -> None:
    appointment = _book_iv(clinic, WED, "10:00", IV_A)
    later = NOW + dt.timedelta(days=3)  # the session is over
    result = resources.retire_resource(clinic.db, ADMIN, clinic.ids["Monitor 1"], now=later)
    assert result.left_in_place == ()
    with clinic.db.read() as s:
        held = s.scalars(
            select(ResourceHold.resource_id).where(ResourceHold.appointment_id == appointment)
        )
        assert clinic.ids["Monitor 1"] in set(held)
    resources.reactivate_resource(clinic.db, ADMIN, clinic.ids["Monitor 1"], now=later)
    (event,) = _events(clinic, "reactivate_resource")
    assert event.after == {"active": True}
    assert "Monitor 1" in {r.name for r in resources.list_resources(clinic.db, now=later).rows}


def test_the_front_desk_may_not_configure_and_the_refusal_is_audited(
    clinic: SmallClinic,
) -> None:
    with pytest.raises(PermissionDenied):
        resources.add_resource(clinic.db, FRONT_DESK, ResourceForm(name="Room 9"), now=NOW)
    with pytest.raises(PermissionDenied):
        resources.retire_resource(clinic.db, FRONT_DESK, clinic.ids["Room 1"], now=NOW)
    refused = _events(clinic, "refused")
    assert [e.after for e in refused] == [{"action": "configure", "role": "front_desk"}] * 2
    assert "Room 9" not in {r.name for r in resources.list_resources(clinic.db, now=NOW).rows}


def test_a_room_kept_for_spravato_is_never_planned_or_booked_for_an_infusion(
    clinic: SmallClinic,
) -> None:
    form = ResourceForm(kind="room", subkind="treatment", name="Room 1", serves=("spravato",))
    assert resources.update_resource(clinic.db, ADMIN, clinic.ids["Room 1"], form, now=NOW) == (
        "serves",
    )
    today = NOW.date()
    answer = planning.search_openings(
        clinic.db, session_type="iv_infusion", first=WED, days=2, today=today
    )
    rooms = {o.resource_for("room") for o in answer.search.openings}
    assert answer.search.openings
    assert clinic.ids["Room 1"] not in rooms
    spravato = planning.search_openings(
        clinic.db, session_type="spravato", first=WED, days=2, today=today
    )
    assert clinic.ids["Room 1"] in {o.resource_for("room") for o in spravato.search.openings}
    with pytest.raises(
        BookingConflict, match="Room 1 is not used for IV ketamine infusion sessions"
    ):
        _book_iv(clinic, WED, "10:00", IV_A)


def test_session_types_served_must_use_the_kind_of_resource(clinic: SmallClinic) -> None:
    form = ResourceForm(
        kind="equipment", subkind="pulse_oximeter", name="Oximeter 2", serves=("iv_infusion",)
    )
    with pytest.raises(InvalidFields) as err:
        resources.add_resource(clinic.db, ADMIN, form, now=NOW)
    assert err.value.errors == {"serves": "IV ketamine infusion never uses a pulse oximeter"}
    choices = resources.resource_choices(clinic.db)
    assert [t.code for t in choices.session_types_for("equipment", "pulse_oximeter")] == [
        "spravato"
    ]


def test_each_row_shows_its_current_out_of_service_window(clinic: SmallClinic) -> None:
    with clinic.db.write() as s:
        s.add(
            Closure(
                resource_id=clinic.ids["Monitor 3"],
                kind="maintenance",
                starts_at=NOW - dt.timedelta(hours=1),
                ends_at=NOW + dt.timedelta(days=2),
                reason="calibration",
            )
        )
    listed = {r.name: r for r in resources.list_resources(clinic.db, now=NOW).rows}
    assert listed["Monitor 3"].out_of_service == "Out of service until Thu 12/3 08:00: calibration"
    assert listed["Monitor 2"].out_of_service == ""


def test_a_session_cannot_be_moved_into_a_room_kept_for_another_type(clinic: SmallClinic) -> None:
    ada = _book_iv(clinic, WED, "10:00", IV_A)
    form = ResourceForm(kind="room", subkind="treatment", name="Room 2", serves=("spravato",))
    resources.update_resource(clinic.db, ADMIN, clinic.ids["Room 2"], form, now=NOW)
    reasons = check_move(clinic.db, ada, clinic.at(WED, "10:00"), clinic.ids["Room 2"], now=NOW)
    assert reasons == ["Room 2 is not used for IV ketamine infusion sessions"]
    assert check_move(clinic.db, ada, clinic.at(WED, "10:00"), clinic.ids["Room 3"], now=NOW) == []


def test_an_edit_that_would_strand_sessions_ahead_is_refused_at_its_field(
    clinic: SmallClinic,
) -> None:
    _book_iv(clinic, WED, "10:00", IV_A)
    room1 = clinic.ids["Room 1"]
    kept = ResourceForm(kind="room", subkind="treatment", name="Room 1", serves=("spravato",))
    with pytest.raises(InvalidFields) as err:
        resources.update_resource(clinic.db, ADMIN, room1, kept, now=NOW)
    assert set(err.value.errors) == {"serves"}
    assert "1 booked session ahead would no longer fit" in err.value.errors["serves"]
    assert "Lovelace, A. (IV ketamine infusion)" in err.value.errors["serves"]
    office = ResourceForm(kind="room", subkind="office", name="Room 1")
    with pytest.raises(InvalidFields) as err:
        resources.update_resource(clinic.db, ADMIN, room1, office, now=NOW)
    assert set(err.value.errors) == {"subkind"}
    both = ResourceForm(
        kind="room", subkind="treatment", name="Room 1", serves=("spravato", "iv_infusion")
    )
    assert resources.update_resource(clinic.db, ADMIN, room1, both, now=NOW) == ("serves",)
