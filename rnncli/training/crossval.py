"""Small data: the training length chosen by k-fold cross-validation, then a refit on all the data.

When the validation part of a sequence file (npz, jsonl) would hold fewer than MIN_VAL examples,
the epoch with the best validation loss is a noisy pick (4 sequences of BasicMotions: seeds at
92%, 57% and 52%), and a larger validation part leaves less to learn from. So, with
`train.cv_folds` unset and neither `train.epochs`, `data.val_fraction` nor `data.val_source`
given, `rnn train` runs FOLDS folds (each an ordinary run in RUN/cv/fold-i with `data.fold:
[i, k]`: validated on a fifth of a seeded shuffle, or of a csv series' windows as one block
(the windows right after it left out: their inputs hold its targets; only when asked for with
train.cv_folds), trained on the rest, with the epochs and
patience chosen for the data within a (k+1)-th of `train.time_budget`), takes the epoch where
the folds' mean validation curve is best (averaging k curves, not picking one: a classifier's
mean val_accuracy highest, ties to the lowest mean val_loss, both averaged over a twentieth of
the epochs (`smoothing_width`); else the lowest mean val_loss; see `best_epoch`) and trains
on all the data for that many epochs' steps (`data.val_fraction: 0`).
What was explicit is honoured: `train.cv_folds: 0` turns this off, `train.cv_folds: k` asks
for it whatever the data.

Recorded: RUN/config.yaml is the plan while the folds run (`train.cv_folds: k`, the folds'
epochs) and the refit's config once they are done (epochs = the choice, `cv_folds: 0`), so `rnn
train -c RUN/config.yaml` repeats the refit bit for bit; RUN/cv.json holds the rule and metric
that chose (`rule`, `metric`), the choice, and each fold's best epoch and validation metrics.
Resuming (`--resume RUN`) is defined at every point: completed folds are read from their
run.json, an interrupted fold resumes from its checkpoint (a fold killed before its first
checkpoint starts again), then the refit runs; an interrupted refit resumes as any run.
The result is bit-identical to an uninterrupted run.
"""

from __future__ import annotations

import contextlib
import json
import math
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np

from rnncli.config import Config, config_to_yaml
from rnncli.data import DataBundle, load_dataset, num_batches
from rnncli.fsutil import atomic_write_text
from rnncli.run_layout import CHECKPOINT, CONFIG
from rnncli.training.adaptive import adapt_to_data
from rnncli.training.build import build_spec
from rnncli.training.rundir import hold_run_dir, read_metrics, read_run_json

MIN_VAL = 30  # validation examples below which a holdout's best epoch is mostly noise
FOLDS = 5
CV_DIR, CV_JSON = "cv", "cv.json"


def planned_folds(cfg: Config, data: DataBundle) -> int:
    """How many folds choose the training length: train.cv_folds when set, else FOLDS for a small
    sequence file whose user left the length and the validation part to the defaults; 0 = none."""
    tc, d = cfg.train, cfg.data
    if tc.cv_folds is not None:
        return tc.cv_folds
    # A csv series keeps its holdout (the end of the series): blocked folds measured worse on the
    # README benchmark's short series (shampoo 1.05 -> 1.17, Nile 0.78 -> 0.93 x persistence).
    if d.kind not in ("npz", "jsonl") or d.fold is not None:
        return 0
    if "epochs" in tc.model_fields_set:
        return 0
    if {"val_fraction", "val_source"} & d.model_fields_set or data.val is None:
        return 0
    n = len(data.train) + len(data.val)
    return FOLDS if 0 < len(data.val) < MIN_VAL and n >= 2 * FOLDS else 0


def plan(cfg: Config, data: DataBundle, folds: int):
    """The config every fold starts from (`cfg` as the user gave it): sizes resolved from the
    data, cv_folds = folds, and the epochs, patience and smoothing chosen for the data within a
    (folds + 1)-th of the time budget."""
    cfg, spec = build_spec(cfg, data.task)
    tc = cfg.train
    budget = None if tc.time_budget is None else tc.time_budget / (folds + 1)
    share = cfg.model_copy(update={"train": tc.model_copy(update={"time_budget": budget})})
    adapted, _ = adapt_to_data(share, data, spec)
    train = adapted.train.model_copy(update={"time_budget": tc.time_budget, "cv_folds": folds})
    return adapted.model_copy(update={"train": train})


def cross_validate(plan_cfg, run_dir: Path, *, resume: bool, train_fn: Callable, **kw) -> dict:
    """Run the folds of `plan_cfg` (a fresh run or a resume), then the refit; its summary, with
    "cv" (see `_record`)."""
    with hold_run_dir(run_dir, resume=resume):
        try:
            if not resume:
                atomic_write_text(run_dir / CONFIG, config_to_yaml(plan_cfg))
            results = [_fold(plan_cfg, i, run_dir, train_fn, kw) for i in range(plan_cfg.train.cv_folds)]
        except BaseException as e:
            if not resume and getattr(e, "exit_code", None) == 2:  # nothing of a refused run is kept
                shutil.rmtree(run_dir / CV_DIR, ignore_errors=True)
            raise
        fold_steps = float(np.mean([_steps_per_epoch(run_dir / CV_DIR / f"fold-{i + 1}")
                                    for i in range(len(results))]))
        final, record = choose(plan_cfg, results, fold_steps, _all_steps(plan_cfg, kw.get("base_dir")))
        atomic_write_text(run_dir / CV_JSON, json.dumps(record, indent=1) + "\n")
        atomic_write_text(run_dir / CONFIG, config_to_yaml(final))
    summary = train_fn(final, run_dir, after_cv=True, **kw)
    summary["cv"] = record
    return summary


def _fold(plan_cfg, i: int, run_dir: Path, train_fn: Callable, kw: dict) -> tuple[dict, dict]:
    """Fold i: read when completed, resumed when interrupted after a checkpoint, else run; its
    summary and validation curves ({"val_loss": [...], "val_accuracy": [...] if classified})."""
    k = plan_cfg.train.cv_folds
    fold_dir = run_dir / CV_DIR / f"fold-{i + 1}"
    data = plan_cfg.data.model_copy(update={"fold": (i, k)})
    cfg = plan_cfg.model_copy(update={"data": data,
                                      "train": plan_cfg.train.model_copy(update={"cv_folds": 0})})
    info = read_run_json(fold_dir)
    if info.get("status") == "completed" and isinstance(info.get("summary"), dict):
        summary = info["summary"]
    elif (fold_dir / CHECKPOINT).is_file():
        summary = train_fn(cfg, fold_dir, resume=True, **kw)
    else:
        with contextlib.suppress(FileNotFoundError):  # killed before its first checkpoint
            shutil.rmtree(fold_dir)
        summary = train_fn(cfg, fold_dir, **kw)
    records = read_metrics(fold_dir)
    curves = {key: [r.get(key) for r in records] for key in ("val_loss", "val_accuracy")
              if records and all(r.get(key) is not None for r in records)}
    return summary, curves


def _steps_per_epoch(fold_dir: Path) -> float:
    records = read_metrics(fold_dir)
    return float(records[0]["step"]) if records else 1.0


def _all_steps(plan_cfg, base_dir: Path | None) -> int:
    """Batches per epoch of the refit (all the data)."""
    data = plan_cfg.data.model_copy(update={"val_fraction": 0.0, "fold": None})
    bundle = load_dataset(data, seed=plan_cfg.seed, base_dir=base_dir or Path.cwd())
    return max(1, num_batches(bundle.train, plan_cfg.train.batch_size, plan_cfg.train.drop_last))


def choose(plan_cfg, results: list[tuple[dict, dict]], fold_steps: float = 1.0, all_steps: int = 1):
    """The refit's config (the optimisation steps of the epoch `best_epoch` picks from the folds'
    mean curves; all the data, so as many epochs as make those steps with `all_steps` batches an
    epoch where the folds had `fold_steps`: 36 sequences in batches of 32 take 2 steps an epoch,
    29 take 1; no early stopping) and the record of the folds."""
    classified = all(s.get("task") == "classification" and "val_accuracy" in c for s, c in results)
    loss = _mean_curve([c["val_loss"] for _, c in results])
    if classified:
        width = smoothing_width(len(loss))
        accuracy = _mean_curve([c["val_accuracy"] for _, c in results])
        best = best_epoch(moving_average(loss, width), moving_average(accuracy, width))
    else:
        best = best_epoch(loss)
    epochs = max(1, round(best * fold_steps / all_steps))
    tc, d = plan_cfg.train, plan_cfg.data
    final = plan_cfg.model_copy(update={
        "train": tc.model_copy(update={"epochs": epochs, "patience": None, "cv_folds": 0}),
        "data": d.model_copy(update={"val_fraction": 0.0, "fold": None})})
    record = _record(results, epochs, float(loss[best - 1]))
    record.update(fold_epochs_chosen=best, steps=round(best * fold_steps),
                  rule=ACCURACY_RULE if classified else LOSS_RULE,
                  metric="val_accuracy" if classified else "val_loss")
    if classified:
        record.update(smoothing_epochs=width, mean_val_accuracy=float(accuracy[best - 1]))
    return final, record


LOSS_RULE = "lowest mean val_loss"
ACCURACY_RULE = ("highest mean val_accuracy, ties to the lowest mean val_loss, both averaged over "
                 "the smoothing_epochs around each epoch")
SMOOTHING_FRACTION = 0.05  # of the folds' epochs: the window the accuracy is averaged over


def _mean_curve(curves: list[list[float]]) -> np.ndarray:
    """The folds' mean curve, epoch by epoch. A fold that stopped early (patience) had stopped
    improving: its last value carries on, so one early stop does not cut short the others'
    longer training."""
    arrays = [np.asarray(c, dtype=np.float64) for c in curves]
    reached = max(len(c) for c in arrays)
    return np.mean([np.pad(c, (0, reached - len(c)), mode="edge") for c in arrays], axis=0)


def smoothing_width(epochs: int) -> int:
    """The odd number of epochs (about SMOOTHING_FRACTION of them) a classifier's mean curves are
    averaged over before the choice: a small set's folds hold a few sequences each and train 1-2
    steps an epoch, so their accuracy jumps by whole sequences from one epoch to the next, and the
    highest of 700 such values is a spike the refit does not reproduce (ArrowHead seed 0: 70%
    mean fold accuracy at epoch 212 of 751, 39% on the test set). A window of a twentieth of the
    run still places the length to within a fortieth of it either side."""
    return 2 * round(SMOOTHING_FRACTION * epochs / 2) + 1


def moving_average(curve: np.ndarray, width: int) -> np.ndarray:
    """The centred moving average over `width` (odd) epochs; shorter near the ends, where fewer
    epochs exist (no lag, unlike the exponential average of early stopping)."""
    if width <= 1:
        return curve
    half = width // 2
    sums = np.concatenate([[0.0], np.cumsum(curve)])
    idx = np.arange(len(curve))
    lo, hi = np.maximum(idx - half, 0), np.minimum(idx + half + 1, len(curve))
    return (sums[hi] - sums[lo]) / (hi - lo)


def best_epoch(loss: np.ndarray, accuracy: np.ndarray | None = None) -> int:
    """The chosen epoch (1-based). Regression and forecasts: where the mean validation loss is
    lowest. Classification (`accuracy` given): where the mean validation accuracy, the score the
    user reads, is highest, because cross-entropy rises on a few confidently wrong sequences
    while more of them are classified right; of the epochs tied at the highest (to rounding),
    the one with the lowest mean loss."""
    if accuracy is not None and np.isfinite(accuracy).any():
        top = np.nanmax(accuracy)
        tied = np.flatnonzero(accuracy >= top - 1e-9)
        finite = tied[np.isfinite(loss[tied])]
        return int(finite[np.argmin(loss[finite])] if len(finite) else tied[0]) + 1
    return int(np.nanargmin(loss)) + 1 if np.isfinite(loss).any() else len(loss)


def _record(results: list[tuple[dict, dict]], epochs: int, mean_loss: float) -> dict:
    """cv.json: the choice and each fold's best epoch and validation metrics."""
    summaries = [s for s, _ in results]
    record = {"folds": len(results), "epochs": epochs, "mean_val_loss": mean_loss,
              "fold_best_epochs": [s.get("best_epoch") for s in summaries],
              "fold_epochs": [s.get("epochs") for s in summaries]}
    for key in sorted({k for s in summaries for k in s if k.startswith("best_val_")}):
        values = [s.get(key) for s in summaries]
        if all(isinstance(v, (int, float)) and math.isfinite(v) for v in values):
            record["fold_" + key[len("best_"):]] = values
    return record
