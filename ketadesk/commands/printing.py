"""``ketadesk print``: not built yet."""

from __future__ import annotations

from typing import Any


def register(sub: Any) -> None:
    """Placeholder until the command is built; registers nothing."""
