"""`rnn predict` on a CSV series: sliding windows of the training length, streamed, each with
the index value of the step it forecasts.

Window n covers data rows n .. n+W-1 and forecasts row n+W: its index is that row's value in
the index column (the training series' index column, found by name), or, without one, the row
number n+W (0-based data rows). The last window forecasts past the end of the file: its index
continues the last step (1989 after 1987, 1988; one day after two daily dates), else is empty.
`context` rows (the end of the training series) come first, so the first forecast is for the
file's first row.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from itertools import chain

import numpy as np

from rnncli.data.csvpanel import is_long_format, step_number
from rnncli.data.csvtable import Columns, cell_rows, has_header, is_number, next_index, parse_cells
from rnncli.data.types import TaskInfo
from rnncli.errors import DataError
from rnncli.wording import plural


def index_name(task: TaskInfo) -> str:
    """The name of the index column of predictions: the training series' index, else "row"."""
    return ((task.columns or {}).get("index") or ["row"])[0]


def _predict_columns(task: TaskInfo, names: list[str] | None, first: list[str], name: str,
                     line: int) -> Columns:
    """The model's input columns in this file: by header name when the training names are all
    there, else every numeric column but the index (their count must be the model's I)."""
    meta = task.columns or {}
    wanted, idx_name = meta.get("input"), (meta.get("index") or [None])[0]
    index = None
    if names is not None and idx_name in names:
        index = names.index(idx_name)
    elif meta.get("index_position"):
        index = int(meta["index_position"][0])
    if names is not None and wanted and set(wanted) <= set(names):
        inputs = [names.index(c) for c in wanted]
    else:
        inputs = [j for j in range(len(first)) if j != index and is_number(first[j])]
    if names is not None and len(names) != len(first):
        raise DataError(f"{name}: line {line} has {len(first)} columns, the header has {len(names)}")
    if len(inputs) != task.input_size:
        raise DataError(f"{name}: line {line}: {plural(len(inputs), 'feature')} per step but the model "
                        f"expects {task.input_size}" + (f" ({', '.join(wanted)})" if wanted else ""))
    return Columns(names, index, inputs, inputs)


def _rows(lines: Iterator[str], name: str):
    """(column names or None, iterator of (line, cells) data rows)."""
    rows = cell_rows(lines, name)
    first = next(rows, None)
    if first is None:
        raise DataError(f"{name}: no sequences in the input (it is empty)")
    second = next(rows, None)
    header = has_header(first[1], second[1] if second else None, None)
    rest = [second] if second is not None else []
    if header:
        return first[1], chain(rest, rows)
    return None, chain([first], rest, rows)


def _long_sequences(names: list[str], rows, task: TaskInfo, name: str):
    """A long-format panel (sample, t, x...): one sequence per sample, streamed."""
    xcols = [j for j, c in enumerate(names) if c.strip().lower().startswith("x")]
    if len(xcols) != task.input_size:
        raise DataError(f"{name}: {len(xcols)} x column(s) but the model expects {task.input_size}")
    cols = Columns(names, None, xcols, xcols)
    current, steps, t = None, [], None
    for line, cells in rows:
        if cells[0] != current and steps:
            yield np.stack(steps), None
            steps, t = [], None
        current = cells[0]
        t = step_number(cells[1] if len(cells) > 1 else "", t, name, line)
        steps.append(parse_cells(cells, cols, len(names), line, name))
    if steps:
        yield np.stack(steps), None


def csv_windows(lines: Iterator[str], task: TaskInfo, name: str,
                context: list[np.ndarray] | None = None) -> Iterator[tuple[np.ndarray, str]]:
    """(window (W, I), index of the step it forecasts) for every full window, lazily."""
    names, rows = _rows(lines, name)
    if is_long_format(names):
        if context:
            raise DataError(f"{name}: --context continues a series; this is a long-format panel "
                            "(sample,t,...) whose sequences stand alone")
        yield from _long_sequences(names, rows, task, name)
        return
    w = task.seq_len
    if not w:
        raise DataError(f"{name}: the model records no window length; give jsonl sequences")
    recent: deque = deque(context[-w:] if context else [], maxlen=w)
    index: deque = deque(maxlen=2)
    cols: Columns | None = None
    count = 0
    pending = np.stack(recent) if len(recent) == w else None  # context alone forecasts row 0
    for line, cells in rows:
        if cols is None:
            cols = _predict_columns(task, names, cells, name, line)
            ncol = len(cells)
        values = parse_cells(cells, cols, ncol, line, name)
        label = cells[cols.index] if cols.index is not None else str(count)
        if pending is not None:
            yield pending, label
        index.append(label)
        recent.append(values[[cols.used.index(j) for j in cols.inputs]])
        count += 1
        pending = np.stack(recent) if len(recent) == w else None
    if pending is not None:
        yield pending, next_index(list(index)) if cols.index is not None else str(count)
    if count + len(context or []) < w:
        raise DataError(f"{name}: the series has {count} rows, fewer than the window {w}")
