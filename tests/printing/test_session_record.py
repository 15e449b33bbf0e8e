"""The Spravato session record sheet: the monitoring record laid out for the REMS form.

A small demo clinic; one completed Spravato session gets a full record (dose, lot, three
readings and a recheck, sedation, dissociation, discharge), another none at all.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

from ketadesk.cli import main
from ketadesk.scheduling.dates import clock
from ketadesk.services.clinic.clinic_setup import open_clinic
from ketadesk.services.common.context import Actor, InvalidRequest, NotFound
from ketadesk.services.demo.clinic import build_demo
from ketadesk.services.printing.session_record import (
    find_session,
    session_record_layout,
    session_record_sheet,
)
from ketadesk.store.database import Database
from ketadesk.store.models import (
    Appointment,
    FollowUp,
    Patient,
    ResourceHold,
    ScaleReading,
    SessionRecord,
    SessionType,
    StaffMember,
    VitalReading,
)
from ketadesk.ui.printing.printing import print_pdf
from tests.printing.test_print import pdf_pages

TODAY = dt.date(2026, 11, 24)
NOW = dt.datetime(2026, 11, 24, 18, 15, tzinfo=dt.UTC)
NURSE = Actor(user_id=None, username="kim", role="nurse")
FRONT_DESK = Actor(user_id=None, username="maria", role="front_desk")


@dataclass
class RecordedClinic:
    url: str
    recorded: int  # a completed Spravato session with its whole record
    blank: int  # a Spravato session with no record yet
    integration: int  # not a dosing session
    nurse: str  # who monitored the recorded one, as printed


def _spravato(db: Database, status: str) -> list[int]:
    with db.read() as session:
        return list(
            session.scalars(
                select(Appointment.id)
                .join(SessionType, SessionType.id == Appointment.session_type_id)
                .where(SessionType.code == "spravato", Appointment.status == status)
                .order_by(Appointment.starts_at.desc(), Appointment.id)
            )
        )


@pytest.fixture(scope="module")
def clinic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RecordedClinic]:
    from ketadesk.services.schedule import public_holidays

    folder = tmp_path_factory.mktemp("record")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(public_holidays, "holiday_cache_dir", lambda: folder / "holidays")
        url = f"sqlite:///{folder / 'demo.sqlite'}"
        build_demo(url, rooms=3, weeks_back=1, weeks_ahead=1, today=TODAY)
        db = open_clinic(url).db
        done = _spravato(db, "completed")
        booked = _spravato(db, "booked")
        assert done
        assert booked
        recorded, blank = done[0], booked[0]
        with db.write() as session:
            a = session.get(Appointment, recorded)
            assert a is not None
            nurse_id = session.scalar(
                select(ResourceHold.resource_id).where(
                    ResourceHold.appointment_id == recorded, ResourceHold.need == "nurse"
                )
            )
            staff = session.get(StaffMember, nurse_id)
            assert staff is not None
            # The demo may have recorded these sessions already (its record and its timed
            # scale readings): this test writes its own record, judged by its words.
            for old in session.scalars(
                select(SessionRecord).where(SessionRecord.appointment_id.in_([recorded, blank]))
            ):
                session.delete(old)
            for scale in session.scalars(
                select(ScaleReading).where(ScaleReading.appointment_id.in_([recorded, blank]))
            ):
                session.delete(scale)
            session.flush()
            # The first device went in 7 minutes later than booked (dosing is 15 minutes in).
            t0 = a.starts_at + dt.timedelta(minutes=15 + 7)
            record = SessionRecord(
                appointment_id=recorded,
                dose_mg=84,
                devices=3,
                lot_number="LOT-7Q42X",
                dose_started_at=t0,
                discharged_at=t0 + dt.timedelta(minutes=131),
                monitored_minutes=131,
                monitored_by_id=nurse_id,
                sedation="Mild, resolved",
                dissociation="Moderate, resolved by 95 min",
                respiratory_depression=False,
                events="Nausea at 30 min; no vomiting.",
            )
            record.readings = [
                VitalReading(
                    label="Pre-dose",
                    taken_at=t0 - dt.timedelta(minutes=4),
                    systolic=131,
                    diastolic=83,
                    heart_rate=71,
                    spo2=98,
                ),
                VitalReading(
                    label="+40 min",
                    taken_at=t0 + dt.timedelta(minutes=41),
                    systolic=152,
                    diastolic=94,
                    heart_rate=84,
                    spo2=97,
                ),
                VitalReading(
                    label="Recheck",
                    taken_at=t0 + dt.timedelta(minutes=71),
                    systolic=137,
                    diastolic=88,
                    heart_rate=77,
                    spo2=99,
                ),
                VitalReading(
                    label="Before discharge",
                    taken_at=t0 + dt.timedelta(minutes=128),
                    systolic=126,
                    diastolic=80,
                    heart_rate=70,
                    spo2=98,
                ),
            ]
            session.add(record)
            # The REMS form is owed within 7 days: its follow-up's deadline goes on the sheet.
            for old_form in session.scalars(
                select(FollowUp).where(
                    FollowUp.appointment_id == recorded, FollowUp.kind == "rems_form"
                )
            ):
                session.delete(old_form)
            session.add(
                FollowUp(
                    patient_id=a.patient_id,
                    appointment_id=recorded,
                    kind="rems_form",
                    due_at=a.ends_at,
                    deadline_at=dt.datetime(2026, 12, 1, 7, 30, tzinfo=dt.UTC),
                    assignee_role="nurse",
                )
            )
            integration = session.scalar(
                select(Appointment.id)
                .join(SessionType, SessionType.id == Appointment.session_type_id)
                .where(SessionType.code == "integration")
                .limit(1)
            )
            assert integration is not None
        db.dispose()
        yield RecordedClinic(
            url, recorded, blank, integration, f"{staff.first_name} {staff.last_name}"
        )


@pytest.fixture
def db(clinic: RecordedClinic) -> Iterator[Database]:
    database = open_clinic(clinic.url).db
    yield database
    database.dispose()


def test_recorded_session_prints_every_reading_at_its_configured_check(
    qapp: object, clinic: RecordedClinic, db: Database, tmp_path: Path
) -> None:
    sheet = session_record_sheet(db, NURSE, clinic.recorded, now=NOW)
    # In the order they were taken: the recheck between the checks it came between.
    assert [r.label for r in sheet.readings] == [
        "Pre-dose",
        "+40 min",
        "Recheck",
        "Before discharge",
    ]
    pre, peak, recheck, _before = sheet.readings
    # Planned from the recorded dose start (7 minutes late): 5 minutes before it, 40 after.
    assert sheet.dose_started_at == sheet.start + dt.timedelta(minutes=22)
    assert pre.planned == sheet.dose_started_at - dt.timedelta(minutes=5)
    assert peak.planned == sheet.dose_started_at + dt.timedelta(minutes=40)
    assert recheck.planned is None
    assert (peak.systolic, peak.diastolic, peak.heart_rate, peak.spo2) == (152, 94, 84, 97)

    out = tmp_path / "record.pdf"
    result = print_pdf(session_record_layout(sheet), out)
    assert result.pages == 1
    text = "\n".join(pdf_pages(out))
    with db.read() as session:
        patient = session.execute(
            select(Patient.first_name, Patient.last_name, Patient.rems_patient_id)
            .join(Appointment, Appointment.patient_id == Patient.id)
            .where(Appointment.id == clinic.recorded)
        ).one()
    first, last, rems_id = patient
    assert f"Spravato session record: {last}, {first}" in text
    assert rems_id
    assert rems_id in text
    for expected in (
        "84 mg",
        "LOT-7Q42X",
        "131/83",
        "152/94",
        "137/88",
        "126/80",
        "Mild, resolved",
        "Moderate, resolved by 95 min",
        "Nausea at 30 min; no vomiting.",
        "131 min",
        "(at least 120 from",  # the minimum the app enforces, from the dose start
        clinic.nurse,
        # The demo clinic reads 12-hour, a US clinic's default: "8:07 AM".
        clock(sheet.dose_started_at, sheet.time_format) if sheet.dose_started_at else "never",
        clock(sheet.discharged_at, sheet.time_format) if sheet.discharged_at else "never",
        clock(peak.planned, sheet.time_format) if peak.planned else "never",
    ):
        assert expected in text, expected
    assert "☒ No" in text  # no respiratory depression, ticked
    # 07:30 UTC on 1 December is still 30 November at the clinic.
    assert "Transcribe onto the Spravato REMS Patient Monitoring Form by Mon Nov 30, 2026." in text


def test_devices_and_lot_print_only_for_a_type_dosed_in_devices(
    qapp: object, clinic: RecordedClinic, db: Database, tmp_path: Path
) -> None:
    """A user trial: the IV infusion's record asked for "Devices" and "Lot number", which the
    monitoring dialog asks only of a type dosed in devices (Spravato).  The print matches."""
    with db.write() as session:
        iv = session.scalar(
            select(Appointment.id)
            .join(SessionType, SessionType.id == Appointment.session_type_id)
            .where(SessionType.code == "iv_infusion", Appointment.status == "completed")
            .order_by(Appointment.starts_at.desc(), Appointment.id)
            .limit(1)
        )
        assert iv is not None
        for old in session.scalars(select(SessionRecord).where(SessionRecord.appointment_id == iv)):
            session.delete(old)
        session.flush()
        session.add(SessionRecord(appointment_id=iv, dose_mg=35))
    sheet = session_record_sheet(db, NURSE, iv, now=NOW)
    assert not sheet.uses_devices
    out = tmp_path / "iv-record.pdf"
    print_pdf(session_record_layout(sheet), out, "letter")
    text = "\n".join(pdf_pages(out))
    assert "35 mg" in text
    assert "Devices" not in text
    assert "Lot number" not in text
    assert "first device" not in text
    spravato = tmp_path / "spravato-record.pdf"
    print_pdf(session_record_layout(session_record_sheet(db, NURSE, clinic.recorded)), spravato)
    text = "\n".join(pdf_pages(spravato))
    assert "Devices" in text
    assert "Lot number" in text
    assert "Dose start (first device)" in text
    folder = os.environ.get("KETADESK_SCREENSHOTS")
    if folder:
        (Path(folder) / "iv-record.pdf").write_bytes(out.read_bytes())


def test_session_without_a_record_prints_lines_to_write_on(
    qapp: object, clinic: RecordedClinic, db: Database, tmp_path: Path
) -> None:
    sheet = session_record_sheet(db, NURSE, clinic.blank, now=NOW)
    assert not sheet.has_record
    assert sheet.dose_mg is None
    assert sheet.respiratory_depression is None
    assert [r.taken_at for r in sheet.readings] == [None, None, None]
    out = tmp_path / "blank.pdf"
    print_pdf(session_record_layout(sheet), out)
    text = "\n".join(pdf_pages(out))
    for label in ("Pre-dose", "+40 min", "Before discharge"):
        line = next(row for row in text.splitlines() if label in row)
        assert "____" in line, line  # the values are blanks to fill in
    assert "☐ Yes ☐ No" in text  # neither box ticked
    assert "None recorded" not in text
    assert "84 mg" not in text


def test_print_record_command_by_appointment_and_by_patient_and_date(
    qapp: object, clinic: RecordedClinic, db: Database, tmp_path: Path
) -> None:
    by_id = tmp_path / "by-id.pdf"
    args = ["print", "record", "--db", clinic.url]
    assert main([*args, "--appointment", str(clinic.recorded), "--out", str(by_id)]) == 0
    with db.read() as session:
        chart, starts_at = session.execute(
            select(Patient.chart_number, Appointment.starts_at)
            .join(Appointment, Appointment.patient_id == Patient.id)
            .where(Appointment.id == clinic.recorded)
        ).one()
    day = starts_at.astimezone(session_record_sheet(db, NURSE, clinic.recorded).start.tzinfo).date()
    assert find_session(db, chart, day) == clinic.recorded
    by_day = tmp_path / "by-day.pdf"
    assert main([*args, "--patient", chart, "--date", day.isoformat(), "--out", str(by_day)]) == 0
    assert "LOT-7Q42X" in "\n".join(pdf_pages(by_day))
    assert "LOT-7Q42X" in "\n".join(pdf_pages(by_id))


def test_record_refuses_what_has_no_monitoring_record(
    qapp: object,
    clinic: RecordedClinic,
    db: Database,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(InvalidRequest, match="not a dosing session"):
        session_record_sheet(db, NURSE, clinic.integration)
    with pytest.raises(NotFound, match="no appointment 999999"):
        session_record_sheet(db, NURSE, 999999)
    chart = db_chart(db, clinic.recorded)
    with pytest.raises(NotFound, match="no dosing session on Sunday, November 29, 2026"):
        find_session(db, chart, dt.date(2026, 11, 29))
    out = tmp_path / "x.pdf"
    args = ["print", "record", "--db", clinic.url, "--out", str(out)]
    assert main([*args, "--appointment", str(clinic.integration)]) == 2
    assert "not a dosing session" in capsys.readouterr().err
    assert main([*args, "--patient", "NO-SUCH", "--date", "2026-11-24"]) == 2
    assert "NO-SUCH" in capsys.readouterr().err
    assert main([*args, "--patient", "NO-SUCH"]) == 2
    assert "--date" in capsys.readouterr().err
    assert main(args) == 2
    assert "--appointment" in capsys.readouterr().err
    assert not out.exists()


def db_chart(db: Database, appointment_id: int) -> str:
    with db.read() as session:
        chart = session.scalar(
            select(Patient.chart_number)
            .join(Appointment, Appointment.patient_id == Patient.id)
            .where(Appointment.id == appointment_id)
        )
    assert chart is not None
    return chart
