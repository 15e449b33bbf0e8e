"""Gating before dosing sessions: what must be true of a patient before a session may be booked.

Each session type names the rules that apply to it (``SessionTypeSpec.gating``); the clinic sets
each rule to "block", "warn" or "off" (``ClinicSettings.gating``).  A warning may be overridden
by a clinician with a reason; a block may not.  The facts come in as ``PatientFacts`` (the store
fills them from the patient's record) so the rules stay plain and testable.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from ketadesk.scheduling.availability import describe_day
from ketadesk.scheduling.catalog import GATING_RULES, ClinicSettings, SessionTypeSpec
from ketadesk.scheduling.dates import short_date


class Severity(enum.StrEnum):
    BLOCK = "block"
    WARN = "warn"


class ScreeningStatus(enum.StrEnum):
    PENDING = "pending"
    CLEARED = "cleared"
    NOT_ELIGIBLE = "not_eligible"


@dataclass(frozen=True, slots=True)
class PatientFacts:
    """What the gating rules need to know about a patient (all dates local)."""

    screening_status: ScreeningStatus = ScreeningStatus.PENDING
    screening_cleared_on: dt.date | None = None
    consent_signed_on: dt.date | None = None
    rems_enrolled_on: dt.date | None = None
    prior_auth_expires_on: dt.date | None = None
    prior_auth_sessions_left: int | None = None  # None: not limited by a number of sessions
    driver_name: str = ""


@dataclass(frozen=True, slots=True)
class GateResult:
    """One rule that is not met, and how hard it stops the booking."""

    rule: str
    severity: Severity
    message: str
    override_reason: str | None = None  # a clinician's reason for going ahead (warnings only)

    @property
    def overridden(self) -> bool:
        return self.override_reason is not None

    @property
    def stops_booking(self) -> bool:
        return self.severity is Severity.BLOCK or not self.overridden


def booking_allowed(results: Iterable[GateResult]) -> bool:
    """No block, and every warning overridden with a reason."""
    return not any(r.stops_booking for r in results)


def check_gates(
    spec: SessionTypeSpec,
    facts: PatientFacts,
    session_dates: Sequence[dt.date],
    settings: ClinicSettings,
    overrides: Iterable[tuple[str, str]] | Mapping[str, str] = (),
) -> list[GateResult]:
    """The gating rules that ``spec``'s sessions on ``session_dates`` do not meet.

    ``overrides`` are (rule, reason) pairs a clinician gave; they mark matching warnings as
    overridden.  An override of a blocking rule is ignored (the result says it cannot be
    overridden); an empty reason does not count.  A rule missing from the clinic's settings
    blocks: the safe side for a patient.
    """
    if not session_dates:
        return []
    given = dict(overrides.items() if isinstance(overrides, Mapping) else overrides)
    dates = sorted(session_dates)
    results: list[GateResult] = []
    for rule in spec.gating:
        setting = settings.gating.get(rule, Severity.BLOCK.value)
        if setting == "off":
            continue
        message = _CHECKS[rule](spec, facts, dates, settings)
        if message is None:
            continue
        severity = Severity(setting)
        reason = (given.get(rule) or "").strip() or None
        if severity is Severity.BLOCK and reason is not None:
            message += " (this rule blocks and cannot be overridden)"
            reason = None
        results.append(
            GateResult(rule, severity, message, reason if severity is Severity.WARN else None)
        )
    return results


# --------------------------------------------------------------------------------------------
# The rules: each returns what is wrong in plain words, or None when the rule is met


def _recorded_in_time(
    on: dt.date | None, missing: str, what: str, dates: Sequence[dt.date]
) -> str | None:
    """A dated fact must be on file, and dated no later than the first session."""
    if on is None:
        return missing
    if on > dates[0]:
        return f"{what} on {describe_day(on)}, after the first session on {describe_day(dates[0])}"
    return None


def _screening(
    spec: SessionTypeSpec, facts: PatientFacts, dates: Sequence[dt.date], settings: ClinicSettings
) -> str | None:
    if facts.screening_status == ScreeningStatus.NOT_ELIGIBLE:
        return "screening found the patient not eligible"
    if facts.screening_status != ScreeningStatus.CLEARED:
        return "screening not yet cleared by a prescriber"
    # Cleared with no date on file is taken as cleared in time (older records lack the date).
    if facts.screening_cleared_on is None:
        return None
    return _recorded_in_time(facts.screening_cleared_on, "", "screening cleared", dates)


def _consent(
    spec: SessionTypeSpec, facts: PatientFacts, dates: Sequence[dt.date], settings: ClinicSettings
) -> str | None:
    return _recorded_in_time(
        facts.consent_signed_on, "no signed informed consent on file", "consent signed", dates
    )


def _rems_patient(
    spec: SessionTypeSpec, facts: PatientFacts, dates: Sequence[dt.date], settings: ClinicSettings
) -> str | None:
    return _recorded_in_time(
        facts.rems_enrolled_on,
        "patient not enrolled in the REMS program",
        "REMS enrollment",
        dates,
    )


def _rems_site(
    spec: SessionTypeSpec, facts: PatientFacts, dates: Sequence[dt.date], settings: ClinicSettings
) -> str | None:
    text = settings.rems_site_certified_until.strip()
    if not text:
        return "the site's REMS certification date is not recorded (Settings)"
    try:
        until = dt.date.fromisoformat(text)
    except ValueError:
        return f"the site's REMS certification date {text!r} is not a date (Settings)"
    late = [d for d in dates if d > until]
    if late:
        return (
            f"the site's REMS certification ends {short_date(until, year=True)}; "
            f"{_count(late)} after that ({_list(late)})"
        )
    return None


def _prior_auth(
    spec: SessionTypeSpec, facts: PatientFacts, dates: Sequence[dt.date], settings: ClinicSettings
) -> str | None:
    expires = facts.prior_auth_expires_on
    if expires is None and facts.prior_auth_sessions_left is None:
        return "no prior authorization on file"
    problems = []
    if expires is not None:
        late = [d for d in dates if d > expires]
        if late:
            problems.append(
                f"prior authorization expires {short_date(expires, year=True)}; "
                f"{_count(late)} after that ({_list(late)})"
            )
    left = facts.prior_auth_sessions_left
    if left is not None and len(dates) > left:
        problems.append(f"prior authorization covers {left} more; {_count(dates)} planned")
    return "; ".join(problems) or None


def _driver(
    spec: SessionTypeSpec, facts: PatientFacts, dates: Sequence[dt.date], settings: ClinicSettings
) -> str | None:
    if facts.driver_name.strip():
        return None
    if spec.drives_after_hours:
        return (
            f"no driver or escort arranged; the patient may not drive for "
            f"{spec.drives_after_hours} hours after the session"
        )
    return "no driver or escort arranged"


def _count(dates: Sequence[dt.date]) -> str:
    return _count_n(len(dates))


def _count_n(n: int) -> str:
    return f"{n} session" if n == 1 else f"{n} sessions"


def _list(dates: Sequence[dt.date], show: int = 3) -> str:
    text = ", ".join(describe_day(d) for d in dates[:show])
    return text + (f" and {len(dates) - show} more" if len(dates) > show else "")


_CHECKS = {
    "screening_cleared": _screening,
    "consent_signed": _consent,
    "rems_patient_enrolled": _rems_patient,
    "rems_site_certified": _rems_site,
    "prior_auth_valid": _prior_auth,
    "driver_arranged": _driver,
}
assert set(_CHECKS) == set(GATING_RULES), "every gating rule needs a check"
