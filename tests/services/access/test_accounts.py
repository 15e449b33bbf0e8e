"""Accounts: the first administrator, users, passwords, sign-in with slow-down, and auditing."""

from __future__ import annotations

import datetime as dt
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

from ketadesk.paths import config_dir
from ketadesk.scheduling.catalog import ACCOUNT_DEFAULTS, ConfigError, parse_clinic_settings
from ketadesk.services.access import accounts
from ketadesk.services.access.accounts import SignInRefused
from ketadesk.services.clinic.clinic_setup import open_clinic
from ketadesk.services.common.context import (
    Actor,
    Database,
    InvalidFields,
    InvalidRequest,
    PermissionDenied,
)
from ketadesk.store.models import AuditEvent, ClinicSetting, User
from tests.clinic_fixtures import new_clinic

NOW = dt.datetime(2026, 12, 1, 16, 0, tzinfo=dt.UTC)
ADMIN_PASSWORD = "correct horse battery"
NURSE_PASSWORD = "nurse-password-1"


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    db = new_clinic(db_url)
    yield db
    db.dispose()


@pytest.fixture
def admin(db: Database) -> Actor:
    return accounts.create_first_admin(db, "Admin", "Clinic Admin", ADMIN_PASSWORD, now=NOW)


def _events(db: Database, *actions: str) -> list[AuditEvent]:
    with db.read() as s:
        query = select(AuditEvent).order_by(AuditEvent.id)
        if actions:
            query = query.where(AuditEvent.action.in_(actions))
        events = list(s.scalars(query))
        s.expunge_all()  # keep the loaded values past the read's rollback
        return events


@dataclass(frozen=True)
class _Row:
    password_hash: str
    failed_attempts: int
    last_failed_at: dt.datetime | None
    id: int


def _user(db: Database, username: str) -> _Row:
    with db.read() as s:
        user = s.scalar(select(User).where(User.username == username))
        assert user is not None
        return _Row(user.password_hash, user.failed_attempts, user.last_failed_at, user.id)


def test_the_accounts_defaults_in_code_match_clinic_toml() -> None:
    with (config_dir() / "clinic.toml").open("rb") as fh:
        assert tomllib.load(fh)["accounts"] == dict(ACCOUNT_DEFAULTS)


def test_accounts_settings_mistakes_are_named_by_key() -> None:
    with (config_dir() / "clinic.toml").open("rb") as fh:
        data = tomllib.load(fh)
    data["accounts"]["min_password_length"] = "ten"
    with pytest.raises(ConfigError, match=r"accounts\.min_password_length: must be a whole"):
        parse_clinic_settings(data, "clinic.toml")
    data["accounts"]["min_password_length"] = 12
    data["accounts"]["failure_delay_max_seconds"] = 1
    with pytest.raises(ConfigError, match="failure_delay_max_seconds: must be at least"):
        parse_clinic_settings(data, "clinic.toml")


def test_argon2_parameters_are_checked_with_a_message_naming_the_key() -> None:
    with (config_dir() / "clinic.toml").open("rb") as fh:
        data = tomllib.load(fh)
    acc = parse_clinic_settings(data, "clinic.toml").accounts
    assert (acc.argon2_memory_kib, acc.argon2_time_cost, acc.argon2_parallelism) == (
        ACCOUNT_DEFAULTS["argon2_memory_kib"],
        ACCOUNT_DEFAULTS["argon2_time_cost"],
        ACCOUNT_DEFAULTS["argon2_parallelism"],
    )
    for key, value, message in (
        ("argon2_time_cost", 0, r"accounts\.argon2_time_cost: must be at least 1, got 0"),
        ("argon2_parallelism", "two", r"accounts\.argon2_parallelism: must be a whole number"),
        (
            "argon2_memory_kib",
            -5,
            r"accounts\.argon2_memory_kib: must be at least 1, got -5",
        ),
    ):
        bad = {**data, "accounts": {**data["accounts"], key: value}}
        with pytest.raises(ConfigError, match=message):
            parse_clinic_settings(bad, "clinic.toml")
    # Argon2 asks 8 KiB per lane.
    bad = {
        **data,
        "accounts": {**data["accounts"], "argon2_parallelism": 4, "argon2_memory_kib": 16},
    }
    with pytest.raises(
        ConfigError, match=r"argon2_memory_kib: must be at least 8 KiB per lane .*got 16"
    ):
        parse_clinic_settings(bad, "clinic.toml")


def _set_accounts(db: Database, **values: int) -> None:
    """The clinic's stored [accounts] with ``values`` changed (as Settings ▸ Rules saves it)."""
    with db.write() as s:
        row = s.get(ClinicSetting, "accounts")
        current = dict(row.value) if row is not None else dict(ACCOUNT_DEFAULTS)
        s.merge(ClinicSetting(key="accounts", value={**current, **values}))


def test_a_hash_made_with_other_argon2_parameters_is_redone_at_the_next_sign_in(
    db: Database, admin: Actor
) -> None:
    first = _user(db, "admin").password_hash
    d = ACCOUNT_DEFAULTS
    assert (
        f"$argon2id$v=19$m={d['argon2_memory_kib']},t={d['argon2_time_cost']},"
        f"p={d['argon2_parallelism']}$" in first
    )
    # The same parameters: signing in keeps the hash.
    assert accounts.sign_in(db, "admin", ADMIN_PASSWORD, now=NOW) == admin
    assert _user(db, "admin").password_hash == first
    cheaper = d["argon2_memory_kib"] // 2
    passes = d["argon2_time_cost"] + 1
    _set_accounts(db, argon2_memory_kib=cheaper, argon2_time_cost=passes)
    # A wrong password changes nothing.
    with pytest.raises(SignInRefused):
        accounts.sign_in(db, "admin", "not the password", now=NOW)
    assert _user(db, "admin").password_hash == first
    assert accounts.sign_in(db, "admin", ADMIN_PASSWORD, now=NOW) == admin
    redone = _user(db, "admin").password_hash
    assert f"$m={cheaper},t={passes},p={d['argon2_parallelism']}$" in redone
    assert accounts.sign_in(db, "admin", ADMIN_PASSWORD, now=NOW) == admin
    assert _user(db, "admin").password_hash == redone
    # New passwords take the clinic's parameters too.
    nurse = accounts.create_user(db, admin, "nurse", "Nurse", "nurse", NURSE_PASSWORD, now=NOW)
    assert f"$m={cheaper},t={passes}," in _user(db, nurse.username).password_hash
    # The unlock re-hashes as a sign-in does.
    _set_accounts(db, argon2_memory_kib=cheaper, argon2_time_cost=1)
    assert admin.user_id is not None
    accounts.verify_password(db, admin.user_id, ADMIN_PASSWORD, now=NOW)
    assert f"$m={cheaper},t=1," in _user(db, "admin").password_hash


def test_a_stored_configuration_from_before_accounts_keeps_its_idle_lock() -> None:
    with (config_dir() / "clinic.toml").open("rb") as fh:
        data = tomllib.load(fh)
    del data["accounts"]
    data["security"] = {"idle_lock_minutes": 25}
    settings = parse_clinic_settings(data, "database")
    assert settings.idle_lock_minutes == 25
    assert settings.accounts.idle_lock_minutes == 25
    assert settings.accounts.min_password_length == ACCOUNT_DEFAULTS["min_password_length"]


def test_delay_doubles_after_the_free_failures_up_to_the_maximum() -> None:
    with (config_dir() / "clinic.toml").open("rb") as fh:
        data = tomllib.load(fh)
    data["accounts"].update(free_failures=2, failure_delay_seconds=5, failure_delay_max_seconds=30)
    acc = parse_clinic_settings(data, "clinic.toml").accounts
    assert [acc.delay_after(n) for n in range(7)] == [0, 0, 0, 5, 10, 20, 30]
    assert acc.delay_after(10_000) == 30


def test_a_new_clinic_needs_its_first_administrator(db: Database) -> None:
    assert accounts.needs_first_admin(db)
    assert accounts.account_settings(db).idle_lock_minutes == ACCOUNT_DEFAULTS["idle_lock_minutes"]
    assert accounts.clinic_name(db) == "KetaDesk Clinic"
    actor = accounts.create_first_admin(db, " Admin ", "Clinic Admin", ADMIN_PASSWORD, now=NOW)
    assert actor.role == "admin"
    assert actor.username == "admin"
    assert not accounts.needs_first_admin(db)
    user = _user(db, "admin")
    assert user.password_hash.startswith("$argon2id$")
    assert ADMIN_PASSWORD not in user.password_hash
    (event,) = _events(db, "create_user")
    assert event.user_id == user.id
    assert event.after is not None
    assert event.after["role"] == "admin"
    assert "password_hash" not in event.after
    with pytest.raises(InvalidRequest, match="already has users"):
        accounts.create_first_admin(db, "second", "Second", ADMIN_PASSWORD, now=NOW)


def test_first_administrator_form_reports_each_field(db: Database) -> None:
    with pytest.raises(InvalidFields) as caught:
        accounts.create_first_admin(db, "bad name!", "  ", "short", password_again="x", now=NOW)
    errors = caught.value.errors
    assert set(errors) == {"username", "display_name", "password"}
    assert "at least 10 characters" in errors["password"]
    with pytest.raises(InvalidFields) as caught:
        accounts.create_first_admin(
            db, "admin", "Admin", ADMIN_PASSWORD, password_again="something else", now=NOW
        )
    assert caught.value.errors == {"password_again": "does not match the password"}
    assert accounts.needs_first_admin(db)  # nothing partial saved
    assert accounts.list_users(db) == []


def test_sign_in_with_the_right_password_returns_the_user(db: Database, admin: Actor) -> None:
    actor = accounts.sign_in(db, "ADMIN", ADMIN_PASSWORD, now=NOW)
    assert actor == admin
    assert [e.action for e in _events(db, "sign_in")] == ["sign_in"]


def test_wrong_password_and_unknown_user_get_the_same_answer(db: Database, admin: Actor) -> None:
    with pytest.raises(SignInRefused) as wrong:
        accounts.sign_in(db, "admin", "not the password", now=NOW)
    with pytest.raises(SignInRefused) as unknown:
        accounts.sign_in(db, "nobody", "not the password", now=NOW)
    assert str(wrong.value) == str(unknown.value) == "wrong username or password"
    failed = _events(db, "sign_in_failed")
    assert [(e.username, e.user_id) for e in failed] == [("admin", admin.user_id), ("nobody", None)]
    assert _user(db, "admin").failed_attempts == 1


def _fail(db: Database, username: str, at: dt.datetime) -> SignInRefused:
    with pytest.raises(SignInRefused) as caught:
        accounts.sign_in(db, username, "wrong password!", now=at)
    return caught.value


@pytest.mark.parametrize("username", ["admin", "ghost"])
def test_repeated_failures_slow_down_further_attempts(
    db: Database, admin: Actor, username: str
) -> None:
    # Defaults: 3 free failures, then 2 s doubling (same for a user that does not exist).
    t = NOW
    for _ in range(3):
        assert _fail(db, username, t).retry_after == 0
        t += dt.timedelta(seconds=1)
    fourth = _fail(db, username, t)
    assert fourth.retry_after == 2
    assert str(fourth).endswith("try again in 2 s")
    # Too soon: refused without even checking the password (the right one for "admin").
    password = ADMIN_PASSWORD if username == "admin" else "anything at all"
    with pytest.raises(SignInRefused, match=r"try again in 1 s") as soon:
        accounts.sign_in(db, username, password, now=t + dt.timedelta(seconds=1))
    assert soon.value.retry_after == 1
    assert len(_events(db, "sign_in_refused")) == 1
    t += dt.timedelta(seconds=2)
    assert _fail(db, username, t).retry_after == 4  # the fifth failure doubles the wait
    with pytest.raises(SignInRefused, match="try again in 3 s"):
        accounts.sign_in(db, username, password, now=t + dt.timedelta(seconds=1))
    if username == "admin":
        assert _user(db, "admin").failed_attempts == 5
        actor = accounts.sign_in(db, "admin", ADMIN_PASSWORD, now=t + dt.timedelta(seconds=4))
        assert actor == admin
        reset = _user(db, "admin")
        assert reset.failed_attempts == 0
        assert reset.last_failed_at is None
        assert _fail(db, "admin", t + dt.timedelta(seconds=5)).retry_after == 0


def test_a_deactivated_user_cannot_sign_in(db: Database, admin: Actor) -> None:
    nurse = accounts.create_user(db, admin, "kim", "Kim Nguyen", "nurse", NURSE_PASSWORD, now=NOW)
    assert accounts.sign_in(db, "kim", NURSE_PASSWORD, now=NOW).role == "nurse"
    info = accounts.deactivate_user(db, admin, nurse.id, now=NOW)
    assert not info.active
    with pytest.raises(SignInRefused, match=r"^wrong username or password$"):
        accounts.sign_in(db, "kim", NURSE_PASSWORD, now=NOW)
    with pytest.raises(SignInRefused, match="can no longer sign in"):
        accounts.verify_password(db, nurse.id, NURSE_PASSWORD, now=NOW)
    (event,) = _events(db, "deactivate_user")
    assert event.before is not None
    assert event.after is not None
    assert (event.before["active"], event.after["active"]) == (True, False)


def test_the_last_administrator_stays(db: Database, admin: Actor) -> None:
    other = accounts.create_user(db, admin, "boss", "Boss", "admin", ADMIN_PASSWORD, now=NOW)
    with pytest.raises(InvalidRequest, match="your own account"):
        accounts.deactivate_user(db, admin, admin.user_id or 0, now=NOW)
    boss = Actor(other.id, other.username, other.role)
    accounts.deactivate_user(db, boss, admin.user_id or 0, now=NOW)
    second = accounts.create_user(db, boss, "deputy", "Deputy", "nurse", NURSE_PASSWORD, now=NOW)
    assert second.role == "nurse"
    with pytest.raises(InvalidRequest, match="last active administrator"):
        accounts.deactivate_user(db, Actor(None, "system", "admin"), other.id, now=NOW)


def test_only_administrators_manage_users_and_refusals_are_audited(
    db: Database, admin: Actor
) -> None:
    info = accounts.create_user(db, admin, "kim", "Kim", "nurse", NURSE_PASSWORD, now=NOW)
    nurse = Actor(info.id, info.username, info.role)
    with pytest.raises(PermissionDenied, match="Only an administrator may manage user accounts"):
        accounts.create_user(db, nurse, "eve", "Eve", "admin", ADMIN_PASSWORD, now=NOW)
    with pytest.raises(PermissionDenied):
        accounts.set_password(db, nurse, admin.user_id or 0, "taken over!!", now=NOW)
    refused = _events(db, "refused")
    assert [(e.user_id, e.after) for e in refused] == [
        (info.id, {"action": "manage_users", "role": "nurse"}),
        (info.id, {"action": "manage_users", "role": "nurse"}),
    ]
    assert [u.username for u in accounts.list_users(db)] == ["admin", "kim"]


def test_create_user_reports_each_field(db: Database, admin: Actor) -> None:
    with pytest.raises(InvalidFields) as caught:
        accounts.create_user(db, admin, "ADMIN", "", "janitor", "admin", staff_id=9999, now=NOW)
    assert set(caught.value.errors) == {"username", "display_name", "role", "password", "staff_id"}
    assert "already taken" in caught.value.errors["username"]
    with pytest.raises(InvalidFields, match="cannot be the username"):
        accounts.create_user(db, admin, "longusername", "L", "nurse", "LongUsername", now=NOW)


def test_a_user_changes_their_own_password_with_the_current_one(db: Database, admin: Actor) -> None:
    info = accounts.create_user(db, admin, "kim", "Kim", "nurse", NURSE_PASSWORD, now=NOW)
    nurse = Actor(info.id, info.username, info.role)
    with pytest.raises(InvalidFields) as caught:
        accounts.set_password(db, nurse, info.id, "new password 1", current_password="x", now=NOW)
    assert set(caught.value.errors) == {"current_password"}
    with pytest.raises(InvalidFields, match="at least 10"):
        accounts.set_password(db, nurse, info.id, "short", current_password=NURSE_PASSWORD)
    accounts.set_password(
        db, nurse, info.id, "new password 1", current_password=NURSE_PASSWORD, now=NOW
    )
    with pytest.raises(SignInRefused):
        accounts.sign_in(db, "kim", NURSE_PASSWORD, now=NOW)
    assert accounts.sign_in(db, "kim", "new password 1", now=NOW) == nurse
    # An administrator resets it without knowing it.
    accounts.set_password(db, admin, info.id, "reset by admin", now=NOW)
    assert accounts.sign_in(db, "kim", "reset by admin", now=NOW) == nurse
    changes = _events(db, "set_password")
    assert [e.user_id for e in changes] == [info.id, admin.user_id]
    for e in changes:
        assert e.after is not None
        assert "reset by admin" not in str(e.after)


def test_unlock_checks_the_password_and_is_slowed_down_too(db: Database, admin: Actor) -> None:
    uid = admin.user_id or 0
    assert accounts.verify_password(db, uid, ADMIN_PASSWORD, now=NOW) == admin
    t = NOW
    for _ in range(3):
        with pytest.raises(SignInRefused, match=r"^wrong username or password$"):
            accounts.verify_password(db, uid, "nope nope nope", now=t)
    with pytest.raises(SignInRefused, match="try again in 2 s"):
        accounts.verify_password(db, uid, "nope nope nope", now=t)
    with pytest.raises(SignInRefused, match="too many wrong passwords"):
        accounts.verify_password(db, uid, ADMIN_PASSWORD, now=t + dt.timedelta(seconds=1))
    actions = [e.action for e in _events(db) if e.action.startswith("unlock")]
    assert actions == ["unlock", *["unlock_failed"] * 4, "unlock_refused"]


def test_an_old_hash_is_upgraded_at_sign_in(db: Database, admin: Actor) -> None:
    from ketadesk.services.demo import users as demo_users

    cheap: dict[str, object] = {"role": "nurse", "password_hash": ""}
    demo_users.set_demo_passwords([cheap])
    with db.write() as s:
        user = s.get(User, admin.user_id)
        assert user is not None
        user.password_hash = str(cheap["password_hash"])
    assert accounts.sign_in(db, "admin", "demo-nurse", now=NOW) == admin
    upgraded = _user(db, "admin").password_hash
    assert upgraded != cheap["password_hash"]
    defaults = ACCOUNT_DEFAULTS
    assert (
        f"m={defaults['argon2_memory_kib']},t={defaults['argon2_time_cost']},"
        f"p={defaults['argon2_parallelism']}" in upgraded
    )  # the clinic's parameters ([accounts] argon2_*)
    assert accounts.sign_in(db, "admin", "demo-nurse", now=NOW) == admin


def test_every_demo_role_signs_in_with_its_documented_password(tmp_path: Path) -> None:
    from ketadesk.services.demo.clinic import build_demo

    url = f"sqlite:///{tmp_path / 'demo.sqlite'}"
    build_demo(url, today=dt.date(2025, 12, 3), rooms=1, weeks_back=0, weeks_ahead=0)
    opened = open_clinic(url)
    try:
        assert not accounts.needs_first_admin(opened.db)
        for username, role in (
            ("admin", "admin"),
            ("frontdesk", "front_desk"),
            ("nurse", "nurse"),
            ("prescriber", "prescriber"),
            ("therapist", "therapist"),
        ):
            actor = accounts.sign_in(opened.db, username, f"demo-{username}", now=NOW)
            assert actor.role == role
            with pytest.raises(SignInRefused):
                accounts.sign_in(opened.db, username, "demo-wrong", now=NOW)
    finally:
        opened.db.dispose()


def test_wrong_passwords_stamped_ahead_of_the_clock_slow_down_no_longer_than_the_rule(
    db: Database, admin: Actor
) -> None:
    """A user trial: wrong passwords typed on a workstation whose clock ran 18 hours fast left
    every account saying "try again in 64178 s" once the clock was right again.  The wait is
    never longer than the slow-down itself."""
    ahead = NOW + dt.timedelta(hours=18)
    for _ in range(4):
        with pytest.raises(SignInRefused):
            accounts.sign_in(db, "admin", "nope nope nope", now=ahead)
    # Back on the right clock: the right password lets the user in, not in 18 hours.
    assert accounts.sign_in(db, "admin", ADMIN_PASSWORD, now=NOW) == admin
    # The slow-down still holds for wrong passwords typed on the right clock.
    for _ in range(4):
        with pytest.raises(SignInRefused):
            accounts.sign_in(db, "admin", "nope nope nope", now=NOW)
    with pytest.raises(SignInRefused, match="too many wrong passwords"):
        accounts.sign_in(db, "admin", ADMIN_PASSWORD, now=NOW + dt.timedelta(seconds=1))
