"""Sequences from user files (.npz, .jsonl) as raw arrays, validated key by key and line by line.

Integer targets are class labels under targets "auto"; float targets are regression.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

import numpy as np

from rnncli.data.checks import check_alloc, check_finite, check_lengths
from rnncli.data.types import SequenceData
from rnncli.errors import DataError


def pad_sequences(xs: list[np.ndarray], dtype=np.float64) -> tuple[np.ndarray, np.ndarray | None]:
    """Stack (T_n, ...) arrays into (N, T_max, ...) zero-padded; lengths (N,) or None if equal."""
    lens = np.array([len(x) for x in xs], dtype=np.int64)
    t = int(lens.max())
    check_alloc(len(xs) * t * int(np.prod(xs[0].shape[1:])) * np.dtype(dtype).itemsize,
                "padding the sequences")
    out = np.zeros((len(xs), t, *xs[0].shape[1:]), dtype=dtype)
    for i, x in enumerate(xs):
        out[i, : len(x)] = x
    return out, (None if (lens == t).all() else lens)


def _numeric(value, name: str, where: str, key: str) -> np.ndarray:
    try:
        a = np.asarray(value)
    except ValueError:
        raise DataError(f"{name}: {where}: {key} is ragged; every step needs the same count") from None
    if a.size == 0:
        raise DataError(f"{name}: {where}: {key} is empty")
    if a.dtype.kind not in "iuf":
        raise DataError(f"{name}: {where}: {key} must hold only numbers, got {value!r:.60}")
    if a.dtype.kind == "f" and not np.isfinite(a).all():
        raise DataError(f"{name}: {where}: {key} holds NaN or infinity; data must be finite")
    return a


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
    return x, _numeric(y_raw, name, where, "y")


def _decide_labels(ys: list[np.ndarray], targets: str, name: str) -> bool:
    ints = all(y.dtype.kind in "iu" for y in ys)
    if targets == "classification" and not ints:
        i = next(i for i, y in enumerate(ys) if y.dtype.kind not in "iu")
        raise DataError(f"{name}: sequence {i + 1}: y is not integer class labels")
    return targets == "classification" or (targets == "auto" and ints)


def records_to_data(  # noqa: C901 - TODO(house): split
    xs: list[np.ndarray], ys: list[np.ndarray], lines: list[int], *, output: str, targets: str,
    name: str,
) -> SequenceData:
    """Validate and pad jsonl records: feature counts, y shapes per `output`, label ints."""
    if not xs:
        raise DataError(f"{name}: no sequences (empty file or only blank lines)")
    i0 = xs[0].shape[1]
    for x, ln in zip(xs, lines, strict=True):
        if x.shape[1] != i0:
            raise DataError(
                f"{name}: line {ln}: x has {x.shape[1]} features per step, line {lines[0]} "
                f"has {i0}"
            )
    labels = _decide_labels(ys, targets, name)
    fixed = []
    for x, y, ln in zip(xs, ys, lines, strict=True):
        if output == "last":
            if labels and y.ndim != 0:
                raise DataError(f"{name}: line {ln}: y must be one integer label for output last")
            y = y.reshape(()) if labels else y.reshape(-1) if y.ndim <= 1 else None
            if y is None:
                raise DataError(f"{name}: line {ln}: y must be a number or a list of numbers")
        else:
            if y.ndim == 0 or len(y) != len(x):
                raise DataError(
                    f"{name}: line {ln}: y needs one target per step ({len(x)}), got "
                    f"{'a scalar' if y.ndim == 0 else len(y)}"
                )
            if labels and y.ndim != 1:
                raise DataError(f"{name}: line {ln}: y must be one integer label per step")
            if not labels:
                y = y.reshape(len(x), -1) if y.ndim <= 2 else None
                if y is None:
                    raise DataError(f"{name}: line {ln}: y must be per-step lists of numbers")
        fixed.append(y)
    if not labels:
        o0 = fixed[0].shape[-1]
        for y, ln in zip(fixed, lines, strict=True):
            if y.shape[-1] != o0:
                raise DataError(
                    f"{name}: line {ln}: y has {y.shape[-1]} values, line {lines[0]} has {o0}"
                )
    X, lengths = pad_sequences(xs)
    if output == "last":
        y = np.array(fixed, dtype=np.int64 if labels else np.float64)
    else:
        y, _ = pad_sequences(fixed, np.int64 if labels else np.float64)
    return SequenceData(X, y, lengths)


def read_jsonl_records(lines: Iterable[str], name: str, *, output: str, targets: str):
    """All records of a jsonl text as SequenceData (blank lines skipped)."""
    xs, ys, nums = [], [], []
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        x, y = parse_jsonl_line(line, name, lineno, want_y=True)
        xs.append(x)
        ys.append(y)
        nums.append(lineno)
    return records_to_data(xs, ys, nums, output=output, targets=targets, name=name)


def npz_to_data(arrays: dict[str, np.ndarray], name: str, *, targets: str) -> SequenceData:  # noqa: C901 - TODO(house): split
    """Check an .npz's X (N,T,I) [or (N,T)], y and optional lengths; return SequenceData."""
    for key in ("X", "y"):
        if key not in arrays:
            have = ", ".join(arrays) or "none"
            raise DataError(f"{name}: key {key!r} is missing (keys: {have}); need X and y")
    X, y = arrays["X"], arrays["y"]
    if X.dtype.kind not in "iuf" or y.dtype.kind not in "iufb":
        bad = "X" if X.dtype.kind not in "iuf" else "y"
        raise DataError(f"{name}: key {bad!r} has dtype {arrays[bad].dtype}; expected numbers")
    if X.ndim == 2:
        X = X[:, :, None]
    if X.ndim != 3 or 0 in X.shape:
        raise DataError(f"{name}: key 'X' must be (N, T, I) with no zero size, got {list(X.shape)}")
    n, t = X.shape[:2]
    if y.shape[:1] != (n,):
        raise DataError(f"{name}: key 'y' has {y.shape[0] if y.ndim else 0} rows, X has {n}")
    labels = (y.dtype.kind in "iub" and targets != "regression") or targets == "classification"
    if labels and y.dtype.kind == "f":
        if not np.all(np.isfinite(y)) or not np.all(y == np.round(y)):
            raise DataError(f"{name}: key 'y' must hold integer class labels")
    if labels and y.ndim not in (1, 2) or not labels and y.ndim not in (2, 3):
        want = "(N,) or (N, T) integer labels" if labels else "(N, O) or (N, T, O) floats"
        raise DataError(f"{name}: key 'y' has shape {list(y.shape)}; expected {want}")
    if (labels and y.ndim == 2 or y.ndim == 3) and y.shape[1] != t:
        raise DataError(f"{name}: key 'y' has {y.shape[1]} steps, X has {t}")
    check_finite(X, name, "key 'X'")
    check_finite(y, name, "key 'y'")
    lengths = arrays.get("lengths")
    if lengths is not None:
        lengths = check_lengths(lengths, n, t, name)
    y = y.astype(np.int64) if labels else y.astype(np.float64, copy=False)
    return SequenceData(X.astype(np.float64, copy=False), y, lengths)
