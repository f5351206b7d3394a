"""One small batch of a config's own data and the model the config describes, for the commands that
look at a single batch: `rnn gradcheck` and `rnn diagnose`."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rnncli.config import Config
from rnncli.core.gradcheck import gradcheck
from rnncli.core.init import init_params
from rnncli.data import Batch, SequenceData, TaskInfo, iterate_batches, load_dataset
from rnncli.device import Device
from rnncli.errors import UsageError
from rnncli.tools.device_check import device_agreement
from rnncli.training.build import build_spec, check_config_memory, init_options


def first_batch(data: SequenceData, task: TaskInfo, batch_size: int, steps: int | None,
                output: str) -> Batch:
    """The first `batch_size` sequences in float64, cut to `steps` time steps if given."""
    if batch_size < 1 or (steps is not None and steps < 1):
        raise UsageError("--batch-size and --steps must be >= 1")
    n = min(batch_size, len(data))
    if n == 0:
        raise UsageError("the data has no sequences to look at")
    small = data.subset(np.arange(n))
    batch = next(iter(iterate_batches(small, task, n, dtype=np.float64)))
    x, y, lengths = batch.x, batch.y, batch.lengths
    if steps is not None and steps < x.shape[1]:
        x = x[:, :steps]
        y = y[:, :steps] if output == "sequence" else y
        lengths = None if lengths is None else np.minimum(lengths, steps)
    return Batch(x, y, lengths)


def initial_params(cfg: Config, spec) -> dict[str, np.ndarray]:
    """The config's model at initialisation in float64: the weights `rnn train` starts from (seeded
    exactly as the training loop seeds its init generator)."""
    return init_params(spec, np.random.default_rng([cfg.seed, 0]), **init_options(cfg.model),
                       dtype=np.float64)


def config_batch(cfg: Config, *, batch_size: int, steps: int | None, base_dir: Path | None = None,
                 what: str = "diagnose"):
    """(resolved cfg, ModelSpec, TaskInfo, Batch): the config's model and the first sequences of
    its training data; refused up front (`what` names the command) if they would not fit in memory."""
    # float64 throughout; params, grads, the optimizer's slots and a perturbed copy.
    check_config_memory(cfg, what, batch_size=batch_size, steps=steps, dtype=np.float64, copies=2)
    data = load_dataset(cfg.data, seed=cfg.seed, dtype=np.float64, base_dir=base_dir or Path.cwd())
    cfg, spec = build_spec(cfg, data.task)
    return cfg, spec, data.task, first_batch(data.train, data.task, batch_size, steps, spec.output)


def gradcheck_config(cfg: Config, *, batch_size: int = 4, steps: int | None = 8, eps: float = 1e-6,
                     tol: float | None = None, atol: float | None = None, sample: int | None = None,
                     base_dir: Path | None = None, device: Device | None = None):
    """Gradient-check the config's model on a small batch of its own data, in float64.

    The architecture and data come from the config; the weights are drawn uniformly in
    ±1/sqrt(H) whatever the config's init: with the notebooks' N(0, 0.01^2) weights, gradients
    are so small that centred-difference round-off dominates them (and tiny weights would hide the
    notebook-002 derivative bug, whose error grows with |h|), and an identity W_hh puts relu units
    right at their kink. The config's dropout and recurrent dropout are checked too, under fixed masks.
    With a `device` other than the host, the same pass computed there is compared with the host's
    (tools/device_check.py).

    Returns:
        (report, spec, agreement): the GradcheckReport, the ModelSpec that was checked, and the
        device's list of `Agreement`s (None on the host).
    """
    cfg, spec, task, batch = config_batch(cfg, batch_size=batch_size, steps=steps, base_dir=base_dir,
                                          what="gradcheck")
    rng = np.random.default_rng([int(cfg.seed), 7])
    params = init_params(spec, rng, init="uniform", dtype=np.float64)
    extra = {} if atol is None else {"atol": atol}
    report = gradcheck(params, spec, batch.x, batch.y, loss=task.loss, lengths=batch.lengths,
                       eps=eps, tol=tol, sample=sample, rng=rng, dropout=cfg.model.dropout,
                       recurrent_dropout=cfg.model.recurrent_dropout, mask_seed=int(cfg.seed), **extra)
    agreement = None
    if device is not None and not device.is_host:
        agreement = device_agreement(
            params, spec, batch.x, batch.y, loss=task.loss, device=device, lengths=batch.lengths,
            dropout=cfg.model.dropout, recurrent_dropout=cfg.model.recurrent_dropout, mask_seed=int(cfg.seed))
    return report, spec, agreement
