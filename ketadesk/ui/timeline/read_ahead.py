"""Days (or weeks) read ahead on a worker, so that the next key press only paints.

After a view shows a day, the days either side of it are read on a worker thread and kept here;
"next day" then finds its day in memory and shows it at once, and reads the following one
ahead.  What is kept is what the database said when it was read: whoever learns that the
clinic changed (the change watcher, this workstation's own writes) calls ``clear``, and an
answer read before that call is dropped when it arrives, however late.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from typing import Any, Generic, TypeVar

from ketadesk.ui.common.background import BackgroundCall

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

#: How many answers are kept: the day shown, the days either side, and a few visited before.
DEFAULT_KEEP = 12

# Reads ahead in flight, kept alive until they report (parentless, so that a view closed
# meanwhile leaves no worker signalling a deleted object).
_RUNNING: set[BackgroundCall[Any]] = set()


class ReadAhead(Generic[K, V]):
    """Answers of ``load(key)`` kept by key, and more read ahead on a worker.

    ``load`` runs on worker threads only (it reads the database).  A read ahead that fails is
    forgotten quietly: the view reads the key the usual way when it is asked for, and says
    then what went wrong.
    """

    def __init__(
        self,
        load: Callable[[K], V],
        *,
        keep: int = DEFAULT_KEEP,
        landed: Callable[[K, V], None] | None = None,
    ) -> None:
        """``landed(key, value)`` is called on the GUI thread as each read ahead lands (to
        prepare what showing it needs, say)."""
        self._load = load
        self._landed = landed
        self._keep = keep
        self._held: OrderedDict[K, V] = OrderedDict()
        self._reading: set[K] = set()
        self._waiting: dict[K, Callable[[V | None], None]] = {}
        self._generation = 0

    def get(self, key: K) -> V | None:
        """The answer kept for ``key`` (None: not read, or read before the last ``clear``)."""
        found = self._held.get(key)
        if found is not None:
            self._held.move_to_end(key)
        return found

    def generation(self) -> int:
        """A number that changes with every ``clear``: pass it to ``put`` with an answer
        read after taking it."""
        return self._generation

    def put(self, key: K, value: V, generation: int) -> None:
        """Keep ``value`` for ``key``, unless it was read before the last ``clear``."""
        if generation != self._generation:
            return
        self._held[key] = value
        self._held.move_to_end(key)
        while len(self._held) > self._keep:
            self._held.popitem(last=False)

    def clear(self) -> None:
        """Forget every answer, and the answers of reads still running: the clinic changed."""
        self._generation += 1
        self._held.clear()
        self._reading.clear()
        waiting, self._waiting = self._waiting, {}
        for then in waiting.values():  # their answers are too old now: read afresh
            then(None)

    def set_loader(self, load: Callable[[K], V]) -> None:
        """Read with ``load`` from now on (another database, another user): forgets all."""
        self._load = load
        self.clear()

    def read_ahead(self, keys: Iterable[K]) -> None:
        """Read each of ``keys`` not kept nor being read, on a worker, and keep the answers."""
        for key in keys:
            if key in self._held or key in self._reading:
                continue
            self._reading.add(key)
            self._start(key)

    def is_reading(self, key: K | None = None) -> bool:
        """Whether ``key`` (or anything, by default) is being read ahead."""
        return key in self._reading if key is not None else bool(self._reading)

    def when_read(self, key: K, then: Callable[[V | None], None]) -> None:
        """Call ``then`` with the answer of the read ahead of ``key`` in flight, when it lands
        (None: it failed, or it was read before a ``clear``).  Replaces the previous ``then``
        of the same key; ``cancel_waits`` forgets them all."""
        self._waiting[key] = then

    def is_waited_for(self) -> bool:
        """Whether some ``when_read`` has not been answered yet."""
        return bool(self._waiting)

    def cancel_waits(self) -> None:
        self._waiting.clear()

    def _start(self, key: K) -> None:
        load, generation = self._load, self._generation

        def work() -> V | None:
            try:
                return load(key)
            except Exception:  # read again, and reported, when the key is asked for
                return None

        call: BackgroundCall[V | None] = BackgroundCall(work)
        _RUNNING.add(call)

        def landed(value: V | None) -> None:
            _RUNNING.discard(call)
            call.deleteLater()
            if generation != self._generation:
                return
            self._reading.discard(key)
            if value is not None:
                self.put(key, value, generation)
            then = self._waiting.pop(key, None)
            if value is not None and then is None and self._landed is not None:
                self._landed(key, value)
            if then is not None:
                then(value)

        call.succeeded.connect(landed)
        call.start()
