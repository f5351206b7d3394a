"""From a validated config and the loaded data to a model spec; the memory check made before training."""

from __future__ import annotations

import os

import numpy as np

from rnncli.config import resolve_with_task
from rnncli.core.model import ModelSpec, num_params
from rnncli.core.optim import Optimizer, make_optimizer
from rnncli.data import DataBundle, TaskInfo, num_batches
from rnncli.errors import ConfigError


def build_spec(cfg, task: TaskInfo):
    """The config with sizes, output mode and loss filled in from the data (keys the user set must
    agree with it), and the ModelSpec it describes."""
    cfg = resolve_with_task(cfg, task)
    m = cfg.model
    spec = ModelSpec(m.input_size, m.hidden_size, m.output_size, m.num_layers, m.nonlinearity, m.output)
    return cfg, spec


def optimizer_from_config(cfg) -> Optimizer:
    """A fresh optimizer as cfg.train describes it (the options that do not apply are ignored)."""
    tc = cfg.train
    return make_optimizer(tc.optimizer, tc.lr, momentum=tc.momentum, nesterov=tc.nesterov,
                          beta1=tc.beta1, beta2=tc.beta2, eps=tc.eps, decay=tc.rmsprop_decay,
                          weight_decay=tc.weight_decay)


def step_memory_bytes(spec: ModelSpec, batch_size: int, steps: int, dtype) -> int:
    """Bytes a training step holds at its peak: per layer the (T, B, H) states and their gradient
    buffer (plus a dropout mask), the input copy and its gradient, outputs, and parameters with
    gradients and two optimizer slots."""
    item = np.dtype(dtype).itemsize
    T, B, H = steps, batch_size, spec.hidden_size
    per_layer = 3 * T * B * H
    inputs = 2 * T * B * spec.input_size
    outputs = 3 * T * B * spec.output_size
    return item * (spec.num_layers * per_layer + inputs + outputs + 4 * num_params(spec))


def memory_budget(cfg) -> int:
    """train.max_memory_gb, or 80% of the machine's RAM."""
    if cfg.train.max_memory_gb is not None:
        return int(cfg.train.max_memory_gb * 2**30)
    try:


        return int(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") * 0.8)
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return 8 << 30


def check_memory(cfg, spec: ModelSpec, data: DataBundle) -> None:
    """Refuse, before allocating anything big, a step that would not fit in memory."""
    T = data.train.X.shape[1]
    window = min(cfg.train.bptt or T, T)
    batch = min(cfg.train.batch_size, max(len(data.train), 1))
    need = step_memory_bytes(spec, batch, window, cfg.train.dtype)
    budget = memory_budget(cfg)
    if need > budget:
        raise ConfigError(
            f"train: a training step would need about {human_bytes(need)} (batch_size {batch}, "
            f"{window} steps, hidden_size {spec.hidden_size}, {spec.num_layers} layers), more than the "
            f"{human_bytes(budget)} allowed (train.max_memory_gb); lower batch_size or hidden_size, "
            "or set train.bptt")


def human_bytes(n: float) -> str:
    """1536 -> '1.5 KiB'; one decimal in the largest unit below 1024."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024:
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.1f} TiB"


def check_batches(cfg, data: DataBundle) -> None:
    """Refuse a config under which an epoch would train on no batch at all (the loss would be NaN)."""
    n, bs, drop_last = len(data.train), cfg.train.batch_size, cfg.train.drop_last
    if num_batches(data.train, bs, drop_last) > 0:
        return
    if n == 0:
        raise ConfigError("data: no training sequences are left after the validation split "
                          f"(data.val_fraction {cfg.data.val_fraction}); lower it or add data")
    raise ConfigError(
        f"train.batch_size {bs} is larger than the {n} training sequences and train.drop_last is "
        "true, so no batch would be trained; lower train.batch_size or set train.drop_last: false"
    )
