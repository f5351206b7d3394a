"""What each training step reports (loss, gradient norm, the dL/dh ratio), and when it is read.

On the host the values are floats at once and go into the epoch's sums as each step ends, as they
always did. On a device they stay there: `add` keeps each step's four numbers as a small device
array and `flush` reads every step since the last flush back in one transfer (every `LOG_EVERY`
steps, at the end of each epoch and before every save), checks them, and adds them to the epoch's
sums in order: the host's arithmetic, later. A step whose loss or gradient was not finite is found
at the flush and stops the run there, naming that step, before anything is saved. With
`train.on_nonfinite: skip` each step must be judged before its update, so that mode reads every
step's loss back (one wait for the device per step).
"""

from __future__ import annotations

import math

import numpy as np

from rnncli.device import Device
from rnncli.errors import NonFiniteError
from rnncli.training.state import EpochSums
from rnncli.training.stopping import nonfinite_message

LOG_EVERY = 50  # steps between read-backs on a device: a wait per 50 steps costs nothing measurable


class StepLog:
    """Each step's reported values: judged at once on the host, read back in batches on a device."""

    def __init__(self, device: Device, tc, run_dir):
        self.device, self.tc, self.run_dir = device, tc, run_dir
        self.deferred = not device.is_host and tc.on_nonfinite != "skip"
        self._pending: list[tuple[int, int, object]] = []  # (epoch, step, (4,) device array)
        self._since = 0

    def record(self, epoch: int, step: int, loss, norm, dh_norms, sums: EpochSums) -> bool:
        """One step's loss, pre-clip gradient norm and (L, T) |dL/dh|: False when the step is to be
        skipped (not finite, train.on_nonfinite: skip); raises NonFiniteError when it is to stop."""
        if self.deferred:
            top = dh_norms[-1]
            self._pending.append((epoch, step, self.device.xp.stack([loss, norm, top[0], top[-1]])))
            return True
        loss, norm = self._read(loss), self._read(norm)  # "skip" on a device: a read-back per step
        if not (math.isfinite(loss) and math.isfinite(norm)):
            if self.tc.on_nonfinite == "skip":
                sums.skipped += 1
                return False
            raise NonFiniteError(nonfinite_message(epoch, step + 1, loss, norm, self.tc, self.run_dir))
        sums.add_step(loss, norm, self.device.to_host(dh_norms))
        return True

    def _read(self, value) -> float:
        return value if isinstance(value, float) else float(self.device.to_host(value))

    def due(self, epoch_end: bool) -> bool:
        """Count a finished step; True when its values should be read back now (always on the host)."""
        self._since += 1
        if not self.deferred or epoch_end or self._since >= LOG_EVERY:
            self._since = 0
            return True
        return False

    def flush(self, sums: EpochSums) -> None:
        """Read the pending steps back in one transfer and add them to `sums`; raise on a diverged one."""
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        values = self.device.to_host(self.device.xp.stack([v for _, _, v in pending]))
        for (epoch, step, _), (loss, norm, first, last) in zip(pending, values.tolist(), strict=True):
            if not (math.isfinite(loss) and math.isfinite(norm)):
                raise NonFiniteError(nonfinite_message(epoch, step + 1, loss, norm, self.tc, self.run_dir))
            sums.add_step(loss, norm, np.array([[first, last]]))
