"""``ketadesk backup`` and ``ketadesk restore``: not built yet."""

from __future__ import annotations

from typing import Any


def register(sub: Any) -> None:
    """Placeholder until the commands are built; registers nothing."""
