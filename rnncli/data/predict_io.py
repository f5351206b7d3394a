"""Inputs for `rnn predict`, streamed batch by batch (constant memory on an endless stdin).

Formats:
    jsonl  one sequence per line: {"x": [[...], ...]} (a "y" key is ignored) or a bare list
           [[...], ...]; a flat list [a, b, c] is 3 steps of one feature. Any lengths: a batch
           is zero-padded to its longest member and carries `lengths`.
    csv    a time series in the training layout (rows = time steps, columns = features, header
           optional). Each sliding window of the model's training length (stride 1) is one
           sequence, so window n ends at data row n + W - 1 and the predictions line up with
           the rows. With a header holding the training input column names those columns are
           used (the training CSV itself works); otherwise the file must have exactly I columns.
    npy    X (N, T, I) (or (N, T) for I = 1; (N, C, T) for a model trained with layout NCT).
    npz    X as for npy and optional lengths (N,); trailing all-NaN steps are padding.
    txt    text models only: each non-empty line is one sequence of characters.
    parquet  a table: one row per sequence (list column x), a long table (sample, t, ...) or a
           series, read as the jsonl or csv it corresponds to (data/formats/parquet.py).
Each format's reader is its module in data/formats/ (`DataFormat.predict`).
The saved scaler (and a forecaster's log transform) is applied to the inputs (`model_inputs`);
`to_original` maps outputs back to original units.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import IO

import numpy as np

from rnncli.data.formats.base import DataFormat, Predict
from rnncli.data.formats.registry import FORMATS, from_suffix
from rnncli.data.formats.stdin import display_name, is_stdin
from rnncli.data.types import Batch, TaskInfo
from rnncli.errors import DataError


def _either(names: list[str]) -> str:
    return ", ".join(names[:-1]) + " or " + names[-1] if len(names) > 1 else names[0]


def _predict_format(source: str | Path, fmt: str | None, task: TaskInfo) -> DataFormat:
    """The input format: given, or from the suffix; it must suit the model."""
    name = display_name(source)
    readable = sorted(n for n, f in FORMATS.items() if f.predict is not None)
    if fmt is None:
        fmt = None if is_stdin(source) else from_suffix(source)
        if fmt is None:
            raise DataError(f"{name}: cannot tell the format; give --format {'|'.join(readable)}")
    if fmt not in readable:
        raise DataError(f"{name}: unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    text = task.kind == "text"
    if FORMATS[fmt].text_models != text:
        want = _either([n for n in readable if FORMATS[n].text_models == text])
        raise DataError(f"{name}: format {fmt} does not fit a {task.kind} model; give {want}")
    return FORMATS[fmt]


def iter_predict_inputs(
    source: str | Path,
    *,
    fmt: str | None,
    task: TaskInfo,
    batch_size: int,
    dtype=np.float64,
    stdin: IO | None = None,
    base_dir: Path | None = None,
    context: str | Path | None = None,
) -> Iterator[Batch]:
    """Yield Batch(x (B,T,I) of dtype, y=None, lengths or None, index) from a file or '-'.

    fmt: a name in data.formats.registry (csv, jsonl, npy, npz, parquet, txt); None infers it
    from the suffix (required for '-'). .npy/.npz inputs are read in the model's training layout
    (task.layout); trailing all-NaN steps are padding. A csv series yields its windows with the
    index value of the step each forecasts (see data.csvpredict); `context` (a csv series, e.g.
    the training one) lends its last rows so that the first forecast is for the input's first row.
    """
    chosen = _predict_format(source, fmt, task)
    if context is not None and not chosen.context:  # only csv windows continue a series
        what = f".{chosen.name}" if chosen.binary else chosen.name
        raise DataError(f"{context}: --context applies to csv series, not {what} input")
    yielded = False
    for batch in chosen.predict(Predict(source, task, batch_size, np.dtype(dtype), stdin, base_dir,
                                        context)):
        yielded = True
        yield batch
    if not yielded:
        raise DataError(f"{display_name(source)}: no sequences in the input (it is empty)")
