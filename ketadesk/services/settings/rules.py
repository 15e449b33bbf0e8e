"""The clinic rules of resources/config/ as form fields: durations, gaps, windows, thresholds
and follow-up rules, read from the stored configuration and saved through the loader's own
validation.

Every field is one whole number of the stored configuration, named by the loader's own dotted
path (``protocols.iv_induction.stages[0].target_gap_days``), so a mistake the loader reports
(``clinic.toml: clinic.slot_minutes: must divide an hour evenly, got 7``) lands at its field.
The fields are generated from the configuration's structure: a session type or protocol a clinic
adds gets its fields without a change here.
"""

from __future__ import annotations

import copy
import datetime as dt
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from ketadesk.config import (
    CLINIC_FILE,
    PROTOCOLS_FILE,
    SESSION_TYPES_FILE,
    RawConfig,
    build_catalog,
)
from ketadesk.scheduling.catalog import ConfigError
from ketadesk.scheduling.followup_rules import kind_label
from ketadesk.services.access import audit
from ketadesk.services.access.permissions import require
from ketadesk.services.common.context import Actor, Database, InvalidFields, utcnow
from ketadesk.services.settings.rule_levels import (
    LevelGroup,
    check_level,
    level_groups,
    level_rules,
    set_level,
)
from ketadesk.services.settings.thresholds import field_range, threshold_errors
from ketadesk.store import changes
from ketadesk.store.clinic_config import read_raw_config
from ketadesk.store.models import ClinicSetting, Protocol, SessionType

#: The clinic-wide numbers shown, by section: key -> (label, unit).  A key a clinic adds to one
#: of these sections is shown too, with its key as label.
_SECTIONS: dict[str, tuple[str, dict[str, tuple[str, str]]]] = {
    "clinic": (
        "Booking",
        {
            "slot_minutes": ("Booking grid", "minutes"),
            "late_cancel_hours": ("Late cancellation within", "hours"),
            "dosing_sessions_per_patient_day": ("Dosing sessions per patient a day", "sessions"),
            "check_in_days_ahead": ("Check in or start before the session's day by", "days"),
        },
    ),
    "staffing": ("Staffing: patients one staff member watches", {}),
    "fees": (
        "Fees",
        {
            "late_cancel_default": ("Late cancellation fee", "dollars"),
            "no_show_default": ("No-show fee", "dollars"),
        },
    ),
    "monitoring": (
        "Monitoring thresholds",
        {
            "bp_warn_systolic": ("Warn at systolic BP from", "mmHg"),
            "bp_warn_diastolic": ("Warn at diastolic BP from", "mmHg"),
            "bp_min_systolic": ("Lowest systolic BP accepted", "mmHg"),
            "bp_max_systolic": ("Highest systolic BP accepted", "mmHg"),
            "bp_min_diastolic": ("Lowest diastolic BP accepted", "mmHg"),
            "bp_max_diastolic": ("Highest diastolic BP accepted", "mmHg"),
            "spo2_warn_below": ("Warn at SpO2 below", "%"),
            "spo2_min": ("Lowest SpO2 accepted", "%"),
            "spo2_max": ("Highest SpO2 accepted", "%"),
            "heart_rate_min": ("Lowest heart rate accepted", "beats/min"),
            "heart_rate_max": ("Highest heart rate accepted", "beats/min"),
            "reading_late_minutes": ("A BP check is late after", "minutes"),
            "reading_early_minutes": ("A BP check may be taken early by", "minutes"),
        },
    ),
    "chair": (
        "In the chair",
        {
            "hard_stop_systolic": ("No dose at a pre-dose systolic BP above", "mmHg"),
            "hard_stop_diastolic": ("No dose at a pre-dose diastolic BP above", "mmHg"),
            "discharge_max_systolic": ("No discharge at a last systolic BP above", "mmHg"),
            "discharge_max_diastolic": ("No discharge at a last diastolic BP above", "mmHg"),
            "bp_recheck_minutes": ("Recheck a raised BP after", "minutes"),
            "late_entry_minutes": ("A reading entered late is marked after", "minutes"),
        },
    ),
    "followups": (
        "Follow-ups",
        {
            "retry_hours": ("Retry an unreached call after", "hours"),
            "max_attempts": ("Calls in all", "calls"),
            "upcoming_days": ("Upcoming list looks ahead", "days"),
            "adverse_event_business_days": ("Adverse event followed up within", "business days"),
            "recall_lookback_days": ("Recall and dropout lists look back", "days"),
        },
    ),
    "dropout": (
        "Dropout",
        {"outreach_business_days": ("Outreach call after a miss within", "business days")},
    ),
    "confirmations": (
        "Confirmations and arrivals",
        {
            "days_ahead": ("Confirmation calls for visits ahead by (0: next open day)", "days"),
            "late_grace_minutes": ("A booked patient not checked in is late after", "minutes"),
            "no_show_minutes": (
                "A booked patient not checked in is a no-show candidate after",
                "minutes",
            ),
            "not_started_minutes": (
                "A patient checked in but not started is an overrun after",
                "minutes",
            ),
        },
    ),
    "eligibility": (
        "Eligibility",
        {
            "consent_valid_months": ("Consent valid for (0: no limit)", "months"),
        },
    ),
    "accounts": (
        "Sign-in and screen lock",
        {
            "min_password_length": ("Shortest password", "characters"),
            "idle_lock_minutes": ("Lock the screen after", "minutes"),
            "free_failures": ("Wrong passwords before a wait", "attempts"),
            "failure_delay_seconds": ("First wait", "seconds"),
            "failure_delay_max_seconds": ("Longest wait", "seconds"),
            "argon2_memory_kib": ("Password hash memory", "KiB"),
            "argon2_time_cost": ("Password hash passes", "passes"),
            "argon2_parallelism": ("Password hash lanes", "lanes"),
        },
    ),
}
_STAGE_FIELDS = {
    "count": ("Sessions", "sessions"),
    "min_gap_days": ("Shortest gap", "days"),
    "target_gap_days": ("Target gap", "days"),
    "max_gap_days": ("Longest gap", "days"),
    "window_days": ("Whole stage within", "days"),
}
_FOLLOWUP_UNITS = {
    "business_days": ("due within", "business days"),
    "calendar_days": ("due within", "days"),
    "min_days": ("due at the earliest after", "days"),
    "max_days": ("due at the latest after", "days"),
}


def _monitoring_unit(key: str) -> str:
    if key.startswith("bp_"):
        return "mmHg"
    if key.startswith("spo2"):
        return "%"
    if key.startswith("heart_rate"):
        return "beats/min"
    if key.endswith("_minutes"):
        return "minutes"
    return ""


def _words(key: str) -> str:
    text = key.replace("_", " ")
    return text[:1].upper() + text[1:]


@dataclass(frozen=True)
class RuleField:
    key: str  # the loader's dotted path, also the field's name in InvalidFields
    label: str
    unit: str
    value: int
    #: The range the field offers (None: any whole number; the loader judges it).
    limits: tuple[int, int] | None = None


@dataclass(frozen=True)
class RuleGroup:
    title: str
    fields: tuple[RuleField, ...]


@dataclass(frozen=True)
class ClinicRules:
    groups: tuple[RuleGroup, ...]
    #: How hard each rule stops a step (block / warn / off), saved by ``save_rules`` too.
    levels: tuple[LevelGroup, ...] = ()

    def value(self, key: str) -> int:
        return next(f.value for g in self.groups for f in g.fields if f.key == key)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _type_names(raw: RawConfig) -> dict[str, str]:
    """Session type code -> its name ("spravato" -> "Spravato (esketamine)")."""
    types = raw.session_types.get("session_types", {})
    return {
        code: str(d.get("name", code)) if isinstance(d, Mapping) else code
        for code, d in types.items()
    }


def _groups(raw: RawConfig) -> Iterator[RuleGroup]:
    for section, (title, known) in _SECTIONS.items():
        data = raw.clinic.get(section)
        if not isinstance(data, Mapping):
            continue
        fields: list[RuleField] = []
        for key, value in data.items():
            if section == "eligibility" and isinstance(value, Mapping):
                fields.extend(_per_type_fields(key, value, _type_names(raw)))
                continue
            if not _is_int(value) or (section == "clinic" and key not in known):
                continue
            label, unit = known.get(key, (_words(key), ""))
            if section == "staffing":
                label, unit = _words(key.removesuffix("_patients")), "patients"
            elif section == "monitoring" and key not in known:
                unit = _monitoring_unit(key)
            name = f"{section}.{key}"
            fields.append(RuleField(name, label, unit, value, field_range(raw.clinic, name)))
        if fields:
            yield RuleGroup(title, tuple(fields))
    for code, d in raw.session_types.get("session_types", {}).items():
        base = f"session_types.{code}"
        fields = []
        for i, phase in enumerate(d.get("phases", [])):
            if _is_int(phase.get("minutes")):
                name = phase.get("name", phase.get("key", ""))
                fields.append(
                    RuleField(f"{base}.phases[{i}].minutes", name, "minutes", phase["minutes"])
                )
        if _is_int(d.get("observation_minutes")):
            fields.append(
                RuleField(
                    f"{base}.observation_minutes",
                    "Observation in all",
                    "minutes",
                    d["observation_minutes"],
                )
            )
        cadence = d.get("reading_cadence")
        if isinstance(cadence, Mapping) and _is_int(cadence.get("every")):
            fields.append(
                RuleField(
                    f"{base}.reading_cadence.every", "Readings every", "minutes", cadence["every"]
                )
            )
        dose = d.get("dose")
        if isinstance(dose, Mapping):
            for key, label in (("device_mg", "Device strength"), ("step_mg", "Dose step")):
                if _is_int(dose.get(key)):
                    fields.append(RuleField(f"{base}.dose.{key}", label, "mg", dose[key]))
        if _is_int(d.get("drives_after_hours")):
            fields.append(
                RuleField(
                    f"{base}.drives_after_hours", "No driving for", "hours", d["drives_after_hours"]
                )
            )
        for i, rule in enumerate(d.get("followups", [])):
            for key, (when, unit) in _FOLLOWUP_UNITS.items():
                if _is_int(rule.get(key)):
                    label = f"{kind_label(str(rule.get('kind', 'follow-up')))} {when}"
                    fields.append(RuleField(f"{base}.followups[{i}].{key}", label, unit, rule[key]))
        if fields:
            yield RuleGroup(f"Session type: {d.get('name', code)}", tuple(fields))
    for code, d in raw.protocols.get("protocols", {}).items():
        base = f"protocols.{code}"
        fields = []
        for i, stage in enumerate(d.get("stages", [])):
            stage_name = stage.get("name", f"stage {i + 1}")
            for key, (label, unit) in _STAGE_FIELDS.items():
                if _is_int(stage.get(key)):
                    fields.append(
                        RuleField(
                            f"{base}.stages[{i}].{key}", f"{stage_name}: {label}", unit, stage[key]
                        )
                    )
            for part, words in (("followed_by", "after each"), ("on_complete", "after the stage")):
                sub = stage.get(part)
                if isinstance(sub, Mapping):
                    what = _words(str(sub.get("session_type") or sub.get("followup") or part))
                    for key, when in (("min_days", "earliest"), ("max_days", "latest")):
                        if _is_int(sub.get(key)):
                            fields.append(
                                RuleField(
                                    f"{base}.stages[{i}].{part}.{key}",
                                    f"{stage_name}: {what} {words}, {when}",
                                    "days",
                                    sub[key],
                                )
                            )
            cap = stage.get("window_cap")
            if isinstance(cap, Mapping):
                for key, label, unit in (
                    ("sessions", "at most", "sessions"),
                    ("days", "in any", "days"),
                ):
                    if _is_int(cap.get(key)):
                        fields.append(
                            RuleField(
                                f"{base}.stages[{i}].window_cap.{key}",
                                f"{stage_name}: doses {label}",
                                unit,
                                cap[key],
                            )
                        )
        if fields:
            yield RuleGroup(f"Protocol: {d.get('name', code)}", tuple(fields))


#: [eligibility]'s tables of a number per session type: key -> (label, unit).
_PER_TYPE = {
    "min_age_years": ("Youngest age", "years"),
    "prior_auth_units": ("Prior authorization units a session", "units"),
}


def _per_type_fields(
    key: str, table: Mapping[str, Any], type_names: Mapping[str, str]
) -> Iterator[RuleField]:
    """One field per session type, named by the session type's name (not its code)."""
    label, unit = _PER_TYPE.get(key, (_words(key), ""))
    for code, value in table.items():
        if _is_int(value):
            name = type_names.get(code, code)
            yield RuleField(f"eligibility.{key}.{code}", f"{label} for {name}", unit, value)


def _rules(raw: RawConfig) -> ClinicRules:
    return ClinicRules(tuple(_groups(raw)), level_groups(raw))


def read_rules(db: Database) -> ClinicRules:
    """The clinic rules as stored now, grouped for the form."""
    with db.read() as session:
        return _rules(read_raw_config(session))


_STEP = re.compile(r"([A-Za-z_0-9]+)|\[(\d+)\]")


def _document(raw: RawConfig, key: str) -> tuple[dict[str, Any], str]:
    """Which of the three documents a key lies in, and the key inside it."""
    first = key.split(".", 1)[0].split("[", 1)[0]
    if first == "session_types":
        return raw.session_types, key
    if first == "protocols":
        return raw.protocols, key
    return raw.clinic, key


def _set(doc: dict[str, Any], key: str, value: int) -> None:
    steps: list[str | int] = [name if name else int(index) for name, index in _STEP.findall(key)]
    node: Any = doc
    for step in steps[:-1]:
        node = node[step]
    last = steps[-1]
    fits = (isinstance(node, dict) and isinstance(last, str) and last in node) or (
        isinstance(node, list) and isinstance(last, int) and last < len(node)
    )
    if not fits:
        raise KeyError(key)
    container: Any = node
    container[last] = value


_SOURCES = (CLINIC_FILE, SESSION_TYPES_FILE, PROTOCOLS_FILE)


def _field_of(message: str, keys: list[str]) -> tuple[str, str]:
    """The field a loader message is about, and the message without its place."""
    text = message
    for source in _SOURCES:
        if text.startswith(f"{source}: "):
            text = text[len(source) + 2 :]
            break
    place, _, words = text.partition(": ")
    if not words:
        return "", message
    if place in keys:
        return place, words
    # A whole table's message (a stage, a phase list): the first changed field inside it.
    inside = [k for k in keys if k.startswith((place + ".", place + "["))]
    if inside:
        return inside[0], f"{place.rsplit('.', 1)[-1]}: {words}"
    return "", message


def save_rules(
    db: Database, actor: Actor, values: Mapping[str, int | str], *, now: dt.datetime | None = None
) -> int:
    """Save changed rule values (administrators only); returns how many entities changed.

    A value is a whole number, or a rule's level ("block", "warn", "off") at its
    ``<section>.<rule>`` key (``rule_levels``).

    The whole configuration with the new values goes through the loader's validation first:
    a mistake raises InvalidFields naming the field with the loader's own message, and
    nothing is saved.
    """
    require(actor, "configure", db, now=now)
    now = now or utcnow()
    with db.write() as session:
        raw = read_raw_config(session)
        new = RawConfig(
            copy.deepcopy(raw.clinic),
            copy.deepcopy(raw.session_types),
            copy.deepcopy(raw.protocols),
        )
        errors: dict[str, str] = {}
        levels = level_rules(raw)
        for key, value in values.items():
            if key in levels:
                if mistake := check_level(levels[key], value):
                    errors[key] = mistake
                else:
                    set_level(new.clinic, key, str(value))
                continue
            if not _is_int(value):
                errors[key] = f"must be a whole number, got {value!r}"
                continue
            doc, inner = _document(new, key)
            try:
                _set(doc, inner, cast("int", value))
            except (KeyError, IndexError, TypeError):
                errors[key] = "is not a rule of this clinic's configuration"
        if errors:
            raise InvalidFields(errors)
        try:
            build_catalog(new)
        except ConfigError as err:
            field, words = _field_of(str(err), list(values))
            raise InvalidFields({field: words}) from None
        # Each value the loader takes; then the thresholds against each other.
        if order := threshold_errors(new.clinic, list(values)):
            raise InvalidFields(order)
        return _write(session, actor, raw, new, now)


def _write(session: Session, actor: Actor, old: RawConfig, new: RawConfig, now: dt.datetime) -> int:
    changed = 0
    for key, value in new.clinic.items():
        if old.clinic.get(key) != value:
            row = session.get(ClinicSetting, key)
            if row is None:  # a section an older clinic lacks (a rule's level, set here)
                session.add(ClinicSetting(key=key, value=value, updated_at=now))
            else:
                row.value = value
                row.updated_at = now
            audit.record(
                session,
                actor,
                "update_rules",
                "setting",
                None,
                before={key: old.clinic.get(key)},
                after={key: value},
                detail=f"clinic rules: [{key}]",
                now=now,
            )
            changed += 1
    for model, entity, before_all, after_all in (
        (SessionType, "session_type", old.session_types, new.session_types),
        (Protocol, "protocol", old.protocols, new.protocols),
    ):
        section = entity + "s"
        for code, definition in after_all[section].items():
            if before_all[section].get(code) == definition:
                continue
            item = cast(
                "SessionType | Protocol | None",
                session.scalars(select(model).where(model.code == code)).first(),
            )
            assert item is not None
            item.definition = definition
            audit.record(
                session,
                actor,
                "update_rules",
                entity,
                item.id,
                before=before_all[section][code],
                after=definition,
                detail=f"clinic rules: {code}",
                now=now,
            )
            changed += 1
    if changed:
        changes.bump(session, now=now)
    return changed
