"""Standardisation: statistics from the training part only, saved with the model as
`TaskInfo.scaler` so eval and predict scale inputs the same way and report original units.

A forecaster of a csv series may also carry `TaskInfo.forecast` (see data.forecast): values in
logs (`transform: log`) and targets that are the change from the window's last value
(`target: change`, a residual on the persistence forecast). `model_inputs` and `to_original`
are the two directions every reader uses, so training, eval and predict agree.
"""

from __future__ import annotations

import numpy as np

from rnncli.core.rnn import length_mask
from rnncli.data.types import SequenceData, TaskInfo
from rnncli.errors import DataError


def _std(a: np.ndarray) -> np.ndarray:
    s = a.std(axis=0)
    # A constant column carries no scale; dividing by 1 keeps it finite (and zero after centring).
    return np.where(s > 1e-12, s, 1.0)


def column_stats(rows: np.ndarray) -> tuple[list[float], list[float]]:
    """Per-column mean and std of rows (R, C) as plain lists."""
    return rows.mean(axis=0).tolist(), _std(rows).tolist()


def _valid_rows(a: np.ndarray, lengths: np.ndarray | None) -> np.ndarray:
    """(N, T, F) -> (valid steps, F) using lengths; (N, F) unchanged."""
    if a.ndim == 2:
        return a
    if lengths is None:
        return a.reshape(-1, a.shape[-1])
    return a[length_mask(lengths, a.shape[1])]


def fit_scaler(data: SequenceData, scale_targets: bool) -> dict[str, list[float]]:
    """Statistics of a training part's inputs (and float targets) over valid steps."""
    im, istd = column_stats(_valid_rows(data.X, data.lengths))
    scaler = {"input_mean": im, "input_std": istd}
    if scale_targets and data.y is not None:
        tm, tstd = column_stats(_valid_rows(data.y, data.lengths))
        scaler.update(target_mean=tm, target_std=tstd)
    return scaler


def _tiled(values: list[float], width: int, dtype) -> np.ndarray:
    v = np.asarray(values, dtype=dtype)
    return np.tile(v, width // len(v))


def scale_inputs(x: np.ndarray, scaler: dict | None, lengths: np.ndarray | None = None):
    """(…, I) inputs in model units; padded steps stay zero."""
    if not scaler:
        return x
    out = (x - _tiled(scaler["input_mean"], x.shape[-1], x.dtype)) / _tiled(
        scaler["input_std"], x.shape[-1], x.dtype
    )
    if lengths is not None and x.ndim == 3:
        out *= length_mask(lengths, x.shape[1])[:, :, None]
    return out.astype(x.dtype, copy=False)


def scale_targets(y: np.ndarray, scaler: dict | None) -> np.ndarray:
    """(…, O) float targets in model units (O is the target columns times the horizon)."""
    if not scaler or "target_mean" not in scaler or y.dtype.kind != "f":
        return y
    m = _tiled(scaler["target_mean"], y.shape[-1], y.dtype)
    return ((y - m) / _tiled(scaler["target_std"], y.shape[-1], y.dtype)).astype(y.dtype)


def unscale_targets(pred: np.ndarray, task: TaskInfo) -> np.ndarray:
    """Model outputs (…, O) back in original units (unchanged when targets were not scaled)."""
    sc = task.scaler
    if not sc or "target_mean" not in sc or task.kind != "regression":
        return pred
    m = _tiled(sc["target_mean"], pred.shape[-1], pred.dtype)
    return (pred * _tiled(sc["target_std"], pred.shape[-1], pred.dtype) + m).astype(pred.dtype)


def apply_scaler(data: SequenceData, scaler: dict | None) -> SequenceData:
    """A copy of `data` with inputs and float targets standardised (padding kept at zero)."""
    if not scaler:
        return data
    y = data.y
    if y is not None:
        y = scale_targets(y, scaler)
        if data.lengths is not None and y.ndim == 3 and y is not data.y:
            y *= length_mask(data.lengths, y.shape[1])[:, :, None]
    return SequenceData(scale_inputs(data.X, scaler, data.lengths), y, data.lengths,
                        data.stateful)


def log_values(x: np.ndarray, name: str) -> np.ndarray:
    """Natural logs of values that must all be positive (data.transform: log)."""
    bad = ~(x > 0)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise DataError(f"{name}: value {x[idx]:.6g} is not positive; data.transform: log needs "
                        "values > 0 (use data.transform: none)")
    return np.log(x)


def model_inputs(x: np.ndarray, task: TaskInfo, lengths: np.ndarray | None = None,
                 name: str = "input") -> np.ndarray:
    """Raw inputs (…, T, I) as the model reads them: logs when the task says so, then scaled."""
    if (task.forecast or {}).get("transform") == "log":
        x = log_values(x, name)
    return scale_inputs(x, task.scaler, lengths)


def last_values(x: np.ndarray, task: TaskInfo) -> np.ndarray:
    """The last step's target columns (B, C), unscaled (in logs for a log model), from model
    inputs x (B, T, I)."""
    pos = task.forecast["last"]
    last = x[:, -1, pos]
    sc = task.scaler
    if sc:
        last = last * np.asarray(sc["input_std"], x.dtype)[pos] + np.asarray(sc["input_mean"], x.dtype)[pos]
    return last


def to_original(out: np.ndarray, x: np.ndarray, task: TaskInfo) -> np.ndarray:
    """Model outputs or targets (B, O) of regression in original units, given the inputs x
    (B, T, I) they belong to: unscaled, plus the last value (target: change), exp'd (log)."""
    y = unscale_targets(out, task)
    f = task.forecast
    if not f or task.kind != "regression":
        return y
    if f.get("target") == "change":
        last = last_values(x, task)
        y = y + np.tile(last, y.shape[-1] // last.shape[-1]).astype(y.dtype, copy=False)
    if f.get("transform") == "log":
        y = np.exp(y)
    return y
