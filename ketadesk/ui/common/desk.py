"""What a view needs to act for the user: the open clinic, who is signed in, and the clock.

Views and dialogs that read or write beyond the day schedule take a ``Desk``.  They call the
services with ``desk.db`` and ``desk.actor``; they never build SQL themselves.  ``now`` is
injected so tests can move time (the chair board after 40 minutes, a follow-up going overdue).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from ketadesk.services.common.context import Actor, Database, utcnow


@dataclass
class Desk:
    """The open clinic as the window's views see it.

    Attributes:
        db: the open clinic database.
        actor: the signed-in user every service call acts for.
        now: the wall clock (aware, UTC); tests pass a fixed or advancing clock.
    """

    db: Database
    actor: Actor
    now: Callable[[], dt.datetime] = field(default=utcnow)
