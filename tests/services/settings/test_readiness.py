"""Readiness per session type: the user trial's clinic (3 rooms, an office, 3 vital-signs
monitors, staff with shifts) can book IV infusions, not Spravato, which needs a pulse
oximeter; adding one makes it ready."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ketadesk.services.common.context import Actor
from ketadesk.services.settings.readiness import clinic_readiness
from ketadesk.services.settings.resources import ResourceForm, add_resource
from ketadesk.services.settings.staff import ShiftRow, StaffForm, add_staff
from ketadesk.store.database import Database
from tests.clinic_fixtures import new_clinic

ADMIN = Actor(user_id=None, username="ada", role="admin")
WEEKDAY_SHIFTS = tuple(ShiftRow(day, 8 * 60, 16 * 60) for day in range(5))


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    db = new_clinic(db_url)
    yield db
    db.dispose()


def _trial_clinic(db: Database) -> None:
    """What the trial's administrator entered: no pulse oximeter."""
    for n in (1, 2, 3):
        add_resource(db, ADMIN, ResourceForm("room", "treatment", f"Room {n}", f"R{n}"))
        add_resource(
            db, ADMIN, ResourceForm("equipment", "vital_signs_monitor", f"Monitor {n}", f"M{n}")
        )
    add_resource(db, ADMIN, ResourceForm("room", "office", "Office", "OFF"))
    for role, first in (("nurse", "Nora"), ("prescriber", "Pat"), ("therapist", "Theo")):
        add_staff(db, ADMIN, StaffForm(role, first, "Smith", shifts=WEEKDAY_SHIFTS))


def test_readiness_is_judged_per_session_type(db: Database) -> None:
    _trial_clinic(db)
    readiness = clinic_readiness(db)
    by_code = {t.code: t for t in readiness.session_types}
    assert by_code["iv_infusion"].ready
    assert by_code["iv_infusion"].text() == "IV ketamine infusion: ready"
    assert not by_code["spravato"].ready
    assert by_code["spravato"].text() == (
        "Spravato (esketamine): needs a pulse oximeter (none yet)"
    )
    assert readiness.can_book
    assert not readiness.can_book_all
    verdict = readiness.verdict()
    assert verdict.startswith("The clinic can book: IV ketamine infusion")
    assert verdict.endswith("not yet: Spravato (esketamine) (no pulse oximeter).")
    # the office is optional for a telehealth booster review; it is needed for an intake
    assert by_code["booster_review"].ready

    add_resource(db, ADMIN, ResourceForm("equipment", "pulse_oximeter", "Oximeter 1", "OX1"))
    after = clinic_readiness(db)
    assert all(t.ready for t in after.session_types)
    assert after.can_book_all
    assert "not yet" not in after.verdict()


def test_staff_without_shifts_and_equipment_serving_other_types_do_not_count(
    db: Database,
) -> None:
    _trial_clinic(db)
    add_resource(
        db,
        ADMIN,
        ResourceForm("equipment", "pulse_oximeter", "Oximeter", "OX", serves=("spravato",)),
    )
    add_staff(db, ADMIN, StaffForm("prescriber", "Ida", "Ng"))  # no shifts: changes nothing
    assert {t.code for t in clinic_readiness(db).unready_types} == set()


def test_a_prescriber_without_shifts_is_named(db: Database) -> None:
    add_resource(db, ADMIN, ResourceForm("room", "office", "Office", "OFF"))
    add_staff(db, ADMIN, StaffForm("prescriber", "Ida", "Ng"))
    readiness = clinic_readiness(db)
    intake = {t.code: t for t in readiness.session_types}["intake"]
    assert intake.text().endswith("needs a prescriber (none with weekly shifts)")
    assert not readiness.can_book
    assert readiness.verdict().startswith("The clinic cannot book yet: add")
