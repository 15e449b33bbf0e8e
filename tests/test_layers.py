"""The layers of DESIGN.md hold: imports only point down.

scheduling is pure (no Qt, no SQLAlchemy, no other KetaDesk layer); store and services know no Qt
and no ui; ui holds no SQL (it never imports SQLAlchemy or the store's models).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "ketadesk"

FORBIDDEN = {
    "scheduling": (
        "PySide6",
        "sqlalchemy",
        "alembic",
        "ketadesk.store",
        "ketadesk.services",
        "ketadesk.ui",
        "ketadesk.commands",
    ),
    "store": ("PySide6", "ketadesk.ui", "ketadesk.services", "ketadesk.commands"),
    "services": ("PySide6", "ketadesk.ui", "ketadesk.commands"),
    "ui": ("sqlalchemy", "alembic", "ketadesk.store"),
}


def _imports(path: Path) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_imports_only_point_down(layer: str) -> None:
    bad = []
    for path in sorted((PACKAGE / layer).rglob("*.py")):
        for lineno, name in _imports(path):
            if any(name == f or name.startswith(f + ".") for f in FORBIDDEN[layer]):
                bad.append(f"{path.relative_to(PACKAGE.parent)}:{lineno} imports {name}")
    assert bad == [], "\n".join(bad)


def test_every_layer_exists() -> None:
    for layer in FORBIDDEN:
        assert (PACKAGE / layer / "__init__.py").exists(), layer
