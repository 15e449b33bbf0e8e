"""``ketadesk book --protocol``: a place another workstation takes between the series' plan and
its booking is planned again on what is free then and the series booked, as one appointment's
booking does (one loop, ``services/booking/replanning``); after a bounded number of plans lost
in a row it stops, booking nothing.

Another workstation is played by a real booking, written to the same clinic file between this
command's plan and its booking (``planning.propose_series`` wrapped): another patient's
infusion in one of the places the command planned.  Days come from the clinic's today
(``--today``), so the tests mean the same on any day.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from ketadesk.cli import main
from ketadesk.services.booking import booking, planning, replanning
from ketadesk.services.common.context import Actor
from ketadesk.store.models import Appointment
from tests.clinic_fixtures import SmallClinic, build_small_clinic, extend_authorizations

OTHER_DESK = Actor(user_id=None, username="other-workstation", role="front_desk")
RIVALS = ["Ada Lovelace", "Mary Seacole", "Florence Nightingale"]


@pytest.fixture
def clinic(sqlite_url: str) -> Iterator[SmallClinic]:
    c = build_small_clinic(sqlite_url)
    today = c.calendar.local_date(dt.datetime.now(dt.UTC))
    extend_authorizations(c, today + dt.timedelta(days=800))
    yield c
    c.db.dispose()


def _today(clinic: SmallClinic) -> dt.date:
    return clinic.calendar.local_date(dt.datetime.now(dt.UTC))


def _monday(clinic: SmallClinic) -> dt.date:
    """A Monday a week or more ahead."""
    today = _today(clinic)
    return today + dt.timedelta(days=7 + (7 - today.weekday()) % 7)


def _book(capsys: pytest.CaptureFixture[str], clinic: SmallClinic, *argv: str) -> tuple[int, str]:
    status = main(
        ["book", "--db", str(clinic.db.url.database), "--today", _today(clinic).isoformat(), *argv]
    )
    out, err = capsys.readouterr()
    return status, out + err


def _series(capsys: pytest.CaptureFixture[str], clinic: SmallClinic) -> tuple[int, str]:
    return _book(
        capsys, clinic, "--patient", "BT-4", "--protocol", "iv_induction", "--start",
        _monday(clinic).isoformat(), "--weekdays", "mon,wed,fri", "--time", "10:00", "--json",
    )  # fmt: skip


class _OtherWorkstation:
    """After each of the command's first ``times`` plans, books another patient's infusion into
    the place the plan gave the series' second session, before the command books."""

    def __init__(self, clinic: SmallClinic, times: int) -> None:
        self.clinic = clinic
        self.times = times
        self.plans: list[planning.SeriesProposal] = []
        self.taken: list[tuple[dt.datetime, int | None]] = []  # (start, room) of each
        self.real = planning.propose_series

    def propose(self, *args: object, **kw: object) -> planning.SeriesProposal:
        proposal = self.real(*args, **kw)  # type: ignore[arg-type]
        self.plans.append(proposal)
        if len(self.plans) <= self.times and proposal.plan.complete:
            second = proposal.sessions[1]
            rival = self.clinic.ids[RIVALS[len(self.plans) - 1]]
            booking.book(
                self.clinic.db,
                OTHER_DESK,
                booking.BookingRequest(patient_id=rival, sessions=(second,)),
            )
            self.taken.append((second.start, second.resource_for("room")))
        return proposal


def _rosalind(clinic: SmallClinic) -> list[tuple[dt.datetime, dt.datetime]]:
    with clinic.db.read() as s:
        rows = s.execute(
            select(Appointment.starts_at, Appointment.ends_at)
            .where(Appointment.patient_id == clinic.ids["Rosalind Franklin"])
            .order_by(Appointment.starts_at)
        ).all()
    return [(a, b) for a, b in rows]


def test_a_series_that_loses_a_place_plans_again_and_books_what_is_free(
    capsys: pytest.CaptureFixture[str], clinic: SmallClinic, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = _OtherWorkstation(clinic, times=1)
    monkeypatch.setattr(planning, "propose_series", other.propose)
    status, out = _series(capsys, clinic)
    assert status == 0, out
    assert len(other.plans) == 2  # planned again once, after the place was lost
    assert "another workstation took the place planned (" in out
    assert "was just taken by" in out
    booked = json.loads(out.split("ketadesk book:")[0])
    assert len(booked["appointment_ids"]) == 6
    sessions = _rosalind(clinic)
    assert len(sessions) == 6
    # The booked series is the second plan, which leaves the place taken meanwhile alone.
    again = other.plans[1].sessions
    assert [s for s, _ in sessions] == [s.start for s in again]
    assert (again[1].start, again[1].resource_for("room")) != other.taken[0]


def test_a_series_whose_place_is_lost_every_time_is_given_up_booking_nothing(
    capsys: pytest.CaptureFixture[str], clinic: SmallClinic, monkeypatch: pytest.MonkeyPatch
) -> None:
    attempts = replanning.REPLAN_ATTEMPTS
    assert len(RIVALS) >= attempts
    other = _OtherWorkstation(clinic, times=attempts)
    monkeypatch.setattr(planning, "propose_series", other.propose)
    status, out = _series(capsys, clinic)
    assert status == 1, out
    assert len(other.plans) == attempts  # planned again each time, and no more
    assert (
        f"the iv_induction series not booked: another workstation took the place planned "
        f"each of the {attempts} times it was planned (last: "
    ) in out
    assert "nothing was booked" in out
    assert _rosalind(clinic) == []
