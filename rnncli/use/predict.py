"""Running a loaded model: outputs for batches (`rnn predict`), metrics on a dataset (`rnn eval`),
and the data a model is evaluated on, prepared exactly like its training data."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rnncli.config import data_config_from
from rnncli.core.embedding import is_token_input
from rnncli.core.losses import softmax
from rnncli.core.model import forward
from rnncli.data import Batch, DataBundle, SequenceData, load_dataset
from rnncli.data.options import applicable_fields
from rnncli.errors import ConfigError, DataError, RunFailure, UsageError
from rnncli.memory import check_fits, forward_memory_bytes, memory_budget
from rnncli.training.evaluation import compute_metrics
from rnncli.use.model_io import LoadedModel, to_original_units
from rnncli.wording import plural

__all__ = ["check_input", "evaluate_model", "last_step_outputs", "load_data_for_model", "predict_outputs"]


def check_input(model: LoadedModel, x: np.ndarray) -> None:
    if is_token_input(x):
        V = model.spec.input_size
        if x.ndim != 2:
            raise UsageError(f"token ids must be (sequences, steps), got shape {x.shape}")
        if x.size and (int(x.min()) < 0 or int(x.max()) >= V):
            raise UsageError(f"token ids must be in [0, {V}) for this model's vocabulary of {V}")
        return
    if model.spec.embedding_size:
        raise UsageError("this model reads integer token ids (it has an embedding), got real numbers")
    if x.ndim != 3 or x.shape[-1] != model.spec.input_size:
        got = x.shape[-1] if x.ndim == 3 else f"shape {x.shape}"
        raise UsageError(
            f"input has {plural(got, 'feature')} per step, the model expects {model.spec.input_size}"
        )


def check_forward_memory(model: LoadedModel, batch: int, steps: int) -> None:
    """Refuse a batch whose forward pass would not fit in memory, before running it."""
    spec = model.spec
    check_fits({"forward": forward_memory_bytes(spec, batch, steps, model.dtype)}, memory_budget(),
               f"predict (batch {batch}, {steps} steps, hidden_size {spec.hidden_size}, "
               f"{spec.num_layers} layers)", "lower --batch-size or split the sequences", UsageError)


def predict_outputs(
    model: LoadedModel, batch: Batch, h0: np.ndarray | None = None, *, return_state: bool = False
):
    """Model outputs for one batch, ready to show.

    Args:
        batch: x (B, T, I) already scaled as the data layer prepares it, or (B, T) token ids;
            lengths (B,).
        h0: (L, B, H) initial state (stateful streams), or None.
        return_state: also return h_final (L, B, H).

    Returns:
        Regression: values in original units, (B, O) for "last" or (B, T, O) for "sequence".
        Classification/text: class probabilities, (B, K) or (B, T, K).
    """
    x = np.asarray(batch.x)
    check_input(model, x)
    check_forward_memory(model, x.shape[0], x.shape[1])
    # Overflow is found and reported below, never as a numpy RuntimeWarning on stderr.
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        if not is_token_input(x):
            cast = x.astype(model.dtype, copy=False)
            _check_cast(x, cast, model.dtype)
            x = cast
        dev = model.device  # (the host: nothing moves)
        y, h_final, _ = forward(model.params, model.spec, dev.to_device(x), dev.to_device(batch.lengths),
                                h0)
        y = dev.to_host(y)
        out = softmax(y) if model.task.loss == "cross_entropy" else to_original_units(model, y, x)
    if not np.isfinite(out).all():
        raise RunFailure(f"the model's output overflowed ({out.flat[np.argmin(np.isfinite(out))]}) on this "
                         f"input: its weights or the input are too large for {model.dtype}")
    return (out, h_final) if return_state else out


def _check_cast(x: np.ndarray, cast: np.ndarray, dtype: np.dtype) -> None:
    """Inputs (already scaled) must stay finite in the model's dtype (1e39 is inf in float32)."""
    if x.dtype.kind != "f" or np.isfinite(cast).all():
        return
    idx = tuple(int(i) for i in np.argwhere(~np.isfinite(cast))[0])
    raise DataError(f"input value {x[idx]:.6g} (sequence {idx[0] + 1} of the batch, step {idx[1] + 1}) "
                    f"is too large for the model's {dtype} (max {np.finfo(dtype).max:.3g})")


def last_step_outputs(outputs: np.ndarray, lengths: np.ndarray | None) -> np.ndarray:
    """A sequence model's outputs (B, T, O) at each row's last valid step: (B, O).

    For a text model that is the distribution of the token after the whole input.
    """
    B, T = outputs.shape[:2]
    last = np.full(B, T - 1) if lengths is None else np.asarray(lengths) - 1
    return outputs[np.arange(B), last]


def evaluate_model(
    model: LoadedModel, data: DataBundle | SequenceData, *, batch_size: int = 256
) -> dict[str, float]:
    """Loss and the task's metrics over a whole dataset.

    Args:
        data: a SequenceData, or a DataBundle (its validation part, else its training part).

    Returns:
        {"loss", "samples", "targets" (values scored: labels, or regression outputs over
        valid steps)} plus accuracy and "per_class" (classification: see
        training.evaluation.class_report); mse, rmse, mae in original
        units (regression); bpc, perplexity (text); and, for a DataBundle, the baselines of
        that data as "baseline_<name>" (in training-loss units; none are known for files).
    """
    baselines: dict[str, float] = {}
    if isinstance(data, DataBundle):
        baselines = data.task.baselines or {}  # of the data evaluated, not of the training data
        data = data.val if data.val is not None and len(data.val) else data.train
    if data.y is None or len(data) == 0:
        raise UsageError("evaluation needs data with targets (got none)")
    if batch_size < 1:
        raise UsageError(f"--batch-size must be >= 1, got {batch_size}")
    _check_features(model, data)
    metrics = compute_metrics(
        model.params, model.spec, model.task, data, batch_size=batch_size, dtype=model.dtype,
        per_class=model.task.kind == "classification", device=model.device,
    )
    if not all(np.isfinite(v) for v in metrics.values() if isinstance(v, float)):
        raise RunFailure(f"the model's output overflowed on this data (loss {metrics.get('loss')}): its "
                         f"weights or the data are too large for {model.dtype}")
    out: dict[str, float] = {**metrics, "samples": len(data), "targets": _targets(model, data)}
    for name, value in baselines.items():
        out[f"baseline_{name}"] = float(value)
    return out


def _targets(model: LoadedModel, data: SequenceData) -> int:
    """How many target values a metric averages over (valid steps x outputs for regression)."""
    per = 1 if model.task.loss == "cross_entropy" else model.spec.output_size
    if model.spec.output != "sequence":
        return len(data) * per
    steps = data.lengths.sum() if data.lengths is not None else len(data) * data.X.shape[1]
    return int(steps) * per


def _check_features(model: LoadedModel, data: SequenceData) -> None:
    """Token data (text, data.token_ids) holds ids (N, T); everything else (N, T, I) floats."""
    X = data.X
    if X.ndim == 3 and X.shape[-1] != model.spec.input_size:
        raise UsageError(
            f"data has {plural(X.shape[-1], 'feature')} per step, the model expects {model.spec.input_size}"
        )
    if X.ndim == 2 and model.task.kind != "text" and model.task.tokens != "id":
        raise UsageError("data holds token ids but the model reads real-valued features")


def load_data_for_model(
    model: LoadedModel,
    source: str | None,
    *,
    overrides: list[str] | tuple[str, ...] = (),
    fmt: str | None = None,
    seed: int | None = None,
    base_dir: Path | None = None,
    context: str | None = None,
) -> DataBundle:
    """The data `rnn eval` runs on, prepared exactly like the model's training data.

    Args:
        source: None (the validation part of the training data), a generator name, a file
            path or '-' (all of it).
        overrides: "key=value" data options (a leading "data." is optional), YAML scalars.
        seed: generator seed; default the training seed + 1 for a generator given as source.
        context: csv series whose last window precedes `source` (see `load_dataset`).

    Raises:
        ConfigError: a bad option; DataError: data that does not fit the model.
    """
    cfg = model.cfg
    base = cfg.data.model_dump() if cfg is not None else {}
    train_seed = int(cfg.seed) if cfg is not None else 0
    if source is None:
        options, split = dict(base), True
        data_seed = train_seed if seed is None else seed
    else:
        try:
            keep = applicable_fields(source, fmt) - {"source", "format", "path", "val_source"}
        except ValueError as e:
            raise ConfigError(f"--data: {e}") from None
        same = base.get("source") == source
        # Options of the training data that apply to the new source carry over (seq_len, ...).
        options = {k: v for k, v in base.items() if k in keep} if base else {}
        if same and base.get("path"):
            options["path"] = base["path"]
        options.update(source=source, format=fmt, val_fraction=0.0)
        split = False
        data_seed = seed if seed is not None else train_seed + 1
    data_cfg = data_config_from(options, overrides)
    if source is None and cfg is None:
        raise UsageError("these weights carry no training config; name the data with --data")
    return load_dataset(
        data_cfg, seed=data_seed, dtype=model.dtype, base_dir=base_dir or Path.cwd(),
        fitted=model.task, split=split, context=context,
    )
