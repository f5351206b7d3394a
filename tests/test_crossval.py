"""Small data: the training length chosen by k-fold cross-validation, then a refit on all the data."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml
from conftest import rnn
from strategies import InterruptAfter

from rnncli.config import load_config
from rnncli.data import DataConfig, load_dataset
from rnncli.data.csvseries import split_windows
from rnncli.data.dataset import fold_indices
from rnncli.errors import Interrupted
from rnncli.training.crossval import best_epoch, choose
from rnncli.training.loop import train
from rnncli.weights import load_weights

SMALL = ["model.hidden_size=4", "train.min_steps=24"]  # 40 sequences: 2 steps/epoch, 20 epochs


def _npz(tmp_path, n=40):
    rng = np.random.default_rng(0)
    y = np.array(["a", "b"] * (n // 2))
    X = rng.normal(size=(n, 6, 2)) + (y == "a")[:, None, None]
    np.savez(tmp_path / "d.npz", X=X, y=y)
    return tmp_path / "d.npz"


def _weights(run):
    return load_weights(run / "model.npz")[0]


def _same(a, b) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def test_folds_partition_the_sequences_and_each_validates_once():
    parts = [fold_indices(23, (i, 5), seed=3) for i in range(5)]
    vals = np.concatenate([v for _, v in parts])
    assert sorted(vals.tolist()) == list(range(23))
    for tr, va in parts:
        assert not set(tr) & set(va) and len(tr) + len(va) == 23 and len(va) in (4, 5)
    assert np.array_equal(fold_indices(23, (2, 5), seed=3)[1], parts[2][1])  # seeded


def test_a_fold_config_validates_on_its_fold(tmp_path):
    path = _npz(tmp_path)
    b = load_dataset(DataConfig(source=str(path), fold=(1, 5)), seed=0)
    assert (len(b.train), len(b.val)) == (32, 8)
    with pytest.raises(ValueError, match=r"data.fold \[5, 5\] needs"):
        DataConfig(source=str(path), fold=(5, 5))


def _loss(best_epoch, curve):
    return {"best_epoch": best_epoch, "task": "forecast"}, {"val_loss": curve}


def test_the_epoch_is_where_the_mean_validation_curve_is_lowest():
    cfg = load_config([], ["data.source=x.npz", "train.cv_folds=2"])
    # fold 1 is lowest at epoch 2, fold 2 at epoch 5; their mean at epoch 3; fold 2 ran longer
    results = [_loss(2, [1.0, 0.5, 0.6, 0.9]), _loss(5, [1.0, 0.9, 0.6, 0.5, 0.4])]
    final, record = choose(cfg, results)
    assert final.train.epochs == 3 and record["epochs"] == 3
    assert record["metric"] == "val_loss" and record["rule"] == "lowest mean val_loss"
    # a fold that stopped early counts at its last value: the longer fold's later gain decides
    longer = [_loss(2, [1.0, 0.5, 0.6]), _loss(6, [1.0, 0.9, 0.8, 0.6, 0.4, 0.2])]
    assert choose(cfg, longer)[0].train.epochs == 6  # (0.6 + 0.2) / 2 beats (0.5 + 0.9) / 2
    # the refit takes the same optimisation steps: 2 batches an epoch on all the data where the
    # folds had 1 (36 sequences against 29 in batches of 32)
    refit, rec = choose(cfg, longer, fold_steps=1.0, all_steps=2)
    assert refit.train.epochs == 3 and rec["steps"] == 6 and rec["fold_epochs_chosen"] == 6
    assert final.data.val_fraction == 0.0 and final.train.patience is None and final.train.cv_folds == 0
    assert record["fold_best_epochs"] == [2, 5] and record["mean_val_loss"] == pytest.approx(0.6)



def _classified(loss, accuracy):
    return {"best_epoch": int(np.argmin(loss)) + 1, "task": "classification"}, {
        "val_loss": loss, "val_accuracy": accuracy}


def test_a_classifier_follows_the_mean_accuracy_where_the_loss_disagrees():
    cfg = load_config([], ["data.source=x.npz", "train.cv_folds=2"])
    # the loss is lowest at epoch 2 and rises (a few confidently wrong sequences) while the
    # accuracy still climbs to epoch 5
    results = [_classified([0.7, 0.5, 0.6, 0.8, 0.9, 1.0], [0.5, 0.6, 0.7, 0.8, 0.9, 0.8]),
               _classified([0.7, 0.4, 0.5, 0.7, 0.9, 1.1], [0.5, 0.7, 0.7, 0.8, 0.9, 0.9])]
    final, record = choose(cfg, results)
    assert final.train.epochs == 5 and record["fold_epochs_chosen"] == 5
    assert record["metric"] == "val_accuracy" and record["rule"].startswith("highest mean val_accuracy")
    assert record["mean_val_accuracy"] == pytest.approx(0.9) and record["mean_val_loss"] == pytest.approx(0.9)
    # the same curves of a regression task (no accuracy) keep the loss's minimum
    assert choose(cfg, [_loss(2, c["val_loss"]) for _, c in results])[0].train.epochs == 2


def test_tied_accuracy_is_broken_by_the_lowest_mean_loss():
    cfg = load_config([], ["data.source=x.npz", "train.cv_folds=2"])
    # the mean accuracy plateaus at 0.75 over epochs 3..6 (fold 2 stopped early at epoch 5:
    # its last values carry on); of those the mean loss is lowest at epoch 4
    results = [_classified([0.9, 0.7, 0.6, 0.5, 0.55, 0.7], [0.5, 0.5, 0.75, 0.75, 0.75, 0.75]),
               _classified([0.9, 0.6, 0.5, 0.45, 0.6], [0.5, 0.5, 0.75, 0.75, 0.75])]
    assert choose(cfg, results)[0].train.epochs == 4
    # a higher accuracy anywhere wins over the tie, whatever its loss
    higher = [_classified([0.9, 0.7, 0.6, 0.5, 0.55, 2.0], [0.5, 0.5, 0.75, 0.75, 0.75, 1.0]),
              _classified([0.9, 0.6, 0.5, 0.45, 0.6, 2.0], [0.5, 0.5, 0.75, 0.75, 0.75, 0.75])]
    assert choose(cfg, higher)[0].train.epochs == 6
    # the same mean reached by different folds' counts is a tie (rounding aside)
    assert best_epoch(np.array([1.0, 0.5]), np.array([0.1 + 0.2, 0.3])) == 2


def test_a_one_epoch_spike_of_accuracy_is_smoothed_away():
    cfg = load_config([], ["data.source=x.npz", "train.cv_folds=2"])
    epochs = np.arange(1, 101)
    accuracy = np.minimum(0.8, 0.3 + epochs / 120)  # a plateau at 0.8 from epoch 60 on
    accuracy[9] = 1.0  # one lucky epoch of both folds
    loss = 1.0 - accuracy / 2 + np.abs(epochs - 70) / 500  # lowest at 70, within the plateau
    loss[9] = 0.1
    curves = [_classified(loss.tolist(), accuracy.tolist()) for _ in range(2)]
    final, record = choose(cfg, curves)
    assert record["smoothing_epochs"] == 5 and final.train.epochs == 70
    assert best_epoch(loss, accuracy) == 10  # the raw curves would take the spike

@pytest.mark.slow
def test_small_data_is_cross_validated_then_refit_on_everything(tmp_path):
    path = _npz(tmp_path)
    res = rnn("train", "--set", f"data.source={path}", *(f"--set={s}" for s in SMALL),
              "--out", tmp_path / "r", "--json")
    assert res.exit_code == 0, res.stderr
    summary = json.loads(res.stdout)
    record = json.loads((tmp_path / "r" / "cv.json").read_text())
    assert summary["cv"] == record and record["folds"] == 5 and len(record["fold_val_accuracy"]) == 5
    assert "cross-validation: 5 folds, val_accuracy" in res.stderr
    assert record["metric"] == "val_accuracy" and "mean val_accuracy over" in res.stderr
    saved = yaml.safe_load((tmp_path / "r" / "config.yaml").read_text())
    assert saved["train"]["epochs"] == record["epochs"] == summary["epochs"]
    assert saved["data"]["val_fraction"] == 0.0 and saved["train"]["cv_folds"] == 0
    fold = yaml.safe_load((tmp_path / "r" / "cv" / "fold-3" / "config.yaml").read_text())
    assert fold["data"]["fold"] == [2, 5]
    # the refit is reproduced bit for bit by its config.yaml
    again = rnn("train", "-c", tmp_path / "r" / "config.yaml", "--out", tmp_path / "again")
    assert again.exit_code == 0, again.stderr
    assert not (tmp_path / "again" / "cv").exists()
    assert _same(_weights(tmp_path / "r"), _weights(tmp_path / "again"))


@pytest.mark.slow
@pytest.mark.parametrize("explicit", ["data.val_fraction=0.1", "train.cv_folds=0", "train.epochs=3"])
def test_an_explicit_holdout_or_length_is_honoured_exactly(tmp_path, explicit):
    path = _npz(tmp_path)
    cfg = load_config([], [f"data.source={path}", *SMALL, explicit])
    summary = train(cfg, tmp_path / "r")
    assert "cv" not in summary and not (tmp_path / "r" / "cv").exists()
    assert yaml.safe_load((tmp_path / "r" / "config.yaml").read_text())["data"]["val_fraction"] == 0.1


@pytest.mark.slow
def test_cv_folds_asks_for_it_on_any_data(tmp_path):
    path = _npz(tmp_path, n=80)
    summary = train(load_config([], [f"data.source={path}", *SMALL, "train.cv_folds=2"]), tmp_path / "r")
    assert summary["cv"]["folds"] == 2
    assert load_config([], ["train.cv_folds=0"]).train.cv_folds == 0
    with pytest.raises(Exception, match="at least 2 folds"):
        load_config([], ["train.cv_folds=1"])


def _steps(run) -> int:
    return json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])["step"]


@pytest.fixture(scope="module")
def cv_reference(tmp_path_factory):
    """One uninterrupted cross-validated run (5 folds, then the refit) that both resume cases
    compare with: its config, its run directory and its summary."""
    d = tmp_path_factory.mktemp("cv")
    cfg = load_config([], [f"data.source={_npz(d)}", *SMALL, "train.checkpoint_every=1"])
    return cfg, d / "ref", train(cfg, d / "ref")


@pytest.mark.slow
@pytest.mark.parametrize("where", ["fold 2", "refit"])
def test_resume_mid_cross_validation_is_bit_identical(tmp_path, where, cv_reference):
    cfg, ref_dir, ref = cv_reference
    folds = [_steps(ref_dir / "cv" / f"fold-{i}") for i in range(1, 6)]
    after = folds[0] + 3 if where == "fold 2" else sum(folds) + 3
    with pytest.raises(Interrupted):
        train(cfg, tmp_path / "run", callbacks=InterruptAfter(after))
    resumed = load_config([tmp_path / "run" / "config.yaml"], [])  # as rnn train --resume reads it
    assert resumed.train.cv_folds == (5 if where == "fold 2" else 0)
    got = train(resumed, tmp_path / "run", resume=True)
    assert got["epochs"] == ref["epochs"] and got["cv"] == ref["cv"]
    assert _same(_weights(ref_dir), _weights(tmp_path / "run"))


def test_a_series_folds_into_blocks_leaving_out_the_windows_that_read_the_block():
    cfg = DataConfig(source="s.csv", fold=(1, 4))
    tr, va = split_windows(20, cfg, True, w=3, h=1)
    assert va.tolist() == [5, 6, 7, 8, 9]
    assert tr.tolist() == [0, 1, 2, 3, 4, *range(14, 20)]  # 10..13 read rows of the block's targets
    assert [x.tolist() for x in split_windows(20, DataConfig(source="s.csv"), True, 3, 1)] == [
        list(range(18)), [18, 19]]


@pytest.mark.slow
def test_a_short_series_is_cross_validated_by_blocks_when_asked(tmp_path):
    t = np.arange(60)
    (tmp_path / "s.csv").write_text("v\n" + "".join(f"{float(v)!r}\n" for v in 10 + np.sin(t / 3) + t / 20))
    holdout = train(load_config([], [f"data.source={tmp_path / 's.csv'}", *SMALL]), tmp_path / "h")
    assert "cv" not in holdout  # a series keeps its holdout unless asked (measured better)
    cfg = load_config([], [f"data.source={tmp_path / 's.csv'}", *SMALL, "train.cv_folds=5"])
    summary = train(cfg, tmp_path / "r")
    assert summary["cv"]["folds"] == 5 and len(summary["cv"]["fold_val_mse"]) == 5
    fold = load_config([tmp_path / "r" / "cv" / "fold-2" / "config.yaml"], [])
    b = load_dataset(fold.data, seed=0)
    assert len(b.val) == 10 and len(b.train) == 49 - 10 - 12  # windows of 11: 49 of them; gap 12
