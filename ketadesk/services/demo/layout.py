"""The demo clinic's rooms, equipment, staff, weekly shifts and users, as rows to insert and as
the scheduling engine sees them.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

from ketadesk.config import Catalog
from ketadesk.scheduling.calendar import ShiftPattern
from ketadesk.scheduling.catalog import WEEKDAYS, ResourceKind
from ketadesk.scheduling.model import ResourceInfo
from ketadesk.services.demo import people
from ketadesk.services.demo.facts import (
    FRONT_DESK_SHIFT_MINUTES,
    NURSE_SETUP_MINUTES,
    PRESCRIBER_DAY_OFF,
    ROLE_USERNAMES,
    THERAPIST_HOURS,
)
from ketadesk.services.demo.planned import Row


@dataclass
class Layout:
    """The clinic's resources, as rows to insert and as the planner sees them."""

    resource_rows: list[Row] = field(default_factory=list)
    staff_rows: list[Row] = field(default_factory=list)
    shift_rows: list[Row] = field(default_factory=list)
    user_rows: list[Row] = field(default_factory=list)
    by_subkind: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    names: dict[int, str] = field(default_factory=dict)
    capacity: dict[int, int] = field(default_factory=dict)
    role: dict[int, str] = field(default_factory=dict)  # staff only
    shifts: dict[int, dict[int, tuple[int, int]]] = field(default_factory=dict)
    room_monitor: dict[int, int] = field(default_factory=dict)
    room_oximeter: dict[int, int] = field(default_factory=dict)
    room_nurse: dict[int, int] = field(default_factory=dict)
    user_of: dict[int, int] = field(default_factory=dict)  # staff resource -> user
    admin_user: int = 0

    def of(self, kind: ResourceKind, subkind: str) -> list[int]:
        return self.by_subkind.get((kind.value, subkind), [])

    @property
    def rooms(self) -> list[int]:
        return self.of(ResourceKind.ROOM, "treatment")

    @property
    def offices(self) -> list[int]:
        return self.of(ResourceKind.ROOM, "office")

    def staff(self, role: str) -> list[int]:
        return self.of(ResourceKind.STAFF, role)

    def users_of_role(self, role: str) -> list[int]:
        return [self.user_of[s] for s in self.staff(role) if s in self.user_of]

    def resource_infos(self) -> list[ResourceInfo]:
        return [
            ResourceInfo(
                id=r["id"],
                kind=ResourceKind(r["kind"]),
                subkind=r["subkind"],
                name=r["name"],
                capacity=r["capacity"],
                active=r["active"],
                sort_order=r["sort_order"],
            )
            for r in self.resource_rows
        ]

    def shift_patterns(self) -> list[ShiftPattern]:
        return [
            ShiftPattern(resource_id=rid, weekday=wd, start_minute=s, end_minute=e)
            for rid, days in self.shifts.items()
            for wd, (s, e) in days.items()
        ]


def _resource_counts(rooms: int, nurse_capacity: int) -> dict[str, int]:
    """How much of everything a clinic of ``rooms`` treatment rooms has (6 rooms: the brief's
    2 offices, 6 monitors, 4 oximeters, 3 nurses, 2 prescribers, 2 therapists, 2 front desk)."""
    # A nurse takes one room fewer than her ratio allows, keeping a place for an overrun.
    rooms_per_nurse = max(1, nurse_capacity - 1)
    oximeters = max(1, round(rooms * 2 / 3))
    return {
        "offices": max(2, round(rooms / 3)),
        "monitors": rooms,
        "oximeters": oximeters,
        "rooms_per_nurse": rooms_per_nurse,
        "nurse": math.ceil(rooms / rooms_per_nurse),
        "prescriber": max(2, math.ceil(rooms / 4)),
        "therapist": max(2, rooms - oximeters),
        "front_desk": max(2, math.ceil(rooms / 5)),
    }


def _staff_person(role: str, index: int) -> people.StaffPerson:
    known = people.STAFF[role]
    if index < len(known):
        return known[index]
    first = people.FIRST_NAMES[(index * 37 + len(role)) % len(people.FIRST_NAMES)]
    last = people.LAST_NAMES[(index * 53 + 11 * len(role)) % len(people.LAST_NAMES)]
    return people.StaffPerson(first, last, known[0].credentials)


def ascii_name(text_: str) -> str:
    return "".join(ch for ch in text_.lower() if ch.isascii() and ch.isalnum())


def build_layout(
    catalog: Catalog, rooms: int, first_resource_id: int, first_user_id: int, since: dt.datetime
) -> Layout:
    settings = catalog.settings
    counts = _resource_counts(rooms, settings.capacity_for_role("nurse"))
    layout = Layout()
    next_id = first_resource_id
    order = 0

    def add(kind: ResourceKind, subkind: str, name: str, short: str, capacity: int = 1) -> int:
        nonlocal next_id, order
        rid = next_id
        next_id += 1
        order += 1
        layout.resource_rows.append(
            {
                "id": rid,
                "kind": kind.value,
                "subkind": subkind,
                "name": name,
                "short_name": short,
                "capacity": capacity,
                "active": True,
                "sort_order": order,
                "notes": "",
                "serves": [],  # the demo keeps no room for some session types only
            }
        )
        layout.by_subkind.setdefault((kind.value, subkind), []).append(rid)
        layout.names[rid] = name
        layout.capacity[rid] = capacity
        return rid

    room_ids = [
        add(ResourceKind.ROOM, "treatment", f"Room {i}", f"R{i}") for i in range(1, rooms + 1)
    ]
    for i in range(counts["offices"]):
        letter = chr(ord("A") + i) if i < 26 else str(i + 1)
        add(ResourceKind.ROOM, "office", f"Office {letter}", f"O{letter}")
    monitors = [
        add(ResourceKind.EQUIPMENT, "vital_signs_monitor", f"Monitor {i}", f"M{i}")
        for i in range(1, counts["monitors"] + 1)
    ]
    oximeters = [
        add(ResourceKind.EQUIPMENT, "pulse_oximeter", f"Pulse oximeter {i}", f"OX{i}")
        for i in range(1, counts["oximeters"] + 1)
    ]
    for role in ("nurse", "prescriber", "therapist", "front_desk"):
        for i in range(counts[role]):
            person = _staff_person(role, i)
            name = f"{person.first} {person.last}"
            if person.credentials:
                name += f", {person.credentials}"
            while name in layout.names.values():
                name += " (2)"
            rid = add(
                ResourceKind.STAFF,
                role,
                name,
                (person.first[0] + person.last[:3]).upper(),
                settings.capacity_for_role(role),
            )
            layout.role[rid] = role
            domain = "harborketamine.example"
            layout.staff_rows.append(
                {
                    "resource_id": rid,
                    "role": role,
                    "first_name": person.first,
                    "last_name": person.last,
                    "credentials": person.credentials,
                    "phone": f"(619) 555-01{(40 + len(layout.staff_rows)) % 100:02d}",
                    "email": f"{ascii_name(person.first)}.{ascii_name(person.last)}@{domain}",
                }
            )
    for index, room in enumerate(room_ids):
        layout.room_monitor[room] = monitors[index]
        if index < len(oximeters):
            layout.room_oximeter[room] = oximeters[index]
        layout.room_nurse[room] = layout.staff("nurse")[index // counts["rooms_per_nurse"]]
    _plan_shifts(layout, catalog)
    _plan_users(layout, first_user_id, since)
    return layout


def open_minutes(catalog: Catalog, weekday: int) -> tuple[int, int] | None:
    hours = catalog.settings.hours.get(WEEKDAYS[weekday])
    if hours is None:
        return None
    opens, closes = hours
    return opens.hour * 60 + opens.minute, closes.hour * 60 + closes.minute


def _plan_shifts(layout: Layout, catalog: Catalog) -> None:
    """Nurses cover the whole opening day; prescribers and therapists work four days a week,
    staggered so that every open day has both; the front desk splits early and late."""
    for weekday in range(7):
        hours = open_minutes(catalog, weekday)
        if hours is None:
            continue
        opens, closes = hours
        day_shifts: dict[int, tuple[int, int]] = {}
        for rid in layout.staff("nurse"):
            day_shifts[rid] = (max(0, opens - NURSE_SETUP_MINUTES), closes)
        for k, rid in enumerate(layout.staff("prescriber")):
            if weekday != PRESCRIBER_DAY_OFF[k % len(PRESCRIBER_DAY_OFF)]:
                day_shifts[rid] = (opens, closes)
        for k, rid in enumerate(layout.staff("therapist")):
            if weekday != (0 if k % 2 == 0 else 4):
                start, end = max(opens, THERAPIST_HOURS[0]), min(closes, THERAPIST_HOURS[1])
                if start < end:
                    day_shifts[rid] = (start, end)
        for k, rid in enumerate(layout.staff("front_desk")):
            if k % 2 == 0:
                start = max(0, opens - 2 * NURSE_SETUP_MINUTES)
                day_shifts[rid] = (start, min(24 * 60, start + FRONT_DESK_SHIFT_MINUTES))
            else:
                end = min(24 * 60, closes + NURSE_SETUP_MINUTES)
                day_shifts[rid] = (max(0, end - FRONT_DESK_SHIFT_MINUTES), end)
        for rid, (start, end) in day_shifts.items():
            layout.shifts.setdefault(rid, {})[weekday] = (start, end)
    shift_id = 0
    for rid in sorted(layout.shifts):
        for weekday, (start, end) in sorted(layout.shifts[rid].items()):
            shift_id += 1
            layout.shift_rows.append(
                {
                    "id": shift_id,
                    "resource_id": rid,
                    "weekday": weekday,
                    "start_minute": start,
                    "end_minute": end,
                    "valid_from": None,
                    "valid_until": None,
                    "every_n_weeks": 1,
                    "anchor_date": None,
                }
            )


def _plan_users(layout: Layout, first_id: int, since: dt.datetime) -> None:
    """An administrator, and one login per staff member (the first of each role gets the
    role's short name: "nurse", "frontdesk", ...)."""
    next_id = first_id

    def add(username: str, display: str, role: str, staff_id: int | None) -> int:
        nonlocal next_id
        uid = next_id
        next_id += 1
        layout.user_rows.append(
            {
                "id": uid,
                "username": username,
                "display_name": display,
                "role": role,
                "password_hash": "",
                "staff_id": staff_id,
                "active": True,
                "failed_attempts": 0,
                "last_failed_at": None,
                "created_at": since,
            }
        )
        return uid

    layout.admin_user = add("admin", "Clinic Administrator", "admin", None)
    taken = {"admin"}
    staff = {row["resource_id"]: row for row in layout.staff_rows}
    for role, short in ROLE_USERNAMES.items():
        for k, rid in enumerate(layout.staff(role)):
            row = staff[rid]
            username = short if k == 0 else ascii_name(row["first_name"][0] + row["last_name"])
            while username in taken:
                username += "2"
            taken.add(username)
            layout.user_of[rid] = add(username, layout.names[rid], role, rid)
