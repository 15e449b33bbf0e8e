"""The architecture holds: layers import only downwards, features live in their own folders, and
no two modules import each other, however indirectly.

The import graph comes from grimp, which reads every import statement of every module, including
the ones inside functions and under ``TYPE_CHECKING``: an import cycle hidden in a function is
still a cycle, and it is the kind that bites at run time.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "ketadesk"

# What each layer may not import (DESIGN.md, "Layers").
FORBIDDEN = {
    "ketadesk.scheduling": (
        "PySide6",
        "sqlalchemy",
        "alembic",
        "ketadesk.store",
        "ketadesk.services",
        "ketadesk.ui",
        "ketadesk.commands",
    ),
    "ketadesk.store": ("PySide6", "ketadesk.ui", "ketadesk.services", "ketadesk.commands"),
    "ketadesk.services": ("PySide6", "ketadesk.ui", "ketadesk.commands"),
    "ketadesk.ui": ("sqlalchemy", "alembic", "ketadesk.store"),
}

# The feature folders of the two layers that have them (docs/ARCHITECTURE.md draws them).
FEATURES = {
    "services": {
        "common",
        "access",
        "booking",
        "schedule",
        "patients",
        "followups",
        "monitoring",
        "printing",
        "clinic",
        "demo",
        "settings",
        "waitlist",
        "reminders",
        "confirmations",
        "fees",
        "rebooking",
    },
    "ui": {
        "common",
        "shell",
        "timeline",
        "booking",
        "patients",
        "followups",
        "monitoring",
        "printing",
        "access",
        "settings",
        "waitlist",
        "confirmations",
        "rebooking",
    },
}


@cache
def _graph() -> grimp.ImportGraph:
    return grimp.build_graph("ketadesk", include_external_packages=True, cache_dir=None)


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _lines(importer: str, imported: str) -> str:
    details = _graph().get_import_details(importer=importer, imported=imported)
    return ", ".join(f"line {d['line_number']}" for d in details) or "?"


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_imports_only_point_down(layer: str) -> None:
    graph = _graph()
    bad = []
    for module in sorted(graph.find_children(layer) | graph.find_descendants(layer) | {layer}):
        for imported in sorted(graph.find_modules_directly_imported_by(module)):
            if any(_within(imported, f) for f in FORBIDDEN[layer]):
                bad.append(f"{module} imports {imported} ({_lines(module, imported)})")
    assert bad == [], "\n".join(bad)


def _cycles(edges: dict[str, set[str]]) -> Iterator[list[str]]:
    """The strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    counter = 0
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    yield sorted(component)


def test_no_two_modules_import_each_other() -> None:
    graph = _graph()
    modules = {m for m in graph.modules if _within(m, "ketadesk")}
    edges = {
        m: {i for i in graph.find_modules_directly_imported_by(m) if i in modules} for m in modules
    }
    found = []
    for component in _cycles(edges):
        links = [
            f"  {a} -> {b} ({_lines(a, b)})"
            for a in component
            for b in sorted(edges[a])
            if b in component
        ]
        found.append("cycle: " + ", ".join(component) + "\n" + "\n".join(links))
    assert found == [], "\n".join(found)


def test_the_cycle_finder_finds_a_cycle() -> None:
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert list(_cycles(edges)) == [["a", "b", "c"]]


@pytest.mark.parametrize("layer", sorted(FEATURES))
def test_every_module_lives_in_a_feature_folder(layer: str) -> None:
    folder = PACKAGE / layer
    loose = sorted(p.name for p in folder.glob("*.py") if p.name != "__init__.py")
    assert loose == [], f"modules outside a feature folder of {layer}/: {loose}"
    found = {p.parent.name for p in folder.glob("*/__init__.py")}
    assert found == FEATURES[layer]


@pytest.mark.parametrize("layer", sorted(FEATURES))
def test_feature_packages_import_nothing(layer: str) -> None:
    """A feature's ``__init__`` holds its docstring only: importing one module of a feature
    never drags in the others (nor SQLAlchemy onto the first-paint path), and no cycle can run
    through a package."""
    graph = _graph()
    bad = {
        f"ketadesk.{layer}.{feature}": sorted(
            graph.find_modules_directly_imported_by(f"ketadesk.{layer}.{feature}")
        )
        for feature in FEATURES[layer]
    }
    assert {k: v for k, v in bad.items() if v} == {}


def test_the_architecture_page_names_every_feature_folder() -> None:
    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    for layer, features in FEATURES.items():
        named = set(re.findall(rf"`{layer}/([a-z_]+)/`", text))
        assert features <= named, f"docs/ARCHITECTURE.md does not name {features - named}"


def test_every_layer_exists() -> None:
    for layer in FORBIDDEN:
        assert (PACKAGE / layer.split(".")[1] / "__init__.py").exists(), layer
