"""The early password check on a SQLite clinic file: "yes" only when the full sign-in would
agree as things stand; everything else (a wrong password included) is left to the full sign-in,
which counts and audits it."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text, update

from ketadesk.config import read_raw_config
from ketadesk.services.access import accounts
from ketadesk.services.access.file_sign_in import FileSignIn
from ketadesk.services.clinic.clinic_setup import open_clinic
from ketadesk.services.common.context import Actor, Database
from ketadesk.store.models import User

PASSWORD = "correct horse battery"
NURSE_PASSWORD = "nurse-password-1"


@dataclasses.dataclass(frozen=True)
class FileClinic:
    db: Database
    url: str
    admin: Actor
    nurse_id: int

    @property
    def early(self) -> FileSignIn:
        found = FileSignIn.of(self.url)
        assert found is not None
        return found


def _file_clinic(tmp_path: Path, *, policy: str | None = None) -> Iterator[FileClinic]:
    raw = read_raw_config()
    if policy is not None:
        security = {"security": {"disk_encryption": policy}}
        raw = dataclasses.replace(raw, clinic={**raw.clinic, **security})
    url = f"sqlite:///{tmp_path / 'clinic.sqlite'}"
    opened = open_clinic(url, create=True, config=raw)
    db = opened.db
    admin = accounts.create_first_admin(db, "Admin", "Clinic Admin", PASSWORD)
    nurse = accounts.create_user(db, admin, "kim", "Kim Nurse", "nurse", NURSE_PASSWORD)
    yield FileClinic(db, url, admin, nurse.id)
    db.dispose()


@pytest.fixture
def clinic(tmp_path: Path) -> Iterator[FileClinic]:
    yield from _file_clinic(tmp_path)


def _set(clinic: FileClinic, **values: object) -> None:
    with clinic.db.write() as session:
        session.execute(update(User).where(User.id == clinic.nurse_id).values(**values))


def _audit_count(db: Database) -> int:
    with db.read() as session:
        return len(session.execute(text("SELECT id FROM audit_event")).all())


def test_the_right_password_of_an_active_user_is_a_yes(clinic: FileClinic) -> None:
    before = _audit_count(clinic.db)
    actor = clinic.early.check("  KIM ", NURSE_PASSWORD)  # as the full sign-in reads a name
    assert actor == Actor(user_id=clinic.nurse_id, username="kim", role="nurse")
    # Nothing is written: the full sign-in records the sign-in once the clinic is open.
    assert _audit_count(clinic.db) == before
    assert clinic.early.check("admin", PASSWORD) == clinic.admin


def test_a_wrong_password_is_left_to_the_full_sign_in(clinic: FileClinic) -> None:
    assert clinic.early.check("kim", "not her password") is None
    assert clinic.early.check("kim", "") is None
    with clinic.db.read() as session:
        user = session.get(User, clinic.nurse_id)
        assert user is not None
        assert user.failed_attempts == 0  # counted by the full sign-in, not here


def test_an_unknown_username_is_left_to_the_full_sign_in(clinic: FileClinic) -> None:
    assert clinic.early.check("nobody", NURSE_PASSWORD) is None


@pytest.mark.parametrize(
    "values",
    [
        {"active": False},
        {"must_change_password": True},
        {"failed_attempts": 1},
        {"failed_attempts": 0, "last_failed_at": dt.datetime(2026, 1, 1, tzinfo=dt.UTC)},
        {"password_hash": ""},
    ],
    ids=["deactivated", "must-change-password", "a-failure-on-record", "a-failure-time", "no-hash"],
)
def test_a_user_the_full_sign_in_might_refuse_is_left_to_it(
    clinic: FileClinic, values: dict[str, object]
) -> None:
    _set(clinic, **values)
    assert clinic.early.check("kim", NURSE_PASSWORD) is None


def test_a_locked_out_user_is_left_to_the_full_sign_in_which_refuses(clinic: FileClinic) -> None:
    for _ in range(4):  # past the free failures: the next attempt must wait
        with pytest.raises(accounts.SignInRefused):
            accounts.sign_in(clinic.db, "kim", "wrong")
    assert clinic.early.check("kim", NURSE_PASSWORD) is None
    with pytest.raises(accounts.SignInRefused, match="try again in"):
        accounts.sign_in(clinic.db, "kim", NURSE_PASSWORD)


def test_a_clinic_that_requires_disk_encryption_is_left_to_the_full_sign_in(
    tmp_path: Path,
) -> None:
    for clinic in _file_clinic(tmp_path, policy="require"):
        assert clinic.early.check("kim", NURSE_PASSWORD) is None


def test_an_old_schema_is_left_to_the_full_sign_in(clinic: FileClinic) -> None:
    with clinic.db.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    assert clinic.early.check("kim", NURSE_PASSWORD) is None
    with clinic.db.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_from_the_future'"))
    assert clinic.early.check("kim", NURSE_PASSWORD) is None


def test_a_file_that_is_not_a_clinic_is_left_to_the_full_sign_in(tmp_path: Path) -> None:
    missing = FileSignIn(tmp_path / "missing.sqlite")
    assert missing.check("kim", NURSE_PASSWORD) is None
    assert not (tmp_path / "missing.sqlite").exists()  # never created
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"not a database at all, just some bytes " * 10)
    assert FileSignIn(junk).check("kim", NURSE_PASSWORD) is None
    import sqlite3

    other = tmp_path / "other.sqlite"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
    assert FileSignIn(other).check("kim", NURSE_PASSWORD) is None


def test_only_plain_sqlite_urls_have_an_early_check(tmp_path: Path) -> None:
    assert FileSignIn.of("postgresql+psycopg://kim@localhost/clinic") is None
    assert FileSignIn.of(f"sqlite:///{tmp_path / 'c.sqlite'}?mode=ro") is None
    assert FileSignIn.of(str(tmp_path / "c.sqlite")) == FileSignIn(tmp_path / "c.sqlite")


def test_the_full_sign_in_still_records_what_the_early_check_let_through(
    clinic: FileClinic,
) -> None:
    actor = clinic.early.check("kim", NURSE_PASSWORD)
    assert actor is not None
    assert accounts.sign_in(clinic.db, "kim", NURSE_PASSWORD) == actor
    with clinic.db.read() as session:
        actions = session.scalars(
            text("SELECT action FROM audit_event WHERE user_id = :id ORDER BY id"),
            {"id": clinic.nurse_id},
        ).all()
    assert actions[-1] == "sign_in"


CHECK_IMPORTS = """
import json, sys
from ketadesk.services.access.file_sign_in import FileSignIn
loaded_before = sorted(sys.modules)
found = FileSignIn.of(sys.argv[1]).check(sys.argv[2], sys.argv[3])
print(json.dumps([found is not None, loaded_before, sorted(sys.modules)]))
"""


def test_the_check_needs_no_sqlalchemy_and_loads_argon2_only_when_checking(
    clinic: FileClinic,
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", CHECK_IMPORTS, clinic.url, "kim", NURSE_PASSWORD],
        env=dict(os.environ),
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[3],
    )
    said_yes, before, after = json.loads(done.stdout.splitlines()[-1])
    assert said_yes
    assert not [m for m in before if m.startswith(("sqlalchemy", "argon2", "ketadesk.store.m"))]
    assert not [m for m in after if m.startswith(("sqlalchemy", "alembic", "ketadesk.store.mo"))]
    assert "argon2" in after
