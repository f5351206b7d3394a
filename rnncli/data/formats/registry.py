"""Every data-file format by name, and the questions the rest of rnncli asks about them."""

from __future__ import annotations

from pathlib import Path

from rnncli.data.formats import csv, jsonl, npy, npz, parquet, txt
from rnncli.data.formats.base import DataFormat

# In the order messages list them.
FORMATS: dict[str, DataFormat] = {f.name: f for f in (
    npz.FORMAT, npy.FORMAT, csv.FORMAT, jsonl.FORMAT, txt.FORMAT, parquet.FORMAT,
)}
FILE_FORMATS = tuple(FORMATS)
WRITE_FORMATS = tuple(name for name, f in FORMATS.items() if f.write is not None)


def get(name: str) -> DataFormat:
    return FORMATS[name]


def from_suffix(path: str | Path) -> str | None:
    """The format a file's suffix names (case-insensitive), or None."""
    suffix = Path(str(path)).suffix.lower().lstrip(".")
    return next((f.name for f in FORMATS.values() if suffix in f.suffixes), None)


def suffixes() -> list[str]:
    return [s for f in FORMATS.values() for s in f.suffixes]
