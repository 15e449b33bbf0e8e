"""Files that hold patient data (PDFs, calendars, CSVs, pictures) are readable by their owner only,
like the clinic's database and its backups."""

from __future__ import annotations

import os
from pathlib import Path

PRIVATE_MODE = 0o600


def prepare_private(path: Path) -> None:
    """Create ``path`` empty and owner-only (or empty an existing file and make it owner-only), so
    that a writer which opens it afterwards (Qt's PDF writer, say) keeps those permissions."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_MODE)
    try:
        os.fchmod(fd, PRIVATE_MODE)  # an existing file keeps its old mode through O_CREAT
    finally:
        os.close(fd)


def write_private(path: Path, content: bytes) -> None:
    """Write ``content`` to ``path``, owner-only from its first byte. Raises OSError."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_MODE)
    try:
        os.fchmod(fd, PRIVATE_MODE)
        with os.fdopen(fd, "wb", closefd=False) as fh:
            fh.write(content)
    finally:
        os.close(fd)
