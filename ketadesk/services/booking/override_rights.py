"""Who may set a rule aside with a reason: one answer for every step that books or moves a
session (the booking dialog, a drop, the make-up, the waitlist's offer, confirming a pencilled-in
hold), asked by the services that write and by the screens that offer the override.

A warn-level rule about the patient's own plans (``protocol_rules.DESK_RULES``: a day they are
away) is no clinical decision: whoever may make the change (book, move) may go past it with a
reason.  Every other rule keeps its role gate: the permission to override gates
(``override_gate``, a nurse or prescriber) and, where the protocol rules engine judges the
step, one of ``[protocol_rules] override_roles``.  Block-level rules are never set aside; that
is the caller's filter, not this module's.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable

from ketadesk.scheduling.protocol_rules import DESK_RULES
from ketadesk.scheduling.words import a_or_an, role_name
from ketadesk.services.access.permissions import require
from ketadesk.services.common.context import PERMISSIONS, Actor, Database, may

#: Who may override a rule about the patient's own plans, in words.
DESK_OVERRIDERS = "whoever books or moves it"


def clinical(rules: Iterable[str]) -> list[str]:
    """The rules of ``rules`` that are clinical decisions (not the patient's own plans)."""
    return [r for r in rules if r not in DESK_RULES]


def may_override(
    actor: Actor, rules: Iterable[str], override_roles: Collection[str] | None = None
) -> bool:
    """Whether ``actor`` may set ``rules`` aside with a reason (given that it may make the
    change at all).  ``override_roles``: the clinic's ``[protocol_rules] override_roles`` when
    the step's refusal came from the protocol rules engine (None: the permission alone)."""
    rest = clinical(rules)
    if not rest:
        return True
    if not may(actor, "override_gate"):
        return False
    return override_roles is None or actor.role in override_roles


def require_override(
    actor: Actor, rules: Iterable[str], db: Database, *, now: dt.datetime | None = None
) -> None:
    """Refuse (``PermissionDenied``, recorded in the audit trail) an override of a clinical
    rule by a role without the permission to override gates; the patient's own plans pass."""
    if clinical(rules):
        require(actor, "override_gate", db, now=now)


def clinical_overriders() -> str:
    """Who may override a clinical rule, in words: "a nurse or prescriber"."""
    names = [role_name(role) for role in sorted(PERMISSIONS.get("override_gate", ()))]
    if not names:
        return "nobody"
    roles = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
    return a_or_an(roles)


def who_may_override(rules: Iterable[str]) -> str:
    """Who may set ``rules`` aside, in words: "whoever books or moves it" when none of them is
    clinical, else "a nurse or prescriber"."""
    return clinical_overriders() if clinical(rules) else DESK_OVERRIDERS
