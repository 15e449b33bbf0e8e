"""Property: whatever sequence of book, move, cancel, no-show and undo the desk throws at the
services, the database never holds an overlap, an overfilled resource, or a session outside the
clinic's hours and shifts."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ketadesk.services.booking import appointment_changes, booking
from ketadesk.services.booking.booking import BookingRequest
from ketadesk.services.common.context import SYSTEM, ServiceError
from tests.clinic_fixtures import build_small_clinic

NOW = dt.datetime(2026, 12, 1, 16, 0, tzinfo=dt.UTC)
DAYS = [dt.date(2026, 12, 2), dt.date(2026, 12, 3), dt.date(2026, 12, 5)]  # Sat 5 Dec is closed
TIMES = [f"{h:02d}:{m:02d}" for h in range(6, 18) for m in (0, 20, 40)]
TYPES = {
    "iv_infusion": ("room", "monitor", "nurse"),
    "spravato": ("room", "monitor", "oximeter", "nurse", "prescriber"),
    "integration": ("therapist", "office"),
}
POOL = {
    "room": ["Room 1", "Room 2", "Room 3"],
    "monitor": ["Monitor 1", "Monitor 2"],
    "oximeter": ["Oximeter 1"],
    "nurse": ["Nurse Kim"],
    "prescriber": ["Dr Patel"],
    "therapist": ["Sam Rivera"],
    "office": ["Office A"],
}


@st.composite
def plans(draw: st.DrawFn) -> tuple[str, dt.date, str, dict[str, str], str]:
    kind = draw(st.sampled_from(sorted(TYPES)))
    assignment = {need: draw(st.sampled_from(POOL[need])) for need in TYPES[kind]}
    day, hhmm = draw(st.sampled_from(DAYS)), draw(st.sampled_from(TIMES))
    return kind, day, hhmm, assignment, draw(st.sampled_from(PEOPLE))


PEOPLE = ["Ada Lovelace", "Mary Seacole", "Rosalind Franklin", "Grace Hopper"]
operations = st.lists(
    st.one_of(
        st.tuples(st.just("book"), plans()),
        st.tuples(st.just("move"), st.integers(0, 20), plans()),
        st.tuples(st.sampled_from(["cancel", "no_show", "check_in", "undo"]), st.integers(0, 20)),
    ),
    min_size=5,
    max_size=25,
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(ops=operations)
def test_random_desk_work_never_breaks_the_calendar(ops: list[Any]) -> None:
    from ketadesk.services.clinic.integrity import find_problems

    with tempfile.TemporaryDirectory() as tmp:
        clinic = build_small_clinic(f"sqlite:///{Path(tmp) / 'clinic.sqlite'}")
        booked: list[int] = []
        try:
            for op in ops:
                try:
                    if op[0] == "book":
                        kind, day, hhmm, assign, who = op[1]
                        plan = clinic.session(kind, day, hhmm, assign)
                        result = booking.book(
                            clinic.db,
                            SYSTEM,
                            BookingRequest(patient_id=clinic.ids[who], sessions=(plan,)),
                            now=NOW,
                        )
                        booked.extend(result.appointment_ids)
                    elif not booked:
                        continue
                    elif op[0] == "move":
                        target = booked[op[1] % len(booked)]
                        kind, day, hhmm, assign, _ = op[2]
                        appointment_changes.move(
                            clinic.db,
                            SYSTEM,
                            target,
                            clinic.session(kind, day, hhmm, assign),
                            now=NOW,
                        )
                    elif op[0] == "undo":
                        appointment_changes.undo_status(
                            clinic.db,
                            SYSTEM,
                            booked[op[1] % len(booked)],
                            now=NOW,
                        )
                    else:
                        appointment_changes.change_status(
                            clinic.db,
                            SYSTEM,
                            booked[op[1] % len(booked)],
                            str(op[0]),
                            reason="test",
                            now=NOW,
                        )
                except ServiceError:
                    pass  # a refusal is a fine answer; a broken calendar is not
            assert find_problems(clinic.db) == []
        finally:
            clinic.db.dispose()
