"""``ketadesk book --session-type``: a room named with --room is the room booked, or the booking
is refused naming why and what is free; a place another workstation takes between the plan and
the booking is planned again, a bounded number of times, then refused in words.

Another workstation is played by a real booking written between this command's plan and its
booking (``propose_single`` wrapped); the database is the small clinic's, on a real file.  Days
come from the clinic's today (``--today``), so the tests mean the same on any day.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from ketadesk.cli import main
from ketadesk.services.booking import booking, replanning, single
from ketadesk.services.common.context import SYSTEM, Actor
from ketadesk.services.settings.availability import Unavailability, add_closure
from ketadesk.store.models import Appointment, Resource
from tests.clinic_fixtures import SmallClinic, build_small_clinic

OTHER_DESK = Actor(user_id=None, username="other-workstation", role="front_desk")


@pytest.fixture
def clinic(sqlite_url: str) -> Iterator[SmallClinic]:
    c = build_small_clinic(sqlite_url)
    yield c
    c.db.dispose()


def _days(clinic: SmallClinic) -> tuple[str, dt.date]:
    today = clinic.calendar.local_date(dt.datetime.now(dt.UTC))
    return today.isoformat(), clinic.open_day(today + dt.timedelta(days=3))


def _book(capsys: pytest.CaptureFixture[str], clinic: SmallClinic, *argv: str) -> tuple[int, str]:
    today, _ = _days(clinic)
    status = main(["book", "--db", str(clinic.db.url.database), "--today", today, *argv])
    out, err = capsys.readouterr()
    return status, out + err


def _appointments(clinic: SmallClinic, patient: str) -> list[tuple[dt.datetime, str]]:
    with clinic.db.read() as s:
        rows = s.execute(
            select(Appointment.starts_at, Resource.name)
            .join(Resource, Resource.id == Appointment.room_id)
            .where(Appointment.patient_id == clinic.ids[patient])
            .order_by(Appointment.starts_at)
        ).all()
    return [(clinic.calendar.local(start), room) for start, room in rows]


def test_a_named_room_taken_at_the_time_is_refused_with_its_next_free_time_and_other_rooms(
    capsys: pytest.CaptureFixture[str], clinic: SmallClinic
) -> None:
    _, day = _days(clinic)
    at = f"{day:%Y-%m-%d} 10:00"
    status, out = _book(
        capsys, clinic, "--patient", "BT-1", "--session-type", "im_ketamine", "--at", at,
        "--room", "Room 1",
    )  # fmt: skip
    assert status == 0, out
    # Mary asks for Room 1 at the same time: it is Ada's now.
    status, out = _book(
        capsys, clinic, "--patient", "BT-3", "--session-type", "im_ketamine", "--at", at,
        "--room", "Room 1",
    )  # fmt: skip
    assert status == 1, out
    when = f"{day:%a %m/%d/%Y} 10:00"
    assert f"IM ketamine not booked: IM ketamine cannot be had in Room 1 at {when}: Room 1" in out
    next_free = re.search(r"Room 1 is next free at (\w{3} \d\d/\d\d/\d{4} \d\d:\d\d)", out)
    assert next_free is not None, out
    # Ada's session runs 10:00-11:15: Room 1 is free again from then.
    assert dt.datetime.strptime(next_free[1], "%a %m/%d/%Y %H:%M") == dt.datetime.combine(
        day, dt.time(11, 15)
    )
    assert f"free at {when}: Room 2, Room 3, Room 4" in out
    assert _appointments(clinic, "Mary Seacole") == []  # not quietly put in another room


def test_next_available_with_a_named_room_never_books_another_room(
    capsys: pytest.CaptureFixture[str], clinic: SmallClinic
) -> None:
    """Room 1 is closed for the next six weeks (new recliners): asked for Room 1, "next
    available" says it has no opening and names the first one elsewhere, booking nothing."""
    today, day = _days(clinic)
    add_closure(
        clinic.db,
        SYSTEM,
        Unavailability(
            "maintenance",
            clinic.at(dt.date.fromisoformat(today), "00:00"),
            clinic.at(dt.date.fromisoformat(today) + dt.timedelta(weeks=6), "00:00"),
            "new recliners",
            resource_id=clinic.ids["Room 1"],
        ),
    )
    status, out = _book(
        capsys, clinic, "--patient", "BT-3", "--session-type", "im_ketamine", "--start",
        day.isoformat(), "--room", "Room 1",
    )  # fmt: skip
    assert status == 1, out
    assert (
        f"IM ketamine not booked: Room 1 has no opening for IM ketamine in the "
        f"{single.DEFAULT_NEXT_DAYS} days from {day:%m/%d/%Y}; the first opening in another "
        f"room: {day:%a %m/%d/%Y} "
    ) in out
    assert out.rstrip().endswith(", Room 2")
    assert _appointments(clinic, "Mary Seacole") == []
    # Without --room, "next available" takes whichever room is free.
    status, out = _book(
        capsys, clinic, "--patient", "BT-3", "--session-type", "im_ketamine", "--start",
        day.isoformat(), "--json",
    )  # fmt: skip
    assert status == 0, out
    assert json.loads(out)["room"] == "Room 2"


class _OtherWorkstation:
    """Takes each place the command plans, for another patient, before the command books it
    (``times`` times): a booking written at another workstation between plan and booking."""

    def __init__(self, clinic: SmallClinic, patients: list[str], times: int) -> None:
        self.clinic = clinic
        self.patients = patients
        self.times = times
        self.planned: list[dt.datetime] = []
        self.real = single.propose_single

    def propose(self, *args: object, **kw: object) -> single.SingleProposal:
        proposal = self.real(*args, **kw)  # type: ignore[arg-type]
        if proposal.session is not None:
            self.planned.append(proposal.session.start)
            if len(self.planned) <= self.times:
                patient = self.patients[len(self.planned) - 1]
                booking.book(
                    self.clinic.db,
                    OTHER_DESK,
                    booking.BookingRequest(
                        patient_id=self.clinic.ids[patient], sessions=(proposal.session,)
                    ),
                    now=kw["now"],  # type: ignore[arg-type]
                )
        return proposal


def test_next_available_that_loses_the_place_plans_again_and_books_the_next(
    capsys: pytest.CaptureFixture[str], clinic: SmallClinic, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, day = _days(clinic)
    other = _OtherWorkstation(clinic, ["Ada Lovelace"], times=1)
    monkeypatch.setattr(single, "propose_single", other.propose)
    status, out = _book(
        capsys, clinic, "--patient", "BT-4", "--session-type", "intake", "--start",
        day.isoformat(), "--json",
    )  # fmt: skip
    assert status == 0, out
    assert (
        "another workstation took the place planned (Dr Patel was just taken by Lovelace, A." in out
    )
    assert len(other.planned) == 2
    first, second = other.planned
    booked = json.loads(out.split("ketadesk book:")[0])
    assert dt.datetime.fromisoformat(booked["start"]) == second
    assert second != first
    assert [start for start, _ in _appointments(clinic, "Rosalind Franklin")] == [
        clinic.calendar.local(second)
    ]


def test_a_place_lost_every_time_is_given_up_after_the_bounded_number_of_plans(
    capsys: pytest.CaptureFixture[str], clinic: SmallClinic, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, day = _days(clinic)
    attempts = replanning.REPLAN_ATTEMPTS
    rivals = ["Ada Lovelace", "Mary Seacole", "Florence Nightingale", "Grace Hopper"][:attempts]
    assert len(rivals) == attempts
    other = _OtherWorkstation(clinic, rivals, times=attempts)
    monkeypatch.setattr(single, "propose_single", other.propose)
    status, out = _book(
        capsys, clinic, "--patient", "BT-4", "--session-type", "intake", "--start",
        day.isoformat(),
    )  # fmt: skip
    assert status == 1, out
    assert len(other.planned) == attempts  # planned again each time, and no more
    assert (
        f"Intake / screening consult not booked: another workstation took the place planned "
        f"each of the {attempts} times it was planned (last: Dr Patel was just taken by"
    ) in out
    assert "nothing was booked" in out
    assert _appointments(clinic, "Rosalind Franklin") == []
