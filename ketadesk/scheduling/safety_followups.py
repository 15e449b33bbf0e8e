"""The two follow-ups a clinic must never let slip, as plain rules: the urgent (suicidality)
review and the Spravato REMS Patient Monitoring Form.

An urgent review has a deadline some hours after the answer that opened it, may not be snoozed
past it, is closed only by the configured roles with a note, and holds back dosing (warn or
block) while it stands.  The REMS form's last day is the session date + N calendar days (the
deadline instant is the midnight that ends that day, so the day to print is the one before it);
it may not be snoozed past that; a last day on which the clinic is closed is worth a warning;
and an incomplete form is marked submitted only by an override (a role and a reason).

Every number and role is configuration (clinic.toml ``[urgent_review]`` and ``[rems_form]``,
kept in ``ClinicSettings.extra`` and parsed here); nothing here knows a clinic by heart.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ketadesk.scheduling.calendar import ClinicCalendar
from ketadesk.scheduling.catalog import ConfigError, StaffRole, refuse_safety_off
from ketadesk.scheduling.words import role_name

URGENT_REVIEW = "urgent_review"
REMS_FORM = "rems_form"
DOSING_POLICIES = ("block", "warn", "off")
_ROLES = (*(r.value for r in StaffRole), "admin")
_INSTANT = dt.timedelta(microseconds=1)

URGENT_REVIEW_DEFAULTS: Mapping[str, Any] = {
    "deadline_hours": 24,
    "dosing": "block",
    "close_roles": ["prescriber"],
}
#: What current copies of the REMS form ask beyond dose, lot, BP, sedation and dissociation
#: (DOMAIN.md "REMS Patient Monitoring Form"); ``[rems_form] asks`` chooses among them.
REMS_EXTRA_FIELDS = ("concomitant_medicines", "spo2", "vitals_acceptable", "ready_to_leave")
REMS_FORM_DEFAULTS: Mapping[str, Any] = {
    "override_roles": ["prescriber"],
    "warn_closed_deadline": True,
    "snooze_past_deadline": False,
    "asks": list(REMS_EXTRA_FIELDS),
    "concomitant_medicines": [
        "Benzodiazepines",
        "Non-benzodiazepine sedative hypnotics",
        "Psychostimulants",
        "MAOIs",
    ],
}


@dataclass(frozen=True, slots=True)
class UrgentReviewSettings:
    """``deadline_hours``: a review is due at once and must be done within this many hours of
    the answer that opened (or re-opened) it; ``dosing``: "block" refuses to start a dosing
    session (or record its dose) while a review stands, "warn" lets it go with a warning;
    ``close_roles``: who may close a review (with a note)."""

    deadline_hours: int = 24
    dosing: str = "block"
    close_roles: tuple[str, ...] = ("prescriber",)


@dataclass(frozen=True, slots=True)
class RemsFormSettings:
    """``override_roles``: who may mark an incomplete form submitted (with a reason);
    ``warn_closed_deadline``: say so when the form's last day falls on a day the clinic is
    closed; ``snooze_past_deadline``: false stops every snooze at the deadline; ``asks``: which
    of ``REMS_EXTRA_FIELDS`` the form in use asks (a record without them is incomplete);
    ``concomitant_medicines``: the classes of medicine the form asks about."""

    override_roles: tuple[str, ...] = ("prescriber",)
    warn_closed_deadline: bool = True
    snooze_past_deadline: bool = False
    asks: tuple[str, ...] = REMS_EXTRA_FIELDS
    concomitant_medicines: tuple[str, ...] = ()


def _roles(data: Mapping[str, Any], key: str, section: str, source: str) -> tuple[str, ...]:
    value = data[key]
    if (
        not isinstance(value, list)
        or not value
        or any(not isinstance(v, str) or v not in _ROLES for v in value)
    ):
        raise ConfigError(f"{source}: [{section}] {key} must list roles of {', '.join(_ROLES)}")
    return tuple(value)


def _flag(data: Mapping[str, Any], key: str, section: str, source: str) -> bool:
    value = data[key]
    if not isinstance(value, bool):
        raise ConfigError(f"{source}: [{section}] {key} must be true or false")
    return value


def parse_urgent_review_settings(
    given: Mapping[str, Any] | None, source: str = "clinic.toml"
) -> UrgentReviewSettings:
    """``[urgent_review]`` over its defaults; a mistake names its key."""
    data = {**URGENT_REVIEW_DEFAULTS, **(given or {})}
    hours = data["deadline_hours"]
    if not isinstance(hours, int) or isinstance(hours, bool) or hours < 1:
        raise ConfigError(f"{source}: [urgent_review] deadline_hours must be a whole number >= 1")
    dosing = data["dosing"]
    refuse_safety_off(source, "urgent_review.dosing", dosing)
    if dosing not in DOSING_POLICIES:
        raise ConfigError(
            f"{source}: [urgent_review] dosing must be one of {', '.join(DOSING_POLICIES)}"
        )
    return UrgentReviewSettings(
        deadline_hours=hours,
        dosing=dosing,
        close_roles=_roles(data, "close_roles", "urgent_review", source),
    )


def parse_rems_form_settings(
    given: Mapping[str, Any] | None, source: str = "clinic.toml"
) -> RemsFormSettings:
    """``[rems_form]`` over its defaults; a mistake names its key."""
    data = {**REMS_FORM_DEFAULTS, **(given or {})}
    return RemsFormSettings(
        override_roles=_roles(data, "override_roles", "rems_form", source),
        warn_closed_deadline=_flag(data, "warn_closed_deadline", "rems_form", source),
        snooze_past_deadline=_flag(data, "snooze_past_deadline", "rems_form", source),
        asks=_names(data, "asks", REMS_EXTRA_FIELDS, source),
        concomitant_medicines=_names(data, "concomitant_medicines", None, source),
    )


def _names(
    data: Mapping[str, Any], key: str, choices: Sequence[str] | None, source: str
) -> tuple[str, ...]:
    value = data[key]
    if not isinstance(value, list) or any(not isinstance(v, str) or not v.strip() for v in value):
        raise ConfigError(f"{source}: [rems_form] {key} must be a list of names")
    if choices is not None and any(v not in choices for v in value):
        raise ConfigError(f"{source}: [rems_form] {key} may list {', '.join(choices)}")
    return tuple(value)


# ---------------------------------------------------------------------------------------------
# Urgent reviews


def urgent_review_deadline(answered_at: dt.datetime, settings: UrgentReviewSettings) -> dt.datetime:
    """When an urgent review opened by an answer at ``answered_at`` must be done."""
    return answered_at + dt.timedelta(hours=settings.deadline_hours)


def reopened_deadline(
    current: dt.datetime | None, answered_at: dt.datetime, settings: UrgentReviewSettings
) -> dt.datetime:
    """A standing review re-opened by a new answer keeps the earlier of its own deadline and the
    new answer's: new information never buys more time."""
    fresh = urgent_review_deadline(answered_at, settings)
    return fresh if current is None else min(current, fresh)


def dosing_hold(settings: UrgentReviewSettings, standing_reviews: int) -> str:
    """What a standing urgent review does to dosing: "block", "warn", or "" (nothing)."""
    if standing_reviews <= 0 or settings.dosing == "off":
        return ""
    return settings.dosing


# ---------------------------------------------------------------------------------------------
# Snoozes


def snooze_problem(
    kind: str,
    until: dt.datetime,
    deadline: dt.datetime | None,
    calendar: ClinicCalendar,
    rems: RemsFormSettings,
) -> str:
    """Why a follow-up may not be snoozed until ``until`` ("" when it may): an urgent review,
    and a REMS form unless configured otherwise, stop at their deadline."""
    if deadline is None or until <= deadline:
        return ""
    if kind == URGENT_REVIEW or (kind == REMS_FORM and not rems.snooze_past_deadline):
        return (
            f"may not be snoozed past its deadline ({deadline_text(deadline, calendar)}); "
            "choose an earlier time"
        )
    return ""


# ---------------------------------------------------------------------------------------------
# Deadlines as people read them


def last_day(deadline: dt.datetime, calendar: ClinicCalendar) -> dt.date:
    """The last day a deadline allows: a deadline at local midnight ends the day before it
    (the REMS form's "within 7 days" ends at the midnight after session date + 7)."""
    return last_local_day(calendar.local(deadline))


def last_local_day(local_deadline: dt.datetime) -> dt.date:
    """``last_day`` of a deadline already in the clinic's zone."""
    if local_deadline.time() == dt.time(0):
        return (local_deadline - _INSTANT).date()
    return local_deadline.date()


def deadline_text(deadline: dt.datetime, calendar: ClinicCalendar) -> str:
    """A deadline in US words: "by Mon 12/14/2026", with the time unless it ends the day."""
    local = calendar.local(deadline)
    day = last_day(deadline, calendar)
    text = f"{day:%a} {day.month}/{day.day}/{day.year}"
    if local.date() == day:
        text += f" {calendar.clock(deadline)}"
    return text


def closed_deadline_warning(
    deadline: dt.datetime, calendar: ClinicCalendar, rems: RemsFormSettings
) -> str:
    """A warning when a form's last day falls on a day the clinic is closed ("" when open, or
    when the clinic does not want the warning): the form is still due that day, so send it
    before."""
    if not rems.warn_closed_deadline:
        return ""
    day = last_day(deadline, calendar)
    reason = calendar.closed_reason(day)
    if reason is None:
        return ""
    return (
        f"the deadline {day:%a} {day.month}/{day.day} falls on a closed day ({reason}): "
        "send the form before"
    )


# ---------------------------------------------------------------------------------------------
# Completing


def close_role_problem(kind: str, role: str, settings: UrgentReviewSettings) -> str:
    """Why ``role`` may not close a follow-up of ``kind`` whatever its note ("" when it may):
    the one rule the service refuses by and the queue greys its Complete button by."""
    if kind != URGENT_REVIEW or role in settings.close_roles:
        return ""
    who = " or ".join(role_name(r) for r in settings.close_roles)
    return f"an urgent review is closed by a {who}"


def close_problem(kind: str, role: str, note: str, settings: UrgentReviewSettings) -> str:
    """Why ``role`` may not close a follow-up of ``kind`` with ``note`` ("" when it may)."""
    if kind != URGENT_REVIEW:
        return ""
    refused = close_role_problem(kind, role, settings)
    if refused:
        return refused
    if not note.strip():
        return "say what the review found (a note is required)"
    return ""


def submit_problem(
    missing: Sequence[str], role: str, override_reason: str, rems: RemsFormSettings
) -> dict[str, str]:
    """Why a REMS form may not be marked submitted (field -> message; empty when it may): an
    incomplete form needs an override, a role of ``override_roles`` with a reason."""
    if not missing:
        return {}
    gaps = ", ".join(missing)
    if not override_reason.strip():
        return {
            "override_reason": (
                f"the form still lacks {gaps}: complete the record, or give a reason to submit "
                "it as it is"
            )
        }
    if role not in rems.override_roles:
        who = " or ".join(role_name(r) for r in rems.override_roles)
        return {"override_reason": f"an incomplete REMS form ({gaps}) is submitted only by a {who}"}
    return {}
