"""The menu paths README.md and docs/ARCHITECTURE.md tell users to follow are the window's real
menus: a front-desk trial followed "Go ▸ Waitlist" to a menu that never held it (the views are
under View)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ketadesk.ui.shell.main_window import ACTIONS, VIEWS

ROOT = Path(__file__).resolve().parents[2]
TOP_MENUS = ("File", "Edit", "View", "Go", "Patient", "Clinic", "Help")
# "Clinic ▸ Settings…", "(View ▸ Waitlist, Ctrl+8", "**Go ▸ Fees…**": the top menu and its entry.
PATH = re.compile(rf"\b({'|'.join(TOP_MENUS)}) ▸ ([A-Z][\w-]*(?: [a-z][\w-]*)*…?)")


def _entries() -> dict[str, set[str]]:
    entries: dict[str, set[str]] = {menu: set() for menu in TOP_MENUS}
    for spec in ACTIONS:
        if spec.menu:
            entries[spec.menu].add(spec.text.replace("&", ""))
    entries["View"] |= {view.text for view in VIEWS}
    entries["File"].add("Print")  # the Print submenu (ui/printing/print_dialogs.DocumentMenu)
    return entries


@pytest.mark.parametrize("doc", ["README.md", "docs/ARCHITECTURE.md"])
def test_every_menu_path_in_the_docs_is_a_real_entry(doc: str) -> None:
    entries = _entries()
    text = (ROOT / doc).read_text(encoding="utf-8")
    wrong = []
    for menu, item in PATH.findall(text):
        # The longest real entry the words start with ("Show cancelled hides it" is "Show
        # cancelled" and a sentence going on).
        words = item.split(" ")
        if not any(" ".join(words[:n]) in entries[menu] for n in range(len(words), 0, -1)):
            wrong.append(f"{menu} ▸ {item}")
    assert not wrong, f"{doc} names menu entries the window does not have: {wrong}"
