"""How a run stops early: Ctrl-C / SIGTERM / SIGHUP as a flag the loop checks after each step, the
epochs without a better (raw or smoothed) score that train.patience counts, and the one-line
message of a non-finite loss or gradient (what happened, what to try, what was kept)."""

from __future__ import annotations

import math
import signal
import threading
from pathlib import Path

from rnncli.run_layout import CHECKPOINT


class StopRequest:
    """SIGINT/SIGTERM/SIGHUP set a flag; the loop finishes its step, checkpoints and stops."""

    def __init__(self):
        self.signum = 0
        self._old = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", signal.SIGTERM)):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.signum:  # a second Ctrl-C: the user insists
            raise KeyboardInterrupt
        self.signum = signum

    def __exit__(self, *exc):
        for sig, handler in self._old.items():
            signal.signal(sig, handler)


def nonfinite_message(epoch: int, step: int, loss: float, norm: float, tc, run_dir: Path) -> str:
    """One line: where it happened, what went non-finite, what to try, what was kept."""
    what = f"the loss became {loss}" if not math.isfinite(loss) else f"the gradient norm became {norm}"
    hints = [f"a lower train.lr (now {tc.lr:g})"]
    if tc.clip_norm is None:
        hints.append("gradient clipping (train.clip_norm: 1.0)")
    hints.append("a smaller model.init_scale or model.init: xavier")
    ckpt = Path(run_dir) / CHECKPOINT
    kept = (f"the last good checkpoint {ckpt} is kept (continue with rnn train --resume {run_dir} "
            "--set train.lr=...)" if ckpt.is_file() else "no checkpoint had been written yet")
    return (f"epoch {epoch} step {step}: {what}; try {', '.join(hints)}, or train.on_nonfinite: skip; "
            f"{kept}")


def count_patience(state, score: float, smoothing: float) -> None:
    """Epochs in a row without a better score: the raw one, or with train.val_smoothing its
    exponential moving average (the average's best is kept in the state, for --resume)."""
    if smoothing:
        state.smooth = score if state.smooth is None else smoothing * state.smooth + (1 - smoothing) * score
        score, better = state.smooth, state.smooth < state.smooth_best
        if better:
            state.smooth_best = score
    else:
        better = state.best_epoch == state.epoch
    state.bad_epochs = 0 if better else state.bad_epochs + 1
