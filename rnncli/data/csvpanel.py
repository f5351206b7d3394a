"""Long-format CSV panels: one row per (sequence, step), as `rnn data -f csv` writes them and as
a pandas DataFrame of many series is often saved.

Columns: `sample` (the sequence's id), `t` (its step: whole numbers counting up by one within
a sample, checked, since the steps are read in row order), the inputs (`x`, `x0`, `x1`, ...), the
targets (`y`, or `y0`, `y1`, ...). Rows of one sample are consecutive. With `data.output: last`
(the default) a sequence's target is its last row's y (other rows may leave y empty); with
`sequence`, every row holds its step's target.
"""

from __future__ import annotations

import numpy as np

from rnncli.errors import DataError

LONG_KEYS = ("sample", "t")


def is_long_format(names: list[str] | None) -> bool:
    """A header starting with `sample,t` marks a long-format panel."""
    return names is not None and tuple(c.strip().lower() for c in names[:2]) == LONG_KEYS


def _number(cell: str, name: str, line: int, col: str) -> float:
    try:
        v = float(cell)
    except ValueError:
        raise DataError(f"{name}: line {line}, column {col!r}: {cell!r} is not a number") from None
    if not np.isfinite(v):
        raise DataError(f"{name}: line {line}, column {col!r}: {cell!r} is not finite")
    return v


def step_number(cell: str, previous: int | None, name: str, line: int) -> int:
    """A row's t: a whole number, one more than the previous row's of its sample (the first row
    of a sample may start anywhere). Steps were once taken in file order whatever t said, so a
    shuffled, gapped or repeated t trained on a sequence other than the one written, exit 0."""
    v = _number(cell, name, line, "t")
    if not v.is_integer():
        raise DataError(f"{name}: line {line}, column 't': {cell!r} is not a step number")
    if previous is not None and v != previous + 1:
        raise DataError(f"{name}: line {line}: t {cell} follows t {previous} of the same sample; a "
                        "sample's rows must be its steps in order (sort by sample, t)")
    return int(v)


def _target(cells: list[str], ycols: list[int], names: list[str], name: str, line: int):
    """One row's y: a label/value (one y column, text allowed) or a vector of numbers."""
    if len(ycols) == 1:
        cell = cells[ycols[0]]
        try:
            return np.asarray(int(cell))
        except ValueError:
            pass
        try:
            return np.asarray(_number(cell, name, line, names[ycols[0]]))
        except DataError:
            return np.asarray(cell)
    return np.array([_number(cells[j], name, line, names[j]) for j in ycols])


def long_records(names: list[str], rows: list[tuple[int, list[str]]], name: str, output: str):
    """(xs [(T_i, I)], ys [raw targets], first line of each sequence) of a long-format panel."""
    xcols = [j for j, c in enumerate(names) if c.strip().lower().startswith("x")]
    ycols = [j for j, c in enumerate(names) if c.strip().lower().startswith("y")]
    if not xcols or not ycols:
        raise DataError(f"{name}: a long-format CSV (sample, t, ...) needs x and y columns, "
                        f"got {', '.join(names)}")
    groups: dict[str, list[tuple[int, list[str]]]] = {}
    last_t: dict[str, int] = {}
    for line, cells in rows:
        if len(cells) != len(names):
            raise DataError(f"{name}: line {line} has {len(cells)} columns, expected {len(names)}")
        last_t[cells[0]] = step_number(cells[1], last_t.get(cells[0]), name, line)
        groups.setdefault(cells[0], []).append((line, cells))
    xs, ys, lines = [], [], []
    for group in groups.values():
        xs.append(np.array([[_number(c[j], name, ln, names[j]) for j in xcols] for ln, c in group]))
        if output == "sequence":
            ys.append(np.stack([_target(c, ycols, names, name, ln) for ln, c in group]))
        else:
            ln, cells = group[-1]
            ys.append(_target(cells, ycols, names, name, ln))
        lines.append(group[0][0])
    return xs, ys, lines
