"""What every printed document shares: the ``PrintLayout`` handed to ui/printing, the HTML
templates in ``resources/print`` that fill it, and the clinic logo in its header.

A block is never split across pages (ui/printing paginates block by block), so one session is
one block.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import html
import os
import re
import string
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ketadesk.paths import config_dir, resources_dir
from ketadesk.scheduling import dates
from ketadesk.scheduling.catalog import CARD_SIZES, ClinicSettings


@dataclass(frozen=True, slots=True)
class Logo:
    """The clinic's logo as the settings name it: ``path`` when the file can be read, else
    ``problem`` says why it is left off (the document prints without it)."""

    path: Path | None
    problem: str = ""


def clinic_logo(settings: ClinicSettings) -> Logo | None:
    """The logo file the settings name (relative to the configuration folder), or None when
    they name none."""
    if settings.logo_image and settings.logo_format:
        return _stored_logo(settings.logo_image, settings.logo_format)
    name = settings.logo.strip()
    if not name:
        return None
    path = Path(name).expanduser()
    if not path.is_absolute():
        path = config_dir() / path
    try:
        with path.open("rb") as fh:
            fh.read(1)
    except OSError as err:
        reason = err.strerror or str(err)
        return Logo(None, f"the clinic logo {path} cannot be read ({reason}); printed without it")
    return Logo(path)


def _stored_logo(data: str, fmt: str) -> Logo:
    """The logo kept in the database (Settings ▸ Clinic), as a file the printer can read: one
    per image, named by its digest in the temporary folder, written once."""
    raw = base64.b64decode(data)
    digest = hashlib.sha256(raw).hexdigest()[:24]
    path = Path(tempfile.gettempdir()) / f"ketadesk-logo-{digest}.{fmt}"
    try:
        if not path.exists() or path.read_bytes() != raw:  # not trusting a file left there
            partial = path.with_suffix(f".{os.getpid()}.part")
            partial.write_bytes(raw)
            partial.replace(path)  # whole or not at all, should two workstations race
    except OSError as err:
        reason = err.strerror or str(err)
        return Logo(None, f"the clinic logo cannot be prepared ({reason}); printed without it")
    return Logo(path)


def staff_label(name: str, first: str | None, last: str | None, credentials: str | None) -> str:
    """How a staff member is named on paper: "Grace Hopper, RN" (the resource name if no person)."""
    full = f"{first or ''} {last or ''}".strip() or name
    return f"{full}, {credentials}" if credentials else full


@dataclass(frozen=True, slots=True)
class PrintBlock:
    """A piece of HTML printed whole on one page; ``keep_with_next`` keeps a heading with the
    first block under it.

    A heading stands over the blocks after it, and is printed again on top of each further page
    they run onto, until a block of its ``level`` or a lower one (a heading's level is 0 unless
    given).  So headings nest: the card's heading (0) stays over a section's heading (1) and a
    year (2) under it, and a block of level 1 (the card's instructions) ends the section but
    not the card.  A block of level None is body text under every heading standing."""

    html: str
    keep_with_next: bool = False
    level: int | None = None

    @property
    def outline_level(self) -> float:
        """The level it takes in the outline: a heading's 0 by default, body text's below all."""
        if self.level is not None:
            return self.level
        return 0 if self.keep_with_next else float("inf")


@dataclass(frozen=True, slots=True)
class CardFormat:
    """A document printed as cards ([clinic] card_size and card_stock): each card is
    ``width_in`` × ``height_in`` inches; ``stock`` "sheet" lays the cards at their true size on
    the clinic's paper with crop marks, "card" prints one card a page."""

    name: str
    width_in: float
    height_in: float
    stock: str = "sheet"


def card_format(settings: ClinicSettings) -> CardFormat:
    width, height, _label = CARD_SIZES[settings.card_size]
    return CardFormat(settings.card_size, width, height, settings.card_stock)


@dataclass(frozen=True, slots=True)
class PrintLayout:
    """A document ready to paginate: the header of every page, then its blocks in order."""

    clinic_name: str
    title: str  # "Day sheet by room: Tuesday 24 November 2026"
    printed_at: dt.datetime
    css: str
    blocks: tuple[PrintBlock, ...]
    logo: Path | None = None  # printed at the left of every page's header
    # What the printed document leaves out and why ("the clinic logo ... cannot be read").
    warnings: tuple[str, ...] = ()
    paper_size: str = "letter"  # the clinic's paper ([clinic] paper_size): letter, legal, a4
    # Set for a document of cards (the appointment card): pages are cards, not sheets.
    card: CardFormat | None = None
    #: The document's own name, for its PDF file and print job ("Day sheet by room
    #: 12-07-2026", "Appointment card Jane Doe"); the title when empty.  See ``file_name``.
    name: str = ""
    #: How the clinic reads a time of day ([clinic] time_format): the header's "Printed …".
    time_format: str = "12h"


#: What no file name may hold on Windows, macOS or Linux (and control characters).
_NOT_IN_FILE_NAMES = re.compile(r'[<>:"/\\|?*\x00-\x1f\x7f]')
_RESERVED_NAMES = frozenset(
    {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(10)), *(f"LPT{i}" for i in range(10))}
)
_FILE_NAME_CHARS = 120


def file_date(day: dt.date) -> str:
    """A day in a file name, month first as the clinic writes it: ``12-07-2026``."""
    return f"{day.month:02d}-{day.day:02d}-{day.year}"


def file_name(layout: PrintLayout, suffix: str = ".pdf") -> str:
    """The file a document is saved as, named after it ("Day sheet by room 12-07-2026.pdf"):
    characters no file system takes become spaces, and the name is kept short."""
    stem = _NOT_IN_FILE_NAMES.sub(" ", layout.name or layout.title)
    stem = " ".join(stem.split())[:_FILE_NAME_CHARS].strip(" .")
    if not stem or stem.split(".")[0].upper() in _RESERVED_NAMES:
        stem = f"Document {stem}".strip()
    return stem + suffix


def output_problem(path: Path) -> str | None:
    """Why a file cannot be written at ``path`` (asked before any work is done), or None."""
    if path.is_dir():
        return f"cannot write {path}: it is a folder"
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        return f"cannot write {path}: the folder {folder} does not exist"
    if path.exists() and not os.access(path, os.W_OK):
        return f"cannot write {path}: the file is read-only"
    if not path.exists() and not os.access(folder, os.W_OK | os.X_OK):
        return f"cannot write {path}: the folder {folder} cannot be written to"
    return None


def print_dir() -> Path:
    return resources_dir() / "print"


@functools.cache
def template(name: str) -> string.Template:
    """The template ``name`` from resources/print, read once."""
    return string.Template((print_dir() / name).read_text(encoding="utf-8"))


def fill(name: str, **values: str) -> str:
    """Fill a template; every value is escaped unless its name ends in ``_html``."""
    return template(name).substitute(
        {k: v if k.endswith("_html") else html.escape(v) for k, v in values.items()}
    )


def hour_minute(moment: dt.datetime, fmt: str) -> str:
    """A time of day on paper, in the clinic's format ``fmt`` ("9:30 AM" or "09:30")."""
    return dates.clock(moment, fmt)


def long_date(day: dt.date) -> str:
    """``Tuesday, November 24, 2026``: a heading's date, as a US clinic writes it."""
    return dates.long_date(day)


def us_date(day: dt.date | dt.datetime, *, year: bool = False) -> str:
    """ "Tue 12/8" (or "Tue 12/8/2026"): the weekday and the US month/day."""
    text = f"{day:%a} {day.month}/{day.day}"
    return f"{text}/{day.year}" if year else text


def us_time(moment: dt.datetime, fmt: str) -> str:
    """ "9:30 AM" (or "09:30" in a 24-hour clinic): the time as the clinic's patients read it."""
    return dates.clock(moment, fmt)
