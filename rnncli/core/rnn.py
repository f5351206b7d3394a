"""The stack of recurrent layers, for every cell: layers, dropout between them, both directions.

Letters: B batch, T time, I input, H hidden, L layers, D directions (2 when bidirectional).

Each direction of each layer is one call of the cell's one-layer forward (core/cells/), so the time
loop lives only in the cell modules and everything here holds for every cell unchanged. Work is
time-major: x (B, T, I) is copied once to (T, B, I) and every layer reads and writes (T, B, .) buffers.

Layer l reads u_t: the data x_t for l = 0, the states of layer l-1 above that ([forward ; reverse],
2H wide, when bidirectional). Dropout between layers (as torch.nn.RNN's `dropout`) multiplies a
layer's input by a keep mask drawn once per layer, shared by both directions; recurrent dropout is one
(B, H) keep mask per layer and direction (drawn after the layer's dropout mask), handed to the cell.
Both are drawn only when an `rng` is given, so evaluation passes none.

Bidirectional: layer l's reverse direction has its own parameters (`_reverse` names) and reads the
layer's input reversed within each sequence's own length, as torch's packed sequences do: for a
sequence of n valid steps, reverse step s reads input step n-1-s and the padding after step n stays
where it is. Its states are put back in the original order. States are numbered as torch's h_n:
index D*l + d (d = 0 forward, 1 reverse); the reverse direction's final state is its state after the
whole reversed sequence (at original step 0).

Variable lengths: a padded step (t >= lengths[b]) copies the previous state in every cell, so the
state after the last valid step reaches the end unchanged (as packed sequences end there).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from rnncli.core.bidirectional import DIRECTIONS, reverse_index
from rnncli.core.cells import get_cell, state_from_parts, state_parts
from rnncli.core.xp import array_module


def length_mask(lengths: np.ndarray, T: int) -> np.ndarray:
    """(B,) lengths -> (B, T) bool, True at the valid steps t < lengths[b]. The one place this is written."""
    xp = array_module(lengths)
    return xp.arange(T)[None, :] < xp.asarray(lengths)[:, None]


def step_mask(lengths: np.ndarray | None, T: int) -> np.ndarray | None:
    """(B,) lengths -> (T, B, 1) bool, True at valid steps (time-major); None when every step is valid."""
    if lengths is None:
        return None
    return length_mask(lengths, T).T[..., None]


def keep_mask(rng: np.random.Generator, shape: tuple[int, ...], rate: float, dtype) -> np.ndarray:
    """Inverted-dropout mask of `shape`: 0 with probability `rate`, else 1 / (1 - rate)."""
    dtype = np.dtype(dtype)
    return (rng.random(shape) >= rate).astype(dtype) / dtype.type(1.0 - rate)


def _layer_keep(rng: np.random.Generator, shape: tuple[int, ...], rate: float, dtype, D: int) -> np.ndarray:
    """(T, B, F) dropout mask of a layer's input. A bidirectional stack draws it batch-major (B, T, F),
    as it always has, so saved runs with dropout replay bit-identically."""
    T, B, F = shape
    if D == 1:
        return keep_mask(rng, shape, rate, dtype)
    return keep_mask(rng, (B, T, F), rate, dtype).transpose(1, 0, 2)


def _reverse(a: np.ndarray, ridx: np.ndarray) -> np.ndarray:
    """a (T, B, F) with each sequence's valid steps reversed (ridx (T, B) from reverse_index; a new array)."""
    return array_module(a).take_along_axis(a, ridx[:, :, None], axis=0)


def _at(parts: tuple, s: int) -> tuple | None:
    """Row s of every (L*D, B, H) state part (None when the whole state is zero)."""
    rows, given = [], False
    for p in parts:  # a loop, not a generator expression: see rnn_forward's note
        rows.append(None if p is None else p[s])
        given = given or p is not None
    return tuple(rows) if given else None


def layer_params(params: dict[str, np.ndarray], cell, l: int, suffix: str = "") -> dict[str, np.ndarray]:
    """One direction of layer l by the cell's local names (W_xh, ...)."""
    return {k: params[f"rnn.{l}.{k}{suffix}"] for k in cell.param_shapes(1, 1)}


def rnn_forward(  # noqa: PLR0913 - keyword-only: the stack's shape (4) and its dropout (3)
    params: dict[str, np.ndarray],
    x: np.ndarray,
    *,
    num_layers: int,
    cell: str = "rnn",
    nonlinearity: str = "tanh",
    bidirectional: bool = False,
    lengths: np.ndarray | None = None,
    h0=None,
    dropout: float = 0.0,
    rng: np.random.Generator | None = None,
    recurrent_dropout: float = 0.0,
) -> tuple[np.ndarray, object, dict]:
    """Run the stacked layers over a batch.

    Args:
        params: rnn.{l}.* named as the cell says (core/cells/), `_reverse` twins when bidirectional.
        x: (B, T, I) inputs.
        lengths: (B,) valid steps per sequence, or None when all are T long.
        h0: the initial state, (L*D, B, H) (the LSTM: a tuple (h0, c0)), or None for zeros.
        dropout: probability of zeroing a layer's input for layers above the first (as torch.nn.RNN).
        recurrent_dropout: rate of the mask on h_{t-1} in the recurrent product.

    Returns:
        hs: (B, T, D*H) states of the top layer (a view of the time-major buffer);
        h_final: the state after the last (valid) step, shaped as h0, to pass back as h0;
        cache: for rnn_backward; "top_states" is the top layer's states time-major, (T, B, D*H) and
            contiguous (the same memory as hs); "layers" lists the cell caches (each with "hs"
            (T, B, H) in its own direction's order) in h_final's order.
    """
    c = get_cell(cell)
    B, T, _ = x.shape
    D = 2 if bidirectional else 1
    xp = array_module(x)
    mask = step_mask(lengths, T)
    padded = None if mask is None else ~mask  # (T, B, 1): where a step copies its previous state
    ridx = reverse_index(lengths, B, T, xp).T if bidirectional else None  # (T, B)
    H = c.hidden_size(layer_params(params, c, 0))
    # Plain loops and lists on this path, no generator expressions or comprehensions feeding dicts:
    # those left ~50 bytes per call in the allocator's free lists, which the flat-memory check of
    # truncated BPTT (tests/test_bench.py) counts.
    finals = tuple([xp.empty((num_layers * D, B, H), dtype=x.dtype) for _ in c.STATE])  # as h0
    sweep = _Sweep(c, D, padded, ridx, state_parts(h0, len(c.STATE)), finals, [], rng, recurrent_dropout,
                   nonlinearity)
    keeps = []
    u = xp.ascontiguousarray(x.transpose(1, 0, 2))  # (T, B, I)
    for l in range(num_layers):
        u, keep = _input_dropout(u, l, dropout, rng, D)
        keeps.append(keep)
        u = _layer_forward(params, l, u, sweep)  # (T, B, D*H)
    cache = {"cell": c, "layers": sweep.records, "keeps": keeps, "ridx": ridx, "num_layers": num_layers,
             "directions": D, "top_states": u}
    return u.transpose(1, 0, 2), state_from_parts(finals), cache


@dataclass
class _Sweep:
    """What every layer of one rnn_forward call shares."""

    cell: Any
    D: int
    padded: np.ndarray | None  # (T, B, 1)
    ridx: np.ndarray | None  # (T, B)
    init: tuple  # the initial state's parts, (L*D, B, H) or None each
    finals: tuple  # the final state's parts, filled layer by layer
    records: list  # the cells' caches in h_final's order
    rng: np.random.Generator | None
    recurrent_dropout: float
    nonlinearity: str


def _input_dropout(u: np.ndarray, l: int, rate: float, rng: np.random.Generator | None, D: int
                   ) -> tuple[np.ndarray, np.ndarray | None]:
    """Layer l's input with dropout between layers applied (never on the data): (u, keep mask or None)."""
    if l == 0 or rate <= 0.0 or rng is None:
        return u, None
    keep = _layer_keep(rng, u.shape, rate, u.dtype, D)
    return u * keep, keep


def _recurrent_mask(rng: np.random.Generator | None, shape: tuple[int, int], rate: float, dtype
                    ) -> np.ndarray | None:
    """One direction's (B, H) keep mask on h_{t-1} (recurrent dropout), or None."""
    if rate <= 0.0 or rng is None:
        return None
    return keep_mask(rng, shape, rate, dtype)


def _layer_forward(params: dict[str, np.ndarray], l: int, u: np.ndarray, sw: _Sweep) -> np.ndarray:
    """Layer l's directions over u (T, B, F); records their caches and final states in `sw`.

    Returns the layer's output (T, B, D*H): [forward ; reverse] states in the original time order.
    """
    c, D = sw.cell, sw.D
    outs = []
    for d, suffix in enumerate(DIRECTIONS[:D]):
        p = layer_params(params, c, l, suffix)
        rmask = _recurrent_mask(sw.rng, (u.shape[1], c.hidden_size(p)), sw.recurrent_dropout, u.dtype)
        hs, final, record = c.forward(p, u if d == 0 else _reverse(u, sw.ridx), _at(sw.init, D * l + d),
                                      padded=sw.padded, rmask=rmask, nonlinearity=sw.nonlinearity)
        for k in range(len(sw.finals)):
            sw.finals[k][D * l + d] = final[k]
        sw.records.append(record)
        outs.append(hs if d == 0 else _reverse(hs, sw.ridx))
    return outs[0] if D == 1 else array_module(u).concatenate(outs, axis=2)


def rnn_backward(dhs: np.ndarray | None, cache: dict, dh_final=None
                 ) -> tuple[dict[str, np.ndarray], np.ndarray, object, np.ndarray]:
    """Backpropagation through time for rnn_forward.

    Args:
        dhs: (B, T, D*H) gradient of the loss on the top layer's states, or None for zero
            (a many-to-one head feeds its gradient in through dh_final instead).
        dh_final: gradient on the final state, shaped as h_final (parts may be None), or None.

    Returns:
        grads: same names and shapes as the parameters; dx: (B, T, I) gradient on the inputs;
        dh0: gradient on the initial state, shaped as h_final;
        dh_norms: (L*D, T) Frobenius norm over the batch of dL/dh_t per layer and direction, by step
            of that direction's own sweep (the reverse direction's step 0 reads each last valid input).
    """
    c, records = cache["cell"], cache["layers"]
    L, D = cache["num_layers"], cache["directions"]
    n = len(c.STATE)
    T, B, H = records[0]["hs"].shape
    dtype = records[0]["hs"].dtype
    xp = array_module(records[0]["hs"])
    out = {"grads": {}, "dfinal": state_parts(dh_final, n),
           "d0": tuple([xp.empty((L * D, B, H), dtype=dtype) for _ in range(n)]),
           "dh_norms": xp.empty((L * D, T), dtype=np.float64)}
    # (T, B, D*H) view, read only: the cell reads each step's (B, H) slice in place.
    d_above = None if dhs is None else dhs.transpose(1, 0, 2)
    for l in reversed(range(L)):
        d_above = _layer_backward(cache, l, d_above, out)
        if cache["keeps"][l] is not None:
            d_above *= cache["keeps"][l]  # the dropout between layers
    return out["grads"], d_above.transpose(1, 0, 2), state_from_parts(out["d0"]), out["dh_norms"]


def _direction_grad(d_above: np.ndarray | None, d: int, H: int, D: int, ridx: np.ndarray | None):
    """Direction d's share of the gradient on the layer's output (T, B, H), in that direction's time order."""
    if d_above is None or D == 1:
        return d_above
    part = d_above[:, :, d * H:(d + 1) * H]
    return part if d == 0 else _reverse(part, ridx)


def _layer_backward(cache: dict, l: int, d_above: np.ndarray | None, out: dict) -> np.ndarray:
    """Layer l's directions backwards; fills out's grads, d0 and dh_norms. Returns dL/du (T, B, F)."""
    c, records, ridx, D = cache["cell"], cache["layers"], cache["ridx"], cache["directions"]
    H = records[0]["hs"].shape[2]
    du = None
    for d, suffix in enumerate(DIRECTIONS[:D]):
        s = D * l + d
        g, du_d, ds0, out["dh_norms"][s] = c.backward(_direction_grad(d_above, d, H, D, ridx), records[s],
                                                      _at(out["dfinal"], s))
        for k in range(len(ds0)):
            out["d0"][k][s] = ds0[k]
        for k, v in g.items():
            out["grads"][f"rnn.{l}.{k}{suffix}"] = v
        du_d = du_d if d == 0 else _reverse(du_d, ridx)
        du = du_d if du is None else du + du_d
    return du
