"""Fine-tuning: start a new run from the weights of another (`rnn train --init-from RUN_DIR|WEIGHTS.npz`).

The new config decides the architecture; the source's tensors must have exactly the shapes it needs,
name by name, except the head (head.W_hy, head.b_y), which is re-initialised when the number of outputs
differs (a classifier moved to other classes, a forecaster to another horizon).

What the source learned its inputs as is kept: a text model's vocabulary is reused (the new text must use
only its characters), and when the outputs keep their meaning (same loss, output mode and size) the
source's classes and standardisation statistics are reused too, so its weights see inputs scaled as
before. Otherwise the new data is read on its own terms and a note says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rnncli.config import Config
from rnncli.core.model import ModelSpec, param_shapes
from rnncli.data import DataBundle, TaskInfo, load_dataset
from rnncli.data.taskmeta import model_and_task
from rnncli.errors import ConfigError, DataError, WeightsError
from rnncli.run_layout import CHECKPOINT
from rnncli.training.rundir import read_run_json
from rnncli.weights import load_weights, read_meta, resolve_weights_path

HEAD = ("head.W_hy", "head.b_y")


@dataclass
class InitSource:
    """The model a run starts from, and what the run should say about how it was used."""

    path: Path
    params: dict[str, np.ndarray]
    spec: ModelSpec
    task: TaskInfo
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"path": str(self.path), "notes": list(self.notes)}


def read_init_source(path: str | Path) -> InitSource:
    """The weights and task of RUN_DIR (its model.npz) or a weights file; WeightsError if unusable."""
    file = resolve_weights_path(path)
    params, meta, _ = load_weights(file)
    spec, task = model_and_task(meta, f"--init-from {file}")  # the checks rnn predict runs
    return InitSource(Path(path), params, spec, task)


def _keeps_outputs(task: TaskInfo, source: TaskInfo) -> bool:
    """The new data's targets mean what the source's outputs meant (same loss, mode and size)."""
    return (task.loss, task.output, task.output_size) == (source.loss, source.output, source.output_size)


def load_data_for(source: InitSource, data_cfg, *, seed: int, dtype, base_dir: Path) -> DataBundle:
    """The training data read as the source model reads inputs (see the module docstring)."""
    where = f"--init-from {source.path}"
    if source.task.vocab:
        if data_cfg.kind not in ("text", "txt"):
            raise DataError(f"{where}: the source is a text model; data.source must be text too")
        try:
            return load_dataset(data_cfg, seed=seed, dtype=dtype, base_dir=base_dir, fitted=source.task)
        except DataError as e:
            raise DataError(f"{where}: {e}; fine-tuning keeps the source's vocabulary") from None
    data = load_dataset(data_cfg, seed=seed, dtype=dtype, base_dir=base_dir)
    if data.task.kind == "text":
        raise DataError(f"{where}: the data is text but the source model has no vocabulary")
    if not _keeps_outputs(data.task, source.task):
        if data.task.scaler or source.task.scaler:
            source.notes.append("standardisation statistics fitted on the new data (the outputs differ)")
        return data
    asked = "standardize" in data_cfg.model_fields_set  # (else the source's scaling is simply reused)
    if asked and bool(data.task.scaler) != bool(source.task.scaler):
        raise ConfigError(f"{where}: data.standardize is {str(bool(data_cfg.standardize)).lower()} but the "
                          f"source model was trained {'with' if source.task.scaler else 'without'} "
                          "standardisation; leave data.standardize unset to reuse the source's")
    if source.task.scaler:
        source.notes.append("inputs and targets standardised with the source model's statistics")
    return load_dataset(data_cfg, seed=seed, dtype=dtype, base_dir=base_dir, fitted=source.task)


def check_architecture(source: InitSource, spec: ModelSpec) -> bool:
    """Whether the head must be re-initialised (only the number of outputs differs).

    Raises WeightsError naming the first tensor whose shape differs, or that only one side has.
    """
    where = f"--init-from {source.path}"
    if spec.cell != source.spec.cell:
        raise WeightsError(f"{where}: model.cell is {spec.cell} but the source's is {source.spec.cell}; "
                           "weights of one cell do not fit another")
    if spec.nonlinearity != source.spec.nonlinearity:
        raise WeightsError(f"{where}: model.nonlinearity is {spec.nonlinearity} but the source's is "
                           f"{source.spec.nonlinearity}")
    want, have = param_shapes(spec), {k: v.shape for k, v in source.params.items()}
    reinit_head = spec.output_size != source.spec.output_size and all(
        have.get(k, (0,))[1:] == want[k][1:] for k in HEAD)
    for name in [*want, *(k for k in have if k not in want)]:
        if name in HEAD and reinit_head or have.get(name) == want.get(name):
            continue
        if name not in have:
            problem = f"the config's model needs {name} {_shape(want[name])}, the source has none"
        elif name not in want:
            problem = f"the source has {name} {_shape(have[name])}, the config's model has none"
        else:
            problem = (f"{name} is {_shape(have[name])} in the source, the config's model needs "
                       f"{_shape(want[name])}")
        raise WeightsError(f"{where}: {problem}; use the source's architecture (-c RUN_DIR/config.yaml)")
    return reinit_head


def transfer_params(source: InitSource, spec: ModelSpec, fresh: dict[str, np.ndarray]
                    ) -> dict[str, np.ndarray]:
    """`fresh` (the new run's initial parameters) with every tensor replaced by the source's, but a
    head whose number of outputs differs (a note says so); check_architecture's errors otherwise."""
    reinit_head = check_architecture(source, spec)
    if reinit_head:
        source.notes.append(f"head re-initialised: the source has {source.spec.output_size} outputs, "
                            f"this data {spec.output_size}")
    params = dict(fresh)
    for name in param_shapes(spec):
        if not (name in HEAD and reinit_head):
            params[name] = source.params[name].astype(fresh[name].dtype, copy=True)
    return params


def _shape(shape: tuple) -> str:
    return "(" + ", ".join(str(n) for n in shape) + ")"


def fine_tuned_task(run_dir: Path) -> TaskInfo | None:
    """A fine-tuned run's own task (vocabulary, scaler) from its checkpoint, so that a resume reads the
    data exactly as the run did; None for a run that did not start from --init-from."""
    checkpoint = Path(run_dir) / CHECKPOINT
    if not read_run_json(Path(run_dir)).get("init_from") or not checkpoint.is_file():
        return None  # (a missing checkpoint is reported by load_checkpoint)
    return model_and_task(read_meta(checkpoint), str(checkpoint))[1]


def load_run_data(cfg: Config, run_dir: Path, source: InitSource | None, resume: bool,
                  base_dir: Path) -> DataBundle:
    """A run's data; a fine-tuned run (starting or resumed) reads it as its source model does."""
    where = {"seed": cfg.seed, "dtype": np.dtype(cfg.train.dtype), "base_dir": base_dir}
    if source is not None:
        return load_data_for(source, cfg.data, **where)
    return load_dataset(cfg.data, fitted=fine_tuned_task(run_dir) if resume else None, **where)
