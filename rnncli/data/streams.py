"""Streaming what `rnn predict` reads, shared by the format modules (data/formats/).

Lines of a file or stdin decoded lazily (a bad UTF-8 byte names its line), groups of sequences
padded into batches, arrays cut into batches, and the model's inputs in its dtype. Memory stays
constant on an endless stdin: nothing here reads more than one batch ahead.
"""

from __future__ import annotations

import codecs
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

import numpy as np

from rnncli.data.checks import check_file, check_lengths
from rnncli.data.formats.stdin import STDIN_NAME
from rnncli.data.layout import arrange, nan_lengths
from rnncli.data.readers import resolve_path
from rnncli.data.records import pad_sequences, token_ids
from rnncli.data.scaling import model_inputs
from rnncli.data.types import Batch, TaskInfo
from rnncli.errors import DataError
from rnncli.wording import plural


def in_dtype(x: np.ndarray, dtype, name: str) -> np.ndarray:
    """x cast to the model's dtype; a value that does not fit (1e39 in float32) is a DataError
    naming it, never an inf fed to the model or a RuntimeWarning on stderr."""
    with np.errstate(over="ignore", invalid="ignore"):
        out = x.astype(dtype, copy=False)
    if out.dtype.kind == "f" and not np.isfinite(out).all():
        bad = np.argwhere(~np.isfinite(out))[0]
        raise DataError(f"{name}: input value {x[tuple(bad)]:.6g} (sequence {int(bad[0]) + 1} of its batch, "
                        f"step {int(bad[1]) + 1}) is too large for the model's {np.dtype(dtype)}")
    return out


def text_lines(source: str | Path, base_dir: Path | None, stdin: IO | None):
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


def chunks(items: Iterable, n: int) -> Iterator[list]:
    buf: list = []
    for it in items:
        buf.append(it)
        if len(buf) == n:
            yield buf
            buf = []
    if buf:
        yield buf


def check_features(i: int, task: TaskInfo, name: str, where: str) -> None:
    if i != task.input_size:
        raise DataError(
            f"{name}: {where}: {plural(i, 'feature')} per step but the model expects {task.input_size}"
        )


def array_batches(X: np.ndarray, lengths, task: TaskInfo, name: str, bs: int):
    if X.dtype.kind not in "iuf":
        raise DataError(f"{name}: X has dtype {X.dtype}; expected numbers")
    X = arrange(X, task.layout, name, "X", explicit=True)
    if X.ndim != 3 or 0 in X.shape:
        raise DataError(f"{name}: X must be (N, T, I) with no zero size, got {list(X.shape)}")
    check_features(X.shape[2], task, name, "X")
    if lengths is not None:
        lengths = check_lengths(lengths, X.shape[0], X.shape[1], name)
    X, lengths = nan_lengths(X.astype(np.float64), lengths, name, "X")
    for s in range(0, X.shape[0], bs):
        yield X[s : s + bs], None if lengths is None else lengths[s : s + bs]


def id_batches(X: np.ndarray, lengths, task: TaskInfo, name: str, bs: int):
    """Token ids (data.token_ids models): (N, T) ints in the model's vocabulary, in batches."""
    X = token_ids(X, name, task.input_size)
    if 0 in X.shape:
        raise DataError(f"{name}: X must be (N, T) token ids with no zero size, got {list(X.shape)}")
    if lengths is not None:
        lengths = check_lengths(lengths, X.shape[0], X.shape[1], name)
    for s in range(0, X.shape[0], bs):
        yield X[s : s + bs], None if lengths is None else lengths[s : s + bs]


def array_inputs(X: np.ndarray, lengths, task: TaskInfo, name: str, batch_size: int,
                 dtype) -> Iterator[Batch]:
    """Batches of an array of sequences (N, T, I) (or token ids), prepared like training data."""
    if task.tokens == "id":
        yield from (Batch(x, None, ln) for x, ln in id_batches(X, lengths, task, name, batch_size))
        return
    for x, ln in array_batches(X, lengths, task, name, batch_size):
        yield Batch(in_dtype(model_inputs(x, task, ln, name), dtype, name), None, ln)


def line_batches(lines, seqs: Iterable[tuple[np.ndarray, object]], task: TaskInfo, name: str,
                 batch_size: int, dtype, *, ids: bool = False) -> Iterator[Batch]:
    """Batches of (sequence, index or None) read lazily from `lines`, which are closed at the end.

    ids: the sequences are token ids the model encodes itself (text models).
    """
    try:
        for group in chunks(seqs, batch_size):
            xs = [x for x, _ in group]
            if ids:
                x, lengths = pad_sequences(xs, np.int64)
            elif task.tokens == "id":
                x, lengths = pad_sequences(xs)
                x = token_ids(x, name, task.input_size)
            else:
                x, lengths = pad_sequences(xs)
                x = in_dtype(model_inputs(x, task, lengths, name), dtype, name)
            index = [i for _, i in group]
            yield Batch(x, None, lengths, None if any(i is None for i in index) else index)
    finally:
        lines.close()  # the file is closed now, on an error too, not when the GC gets to it
