"""A phone number as typed into any form (a patient's, the clinic's own): one check, so the
number printed on every appointment card meets the same rule as a patient's.

North American numbers have 10 digits with the area code (optionally after a "1");
international ones start with + and have 8 to 15 digits (E.164).  ``display_phone`` is how every
screen and paper shows a stored number: "(555) 123-4567" for a US one, anything else as typed."""

from __future__ import annotations

import re

__all__ = ["NANP_DIGITS", "display_phone", "phone_problem"]

_PHONE_CHARS = re.compile(r"[0-9 +().\-]+")
# A phone number in the North American Numbering Plan: 10 digits, optionally after a "1".
NANP_DIGITS = 10
# E.164: an international number has at most 15 digits; 8 is the shortest in real use.
_INTL_DIGITS = (8, 15)


def phone_problem(text: str) -> str | None:
    """What is wrong with a phone number, in words, or None when it is a real one."""
    if not _PHONE_CHARS.fullmatch(text):
        return "a phone number has only digits, spaces and + ( ) - ."
    digits = re.sub(r"\D", "", text)
    if text.lstrip().startswith("+"):
        low, high = _INTL_DIGITS
        if not low <= len(digits) <= high:
            return f"an international number has {low} to {high} digits (this has {len(digits)})"
        return None
    if len(digits) == NANP_DIGITS + 1 and digits.startswith("1"):
        digits = digits[1:]
    if len(digits) != NANP_DIGITS:
        return (
            f"a phone number needs {NANP_DIGITS} digits with the area code "
            f"(this has {len(digits)}); start international numbers with +"
        )
    return None


def display_phone(text: str) -> str:
    """A stored phone number as the clinic reads it: "(555) 123-4567" for a 10-digit US number
    (also typed "555.123.4567", "5551234567" or "1-555-123-4567"); anything else as typed (an
    international "+44 ...", an extension, a note, a short number), only trimmed."""
    typed = text.strip()
    if not typed or typed.startswith("+") or not _PHONE_CHARS.fullmatch(typed):
        return typed
    digits = re.sub(r"\D", "", typed)
    if len(digits) == NANP_DIGITS + 1 and digits.startswith("1"):
        digits = digits[1:]
    if len(digits) != NANP_DIGITS:
        return typed
    return f"({digits[:3]}) {digits[3:6]}-{digits[6:]}"
