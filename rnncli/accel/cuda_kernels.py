"""The fused primitives on a CUDA GPU: cuBLAS products and CuPy ElementwiseKernels.

Each method is one launch and computes exactly what NumpyPrimitives' method of the same name says
(rnncli/accel/elman_fused.py); tests/test_cuda.py and scripts/gpu_check.py compare the whole fused
path with the NumPy reference in float64 (relative difference <= 1e-12).
Missing operands (no padding, no recurrent dropout, no gradient from above) are passed as neutral
scalars (False, 1, 0), so one kernel source serves every case (CuPy compiles one variant per
combination of array and scalar operands, once).
"""

from __future__ import annotations

_ACT = {"tanh": "tanh(h)", "relu": "max(h, (T)0)"}
_DERIV = {"tanh": "((T)1 - h * h)", "relu": "(h > (T)0 ? (T)1 : (T)0)"}

# h_t = pad ? h_{t-1} : act(pre-activation in h)
_STEP = "h = pad ? prev : {act};"
# ... and under recurrent dropout also hm = h_t * m, what the next step's product reads
_STEP_MASKED = """
T v = pad ? prev : {act};
h = v;
hm = v * m;
"""
# g_t = dabove + (prod * m + (pad_next ? g_next : 0)); da_t = pad ? 0 : act'(h_t) * g_t
_BACK = """
T gg = dabove + (prod * m + (pad_next ? g_next : (T)0));
g = gg;
da = pad ? (T)0 : {deriv} * gg;
"""


# The LSTM: one thread per (b, j) of (B, H) reads its four gates from the step's (B, 4H) row
# (flat: k = b * 4H + j) and writes them back activated. sigmoid(a) = 0.5 tanh(a / 2) + 0.5.
_SIG = "((T)0.5 * tanh((T)0.5 * {a}) + (T)0.5)"
_LSTM_STEP = """
ptrdiff_t k = (ptrdiff_t)(i / H) * 4 * H + i % H;
T gi = {si}, gf = {sf}, gg = tanh(gates[k + 2 * H]), go = {so};
gates[k] = gi; gates[k + H] = gf; gates[k + 2 * H] = gg; gates[k + 3 * H] = go;
T cv = pad ? cprev : gf * cprev + gi * gg;
c = cv;
T t = tanh(cv);
tc = t;
T hv = pad ? hprev : go * t;
h = hv;
""".format(si=_SIG.format(a="gates[k]"), sf=_SIG.format(a="gates[k + H]"),
           so=_SIG.format(a="gates[k + 3 * H]"))
_LSTM_BACK = """
ptrdiff_t k = (ptrdiff_t)(i / H) * 4 * H + i % H;
T dh = dabove + (prod * m + (pad_next ? g_next : (T)0));
g = dh;
T keep = pad ? (T)0 : (T)1;
T dhv = dh * keep, dcv = dc * keep;
T gi = gates[k], gf = gates[k + H], gg = gates[k + 2 * H], go = gates[k + 3 * H];
dG[k + 3 * H] = dhv * tc * (((T)1 - go) * go);
dcv = dcv + ((T)1 - tc * tc) * go * dhv;
dG[k] = dcv * gg * (((T)1 - gi) * gi);
dG[k + H] = dcv * cprev * (((T)1 - gf) * gf);
dG[k + 2 * H] = dcv * (((T)1 - gg * gg) * gi);
dc = dcv * gf + (pad ? dc : (T)0);
"""


class CupyPrimitives:
    """One cuBLAS call or one ElementwiseKernel per method."""

    def __init__(self, cupy):
        import cupy.cublas

        self.xp, self._cublas = cupy, cupy.cublas
        ek = cupy.ElementwiseKernel
        self._step = {nl: ek("T prev, bool pad", "T h", _STEP.format(act=act), f"rnncli_elman_step_{nl}")
                      for nl, act in _ACT.items()}
        self._step_masked = {nl: ek("T prev, bool pad, T m", "T h, T hm", _STEP_MASKED.format(act=act),
                                    f"rnncli_elman_step_masked_{nl}") for nl, act in _ACT.items()}
        self._back = {nl: ek("T dabove, T prod, T m, bool pad_next, T g_next, T h, bool pad", "T g, T da",
                             _BACK.format(deriv=deriv), f"rnncli_elman_back_{nl}")
                      for nl, deriv in _DERIV.items()}
        self._lstm_step = ek("raw T gates, T cprev, T hprev, bool pad, int32 H", "T c, T tc, T h",
                             _LSTM_STEP, "rnncli_lstm_step")
        self._lstm_step_masked = ek("raw T gates, T cprev, T hprev, bool pad, T m, int32 H",
                                    "T c, T tc, T h, T hm", _LSTM_STEP + "hm = hv * m;\n",
                                    "rnncli_lstm_step_masked")
        self._lstm_back = ek("T dabove, T prod, T m, bool pad_next, T g_next, raw T gates, T cprev, T tc, "
                             "bool pad, int32 H", "T g, raw T dG, T dc", _LSTM_BACK, "rnncli_lstm_back")
        self._combine = ek("T prod, T m, bool pad, T g", "T out", "out = prod * m + (pad ? g : (T)0)",
                           "rnncli_elman_combine")

    def gemm_accumulate(self, a, b, out):
        """out += a @ b inside cuBLAS (beta = 1): no separate add, no temporary."""
        self._cublas.gemm("N", "N", a, b, out=out, alpha=1.0, beta=1.0)

    def gemm(self, a, b, out):
        self._cublas.gemm("N", "N", a, b, out=out, alpha=1.0, beta=0.0)

    def step(self, h, prev, pad, m, hm, nonlinearity):
        pad = False if pad is None else pad
        if hm is None:
            self._step[nonlinearity](prev, pad, h)
        else:
            self._step_masked[nonlinearity](prev, pad, m, h, hm)

    def back_step(self, dabove, prod, m, pad_next, g_next, h, pad, nonlinearity, g, da):
        self._back[nonlinearity](0.0 if dabove is None else dabove, prod, 1.0 if m is None else m,
                                 False if pad_next is None else pad_next, 0.0 if g_next is None else g_next,
                                 h, False if pad is None else pad, g, da)

    def combine(self, prod, m, pad, g):
        out = self.xp.empty_like(prod)
        self._combine(prod, 1.0 if m is None else m, False if pad is None else pad,
                      0.0 if g is None else g, out)
        return out

    def lstm_step(self, gates, cprev, hprev, pad, m, c, tc, h, hm):
        """One LSTM step after its product (see lstm_fused.py): gates (B, 4H) activated in place."""
        H = c.shape[1]
        flat, pad = gates.reshape(-1), False if pad is None else pad
        if hm is None:
            self._lstm_step(flat, cprev, hprev, pad, H, c, tc, h)
        else:
            self._lstm_step_masked(flat, cprev, hprev, pad, m, H, c, tc, h, hm)

    def lstm_back(self, dabove, incoming, gates, cprev, tc, pad, g, dG, dc):
        """One LSTM backward step before its product: dL/dh_t into g, the gates' gradients into dG
        (B, 4H), and dc carried in place from c_t to c_{t-1}."""
        prod, m, pad_next, g_next = incoming  # what step t+1's product and kernel handed back
        self._lstm_back(0.0 if dabove is None else dabove, prod, 1.0 if m is None else m,
                        False if pad_next is None else pad_next, 0.0 if g_next is None else g_next,
                        gates.reshape(-1), cprev, tc, False if pad is None else pad, tc.shape[1],
                        g, dG.reshape(-1), dc)
