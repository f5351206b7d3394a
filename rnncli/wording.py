"""Small helpers for the words of messages, shared by every layer (nothing here prints)."""

from __future__ import annotations

__all__ = ["plural"]


def plural(n: int, word: str, many: str | None = None) -> str:
    """`1 epoch`, `2 epochs`; `many` where adding "s" is wrong (`plural(3, "class", "classes")`)."""
    return f"{n} {word if n == 1 else many or word + 's'}"
