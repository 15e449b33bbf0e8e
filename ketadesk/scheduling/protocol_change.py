"""Changing a patient's protocol, as plain rules: from which day the change takes effect, what
the clinician must say, and the words that link the two series on the record ("IV induction
(6 infusions), ended Dec 9: changed to Spravato TRD: no response after 4 infusions" →
"Spravato TRD from Dec 14").

A change is an end of the old series (``scheduling/series_end.py``, reason ``PROTOCOL_CHANGE``)
followed by the booking of the new protocol, linked to the old series
(``series.previous_series_id``).  Who may change a protocol is who may end a series: it is the
same clinical decision (clinic.toml ``[series_end] roles``).
"""

from __future__ import annotations

import datetime as dt

from ketadesk.scheduling.dates import short_date
from ketadesk.scheduling.series_end import SeriesEndSettings

#: What the audit trail names a change by (the old series' end is ``end_series`` besides).
CHANGE_ACTION = "change_protocol"
UNDO_CHANGE_ACTION = "undo_change_protocol"
#: The statuses of the new series' sessions while "nothing has happened to it yet": booked or
#: pencilled in, never moved, confirmed, checked in or anything else since (its version 1).
UNTOUCHED_STATUSES = frozenset({"booked", "tentative"})


def who_may_change(settings: SeriesEndSettings) -> str:
    """ "Only a prescriber may change a series' protocol" (the roles that may end one)."""
    names = sorted(settings.roles)
    roles = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
    return f"Only a {roles} may change a series' protocol"


def default_start(last_kept: dt.date | None, today: dt.date) -> dt.date:
    """The first day of the new protocol unless the clinician chooses: the day after the old
    series' last session kept (one that has begun or is over), and never before today."""
    if last_kept is None:
        return today
    return max(today, last_kept + dt.timedelta(days=1))


def change_problem(new_protocol: str, old_protocol: str, why: str) -> str:
    """What is wrong with a change as asked ("" when nothing is)."""
    if not new_protocol:
        return "Choose the new protocol"
    if new_protocol == old_protocol:
        return "The series is on this protocol already: choose another one"
    if not why.strip():
        return "Say why the protocol changes (e.g. no response after 4 infusions)"
    return ""


def change_note(new_protocol_name: str, why: str) -> str:
    """The old series' end note: "Spravato TRD: no response after 4 infusions" (the record
    reads it "changed to Spravato TRD: no response after 4 infusions")."""
    return f"{new_protocol_name}: {why.strip()}"


def changed_to_words(new_protocol_name: str, first_day: dt.date | None) -> str:
    """The old series' link to the new one: "→ Spravato TRD from Dec 14" (nothing booked:
    "→ Spravato TRD, nothing booked")."""
    if first_day is None:
        return f"→ {new_protocol_name}, nothing booked"
    return f"→ {new_protocol_name} from {short_date(first_day, weekday=False)}"


def changed_from_words(old_protocol_name: str, ended_on: dt.date | None) -> str:
    """The new series' link to the old one: "← after IV induction, ended Dec 9"."""
    if ended_on is None:
        return f"← after {old_protocol_name}"
    return f"← after {old_protocol_name}, ended {short_date(ended_on, weekday=False)}"
