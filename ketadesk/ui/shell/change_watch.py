"""Noticing what other workstations wrote, and noticing when the clinic server is gone.

Every write transaction bumps one counter (``store/changes.py``).  ``ChangeWatcher`` reads it
every couple of seconds (one single-row read by primary key, on a worker thread so a server that
does not answer never freezes the window) and says ``changed`` when it moved; the window then
reloads what it shows, and the views keep their scroll position and selection
(``DayView.set_schedule``).

On PostgreSQL a second worker thread LISTENs for the NOTIFY every write sends
(``services/clinic/listen.py``): the counter is read at once, so a change made at another
workstation
shows within a fraction of a second; the poll stays as the fallback.

When a read fails (server down, network gone, login refused) the watcher says
``connection_lost`` once, tries again after 1, 2, 4 … up to 30 seconds (``retrying`` says when),
and says ``connection_restored`` and then ``changed`` when a read works again, so every view
reloads what it may have missed.
"""

from __future__ import annotations

import functools
import threading
import time
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer, Signal

from ketadesk.services.common.context import ServiceError
from ketadesk.ui.common import gui_thread

if TYPE_CHECKING:
    from ketadesk.services.clinic.listen import ChangeListener
    from ketadesk.ui.common.desk import Desk

#: How often the counter is read: "views refresh within a few seconds" (DESIGN.md).
DEFAULT_INTERVAL_MS = 2000
#: The first retry after a failed read; each further one waits twice as long, up to the max.
RETRY_FIRST_MS = 1000
RETRY_MAX_MS = 30_000
#: How long the listening thread waits for a notification before looking whether to stop.
LISTEN_SLICE_S = 0.25


def retry_delays(first_ms: int = RETRY_FIRST_MS, max_ms: int = RETRY_MAX_MS) -> list[int]:
    """The waits between retries, in order, until they reach ``max_ms`` (which then repeats)."""
    delays = [first_ms]
    while delays[-1] < max_ms:
        delays.append(min(delays[-1] * 2, max_ms))
    return delays


class _Unexpected:
    """An exception other than ServiceError raised by a read: a bug, to be raised again."""

    def __init__(self, error: Exception) -> None:
        self.error = error


def _reason(err: ServiceError) -> str:
    return str(getattr(err, "reason", "") or err)


class ChangeWatcher(QObject):
    """Watches the change counter of the desk's clinic while running.

    Signals:
        changed(): the counter moved since the last look (something was written, here or at
            another workstation), or the connection came back and views should reload.
        counting(object): the first value is noted (it is given), and changes are counted
            from it: whatever was read at an older value (a day read before the user signed
            in) may miss a change made meanwhile, and should be read again.
        connection_lost(str): reads of the clinic database started failing; the reason.
        retrying(int): the next attempt is in this many milliseconds (while lost).
        connection_restored(): a read works again after connection_lost.

    Attributes:
        desk: the open clinic.
    """

    changed = Signal()
    counting = Signal(object)  # an int; object: a counter may outgrow Qt's 32-bit int
    connection_lost = Signal(str)
    retrying = Signal(int)
    connection_restored = Signal()

    def __init__(
        self,
        desk: Desk,
        interval_ms: int = DEFAULT_INTERVAL_MS,
        parent: QObject | None = None,
        *,
        start: bool = True,
        listen: bool = True,
        retry_first_ms: int = RETRY_FIRST_MS,
        retry_max_ms: int = RETRY_MAX_MS,
    ) -> None:
        super().__init__(parent)
        self.desk = desk
        self._interval_ms = interval_ms
        self._retry_first_ms = retry_first_ms
        self._retry_max_ms = retry_max_ms
        self._seen: int | None = None
        self._acknowledging = False
        self._lost_reason: str | None = None
        self._retry_ms = 0
        self._next_try = 0.0
        self._running = False
        self._reader_thread: threading.Thread | None = None
        self._stop_reading = threading.Event()
        self._reads = threading.Event()
        self._listen = listen
        self._listener_thread: threading.Thread | None = None
        self._stop_listening = threading.Event()
        self._listening = threading.Event()
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._on_timer_timeout)
        gui_thread.prepare()  # the threads' outcomes reach this object through its relay
        if start:
            self.start()

    # -- running ----------------------------------------------------------------------------

    def start(self) -> None:
        """Note the counter as it is now (read on the reading thread: the first value read is
        the one changes are counted from), then look again every interval (and on NOTIFY)."""
        self._running = True
        self._seen = None
        self._poll()

    def stop(self) -> None:
        """Stop looking; waits for a read in flight and the listening thread to end."""
        self._running = False
        self._timer.stop()
        self._stop_listening.set()
        self._stop_reading.set()
        self._reads.set()
        for thread in (self._listener_thread, self._reader_thread):
            if thread is not None:  # a read or connect in flight ends within its timeout
                thread.join(timeout=LISTEN_SLICE_S * 4 + 6)
        self._listener_thread = self._reader_thread = None

    def is_running(self) -> bool:
        return self._running

    def has_noted_the_counter(self) -> bool:
        """True once the first value is read: changes are counted from it (a write made
        before then is part of what the watcher starts from, never a ``changed``)."""
        return self._seen is not None

    def interval_ms(self) -> int:
        return self._interval_ms

    def is_listening(self) -> bool:
        """True while a LISTEN connection is open (PostgreSQL only)."""
        return self._listening.is_set()

    # -- the connection ---------------------------------------------------------------------

    def is_lost(self) -> bool:
        return self._lost_reason is not None

    def lost_reason(self) -> str:
        """Why reads fail ("" while they work)."""
        return self._lost_reason or ""

    def seconds_to_retry(self) -> int:
        """Whole seconds until the next attempt while lost (0 when not lost)."""
        if self._lost_reason is None:
            return 0
        return max(0, round(self._next_try - time.monotonic()))

    def retry_now(self) -> None:
        """Try to read at once (the banner's "Retry now")."""
        self._poll()

    # -- reading ----------------------------------------------------------------------------

    def acknowledge(self) -> None:
        """Take the counter as seen (after this workstation's own write and reload): the next
        value read, on the reading thread, is noted without a ``changed``."""
        self._acknowledging = True
        self._poll()

    def check_now(self) -> bool:
        """Look at once, on this thread; True (and ``changed``) when the counter moved.

        For tests and tools: the window's own looks run on the reading thread."""
        try:
            value = self._read()
        except ServiceError as err:
            self._on_failure(err)
            return False
        return self._on_value(value)

    def _read(self) -> int:
        from ketadesk.services.clinic.listen import read_change_counter

        return read_change_counter(self.desk.db)

    def _poll(self) -> None:
        """Ask the reading thread for a read (requests while one is running make one more)."""
        self._start_reader()
        self._reads.set()

    def _start_reader(self) -> None:
        if self._reader_thread is not None or not self._running:
            return
        self._stop_reading.clear()
        thread = threading.Thread(target=self._read_loop, name="ketadesk-watch", daemon=True)
        self._reader_thread = thread
        thread.start()

    def _read_loop(self) -> None:
        """On the reading thread: one read per request, its outcome sent to the GUI thread."""
        stop, reads = self._stop_reading, self._reads
        while not stop.is_set():
            asked = reads.wait(timeout=1.0)
            if not gui_thread.alive(self):  # deleted with its window, never stopped
                break
            if not asked:
                continue
            reads.clear()
            if stop.is_set():
                break
            outcome: object
            try:
                outcome = self._read()
            except ServiceError as err:
                outcome = err
            except Exception as err:  # a bug, not a lost server: shown on the GUI thread
                outcome = _Unexpected(err)
            if stop.is_set():
                break
            gui_thread.call_on_gui_thread(functools.partial(self._on_read_done, outcome))

    def _on_read_done(self, outcome: object) -> None:
        if not gui_thread.alive(self) or not self._running:
            return
        if isinstance(outcome, _Unexpected):
            raise outcome.error
        if isinstance(outcome, ServiceError):
            self._on_failure(outcome)
        else:
            assert isinstance(outcome, int)
            self._on_value(outcome)

    def _on_value(self, value: int) -> bool:
        was_lost = self._lost_reason is not None
        first = self._seen is None
        moved = not first and value != self._seen and not self._acknowledging
        self._acknowledging = False
        self._seen = value
        self._lost_reason = None
        self._retry_ms = 0
        if self._running:
            self._schedule(self._interval_ms)
            self._start_listening()
        if was_lost:
            self.connection_restored.emit()
            self.changed.emit()  # whatever was written meanwhile: views reload
            return True
        if first:
            self.counting.emit(value)
        if moved:
            self.changed.emit()
        return moved

    def _on_failure(self, err: ServiceError) -> None:
        reason = _reason(err)
        first = self._lost_reason is None
        self._lost_reason = reason
        if first:
            self._retry_ms = self._retry_first_ms
        else:
            self._retry_ms = min(self._retry_ms * 2, self._retry_max_ms)
        if self._running:
            self._schedule(self._retry_ms)
        if first:
            self.connection_lost.emit(reason)
        if self._running:
            self.retrying.emit(self._retry_ms)

    def _schedule(self, delay_ms: int) -> None:
        self._next_try = time.monotonic() + delay_ms / 1000
        self._timer.start(delay_ms)

    def _on_timer_timeout(self) -> None:
        if self._running:
            self._poll()

    def _on_notified(self) -> None:
        # While lost, the listener getting through again is worth an early retry.
        if gui_thread.alive(self) and self._running:
            self._poll()

    # -- listening (PostgreSQL) -------------------------------------------------------------

    def _start_listening(self) -> None:
        from ketadesk.services.clinic.listen import ChangeListener, can_listen

        if not self._listen or not self._running or self._listener_thread is not None:
            return
        if not can_listen(self.desk.db):
            return
        self._stop_listening.clear()
        listener = ChangeListener(self.desk.db)
        thread = threading.Thread(
            target=self._listen_loop, args=(listener,), name="ketadesk-listen", daemon=True
        )
        self._listener_thread = thread
        thread.start()

    def _listen_loop(self, listener: ChangeListener) -> None:
        """On the listening thread: wake the watcher on every NOTIFY; after a broken
        connection wake it too (its read notices the loss) and connect again, in step with
        the watcher's retries."""
        stop = self._stop_listening
        delays = retry_delays(self._retry_first_ms, self._retry_max_ms)
        failures = 0
        try:
            while not stop.is_set():
                if not listener.is_connected():
                    try:
                        listener.connect()
                    except ServiceError:
                        stop.wait(delays[min(failures, len(delays) - 1)] / 1000)
                        failures += 1
                        continue
                    failures = 0
                    self._listening.set()
                    self._wake()  # anything written while not listening
                try:
                    if listener.wait(LISTEN_SLICE_S):
                        self._wake()
                    elif not gui_thread.alive(self):  # deleted with its window, never stopped
                        break
                except ServiceError:
                    self._listening.clear()
                    self._wake()
        finally:
            self._listening.clear()
            listener.close()

    def _wake(self) -> None:
        if self._stop_listening.is_set():
            return
        if not gui_thread.alive(self):  # the watcher is gone: so is the reason to listen
            self._stop_listening.set()
            return
        gui_thread.call_on_gui_thread(self._on_notified)
