"""The containers that flow from the data layer to training, eval and predict.

Letters: N samples, B batch, T time, I input features, O outputs, V vocabulary.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from rnncli.errors import WeightsError


@dataclass
class SequenceData:
    """Sequences in padded storage.

    Attributes:
        X: (N, T, I) float inputs, or (N, T) int token ids (the model one-hots or embeds them).
        y: (N, O) float | (N,) int labels for "last" outputs; (N, T, O) float | (N, T) int for
            "sequence" outputs; None when only inputs are known (predict).
        lengths: (N,) int valid steps per sequence (steps >= length are zero padding), or None
            when every sequence has the full length T.
        stateful: consecutive windows continue each other (text streams): never shuffled, and
            batch i row b continues batch i-1 row b (see `iterate_batches`).
    """

    X: np.ndarray
    y: np.ndarray | None
    lengths: np.ndarray | None = None
    stateful: bool = False

    def __len__(self) -> int:
        return int(self.X.shape[0])

    def subset(self, idx: np.ndarray) -> SequenceData:
        """The samples at `idx` (an index array), as a new SequenceData."""
        return SequenceData(
            self.X[idx],
            None if self.y is None else self.y[idx],
            None if self.lengths is None else self.lengths[idx],
            self.stateful,
        )


@dataclass
class TaskInfo:
    """What a model trained on this data must know; saved in the weights' meta as JSON.

    Attributes:
        input_size: I (the vocabulary size V for text).
        output_size: O (the number of classes for classification and text).
        output: "last" (one output per sequence) or "sequence" (one per step).
        loss: "mse" or "cross_entropy".
        kind: "regression", "classification" or "text".
        num_classes: class count for classification/text, else None.
        vocab: the characters of a text model, id order, else None.
        scaler: standardisation fitted on the training part only, in original units:
            {"input_mean": [I], "input_std": [I], "target_mean": [C], "target_std": [C]}
            where C target columns repeat over the horizon (O = horizon * C); None if unscaled.
        baselines: reference scores of the data: MSE in original units for regression (as
            eval's mse; the training loss is in scaled units when a scaler is set), accuracy
            and cross-entropy for classifiers, e.g. {"predict_1_mse": 1/6} for adding.
        stateful: windows continue each other (carry the hidden state, do not shuffle).
        seq_len: the training window length (how `rnn predict` cuts a CSV series), or None.
        columns: {"input": [...], "target": [...]} column names of a CSV series (and
            "index": [name] when a column indexes the rows), or None.
        classes: a classifier's original label values in class-id order (strings, ints,
            booleans), or None when the class ids are the labels (generated data).
        layout: how `rnn predict` reads .npy/.npz inputs: "NTC" (N, T, I) or "NCT" (N, C, T).
        tokens: text models: "char" (vocab holds characters) or "word" (words, "<unk>" first).
        forecast: csv series forecasters: {"transform": "none" | "log", "target": "level" |
            "change", "last": [positions of the target columns among the inputs]}; targets
            (and the saved target statistics) are then changes from the window's last value,
            in logs for "log" (see data.scaling.to_original); None = plain values.
    """

    input_size: int
    output_size: int
    output: str = "last"
    loss: str = "mse"
    kind: str = "regression"
    num_classes: int | None = None
    vocab: list[str] | None = None
    scaler: dict[str, list[float]] | None = None
    baselines: dict[str, float] = field(default_factory=dict)
    stateful: bool = False
    seq_len: int | None = None
    columns: dict[str, list[str]] | None = None
    tokens: str = "char"
    classes: list | None = None
    layout: str = "NTC"
    forecast: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (plain ints, floats, strings and lists)."""
        d = asdict(self)
        d["baselines"] = {k: float(v) for k, v in self.baselines.items()}
        return d

    @classmethod
    def from_dict(cls, d: Any) -> TaskInfo:
        """Rebuild from `to_dict()` output; unknown keys are ignored (newer writers)."""
        if not isinstance(d, dict):
            raise WeightsError(f"task info in weights meta must be an object, got {d!r:.60}")
        for key in ("input_size", "output_size"):
            if not isinstance(d.get(key), int) or d[key] < 1:
                raise WeightsError(f"task info in weights meta: {key} is missing or not >= 1")
        known = set(cls.__dataclass_fields__)
        kwargs = {k: v for k, v in d.items() if k in known}
        if kwargs.get("baselines") is None:
            kwargs["baselines"] = {}
        task = cls(**kwargs)
        k = task.num_classes or task.output_size
        if task.classes is not None and (not isinstance(task.classes, list) or len(task.classes) != k):
            raise WeightsError(f"task info in weights meta: classes must be a list of {k} labels")
        if task.layout not in ("NTC", "NCT"):
            raise WeightsError(f"task info in weights meta: bad layout {task.layout!r}")
        if task.output not in ("last", "sequence") or task.loss not in ("mse", "cross_entropy"):
            raise WeightsError(
                f"task info in weights meta: bad output {task.output!r} or loss {task.loss!r}"
            )
        return task


@dataclass
class DataBundle:
    """A loaded dataset: the training part, the validation part (or None) and the task."""

    train: SequenceData
    val: SequenceData | None
    task: TaskInfo


@dataclass
class Batch:
    """One batch, ready for the core.

    Attributes:
        x: (B, T, I) float of the requested dtype, or (B, T) int64 token ids (text, integer X).
        y: float targets of the dtype, int64 labels, or None (predict).
        lengths: (B,) int64 valid steps, or None when all have length T.
        index: (B,) labels of the rows a CSV series' windows forecast (predict), else None.
    """

    x: np.ndarray
    y: np.ndarray | None
    lengths: np.ndarray | None = None
    index: list[str] | None = None
