"""The reminder outbox sent while the application runs: every few minutes (the clinic's
``send_every_minutes``), ``run_outbox`` on the writer worker, the same service as
``ketadesk reminders send`` for cron.  Several workstations may run it at once: the service
claims each message before sending it, so none goes out twice."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer, Signal

from ketadesk.services.common.context import Database, ServiceError
from ketadesk.services.reminders.mail_settings import ReminderSettings, read_reminder_settings
from ketadesk.services.reminders.outbox import OutboxRun, run_outbox
from ketadesk.ui.common.background import run_service

_MS_PER_MINUTE = 60_000


class ReminderLoop(QObject):
    """Runs the outbox on a timer.

    Signals:
        ran(object): the ``OutboxRun`` of a pass, once it is done.
    """

    ran = Signal(object)

    def __init__(
        self, db: Database, now: Callable[[], dt.datetime], parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self._db = db
        self._now = now
        self._running = False
        self.last_run: OutboxRun | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.run_now)

    def start(self, minutes: int | None = None) -> None:
        """Run the next pass in ``minutes`` (the configured default before the first read)."""
        if minutes is None:
            minutes = ReminderSettings().send_every_minutes
        self._timer.start(minutes * _MS_PER_MINUTE)

    def stop(self) -> None:
        self._timer.stop()

    def run_now(self) -> None:
        if self._running:
            return
        db, now = self._db, self._now

        def work() -> tuple[OutboxRun, int]:
            return run_outbox(db, now=now()), read_reminder_settings(db).send_every_minutes

        self._running = True
        run_service(
            None,
            work,
            self._on_run_done,
            failed=self._on_run_failed,
            busy="Sending reminders…",
            writes=True,
        )

    def _on_run_done(self, outcome: tuple[OutboxRun, int]) -> None:
        self._running = False
        self.last_run, minutes = outcome
        self.ran.emit(self.last_run)
        self.start(minutes)

    def _on_run_failed(self, _err: ServiceError) -> None:
        self._running = False
        self.start()
