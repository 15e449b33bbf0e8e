"""An early password check straight from a SQLite clinic file, before the clinic is open.

``ketadesk run`` shows the sign-in dialog before SQLAlchemy and the ORM models are loaded
(importing them takes longer than everything else on the way to the day).  When "Sign in" is
pressed before the clinic has opened, this reads the user's row with Python's own ``sqlite3``
(query-only, as ``services/schedule/sqlite_file.py`` reads the first day) and checks the
password against its argon2 hash, so the window can show the day at once.

It only ever says "yes" when that is safe, and it never writes: the full sign-in
(``accounts.sign_in``) still runs once the clinic is open and decides (the attempt claimed under
a lock, the audit trail, a re-hash).  Anything unusual is "ask the full sign-in": a file that is
not a plain SQLite clinic at the current schema, ``[security] disk_encryption = "require"`` (the
disk check comes first), an unknown, deactivated or password-less user, one who must choose a
new password, any failed attempts on record (the throttle is the full sign-in's), an unknown
role, or a wrong password.  So a wrong password is never answered here: it is counted and
slowed down by the full sign-in like any other.

Whatever the row says, exactly one argon2 computation is made once the file is readable (a
decoy for a username with no usable password), so the answer takes as long whether or not the
username exists, as ``accounts`` does.

This module, and what it imports at import time, stays clear of SQLAlchemy, the ORM models and
argon2 (argon2 is loaded by ``check``, on the worker that runs it).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from ketadesk.services.common.context import ROLES, Actor

#: The columns of ``app_user`` the check reads (``accounts.sign_in`` reads the same row).
USER_SQL = """
SELECT id, username, role, password_hash, active, failed_attempts, last_failed_at,
       must_change_password
FROM app_user
WHERE lower(username) = :name
"""


#: Whether an active account has the name (the remembered name's check).
ACTIVE_USER_SQL = "SELECT 1 FROM app_user WHERE lower(username) = :name AND active"


@dataclass(frozen=True)
class FileSignIn:
    """The early password check on one SQLite clinic file (see the module's docstring).

    Attributes:
        path: the clinic file.
    """

    path: Path

    @classmethod
    def of(cls, url: str) -> FileSignIn | None:
        """For a plain SQLite URL or path; None for any other database (no file is touched)."""
        from ketadesk.store.database import plain_sqlite_path

        path = plain_sqlite_path(url)
        return cls(path) if path is not None else None

    def check(self, username: str, password: str) -> Actor | None:
        """The user, when ``password`` is theirs and nothing stands in the way of their sign-in;
        None when the full sign-in must decide (which is also the answer to a wrong password).
        Never raises for a file it cannot read this way: that is None too."""
        from ketadesk.scheduling.catalog import ConfigError
        from ketadesk.store.database import StoreError

        name = username.strip().lower()
        try:
            found = self._read(name)
        except (StoreError, ConfigError, ValueError, sqlite3.Error):
            return None
        if found is None:
            return None
        row, memory_kib, time_cost, parallelism = found
        import argon2
        from argon2.exceptions import InvalidHashError, VerificationError

        stored = str(row["password_hash"] or "") if row is not None else ""
        if not stored:  # as slow as a real check: the answer says nothing about the username
            hasher = argon2.PasswordHasher(
                time_cost=time_cost,
                memory_cost=memory_kib,
                parallelism=parallelism,
                type=argon2.Type.ID,
            )
            hasher.hash(password)
            return None
        matches: bool
        try:
            # Before looking at the rest of the row: every known username costs one check.
            matches = argon2.PasswordHasher().verify(stored, password)
        except (VerificationError, InvalidHashError):
            matches = False
        if not matches or row is None or not _may_sign_in_at_once(row):
            return None
        return Actor(user_id=int(row["id"]), username=str(row["username"]), role=str(row["role"]))

    def knows(self, username: str) -> bool:
        """Whether the file has an active account named ``username`` (any case), read at once
        with ``sqlite3`` (start-up asks before its sign-in dialog shows: the remembered name
        is suggested only then); False when the file cannot be read so."""
        from ketadesk.store.database import StoreError, read_sqlite_file

        name = username.strip().lower()
        if not name:
            return False
        try:
            with read_sqlite_file(self.path) as conn:
                row = conn.execute(ACTIVE_USER_SQL, {"name": name}).fetchone()
        except (StoreError, OSError, ValueError, sqlite3.Error):
            return False
        return row is not None

    def _read(self, name: str) -> tuple[sqlite3.Row | None, int, int, int] | None:
        """The user's row (None: no such user) and the clinic's argon2 parameters; None when
        the clinic must be opened first (its schema, its disk-encryption policy)."""
        from ketadesk.services.schedule.day_rows import Queries, read_catalog
        from ketadesk.store.database import read_sqlite_file
        from ketadesk.store.migrate import REVISION_SQL, SchemaState, state_of_revision

        with read_sqlite_file(self.path) as conn:
            revision = conn.execute(REVISION_SQL).fetchone()
            if revision is None or state_of_revision(revision[0]) is not SchemaState.CURRENT:
                return None
            fetch = conn.execute
            catalog = read_catalog(
                Queries(lambda sql, params: fetch(sql, params).fetchall(), sqlite=True)
            )
            if catalog.settings.disk_encryption == "require":
                return None  # the disk is checked before anyone signs in: the full way
            conn.row_factory = sqlite3.Row
            row = conn.execute(USER_SQL, {"name": name}).fetchone()
        accounts = catalog.settings.accounts
        return (
            row,
            accounts.argon2_memory_kib,
            accounts.argon2_time_cost,
            accounts.argon2_parallelism,
        )


def _may_sign_in_at_once(row: sqlite3.Row) -> bool:
    """Whether the full sign-in, given the right password, would let this row in as it is:
    active, no failures on record, no new password to choose, a role KetaDesk knows."""
    return (
        bool(row["active"])
        and not row["failed_attempts"]
        and row["last_failed_at"] is None
        and not row["must_change_password"]
        and row["role"] in ROLES
    )
