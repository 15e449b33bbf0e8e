"""After the print preview the status bar says what happened: printed on which printer, saved
to which PDF, or the preview closed without printing (it said "Previewed …" whatever the user
did, even after printing from it)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtGui import QAction
from PySide6.QtPrintSupport import QPrintDialog
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from ketadesk.services.common.context import SYSTEM
from ketadesk.ui.common.desk import Desk
from ketadesk.ui.printing.print_dialogs import PREVIEW, DocumentPreview, DocumentPrinter
from tests.clinic_fixtures import SmallClinic
from tests.printing.test_print import pdf_pages
from tests.ui.clinic_day import TUESDAY
from tests.ui.conftest import NOW
from tests.ui.printing.conftest import DialogAnswers, drop_printer
from tests.ui.printing.test_print_dialogs import _disclosures

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")

TITLE = "Day sheet by room: Tuesday, November 24, 2026"


@pytest.fixture
def printer(qtbot: QtBot, clinic: SmallClinic) -> Iterator[DocumentPrinter]:
    parent = QWidget()
    qtbot.addWidget(parent)
    printer = DocumentPrinter(Desk(clinic.db, SYSTEM, now=lambda: NOW), parent, show_problems=False)
    yield printer
    drop_printer(printer)  # nothing it was still building reaches a later test


def test_printing_to_a_file_from_the_preview_says_where_it_went(
    qtbot: QtBot,
    printer: DocumentPrinter,
    clinic: SmallClinic,
    tmp_path: Path,
    answers: DialogAnswers,
) -> None:
    out = tmp_path / "tuesday.pdf"

    def print_to_file(preview: DocumentPreview) -> None:
        # Qt's print dialog offers "Print to File (PDF)" with the printer's file name.
        preview.printer().setOutputFileName(str(out))
        answers.when_open(QPrintDialog, lambda dialog: dialog.accept())
        action = next(a for a in preview.findChildren(QAction) if a.text() == "Print")
        action.trigger()

    answers.when_open(DocumentPreview, print_to_file)
    with qtbot.waitSignal(printer.finished, timeout=20_000) as done:
        printer.day_sheet(TUESDAY, mode=PREVIEW)
    answers.check()
    assert done.args == [f"Saved {TITLE} to {out}"]
    assert "Lovelace, Ada" in "\n".join(pdf_pages(out))
    assert _disclosures(clinic)[-1][3] == (
        f"Tue Nov 24, 2026, by room; previewed, saved as PDF to {out}"
    )


def test_a_preview_closed_without_printing_says_so(
    qtbot: QtBot, printer: DocumentPrinter, clinic: SmallClinic, answers: DialogAnswers
) -> None:
    answers.when_open(DocumentPreview, lambda preview: preview.reject())
    with qtbot.waitSignal(printer.finished, timeout=20_000) as done:
        printer.day_sheet(TUESDAY, mode=PREVIEW)
    answers.check()
    assert done.args == [f"Preview of {TITLE} closed without printing"]
    assert _disclosures(clinic)[-1][3] == "Tue Nov 24, 2026, by room; previewed"


def test_the_words_for_each_outcome() -> None:
    from ketadesk.ui.printing.print_dialogs import PreviewOutcome

    assert PreviewOutcome(printer="Front desk laser").words("Call list") == (
        "Printed Call list on Front desk laser"
    )
    assert PreviewOutcome(printer="Front desk laser").disclosed() == (
        "previewed, printed on Front desk laser"
    )
    assert PreviewOutcome(pdf=Path("/x/calls.pdf")).words("Call list") == (
        "Saved Call list to /x/calls.pdf"
    )
    assert PreviewOutcome().words("Call list") == "Preview of Call list closed without printing"
