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
    npy    X (N, T, I) (or (N, T) for I = 1).
    npz    X (N, T, I) and optional lengths (N,).
    txt    text models only: each non-empty line is one sequence of characters.
The saved scaler is applied to the inputs; `unscale_targets` maps outputs back to original units.
"""

from __future__ import annotations

import codecs
import sys
from collections import deque
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

import numpy as np

from rnncli.data.checks import check_file, check_lengths
from rnncli.data.options import FILE_FORMATS
from rnncli.data.readers import (
    STDIN_NAME,
    csv_rows,
    load_npy_array,
    load_npz_arrays,
    resolve_path,
    select_columns,
)
from rnncli.data.records import pad_sequences, parse_jsonl_line
from rnncli.data.scaling import scale_inputs
from rnncli.data.text import encode_text
from rnncli.data.types import Batch, TaskInfo
from rnncli.data.words import encode_words, tokenize
from rnncli.errors import DataError


def _text_lines(source: str | Path, base_dir: Path | None, stdin: IO | None):
    """(line iterator, name) over a UTF-8 file or stdin, decoding lazily."""
    if str(source) == "-":
        stream = stdin if stdin is not None else sys.stdin
        return _decoded(stream, STDIN_NAME, close=False), STDIN_NAME
    name = str(source)
    path = resolve_path(source, base_dir)
    check_file(path, name)
    return _decoded(path.open("rb"), name, close=True), name


def _decoded(stream, name: str, *, close: bool) -> Iterator[str]:
    """Lines of a text or binary stream; a bad UTF-8 byte names its line."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    count = 0  # lines read so far: the failing line is the next one
    try:
        for line in stream:
            yield decoder.decode(line) if isinstance(line, bytes) else line
            count += 1
    except UnicodeDecodeError:
        raise DataError(f"{name}: line {count + 1}: not valid UTF-8") from None
    finally:
        if close:
            stream.close()


def _chunks(items: Iterable, n: int) -> Iterator[list]:
    buf: list = []
    for it in items:
        buf.append(it)
        if len(buf) == n:
            yield buf
            buf = []
    if buf:
        yield buf


def _check_features(i: int, task: TaskInfo, name: str, where: str) -> None:
    if i != task.input_size:
        raise DataError(
            f"{name}: {where}: {i} features per step but the model expects {task.input_size}"
        )


def _jsonl_seqs(lines: Iterator[str], task: TaskInfo, name: str) -> Iterator[np.ndarray]:
    for lineno, line in enumerate(lines, 1):
        if line.strip():
            x, _ = parse_jsonl_line(line, name, lineno, want_y=False)
            _check_features(x.shape[1], task, name, f"line {lineno}")
            yield x


def _csv_windows(lines: Iterator[str], task: TaskInfo, name: str) -> Iterator[np.ndarray]:
    w = task.seq_len
    if not w:
        raise DataError(f"{name}: the model records no window length; give jsonl sequences")
    names, rows = csv_rows(lines, name)
    wanted = (task.columns or {}).get("input")
    idx: list[int] | None = None
    recent: deque = deque(maxlen=w)
    count = 0
    for lineno, row in rows:
        if idx is None:
            if names is not None and wanted and set(wanted) <= set(names):
                idx = select_columns(names, len(row), wanted, name, "input columns")
            else:
                _check_features(len(row), task, name, f"line {lineno}")
                idx = list(range(len(row)))
        recent.append(row[idx])
        count += 1
        if len(recent) == w:
            yield np.stack(recent)
    if count < w:
        raise DataError(f"{name}: the series has {count} rows, fewer than the window {w}")


def _txt_seqs(lines: Iterator[str], task: TaskInfo, name: str) -> Iterator[np.ndarray]:
    for lineno, line in enumerate(lines, 1):
        line = line.rstrip("\r\n")
        if line:
            if task.tokens == "word":  # unknown words read as <unk>
                yield encode_words(tokenize(line), task.vocab)
                continue
            try:
                yield encode_text(line, task.vocab, name=name)
            except DataError as exc:  # report the line in the file, not in the one-line text
                raise DataError(str(exc).replace(": line 1,", f": line {lineno},", 1)) from None


def _array_batches(X: np.ndarray, lengths, task: TaskInfo, name: str, bs: int):
    if X.dtype.kind not in "iuf":
        raise DataError(f"{name}: X has dtype {X.dtype}; expected numbers")
    if X.ndim == 2:
        X = X[:, :, None]
    if X.ndim != 3 or 0 in X.shape:
        raise DataError(f"{name}: X must be (N, T, I) with no zero size, got {list(X.shape)}")
    _check_features(X.shape[2], task, name, "X")
    if lengths is not None:
        lengths = check_lengths(lengths, X.shape[0], X.shape[1], name)
    for s in range(0, X.shape[0], bs):
        x = X[s : s + bs].astype(np.float64)
        if not np.isfinite(x).all():
            bad = np.argwhere(~np.isfinite(x))[0].tolist()
            bad[0] += s
            raise DataError(f"{name}: X holds NaN or infinity at index {bad}")
        yield x, None if lengths is None else lengths[s : s + bs]


def iter_predict_inputs(  # noqa: C901 - TODO(house): split
    source: str | Path,
    *,
    fmt: str | None,
    task: TaskInfo,
    batch_size: int,
    dtype=np.float64,
    stdin: IO | None = None,
    base_dir: Path | None = None,
) -> Iterator[Batch]:
    """Yield Batch(x (B,T,I) of dtype, y=None, lengths or None) from a file or '-' (stdin).

    fmt: csv | jsonl | npy | npz | txt; None infers it from the suffix (required for '-').
    """
    name = STDIN_NAME if str(source) == "-" else str(source)
    if fmt is None:
        fmt = Path(str(source)).suffix.lower().lstrip(".") if str(source) != "-" else None
        if fmt not in FILE_FORMATS:
            raise DataError(f"{name}: cannot tell the format; give --format csv|jsonl|npy|npz|txt")
    if fmt not in FILE_FORMATS:
        raise DataError(f"{name}: unknown format {fmt!r}; use one of {', '.join(FILE_FORMATS)}")
    if (fmt == "txt") != (task.kind == "text"):
        want = "txt" if task.kind == "text" else "csv, jsonl, npy or npz"
        raise DataError(f"{name}: format {fmt} does not fit a {task.kind} model; give {want}")
    dtype = np.dtype(dtype)
    yielded = False
    if fmt in ("npy", "npz"):
        if fmt == "npy":
            X, name = load_npy_array(source, base_dir=base_dir, stdin=stdin)
            lengths = None
        else:
            arrays, name = load_npz_arrays(source, base_dir=base_dir, stdin=stdin)
            if "X" not in arrays:
                raise DataError(f"{name}: key 'X' is missing (keys: {', '.join(arrays) or 'none'})")
            X, lengths = arrays["X"], arrays.get("lengths")
        for x, ln in _array_batches(X, lengths, task, name, batch_size):
            yielded = True
            yield Batch(scale_inputs(x, task.scaler, ln).astype(dtype, copy=False), None, ln)
    else:
        lines, name = _text_lines(source, base_dir, stdin)
        seqs = {"jsonl": _jsonl_seqs, "csv": _csv_windows, "txt": _txt_seqs}[fmt](lines, task, name)
        for group in _chunks(seqs, batch_size):
            yielded = True
            if fmt == "txt":
                x, lengths = pad_sequences(group, np.int64)  # token ids: the model encodes them
            else:
                x, lengths = pad_sequences(group)
                x = scale_inputs(x, task.scaler, lengths).astype(dtype, copy=False)
            yield Batch(x, None, lengths)
    if not yielded:
        raise DataError(f"{name}: no sequences to predict (empty input)")
