"""The CSV import window: columns mapped from their headers, a dry run listing every row's
problem and writing nothing, then an import of the whole file."""

from __future__ import annotations

from pathlib import Path

from pytestqt.qtbot import QtBot
from sqlalchemy import func, select

from ketadesk.services.common.context import SYSTEM
from ketadesk.store.models import Patient
from ketadesk.ui.common.desk import Desk
from ketadesk.ui.patients.import_dialog import ImportPatientsDialog
from tests.clinic_fixtures import SmallClinic
from tests.pictures import picture_folder
from tests.ui.conftest import NOW

FILE = (
    "First Name,Last Name,Born on,Cell,E-mail,Referred by\n"
    "June,Almeida,04/02/1980,(619) 555-0134,june@example.com,Dr Lee\n"
    "Bo,,13/45/1990,555-12,bo-at-example,Dr Lee\n"
    "Paul,Okafor,1975-11-30,,,\n"
    "june,ALMEIDA,1980-04-02,619 555 0134,,\n"
)


def _patients(clinic: SmallClinic) -> int:
    with clinic.db.read() as session:
        return session.scalar(select(func.count()).select_from(Patient)) or 0


def _dialog(qtbot: QtBot, clinic: SmallClinic, path: Path) -> ImportPatientsDialog:
    dialog = ImportPatientsDialog(Desk(clinic.db, SYSTEM, now=lambda: NOW))
    qtbot.addWidget(dialog)
    dialog.show()
    with qtbot.waitSignal(dialog.loaded, timeout=5000):
        dialog.load(path)
    return dialog


def test_a_dry_run_lists_every_problem_and_writes_nothing(
    qtbot: QtBot, clinic: SmallClinic, tmp_path: Path
) -> None:
    path = tmp_path / "patients.csv"
    path.write_text(FILE, encoding="utf-8")
    dialog = _dialog(qtbot, clinic, path)
    assert dialog.mapping() == {
        "First Name": "first_name",
        "Last Name": "last_name",
        "Cell": "phone",
        "E-mail": "email",
    }
    dialog.set_field("Born on", "date_of_birth")
    before = _patients(clinic)
    with qtbot.waitSignal(dialog.checked, timeout=5000):
        dialog.check_button.click()
    lines = [dialog.problems.item(i).text() for i in range(dialog.problems.count())]
    assert any(t.startswith("line 3, Last name") for t in lines)
    assert any(t.startswith("line 3, Date of birth") for t in lines)
    assert any(t.startswith("line 3, Phone") for t in lines)
    assert any(t.startswith("line 3, Email") for t in lines)
    assert "line 5: the same patient as line 2" in lines
    assert "Nothing was imported" in dialog.summary.text()
    assert _patients(clinic) == before
    dialog.resize(860, 640)
    # docs/screenshots/ has this picture as the test paints it (copied from KETADESK_SCREENSHOTS).
    assert dialog.grab().save(str(picture_folder() / "patient-import.png"))


def test_a_clean_file_is_imported_whole(qtbot: QtBot, clinic: SmallClinic, tmp_path: Path) -> None:
    path = tmp_path / "patients.csv"
    path.write_text("\n".join(FILE.splitlines()[i] for i in (0, 1, 3)) + "\n", encoding="utf-8")
    dialog = _dialog(qtbot, clinic, path)
    dialog.set_field("Born on", "date_of_birth")
    before = _patients(clinic)
    with qtbot.waitSignal(dialog.imported, timeout=5000) as done:
        dialog.import_button.click()
    assert len(done.args[0]) == 2
    assert _patients(clinic) == before + 2
    assert not dialog.import_button.isEnabled()


def test_a_file_that_is_not_text_is_refused_in_words(
    qtbot: QtBot, clinic: SmallClinic, tmp_path: Path
) -> None:
    path = tmp_path / "photo.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    dialog = _dialog(qtbot, clinic, path)
    assert "not UTF-8" in dialog.summary.text()
    assert not dialog.check_button.isEnabled()
