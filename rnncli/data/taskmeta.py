"""The model and task a weights file's meta describes, checked once for every reader.

`rnn predict/eval/sample/states/explain/export/info` (use/model_io), `--init-from`
(training/init_from) and `--resume` (the checkpoint's task) all go through `model_and_task`, so a
file whose meta was edited or written by another tool is one `WeightsError` naming the key, never a
crash later in the reader that skipped a check: a word vocabulary without "<unk>" first, a char
vocabulary with empty or multi-character entries, a scaler of the wrong length, `columns` of the
wrong type, classes that repeat.

Letters: I input, O output.
"""

from __future__ import annotations

import math
from typing import Any

from rnncli.core.model import ModelSpec
from rnncli.data.types import TaskInfo
from rnncli.data.words import UNK
from rnncli.errors import WeightsError

__all__ = ["model_and_task", "task_problem"]

TOKENS = ("char", "word", "id")
COLUMN_KEYS = ("input", "target", "index", "index_position")


def model_and_task(meta: dict[str, Any], where: str) -> tuple[ModelSpec, TaskInfo]:
    """(spec, task) of a weights file's meta; WeightsError "<where>: meta.<key>: why" if unusable.

    A meta without a task (weights written by another program) is plain regression on raw inputs.
    """
    try:
        spec = ModelSpec.from_dict(meta["model"])
    except (TypeError, ValueError, KeyError) as e:
        raise WeightsError(f"{where}: meta.model is not a valid model description ({e})") from None
    raw = meta.get("task")
    if raw is None:
        return spec, TaskInfo(spec.input_size, spec.output_size, output=spec.output)
    try:
        task = TaskInfo.from_dict(raw)
    except WeightsError as e:
        raise WeightsError(f"{where}: {e}") from None
    except TypeError as e:
        raise WeightsError(f"{where}: meta.task is not valid ({e})") from None
    problem = task_problem(task, spec)
    if problem:
        raise WeightsError(f"{where}: meta.task.{problem}")
    return spec, task


def _numbers(v: Any, width: int, positive: bool) -> str | None:
    """Why `v` is not a list of finite numbers whose length divides `width` (stds > 0), or None."""
    if not isinstance(v, list) or not v or width % len(v):
        return f"must be a list of numbers whose length divides {width}"
    if not all(isinstance(a, (int, float)) and not isinstance(a, bool) and math.isfinite(a) for a in v):
        return "must hold finite numbers"
    if positive and min(v) <= 0:
        return f"must be > 0 (got {min(v):.3g})"
    return None


def _scaler_problem(sc: Any, spec: ModelSpec) -> str | None:
    if sc is None:
        return None
    if not isinstance(sc, dict):
        return "scaler must be an object"
    for key, v in sc.items():
        if key not in ("input_mean", "input_std", "target_mean", "target_std"):
            return f"scaler.{str(key)[:40]}: not a scaler statistic"
        width = spec.input_size if key.startswith("input") else spec.output_size
        why = _numbers(v, width, positive=key.endswith("std"))
        if why:
            return f"scaler.{key}: {why}"
    pairs = (("input_mean", "input_std"), ("target_mean", "target_std"))
    for a, b in pairs:
        if (a in sc) != (b in sc) or (a in sc and len(sc[a]) != len(sc[b])):
            return f"scaler: {a} and {b} must come together, of one length"
    return None


def _vocab_problem(task: TaskInfo, spec: ModelSpec) -> str | None:
    vocab = task.vocab
    if vocab is None:
        return None
    strings = isinstance(vocab, list) and all(isinstance(c, str) for c in vocab)
    if not strings or len(vocab) != spec.input_size:
        return f"vocab must be a list of {spec.input_size} strings"
    if len(set(vocab)) != len(vocab):
        return "vocab lists an entry twice"
    if task.tokens == "char":
        bad = next((i for i, c in enumerate(vocab) if len(c) != 1), None)
        if bad is not None:
            return f"vocab[{bad}]: {vocab[bad][:20]!r} is not one character (tokens: char)"
    elif task.tokens == "word":
        if vocab[0] != UNK:
            return f"vocab[0] must be {UNK!r} for a word model (unknown words read as it)"
        if "" in vocab:
            return f"vocab[{vocab.index('')}] is empty"
    return None


def _columns_problem(columns: Any) -> str | None:
    if columns is None:
        return None
    if not isinstance(columns, dict):
        return f"columns must be an object of column lists (got {type(columns).__name__})"
    for key, names in columns.items():
        if key not in COLUMN_KEYS:
            return f"columns.{str(key)[:40]}: not a column role ({', '.join(COLUMN_KEYS)})"
        if names is not None and (not isinstance(names, list) or not all(isinstance(n, str) for n in names)):
            return f"columns.{key} must be a list of column names"
    return None


def _classes_problem(task: TaskInfo) -> str | None:
    classes = task.classes
    if classes is None:
        return None
    if not all(isinstance(c, (str, int, float, bool)) for c in classes):
        return "classes must be labels (strings, numbers, true/false)"
    if len({(type(c).__name__, c) for c in classes}) != len(classes):
        return "classes lists a label twice"
    return None


def _forecast_problem(f: Any, input_size: int) -> str | None:
    """A forecaster's plan (TaskInfo.forecast; see data/forecast.py), or None for plain values."""
    if f is None:
        return None
    last = f.get("last") if isinstance(f, dict) else None
    if (not isinstance(f, dict) or f.get("transform") not in ("none", "log")
            or f.get("target") not in ("level", "change") or not isinstance(last, list)
            or not all(isinstance(p, int) and not isinstance(p, bool) and 0 <= p < input_size
                       for p in last)):
        return f"forecast must be a forecaster's plan (transform, target, last), got {str(f)[:60]}"
    return None


def task_problem(task: TaskInfo, spec: ModelSpec) -> str | None:
    """What is wrong with a task description read from a file ("key: why"), or None."""
    if task.kind not in ("regression", "classification", "text"):
        return f"kind must be regression, classification or text (got {str(task.kind)[:40]!r})"
    if task.input_size != spec.input_size or task.output_size != spec.output_size:
        return (f"input_size/output_size ({task.input_size}, {task.output_size}) do not match meta.model "
                f"({spec.input_size}, {spec.output_size})")
    if task.tokens not in TOKENS:
        return f"tokens must be one of {', '.join(TOKENS)} (got {str(task.tokens)[:40]!r})"
    for key in ("num_classes", "seq_len"):
        v = getattr(task, key)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= 2**31):
            return f"{key} must be a positive integer (got {str(v)[:40]})"
    def number(v: Any) -> bool:  # null: a baseline that was not finite
        return v is None or (isinstance(v, (int, float)) and not isinstance(v, bool))

    numbers = isinstance(task.baselines, dict) and all(number(v) for v in task.baselines.values())
    if not numbers:
        return "baselines must be an object of numbers"
    if not isinstance(task.stateful, bool):
        return "stateful must be true or false"
    return (_scaler_problem(task.scaler, spec) or _vocab_problem(task, spec)
            or _columns_problem(task.columns) or _classes_problem(task)
            or _forecast_problem(task.forecast, task.input_size))
