"""``ketadesk check`` warns of each session still to come that is booked on one of its patient's
days away (the range entered after the booking), naming the patient, the session, its day and
time as the patient record said them when the range was saved, and the range with its reason:
a warning, never an error (exit status 0: nothing is corrupt; the desk must call the patient).
A session put on the day with an override on record, and one already past, are not listed.

Dates come from the clinic's today (``booked_clinic``); ``check --today`` acts at that day."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from ketadesk.cli import main
from ketadesk.services.booking import appointment_changes
from ketadesk.services.booking.move_check import plan_move
from ketadesk.services.clinic.integrity import check_integrity
from ketadesk.services.clinic.integrity_away import AWAY_CODE
from ketadesk.services.common.context import Actor
from ketadesk.services.patients.days_away import add_day_away
from ketadesk.store.models import Appointment
from tests.services.settings.availability_clinic import BookedClinic, booked_clinic

DESK = Actor(user_id=None, username="maria", role="front_desk")


@pytest.fixture
def booked(db_url: str) -> Iterator[BookedClinic]:
    b = booked_clinic(db_url, whole_weeks=3)
    yield b
    b.clinic.db.dispose()


def _url(b: BookedClinic) -> str:
    return str(b.clinic.db.engine.url.render_as_string(hide_password=False))


def test_check_warns_of_each_session_booked_on_a_day_away(
    booked: BookedClinic, capsys: pytest.CaptureFixture[str]
) -> None:
    b = booked
    s = b.series
    assert [
        w for w in check_integrity(b.clinic.db, now=b.now).warnings if w.code == AWAY_CODE
    ] == []
    # The second week away (sessions 4, 5 and 6), entered after the series was booked.
    first, last = b.day_of(s[3]), b.day_of(s[5])
    saved = add_day_away(
        b.clinic.db, DESK, b.clinic.ids["Ada Lovelace"], first, last, "conference", now=b.now
    )
    report = check_integrity(b.clinic.db, now=b.now)
    assert report.problems == ()  # nothing is corrupt
    away = [w for w in report.warnings if w.code == AWAY_CODE]
    assert [w.appointment_ids for w in away] == [(s[3],), (s[4],), (s[5],)]
    for w, listed in zip(away, saved.sessions, strict=True):
        assert w.message.startswith("warning: Lovelace, Ada: Patient away [patient_away]: ")
        # The session as the record listed it when the range was saved, and the range.
        assert f" {listed.when} falls while the patient is away {saved.away.words};" in w.message
        assert "(conference)" in w.message
        assert w.message.endswith(
            f"call the patient to move it (appointment #{listed.appointment_id}, version 1)"
        )
    assert "IV ketamine infusion 4/6 " in away[0].message

    status = main(["check", "--db", _url(b), "--today", b.today.isoformat()])
    out = capsys.readouterr().out
    assert status == 0  # warnings only
    lines = [line for line in out.splitlines() if "[patient_away]" in line]
    assert lines == [w.message for w in away]
    assert "3 rule warnings" in out


def test_a_session_kept_on_the_day_with_a_reason_or_already_past_is_not_listed(
    booked: BookedClinic,
) -> None:
    b = booked
    s = b.series
    # Session 5 moved onto the Thursday, a day away the desk knew of, with a reason.
    thursday = b.day_of(s[4]) + dt.timedelta(days=1)
    add_day_away(
        b.clinic.db, DESK, b.clinic.ids["Ada Lovelace"], thursday, thursday, "x", now=b.now
    )
    given = {"patient_away": "back by 9"}
    start = b.clinic.at(thursday, "10:00")
    with b.clinic.db.read() as session:
        row = session.get(Appointment, s[4])
        assert row is not None
        room = row.room_id
    planned = plan_move(b.clinic.db, s[4], start, room, now=b.now, overrides=given)
    appointment_changes.move(b.clinic.db, DESK, s[4], planned, now=b.now, overrides=given)
    # Session 6's day added afterwards: listed, until it is past.
    sixth = b.day_of(s[5])
    add_day_away(b.clinic.db, DESK, b.clinic.ids["Ada Lovelace"], sixth, sixth, "y", now=b.now)
    away = [w for w in check_integrity(b.clinic.db, now=b.now).warnings if w.code == AWAY_CODE]
    assert [w.appointment_ids for w in away] == [(s[5],)]
    after = b.clinic.at(sixth, "23:00")
    assert [
        w for w in check_integrity(b.clinic.db, now=after).warnings if w.code == AWAY_CODE
    ] == []


def test_check_refuses_a_today_that_is_no_date(
    booked: BookedClinic, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", "--db", _url(booked), "--today", "someday"]) == 2
    assert "'someday' is not a date" in capsys.readouterr().err
