"""The cell seam: every recurrent cell is one module behind one small contract, found by name here.

Letters: B batch, T time, I input (the layer below's width), H hidden, G gates.

A cell module computes ONE layer in ONE direction over a time-major batch; the stacking of layers
(dropout between them, both directions, reversal within each length) is core/rnn.py's, the same for
every cell. A cell module defines:

    NAME             its `model.cell` value
    GATES            names of the row blocks of its stacked weights, in order (len = G; 1 for Elman)
    STATE            names of the state's parts: ("h",), or ("h", "c") for the LSTM
    RECURRENT        the name of the (G*H, H) matrix that multiplies h_{t-1} (diagnose's spectra)
    FORWARD_BUFFERS, TRAIN_BUFFERS   (T, B, H)-sized arrays one layer holds in a forward pass / a
                     training step, for memory.py's estimate
    NONLINEARITIES   the `model.nonlinearity` values it takes
    TORCH_CLASS      the torch.nn class with the same equations ("RNN", "GRU", "LSTM")
    TORCH_NAMES      our local parameter name -> torch's (weight_ih, ...; without the _l{l} suffix)
    param_shapes(input_size, hidden_size) -> {local name: shape}, in the order they are drawn
    init_layer(rng, input_size, hidden_size, *, init, recurrent_init, scale, forget_bias) -> float64 params
    hidden_size(p) -> H of one layer's params
    forward(p, u (T, B, I), state0, *, padded, rmask, nonlinearity) -> (hs (T, B, H), final, cache)
    backward(dhs (T, B, H) | None, cache, dfinal) -> (grads, du (T, B, I), dstate0, dh_norms (T,))

`state0`, `final`, `dfinal` and `dstate0` are tuples with one (B, H) array per STATE part (None
entries for zero). The cache's "hs" is the (T, B, H) states, "u" the input; an LSTM's also has "cs".
Parameters are named `rnn.{l}.{local name}{suffix}` in the model (suffix "" or "_reverse").

Above the stack, a model's state (h0, h_final, dh0) is one (L*D, B, H) array for a one-part cell and
a tuple (h, c) of two for the LSTM, as torch passes them; `state_parts` / `map_state` read either.
Adding a cell: its module here, one line in CELLS, its tests (see docs/DESIGN.md).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from rnncli.core.cells import elman, gru, lstm

CELLS: dict[str, Any] = {"rnn": elman, "gru": gru, "lstm": lstm}


def get_cell(name: str) -> Any:
    """The cell module registered as `name` (ValueError naming the choices otherwise)."""
    try:
        return CELLS[name]
    except (KeyError, TypeError):
        raise ValueError(f"cell must be one of {tuple(CELLS)}, got {name!r}") from None


def state_parts(state, n: int) -> tuple:
    """A model state (None, one array, or a tuple of n arrays) as a tuple of n parts (None for zero)."""
    if state is None:
        return (None,) * n
    if isinstance(state, (tuple, list)):
        if len(state) != n:
            raise ValueError(f"the state has {len(state)} parts, the cell needs {n}")
        return tuple(state)
    if n != 1:
        raise ValueError(f"the cell's state has {n} parts (h, c), got one array")
    return (state,)


def state_from_parts(parts: tuple):
    """The inverse of state_parts: one array for a one-part state, else the tuple."""
    return parts[0] if len(parts) == 1 else tuple(parts)


def map_state(fn: Callable[[np.ndarray], np.ndarray], state):
    """fn applied to every part of a state (one array or a tuple); None stays None."""
    if state is None:
        return None
    if isinstance(state, (tuple, list)):
        return tuple(None if a is None else fn(a) for a in state)
    return fn(state)


def state_batch(state) -> int:
    """B of a state: every part is (L*D, B, H)."""
    first = state[0] if isinstance(state, (tuple, list)) else state
    return int(first.shape[1])
