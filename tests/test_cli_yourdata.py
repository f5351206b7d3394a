"""`rnn` on data as users bring it: text labels, channels-first panels, a run's best weights."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import assert_error, rnn

TINY = ["--set", "train.epochs=3", "--set", "model.hidden_size=6", "--set", "train.batch_size=8"]


@pytest.fixture(scope="module")
def panel(tmp_path_factory):
    """A channels-first (N, C, T) panel with text labels, and a run trained on it."""
    d = tmp_path_factory.mktemp("panel")
    rng = np.random.default_rng(0)
    y = np.array(["low", "high"] * 12)
    X = rng.normal(0, 0.3, (24, 2, 9)) + np.where(y == "high", 1.0, -1.0)[:, None, None]
    np.savez(d / "train.npz", X=X, y=y)
    np.savez(d / "test.npz", X=X[:6], y=y[:6])
    res = rnn("train", "--set", f"data.source={d / 'train.npz'}", "--set", "data.layout=NCT",
              *TINY, "--out", str(d / "run"))
    assert res.exit_code == 0, res.stderr
    return d


def test_train_predict_eval_speak_the_original_labels(panel):
    res = rnn("predict", str(panel / "run"), str(panel / "test.npz"), "--proba")
    assert res.exit_code == 0, res.stderr
    rows = res.stdout.splitlines()
    assert rows[0] == "label,p_high,p_low"
    assert {r.split(",")[0] for r in rows[1:]} <= {"high", "low"} and len(rows) == 7
    assert "weights: " in res.stderr and "best.npz" in res.stderr
    ev = rnn("eval", str(panel / "run"), "--data", str(panel / "test.npz"), "--json")
    assert ev.exit_code == 0, ev.stderr
    pc = json.loads(ev.stdout)["per_class"]
    assert pc["classes"] == ["high", "low"] and pc["support"] == [3, 3]
    assert np.sum(pc["confusion"]) == 6
    table = rnn("eval", str(panel / "run"), "--data", str(panel / "test.npz"))
    assert "confusion" in table.stderr and table.stdout == ""


def test_unseen_label_at_eval_is_one_error_line(panel):
    np.savez(panel / "odd.npz", X=np.zeros((2, 2, 9)), y=np.array(["low", "medium"]))
    res = rnn("eval", str(panel / "run"), "--data", str(panel / "odd.npz"))
    assert res.exit_code == 2 and res.stdout == ""
    errors = [ln for ln in res.stderr.splitlines() if ln.startswith("rnn: error: ")]
    assert len(errors) == 1
    assert "odd.npz: key 'y' has label 'medium' at index [1], which the model never saw" in errors[0]


def test_run_dir_means_best_weights_and_model_npz_the_final(panel):
    best = rnn("info", str(panel / "run"), "--json")
    final = rnn("info", str(panel / "run" / "model.npz"), "--json")
    assert best.exit_code == final.exit_code == 0
    assert "best.npz (best validation loss" in best.stderr
    assert "weights:" not in final.stderr
    assert json.loads(final.stdout)["epoch"] == 3
    assert json.loads(final.stdout)["task"]["classes"] == ["high", "low"]
    assert "2 classes (high, low)" in rnn("info", str(panel / "run")).stderr
    records = [json.loads(r) for r in (panel / "run" / "metrics.jsonl").read_text().splitlines()]
    best_epoch = min(records, key=lambda r: r["val_loss"])["epoch"]
    assert json.loads(best.stdout)["epoch"] == best_epoch


def test_channels_first_warning_is_one_stderr_line(tmp_path):
    np.savez(tmp_path / "g.npz", X=np.random.default_rng(0).normal(size=(16, 2, 12)),
             y=np.arange(16) % 2)
    res = rnn("train", "--set", f"data.source={tmp_path / 'g.npz'}", *TINY,
              "--set", "train.epochs=1", "--out", str(tmp_path / "r"), "--json")
    assert res.exit_code == 0, res.stderr
    warnings = [ln for ln in res.stderr.splitlines() if ln.startswith("rnn: warning: ")]
    assert len(warnings) == 1 and "data.layout: NCT" in warnings[0]
    assert "rnn: warning" not in res.stdout
    json.loads(res.stdout)


def _one_error(res, needle: str) -> None:
    assert res.exit_code == 2 and res.stdout == "", (res.exit_code, res.stderr)
    errors = [ln for ln in res.stderr.splitlines() if ln.startswith("rnn: error: ")]
    assert len(errors) == 1 and needle in errors[0], res.stderr


def test_one_step_panel_is_an_error_naming_both_layouts_even_quiet(tmp_path):
    np.savez(tmp_path / "g.npz", X=np.zeros((16, 1, 12)), y=np.arange(16) % 2)
    res = rnn("-q", "train", "--set", f"data.source={tmp_path / 'g.npz'}", "--out", tmp_path / "r")
    assert_error(res, 2, "shape [16, 1, 12]: ambiguous", "data.layout: NTC", "data.layout: NCT",
                 absent=[tmp_path / "r"])


def test_bad_forms_are_one_error_line(panel, tmp_path):
    _one_error(rnn("train", "--set", f"data.source={panel / 'train.npz'}", "--set", "data.val_source=-",
                   "--out", str(tmp_path / "r")),
               "data.val_source must be a file ('-' is the training data's stdin)")
    _one_error(rnn("eval", str(panel / "run"), "--context", str(panel / "train.npz")),
               "--context goes with --data (the test series it precedes)")
    _one_error(rnn("predict", str(panel / "run"), str(panel / "test.npz"), "--context",
                   str(panel / "train.npz")), "--context applies to csv series, not .npz input")
    _one_error(rnn("train", "--set", f"data.source={panel / 'train.npz'}", "--set", "data.layout=NCHW",
                   "--out", str(tmp_path / "r2")), "data.layout")
