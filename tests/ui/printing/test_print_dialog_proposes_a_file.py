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
from tests.ui.printing.conftest import DialogAnswers


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


@pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")  # offscreen
def test_save_as_pdf_proposes_documents_then_the_folder_last_used(
    qtbot: QtBot, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, answers: DialogAnswers
) -> None:
    """Save day sheet as PDF opened in the program's working folder (a user trial)."""
    from PySide6.QtWidgets import QFileDialog

    documents = tmp_path / "Documents"
    documents.mkdir()
    elsewhere = tmp_path / "Shared" / "Day sheets"
    elsewhere.mkdir(parents=True)
    monkeypatch.setattr(print_dialogs, "documents_dir", lambda: documents)
    monkeypatch.setattr(print_dialogs, "_last_pdf_folder", None)
    monkeypatch.setattr(QFileDialog, "getSaveFileName", _qt_save_dialog)
    proposed: list[Path] = []

    def answer(folder: Path) -> None:
        def look(dialog: QFileDialog) -> None:
            proposed.append(Path(dialog.directory().absolutePath()) / dialog.selectedFiles()[0])
            dialog.setDirectory(str(folder))
            dialog.accept()

        answers.when_open(QFileDialog, look)

    answer(elsewhere)
    first = print_dialogs.choose_pdf_path(None, "Day sheet by room 12-08-2026.pdf")
    answers.check()
    assert proposed[0].parent == documents
    assert proposed[0].name == "Day sheet by room 12-08-2026.pdf"
    assert first is not None
    assert first.parent == elsewhere
    answer(elsewhere)
    print_dialogs.choose_pdf_path(None, "Appointment card Ada Lovelace.pdf")
    answers.check()
    assert proposed[1].parent == elsewhere  # where the last one went


def _qt_save_dialog(
    parent: QWidget | None, caption: str, directory: str, filter: str
) -> tuple[str, str]:
    """``QFileDialog.getSaveFileName`` as Qt's own (non-native) dialog, which a test can see
    and answer: the same directory and file name are proposed."""
    from PySide6.QtWidgets import QFileDialog

    dialog = QFileDialog(parent, caption, directory, filter)
    dialog.setOption(QFileDialog.Option.DontUseNativeDialog)
    dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
    dialog.selectFile(Path(directory).name)
    if dialog.exec() != QDialog.DialogCode.Accepted:
        return "", ""
    return dialog.selectedFiles()[0], filter


def test_a_day_sheet_printed_to_a_pdf_file_is_readable_by_its_user_only(
    qtbot: QtBot, clinic: SmallClinic, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Trial 3, A15: the PDF the print dialog proposed came out -rw-r--r--, patient data
    readable by every account on the PC."""
    import os
    import stat
    import subprocess

    documents = tmp_path / "Documents"
    documents.mkdir()
    monkeypatch.setattr(print_dialogs, "installed_printers", lambda: ())
    monkeypatch.setattr(print_dialogs, "documents_dir", lambda: documents)
    monkeypatch.setattr(QPrintDialog, "exec", lambda _dialog: int(QDialog.DialogCode.Accepted))
    old_umask = os.umask(0o022)  # the usual desktop session's
    try:
        parent = QWidget()
        qtbot.addWidget(parent)
        printer = DocumentPrinter(Desk(clinic.db, SYSTEM, lambda: NOW), parent, show_problems=False)
        call = printer.day_sheet(TUESDAY, mode=PRINT)
        with qtbot.waitSignal(call.succeeded, timeout=10_000):
            pass
        pdf = documents / f"Day sheet by room {TUESDAY:%m-%d-%Y}.pdf"
        qtbot.waitUntil(lambda: pdf.is_file() and pdf.stat().st_size > 0, timeout=10_000)
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(pdf.stat().st_mode) == 0o600
    text = subprocess.run(
        ["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "Day sheet" in text


def test_a_saved_pdf_is_readable_by_its_user_only_even_over_an_old_file(
    qtbot: QtBot, clinic: SmallClinic, tmp_path: Path
) -> None:
    import stat

    from ketadesk.services.printing.day_sheet import day_sheet, day_sheet_layout

    old = tmp_path / "day.pdf"
    old.write_bytes(b"an older copy")
    old.chmod(0o644)
    sheet = day_sheet(clinic.db, TUESDAY, now=NOW)
    assert print_dialogs.save_pdf(None, day_sheet_layout(sheet), old) is None
    assert stat.S_IMODE(old.stat().st_mode) == 0o600
