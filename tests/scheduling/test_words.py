"""Counts in words, and no "(s)" left in what the desk reads."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from ketadesk.scheduling.words import counted

PACKAGE = Path(__file__).resolve().parents[2] / "ketadesk"


def test_counts_read_as_words() -> None:
    assert counted(0, "session") == "no sessions"
    assert counted(1, "session") == "1 session"
    assert counted(2, "session") == "2 sessions"
    assert counted(1, "patient") == "1 patient"
    assert counted(3, "child", "children") == "3 children"


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def test_no_message_says_session_s() -> None:
    pattern = re.compile(r"[a-z]\(s\)")
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skip = _docstrings(tree)
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and id(node) not in skip
                and pattern.search(node.value)
            ):
                offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno}: {node.value!r}")
    assert offenders == []
