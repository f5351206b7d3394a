"""Loading a trained model back from its weights file, and what `rnn info` shows about it.

Letters: B batch, T time, I input, H hidden, O output, K classes, V vocabulary, L layers.
Nothing in `use/` prints or exits; problems are raised as `rnncli.errors` classes.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rnncli.config import Config
from rnncli.core.model import ModelSpec, num_params
from rnncli.data import TaskInfo, unscale_targets
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
    """

    params: dict[str, np.ndarray]
    spec: ModelSpec
    task: TaskInfo
    meta: dict[str, Any]
    cfg: Any = None
    path: Path | None = None

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


def _numbers(v: Any, width: int, positive: bool) -> str | None:
    """Why `v` is not a list of finite numbers whose length divides `width` (stds > 0), or None."""
    if not isinstance(v, list) or not v or width % len(v):
        return f"must be a list of numbers whose length divides {width}"
    if not all(isinstance(a, (int, float)) and not isinstance(a, bool) and math.isfinite(a) for a in v):
        return "must hold finite numbers"
    if positive and min(v) <= 0:
        return f"must be > 0 (got {min(v):.3g})"
    return None


def _task_problem(task: TaskInfo, spec: ModelSpec) -> str | None:
    """What is wrong with a task description read from a file ("key: why"), or None."""
    if task.kind not in ("regression", "classification", "text"):
        return f"kind must be regression, classification or text (got {str(task.kind)[:40]!r})"
    sc = task.scaler
    if sc is not None and not isinstance(sc, dict):
        return "scaler must be an object"
    for key, v in (sc or {}).items():
        width = spec.input_size if key.startswith("input") else spec.output_size
        why = _numbers(v, width, positive=key.endswith("std"))
        if why:
            return f"scaler.{key[:40]}: {why}"
    if task.vocab is not None and (not isinstance(task.vocab, list)
                                   or not all(isinstance(c, str) for c in task.vocab)
                                   or len(task.vocab) != spec.input_size):
        return f"vocab must be a list of {spec.input_size} strings"
    for key in ("num_classes", "seq_len"):
        v = getattr(task, key)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= 2**31):
            return f"{key} must be a positive integer (got {str(v)[:40]})"
    return None


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
    try:
        spec = ModelSpec.from_dict(meta["model"])
    except (TypeError, ValueError, KeyError) as e:
        raise WeightsError(f"{path}: meta.model is not a valid model description ({e})") from None
    raw_task = meta.get("task")
    if raw_task is None:
        # Weights written by another program: assume plain regression on raw inputs.
        task = TaskInfo(spec.input_size, spec.output_size, output=spec.output)
    else:
        try:
            task = TaskInfo.from_dict(raw_task)
        except WeightsError as e:
            raise WeightsError(f"{path}: {e}") from None
        except TypeError as e:
            raise WeightsError(f"{path}: meta.task is not valid ({e})") from None
    problem = _task_problem(task, spec)
    if problem:
        raise WeightsError(f"{path}: meta.task.{problem}")
    if task.input_size != spec.input_size or task.output_size != spec.output_size:
        raise WeightsError(
            f"{path}: meta.task sizes (input {task.input_size}, output {task.output_size}) "
            f"do not match meta.model ({spec.input_size}, {spec.output_size})"
        )
    return LoadedModel(params, spec, task, meta, _parse_config(meta), path)


def to_original_units(model: LoadedModel, y: np.ndarray) -> np.ndarray:
    """Undo target standardisation on regression outputs (..., O); identity when unscaled."""
    return unscale_targets(y, model.task)


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
