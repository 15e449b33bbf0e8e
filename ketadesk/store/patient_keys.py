"""How two patient charts are compared for duplicates: names without case, accents or extra
spaces, phone numbers as their digits, e-mail addresses without case.

In the store because the phone key is a column (kept by the model, indexed), so the duplicate
check is an index lookup; the services compare names with the same function.
"""

from __future__ import annotations

import re
import unicodedata

# A North American number written with its country code "1" is the same number without it.
_NANP_WITH_COUNTRY = 11


def name_key(text: str) -> str:
    """A name folded for comparison: lower case, accents dropped, runs of spaces, hyphens and
    apostrophes as one space ("O'Brien-Núñez" == "obrien nunez")."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    plain = re.sub(r"['’`]", "", plain)
    return " ".join(re.split(r"[\s\-.,]+", plain)).strip()


def phone_key(text: str) -> str:
    """A phone number as its digits, a US number without its leading country code."""
    digits = re.sub(r"\D", "", text or "")
    if len(digits) == _NANP_WITH_COUNTRY and digits.startswith("1"):
        digits = digits[1:]
    return digits


def email_key(text: str) -> str:
    return (text or "").strip().lower()
