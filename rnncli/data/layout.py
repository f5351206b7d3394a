"""Arrays as users have them: channels-first panels, NaN- or zero-padded ragged sequences.

`arrange(X, ...)` turns X into the (N, T, I) layout the model reads:
- data.layout NTC (the default; numpy/torch batch_first) or NCT (channels first, as aeon and
  sktime store panels): NCT is transposed. When no layout was given, (N, 1, T) is an error
  naming both readings (one step of T features, or T steps of one channel), and a shape that
  looks channels-first (far fewer steps than features) gets one warning saying what was
  assumed and which key changes it.
- Ragged sequences without `lengths`: steps that are NaN in every feature at the end of a
  sequence are padding, so NaN padding gives the lengths; many sequences ending in runs of
  exact zeros get a warning (they are trained on as data unless lengths are given).
"""

from __future__ import annotations

import numpy as np

from rnncli.data.checks import check_finite
from rnncli.errors import DataError
from rnncli.notices import warn

LAYOUTS = ("NTC", "NCT")
# A sequence ending in at least this many all-zero steps looks zero-padded.
_ZERO_RUN = 2


def arrange(X: np.ndarray, layout: str, name: str, key: str, *, explicit: bool) -> np.ndarray:
    """X as (N, T, I): 2-D (N, T) is T steps of one feature; NCT is transposed."""
    if X.ndim == 2:
        return X[:, :, None]
    if X.ndim != 3:
        return X  # the caller reports the shape
    if layout == "NCT":
        return np.ascontiguousarray(X.transpose(0, 2, 1))
    n, t, i = X.shape
    if not explicit and t == 1 and i > 1:
        # (N, 1, T) is aeon's univariate panel as often as one step of T features: guessing
        # trains the wrong model without an error, so the user says which.
        raise DataError(f"{name}: {key} has shape {list(X.shape)}: ambiguous, either {n} sequences "
                        f"of 1 step with {i} features (set data.layout: NTC) or, channels-first as "
                        f"aeon and sktime store panels, {i} steps of 1 feature (set data.layout: NCT)")
    if not explicit and i > 1 and 4 * t <= i:
        warn(f"{name}: {key} has shape {list(X.shape)}: read as {n} sequences of {t} step(s) "
             f"with {i} features (layout NTC); if it is channels-first (N, C, T) as aeon and "
             "sktime store panels, set data.layout: NCT")
    return X


def nan_lengths(X: np.ndarray, lengths: np.ndarray | None, name: str, key: str):
    """(X with padding zeroed, lengths): trailing all-NaN steps are padding when no lengths are given.

    With `lengths` given, whatever the padded steps hold is ignored (zeroed). NaN or inf left
    in a valid step is an error naming its index.
    """
    if X.dtype.kind != "f":
        return X, lengths
    t = X.shape[1]
    if lengths is None:
        nan_step = np.isnan(X).all(axis=2)  # (N, T)
        if nan_step[:, -1].any():
            # valid length = 1 + last step holding any number
            has = ~nan_step
            last = t - np.argmax(has[:, ::-1], axis=1)
            last[~has.any(axis=1)] = 0
            if (last == 0).any():
                i = int(np.argmax(last == 0))
                raise DataError(f"{name}: {key}: sequence {i} has no step with numbers (all NaN)")
            lengths = last.astype(np.int64)
    if lengths is not None:
        steps = np.arange(t)[None, :] < lengths[:, None]
        X = np.where(steps[:, :, None], X, 0.0)
        if lengths.min() == t:
            lengths = None
    check_finite(X, name, key)
    return X, lengths


def warn_zero_padding(X: np.ndarray, lengths: np.ndarray | None, name: str, key: str) -> None:
    """Warn when many sequences end in runs of exact zeros and no lengths say they are padding."""
    if lengths is not None or X.shape[1] <= _ZERO_RUN or X.shape[0] < 2:
        return
    zero_step = (X == 0).all(axis=2)  # (N, T)
    tail = zero_step[:, -_ZERO_RUN:].all(axis=1)
    count = int(tail.sum())
    if count >= max(2, X.shape[0] // 10) and not zero_step.all():
        warn(f"{name}: {count} of {X.shape[0]} sequences end in runs of exact zeros, which look "
             f"like padding but are trained on as data; give each sequence's length as key "
             "'lengths' (N,) in the .npz, pad with NaN instead, or write ragged .jsonl lines")
