"""Forecasting a series so that it does not lose to the naive forecast: the plan of what the model
predicts (`forecast_plan`: changes from the last value, logs) and the naive baselines it is
compared with (persistence in csvseries.csv_baselines; the seasonal naive forecast here, with
the season detected from the training rows when data.season is unset).

Measured on the README benchmark's seven public series: predicting the change from the last
value instead of the value took test MSE from 0.75-677x persistence to 0.33-1.03x; logs
of positive series spanning a factor of 2 or more took airline 0.23 -> 0.19, shampoo
1.03 -> 0.89, GDP 0.69 -> 0.64 and left the others within noise.
"""

from __future__ import annotations

import numpy as np

from rnncli.data.csvtable import Columns
from rnncli.errors import DataError

# Autocorrelation (of the differenced series) at which a peak counts as a season.
SEASON_ACF = 0.3
# data.transform auto takes logs of a positive series whose largest value is this many times its
# smallest (measured: airline, shampoo, GDP gain; CO2 at 1.2 loses, see README's benchmark).
LOG_RATIO = 2.0


def detect_season(values: np.ndarray) -> int | None:
    """The seasonal period of a series (R,): the lag in [2, R // 3] where the autocorrelation
    of its first differences (the trend removed) peaks, when that peak is at least SEASON_ACF;
    None when the series shows no season."""
    d = np.diff(values.astype(np.float64))
    d = d - d.mean()
    top = len(d) // 3
    if top < 2 or not np.any(d):
        return None
    acf = np.correlate(d, d, "full")[len(d) - 1:] / np.dot(d, d)
    lags = np.arange(2, top + 1)
    peaks = lags[(acf[lags] >= acf[lags - 1]) & (acf[lags] >= acf[np.minimum(lags + 1, len(d) - 1)])]
    if not len(peaks):
        return None
    best = int(peaks[np.argmax(acf[peaks])])
    return best if acf[best] >= SEASON_ACF else None


def seasonal_naive_mse(values: np.ndarray, starts: np.ndarray, w: int, h: int, p: int) -> float | None:
    """MSE of forecasting row r by row r - p (the same time a season earlier; r - 2p for steps
    past the first season) over the windows starting at `starts`; values (R, C) in original
    units. None when the windows start too early to look a season back."""
    k = np.arange(h)
    rows = starts[:, None] + w + k[None, :]  # (N, h) rows forecast
    back = rows - p * (k // p + 1)[None, :]
    if len(starts) == 0 or back.min() < 0:
        return None
    return float(np.mean((values[rows] - values[back]) ** 2))


def wants_logs(values: np.ndarray) -> bool:
    """Whether a series (R, C) is best modelled in logs: every value positive and, in every
    column, the largest at least LOG_RATIO times the smallest. Such series (counts, sales,
    prices, GDP) change in proportion to their level; in logs trend and season are additive
    and the changes homogeneous. Near-constant levels (CO2 ppm, ratio 1.2) stay as they are."""
    if not len(values) or not (values > 0).all():
        return False
    return bool((values.max(axis=0) >= LOG_RATIO * values.min(axis=0)).all())


def forecast_plan(cfg, cols: Columns, name: str, train_rows: np.ndarray) -> dict | None:
    """TaskInfo.forecast for data.forecast / data.transform (None: plain values); `train_rows`
    (R, U): the used columns' values of the rows the training windows touch."""
    can = cfg.output == "last" and set(cols.targets) <= set(cols.inputs)
    mode = cfg.forecast
    if mode == "auto":
        mode = "change" if can else "level"
    elif mode == "change" and not can:
        raise DataError(f"{name}: data.forecast: change needs data.output: last and target columns "
                        "that are inputs too (the change is from their last value)")
    transform = cfg.transform
    if transform == "auto":
        transform = "log" if wants_logs(train_rows) else "none"
    if mode == "level" and transform == "none":
        return None
    last = [cols.inputs.index(j) for j in cols.targets] if mode == "change" else []
    return {"transform": transform, "target": mode, "last": last}


def seasonal_baseline(targets: np.ndarray, starts: np.ndarray, w: int, h: int, season: int | None,
                      fit_rows: np.ndarray) -> dict:
    """{"seasonal_naive_mse", "seasonal_period"} of the windows at `starts` (targets (R, C) in
    original units), with `season` or the one detected in the training rows `fit_rows` (F, C);
    {} when there is none or the windows cannot look a season back."""
    p = season or detect_season(fit_rows[:, 0])
    mse = seasonal_naive_mse(targets, starts, w, h, p) if p else None
    return {} if mse is None else {"seasonal_naive_mse": mse, "seasonal_period": float(p)}
