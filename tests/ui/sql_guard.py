"""A guard for the UI tests: SQL that a widget runs on the GUI thread fails the test.

The window must never wait on the database (``ketadesk.ui.common.background.run_service``).
``GuiThreadSqlGuard`` listens to every SQLAlchemy engine (``before_cursor_execute``) and records
a statement run on the main thread while a frame of ``ketadesk/ui`` is on the stack, nearer
to the statement than any frame of the tests: a widget's own call, not the test's.  A test body
(or a callback the test connected) that sets up or checks data through the services is not
recorded; one that must call a widget's synchronous
helper on purpose does it inside ``allow_gui_thread_sql()``.

The one documented exception is the first-paint read at start-up (``ketadesk.commands.run``),
made with Python's own ``sqlite3`` and never seen here.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import ketadesk

UI_DIR = str(Path(ketadesk.__file__).parent / "ui")
TESTS_DIR = str(Path(__file__).parent.parent)

#: Widget code still known to read or write on the GUI thread, as "module:function" of the
#: innermost ui frame.  Each one would be a debt; there is none left.
KNOWN_OFFENDERS: frozenset[str] = frozenset()


@dataclass(frozen=True)
class GuiThreadSql:
    """One statement a widget ran on the GUI thread, where, and the Python stack."""

    site: str
    statement: str
    stack: str


def _ui_site(frame: FrameType | None) -> str:
    """The innermost ketadesk/ui frame as "ketadesk.ui.x.y:function", or "" when there is none
    or a test's own code (a callback the test connected) is nearer the statement."""
    while frame is not None:
        filename = frame.f_code.co_filename
        if filename.startswith(TESTS_DIR):
            return ""
        if filename.startswith(UI_DIR):
            module = frame.f_globals.get("__name__", filename)
            return f"{module}:{frame.f_code.co_qualname}"
        frame = frame.f_back
    return ""


class GuiThreadSqlGuard:
    """Records the SQL widgets run on the GUI thread while armed (see the module docstring)."""

    def __init__(self) -> None:
        self.armed = False
        self.paused = 0
        self.found: list[GuiThreadSql] = []

    def listen(self) -> None:
        from sqlalchemy import event
        from sqlalchemy.engine import Engine

        if not event.contains(Engine, "before_cursor_execute", self._on_execute):
            event.listen(Engine, "before_cursor_execute", self._on_execute)

    def stop_listening(self) -> None:
        from sqlalchemy import event
        from sqlalchemy.engine import Engine

        if event.contains(Engine, "before_cursor_execute", self._on_execute):
            event.remove(Engine, "before_cursor_execute", self._on_execute)

    def _on_execute(self, *args: Any, **kwargs: Any) -> None:
        if not self.armed or self.paused:
            return
        if threading.current_thread() is not threading.main_thread():
            return
        frame = sys._getframe(1)
        site = _ui_site(frame)
        if not site:
            return
        statement = str(args[2]) if len(args) > 2 else "?"
        stack = "".join(traceback.format_stack(frame))
        self.found.append(GuiThreadSql(site, statement, stack))

    @contextlib.contextmanager
    def allowed(self) -> Iterator[None]:
        self.paused += 1
        try:
            yield
        finally:
            self.paused -= 1

    def offences(self) -> list[GuiThreadSql]:
        return [f for f in self.found if f.site not in KNOWN_OFFENDERS]

    def report(self) -> str:
        lines = []
        seen: set[str] = set()
        for offence in self.offences():
            if offence.site in seen:
                continue
            seen.add(offence.site)
            lines.append(
                f"SQL on the GUI thread from {offence.site}:\n"
                f"  {offence.statement.splitlines()[0] if offence.statement else ''}\n"
                f"{offence.stack}"
            )
        return "\n".join(lines)


GUARD = GuiThreadSqlGuard()


@contextlib.contextmanager
def allow_gui_thread_sql() -> Iterator[None]:
    """Inside, a widget's SQL on the GUI thread is not recorded (a test's deliberate call)."""
    with GUARD.allowed():
        yield
