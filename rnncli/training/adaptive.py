"""Training lengths that adapt to the data, for the keys a user left unset.

Small real datasets (tens to hundreds of sequences) give only a few optimisation steps per
epoch, so a fixed epoch count trains them for a few hundred steps and stops far from what
they can reach. For file data, when `train.epochs` is not set, training runs for at least
`train.min_steps` steps (never fewer than the default epochs), more for long sequences and
large sets (`planned_steps`), capped by `train.time_budget` through a cost model of the
model's size (`epoch_seconds`: computed, never timed, so the same config always chooses the
same length). When `train.patience` is not set either, training stops after a fifth of those
epochs (at least 10) without a better smoothed validation loss (`train.val_smoothing` 0.8);
the best weights are kept in best.npz, which `rnn eval/predict RUN_DIR` use. What the user
sets is honoured exactly; the chosen values are written into the run's config.yaml, so the
run is reproduced by `rnn train -c RUN_DIR/config.yaml` and resumed identically.
"""

from __future__ import annotations

import math

from rnncli.config import Config
from rnncli.core.model import ModelSpec
from rnncli.data import DataBundle, num_batches
from rnncli.data.options import GENERATORS

# Epochs without a better validation loss before stopping, as a fraction of the epochs chosen:
# small validation sets are noisy, so a short patience stops on a lucky epoch.
PATIENCE_FRACTION = 0.2
MIN_PATIENCE = 10
# Weight of the past in the moving average of val_loss that patience watches: about the last
# 9 epochs count, so one lucky (or unlucky) epoch on a few validation sequences moves it by a
# fifth of its deviation, and a real trend still shows within patience (10+ epochs).
VAL_SMOOTHING = 0.8
# min_steps is for sequences up to LENGTH_UNIT steps and sets up to SIZE_UNIT sequences; longer
# ones need more steps (the gradient reaches back through more steps; more examples support
# more updates before overfitting): sqrt, measured on a 427-step set (2,000 steps: 35%, 6,000:
# 41%) and a 2,400-sequence one still improving at 2,000.
LENGTH_UNIT, SIZE_UNIT = 50, 1000
# The cost model of one training step, fitted on a 2-core AMD EPYC VM under load (one BLAS thread,
# float32; rnn bench shapes B 8-32, T 24-400, H 64-256): seconds per time step of a batch (the
# Python loop), per sample and step (elementwise work) and the rate of the matrix products.
STEP_SECONDS, SAMPLE_STEP_SECONDS, FLOPS = 17e-6, 2.9e-6, 17.5e9


def planned_steps(min_steps: int, n: int, t: int) -> int:
    """Optimisation steps for n training sequences of t steps (before the time budget)."""
    return math.ceil(min_steps * math.sqrt(max(1.0, t / LENGTH_UNIT)) * math.sqrt(max(1.0, n / SIZE_UNIT)))


def epoch_seconds(spec: ModelSpec, n_train: int, n_val: int, t: int, batch: int) -> float:
    """Estimated seconds of one epoch (training steps, then a forward pass over validation)."""
    width = spec.embedding_size or spec.input_size
    dirs = 2 if spec.bidirectional else 1
    flops = 0
    for layer in range(spec.num_layers):
        below = width if layer == 0 else dirs * spec.hidden_size
        flops += dirs * spec.gates * spec.hidden_size * (below + spec.hidden_size)
    per_sample = SAMPLE_STEP_SECONDS + 6 * flops / FLOPS  # forward + backward
    train = math.ceil(n_train / batch) * t * STEP_SECONDS + n_train * t * per_sample
    val = math.ceil(n_val / 256) * t * STEP_SECONDS + n_val * t * per_sample / 3
    return train + val


def adapt_to_data(cfg: Config, data: DataBundle, spec: ModelSpec | None = None) -> tuple[object, dict]:
    """`cfg` with train.epochs (and train.patience, val_smoothing) chosen for the data when unset.

    Returns:
        (the config to train with, {key: value} of what was chosen; empty when nothing was).
    """
    tc = cfg.train
    if cfg.data.kind in GENERATORS:
        return cfg, {}
    cfg = _with_window(cfg, data)
    if "epochs" in tc.model_fields_set:
        return cfg, {}
    steps = max(1, num_batches(data.train, tc.batch_size, tc.drop_last))
    n, t = len(data.train), int(data.train.X.shape[1])
    epochs = max(tc.epochs, math.ceil(planned_steps(tc.min_steps, n, t) / steps))
    if tc.time_budget is not None and spec is not None:
        n_val = len(data.val) if data.val is not None else 0
        epochs = max(1, min(epochs, int(tc.time_budget / epoch_seconds(spec, n, n_val, t, tc.batch_size))))
    chosen: dict = {"epochs": epochs}
    if "patience" not in tc.model_fields_set and data.val is not None and len(data.val):
        chosen["patience"] = max(MIN_PATIENCE, math.ceil(PATIENCE_FRACTION * chosen["epochs"]))
        if "val_smoothing" not in tc.model_fields_set:
            chosen["val_smoothing"] = VAL_SMOOTHING
    train = tc.model_copy(update=chosen)
    return cfg.model_copy(update={"train": train}), chosen


def _with_window(cfg: Config, data: DataBundle):
    """A csv series cut with a window the data layer chose (data.seq_len unset): the window is
    written into data.seq_len, so config.yaml, eval and predict cut the same windows."""
    d = cfg.data
    if d.kind != "csv" or {"seq_len", "window"} & d.model_fields_set or not data.task.seq_len:
        return cfg
    if data.task.seq_len == d.seq_len:
        return cfg
    return cfg.model_copy(update={"data": d.model_copy(update={"seq_len": data.task.seq_len})})


def describe_chosen(chosen: dict, cfg: Config) -> str:
    """What `adapt_to_data` chose, in words for the start of training ('' when nothing)."""
    if not chosen:
        return ""
    tc = cfg.train
    stop = (f", stop after {chosen['patience']} without a better smoothed val_loss"
            if "patience" in chosen else "")
    budget = f" within {tc.time_budget:g} s" if tc.time_budget is not None else ""
    return f"at least {tc.min_steps} steps{budget}{stop}; set train.epochs to fix"
