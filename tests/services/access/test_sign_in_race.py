"""Wrong passwords sent all at once are slowed down like ones sent one after another: each
attempt claims its place before its password is checked, so twenty parallel guesses get no more
checks than the clinic's free failures allow (plus the one that earns the first wait)."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import select

from ketadesk.services.access import accounts
from ketadesk.services.access.accounts import SignInRefused
from ketadesk.services.clinic.clinic_setup import open_clinic
from ketadesk.services.common.context import Database
from ketadesk.store.models import AuditEvent
from tests.clinic_fixtures import new_clinic

ATTEMPTS = 20
NOW = dt.datetime(2026, 12, 1, 16, 0, tzinfo=dt.UTC)  # every attempt at the same instant
PASSWORD = "correct horse battery"


@pytest.fixture
def url(db_url: str) -> str:
    db = new_clinic(db_url)
    accounts.create_first_admin(db, "admin", "Clinic Admin", PASSWORD)
    db.dispose()
    return db_url


def _guess_all_at_once(url: str, username: str) -> list[SignInRefused]:
    """ATTEMPTS wrong passwords, each from a workstation of its own, released together."""
    dbs = [open_clinic(url).db for _ in range(ATTEMPTS)]
    barrier = threading.Barrier(ATTEMPTS)
    answers: list[SignInRefused] = []
    raw: list[BaseException] = []

    def guess(db: Database, n: int) -> None:
        barrier.wait()
        try:
            accounts.sign_in(db, username, f"guess number {n}", now=NOW)
        except SignInRefused as refused:
            answers.append(refused)
        except BaseException as err:  # reported below
            raw.append(err)

    threads = [threading.Thread(target=guess, args=(db, n)) for n, db in enumerate(dbs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    for db in dbs:
        db.dispose()
    assert not raw, [repr(e) for e in raw]
    assert len(answers) == ATTEMPTS
    return answers


def _settings(url: str) -> tuple[int, Database]:
    db = open_clinic(url).db
    return accounts.account_settings(db).free_failures, db


@pytest.mark.parametrize("username", ["admin", "ghost"])
def test_twenty_parallel_wrong_passwords_get_only_the_free_checks(url: str, username: str) -> None:
    answers = _guess_all_at_once(url, username)
    free, db = _settings(url)
    checked = [a for a in answers if str(a).startswith(accounts.WRONG)]
    waiting = [a for a in answers if str(a).startswith("too many wrong passwords")]
    assert len(checked) + len(waiting) == ATTEMPTS
    # As if one after another: the free failures, then one more that earns the first wait.
    assert len(checked) == free + 1, [str(a) for a in answers]
    assert all(a.retry_after > 0 for a in waiting)
    with db.read() as s:
        failed = s.scalars(select(AuditEvent).where(AuditEvent.action == "sign_in_failed")).all()
        refused = s.scalars(select(AuditEvent).where(AuditEvent.action == "sign_in_refused")).all()
    assert (len(failed), len(refused)) == (len(checked), len(waiting))
    db.dispose()


def test_the_right_password_after_the_wait_still_signs_in_and_resets(url: str) -> None:
    _guess_all_at_once(url, "admin")
    free, db = _settings(url)
    later = NOW + dt.timedelta(minutes=10)
    assert accounts.sign_in(db, "admin", PASSWORD, now=later).username == "admin"
    with pytest.raises(SignInRefused, match=r"^wrong username or password$"):
        accounts.sign_in(db, "admin", "still wrong", now=later)
    db.dispose()
    assert free >= 1
