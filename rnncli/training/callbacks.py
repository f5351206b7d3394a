"""How the training loop reports progress: the CLI (or a sweep) subclasses `TrainCallbacks`."""

from __future__ import annotations


class TrainCallbacks:
    """Hooks called by the loop; every method is a no-op here."""

    def on_train_start(self, info: dict) -> None: ...
    def on_step_end(self, epoch: int, step: int, steps: int, loss: float) -> None: ...
    def on_epoch_end(self, record: dict) -> None: ...
    def on_train_end(self, summary: dict) -> None: ...

    def stop_requested(self) -> bool:
        """Asked after each epoch's checkpoint: True ends the run there as if early-stopped
        (a sweep's pruner uses it; the run directory stays complete and consistent)."""
        return False
