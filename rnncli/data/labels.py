"""Class labels as datasets ship them: strings, any integers, integral floats, booleans.

The classes of a model are the sorted distinct labels of its training data (numerically sorted
when every label is an integer, even written as text: "2" < "10"); inside, a label is its
class id, the position in that list. The list is saved with the model (`TaskInfo.classes`), so
eval and predict speak the original values, and a label the model never saw is an error.
"""

from __future__ import annotations

import numpy as np

from rnncli.errors import DataError
from rnncli.notices import warn

# Integral floats with at most this many distinct values read as class labels under
# data.targets: auto (a regression target rarely takes so few whole values).
MAX_AUTO_CLASSES = 50


def _python(v) -> str | int | float | bool:
    """A label as a JSON-able Python value; integral floats become ints (1.0 -> 1)."""
    v = v.item() if hasattr(v, "item") else v
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v


def _key(v) -> str:
    """What makes two labels the same class: the text of their value (1, 1.0, "1" and "1.0"
    match: a file mixing them, or a JSON list NumPy turned into text, still has one class 1)."""
    v = _python(v)
    if isinstance(v, str):
        try:
            number = float(v)
        except ValueError:
            return v
        if number.is_integer() and v.strip().lstrip("+-").replace(".", "", 1).isdigit():
            return str(int(number))  # "1.0", "+1" -> "1"; not "1e3" or "inf" (text that is no label number)
    return str(v)


def labels_or_regression(y: np.ndarray, targets: str, name: str, key: str) -> bool:
    """Whether targets `y` are class labels (True) or regression values, per data.targets.

    Strings and booleans are labels; integers are labels unless targets is 'regression';
    floats are regression unless targets is 'classification' or, under 'auto', they are (N,)
    whole numbers with few distinct values: then they are read as labels, with a warning.
    """
    kind = y.dtype.kind
    if kind in "USO":
        if targets == "regression":
            raise DataError(f"{name}: {key} holds text labels; data.targets: regression needs numbers")
        return True
    if kind == "b" or (kind in "iu" and targets != "regression"):
        return True
    if kind != "f" or targets == "regression":
        return targets == "classification" and _integral(y, name, key, strict=True)
    if targets == "classification":
        return _integral(y, name, key, strict=True)
    if y.ndim != 1 or not _integral(y, name, key, strict=False):
        return False
    distinct = np.unique(y)
    shown = ", ".join(str(_python(v)) for v in distinct[:5]) + (", ..." if len(distinct) > 5 else "")
    if len(distinct) > min(MAX_AUTO_CLASSES, max(2, len(y) // 2)):
        warn(f"{name}: {key} holds whole numbers as floats ({len(distinct)} distinct: {shown}); "
             "read as regression values; set data.targets: classification to read them as labels")
        return False
    warn(f"{name}: {key} holds whole numbers as floats ({len(distinct)} distinct: {shown}); "
         "read as class labels; set data.targets: regression to predict them as numbers")
    return True


def _integral(y: np.ndarray, name: str, key: str, *, strict: bool) -> bool:
    ok = bool(np.all(np.isfinite(y)) and np.all(y == np.round(y)))
    if strict and not ok:
        raise DataError(f"{name}: {key} must hold class labels (strings or whole numbers) for "
                        "data.targets: classification")
    return ok


def _sort_key(values: list) -> list:
    texts = [_key(v) for v in values]
    try:
        return sorted(values, key=lambda v: int(_key(v)))  # "2" before "10"
    except ValueError:
        return [v for _, v in sorted(zip(texts, values, strict=True), key=lambda p: p[0])]


def fit_classes(y: np.ndarray, name: str, key: str, num_classes: int | None = None) -> list:
    """The sorted distinct labels of training targets `y` (any shape), as plain values.

    num_classes: a declared class count: the labels must then be integers 0..K-1 and the
    classes are exactly 0..K-1 (classes absent from the data still get an output).
    """
    if num_classes is not None:
        if y.dtype.kind not in "iuf" or not np.all(y == np.round(y)):
            raise DataError(f"{name}: {key}: data.num_classes needs integer labels 0..K-1")
        bad = (y < 0) | (y >= num_classes)
        if bad.any():
            idx = [int(i) for i in np.argwhere(bad)[0]]
            raise DataError(f"{name}: {key} has label {_python(y[tuple(idx)])} at index {idx}, "
                            f"outside the class range 0..{num_classes - 1} (data.num_classes)")
        return list(range(num_classes))
    unique: dict[str, object] = {}
    for v in np.unique(y.reshape(-1)):
        value = _python(v)  # a text label is kept as its key: "+1" and "1.0" are the class "1"
        unique.setdefault(_key(v), _key(v) if isinstance(value, str) else value)
    if len(unique) < 2:
        only = next(iter(unique.values()), None)
        raise DataError(f"{name}: {key} has a single class ({only!r}); a classifier needs two or more")
    return _sort_key(list(unique.values()))


def encode_labels(y: np.ndarray, classes: list, name: str, key: str,
                  mask: np.ndarray | None = None) -> np.ndarray:
    """Class ids (same shape as y, int64) of labels `y`; a label not in `classes` is an error.

    mask: valid steps of per-step labels (padding may hold anything and becomes class 0).
    """
    index = {_key(c): i for i, c in enumerate(classes)}
    flat = y.reshape(-1)
    valid = None if mask is None else np.broadcast_to(mask, y.shape).reshape(-1)
    uniq, inverse = np.unique(flat, return_inverse=True)
    ids = np.zeros(len(uniq), np.int64)
    for j, v in enumerate(uniq):
        k = index.get(_key(v))
        if k is None:
            used = np.flatnonzero(inverse == j)
            if valid is not None:
                used = used[valid[used]]
                if not len(used):
                    continue
            at = [int(i) for i in np.unravel_index(used[0], y.shape)]
            shown = ", ".join(repr(c) for c in classes[:10]) + (", ..." if len(classes) > 10 else "")
            raise DataError(f"{name}: {key} has label {_python(v)!r} at index {at}, which the model "
                            f"never saw in training (its classes: {shown})")
        ids[j] = k
    return ids[inverse].reshape(y.shape)


def label_names(classes: list | None, k: int) -> list:
    """The K label values of a model in class-id order (0..K-1 when it records none)."""
    return list(classes) if classes else list(range(k))
