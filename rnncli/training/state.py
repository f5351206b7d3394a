"""What changes while a model trains: the counters and generator states of `TrainState`, and the
running sums of the epoch in progress (`EpochSums`). A checkpoint stores both, so the loop and the
checkpoint module import them from here and not from each other."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields

import numpy as np

from rnncli.training.schedules import PlateauState


@dataclass
class EpochSums:
    """Running sums over the optimisation steps of one epoch; `record` turns them into its metrics."""

    loss: float = 0.0
    n: int = 0  # steps that updated the weights
    grad_norm: float = 0.0
    grad_norm_max: float = 0.0
    log_dh_ratio: float = 0.0  # sum over steps of log(|dL/dh_1| / |dL/dh_T|), top layer
    n_ratio: int = 0
    skipped: int = 0  # steps left out for a non-finite loss (train.on_nonfinite: skip)
    fb_seconds: float = 0.0  # forward + backward only
    seconds: float = 0.0  # the whole epoch so far, validation excluded

    def add_step(self, loss: float, grad_norm: float, dh_norms: np.ndarray) -> None:
        """Count one update: its loss, pre-clip gradient norm and per-step dL/dh norms (L, T)."""
        self.loss += loss
        self.n += 1
        self.grad_norm += grad_norm
        self.grad_norm_max = max(self.grad_norm_max, grad_norm)
        top = dh_norms[-1]
        if top[0] > 0 and top[-1] > 0:
            self.log_dh_ratio += math.log(top[0] / top[-1])
            self.n_ratio += 1

    def mean_loss(self) -> float:
        return self.loss / max(self.n, 1)

    def record(self, epoch: int, step: int, val: dict, lr: float, val_seconds: float) -> dict:
        """The epoch's line of metrics.jsonl."""
        n = max(self.n, 1)
        record = {
            "epoch": epoch, "step": step,
            "loss": self.loss / n if self.n else float("nan"),
            "val_loss": val.get("loss"),
            **{f"val_{k}": v for k, v in val.items() if k != "loss"},
            "lr": lr, "grad_norm": self.grad_norm / n, "grad_norm_max": self.grad_norm_max,
            # dL/dh at the first step over the last (top layer, geometric mean over steps):
            # far below 1 means gradients vanish back through time, far above means they explode
            "dh_ratio": math.exp(self.log_dh_ratio / self.n_ratio) if self.n_ratio else None,
            "seconds": self.seconds + val_seconds, "fb_seconds": self.fb_seconds,
            "val_seconds": val_seconds,
        }
        if self.skipped:
            record["skipped_steps"] = self.skipped
        return record

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> EpochSums:
        return cls(**{f.name: d[f.name] for f in fields(cls) if f.name in d})


@dataclass
class TrainState:
    """Everything that changes during training; a checkpoint stores all of it."""

    params: dict[str, np.ndarray]
    optimizer: object
    epoch: int = 0  # completed epochs
    step_in_epoch: int = 0  # batches done in the epoch in progress
    global_step: int = 0
    epoch_rng_state: dict | None = None  # data-order generator at the start of the epoch in progress
    dropout_rng_state: dict | None = None
    h_carry: object = None  # stateful (text) data: the state carried from batch to batch ((h, c): LSTM)
    best: float = math.inf
    best_epoch: int = 0
    bad_epochs: int = 0
    smooth: float | None = None  # train.val_smoothing: the moving average of the score
    smooth_best: float = math.inf
    sums: EpochSums = field(default_factory=EpochSums)  # the epoch in progress
    plateau: PlateauState = field(default_factory=PlateauState)  # lr_schedule plateau's memory
