"""Rendering a PrintLayout (services/documents) onto a QPrinter: a PDF file or a real printer.

Pages are built here, block by block: each block of the layout is its own small QTextDocument,
measured at the page's width and placed whole on a page (a block taller than a whole page is
the only one ever cut).  A heading marked ``keep_with_next`` moves to the next page with the
block under it, and is repeated on top of a page its rows run onto.  Every page gets the
header (the clinic's logo when the settings name one, clinic name, document title, print time)
and "Page n of N" at the bottom.  A logo that cannot be drawn leaves the header without it and
says so in ``PrintResult.warnings``: the document itself still prints.

Nothing here knows the database: the blocks come from the document modules of
ketadesk.services.printing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QMarginsF, QPointF, QRectF, Qt
from PySide6.QtGui import (
    QFont,
    QImage,
    QImageReader,
    QPageLayout,
    QPageSize,
    QPainter,
    QPen,
    QTextDocument,
)
from PySide6.QtPrintSupport import QPrinter

from ketadesk.services.printing.layout import PrintLayout

PAGE_SIZES = {
    "a4": QPageSize.PageSizeId.A4,
    "letter": QPageSize.PageSizeId.Letter,
    "legal": QPageSize.PageSizeId.Legal,
}
RESOLUTION = 300  # dots per inch of the PDF's layout; text stays vector
MARGIN_MM = 12.0
HEADER_PT = 34.0  # the band the header takes at the top of each page, in points
FOOTER_PT = 20.0


class PrintError(Exception):
    """The printer or the PDF file refused the document."""


@dataclass(frozen=True, slots=True)
class PrintResult:
    pages: int
    warnings: tuple[str, ...] = ()  # what was left out ("the clinic logo ... cannot be read")


def load_logo(path: Path | None) -> tuple[QImage | None, str]:
    """The logo image, or None and why not ("" when no logo is wanted)."""
    if path is None:
        return None, ""
    reader = QImageReader(str(path))
    image = reader.read()
    if image.isNull():
        return None, f"the clinic logo {path} is not an image ({reader.errorString()}); " + (
            "printed without it"
        )
    return image, ""


def pdf_printer(path: Path, page_size: str = "a4") -> QPrinter:
    """A QPrinter writing a PDF file at ``path``."""
    printer = QPrinter(QPrinter.PrinterMode.ScreenResolution)
    printer.setResolution(RESOLUTION)
    printer.setOutputFormat(QPrinter.OutputFormat.PdfFormat)
    printer.setOutputFileName(str(path))
    printer.setPageLayout(
        QPageLayout(
            QPageSize(PAGE_SIZES[page_size.lower()]),
            QPageLayout.Orientation.Portrait,
            QMarginsF(MARGIN_MM, MARGIN_MM, MARGIN_MM, MARGIN_MM),
            QPageLayout.Unit.Millimeter,
        )
    )
    return printer


def render(layout: PrintLayout, printer: QPrinter) -> PrintResult:
    """Paint ``layout`` onto ``printer``; raises PrintError when the device cannot be opened."""
    dpi = printer.resolution()
    points = dpi / 72.0
    page = printer.pageLayout().paintRectPixels(dpi)
    width, height = float(page.width()), float(page.height())
    header, footer = HEADER_PT * points, FOOTER_PT * points
    body = height - header - footer

    logo, logo_problem = load_logo(layout.logo)
    warnings = tuple(w for w in (*layout.warnings, logo_problem) if w)
    docs = [_block_document(block.html, layout.css, width, printer) for block in layout.blocks]
    pages = _paginate(
        [d.size().height() for d in docs], [b.keep_with_next for b in layout.blocks], body
    )

    painter = QPainter()
    if not painter.begin(printer):
        raise PrintError(f"cannot write to {printer.outputFileName() or printer.printerName()}")
    try:
        for number, items in enumerate(pages, start=1):
            if number > 1 and not printer.newPage():
                raise PrintError("the printer refused a new page")
            _draw_header(painter, layout, width, header, points, logo)
            y = header
            for index in items:
                doc = docs[index]
                painter.save()
                painter.translate(0, y)
                clip = QRectF(0, 0, width, min(doc.size().height(), body))
                doc.drawContents(painter, clip)
                painter.restore()
                y += doc.size().height()
            _draw_footer(painter, number, len(pages), width, height, footer, points)
    finally:
        painter.end()
    if printer.printerState() == QPrinter.PrinterState.Error:
        raise PrintError(f"the printer {printer.printerName() or ''} reported an error".strip())
    return PrintResult(pages=len(pages), warnings=warnings)


def print_pdf(layout: PrintLayout, path: Path, page_size: str = "a4") -> PrintResult:
    return render(layout, pdf_printer(path, page_size))


def _block_document(html: str, css: str, width: float, printer: QPrinter) -> QTextDocument:
    doc = QTextDocument()
    doc.documentLayout().setPaintDevice(printer)  # points measured on the printer, not the screen
    doc.setDocumentMargin(0)
    doc.setDefaultStyleSheet(css)
    doc.setHtml(f"<body>{html}</body>")
    doc.setTextWidth(width)
    return doc


def _paginate(heights: list[float], keep: list[bool], body: float) -> list[list[int]]:
    """Block indexes per page: a block goes whole onto the page it fits on; a heading kept with
    the next block moves with it, and is printed again on top of a page its blocks run onto."""
    pages: list[list[int]] = [[]]
    used = 0.0
    heading: int | None = None  # the heading the blocks being placed belong to
    i = 0
    while i < len(heights):
        group = [i]
        while keep[group[-1]] and group[-1] + 1 < len(heights):
            group.append(group[-1] + 1)
        need = sum(heights[j] for j in group)
        if pages[-1] and used + need > body:
            pages.append([])
            used = 0.0
            if heading is not None and not keep[group[0]]:
                pages[-1].append(heading)  # "Room 1" again above its rows that ran over
                used += heights[heading]
        pages[-1].extend(group)
        used += need
        if keep[group[0]]:
            heading = group[0]
        i = group[-1] + 1
    return pages


def _font(points: float, size: float, bold: bool = False) -> QFont:
    font = QFont("sans-serif")
    font.setPixelSize(max(1, round(size * points)))
    font.setBold(bold)
    return font


def _draw_header(
    painter: QPainter,
    layout: PrintLayout,
    width: float,
    header: float,
    points: float,
    logo: QImage | None = None,
) -> None:
    line = 14 * points
    left = 0.0
    if logo is not None and logo.height() > 0:
        # The logo fills the header band's height (less the rule), at its own proportions,
        # never wider than a quarter of the page.
        tall = header - 8 * points
        wide = min(tall * logo.width() / logo.height(), width / 4)
        tall = wide * logo.height() / logo.width()
        painter.drawImage(QRectF(0, 0, wide, tall), logo)
        left = wide + 8 * points
    painter.setFont(_font(points, 11, bold=True))
    painter.drawText(
        QRectF(left, 0, width - left, line), Qt.AlignmentFlag.AlignLeft, layout.clinic_name
    )
    painter.setFont(_font(points, 8))
    painter.drawText(
        QRectF(0, 0, width, line),
        Qt.AlignmentFlag.AlignRight,
        f"Printed {layout.printed_at:%Y-%m-%d %H:%M}",
    )
    painter.setFont(_font(points, 12, bold=True))
    painter.drawText(
        QRectF(left, line, width - left, line + 2 * points),
        Qt.AlignmentFlag.AlignLeft,
        layout.title,
    )
    painter.setPen(QPen(Qt.GlobalColor.black, 1.0 * points))
    y = header - 4 * points
    painter.drawLine(QPointF(0, y), QPointF(width, y))


def _draw_footer(
    painter: QPainter,
    number: int,
    total: int,
    width: float,
    height: float,
    footer: float,
    points: float,
) -> None:
    painter.setFont(_font(points, 8))
    rect = QRectF(0, height - footer + 6 * points, width, footer - 6 * points)
    painter.drawText(rect, Qt.AlignmentFlag.AlignHCenter, f"Page {number} of {total}")
