"""One memory budget and one estimate of what training a model needs, checked before allocating.

The budget is what a single `rnn` command may use: train.max_memory_gb when the config sets it, else
the RNN_MAX_BYTES environment variable (tests use it), else 80% of the machine's physical memory.
"""

from __future__ import annotations

import os

import numpy as np

from rnncli.core.model import ModelSpec, num_params

_FALLBACK_BYTES = 8 << 30  # a machine that does not report its memory


def physical_memory() -> int:
    try:
        return int(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return _FALLBACK_BYTES


def memory_budget(max_gb: float | None = None) -> int:
    """Bytes one command may allocate (see the module docstring for the order of precedence)."""
    if max_gb is not None:
        return int(max_gb * 2**30)
    env = os.environ.get("RNN_MAX_BYTES")
    if env and env.isdigit():
        return int(env)
    return int(physical_memory() * 0.8)


def human_bytes(n: float) -> str:
    """1536 -> '1.5 KiB'; one decimal in the largest unit below 1024."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024:
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.1f} TiB"


def step_memory_bytes(spec: ModelSpec, batch_size: int, steps: int, dtype) -> int:
    """Bytes a training step holds at its peak: per layer the (T, B, H) states and their gradient
    buffer (plus a dropout mask), the input copy and its gradient, outputs, and parameters with
    gradients and two optimizer slots."""
    item = np.dtype(dtype).itemsize
    T, B, H = steps, batch_size, spec.hidden_size
    per_layer = 3 * T * B * H
    inputs = 2 * T * B * (spec.embedding_size or spec.input_size)  # one-hot, or embedded vectors
    outputs = 3 * T * B * spec.output_size
    # A bidirectional layer holds both directions plus the reversed and concatenated copies.
    layers = spec.num_layers * (1 if spec.directions == 1 else 5)
    return item * (layers * per_layer + inputs + outputs + 4 * num_params(spec))
