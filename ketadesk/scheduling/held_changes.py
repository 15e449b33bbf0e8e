"""What a move changed, in words: the time, and each room, piece of equipment and staff member
the session holds, only the parts that changed ("Wed Dec 9 8:00 AM → Thu Dec 10 9:00 AM;
Monitor 3 → Monitor 5; Nurse: Kim Lee → Ana Ruiz").

A move's audit snapshots (``services/booking/appointment_changes.relocate``) keep what the
session held before and after under ``HELD_KEY``: one entry per need and resource, by id and
by its name at the time, so a resource renamed or retired later still reads as it was.  The
session's history, the desk's "moved at another workstation" and the audit viewer all say a
move with ``move_line``/``held_pairs``; a snapshot written before holds were kept (no
``HELD_KEY``) reads as it always did (``dates.moved_words``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ketadesk.scheduling.dates import clock, short_date_time

#: The key of a move's audit snapshot (and its event's before/after) that lists the holds.
HELD_KEY = "held"
#: A resource kind whose name is said with its need ("Nurse: Kim Lee"): a person's name does
#: not say what they do in the session; "Room 2" and "Monitor 5" do.
_NAMED_WITH_NEED = frozenset({"staff"})
#: What a need no resource held reads as, before or after.
NONE_HELD = "none"


@dataclass(frozen=True, slots=True)
class Held:
    """One resource a session held for one of its needs, as it was named then."""

    need: str  # the session type's need key: "room", "monitor", "nurse", ...
    kind: str  # "room", "equipment" or "staff"
    resource_id: int
    name: str

    def as_snapshot(self) -> dict[str, Any]:
        return {"need": self.need, "kind": self.kind, "id": self.resource_id, "name": self.name}


def distinct_held(held: Iterable[Held]) -> tuple[Held, ...]:
    """Each (need, resource) once, in the order first held (a nurse held exclusively for the
    dose, then shared, is one nurse)."""
    seen: set[tuple[str, int]] = set()
    out: list[Held] = []
    for h in held:
        if (h.need, h.resource_id) not in seen:
            seen.add((h.need, h.resource_id))
            out.append(h)
    return tuple(out)


def held_snapshot(held: Iterable[Held]) -> list[dict[str, Any]]:
    """The holds as a snapshot stores them (plain JSON)."""
    return [h.as_snapshot() for h in distinct_held(held)]


def held_of(snapshot: Mapping[str, Any] | None) -> tuple[Held, ...] | None:
    """The holds a snapshot recorded; None when it recorded none (an older row)."""
    if not isinstance(snapshot, Mapping):
        return None
    raw = snapshot.get(HELD_KEY)
    if not isinstance(raw, list):
        return None
    found: list[Held] = []
    for entry in raw:
        if not isinstance(entry, Mapping):
            return None
        try:
            found.append(
                Held(str(entry["need"]), str(entry["kind"]), int(entry["id"]), str(entry["name"]))
            )
        except (KeyError, TypeError, ValueError):
            return None
    return tuple(found)


def need_label(need: str) -> str:
    """A need as a person reads it: "nurse" → "Nurse", "vital_signs_monitor" → "Vital signs
    monitor"."""
    return need.replace("_", " ").capitalize()


def held_pairs(before: Sequence[Held], after: Sequence[Held]) -> list[tuple[str, str, str]]:
    """(need, before, after) for every need whose resources changed, in the order the session
    holds them (a need held before only, or after only, reads ``NONE_HELD`` on the other
    side); several resources of one need are named together ("Kim Lee & Ana Ruiz")."""
    order: list[str] = []
    names: dict[str, tuple[list[str], list[str]]] = {}
    ids: dict[str, tuple[set[int], set[int]]] = {}
    for side, held in enumerate((before, after)):
        for h in distinct_held(held):
            if h.need not in names:
                order.append(h.need)
                names[h.need] = ([], [])
                ids[h.need] = (set(), set())
            names[h.need][side].append(h.name)
            ids[h.need][side].add(h.resource_id)
    return [
        (
            need,
            " & ".join(names[need][0]) or NONE_HELD,
            " & ".join(names[need][1]) or NONE_HELD,
        )
        for need in order
        if ids[need][0] != ids[need][1]
    ]


def _kinds(held: Iterable[Held]) -> dict[str, str]:
    return {h.need: h.kind for h in held}


def held_words(before: Sequence[Held], after: Sequence[Held]) -> list[str]:
    """Each changed need in words: "Nurse: Kim Lee → Ana Ruiz" (staff, with the need),
    "Monitor 3 → Monitor 5" (a room or equipment, whose names say what they are; with the
    need when they do not: "Room: Cedar → Oak")."""
    kinds = _kinds(before) | _kinds(after)
    words = []
    for need, old, new in held_pairs(before, after):
        label = need_label(need)
        plain = kinds.get(need) not in _NAMED_WITH_NEED and all(
            name != NONE_HELD and label.lower() in name.lower() for name in (old, new)
        )
        words.append(f"{old} → {new}" if plain else f"{label}: {old} → {new}")
    return words


def time_words(old: dt.datetime, new: dt.datetime, fmt: str) -> str:
    """A session's start moved, both clinic-local: "Wed Dec 9 8:00 AM → Thu Dec 10 9:00 AM",
    the day said once when it stays ("Wed Dec 9 8:00 AM → 10:00 AM"); "" when unchanged."""
    if old == new:
        return ""
    if old.date() == new.date():
        return f"{short_date_time(old, fmt)} → {clock(new, fmt)}"
    return f"{short_date_time(old, fmt)} → {short_date_time(new, fmt)}"


def move_line(
    old: dt.datetime, new: dt.datetime, before: Sequence[Held], after: Sequence[Held], fmt: str
) -> str:
    """A move as the session's history says it, only what changed: "moved Wed Dec 9 8:00 AM →
    Thu Dec 10 9:00 AM; Room 1 → Room 3", "changed Nurse: Kim Lee → Ana Ruiz" (same time);
    "moved, nothing changed" when it kept everything."""
    parts = [p for p in (time_words(old, new, fmt), *held_words(before, after)) if p]
    verb = "moved" if old != new else "changed"
    if not parts:
        return "moved, nothing changed"
    return f"{verb} {'; '.join(parts)}"
