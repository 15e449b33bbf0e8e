"""Render the main window's views on the demo clinic to docs/screenshots/ (for the README).

    QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/screenshots.py [OUT_DIR]

The demo is built fresh for Tuesday 24 November 2026 and the clock is held at 10:52 that
morning, so the pictures are the same from one run to the next.  Dialogs (booking, patient
record, monitoring record, trend chart) have their pictures made by their own tests' helpers;
this script covers the window and its views.
"""

from __future__ import annotations

import datetime as dt
import sys
import tempfile
from pathlib import Path

DAY = dt.date(2026, 11, 24)
NOW = dt.datetime(2026, 11, 24, 18, 52, tzinfo=dt.UTC)  # 10:52 at the clinic (PST)
VIEWS = {
    "rooms": "day-view.png",
    "staff": "staff-day.png",
    "week": "week.png",
    "chairs": "chair-board.png",
    "follow_ups": "follow-ups.png",
    "recall": "recall.png",
    "my_day": "my-day.png",
}


def main(out: Path) -> None:
    from PySide6.QtCore import QCoreApplication

    from ketadesk.commands.run import open_day_window
    from ketadesk.services.clinic.clinic_setup import open_clinic
    from ketadesk.services.common.context import Actor
    from ketadesk.services.demo.clinic import build_demo
    from ketadesk.ui.common.app import create_application
    from ketadesk.ui.common.background import wait_for_background_work

    app = create_application(["ketadesk"])
    folder = Path(tempfile.mkdtemp(prefix="ketadesk-shots-"))
    url = f"sqlite:///{folder / 'demo.sqlite'}"
    build_demo(url, today=DAY)
    db = open_clinic(url).db
    nurse = Actor(user_id=2, username="nurse", role="nurse")
    window = open_day_window(db, DAY, now=lambda: NOW, actor=nurse)
    window.resize(1400, 900)
    window.show()
    for name, file in VIEWS.items():
        window.set_view(name)
        # Views read on worker threads: wait until every answer is in and painted.
        for _ in range(400):
            QCoreApplication.processEvents()
            if not window.is_reading() and wait_for_background_work(0.0):
                break
            app.thread().msleep(25)
        for _ in range(4):
            QCoreApplication.processEvents()
        window.grab().save(str(out / file))
        print(out / file)
    window.close()
    db.dispose()


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/screenshots"))
