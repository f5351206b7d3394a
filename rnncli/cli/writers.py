"""Prediction writers for `rnn predict`: csv and jsonl stream batch by batch, npy at the end.

What a row holds:
- regression: the output values in original units, columns y0..y{O-1};
- classification / text: the label (the original label value a classifier was trained on,
  the character for text models), plus one probability column per class with --proba,
  named p_<label> (p_0..p_{K-1} when the model records no label values);
- "last" models: one row per input sequence, in input order;
- "sequence" models: one row per valid step, with `seq` (0-based sequence index over the
  whole input) and `step` (0-based) columns first;
- windows of a CSV series: first the index value of the step each forecasts (a column named
  after the series' index column, or `row`).
"""

from __future__ import annotations

import json
import math
from typing import IO

import numpy as np

from rnncli.errors import UsageError

FORMATS = ("csv", "jsonl", "npy")


def _num(v: np.floating) -> str:
    """Shortest text that reads back to the same value *in the model's dtype*.

    str() of a NumPy float32 gives "0.71924335", where float() would print the
    float64 expansion "0.7192433476448059" of the same number.
    """
    return str(v)  # NaN and inf print as nan, inf, -inf, which CSV readers accept


def _json_nums(values: np.ndarray) -> str:
    """A JSON array of numbers (non-finite ones as null: JSON has no NaN)."""
    return "[" + ",".join(_num(v) if math.isfinite(v) else "null" for v in values) + "]"


class PredictionWriter:
    """Turns model outputs into rows on a text or binary stream.

    Args:
        stream: text stream (csv, jsonl) or binary stream (npy).
        fmt: "csv", "jsonl" or "npy".
        kind: "regression", "classification" or "text".
        sequence: True for one output per step.
        proba: add class probabilities (classifiers only).
        vocab: labels of a text model (id order), else None.
        header: write a CSV header line first.
        names: regression column names (default y0..y{O-1}).
        classes: a classifier's label values in class-id order (default 0..K-1).
        index_name: name of the index column written first when batches carry an index.
    """

    def __init__(self, stream: IO, fmt: str, *, kind: str, sequence: bool, proba: bool = False,
                 vocab: list[str] | None = None, header: bool = True,
                 names: list[str] | None = None, classes: list | None = None,
                 index_name: str = "row") -> None:
        if fmt not in FORMATS:
            raise UsageError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
        if proba and kind == "regression":
            raise UsageError("--proba applies to classifiers; this model does regression")
        self.stream, self.fmt, self.kind = stream, fmt, kind
        self.sequence, self.proba, self.vocab = sequence, proba, vocab
        self.header = header and fmt == "csv"
        self.names = names
        self.classes = classes
        self.index_name = index_name
        self._indexed = False  # set by the first batch: do rows carry an index value?
        self._wrote_header = False
        self._seq = 0  # index of the next input sequence
        self._chunks: list[np.ndarray] = []
        self._lengths: list[np.ndarray] = []

    # -- per-row rendering -------------------------------------------------------------
    def _label(self, k: int):
        if self.vocab:
            return self.vocab[k]
        return self.classes[k] if self.classes else k

    def _csv_header(self, width: int) -> str:
        cols = ["seq", "step"] if self.sequence else []
        if self._indexed:
            cols = [_csv_cell(self.index_name), *cols]
        if self.kind == "regression":
            names = self.names if self.names and len(self.names) == width else None
            cols += [_csv_cell(n) for n in names] if names else [f"y{i}" for i in range(width)]
        else:
            cols.append("label")
            if self.proba:
                cols += [_csv_cell(f"p_{self._label(i)}") for i in range(width)]
        return ",".join(cols)

    def _row(self, out: np.ndarray, seq: int, step: int | None, index: str | None = None) -> str:
        """One output vector (O,) -> one csv line or one JSON object."""
        prefix = {} if step is None else {"seq": seq, "step": step}
        if index is not None:
            if self.fmt == "csv":
                return _csv_cell(index) + "," + self._row(out, seq, step)
            prefix = {self.index_name: json.dumps(index), **prefix}
        if self.kind == "regression":
            if self.fmt == "csv":
                cells = [str(v) for v in prefix.values()] + [_num(v) for v in out]
                return ",".join(cells)
            return _json_obj(prefix, "y", _json_nums(out))
        label = self._label(int(np.argmax(out)))
        if self.fmt == "csv":
            cells = [str(v) for v in prefix.values()]
            cells.append(_csv_cell(label))
            if self.proba:
                cells += [_num(v) for v in out]
            return ",".join(cells)
        line = _json_obj(prefix, "label", json.dumps(label))
        if self.proba:
            line = line[:-1] + ', "proba": ' + _json_nums(out) + "}"
        return line

    # -- the stream --------------------------------------------------------------------
    def write(self, outputs: np.ndarray, lengths: np.ndarray | None = None,
              index: list[str] | None = None) -> None:
        """One batch: (B, O) or (B, T, O) outputs (probabilities for classifiers); `index`
        (B,) labels the rows of "last" outputs (CSV series windows)."""
        if index is not None and not self.sequence and (self._seq == 0 or self._indexed):
            self._indexed = True
        else:
            index = None
        outputs = np.asarray(outputs)
        if outputs.dtype.kind != "f":
            outputs = outputs.astype(np.float64)
        if self.fmt == "npy":
            self._chunks.append(outputs)
            B = outputs.shape[0]
            T = outputs.shape[1] if self.sequence else 1
            self._lengths.append(np.full(B, T) if lengths is None else np.asarray(lengths))
            return
        lines = []
        if self.header and not self._wrote_header:
            lines.append(self._csv_header(outputs.shape[-1]))
            self._wrote_header = True
        for b in range(outputs.shape[0]):
            if self.sequence:
                T = outputs.shape[1] if lengths is None else int(lengths[b])
                lines.extend(self._row(outputs[b, t], self._seq, t) for t in range(T))
            else:
                lines.append(self._row(outputs[b], self._seq, None,
                                       None if index is None else str(index[b])))
            self._seq += 1
        self.stream.write("\n".join(lines) + "\n")
        # Each batch leaves right away: downstream tools (head, jq) see results while we run.
        self.stream.flush()

    def close(self) -> None:
        """npy: write the whole array now (its header needs the final shape)."""
        if self.fmt != "npy":
            return
        if not self._chunks:
            arr = np.zeros((0,))
        else:
            arr = _stack(self._chunks, self._lengths, self.sequence)
            if self.kind != "regression" and not self.proba:
                arr = _labels(arr, self._lengths, self.sequence, self.classes)
        np.save(self.stream, arr, allow_pickle=False)
        self.stream.flush()


def output_names(columns: dict | None, width: int) -> list[str] | None:
    """CSV-trained forecasters: target column names, suffixed +1..+h for a horizon h > 1."""
    targets = list((columns or {}).get("target") or [])
    if not targets or width % len(targets):
        return None
    horizon = width // len(targets)
    if horizon == 1:
        return [str(t) for t in targets]
    # O = horizon * C with the C target columns repeating over the horizon
    return [f"{t}+{k}" for k in range(1, horizon + 1) for t in targets]


def _json_obj(prefix: dict, key: str, value_json: str) -> str:
    """`{"seq": 0, "step": 3, "<key>": <value_json>}` with a pre-rendered value."""
    head = "".join(f'"{k}": {v}, ' for k, v in prefix.items())
    return "{" + head + f'"{key}": ' + value_json + "}"


def _csv_cell(v) -> str:
    s = str(v)
    if any(c in s for c in ',"\n\r') or s != s.strip():
        s = '"' + s.replace('"', '""') + '"'
    return s


def _stack(chunks: list[np.ndarray], lengths: list[np.ndarray], sequence: bool) -> np.ndarray:
    """Concatenate batches; sequence outputs padded to the longest T with NaN after each length."""
    if not sequence:
        return np.concatenate(chunks, axis=0)
    T = max(c.shape[1] for c in chunks)
    O = chunks[0].shape[-1]
    out = np.full((sum(c.shape[0] for c in chunks), T, O), np.nan)
    i = 0
    for c, lens in zip(chunks, lengths, strict=True):
        for b in range(c.shape[0]):
            out[i, : int(lens[b])] = c[b, : int(lens[b])]
            i += 1
    return out


def _labels(proba: np.ndarray, lengths: list[np.ndarray], sequence: bool,
            classes: list | None = None) -> np.ndarray:
    """argmax labels (the label values when `classes` are given); padded steps of sequence
    outputs are -1 (or "" for text labels)."""
    ids = np.nan_to_num(proba, nan=-1.0).argmax(axis=-1).astype(np.int64)
    labels = ids if not classes else np.asarray(classes)[ids]
    if sequence:
        labels = labels.astype(np.int64) if labels.dtype.kind == "b" else labels
        labels[np.isnan(proba).all(axis=-1)] = "" if labels.dtype.kind == "U" else -1
    return labels
