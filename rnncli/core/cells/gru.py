"""The GRU cell (Cho et al. 2014) with torch's equations: one layer, one direction, over a time-major batch.

Letters: B batch, T time, I input (the layer below's width), H hidden.

Gates in torch's order r, z, n; the reset gate is applied after the recurrent product (torch and cuDNN;
Keras `reset_after=True`):

    r_t = sigmoid(W_ir u_t + b_ir + W_hr h_{t-1} + b_hr)
    z_t = sigmoid(W_iz u_t + b_iz + W_hz h_{t-1} + b_hz)
    n_t = tanh(W_in u_t + b_in + r_t * (W_hn h_{t-1} + b_hn))
    h_t = (1 - z_t) * n_t + z_t * h_{t-1}

W_ih (3H, I) = [W_ir; W_iz; W_in], W_hh (3H, H), b_ih and b_hh (3H,) as torch.nn.GRU's tensors
(core/cells/gated.py). Speed, as the Elman cell: every gate's input product is ONE (T*B, I) @ (I, 3H)
product before the time loop (b_ih and the r, z parts of b_hh folded in), each step does ONE recurrent
product (B, H) @ (H, 3H) into a preallocated buffer, the gate nonlinearities run in place, and a step
allocates nothing. Recurrent dropout: one keep mask m (B, H) multiplies h_{t-1} in the recurrent product
of every gate; the z_t * h_{t-1} term reads the state unmasked. A padded step copies h_{t-1}.
"""

from __future__ import annotations

import numpy as np

from rnncli.core.cells import gated
from rnncli.core.cells.common import bias_grads, recurrent_inputs, start
from rnncli.core.cells.gated import TORCH_NAMES, hidden_size, sigmoid_
from rnncli.core.xp import array_module

__all__ = ["TORCH_NAMES", "backward", "forward", "hidden_size", "init_layer", "param_shapes"]

NAME = "gru"
GATES = ("r", "z", "n")
STATE = ("h",)
RECURRENT = "W_hh"
NONLINEARITIES = ("tanh",)
TORCH_CLASS = "GRU"
FORWARD_BUFFERS = 5  # states, the three gates, W_hn h + b_hn
TRAIN_BUFFERS = 9  # ... and the gates' gradients (3), dL/d(n's pre-activation), the dropout mask


def param_shapes(input_size: int, hidden_size: int) -> dict[str, tuple[int, ...]]:
    """Local name -> shape of one layer's (one direction's) parameters, in the order they are drawn."""
    return gated.param_shapes(input_size, hidden_size, len(GATES))


def init_layer(rng: np.random.Generator, input_size: int, hidden_size: int, *, init: str,
               recurrent_init: str | None, scale: float, forget_bias: float = 0.0) -> dict[str, np.ndarray]:
    """Fresh float64 parameters (gated.init_layer); forget_bias belongs to the LSTM and is ignored."""
    return gated.init_layer(rng, input_size, hidden_size, len(GATES), init=init,
                            recurrent_init=recurrent_init, scale=scale)


def forward(p: dict[str, np.ndarray], u: np.ndarray, state0: tuple | None, *, padded: np.ndarray | None,
            rmask: np.ndarray | None, nonlinearity: str = "tanh") -> tuple[np.ndarray, tuple, dict]:
    """One layer over the whole sequence (the Elman cell's contract; nonlinearity must be tanh).

    Returns:
        hs (T, B, H), (h_final,), cache (hs; u; the gates r, z, n (T, B, 3H); W_hn h + b_hn (T, B, H)).
    """
    if nonlinearity != "tanh":
        raise ValueError(f"the GRU cell's nonlinearity is tanh, got {nonlinearity!r}")
    W_ih, W_hh, b_ih, b_hh = p["W_ih"], p["W_hh"], p["b_ih"], p["b_hh"]
    T, B = u.shape[:2]
    H = W_hh.shape[1]
    dtype = u.dtype
    xp = array_module(u)
    gates = xp.empty((T, B, 3 * H), dtype=dtype)  # pre-activations, then r | z | n in place
    xp.matmul(u.reshape(T * B, -1), W_ih.T, out=gates.reshape(T * B, 3 * H))
    bias = b_ih.copy()
    bias[: 2 * H] += b_hh[: 2 * H]  # r and z add b_hh outside the product; n's sits inside r * (.)
    gates += bias  # one pass over the (T, B, 3H) buffer
    b_hn = b_hh[2 * H:]
    hn = xp.empty((T, B, H), dtype=dtype)  # W_hn (m * h_{t-1}) + b_hn, kept for backward
    buf = xp.empty((T + 1, B, H), dtype=dtype)  # buf[0] = h0, buf[t + 1] = h_t
    start(state0, 0, buf[0])
    W_hh_T = xp.ascontiguousarray(W_hh.T)  # (H, 3H)
    rec = xp.empty((B, 3 * H), dtype=dtype)  # the step's recurrent product, reused
    tmp = xp.empty((B, H), dtype=dtype)
    dropped = xp.empty((B, H), dtype=dtype) if rmask is not None else None
    for t in range(T):
        h_prev, g = buf[t], gates[t]
        hm = h_prev if rmask is None else xp.multiply(h_prev, rmask, out=dropped)
        xp.matmul(hm, W_hh_T, out=rec)
        g[:, : 2 * H] += rec[:, : 2 * H]
        sigmoid_(g[:, : 2 * H])  # r, z
        r, z, n = g[:, :H], g[:, H: 2 * H], g[:, 2 * H:]
        xp.add(rec[:, 2 * H:], b_hn, out=hn[t])
        xp.multiply(r, hn[t], out=tmp)
        n += tmp
        xp.tanh(n, out=n)
        h_t = buf[t + 1]  # h_t = n + z * (h_{t-1} - n)
        xp.subtract(h_prev, n, out=tmp)
        tmp *= z
        xp.add(n, tmp, out=h_t)
        if padded is not None:
            xp.copyto(h_t, h_prev, where=padded[t])
    cache = {"p": p, "u": u, "buf": buf, "hs": buf[1:], "gates": gates, "hn": hn, "rmask": rmask,
             "padded": padded}
    return buf[1:], (buf[T],), cache


def backward(dhs: np.ndarray | None, cache: dict, dfinal: tuple | None = None
             ) -> tuple[dict[str, np.ndarray], np.ndarray, tuple, np.ndarray]:
    """Backpropagation through time for forward (the Elman cell's contract)."""
    p, u, buf, gates, hn = cache["p"], cache["u"], cache["buf"], cache["gates"], cache["hn"]
    rmask, padded = cache["rmask"], cache["padded"]
    W_ih, W_hh = p["W_ih"], p["W_hh"]
    T, B, H = hn.shape
    dtype = hn.dtype
    xp = array_module(hn)
    valid = None if padded is None else ~padded
    passthrough = None if padded is None else padded.astype(dtype)
    dR = xp.empty((T, B, 3 * H), dtype=dtype)  # d(recurrent pre-activations): da_r | da_z | da_n * r
    dan = xp.empty((T, B, H), dtype=dtype)  # d(n's pre-activation)
    dh_norms = xp.empty(T, dtype=np.float64)
    dh, d_next = xp.empty((B, H), dtype=dtype), xp.empty((B, H), dtype=dtype)
    dhv = xp.empty((B, H), dtype=dtype) if valid is not None else None
    tmp = xp.empty((B, H), dtype=dtype)
    start(dfinal, 0, d_next)
    for t in range(T - 1, -1, -1):
        if dhs is None:
            dh, d_next = d_next, dh
        else:
            xp.add(dhs[t], d_next, out=dh)
        dh_norms[t] = xp.sqrt(xp.vdot(dh, dh))
        if valid is None:
            dhv = dh  # read only below: no copy needed
        else:
            xp.multiply(dh, valid[t], out=dhv)  # a padded step has no gate gradients of its own
        g, d = gates[t], dR[t]
        r, z, n = g[:, :H], g[:, H: 2 * H], g[:, 2 * H:]
        dr, dz, dnr = d[:, :H], d[:, H: 2 * H], d[:, 2 * H:]
        xp.subtract(buf[t], n, out=dz)  # dL/dz = dh * (h_{t-1} - n), times z (1 - z)
        dz *= dhv
        xp.subtract(1.0, z, out=tmp)
        tmp *= z
        dz *= tmp
        xp.subtract(1.0, z, out=tmp)  # dL/d(n pre) = dh * (1 - z) * (1 - n^2)
        xp.multiply(dhv, tmp, out=dan[t])
        xp.multiply(n, n, out=tmp)
        xp.subtract(1.0, tmp, out=tmp)
        dan[t] *= tmp
        xp.multiply(dan[t], hn[t], out=dr)  # dL/dr = dan * (W_hn h + b_hn), times r (1 - r)
        xp.subtract(1.0, r, out=tmp)
        tmp *= r
        dr *= tmp
        xp.multiply(dan[t], r, out=dnr)  # what reaches W_hn h + b_hn
        xp.matmul(d, W_hh, out=d_next)
        if rmask is not None:
            d_next *= rmask
        xp.multiply(dhv, z, out=tmp)  # the z * h_{t-1} term
        d_next += tmp
        if passthrough is not None:
            dh *= passthrough[t]  # a padded step copied h_{t-1}: its gradient goes straight back
            d_next += dh
    prev = recurrent_inputs(buf, rmask)  # what W_hh multiplied: (m *) h_{t-1}
    dR2 = dR.reshape(T * B, 3 * H)
    grads = {"W_hh": dR2.T @ prev.reshape(T * B, H), "b_hh": bias_grads(dR)}
    del prev
    dR[:, :, 2 * H:] = dan  # now the input side's gradient: da_r | da_z | da_n
    grads = {"W_ih": dR2.T @ u.reshape(T * B, -1), **grads, "b_ih": bias_grads(dR)}
    du = (dR2 @ W_ih).reshape(T, B, -1)
    return {k: grads[k] for k in ("W_ih", "W_hh", "b_ih", "b_hh")}, du, (d_next,), dh_norms
