"""Dropout, as plain rules: which missed sessions put a series at risk, and the outreach call
each one owes.

About half of IV patients do not finish an induction and a fifth stop after the first session
(DOMAIN.md "Series protocols"): a no-show or a late cancellation anywhere in a series is the
signal.  Such a miss marks its series *at risk* and owes an outreach call, due at once and by
the end of the configured business day; the series stays at risk while that call stands and
the desk has not answered the miss (a make-up, the waitlist, or "continues short",
services/rebooking).  Nothing is stored for "at risk": it is read from the miss and its call,
so undoing the no-show undoes it.

Every number and role is configuration (clinic.toml ``[dropout]``, kept in
``ClinicSettings.extra`` and parsed here).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ketadesk.scheduling.catalog import ConfigError, StaffRole

OUTREACH_CALL = "outreach_call"
#: The misses a clinic may count: a no-show, a cancellation within ``[clinic]
#: late_cancel_hours`` (``late_cancel``), or any cancellation (``cancel``, early ones too).
AT_RISK_EVENTS = ("no_show", "late_cancel", "cancel")
#: How each miss is named on the recall list.
MISS_NAMES = {"no_show": "no-show", "late_cancel": "late cancellation", "cancel": "cancelled"}

DROPOUT_DEFAULTS: Mapping[str, Any] = {
    "at_risk_events": ["no_show", "late_cancel"],
    "outreach_business_days": 1,
    "outreach_role": "front_desk",
}
_ROLES = tuple(r.value for r in StaffRole)


@dataclass(frozen=True, slots=True)
class DropoutSettings:
    """``at_risk_events``: which misses (``AT_RISK_EVENTS``) mark a series at risk (none: the
    clinic does not track dropout); ``outreach_business_days``: the outreach call is due at
    once and must be made by the end of that many business days after the miss (0: the same
    day); ``outreach_role``: who makes it."""

    at_risk_events: tuple[str, ...] = ("no_show", "late_cancel")
    outreach_business_days: int = 1
    outreach_role: str = "front_desk"


def parse_dropout_settings(
    given: Mapping[str, Any] | None, source: str = "clinic.toml"
) -> DropoutSettings:
    """``[dropout]`` over its defaults; a mistake names its key."""
    data = {**DROPOUT_DEFAULTS, **(given or {})}
    events = data["at_risk_events"]
    if not isinstance(events, list) or any(e not in AT_RISK_EVENTS for e in events):
        raise ConfigError(
            f"{source}: dropout.at_risk_events: must list some of {', '.join(AT_RISK_EVENTS)}"
        )
    days = data["outreach_business_days"]
    if not isinstance(days, int) or isinstance(days, bool) or not 0 <= days <= 30:
        raise ConfigError(
            f"{source}: dropout.outreach_business_days: must be a whole number from 0 to 30"
        )
    role = data["outreach_role"]
    if role not in _ROLES:
        raise ConfigError(f"{source}: dropout.outreach_role: must be one of {', '.join(_ROLES)}")
    return DropoutSettings(tuple(dict.fromkeys(events)), days, role)


def miss_of(status: str, late_cancel: bool) -> str:
    """What a session's status says was missed: "no_show", "late_cancel", "cancel", or ""."""
    if status == "no_show":
        return "no_show"
    if status == "cancelled":
        return "late_cancel" if late_cancel else "cancel"
    return ""


def puts_at_risk(status: str, late_cancel: bool, settings: DropoutSettings) -> bool:
    """Whether a series session in ``status`` puts its series at risk.  A late cancellation
    counts when either ``late_cancel`` or ``cancel`` is configured."""
    miss = miss_of(status, late_cancel)
    if not miss:
        return False
    events = settings.at_risk_events
    return miss in events or (miss == "late_cancel" and "cancel" in events)
