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
