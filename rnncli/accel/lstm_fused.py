"""The LSTM cell's time loops in two launches per step, for GPUs (the reference is
core/cells/lstm.py's forward_steps / backward_steps: same arguments, same results).

Forward, step t (gates[t] (B, 4H) already holds W_ih u_t + b_ih + b_hh):
    gates[t] += src @ W_hh.T                              one product, accumulated (cuBLAS beta = 1)
    i, f, g, o activated in place; c_t = f c_{t-1} + i g; h_t = o tanh(c_t) (h_{t-1}, c_{t-1}
    where padded); hm = m h_t for the next product       one elementwise kernel over (B, H)
Backward, step t from T-1 down to 0, with prod = dG_{t+1} @ W_hh from the step before and dc the
gradient reaching c_t (carried in place):
    dh_t = dabove_t + (prod * m + (pad[t+1] ? dh_{t+1} : 0))
    dG_t from dh_t, dc and the cached gates; dc <- f dc + (pad[t] ? dc : 0)   one kernel
    prod = dG_t @ W_hh                                                          one product
"""

from __future__ import annotations


def lstm_routines(prims) -> dict:
    """name -> routine, for core/xp.register_fused."""

    def forward_steps(gates, buf, cbuf, tanh_c, W_hh_T, rmask, padded):
        hm = None if rmask is None else buf[0] * rmask
        for t in range(tanh_c.shape[0]):
            prims.gemm_accumulate(buf[t] if hm is None else hm, W_hh_T, gates[t])
            prims.lstm_step(gates[t], cbuf[t], buf[t], None if padded is None else padded[t], rmask,
                            cbuf[t + 1], tanh_c[t], buf[t + 1], hm)

    def backward_steps(dhs, dfinal, gates, cbuf, tanh_c, W_hh, rmask, padded, dG, dh_norms):
        xp = prims.xp
        T, B, H = tanh_c.shape
        g = xp.empty((T, B, H), dtype=tanh_c.dtype)  # dL/dh_t of every step
        parts = (None, None) if dfinal is None else dfinal
        prod, dc = (xp.zeros((B, H), dtype=tanh_c.dtype) if a is None
                    else xp.array(a, dtype=tanh_c.dtype) for a in parts)
        m = pad_next = g_next = None
        for t in range(T - 1, -1, -1):
            pad = None if padded is None else padded[t]
            prims.lstm_back(None if dhs is None else dhs[t], (prod, m, pad_next, g_next), gates[t],
                            cbuf[t], tanh_c[t], pad, g[t], dG[t], dc)
            prims.gemm(dG[t], W_hh, prod)
            m, pad_next, g_next = rmask, pad, g[t]
        dh_norms[...] = xp.sqrt((g * g).sum(axis=2).sum(axis=1))
        return prims.combine(prod, m, pad_next, g_next), dc

    return {"lstm.forward_steps": forward_steps, "lstm.backward_steps": backward_steps}


def _sigmoid(xp, a):
    return 0.5 * xp.tanh(0.5 * a) + 0.5  # as core/cells/gated.sigmoid_


class NumpyLstmPrimitives:
    """What the two LSTM kernels compute, in array-module code (mixed into NumpyPrimitives)."""

    def lstm_step(self, gates, cprev, hprev, pad, m, c, tc, h, hm):
        xp = self.xp
        H = c.shape[1]
        i, f = _sigmoid(xp, gates[:, :H]), _sigmoid(xp, gates[:, H:2 * H])
        gg, o = xp.tanh(gates[:, 2 * H:3 * H]), _sigmoid(xp, gates[:, 3 * H:])
        gates[:, :H], gates[:, H:2 * H], gates[:, 2 * H:3 * H], gates[:, 3 * H:] = i, f, gg, o
        cv = f * cprev + i * gg
        if pad is not None:
            cv = xp.where(pad, cprev, cv)
        c[...] = cv
        tc[...] = xp.tanh(cv)
        hv = o * tc
        if pad is not None:
            hv = xp.where(pad, hprev, hv)
        h[...] = hv
        if hm is not None:
            hm[...] = hv * m

    def lstm_back(self, dabove, incoming, gates, cprev, tc, pad, g, dG, dc):
        prod, m, pad_next, g_next = incoming  # what step t+1's product and kernel handed back
        xp = self.xp
        H = tc.shape[1]
        g[...] = self.combine(prod, m, pad_next, g_next)
        if dabove is not None:
            g[...] = dabove + g
        i, f, gg, o = gates[:, :H], gates[:, H:2 * H], gates[:, 2 * H:3 * H], gates[:, 3 * H:]
        keep = 1.0 if pad is None else (~pad).astype(tc.dtype)
        dhv, dcv = g * keep, dc * keep
        dG[:, 3 * H:] = dhv * tc * ((1 - o) * o)
        dcv = dcv + (1 - tc * tc) * o * dhv
        dG[:, :H] = dcv * gg * ((1 - i) * i)
        dG[:, H:2 * H] = dcv * cprev * ((1 - f) * f)
        dG[:, 2 * H:3 * H] = dcv * ((1 - gg * gg) * i)
        carried = dcv * f
        if pad is not None:
            carried = carried + xp.where(pad, dc, 0)
        dc[...] = carried

