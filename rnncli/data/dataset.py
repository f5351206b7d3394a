"""`load_dataset`: one entry point from a DataConfig to train/validation data and its task."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from typing import IO

import numpy as np

from rnncli.core.rnn import length_mask
from rnncli.data.checks import check_folds, check_labels
from rnncli.data.formats.base import Records, Request
from rnncli.data.formats.registry import get as get_format
from rnncli.data.generators import MAKERS, class_baselines, generate, regression_baselines
from rnncli.data.labels import encode_labels, fit_classes, label_names
from rnncli.data.options import GENERATORS, DataConfig, source_kind
from rnncli.data.records import token_ids
from rnncli.data.scaling import apply_scaler, fit_scaler
from rnncli.data.text import load_text_corpus
from rnncli.data.types import DataBundle, SequenceData, TaskInfo
from rnncli.errors import DataError
from rnncli.wording import plural


def split_indices(n: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded shuffle of range(n) into (train, val) index arrays, val ~ fraction * n."""
    n_val = int(round(n * fraction))
    if fraction > 0 and n_val == 0 and n >= 2:
        n_val = 1  # a requested validation set is never silently empty
    if n - n_val < 1:
        raise DataError(f"{n} sequence(s) leave nothing to train on; lower data.val_fraction")
    perm = np.random.default_rng([seed, 0x5EED]).permutation(n)
    return np.sort(perm[: n - n_val]), np.sort(perm[n - n_val :])


def fold_indices(n: int, fold: tuple[int, int], seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train, val) index arrays of cross-validation fold i of k: the seeded shuffle of
    `split_indices` cut into k near-equal parts, part i validating."""
    i, k = fold
    check_folds(fold, n, plural(n, "sequence"))
    parts = np.array_split(np.random.default_rng([seed, 0x5EED]).permutation(n), k)
    return np.sort(np.concatenate(parts[:i] + parts[i + 1:])), np.sort(parts[i])


def _mask(data: SequenceData) -> np.ndarray | None:
    """(N, T) valid steps of ragged data, or None."""
    if data.lengths is None:
        return None
    return length_mask(data.lengths, data.X.shape[1])


def _task_from_data(data: SequenceData, labels: bool, cfg: DataConfig, name: str,
                    classes: list | None = None) -> tuple[SequenceData, TaskInfo]:
    """Encode labels as class ids (fitting the classes unless given) and infer the TaskInfo."""
    y, i, t = data.y, data.X.shape[-1], data.X.shape[1]
    tokens = "char"
    if data.X.ndim == 2:  # token ids (data.token_ids): the vocabulary is the largest id + 1
        i, tokens = int(data.X.max()) + 1, "id"
    key = "key 'y'" if cfg.kind == "npz" else "y"
    if labels:
        seq = y.ndim == 2
        mask = _mask(data) if seq else None
        if classes is None:
            classes = fit_classes(y if mask is None else y[mask], name, key, cfg.num_classes)
        data = replace(data, y=encode_labels(y, classes, name, key, mask))
        k = len(classes)
        return data, TaskInfo(i, k, "sequence" if seq else "last", "cross_entropy",
                              "classification", num_classes=k, seq_len=t, classes=classes,
                              layout=cfg.layout, tokens=tokens)
    output = "sequence" if y.ndim == 3 else "last"
    return data, TaskInfo(i, y.shape[-1], output, "mse", "regression", seq_len=t, layout=cfg.layout,
                          tokens=tokens)


def check_against_model(data: SequenceData, task: TaskInfo, fitted: TaskInfo, name: str) -> None:
    """The data must fit the saved model: features (or token ids), outputs, output mode, labels."""
    if fitted.tokens == "id":
        token_ids(data.X, name, fitted.input_size)
    elif task.input_size != fitted.input_size:
        raise DataError(
            f"{name}: sequences have {plural(task.input_size, 'feature')} per step but the model "
            f"expects {fitted.input_size}"
        )
    if task.output != fitted.output:
        raise DataError(
            f"{name}: targets are for output {task.output!r} but the model's output is "
            f"{fitted.output!r}"
        )
    if fitted.loss == "cross_entropy":
        if task.loss != "cross_entropy":
            raise DataError(f"{name}: targets are not class labels, the model classifies")
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


def _cast(data: SequenceData | None, dtype, name: str = "data") -> SequenceData | None:
    """Inputs and float targets in the training dtype; a value that does not fit (1e39 in float32)
    is a DataError naming it, never an inf that trains into a NaN loss or a RuntimeWarning."""
    if data is None:
        return None
    ints = data.X.dtype.kind in "iu"  # token ids stay ints
    with np.errstate(over="ignore", invalid="ignore"):
        x = data.X if ints else data.X.astype(dtype, copy=False)
        y = data.y.astype(dtype, copy=False) if data.y is not None and data.y.dtype.kind == "f" else data.y
    for key, before, after in (("x", data.X, x), ("y", data.y, y)):
        if after is not None and after.dtype.kind == "f" and not np.isfinite(after).all():
            idx = tuple(int(i) for i in np.argwhere(~np.isfinite(after))[0])
            raise DataError(f"{name}: {key} value {before[idx]:.6g} (sequence {idx[0] + 1}) does not fit "
                            f"{np.dtype(dtype)} (train.dtype); scale the data or use float64")
    return replace(data, X=x, y=y)


def _task_of(data: SequenceData, labels: bool, cfg: DataConfig, name: str,
             fitted: TaskInfo | None) -> tuple[SequenceData, TaskInfo]:
    """Labels as class ids and the task: fitted on this data, or the saved model's (checked)."""
    if fitted is None:
        return _task_from_data(data, labels, cfg, name)
    k = int(fitted.num_classes or fitted.output_size)
    classes = label_names(fitted.classes, k) if labels and fitted.loss == "cross_entropy" else None
    data, task = _task_from_data(data, labels, cfg, name, classes)
    check_against_model(data, task, fitted, name)
    return data, replace(fitted, baselines={})


def _split(data: SequenceData, cfg: DataConfig, seed: int, frac: float):
    """(train, val or None): cross-validation fold data.fold, else the seeded val_fraction split."""
    if cfg.fold is not None and frac > 0:
        train_idx, val_idx = fold_indices(len(data), cfg.fold, seed)
    else:
        train_idx, val_idx = split_indices(len(data), frac, seed)
    return data.subset(train_idx), data.subset(val_idx) if len(val_idx) else None


def _prepare(records: Records, cfg: DataConfig, seed: int, fitted: TaskInfo | None,
             frac: float) -> DataBundle:
    """Sequences read from a file: class ids, the train/val split, standardisation, baselines."""
    data, name = records.data, records.name
    ids = cfg.token_ids or (fitted is not None and fitted.tokens == "id")
    if ids:
        data = replace(data, X=token_ids(data.X, name))
    data, task = _task_of(data, records.labels, cfg, name, fitted)
    train, val = _split(data, cfg, seed, frac)
    if fitted is not None:
        task.scaler = fitted.scaler
    elif cfg.standardize and not ids:  # token ids are never scaled
        task.scaler = fit_scaler(train, task.loss == "mse")
    # in original units, as eval reports mse: taken before scaling
    task.baselines = _baselines(val if val is not None else train, task)
    train, val = apply_scaler(train, task.scaler), None if val is None else apply_scaler(
        val, task.scaler)
    return DataBundle(train, val, task)


def _with_val_source(cfg: DataConfig, load, fitted: TaskInfo | None) -> DataBundle:
    """Training data from data.source, validation data from data.val_source (no split).

    `load(cfg, fitted, split)` loads one source. Evaluating a model (fitted given) uses only
    the validation file, prepared with the model's classes and scaler.
    """
    try:
        kind = source_kind(cfg.val_source, cfg.format, "data.val_source")
    except ValueError as e:
        raise DataError(str(e)) from None
    if kind in GENERATORS:
        raise DataError(f"data.val_source {cfg.val_source!r}: a generator makes its own validation "
                        "split (data.val_fraction); data.val_source names a file")
    val_cfg = cfg.model_copy(update={"source": cfg.val_source, "val_source": None})
    if fitted is not None:
        val = load(val_cfg, fitted, False)
        return DataBundle(val.train, val.train, val.task)
    train = load(cfg.model_copy(update={"val_source": None}), None, False)
    val = load(val_cfg, train.task, False)
    task = replace(train.task, baselines=dict(val.task.baselines))
    return DataBundle(train.train, val.train, task)


def _check_context(context: str | None, kind: str, fitted: TaskInfo | None) -> None:
    """--context continues a csv series: refused for any other data or model (never ignored)."""
    takes = kind not in GENERATORS and get_format(kind).context
    if context is not None and (not takes or (fitted is not None and fitted.columns is None)):
        what = f"not {kind} data" if not takes else "and models trained on one; this one was not"
        raise DataError(f"{context}: --context applies to csv series {what}")


def load_dataset(
    cfg: DataConfig,
    *,
    seed: int,
    dtype=np.float64,
    base_dir: Path | None = None,
    fitted: TaskInfo | None = None,
    split: bool = True,
    stdin: IO | None = None,
    context: str | None = None,
) -> DataBundle:
    """Generate or load the data `cfg` selects and split it into train and validation.

    Args:
        cfg: the `data:` config section.
        seed: generators and the train/val shuffle use it (same seed, same data).
        dtype: float dtype of inputs and float targets.
        base_dir: relative file paths resolve against it (the config file's folder).
        fitted: the TaskInfo saved with a model: its classes, vocabulary and scaler are
            reused and the data is checked to fit it (eval); None fits them on the training part.
        split: False puts everything into train (eval, predict on labelled data).
        stdin: the stream for source '-' (default sys.stdin).
        context: csv only: a series whose last window of rows precedes the source, so that
            every row of the source is a target (eval on a test series).
    Returns:
        DataBundle(train, val or None, task).
    """
    dtype = np.dtype(dtype)
    kind = cfg.kind
    _check_context(context, kind, fitted)
    if cfg.val_source is not None and split:
        def load(c: DataConfig, f: TaskInfo | None, s: bool) -> DataBundle:
            return load_dataset(c, seed=seed, dtype=dtype, base_dir=base_dir, fitted=f, split=s,
                                stdin=stdin)
        return _with_val_source(cfg, load, fitted)
    if kind == "text":  # the generator name for a corpus file at data.path
        return load_text_corpus(cfg.path, cfg, base_dir=base_dir, fitted=fitted, split=split,
                                stdin=stdin if stdin is not None else sys.stdin)
    frac = cfg.val_fraction if split else 0.0
    if kind not in MAKERS:
        read = get_format(kind).read(Request(cfg, base_dir, stdin, fitted, split, dtype, context))
        if not isinstance(read, Records):  # the format prepared its own windows or vocabulary
            return read
        bundle = _prepare(read, cfg, seed, fitted, frac)
        name = str(cfg.source)
        return DataBundle(_cast(bundle.train, dtype, name), _cast(bundle.val, dtype, name), bundle.task)
    data, task = generate(kind, cfg, seed=seed, dtype=dtype)
    if fitted is not None:
        check_against_model(data, task, fitted, f"data.source {kind!r}")
    train_idx, val_idx = split_indices(len(data), frac, seed)
    val = data.subset(val_idx) if len(val_idx) else None
    name = f"data.source {kind!r}"
    return DataBundle(_cast(data.subset(train_idx), dtype, name), _cast(val, dtype, name), task)
