"""Book what was planned; when another workstation took a planned place between the plan and
the booking, plan again on what is free now and book that, a bounded number of times.

One loop for every caller that plans and then books in two steps (``ketadesk book`` of one
appointment, ``single.book_single_replanning``, and of a whole series): the plan is the
caller's, and so is the booking; what is shared is when to plan again and when to stop.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from ketadesk.scheduling.model import PlannedSession
from ketadesk.services.booking.plan_check import BookingConflict

P = TypeVar("P")
R = TypeVar("R")

#: How many plans a booking makes in all when the place it planned is taken by another
#: workstation before its booking is written: each new plan is made on what is free by then.
#: Not a clinic rule but a bound on the work: a place lost this many times in a row means the
#: schedule is changing faster than it is read, and a person should look rather than a loop.
REPLAN_ATTEMPTS = 3


class PlaceKeptBeingTaken(BookingConflict):
    """Every place planned was taken by another workstation before it could be booked."""

    def __init__(self, what: str, lost: Sequence[str], hint: str) -> None:
        self.lost = tuple(lost)
        super().__init__(
            [
                f"{what} not booked: another workstation took the place planned each of the "
                f"{len(lost)} times it was planned (last: {lost[-1]}); nothing was booked. "
                f"Try again, or {hint}"
            ]
        )


@dataclass(frozen=True)
class Replanned(Generic[P, R]):
    """What ``book_replanning`` booked: the proposal that held, the booking's result, and the
    places lost to other workstations before it (each in the booking's words)."""

    proposal: P
    result: R
    lost: tuple[str, ...] = ()


def book_replanning(
    plan: Callable[[], P],
    book: Callable[[P], R],
    *,
    sessions: Callable[[P], Sequence[PlannedSession]],
    bookable: Callable[[P, tuple[str, ...]], None],
    what: Callable[[P], str],
    hint: str,
    attempts: int = REPLAN_ATTEMPTS,
) -> Replanned[P, R]:
    """Book what ``plan`` proposes; when another workstation took a planned place first (the
    booking's ``BookingConflict``), plan again and book that, ``attempts`` plans in all, then
    raise ``PlaceKeptBeingTaken`` (``what`` the proposal is, ``hint`` what to do).

    ``bookable(proposal, lost)`` raises the caller's refusal of a plan that cannot be booked as
    it is (nothing placed, a series incomplete).  ``sessions`` are the places a proposal
    takes: a new plan that proposes the very places just refused is not a lost race but the
    booking's standing answer, raised as it is."""
    if attempts < 1:
        raise ValueError("attempts: at least one plan")
    lost: list[str] = []
    refused: tuple[list[tuple[object, ...]], BookingConflict] | None = None
    for _ in range(attempts):
        proposal = plan()
        bookable(proposal, tuple(lost))
        places = _places(sessions(proposal))
        if refused is not None and refused[0] == places:
            raise refused[1]
        try:
            result = book(proposal)
        except BookingConflict as err:
            lost.append(str(err))
            refused = (places, err)
            continue
        return Replanned(proposal, result, tuple(lost))
    raise PlaceKeptBeingTaken(what(proposal), lost, hint)


def _places(sessions: Sequence[PlannedSession]) -> list[tuple[object, ...]]:
    return [(s.start, s.end, tuple(sorted(h.resource_id for h in s.holds))) for s in sessions]
