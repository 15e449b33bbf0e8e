"""Who is acting, what they may do, and the errors services report.

Every service call takes an ``Actor``; permissions are checked in the services (with
``access/permissions.require``), so a role the UI forgot to hide is still refused.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

# Re-exported for the ui layer, which may not import the store: views hold a Database only to
# hand it back to the services.
from ketadesk.scheduling.words import a_or_an, role_name
from ketadesk.store.database import Database

__all__ = [
    "SYSTEM",
    "Actor",
    "Database",
    "InvalidFields",
    "InvalidRequest",
    "NotFound",
    "PermissionDenied",
    "ServiceError",
    "may",
    "utcnow",
]

ROLES = ("admin", "prescriber", "nurse", "therapist", "front_desk")


@dataclass(frozen=True, slots=True)
class Actor:
    """The signed-in user a service acts for."""

    user_id: int | None
    username: str
    role: str


# Command-line tools and the demo builder act as the system administrator.
SYSTEM = Actor(user_id=None, username="system", role="admin")

# What each role may do.  Actions not listed are open to every signed-in user.
PERMISSIONS: dict[str, frozenset[str]] = {
    "book": frozenset({"admin", "front_desk", "nurse", "prescriber"}),
    "move": frozenset({"admin", "front_desk", "nurse", "prescriber"}),
    "cancel": frozenset({"admin", "front_desk", "nurse", "prescriber"}),
    "check_in": frozenset({"admin", "front_desk", "nurse", "prescriber"}),
    "no_show": frozenset({"admin", "front_desk", "nurse", "prescriber"}),
    "start": frozenset({"admin", "nurse", "prescriber", "therapist"}),
    "complete": frozenset({"admin", "nurse", "prescriber", "therapist"}),
    "override_gate": frozenset({"nurse", "prescriber"}),
    # Patients: front desk keeps contact details; clinicians keep the clinical gating facts.
    "register_patient": frozenset({"admin", "front_desk", "nurse", "prescriber"}),
    "edit_patient_contact": frozenset({"admin", "front_desk", "nurse", "prescriber"}),
    "edit_patient_clinical": frozenset({"nurse", "prescriber"}),
    # Merging two charts of one person moves a whole clinical history: the administrator's.
    "merge_patients": frozenset({"admin"}),
    # After the session.  Who may work a given follow-up also depends on its kind (a clinical
    # call is for nurses and prescribers; the front desk makes the non-clinical ones).
    "work_follow_up": frozenset({"admin", "front_desk", "nurse", "prescriber", "therapist"}),
    "record_monitoring": frozenset({"nurse", "prescriber"}),
    "enter_measure": frozenset({"nurse", "prescriber", "therapist"}),
    "integration_note": frozenset({"therapist", "prescriber"}),
    # The waitlist (ASAP list) is the front desk's: who waits for a place, and offering it.
    "manage_waitlist": frozenset({"admin", "front_desk"}),
    # Confirming the coming visits by phone and ticking their pre-visit checklist.
    "confirm_visits": frozenset({"admin", "front_desk", "nurse"}),
    # Late-cancellation and no-show fees: the desk reads the list; waiving one is a decision
    # about money, the administrator's or a prescriber's, with a reason.
    "view_fees": frozenset({"admin", "front_desk", "nurse", "prescriber"}),
    "waive_fee": frozenset({"admin", "prescriber"}),
    # Reading clinical data: screening, consent, REMS enrolment and contraindications, outcome
    # measures (PHQ-9 answers and scores), monitoring records and printed session records.
    # The clinicians who act on it, and the administrator, who answers for the record (REMS
    # audits, patients' requests for their records; the command line acts as administrator).
    # The front desk sees contact details and the schedule, not the clinical part.  Every
    # such read is recorded in the audit trail ("view").
    "read_clinical": frozenset({"admin", "nurse", "prescriber", "therapist"}),
    # Administration.
    "manage_users": frozenset({"admin"}),
    "configure": frozenset({"admin"}),
    "view_audit": frozenset({"admin"}),
    "backup": frozenset({"admin"}),
}


class ServiceError(Exception):
    """A refusal or failure worth showing to the user as it is."""


class PermissionDenied(ServiceError):
    """A role asked for an action it may not take; ``actor`` and ``action`` say which."""

    def __init__(self, message: str, *, actor: Actor | None = None, action: str = "") -> None:
        super().__init__(message)
        self.actor = actor
        self.action = action
        self.audited = False  # set once the refusal is in the audit trail


class NotFound(ServiceError):
    pass


class InvalidRequest(ServiceError):
    pass


class InvalidFields(InvalidRequest):
    """A form with mistakes: ``errors`` maps each bad field's name to what is wrong with it,
    so the UI can mark the field; nothing was saved."""

    def __init__(self, errors: dict[str, str]) -> None:
        self.errors = dict(errors)
        super().__init__("; ".join(f"{name}: {message}" for name, message in self.errors.items()))


def may(actor: Actor, action: str) -> bool:
    """Whether ``actor``'s role may take ``action`` (for the UI, to hide what would be refused)."""
    allowed = PERMISSIONS.get(action)
    return allowed is None or actor.role in allowed


def who_may(action: str, doing: str = "") -> str:
    """Who may take ``action``, in words for a disabled menu item's tooltip and for the
    refusal itself: "Only an administrator, nurse, prescriber or therapist may start a
    session" (each role by its display name, ``words.role_name``).
    ``doing`` says what the action is for in this place ("move these sessions against the
    protocol's spacing"), where the action's own words would be too general."""
    allowed = PERMISSIONS.get(action)
    if allowed is None:
        return ""
    names = [role_name(role) for role in sorted(allowed)]
    roles = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
    return f"Only {a_or_an(roles)} may {doing or action_words(action)}"


def action_words(action: str) -> str:
    """An action as a sentence says it ("check a patient in"): every action of
    ``PERMISSIONS`` has its words, and one not listed reads as its code, spaced."""
    return _ACTION_WORDS.get(action, action.replace("_", " "))


#: How ``who_may`` and a refusal say each action (its code reads badly to a person).
_ACTION_WORDS = {
    "book": "book sessions",
    "move": "move sessions",
    "check_in": "check a patient in",
    "start": "start a session",
    "complete": "complete a session",
    "no_show": "mark a no-show",
    "cancel": "cancel a session",
    "override_gate": "go ahead against the clinic's rules with a reason",
    "register_patient": "register a patient",
    "edit_patient_contact": "edit a patient's details",
    "edit_patient_clinical": "edit a patient's clinical details",
    "merge_patients": "merge two charts",
    "work_follow_up": "work a follow-up",
    "record_monitoring": "keep a monitoring record",
    "enter_measure": "enter an outcome measure",
    "integration_note": "write an integration note",
    "manage_waitlist": "manage the waitlist",
    "confirm_visits": "confirm visits",
    "view_fees": "see the fees",
    "waive_fee": "waive a fee",
    "read_clinical": "read clinical records",
    "manage_users": "manage user accounts",
    "configure": "change the clinic's settings",
    "view_audit": "view the audit trail",
    "backup": "back up or restore the clinic's data",
}


def utcnow() -> dt.datetime:
    """The wall clock, read only at the service boundary; logic below takes ``now`` as input."""
    return dt.datetime.now(dt.UTC)
