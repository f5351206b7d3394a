"""The LSTM cell (Hochreiter & Schmidhuber 1997) with torch's equations: one layer, one direction, over a
time-major batch.

Letters: B batch, T time, I input (the layer below's width), H hidden.

Gates in torch's order i, f, g, o, and a cell state c beside h:

    i_t = sigmoid(W_ii u_t + b_ii + W_hi h_{t-1} + b_hi)        f_t, o_t alike
    g_t = tanh(W_ig u_t + b_ig + W_hg h_{t-1} + b_hg)
    c_t = f_t * c_{t-1} + i_t * g_t
    h_t = o_t * tanh(c_t)

W_ih (4H, I) = [W_ii; W_if; W_ig; W_io], W_hh (4H, H), b_ih and b_hh (4H,) as torch.nn.LSTM's tensors
(core/cells/gated.py); the state is (h, c). Speed: every gate's input product is ONE (T*B, I) @ (I, 4H)
product before the time loop (both biases folded in), each step does ONE recurrent product
(B, H) @ (H, 4H) into the step's gate rows, the nonlinearities run in place, and a step allocates
nothing. A step's four gates sit side by side in one contiguous (B, 4H) row block, and NumPy is 3-4x
slower on one gate's strided column slice than on a contiguous array, so the nonlinearities are ONE
tanh over the whole block (the sigmoid gates' pre-activations halved beforehand, exactly, by halving
their columns of W_hh and their input terms: sigmoid(a) = 0.5 tanh(a / 2) + 0.5) and backward forms
all four gates' derivatives in one pass; the results are bit-identical to the gate-by-gate loop.
Recurrent dropout: one keep mask m (B, H) multiplies h_{t-1} in the recurrent product of every
gate. A padded step copies both h_{t-1} and c_{t-1}, so both are frozen after a sequence's last step.

`init_layer`'s forget_bias is added to b_ih's forget block (Jozefowicz et al. 2015: a forget gate
open at the start lets gradients through c from the first update).
"""

from __future__ import annotations

import numpy as np

from rnncli.core.cells import gated
from rnncli.core.cells.common import bias_grads, recurrent_inputs, start
from rnncli.core.cells.gated import TORCH_NAMES, hidden_size
from rnncli.core.xp import array_module, fused

__all__ = ["TORCH_NAMES", "backward", "forward", "hidden_size", "init_layer", "param_shapes"]

NAME = "lstm"
GATES = ("i", "f", "g", "o")
STATE = ("h", "c")
RECURRENT = "W_hh"
NONLINEARITIES = ("tanh",)
TORCH_CLASS = "LSTM"
FORWARD_BUFFERS = 7  # h, c, tanh(c), the four gates
TRAIN_BUFFERS = 12  # ... and the gates' gradients (4), the dropout mask


def param_shapes(input_size: int, hidden_size: int) -> dict[str, tuple[int, ...]]:
    """Local name -> shape of one layer's (one direction's) parameters, in the order they are drawn."""
    return gated.param_shapes(input_size, hidden_size, len(GATES))


def init_layer(rng: np.random.Generator, input_size: int, hidden_size: int, *, init: str,
               recurrent_init: str | None, scale: float, forget_bias: float = 0.0) -> dict[str, np.ndarray]:
    """Fresh float64 parameters (gated.init_layer), forget_bias added to b_ih's forget-gate block."""
    p = gated.init_layer(rng, input_size, hidden_size, len(GATES), init=init,
                         recurrent_init=recurrent_init, scale=scale)
    H = hidden_size
    p["b_ih"][H: 2 * H] += forget_bias
    return p


def forward(p: dict[str, np.ndarray], u: np.ndarray, state0: tuple | None, *, padded: np.ndarray | None,
            rmask: np.ndarray | None, nonlinearity: str = "tanh") -> tuple[np.ndarray, tuple, dict]:
    """One layer over the whole sequence (the Elman cell's contract; state0 = (h0, c0)).

    Returns:
        hs (T, B, H), (h_final, c_final), cache (hs; cs (T, B, H); u; the gates (T, B, 4H); tanh(c)).
    """
    if nonlinearity != "tanh":
        raise ValueError(f"the LSTM cell's nonlinearity is tanh, got {nonlinearity!r}")
    W_ih, W_hh, b_ih, b_hh = p["W_ih"], p["W_hh"], p["b_ih"], p["b_hh"]
    T, B = u.shape[:2]
    H = W_hh.shape[1]
    dtype = u.dtype
    xp = array_module(u)
    gates = xp.empty((T, B, 4 * H), dtype=dtype)  # pre-activations, then i | f | g | o in place
    xp.matmul(u.reshape(T * B, -1), W_ih.T, out=gates.reshape(T * B, 4 * H))
    gates += b_ih + b_hh  # (4H,): one pass over the (T, B, 4H) buffer
    buf = xp.empty((T + 1, B, H), dtype=dtype)  # buf[0] = h0, buf[t + 1] = h_t
    cbuf = xp.empty((T + 1, B, H), dtype=dtype)  # cbuf[0] = c0, cbuf[t + 1] = c_t
    start(state0, 0, buf[0])
    start(state0, 1, cbuf[0])
    tanh_c = xp.empty((T, B, H), dtype=dtype)
    W_hh_T = xp.ascontiguousarray(W_hh.T)  # (H, 4H)
    fused(xp, "lstm.forward_steps", forward_steps)(gates, buf, cbuf, tanh_c, W_hh_T, rmask, padded)
    cache = {"p": p, "u": u, "buf": buf, "cbuf": cbuf, "hs": buf[1:], "cs": cbuf[1:], "gates": gates,
             "tanh_c": tanh_c, "rmask": rmask, "padded": padded}
    return buf[1:], (buf[T], cbuf[T]), cache


def forward_steps(gates: np.ndarray, buf: np.ndarray, cbuf: np.ndarray, tanh_c: np.ndarray,
                  W_hh_T: np.ndarray, rmask: np.ndarray | None, padded: np.ndarray | None) -> None:
    """The time loop of forward, in place: gates[t] holds step t's input terms and becomes the
    activated i | f | g | o; buf[t + 1], cbuf[t + 1], tanh_c[t] get h_t, c_t, tanh(c_t).

    A GPU backend replaces this loop with fused kernels (rnncli/accel); this is their reference.
    """
    xp = array_module(gates)
    T, B, H = tanh_c.shape
    scale = gate_scale(xp, B, H, gates.dtype)  # (B, 4H) 0.5 for i, f, o; 1 for g
    gates *= scale[0]  # exact (a power of two): sigmoid(a) = 0.5 tanh(0.5 a) + 0.5 needs 0.5 a
    W_half = W_hh_T * scale[0]  # (H, 4H): the product then gives 0.5 a for i, f, o and a for g
    lift = 1.0 - scale  # (B, 4H) 0.5 for i, f, o; 0 for g
    rec = xp.empty((B, 4 * H), dtype=gates.dtype)
    tmp = xp.empty((B, H), dtype=gates.dtype)
    dropped = xp.empty((B, H), dtype=gates.dtype) if rmask is not None else None
    for t in range(T):
        g = gates[t]
        hm = buf[t] if rmask is None else xp.multiply(buf[t], rmask, out=dropped)
        xp.matmul(hm, W_half, out=rec)
        g += rec
        xp.tanh(g, out=g)  # all four gates in one pass over the contiguous (B, 4H) row block
        g *= scale  # i, f, o: 0.5 tanh(0.5 a) + 0.5; g: tanh(a) + 0
        g += lift
        i, f, gg, o = g[:, :H], g[:, H: 2 * H], g[:, 2 * H: 3 * H], g[:, 3 * H:]
        c_t = cbuf[t + 1]
        xp.multiply(f, cbuf[t], out=c_t)
        xp.multiply(i, gg, out=tmp)
        c_t += tmp
        if padded is not None:
            xp.copyto(c_t, cbuf[t], where=padded[t])
        xp.tanh(c_t, out=tanh_c[t])
        xp.multiply(o, tanh_c[t], out=buf[t + 1])
        if padded is not None:
            xp.copyto(buf[t + 1], buf[t], where=padded[t])


def gate_scale(xp, B: int, H: int, dtype) -> np.ndarray:
    """(B, 4H) 0.5 over the sigmoid gates' blocks (i, f, o) and 1 over g's: what the pre-activations
    are multiplied by before one tanh over all four, and the activated values after it (whole rows,
    not a (4H,) row broadcast: NumPy multiplies two arrays of one shape about twice as fast)."""
    scale = xp.full((B, 4 * H), 0.5, dtype=dtype)
    scale[:, 2 * H: 3 * H] = 1.0
    return scale


def backward(dhs: np.ndarray | None, cache: dict, dfinal: tuple | None = None
             ) -> tuple[dict[str, np.ndarray], np.ndarray, tuple, np.ndarray]:
    """Backpropagation through time for forward (the Elman cell's contract; dfinal = (dh_T, dc_T),
    dstate0 = (dh0, dc0))."""
    p, u, buf, cbuf = cache["p"], cache["u"], cache["buf"], cache["cbuf"]
    gates, tanh_c, rmask, padded = cache["gates"], cache["tanh_c"], cache["rmask"], cache["padded"]
    W_ih, W_hh = p["W_ih"], p["W_hh"]
    T, B, H = tanh_c.shape
    dtype = tanh_c.dtype
    xp = array_module(tanh_c)
    dG = xp.empty((T, B, 4 * H), dtype=dtype)  # d(gate pre-activations): di | df | dg | do
    dh_norms = xp.empty(T, dtype=np.float64)
    dh0, dc0 = fused(xp, "lstm.backward_steps", backward_steps)(
        dhs, dfinal, gates, cbuf, tanh_c, W_hh, rmask, padded, dG, dh_norms)
    prev = recurrent_inputs(buf, rmask)  # what W_hh multiplied: (m *) h_{t-1}
    dG2 = dG.reshape(T * B, 4 * H)
    grads = {"W_ih": dG2.T @ u.reshape(T * B, -1), "W_hh": dG2.T @ prev.reshape(T * B, H)}
    del prev
    b = bias_grads(dG)
    grads.update(b_ih=b, b_hh=b.copy())  # both biases enter every gate's pre-activation alike
    du = (dG2 @ W_ih).reshape(T, B, -1)
    return grads, du, (dh0, dc0), dh_norms


def backward_steps(dhs: np.ndarray | None, dfinal: tuple | None, gates: np.ndarray, cbuf: np.ndarray,
                   tanh_c: np.ndarray, W_hh: np.ndarray, rmask: np.ndarray | None,
                   padded: np.ndarray | None, dG: np.ndarray, dh_norms: np.ndarray) -> tuple:
    """The time loop of backward: fills dG (T, B, 4H) with the gates' pre-activation gradients and
    dh_norms (T,) with |dL/dh_t|; returns (dL/dh0, dL/dc0).

    A GPU backend replaces this loop with fused kernels (rnncli/accel); this is their reference.
    """
    xp = array_module(tanh_c)
    T, B, H = tanh_c.shape
    dtype = tanh_c.dtype
    valid = None if padded is None else ~padded
    passthrough = None if padded is None else padded.astype(dtype)
    dh, d_next = xp.empty((B, H), dtype=dtype), xp.empty((B, H), dtype=dtype)
    dc, dc_next = xp.empty((B, H), dtype=dtype), xp.empty((B, H), dtype=dtype)
    dhv = xp.empty((B, H), dtype=dtype) if valid is not None else None
    tmp = xp.empty((B, H), dtype=dtype)
    deriv = xp.empty((B, 4 * H), dtype=dtype)  # the step's gate derivatives, i | f | g | o
    beta = 2.0 - 2.0 * gate_scale(xp, B, H, dtype)  # (B, 4H) 1 for i, f, o; 0 for g ...
    alpha = 1.0 - beta  # ... and 0 for i, f, o; 1 for g
    start(dfinal, 0, d_next)
    start(dfinal, 1, dc_next)
    for t in range(T - 1, -1, -1):
        if dhs is None:
            dh, d_next = d_next, dh
        else:
            xp.add(dhs[t], d_next, out=dh)
        dh_norms[t] = xp.sqrt(xp.vdot(dh, dh))
        if valid is None:
            dhv = dh  # read only below: no copy needed
            xp.copyto(dc, dc_next)
        else:
            xp.multiply(dh, valid[t], out=dhv)  # a padded step has no gate gradients of its own
            xp.multiply(dc_next, valid[t], out=dc)
        g, d = gates[t], dG[t]
        i, f, gg, o = g[:, :H], g[:, H: 2 * H], g[:, 2 * H: 3 * H], g[:, 3 * H:]
        di, df, dg, do = d[:, :H], d[:, H: 2 * H], d[:, 2 * H: 3 * H], d[:, 3 * H:]
        tc = tanh_c[t]
        xp.multiply(tc, tc, out=tmp)  # dL/dc_t += dh * o * (1 - tanh(c)^2)
        xp.subtract(1.0, tmp, out=tmp)
        tmp *= o
        tmp *= dhv
        dc += tmp
        xp.subtract(beta, g, out=deriv)  # every gate's derivative in one pass over (B, 4H):
        deriv *= g  # a (1 - a) for i, f, o; (0 - g) g + 1 = 1 - g^2 for g
        deriv += alpha
        deriv[:, 2 * H: 3 * H] *= i  # dL/dg = dc * i (1 - g^2)
        xp.multiply(dc, gg, out=di)  # dL/di = dc * g, times i (1 - i)
        xp.multiply(dc, cbuf[t], out=df)  # dL/df = dc * c_{t-1}, times f (1 - f)
        xp.copyto(dg, dc)
        xp.multiply(dhv, tc, out=do)  # dL/do = dh * tanh(c), times o (1 - o)
        d *= deriv
        xp.matmul(d, W_hh, out=d_next)
        if rmask is not None:
            d_next *= rmask
        dc *= f  # dL/dc_{t-1} through c_t = f * c_{t-1} + ...
        if passthrough is not None:
            dh *= passthrough[t]  # a padded step copied h_{t-1} and c_{t-1}: both gradients go back
            d_next += dh
            dc_next *= passthrough[t]
            dc += dc_next
        dc, dc_next = dc_next, dc
    return d_next, dc_next
