"""Plain data the scheduling package works on: resources, existing holds, planned sessions.

The store turns database rows into these; the planner and the integrity check read them; the
booking service writes ``PlannedSession`` back as an appointment with its holds.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ketadesk.scheduling.calendar import Interval
from ketadesk.scheduling.catalog import HoldMode, ResourceKind, SessionTypeSpec


@dataclass(frozen=True, slots=True)
class ResourceInfo:
    id: int
    kind: ResourceKind
    subkind: str  # room: treatment/office; equipment: vital_signs_monitor...; staff: role
    name: str
    capacity: int = 1
    active: bool = True
    sort_order: int = 0
    # Staff: the (session type code, phase key) pairs they may be booked for; empty means
    # every phase their role is asked for (a clinic that never restricts anyone).
    qualifications: frozenset[tuple[str, str]] = frozenset()
    # The session type codes this resource may be booked for; empty: every type whose need asks
    # for its kind and subkind (a room kept for Spravato lists only "spravato").
    serves: frozenset[str] = frozenset()

    @property
    def is_staff(self) -> bool:
        return self.kind is ResourceKind.STAFF

    def may_serve(self, session_type: str, phases: Iterable[str]) -> bool:
        """Whether this resource may be booked for ``phases`` of ``session_type``."""
        if not self.qualifications:
            return True
        return all((session_type, phase) in self.qualifications for phase in phases)

    def serves_type(self, session_type: str) -> bool:
        """Whether a session of ``session_type`` may hold this resource."""
        return not self.serves or session_type in self.serves


@dataclass(frozen=True, slots=True)
class ExistingHold:
    """A hold already in the database (active ones only are given to the planner)."""

    resource_id: int
    span: Interval
    mode: HoldMode
    units: int = 1
    appointment_id: int | None = None

    @property
    def exclusive(self) -> bool:
        return self.mode is HoldMode.EXCLUSIVE


@dataclass(frozen=True, slots=True)
class PlannedHold:
    need: str  # the session type's need key: "room", "monitor", "nurse", ...
    resource_id: int
    mode: HoldMode
    span: Interval
    units: int = 1

    @property
    def exclusive(self) -> bool:
        return self.mode is HoldMode.EXCLUSIVE


def hold_units(mode: HoldMode) -> int:
    """How much of a resource's capacity a hold uses: presence uses none."""
    return 0 if mode is HoldMode.PRESENCE else 1


def session_holds(
    spec: SessionTypeSpec,
    start: dt.datetime,
    assignment: Mapping[str, int],
    *,
    partial: bool = False,
) -> tuple[PlannedHold, ...]:
    """The holds a session of ``spec`` starting at ``start`` takes, given which resource each
    need got (``assignment``: need key -> resource id; an optional need may be left out, and
    with ``partial`` any need: what the assigned ones hold, to compare a plan against)."""
    holds: list[PlannedHold] = []
    for need in spec.needs:
        resource_id = assignment.get(need.key)
        if resource_id is None:
            if need.optional or partial:
                continue
            raise KeyError(f"no resource assigned to the need {need.key!r} of {spec.code}")
        for hold in need.holds:
            begins, ends = spec.hold_window(hold)
            holds.append(
                PlannedHold(
                    need=need.key,
                    resource_id=resource_id,
                    mode=hold.mode,
                    span=Interval(
                        start + dt.timedelta(minutes=begins), start + dt.timedelta(minutes=ends)
                    ),
                    units=hold_units(hold.mode),
                )
            )
    return tuple(holds)


@dataclass(frozen=True, slots=True)
class PlannedSession:
    """One session of a plan: when, which resources, and what is wrong with it (if anything)."""

    index: int  # 1-based place in the series
    session_type: str
    start: dt.datetime
    end: dt.datetime
    holds: tuple[PlannedHold, ...]
    problems: tuple[str, ...] = ()
    alternatives: tuple[dt.datetime, ...] = ()

    @property
    def placed(self) -> bool:
        return not self.problems

    def resource_for(self, need: str) -> int | None:
        return next((h.resource_id for h in self.holds if h.need == need), None)
