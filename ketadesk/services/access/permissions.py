"""Refusing an action a role may not take, and recording the refusal in the audit trail.

The table of who may do what is ``PERMISSIONS`` in ``services/common/context.py``; this module
enforces it, apart from ``context`` because a refusal is written through ``access/audit.py``.
"""

from __future__ import annotations

import datetime as dt

from ketadesk.services.access import audit
from ketadesk.services.common.context import PERMISSIONS, Actor, Database, PermissionDenied


def require(
    actor: Actor, action: str, db: Database | None = None, *, now: dt.datetime | None = None
) -> None:
    """Refuse ``actor`` an ``action`` its role may not take.

    With ``db``, a refusal is first recorded in the audit trail in its own short transaction
    (so call it before opening the service's own write transaction; inside one, catch the
    PermissionDenied after that transaction has ended and pass it to ``audit.record_refusal``).
    """
    allowed = PERMISSIONS.get(action)
    if allowed is not None and actor.role not in allowed:
        err = PermissionDenied(
            f"{actor.username} ({actor.role.replace('_', ' ')}) may not {action.replace('_', ' ')}",
            actor=actor,
            action=action,
        )
        if db is not None:
            audit.record_refusal(db, err, now=now)
        raise err
