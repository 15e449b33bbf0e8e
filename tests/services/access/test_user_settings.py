"""User accounts settings: roles, reactivation, password resets, forced new passwords, staff
links and the last-administrator guard, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import select

from ketadesk.services.access import accounts
from ketadesk.services.common.context import (
    Actor,
    InvalidFields,
    InvalidRequest,
    PermissionDenied,
)
from ketadesk.store import changes
from ketadesk.store.models import AuditEvent, User
from tests.clinic_fixtures import SmallClinic, build_small_clinic

NOW = dt.datetime(2026, 12, 1, 16, 0, tzinfo=dt.UTC)
ADMIN_PASSWORD = "correct horse battery"
NURSE_PASSWORD = "nurse-password-1"


@pytest.fixture
def clinic(db_url: str) -> Iterator[SmallClinic]:
    built = build_small_clinic(db_url)
    yield built
    built.db.dispose()


@pytest.fixture
def admin(clinic: SmallClinic) -> Actor:
    return accounts.create_first_admin(clinic.db, "admin", "Clinic Admin", ADMIN_PASSWORD, now=NOW)


def _counter(clinic: SmallClinic) -> int:
    with clinic.db.read() as s:
        return changes.current(s)


def _events(clinic: SmallClinic, action: str) -> list[AuditEvent]:
    with clinic.db.read() as s:
        events = list(
            s.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id))
        )
        s.expunge_all()
        return events


def _b(event: AuditEvent) -> dict[str, Any]:
    return event.before or {}


def _a(event: AuditEvent) -> dict[str, Any]:
    return event.after or {}


def _nurse(clinic: SmallClinic, admin: Actor) -> accounts.UserInfo:
    return accounts.create_user(
        clinic.db,
        admin,
        "kim",
        "Kim Nguyen",
        "nurse",
        NURSE_PASSWORD,
        staff_id=clinic.ids["Nurse Kim"],
        now=NOW,
    )


def test_a_nurse_linked_to_her_staff_member_is_listed_with_its_name(
    clinic: SmallClinic, admin: Actor
) -> None:
    before = _counter(clinic)
    nurse = _nurse(clinic, admin)
    assert _counter(clinic) > before
    listed = {u.username: u for u in accounts.list_users(clinic.db)}
    assert listed["kim"].staff_name == "Nurse Kim"
    assert listed["kim"].staff_id == nurse.staff_id
    choices = {c.name: c for c in accounts.list_staff_choices(clinic.db)}
    assert choices["Nurse Kim"].user_id == nurse.id
    assert choices["Dr Patel"].user_id is None


def test_one_user_per_staff_member(clinic: SmallClinic, admin: Actor) -> None:
    _nurse(clinic, admin)
    with pytest.raises(InvalidFields) as caught:
        accounts.create_user(
            clinic.db,
            admin,
            "kim2",
            "Kim Again",
            "nurse",
            NURSE_PASSWORD,
            staff_id=clinic.ids["Nurse Kim"],
            now=NOW,
        )
    assert "already linked to the user kim" in caught.value.errors["staff_id"]
    assert "kim2" not in {u.username for u in accounts.list_users(clinic.db)}


def test_change_role_link_and_unlink_are_audited_before_and_after(
    clinic: SmallClinic, admin: Actor
) -> None:
    nurse = _nurse(clinic, admin)
    before = _counter(clinic)
    changed = accounts.change_role(clinic.db, admin, nurse.id, "prescriber", now=NOW)
    assert changed.role == "prescriber"
    assert _counter(clinic) > before
    unlinked = accounts.link_staff(clinic.db, admin, nurse.id, None, now=NOW)
    assert unlinked.staff_id is None
    assert unlinked.staff_name == ""
    relinked = accounts.link_staff(clinic.db, admin, nurse.id, clinic.ids["Dr Patel"], now=NOW)
    assert relinked.staff_name == "Dr Patel"
    update = _events(clinic, "update_user")[-1]
    assert _b(update)["role"] == "nurse"
    assert _a(update)["role"] == "prescriber"
    assert _a(_events(clinic, "unlink_staff")[-1])["staff_id"] is None
    for event in [update, *_events(clinic, "link_staff")]:
        assert "password_hash" not in (event.before or {})
        assert "password_hash" not in (event.after or {})


def test_bad_edits_name_the_field_and_save_nothing(clinic: SmallClinic, admin: Actor) -> None:
    nurse = _nurse(clinic, admin)
    before = _counter(clinic)
    with pytest.raises(InvalidFields) as caught:
        accounts.update_user(
            clinic.db, admin, nurse.id, display_name="  ", role="janitor", staff_id=999_999
        )
    assert set(caught.value.errors) == {"display_name", "role", "staff_id"}
    assert _counter(clinic) == before
    (listed,) = [u for u in accounts.list_users(clinic.db) if u.id == nurse.id]
    assert (listed.display_name, listed.role) == ("Kim Nguyen", "nurse")
    with pytest.raises(InvalidFields) as caught:
        accounts.reset_password(clinic.db, admin, nurse.id, "short")
    assert "password" in caught.value.errors


def test_the_last_administrator_cannot_be_demoted_or_deactivated(
    clinic: SmallClinic, admin: Actor
) -> None:
    assert admin.user_id is not None
    with pytest.raises(InvalidRequest, match="last active administrator"):
        accounts.change_role(clinic.db, admin, admin.user_id, "nurse", now=NOW)
    with pytest.raises(InvalidRequest, match="own account"):
        accounts.deactivate_user(clinic.db, admin, admin.user_id, now=NOW)
    second = accounts.create_user(
        clinic.db, admin, "boss2", "Second Admin", "admin", ADMIN_PASSWORD, now=NOW
    )
    # With a second administrator, the first may step down.
    assert accounts.change_role(clinic.db, admin, admin.user_id, "nurse", now=NOW).role == "nurse"
    boss2 = Actor(user_id=second.id, username="boss2", role="admin")
    with pytest.raises(InvalidRequest, match="last active administrator"):
        accounts.change_role(clinic.db, boss2, second.id, "front_desk", now=NOW)


def test_deactivate_then_reactivate(clinic: SmallClinic, admin: Actor) -> None:
    nurse = _nurse(clinic, admin)
    assert not accounts.deactivate_user(clinic.db, admin, nurse.id, now=NOW).active
    assert [u.username for u in accounts.list_users(clinic.db, include_inactive=False)] == ["admin"]
    with pytest.raises(accounts.SignInRefused):
        accounts.sign_in(clinic.db, "kim", NURSE_PASSWORD, now=NOW)
    assert accounts.reactivate_user(clinic.db, admin, nurse.id, now=NOW).active
    assert accounts.sign_in(clinic.db, "kim", NURSE_PASSWORD, now=NOW).username == "kim"
    event = _events(clinic, "reactivate_user")[-1]
    assert (_b(event)["active"], _a(event)["active"]) == (False, True)


def test_a_reset_gives_a_one_time_password_that_must_be_replaced(
    clinic: SmallClinic, admin: Actor
) -> None:
    nurse = _nurse(clinic, admin)
    one_time = accounts.reset_password(clinic.db, admin, nurse.id, now=NOW)
    settings = accounts.account_settings(clinic.db)
    assert accounts.password_problem(one_time, settings) == ""
    assert one_time != accounts.reset_password(clinic.db, admin, nurse.id, now=NOW)
    one_time = accounts.reset_password(clinic.db, admin, nurse.id, "temporary-pass-1", now=NOW)
    assert one_time == "temporary-pass-1"
    kim = accounts.sign_in(clinic.db, "kim", one_time, now=NOW)
    assert accounts.password_change_required(clinic.db, nurse.id)
    with pytest.raises(InvalidFields) as caught:
        accounts.choose_new_password(clinic.db, kim, "wrong", "x", "y", now=NOW)
    assert set(caught.value.errors) == {"current_password", "password"}
    with pytest.raises(InvalidFields) as caught:
        accounts.choose_new_password(clinic.db, kim, one_time, one_time, one_time, now=NOW)
    assert "must differ" in caught.value.errors["password"]
    with pytest.raises(InvalidFields) as caught:
        accounts.choose_new_password(clinic.db, kim, one_time, "a-new-password", "another", now=NOW)
    assert "password_again" in caught.value.errors
    assert accounts.password_change_required(clinic.db, nurse.id)
    accounts.choose_new_password(
        clinic.db, kim, one_time, "a-new-password", "a-new-password", now=NOW
    )
    assert not accounts.password_change_required(clinic.db, nurse.id)
    assert accounts.sign_in(clinic.db, "kim", "a-new-password", now=NOW).username == "kim"
    reset = _events(clinic, "reset_password")[-1]
    assert _a(reset)["must_change_password"] is True
    assert "password_hash" not in _a(reset)
    assert one_time not in str(_a(reset))
    assert _a(_events(clinic, "choose_password")[-1])["must_change_password"] is False


def test_force_a_new_password_without_a_reset(clinic: SmallClinic, admin: Actor) -> None:
    nurse = _nurse(clinic, admin)
    info = accounts.require_new_password(clinic.db, admin, nurse.id, now=NOW)
    assert info.must_change_password
    assert accounts.password_change_required(clinic.db, nurse.id)
    assert _b(_events(clinic, "require_new_password")[-1])["must_change_password"] is False


def test_only_administrators_manage_users_and_refusals_are_audited(
    clinic: SmallClinic, admin: Actor
) -> None:
    nurse = _nurse(clinic, admin)
    kim = Actor(user_id=nurse.id, username="kim", role="nurse")
    attempts: list[Callable[[], object]] = [
        lambda: accounts.change_role(clinic.db, kim, nurse.id, "admin", now=NOW),
        lambda: accounts.reactivate_user(clinic.db, kim, nurse.id, now=NOW),
        lambda: accounts.reset_password(clinic.db, kim, nurse.id, now=NOW),
        lambda: accounts.require_new_password(clinic.db, kim, nurse.id, now=NOW),
        lambda: accounts.link_staff(clinic.db, kim, nurse.id, None, now=NOW),
    ]
    for attempt in attempts:
        with pytest.raises(PermissionDenied):
            attempt()
    with clinic.db.read() as s:
        user = s.get(User, nurse.id)
        assert user is not None
        assert user.role == "nurse"
        refused = s.scalars(select(AuditEvent.username).where(AuditEvent.action == "refused")).all()
    assert refused.count("kim") >= len(attempts)
