"""`rnn data` writers: a SequenceData to .npz, .npy, .jsonl or .csv (a file or a stream).

jsonl: one line per sequence, {"x": [[...], ...], "y": ...} at its true length (ragged
    sequences are not padded), readable by `rnn predict --format jsonl` and as training data.
npz: X, y and (if ragged) lengths; npy: X only (inputs for predict).
csv: long format for looking at the data: columns sample, t, x0..x{I-1}, then y0..y{O-1}
    (or one y column of labels). Per-step targets fill every row; a per-sequence target
    fills only the sequence's last row, other rows leave y empty.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import numpy as np

from rnncli.data.types import SequenceData, TaskInfo
from rnncli.errors import UsageError
from rnncli.fsutil import atomic_writer

WRITE_FORMATS = ("npz", "npy", "jsonl", "csv")


def _length(data: SequenceData, i: int) -> int:
    return int(data.X.shape[1] if data.lengths is None else data.lengths[i])


def jsonl_lines(data: SequenceData, task: TaskInfo) -> Iterator[str]:
    """One JSON object per sequence, trailing newline included."""
    seq = task.output == "sequence"
    for i in range(len(data)):
        t = _length(data, i)
        rec = {"x": data.X[i, :t].tolist()}
        if data.y is not None:
            rec["y"] = data.y[i, :t].tolist() if seq else data.y[i].tolist()
        yield json.dumps(rec, separators=(",", ":")) + "\n"


def _cells(values) -> list[str]:
    return [repr(v) if isinstance(v, float) else str(v) for v in values]


def csv_lines(data: SequenceData, task: TaskInfo) -> Iterator[str]:
    """Long-format CSV rows (see the module docstring), header first."""
    X, y = data.X, data.y
    xcols = [f"x{j}" for j in range(X.shape[2])] if X.ndim == 3 else ["x"]
    labels = y is not None and y.dtype.kind in "iu"
    ycols = [] if y is None else ["y"] if labels else [f"y{j}" for j in range(y.shape[-1])]
    yield ",".join(["sample", "t", *xcols, *ycols]) + "\n"
    seq = task.output == "sequence"
    for i in range(len(data)):
        t_len = _length(data, i)
        for t in range(t_len):
            xs = X[i, t].tolist() if X.ndim == 3 else [X[i, t].item()]
            row = [str(i), str(t), *_cells(xs)]
            if y is not None:
                if seq:
                    yv = y[i, t]
                elif t == t_len - 1:
                    yv = y[i]
                else:
                    yv = None
                row += [""] * len(ycols) if yv is None else _cells(np.atleast_1d(yv).tolist())
            yield ",".join(row) + "\n"


def _npz_bytes(data: SequenceData, fmt: str) -> bytes:
    buf = io.BytesIO()
    if fmt == "npy":
        np.save(buf, data.X, allow_pickle=False)
    else:
        arrays = {"X": data.X}
        if data.y is not None:
            arrays["y"] = data.y
        if data.lengths is not None:
            arrays["lengths"] = data.lengths
        np.savez_compressed(buf, **arrays)
    return buf.getvalue()


def write_dataset(
    data: SequenceData, task: TaskInfo, dest: str | Path, fmt: str, stream: IO | None = None
) -> None:
    """Write `data` in `fmt` (npz|npy|jsonl|csv) to `dest`; "-" writes to `stream`.

    Files are written atomically (temp file + rename). A text stream receives text formats;
    binary formats go to its `.buffer` when it has one.
    """
    if fmt not in WRITE_FORMATS:
        raise UsageError(f"cannot write format {fmt!r}; choose one of {', '.join(WRITE_FORMATS)}")
    binary = fmt in ("npz", "npy")
    if str(dest) == "-":
        if stream is None:
            raise UsageError("writing to '-' needs an output stream")
        if binary:
            out = getattr(stream, "buffer", stream)
            out.write(_npz_bytes(data, fmt))
        else:
            lines = jsonl_lines(data, task) if fmt == "jsonl" else csv_lines(data, task)
            for line in lines:
                stream.write(line)
        stream.flush()
        return
    # output_file: atomic for regular files, straight through for devices and FIFOs; its errors
    # name `dest` and carry the right exit code.
    with atomic_writer(Path(dest), "wb" if binary else "w") as f:
        if binary:
            f.write(_npz_bytes(data, fmt))
        else:
            lines = jsonl_lines(data, task) if fmt == "jsonl" else csv_lines(data, task)
            f.writelines(lines)
