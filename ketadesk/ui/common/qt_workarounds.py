"""Workarounds for defects of the Qt bindings that KetaDesk cannot wait for upstream to fix.

PySide6-Essentials 6.12.0 (the stable-ABI wheel) returns ``None`` from every C++ ``void``
method without adding a reference to it.  From Python 3.12 on ``None`` is immortal and nothing
happens; on Python 3.11 each call takes one reference away from ``None``, and after some tens of
thousands of calls (a few dozen repaints of the day view) the interpreter aborts with "Fatal
Python error: none_dealloc: deallocating None".  PySide6 6.11.3 does not have the defect; the
real fix is to install a version without it.  Until then, ``None`` is given a reference count
no session can use up, which is what Python 3.12 does for it anyway.

PySide6 (6.x) looks at every module imported after it for its ``__feature__`` switches by
reading the module's whole source with ``inspect.getsource``, which keeps every line of it in
``linecache`` for the rest of the process.  Importing SQLAlchemy, the ORM models and argon2
after PySide6 read and kept about 500 files (9 million characters): some 20 MB of memory and a
second of CPU time on a loaded 2-core machine.  ``read_sources_lightly`` gives PySide6 the same
answer (does the file mention "PySide6"?) from one plain read of the file, kept nowhere.
"""

from __future__ import annotations

import sys

_checked = False


def void_calls_take_references_from_none() -> bool:
    """Whether the installed PySide6 has the defect (a quick check with a throwaway QPoint)."""
    from PySide6.QtCore import QPoint

    point = QPoint()
    before = sys.getrefcount(None)
    for _ in range(16):
        point.setX(1)
    return sys.getrefcount(None) < before


def keep_none_alive() -> None:
    """Protect ``None`` from the defect when it is present (checked once per process)."""
    global _checked
    if _checked:
        return
    _checked = True
    if sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return  # None is immortal
    if hasattr(sys, "gettotalrefcount"):
        return  # a debug build lays objects out differently; leave it alone
    if not void_calls_take_references_from_none():
        return
    import ctypes

    # ob_refcnt is the first field of every object in a release build of CPython 3.11.
    refcount = ctypes.c_ssize_t.from_address(id(None))
    refcount.value += 1 << 40


_light = False


def read_sources_lightly() -> None:
    """Have PySide6's per-import ``__feature__`` check read each module's file once without
    keeping it (see the module's docstring); once per process, and only where PySide6 has the
    check this replaces."""
    global _light
    if _light:
        return
    _light = True
    import PySide6.QtCore  # noqa: F401  (installs PySide6's import hook and its feature module)

    feature = sys.modules.get("PySide6.support.feature")
    original = getattr(feature, "_mod_uses_pyside", None)
    if feature is None or original is None:
        return

    def mentions_pyside(module: object) -> bool:
        path = getattr(module, "__file__", None)
        if not isinstance(path, str) or not path.endswith(".py"):
            return bool(original(module))  # no plain source file: PySide6's own answer
        try:
            with open(path, "rb") as file:
                return b"PySide6" in file.read()
        except OSError:
            return False

    setattr(feature, "_mod_uses_pyside", mentions_pyside)  # noqa: B010  (a private hook)
