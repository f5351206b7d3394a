"""Defaults for a user who names only the data: documented defaults, adaptive epochs and patience."""

from __future__ import annotations

import math

import numpy as np
import pytest
import yaml
from conftest import rnn

from rnncli.config import load_config, uses_builtin_demo
from rnncli.core.model import ModelSpec
from rnncli.data import load_dataset, num_batches
from rnncli.training.adaptive import adapt_to_data, epoch_seconds, planned_steps
from rnncli.training.build import build_spec


def _npz(tmp_path, n=40):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", X=rng.normal(size=(n, 5, 2)), y=np.array(["a", "b"] * (n // 2)))
    return tmp_path / "d.npz"


def test_set_data_source_alone_uses_the_documented_defaults(tmp_path):
    path = _npz(tmp_path)
    cfg = load_config([], [f"data.source={path}"])
    assert (cfg.model.hidden_size, cfg.train.lr, cfg.train.epochs, cfg.name) == (64, 1e-3, 20, "d")
    assert not uses_builtin_demo([], [f"data.source={path}"])
    demo = load_config([], ["train.epochs=2"])
    assert uses_builtin_demo([], ["train.epochs=2"]) and demo.model.hidden_size == 32
    assert demo.data.source == "sine" and demo.train.epochs == 2


def test_unset_epochs_reach_min_steps_and_set_keys_are_honoured(tmp_path):
    path = _npz(tmp_path)
    cfg = load_config([], [f"data.source={path}"])
    data = load_dataset(cfg.data, seed=0, base_dir=tmp_path)
    steps = num_batches(data.train, 32)
    adapted, chosen = adapt_to_data(cfg, data)
    want = max(20, math.ceil(2000 / steps))
    assert chosen == {"epochs": want, "patience": max(10, math.ceil(0.2 * want)), "val_smoothing": 0.8}
    assert adapted.train.epochs == want
    fixed = load_config([], [f"data.source={path}", "train.epochs=3"])
    assert adapt_to_data(fixed, data) == (fixed, {})
    patient = load_config([], [f"data.source={path}", "train.patience=4", "train.min_steps=100"])
    assert adapt_to_data(patient, data)[1] == {"epochs": 50}  # 36 training rows: 2 steps/epoch
    generated = load_config([], ["data.source=sine"])
    gen = load_dataset(generated.data, seed=0)
    assert adapt_to_data(generated, gen)[1] == {}  # the generators' tasks keep their epochs


def test_train_records_the_chosen_values_and_the_demo_says_so(tmp_path):
    path = _npz(tmp_path, n=20)
    res = rnn("train", "--set", f"data.source={path}", "--set", "train.min_steps=6",
              "--set", "train.cv_folds=0",  # the holdout: 20 sequences would cross-validate
              "--set", "model.hidden_size=4", "--out", str(tmp_path / "r"))
    assert res.exit_code == 0, res.stderr
    saved = yaml.safe_load((tmp_path / "r" / "config.yaml").read_text())
    assert saved["train"]["epochs"] == 20 and saved["train"]["patience"] == 10
    assert saved["train"]["val_smoothing"] == 0.8
    assert "20 epochs (at least 6 steps within 300 s, stop after 10 without a better smoothed" in res.stderr
    demo = rnn("train", "--set", "train.epochs=1", "--set", "data.num_samples=40",
               "--out", str(tmp_path / "demo"))
    assert demo.exit_code == 0, demo.stderr
    assert demo.stderr.splitlines()[0].startswith("no data named: training the built-in demo task")


@pytest.mark.slow
def test_long_runs_of_short_epochs_save_every_kth_epoch_and_keep_the_best(tmp_path):
    from rnncli.training.loop import SAVES_PER_RUN, train
    from rnncli.use.model_io import load_model

    path = _npz(tmp_path, n=20)
    epochs = 2 * SAVES_PER_RUN + 1  # every 3rd epoch and the last
    cfg = load_config([], [f"data.source={path}", f"train.epochs={epochs}", "model.hidden_size=3"])
    summary = train(cfg, tmp_path / "r")
    best = load_model(tmp_path / "r" / "best.npz")
    assert best.meta["epoch"] == summary["best_epoch"]
    records = [yaml.safe_load(line) for line in (tmp_path / "r" / "metrics.jsonl").open()]
    assert len(records) == epochs
    assert min(records, key=lambda r: r["val_loss"])["epoch"] == summary["best_epoch"]
    assert load_model(tmp_path / "r" / "model.npz").meta["epoch"] == epochs


def test_the_window_chosen_for_a_short_series_is_written_to_config_yaml(tmp_path):
    (tmp_path / "s.csv").write_text("v\n" + "".join(f"{i % 5}\n" for i in range(41)))
    out = tmp_path / "r"
    res = rnn("train", "--set", f"data.source={tmp_path / 's.csv'}", "--set", "train.epochs=1",
              "--set", "model.hidden_size=4", "--out", out)
    assert res.exit_code == 0, res.output
    assert yaml.safe_load((out / "config.yaml").read_text())["data"]["seq_len"] == 8
    again = rnn("eval", out, "--data", tmp_path / "s.csv", "--json")
    assert again.exit_code == 0, again.output


def test_longer_sequences_and_larger_sets_plan_more_steps():
    assert planned_steps(2000, 100, 50) == 2000  # the unit: min_steps as it is
    assert planned_steps(2000, 100, 450) == 6000  # sqrt(450 / 50) = 3
    assert planned_steps(2000, 4000, 20) == 4000  # sqrt(4000 / 1000) = 2
    assert planned_steps(2000, 10, 5) == 2000  # never fewer than min_steps


def test_the_time_budget_caps_the_epochs_by_the_cost_model(tmp_path):
    path = _npz(tmp_path, n=200)
    cfg = load_config([], [f"data.source={path}"])
    data = load_dataset(cfg.data, seed=0, base_dir=tmp_path)
    cfg, spec = build_spec(cfg, data.task)
    free = adapt_to_data(cfg.model_copy(update={"train": cfg.train.model_copy(
        update={"time_budget": None})}), data, spec)[1]["epochs"]
    per_epoch = epoch_seconds(spec, len(data.train), len(data.val), 5, 32)
    assert 0 < per_epoch < 0.1  # 180 sequences of 5 steps, 64 units: milliseconds
    budget = cfg.train.model_copy(update={"time_budget": 20 * per_epoch})
    capped = adapt_to_data(cfg.model_copy(update={"train": budget}), data, spec)[1]
    assert capped["epochs"] == 20 < free
    bigger = ModelSpec.from_dict({**spec.to_dict(), "hidden_size": 256})
    assert epoch_seconds(bigger, 180, 20, 5, 32) > 3 * per_epoch  # cost grows with the model


def test_smoothed_patience_ignores_one_noisy_epoch():
    from rnncli.training.state import TrainState
    from rnncli.training.stopping import count_patience

    def bad_epochs(scores, smoothing):
        state = TrainState({}, None)
        for epoch, s in enumerate(scores, 1):
            state.epoch = epoch
            if s < state.best:
                state.best, state.best_epoch = s, epoch
            count_patience(state, s, smoothing)
        return state.bad_epochs

    # a lucky epoch (0.5) then a steady decline that never beats it
    scores = [1.0, 0.9, 0.5, 0.85, 0.8, 0.75, 0.7, 0.65, 0.6, 0.58]
    assert bad_epochs(scores, 0.0) == 7  # the raw best is the lucky epoch: patience runs out
    assert bad_epochs(scores, 0.8) == 0  # the smoothed curve still falls: training goes on
    assert bad_epochs([1.0, 1.1, 1.2, 1.3], 0.8) == 3  # a real rise still counts


def test_smoothed_patience_resumes_bit_identically(tmp_path):
    import pytest
    from strategies import InterruptAfter

    from rnncli.errors import Interrupted
    from rnncli.training.loop import train
    from rnncli.weights import load_weights

    path = _npz(tmp_path, n=40)
    cfg = load_config([], [f"data.source={path}", "train.epochs=60", "train.patience=3",
                           "train.val_smoothing=0.8", "train.lr=0.003", "model.hidden_size=4",
                           "train.checkpoint_every=1"])
    ref = train(cfg, tmp_path / "ref")
    assert ref["stopped_early"] and ref["epochs"] < 60
    with pytest.raises(Interrupted):
        train(cfg, tmp_path / "run", callbacks=InterruptAfter(5))  # mid-epoch 3 of 2-step epochs
    ck = load_weights(tmp_path / "run" / "checkpoint.npz")[1]["checkpoint"]
    assert ck["smooth"] is not None and ck["smooth_best"] is not None
    got = train(load_config([tmp_path / "run" / "config.yaml"], []), tmp_path / "run", resume=True)
    assert (got["epochs"], got["best_epoch"]) == (ref["epochs"], ref["best_epoch"])
    a, b = (load_weights(tmp_path / d / "model.npz")[0] for d in ("ref", "run"))
    assert all(np.array_equal(a[k], b[k]) for k in a)
