"""The vanilla (Elman) cell: one layer, one direction, over a time-major batch.

Letters: B batch, T time, I input (the layer below's width), H hidden.

    h_t = act(W_xh u_t + W_hh h_{t-1} + b_h)        act = tanh or relu, h_{-1} = h0

The maths is written for column vectors (as the reference notebooks do); the code keeps a whole batch in
the rows of a matrix, so every product appears transposed: h_t = act(u_t @ W_xh.T + h_{t-1} @ W_hh.T + b_h).

The layer owns one (T+1, B, H) buffer whose row 0 is h0 and rows 1..T the states, so the input
projection of all steps is one matrix product before the time loop, and the weight gradients are one
product each over (T*B) rows after the backward sweep (W_hh's pairs h_{t-1}, da_t are rows 0..T-1 and
1..T of the same buffer). The Python loop runs over time steps only, never over samples, and inside it
every product writes into a preallocated (B, H) array (`out=`), so a step allocates nothing.
Everything stays in the dtype of u: only Python scalars meet the arrays, so float32 runs stay float32.

Recurrent dropout (Gal & Ghahramani 2016, "variational"): the stack (core/rnn.py) draws one keep mask
m (B, H) per layer and direction, and every step uses it on the recurrent input only:
h_t = act(W_xh u_t + W_hh (m * h_{t-1}) + b_h). The state itself is passed on unmasked.

Variable lengths: a padded step (padded[t] True) copies the previous state, so the state after the last
valid step reaches the end of the sequence unchanged; backward lets its gradient pass straight through
and gives the padded step no gradient of its own.

The cell contract (core/cells/__init__.py) is this module's public names.
"""

from __future__ import annotations

import numpy as np

from rnncli.core.cells.common import bias_grads, recurrent_inputs
from rnncli.core.initializers import draw, recurrent_block
from rnncli.core.xp import array_module, fused

NAME = "rnn"
GATES = ("h",)  # row blocks of W_xh / W_hh: one, the candidate state itself
STATE = ("h",)
RECURRENT = "W_hh"  # the (G*H, H) matrix that multiplies h_{t-1}
FORWARD_BUFFERS = 2  # (T, B, H) arrays a forward pass holds per layer (memory.py): states, input product
TRAIN_BUFFERS = 3  # ... forward + backward: states, da, the dropout mask
NONLINEARITIES = ("tanh", "relu")
TORCH_CLASS = "RNN"
# our name -> torch.nn.RNN's (without the _l{l} suffix); torch's bias_hh has no twin here: it is zero
TORCH_NAMES = {"W_xh": "weight_ih", "W_hh": "weight_hh", "b_h": "bias_ih"}


def param_shapes(input_size: int, hidden_size: int) -> dict[str, tuple[int, ...]]:
    """Local name -> shape of one layer's (one direction's) parameters, in the order they are drawn."""
    H = hidden_size
    return {"W_xh": (H, input_size), "W_hh": (H, H), "b_h": (H,)}


def init_layer(rng: np.random.Generator, input_size: int, hidden_size: int, *, init: str,
               recurrent_init: str | None, scale: float, forget_bias: float = 0.0) -> dict[str, np.ndarray]:
    """Fresh float64 parameters of one layer: W_xh by `init`, W_hh by `recurrent_init`, b_h zero.

    forget_bias belongs to the LSTM; this cell has no forget gate and ignores it.
    """
    H = hidden_size
    return {"W_xh": draw(rng, (H, input_size), init, scale),
            "W_hh": recurrent_block(rng, H, init, recurrent_init, scale),
            "b_h": np.zeros(H)}


def hidden_size(p: dict[str, np.ndarray]) -> int:
    """H of one layer's parameters."""
    return int(p["W_hh"].shape[1])


def tanh_grad_from_output(h: np.ndarray) -> np.ndarray:
    """d tanh(a) / da written in terms of the output h = tanh(a): 1 - h**2 (a new array).

    The classic bug (reference notebook 002) applies 1 - tanh(h)**2 to the already-activated h;
    the gradient check catches it (tests/test_gradcheck.py swaps this function to prove it).
    """
    xp = array_module(h)
    g = xp.multiply(h, h)
    xp.subtract(1.0, g, out=g)  # in place: one buffer, no temporary for h*h
    return g


def relu_grad_from_output(h: np.ndarray) -> np.ndarray:
    """d relu(a) / da in terms of h = relu(a): 1 where h > 0 (the kink at 0 gets 0, as in torch)."""
    return (h > 0).astype(h.dtype)


def _activate(a: np.ndarray, nonlinearity: str) -> None:
    """Apply the nonlinearity in place (saves a (B, H) buffer per step)."""
    xp = array_module(a)
    if nonlinearity == "tanh":
        xp.tanh(a, out=a)
    else:
        xp.maximum(a, 0, out=a)


def _grad_from_output(h: np.ndarray, nonlinearity: str) -> np.ndarray:
    # Looked up at call time so a test can swap in the buggy derivative.
    if nonlinearity == "tanh":
        return tanh_grad_from_output(h)
    return relu_grad_from_output(h)


def forward(p: dict[str, np.ndarray], u: np.ndarray, state0: tuple | None, *, padded: np.ndarray | None,
            rmask: np.ndarray | None, nonlinearity: str = "tanh") -> tuple[np.ndarray, tuple, dict]:
    """One layer over the whole sequence.

    Args:
        p: W_xh (H, I), W_hh (H, H), b_h (H,).
        u: (T, B, I) inputs, time-major and contiguous (kept in the cache, never written).
        state0: (h0,) with h0 (B, H), or None for zeros.
        padded: (T, B, 1) bool, True where a step copies its previous state; None when all are valid.
        rmask: (B, H) recurrent dropout keep mask, or None.

    Returns:
        hs (T, B, H) states (a view of the layer's buffer), (h_final,) (B, H), cache for backward
        (its "hs" is hs; "u" the input).
    """
    if nonlinearity not in NONLINEARITIES:
        raise ValueError(f"nonlinearity must be one of {NONLINEARITIES}, got {nonlinearity!r}")
    W_xh, W_hh, b_h = p["W_xh"], p["W_hh"], p["b_h"]
    T, B = u.shape[:2]
    H = W_hh.shape[0]
    dtype = u.dtype
    xp = array_module(u)
    buf = xp.empty((T + 1, B, H), dtype=dtype)  # buf[0] = h0, buf[t + 1] = h_t
    if state0 is None or state0[0] is None:
        buf[0] = 0.0
    else:
        buf[0] = state0[0]  # a copy: the caller's h0 is never written or kept
    hs = buf[1:]
    # All input projections in one product: (T*B, I) @ (I, H), straight into the state buffer,
    # where each step then adds its recurrent term and activates in place.
    xp.matmul(u.reshape(T * B, -1), W_xh.T, out=hs.reshape(T * B, H))
    hs += b_h
    # A contiguous copy of W_hh.T (H*H, once per call): BLAS runs measurably faster on it
    # than on the transposed view for these short, wide products.
    W_hh_T = xp.ascontiguousarray(W_hh.T)
    fused(xp, "elman.forward_steps", forward_steps)(buf, W_hh_T, rmask, padded, nonlinearity)
    cache = {"p": p, "u": u, "buf": buf, "hs": hs, "rmask": rmask, "padded": padded,
             "nonlinearity": nonlinearity}
    return hs, (buf[T],), cache


def forward_steps(buf: np.ndarray, W_hh_T: np.ndarray, rmask: np.ndarray | None,
                  padded: np.ndarray | None, nonlinearity: str) -> None:
    """The time loop of forward, in place: buf[t + 1] holds step t's input term W_xh u_t + b_h and
    becomes h_t = act(buf[t + 1] + (m *) buf[t] @ W_hh.T) (h_{t-1} itself where padded[t]).

    A GPU backend replaces this loop with fused kernels (rnncli/accel); this is their reference.
    """
    xp = array_module(buf)
    B, H = buf.shape[1:]
    rec = xp.empty((B, H), dtype=buf.dtype)  # h_{t-1} @ W_hh.T, reused by every step
    if rmask is not None:
        dropped = xp.empty((B, H), dtype=buf.dtype)
    for t in range(buf.shape[0] - 1):
        h_t = buf[t + 1]  # holds the pre-activation until activated in place
        if rmask is None:
            xp.matmul(buf[t], W_hh_T, out=rec)
        else:
            xp.matmul(xp.multiply(buf[t], rmask, out=dropped), W_hh_T, out=rec)
        h_t += rec
        _activate(h_t, nonlinearity)
        if padded is not None:
            xp.copyto(h_t, buf[t], where=padded[t])


def backward(dhs: np.ndarray | None, cache: dict, dfinal: tuple | None = None
             ) -> tuple[dict[str, np.ndarray], np.ndarray, tuple, np.ndarray]:
    """Backpropagation through time for forward.

    Args:
        dhs: (T, B, H) gradient on the states (any strides; read one step at a time), or None for zero.
        dfinal: (dh_final,) with dh_final (B, H) the gradient on the final state, or None.

    Returns:
        grads W_xh / W_hh / b_h; du (T, B, I) gradient on the inputs; (dh0,) (B, H);
        dh_norms (T,) float64: Frobenius norm over the batch of dL/dh_t at every step.
    """
    p, u, buf, hs = cache["p"], cache["u"], cache["buf"], cache["hs"]
    rmask, padded, nonlinearity = cache["rmask"], cache["padded"], cache["nonlinearity"]
    W_xh, W_hh = p["W_xh"], p["W_hh"]
    T, B, H = hs.shape
    dtype = hs.dtype
    xp = array_module(hs)
    dh_norms = xp.empty(T, dtype=np.float64)
    da = xp.empty((T, B, H), dtype=dtype)  # dL/da_t, the pre-activation gradient
    dh_final = None if dfinal is None else dfinal[0]
    dh0 = fused(xp, "elman.backward_steps", backward_steps)(
        dhs, dh_final, hs, W_hh, rmask, padded, nonlinearity, da, dh_norms)
    da2 = da.reshape(T * B, H)
    grads = {"W_xh": da2.T @ u.reshape(T * B, -1)}
    prev = recurrent_inputs(buf, rmask)  # what W_hh multiplied: (m *) h_{t-1}
    grads["W_hh"] = da2.T @ prev.reshape(T * B, H)  # pairs (da_t, h_{t-1}), h_{-1} = h0
    del prev  # (a masked copy is as big as the states: never kept while the next layer runs)
    grads["b_h"] = bias_grads(da)  # over the batch, then time: float32 round-off grows with B + T
    du = (da2 @ W_xh).reshape(T, B, -1)
    return grads, du, (dh0,), dh_norms


def backward_steps(dhs: np.ndarray | None, dh_final: np.ndarray | None, hs: np.ndarray, W_hh: np.ndarray,
                   rmask: np.ndarray | None, padded: np.ndarray | None, nonlinearity: str,
                   da: np.ndarray, dh_norms: np.ndarray) -> np.ndarray:
    """The time loop of backward: fills da (T, B, H) with dL/da_t and dh_norms (T,) with |dL/dh_t|,
    and returns dL/dh0 (B, H).

    A GPU backend replaces this loop with fused kernels (rnncli/accel); this is their reference.
    """
    xp = array_module(hs)
    T, B, H = hs.shape
    dtype = hs.dtype
    valid = None if padded is None else ~padded  # (T, B, 1)
    passthrough = None if padded is None else padded.astype(dtype)
    dh = xp.empty((B, H), dtype=dtype)  # dL/dh_t, reused by every step
    d_next = xp.empty((B, H), dtype=dtype)  # dL/dh_{t-1} through W_hh, reused by every step
    if dh_final is None:
        d_next[...] = 0.0
    else:
        d_next[...] = dh_final
    for t in range(T - 1, -1, -1):
        if dhs is None:
            dh, d_next = d_next, dh  # dh_t is just what came back from step t+1
        else:
            xp.add(dhs[t], d_next, out=dh)
        dh_norms[t] = xp.sqrt(xp.vdot(dh, dh))  # (on a device: stays there)
        # The local derivative of step t, taken while h_t is in cache, times dh, written
        # straight into da[t]: cheaper than a derivative pass over all (T, B, H) states first.
        da_t = da[t]
        xp.multiply(_grad_from_output(hs[t], nonlinearity), dh, out=da_t)
        if padded is not None:
            da_t *= valid[t]  # a padded step has no pre-activation gradient of its own
        xp.matmul(da_t, W_hh, out=d_next)
        if rmask is not None:
            d_next *= rmask  # h_{t-1} reached W_hh through the recurrent dropout mask
        if passthrough is not None:
            dh *= passthrough[t]  # a padded step copied h_{t-1}: its gradient goes straight back
            d_next += dh
    return d_next
