"""Where the numbers live: the host (NumPy) or a CUDA GPU (CuPy), chosen once per command.

The core is NumPy-API code that takes its array module from the arrays it is given (core/xp.py), so
running on a GPU means handing it device arrays. This module is the one place that knows CuPy:

- `resolve_device("cpu" | "cuda" | "auto", where)` picks the device (auto: CUDA when CuPy and a GPU
  are there, else the CPU) or refuses `cuda` with one line naming the extra to install;
- `Device.to_device` / `to_host` move arrays (dicts of them, None passes through), the only
  transfers training makes: each batch in, values read back once per log interval, host copies
  for every file written (weights files are the same on every device);
- on a GPU the Elman cell's time loops run as fused kernels (rnncli/accel; RNN_FUSED=0 turns them
  off to compare);
- `Device.random(seed_words)`: the dropout generator. On the CPU it is NumPy's, saved in
  checkpoints, so a resumed run is bit-identical. On CUDA it is CuPy's generator on the device,
  seeded from the run's seed and the step the run (re)started at: the same config and seed repeat
  a fresh run's masks, a resumed run draws new ones (CuPy's generator state is not saved).

Data stays on the host; parameters, optimizer state, dropout masks and the generator live on the
device.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass

import numpy as np

from rnncli.core.xp import register_array_type
from rnncli.errors import UsageError

DEVICES = ("cpu", "cuda", "auto")
CUDA_EXTRA = "pip install 'rnncli[cuda12]' (CUDA 12) or 'rnncli[cuda13]' (CUDA 13)"


@dataclass(frozen=True)
class Device:
    """A place arrays live: `xp` is its array module (numpy for the host)."""

    name: str  # "cpu" or "cuda" (what run.json and the run header say)
    xp: object = np
    label: str = "cpu"  # for humans: the GPU's name

    @property
    def is_host(self) -> bool:
        return self.xp is np

    def to_device(self, a):
        """A host array (or a dict or tuple of them, as an LSTM's (h, c); None passes) on this device."""
        if a is None or self.is_host:
            return a
        if isinstance(a, dict):
            return {k: self.to_device(v) for k, v in a.items()}
        if isinstance(a, tuple):
            return tuple(self.to_device(v) for v in a)
        return self.xp.asarray(a)

    def to_host(self, a):
        """A NumPy copy of a device array (or a dict or tuple of them; None passes)."""
        if a is None or self.is_host:
            return a
        if isinstance(a, dict):
            return {k: self.to_host(v) for k, v in a.items()}
        if isinstance(a, tuple):
            return tuple(self.to_host(v) for v in a)
        return self.xp.asnumpy(a)

    def random(self, seed_words: list[int]):
        """The dropout generator: NumPy's on the host, CuPy's on the device (see the module doc)."""
        if self.is_host:
            return np.random.default_rng(seed_words)
        seed = int(np.random.SeedSequence(seed_words).generate_state(1, np.uint64)[0] >> np.uint64(1))
        return self.xp.random.default_rng(seed)

    def synchronize(self) -> None:
        """Wait for the device's queued work (timing needs it; nothing else does)."""
        if not self.is_host:
            self.xp.cuda.Stream.null.synchronize()


CPU = Device("cpu")


def cuda_problem() -> str | None:
    """Why `--device cuda` cannot run here (CuPy missing, no GPU, no driver), or None when it can."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import cupy
    except Exception as e:  # ImportError, or a CUDA library CuPy could not load
        return f"CuPy is not installed or cannot load ({type(e).__name__}); {CUDA_EXTRA}"
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as e:  # CUDARuntimeError: no driver, a driver too old for CuPy's CUDA
        reason = str(e).split(":")[0][:60]  # e.g. cudaErrorNoDevice, cudaErrorInsufficientDriver
        return f"no usable CUDA GPU ({reason}); {CUDA_EXTRA}, matching the driver's CUDA"
    return None if count > 0 else f"no CUDA GPU found; {CUDA_EXTRA}"


def _cuda_device() -> Device:
    import cupy

    from rnncli.accel import install_fused_kernels

    register_array_type(cupy.ndarray, cupy)
    if os.environ.get("RNN_FUSED", "1") != "0":  # RNN_FUSED=0: the unfused NumPy loops, to compare
        install_fused_kernels(cupy)
    props = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)
    name = props.get("name", b"GPU")
    return Device("cuda", cupy, name.decode() if isinstance(name, bytes) else str(name))


def resolve_device(setting: str | None, where: str = "--device") -> Device:
    """The device for "cpu", "cuda" or "auto" (None = cpu).

    Raises UsageError (exit 2) for an unknown name, and for "cuda" where CuPy or a GPU is missing,
    naming the extra to install.
    """
    setting = "cpu" if setting is None else setting  # "" is no device, not the default
    if setting not in DEVICES:
        raise UsageError(f"{where}: {setting!r} is not a device; expected one of {', '.join(DEVICES)}")
    if setting == "cpu":
        return CPU
    problem = cuda_problem()
    if problem is None:
        return _cuda_device()
    if setting == "auto":
        return CPU
    raise UsageError(f"{where}: cuda: {problem}")
