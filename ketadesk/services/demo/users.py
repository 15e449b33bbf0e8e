"""Sign-in passwords for the demo clinic's users: one documented password per role.

Every demo user's password is ``demo-<role>`` with the role as in its first user's name:
``demo-admin``, ``demo-frontdesk``, ``demo-nurse``, ``demo-prescriber``, ``demo-therapist``
(each nurse signs in with ``demo-nurse``, and so on).  DEMO ONLY: these hashes use argon2id
with deliberately cheap parameters, so that building a demo stays fast; the first real
sign-in re-hashes the password with the full parameters (``accounts.sign_in``).  A real clinic
never gets these passwords.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, MutableMapping
from typing import Any

from argon2.low_level import Type, hash_secret

# The short name each role's password (and its first user's username) uses.
ROLE_WORDS = {
    "admin": "admin",
    "front_desk": "frontdesk",
    "nurse": "nurse",
    "prescriber": "prescriber",
    "therapist": "therapist",
}

# DEMO ONLY: about a millisecond a hash instead of the default's tens of milliseconds, and a
# salt derived from the password, so that the same seed builds the very same demo file.  Never
# for a real password: a fixed salt lets one precomputed table serve every clinic.
_DEMO_COST = {"time_cost": 1, "memory_cost": 1024, "parallelism": 1, "hash_len": 32}


def demo_password(role: str) -> str:
    return f"demo-{ROLE_WORDS[role]}"


def _demo_hash(password: str) -> str:
    salt = hashlib.sha256(b"ketadesk demo salt:" + password.encode()).digest()[:16]
    return hash_secret(password.encode(), salt, type=Type.ID, **_DEMO_COST).decode("ascii")


def set_demo_passwords(user_rows: Iterable[MutableMapping[str, Any]]) -> None:
    """Give each user row (``role``, ``password_hash``) its role's demo password, hashing each
    distinct password once."""
    hashes: dict[str, str] = {}
    for row in user_rows:
        password = demo_password(row["role"])
        if password not in hashes:
            hashes[password] = _demo_hash(password)
        row["password_hash"] = hashes[password]
