"""Rendering a PrintLayout (services/documents) onto a QPrinter: a PDF file or a real printer.

Pages are built here, block by block: each block of the layout is its own small QTextDocument,
measured at the page's width and placed whole on a page (a block taller than a whole page is
the only one ever cut).  A heading marked ``keep_with_next`` moves to the next page with the
block under it, and is repeated on top of a page its rows run onto.  Every page gets the
header (the clinic's logo when the settings name one, clinic name, document title, print time)
and "Page n of N" at the bottom.  A logo that cannot be drawn leaves the header without it and
says so in ``PrintResult.warnings``: the document itself still prints.

A document of cards (``PrintLayout.card``, the appointment card) is paginated the same way onto
faces of the card's size, with its heading again on each further face; a series too long for
one face is first set in smaller type (down to ``CARD_SCALES[-1]``), then runs on to the back
(or a further card).  On card stock each face is a page; on paper the faces are laid out at
their true size, centred, with crop marks at every corner to cut along.

Nothing here knows the database: the blocks come from the document modules of
ketadesk.services.printing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QMarginsF, QPointF, QRectF, QSizeF, Qt
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

from ketadesk.services.printing.layout import (
    CardFormat,
    PrintBlock,
    PrintLayout,
    us_date,
    us_time,
)

PAGE_SIZES = {
    "a4": QPageSize.PageSizeId.A4,
    "letter": QPageSize.PageSizeId.Letter,
    "legal": QPageSize.PageSizeId.Legal,
}
RESOLUTION = 300  # dots per inch of the PDF's layout; text stays vector
MARGIN_MM = 12.0
HEADER_PT = 34.0  # the band the header takes at the top of each page, in points
FOOTER_PT = 20.0
# Cards: the white edge inside each card, the band for "1 of 2" at its foot, the gap between
# cards on a sheet (the crop marks are drawn in it) and the marks' length.
CARD_MARGIN_PT = 9.0
CARD_FOOTER_PT = 9.0
CARD_GAP_PT = 18.0
CROP_MARK_PT = 10.0
# The type sizes tried, largest first, to keep a series on the card's two sides; the smallest
# keeps the card's 9 pt rows at 8 pt and its smallest print (7.5 pt) near 7 pt.
CARD_SCALES = (1.0, 0.9)
CARD_SIDES = 2


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


def page_layout(page_size: str = "letter", card: CardFormat | None = None) -> QPageLayout:
    """The page a document is printed on: the clinic's paper, or the card itself when cards
    are printed on card stock (then without margins: the card lays out its own edge)."""
    if card is not None and card.stock == "card":
        size = QPageSize(
            QSizeF(card.width_in, card.height_in),
            QPageSize.Unit.Inch,
            f"Card {card.width_in:g} x {card.height_in:g} in",
            QPageSize.SizeMatchPolicy.ExactMatch,
        )
        return QPageLayout(
            size, QPageLayout.Orientation.Portrait, QMarginsF(0, 0, 0, 0), QPageLayout.Unit.Inch
        )
    return QPageLayout(
        QPageSize(PAGE_SIZES.get(page_size.lower(), PAGE_SIZES["letter"])),
        QPageLayout.Orientation.Portrait,
        QMarginsF(MARGIN_MM, MARGIN_MM, MARGIN_MM, MARGIN_MM),
        QPageLayout.Unit.Millimeter,
    )


def pdf_printer(path: Path, page_size: str = "a4", card: CardFormat | None = None) -> QPrinter:
    """A QPrinter writing a PDF file at ``path``."""
    printer = QPrinter(QPrinter.PrinterMode.ScreenResolution)
    printer.setResolution(RESOLUTION)
    printer.setOutputFormat(QPrinter.OutputFormat.PdfFormat)
    printer.setOutputFileName(str(path))
    printer.setPageLayout(page_layout(page_size, card))
    return printer


def render(layout: PrintLayout, printer: QPrinter) -> PrintResult:
    """Paint ``layout`` onto ``printer``; raises PrintError when the device cannot be opened."""
    if layout.card is not None:
        return _render_cards(layout, layout.card, printer)
    dpi = printer.resolution()
    points = dpi / 72.0
    page = printer.pageLayout().paintRectPixels(dpi)
    width, height = float(page.width()), float(page.height())
    header, footer = HEADER_PT * points, FOOTER_PT * points
    body = height - header - footer

    logo, logo_problem = load_logo(layout.logo)
    warnings = tuple(w for w in (*layout.warnings, logo_problem) if w)
    docs = [_block_document(block.html, layout.css, width, printer) for block in layout.blocks]
    pages = _paginate([d.size().height() for d in docs], layout.blocks, body)

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
    return render(layout, pdf_printer(path, page_size, layout.card))


def _block_document(html: str, css: str, width: float, printer: QPrinter) -> QTextDocument:
    doc = QTextDocument()
    doc.documentLayout().setPaintDevice(printer)  # points measured on the printer, not the screen
    doc.setDocumentMargin(0)
    doc.setDefaultStyleSheet(css)
    doc.setHtml(f"<body>{html}</body>")
    doc.setTextWidth(width)
    return doc


def _paginate(heights: list[float], blocks: Sequence[PrintBlock], body: float) -> list[list[int]]:
    """Block indexes per page: a block goes whole onto the page it fits on; a heading kept with
    the next block moves with it, and the headings standing over a block that runs onto a new
    page are printed again on top of it (``PrintBlock.level``)."""
    pages: list[list[int]] = [[]]
    used = 0.0
    standing: list[tuple[float, int]] = []  # (level, index): the headings over what comes next
    i = 0
    while i < len(heights):
        group = [i]
        while blocks[group[-1]].keep_with_next and group[-1] + 1 < len(heights):
            group.append(group[-1] + 1)
        need = sum(heights[j] for j in group)
        if pages[-1] and used + need > body:
            pages.append([])
            used = 0.0
            first = blocks[group[0]].outline_level
            for level, heading in standing:
                if level < first:  # "Room 1" again above its rows that ran over
                    pages[-1].append(heading)
                    used += heights[heading]
        pages[-1].extend(group)
        used += need
        for j in group:
            level = blocks[j].outline_level
            standing = [(lv, k) for lv, k in standing if lv < level]
            if blocks[j].keep_with_next:
                standing.append((level, j))
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
        f"Printed {us_date(layout.printed_at, year=True)} "
        f"{us_time(layout.printed_at, layout.time_format)}",
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


# -- cards --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CardFaces:
    """A document of cards as it is set: the block indexes on each face, and the type's scale."""

    faces: list[list[int]]
    scale: float
    documents: list[QTextDocument]


def set_cards(layout: PrintLayout, card: CardFormat, printer: QPrinter) -> CardFaces:
    """Flow the blocks onto faces of ``card``, in the largest type that keeps them to the
    card's two sides (or in the smallest, on as many cards as it takes)."""
    dpi = printer.resolution()
    points = dpi / 72.0
    inner = card.width_in * dpi - 2 * CARD_MARGIN_PT * points
    body = card.height_in * dpi - 2 * CARD_MARGIN_PT * points - CARD_FOOTER_PT * points
    chosen: CardFaces | None = None
    for scale in CARD_SCALES:
        # Laid out wider by 1/scale, then painted scaled down: the same words in smaller type.
        docs = [_block_document(b.html, layout.css, inner / scale, printer) for b in layout.blocks]
        faces = _paginate([d.size().height() * scale for d in docs], layout.blocks, body)
        chosen = CardFaces(faces, scale, docs)
        if len(faces) <= CARD_SIDES:
            break
    assert chosen is not None
    return chosen


def card_slots(page: QRectF, card_w: float, card_h: float, gap: float, count: int) -> list[QRectF]:
    """Where ``count`` cards go on a sheet: a grid of as many as fit, centred on the page (a
    single card in the middle), in reading order."""
    cols = max(1, int((page.width() + gap) // (card_w + gap)))
    rows = max(1, int((page.height() + gap) // (card_h + gap)))
    count = min(count, cols * rows)
    cols = min(cols, count)
    rows = -(-count // cols)
    left = page.left() + (page.width() - (cols * card_w + (cols - 1) * gap)) / 2
    top = page.top() + (page.height() - (rows * card_h + (rows - 1) * gap)) / 2
    return [
        QRectF(
            left + (i % cols) * (card_w + gap), top + (i // cols) * (card_h + gap), card_w, card_h
        )
        for i in range(count)
    ]


def _render_cards(layout: PrintLayout, card: CardFormat, printer: QPrinter) -> PrintResult:
    dpi = printer.resolution()
    points = dpi / 72.0
    card_w, card_h = card.width_in * dpi, card.height_in * dpi
    logo_problem = load_logo(layout.logo)[1]  # a card has no room for the logo
    warnings = tuple(w for w in (*layout.warnings, logo_problem) if w)
    setting = set_cards(layout, card, printer)
    faces = setting.faces
    page_rect = printer.pageLayout().paintRectPixels(dpi)
    page = QRectF(0, 0, float(page_rect.width()), float(page_rect.height()))
    on_stock = card.stock == "card"
    per_page = 1 if on_stock else len(card_slots(page, card_w, card_h, CARD_GAP_PT * points, 10**6))
    sheets = [faces[i : i + per_page] for i in range(0, len(faces), per_page)]

    painter = QPainter()
    if not painter.begin(printer):
        raise PrintError(f"cannot write to {printer.outputFileName() or printer.printerName()}")
    try:
        number = 0
        for sheet_index, sheet in enumerate(sheets):
            if sheet_index and not printer.newPage():
                raise PrintError("the printer refused a new page")
            if on_stock:
                slots = [QRectF(0, 0, card_w, card_h)]
            else:
                slots = card_slots(page, card_w, card_h, CARD_GAP_PT * points, len(sheet))
            for slot, items in zip(slots, sheet, strict=False):
                number += 1
                _draw_face(painter, setting, items, slot, number, len(faces), points)
                if not on_stock:
                    _draw_crop_marks(painter, slot, points)
    finally:
        painter.end()
    if printer.printerState() == QPrinter.PrinterState.Error:
        raise PrintError(f"the printer {printer.printerName() or ''} reported an error".strip())
    return PrintResult(pages=len(sheets), warnings=warnings)


def _draw_face(
    painter: QPainter,
    setting: CardFaces,
    items: list[int],
    slot: QRectF,
    number: int,
    total: int,
    points: float,
) -> None:
    margin = CARD_MARGIN_PT * points
    body = slot.height() - 2 * margin - CARD_FOOTER_PT * points
    y = 0.0
    for index in items:
        doc = setting.documents[index]
        painter.save()
        painter.translate(slot.left() + margin, slot.top() + margin + y)
        painter.scale(setting.scale, setting.scale)
        height = doc.size().height()
        doc.drawContents(painter, QRectF(0, 0, doc.textWidth(), min(height, body / setting.scale)))
        painter.restore()
        y += height * setting.scale
    if total > 1:
        painter.setFont(_font(points, 7))
        # Faces go front, back, front: an odd face runs on overleaf, an even one on the next card.
        more = " · continued overleaf" if number % 2 else " · continued on the next card"
        text = f"{number} of {total}" + (more if number < total else "")
        painter.drawText(
            QRectF(
                slot.left() + margin,
                slot.bottom() - margin - CARD_FOOTER_PT * points,
                slot.width() - 2 * margin,
                CARD_FOOTER_PT * points,
            ),
            Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignBottom,
            text,
        )


def _draw_crop_marks(painter: QPainter, slot: QRectF, points: float) -> None:
    """Short lines out from each corner, along the card's edges, stopping short of the card so
    no mark shows on a card cut a little inside."""
    painter.save()
    painter.setPen(QPen(Qt.GlobalColor.black, 0.5 * points))
    length, offset = CROP_MARK_PT * points, 2 * points
    for x, dx in ((slot.left(), -1), (slot.right(), 1)):
        for y, dy in ((slot.top(), -1), (slot.bottom(), 1)):
            painter.drawLine(QPointF(x + dx * offset, y), QPointF(x + dx * (offset + length), y))
            painter.drawLine(QPointF(x, y + dy * offset), QPointF(x, y + dy * (offset + length)))
    painter.restore()
