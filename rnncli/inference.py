"""The library side of `rnn eval`, `predict`, `sample` and `info`: use a trained model.

Letters: B batch, T time, I input, H hidden, O output, K classes, V vocabulary, L layers.
Nothing here prints or exits; problems are raised as `rnncli.errors` classes.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rnncli.core.losses import softmax
from rnncli.core.model import ModelSpec, forward, num_params
from rnncli.data.types import Batch, DataBundle, SequenceData, TaskInfo
from rnncli.errors import UsageError, WeightsError
from rnncli.weights import load_weights

__all__ = [
    "LoadedModel",
    "evaluate",
    "load_model",
    "model_info",
    "predict_outputs",
    "sample_text",
]


@dataclass
class LoadedModel:
    """A model read back from a weights file.

    Attributes:
        params: name -> array, as the core's parameter dict.
        spec: the architecture.
        task: what the data looked like (kind, vocabulary, scaler, ...).
        meta: the raw meta dict of the weights file.
        cfg: the resolved training `Config` when meta holds a valid one, else None.
    """

    params: dict[str, np.ndarray]
    spec: ModelSpec
    task: TaskInfo
    meta: dict[str, Any]
    cfg: Any = None

    @property
    def dtype(self) -> np.dtype:
        return self.params["head.W_hy"].dtype


def _parse_config(meta: dict[str, Any]) -> Any:
    """The Config stored in meta, or None if absent or not valid for this version."""
    raw = meta.get("config")
    if not isinstance(raw, dict):
        return None
    try:
        from rnncli.config import Config
    except ImportError:  # config module not available: keep working from meta alone
        return None
    try:
        return Config.model_validate(raw)
    except Exception:  # noqa: BLE001 - an old/foreign config must not stop predict
        return None


def load_model(path: str | os.PathLike[str]) -> LoadedModel:
    """Load weights (a .npz or a run directory) into a ready-to-run model.

    Raises:
        WeightsError: unreadable/corrupt file, or meta without a usable model/task.
    """
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
    if task.input_size != spec.input_size or task.output_size != spec.output_size:
        raise WeightsError(
            f"{path}: meta.task sizes (input {task.input_size}, output {task.output_size}) "
            f"do not match meta.model ({spec.input_size}, {spec.output_size})"
        )
    return LoadedModel(params, spec, task, meta, _parse_config(meta))


def to_original_units(model: LoadedModel, y: np.ndarray) -> np.ndarray:
    """Undo target standardisation on regression outputs (..., O); identity when unscaled."""
    from rnncli.data import unscale_targets

    return unscale_targets(y, model.task)


def _check_input(model: LoadedModel, x: np.ndarray) -> None:
    if x.ndim != 3 or x.shape[-1] != model.spec.input_size:
        got = x.shape[-1] if x.ndim == 3 else f"shape {x.shape}"
        raise UsageError(
            f"input has {got} features per step, the model expects {model.spec.input_size}"
        )


def predict_outputs(
    model: LoadedModel, batch: Batch, h0: np.ndarray | None = None, *, return_state: bool = False
):
    """Model outputs for one batch, ready to show.

    Args:
        batch: x (B, T, I) already scaled/one-hot as the data layer prepares it, lengths (B,).
        h0: (L, B, H) initial state (stateful streams), or None.
        return_state: also return h_final (L, B, H).

    Returns:
        Regression: values in original units, (B, O) for "last" or (B, T, O) for "sequence".
        Classification/text: class probabilities, (B, K) or (B, T, K).
    """
    x = np.asarray(batch.x)
    _check_input(model, x)
    x = x.astype(model.dtype, copy=False)
    y, h_final, _ = forward(model.params, model.spec, x, batch.lengths, h0)
    out = softmax(y) if model.task.loss == "cross_entropy" else to_original_units(model, y)
    return (out, h_final) if return_state else out


def evaluate(
    model: LoadedModel, data: DataBundle | SequenceData, *, batch_size: int = 256
) -> dict[str, float]:
    """Loss and the task's metrics over a whole dataset.

    Args:
        data: a SequenceData, or a DataBundle (its validation part, else its training part).

    Returns:
        {"loss", "samples"} plus accuracy (classification); mse, rmse, mae in original
        units (regression); bpc, perplexity (text); and, for a DataBundle, the baselines of
        that data as "baseline_<name>" (in training-loss units; none are known for files).
    """
    from rnncli.evaluation import evaluate as evaluate_arrays

    baselines: dict[str, float] = {}
    if isinstance(data, DataBundle):
        baselines = data.task.baselines or {}  # of the data evaluated, not of the training data
        data = data.val if data.val is not None and len(data.val) else data.train
    if data.y is None or len(data) == 0:
        raise UsageError("evaluation needs data with targets (got none)")
    if batch_size < 1:
        raise UsageError(f"--batch-size must be >= 1, got {batch_size}")
    _check_features(model, data)
    metrics = evaluate_arrays(
        model.params, model.spec, model.task, data, batch_size=batch_size, dtype=model.dtype
    )
    out: dict[str, float] = {**metrics, "samples": len(data)}
    for name, value in baselines.items():
        out[f"baseline_{name}"] = float(value)
    return out


def _check_features(model: LoadedModel, data: SequenceData) -> None:
    """Text data holds token ids (N, T); everything else (N, T, I) floats."""
    X = data.X
    if X.ndim == 3 and X.shape[-1] != model.spec.input_size:
        raise UsageError(
            f"data has {X.shape[-1]} features per step, the model expects {model.spec.input_size}"
        )
    if X.ndim == 2 and model.task.kind != "text":
        raise UsageError("data holds token ids but the model is not a text model")


def sample_text(
    model: LoadedModel,
    prime: str,
    length: int,
    temperature: float,
    rng: np.random.Generator,
) -> str:
    """Generate `length` characters after `prime` from a character-level model.

    Returns:
        Only the new characters (when `prime` is empty, the first character is drawn
        uniformly from the vocabulary and included).
    Raises:
        UsageError: not a text model, a prime character outside the vocabulary, bad options.
    """
    vocab = model.task.vocab
    if model.task.kind != "text" or not vocab:
        raise UsageError(
            f"sample needs a character-level text model; this one is {model.task.kind}"
        )
    if temperature <= 0 or not math.isfinite(temperature):
        raise UsageError(f"--temperature must be > 0, got {temperature}")
    if length < 0:
        raise UsageError(f"--length must be >= 0, got {length}")
    index = {ch: i for i, ch in enumerate(vocab)}
    unknown = sorted({ch for ch in prime if ch not in index})
    if unknown:
        raise UsageError(
            f"--prime has characters the model never saw: {''.join(unknown)!r} "
            f"(vocabulary of {len(vocab)} characters)"
        )
    V, dtype = len(vocab), model.dtype
    generated: list[str] = []
    if not prime:
        first = vocab[int(rng.integers(V))]
        generated.append(first)
        prime = first
        length -= 1

    def step(ids: list[int], h):
        x = np.zeros((1, len(ids), V), dtype=dtype)
        x[0, np.arange(len(ids)), ids] = 1
        y, h_new, _ = forward(model.params, model.spec, x, None, h)
        return y.reshape(-1, y.shape[-1])[-1], h_new  # logits of the last step (V,)

    logits, h = step([index[ch] for ch in prime], None)
    for _ in range(max(length, 0)):
        p = softmax(logits.astype(np.float64) / temperature)
        nxt = int(rng.choice(V, p=p / p.sum()))
        generated.append(vocab[nxt])
        logits, h = step([nxt], h)
    return "".join(generated)


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
            "vocab_size": len(task.vocab) if task.vocab else None,
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


def load_data_for_model(
    model: LoadedModel,
    spec: str | None,
    *,
    overrides: list[str] | tuple[str, ...] = (),
    fmt: str | None = None,
    seed: int | None = None,
    base_dir: Path | None = None,
) -> DataBundle:
    """The data `rnn eval` runs on, prepared exactly like the model's training data.

    Args:
        spec: None (the validation part of the training data), a generator name, a file
            path or '-' (all of it).
        overrides: "key=value" data options (a leading "data." is optional), YAML scalars.
        seed: generator seed; default the training seed + 1 for a generator given as spec.

    Raises:
        ConfigError: a bad option; DataError: data that does not fit the model.
    """
    from rnncli.config import data_config_from
    from rnncli.data.options import applicable_fields
    from rnncli.errors import ConfigError

    cfg = model.cfg
    base = cfg.data.model_dump() if cfg is not None else {}
    train_seed = int(cfg.seed) if cfg is not None else 0
    if spec is None:
        options, split = dict(base), True
        data_seed = train_seed if seed is None else seed
    else:
        try:
            keep = applicable_fields(spec, fmt) - {"source", "format", "path"}
        except ValueError as e:
            raise ConfigError(f"--data: {e}") from None
        same = base.get("source") == spec
        # Options of the training data that apply to the new source carry over (seq_len, ...).
        options = {k: v for k, v in base.items() if k in keep} if base else {}
        if same and base.get("path"):
            options["path"] = base["path"]
        options.update(source=spec, format=fmt, val_fraction=0.0)
        split = False
        data_seed = seed if seed is not None else train_seed + 1
    data_cfg = data_config_from(options, overrides)
    if spec is None and cfg is None:
        raise UsageError("these weights carry no training config; name the data with --data")
    from rnncli.data import load_dataset

    return load_dataset(
        data_cfg, seed=data_seed, dtype=model.dtype, base_dir=base_dir or Path.cwd(),
        fitted=model.task, split=split,
    )
