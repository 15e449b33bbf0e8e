"""Print preview, printing and "save as PDF": the right pages, and failures said, not raised."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtPrintSupport import QPrinter
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from ketadesk.services.common.context import SYSTEM
from ketadesk.services.printing.day_sheet import day_sheet, day_sheet_layout
from ketadesk.services.printing.layout import PrintLayout
from ketadesk.ui.common.desk import Desk
from ketadesk.ui.printing import print_dialogs
from ketadesk.ui.printing.print_dialogs import (
    PDF,
    DocumentMenu,
    DocumentPreview,
    DocumentPrinter,
    PreviewOutcome,
    print_to,
    save_pdf,
)
from ketadesk.ui.printing.printing import pdf_printer, render
from tests.clinic_fixtures import SmallClinic
from tests.printing.test_print import _busy_sheet, pdf_pages
from tests.ui.clinic_day import TUESDAY, close_tuesday
from tests.ui.conftest import NOW
from tests.ui.printing.conftest import drop_printer


def _pdf_pages_like(layout: PrintLayout, printer: QPrinter, path: Path) -> int:
    """How many pages ``layout`` takes on paper laid out as ``printer``'s."""
    pdf = pdf_printer(path)
    pdf.setResolution(printer.resolution())  # text is laid out at the device's resolution
    pdf.setPageLayout(printer.pageLayout())
    return render(layout, pdf).pages


def test_preview_shows_every_page_of_a_busy_day(qtbot: QtBot, tmp_path: Path) -> None:
    layout = day_sheet_layout(_busy_sheet(60))
    dialog = DocumentPreview(layout)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.preview_widget().updatePreview()
    expected = _pdf_pages_like(layout, dialog.printer(), tmp_path / "same.pdf")
    assert expected >= 3  # several pages, all of them shown
    assert dialog.page_count() == expected
    assert dialog.problem is None
    assert "Day sheet by room" in dialog.windowTitle()
    dialog.close()


def test_preview_of_a_short_document_has_one_page(qtbot: QtBot, clinic: SmallClinic) -> None:
    layout = day_sheet_layout(day_sheet(clinic.db, TUESDAY, now=NOW))
    dialog = DocumentPreview(layout)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.preview_widget().updatePreview()
    assert dialog.page_count() == 1
    dialog.close()


def test_save_pdf_refuses_an_unwritable_path_and_keeps_nothing_half_done(
    qapp: object, tmp_path: Path
) -> None:
    layout = day_sheet_layout(_busy_sheet(12))
    missing = tmp_path / "no-such-folder" / "day.pdf"
    problem = save_pdf(None, layout, missing)
    assert problem is not None
    assert "The PDF was not saved" in problem
    assert "does not exist" in problem
    assert not missing.parent.exists()
    problem = save_pdf(None, layout, tmp_path)  # a folder, not a file
    assert problem is not None
    assert "it is a folder" in problem
    good = tmp_path / "day.pdf"
    assert save_pdf(None, layout, good) is None
    assert "Patient0x00, Test" in "\n".join(pdf_pages(good))


@pytest.mark.qt_log_ignore(r"QPainter::begin\(\): Returned false")  # the failure under test
def test_a_printer_that_cannot_start_reports_why(qapp: object, tmp_path: Path) -> None:
    layout = day_sheet_layout(_busy_sheet(6))
    printer = pdf_printer(tmp_path / "gone" / "out.pdf")  # its device cannot be opened
    problem = print_to(printer, layout)
    assert problem is not None
    assert problem.startswith("The document was not printed: cannot write to")
    assert "gone" in problem


@pytest.fixture
def parent(qtbot: QtBot) -> QWidget:
    widget = QWidget()
    qtbot.addWidget(widget)
    return widget


@pytest.fixture
def printer(clinic: SmallClinic, parent: QWidget) -> Iterator[DocumentPrinter]:
    desk = Desk(clinic.db, SYSTEM, now=lambda: NOW)
    printer = DocumentPrinter(desk, parent, show_problems=False)
    yield printer
    drop_printer(printer)  # nothing it was still building reaches a later test


def test_document_printer_saves_a_day_sheet_off_the_gui_thread(
    qtbot: QtBot, printer: DocumentPrinter, tmp_path: Path
) -> None:
    out = tmp_path / "tuesday.pdf"
    with qtbot.waitSignal(printer.finished, timeout=10000) as done:
        printer.day_sheet(TUESDAY, mode=PDF, path=out)
    assert done.args == [f"Saved {out}"]
    text = "\n".join(pdf_pages(out))
    assert "Lovelace, Ada" in text
    assert "Day sheet by room: Tuesday, November 24, 2026" in text


def test_document_printer_reports_a_failed_save_and_keeps_the_document(
    qtbot: QtBot, printer: DocumentPrinter, tmp_path: Path
) -> None:
    out = tmp_path / "missing" / "calls.pdf"
    with qtbot.waitSignal(printer.problem, timeout=10000) as failed:
        printer.call_list(TUESDAY, mode=PDF, path=out)
    assert "does not exist" in failed.args[0]
    assert printer.last_layout is not None  # nothing lost: it can be saved elsewhere
    assert printer.last_layout.title == "Follow-up calls: Tuesday, November 24, 2026"
    assert save_pdf(None, printer.last_layout, tmp_path / "calls.pdf") is None


def test_document_printer_reports_an_unknown_patient(
    qtbot: QtBot, printer: DocumentPrinter
) -> None:
    with qtbot.waitSignal(printer.problem, timeout=10000) as failed:
        printer.appointment_card("NO-SUCH")
    assert "no patient with chart number 'NO-SUCH'" in failed.args[0]


def test_print_menu_previews_the_day_shown(
    qtbot: QtBot,
    printer: DocumentPrinter,
    parent: QWidget,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    shown: list[PrintLayout] = []

    def fake_show(
        cls: type[DocumentPreview], p: QWidget | None, layout: PrintLayout
    ) -> PreviewOutcome:
        shown.append(layout)
        return PreviewOutcome()  # closed without printing

    monkeypatch.setattr(DocumentPreview, "show_for", classmethod(fake_show))
    menu = DocumentMenu(printer, lambda: TUESDAY, parent)
    assert menu.actions_by_name["day_sheet_room"].shortcut().toString() == "Ctrl+P"
    for name, title in (
        ("day_sheet_room", "Day sheet by room: Tuesday, November 24, 2026"),
        ("day_sheet_staff", "Day sheet by staff member: Tuesday, November 24, 2026"),
        ("call_list", "Follow-up calls: Tuesday, November 24, 2026"),
    ):
        with qtbot.waitSignal(printer.finished, timeout=10000):
            menu.actions_by_name[name].trigger()
        assert shown[-1].title == title
    with qtbot.waitSignal(printer.finished, timeout=10000):
        menu.actions_by_name["day_sheet_public"].trigger()
    public = " ".join(block.html for block in shown[-1].blocks)
    assert "Lovelace" not in public
    assert "A. L." in public
    assert print_dialogs.PREVIEW == "preview"
    assert dt.date(2026, 11, 24) == TUESDAY


def test_the_call_list_is_today_s_whatever_day_is_shown(
    qtbot: QtBot,
    printer: DocumentPrinter,
    parent: QWidget,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A user trial printed the call list with a week ahead on screen: headed that day, it
    read calls made that morning as "overdue by 14 days".  Calls are made now."""
    shown: list[PrintLayout] = []

    def fake_show(
        cls: type[DocumentPreview], p: QWidget | None, layout: PrintLayout
    ) -> PreviewOutcome:
        shown.append(layout)
        return PreviewOutcome()

    monkeypatch.setattr(DocumentPreview, "show_for", classmethod(fake_show))
    menu = DocumentMenu(printer, lambda: TUESDAY + dt.timedelta(weeks=2), parent)
    with qtbot.waitSignal(printer.finished, timeout=10000):
        menu.actions_by_name["day_sheet_room"].trigger()
    assert shown[-1].title == "Day sheet by room: Tuesday, December 8, 2026"  # the day shown
    with qtbot.waitSignal(printer.finished, timeout=10000):
        menu.actions_by_name["call_list"].trigger()
    assert shown[-1].title == "Follow-up calls: Tuesday, November 24, 2026"  # the clinic's today


def _disclosures(clinic: SmallClinic) -> list[tuple[str, int | None, str, str]]:
    from sqlalchemy import select

    from ketadesk.store.models import AuditEvent

    with clinic.db.read() as session:
        rows = session.execute(
            select(AuditEvent.username, AuditEvent.patient_id, AuditEvent.after, AuditEvent.detail)
            .where(AuditEvent.action == "disclose")
            .order_by(AuditEvent.id)
        ).all()
    return [
        (who, patient, (after or {})["document"], detail) for who, patient, after, detail in rows
    ]


def test_printed_and_saved_documents_are_recorded_in_the_audit_trail(
    qtbot: QtBot, printer: DocumentPrinter, clinic: SmallClinic, tmp_path: Path
) -> None:
    out = tmp_path / "card.pdf"
    with qtbot.waitSignal(printer.finished, timeout=10000):
        printer.appointment_card("BT-1", mode=PDF, path=out)
    with qtbot.waitSignal(printer.finished, timeout=10000):
        printer.day_sheet(TUESDAY, mode=PDF, path=tmp_path / "day.pdf")
    assert _disclosures(clinic) == [
        (
            "system",
            clinic.ids["Ada Lovelace"],
            "appointment card",
            f"chart BT-1; saved as PDF to {out}",
        ),
        (
            "system",
            None,
            "day sheet",
            f"Tue Nov 24, 2026, by room; saved as PDF to {tmp_path / 'day.pdf'}",
        ),
    ]


def test_a_failed_save_records_no_disclosure(
    qtbot: QtBot, printer: DocumentPrinter, clinic: SmallClinic, tmp_path: Path
) -> None:
    with qtbot.waitSignal(printer.problem, timeout=10000):
        printer.call_list(TUESDAY, mode=PDF, path=tmp_path / "missing" / "calls.pdf")
    assert _disclosures(clinic) == []


def test_printing_a_card_with_a_session_on_a_closed_day_warns(
    qtbot: QtBot, printer: DocumentPrinter, clinic: SmallClinic, tmp_path: Path
) -> None:
    """A closure added after Ada's 15:00 integration was booked: the card still prints (the
    row marked), and the desk is told before handing it over."""
    close_tuesday(clinic, "12:00", "18:00", "staff training")
    problems: list[str] = []
    printer.problem.connect(problems.append)
    out = tmp_path / "card.pdf"
    with qtbot.waitSignal(printer.finished, timeout=10_000):
        printer.appointment_card(patient_id=clinic.ids["Ada Lovelace"], mode=PDF, path=out)
    assert problems == [
        "Integration therapy on Tue 11/24: clinic closed on this day: reschedule (staff training)."
    ]
    assert "Clinic closed on this day: reschedule" in " ".join(" ".join(pdf_pages(out)).split())


# -- the file a document is saved as -----------------------------------------------------------


def _proposed_names(
    qtbot: QtBot, printer: DocumentPrinter, monkeypatch: pytest.MonkeyPatch, ask: object
) -> list[str]:
    """The file names Save as PDF proposes while ``ask()`` runs (the dialog is cancelled)."""
    from PySide6.QtWidgets import QFileDialog

    proposed: list[str] = []

    def cancel(_parent: object, _title: str, suggested: str, _filter: str) -> tuple[str, str]:
        proposed.append(Path(suggested).name)  # in a folder (Documents, or the last one used)
        return "", ""

    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(cancel))
    assert callable(ask)
    with qtbot.waitSignal(printer.busy, timeout=10000, check_params_cb=lambda busy: not busy):
        ask()
    return proposed


def test_save_as_pdf_proposes_the_documents_own_name(
    qtbot: QtBot, printer: DocumentPrinter, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = _proposed_names(
        qtbot, printer, monkeypatch, lambda: printer.day_sheet(TUESDAY, mode=PDF)
    )
    names += _proposed_names(
        qtbot, printer, monkeypatch, lambda: printer.appointment_card("BT-1", mode=PDF)
    )
    names += _proposed_names(
        qtbot, printer, monkeypatch, lambda: printer.call_list(TUESDAY, mode=PDF)
    )
    assert names == [
        "Day sheet by room 11-24-2026.pdf",
        "Appointment card Ada Lovelace.pdf",
        "Follow-up calls 11-24-2026.pdf",
    ]


def test_the_preview_prints_to_a_file_named_after_the_document(qtbot: QtBot) -> None:
    # Qt's own "Print to File (PDF)" proposes the job's name: it was "print.pdf".
    layout = day_sheet_layout(_busy_sheet(3))
    dialog = DocumentPreview(layout)
    qtbot.addWidget(dialog)
    assert dialog.printer().docName() == f"Day sheet by room {layout.name[-10:]}"
    assert layout.name.startswith("Day sheet by room ")


def test_a_file_name_holds_no_character_a_file_system_refuses() -> None:
    import dataclasses

    from ketadesk.services.printing.layout import file_name

    layout = day_sheet_layout(_busy_sheet(1))
    odd = dataclasses.replace(layout, name='Appointment card Ann "A/B" O\'Neil: 1|2? <3>*\\.')
    assert file_name(odd) == "Appointment card Ann A B O'Neil 1 2 3.pdf"
    assert file_name(dataclasses.replace(layout, name="")) == file_name(
        dataclasses.replace(layout, name=layout.title)
    )
    assert file_name(dataclasses.replace(layout, name="CON")) == "Document CON.pdf"
