"""One training run in progress: what the loop's phases (training/loop.py) share."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnncli.core.model import ModelSpec
from rnncli.data import DataBundle
from rnncli.device import Device
from rnncli.training.callbacks import TrainCallbacks
from rnncli.training.checkpoint import RunSaver
from rnncli.training.schedules import Schedule, scheduled_lr
from rnncli.training.state import TrainState
from rnncli.training.steplog import StepLog
from rnncli.training.stopping import StopRequest


@dataclass
class Run:
    """One training run in progress: what the loop's phases share."""

    cfg: object
    spec: ModelSpec
    data: DataBundle
    state: TrainState
    order_rng: np.random.Generator  # data order
    dropout_rng: np.random.Generator
    saver: RunSaver
    cb: TrainCallbacks
    stop: StopRequest | None  # set when the epochs start
    steps: int  # batches per epoch
    chosen: dict  # train keys chosen for the data (training/adaptive.py), shown at the start
    schedule: Schedule | None = None
    device: Device | None = None  # where parameters, optimizer state and masks live
    log: StepLog | None = None  # the steps' values not yet read back from the device

    def lr(self, step: int, epoch: int) -> float:
        """The lr of global step `step` (0-based) in epoch `epoch` (1-based)."""
        return scheduled_lr(self.schedule, step, epoch - 1, self.state.plateau)

    @property
    def run_dir(self) -> Path:
        return self.saver.run_dir
