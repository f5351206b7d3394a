"""A test double for a GPU: NumPy memory behaving like CuPy's at the host/device boundary.

`FakeArray` is an ndarray subclass standing for a device array. Like a CuPy array it
- refuses to meet a plain NumPy array in an operation (CuPy raises TypeError for that), so core code
  that made a host array with np.* where it should have asked the array module fails here;
- counts every implicit read-back (float(), int(), bool(), .item(), .tolist()): each of those would
  make the host wait for the GPU;
- answers the array API's `__array_namespace__` with `FakeModule`, so rnncli.core.xp.array_module
  finds the module without registration (as it finds CuPy's after rnncli.device registers it).

`FakeDevice` has the interface of rnncli.device.Device and counts explicit transfers.
"""

from __future__ import annotations

import types

import numpy as np


class Counts:
    """Transfers and implicit read-backs since the last reset."""

    def __init__(self):
        self.reset()

    def reset(self):
        self.to_device = self.to_host = self.syncs = 0


COUNTS = Counts()


def _refuse_host(values) -> None:
    for v in values:
        if type(v) is np.ndarray and v.ndim > 0:
            raise TypeError(f"a host array {v.shape} met a device array (CuPy refuses this)")
        if isinstance(v, (list, tuple)):
            _refuse_host(v)


def _wrap(result):
    """Results of operations on device arrays are device arrays, reductions included (as CuPy's)."""
    if isinstance(result, tuple):
        return tuple(_wrap(r) for r in result)
    if isinstance(result, np.ndarray):
        return result.view(FakeArray)
    if isinstance(result, np.generic):
        return np.asarray(result).view(FakeArray)
    return result


def _plain(values):
    return tuple(v.view(np.ndarray) if isinstance(v, FakeArray) else v for v in values)


class FakeArray(np.ndarray):
    """NumPy memory standing for GPU memory (see the module doc)."""

    def __array_namespace__(self, api_version=None):
        return FAKE_MODULE

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        out = kwargs.get("out")
        _refuse_host(inputs)
        if out is not None:
            _refuse_host(out)
            kwargs["out"] = _plain(out)
        result = getattr(ufunc, method)(*_plain(inputs), **kwargs)
        if out is not None and method != "at":
            return out[0] if len(out) == 1 else out
        return _wrap(result)

    def __array_function__(self, func, types_, args, kwargs):
        _refuse_host(args)
        _refuse_host(kwargs.values())
        args = tuple(_plain(a) if isinstance(a, (list, tuple)) else _plain((a,))[0] for a in args)
        kwargs = {k: _plain((v,))[0] for k, v in kwargs.items()}
        return _wrap(func(*args, **kwargs))

    def __setitem__(self, key, value):
        # a device value written into device memory: a copy on the device, no read-back
        super().__setitem__(key, value.view(np.ndarray) if isinstance(value, FakeArray) else value)

    def _sync(self):
        COUNTS.syncs += 1
        return self.view(np.ndarray)

    def __float__(self):
        return float(self._sync())

    def __int__(self):
        return int(self._sync())

    def __index__(self):
        return self._sync().__index__()

    def __bool__(self):
        return bool(self._sync())

    def item(self, *args):
        return self._sync().item(*args)

    def tolist(self):
        return self._sync().tolist()


def _device_function(f):
    def call(*args, **kwargs):
        _refuse_host(args)
        return _wrap(f(*_plain(args), **{k: _plain((v,))[0] for k, v in kwargs.items()}))

    return call


class _FakeModule(types.SimpleNamespace):
    """numpy's namespace, its functions returning device arrays (as cupy's do)."""

    def __getattr__(self, name):
        value = getattr(np, name)
        if isinstance(value, (types.FunctionType, types.BuiltinFunctionType)) or (
                callable(value) and type(value).__name__ == "_ArrayFunctionDispatcher"):
            return _device_function(value)
        return value

    def asarray(self, a, dtype=None):
        return np.asarray(a.view(np.ndarray) if isinstance(a, FakeArray) else a, dtype=dtype).view(FakeArray)

    def asnumpy(self, a):
        COUNTS.to_host += 1
        return np.array(a.view(np.ndarray))


FAKE_MODULE = _FakeModule()


class _FakeRandom:
    def __init__(self, seed_words):
        self._rng = np.random.default_rng(seed_words)

    def random(self, shape):
        return self._rng.random(shape).view(FakeArray)


class FakeDevice:
    """rnncli.device.Device's interface over FakeArray; counts transfers in COUNTS."""

    name = "cuda"
    label = "fake GPU"
    xp = FAKE_MODULE
    is_host = False

    def to_device(self, a):
        if a is None:
            return None
        if isinstance(a, dict):
            return {k: self.to_device(v) for k, v in a.items()}
        if isinstance(a, tuple):
            return tuple(self.to_device(v) for v in a)
        COUNTS.to_device += 1
        return np.array(a).view(FakeArray)

    def to_host(self, a):
        if a is None:
            return None
        if isinstance(a, dict):
            return {k: self.to_host(v) for k, v in a.items()}
        if isinstance(a, tuple):
            return tuple(self.to_host(v) for v in a)
        return FAKE_MODULE.asnumpy(a)

    def random(self, seed_words):
        return _FakeRandom(seed_words)

    def synchronize(self):
        pass
