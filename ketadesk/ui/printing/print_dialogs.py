"""Print preview, the system print dialog and "save as PDF" for the clinic's documents.

Three plain functions take a finished ``PrintLayout`` (services/documents) and report a failure
as a message instead of raising, so the caller shows it and nothing the user was doing is lost:

- ``preview(parent, layout)``: Qt's print preview, from which the user may print;
- ``print_with_dialog(parent, layout)``: the system print dialog, then the printer;
- ``save_pdf(parent, layout, path)``: a PDF file (the path is checked before any work).

``DocumentPrinter`` is what the main window and the patient record call: it reads a document
(day sheet, call list, confirmation sheet, waitlist, appointment card, session record) on a
worker thread, then previews, prints or saves it.  ``DocumentMenu`` is File ▸ Print, the one
menu of every document.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtPrintSupport import (
    QPrintDialog,
    QPrinter,
    QPrinterInfo,
    QPrintPreviewDialog,
    QPrintPreviewWidget,
)
from PySide6.QtWidgets import QDialog, QFileDialog, QLayout, QMenu, QMessageBox, QWidget

from ketadesk.services.access.audit import record_disclosure
from ketadesk.services.common.context import Actor, ServiceError, may, who_may
from ketadesk.services.common.files import PRIVATE_MODE, prepare_private
from ketadesk.services.printing.call_list import call_list, calls_layout, next_call_day
from ketadesk.services.printing.call_sheet import call_sheet, call_sheet_layout
from ketadesk.services.printing.card import appointment_card, card_layout
from ketadesk.services.printing.day_sheet import BY_ROOM, BY_STAFF, day_sheet, day_sheet_layout
from ketadesk.services.printing.layout import PrintLayout, file_name, output_problem
from ketadesk.services.printing.session_record import session_record_layout, session_record_sheet
from ketadesk.services.printing.waitlist_list import waitlist_layout, waitlist_sheet
from ketadesk.services.settings.clinic_details import clinic_paper_size
from ketadesk.ui.common.background import BackgroundCall, run_service
from ketadesk.ui.common.dates import short_date
from ketadesk.ui.common.qt_workarounds import keep_none_alive
from ketadesk.ui.printing.printing import PrintError, page_layout, pdf_printer, render

if TYPE_CHECKING:
    from ketadesk.ui.common.desk import Desk


@dataclass(frozen=True)
class Disclosure:
    """What a document holds, for the audit trail's record of prints and exports."""

    what: str
    detail: str
    chart: str | None = None
    appointment_id: int | None = None
    patient_id: int | None = None


PREVIEW = "preview"
PRINT = "print"
PDF = "pdf"


def _printer(layout: PrintLayout) -> QPrinter:
    """A printer on the clinic's paper (Settings ▸ Clinic), or on its card stock for cards
    printed one a page, which its dialog may change; the job is named after the document,
    which is also the file name Qt's dialog proposes for "Print to File (PDF)"."""
    printer = QPrinter(QPrinter.PrinterMode.HighResolution)
    printer.setPageLayout(page_layout(layout.paper_size, layout.card))
    printer.setDocName(Path(file_name(layout)).stem)
    return printer


def print_to(printer: QPrinter, layout: PrintLayout) -> str | None:
    """Paint ``layout`` on ``printer``: None when it went well, else what went wrong.  A file
    printed to (Qt's "Print to File (PDF)") holds patient data: it is left owner-only."""
    try:
        render(layout, printer)
    except PrintError as err:
        return f"The document was not printed: {err}."
    _keep_private(printer)
    return None


@dataclass(frozen=True)
class PreviewOutcome:
    """What became of a print preview: printed on ``printer``, saved as the PDF ``pdf`` (Qt's
    "Print to File"), or neither (closed without printing); ``problem``: what went wrong
    painting the document, or None."""

    problem: str | None = None
    printer: str = ""
    pdf: Path | None = None

    def words(self, title: str) -> str:
        """What happened, for the status bar ("Printed Day sheet … on Front desk laser")."""
        if self.pdf is not None:
            return f"Saved {title} to {self.pdf}"
        if self.printer:
            return f"Printed {title} on {self.printer}"
        return f"Preview of {title} closed without printing"

    def disclosed(self) -> str:
        """How the document left the screen, for the audit trail's disclosure."""
        if self.pdf is not None:
            return f"previewed, saved as PDF to {self.pdf}"
        if self.printer:
            return f"previewed, printed on {self.printer}"
        return "previewed"


def _prepare_output(printer: QPrinter) -> None:
    """Create the file ``printer`` prints to owner-only before Qt opens it (Qt keeps the mode
    of a file it truncates), so the document is never readable by others, even while written
    (a trial found printed PDFs -rw-r--r--).  Raises OSError."""
    name = printer.outputFileName()
    if name:
        prepare_private(Path(name))


def _keep_private(printer: QPrinter) -> None:
    """Make the file ``printer`` printed to owner-only, should it have been created by Qt (from
    the preview's own print dialog, say)."""
    name = printer.outputFileName()
    if name and Path(name).is_file():
        with contextlib.suppress(OSError):  # another user's file: theirs to keep
            os.chmod(name, PRIVATE_MODE)


class DocumentPreview(QPrintPreviewDialog):
    """Qt's print preview of one document; printing from it goes to the chosen printer.

    Attributes:
        layout: the document shown.
        problem: what went wrong the last time the document was painted, or None.
    """

    def __init__(self, layout: PrintLayout, parent: QWidget | None = None) -> None:
        printer = _printer(layout)
        super().__init__(printer, parent)
        self._printer = printer  # the dialog does not own it: keep it alive as long as itself
        keep_none_alive()  # painting pages makes thousands of calls: see qt_workarounds
        # A layout-driven minimum size is pushed to the platform window on every change, which
        # the offscreen platform answers with a warning (as in the main window).
        own = self.layout()
        if own is not None:
            own.setSizeConstraint(QLayout.SizeConstraint.SetNoConstraint)
        self.layout_ = layout
        self.problem: str | None = None
        self.setWindowTitle(f"Print preview: {layout.title}")
        self.setAccessibleName(f"Print preview of {layout.title}")
        self.resize(900, 1000)
        self.paintRequested.connect(self._on_self_paint_requested)

    def preview_widget(self) -> QPrintPreviewWidget:
        widget = self.findChild(QPrintPreviewWidget)
        assert widget is not None
        return widget

    def page_count(self) -> int:
        return self.preview_widget().pageCount()

    def _on_self_paint_requested(self, printer: QPrinter) -> None:
        self.problem = print_to(printer, self.layout_)

    def outcome(self, result: int) -> PreviewOutcome:
        """What the preview closed with ``result`` (its ``exec``) came to.  Qt's preview
        accepts itself only once its Print button has printed, on the printer chosen in the
        print dialog or to the file of "Print to File" (or, on Windows and macOS, to a PDF whose
        file dialog may have been cancelled: no file, nothing printed)."""
        if self.problem is not None:
            return PreviewOutcome(problem=self.problem)
        if result != QDialog.DialogCode.Accepted:
            return PreviewOutcome()
        printer = self._printer
        if printer.outputFormat() == QPrinter.OutputFormat.PdfFormat:
            name = printer.outputFileName()
            return PreviewOutcome(pdf=Path(name)) if name else PreviewOutcome()
        return PreviewOutcome(printer=printer.printerName())

    @classmethod
    def show_for(cls, parent: QWidget | None, layout: PrintLayout) -> PreviewOutcome:
        """Show the preview (modal) until the user closes it; what became of it (printed,
        saved, closed) or what went wrong.

        The one entry point the rest of the UI uses, so tests can replace it."""
        dialog = cls(layout, parent)
        try:
            return dialog.outcome(dialog.exec())
        finally:
            dialog.deleteLater()


def preview(parent: QWidget | None, layout: PrintLayout) -> str | None:
    """Preview ``layout`` (the user may print from the preview); None, or what went wrong."""
    return DocumentPreview.show_for(parent, layout).problem


def installed_printers() -> tuple[str, ...]:
    """The names of the printers this PC can print to."""
    return tuple(QPrinterInfo.availablePrinterNames())


def documents_dir() -> Path:
    """The user's Documents folder, or their home folder on a PC that has none."""
    from ketadesk.paths import user_documents_dir

    folder = user_documents_dir()
    return folder if folder.is_dir() else Path.home()


def print_with_dialog(
    parent: QWidget | None,
    layout: PrintLayout,
    printer: QPrinter | None = None,
) -> str | None:
    """The system print dialog, then the printer chosen there; None when printed or when the
    user cancelled, else what went wrong (the printer's error state included).

    The job is named after the document (``file_name``); on a PC without a printer, where
    printing to a file is all there is, the dialog proposes that file in the user's Documents
    folder (Qt's own default is the home folder with no file name, which fails)."""
    printer = printer or _printer(layout)
    printer.setDocName(Path(file_name(layout)).stem)
    if not installed_printers():
        # Only then: a file name set on the printer takes the place of a real printer.
        printer.setOutputFileName(str(documents_dir() / file_name(layout)))
    dialog = QPrintDialog(printer, parent)
    dialog.setWindowTitle(f"Print {layout.title}")
    try:
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return None
    finally:
        dialog.deleteLater()
    try:
        _prepare_output(printer)
    except OSError as err:
        return f"The document was not printed: {err.strerror or err}."
    return print_to(printer, layout)


def save_pdf(parent: QWidget | None, layout: PrintLayout, path: Path) -> str | None:
    """Write ``layout`` as a PDF file at ``path``: None when written, else why not.

    ``parent`` is unused; it keeps the three entry points alike for callers."""
    del parent
    problem = output_problem(path)
    if problem is not None:
        return f"The PDF was not saved: {problem}."
    try:
        prepare_private(path)  # patient data: owner-only from its first byte
        printer = pdf_printer(path, layout.paper_size, layout.card)
        printer.setDocName(Path(file_name(layout)).stem)  # the PDF's title
        render(layout, printer)
    except PrintError as err:
        return f"The PDF was not saved: {err}."
    except OSError as err:
        return f"The PDF was not saved: {err.strerror or err}."
    return None


# The folder the last PDF was saved in, proposed for the next one while the program runs.
_last_pdf_folder: Path | None = None


def choose_pdf_path(parent: QWidget | None, suggested: str) -> Path | None:
    """Ask where to save a PDF (None: the user cancelled): ``suggested`` (a file name) in the
    folder the last PDF went to, else in the user's Documents folder.  (Qt's own default is
    the program's working folder, which a user trial found it opening in.)"""
    global _last_pdf_folder
    folder = (
        _last_pdf_folder if _last_pdf_folder is not None and _last_pdf_folder.is_dir() else None
    )
    name, _filter = QFileDialog.getSaveFileName(
        parent, "Save as PDF", str((folder or documents_dir()) / suggested), "PDF files (*.pdf)"
    )
    if not name:
        return None
    path = Path(name)
    _last_pdf_folder = path.parent
    return path if path.suffix.lower() == ".pdf" else path.with_suffix(".pdf")


class DocumentPrinter(QObject):
    """Builds the clinic's documents off the GUI thread, then previews, prints or saves them.

    Signals:
        busy(bool): a document is being read (True) or is done (False).
        problem(str): what went wrong, in words for the user (also shown in a message box
            when ``show_problems`` is set).
        finished(str): what was done ("Saved day-2026-11-24.pdf", "Printed Day sheet … on
            Front desk laser", "Preview of Day sheet … closed without printing").

    Attributes:
        last_layout: the last document built (kept so a failed print loses nothing).
    """

    busy = Signal(bool)
    problem = Signal(str)
    finished = Signal(str)

    def __init__(self, desk: Desk, parent: QWidget, *, show_problems: bool = True) -> None:
        super().__init__(parent)
        self._desk = desk
        self._parent = parent
        self._calls: list[BackgroundCall[PrintLayout]] = []
        self.last_layout: PrintLayout | None = None
        if show_problems:
            self.problem.connect(self._on_self_problem)

    # -- the documents ----------------------------------------------------------------------

    def day_sheet(
        self,
        day: dt.date,
        *,
        by: str = BY_ROOM,
        initials: bool = False,
        mode: str = PREVIEW,
        path: Path | None = None,
    ) -> BackgroundCall[PrintLayout]:
        db, now = self._desk.db, self._desk.now()
        return self.run(
            lambda: day_sheet_layout(day_sheet(db, day, by=by, use_initials=initials, now=now)),
            mode,
            path,
            about=Disclosure(
                "day sheet",
                f"{short_date(day, year=True)}, by {by}" + (", initials" if initials else ""),
            ),
        )

    def call_list(
        self,
        day: dt.date | None = None,
        *,
        next_day: bool = False,
        mode: str = PREVIEW,
        path: Path | None = None,
    ) -> BackgroundCall[PrintLayout]:
        """The calls owed on ``day``; None (the Print menu's): the clinic's today, whatever
        day the window shows (a user trial printed a week ahead's list, and read calls made
        that morning as "overdue by 14 days"); ``next_day``: the clinic's next business day's,
        printed the evening before (its next-day calls are due at its opening)."""
        db, actor, now = self._desk.db, self._desk.actor, self._desk.now()

        def layout() -> PrintLayout:
            chosen = next_call_day(db, now=now) if next_day else day
            return calls_layout(call_list(db, actor, chosen, now=now))

        which = "next business day" if next_day else "today"
        return self.run(
            layout,
            mode,
            path,
            about=Disclosure("call list", short_date(day, year=True) if day else which),
        )

    def appointment_card(
        self,
        chart: str | None = None,
        *,
        patient_id: int | None = None,
        appointment_id: int | None = None,
        mode: str = PREVIEW,
        path: Path | None = None,
    ) -> BackgroundCall[PrintLayout]:
        """The patient's card, the patient named by chart number, id, or one of their
        sessions."""
        db, now = self._desk.db, self._desk.now()
        who = (
            f"chart {chart}"
            if chart is not None
            else f"patient #{patient_id}"
            if patient_id is not None
            else f"patient of appointment #{appointment_id}"
        )
        return self.run(
            lambda: card_layout(
                appointment_card(
                    db, chart, patient_id=patient_id, appointment_id=appointment_id, now=now
                )
            ),
            mode,
            path,
            about=Disclosure(
                "appointment card",
                who,
                chart=chart,
                patient_id=patient_id,
                appointment_id=appointment_id,
            ),
        )

    def confirmation_sheet(
        self, day: dt.date | None = None, *, mode: str = PREVIEW, path: Path | None = None
    ) -> BackgroundCall[PrintLayout]:
        """The confirmation call sheet of ``day`` (None: the day the list is for by default)."""
        db, now = self._desk.db, self._desk.now()
        return self.run(
            lambda: call_sheet_layout(call_sheet(db, day, now=now)),
            mode,
            path,
            about=Disclosure("confirmations", "the confirmation call sheet"),
        )

    def waitlist(
        self, *, mode: str = PREVIEW, path: Path | None = None
    ) -> BackgroundCall[PrintLayout]:
        """Everyone waiting, nearest deadline first."""
        db, now = self._desk.db, self._desk.now()
        return self.run(
            lambda: waitlist_layout(waitlist_sheet(db, now=now)),
            mode,
            path,
            about=Disclosure("waitlist", "everyone waiting"),
        )

    def session_record(
        self, appointment_id: int, *, mode: str = PREVIEW, path: Path | None = None
    ) -> BackgroundCall[PrintLayout]:
        db, actor, now = self._desk.db, self._desk.actor, self._desk.now()
        return self.run(
            lambda: session_record_layout(session_record_sheet(db, actor, appointment_id, now=now)),
            mode,
            path,
            about=Disclosure(
                "session record", f"appointment #{appointment_id}", appointment_id=appointment_id
            ),
        )

    # -- doing it ---------------------------------------------------------------------------

    def run(
        self,
        build: Callable[[], PrintLayout],
        mode: str = PREVIEW,
        path: Path | None = None,
        *,
        about: Disclosure | None = None,
    ) -> BackgroundCall[PrintLayout]:
        """Build a document on a worker thread, then ``mode`` it: PREVIEW, PRINT (the print
        dialog) or PDF (to ``path``, or where the user chooses; the file proposed is named
        after the document, ``layout.file_name``).  A document that was shown,
        printed or saved is recorded in the audit trail (``about`` says what it is)."""
        if mode not in (PREVIEW, PRINT, PDF):
            raise ValueError(f"mode must be {PREVIEW!r}, {PRINT!r} or {PDF!r}, not {mode!r}")
        db = self._desk.db

        def on_clinic_paper() -> PrintLayout:
            return dataclasses.replace(build(), paper_size=clinic_paper_size(db))

        call: BackgroundCall[PrintLayout] = BackgroundCall(on_clinic_paper, self)
        self._calls.append(call)

        def done(layout: object) -> None:
            self._forget(call)
            assert isinstance(layout, PrintLayout)
            self.last_layout = layout
            self._deliver(layout, mode, path, about)

        def failed(error: object) -> None:
            self._forget(call)
            self.problem.emit(f"The document could not be prepared: {error}")

        call.succeeded.connect(done)
        call.failed.connect(failed)
        self.busy.emit(True)
        call.start()
        return call

    def _forget(self, call: BackgroundCall[PrintLayout]) -> None:
        if call in self._calls:
            self._calls.remove(call)
        call.deleteLater()
        self.busy.emit(bool(self._calls))

    def _deliver(
        self,
        layout: PrintLayout,
        mode: str,
        path: Path | None,
        about: Disclosure | None = None,
    ) -> None:
        for warning in layout.warnings:
            self.problem.emit(warning[:1].upper() + warning[1:] + ".")
        if mode == PREVIEW:
            shown = DocumentPreview.show_for(self._parent, layout)
            problem = shown.problem
            # Printed or saved from the preview, or closed: the status bar says which.
            done, how = shown.words(layout.title), shown.disclosed()
        elif mode == PRINT:
            problem = print_with_dialog(self._parent, layout)
            done, how = f"Printed {layout.title}", "printed"
        else:
            target = path or choose_pdf_path(self._parent, file_name(layout))
            if target is None:
                return
            problem = save_pdf(self._parent, layout, target)
            done = f"Saved {target}"
            how = f"saved as PDF to {target}"
        if problem is not None:
            self.problem.emit(problem)
            return
        if about is None:
            self.finished.emit(done)
        else:  # ``finished`` once the trail has it (or says it missed it)
            self._disclose(about, how, lambda: self.finished.emit(done))

    def _disclose(self, about: Disclosure, how: str, then: Callable[[], None]) -> None:
        """Who printed, previewed or saved which patient data (``how``: "printed",
        "previewed, saved as PDF to …"): one audit event, written on the writer worker;
        ``then`` is called after it, written or not."""
        detail = f"{about.detail}; {how}"
        desk = self._desk

        def refused(err: ServiceError) -> None:  # the paper is out; say the trail missed it
            self.problem.emit(f"The print was not recorded in the audit trail: {err}")

        run_service(
            self._parent,
            lambda: record_disclosure(
                desk.db,
                desk.actor,
                about.what,
                about.patient_id,
                detail,
                chart=about.chart,
                appointment_id=about.appointment_id,
                now=desk.now(),
            ),
            lambda _event: None,
            failed=refused,
            busy="",
            writes=True,
            settled=then,
        )

    def _on_self_problem(self, message: str) -> None:
        box = QMessageBox(
            QMessageBox.Icon.Warning, "Printing", message, QMessageBox.StandardButton.Ok
        )
        box.setParent(self._parent, box.windowFlags())
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()  # window-modal, not blocking: the user's work stays as it was


class DocumentMenu(QMenu):
    """File ▸ Print: every document the desk prints, in one place.

    The day's documents print for the day the window shows (``day``); the appointment card and
    the session record for the session selected on the schedule (``selected``), the card
    otherwise for a patient the user finds (``choose_patient``); ``tell`` says what is missing
    ("select a session first").  Each opens the print preview, from which the user prints.

    A document the signed-in role may not print (``actor``; DOCUMENT_PERMISSIONS, what the
    service building it checks) is greyed out, its tooltip saying who may, rather than failing
    once clicked.  The menu is built anew for each user who signs in, so a switch of user offers
    the new user's documents.

    Attributes:
        actions_by_name: the menu's actions by name (DOCUMENTS).
    """

    #: (name, text, tip) of each entry, in menu order; "" is a separator.
    DOCUMENTS: tuple[tuple[str, str, str], ...] = (
        ("day_sheet_room", "Day sheet by room…", "The day's sessions, room by room"),
        (
            "day_sheet_staff",
            "Day sheet by clinician…",
            "The day's sessions, staff member by staff member",
        ),
        (
            "day_sheet_public",
            "Day sheet with initials (public view)…",
            "The day sheet with initials only: no names, chart numbers or notes",
        ),
        ("day_sheet_pdf", "Save day sheet as PDF…", "The day sheet by room, as a PDF file"),
        ("", "", ""),
        (
            "call_list",
            "Follow-up call list…",
            "The follow-up calls owed today (whatever day is shown), with phones",
        ),
        (
            "call_list_next",
            "Follow-up call list for the next business day…",
            "The calls owed on the clinic's next business day (the next-day calls of today's "
            "patients), to print the evening before",
        ),
        (
            "confirmations",
            "Confirmation call sheet…",
            "The coming visits to confirm by phone, with their checklist",
        ),
        ("waitlist", "Waitlist…", "Everyone waiting for a place, nearest deadline first"),
        ("", "", ""),
        (
            "appointment_card",
            "Appointment card…",
            "The whole series on a card, for the patient of the selected session",
        ),
        (
            "session_record",
            "Session record…",
            "The monitoring record of the selected dosing session",
        ),
    )
    #: The permission (services.common.context.PERMISSIONS) a document's service requires; a
    #: document not listed here is open to every signed-in user.
    DOCUMENT_PERMISSIONS: ClassVar[dict[str, str]] = {"session_record": "read_clinical"}

    def __init__(
        self,
        printer: DocumentPrinter,
        day: Callable[[], dt.date],
        parent: QWidget | None = None,
        *,
        selected: Callable[[], int | None] | None = None,
        choose_patient: Callable[[Callable[[int], None]], None] | None = None,
        tell: Callable[[str], None] | None = None,
        actor: Actor | None = None,
    ) -> None:
        super().__init__("&Print", parent)
        self.setObjectName("print_menu")
        self.setToolTipsVisible(True)  # a greyed-out document says why
        self._printer = printer
        self._day = day
        self._selected = selected or (lambda: None)
        self._choose_patient = choose_patient
        self._tell = tell or printer.problem.emit
        self.actions_by_name: dict[str, QAction] = {}
        for name, text, tip in self.DOCUMENTS:
            if not name:
                self.addSeparator()
                continue
            action = QAction(text, self)
            action.setObjectName(name)
            action.setToolTip(tip)
            action.setStatusTip(tip)
            action.triggered.connect(getattr(self, f"_on_{name}_triggered"))
            self.addAction(action)
            self.actions_by_name[name] = action
        self.actions_by_name["day_sheet_room"].setShortcut("Ctrl+P")
        if actor is not None:
            self.set_actor(actor)

    def set_actor(self, actor: Actor) -> None:
        """Offer what ``actor``'s role may print; the other documents greyed out, their tooltip
        (and status tip) saying who may print them."""
        tips = {name: tip for name, _text, tip in self.DOCUMENTS if name}
        for name, action in self.actions_by_name.items():
            permission = self.DOCUMENT_PERMISSIONS.get(name, "")
            allowed = not permission or may(actor, permission)
            tip = tips[name] if allowed else f"{tips[name]}. {who_may(permission)}."
            action.setEnabled(allowed)
            action.setToolTip(tip)
            action.setStatusTip(tip)

    def _on_day_sheet_room_triggered(self) -> None:
        self._printer.day_sheet(self._day(), by=BY_ROOM)

    def _on_day_sheet_staff_triggered(self) -> None:
        self._printer.day_sheet(self._day(), by=BY_STAFF)

    def _on_day_sheet_public_triggered(self) -> None:
        self._printer.day_sheet(self._day(), by=BY_ROOM, initials=True)

    def _on_day_sheet_pdf_triggered(self) -> None:
        self._printer.day_sheet(self._day(), mode=PDF)

    def _on_call_list_triggered(self) -> None:
        self._printer.call_list()  # today's: calls are made now, whatever day is shown

    def _on_call_list_next_triggered(self) -> None:
        self._printer.call_list(next_day=True)

    def _on_confirmations_triggered(self) -> None:
        self._printer.confirmation_sheet()

    def _on_waitlist_triggered(self) -> None:
        self._printer.waitlist()

    def _on_appointment_card_triggered(self) -> None:
        appointment = self._selected()
        if appointment is not None:
            self._printer.appointment_card(appointment_id=appointment)
        elif self._choose_patient is not None:
            self._choose_patient(self._on_patient_chosen)
        else:
            self._tell("Select a session of the patient first, then print their card.")

    def _on_patient_chosen(self, patient_id: int) -> None:
        self._printer.appointment_card(patient_id=patient_id)

    def _on_session_record_triggered(self) -> None:
        appointment = self._selected()
        if appointment is None:
            self._tell("Select a dosing session on the schedule first, then print its record.")
            return
        self._printer.session_record(appointment)
