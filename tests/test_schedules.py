"""Learning-rate schedules: values, warmup, plateau memory, torch's schedulers as the oracle, and runs."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from conftest import needs
from strategies import InterruptAfter

from rnncli.config import load_config
from rnncli.errors import ConfigError
from rnncli.training.schedules import PlateauState, Schedule, plateau_update, scheduled_lr


def _lrs(sched: Schedule, steps_per_epoch: int, epochs: int) -> list[float]:
    n = steps_per_epoch
    return [scheduled_lr(sched, e * n + i, e) for e in range(epochs) for i in range(n)]


def test_constant_without_warmup_is_exactly_the_lr():
    sched = Schedule("constant", lr=0.003, total_steps=100)
    assert all(v == 0.003 for v in _lrs(sched, 10, 10))


def test_warmup_then_step_decay():
    sched = Schedule("step", lr=0.1, warmup_steps=3, step_epochs=2, gamma=0.5)
    lrs = _lrs(sched, 2, 6)  # 2 steps per epoch
    assert lrs[:4] == pytest.approx([0.1 / 4, 0.1 * 2 / 4, 0.1 * 3 / 4, 0.1])
    assert lrs[4:] == pytest.approx([0.05, 0.05, 0.05, 0.05, 0.025, 0.025, 0.025, 0.025])


def test_default_gammas():
    assert scheduled_lr(Schedule("step", lr=1.0, step_epochs=1), 0, 2) == pytest.approx(0.01)
    assert scheduled_lr(Schedule("exponential", lr=1.0), 0, 2) == pytest.approx(0.95**2)


def test_cosine_reaches_lr_min_at_the_last_step():
    sched = Schedule("cosine", lr=1.0, warmup_steps=2, total_steps=12, lr_min=0.1)
    lrs = _lrs(sched, 4, 3)
    assert lrs[:2] == pytest.approx([1 / 3, 2 / 3])
    assert lrs[2] == 1.0 and lrs[7] == pytest.approx(0.55)  # halfway through the 10 annealed steps
    assert scheduled_lr(sched, 12, 3) == pytest.approx(0.1)  # past the end it stays at lr_min


def test_plateau_counts_bad_epochs_and_reduces_after_patience():
    state = PlateauState()
    losses = [1.0, 0.9, 0.9, 0.89995, 0.95, 0.5, 0.6]  # 0.89995 is within the 1e-4 threshold
    reductions = []
    for loss in losses:
        state = plateau_update(state, loss, patience=2)
        reductions.append(state.reductions)
    assert reductions == [0, 0, 0, 0, 1, 1, 1]
    assert state.best == 0.5 and state.bad_epochs == 1
    sched = Schedule("plateau", lr=0.1, plateau_factor=0.5, lr_min=0.03)
    assert scheduled_lr(sched, 50, 5, PlateauState(reductions=1)) == pytest.approx(0.05)
    assert scheduled_lr(sched, 50, 5, PlateauState(reductions=3)) == 0.03  # floored
    assert PlateauState.from_dict(json.loads(json.dumps(state.to_dict()))) == state
    assert PlateauState.from_dict(PlateauState().to_dict()) == PlateauState()


def test_keys_of_another_schedule_are_refused():
    with pytest.raises(ConfigError, match=r"train.lr_gamma does not apply to lr_schedule 'cosine'"):
        load_config([], ["train.lr_schedule=cosine", "train.lr_gamma=0.5"])
    cfg = load_config([], ["train.lr_schedule=plateau", "train.lr_min=0.0001", "train.warmup_steps=5"])
    assert cfg.train.lr_min == 0.0001


# -- torch's schedulers as the oracle ---------------------------------------------------------------

def _torch_lrs(make, n: int, lr: float = 0.1, per_step=None) -> list[float]:
    torch = needs("torch")
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)
    sched = make(opt)
    out = []
    for i in range(n):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step(*(per_step(i) if per_step else ()))
    return out


@pytest.mark.slow
def test_step_and_exponential_match_torch_per_epoch():
    torch = needs("torch")
    ours = [scheduled_lr(Schedule("step", lr=0.1, step_epochs=3, gamma=0.3), 0, e) for e in range(10)]
    ref = _torch_lrs(lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=3, gamma=0.3), 10)
    assert ours == pytest.approx(ref, rel=1e-12)
    ours = [scheduled_lr(Schedule("exponential", lr=0.1, gamma=0.9), 0, e) for e in range(10)]
    ref = _torch_lrs(lambda o: torch.optim.lr_scheduler.ExponentialLR(o, gamma=0.9), 10)
    assert ours == pytest.approx(ref, rel=1e-12)


@pytest.mark.slow
def test_warmup_then_cosine_matches_torch_sequential_linear_then_cosine():
    torch = needs("torch")
    W, S = 5, 40
    sched = Schedule("cosine", lr=0.1, warmup_steps=W, total_steps=S, lr_min=0.001)
    ours = [scheduled_lr(sched, s, 0) for s in range(S)]
    lrs = torch.optim.lr_scheduler

    def make(o):
        warm = lrs.LinearLR(o, start_factor=1 / (W + 1), end_factor=1.0, total_iters=W)
        cos = lrs.CosineAnnealingLR(o, T_max=S - W, eta_min=0.001)
        return lrs.SequentialLR(o, [warm, cos], milestones=[W])

    assert ours == pytest.approx(_torch_lrs(make, S), rel=1e-9)


def test_plateau_matches_torch_reduce_on_plateau():
    torch = needs("torch")
    losses = [1.0, 0.8, 0.81, 0.8, 0.79995, 0.7, 0.71, 0.72, 0.73, 0.74, 0.75, 0.69, *[0.7] * 6]
    sched = Schedule("plateau", lr=0.1, plateau_factor=0.5, plateau_patience=2, lr_min=0.02)
    state, ours = PlateauState(), []
    for loss in losses:
        ours.append(scheduled_lr(sched, 0, 0, state))
        state = plateau_update(state, loss, sched.plateau_patience)
    ref = _torch_lrs(lambda o: torch.optim.lr_scheduler.ReduceLROnPlateau(
        o, factor=0.5, patience=2, min_lr=0.02), len(losses), per_step=lambda i: (losses[i],))
    assert ours == pytest.approx(ref, rel=1e-12)
    assert ours[4:6] == [0.1, 0.05] and math.isclose(ours[9], 0.025) and ours[-1] == 0.02  # floored


# -- in a run: the lr in metrics.jsonl, and exact resume with plateau state ----------------------------

def _sine(*extra: str):
    return load_config([], ["data.num_samples=64", "data.seq_len=8", "model.hidden_size=8",
                            "train.batch_size=16", "train.epochs=4", "train.lr=0.01", *extra])


def _records(run_dir) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def test_metrics_hold_the_scheduled_lr_of_each_epochs_last_step(tmp_path):
    from rnncli.training.loop import train

    train(_sine("train.lr_schedule=cosine", "train.warmup_steps=2", "train.lr_min=0.001"), tmp_path / "r")
    records = _records(tmp_path / "r")
    n = records[0]["step"]  # steps per epoch
    sched = Schedule("cosine", lr=0.01, warmup_steps=2, total_steps=4 * n, lr_min=0.001)
    assert [r["lr"] for r in records] == [scheduled_lr(sched, n * e + n - 1, e) for e in range(4)]
    assert 0.001 < records[-1]["lr"] < records[-2]["lr"] < records[-3]["lr"] < 0.01


def test_plateau_and_recurrent_dropout_run_interrupted_and_resumed_is_bit_identical(tmp_path):
    from rnncli.errors import Interrupted
    from rnncli.training.loop import train
    from rnncli.weights import load_weights

    # patience 0 and a large lr: the validation loss stalls, so the lr drops during the run
    cfg = _sine("train.lr_schedule=plateau", "train.plateau_patience=0", "train.lr=0.3",
                "train.warmup_steps=4", "model.num_layers=2", "model.dropout=0.3",
                "model.recurrent_dropout=0.2")  # and the masks' generator resumes too
    train(cfg, tmp_path / "ref")
    with pytest.raises(Interrupted):
        train(cfg, tmp_path / "run", callbacks=InterruptAfter(10))  # epoch 3, step 2 of 4
    ck = load_weights(tmp_path / "run" / "checkpoint.npz")[1]["checkpoint"]
    assert ck["epoch"] == 2 and ck["plateau"]["best"] is not None
    train(load_config([tmp_path / "run" / "config.yaml"], []), tmp_path / "run", resume=True)  # as --resume
    ref, got = _records(tmp_path / "ref"), _records(tmp_path / "run")
    assert len({r["lr"] for r in ref}) > 1  # the schedule did change the lr
    def keys(records):
        return [(r["lr"], r["loss"], r["val_loss"]) for r in records]

    assert keys(got) == keys(ref)
    a, b = load_weights(tmp_path / "ref" / "model.npz")[0], load_weights(tmp_path / "run" / "model.npz")[0]
    assert all(np.array_equal(a[k], b[k]) for k in a)
