"""Holds are the session type's, never the caller's: what is wrong with the holds a plan brings.

A write re-derives each session's holds from its session type (``model.session_holds``, on the
resources the plan assigned to each need) and refuses a plan whose holds differ: a room held as
"presence" or not at all would otherwise land on top of another booking, since only exclusive
holds compete for a room.  Pure and cheap: one comparison per session when the plan is right,
the words only when it is not.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Mapping, Sequence

from ketadesk.scheduling.availability import subkind_label
from ketadesk.scheduling.calendar import ClinicCalendar
from ketadesk.scheduling.catalog import HoldMode, ResourceNeed, SessionTypeSpec
from ketadesk.scheduling.dates import clock_span, short_date_time
from ketadesk.scheduling.model import PlannedHold, PlannedSession, ResourceInfo, session_holds

# How a hold's mode reads at the front desk ("the room is held 09:00-11:30 as presence only").
_MODE_WORDS = {
    HoldMode.EXCLUSIVE: "to itself",
    HoldMode.SHARED: "shared",
    HoldMode.PRESENCE: "as presence only",
}


def hold_mismatches(
    spec: SessionTypeSpec,
    planned: PlannedSession,
    calendar: ClinicCalendar,
    resources: Mapping[int, ResourceInfo] | None = None,
) -> list[str]:
    """Why ``planned``'s holds are not those a session of ``spec`` takes, one line each; empty
    when they are exactly the derived ones.

    Each need's resource is the one the plan assigned it; the holds are then derived from
    ``spec`` and compared: a need missing, held in the wrong mode or for the wrong stretch, a
    hold for a need the type does not have, one need on two resources, a resource of the wrong
    kind (``resources``: the ones known, by id), and a session whose end is not the type's.
    """
    needs = {need.key: need for need in spec.needs}
    assignment: dict[str, int] = {}
    for hold in planned.holds:
        assignment.setdefault(hold.need, hold.resource_id)
    derived = session_holds(spec, planned.start, assignment, partial=True)
    if (
        planned.end - planned.start == dt.timedelta(minutes=spec.total_minutes)
        # In the planner's order when it made them; a plan read back from the database may
        # list them in any order.
        and (planned.holds == derived or Counter(planned.holds) == Counter(derived))
        and all(n.key in assignment for n in spec.needs if not n.optional)
        and (resources is None or not _kind_problems("", needs, planned.holds, resources))
    ):
        return []  # the usual case: the plan came from the planner
    return _explain(spec, planned, calendar, resources, needs, assignment, derived)


def _explain(
    spec: SessionTypeSpec,
    planned: PlannedSession,
    calendar: ClinicCalendar,
    resources: Mapping[int, ResourceInfo] | None,
    needs: Mapping[str, ResourceNeed],
    assignment: Mapping[str, int],
    derived: Sequence[PlannedHold],
) -> list[str]:
    problems: list[str] = []
    what = _session_words(spec, planned, calendar)
    for hold in planned.holds:
        first = assignment[hold.need]
        if first != hold.resource_id:
            problem = (
                f"{what} holds its {_need_words(hold.need)} on both {_name(resources, first)} "
                f"and {_name(resources, hold.resource_id)}; one resource serves a need for "
                "the whole session"
            )
            if problem not in problems:
                problems.append(problem)
    total = dt.timedelta(minutes=spec.total_minutes)
    if planned.end - planned.start != total:
        problems.append(
            f"{what} ends at {_clock(calendar, planned.end)}; {_article(spec.name)} session runs "
            f"{_duration(total)}, to {_clock(calendar, planned.start + total)}"
        )
    for key in assignment:
        if key not in needs:
            problems.append(f"{what} holds a {_need_words(key)}, which {spec.name} does not use")
    for need in spec.needs:
        if need.key not in assignment and not need.optional:
            problems.append(
                f"{what} holds no {_need_words(need.key)}; {spec.name} needs "
                f"{_article(subkind_label(need.subkind))}"
            )
    if resources is not None:
        problems += _kind_problems(what, needs, planned.holds, resources)
    problems += _stretch_problems(what, spec, planned.holds, derived, calendar, resources)
    return problems or [f"{what} does not hold what {_article(spec.name)} session holds"]


def _kind_problems(
    what: str,
    needs: Mapping[str, ResourceNeed],
    holds: Sequence[PlannedHold],
    resources: Mapping[int, ResourceInfo],
) -> list[str]:
    problems: list[str] = []
    for hold in holds:
        need = needs.get(hold.need)
        res = resources.get(hold.resource_id)
        if need is None or res is None or (res.kind, res.subkind) == (need.kind, need.subkind):
            continue
        problem = (
            f"{what} holds {res.name} as its {_need_words(need.key)}, but {res.name} is "
            f"{_article(subkind_label(res.subkind))}; the {_need_words(need.key)} must be "
            f"{_article(subkind_label(need.subkind))}"
        )
        if problem not in problems:
            problems.append(problem)
    return problems


def _stretch_problems(
    what: str,
    spec: SessionTypeSpec,
    supplied: Sequence[PlannedHold],
    derived: Sequence[PlannedHold],
    calendar: ClinicCalendar,
    resources: Mapping[int, ResourceInfo] | None,
) -> list[str]:
    """Each need whose holds (mode, stretch, units) differ from the derived ones, in words."""
    problems: list[str] = []
    for need in spec.needs:
        wanted = sorted((h for h in derived if h.need == need.key), key=_order)
        if not wanted:
            continue  # a need missing is said above
        rid = wanted[0].resource_id  # derived on the need's first resource
        # Holds on any other resource are the "both X and Y" said above.
        given = sorted(
            (h for h in supplied if h.need == need.key and h.resource_id == rid), key=_order
        )
        if given == wanted:
            continue
        if [(h.mode, h.span) for h in given] == [(h.mode, h.span) for h in wanted]:
            problems.append(
                f"{what} counts {_units_words(given)} of {_name(resources, rid)}'s capacity "
                f"for its {_need_words(need.key)}; {_article(spec.name)} session counts "
                f"{_units_words(wanted)}"
            )
            continue
        problems.append(
            f"{what} holds its {_need_words(need.key)} ({_name(resources, rid)}) "
            f"{_holds_words(given, calendar)}; {_article(spec.name)} session holds it "
            f"{_holds_words(wanted, calendar)}"
        )
    return problems


def _units_words(holds: Sequence[PlannedHold]) -> str:
    return ", then ".join(str(h.units) for h in holds)


def _order(h: PlannedHold) -> tuple[dt.datetime, dt.datetime, str]:
    return (h.span.start, h.span.end, h.mode.value)


def _holds_words(holds: Sequence[PlannedHold], calendar: ClinicCalendar) -> str:
    return ", then ".join(
        f"{_span(calendar, h.span.start, h.span.end)} {_MODE_WORDS[h.mode]}" for h in holds
    )


def _session_words(spec: SessionTypeSpec, planned: PlannedSession, calendar: ClinicCalendar) -> str:
    when = short_date_time(calendar.local(planned.start), calendar.settings.time_format)
    return f"The {spec.name} session on {when}"


def _need_words(key: str) -> str:
    return key.replace("_", " ")


def _clock(calendar: ClinicCalendar, instant: dt.datetime) -> str:
    return calendar.clock(instant)


def _span(calendar: ClinicCalendar, start: dt.datetime, end: dt.datetime) -> str:
    return clock_span(calendar.local(start), calendar.local(end), calendar.settings.time_format)


def _duration(span: dt.timedelta) -> str:
    minutes = int(span.total_seconds()) // 60
    hours, rest = divmod(minutes, 60)
    if not hours:
        return f"{rest} min"
    return f"{hours} h {rest} min" if rest else f"{hours} h"


def _article(noun: str) -> str:
    return f"{'an' if noun[:1].lower() in 'aeiou' else 'a'} {noun}"


def _name(resources: Mapping[int, ResourceInfo] | None, resource_id: int) -> str:
    res = resources.get(resource_id) if resources is not None else None
    return res.name if res is not None else f"resource #{resource_id}"
