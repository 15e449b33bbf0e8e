"""The name the sign-in dialog suggests: the last user who signed in to *this* clinic here.

A workstation may open several clinics (the demo, a training copy, the real one): a name
remembered across them pre-filled one clinic's user in another's sign-in.  Each clinic has
its own last user in the user's settings, under a key made from the clinic file's absolute
path (or the server's address, never its password); and a remembered name is suggested only
when the clinic being opened has an active account of that name.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PySide6.QtCore import QSettings

    from ketadesk.services.common.context import Database

_GROUP = "session/last_user_by_clinic"


def clinic_of_file(path: Path) -> str:
    """A SQLite clinic as the remembered names know it: its file's absolute path."""
    return str(path.expanduser().resolve())


def clinic_of(db: Database) -> str:
    """An open clinic as the remembered names know it: its file's absolute path, or the
    server's address without the password (``Database.label``)."""
    path = db.sqlite_path
    return clinic_of_file(path) if path is not None else db.label


def _key(clinic: str) -> str:
    # Hashed: a settings key may hold neither slashes nor a server's address.
    return f"{_GROUP}/{hashlib.sha256(clinic.encode('utf-8')).hexdigest()[:24]}"


def last_user(settings: QSettings | None, clinic: str) -> str:
    """The last user who signed in to ``clinic`` on this workstation ("" if none)."""
    if settings is None:
        return ""
    return str(settings.value(_key(clinic), "") or "")


def remember_user(settings: QSettings | None, clinic: str, username: str) -> None:
    """Remember ``username`` as ``clinic``'s last user on this workstation."""
    if settings is not None:
        settings.setValue(_key(clinic), username)


def suggested_user(remembered: str, active_usernames: frozenset[str]) -> str:
    """``remembered`` when the clinic has an active account of that name (any case), else ""."""
    return remembered if remembered.strip().lower() in active_usernames else ""
