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
The saved scaler (and a forecaster's log transform) is applied to the inputs (`model_inputs`);
`to_original` maps outputs back to original units.
"""

from __future__ import annotations

import codecs
import sys
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import IO

import numpy as np

from rnncli.data.checks import check_file, check_lengths
from rnncli.data.csvpredict import csv_windows
from rnncli.data.layout import arrange, nan_lengths
from rnncli.data.options import FILE_FORMATS
from rnncli.data.readers import (
    STDIN_NAME,
    load_npy_array,
    load_npz_arrays,
    resolve_path,
)
from rnncli.data.records import pad_sequences, parse_jsonl_line, token_ids
from rnncli.data.scaling import model_inputs
from rnncli.data.text import encode_text
from rnncli.data.types import Batch, TaskInfo
from rnncli.data.words import encode_words, tokenize
from rnncli.errors import DataError
from rnncli.wording import plural


def _in_dtype(x: np.ndarray, dtype, name: str) -> np.ndarray:
    """x cast to the model's dtype; a value that does not fit (1e39 in float32) is a DataError
    naming it, never an inf fed to the model or a RuntimeWarning on stderr."""
    with np.errstate(over="ignore", invalid="ignore"):
        out = x.astype(dtype, copy=False)
    if out.dtype.kind == "f" and not np.isfinite(out).all():
        bad = np.argwhere(~np.isfinite(out))[0]
        raise DataError(f"{name}: input value {x[tuple(bad)]:.6g} (sequence {int(bad[0]) + 1} of its batch, "
                        f"step {int(bad[1]) + 1}) is too large for the model's {np.dtype(dtype)}")
    return out


def _text_lines(source: str | Path, base_dir: Path | None, stdin: IO | None):
    """(line iterator, name) over a UTF-8 file or stdin, decoding lazily."""
    if str(source) == "-":
        stream = stdin if stdin is not None else sys.stdin
        # The bytes, not the text layer: its locale decoding would turn binary input into surrogates
        # that fail later without a line number; here a bad byte is one DataError naming its line.
        return _decoded(getattr(stream, "buffer", stream), STDIN_NAME, close=False), STDIN_NAME
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
            f"{name}: {where}: {plural(i, 'feature')} per step but the model expects {task.input_size}"
        )


def _jsonl_seqs(lines: Iterator[str], task: TaskInfo, name: str) -> Iterator[np.ndarray]:
    for lineno, line in enumerate(lines, 1):
        if line.strip():
            x, _ = parse_jsonl_line(line, name, lineno, want_y=False)
            if task.tokens != "id":  # token ids are checked against the vocabulary once padded
                _check_features(x.shape[1], task, name, f"line {lineno}")
            yield x


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
    X = arrange(X, task.layout, name, "X", explicit=True)
    if X.ndim != 3 or 0 in X.shape:
        raise DataError(f"{name}: X must be (N, T, I) with no zero size, got {list(X.shape)}")
    _check_features(X.shape[2], task, name, "X")
    if lengths is not None:
        lengths = check_lengths(lengths, X.shape[0], X.shape[1], name)
    X, lengths = nan_lengths(X.astype(np.float64), lengths, name, "X")
    for s in range(0, X.shape[0], bs):
        yield X[s : s + bs], None if lengths is None else lengths[s : s + bs]


def _id_batches(X: np.ndarray, lengths, task: TaskInfo, name: str, bs: int):
    """Token ids (data.token_ids models): (N, T) ints in the model's vocabulary, in batches."""
    X = token_ids(X, name, task.input_size)
    if 0 in X.shape:
        raise DataError(f"{name}: X must be (N, T) token ids with no zero size, got {list(X.shape)}")
    if lengths is not None:
        lengths = check_lengths(lengths, X.shape[0], X.shape[1], name)
    for s in range(0, X.shape[0], bs):
        yield X[s : s + bs], None if lengths is None else lengths[s : s + bs]


def _predict_format(source: str | Path, fmt: str | None, task: TaskInfo) -> str:
    """The input format: given, or from the suffix; it must suit the model."""
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
    return fmt


def _array_inputs(source, fmt: str, task: TaskInfo, batch_size: int, dtype, stdin, base_dir):
    """Batches of an .npy (X) or .npz (X and optional lengths), scaled as in training."""
    if fmt == "npy":
        X, name = load_npy_array(source, base_dir=base_dir, stdin=stdin)
        lengths = None
    else:
        arrays, name = load_npz_arrays(source, base_dir=base_dir, stdin=stdin)
        if "X" not in arrays:
            raise DataError(f"{name}: key 'X' is missing (keys: {', '.join(arrays) or 'none'})")
        X, lengths = arrays["X"], arrays.get("lengths")
    if task.tokens == "id":
        yield from (Batch(x, None, ln) for x, ln in _id_batches(X, lengths, task, name, batch_size))
        return
    for x, ln in _array_batches(X, lengths, task, name, batch_size):
        yield Batch(_in_dtype(model_inputs(x, task, ln, name), dtype, name), None, ln)


def _line_inputs(source, fmt: str, task: TaskInfo, batch_size: int, dtype, stdin, base_dir,
                 context=None):
    """Batches of jsonl sequences, csv windows (with their index) or txt lines, read lazily."""
    lines, name = _text_lines(source, base_dir, stdin)
    if fmt == "csv":
        seqs = csv_windows(lines, task, name, context)
    else:
        seqs = ((x, None) for x in {"jsonl": _jsonl_seqs, "txt": _txt_seqs}[fmt](lines, task, name))
    try:
        for group in _chunks(seqs, batch_size):
            xs = [x for x, _ in group]
            if fmt == "txt":
                x, lengths = pad_sequences(xs, np.int64)  # token ids: the model encodes them
            elif task.tokens == "id":
                x, lengths = pad_sequences(xs)
                x = token_ids(x, name, task.input_size)
            else:
                x, lengths = pad_sequences(xs)
                x = _in_dtype(model_inputs(x, task, lengths, name), dtype, name)
            index = [i for _, i in group]
            yield Batch(x, None, lengths, None if any(i is None for i in index) else index)
    finally:
        lines.close()  # the file is closed now, on an error too, not when the GC gets to it


def _context_rows(context, task: TaskInfo, base_dir) -> list[np.ndarray]:
    """The input rows of a context series (the last window's worth is used)."""
    if task.kind != "regression" or not task.seq_len or task.columns is None:  # None: not a csv series
        raise DataError(f"{context}: --context applies to models trained on a csv series")
    lines, name = _text_lines(context, base_dir, None)
    rows = [x[-1] for x, _ in csv_windows(lines, replace(task, seq_len=1), name)]
    return rows[-task.seq_len:]


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

    fmt: csv | jsonl | npy | npz | txt; None infers it from the suffix (required for '-').
    .npy/.npz inputs are read in the model's training layout (task.layout); trailing all-NaN
    steps are padding. A csv series yields its windows with the index value of the step each
    forecasts (see data.csvpredict); `context` (a csv series, e.g. the training one) lends its
    last rows so that the first forecast is for the input's first row.
    """
    fmt = _predict_format(source, fmt, task)
    dtype = np.dtype(dtype)
    if fmt in ("npy", "npz"):
        if context is not None:
            raise DataError(f"{context}: --context applies to csv series, not .{fmt} input")
        batches = _array_inputs(source, fmt, task, batch_size, dtype, stdin, base_dir)
    else:
        if context is not None and fmt != "csv":  # only csv windows continue a series
            raise DataError(f"{context}: --context applies to csv series, not {fmt} input")
        ctx = None if context is None else _context_rows(context, task, base_dir)
        batches = _line_inputs(source, fmt, task, batch_size, dtype, stdin, base_dir, ctx)
    yielded = False
    for batch in batches:
        yielded = True
        yield batch
    if not yielded:
        name = STDIN_NAME if str(source) == "-" else str(source)
        raise DataError(f"{name}: no sequences to predict (empty input)")
