"""Gating before dosing sessions: what must be true of a patient before a session may be booked.

Each session type names the rules that apply to it (``SessionTypeSpec.gating``); the clinic sets
each rule to "block", "warn" or "off" (``ClinicSettings.gating``).  A warning may be overridden
by a clinician with a reason; a block may not.  The facts come in as ``PatientFacts`` (the store
fills them from the patient's record) so the rules stay plain and testable.

Every session is judged at its own date: a consent that lapses, a prior authorization that
starts late, ends or runs out of units, or a birthday not yet reached, stops the sessions it
concerns and names them.  The eligibility numbers and lists (consent validity, minimum ages,
the contraindications and precautions a patient form records, prior-authorization units per
session) are configuration: clinic.toml ``[eligibility]``, kept in ``ClinicSettings.extra`` and
parsed here (``parse_eligibility_settings``); a mistake names its key.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dateutil.relativedelta import relativedelta

from ketadesk.scheduling.availability import describe_day
from ketadesk.scheduling.catalog import GATING_RULES, ClinicSettings, ConfigError, SessionTypeSpec
from ketadesk.scheduling.dates import short_date
from ketadesk.scheduling.statuses import MOVABLE_STATUSES, PRIOR_AUTH_SPENDING_STATUSES


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
    prior_auth_sessions_left: int | None = None  # None: not limited by a number of units
    driver_name: str = ""
    date_of_birth: dt.date | None = None
    #: The contraindications and precautions recorded for the patient (codes of
    #: ``EligibilitySettings.contraindications`` / ``precautions``).
    flags: frozenset[str] = frozenset()
    prior_auth_starts_on: dt.date | None = None
    #: Of the units the patient's other sessions spent (``prior_auth_units_spent``;
    #: ``prior_auth_sessions_left`` is what they leave), those of sessions already given.
    prior_auth_given: int = 0
    #: The patient pays for their own sessions: no prior authorization is needed
    #: (``prior_auth_valid`` passes), a fact of the record rather than an override.
    self_pay: bool = False


@dataclass(frozen=True, slots=True)
class GateResult:
    """One rule that is not met, and how hard it stops the booking."""

    rule: str
    severity: Severity
    message: str
    override_reason: str | None = None  # a clinician's reason for going ahead (warnings only)
    # The rule in words when it is not a gating rule (a protocol rule shown beside the gates:
    # ``protocol_rules.Finding.as_gate``).
    rule_title: str | None = None

    @property
    def overridden(self) -> bool:
        return self.override_reason is not None

    @property
    def title(self) -> str:
        """The rule in words ("Consent")."""
        return self.rule_title or RULE_TITLES.get(self.rule, self.rule)

    @property
    def explained(self) -> str:
        """The rule and the fact, as a refusal or warning says them:
        "Consent (consent_signed): consent signed Jan 3, 2025 lapsed Jan 3, 2026; ..."."""
        return f"{self.title} ({self.rule}): {self.message}"

    @property
    def stops_booking(self) -> bool:
        return self.severity is Severity.BLOCK or not self.overridden


def booking_allowed(results: Iterable[GateResult]) -> bool:
    """No block, and every warning overridden with a reason."""
    return not any(r.stops_booking for r in results)


def rules_for(spec: SessionTypeSpec, elig: EligibilitySettings) -> tuple[str, ...]:
    """The gating rules judged for ``spec``: those it lists, and the eligibility rules that
    hold whether or not a clinic's stored session type lists them (a clinic created before
    they existed): "age" for a type with a minimum age, contraindications and precautions for
    every dosing type."""
    implied = []
    if spec.code in elig.min_age_years:
        implied.append("age")
    if spec.dosing:
        implied += ["contraindications", "precautions"]
    return (*spec.gating, *(r for r in implied if r not in spec.gating))


def check_gates(
    spec: SessionTypeSpec,
    facts: PatientFacts,
    session_dates: Sequence[dt.date],
    settings: ClinicSettings,
    overrides: Iterable[tuple[str, str]] | Mapping[str, str] = (),
    *,
    eligibility: EligibilitySettings | None = None,
) -> list[GateResult]:
    """The gating rules that ``spec``'s sessions on ``session_dates`` do not meet.

    Each session is judged at its own date (consent validity, prior-authorization dates and
    units, age).  ``overrides`` are (rule, reason) pairs a clinician gave; they mark matching
    warnings as overridden.  An override of a blocking rule is ignored (the result says it
    cannot be overridden); an empty reason does not count.  A rule missing from the clinic's
    settings blocks (the safe side for a patient), but for the eligibility rules, which take
    ``ELIGIBILITY_GATING``.  ``eligibility`` defaults to the clinic's
    ``[eligibility]`` section.
    """
    if not session_dates:
        return []
    elig = eligibility or eligibility_settings(settings)
    given = dict(overrides.items() if isinstance(overrides, Mapping) else overrides)
    dates = sorted(session_dates)
    results: list[GateResult] = []
    for rule in rules_for(spec, elig):
        setting = settings.gating.get(rule, ELIGIBILITY_GATING.get(rule, Severity.BLOCK.value))
        if setting == "off":
            continue
        message = _CHECKS[rule](spec, facts, dates, settings, elig)
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
    spec: SessionTypeSpec,
    facts: PatientFacts,
    dates: Sequence[dt.date],
    settings: ClinicSettings,
    elig: EligibilitySettings,
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
    spec: SessionTypeSpec,
    facts: PatientFacts,
    dates: Sequence[dt.date],
    settings: ClinicSettings,
    elig: EligibilitySettings,
) -> str | None:
    signed = facts.consent_signed_on
    missing = _recorded_in_time(
        signed, "no signed informed consent on file", "consent signed", dates
    )
    lapses = None if signed is None else consent_lapses_on(signed, elig)
    if missing is not None or signed is None or lapses is None:
        return missing
    late = [d for d in dates if d >= lapses]
    if not late:
        return None
    return (
        f"consent signed {short_date(signed, year=True)} is valid "
        f"{elig.consent_valid_months} months, through "
        f"{short_date(lapses - dt.timedelta(days=1), year=True)}; "
        f"{_count(late)} after that ({_list(late)}): take a new consent"
    )


def _rems_patient(
    spec: SessionTypeSpec,
    facts: PatientFacts,
    dates: Sequence[dt.date],
    settings: ClinicSettings,
    elig: EligibilitySettings,
) -> str | None:
    return _recorded_in_time(
        facts.rems_enrolled_on,
        "patient not enrolled in the REMS program",
        "REMS enrollment",
        dates,
    )


#: Where the window records the site's REMS certification (ui/settings/clinic_page.py).
REMS_SITE_SETTING = "Settings ▸ Clinic ▸ REMS certification"


def _rems_site(
    spec: SessionTypeSpec,
    facts: PatientFacts,
    dates: Sequence[dt.date],
    settings: ClinicSettings,
    elig: EligibilitySettings,
) -> str | None:
    text = settings.rems_site_certified_until.strip()
    if not text:
        return f"the site's REMS certification date is not recorded ({REMS_SITE_SETTING})"
    try:
        until = dt.date.fromisoformat(text)
    except ValueError:
        return f"the site's REMS certification date {text!r} is not a date ({REMS_SITE_SETTING})"
    late = [d for d in dates if d > until]
    if late:
        return (
            f"the site's REMS certification ends {short_date(until, year=True)}; "
            f"{_count(late)} after that ({_list(late)}); a renewed certification's date goes in "
            f"{REMS_SITE_SETTING}"
        )
    return None


def _prior_auth(
    spec: SessionTypeSpec,
    facts: PatientFacts,
    dates: Sequence[dt.date],
    settings: ClinicSettings,
    elig: EligibilitySettings,
) -> str | None:
    if facts.self_pay:
        return None
    expires = facts.prior_auth_expires_on
    starts = facts.prior_auth_starts_on
    if expires is None and facts.prior_auth_sessions_left is None:
        return "no prior authorization on file"
    problems = []
    if starts is not None:
        early = [d for d in dates if d < starts]
        if early:
            problems.append(
                f"prior authorization starts {short_date(starts, year=True)}; "
                f"{_count(early)} before that ({_list(early)})"
            )
    if expires is not None:
        late = [d for d in dates if d > expires]
        if late:
            problems.append(
                f"prior authorization expires {short_date(expires, year=True)}; "
                f"{_count(late)} after that ({_list(late)})"
            )
    left = facts.prior_auth_sessions_left
    if left is not None:
        units = prior_auth_units(spec.code, elig)
        # In date order, each session on or after the start uses its units (one before it
        # spends none: it is refused above); those past the authorization are named.
        spending = sorted(d for d in dates if prior_auth_spends_on(d, starts))
        over = [d for i, d in enumerate(spending) if (i + 1) * units > left]
        if over:
            if units == 1:
                problems.append(
                    f"prior authorization covers {left} more; {_count(spending)} planned"
                )
            else:
                problems.append(
                    f"prior authorization covers {left} more units; {_count(spending)} of "
                    f"{units} units planned"
                )
            problems[-1] += f" ({_list(over)} not covered)" if len(over) < len(spending) else ""
            if facts.prior_auth_given:
                problems[-1] += f"; {_units(facts.prior_auth_given)} spent by sessions given"
                if starts is None:
                    # Without a start date every session given counts, those of an earlier
                    # authorization too: the front desk should enter the renewal's start.
                    problems[-1] += (
                        " (no prior authorization start date on file: all of them count)"
                    )
    return "; ".join(problems) or None


#: A spending session no longer to come: given already.
PRIOR_AUTH_GIVEN_STATUSES = PRIOR_AUTH_SPENDING_STATUSES - MOVABLE_STATUSES


def _units(n: int) -> str:
    return f"{n} unit" if n == 1 else f"{n} units"


def prior_auth_spends(status: str, day: dt.date, starts_on: dt.date | None) -> bool:
    """Whether a prior-authorized session spends units of the patient's prior authorization:
    booked ahead or given already (``statuses.PRIOR_AUTH_SPENDING_STATUSES``; a no-show or a
    cancelled one spends none), on the clinic's local ``day``, on or after the authorization's
    start (``prior_auth_spends_on``)."""
    return status in PRIOR_AUTH_SPENDING_STATUSES and prior_auth_spends_on(day, starts_on)


def prior_auth_spends_on(day: dt.date, starts_on: dt.date | None) -> bool:
    """A session on the clinic's local ``day`` counts against an authorization starting
    ``starts_on``: on or after it (a renewed authorization counts afresh); every day when no
    start date is on file."""
    return starts_on is None or day >= starts_on


@dataclass(frozen=True, slots=True)
class PriorAuthSpent:
    """The units of a prior authorization sessions on record spend: ``units`` in all, ``given``
    of them by sessions already given (in progress, completed)."""

    units: int = 0
    given: int = 0


def prior_auth_units_spent(
    sessions: Iterable[tuple[str, str, dt.date]],
    starts_on: dt.date | None,
    elig: EligibilitySettings,
) -> PriorAuthSpent:
    """The units of a prior authorization that ``sessions`` (session type, status, the clinic's
    local day; those of the prior-authorized types) spend, as ``prior_auth_spends`` says."""
    units = given = 0
    for code, status, day in sessions:
        if prior_auth_spends(status, day, starts_on):
            n = prior_auth_units(code, elig)
            units += n
            given += n if status in PRIOR_AUTH_GIVEN_STATUSES else 0
    return PriorAuthSpent(units, given)


def prior_auth_units(session_type: str, elig: EligibilitySettings) -> int:
    """The units of a prior authorization one session of ``session_type`` spends
    (``[eligibility.prior_auth_units]``, 1 unless configured)."""
    return elig.prior_auth_units.get(session_type, 1)


@dataclass(frozen=True, slots=True)
class PriorAuthSpend:
    """What one session spends of a patient's prior authorization, as ``prior_auth_valid``
    counts it: ``before`` units spent by the sessions ahead of it, ``units`` its own."""

    before: int
    units: int

    @property
    def through(self) -> int:
        """The last unit this session spends (1-based): "PA 4 of 6"."""
        return self.before + self.units

    def left_for(self, authorized: int) -> int:
        """The units left for this session once the sessions ahead of it have spent theirs
        (``PatientFacts.prior_auth_sessions_left`` when it is judged alone)."""
        return max(0, authorized - self.before)


def prior_auth_spending(
    sessions: Iterable[tuple[Any, str]], elig: EligibilitySettings
) -> dict[Any, PriorAuthSpend]:
    """Each prior-authorized session's spend: ``sessions`` are (key, session type) in date
    order (the booked ones the authorization pays for); each spends its type's units after
    those before it."""
    out: dict[Any, PriorAuthSpend] = {}
    used = 0
    for key, session_type in sessions:
        units = prior_auth_units(session_type, elig)
        out[key] = PriorAuthSpend(used, units)
        used += units
    return out


def _age(
    spec: SessionTypeSpec,
    facts: PatientFacts,
    dates: Sequence[dt.date],
    settings: ClinicSettings,
    elig: EligibilitySettings,
) -> str | None:
    minimum = elig.min_age_years.get(spec.code)
    born = facts.date_of_birth
    if born is None:
        needs = f" (patients {minimum} or older)" if minimum else ""
        return f"no date of birth on file; {spec.name} needs it{needs}"
    if not minimum:
        return None
    young = [d for d in dates if age_on(born, d) < minimum]
    if not young:
        return None
    turns = birthday(born, minimum)
    return (
        f"the patient is {age_on(born, young[0])} on {describe_day(young[0])}; {spec.name} is "
        f"for patients {minimum} or older (from {short_date(turns, year=True)}); "
        f"{_count(young)} before that ({_list(young)})"
    )


def _flagged(configured: Mapping[str, str], facts: PatientFacts) -> str | None:
    found = [label for code, label in configured.items() if code in facts.flags]
    if not found:
        return None
    return f"recorded for this patient: {', '.join(found)}"


def _contraindications(
    spec: SessionTypeSpec,
    facts: PatientFacts,
    dates: Sequence[dt.date],
    settings: ClinicSettings,
    elig: EligibilitySettings,
) -> str | None:
    found = _flagged(elig.contraindications, facts)
    return None if found is None else f"{found}; {spec.name} is contraindicated"


def _precautions(
    spec: SessionTypeSpec,
    facts: PatientFacts,
    dates: Sequence[dt.date],
    settings: ClinicSettings,
    elig: EligibilitySettings,
) -> str | None:
    found = _flagged(elig.precautions, facts)
    return None if found is None else f"{found}; a clinician decides before {spec.name}"


def _driver(
    spec: SessionTypeSpec,
    facts: PatientFacts,
    dates: Sequence[dt.date],
    settings: ClinicSettings,
    elig: EligibilitySettings,
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
    "age": _age,
    "contraindications": _contraindications,
    "precautions": _precautions,
    "screening_cleared": _screening,
    "consent_signed": _consent,
    "rems_patient_enrolled": _rems_patient,
    "rems_site_certified": _rems_site,
    "prior_auth_valid": _prior_auth,
    "driver_arranged": _driver,
}
assert set(_CHECKS) == set(GATING_RULES), "every gating rule needs a check"

#: Each rule in words, as refusals and warnings name it.
RULE_TITLES: Mapping[str, str] = {
    "age": "Age",
    "contraindications": "Contraindication",
    "precautions": "Precaution",
    "screening_cleared": "Screening",
    "consent_signed": "Consent",
    "rems_patient_enrolled": "REMS patient enrollment",
    "rems_site_certified": "REMS site certification",
    "prior_auth_valid": "Prior authorization",
    "driver_arranged": "Driver",
}
assert set(RULE_TITLES) == set(GATING_RULES), "every gating rule needs a title"


def age_on(born: dt.date, day: dt.date) -> int:
    """Whole years of age on ``day`` (a Feb 29 birthday counts from Mar 1 in other years: the
    safe side of a minimum age)."""
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def birthday(born: dt.date, years: int) -> dt.date:
    """The day a person born on ``born`` turns ``years`` (Mar 1 for a Feb 29 birthday)."""
    try:
        return born.replace(year=born.year + years)
    except ValueError:
        return dt.date(born.year + years, 3, 1)


def consent_lapses_on(signed: dt.date, elig: EligibilitySettings) -> dt.date | None:
    """The first day a consent signed on ``signed`` no longer covers (None: it never lapses)."""
    if not elig.consent_valid_months:
        return None
    return signed + relativedelta(months=elig.consent_valid_months)


# --------------------------------------------------------------------------------------------
# [eligibility] in clinic.toml

ELIGIBILITY = "eligibility"
#: How hard the eligibility rules stop a booking in a clinic whose [gating] predates them (as
#: clinic.toml's defaults); any other rule missing from [gating] blocks.
ELIGIBILITY_GATING: Mapping[str, str] = {
    "age": "block",
    "contraindications": "block",
    "precautions": "warn",
}
_CODE_RE = re.compile(r"^[a-z][a-z0-9_]*$")

#: The defaults of ``[eligibility]`` (DOMAIN.md "Who may have Spravato"): the label's
#: contraindications block, the precautions clinics screen for warn.
ELIGIBILITY_DEFAULTS: Mapping[str, Any] = {
    "consent_valid_months": 12,
    "min_age_years": {"spravato": 18},
    "prior_auth_units": {},
    "contraindications": {
        # Thoracic and abdominal aorta, intracranial and peripheral arteries.
        "aneurysmal_vascular_disease": "Aneurysmal vascular disease",
        "av_malformation": "Arteriovenous malformation",
        "intracerebral_hemorrhage": "History of intracerebral hemorrhage",
        "hypersensitivity": "Hypersensitivity to (es)ketamine or an excipient",
    },
    "precautions": {
        "uncontrolled_hypertension": "Uncontrolled hypertension",
        "pregnancy": "Pregnancy",
        "psychosis_mania": "History of psychosis or mania",
        "substance_use": "Substance use disorder",
    },
}


@dataclass(frozen=True, slots=True)
class EligibilitySettings:
    """``consent_valid_months``: a consent covers sessions this many months from its signing
    (0: it never lapses); ``min_age_years``: per session type, the youngest age it may be given
    at; ``contraindications`` / ``precautions``: code -> label, recorded per patient in the
    patient form, judged by the "contraindications" and "precautions" gating rules;
    ``prior_auth_units``: per session type, the units of a prior authorization one session
    uses (1 when not listed)."""

    consent_valid_months: int = 12
    min_age_years: Mapping[str, int] = field(default_factory=dict)
    contraindications: Mapping[str, str] = field(default_factory=dict)
    precautions: Mapping[str, str] = field(default_factory=dict)
    prior_auth_units: Mapping[str, int] = field(default_factory=dict)

    @property
    def flag_labels(self) -> dict[str, str]:
        """Every recordable item, contraindications first."""
        return {**self.contraindications, **self.precautions}


def _fail(source: str, key: str, problem: str) -> ConfigError:
    """The loader's own form ("clinic.toml: eligibility.consent_valid_months: must be ..."), so
    Settings marks the field."""
    return ConfigError(f"{source}: {ELIGIBILITY}.{key}: {problem}")


def _whole(value: Any, source: str, key: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise _fail(source, key, f"must be a whole number >= {minimum}, got {value!r}")
    return value


def _per_type(
    data: Mapping[str, Any],
    key: str,
    source: str,
    minimum: int,
    session_types: Iterable[str] | None,
) -> dict[str, int]:
    table = data[key]
    if not isinstance(table, Mapping):
        raise _fail(source, key, "must be a table of session type = number")
    known = None if session_types is None else set(session_types)
    result = {}
    for code, value in table.items():
        if known is not None and code not in known:
            raise _fail(
                source, f"{key}.{code}", f"is not a session type; known: {', '.join(sorted(known))}"
            )
        result[code] = _whole(value, source, f"{key}.{code}", minimum)
    return result


def _labels(data: Mapping[str, Any], key: str, source: str) -> dict[str, str]:
    table = data[key]
    if not isinstance(table, Mapping):
        raise _fail(source, key, 'must be a table of code = "label"')
    result = {}
    for code, label in table.items():
        if not _CODE_RE.match(code):
            raise _fail(source, f"{key}.{code}", "codes are lower case letters, digits and _")
        if not isinstance(label, str) or not label.strip():
            raise _fail(source, f"{key}.{code}", "needs a label people read")
        result[code] = label.strip()
    # In the order people read them: a JSONB column (PostgreSQL) does not keep the file's.
    return dict(sorted(result.items(), key=lambda item: item[1].casefold()))


def parse_eligibility_settings(
    given: Mapping[str, Any] | None,
    source: str = "clinic.toml",
    session_types: Iterable[str] | None = None,
) -> EligibilitySettings:
    """``[eligibility]`` over its defaults; a mistake names its key.  ``session_types``, when
    given, are the codes a per-type table may name."""
    data = {**ELIGIBILITY_DEFAULTS, **(given or {})}
    unknown = sorted(set(data) - set(ELIGIBILITY_DEFAULTS))
    if unknown:
        raise _fail(
            source, unknown[0], f"is not a setting; known: {', '.join(ELIGIBILITY_DEFAULTS)}"
        )
    contraindications = _labels(data, "contraindications", source)
    precautions = _labels(data, "precautions", source)
    both = sorted(set(contraindications) & set(precautions))
    if both:
        raise _fail(source, f"precautions.{both[0]}", "is a contraindication too; list it once")
    return EligibilitySettings(
        consent_valid_months=_whole(
            data["consent_valid_months"], source, "consent_valid_months", 0
        ),
        min_age_years=_per_type(data, "min_age_years", source, 0, session_types),
        contraindications=contraindications,
        precautions=precautions,
        prior_auth_units=_per_type(data, "prior_auth_units", source, 1, session_types),
    )


# The last settings parsed and what they gave: a booking asks for them several times, and the
# configuration (kept between bookings) is the same object until it changes.
_LAST_PARSED: tuple[ClinicSettings, EligibilitySettings] | None = None


def eligibility_settings(settings: ClinicSettings) -> EligibilitySettings:
    """The clinic's ``[eligibility]`` (checked when the configuration was loaded)."""
    global _LAST_PARSED
    last = _LAST_PARSED
    if last is not None and last[0] is settings:
        return last[1]
    parsed = parse_eligibility_settings(settings.extra.get(ELIGIBILITY))
    _LAST_PARSED = (settings, parsed)
    return parsed
