"""How hard each clinic rule stops a step: "block", "warn" or "off", for Settings ▸ Clinic rules.

The levels live in the clinic's stored ``clinic.toml`` sections (``[gating] <rule>``,
``[protocol_rules] <code>``, ``[chair] <group>``, ``[urgent_review] dosing``; docs/RULES.md).
This module lists them with their titles, the levels each one takes (the loader's own tuples,
less "off" for a clinical safety rule, ``catalog.SAFETY_RULES``) and what each level means for
who may go ahead, so the settings page holds no rule.  A save goes through ``rules.save_rules``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ketadesk.config import CLINIC_FILE, RawConfig
from ketadesk.scheduling import chair_rules, gating, protocol_rules
from ketadesk.scheduling.catalog import GATING_LEVELS, GATING_RULES, allowed_levels
from ketadesk.scheduling.safety_followups import DOSING_POLICIES
from ketadesk.scheduling.words import a_or_an, role_name
from ketadesk.services.common.context import PERMISSIONS

_LABELS = {"block": "Block", "warn": "Warn", "off": "Off"}

#: [chair]'s policies, each a group of the chair's rules (scheduling/chair_rules.py RULES).
_CHAIR_TITLES = {
    "pre_dose_bp": "Pre-dose BP and its hard stop",
    "dose": "Dose (devices, allowed, start, step)",
    "discharge": "Discharge (observation, readings, effects)",
}
assert set(_CHAIR_TITLES) == {policy for _, policy in chair_rules.RULES.values()}


@dataclass(frozen=True)
class LevelChoice:
    """One level a rule may take: its stored value, its word, and who may go ahead at it."""

    value: str
    label: str
    meaning: str


@dataclass(frozen=True)
class RuleLevel:
    """One rule's level: ``key`` is ``<section>.<rule>`` of clinic.toml (the field's name in
    InvalidFields); ``level`` is "" when the stored value is none of ``choices`` (``problem``
    then names the key and the value)."""

    key: str
    title: str
    level: str
    choices: tuple[LevelChoice, ...]
    problem: str = ""

    def meaning(self, level: str) -> str:
        return next((c.meaning for c in self.choices if c.value == level), "")


@dataclass(frozen=True)
class LevelGroup:
    title: str
    rules: tuple[RuleLevel, ...]


def _roles(roles: Iterable[Any]) -> str:
    words = [role_name(str(r)) for r in roles]
    if not words:
        return "nobody"
    if len(words) == 1:
        return a_or_an(words[0])
    return a_or_an(", ".join(words[:-1]) + f" or {words[-1]}")


def _section(raw: RawConfig, name: str) -> Mapping[str, Any]:
    data = raw.clinic.get(name)
    return data if isinstance(data, Mapping) else {}


def _choices(levels: Sequence[str], meanings: Mapping[str, str]) -> tuple[LevelChoice, ...]:
    return tuple(LevelChoice(v, _LABELS.get(v, v.title()), meanings[v]) for v in levels)


def _rule(
    section: str,
    rule: str,
    title: str,
    stored: Mapping[str, Any],
    default: str,
    levels: tuple[LevelChoice, ...],
) -> RuleLevel:
    key = f"{section}.{rule}"
    offered = allowed_levels(key, [c.value for c in levels])
    choices = tuple(c for c in levels if c.value in offered)
    value = stored.get(rule, default)
    if value in offered:
        return RuleLevel(key, title, str(value), choices)
    problem = (
        f"{CLINIC_FILE}: {key}: the stored {value!r} is not one of {', '.join(offered)}; choose one"
    )
    return RuleLevel(key, title, "", choices, problem)


def level_groups(raw: RawConfig) -> tuple[LevelGroup, ...]:
    """Every rule's level, by section, as stored in ``raw`` (a missing rule at its default)."""
    gate_roles = _roles(sorted(PERMISSIONS["override_gate"]))
    gates = _choices(
        GATING_LEVELS,
        {
            "block": "Refused; nobody may override",
            "warn": f"Refused until {gate_roles} gives a reason",
            "off": "Not checked",
        },
    )
    stored_gates = _section(raw, "gating")
    eligibility = LevelGroup(
        "Eligibility: how hard each item stops a booking, a move or a start",
        tuple(
            _rule(
                "gating",
                rule,
                gating.RULE_TITLES[rule],
                stored_gates,
                gating.ELIGIBILITY_GATING.get(rule, "block"),
                gates,
            )
            for rule in GATING_RULES
        ),
    )
    stored_protocol = _section(raw, protocol_rules.SECTION)
    protocol_roles = _roles(
        stored_protocol.get(
            "override_roles", protocol_rules.PROTOCOL_RULE_DEFAULTS["override_roles"]
        )
    )
    severities = _choices(
        protocol_rules.SEVERITIES,
        {
            "block": "Refused; nobody may override",
            "warn": f"Refused until {protocol_roles} gives a reason",
            "off": "Not checked",
        },
    )
    protocol = LevelGroup(
        "Protocol and moves: how hard each rule stops a change",
        tuple(
            _rule(
                protocol_rules.SECTION,
                code,
                f"{protocol_rules.RULE_TITLES[code]} ({code})",
                stored_protocol,
                str(protocol_rules.PROTOCOL_RULE_DEFAULTS[code]),
                severities,
            )
            for code in protocol_rules.PROTOCOL_RULES
        ),
    )
    stored_chair = _section(raw, "chair")
    chair_roles = _roles(
        stored_chair.get("override_roles", chair_rules.CHAIR_DEFAULTS["override_roles"])
    )
    policies = _choices(
        chair_rules.POLICIES,
        {
            "block": f"Refused until {chair_roles} gives a reason on the record",
            "warn": "Allowed, with a warning on the record",
            "off": "Not checked",
        },
    )
    chair = LevelGroup(
        "In the chair: how hard each group of rules stops a dose or a discharge",
        tuple(
            _rule(
                "chair",
                policy,
                title,
                stored_chair,
                str(chair_rules.CHAIR_DEFAULTS[policy]),
                policies,
            )
            for policy, title in _CHAIR_TITLES.items()
        ),
    )
    stored_review = _section(raw, "urgent_review")
    close_roles = _roles(stored_review.get("close_roles", ["prescriber"]))
    dosing = _choices(
        DOSING_POLICIES,
        {
            "block": f"Refused until {close_roles} closes the review",
            "warn": "Allowed, with a warning",
            "off": "Not checked",
        },
    )
    review = LevelGroup(
        "Urgent reviews",
        (
            _rule(
                "urgent_review",
                "dosing",
                "Dosing while a review stands",
                stored_review,
                "block",
                dosing,
            ),
        ),
    )
    return (eligibility, protocol, chair, review)


def level_rules(raw: RawConfig) -> dict[str, RuleLevel]:
    return {r.key: r for g in level_groups(raw) for r in g.rules}


def check_level(rule: RuleLevel, value: object) -> str:
    """The mistake in setting ``rule`` to ``value``, or ""."""
    if isinstance(value, str) and value in {c.value for c in rule.choices}:
        return ""
    return f"must be one of {', '.join(c.label for c in rule.choices)}, got {value!r}"


def set_level(clinic: dict[str, Any], key: str, value: str) -> None:
    """Write ``value`` at ``key`` (``<section>.<rule>``) of a clinic document, adding the rule
    or its section when an older clinic lacks them."""
    section, _, rule = key.partition(".")
    table = clinic.get(section)
    clinic[section] = {**(table if isinstance(table, Mapping) else {}), rule: value}
