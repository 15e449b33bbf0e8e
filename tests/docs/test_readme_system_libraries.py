"""The README's list of system libraries for a real X display is the one CI installs (issue 15:
it lacked libxcb-icccm4 and libxcb-keysyms1, without which Qt's xcb plugin will not start)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: The X libraries by the name Debian gives their package.
X_LIBRARY = re.compile(r"\b(libxcb-[a-z-]+\d|libxkbcommon-x11-0)\b")


def _x_libraries(text: str) -> set[str]:
    return set(X_LIBRARY.findall(text))


def test_the_readme_names_every_x_library_ci_installs() -> None:
    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    needed = _x_libraries(ci)
    assert {"libxcb-icccm4", "libxcb-keysyms1", "libxcb-cursor0"} <= needed
    assert needed - _x_libraries(readme) == set()
