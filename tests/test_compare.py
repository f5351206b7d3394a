"""Run comparison: only differing config keys, best metric in the right direction, CLI table/JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import rnn

from rnncli.errors import UsageError
from rnncli.tools.compare import compare_runs, flatten
from rnncli.training.rundir import append_metrics, write_run_json


def _fake_run(d: Path, lr: float, accs: list[float], *, metric: str = "accuracy") -> Path:
    d.mkdir(parents=True)
    (d / "config.yaml").write_text(f"seed: 0\ndata:\n  source: frequency\ntrain:\n  lr: {lr}\n  epochs: 3\n")
    for i, a in enumerate(accs, 1):
        append_metrics(d, {"epoch": i, "loss": 1.0 / i, "val_loss": 1.0 / i + 0.1, f"val_{metric}": a,
                           "seconds": 0.5})
    write_run_json(d, {"status": "completed", "summary": {"baselines": {"majority_accuracy": 0.25},
                                                          "seconds": 2.25}})
    return d


def test_flatten():
    assert flatten({"a": {"b": 1, "c": {"d": [1, 2]}}, "e": None, "f": {}}) == {
        "a.b": 1, "a.c.d": [1, 2], "e": None, "f": {}}


def test_compare_lists_differences_and_best(tmp_path):
    a = _fake_run(tmp_path / "a", 0.001, [0.5, 0.9, 0.8])
    b = _fake_run(tmp_path / "b", 0.01, [0.6, 0.7, 0.95])
    r = compare_runs([a, b])
    assert r["differences"] == ["train.lr"]
    # the epoch training kept (lowest val_loss: the last here), and its accuracy -- not the epoch
    # of the highest accuracy, which best.npz does not hold
    assert [x["best"] for x in r["runs"]] == [0.8, 0.95]
    assert [x["best_epoch"] for x in r["runs"]] == [3, 3]
    assert r["runs"][0]["epoch_seconds"] == pytest.approx(1.5) and r["runs"][0]["epochs"] == 3
    assert r["runs"][0]["seconds"] == pytest.approx(2.25)  # the summary's wall-clock
    assert r["columns"] == ["run", "train.lr", "best val accuracy", "best epoch", "best val loss", "epochs",
                            "seconds", "status"]
    assert r["rows"][1] == [str(b), 0.01, 0.95, 3, pytest.approx(1 / 3 + 0.1), 3, 2.2, "completed"]


def test_lower_is_better_for_mse_and_mixed_metrics_are_labelled(tmp_path):
    a = _fake_run(tmp_path / "a", 0.001, [0.5, 0.2, 0.3], metric="mse")
    b = _fake_run(tmp_path / "b", 0.001, [0.9, 0.95, 0.97])
    r = compare_runs([a, b])
    assert r["runs"][0]["best"] == 0.3 and r["runs"][0]["metric"] == "mse"  # at the best val_loss
    assert "best val metric" in r["columns"]
    assert r["rows"][0][r["columns"].index("best val metric")] == "mse 0.3"
    assert r["differences"] == []


def test_not_a_run_dir(tmp_path):
    with pytest.raises(UsageError, match=f"{tmp_path}: not a run directory"):
        compare_runs([tmp_path])
    with pytest.raises(UsageError, match="at least one run directory"):
        compare_runs([])


def test_cli(tmp_path):
    a = _fake_run(tmp_path / "a", 0.001, [0.5, 0.9, 0.8])
    b = _fake_run(tmp_path / "b", 0.01, [0.6, 0.7, 0.95])
    res = rnn("compare", str(a), str(b), "--json")
    assert res.exit_code == 0, res.stderr
    assert json.loads(res.stdout)["differences"] == ["train.lr"]
    res = rnn("compare", str(a), str(b))
    assert res.exit_code == 0 and res.stdout == ""
    assert "best val accuracy" in res.stderr and "0.95" in res.stderr
    res = rnn("compare", str(tmp_path / "nope"))
    assert res.exit_code == 2 and "rnn: error:" in res.stderr


def test_best_epoch_is_the_one_training_kept_not_the_first_perfect_accuracy(tmp_path):
    d = _fake_run(tmp_path / "a", 0.001, [0.5, 1.0, 1.0, 1.0])  # loss still falls after 100 %
    r = compare_runs([d])["runs"][0]
    assert r["best_epoch"] == 4 and r["best"] == 1.0


def test_ties_keep_the_first_epoch_and_no_validation_uses_the_training_loss(tmp_path):
    d = tmp_path / "a"
    d.mkdir()
    for i, loss in enumerate([0.5, 0.2, 0.2, 0.3], 1):
        append_metrics(d, {"epoch": i, "loss": loss, "val_loss": None, "seconds": 0.1})
    r = compare_runs([d])["runs"][0]
    assert r["best_epoch"] == 2 and r["seconds"] is None  # never finished: no wall-clock to show


def test_a_pruned_sweep_trial_says_pruned(tmp_path):
    d = _fake_run(tmp_path / "a", 0.001, [0.5, 0.6, 0.7])
    write_run_json(d, {"status": "completed", "sweep": {"state": "pruned", "trial": 3}})
    assert compare_runs([d])["runs"][0]["status"] == "pruned"


def test_seconds_are_the_training_calls_wall_clock(tmp_path):
    res = rnn("train", "--set", "data.source=sine", "--set", "data.num_samples=32", "--set",
              "train.epochs=2", "-q", "-o", str(tmp_path / "r"))
    assert res.exit_code == 0, res.stderr
    r = compare_runs([tmp_path / "r"])["runs"][0]
    summary = json.loads((tmp_path / "r" / "run.json").read_text())["summary"]
    assert r["seconds"] == summary["seconds"] >= r["epoch_seconds"] > 0
