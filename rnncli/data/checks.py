"""Checks shared by generators and loaders; each failure is a one-line DataError."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from rnncli.errors import DataError
from rnncli.memory import check_fits, memory_budget


def check_alloc(nbytes: int, what: str) -> None:
    """Refuse an allocation that would not fit, before making it (memory.check_fits)."""
    check_fits({"data": nbytes}, memory_budget(), what, "make it smaller", DataError)


def check_folds(fold: tuple[int, int], most: int, items: str) -> None:
    """Refuse data.fold [i, k] when the data holds fewer than k folds (`most`, of `items`, e.g.
    "12 windows"). It names data.fold, which the user or cross-validation (train.cv_folds) set."""
    i, k = fold
    if k > most:
        raise DataError(f"data.fold [{i}, {k}]: {items} make at most {most} folds; lower k "
                        "(or train.cv_folds, when cross-validation chose it)")


def check_file(path: Path, name: str) -> int:
    """Existence, kind and readability of a data file; returns its size in bytes."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise DataError(f"{name}: no such file") from None
    except OSError as exc:
        raise DataError(f"{name}: cannot access: {exc.strerror}") from None
    if path.is_dir():
        raise DataError(f"{name}: is a directory, expected a data file")
    if not os.access(path, os.R_OK):
        raise DataError(f"{name}: cannot read: permission denied")
    if st.st_size == 0:
        raise DataError(f"{name}: file is empty")
    return int(st.st_size)


def check_finite(a: np.ndarray, name: str, key: str) -> None:
    """NaN or infinity anywhere in `a` names the first bad index."""
    if a.dtype.kind != "f":
        return
    bad = ~np.isfinite(a)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise DataError(f"{name}: {key} holds {a[idx]} at index {list(idx)}; data must be finite")


# Class labels index the output layer (one unit per class) and one-hot rows; beyond this many
# classes a label is a wrong column, not a class (9e18 would ask for 9e18 output units).
MAX_CLASSES = 1_000_000


def check_labels(y: np.ndarray, num_classes: int, name: str, key: str) -> None:
    """Integer labels in [0, num_classes); names the first offender."""
    bad = (y < 0) | (y >= num_classes)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise DataError(
            f"{name}: {key} has label {int(y[idx])} at index {list(idx)}, outside the class "
            f"range 0..{num_classes - 1}"
        )


def check_lengths(lengths: np.ndarray, n: int, t: int, name: str) -> np.ndarray:
    """lengths (N,) integers in [1, T]; returned as int64."""
    if lengths.dtype.kind not in "iu" or lengths.shape != (n,):
        raise DataError(
            f"{name}: key 'lengths' must be {n} integers, got shape {list(lengths.shape)} "
            f"of {lengths.dtype}"
        )
    bad = (lengths < 1) | (lengths > t)
    if bad.any():
        i = int(np.argmax(bad))
        raise DataError(f"{name}: key 'lengths' has {int(lengths[i])} at index {i}, outside 1..{t}")
    return lengths.astype(np.int64)
