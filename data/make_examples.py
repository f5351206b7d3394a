"""Recreate data/series.csv, the example time series the shipped configs use.

Run from the repo root: python data/make_examples.py (seeded: the output is identical each time).
A synthetic hourly series: a daily cycle (period 24), a slower weekly swing, a gentle trend
and noise, plus a temperature column that follows the daily cycle with a lag.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def main() -> None:
    rng = np.random.default_rng(2024)
    n = 1200
    t = np.arange(n)
    daily = np.sin(2 * np.pi * t / 24)
    weekly = 0.5 * np.sin(2 * np.pi * t / 168 + 1.0)
    load = 10 + 3 * daily + 2 * weekly + 0.002 * t + 0.3 * rng.standard_normal(n)
    temp = 15 + 6 * np.sin(2 * np.pi * (t - 3) / 24) + 0.5 * rng.standard_normal(n)
    lines = ["load,temperature"] + [f"{a:.3f},{b:.2f}" for a, b in zip(load, temp, strict=True)]
    out = Path(__file__).with_name("series.csv")
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
