"""The clinic's address where only one line fits (a calendar event's location): its lines
joined with commas, so "Suite 200" and "Brookline" never run together."""

from __future__ import annotations

__all__ = ["one_line_address"]


def one_line_address(text: str) -> str:
    """ "118 Elm Street, Suite 200\\nBrookline, MA 02445" as "118 Elm Street, Suite 200,
    Brookline, MA 02445" (blank lines and a line's own trailing comma dropped)."""
    lines = [line.strip().rstrip(",").strip() for line in text.splitlines()]
    return ", ".join(line for line in lines if line)
