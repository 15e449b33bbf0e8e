"""Ending a series, as plain rules: the reasons a prescriber gives, who may end one, and the
words the record says it in ("Ended Dec 8: side effects / safety (Dr Okafor)").

A series is a living plan (DOMAIN.md): a prescriber stops it for sustained hypertension, a
response achieved early, the patient's own wish.  Who may is clinic configuration (clinic.toml
``[series_end] roles``, kept in ``ClinicSettings.extra`` and parsed here): prescribers by
default, nurses too where the clinic says so.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ketadesk.scheduling.catalog import ConfigError
from ketadesk.scheduling.dates import short_date

#: The reasons offered, in the order the dialog lists them, and how each is said.
END_REASONS: Mapping[str, str] = {
    "response_achieved": "response achieved",
    "side_effects": "side effects / safety",
    "patient_choice": "patient's choice",
    "no_response": "no response",
    "other": "other",
}
#: The reason of an end that is a change of protocol (``scheduling/protocol_change.py``): not
#: offered by End series…; its note names the new protocol and why ("changed to Spravato TRD:
#: no response after 4 infusions").
PROTOCOL_CHANGE = "protocol_change"
#: A reason that must say more in the prescriber's own words.
NOTE_REQUIRED = frozenset({"other", PROTOCOL_CHANGE})
#: The roles a clinic may let end a series (the clinicians who decide a treatment).
MAY_END = ("prescriber", "nurse")
SERIES_END_DEFAULTS: Mapping[str, Any] = {"roles": ["prescriber"]}


@dataclass(frozen=True, slots=True)
class SeriesEndSettings:
    """``roles``: who may end a series (some of ``MAY_END``)."""

    roles: tuple[str, ...] = ("prescriber",)


def parse_series_end_settings(
    given: Mapping[str, Any] | None, source: str = "clinic.toml"
) -> SeriesEndSettings:
    """``[series_end]`` over its defaults; a mistake names its key."""
    data = {**SERIES_END_DEFAULTS, **(given or {})}
    roles = data["roles"]
    if not isinstance(roles, list) or not roles or any(r not in MAY_END for r in roles):
        raise ConfigError(f"{source}: series_end.roles: must list some of {', '.join(MAY_END)}")
    return SeriesEndSettings(roles=tuple(roles))


def who_may_end(settings: SeriesEndSettings) -> str:
    """ "Only a prescriber may end a series" (or "a nurse or prescriber")."""
    names = sorted(settings.roles)
    roles = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
    return f"Only a {roles} may end a series"


def reason_problem(reason: str, note: str) -> str:
    """What is wrong with a reason as given ("" when nothing is)."""
    if not reason:
        return "Choose why the series ends"
    if reason not in END_REASONS and reason != PROTOCOL_CHANGE:
        return f"Unknown reason {reason!r}: choose one of {', '.join(END_REASONS.values())}"
    if reason in NOTE_REQUIRED and not note.strip():
        return "Say why the series ends (the reason is 'other')"
    return ""


def reason_words(reason: str, note: str = "") -> str:
    """ "side effects / safety: sustained hypertension"; "other" reads as its note alone."""
    words = END_REASONS.get(reason, reason.replace("_", " "))
    note = note.strip()
    if reason == PROTOCOL_CHANGE:
        return f"changed to {note}"
    if reason in NOTE_REQUIRED and note:
        return note
    return f"{words}: {note}" if note else words


def ended_words(ended_on: dt.date, reason: str, note: str = "", by: str = "") -> str:
    """ "Ended Dec 8: side effects / safety (Dr Okafor)"."""
    text = f"Ended {short_date(ended_on, weekday=False)}: {reason_words(reason, note)}"
    return f"{text} ({by})" if by else text
