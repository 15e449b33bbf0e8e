"""User accounts: the first administrator, users and passwords, signing in and unlocking.

Passwords are kept as argon2id hashes (argon2-cffi); the plain text is never stored, logged
or audited.  Repeated wrong passwords slow further attempts down: after the clinic's
``[accounts] free_failures`` the next attempt must wait ``failure_delay_seconds``, doubling
with every further failure up to ``failure_delay_max_seconds``.  A refused attempt is answered
"try again in N s" at once rather than by sleeping, so nothing blocks.  The messages never say
whether a username exists, and an unknown username is slowed down the same way (its failures
are counted from the audit trail, as there is no user row to count them in).

An attempt claims its place before its password is checked: in one short write transaction it
reads the failures so far under a lock (the user's row; for an unknown username, a lock on the
name), refuses if the wait is not over, and otherwise counts itself as a failure at once.  Only
then is the slow hash checked, outside any transaction, and a right password resets the count.
So guesses sent all at once queue on that lock and are judged one after another.

Every sign-in, failure, refusal and account change is an audit event.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import NoReturn

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session

from ketadesk.scheduling.catalog import AccountSettings
from ketadesk.services.access import audit
from ketadesk.services.access.permissions import require
from ketadesk.services.clinic.at_rest import NOT_CHECKED, ClinicAtRest, clinic_at_rest
from ketadesk.services.common.context import (
    ROLES,
    Actor,
    Database,
    InvalidFields,
    InvalidRequest,
    NotFound,
    ServiceError,
    utcnow,
)
from ketadesk.store import changes
from ketadesk.store.clinic_config import load_catalog
from ketadesk.store.models import AuditEvent, Resource, StaffMember, User

__all__ = [
    "SignInRefused",
    "StaffChoice",
    "UserInfo",
    "account_settings",
    "change_role",
    "choose_new_password",
    "clinic_name",
    "create_first_admin",
    "create_user",
    "deactivate_user",
    "link_staff",
    "list_staff_choices",
    "list_users",
    "needs_first_admin",
    "password_change_required",
    "password_problem",
    "reactivate_user",
    "require_new_password",
    "reset_password",
    "set_password",
    "sign_in",
    "update_user",
    "verify_password",
]

WRONG = "wrong username or password"
_USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_USERNAME_MAX = 64  # the column's width
_DISPLAY_MAX = 120


class SignInRefused(ServiceError):
    """A sign-in or unlock that did not succeed: a wrong password, or too many of them.

    ``retry_after`` is the number of seconds to wait before the next attempt (0: at once).
    """

    def __init__(self, message: str, retry_after: int = 0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class UserInfo:
    id: int
    username: str
    display_name: str
    role: str
    staff_id: int | None
    active: bool
    has_password: bool
    must_change_password: bool = False
    staff_name: str = ""  # the linked staff member's name, "" when none


@dataclass(frozen=True, slots=True)
class StaffChoice:
    """A staff member a user can be linked to; ``user_id`` is the user linked now, if any."""

    id: int
    name: str
    role: str
    active: bool
    user_id: int | None


@dataclass(frozen=True, slots=True)
class _Account:
    """What signing in needs of a user row, read in one transaction and used after it."""

    id: int
    username: str
    role: str
    usable: bool  # active and with a password
    password_hash: str

    @classmethod
    def of(cls, user: User) -> _Account:
        return cls(
            id=user.id,
            username=user.username,
            role=user.role,
            usable=user.active and bool(user.password_hash),
            password_hash=user.password_hash,
        )


def _hasher(settings: AccountSettings) -> PasswordHasher:
    """argon2id with the clinic's ``[accounts] argon2_*`` parameters."""
    return _hasher_for(
        settings.argon2_memory_kib, settings.argon2_time_cost, settings.argon2_parallelism
    )


@cache
def _hasher_for(memory_kib: int, time_cost: int, parallelism: int) -> PasswordHasher:
    return PasswordHasher(
        time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism, type=Type.ID
    )


@cache
def _verifier() -> PasswordHasher:
    return PasswordHasher()


@cache
def _decoy_hash(memory_kib: int, time_cost: int, parallelism: int) -> str:
    # Verified against when the username is unknown, so that both answers take as long: hashed
    # with the clinic's parameters, as its users' passwords are.
    hasher = _hasher_for(memory_kib, time_cost, parallelism)
    return hasher.hash("no such user: a decoy to keep the timing even")


def hash_password(password: str, settings: AccountSettings) -> str:
    """The argon2id hash of ``password`` with the clinic's parameters (``[accounts]``)."""
    return _hasher(settings).hash(password)


def needs_rehash(stored: str, settings: AccountSettings) -> bool:
    """Whether a stored hash was made with parameters other than the clinic's (or another
    argon2 variant): the next successful sign-in re-hashes it."""
    try:
        return _hasher(settings).check_needs_rehash(stored)
    except InvalidHashError:
        return True


def _settings(session: Session) -> AccountSettings:
    return load_catalog(session).settings.accounts


# --------------------------------------------------------------------------------------------
# Validation


def normalize_username(text: str) -> str:
    return text.strip().lower()


def password_problem(password: str, settings: AccountSettings, *, username: str = "") -> str:
    """What is wrong with a new password ("" when nothing)."""
    if len(password) < settings.min_password_length:
        return f"must be at least {settings.min_password_length} characters long"
    if not password.strip():
        return "cannot be only spaces"
    if username and password.strip().lower() == username.lower():
        return "cannot be the username"
    return ""


def _check_new_user(
    session: Session,
    settings: AccountSettings,
    username: str,
    display_name: str,
    password: str,
    role: str,
    *,
    password_again: str | None = None,
) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not username:
        errors["username"] = "is required"
    elif len(username) > _USERNAME_MAX:
        errors["username"] = f"must be at most {_USERNAME_MAX} characters"
    elif not _USERNAME_RE.match(username):
        errors["username"] = (
            "may hold only letters, digits, dots, dashes and underscores, starting with a letter "
            "or digit"
        )
    elif session.scalar(select(User.id).where(func.lower(User.username) == username)):
        errors["username"] = f"{username!r} is already taken"
    if not display_name.strip():
        errors["display_name"] = "is required"
    elif len(display_name.strip()) > _DISPLAY_MAX:
        errors["display_name"] = f"must be at most {_DISPLAY_MAX} characters"
    if role not in ROLES:
        errors["role"] = f"must be one of {', '.join(ROLES)}"
    problem = password_problem(password, settings, username=username)
    if problem:
        errors["password"] = problem
    elif password_again is not None and password_again != password:
        errors["password_again"] = "does not match the password"
    return errors


def _snapshot(user: User) -> dict[str, object]:
    # Never the hash: the audit trail says that a password changed, not what it became.
    return {
        "username": user.username,
        "display_name": user.display_name,
        "role": user.role,
        "staff_id": user.staff_id,
        "active": user.active,
        "password_set": bool(user.password_hash),
        "must_change_password": bool(user.must_change_password),
    }


def _info(user: User, staff_name: str = "") -> UserInfo:
    return UserInfo(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=user.role,
        staff_id=user.staff_id,
        active=user.active,
        has_password=bool(user.password_hash),
        must_change_password=bool(user.must_change_password),
        staff_name=staff_name,
    )


def _actor(user: User | _Account) -> Actor:
    return Actor(user_id=user.id, username=user.username, role=user.role)


# --------------------------------------------------------------------------------------------
# Accounts


def needs_first_admin(db: Database) -> bool:
    """True for a new clinic: no active user can sign in yet, so an administrator is needed."""
    with db.read() as session:
        return not session.scalar(
            select(func.count())
            .select_from(User)
            .where(User.active.is_(True), User.password_hash != "")
        )


def create_first_admin(
    db: Database,
    username: str,
    display_name: str,
    password: str,
    *,
    password_again: str | None = None,
    now: dt.datetime | None = None,
) -> Actor:
    """Create the clinic's first administrator and return it, signed in.

    Only while no active user with a password exists (InvalidRequest otherwise); mistakes in
    the form are reported per field (InvalidFields: username, display_name, password,
    password_again).
    """
    now = now or utcnow()
    username = normalize_username(username)
    # Hashed before the transaction: the slow hash must not hold the write lock.
    new_hash = hash_password(password, account_settings(db))
    with db.write() as session:
        if session.scalar(
            select(func.count())
            .select_from(User)
            .where(User.active.is_(True), User.password_hash != "")
        ):
            raise InvalidRequest("this clinic already has users; an administrator must add you")
        settings = _settings(session)
        errors = _check_new_user(
            session,
            settings,
            username,
            display_name,
            password,
            "admin",
            password_again=password_again,
        )
        if errors:
            raise InvalidFields(errors)
        user = User(
            username=username,
            display_name=display_name.strip(),
            role="admin",
            password_hash=new_hash,
            active=True,
            failed_attempts=0,
            created_at=now,
        )
        session.add(user)
        session.flush()
        actor = _actor(user)
        audit.record(session, actor, "create_user", "user", user.id, after=_snapshot(user), now=now)
        return actor


def create_user(
    db: Database,
    actor: Actor,
    username: str,
    display_name: str,
    role: str,
    password: str,
    *,
    staff_id: int | None = None,
    must_change_password: bool = False,
    now: dt.datetime | None = None,
) -> UserInfo:
    """Add a user (administrators only); per-field mistakes raise InvalidFields.  With
    ``must_change_password`` the password is a one-time one: the first sign-in asks for a new
    one."""
    require(actor, "manage_users", db, now=now)
    now = now or utcnow()
    username = normalize_username(username)
    new_hash = hash_password(password, account_settings(db))  # before the transaction, as above
    with db.write() as session:
        errors = _check_new_user(
            session, _settings(session), username, display_name, password, role
        )
        staff_problem = _staff_problem(session, staff_id, None)
        if staff_problem:
            errors["staff_id"] = staff_problem
        if errors:
            raise InvalidFields(errors)
        user = User(
            username=username,
            display_name=display_name.strip(),
            role=role,
            password_hash=new_hash,
            staff_id=staff_id,
            active=True,
            failed_attempts=0,
            created_at=now,
            must_change_password=must_change_password,
        )
        session.add(user)
        session.flush()
        audit.record(session, actor, "create_user", "user", user.id, after=_snapshot(user), now=now)
        changes.bump(session, now)
        return _info(user, _staff_name(session, user.staff_id))


def set_password(
    db: Database,
    actor: Actor,
    user_id: int,
    new_password: str,
    *,
    current_password: str | None = None,
    now: dt.datetime | None = None,
) -> None:
    """Change a password: an administrator for anyone, a user for themselves (with the current
    password).  Clears the failed attempts."""
    now = now or utcnow()
    own = actor.user_id == user_id
    if not own:
        require(actor, "manage_users", db, now=now)
    with db.read() as session:
        user = session.get(User, user_id)
        if user is None:
            raise NotFound(f"no user #{user_id}")
        settings = _settings(session)
        stored = user.password_hash
        username = user.username
    if (
        own
        and actor.role != "admin"
        and (current_password is None or not _matches(stored, current_password))
    ):
        raise InvalidFields({"current_password": "is not your current password"})
    problem = password_problem(new_password, settings, username=username)
    if problem:
        raise InvalidFields({"password": problem})
    new_hash = hash_password(new_password, settings)
    with db.write() as session:
        user = session.get(User, user_id)
        if user is None:
            raise NotFound(f"no user #{user_id}")
        before = _snapshot(user)
        user.password_hash = new_hash
        user.failed_attempts = 0
        user.last_failed_at = None
        if own:
            user.must_change_password = False
        changes.bump(session, now)
        audit.record(
            session,
            actor,
            "set_password",
            "user",
            user.id,
            before=before,
            after={**_snapshot(user), "password_changed": True},
            now=now,
        )


def deactivate_user(
    db: Database, actor: Actor, user_id: int, *, now: dt.datetime | None = None
) -> UserInfo:
    """Take a user's access away (the row stays: the audit trail names it).  The last active
    administrator cannot be deactivated, nor can administrators deactivate themselves."""
    require(actor, "manage_users", db, now=now)
    now = now or utcnow()
    if actor.user_id == user_id:
        raise InvalidRequest("you cannot deactivate your own account")
    with db.write() as session:
        user = session.get(User, user_id)
        if user is None:
            raise NotFound(f"no user #{user_id}")
        if not user.active:
            return _info(user)
        if user.role == "admin" and _last_admin(session, user):
            raise InvalidRequest(
                f"{user.username} is the last active administrator: make another user an "
                "administrator first"
            )
        before = _snapshot(user)
        user.active = False
        audit.record(
            session,
            actor,
            "deactivate_user",
            "user",
            user.id,
            before=before,
            after=_snapshot(user),
            now=now,
        )
        changes.bump(session, now)
        return _info(user, _staff_name(session, user.staff_id))


def _last_admin(session: Session, user: User) -> bool:
    """True when ``user`` is the only active administrator (read under the write lock)."""
    # The administrators' rows are locked (PostgreSQL), so two administrators demoting each
    # other at once are judged one after the other; SQLite's IMMEDIATE write does the same.
    admins = session.scalars(
        select(User.id)
        .where(User.role == "admin", User.active.is_(True))
        .order_by(User.id)
        .with_for_update()
    ).all()
    return user.active and not [i for i in admins if i != user.id]


def _staff_problem(session: Session, staff_id: int | None, user_id: int | None) -> str:
    """What is wrong with linking user ``user_id`` (None: a new user) to ``staff_id``."""
    if staff_id is None:
        return ""
    staff = session.get(StaffMember, staff_id)
    if staff is None:
        return f"there is no staff member #{staff_id}"
    other = session.scalar(
        select(User.username).where(User.staff_id == staff_id, User.id != (user_id or 0))
    )
    if other is not None:
        return f"{_staff_label(staff)} is already linked to the user {other}"
    return ""


def _staff_label(staff: StaffMember) -> str:
    # The name the schedule shows them under (their resource's), e.g. "Nurse Kim".
    return staff.resource.name


def _staff_name(session: Session, staff_id: int | None) -> str:
    if staff_id is None:
        return ""
    staff = session.get(StaffMember, staff_id)
    return _staff_label(staff) if staff is not None else ""


def _write_user(
    db: Database,
    actor: Actor,
    user_id: int,
    action: str,
    change: Callable[[Session, User], dict[str, str]],
    now: dt.datetime,
) -> UserInfo:
    """One audited change to a user: ``change`` edits the row and returns per-field mistakes
    (nothing is saved when there are any); audited before and after, the counter bumped."""
    with db.write() as session:
        user = session.get(User, user_id)
        if user is None:
            raise NotFound(f"no user #{user_id}")
        before = _snapshot(user)
        errors = change(session, user)
        if errors:  # ``change`` edits nothing when it finds mistakes
            raise InvalidFields(errors)
        after = _snapshot(user)
        if after != before:
            session.flush()
            audit.record(
                session, actor, action, "user", user.id, before=before, after=after, now=now
            )
            changes.bump(session, now)
        return _info(user, _staff_name(session, user.staff_id))


def update_user(
    db: Database,
    actor: Actor,
    user_id: int,
    *,
    display_name: str,
    role: str,
    staff_id: int | None,
    now: dt.datetime | None = None,
) -> UserInfo:
    """Change a user's name, role and linked staff member in one go (administrators only).

    Mistakes raise InvalidFields naming the field (display_name, role, staff_id), nothing
    saved; the last active administrator cannot be given another role (InvalidRequest).
    """
    require(actor, "manage_users", db, now=now)
    now = now or utcnow()

    def change(session: Session, user: User) -> dict[str, str]:
        errors: dict[str, str] = {}
        name = display_name.strip()
        if not name:
            errors["display_name"] = "is required"
        elif len(name) > _DISPLAY_MAX:
            errors["display_name"] = f"must be at most {_DISPLAY_MAX} characters"
        if role not in ROLES:
            errors["role"] = f"must be one of {', '.join(ROLES)}"
        elif user.role == "admin" and role != "admin" and _last_admin(session, user):
            raise InvalidRequest(
                f"{user.username} is the last active administrator and must stay one: make "
                "another user an administrator first"
            )
        problem = _staff_problem(session, staff_id, user.id)
        if problem:
            errors["staff_id"] = problem
        if not errors:
            user.display_name = name
            user.role = role
            user.staff_id = staff_id
        return errors

    return _write_user(db, actor, user_id, "update_user", change, now)


def change_role(
    db: Database, actor: Actor, user_id: int, role: str, *, now: dt.datetime | None = None
) -> UserInfo:
    """Give a user another role (administrators only; never the last administrator's)."""
    with db.read() as session:
        user = session.get(User, user_id)
        if user is None:
            raise NotFound(f"no user #{user_id}")
        name, staff_id = user.display_name, user.staff_id
    return update_user(db, actor, user_id, display_name=name, role=role, staff_id=staff_id, now=now)


def link_staff(
    db: Database,
    actor: Actor,
    user_id: int,
    staff_id: int | None,
    *,
    now: dt.datetime | None = None,
) -> UserInfo:
    """Link a user to a staff member (None: unlink).  One user per staff member."""
    require(actor, "manage_users", db, now=now)
    now = now or utcnow()

    def change(session: Session, user: User) -> dict[str, str]:
        problem = _staff_problem(session, staff_id, user.id)
        if problem:
            return {"staff_id": problem}
        user.staff_id = staff_id
        return {}

    action = "link_staff" if staff_id is not None else "unlink_staff"
    return _write_user(db, actor, user_id, action, change, now)


def reactivate_user(
    db: Database, actor: Actor, user_id: int, *, now: dt.datetime | None = None
) -> UserInfo:
    """Give a deactivated user their access back (administrators only)."""
    require(actor, "manage_users", db, now=now)
    now = now or utcnow()

    def change(session: Session, user: User) -> dict[str, str]:
        user.active = True
        user.failed_attempts = 0
        user.last_failed_at = None
        return {}

    return _write_user(db, actor, user_id, "reactivate_user", change, now)


def require_new_password(
    db: Database,
    actor: Actor,
    user_id: int,
    required: bool = True,
    *,
    now: dt.datetime | None = None,
) -> UserInfo:
    """Ask the user to choose a new password at their next sign-in (or no longer ask)."""
    require(actor, "manage_users", db, now=now)
    now = now or utcnow()

    def change(session: Session, user: User) -> dict[str, str]:
        user.must_change_password = required
        return {}

    return _write_user(db, actor, user_id, "require_new_password", change, now)


# Letters and digits that are not easily mistaken for one another when read out or copied.
_ONE_TIME_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
_ONE_TIME_GROUP = 4


def generate_password(settings: AccountSettings) -> str:
    """A one-time password meeting the clinic's rules, in groups of four (``abcd-efgh-...``)."""
    groups = max(3, -(-settings.min_password_length // _ONE_TIME_GROUP))
    return "-".join(
        "".join(secrets.choice(_ONE_TIME_ALPHABET) for _ in range(_ONE_TIME_GROUP))
        for _ in range(groups)
    )


def reset_password(
    db: Database,
    actor: Actor,
    user_id: int,
    password: str | None = None,
    *,
    now: dt.datetime | None = None,
) -> str:
    """Give a user a one-time password (``password``, or one generated when None) and return it
    to be shown once: the user must choose a new one at the next sign-in.  Failed attempts are
    cleared.  A bad password raises InvalidFields({"password": ...}), nothing saved."""
    require(actor, "manage_users", db, now=now)
    now = now or utcnow()
    with db.read() as session:
        user = session.get(User, user_id)
        if user is None:
            raise NotFound(f"no user #{user_id}")
        settings = _settings(session)
        username = user.username
    one_time = generate_password(settings) if password is None else password
    problem = password_problem(one_time, settings, username=username)
    if problem:
        raise InvalidFields({"password": problem})
    new_hash = hash_password(
        one_time, settings
    )  # before the transaction: the slow hash holds no lock

    def change(session: Session, user: User) -> dict[str, str]:
        user.password_hash = new_hash
        user.must_change_password = True
        user.failed_attempts = 0
        user.last_failed_at = None
        return {}

    with db.write() as session:
        user_row = session.get(User, user_id)
        if user_row is None:
            raise NotFound(f"no user #{user_id}")
        before = _snapshot(user_row)
        change(session, user_row)
        audit.record(
            session,
            actor,
            "reset_password",
            "user",
            user_id,
            before=before,
            after={**_snapshot(user_row), "password_changed": True},
            now=now,
        )
        changes.bump(session, now)
    return one_time


def password_change_required(db: Database, user_id: int) -> bool:
    """Whether the user must choose a new password before the desk opens."""
    with db.read() as session:
        return bool(session.scalar(select(User.must_change_password).where(User.id == user_id)))


def choose_new_password(
    db: Database,
    actor: Actor,
    current_password: str,
    new_password: str,
    password_again: str,
    *,
    now: dt.datetime | None = None,
) -> None:
    """The signed-in user replaces their password (after a reset, the one-time one): the
    current password, then a new one meeting the rules, twice.  Clears "must change".
    Mistakes raise InvalidFields (current_password, password, password_again), nothing saved."""
    now = now or utcnow()
    if actor.user_id is None:
        raise InvalidRequest("sign in first")
    with db.read() as session:
        user = session.get(User, actor.user_id)
        if user is None or not user.active:
            raise NotFound("this account can no longer sign in")
        settings = _settings(session)
        stored, username = user.password_hash, user.username
    errors: dict[str, str] = {}
    if not _matches(stored, current_password):
        errors["current_password"] = "is not your current password"
    problem = password_problem(new_password, settings, username=username)
    if problem:
        errors["password"] = problem
    elif new_password == current_password:
        errors["password"] = "must differ from the current password"
    elif new_password != password_again:
        errors["password_again"] = "does not match the password"
    if errors:
        raise InvalidFields(errors)
    new_hash = hash_password(new_password, settings)
    with db.write() as session:
        user = session.get(User, actor.user_id)
        if user is None:
            raise NotFound("this account can no longer sign in")
        before = _snapshot(user)
        user.password_hash = new_hash
        user.must_change_password = False
        audit.record(
            session,
            actor,
            "choose_password",
            "user",
            user.id,
            before=before,
            after={**_snapshot(user), "password_changed": True},
            now=now,
        )
        changes.bump(session, now)


@dataclass(frozen=True, slots=True)
class SignInScreen:
    """What the window asks before anyone signs in, read in one go off the GUI thread."""

    needs_first_admin: bool
    demo_hint: str
    at_rest: ClinicAtRest = NOT_CHECKED
    #: The clinic's active usernames, lower case: a name remembered on this workstation is
    #: suggested only when it is one of them (never another clinic's user).
    active_usernames: frozenset[str] = frozenset()


def sign_in_screen(db: Database) -> SignInScreen:
    """Whether a new clinic needs its first administrator, the demo's sign-ins (if any),
    whether the clinic file lies on an encrypted disk as the clinic's policy asks, and the
    active usernames."""
    return SignInScreen(
        needs_first_admin(db), demo_accounts_hint(db), clinic_at_rest(db), active_usernames(db)
    )


def active_usernames(db: Database) -> frozenset[str]:
    """The usernames of the clinic's active accounts, lower case."""
    with db.read() as session:
        names = session.scalars(select(User.username).where(User.active.is_(True))).all()
    return frozenset(name.lower() for name in names)


def clinic_name(db: Database) -> str:
    """The clinic's name, for the sign-in dialog (readable before anyone signs in)."""
    with db.read() as session:
        return load_catalog(session).settings.name


def demo_accounts_hint(db: Database) -> str:
    """For a demo clinic (built by ``ketadesk demo``), the demo sign-ins in one line; "" for a
    real clinic, whose passwords are nobody's business but their owners'."""
    from ketadesk.services.demo.users import ROLE_WORDS, demo_password

    with db.read() as session:
        built = session.scalar(
            select(AuditEvent.id).where(AuditEvent.action == "build_demo").limit(1)
        )
    if built is None:
        return ""
    pairs = ", ".join(f"{word} / {demo_password(role)}" for role, word in ROLE_WORDS.items())
    return f"Demo clinic: sign in as {pairs}."


def account_settings(db: Database) -> AccountSettings:
    """The clinic's [accounts] settings (the idle lock's minutes, password length, delays)."""
    with db.read() as session:
        return _settings(session)


def list_users(db: Database, *, include_inactive: bool = True) -> list[UserInfo]:
    """Every account (or only the active ones), active first, by username, with the linked
    staff member's name."""
    with db.read() as session:
        query = select(User).order_by(User.active.desc(), User.username)
        if not include_inactive:
            query = query.where(User.active.is_(True))
        users = session.scalars(query).all()
        names = {
            s.resource_id: _staff_label(s)
            for s in session.scalars(
                select(StaffMember).where(
                    StaffMember.resource_id.in_([u.staff_id for u in users if u.staff_id])
                )
            )
        }
        return [_info(u, names.get(u.staff_id or 0, "")) for u in users]


def list_staff_choices(db: Database) -> list[StaffChoice]:
    """The staff members a user can be linked to, active first, by name, each with the user
    linked to it now (if any)."""
    with db.read() as session:
        rows = session.execute(
            select(StaffMember, Resource.active, User.id)
            .join(Resource, Resource.id == StaffMember.resource_id)
            .outerjoin(User, User.staff_id == StaffMember.resource_id)
            .order_by(Resource.active.desc(), Resource.name)
        ).all()
        return [
            StaffChoice(
                id=staff.resource_id,
                name=_staff_label(staff),
                role=staff.role,
                active=bool(active),
                user_id=user_id,
            )
            for staff, active, user_id in rows
        ]


# --------------------------------------------------------------------------------------------
# Signing in and unlocking


def _matches(stored: str, password: str) -> bool:
    if not stored:
        return False
    try:
        # The parameters are the stored hash's own: any argon2 hasher checks any hash.
        return _verifier().verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def _wait_left(
    settings: AccountSettings, failures: int, last: dt.datetime | None, now: dt.datetime
) -> int:
    # A failure stamped ahead of this clock (a workstation whose clock ran fast, then was put
    # right) holds nobody back: counted from it, the wait would last the hours between the two
    # clocks.  The count stands, so the next wrong password is slowed down from now.
    if last is None or last > now:
        return 0
    ready = last + dt.timedelta(seconds=settings.delay_after(failures))
    return max(0, math.ceil((ready - now).total_seconds()))


def _too_soon(wait: int) -> SignInRefused:
    return SignInRefused(f"too many wrong passwords: try again in {wait} s", retry_after=wait)


def _after_failure(settings: AccountSettings, failures: int) -> SignInRefused:
    wait = settings.delay_after(failures)
    if wait:
        return SignInRefused(f"{WRONG}; try again in {wait} s", retry_after=wait)
    return SignInRefused(WRONG)


def _record(session: Session, row: dict[str, object]) -> None:
    audit.write(session, [row])


def _visitor(username: str) -> Actor:
    # Who an attempt was made as, for the audit event, when no such user can sign in.
    return Actor(user_id=None, username=username[:_USERNAME_MAX], role="")


def sign_in(db: Database, username: str, password: str, *, now: dt.datetime | None = None) -> Actor:
    """The user ``username`` signed in, or SignInRefused saying only what the user may know:
    a wrong username or password, or how long to wait before trying again."""
    now = now or utcnow()
    name = normalize_username(username)
    with db.read() as session:
        settings = _settings(session)
        row = session.scalar(select(User).where(func.lower(User.username) == name))
        user = _Account.of(row) if row is not None else None
        if user is not None and not user.usable:
            user = None  # a deactivated account answers like an unknown one
    if user is None:
        _unknown_attempt(db, settings, name, password, now)
    return _attempt(db, settings, user, password, now, purpose="sign_in")


def verify_password(
    db: Database, user_id: int, password: str, *, now: dt.datetime | None = None
) -> Actor:
    """Unlock the idle lock: the user's password again.  Returns the user (its role as it is
    now); SignInRefused when wrong, slowed down like a sign-in; a deactivated user is refused."""
    now = now or utcnow()
    with db.read() as session:
        settings = _settings(session)
        row = session.get(User, user_id)
        user = _Account.of(row) if row is not None else None
    if user is None or not user.usable:
        raise SignInRefused("this account can no longer sign in; switch user")
    return _attempt(db, settings, user, password, now, purpose="unlock")


def _attempt(
    db: Database,
    settings: AccountSettings,
    user: _Account,
    password: str,
    now: dt.datetime,
    *,
    purpose: str,
) -> Actor:
    actor = _actor(user)
    failures, wait = _claim(db, settings, actor, user.id, now, purpose=purpose)
    if wait:
        raise _too_soon(wait)
    # The slow hash is checked outside any transaction: it must not hold the write lock.  The
    # attempt already counts as a failure; a right password takes that back.
    if not _matches(user.password_hash, password):
        with db.write() as session:
            _record(
                session,
                _attempt_row(actor, f"{purpose}_failed", user.id, now, failures=failures + 1),
            )
        raise _after_failure(settings, failures + 1)
    new_hash = (
        hash_password(password, settings) if needs_rehash(user.password_hash, settings) else None
    )
    with db.write() as session:
        values: dict[str, object] = {"failed_attempts": 0, "last_failed_at": None}
        if new_hash is not None:
            values["password_hash"] = new_hash
        session.execute(update(User).where(User.id == user.id).values(**values))
        # Failures before this success are worth seeing; none, not worth a line.
        _record(session, _attempt_row(actor, purpose, user.id, now, failures=failures or None))
    return actor


def _claim(
    db: Database,
    settings: AccountSettings,
    actor: Actor,
    user_id: int,
    now: dt.datetime,
    *,
    purpose: str,
) -> tuple[int, int]:
    """Claim one attempt at ``user_id``'s password: (failures before it, 0) once it is counted
    as a failure, or (failures, seconds left to wait) when it is too soon, recorded as refused.

    The user's row is locked while the failures are read and counted (SQLite: the write
    transaction begins IMMEDIATE), so attempts made at once are judged one after another.
    """
    with db.write() as session:
        failures, last = session.execute(
            select(User.failed_attempts, User.last_failed_at)
            .where(User.id == user_id)
            .with_for_update(key_share=True)
        ).one()
        wait = _wait_left(settings, failures, last, now)
        if wait:
            _record(session, _attempt_row(actor, f"{purpose}_refused", user_id, now))
            return failures, wait
        session.execute(
            update(User)
            .where(User.id == user_id)
            .values(failed_attempts=failures + 1, last_failed_at=now)
        )
        return failures, 0


# PostgreSQL: attempts at one unknown username queue on a lock of their own (there is no row
# to lock); hashtext folds the name into the lock's key.
_LOCK_USERNAME = text("SELECT pg_advisory_xact_lock(hashtext(:key))")


def _unknown_attempt(
    db: Database, settings: AccountSettings, name: str, password: str, now: dt.datetime
) -> NoReturn:
    """An attempt at a username no user can sign in as: always refused, slowed down like a
    user's (its failures are the audit trail's), and as slow to answer (a decoy hash)."""
    visitor = _visitor(name)
    with db.write() as session:
        if session.get_bind().dialect.name == "postgresql":
            session.execute(_LOCK_USERNAME, {"key": f"ketadesk sign-in {name}"})
        failures, last = _unknown_failures(session, name, settings, now)
        wait = _wait_left(settings, failures, last, now)
        # Recorded before the decoy hash, so the next attempt counts this one.
        action = "sign_in_refused" if wait else "sign_in_failed"
        _record(session, _attempt_row(visitor, action, None, now))
    if wait:
        raise _too_soon(wait)
    _matches(
        _decoy_hash(
            settings.argon2_memory_kib, settings.argon2_time_cost, settings.argon2_parallelism
        ),
        password,
    )
    raise _after_failure(settings, failures + 1)


def _attempt_row(
    actor: Actor,
    action: str,
    user_id: int | None,
    now: dt.datetime,
    *,
    failures: int | None = None,
) -> dict[str, object]:
    return audit.entry(
        actor,
        action,
        "user",
        user_id,
        after=None if failures is None else {"failed_attempts": failures},
        now=now,
    )


def _unknown_failures(
    session: Session, username: str, settings: AccountSettings, now: dt.datetime
) -> tuple[int, dt.datetime | None]:
    """Failures in a row for a username no user has, read from the trail: those within the
    longest delay of each other, back from the latest."""
    horizon = now - dt.timedelta(seconds=max(settings.failure_delay_max_seconds, 1) * 2)
    times = session.scalars(
        select(AuditEvent.at)
        .where(
            AuditEvent.action == "sign_in_failed",
            AuditEvent.user_id.is_(None),
            AuditEvent.username == username[:_USERNAME_MAX],
            AuditEvent.at >= horizon,
        )
        .order_by(AuditEvent.at.desc())
        .limit(64)
    ).all()
    return len(times), (times[0] if times else None)
