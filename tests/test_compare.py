"""Run comparison: only differing config keys, best metric in the right direction, CLI table/JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_diagnose import run

from rnncli.errors import UsageError
from rnncli.tools.compare import compare_runs, flatten
from rnncli.training.rundir import append_metrics, write_run_json


def _fake_run(d: Path, lr: float, accs: list[float], *, metric: str = "accuracy") -> Path:
    d.mkdir(parents=True)
    (d / "config.yaml").write_text(f"seed: 0\ndata:\n  source: frequency\ntrain:\n  lr: {lr}\n  epochs: 3\n")
    for i, a in enumerate(accs, 1):
        append_metrics(d, {"epoch": i, "loss": 1.0 / i, "val_loss": 1.0 / i + 0.1, f"val_{metric}": a,
                           "seconds": 0.5})
    write_run_json(d, {"status": "completed", "summary": {"baselines": {"majority_accuracy": 0.25}}})
    return d


def test_flatten():
    assert flatten({"a": {"b": 1, "c": {"d": [1, 2]}}, "e": None, "f": {}}) == {
        "a.b": 1, "a.c.d": [1, 2], "e": None, "f": {}}


def test_compare_lists_differences_and_best(tmp_path):
    a = _fake_run(tmp_path / "a", 0.001, [0.5, 0.9, 0.8])
    b = _fake_run(tmp_path / "b", 0.01, [0.6, 0.7, 0.95])
    r = compare_runs([a, b])
    assert r["differences"] == ["train.lr"]
    assert [x["best"] for x in r["runs"]] == [0.9, 0.95]  # accuracy: higher is better
    assert [x["best_epoch"] for x in r["runs"]] == [2, 3]
    assert r["runs"][0]["seconds"] == pytest.approx(1.5) and r["runs"][0]["epochs"] == 3
    assert r["columns"] == ["run", "train.lr", "best val accuracy", "best epoch", "best val loss", "epochs",
                            "seconds", "status"]
    assert r["rows"][1] == [str(b), 0.01, 0.95, 3, pytest.approx(1 / 3 + 0.1), 3, 1.5, "completed"]


def test_lower_is_better_for_mse_and_mixed_metrics_are_labelled(tmp_path):
    a = _fake_run(tmp_path / "a", 0.001, [0.5, 0.2, 0.3], metric="mse")
    b = _fake_run(tmp_path / "b", 0.001, [0.9, 0.95, 0.97])
    r = compare_runs([a, b])
    assert r["runs"][0]["best"] == 0.2 and r["runs"][0]["metric"] == "mse"
    assert "best val metric" in r["columns"]
    assert r["rows"][0][r["columns"].index("best val metric")] == "mse 0.2"
    assert r["differences"] == []


def test_not_a_run_dir(tmp_path):
    with pytest.raises(UsageError, match=f"{tmp_path}: not a run directory"):
        compare_runs([tmp_path])
    with pytest.raises(UsageError, match="at least one run directory"):
        compare_runs([])


def test_cli(tmp_path):
    a = _fake_run(tmp_path / "a", 0.001, [0.5, 0.9, 0.8])
    b = _fake_run(tmp_path / "b", 0.01, [0.6, 0.7, 0.95])
    res = run("compare", str(a), str(b), "--json")
    assert res.exit_code == 0, res.stderr
    assert json.loads(res.stdout)["differences"] == ["train.lr"]
    res = run("compare", str(a), str(b))
    assert res.exit_code == 0 and res.stdout == ""
    assert "best val accuracy" in res.stderr and "0.95" in res.stderr
    res = run("compare", str(tmp_path / "nope"))
    assert res.exit_code == 2 and "rnn: error:" in res.stderr
