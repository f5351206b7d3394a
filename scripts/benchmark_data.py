"""The benchmark's datasets: public sets that install with pip (aeon, statsmodels, scikit-learn)
and load offline, written to the files a user would make.

Classification sets become .npz train/test files in the dataset's own split (channels-first X,
NaN-padded when ragged, the original labels); forecasting series become .csv files, the first
80% of the rows to train on and the last 20% to test on (scored with `--context`, so every
test row is forecast one step ahead from the rows before it). `describe` lists the settings a
user must give to describe the file (its layout, its index column), nothing else.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

TEST_FRACTION = 0.2


@dataclass
class Prepared:
    """A dataset's files and what describes them."""

    name: str
    kind: str  # "classification" | "forecast"
    train: Path
    test: Path
    describe: list[str] = field(default_factory=list)
    about: str = ""


def nan_pad(xs: list[np.ndarray]) -> np.ndarray:
    """(C, T_i) arrays -> (N, C, T_max) with NaN after each series' end (NaN padding = lengths)."""
    t = max(x.shape[1] for x in xs)
    out = np.full((len(xs), xs[0].shape[0], t), np.nan)
    for i, x in enumerate(xs):
        out[i, :, : x.shape[1]] = x
    return out


def _aeon_panel(loader: str) -> dict:
    from aeon import datasets

    parts = {}
    for part in ("train", "test"):
        X, y = getattr(datasets, loader)(split=part)
        parts[part] = (nan_pad(list(X)) if isinstance(X, list) else np.asarray(X, float), y)
    return parts


def _digits() -> dict:
    from sklearn.datasets import load_digits

    d = load_digits()
    X = d.data.reshape(-1, 8, 8).transpose(0, 2, 1)  # (N, C=8 columns, T=8 rows) channels-first
    return {"train": (X[:1000], d.target[:1000]), "test": (X[1000:], d.target[1000:])}


CLASSIFICATION = {
    "gunpoint": (lambda: _aeon_panel("load_gunpoint"), "GunPoint: 2 classes, 50/150, 150 steps"),
    "italy_power": (lambda: _aeon_panel("load_italy_power_demand"),
                    "ItalyPowerDemand: 2 classes, 67/1029, 24 steps"),
    "basic_motions": (lambda: _aeon_panel("load_basic_motions"),
                      "BasicMotions: 4 classes, 6 ch, 40/40, 100 steps"),
    "japanese_vowels": (lambda: _aeon_panel("load_japanese_vowels"),
                        "JapaneseVowels: 9 classes, 12 ch, 270/370, 7-29 steps, ragged"),
    "arrow_head": (lambda: _aeon_panel("load_arrow_head"), "ArrowHead: 3 classes, 36/175, 251 steps"),
    "pickup_gesture": (lambda: _aeon_panel("load_pickup_gesture_wiimoteZ"),
                       "PickupGestureWiimoteZ: 10 classes, 50/50, 29-361 steps, ragged"),
    "digits": (_digits, "digits (sklearn): 10 classes, 1000/797, 8 steps x 8"),
}


def _statsmodels(name: str, column: str) -> np.ndarray:
    import statsmodels.api as sm

    return np.asarray(getattr(sm.datasets, name).load_pandas().data[column], float)


def _co2_monthly() -> np.ndarray:
    """Weekly Mauna Loa CO2 (2,284 weeks, a few missing) as monthly means: 526 months."""
    import statsmodels.api as sm

    df = sm.datasets.co2.load_pandas().data
    return np.asarray(df["co2"].interpolate().resample("MS").mean().dropna(), float)


def _aeon_series(loader: str) -> np.ndarray:
    from aeon import datasets

    return np.asarray(getattr(datasets, loader)(), float).ravel()


FORECAST = {
    "airline": (lambda: _aeon_series("load_airline"), "Airline passengers: 144 months, trend, season"),
    "shampoo": (lambda: _aeon_series("load_shampoo_sales"), "Shampoo sales: 36 months, trend"),
    "lynx": (lambda: _aeon_series("load_lynx"), "Lynx trappings: 114 years, 10-year cycle"),
    "nile": (lambda: _statsmodels("nile", "volume"), "Nile flow: 100 years"),
    "sunspots": (lambda: _statsmodels("sunspots", "SUNACTIVITY"), "Sunspots: 309 years, 11-year cycle"),
    "realgdp": (lambda: _statsmodels("macrodata", "realgdp"), "US real GDP: 203 quarters, trend"),
    "co2": (_co2_monthly, "CO2 Mauna Loa: 526 months, trend, season"),
}

DATASETS = [*CLASSIFICATION, *FORECAST]


def prepare(name: str, work: Path) -> Prepared:
    """Write dataset `name`'s train and test files into `work`."""
    warnings.filterwarnings("ignore")
    if name in CLASSIFICATION:
        make, about = CLASSIFICATION[name]
        parts = make()
        paths = []
        for part in ("train", "test"):
            path = work / f"{name}_{part}.npz"
            np.savez(path, X=parts[part][0], y=parts[part][1])
            paths.append(path)
        return Prepared(name, "classification", paths[0], paths[1], ["data.layout=NCT"], about)
    make, about = FORECAST[name]
    values = make()
    cut = len(values) - int(round(TEST_FRACTION * len(values)))
    paths = []
    for part, rows in (("train", range(cut)), ("test", range(cut, len(values)))):
        path = work / f"{name}_{part}.csv"
        path.write_text("t,value\n" + "".join(f"{i},{float(values[i])!r}\n" for i in rows))
        paths.append(path)
    return Prepared(name, "forecast", paths[0], paths[1], ["data.index_column=t"], about)
