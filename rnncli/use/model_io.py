"""Loading a trained model back from its weights file, and what `rnn info` shows about it.

Letters: B batch, T time, I input, H hidden, O output, K classes, V vocabulary, L layers.
Nothing in `use/` prints or exits; problems are raised as `rnncli.errors` classes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from rnncli.config import Config
from rnncli.core.model import ModelSpec, num_params
from rnncli.data import TaskInfo
from rnncli.data.scaling import to_original
from rnncli.data.taskmeta import model_and_task
from rnncli.device import CPU, Device
from rnncli.errors import WeightsError
from rnncli.run_layout import BEST, MODEL
from rnncli.weights import load_weights

__all__ = ["LoadedModel", "load_model", "model_info", "to_original_units", "weights_file"]


@dataclass
class LoadedModel:
    """A model read back from a weights file.

    Attributes:
        params: name -> array, as the core's parameter dict.
        spec: the architecture.
        task: what the data looked like (kind, vocabulary, scaler, ...).
        meta: the raw meta dict of the weights file.
        cfg: the resolved training `Config` when meta holds a valid one, else None.
        path: the weights file read (a run directory's best.npz or model.npz).
        device: where `params` live (`on_device` moves them); inputs go there, outputs come back.
    """

    params: dict[str, np.ndarray]
    spec: ModelSpec
    task: TaskInfo
    meta: dict[str, Any]
    cfg: Any = None
    path: Path | None = None
    device: Device = CPU

    def on_device(self, device: Device) -> LoadedModel:
        """The same model with its parameters on `device` (the host: this model itself)."""
        if device.is_host:
            return self
        return replace(self, params=device.to_device(self.params), device=device)

    @property
    def dtype(self) -> np.dtype:
        return self.params["head.b_y"].dtype


def _parse_config(meta: dict[str, Any]) -> Any:
    """The Config stored in meta, or None if absent or not valid for this version."""
    raw = meta.get("config")
    if not isinstance(raw, dict):
        return None
    try:
        return Config.model_validate(raw)
    except Exception:  # noqa: BLE001 - an old/foreign config must not stop predict
        return None


def weights_file(path: str | os.PathLike[str]) -> Path:
    """The file `path` names: itself, or for a run directory its best weights (best.npz, the
    epoch with the best validation loss) when they exist, else its final model.npz."""
    p = Path(path)
    if p.is_dir() and (p / BEST).is_file():
        return p / BEST
    return p / MODEL if p.is_dir() else p


def load_model(path: str | os.PathLike[str]) -> LoadedModel:
    """Load weights (a .npz, or a run directory: see `weights_file`) into a ready-to-run model.

    `LoadedModel.path` says which file was read.

    Raises:
        WeightsError: unreadable/corrupt file, or meta without a usable model/task.
    """
    if Path(path).is_dir() and not (Path(path) / MODEL).exists() and not (Path(path) / BEST).exists():
        raise WeightsError(f"no model.npz in run directory: {path}")
    path = weights_file(path)
    params, meta, _extra = load_weights(path)
    spec, task = model_and_task(meta, str(path))  # the one check of meta every reader shares
    return LoadedModel(params, spec, task, meta, _parse_config(meta), path)


def to_original_units(model: LoadedModel, y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Regression outputs (..., O) for model inputs x in original units: standardisation undone,
    and a forecaster's change added to the last value (and exp'd for logs); see data.scaling."""
    return to_original(y, x, model.task)


def model_info(model: LoadedModel) -> dict[str, Any]:
    """What `rnn info` shows: architecture, size, task and how it was trained."""
    meta, spec, task = model.meta, model.spec, model.task
    cfg = meta.get("config") if isinstance(meta.get("config"), dict) else {}
    info: dict[str, Any] = {
        "format_version": meta.get("format_version"),
        "model": spec.to_dict(),
        "parameters": num_params(spec),
        "dtype": str(model.dtype),
        "task": {
            "kind": task.kind,
            "loss": task.loss,
            "output": task.output,
            "num_classes": task.num_classes,
            "classes": task.classes,
            "vocab_size": len(task.vocab) if task.vocab else None,
            "tokens": task.tokens if task.kind == "text" else None,
            "scaled": bool(task.scaler),
            "baselines": task.baselines,
        },
        "epoch": meta.get("epoch"),
        "metrics": meta.get("metrics"),
        "data": cfg.get("data"),
        "train": cfg.get("train"),
        "seed": cfg.get("seed"),
        "name": cfg.get("name"),
    }
    return info
