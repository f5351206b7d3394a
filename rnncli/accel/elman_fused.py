"""The Elman cell's time loops in two launches per step, for GPUs (the reference is
core/cells/elman.py's forward_steps / backward_steps: same arguments, same results).

Forward, step t (buf[t + 1] already holds W_xh u_t + b_h):
    buf[t + 1] += src @ W_hh.T          one product, accumulated in place (cuBLAS beta = 1)
    h_t = pad[t] ? h_{t-1} : act(buf[t + 1]);  hm = h_t * m     one elementwise kernel
where src is h_{t-1}, or hm = m * h_{t-1} under recurrent dropout (made by the previous step's kernel).

Backward, step t from T-1 down to 0, with prod = da_{t+1} @ W_hh from the step before:
    g_t = dL/dh_t = dabove_t + (prod * m + (pad[t+1] ? g_{t+1} : 0))
    da_t = pad[t] ? 0 : act'(h_t) * g_t                        one elementwise kernel
    prod = da_t @ W_hh                                         one product
The reference adds a padded step's pass-through and the dropout mask right after the product; here
both are folded into the next step's kernel (and one last small kernel gives dh0). The norms
|dL/dh_t| the reference takes every step are taken once after the loop from the kept g (T, B, H).
"""

from __future__ import annotations

import numpy as np

from rnncli.accel.lstm_fused import NumpyLstmPrimitives, lstm_routines


def fused_routines(prims) -> dict:
    """name -> routine, for core/xp.register_fused."""

    def forward_steps(buf, W_hh_T, rmask, padded, nonlinearity):
        hm = None if rmask is None else buf[0] * rmask  # (B, H): what the next product reads
        for t in range(buf.shape[0] - 1):
            prims.gemm_accumulate(buf[t] if hm is None else hm, W_hh_T, buf[t + 1])
            prims.step(buf[t + 1], buf[t], None if padded is None else padded[t], rmask, hm, nonlinearity)

    def backward_steps(dhs, dh_final, hs, W_hh, rmask, padded, nonlinearity, da, dh_norms):
        xp = prims.xp
        T, B, H = hs.shape
        g = xp.empty((T, B, H), dtype=hs.dtype)  # dL/dh_t of every step
        prod = xp.zeros((B, H), dtype=hs.dtype) if dh_final is None else xp.array(dh_final, dtype=hs.dtype)
        m = pad_next = g_next = None  # the last step's d_next is dh_final itself
        for t in range(T - 1, -1, -1):
            pad = None if padded is None else padded[t]
            prims.back_step(None if dhs is None else dhs[t], prod, m, pad_next, g_next, hs[t], pad,
                            nonlinearity, g[t], da[t])
            prims.gemm(da[t], W_hh, prod)
            m, pad_next, g_next = rmask, pad, g[t]
        dh0 = prims.combine(prod, m, pad_next, g_next)
        dh_norms[...] = xp.sqrt((g * g).sum(axis=2).sum(axis=1))
        return dh0

    return {"elman.forward_steps": forward_steps, "elman.backward_steps": backward_steps,
            **lstm_routines(prims)}


class NumpyPrimitives(NumpyLstmPrimitives):
    """The primitives in array-module code (any module: numpy, or a test double): what each CUDA
    kernel computes, written plainly. Tests run the fused drivers on these."""

    def __init__(self, xp=np):
        self.xp = xp

    def gemm_accumulate(self, a, b, out):
        out += a @ b

    def gemm(self, a, b, out):
        self.xp.matmul(a, b, out=out)

    def step(self, h, prev, pad, m, hm, nonlinearity):
        xp = self.xp
        v = xp.tanh(h) if nonlinearity == "tanh" else xp.maximum(h, 0)
        if pad is not None:
            v = xp.where(pad, prev, v)
        h[...] = v
        if hm is not None:
            hm[...] = v * m

    def back_step(self, dabove, prod, m, pad_next, g_next, h, pad, nonlinearity, g, da):
        g[...] = self.combine(prod, m, pad_next, g_next)
        if dabove is not None:
            g[...] = dabove + g
        deriv = 1 - h * h if nonlinearity == "tanh" else (h > 0).astype(h.dtype)
        da[...] = deriv * g
        if pad is not None:
            da[...] = self.xp.where(pad, 0, da)

    def combine(self, prod, m, pad, g):
        """prod * m + (pad ? g : 0): dL/dh_{t-1} from the product of step t (None: no mask/padding)."""
        out = prod if m is None else prod * m
        if pad is not None:
            out = out + self.xp.where(pad, g, 0)
        return out
