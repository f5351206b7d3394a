"""From a validated config and the loaded data to a model spec and an optimizer; the checks made before
training starts (memory, batches)."""

from __future__ import annotations

from pathlib import Path

from rnncli.config import Config, resolve_with_task
from rnncli.core.model import ModelSpec
from rnncli.core.optim import OPTIMIZER_OPTIONS, Optimizer, make_optimizer
from rnncli.data import GENERATORS, DataBundle, TaskInfo, load_dataset, num_batches
from rnncli.errors import ConfigError
from rnncli.memory import check_fits, config_estimate, memory_budget, step_memory_bytes
from rnncli.training.adaptive import adapt_to_data


def build_spec(cfg: Config, task: TaskInfo):
    """The config with sizes, output mode and loss filled in from the data (keys the user set must
    agree with it), and the ModelSpec it describes."""
    cfg = resolve_with_task(cfg, task)
    m = cfg.model
    spec = ModelSpec(m.input_size, m.hidden_size, m.output_size, m.num_layers, m.nonlinearity, m.output,
                     bidirectional=m.bidirectional, embedding_size=m.embedding_size,
                     tie_weights=m.tie_weights, cell=m.cell)
    return cfg, spec


def init_options(m) -> dict:
    """core.init.init_params's keyword arguments from a ModelConfig (training and probe alike)."""
    return {"init": m.init, "recurrent_init": m.recurrent_init, "scale": m.init_scale,
            "forget_bias": m.forget_bias}


def optimizer_from_config(cfg: Config) -> Optimizer:
    """A fresh optimizer as cfg.train describes it, given only the options it reads."""
    tc = cfg.train
    values = {"momentum": tc.momentum, "nesterov": tc.nesterov, "beta1": tc.beta1, "beta2": tc.beta2,
              "eps": tc.eps, "decay": tc.rmsprop_decay}
    opts = {k: values[k] for k in OPTIMIZER_OPTIONS[tc.optimizer]}
    return make_optimizer(tc.optimizer, tc.lr, weight_decay=tc.weight_decay, **opts)


_HINT = "lower train.batch_size, model.hidden_size, data.seq_len or data.num_samples, or set train.bptt"


def _sizes(cfg: Config, batch: int, window: int) -> str:
    m = cfg.model
    return f"batch_size {batch}, {window} steps, hidden_size {m.hidden_size}, {m.num_layers} layers"


def check_config_memory(cfg: Config, what: str, **kwargs) -> None:
    """Refuse, from the config alone and before any data is generated or model built, a command
    whose data and model would not fit (memory.config_estimate; kwargs: batch_size, steps, dtype,
    copies)."""
    parts = config_estimate(cfg, generated=cfg.data.kind in GENERATORS and cfg.data.kind != "text",
                            **kwargs)
    T = int(getattr(cfg.data, "seq_len", None) or 1)
    batch = kwargs.get("batch_size") or cfg.train.batch_size
    check_fits(parts, memory_budget(cfg.train.max_memory_gb),
               f"{what} ({_sizes(cfg, batch, min(kwargs.get('steps') or T, T))})", _HINT, ConfigError)


def check_memory(cfg: Config, spec: ModelSpec, data: DataBundle) -> None:
    """Refuse, before allocating the model, a training step that would not fit with the loaded data."""
    T = data.train.X.shape[1]
    window = min(cfg.train.bptt or T, T)
    batch = min(cfg.train.batch_size, max(len(data.train), 1))
    parts = {"step": step_memory_bytes(spec, batch, window, cfg.train.dtype)}
    check_fits(parts, memory_budget(cfg.train.max_memory_gb), f"train ({_sizes(cfg, batch, window)})",
               _HINT, ConfigError)


def load_checked(cfg: Config, dtype, base_dir: Path, loader=None):
    """(resolved cfg, ModelSpec, DataBundle, chosen) for training, every check made before its
    allocation: the config's memory estimate before the data exists, the exact step once it does
    (after the training keys adapted to the data, `chosen`), the batches."""
    check_config_memory(cfg, "train")
    # loader(cfg, base_dir): how a fine-tuned run reads its data (training/init_from.load_run_data)
    data = (loader(cfg, base_dir) if loader
            else load_dataset(cfg.data, seed=cfg.seed, dtype=dtype, base_dir=base_dir))
    cfg, spec = build_spec(cfg, data.task)
    cfg, chosen = adapt_to_data(cfg, data, spec)
    check_memory(cfg, spec, data)
    check_batches(cfg, data)
    return cfg, spec, data, chosen


def check_batches(cfg: Config, data: DataBundle) -> None:
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
