"""Counts in words as the desk reads them: "no sessions", "1 session", "2 sessions", never
"0 session(s)"."""

from __future__ import annotations

__all__ = ["counted"]


def counted(n: int, word: str, plural: str | None = None, *, zero: str = "no") -> str:
    """``n`` ``word``s in words: "no sessions", "1 session", "3 patients" (``plural`` for a word
    that does not take an "s", ``zero`` for what 0 reads as)."""
    many = plural if plural is not None else f"{word}s"
    if n == 0:
        return f"{zero} {many}"
    return f"{n} {word if n == 1 else many}"
