"""Training lengths that adapt to the data, for the keys a user left unset.

Small real datasets (tens to hundreds of sequences) give only a few optimisation steps per
epoch, so a fixed epoch count trains them for a few hundred steps and stops far from what
they can reach. For file data, when `train.epochs` is not set, training runs for at least
`train.min_steps` steps (never fewer than the default epochs), and, when `train.patience` is
not set either, stops after a fifth of those epochs (at least 10) without a better validation
loss; the best weights are kept in best.npz, which `rnn eval/predict RUN_DIR` use. What the
user sets is honoured exactly; the chosen values are written into the run's config.yaml, so
the run is reproduced by `rnn train -c RUN_DIR/config.yaml` and resumed identically.
"""

from __future__ import annotations

import math

from rnncli.data import DataBundle, num_batches
from rnncli.data.options import GENERATORS

# Epochs without a better validation loss before stopping, as a fraction of the epochs chosen:
# small validation sets are noisy, so a short patience stops on a lucky epoch.
PATIENCE_FRACTION = 0.2
MIN_PATIENCE = 10


def adapt_to_data(cfg, data: DataBundle) -> tuple[object, dict]:
    """`cfg` with train.epochs (and train.patience) chosen for the data when left unset.

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
    chosen: dict = {"epochs": max(tc.epochs, math.ceil(tc.min_steps / steps))}
    if "patience" not in tc.model_fields_set and data.val is not None and len(data.val):
        chosen["patience"] = max(MIN_PATIENCE, math.ceil(PATIENCE_FRACTION * chosen["epochs"]))
    train = tc.model_copy(update=chosen)
    return cfg.model_copy(update={"train": train}), chosen


def _with_window(cfg, data: DataBundle):
    """A csv series cut with a window the data layer chose (data.seq_len unset): the window is
    written into data.seq_len, so config.yaml, eval and predict cut the same windows."""
    d = cfg.data
    if d.kind != "csv" or {"seq_len", "window"} & d.model_fields_set or not data.task.seq_len:
        return cfg
    if data.task.seq_len == d.seq_len:
        return cfg
    return cfg.model_copy(update={"data": d.model_copy(update={"seq_len": data.task.seq_len})})


def describe_chosen(chosen: dict, min_steps: int) -> str:
    """What `adapt_to_data` chose, in words for the start of training ('' when nothing)."""
    if not chosen:
        return ""
    stop = (f", stop after {chosen['patience']} without a better val_loss"
            if "patience" in chosen else "")
    return f"at least {min_steps} steps{stop}; set train.epochs to fix"
