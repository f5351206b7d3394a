"""Sequences from user files (.npz, .jsonl) as raw arrays, validated key by key and line by line.

Targets are read as class labels or regression values by `labels.labels_or_regression`
(strings, booleans and integers are labels under data.targets: auto). Labels stay in their
original values here; `dataset` turns them into class ids once the classes are known.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

import numpy as np

from rnncli.data.checks import check_alloc, check_finite, check_lengths
from rnncli.data.labels import labels_or_regression
from rnncli.data.layout import arrange, nan_lengths, warn_zero_padding
from rnncli.data.types import SequenceData
from rnncli.errors import DataError
from rnncli.wording import plural


def pad_sequences(xs: list[np.ndarray], dtype=np.float64, fill=0) -> tuple[np.ndarray, np.ndarray | None]:
    """Stack (T_n, ...) arrays into (N, T_max, ...) padded with `fill`; lengths (N,) or None if equal."""
    lens = np.array([len(x) for x in xs], dtype=np.int64)
    t = int(lens.max())
    check_alloc(len(xs) * t * int(np.prod(xs[0].shape[1:])) * np.dtype(dtype).itemsize,
                "padding the sequences")
    out = np.full((len(xs), t, *xs[0].shape[1:]), fill, dtype=dtype)
    for i, x in enumerate(xs):
        out[i, : len(x)] = x
    return out, (None if (lens == t).all() else lens)


def _numeric(value, name: str, where: str, key: str, *, text: bool = False) -> np.ndarray:
    try:
        a = np.asarray(value)
    except ValueError:
        raise DataError(f"{name}: {where}: {key} is ragged; every step needs the same count") from None
    if a.size == 0:
        raise DataError(f"{name}: {where}: {key} is empty")
    if a.dtype.kind not in ("iufbU" if text else "iuf"):
        raise DataError(f"{name}: {where}: {key} must hold only numbers, got {value!r:.60}")
    if a.dtype.kind == "f" and not np.isfinite(a).all():
        raise DataError(f"{name}: {where}: {key} holds NaN or infinity; data must be finite")
    return a


def token_ids(X: np.ndarray, name: str, vocab_size: int | None = None) -> np.ndarray:
    """X (N, T) or (N, T, 1) of whole numbers >= 0 (< vocab_size if given) -> (N, T) int64 token ids."""
    if X.ndim == 3 and X.shape[2] == 1:
        X = X[:, :, 0]
    if X.ndim != 2:
        raise DataError(f"{name}: token ids (data.token_ids) need one integer per step, got X of "
                        f"shape {list(X.shape)}")
    if X.dtype.kind == "f" and not (np.isfinite(X).all() and (X == np.round(X)).all()):
        raise DataError(f"{name}: data.token_ids: X must hold whole numbers (token ids)")
    if X.size and (X.min() < 0 or (vocab_size is not None and X.max() >= vocab_size)):
        bad = X.min() if X.min() < 0 else X.max()
        limit = f"[0, {vocab_size})" if vocab_size is not None else ">= 0"
        raise DataError(f"{name}: token id {int(bad)} is outside {limit}")
    return X.astype(np.int64)


def parse_x(value, name: str, where: str) -> np.ndarray:
    """x of one sequence -> (T, I) float64; a flat list is T steps of one feature."""
    a = _numeric(value, name, where, "x")
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2 or a.shape[0] == 0 or a.shape[1] == 0:
        raise DataError(f"{name}: {where}: x must be a non-empty list of steps (lists of numbers)")
    return a.astype(np.float64)


def parse_jsonl_line(line: str, name: str, lineno: int, *, want_y: bool):
    """One JSON line -> (x (T, I), raw y or None). Bare lists are x alone."""
    where = f"line {lineno}"
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise DataError(f"{name}: {where}: invalid JSON: {exc.msg} at column {exc.colno}") from None
    except RecursionError:
        raise DataError(f"{name}: {where}: JSON nested too deeply to be a sequence") from None
    if isinstance(obj, list):
        x_raw, y_raw = obj, None
    elif isinstance(obj, dict):
        if "x" not in obj:
            raise DataError(f"{name}: {where}: key 'x' is missing (keys: {', '.join(obj)})")
        x_raw, y_raw = obj["x"], obj.get("y")
    else:
        raise DataError(f"{name}: {where}: expected an object {{\"x\": ..., \"y\": ...}} or a list")
    x = parse_x(x_raw, name, where)
    if not want_y:
        return x, None
    if y_raw is None:
        raise DataError(f"{name}: {where}: key 'y' is missing; training and eval need targets")
    return x, _numeric(y_raw, name, where, "y", text=True)


def _check_features(xs: list[np.ndarray], lines: list[int], name: str) -> None:
    i0 = xs[0].shape[1]
    for x, ln in zip(xs, lines, strict=True):
        if x.shape[1] != i0:
            raise DataError(
                f"{name}: line {ln}: x has {plural(x.shape[1], 'feature')} per step, "
                f"line {lines[0]} has {i0}")


def _same_width(ys: list[np.ndarray], lines: list[int], name: str) -> None:
    o0 = ys[0].shape[-1]
    for y, ln in zip(ys, lines, strict=True):
        if y.shape[-1] != o0:
            raise DataError(
                f"{name}: line {ln}: y has {plural(y.shape[-1], 'value')}, line {lines[0]} has {o0}")


def _last_targets(ys, lines, targets: str, name: str) -> tuple[np.ndarray, bool]:
    """One target per sequence: scalars (labels or one value) or equal-length lists (values)."""
    if all(y.ndim == 0 for y in ys):
        y = np.array([y.item() for y in ys])
        labels = labels_or_regression(y, targets, name, "y")
        return (y if labels else y.astype(np.float64)[:, None]), labels
    for y, ln in zip(ys, lines, strict=True):
        if y.ndim != 1 or y.dtype.kind not in "iuf":
            raise DataError(f"{name}: line {ln}: y must be one label or value, or a list of numbers")
    _same_width(ys, lines, name)
    if targets == "classification":
        raise DataError(f"{name}: line {lines[0]}: y must be one class label for output last")
    return np.stack(ys).astype(np.float64), False


def _sequence_targets(xs, ys, lines, targets: str, name: str) -> tuple[np.ndarray, bool]:
    """One target per step: a list as long as x (labels or values) or per-step lists (values)."""
    for x, y, ln in zip(xs, ys, lines, strict=True):
        if y.ndim == 0 or len(y) != len(x):
            got = "a scalar" if y.ndim == 0 else len(y)
            raise DataError(f"{name}: line {ln}: y needs one target per step ({len(x)}), got {got}")
        if y.ndim > 2 or (y.ndim == 2 and y.dtype.kind not in "iuf"):
            raise DataError(f"{name}: line {ln}: y must be one label or value (or a list) per step")
    if all(y.ndim == 1 for y in ys):
        flat = np.concatenate(ys)
        if labels_or_regression(flat, targets, name, "y"):
            return pad_sequences(ys, flat.dtype, flat[0])[0], True
        ys = [y[:, None] for y in ys]
    elif targets == "classification":
        raise DataError(f"{name}: y must be one class label per step for output sequence")
    _same_width(ys, lines, name)
    return pad_sequences([y.astype(np.float64) for y in ys])[0], False


def records_to_data(
    xs: list[np.ndarray], ys: list[np.ndarray], lines: list[int], *, output: str, targets: str,
    name: str,
) -> tuple[SequenceData, bool]:
    """Validate and pad jsonl records; (data with raw targets, whether they are class labels)."""
    if not xs:
        raise DataError(f"{name}: no sequences (empty file or only blank lines)")
    _check_features(xs, lines, name)
    if output == "last":
        y, labels = _last_targets(ys, lines, targets, name)
    else:
        y, labels = _sequence_targets(xs, ys, lines, targets, name)
    X, lengths = pad_sequences(xs)
    return SequenceData(X, y, lengths), labels


def read_jsonl_records(lines: Iterable[str], name: str, *, output: str, targets: str):
    """All records of a jsonl text: (SequenceData with raw targets, labels?) (blank lines skipped)."""
    xs, ys, nums = [], [], []
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        x, y = parse_jsonl_line(line, name, lineno, want_y=True)
        xs.append(x)
        ys.append(y)
        nums.append(lineno)
    return records_to_data(xs, ys, nums, output=output, targets=targets, name=name)


def _npz_x(arrays: dict[str, np.ndarray], name: str, layout: str, explicit: bool) -> np.ndarray:
    for key in ("X", "y"):
        if key not in arrays:
            have = ", ".join(arrays) or "none"
            raise DataError(f"{name}: key {key!r} is missing (keys: {have}); need X and y")
    X = arrays["X"]
    if X.dtype.kind not in "iuf":
        raise DataError(f"{name}: key 'X' has dtype {X.dtype}; expected numbers")
    X = arrange(X, layout, name, "key 'X'", explicit=explicit)
    if X.ndim != 3 or 0 in X.shape:
        raise DataError(f"{name}: key 'X' must be (N, T, I) with no zero size, got {list(X.shape)}")
    return X.astype(np.float64, copy=False)


def _npz_y(y: np.ndarray, labels: bool, n: int, t: int, name: str) -> np.ndarray:
    """Check y's shape against X (N, T, ...): labels (N,) | (N, T); values (N,) | (N, O) | (N, T, O)."""
    if labels and y.ndim not in (1, 2) or not labels and y.ndim not in (1, 2, 3):
        want = "(N,) or (N, T) labels" if labels else "(N,), (N, O) or (N, T, O) numbers"
        raise DataError(f"{name}: key 'y' has shape {list(y.shape)}; expected {want}")
    if (labels and y.ndim == 2 or y.ndim == 3) and y.shape[1] != t:
        raise DataError(f"{name}: key 'y' has {y.shape[1]} steps, X has {t}")
    if labels:
        return y
    y = y.astype(np.float64, copy=False)
    return y[:, None] if y.ndim == 1 else y


def npz_to_data(arrays: dict[str, np.ndarray], name: str, *, targets: str, layout: str = "NTC",
                layout_explicit: bool = False) -> tuple[SequenceData, bool]:
    """Check an .npz's X, y and optional lengths; (data with raw targets, whether they are labels).

    X is (N, T, I) in layout NTC, (N, C, T) in NCT, or (N, T) for one feature. NaN steps at
    the end of a sequence are padding when no `lengths` (N,) are given.
    """
    X = _npz_x(arrays, name, layout, layout_explicit)
    y = arrays["y"]
    n, t = X.shape[:2]
    if y.dtype.kind not in "iufbUS" or y.shape[:1] != (n,):
        if y.dtype.kind not in "iufbUS":
            raise DataError(f"{name}: key 'y' has dtype {y.dtype}; expected numbers or text labels")
        raise DataError(f"{name}: key 'y' has {y.shape[0] if y.ndim else 0} rows, X has {n}")
    lengths = arrays.get("lengths")
    if lengths is not None:
        lengths = check_lengths(lengths, n, t, name)
    X, lengths = nan_lengths(X, lengths, name, "key 'X'")
    warn_zero_padding(X, lengths, name, "key 'X'")
    labels = labels_or_regression(y, targets, name, "key 'y'")
    y = _npz_y(y, labels, n, t, name)
    if not labels and y.ndim == 3 and lengths is not None:
        y = np.where((np.arange(t)[None, :] < lengths[:, None])[:, :, None], y, 0.0)
    check_finite(y, name, "key 'y'")
    return SequenceData(X, y, lengths), labels
