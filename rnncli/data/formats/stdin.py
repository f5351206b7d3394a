"""Source '-': standard input, for every format (its name in messages, its bytes, reading twice)."""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import IO

from rnncli.errors import DataError

STDIN_NAME = "<stdin>"


def is_stdin(source: str | Path | None) -> bool:
    return source is not None and str(source) == "-"


def display_name(source: str | Path) -> str:
    """How messages name a source: the path as the user wrote it, or <stdin>."""
    return STDIN_NAME if is_stdin(source) else str(source)


def stdin_bytes(stdin: IO | None) -> bytes:
    """All of standard input (or `stdin`) as bytes; empty input is a DataError."""
    stream = stdin if stdin is not None else sys.stdin
    raw = getattr(stream, "buffer", stream)
    data = raw.read()
    if isinstance(data, str):
        data = data.encode("utf-8")
    if not data:
        raise DataError(f"{STDIN_NAME}: standard input is empty")
    return data


def rereadable(source: str | Path, stdin: IO | None) -> IO | None:
    """For source '-', standard input read once into memory, so it can be looked at twice."""
    if not is_stdin(source):
        return stdin
    stream = stdin if stdin is not None else sys.stdin
    raw = getattr(stream, "buffer", stream).read()
    return io.BytesIO(raw.encode("utf-8") if isinstance(raw, str) else raw)
