"""Learning-rate schedules: the lr of every step as a pure function of where training is.

Units: a *step* is one batch (all truncated-BPTT windows of a batch share its lr), counted from 0 over
the whole run; an *epoch* index counts completed epochs (0 during the first). With W = warmup_steps:

    warmup (any schedule)  lr * (s + 1) / (W + 1)  for steps s < W  (torch's LinearLR, start 1/(W+1))
    constant               lr
    step                   lr * gamma ** (e // step_epochs)            (torch's StepLR, stepped per epoch)
    exponential            lr * gamma ** e                             (ExponentialLR, stepped per epoch)
    cosine                 lr_min + (lr - lr_min) * (1 + cos(pi * (s - W) / (S - W))) / 2, S = all steps
                           (CosineAnnealingLR stepped per batch, T_max = S - W, eta_min = lr_min)
    plateau                max(lr * factor ** k, lr_min), k = reductions so far (ReduceLROnPlateau)

Only plateau carries state (`PlateauState`, saved in checkpoints): after every epoch the monitored loss
(val_loss, or the training loss without validation) either improves on the best by more than
PLATEAU_THRESHOLD (relative, torch's default) or counts as a bad epoch; more than `patience` bad epochs in
a row reduce the lr once and start the count again.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace

SCHEDULES = ("constant", "step", "exponential", "cosine", "plateau")
PLATEAU_THRESHOLD = 1e-4  # relative improvement that counts (torch's ReduceLROnPlateau default)
DEFAULT_GAMMA = {"step": 0.1, "exponential": 0.95}  # torch's StepLR default; a gentle per-epoch decay


@dataclass(frozen=True)
class Schedule:
    """A schedule's settings (from the train section) and the run's length in steps."""

    name: str = "constant"
    lr: float = 1e-3
    warmup_steps: int = 0
    total_steps: int = 1
    step_epochs: int = 10
    gamma: float | None = None  # None: DEFAULT_GAMMA of the schedule
    lr_min: float = 0.0
    plateau_factor: float = 0.5
    plateau_patience: int = 2

    def __post_init__(self):
        if self.name not in SCHEDULES:
            raise ValueError(f"lr schedule must be one of {SCHEDULES}, got {self.name!r}")


@dataclass(frozen=True)
class PlateauState:
    """What `plateau` remembers between epochs (inf best until the first epoch ends)."""

    best: float = math.inf
    bad_epochs: int = 0
    reductions: int = 0

    def to_dict(self) -> dict:
        d = asdict(self)
        d["best"] = None if math.isinf(self.best) else self.best  # JSON has no inf
        return d

    @classmethod
    def from_dict(cls, d: dict | None) -> PlateauState:
        if not d:
            return cls()
        best = math.inf if d.get("best") is None else float(d["best"])
        return cls(best, int(d.get("bad_epochs", 0)), int(d.get("reductions", 0)))


def warmup_factor(step: int, warmup_steps: int) -> float:
    """(step + 1) / (W + 1) during the first W steps, then 1."""
    return (step + 1) / (warmup_steps + 1) if step < warmup_steps else 1.0


def scheduled_lr(sched: Schedule, step: int, epoch: int, plateau: PlateauState | None = None) -> float:
    """The lr of step `step` (0-based, whole run) in epoch `epoch` (completed epochs before it).

    Returns exactly `sched.lr` for a constant schedule without warmup, so such runs are unchanged.
    """
    name, lr = sched.name, sched.lr
    if name == "cosine" and step >= sched.warmup_steps:
        span = sched.total_steps - sched.warmup_steps
        if span <= 0:
            return lr
        progress = min(step - sched.warmup_steps, span) / span
        return sched.lr_min + (lr - sched.lr_min) * (1.0 + math.cos(math.pi * progress)) / 2.0
    gamma = sched.gamma if sched.gamma is not None else DEFAULT_GAMMA.get(name, 1.0)
    if name == "step":
        lr = lr * gamma ** (epoch // sched.step_epochs)
    elif name == "exponential":
        lr = lr * gamma**epoch
    elif name == "plateau" and plateau is not None and plateau.reductions:
        lr = max(lr * sched.plateau_factor**plateau.reductions, sched.lr_min)
    if step < sched.warmup_steps:
        lr = lr * warmup_factor(step, sched.warmup_steps)
    return lr


def plateau_update(state: PlateauState, metric: float, patience: int) -> PlateauState:
    """The plateau state after an epoch whose monitored loss is `metric` (NaN counts as no better)."""
    if metric < state.best * (1.0 - PLATEAU_THRESHOLD):  # torch's mode 'min', threshold_mode 'rel'
        return replace(state, best=metric, bad_epochs=0)
    bad = state.bad_epochs + 1
    if bad > patience:
        return replace(state, bad_epochs=0, reductions=state.reductions + 1)
    return replace(state, bad_epochs=bad)


def schedule_from_config(tc, steps_per_epoch: int) -> Schedule:
    """The Schedule the train section describes, for a run of tc.epochs epochs of `steps_per_epoch`."""
    return Schedule(
        name=tc.lr_schedule, lr=tc.lr, warmup_steps=tc.warmup_steps,
        total_steps=tc.epochs * steps_per_epoch, step_epochs=tc.lr_step_epochs, gamma=tc.lr_gamma,
        lr_min=tc.lr_min, plateau_factor=tc.plateau_factor, plateau_patience=tc.plateau_patience,
    )
