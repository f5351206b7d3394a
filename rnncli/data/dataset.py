"""`load_dataset`: one entry point from a DataConfig to train/validation data and its task."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from typing import IO

import numpy as np

from rnncli.core.rnn import length_mask
from rnncli.data.checks import check_labels
from rnncli.data.csvseries import load_csv_dataset
from rnncli.data.generators import MAKERS, class_baselines, generate, regression_baselines
from rnncli.data.options import DataConfig
from rnncli.data.readers import decode_utf8, load_npz_arrays, read_source_bytes
from rnncli.data.records import npz_to_data, read_jsonl_records
from rnncli.data.scaling import apply_scaler, fit_scaler
from rnncli.data.text import load_text_corpus
from rnncli.data.types import DataBundle, SequenceData, TaskInfo
from rnncli.errors import DataError


def split_indices(n: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded shuffle of range(n) into (train, val) index arrays, val ~ fraction * n."""
    n_val = int(round(n * fraction))
    if fraction > 0 and n_val == 0 and n >= 2:
        n_val = 1  # a requested validation set is never silently empty
    if n - n_val < 1:
        raise DataError(f"{n} sequence(s) leave nothing to train on; lower data.val_fraction")
    perm = np.random.default_rng([seed, 0x5EED]).permutation(n)
    return np.sort(perm[: n - n_val]), np.sort(perm[n - n_val :])


def _mask(data: SequenceData) -> np.ndarray | None:
    """(N, T) valid steps of ragged data, or None."""
    if data.lengths is None:
        return None
    return length_mask(data.lengths, data.X.shape[1])


def _task_from_data(data: SequenceData, cfg: DataConfig, name: str) -> TaskInfo:
    """Infer TaskInfo from loaded arrays: labels -> classification, floats -> regression."""
    y = data.y
    seq = y.ndim == (2 if y.dtype.kind in "iu" else 3)
    output = "sequence" if seq else "last"
    i = data.X.shape[-1]
    if y.dtype.kind in "iu":
        k = cfg.num_classes or max(2, int(y.max()) + 1)
        return TaskInfo(i, k, output, "cross_entropy", "classification", num_classes=k,
                        seq_len=data.X.shape[1])
    return TaskInfo(i, y.shape[-1], output, "mse", "regression", seq_len=data.X.shape[1])


def check_against_model(data: SequenceData, task: TaskInfo, fitted: TaskInfo, name: str) -> None:
    """The data must fit the saved model: features, outputs, output mode, labels."""
    if task.input_size != fitted.input_size:
        raise DataError(
            f"{name}: sequences have {task.input_size} features per step but the model "
            f"expects {fitted.input_size}"
        )
    if task.output != fitted.output:
        raise DataError(
            f"{name}: targets are for output {task.output!r} but the model's output is "
            f"{fitted.output!r}"
        )
    if fitted.loss == "cross_entropy":
        if task.loss != "cross_entropy":
            raise DataError(f"{name}: targets are not integer class labels, the model classifies")
        check_labels(data.y, int(fitted.num_classes or fitted.output_size), name, "y")
    elif task.loss != "mse" or task.output_size != fitted.output_size:
        raise DataError(
            f"{name}: targets have {task.output_size} values but the model outputs "
            f"{fitted.output_size} floats"
        )


def _baselines(ref: SequenceData, task: TaskInfo) -> dict[str, float]:
    if task.loss == "cross_entropy":
        mask = _mask(ref) if task.output == "sequence" else None
        return class_baselines(ref.y, int(task.num_classes), mask)
    return regression_baselines(ref.y, _mask(ref) if task.output == "sequence" else None)


def _cast(data: SequenceData | None, dtype) -> SequenceData | None:
    if data is None:
        return None
    y = data.y
    if y is not None and y.dtype.kind == "f":
        y = y.astype(dtype, copy=False)
    return replace(data, X=data.X.astype(dtype, copy=False), y=y)


def _load_records(cfg: DataConfig, kind: str, base_dir, stdin) -> tuple[SequenceData, str]:
    if kind == "npz":
        arrays, name = load_npz_arrays(cfg.source, base_dir=base_dir, stdin=stdin)
        return npz_to_data(arrays, name, targets=cfg.targets), name
    data, name = read_source_bytes(cfg.source, base_dir=base_dir, stdin=stdin)
    text = decode_utf8(data, name)
    return read_jsonl_records(text.splitlines(), name, output=cfg.output,
                              targets=cfg.targets), name


def load_dataset(
    cfg: DataConfig,
    *,
    seed: int,
    dtype=np.float64,
    base_dir: Path | None = None,
    fitted: TaskInfo | None = None,
    split: bool = True,
    stdin: IO | None = None,
) -> DataBundle:
    """Generate or load the data `cfg` selects and split it into train and validation.

    Args:
        cfg: the `data:` config section.
        seed: generators and the train/val shuffle use it (same seed, same data).
        dtype: float dtype of inputs and float targets.
        base_dir: relative file paths resolve against it (the config file's folder).
        fitted: the TaskInfo saved with a model: its vocabulary and scaler are reused and
            the data is checked to fit it (eval); None fits them on the training part.
        split: False puts everything into train (eval, predict on labelled data).
        stdin: the stream for source '-' (default sys.stdin).
    Returns:
        DataBundle(train, val or None, task).
    """
    dtype = np.dtype(dtype)
    kind = cfg.kind
    frac = cfg.val_fraction if split else 0.0
    if kind in ("text", "txt"):
        src = cfg.path if kind == "text" else cfg.source
        bundle = load_text_corpus(src, cfg, base_dir=base_dir, fitted=fitted, split=split,
                                  stdin=stdin if stdin is not None else sys.stdin)
        return bundle
    if kind == "csv":
        return load_csv_dataset(cfg, dtype=dtype, base_dir=base_dir, fitted=fitted, split=split,
                                stdin=stdin)
    if kind == "npy":
        raise DataError(
            f"{cfg.source}: an .npy holds inputs only; training and eval need targets: use an "
            ".npz with X and y, or .jsonl lines with x and y (.npy is for rnn predict)"
        )
    if kind in MAKERS:
        data, task = generate(kind, cfg, seed=seed, dtype=dtype)
        name = f"data.source {kind!r}"
        if fitted is not None:
            check_against_model(data, task, fitted, name)
    else:
        data, name = _load_records(cfg, kind, base_dir, stdin)
        task = _task_from_data(data, cfg, name)
        if fitted is not None:
            check_against_model(data, task, fitted, name)
            task = replace(fitted, baselines={})
        elif task.loss == "cross_entropy":
            check_labels(data.y, int(task.num_classes), name, "key 'y'" if kind == "npz" else "y")
    train_idx, val_idx = split_indices(len(data), frac, seed)
    train = data.subset(train_idx)
    val = data.subset(val_idx) if len(val_idx) else None
    if kind not in MAKERS:
        scaler = fitted.scaler if fitted is not None else (
            fit_scaler(train, task.loss == "mse") if cfg.standardize else None
        )
        task.scaler = scaler
        train, val = apply_scaler(train, scaler), None if val is None else apply_scaler(
            val, scaler)
        task.baselines = _baselines(val if val is not None else train, task)
    return DataBundle(_cast(train, dtype), _cast(val, dtype), task)
