"""The day view survives a long session of repaints whatever the Qt bindings' defects."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from pytestqt.qtbot import QtBot

from ketadesk.commands.run import open_day_window
from ketadesk.ui.common.background import wait_for_background_work
from ketadesk.ui.common.qt_workarounds import keep_none_alive
from tests.clinic_fixtures import SmallClinic
from tests.ui.clinic_day import TUESDAY
from tests.ui.conftest import NOW


def test_none_outlives_a_long_session_of_repaints(qtbot: QtBot, clinic: SmallClinic) -> None:
    window = open_day_window(clinic.db, TUESDAY, now=lambda: NOW)
    qtbot.addWidget(window)
    window.resize(1400, 900)
    window.show()
    qtbot.waitExposed(window)
    # The day is read on a worker: let it finish, so that no other thread drops references to
    # None while the repaints are counted.
    qtbot.waitUntil(lambda: not window.is_reading())
    assert wait_for_background_work()
    keep_none_alive()
    before = sys.getrefcount(None)
    # Without the workaround, PySide6 6.12.0 on Python 3.11 aborts the interpreter after a
    # few dozen repaints of a busy day (each paint makes hundreds of calls into Qt).
    for _ in range(150):
        window.day_view.grab()
    assert sys.getrefcount(None) > min(before, 1 << 20)


LIGHT_READS = """
import linecache, sys, textwrap
from pathlib import Path

from ketadesk.ui.common.qt_workarounds import read_sources_lightly

read_sources_lightly()
feature = sys.modules["PySide6.support.feature"]
folder = Path(sys.argv[1])
(folder / "uses_qt.py").write_text("from PySide6.QtCore import QObject\\n")
(folder / "plain.py").write_text("VALUE = 1\\n")
sys.path.insert(0, str(folder))
before = set(linecache.cache)
import plain, uses_qt  # noqa: E401,F401
# PySide6's answers as before: a module that mentions PySide6 takes features (0), another is
# ignored (-1); and no source was kept.
assert feature.pyside_feature_dict["uses_qt"] == 0, feature.pyside_feature_dict.get("uses_qt")
assert feature.pyside_feature_dict["plain"] == -1, feature.pyside_feature_dict.get("plain")
assert set(linecache.cache) == before, set(linecache.cache) - before
print("ok")
"""


def test_pyside_reads_each_imported_module_once_and_keeps_nothing(tmp_path: Path) -> None:
    """PySide6's check of every later import gives the same answers without keeping every
    module's source in ``linecache`` (about 20 MB once SQLAlchemy is imported)."""
    done = subprocess.run(
        [sys.executable, "-c", LIGHT_READS, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ, QT_QPA_PLATFORM="offscreen"),
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "ok" in done.stdout
