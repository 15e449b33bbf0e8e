"""Who is acting, what they may do, and the errors services report.

Every service call takes an ``Actor``; permissions are checked here, in the services, so a role
the UI forgot to hide is still refused.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

ROLES = ("admin", "prescriber", "nurse", "therapist", "front_desk")


@dataclass(frozen=True, slots=True)
class Actor:
    """The signed-in user a service acts for."""

    user_id: int | None
    username: str
    role: str


# Command-line tools and the demo builder act as the system administrator.
SYSTEM = Actor(user_id=None, username="system", role="admin")

# What each role may do.  Actions not listed are open to every signed-in user.
PERMISSIONS: dict[str, frozenset[str]] = {
    "book": frozenset({"admin", "front_desk", "nurse", "prescriber"}),
    "move": frozenset({"admin", "front_desk", "nurse", "prescriber"}),
    "cancel": frozenset({"admin", "front_desk", "nurse", "prescriber"}),
    "check_in": frozenset({"admin", "front_desk", "nurse", "prescriber"}),
    "no_show": frozenset({"admin", "front_desk", "nurse", "prescriber"}),
    "start": frozenset({"admin", "nurse", "prescriber", "therapist"}),
    "complete": frozenset({"admin", "nurse", "prescriber", "therapist"}),
    "override_gate": frozenset({"nurse", "prescriber"}),
}


class ServiceError(Exception):
    """A refusal or failure worth showing to the user as it is."""


class PermissionDenied(ServiceError):
    pass


class NotFound(ServiceError):
    pass


class InvalidRequest(ServiceError):
    pass


def require(actor: Actor, action: str) -> None:
    allowed = PERMISSIONS.get(action)
    if allowed is not None and actor.role not in allowed:
        raise PermissionDenied(
            f"{actor.username} ({actor.role.replace('_', ' ')}) may not {action.replace('_', ' ')}"
        )


def utcnow() -> dt.datetime:
    """The wall clock, read only at the service boundary; logic below takes ``now`` as input."""
    return dt.datetime.now(dt.UTC)
