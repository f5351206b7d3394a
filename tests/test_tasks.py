"""Every shipped task config learns: a short run at tiny sizes (via overrides) reaches a loose
version of its README target. The full targets are measured by scripts/results_table.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import one_blas_thread

from rnncli.config import load_config
from rnncli.training.loop import train
from rnncli.training.rundir import read_metrics

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"


def _best(records: list[dict], key: str, mode: str) -> float:
    vals = [r[key] for r in records if isinstance(r.get(key), (int, float))]
    return max(vals) if mode == "max" else min(vals)


# config, tiny overrides, metric, "min"/"max", loose target (a number or a function of the baselines)
CASES = [
    ("sine.yaml", ["data.num_samples=256", "data.seq_len=20", "model.hidden_size=16", "train.epochs=8"],
     "val_mse", "min", lambda b: b["last_value_mse"] / 3),
    ("adding.yaml", ["data.num_samples=2000", "data.seq_len=10", "model.hidden_size=32", "train.epochs=8",
                     "train.lr=0.002"],
     "val_mse", "min", lambda b: 0.03),
    ("adding_long.yaml", ["data.num_samples=2000", "data.seq_len=20", "model.hidden_size=32",
                          "train.epochs=8", "train.lr=0.001"],
     "val_mse", "min", lambda b: 0.05),
    # seq_len 30: at 50 with these few samples, seed 0 stalled at 46% with 2 BLAS threads (72%
    # with one); at 30 six seeds reached 82-100% with either thread count.
    ("frequency.yaml", ["data.num_samples=800", "data.seq_len=30", "model.hidden_size=32",
                        "train.batch_size=16", "train.epochs=10", "train.lr=0.003"],
     "val_accuracy", "max", lambda b: 0.6),
    ("copy.yaml", ["data.num_samples=1000", "data.delay=2", "data.copy_len=2", "model.hidden_size=32",
                   "train.epochs=10", "train.lr=0.005"],
     "val_loss", "min", lambda b: b["memoryless_ce"] / 4),
    ("text.yaml", ["train.epochs=5", "model.hidden_size=32", "train.lr=0.01"],
     "val_bpc", "min", lambda b: b["unigram_bits_per_char"] - 0.5),
    # on data/tiny.txt (3.7 KB): shorter windows and fewer streams so an epoch has a few steps; the
    # cosine schedule, warmup and recurrent dropout stay on
    ("shakespeare.yaml", ["train.epochs=5", "model.hidden_size=32", "train.lr=0.01", "data.seq_len=16",
                          "train.batch_size=8", "train.warmup_steps=5"],
     "val_bpc", "min", lambda b: b["unigram_bits_per_char"] - 0.5),
    # the gated cells' configs, shrunk like their Elman twins (the cell, its forget bias and the
    # optimizer settings stay as shipped)
    ("copy_long.yaml", ["data.num_samples=1000", "data.delay=2", "data.copy_len=2", "model.hidden_size=32",
                        "train.epochs=15", "train.lr=0.01"],
     "val_loss", "min", lambda b: b["memoryless_ce"] / 4),
    ("adding_long_lstm.yaml", ["data.num_samples=2000", "data.seq_len=10", "model.hidden_size=32",
                               "train.epochs=8", "train.lr=0.003"],
     "val_mse", "min", lambda b: 0.05),
    ("shakespeare_lstm.yaml", ["train.epochs=8", "model.hidden_size=32", "train.lr=0.02", "data.seq_len=16",
                               "train.batch_size=8", "train.warmup_steps=5"],
     "val_bpc", "min", lambda b: b["unigram_bits_per_char"] - 0.5),
    # the GPU config on the host, shrunk the same way (embedding, 2 layers, dropout stay on)
    ("shakespeare_gpu.yaml", ["train.device=cpu", "train.epochs=5", "model.hidden_size=32", "train.lr=0.01",
                              "data.seq_len=16", "train.batch_size=8", "train.warmup_steps=5"],
     "val_bpc", "min", lambda b: b["unigram_bits_per_char"] - 0.5),
]


@pytest.mark.slow
@pytest.mark.parametrize("name, overrides, key, mode, target", CASES, ids=[c[0] for c in CASES])
def test_task_config_learns(tmp_path, name, overrides, key, mode, target):
    cfg = load_config([CONFIGS / name], [*overrides, "train.patience=null"])
    with one_blas_thread():
        summary = train(cfg, tmp_path / "run")
    goal = target(summary["baselines"])
    best = _best(read_metrics(tmp_path / "run"), key, mode)
    if mode == "min":
        assert best < goal, f"{name}: best {key} {best:.4g} not below {goal:.4g}"
    else:
        assert best > goal, f"{name}: best {key} {best:.4g} not above {goal:.4g}"


def test_every_task_config_is_covered():
    shipped = {p.name for p in CONFIGS.glob("*.yaml") if not p.name.startswith("notebook")}
    assert shipped == {c[0] for c in CASES}
