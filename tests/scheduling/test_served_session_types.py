"""A resource kept for some session types is offered only to them (``ResourceInfo.serves``)."""

from __future__ import annotations

from ketadesk.config import load_default_catalog
from ketadesk.scheduling.availability import Availability
from ketadesk.scheduling.calendar import ClinicCalendar
from ketadesk.scheduling.catalog import ResourceKind
from ketadesk.scheduling.model import ResourceInfo

ROOM = ResourceKind.ROOM


def test_a_room_kept_for_spravato_is_a_candidate_for_spravato_only() -> None:
    catalog = load_default_catalog()
    rooms = [
        ResourceInfo(1, ROOM, "treatment", "Room 1", serves=frozenset({"spravato"})),
        ResourceInfo(2, ROOM, "treatment", "Room 2"),
    ]
    availability = Availability(ClinicCalendar(catalog.settings), rooms)
    assert [r.name for r in availability.candidates(ROOM, "treatment", "spravato")] == [
        "Room 1",
        "Room 2",
    ]
    assert [r.name for r in availability.candidates(ROOM, "treatment", "iv_infusion")] == ["Room 2"]
    # Asked without a session type (the integrity sweep, the views): every room.
    assert len(availability.candidates(ROOM, "treatment")) == 2
