"""What every cell's one-layer forward and backward share (core/cells/).

Letters: T time, B batch, H hidden.
"""

from __future__ import annotations

import numpy as np


def start(state0: tuple | None, k: int, out: np.ndarray) -> None:
    """out[...] = part k of state0, or 0 when it is not given (a copy: the caller's array is never kept)."""
    if state0 is None or state0[k] is None:
        out[...] = 0.0
    else:
        out[...] = state0[k]


def recurrent_inputs(buf: np.ndarray, rmask: np.ndarray | None) -> np.ndarray:
    """(T, B, H) what the recurrent weights multiplied at each step: h_{t-1}, times the recurrent
    dropout mask when there is one (buf[t] = h_{t-1}, buf[0] = h0; a masked copy is a new array)."""
    T = buf.shape[0] - 1
    return buf[:T] if rmask is None else buf[:T] * rmask


def bias_grads(d: np.ndarray) -> np.ndarray:
    """(T, B, G*H) -> (G*H,): summed over the batch, then over time (float32 round-off grows with B + T)."""
    return d.sum(axis=1).sum(axis=0)
