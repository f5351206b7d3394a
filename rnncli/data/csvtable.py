"""CSV files as rows of text cells, and the role of each column: index, input, target, ignored.

A series CSV has rows = time steps. Its columns are:
- the index: `data.index_column` (a header name or 0-based position), or else a first column
  named like a time axis (date, time, datetime, timestamp, year, month, day, period, index,
  row, ds) or holding dates/times; it labels the rows (predictions carry it) and is never a
  feature;
- inputs: `data.input_columns`, default every numeric column but the index;
- targets: `data.target_columns`, default the inputs (forecasting);
- anything else that is not numeric (a text label, a city name) is ignored, with a warning.
A column counts as numeric when its first data cell is a number; a later cell that is not is an
error naming its line and column.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from rnncli.errors import DataError
from rnncli.notices import warn

INDEX_NAMES = frozenset({"date", "time", "datetime", "timestamp", "year", "month", "day",
                         "period", "index", "row", "ds"})


def is_number(cell: str) -> bool:
    """True when `cell` parses as a float."""
    try:
        float(cell)
    except ValueError:
        return False
    return True


def looks_like_time(cell: str) -> bool:
    """An ISO-like date or time ("2024-05-01", "2024-05-01 13:00", "1999-12"), not a number."""
    cell = cell.strip()
    if not cell or is_number(cell) or not any(c.isdigit() for c in cell):
        return False
    try:
        np.datetime64(cell.replace(" ", "T", 1))
    except ValueError:
        return False
    return True


def cell_rows(lines, name: str, delimiter: str = ",") -> Iterator[tuple[int, list[str]]]:
    """(line number, stripped cells) of every non-blank CSV row, lazily."""
    reader = csv.reader(lines, delimiter=delimiter)
    try:
        for row in reader:
            if any(c.strip() for c in row):
                yield reader.line_num, [c.strip() for c in row]
    except csv.Error as exc:
        raise DataError(f"{name}: line {reader.line_num}: malformed CSV: {exc}") from None


def has_header(first: list[str], second: list[str] | None, header: bool | None) -> bool:
    """Whether the first row names the columns (data.header, else: it holds a non-number where
    the next row holds a number, or only non-numbers)."""
    if header is not None:
        return header
    if all(not is_number(c) for c in first):
        return True
    if second is None:
        return not all(is_number(c) for c in first)
    return any(not is_number(a) and is_number(b) for a, b in zip(first, second, strict=False))


@dataclass
class Columns:
    """Roles of a CSV's columns (0-based positions); `names` None when there is no header."""

    names: list[str] | None
    index: int | None
    inputs: list[int]
    targets: list[int]

    def label(self, j: int) -> str:
        return f"column {j + 1} ({self.names[j]!r})" if self.names else f"column {j + 1}"

    @property
    def used(self) -> list[int]:
        return sorted(set(self.inputs) | set(self.targets))

    def index_name(self) -> str | None:
        if self.index is None:
            return None
        return self.names[self.index] if self.names else str(self.index)


def select_columns(
    names: list[str] | None, ncol: int, wanted: list[str | int] | None, name: str, key: str
) -> list[int]:
    """0-based indices of `wanted` (header names or 0-based indices); None = all columns."""
    if wanted is None:
        return list(range(ncol))
    out = []
    for w in wanted:
        if isinstance(w, int):
            if not 0 <= w < ncol:
                raise DataError(f"{name}: {key}: column index {w} is outside 0..{ncol - 1}")
            out.append(w)
        elif names is not None and w in names:
            out.append(names.index(w))
        else:
            have = ", ".join(names) if names else "none: the file has no header"
            raise DataError(f"{name}: {key}: no column {w!r} (columns: {have})")
    if not out:
        raise DataError(f"{name}: {key} is empty")
    return out


def _index_column(names, first: list[str], opts, name: str) -> int | None:
    if opts.index_column is not None:
        return select_columns(names, len(first), [opts.index_column], name, "data.index_column")[0]
    head = (names[0] if names else "").strip().lower()
    named = [*(opts.input_columns or []), *(opts.target_columns or [])]
    if names and names[0] in named or 0 in named:
        return None  # the user made it a feature or target
    if len(first) > 1 and (head in INDEX_NAMES or looks_like_time(first[0])):
        return 0
    return None


def choose_columns(names: list[str] | None, first: list[str], opts, name: str,
                   line: int = 1) -> Columns:
    """Index, input and target columns of a series CSV from its first data row (at `line`) and
    `opts` (index_column, input_columns, target_columns); warns about ignored text columns."""
    ncol = len(first)
    index = _index_column(names, first, opts, name)
    numeric = [j for j in range(ncol) if j != index and is_number(first[j])]
    if opts.input_columns is not None:
        inputs = select_columns(names, ncol, opts.input_columns, name, "data.input_columns")
    elif numeric:
        inputs = numeric
    else:
        others = [j for j in range(ncol) if j != index]
        if not others:
            where = f"column 1 ({names[0]!r})" if names else "column 1"
            raise DataError(f"{name}: the only column, {where}, is the index (data.index_column): "
                            "no column to learn from")
        j = others[0]
        label = f"column {j + 1} ({names[j]!r})" if names else f"column {j + 1}"
        raise DataError(f"{name}: line {line}, {label}: {first[j]!r} is not a number "
                        "(no numeric column to learn from)")
    targets = (inputs if opts.target_columns is None else
               select_columns(names, ncol, opts.target_columns, name, "data.target_columns"))
    cols = Columns(names, index, inputs, targets)
    if index in cols.used:
        raise DataError(f"{name}: {cols.label(index)} is the index (data.index_column), "
                        "not a feature or target")
    ignored = [j for j in range(ncol) if j != index and j not in cols.used and j not in numeric]
    if ignored:
        warn(f"{name}: ignoring {len(ignored)} non-numeric column(s) "
             f"{', '.join(cols.label(j) for j in ignored[:5])}: name them in data.input_columns "
             "or data.index_column to use them")
    return cols


def parse_cells(cells: list[str], cols: Columns, ncol: int, line: int, name: str) -> np.ndarray:
    """The used columns of one row as floats (cols.used order); bad cells name line and column."""
    if len(cells) != ncol:
        raise DataError(f"{name}: line {line} has {len(cells)} columns, expected {ncol} "
                        "(as in the first row)")
    out = np.empty(len(cols.used))
    for k, j in enumerate(cols.used):
        try:
            v = float(cells[j])
        except ValueError:
            raise DataError(f"{name}: line {line}, {cols.label(j)}: {cells[j]!r} is not a number") from None
        if not np.isfinite(v):
            raise DataError(f"{name}: line {line}, {cols.label(j)}: {cells[j]!r} is not finite")
        out[k] = v
    return out


def next_index(values: list[str]) -> str:
    """The index value after the last one (same step as the last two: 1989 after 1988), or ''."""
    if len(values) < 2:
        return ""
    a, b = values[-2].strip(), values[-1].strip()
    try:
        ia, ib = int(a), int(b)
        return str(2 * ib - ia)
    except ValueError:
        pass
    if looks_like_time(a) and looks_like_time(b):
        ta, tb = np.datetime64(a.replace(" ", "T", 1)), np.datetime64(b.replace(" ", "T", 1))
        nxt = str(tb + (tb - ta))
        return nxt.replace("T", " ", 1) if " " in b else nxt
    return ""
