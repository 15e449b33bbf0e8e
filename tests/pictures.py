"""Where tests save the pictures they paint for a person to look at (never compared)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def picture_folder(name: str = "") -> Path:
    """``$KETADESK_SCREENSHOTS/name`` when set, else ``name`` in the temporary folder (which
    tests/conftest.py makes a folder of the test run's own); created."""
    base = os.environ.get("KETADESK_SCREENSHOTS") or tempfile.gettempdir()
    folder = Path(base) / name if name else Path(base)
    folder.mkdir(parents=True, exist_ok=True)
    return folder
