"""File ▸ Print on a PC without a printer (issue 15): the Print dialog's output file defaulted to
the home folder with no file name, so printing to a file failed.  It now proposes a real file,
named after the document, in the user's Documents folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtPrintSupport import QPrintDialog, QPrinter
from PySide6.QtWidgets import QDialog, QWidget
from pytestqt.qtbot import QtBot

from ketadesk.services.common.context import SYSTEM
from ketadesk.ui.common.desk import Desk
from ketadesk.ui.printing import print_dialogs
from ketadesk.ui.printing.print_dialogs import PRINT, DocumentPrinter
from tests.clinic_fixtures import SmallClinic
from tests.ui.clinic_day import TUESDAY
from tests.ui.conftest import NOW


def _print_day_sheet(
    qtbot: QtBot, clinic: SmallClinic, monkeypatch: pytest.MonkeyPatch
) -> QPrinter:
    """Ask for the day sheet with File ▸ Print; the dialog is looked at, then cancelled."""
    seen: list[QPrinter] = []

    def look_then_cancel(dialog: QPrintDialog) -> int:
        seen.append(dialog.printer())
        return int(QDialog.DialogCode.Rejected)

    monkeypatch.setattr(QPrintDialog, "exec", look_then_cancel)
    parent = QWidget()
    qtbot.addWidget(parent)
    printer = DocumentPrinter(Desk(clinic.db, SYSTEM, lambda: NOW), parent, show_problems=False)
    call = printer.day_sheet(TUESDAY, mode=PRINT)
    with qtbot.waitSignal(call.succeeded, timeout=10_000):
        pass
    qtbot.waitUntil(lambda: bool(seen), timeout=5000)
    return seen[0]


def test_without_a_printer_the_dialog_proposes_a_named_pdf_in_documents(
    qtbot: QtBot, clinic: SmallClinic, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    documents = tmp_path / "Documents"
    documents.mkdir()
    monkeypatch.setattr(print_dialogs, "installed_printers", lambda: ())
    monkeypatch.setattr(print_dialogs, "documents_dir", lambda: documents)
    printer = _print_day_sheet(qtbot, clinic, monkeypatch)
    proposed = Path(printer.outputFileName())
    assert proposed == documents / f"Day sheet by room {TUESDAY:%m-%d-%Y}.pdf"
    assert printer.docName() == f"Day sheet by room {TUESDAY:%m-%d-%Y}"


def test_with_a_printer_the_job_is_named_and_the_printer_stays_chosen(
    qtbot: QtBot, clinic: SmallClinic, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(print_dialogs, "installed_printers", lambda: ("Front desk laser",))
    printer = _print_day_sheet(qtbot, clinic, monkeypatch)
    assert printer.outputFileName() == ""  # a file would take the place of the printer
    assert printer.docName() == f"Day sheet by room {TUESDAY:%m-%d-%Y}"
