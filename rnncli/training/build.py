"""From a validated config and the loaded data to a model spec and an optimizer; the checks made before
training starts (memory, batches)."""

from __future__ import annotations

from rnncli.config import resolve_with_task
from rnncli.core.model import ModelSpec
from rnncli.core.optim import OPTIMIZER_OPTIONS, Optimizer, make_optimizer
from rnncli.data import DataBundle, TaskInfo, num_batches
from rnncli.errors import ConfigError
from rnncli.memory import human_bytes, memory_budget, step_memory_bytes


def build_spec(cfg, task: TaskInfo):
    """The config with sizes, output mode and loss filled in from the data (keys the user set must
    agree with it), and the ModelSpec it describes."""
    cfg = resolve_with_task(cfg, task)
    m = cfg.model
    spec = ModelSpec(m.input_size, m.hidden_size, m.output_size, m.num_layers, m.nonlinearity, m.output,
                     bidirectional=m.bidirectional, embedding_size=m.embedding_size,
                     tie_weights=m.tie_weights)
    return cfg, spec


def optimizer_from_config(cfg) -> Optimizer:
    """A fresh optimizer as cfg.train describes it, given only the options it reads."""
    tc = cfg.train
    values = {"momentum": tc.momentum, "nesterov": tc.nesterov, "beta1": tc.beta1, "beta2": tc.beta2,
              "eps": tc.eps, "decay": tc.rmsprop_decay}
    opts = {k: values[k] for k in OPTIMIZER_OPTIONS[tc.optimizer]}
    return make_optimizer(tc.optimizer, tc.lr, weight_decay=tc.weight_decay, **opts)


def check_memory(cfg, spec: ModelSpec, data: DataBundle) -> None:
    """Refuse, before allocating anything big, a step that would not fit in memory."""
    T = data.train.X.shape[1]
    window = min(cfg.train.bptt or T, T)
    batch = min(cfg.train.batch_size, max(len(data.train), 1))
    need = step_memory_bytes(spec, batch, window, cfg.train.dtype)
    budget = memory_budget(cfg.train.max_memory_gb)
    if need > budget:
        raise ConfigError(
            f"train: a training step would need about {human_bytes(need)} (batch_size {batch}, "
            f"{window} steps, hidden_size {spec.hidden_size}, {spec.num_layers} layers), more than the "
            f"{human_bytes(budget)} allowed (train.max_memory_gb); lower batch_size or hidden_size, "
            "or set train.bptt")


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
