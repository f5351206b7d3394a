"""A CSV time series (rows = time steps, columns = features) cut into forecasting windows.

Window n starts at row s = n * stride: X[n] = inputs[s : s+W] (W, I). For output "last",
y[n] = targets[s+W : s+W+h] flattened to (h*C,) (step-major: all C columns of the next step,
then of the one after). For "sequence", y[n, t] = targets[s+t+1 : s+t+1+h] flattened, (W, h*C).
Train and validation are split by position (the last windows validate), and the scaler is
fitted on the rows the training windows cover, so no statistic sees the validation future.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import IO

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view as swv

from rnncli.data.checks import check_alloc
from rnncli.data.readers import csv_rows, decode_utf8, read_source_bytes, select_columns
from rnncli.data.scaling import column_stats, scale_inputs, scale_targets
from rnncli.data.types import DataBundle, SequenceData, TaskInfo
from rnncli.errors import DataError


def read_csv_series(
    source: str | Path, cfg, *, base_dir: Path | None = None, stdin: IO | None = None
) -> tuple[list[str] | None, np.ndarray, str]:
    """(column names or None, values (R, C) float64, display name) of a whole CSV file."""
    data, name = read_source_bytes(source, base_dir=base_dir, stdin=stdin)
    text = decode_utf8(data, name)
    names, rows = csv_rows(io.StringIO(text, newline=""), name, delimiter=cfg.delimiter,
                           header=cfg.header)
    values = [r for _, r in rows]
    if not values:
        raise DataError(f"{name}: no data rows (only a header)")
    return names, np.vstack(values), name


def make_windows(
    inp: np.ndarray, tgt: np.ndarray, w: int, h: int, stride: int, output: str
) -> tuple[np.ndarray, np.ndarray]:
    """Forecasting windows from inputs (R, I) and targets (R, C); see the module docstring."""
    r = inp.shape[0]
    starts = np.arange(0, r - w - h + 1, stride)
    n, c = len(starts), tgt.shape[1]
    width = inp.shape[1] + (h * c if output == "last" else w * h * c)
    check_alloc(n * w * width * inp.itemsize, "cutting the CSV series into windows")
    X = swv(inp, w, axis=0)[starts].transpose(0, 2, 1)  # (N, W, I)
    if output == "last":
        y = swv(tgt[w:], h, axis=0)[starts].transpose(0, 2, 1).reshape(n, h * c)
    else:
        ahead = swv(tgt[1:], h, axis=0).transpose(0, 2, 1).reshape(-1, h * c)  # row r: r+1..r+h
        y = swv(ahead, w, axis=0)[starts].transpose(0, 2, 1)  # (N, W, h*C)
    return np.ascontiguousarray(X), np.ascontiguousarray(y)


def _last_value_mse(X, y, in_idx, tgt_idx, h, output, tstd) -> float | None:
    """MSE (scaled units) of repeating each target column's latest observed value."""
    if not set(tgt_idx) <= set(in_idx):
        return None
    pos = [in_idx.index(j) for j in tgt_idx]
    last = X[:, -1, pos] if output == "last" else X[:, :, pos]
    guess = np.concatenate([last] * h, axis=-1)
    return float(np.mean(((y - guess) / np.tile(tstd, h)) ** 2))


def load_csv_dataset(
    cfg,
    *,
    dtype,
    base_dir: Path | None = None,
    fitted: TaskInfo | None = None,
    split: bool = True,
    stdin: IO | None = None,
) -> DataBundle:
    """Load cfg.source as a CSV series and return standardised train/val windows."""
    names, values, name = read_csv_series(cfg.source, cfg, base_dir=base_dir, stdin=stdin)
    in_idx = select_columns(names, values.shape[1], cfg.input_columns, name, "data.input_columns")
    tgt_idx = (
        in_idx if cfg.target_columns is None
        else select_columns(names, values.shape[1], cfg.target_columns, name,
                            "data.target_columns")
    )
    w, h, stride = cfg.window or cfg.seq_len, cfg.horizon, cfg.stride
    if values.shape[0] < w + h:
        raise DataError(
            f"{name}: window {w} + horizon {h} needs at least {w + h} rows, the series has "
            f"{values.shape[0]}"
        )
    X, y = make_windows(values[:, in_idx], values[:, tgt_idx], w, h, stride, cfg.output)
    n = X.shape[0]
    n_val = int(n * cfg.val_fraction) if split else 0
    n_train = n - n_val
    if n_train < 1:
        raise DataError(f"{name}: only {n} window(s); lower data.val_fraction or the window")
    if fitted is not None:
        if fitted.input_size != len(in_idx):
            raise DataError(
                f"{name}: {len(in_idx)} input columns but the model expects {fitted.input_size}"
            )
        if fitted.output_size != y.shape[-1]:
            raise DataError(
                f"{name}: {y.shape[-1]} targets per window (horizon x target columns) but the "
                f"model outputs {fitted.output_size}"
            )
        scaler = fitted.scaler
    elif cfg.standardize is False:
        scaler = None
    else:
        rows = values[: (n_train - 1) * stride + w + h]  # the rows training windows touch
        im, istd = column_stats(rows[:, in_idx])
        tm, tstd = column_stats(rows[:, tgt_idx])
        scaler = {"input_mean": im, "input_std": istd, "target_mean": tm, "target_std": tstd}
    cols = None
    if names is not None:
        cols = {"input": [names[j] for j in in_idx], "target": [names[j] for j in tgt_idx]}
    task = TaskInfo(len(in_idx), y.shape[-1], cfg.output, "mse", "regression",
                    scaler=scaler, seq_len=w, columns=cols)
    ref = slice(n_train, n) if n_val else slice(0, n_train)
    tstd = np.asarray(scaler["target_std"]) if scaler and "target_std" in scaler else np.ones(
        len(tgt_idx))
    lv = _last_value_mse(X[ref], y[ref], in_idx, tgt_idx, h, cfg.output, tstd)
    ys = scale_targets(y[ref], scaler)
    task.baselines = {"mean_mse": float(np.mean((ys - ys.reshape(-1, ys.shape[-1]).mean(0)) ** 2))}
    if lv is not None:
        task.baselines["last_value_mse"] = lv
    Xs = scale_inputs(X, scaler).astype(dtype, copy=False)
    ys = scale_targets(y, scaler).astype(dtype, copy=False)
    train = SequenceData(Xs[:n_train], ys[:n_train])
    val = SequenceData(Xs[n_train:], ys[n_train:]) if n_val else None
    return DataBundle(train, val, task)
