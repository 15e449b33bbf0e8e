"""Roles in the words people read: "Only an administrator may view the audit trail", never
"an admin" (a user trial read the role's code), and each role as the users page names it."""

from __future__ import annotations

import re

from ketadesk.scheduling.protocol_rules import ProtocolRuleSettings
from ketadesk.scheduling.words import a_or_an, role_label, role_name
from ketadesk.services.access.permissions import unassigned_refusal
from ketadesk.services.common.context import PERMISSIONS, ROLES, Actor, who_may
from ketadesk.services.settings.rule_levels import _roles


def test_who_may_names_every_role_by_its_display_name() -> None:
    assert who_may("view_audit") == "Only an administrator may view the audit trail"
    assert who_may("start") == (
        "Only an administrator, nurse, prescriber or therapist may start a session"
    )
    for action in PERMISSIONS:
        said = who_may(action)
        assert not re.search(r"\badmin\b", said), said
        assert "_" not in said, said


def test_each_role_has_its_display_name_in_sentences_and_lists() -> None:
    assert [role_name(r) for r in ROLES] == [
        "administrator",
        "prescriber",
        "nurse",
        "therapist",
        "front desk",
    ]
    assert role_label("admin") == "Administrator"
    assert role_label("front_desk") == "Front desk"
    assert a_or_an(role_name("admin")) == "an administrator"
    assert a_or_an(role_name("nurse")) == "a nurse"


def test_who_may_override_a_rule_says_administrator() -> None:
    rules = ProtocolRuleSettings(severity={}, override_roles=("admin", "nurse"))
    assert rules.who_may_override() == "an administrator or a nurse"
    assert _roles(["admin", "prescriber"]) == "an administrator or prescriber"
    assert _roles(["admin"]) == "an administrator"


def test_a_therapist_refused_another_s_session_is_told_by_role_name() -> None:
    therapist = Actor(user_id=None, username="sam", role="therapist")
    refusal = unassigned_refusal(therapist, "start", 7, {1}, 2)
    assert refusal is not None
    assert str(refusal).startswith("A therapist may start only their own sessions")
