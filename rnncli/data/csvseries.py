"""A CSV time series (rows = time steps, columns = features) cut into forecasting windows.

Window n starts at row s = n * stride: X[n] = inputs[s : s+W] (W, I). For output "last",
y[n] = targets[s+W : s+W+h] flattened to (h*C,) (step-major: all C columns of the next step,
then of the one after). For "sequence", y[n, t] = targets[s+t+1 : s+t+1+h] flattened, (W, h*C).
Train and validation are split by position (the last windows validate), and the scaler is
fitted on the rows the training windows cover, so no statistic sees the validation future.
Columns (index, inputs, targets, ignored text) are chosen by `csvtable.choose_columns`.
With data.seq_len (and data.window) unset, a series of fewer than 250 rows gets windows of a
fifth of its rows (`fitting_window`, with one warning); training writes the chosen length into
the run's config.yaml.

A test series scored on its own gives no forecast for its first W rows (they are the first
window's context); `context` (the training series) lends its last W rows, so every row of the
test file is a target.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view as swv

from rnncli.data.checks import check_alloc, check_folds
from rnncli.data.csvtable import Columns, choose_columns, has_header, parse_cells
from rnncli.data.forecast import forecast_plan, seasonal_baseline
from rnncli.data.readers import cell_lines, read_source_bytes
from rnncli.data.scaling import column_stats, log_values, scale_inputs, scale_targets
from rnncli.data.types import DataBundle, SequenceData, TaskInfo
from rnncli.errors import DataError
from rnncli.notices import warn
from rnncli.wording import plural

# data.seq_len's default; a series shorter than WINDOW_ROWS of them gets a fifth of its rows.
DEFAULT_WINDOW = 50
WINDOW_ROWS = 5


@dataclass
class Series:
    """A parsed series CSV: its columns, the used columns' values (R, U) and the index cells."""

    cols: Columns
    values: np.ndarray
    index: list[str] | None
    name: str

    def part(self, which: list[int]) -> np.ndarray:
        """Values of some used columns (positions in the file) as (R, len(which))."""
        used = self.cols.used
        return self.values[:, [used.index(j) for j in which]]


def read_csv_series(source, cfg, *, base_dir: Path | None = None, stdin: IO | None = None,
                    like: Columns | None = None, raw: tuple[bytes, str] | None = None) -> Series:
    """Parse a whole series CSV; `like` reuses another file's column choice (by name); `raw`:
    (csv bytes, name) already read (a .parquet table as csv)."""
    raw, name = raw if raw is not None else read_source_bytes(source, base_dir=base_dir, stdin=stdin)
    rows = list(cell_lines(raw, name, cfg.delimiter))
    if not rows:
        raise DataError(f"{name}: no data rows")
    header = has_header(rows[0][1], rows[1][1] if len(rows) > 1 else None, cfg.header)
    names, data = (rows[0][1], rows[1:]) if header else (None, rows)
    if not data:
        raise DataError(f"{name}: no data rows (only a header)")
    if names is not None and len(names) != len(data[0][1]):
        raise DataError(f"{name}: line {data[0][0]} has {len(data[0][1])} columns, the header "
                        f"has {len(names)}")
    cols = choose_columns(names, data[0][1], cfg, name, data[0][0]) if like is None else _same_columns(
        like, names, len(data[0][1]), name)
    ncol = len(data[0][1])
    values = np.vstack([parse_cells(cells, cols, ncol, line, name) for line, cells in data])
    index = None if cols.index is None else [cells[cols.index] for _, cells in data]
    return Series(cols, values, index, name)


def _same_columns(like: Columns, names: list[str] | None, ncol: int, name: str) -> Columns:
    """The columns `like` chose, found in another file by header name (or position)."""
    if like.names is None or names is None:
        if max([*like.used, like.index or 0]) >= ncol:
            raise DataError(f"{name}: has {ncol} columns, fewer than the training series; "
                            "without a header they are matched by position")
        return Columns(names, like.index, like.inputs, like.targets)

    def find(j: int) -> int:
        if like.names[j] not in names:
            raise DataError(f"{name}: no column {like.names[j]!r} (the training series has it)")
        return names.index(like.names[j])

    index = None if like.index is None else find(like.index)
    return Columns(names, index, [find(j) for j in like.inputs], [find(j) for j in like.targets])


def make_windows(
    inp: np.ndarray, tgt: np.ndarray, w: int, h: int, stride: int, output: str
) -> tuple[np.ndarray, np.ndarray]:
    """Forecasting windows from inputs (R, I) and targets (R, C); see the module docstring."""
    r = inp.shape[0]
    starts = np.arange(0, r - w - h + 1, min(stride, max(r, 1)))  # a stride past the end: one window
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


def csv_baselines(X: np.ndarray, y: np.ndarray, cols: Columns, h: int, output: str) -> dict:
    """MSE in original units of predicting the targets' mean, and of repeating each target
    column's latest observed value (when the targets are inputs too)."""
    flat = y.reshape(-1, y.shape[-1])
    out = {"mean_mse": float(np.mean((flat - flat.mean(axis=0)) ** 2))}
    if set(cols.targets) <= set(cols.inputs):
        pos = [cols.inputs.index(j) for j in cols.targets]
        last = X[:, -1, pos] if output == "last" else X[:, :, pos]
        out["last_value_mse"] = float(np.mean((y - np.concatenate([last] * h, axis=-1)) ** 2))
    return out


def _check_fitted(fitted: TaskInfo, cols: Columns, width: int, name: str) -> None:
    if fitted.input_size != len(cols.inputs):
        raise DataError(
            f"{name}: {len(cols.inputs)} input columns but the model expects {fitted.input_size}")
    if fitted.output_size != width:
        raise DataError(f"{name}: {width} targets per window (horizon x target columns) but the "
                        f"model outputs {fitted.output_size}")


def _scaler(series: Series, cfg, rows: np.ndarray, changes: np.ndarray | None) -> dict | None:
    """Statistics of the rows the training windows touch (`rows`, a boolean mask); for change
    targets, of the changes (N, h*C) of the training windows."""
    if not cfg.standardize:
        return None
    im, istd = column_stats(series.part(series.cols.inputs)[rows])
    c = len(series.cols.targets)
    tm, tstd = column_stats(series.part(series.cols.targets)[rows] if changes is None
                            else changes.reshape(-1, c))
    return {"input_mean": im, "input_std": istd, "target_mean": tm, "target_std": tstd}


def split_windows(n: int, cfg, split: bool, w: int, h: int) -> tuple[np.ndarray, np.ndarray]:
    """(train, val) window indices: the last data.val_fraction of the windows validate; with
    data.fold [i, k], the i-th of k contiguous blocks validates and the windows just after it,
    whose inputs would hold its targets, are left out (blocked cross-validation)."""
    if not split:
        return np.arange(n), np.arange(0)
    if cfg.fold is None:
        n_val = int(n * cfg.val_fraction)
        return np.arange(n - n_val), np.arange(n - n_val, n)
    i, k = cfg.fold
    check_folds(cfg.fold, n // 2, plural(n, "window"))  # a block and the windows after it
    val = np.array_split(np.arange(n), k)[i]
    gap = -(-(w + h) // cfg.stride)  # windows after the block that read its rows
    keep = (np.arange(n) < val[0]) | (np.arange(n) > val[-1] + gap)
    return np.flatnonzero(keep), val


def _rows_of(starts: np.ndarray, rows: int, span: int) -> np.ndarray:
    """(R,) bool: the rows windows starting at `starts` and `span` rows long touch."""
    edges = np.zeros(rows + 1, np.int64)
    np.add.at(edges, starts, 1)
    np.add.at(edges, np.minimum(starts + span, rows), -1)
    return np.cumsum(edges[:-1]) > 0


def _columns_meta(cols: Columns) -> dict:
    """Column names by role; {} for a headerless series without an index (still a csv series:
    `rnn predict --context` asks `task.columns is not None`)."""
    meta: dict = {}
    if cols.names is not None:
        meta = {"input": [cols.names[j] for j in cols.inputs],
                "target": [cols.names[j] for j in cols.targets]}
    if cols.index is not None:
        meta["index"] = [cols.names[cols.index] if cols.names else "index"]
        meta["index_position"] = [str(cols.index)]
    return meta


def _with_context(series: Series, cfg, base_dir, context, w: int) -> Series:
    """`series` after the last w rows of the `context` series (the same columns)."""
    ctx = read_csv_series(context, cfg, base_dir=base_dir, like=series.cols)
    if len(ctx.values) < w:
        raise DataError(f"{ctx.name}: --context needs at least the window's {w} rows, it has "
                        f"{len(ctx.values)}")
    index = None if series.index is None else [*(ctx.index or [""] * w)[-w:], *series.index]
    return Series(series.cols, np.vstack([ctx.values[-w:], series.values]), index, series.name)


def fitting_window(rows: int, h: int, name: str) -> int:
    """The window for a series whose length the user did not set: the default (data.seq_len's 50)
    when the series has at least WINDOW_ROWS windows' worth of rows, else a fifth of its rows, so
    that short series (yearly data: 40-150 points) still give tens of training windows."""
    if rows >= WINDOW_ROWS * DEFAULT_WINDOW + h:
        return DEFAULT_WINDOW
    w = max(1, (rows - h) // WINDOW_ROWS)
    if rows >= w + h + 1:  # else the caller's error names data.seq_len
        warn(f"{name}: {rows} rows: windows of {w} steps instead of {DEFAULT_WINDOW} (a fifth of the "
             "series); set data.seq_len to choose")
    return w


def _baselines(raw: Series, X: np.ndarray, y: np.ndarray, starts: np.ndarray, ref: np.ndarray,
               fit: np.ndarray, cfg, w: int, h: int, fitted: TaskInfo | None) -> dict:
    """Baselines of the windows `ref` (X, y in original units), in original units: the mean,
    persistence (last_value_mse) and, with a season (data.season, else detected on the training
    rows `fit`), seasonal_naive_mse (seasonal_period says which)."""
    out = csv_baselines(X[ref], y[ref], raw.cols, h, cfg.output)
    if cfg.output != "last":
        return out
    season = cfg.season
    if fitted is None:  # training: the season was asked for this series (eval may read a shorter one)
        _check_season(season, starts[ref], w)
    if season is None and fitted is not None:
        season = int(fitted.baselines.get("seasonal_period", 0)) or None
    targets = raw.part(raw.cols.targets)
    out.update(seasonal_baseline(targets, starts[ref], w, h, season, targets[fit]))
    return out


def _check_season(season: int | None, starts: np.ndarray, w: int) -> None:
    """A data.season the series cannot look back (its seasonal-naive baseline, what the season is
    for, was once left out without a word): the first forecast row of the windows compared,
    starts[0] + w, must lie at least a season into the series."""
    if season is not None and len(starts) and season > starts.min() + w:
        raise DataError(f"data.season {season}: the series' first compared forecast is row "
                        f"{starts.min() + w}, so a season can be at most {starts.min() + w} rows "
                        "(lower data.season, or leave it unset to detect one)")


def _window(cfg, fitted: TaskInfo | None, rows: int, name: str) -> int:
    """data.window or data.seq_len when set; else the training window (a validation or test
    series of a fitted model), or one that fits the series (training)."""
    w = cfg.window or cfg.seq_len
    if {"window", "seq_len"} & cfg.model_fields_set:
        return w
    return fitted.seq_len or w if fitted is not None else fitting_window(rows, cfg.horizon, name)


def _planned(X: np.ndarray, y: np.ndarray, forecast: dict | None, h: int, name: str):
    """Windows (X, y) as the forecast plan models them: logs, targets as changes from the last
    value (a residual on the persistence forecast)."""
    if forecast and forecast["transform"] == "log":
        X, y = log_values(X, name), log_values(y, name)
    if forecast and forecast["target"] == "change":
        y = y - np.tile(X[:, -1, forecast["last"]], h)
    return X, y


def load_csv_dataset(
    cfg,
    *,
    dtype,
    base_dir: Path | None = None,
    fitted: TaskInfo | None = None,
    split: bool = True,
    stdin: IO | None = None,
    context: str | None = None,
    raw: tuple[bytes, str] | None = None,
) -> DataBundle:
    """Load cfg.source as a CSV series and return standardised train/val windows.

    context: a CSV series whose last W rows come before cfg.source (eval on a test series).
    raw: (csv bytes, name) already read, instead of reading cfg.source.
    """
    series = read_csv_series(cfg.source, cfg, base_dir=base_dir, stdin=stdin, raw=raw)
    cols, name = series.cols, series.name
    h = cfg.horizon
    w = _window(cfg, fitted, len(series.values), name)
    if context is not None:
        series = _with_context(series, cfg, base_dir, context, w)
    if len(series.values) < w + h:
        raise DataError(f"{name}: window {w} + horizon {h} needs at least {w + h} rows, the series "
                        f"has {len(series.values)}; lower data.seq_len")
    X, y = make_windows(series.part(cols.inputs), series.part(cols.targets), w, h, cfg.stride,
                        cfg.output)
    n = X.shape[0]
    starts = np.arange(0, len(series.values) - w - h + 1, min(cfg.stride, max(len(series.values), 1)))
    tr, va = split_windows(n, cfg, split, w, h)
    if len(tr) < 1:
        raise DataError(f"{name}: only {n} window(s); lower data.val_fraction or the window")
    fit = _rows_of(starts[tr], len(series.values), w + h)  # the rows training windows touch
    forecast = fitted.forecast if fitted is not None else forecast_plan(cfg, cols, name,
                                                                        series.values[fit])
    baselines = _baselines(series, X, y, starts, va if len(va) else tr, fit, cfg, w, h, fitted)
    if fitted is not None:
        _check_fitted(fitted, cols, y.shape[-1], name)
    X, y = _planned(X, y, forecast, h, name)
    changes = y[tr] if forecast and forecast["target"] == "change" else None
    logged = series
    if forecast and forecast["transform"] == "log":  # every row a training window reads is > 0
        logged = Series(cols, np.log(np.where(series.values > 0, series.values, 1.0)), None, name)
    scaler = fitted.scaler if fitted is not None else _scaler(logged, cfg, fit, changes)
    task = TaskInfo(len(cols.inputs), y.shape[-1], cfg.output, "mse", "regression",
                    scaler=scaler, seq_len=w, columns=_columns_meta(cols), forecast=forecast)
    task.baselines = baselines
    Xs = scale_inputs(X, scaler).astype(dtype, copy=False)
    ys = scale_targets(y, scaler).astype(dtype, copy=False)
    train = SequenceData(Xs[tr], ys[tr])
    val = SequenceData(Xs[va], ys[va]) if len(va) else None
    return DataBundle(train, val, task)
