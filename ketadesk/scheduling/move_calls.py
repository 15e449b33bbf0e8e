"""Whether a session moved at the desk owes the patient a schedule-change call: pure rules.

A closure's re-plan has always owed one call per patient (``services/settings/consequences``);
a move made by hand (a drag on the day view, Move…, a series move, a nurse's move) is the same
news for the patient, who otherwise comes at the old time.  What decides it:

- the patient knows: the move was made while they were on the phone or at the desk ("The
  patient knows (told now)"): nothing to call about;
- a session already under way at the clinic (checked in): the patient is here;
- a session whose day, as the patient knows it, is today or already past: no call.  The line is
  the clinic's today because the calls are worked from the follow-up queue and the confirmation
  list, whose days are the coming ones (``[confirmations] days_ahead``: the next open day) and
  whose unreached calls are tried again ``[followups] retry_hours`` later: a queued call about
  today's visit would be made after the patient set out.  A same-day change is told at once, by
  whoever makes it, in person or on the phone;
- a move that keeps the start (another room or monitor only): nothing to tell, as a closure's
  re-plan says;
- otherwise the move owes one call, due at once (as a closure's).  Moved again before the call
  is made, it stays one call, naming the newest time; moved back to the time the patient knows
  (an undo too), there is nothing left to tell and the call is closed;
- the session cancelled (or missed) before the call is made: nothing to tell either, and the
  call is closed saying why (``gone_words``); the cancellation undone, the call is open again;
- a closure's re-plan moving (or leaving without a place) a session a desk move's call tells:
  the closure's own call tells it, from the time the patient knows, and the desk move's call
  lets it go (``TAKEN_OVER`` when nothing is left to tell): one call per session.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from ketadesk.scheduling.dates import moved_words

#: Who makes a desk move's call: the front desk, as for a closure's schedule-change call
#: (``services/settings/consequences.CALL_ROLE``).
CALL_ROLE = "front_desk"
#: The statuses a move may owe a call for: a session booked and still to come.  A checked-in
#: patient is at the clinic; pencilled-in holds are not moved by hand.
CALLED_ABOUT_STATUSES = frozenset({"booked"})
#: How a desk move's call begins (the call list and the queue show it).
DESK_MOVE_WORDS = "Moved without the patient"
#: What a call says once there is nothing left to tell, by why.
MOVED_BACK = "Moved back to the time the patient knows: nothing to tell"
TOLD_AT_MOVE = "Told the new time when it was moved"
#: How a call closed because its sessions were cancelled or missed begins (``gone_words``); an
#: undo of the cancellation opens such a call again.
NO_LONGER_OWED = "No longer owed"
#: A call whose sessions a closure's schedule-change call now tells.
TAKEN_OVER = "Taken over by the closure's schedule-change call"
#: A released session as the closed call says it.
_GONE_STATUS_WORDS = {
    "cancelled": "cancelled",
    "no_show": "missed (no-show)",
    "released": "released",
}


def owes_call(
    *,
    was: dt.datetime,
    new: dt.datetime,
    was_day: dt.date,
    today: dt.date,
    status: str,
    patient_knows: bool,
) -> bool:
    """Whether moving a session from ``was`` (the start the patient knows; ``was_day`` its
    clinic-local day) to ``new`` owes a schedule-change call, no call being owed for it yet."""
    if patient_knows or new == was:
        return False
    if status not in CALLED_ABOUT_STATUSES:
        return False
    return was_day > today


@dataclass(frozen=True, slots=True)
class ToTell:
    """One session a call is to tell about: what it is, the time the patient knows and its
    time now (both in the clinic's zone)."""

    session: str
    known: dt.datetime
    now: dt.datetime

    @property
    def changed(self) -> bool:
        return self.known != self.now


def call_words(sessions: Sequence[ToTell], fmt: str) -> str:
    """What a desk move's call is to tell ("Moved without the patient. Spravato (esketamine)
    moved from Thu Dec 10 7:45 AM to Fri Dec 11 9:00 AM"); only the sessions whose time
    changed are named ("" when none is left to tell)."""
    lines = [f"{s.session} moved {moved_words(s.known, s.now, fmt)}" for s in sessions if s.changed]
    if not lines:
        return ""
    return f"{DESK_MOVE_WORDS}. " + ". ".join(lines)


@dataclass(frozen=True, slots=True)
class Gone:
    """One session a call was to tell about that will not happen: what it is, its status now
    and why ("" when the change gave no reason)."""

    session: str
    status: str
    reason: str = ""


def gone_words(sessions: Sequence[Gone]) -> str:
    """Why a call closed with nothing to tell: "No longer owed: IV ketamine infusion (session
    2) cancelled (Series ended: side effects / safety)"."""
    parts = []
    for s in sessions:
        status = _GONE_STATUS_WORDS.get(s.status, s.status.replace("_", " "))
        why = f" ({s.reason})" if s.reason else ""
        parts.append(f"{s.session} {status}{why}")
    return f"{NO_LONGER_OWED}: " + "; ".join(parts)
