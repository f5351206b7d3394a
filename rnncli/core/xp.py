"""The array module of the arrays the core is given: NumPy, or the GPU module they belong to.

The core is NumPy-API code that never imports CuPy (CuPy's guide "Writing CPU/GPU agnostic code":
`xp = cupy.get_array_module(x)`). A function that makes a new array asks `array_module(x)` for the
module of an array it was given, so the same code runs on host and device arrays:

    xp = array_module(x)
    buf = xp.empty((T + 1, B, H), dtype=x.dtype)

The device layer outside the core (rnncli/device.py) registers the device's array type once,
with `register_array_type(cupy.ndarray, cupy)`, and may register fused kernels for a routine of
the core (`register_fused`): the readable NumPy routine stays the reference they are tested against.
An array type that carries the array-API's `__array_namespace__` (a test double) is recognised
without registration. Anything else is NumPy,
so the host path is the NumPy code it always was.
"""

from __future__ import annotations

import numpy as np

_REGISTERED: dict[type, object] = {}


def register_array_type(array_type: type, module) -> None:
    """Make `array_module` answer `module` for arrays of `array_type` (called once by the device layer)."""
    _REGISTERED[array_type] = module


def array_module(*arrays):
    """The module (numpy, cupy, ...) of the first array given that is not a NumPy array; else numpy.

    None and Python scalars are skipped, so optional arguments can be passed as they are.
    """
    for a in arrays:
        kind = type(a)
        if a is None or kind is np.ndarray or isinstance(a, (np.generic, int, float, bool)):
            continue
        module = _REGISTERED.get(kind)
        if module is not None:
            return module
        namespace = getattr(a, "__array_namespace__", None)
        if namespace is not None:
            return namespace()
    return np


_FUSED: dict[tuple[int, str], object] = {}


def register_fused(module, name: str, fn) -> None:
    """Let a backend replace the core's reference routine `name` (e.g. "elman.forward_steps") for
    arrays of `module`; the routine keeps the reference's arguments and results (see its docstring)."""
    _FUSED[(id(module), name)] = fn


def fused(module, name: str, reference):
    """The routine to run for arrays of `module`: a backend's fused one if registered, else `reference`."""
    return _FUSED.get((id(module), name), reference)


def is_host(a) -> bool:
    """True for a NumPy array (or scalar): something the host can read without a transfer."""
    return array_module(a) is np
