"""Counts and roles in words as the desk reads them: "no sessions", "1 session", "2
sessions", never "0 session(s)"; "an administrator", never "an admin"."""

from __future__ import annotations

__all__ = ["ROLE_NAMES", "a_or_an", "counted", "role_label", "role_name"]

#: Each role as a sentence names it (a user trial read "Only an admin may ..." as a code): the
#: role's display name, "Administrator" on the users page, in lower case.
ROLE_NAMES = {
    "admin": "administrator",
    "prescriber": "prescriber",
    "nurse": "nurse",
    "therapist": "therapist",
    "front_desk": "front desk",
}


def counted(n: int, word: str, plural: str | None = None, *, zero: str = "no") -> str:
    """``n`` ``word``s in words: "no sessions", "1 session", "3 patients" (``plural`` for a word
    that does not take an "s", ``zero`` for what 0 reads as)."""
    many = plural if plural is not None else f"{word}s"
    if n == 0:
        return f"{zero} {many}"
    return f"{n} {word if n == 1 else many}"


def role_name(role: str) -> str:
    """A role as a sentence says it: "administrator", "front desk" (a role not listed reads
    as its code, spaced)."""
    return ROLE_NAMES.get(role, role.replace("_", " "))


def role_label(role: str) -> str:
    """A role as a list or a heading shows it: "Administrator", "Front desk"."""
    return role_name(role).capitalize()


def a_or_an(words: str) -> str:
    """ "an administrator", "a nurse": the article the words take."""
    return f"{'an' if words[:1].lower() in 'aeiou' else 'a'} {words}"
