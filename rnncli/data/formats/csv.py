"""`.csv`: a time series (rows = steps, columns = features) or a long-format panel.

Sniffed by content: a header `sample,t,...` is a panel of many sequences (data/csvpanel.py), read
like .jsonl; anything else is one series cut into forecasting windows (data/csvseries.py), whose
predictions carry the index of the step each forecasts, and which `--context` can continue.
`rnn data -o x.csv` writes the long format, for looking at the data.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import numpy as np

from rnncli.data.csvpanel import is_long_format, long_records
from rnncli.data.csvpredict import csv_windows
from rnncli.data.csvseries import load_csv_dataset
from rnncli.data.formats.base import DataFormat, Predict, Records, Request
from rnncli.data.formats.stdin import is_stdin, rereadable
from rnncli.data.readers import cell_lines, read_source_bytes, resolve_path
from rnncli.data.records import records_to_data
from rnncli.data.streams import line_batches, text_lines
from rnncli.data.types import SequenceData, TaskInfo
from rnncli.errors import DataError


def is_panel(cfg, base_dir, stdin) -> bool:
    """Whether the csv source is a long-format panel (header `sample,t,...`); stdin rereadable."""
    if is_stdin(cfg.source):
        first = stdin.getvalue().split(b"\n", 1)[0]
    else:
        try:
            with resolve_path(cfg.source, base_dir).open("rb") as f:
                first = f.readline(4096)
        except OSError:
            return False  # the series reader reports the problem
    cells = first.decode("utf-8-sig", "replace").split(cfg.delimiter)
    return is_long_format(cells)


def read(req: Request):
    cfg = req.cfg
    stdin = rereadable(cfg.source, req.stdin)
    if not is_panel(cfg, req.base_dir, stdin):
        return load_csv_dataset(cfg, dtype=req.dtype, base_dir=req.base_dir, fitted=req.fitted,
                                split=req.split, stdin=stdin, context=req.context)
    if req.context is not None:
        raise DataError(f"{req.context}: --context continues a series; {cfg.source} is a "
                        "long-format panel (sample,t,...)")
    raw, name = read_source_bytes(cfg.source, base_dir=req.base_dir, stdin=stdin)
    rows = list(cell_lines(raw, name, cfg.delimiter))
    xs, ys, lines = long_records(rows[0][1], rows[1:], name, cfg.output)
    data, labels = records_to_data(xs, ys, lines, output=cfg.output, targets=cfg.targets, name=name)
    return Records(data, labels, name)


def _context_rows(context, task: TaskInfo, base_dir) -> list[np.ndarray]:
    """The input rows of a context series (the last window's worth is used)."""
    if task.kind != "regression" or not task.seq_len or task.columns is None:  # None: not a csv series
        raise DataError(f"{context}: --context applies to models trained on a csv series")
    lines, name = text_lines(context, base_dir, None)
    rows = [x[-1] for x, _ in csv_windows(lines, replace(task, seq_len=1), name)]
    if len(rows) < task.seq_len:  # fewer rows would shift every forecast off its row, silently
        raise DataError(f"{name}: --context needs at least the window's {task.seq_len} rows, it "
                        f"has {len(rows)}")
    return rows[-task.seq_len:]


def predict(p: Predict):
    context = None if p.context is None else _context_rows(p.context, p.task, p.base_dir)
    lines, name = text_lines(p.source, p.base_dir, p.stdin)
    return line_batches(lines, csv_windows(lines, p.task, name, context), p.task, name,
                        p.batch_size, p.dtype)


def _cells(values) -> list[str]:
    return [repr(v) if isinstance(v, float) else str(v) for v in values]


def _header(data: SequenceData) -> list[str]:
    """sample, t, x0..x{I-1}, then y0..y{O-1} (or one y column of labels, or none)."""
    X, y = data.X, data.y
    xcols = [f"x{j}" for j in range(X.shape[2])] if X.ndim == 3 else ["x"]
    if y is None:
        return ["sample", "t", *xcols]
    ycols = ["y"] if y.dtype.kind in "iu" else [f"y{j}" for j in range(y.shape[-1])]
    return ["sample", "t", *xcols, *ycols]


def _target(data: SequenceData, i: int, t: int, t_len: int, seq: bool):
    """Row t's target cells: every step's for per-step targets, else only the last step's."""
    if seq:
        return data.y[i, t]
    return data.y[i] if t == t_len - 1 else None


def write(data: SequenceData, task: TaskInfo) -> Iterator[str]:
    """Long-format rows, header first. Per-step targets fill every row; a per-sequence target fills
    only the sequence's last row, other rows leave y empty."""
    header = _header(data)
    yield ",".join(header) + "\n"
    X, seq = data.X, task.output == "sequence"
    n_y = len(header) - 2 - (X.shape[2] if X.ndim == 3 else 1)
    for i in range(len(data)):
        t_len = int(X.shape[1] if data.lengths is None else data.lengths[i])
        for t in range(t_len):
            xs = X[i, t].tolist() if X.ndim == 3 else [X[i, t].item()]
            row = [str(i), str(t), *_cells(xs)]
            if data.y is not None:
                yv = _target(data, i, t, t_len, seq)
                row += [""] * n_y if yv is None else _cells(np.atleast_1d(yv).tolist())
            yield ",".join(row) + "\n"


FORMAT = DataFormat(
    "csv", ("csv",),
    frozenset({"seq_len", "window", "input_columns", "target_columns", "horizon", "stride", "header",
               "delimiter", "output", "standardize", "index_column", "targets", "num_classes",
               "transform", "forecast", "season", "fold"}),
    read=read, predict=predict, write=write, val_source=True, context=True,
)
