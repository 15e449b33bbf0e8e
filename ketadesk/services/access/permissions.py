"""Refusing an action a role may not take, and recording the refusal in the audit trail.

The table of who may do what is ``PERMISSIONS`` in ``services/common/context.py``; this module
enforces it, apart from ``context`` because a refusal is written through ``access/audit.py``.
"""

from __future__ import annotations

import datetime as dt

from ketadesk.scheduling.words import a_or_an, role_name
from ketadesk.services.access import audit
from ketadesk.services.common.context import (
    PERMISSIONS,
    Actor,
    Database,
    PermissionDenied,
    action_words,
    who_may,
)


def require(
    actor: Actor,
    action: str,
    db: Database | None = None,
    *,
    now: dt.datetime | None = None,
    doing: str = "",
) -> None:
    """Refuse ``actor`` an ``action`` its role may not take, in words that say who may
    ("Only a nurse or prescriber may move these sessions against the protocol's spacing":
    ``doing``, what the action is for here, else the action's own words, ``who_may``).

    With ``db``, a refusal is first recorded in the audit trail in its own short transaction
    (so call it before opening the service's own write transaction; inside one, catch the
    PermissionDenied after that transaction has ended and pass it to ``audit.record_refusal``).
    """
    allowed = PERMISSIONS.get(action)
    if allowed is not None and actor.role not in allowed:
        err = PermissionDenied(
            who_may(action, doing),
            actor=actor,
            action=action,
        )
        if db is not None:
            audit.record_refusal(db, err, now=now)
        raise err


#: Roles that may take a status action (start, complete, ...) only on a session they are
#: assigned to, as one of the staff it holds: a therapist starts and completes their sessions.
OWN_SESSIONS_ONLY = frozenset({"therapist"})


def unassigned_refusal(
    actor: Actor, action: str, appointment_id: int, assigned_staff: set[int], staff_id: int | None
) -> PermissionDenied | None:
    """The refusal for ``actor`` taking ``action`` on an appointment that holds
    ``assigned_staff`` (staff resource ids), when its role acts only on its own sessions and
    ``staff_id`` (the user's staff member) is not among them; None when it may."""
    if actor.role not in OWN_SESSIONS_ONLY or (staff_id is not None and staff_id in assigned_staff):
        return None
    what = action_words(action).removesuffix(" a session")
    return PermissionDenied(
        f"{a_or_an(role_name(actor.role)).capitalize()} may {what} only their own sessions, "
        f"and this session is not assigned to {actor.username}",
        actor=actor,
        action=action,
    )
