"""A session holds what its type says: hand-built holds are compared with the derived ones."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from ketadesk.scheduling.catalog import HoldMode
from ketadesk.scheduling.derived_holds import hold_mismatches
from ketadesk.scheduling.model import PlannedHold, PlannedSession, session_holds
from tests.scheduling.conftest import DemoClinic

DAY = dt.date(2026, 3, 3)  # a Tuesday; pure code, no clock involved
SPRAVATO = {
    "room": "Room 1",
    "monitor": "Monitor 1",
    "oximeter": "Oximeter 1",
    "nurse": "Nurse Ana",
    "prescriber": "Dr Chen",
}


def _spravato(clinic: DemoClinic, **changes: str) -> PlannedSession:
    spec = clinic.spec("spravato")
    start = clinic.at(DAY, "09:00")
    names = {**SPRAVATO, **changes}
    return PlannedSession(
        index=1,
        session_type="spravato",
        start=start,
        end=start + dt.timedelta(minutes=spec.total_minutes),
        holds=session_holds(spec, start, {k: clinic.id(v) for k, v in names.items()}),
    )


def _mismatches(clinic: DemoClinic, planned: PlannedSession) -> list[str]:
    resources = {r.id: r for r in clinic.resources}
    return hold_mismatches(clinic.spec(planned.session_type), planned, clinic.calendar(), resources)


def _with_room(planned: PlannedSession, **room: Any) -> PlannedSession:
    holds = tuple(dataclasses.replace(h, **room) if h.need == "room" else h for h in planned.holds)
    return dataclasses.replace(planned, holds=holds)


def test_the_planners_holds_match(clinic: DemoClinic) -> None:
    assert _mismatches(clinic, _spravato(clinic)) == []


def test_an_optional_need_left_out_is_fine(clinic: DemoClinic) -> None:
    spec = clinic.spec("integration")
    start = clinic.at(DAY, "13:00")
    telehealth = PlannedSession(
        index=1,
        session_type="integration",
        start=start,
        end=start + dt.timedelta(minutes=spec.total_minutes),
        holds=session_holds(spec, start, {"therapist": clinic.id("Tess Rivera")}),
    )
    assert _mismatches(clinic, telehealth) == []


def test_a_room_held_as_presence_is_named(clinic: DemoClinic) -> None:
    planned = _with_room(_spravato(clinic), mode=HoldMode.PRESENCE, units=0)
    assert _mismatches(clinic, planned) == [
        "The Spravato (esketamine) session on Tue Mar 3 09:00 holds its room (Room 1) "
        "09:00–11:30 as presence only; a Spravato (esketamine) session holds it "
        "09:00–11:30 to itself"
    ]


def test_a_missing_room_is_named(clinic: DemoClinic) -> None:
    planned = _spravato(clinic)
    planned = dataclasses.replace(
        planned, holds=tuple(h for h in planned.holds if h.need != "room")
    )
    assert _mismatches(clinic, planned) == [
        "The Spravato (esketamine) session on Tue Mar 3 09:00 holds no room; "
        "Spravato (esketamine) needs a treatment room"
    ]


def test_a_room_held_for_too_short_a_stretch_is_named(clinic: DemoClinic) -> None:
    planned = _spravato(clinic)
    room = next(h for h in planned.holds if h.need == "room")
    short = dataclasses.replace(room.span, end=room.span.start + dt.timedelta(minutes=30))
    (problem,) = _mismatches(clinic, _with_room(planned, span=short))
    assert problem.endswith(
        "holds its room (Room 1) 09:00–09:30 to itself; a Spravato (esketamine) session "
        "holds it 09:00–11:30 to itself"
    )


def test_a_session_cut_short_is_named(clinic: DemoClinic) -> None:
    planned = _spravato(clinic)
    planned = dataclasses.replace(planned, end=planned.start + dt.timedelta(minutes=60))
    assert _mismatches(clinic, planned) == [
        "The Spravato (esketamine) session on Tue Mar 3 09:00 ends at 10:00; a Spravato "
        "(esketamine) session runs 2 h 30 min, to 11:30"
    ]


def test_an_office_as_the_treatment_room_is_named(clinic: DemoClinic) -> None:
    (problem,) = _mismatches(clinic, _spravato(clinic, room="Office"))
    assert problem.endswith(
        "holds Office as its room, but Office is an office; the room must be a treatment room"
    )


def test_a_need_the_type_does_not_have_is_named(clinic: DemoClinic) -> None:
    planned = _spravato(clinic)
    extra = PlannedHold(
        need="therapist",
        resource_id=clinic.id("Tess Rivera"),
        mode=HoldMode.EXCLUSIVE,
        span=planned.holds[0].span,
    )
    planned = dataclasses.replace(planned, holds=(*planned.holds, extra))
    assert _mismatches(clinic, planned) == [
        "The Spravato (esketamine) session on Tue Mar 3 09:00 holds a therapist, which "
        "Spravato (esketamine) does not use"
    ]


def test_one_need_on_two_rooms_is_named(clinic: DemoClinic) -> None:
    planned = _spravato(clinic)
    room = next(h for h in planned.holds if h.need == "room")
    second = dataclasses.replace(room, resource_id=clinic.id("Room 2"))
    planned = dataclasses.replace(planned, holds=(*planned.holds, second))
    assert _mismatches(clinic, planned) == [
        "The Spravato (esketamine) session on Tue Mar 3 09:00 holds its room on both Room 1 "
        "and Room 2; one resource serves a need for the whole session"
    ]


def test_a_shared_hold_counting_no_capacity_is_named(clinic: DemoClinic) -> None:
    planned = _spravato(clinic)
    holds = tuple(
        dataclasses.replace(h, units=0) if h.need == "nurse" else h for h in planned.holds
    )
    (problem,) = _mismatches(clinic, dataclasses.replace(planned, holds=holds))
    assert problem.endswith(
        "counts 0 of Nurse Ana's capacity for its nurse; a Spravato (esketamine) session counts 1"
    )
