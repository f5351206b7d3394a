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
    """Bytes a training step holds at its peak: per layer the (T, B, H)-sized buffers its cell keeps
    (Elman: states, their gradient, a dropout mask; gated cells add their gates and the gates'
    gradients: core/cells/, TRAIN_BUFFERS), the input copy and its gradient, outputs, and parameters
    with gradients and two optimizer slots."""
    item = np.dtype(dtype).itemsize
    T, B, H = steps, batch_size, spec.hidden_size
    per_layer = spec.cell_module.TRAIN_BUFFERS * T * B * H
    inputs = 2 * T * B * (spec.embedding_size or spec.input_size)  # one-hot, or embedded vectors
    outputs = 3 * T * B * spec.output_size
    # A bidirectional layer holds both directions plus the reversed and concatenated copies.
    layers = spec.num_layers * (1 if spec.directions == 1 else 5)
    return item * (layers * per_layer + inputs + outputs + 4 * num_params(spec))


def forward_memory_bytes(spec: ModelSpec, batch_size: int, steps: int, dtype) -> int:
    """Bytes a forward pass (predict, eval, sample) holds: the cell's buffers per layer (FORWARD_BUFFERS
    (T, B, H) arrays: states, gates), input, outputs, params."""
    item = np.dtype(dtype).itemsize
    T, B = steps, batch_size
    per_layer = spec.cell_module.FORWARD_BUFFERS * spec.hidden_size
    return item * (T * B * (spec.num_layers * per_layer + spec.input_size
                            + 2 * spec.output_size) + num_params(spec))


def config_estimate(cfg, *, generated: bool, batch_size: int | None = None, steps: int | None = None,
                    dtype=None, copies: int = 0) -> dict[str, int]:
    """What a command built from `cfg` needs at least, from the config alone (before any data exists).

    Sizes the data decides (input/output width) count as 1, so this is a lower bound that is
    close wherever the sizes that can explode are (samples, seq_len, hidden_size, layers, batch).

    Args:
        generated: the data comes from a generator (made whole in memory) rather than a file.
        batch_size/steps: the batch the command runs (default the config's batch and seq_len/bptt).
        dtype: float dtype of the work (default train.dtype).
        copies: parameter copies beyond the step's own (params + grads + 2 optimizer slots).

    Returns:
        {"data": bytes of a generated dataset (0 for files, checked as they are read),
         "model": parameter bytes times `copies`, "step": bytes of one training step}.
    """
    m, d, t = cfg.model, cfg.data, cfg.train
    dtype = np.dtype(dtype or t.dtype)
    spec = ModelSpec(m.input_size or 1, m.hidden_size, m.output_size or 1, m.num_layers,
                     cell=m.cell)
    T = int(getattr(d, "seq_len", None) or 1)
    window = min(steps or T, T) if steps else min(t.bptt or T, T)
    n = int(getattr(d, "num_samples", None) or 0)
    return {
        "data": n * T * 2 * 8 if generated else 0,  # inputs and targets, generated in float64
        "model": copies * num_params(spec) * dtype.itemsize,
        "step": step_memory_bytes(spec, batch_size or t.batch_size, window, dtype),
    }


def check_fits(parts: dict[str, int], budget: int, what: str, hint: str, error: type[Exception]) -> None:
    """Refuse with one line holding the estimate when `parts` add up to more than `budget` bytes.

    Args:
        parts: name -> bytes (e.g. from config_estimate); zero parts are not shown.
        what: who needs it and at what sizes, e.g. "train (batch_size 32, 30 steps, hidden_size 64)".
        hint: what to lower, e.g. "lower data.seq_len or model.hidden_size".
        error: the RnnError subclass to raise (exit 2).
    """
    need = sum(parts.values())
    if need <= budget:
        return
    shown = " + ".join(f"{k} {human_bytes(v)}" for k, v in parts.items() if v)
    raise error(f"{what}: would need about {human_bytes(need)} ({shown}), more than the "
                f"{human_bytes(budget)} allowed (train.max_memory_gb, else RNN_MAX_BYTES, else 80% of "
                f"this machine's memory); {hint}")
