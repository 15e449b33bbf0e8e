"""``ketadesk move --if-version N``: a script's move made conditional, as the window's moves are
(``services/booking/changed_elsewhere.py``).  The command prints the version a move leaves (and
a refusal the version it found); a move asked for on an older version is refused in the
window's words with the version it has now, exit status 2, nothing written; without the option
it moves whatever the version, as before.  ``patients away add`` lists each session falling in
the range with its appointment number and version, for the move.

Time is injected: the clinic of ``test_rules_at_every_step.py`` and its ``--today``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from ketadesk.cli import main
from ketadesk.services.booking import booking
from ketadesk.services.booking.booking import BookingRequest
from ketadesk.services.common.context import SYSTEM
from ketadesk.store.models import Appointment, AppointmentEvent
from tests.clinic_fixtures import SmallClinic, build_small_clinic
from tests.services.booking.test_rules_at_every_step import IV, _cli, book_series, day, move_to


@pytest.fixture
def clinic(db_url: str) -> Iterator[SmallClinic]:
    c = build_small_clinic(db_url)
    yield c
    c.db.dispose()


def _row(clinic: SmallClinic, appointment_id: int) -> tuple[dt.datetime, int]:
    with clinic.db.read() as session:
        row = session.get(Appointment, appointment_id)
        assert row is not None
        return row.starts_at, row.version


def test_a_move_on_the_version_read_goes_ahead_and_says_the_version_it_left(
    clinic: SmallClinic, capsys: pytest.CaptureFixture[str]
) -> None:
    first = book_series(clinic, "iv_induction", [0, 2])[0]
    to = f"{day(0):%Y-%m-%d} 11:00"
    status = main(_cli(clinic, "--appointment", str(first), "--to", to, "--if-version", "1"))
    out, err = capsys.readouterr()
    assert status == 0, err
    assert out.strip().endswith("; now version 2 (was 1)")
    assert _row(clinic, first) == (clinic.at(day(0), "11:00"), 2)


def test_a_move_on_an_older_version_is_refused_in_the_windows_words_and_writes_nothing(
    clinic: SmallClinic, capsys: pytest.CaptureFixture[str]
) -> None:
    first = book_series(clinic, "iv_induction", [0, 2])[0]
    # Another workstation moved it since the script read version 1.
    move_to(clinic, first, 0, hhmm="11:00")
    before = _row(clinic, first)
    with clinic.db.read() as session:
        events = len(session.scalars(select(AppointmentEvent.id)).all())
    to = f"{day(0):%Y-%m-%d} 12:00"
    status = main(_cli(clinic, "--appointment", str(first), "--to", to, "--if-version", "1"))
    out, err = capsys.readouterr()
    assert status == 2
    assert out == ""
    assert f"ketadesk move: appointment #{first} is no longer at version 1:" in err
    # The refusal a stale drop gets in the window: what happened, by whom, and nothing done.
    assert "Lovelace, Ada's IV ketamine infusion " in err  # as every refusal names it
    assert "was moved" in err
    assert "since you last saw it; nothing was done" in err
    assert "(it is at version 2 now)" in err
    assert _row(clinic, first) == before
    with clinic.db.read() as session:
        assert len(session.scalars(select(AppointmentEvent.id)).all()) == events
    # Without the option it moves, as it always did.
    assert main(_cli(clinic, "--appointment", str(first), "--to", to)) == 0
    assert "now version 3 (was 2)" in capsys.readouterr().out


def test_a_refused_move_names_the_version_and_a_bad_version_is_bad_input(
    clinic: SmallClinic, capsys: pytest.CaptureFixture[str]
) -> None:
    second = book_series(clinic, "spravato_trd", [0, 3])[1]
    to = f"{day(1):%Y-%m-%d} 10:00"
    assert main(_cli(clinic, "--appointment", str(second), "--to", to, "--if-version", "1")) == 1
    assert (
        f"appointment #{second} cannot move there (it stays at version 1):"
        in capsys.readouterr().err
    )
    with pytest.raises(SystemExit) as bad:
        main(_cli(clinic, "--appointment", str(second), "--to", to, "--if-version", "one"))
    assert bad.value.code == 2
    assert "--if-version: invalid int value: 'one'" in capsys.readouterr().err


def test_patients_away_add_lists_each_session_with_its_number_and_version(
    sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    clinic = build_small_clinic(sqlite_url)
    try:
        today = clinic.calendar.local_date(dt.datetime.now(dt.UTC))
        monday = clinic.open_day(today + dt.timedelta(days=7))
        planned = clinic.session("iv_infusion", monday, "10:00", IV)
        (booked,) = booking.book(
            clinic.db,
            SYSTEM,
            BookingRequest(patient_id=clinic.ids["Ada Lovelace"], sessions=(planned,)),
        ).appointment_ids
        status = main(
            [
                "patients",
                "away",
                "add",
                "--db",
                str(clinic.db.url.database),
                "--chart",
                "BT-1",
                "--first",
                monday.isoformat(),
                "--reason",
                "travel",
            ]
        )
        out = capsys.readouterr().out
        assert status == 0
        assert "1 session falls in this time: " in out
        assert f"  appointment #{booked} (version 1): IV ketamine infusion " in out
    finally:
        clinic.db.dispose()
