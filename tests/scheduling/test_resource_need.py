"""``statuses.resource_need``: which sessions still need their resources from a moment on."""

from __future__ import annotations

import datetime as dt

import pytest

from ketadesk.scheduling.statuses import STATUSES, ResourceNeed, resource_need

START = dt.datetime(2030, 1, 7, 18, 0, tzinfo=dt.UTC)
END = START + dt.timedelta(minutes=100)
DURING = START + dt.timedelta(minutes=80)


@pytest.mark.parametrize(
    ("status", "need"),
    [
        ("booked", ResourceNeed.AHEAD),
        ("checked_in", ResourceNeed.AHEAD),
        ("tentative", ResourceNeed.AHEAD),
        ("in_progress", ResourceNeed.IN_USE),
        ("completed", ResourceNeed.NONE),
        ("cancelled", ResourceNeed.NONE),
        ("no_show", ResourceNeed.NONE),
        ("released", ResourceNeed.NONE),
    ],
)
def test_only_a_session_still_to_come_is_ahead_before_its_end(
    status: str, need: ResourceNeed
) -> None:
    assert resource_need(status, END, DURING) is need
    # Over by then: nothing, whatever its status.
    assert resource_need(status, END, END) is ResourceNeed.NONE


def test_every_status_is_judged() -> None:
    assert {resource_need(s, END, START) for s in STATUSES} == set(ResourceNeed)


def test_a_pencilled_in_hold_past_its_deadline_needs_nothing() -> None:
    deadline = START - dt.timedelta(hours=1)
    assert resource_need("tentative", END, START, hold_until=deadline) is ResourceNeed.NONE
    assert (
        resource_need("tentative", END, START, hold_until=deadline, now=deadline - dt.timedelta(1))
        is ResourceNeed.AHEAD
    )
