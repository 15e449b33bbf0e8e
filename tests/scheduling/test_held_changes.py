"""A move in words, only what changed: the time (the day said once when it stays) and each
need whose resources changed, staff with their need ("Nurse: Kim → Lee"), rooms and equipment
by their names ("Monitor 3 → Monitor 5"); a snapshot without its holds reads as none."""

from __future__ import annotations

import datetime as dt

from ketadesk.scheduling.held_changes import (
    HELD_KEY,
    Held,
    held_of,
    held_pairs,
    held_snapshot,
    move_line,
)
from ketadesk.scheduling.move_calls import Gone, gone_words

ROOM_1 = Held("room", "room", 1, "Room 1")
ROOM_3 = Held("room", "room", 3, "Room 3")
CEDAR = Held("room", "room", 7, "Cedar")
MONITOR_3 = Held("monitor", "equipment", 13, "Monitor 3")
MONITOR_5 = Held("monitor", "equipment", 15, "Monitor 5")
KIM = Held("nurse", "staff", 21, "Kim")
LEE = Held("nurse", "staff", 22, "Lee")
WED_8 = dt.datetime(2026, 12, 9, 8, 0)
WED_10 = dt.datetime(2026, 12, 9, 10, 0)
THU_9 = dt.datetime(2026, 12, 10, 9, 0)


def test_only_what_changed_is_said() -> None:
    before = (ROOM_1, MONITOR_3, KIM, KIM)  # the nurse held twice (exclusive, then shared)
    assert move_line(WED_8, WED_8, before, (ROOM_1, MONITOR_3, LEE), "12h") == (
        "changed Nurse: Kim → Lee"
    )
    assert move_line(WED_8, THU_9, before, (ROOM_1, MONITOR_5, KIM), "12h") == (
        "moved Wed Dec 9 8:00 AM → Thu Dec 10 9:00 AM; Monitor 3 → Monitor 5"
    )
    assert move_line(WED_8, WED_10, before, (ROOM_3, MONITOR_3, KIM), "24h") == (
        "moved Wed Dec 9 08:00 → 10:00; Room 1 → Room 3"
    )
    assert move_line(WED_8, WED_8, before, before, "12h") == "moved, nothing changed"


def test_a_name_that_does_not_say_what_it_is_is_said_with_its_need() -> None:
    assert move_line(WED_8, WED_8, (ROOM_1,), (CEDAR,), "12h") == "changed Room: Room 1 → Cedar"
    assert held_pairs((ROOM_1, KIM), (ROOM_1,)) == [("nurse", "Kim", "none")]
    assert move_line(WED_8, WED_8, (KIM,), (ROOM_1, KIM), "12h") == "changed Room: none → Room 1"


def test_a_snapshot_keeps_the_holds_and_an_older_one_has_none() -> None:
    stored = {"status": "booked", HELD_KEY: held_snapshot((ROOM_1, KIM, KIM))}
    assert stored[HELD_KEY] == [
        {"need": "room", "kind": "room", "id": 1, "name": "Room 1"},
        {"need": "nurse", "kind": "staff", "id": 21, "name": "Kim"},
    ]
    assert held_of(stored) == (ROOM_1, KIM)
    assert held_of({"status": "booked", "room_id": 1}) is None
    assert held_of({HELD_KEY: [{"need": "room"}]}) is None


def test_a_call_closed_by_a_cancellation_says_why() -> None:
    assert gone_words(
        [Gone("IV ketamine infusion (session 2)", "cancelled", "flu"), Gone("KAP", "no_show")]
    ) == ("No longer owed: IV ketamine infusion (session 2) cancelled (flu); KAP missed (no-show)")
