"""What the gated cells (gru.py, lstm.py) share: torch's parameter layout, its initialisation, and the
in-place gate nonlinearities.

Letters: B batch, I input, H hidden, G gates.

Parameters of one layer (torch.nn.GRU / LSTM's names and layout, so tensors move unchanged both ways):
W_ih (G*H, I), W_hh (G*H, H), b_ih (G*H,), b_hh (G*H,), the gates stacked in rows in the cell's GATES
order.
"""

from __future__ import annotations

import numpy as np

from rnncli.core.initializers import draw, recurrent_block
from rnncli.core.xp import array_module

TORCH_NAMES = {"W_ih": "weight_ih", "W_hh": "weight_hh", "b_ih": "bias_ih", "b_hh": "bias_hh"}


def param_shapes(input_size: int, hidden_size: int, gates: int) -> dict[str, tuple[int, ...]]:
    """Local name -> shape, in the order they are drawn."""
    GH = gates * hidden_size
    return {"W_ih": (GH, input_size), "W_hh": (GH, hidden_size), "b_ih": (GH,), "b_hh": (GH,)}


def init_layer(rng: np.random.Generator, input_size: int, hidden_size: int, gates: int, *, init: str,
               recurrent_init: str | None, scale: float) -> dict[str, np.ndarray]:
    """Fresh float64 parameters: W_ih by `init` (over the whole (G*H, I) matrix), W_hh one (H, H) block
    per gate by `recurrent_init` (orthogonal or identity per block; None = `init` over the whole
    matrix), biases U(-scale, scale) for `init: uniform` (torch's default init of every tensor, so
    `init: uniform` with `recurrent_init: null` draws what torch.nn.GRU/LSTM draws), else zero."""
    H = hidden_size
    GH = gates * H
    W_ih = draw(rng, (GH, input_size), init, scale)
    if recurrent_init is None:
        W_hh = draw(rng, (GH, H), init, scale)
    else:
        W_hh = np.concatenate([recurrent_block(rng, H, init, recurrent_init, scale) for _ in range(gates)])
    if init == "uniform":
        b_ih, b_hh = rng.uniform(-scale, scale, GH), rng.uniform(-scale, scale, GH)
    else:
        b_ih, b_hh = np.zeros(GH), np.zeros(GH)
    return {"W_ih": W_ih, "W_hh": W_hh, "b_ih": b_ih, "b_hh": b_hh}


def hidden_size(p: dict[str, np.ndarray]) -> int:
    """H of one layer's parameters."""
    return int(p["W_hh"].shape[1])


def sigmoid_(a: np.ndarray) -> None:
    """The logistic function in place, as 0.5 * (1 + tanh(a / 2)): no overflow for large |a|, one buffer."""
    a *= 0.5
    array_module(a).tanh(a, out=a)
    a *= 0.5
    a += 0.5
