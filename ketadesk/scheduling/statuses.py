"""The life of an appointment: its statuses, the actions that move it from one to the next, and
the sets of statuses the rest of the clinic asks about, each written once, here.

Pure data (the scheduling layer), so the store, the services, the demo and the views all read
the same sets.
"""

from __future__ import annotations

import datetime as dt
from enum import Enum

__all__ = [
    "ACTION_OF_STATUS",
    "AFTER_SESSION_STATUSES",
    "ATTENDED_STATUSES",
    "BEFORE_SESSION_STATUSES",
    "CONFIRM_TENTATIVE",
    "MOVABLE_STATUSES",
    "NOT_HELD_STATUSES",
    "PRIOR_AUTH_SPENDING_STATUSES",
    "RELEASED_STATUSES",
    "REPLANNED_STATUSES",
    "STATUSES",
    "STATUS_OF_ACTION",
    "TENTATIVE_STATUSES",
    "TRANSITIONS",
    "UNDER_WAY_STATUSES",
    "ResourceNeed",
    "resource_need",
]

# Every status an appointment can have, in the order of a session's life.
# "tentative" is a hold pencilled in for a patient whose screening or consent is pending: it holds
# its resources until its deadline (``Appointment.hold_until``), then is "released" (lazily, by
# the next booking, read or ``ketadesk check``), unless confirmed into "booked" first.
STATUSES = (
    "tentative",
    "booked",
    "checked_in",
    "in_progress",
    "completed",
    "cancelled",
    "no_show",
    "released",
)

# action -> (statuses it may start from, status it leads to)
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "check_in": (frozenset({"booked"}), "checked_in"),
    "start": (frozenset({"booked", "checked_in"}), "in_progress"),
    "complete": (frozenset({"checked_in", "in_progress"}), "completed"),
    "no_show": (frozenset({"booked"}), "no_show"),
    "cancel": (frozenset({"tentative", "booked", "checked_in"}), "cancelled"),
}
# A tentative hold is confirmed (into "booked") or released by services/booking/tentative.py,
# which re-checks the gates; they are not plain status changes, so not in TRANSITIONS.
CONFIRM_TENTATIVE = "confirm"
# The status each action leads to, and the action that leads to each status (one per status),
# so an event or an undo can be named by either.
STATUS_OF_ACTION = {action: target for action, (_, target) in TRANSITIONS.items()}
ACTION_OF_STATUS = {target: action for action, target in STATUS_OF_ACTION.items()}

# An appointment in one of these no longer holds anything: its holds are kept, inactive.
RELEASED_STATUSES = frozenset({"cancelled", "no_show", "released"})
# Pencilled in, not yet booked: holds its resources but owes no follow-ups and is not a visit.
TENTATIVE_STATUSES = frozenset({"tentative"})
# An appointment in one of these has not happened yet: it may still be moved or re-flowed.
MOVABLE_STATUSES = frozenset({"booked", "checked_in"})
# A closure, time off or an out-of-service window re-plans these onto what is still free: a
# pencilled-in hold too, which keeps its status and deadline (it holds what it holds until then).
REPLANNED_STATUSES = MOVABLE_STATUSES | TENTATIVE_STATUSES
# The patient came: the session is under way or done (a booked one is still to come).
ATTENDED_STATUSES = frozenset({"checked_in", "in_progress", "completed"})
# A prior-authorized session in one of these spends units of the patient's prior authorization
# (``scheduling.gating.prior_auth_spends``): booked ahead, or given already.  A tentative hold,
# a cancelled, missed or released session spends none.
PRIOR_AUTH_SPENDING_STATUSES = MOVABLE_STATUSES | frozenset({"in_progress", "completed"})

# Appointment statuses that still owe a "before the session" follow-up (a PHQ-9 at check-in):
# anything but a cancelled or missed session.
BEFORE_SESSION_STATUSES = frozenset(STATUSES) - RELEASED_STATUSES - TENTATIVE_STATUSES
# Only a session that took place owes what comes after it.
AFTER_SESSION_STATUSES = frozenset({"completed"})
# A session in one of these did not take place and never will (it may be made up): the
# released ones, seen from the protocol's side.
NOT_HELD_STATUSES = RELEASED_STATUSES

# A session in one of these is under way: it uses its resources now, so a resource going out of
# service while it runs is named as in use rather than re-planned (the patient is in the chair).
UNDER_WAY_STATUSES = frozenset({"in_progress"})


class ResourceNeed(Enum):
    """What a session still asks of its resources from a given moment on."""

    AHEAD = "ahead"  # still to come: it will need them, so it blocks a retire and is re-planned
    IN_USE = "in use"  # under way: it is using them now; said so, never re-planned
    NONE = "none"  # over, attended, missed, cancelled or released: it needs nothing more


def resource_need(
    status: str,
    ends_at: dt.datetime,
    since: dt.datetime,
    *,
    hold_until: dt.datetime | None = None,
    now: dt.datetime | None = None,
) -> ResourceNeed:
    """Whether a session ending at ``ends_at`` still needs its resources from ``since`` on: the
    one rule for a resource's "booked ahead" count, the refusal to retire it and the sessions an
    out-of-service window, a closure or time off breaks (``since``: its start, or ``now`` when
    it began already).  A completed, missed or cancelled session needs nothing even if its
    planned end is later; a pencilled-in hold past its deadline at ``now`` (``since`` unless
    given) neither: it is released lazily."""
    if ends_at <= since:
        return ResourceNeed.NONE
    if status in UNDER_WAY_STATUSES:
        return ResourceNeed.IN_USE
    if status not in REPLANNED_STATUSES:
        return ResourceNeed.NONE
    if status in TENTATIVE_STATUSES and hold_until is not None and hold_until <= (now or since):
        return ResourceNeed.NONE
    return ResourceNeed.AHEAD
