"""The integrity check finds every kind of broken booking in a small clinic, and nothing else."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import exc, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ketadesk.cli import main
from ketadesk.config import Catalog
from ketadesk.scheduling.calendar import ClinicCalendar, Interval
from ketadesk.scheduling.model import session_holds
from ketadesk.services.clinic.clinic_setup import open_clinic
from ketadesk.services.clinic.integrity import (
    _read_only_snapshot,
    check_integrity,
    find_problems,
)
from ketadesk.services.clinic.integrity_report import Problem
from ketadesk.store.clinic_config import load_catalog
from ketadesk.store.database import Database
from ketadesk.store.models import (
    Appointment,
    Closure,
    Patient,
    Protocol,
    Resource,
    ResourceHold,
    Series,
    SessionType,
    StaffMember,
    StaffShift,
)
from tests.clinic_fixtures import new_clinic, say_times

TUESDAY = dt.date(2026, 3, 3)
THANKSGIVING = dt.date(2026, 11, 26)
NURSE_SHIFT = (8 * 60, 14 * 60)  # the fixture nurse works mornings, Monday to Friday


@dataclass
class Clinic:
    """Two treatment rooms, one vital-signs monitor, one nurse on mornings, one patient (and a
    few others, for sessions that share a time)."""

    db: Database
    url: str
    catalog: Catalog
    calendar: ClinicCalendar
    room1: int
    room2: int
    monitor: int
    nurse: int
    patient: int
    session_types: dict[str, int]
    others: tuple[int, ...] = ()

    def at(self, day: dt.date, hhmm: str) -> dt.datetime:
        hh, mm = hhmm.split(":")
        return self.calendar.at_local(day, int(hh) * 60 + int(mm))

    def book(
        self,
        start: dt.datetime,
        *,
        room: int | None = None,
        code: str = "iv_infusion",
        status: str = "booked",
        holds_active: bool = True,
        patient: int | None = None,
    ) -> int:
        """An appointment with the holds its session type takes (room 1 unless told)."""
        spec = self.catalog.session_types[code]
        room = self.room1 if room is None else room
        assignment = {"room": room, "monitor": self.monitor, "nurse": self.nurse}
        with self.db.write() as session:
            appt = Appointment(
                patient_id=self.patient if patient is None else patient,
                session_type_id=self.session_types[code],
                room_id=room,
                starts_at=start,
                ends_at=start + dt.timedelta(minutes=spec.total_minutes),
                status=status,
            )
            appt.holds = [
                ResourceHold(
                    resource_id=h.resource_id,
                    need=h.need,
                    mode=h.mode.value,
                    exclusive=h.exclusive,
                    units=h.units,
                    starts_at=h.span.start,
                    ends_at=h.span.end,
                    active=holds_active,
                )
                for h in session_holds(spec, start, assignment)
            ]
            session.add(appt)
            session.flush()
            return appt.id

    def appointment(
        self,
        start: dt.datetime,
        minutes: int,
        *holds: tuple[int, str, int],
        room: int | None = None,
        patient: int | None = None,
    ) -> int:
        """A hand-made appointment; each hold is (resource id, mode, minutes from the start)."""
        with self.db.write() as session:
            appt = Appointment(
                patient_id=self.patient if patient is None else patient,
                session_type_id=self.session_types["iv_infusion"],
                room_id=room,
                starts_at=start,
                ends_at=start + dt.timedelta(minutes=minutes),
            )
            appt.holds = [
                ResourceHold(
                    resource_id=resource_id,
                    need="hand-made",
                    mode=mode,
                    exclusive=mode == "exclusive",
                    units=0 if mode == "presence" else 1,
                    starts_at=start,
                    ends_at=start + dt.timedelta(minutes=length),
                )
                for resource_id, mode, length in holds
            ]
            session.add(appt)
            session.flush()
            return appt.id

    def problems(self) -> list[Problem]:
        return find_problems(self.db)


def _resource(session: Session, kind: str, subkind: str, name: str, capacity: int = 1) -> Resource:
    resource = Resource(kind=kind, subkind=subkind, name=name, capacity=capacity)
    session.add(resource)
    return resource


@pytest.fixture
def clinic(db_url: str) -> Iterator[Clinic]:
    db = new_clinic(db_url)
    with db.write() as session:
        say_times(session, "24h")  # the report's times as written below ("09:00–10:40")
        catalog = load_catalog(session)
        settings = catalog.settings
        room1 = _resource(session, "room", "treatment", "Room 1")
        room2 = _resource(session, "room", "treatment", "Room 2")
        monitor = _resource(session, "equipment", "vital_signs_monitor", "Monitor 1")
        nurse = _resource(
            session, "staff", "nurse", "Ana Ruiz, RN", capacity=settings.capacity_for_role("nurse")
        )
        session.flush()
        session.add(
            StaffMember(resource_id=nurse.id, role="nurse", first_name="Ana", last_name="Ruiz")
        )
        for weekday in range(5):
            session.add(
                StaffShift(
                    resource_id=nurse.id,
                    weekday=weekday,
                    start_minute=NURSE_SHIFT[0],
                    end_minute=NURSE_SHIFT[1],
                )
            )
        # Cleared for treatment, so the clean clinic breaks no gating rule either (those are
        # ketadesk check's warnings, services/clinic/integrity_rules.py).
        patient = Patient(
            chart_number="C-0001",
            first_name="Jo",
            last_name="Park",
            screening_status="cleared",
            consent_signed_on=dt.date(2026, 1, 5),
            driver_name="A. Driver",
        )
        others = [
            Patient(chart_number=f"C-01{n:02d}", first_name=first, last_name="Lee")
            for n, first in enumerate(("Ann", "Bo", "Cy", "Di", "Ed"), start=2)
        ]
        session.add_all([patient, *others])
        session.flush()
        types = {t.code: t.id for t in session.scalars(select(SessionType))}
        ids = (room1.id, room2.id, monitor.id, nurse.id, patient.id)
        other_ids = tuple(p.id for p in others)
    calendar = ClinicCalendar(settings=catalog.settings)
    yield Clinic(db, db_url, catalog, calendar, *ids, session_types=types, others=other_ids)
    db.dispose()


def _codes(problems: list[Problem]) -> list[str]:
    return [p.code for p in problems]


# ---------------------------------------------------------------------------------------------
# A clean clinic


def test_a_well_booked_clinic_has_no_problems(clinic: Clinic) -> None:
    clinic.book(clinic.at(TUESDAY, "09:00"), room=clinic.room1)
    clinic.book(clinic.at(TUESDAY, "11:00"), room=clinic.room2)
    # A cancelled session whose holds were released does not count, though it overlaps.
    clinic.book(
        clinic.at(TUESDAY, "09:30"), room=clinic.room1, status="cancelled", holds_active=False
    )
    report = check_integrity(clinic.db)
    assert report.problems == ()
    assert (report.appointments, report.holds) == (3, 12)


# ---------------------------------------------------------------------------------------------
# Double bookings and capacity


def test_two_sessions_in_one_room_at_once_are_an_overlap(clinic: Clinic) -> None:
    first = clinic.book(clinic.at(TUESDAY, "09:00"))
    if not clinic.db.is_sqlite:
        # PostgreSQL's exclusion constraint refuses the second booking by itself.
        with pytest.raises(exc.IntegrityError, match="no_overlapping_exclusive_holds"):
            clinic.appointment(
                clinic.at(TUESDAY, "09:30"),
                100,
                (clinic.room1, "exclusive", 100),
                patient=clinic.others[0],
            )
        assert clinic.problems() == []
        return
    second = clinic.appointment(
        clinic.at(TUESDAY, "09:30"),
        100,
        (clinic.room1, "exclusive", 100),
        patient=clinic.others[0],
    )
    assert [p.message for p in clinic.problems()] == [
        f"overlap: Room 1 held by appointments #{first} and #{second} on "
        "Tue Mar 3, 2026 09:30–10:40"
    ]


def test_a_nurse_watching_one_patient_too_many_is_over_capacity(clinic: Clinic) -> None:
    capacity = clinic.catalog.settings.capacity_for_role("nurse")
    ids = [
        clinic.appointment(
            clinic.at(TUESDAY, "09:00") + dt.timedelta(minutes=10 * i),
            60,
            (clinic.nurse, "shared", 60),
            patient=clinic.others[i],
        )
        for i in range(capacity + 1)
    ]
    problems = clinic.problems()
    assert _codes(problems) == ["capacity"]
    message = problems[0].message
    assert message.startswith(
        f"capacity: Ana Ruiz, RN is held {capacity + 1} times at once (capacity {capacity})"
    )
    assert all(f"#{i}" in message for i in ids)
    last_start = clinic.calendar.local(
        clinic.at(TUESDAY, "09:00") + dt.timedelta(minutes=10 * capacity)
    )
    assert f"on Tue Mar 3, 2026 {last_start:%H:%M}–10:00" in message
    assert problems[0].appointment_ids == tuple(ids)


def test_a_nurse_at_full_capacity_is_fine(clinic: Clinic) -> None:
    capacity = clinic.catalog.settings.capacity_for_role("nurse")
    for i in range(capacity):
        clinic.appointment(
            clinic.at(TUESDAY, "09:00") + dt.timedelta(minutes=10 * i),
            60,
            (clinic.nurse, "shared", 60),
            patient=clinic.others[i],
        )
    # A hold that starts exactly when another ends does not overlap it.
    clinic.appointment(clinic.at(TUESDAY, "10:00"), 60, (clinic.nurse, "shared", 60))
    assert clinic.problems() == []


# ---------------------------------------------------------------------------------------------
# When the clinic, a room or a staff member is not there


def test_an_infusion_on_thanksgiving_is_flagged_once(clinic: Clinic) -> None:
    appt = clinic.book(clinic.at(THANKSGIVING, "10:00"))
    problems = clinic.problems()
    assert _codes(problems) == ["closed"]
    message = problems[0].message
    assert message.startswith(
        f"closed: appointment #{appt} in Room 1 on Thu Nov 26, 2026 10:00–11:40"
    )
    assert "Thanksgiving" in message


def test_a_session_at_six_in_the_morning_is_before_opening(clinic: Clinic) -> None:
    opens = clinic.catalog.settings.hours["tue"]
    assert opens is not None
    assert opens[0] > dt.time(6, 0), "the test needs 06:00 to be before opening"
    appt = clinic.book(clinic.at(TUESDAY, "06:00"))
    problems = clinic.problems()
    assert _codes(problems) == ["outside_hours"]
    assert problems[0].message == (
        f"outside_hours: appointment #{appt} in Room 1 on Tue Mar 3, 2026 06:00–07:40: "
        f"outside opening hours ({opens[0]:%H:%M}–{opens[1]:%H:%M})"
    )


def test_a_session_on_a_closed_weekday_is_flagged(clinic: Clinic) -> None:
    closed = next(
        i
        for i, day in enumerate(("mon", "tue", "wed", "thu", "fri", "sat", "sun"))
        if clinic.catalog.settings.hours[day] is None
    )
    day = TUESDAY + dt.timedelta(days=(closed - TUESDAY.weekday()) % 7)
    clinic.book(clinic.at(day, "10:00"))
    problems = clinic.problems()
    assert _codes(problems) == ["closed"]
    assert f"clinic closed on {day:%A}s" in problems[0].message


def test_a_nurse_booked_after_her_shift_is_off_shift(clinic: Clinic) -> None:
    hours = clinic.catalog.settings.hours["tue"]
    assert hours is not None
    assert hours[1] >= dt.time(16, 10), "the session must end before closing"
    appt = clinic.book(clinic.at(TUESDAY, "14:30"))
    problems = clinic.problems()
    assert [p.message for p in problems] == [
        f"off_shift: Ana Ruiz, RN held by appointment #{appt} on Tue Mar 3, 2026 14:45–16:10: "
        "outside their shifts (08:00–14:00)"
    ]


def test_a_monitor_out_for_maintenance_cannot_be_held(clinic: Clinic) -> None:
    with clinic.db.write() as session:
        session.add(
            Closure(
                resource_id=clinic.monitor,
                kind="maintenance",
                starts_at=clinic.at(TUESDAY, "10:45"),
                ends_at=clinic.at(TUESDAY + dt.timedelta(days=1), "11:00"),
                reason="calibration",
            )
        )
    clinic.book(clinic.at(TUESDAY, "09:00"))  # done before the technician comes
    during = clinic.book(clinic.at(TUESDAY, "11:00"))
    clinic.book(clinic.at(TUESDAY + dt.timedelta(days=1), "11:00"))  # back in service
    assert [p.message for p in clinic.problems()] == [
        f"closed: Monitor 1 held by appointment #{during} on Tue Mar 3, 2026 11:15–12:40: "
        "unavailable (maintenance: calibration)"
    ]


def test_a_session_during_a_clinic_closure_names_the_reason(clinic: Clinic) -> None:
    with clinic.db.write() as session:
        session.add(
            Closure(
                kind="closure",
                starts_at=clinic.at(TUESDAY, "12:00"),
                ends_at=clinic.at(TUESDAY, "18:00"),
                reason="staff training",
            )
        )
    clinic.book(clinic.at(TUESDAY, "09:00"))
    during = clinic.book(clinic.at(TUESDAY, "11:00"), room=clinic.room2)
    assert [p.message for p in clinic.problems()] == [
        f"closed: appointment #{during} in Room 2 on Tue Mar 3, 2026 11:00–12:40: "
        "clinic closed: staff training"
    ]


# ---------------------------------------------------------------------------------------------
# A patient in two places at once (issue 13: a series move once put one there, unseen)


def test_a_patient_in_two_sessions_at_once_is_an_error(clinic: Clinic) -> None:
    first = clinic.book(clinic.at(TUESDAY, "09:00"))
    # Room 2 alone, so that nothing but the patient is shared.
    second = clinic.appointment(
        clinic.at(TUESDAY, "10:00"), 50, (clinic.room2, "exclusive", 50), room=clinic.room2
    )
    problems = clinic.problems()
    assert [p.message for p in problems] == [
        f"patient_overlap: Park, Jo (chart C-0001) is in two sessions at once: appointment "
        f"#{first} (IV ketamine infusion, Tue Mar 3, 2026 09:00–10:40) and appointment "
        f"#{second} (IV ketamine infusion, Tue Mar 3, 2026 10:00–10:50)"
    ]
    assert problems[0].appointment_ids == (first, second)
    assert problems[0].severity == "error"


def test_back_to_back_or_cancelled_sessions_of_one_patient_are_fine(clinic: Clinic) -> None:
    clinic.book(clinic.at(TUESDAY, "09:00"))
    # 10:40, when the first ends; and a cancelled one (its holds released) at 10:00.
    clinic.appointment(clinic.at(TUESDAY, "10:40"), 50, (clinic.room2, "exclusive", 50))
    clinic.book(clinic.at(TUESDAY, "10:00"), status="cancelled", holds_active=False)
    assert clinic.problems() == []


def test_three_sessions_of_one_patient_at_once_are_three_pairs(clinic: Clinic) -> None:
    ids = [
        clinic.appointment(clinic.at(TUESDAY, hhmm), 60, (room, "exclusive", 60))
        for hhmm, room in (
            ("09:00", clinic.room1),
            ("09:30", clinic.room2),
            ("09:45", clinic.monitor),
        )
    ]
    pairs = [p.appointment_ids for p in clinic.problems() if p.code == "patient_overlap"]
    assert sorted(pairs) == [(ids[0], ids[1]), (ids[0], ids[2]), (ids[1], ids[2])]


# ---------------------------------------------------------------------------------------------
# Rows that contradict one another


def test_a_cancelled_session_still_holding_its_room_is_a_status_problem(clinic: Clinic) -> None:
    appt = clinic.book(clinic.at(TUESDAY, "09:00"), status="cancelled")
    assert [p.message for p in clinic.problems()] == [
        f"status: appointment #{appt} on Tue Mar 3, 2026 09:00–10:40 is cancelled but still "
        "holds Room 1, Monitor 1, Ana Ruiz, RN"
    ]


def test_a_hold_running_past_its_appointment_is_inconsistent(clinic: Clinic) -> None:
    appt = clinic.book(clinic.at(TUESDAY, "09:00"))
    with clinic.db.write() as session:
        hold = session.scalars(
            select(ResourceHold).where(
                ResourceHold.appointment_id == appt, ResourceHold.resource_id == clinic.room1
            )
        ).one()
        hold.ends_at += dt.timedelta(minutes=30)
    assert [p.message for p in clinic.problems()] == [
        f"inconsistent: Room 1 held by appointment #{appt} on Tue Mar 3, 2026 09:00–11:10: "
        "outside the appointment's own time (Tue Mar 3, 2026 09:00–10:40)"
    ]


def test_a_booked_session_without_holds_is_a_status_problem(clinic: Clinic) -> None:
    appt = clinic.appointment(clinic.at(TUESDAY, "09:00"), 100, room=clinic.room2)
    assert [p.message for p in clinic.problems()] == [
        f"status: appointment #{appt} in Room 2 on Tue Mar 3, 2026 09:00–10:40 is booked but "
        "holds no resources"
    ]


def test_series_and_rooms_that_disagree_are_named(clinic: Clinic) -> None:
    with clinic.db.write() as session:
        other = Patient(chart_number="C-0002", first_name="Lee", last_name="Moss")
        session.add(other)
        session.flush()
        protocol_id = session.scalars(select(Protocol.id)).first()
        assert protocol_id is not None
        series = Series(patient_id=other.id, protocol_id=protocol_id, planned_count=6)
        session.add(series)
        session.flush()
        series_id, other_id = series.id, other.id
    wrong_series = clinic.book(clinic.at(TUESDAY, "09:00"))
    nurse_as_room = clinic.appointment(
        clinic.at(TUESDAY, "11:00"), 50, (clinic.room2, "exclusive", 50), room=clinic.nurse
    )
    with clinic.db.write() as session:
        first = session.get_one(Appointment, wrong_series)
        first.series_id, first.series_index = series_id, 1
    messages = [p.message for p in clinic.problems()]
    assert messages == [
        f"inconsistent: appointment #{wrong_series} on Tue Mar 3, 2026 09:00–10:40 is for "
        f"patient #{clinic.patient} but belongs to series #{series_id} of patient #{other_id}",
        f"inconsistent: appointment #{nurse_as_room} on Tue Mar 3, 2026 11:00–11:50 is in room "
        "Ana Ruiz, RN, which is a staff member, not a room",
    ]


def _place_in_series(clinic: Clinic, appointment_id: int, series_id: int, index: int) -> None:
    with clinic.db.write() as session:
        appointment = session.get_one(Appointment, appointment_id)
        appointment.series_id, appointment.series_index = series_id, index


def _unmark_exclusive_hold(clinic: Clinic, appointment_id: int) -> None:
    with clinic.db.write() as session:
        hold = session.scalars(
            select(ResourceHold).where(
                ResourceHold.appointment_id == appointment_id, ResourceHold.mode == "exclusive"
            )
        ).first()
        assert hold is not None
        hold.exclusive = False


def test_database_refuses_a_duplicate_series_place_and_a_hold_mode_mismatch(
    clinic: Clinic,
) -> None:
    with clinic.db.write() as session:
        protocol_id = session.scalars(select(Protocol.id)).first()
        assert protocol_id is not None
        series = Series(patient_id=clinic.patient, protocol_id=protocol_id, planned_count=6)
        session.add(series)
        session.flush()
        series_id = series.id
    first = clinic.book(clinic.at(TUESDAY, "09:00"))
    twin = clinic.book(clinic.at(TUESDAY + dt.timedelta(days=2), "09:00"))
    _place_in_series(clinic, first, series_id, 1)
    with pytest.raises(IntegrityError):
        _place_in_series(clinic, twin, series_id, 1)
    with pytest.raises(IntegrityError):
        _unmark_exclusive_hold(clinic, first)
    assert clinic.problems() == []


def test_rows_left_behind_by_a_database_without_foreign_keys_are_orphans(
    sqlite_url: str,
) -> None:
    opened = open_clinic(sqlite_url, create=True)
    path = opened.db.sqlite_path
    assert path is not None
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA foreign_keys = OFF")
        conn.execute(
            "INSERT INTO resource (id, kind, subkind, name, short_name, capacity, active, "
            "sort_order, notes) VALUES (1, 'room', 'treatment', 'Room 1', '', 1, 1, 0, '')"
        )
        conn.execute(
            "INSERT INTO resource_hold (appointment_id, resource_id, need, mode, exclusive, "
            "units, starts_at, ends_at, active) VALUES (404, 1, 'room', 'exclusive', 1, 1, "
            "'2026-03-03 17:00:00', '2026-03-03 18:40:00', 1)"
        )
        conn.execute(
            "INSERT INTO follow_up (patient_id, kind, due_at, assignee_role, priority, status, "
            "outcome, created_at) VALUES (77, 'next_day_call', '2026-03-04 17:00:00', 'nurse', "
            "'normal', 'open', '', '2026-03-03 17:00:00')"
        )
        conn.execute(
            "INSERT INTO measurement (patient_id, instrument, score, items, taken_at) "
            "VALUES (78, 'phq9', 12, '[]', '2026-03-03 17:00:00')"
        )
        conn.execute(
            "INSERT INTO staff_member (resource_id, role, first_name, last_name, credentials, "
            "phone, email) VALUES (99, 'nurse', 'Sam', 'Lost', '', '', '')"
        )
    try:
        messages = [p.message for p in find_problems(opened.db)]
    finally:
        opened.db.dispose()
    assert messages == [
        # A clinic made here, not the fixture's: a US clinic's 12-hour times.
        "orphan: hold #1 on Room 1 on Tue Mar 3, 2026 9:00–10:40 AM belongs to appointment #404, "
        "which does not exist",
        "orphan: measurement #1 (phq9, Tue Mar 3, 2026) is for patient #78, who does not exist",
        "orphan: follow-up #1 (next_day_call, Wed Mar 4, 2026) is for patient #77, who does not "
        "exist",
        "orphan: staff member Sam Lost (nurse) is resource #99, which does not exist",
    ]


# ---------------------------------------------------------------------------------------------
# Windows, read-only, and the command


def test_a_window_limits_the_check_to_what_touches_it(clinic: Clinic) -> None:
    clinic.book(clinic.at(THANKSGIVING, "10:00"))
    march = Interval(
        clinic.at(TUESDAY, "00:00"), clinic.at(TUESDAY + dt.timedelta(days=7), "00:00")
    )
    assert find_problems(clinic.db, window=march) == []
    november = Interval(clinic.at(THANKSGIVING, "00:00"), clinic.at(THANKSGIVING, "23:00"))
    assert _codes(find_problems(clinic.db, window=november)) == ["closed"]


def test_a_window_reads_whole_appointments_at_its_edges(clinic: Clinic) -> None:
    # Its only hold ends before the window opens: still read, so it is not "without holds".
    clinic.appointment(clinic.at(TUESDAY, "09:00"), 100, (clinic.room1, "exclusive", 30))
    from_ten = Interval(clinic.at(TUESDAY, "10:00"), clinic.at(TUESDAY, "12:00"))
    report = check_integrity(clinic.db, window=from_ten)
    assert (report.problems, report.appointments, report.holds) == ((), 1, 1)


def test_the_check_reads_in_a_transaction_that_cannot_write(clinic: Clinic) -> None:
    with _read_only_snapshot(clinic.db) as session, pytest.raises(exc.DBAPIError):
        session.execute(text("DELETE FROM patient"))
    # The connection goes back to the pool able to write again.
    clinic.book(clinic.at(TUESDAY, "09:00"))
    assert clinic.problems() == []


def test_check_command_passes_a_clean_clinic(
    clinic: Clinic, capsys: pytest.CaptureFixture[str]
) -> None:
    clinic.book(clinic.at(TUESDAY, "09:00"))
    clinic.db.dispose()
    assert main(["check", "--db", clinic.url]) == 0
    out = capsys.readouterr().out
    assert out == "checked 1 appointment and 4 holds: no problems\n"


def test_check_command_fails_a_clinic_with_problems(
    clinic: Clinic, capsys: pytest.CaptureFixture[str]
) -> None:
    clinic.book(clinic.at(THANKSGIVING, "10:00"))
    clinic.book(clinic.at(TUESDAY, "06:00"))
    clinic.db.dispose()
    assert main(["check", "--db", clinic.url]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines[:-1]] == ["outside_hours", "closed"]
    assert lines[-1] == "checked 2 appointments and 8 holds: 2 problems"


def test_check_command_fails_a_patient_in_two_sessions_at_once(
    clinic: Clinic, capsys: pytest.CaptureFixture[str]
) -> None:
    first = clinic.book(clinic.at(TUESDAY, "09:00"))
    second = clinic.appointment(clinic.at(TUESDAY, "10:00"), 50, (clinic.room2, "exclusive", 50))
    clinic.db.dispose()
    assert main(["check", "--db", clinic.url]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(
        f"patient_overlap: Park, Jo (chart C-0001) is in two sessions at once: appointment "
        f"#{first} (IV ketamine infusion, Tue Mar 3, 2026 09:00–10:40) and appointment #{second}"
    )
    assert lines[-1] == "checked 2 appointments and 5 holds: 1 problem"


def test_check_command_on_a_missing_database_is_status_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "nowhere.sqlite"
    assert main(["check", "--db", str(target)]) == 2
    assert "no database at" in capsys.readouterr().err
    assert not target.exists()
