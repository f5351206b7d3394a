"""Fused GPU kernels for the core's time loops: a backend outside core/, plugged in through
core/xp.register_fused when rnncli/device.py picks a CUDA device.

elman_fused.py and lstm_fused.py drive a sequence with two calls per step (one product, one
elementwise kernel), written against a small set of primitives (the GRU runs its plain loops);
cuda_kernels.py gives them as cuBLAS calls and CuPy ElementwiseKernels. `NumpyPrimitives` gives the
same primitives in array-module code, so the fused drivers' bookkeeping is tested on a machine
without a GPU, and the kernels against the NumPy reference on one with a GPU (tests/test_cuda.py,
scripts/gpu_check.sh).
"""

from __future__ import annotations

from rnncli.accel.elman_fused import fused_routines
from rnncli.core.xp import register_fused


def install_fused_kernels(xp, primitives=None) -> None:
    """Register the fused Elman loops for arrays of `xp` (cupy; a test passes its own primitives)."""
    if primitives is None:
        from rnncli.accel.cuda_kernels import CupyPrimitives

        primitives = CupyPrimitives(xp)
    for name, routine in fused_routines(primitives).items():
        register_fused(xp, name, routine)
