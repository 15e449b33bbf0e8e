"""``ketadesk check`` on a demo clinic reports a patient put in two sessions at once as an error
(issue 13: a series move once did that and the check stayed silent)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from ketadesk.cli import main
from ketadesk.scheduling.calendar import ClinicCalendar
from ketadesk.scheduling.dates import clock_span, short_date
from ketadesk.scheduling.statuses import RELEASED_STATUSES
from ketadesk.store.clinic_config import load_catalog
from ketadesk.store.database import open_database
from ketadesk.store.models import Appointment, Patient, Resource, ResourceHold, SessionType


def test_check_reports_a_patient_overlap_seeded_into_a_demo_clinic(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = str(tmp_path / "demo.sqlite")
    # Around the real today, as the front desk would build it: nothing here names a date.
    demo = ["demo", "--db", url, "--rooms", "1", "--weeks-back", "1", "--weeks-ahead", "1"]
    assert main([*demo, "--patients", "6", "--quiet"]) == 0
    assert main(["check", "--db", url]) == 0
    capsys.readouterr()

    # Seeded round the services: the patient's first active session gets a twin in a room of
    # its own, so that the patient is the only thing the two share.
    db = open_database(url)
    try:
        with db.write() as session:
            calendar = ClinicCalendar(load_catalog(session).settings)
            first = session.scalars(
                select(Appointment)
                .where(Appointment.status.not_in(sorted(RELEASED_STATUSES)))
                .order_by(Appointment.starts_at, Appointment.id)
                .limit(1)
            ).one()
            room = Resource(kind="room", subkind="treatment", name="Room Z", capacity=1)
            session.add(room)
            session.flush()
            twin = Appointment(
                patient_id=first.patient_id,
                session_type_id=first.session_type_id,
                room_id=room.id,
                starts_at=first.starts_at,
                ends_at=first.ends_at,
                status=first.status,
            )
            twin.holds = [
                ResourceHold(
                    resource_id=room.id,
                    need="room",
                    mode="exclusive",
                    exclusive=True,
                    units=1,
                    starts_at=first.starts_at,
                    ends_at=first.ends_at,
                )
            ]
            session.add(twin)
            session.flush()
            patient = session.get(Patient, first.patient_id)
            type_name = session.scalars(
                select(SessionType.name).where(SessionType.id == first.session_type_id)
            ).one()
            assert patient is not None
            who = f"{patient.last_name}, {patient.first_name} (chart {patient.chart_number})"
            start, end = calendar.local(first.starts_at), calendar.local(first.ends_at)
            # The demo clinic reads 12-hour, a US clinic's default: "9:00–10:40 AM".
            when = (
                f"{short_date(start, year=True)} "
                f"{clock_span(start, end, calendar.settings.time_format)}"
            )
            first_id, twin_id = first.id, twin.id
    finally:
        db.dispose()

    assert main(["check", "--db", url]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert (
        f"patient_overlap: {who} is in two sessions at once: appointment #{first_id} "
        f"({type_name}, {when}) and appointment #{twin_id} ({type_name}, {when})"
    ) in lines
    assert lines[-1].endswith(": 1 problem")
