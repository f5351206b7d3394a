"""Forecasting a csv series: changes from the last value, logs, the naive baselines and the
warning when a model is worse than them."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_error, rnn

from rnncli.data import DataConfig, load_dataset
from rnncli.data.forecast import detect_season, seasonal_naive_mse
from rnncli.training.evaluation import worse_than_naive

TINY = ["--set", "model.hidden_size=4", "--set", "train.epochs=1"]


def warnings(res) -> list[str]:
    return [ln for ln in res.stderr.splitlines() if ln.startswith("rnn: warning: ")]


def monthly(tmp_path, n=120, name="m.csv"):
    t = np.arange(n)
    v = 100 + t + 20 * np.sin(2 * np.pi * t / 12)
    (tmp_path / name).write_text("v\n" + "".join(f"{float(x)!r}\n" for x in v))
    return tmp_path / name


def test_a_twelve_month_season_is_detected_and_scored(tmp_path):
    path = monthly(tmp_path)
    assert detect_season(np.loadtxt(path, skiprows=1)) == 12
    b = load_dataset(DataConfig(source=str(path), seq_len=24), seed=0)
    assert b.task.baselines["seasonal_period"] == 12
    # trend of 1 per month: a season back is 12 too low, squared 144
    assert b.task.baselines["seasonal_naive_mse"] == pytest.approx(144.0)
    given = load_dataset(DataConfig(source=str(path), seq_len=24, season=6), seed=0)
    assert given.task.baselines["seasonal_period"] == 6


def test_noise_has_no_season():
    assert detect_season(np.random.default_rng(0).normal(size=200).cumsum()) is None


def test_seasonal_naive_needs_a_season_of_history():
    v = np.arange(10.0)[:, None]
    assert seasonal_naive_mse(v, np.array([0]), 2, 1, 3) is None  # row 2 - 3 < 0
    assert seasonal_naive_mse(v, np.array([1, 2]), 2, 2, 3) == pytest.approx(9.0)


def test_worse_than_naive_names_each_baseline_beaten():
    base = {"last_value_mse": 2.0, "seasonal_naive_mse": 1.0, "seasonal_period": 12.0}
    assert worse_than_naive(0.5, base) is None
    one = worse_than_naive(1.5, base)
    assert "seasonal naive (period 12) 1" in one and "persistence" not in one
    assert "persistence (the last value) 2" in worse_than_naive(3.0, base)
    assert worse_than_naive(3.0, {"mean_mse": 1.0}) is None  # not a forecast: no naive baseline


def test_train_and_eval_warn_once_when_worse_than_persistence(tmp_path):
    path = monthly(tmp_path)
    out = tmp_path / "r"
    res = rnn("train", "--set", f"data.source={path}", "--set", "data.forecast=level", *TINY,
              "--out", str(out))
    assert res.exit_code == 0, res.stderr
    lines = [w for w in warnings(res) if "worse than the naive forecast" in w]
    assert len(lines) == 1 and "persistence (the last value)" in lines[0]
    assert "baseline seasonal_naive_mse:" in res.stderr
    ev = rnn("eval", str(out), "--json")
    assert ev.exit_code == 0
    assert len([w for w in warnings(ev) if "worse than the naive forecast" in w]) == 1


def test_predict_and_eval_speak_original_units_for_a_log_change_model(tmp_path):
    path = monthly(tmp_path)
    out = tmp_path / "r"
    res = rnn("train", "--set", f"data.source={path}", "--set", "data.transform=log", *TINY,
              "--out", str(out), "--json")
    assert res.exit_code == 0, res.stderr
    pred = rnn("predict", str(out), str(path))
    rows = [r.split(",") for r in pred.stdout.splitlines()[1:]]
    truth = np.loadtxt(path, skiprows=1)
    w = (len(truth) - 1) // 5  # the window chosen for a short series
    assert int(rows[0][0]) == w and len(rows) == len(truth) - w + 1  # the last is past the end
    values = np.array([float(v) for _, v in rows[:-1]])
    assert np.abs(values - truth[w:]).max() < 40  # near the series, not near its logs
    ev = rnn("eval", str(out), "--data", str(path), "--json")
    assert ev.exit_code == 0, ev.stderr
    assert '"mse"' in ev.stdout


def test_export_refuses_a_model_whose_outputs_are_changes(tmp_path):
    path = monthly(tmp_path)
    out = tmp_path / "r"
    assert rnn("train", "--set", f"data.source={path}", *TINY, "--out", str(out)).exit_code == 0
    res = rnn("export", out, "-o", tmp_path / "m.pt", "-f", "torch")
    assert_error(res, 2, "changes from the last value", absent=[tmp_path / "m.pt"])


def test_auto_takes_logs_of_a_positive_series_spanning_a_factor_of_two(tmp_path):
    grows = monthly(tmp_path, 120, "grows.csv")  # 100 .. 230
    (tmp_path / "flat.csv").write_text("v\n" + "".join(f"{300 + (i % 12)}\n" for i in range(120)))
    (tmp_path / "zero.csv").write_text("v\n" + "".join(f"{i % 12}\n" for i in range(120)))
    f = [load_dataset(DataConfig(source=str(p), seq_len=24), seed=0).task.forecast
         for p in (grows, tmp_path / "flat.csv", tmp_path / "zero.csv")]
    assert [x["transform"] for x in f] == ["log", "none", "none"]
    given = load_dataset(DataConfig(source=str(grows), seq_len=24, transform="none"), seed=0)
    assert given.task.forecast["transform"] == "none"


def test_weights_meta_with_a_malformed_forecast_plan_is_refused():
    from rnncli.core.model import ModelSpec
    from rnncli.data import TaskInfo
    from rnncli.data.taskmeta import task_problem

    spec = ModelSpec(1, 4, 1, 1, "tanh", "last")
    good = {"transform": "log", "target": "change", "last": [0]}
    assert task_problem(TaskInfo(1, 1, forecast=good), spec) is None
    for bad in ({"transform": "sqrt", "target": "change", "last": [0]},
                {"transform": "none", "target": "change", "last": [3]}, [1]):
        assert "forecast must be" in task_problem(TaskInfo(1, 1, forecast=bad), spec)
