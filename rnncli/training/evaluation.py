"""Loss and task metrics of a model on a dataset: used for validation during training and by `rnn eval`.

Metrics by task kind:
- regression: loss (MSE in training units), mse / rmse / mae in original units (after undoing any scaling);
- classification: loss (cross-entropy, nats), accuracy; with `per_class=True` also "per_class", the
  report of `class_report` (precision, recall, support per class and the confusion matrix);
- text: loss (nats per character), bpc (bits per character), perplexity, accuracy.
"""

from __future__ import annotations

import math

import numpy as np

from rnncli.core.cells import state_batch
from rnncli.core.losses import LOSSES, accuracy
from rnncli.core.model import ModelSpec, forward, sequence_mask
from rnncli.data import SequenceData, TaskInfo, iterate_batches
from rnncli.data.scaling import to_original
from rnncli.device import CPU, Device


def confusion_matrix(pred: np.ndarray, target: np.ndarray, num_classes: int,
                     mask: np.ndarray | None = None) -> np.ndarray:
    """Counts of (true class, predicted class) pairs over valid targets.

    Args:
        pred: (B,) or (B, T) predicted class ids (argmax of the logits).
        target: true class ids, same shape as `pred`.
        num_classes: K.
        mask: (B, T) bool valid steps for sequence outputs, or None (all valid).
    Returns:
        (K, K) int64: row = true class, column = predicted class.
    """
    pred, target = np.asarray(pred), np.asarray(target)
    if mask is not None:
        pred, target = pred[mask], target[mask]
    flat = target.reshape(-1).astype(np.int64) * num_classes + pred.reshape(-1).astype(np.int64)
    return np.bincount(flat, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def class_report(confusion: np.ndarray, classes: list | None = None) -> dict:
    """Precision, recall and support of every class from a confusion matrix.

    Recall is the per-class accuracy (the fraction of that class's targets labelled right);
    precision the fraction of the predictions of that class that were right. A class never
    predicted (or never present) has precision (recall) None rather than a made-up 0/0.

    Args:
        confusion: (K, K) counts, row = true class, column = predicted class.
        classes: the K original label values in class-id order; None = 0..K-1.
    Returns:
        {"classes": [K], "precision": [K], "recall": [K], "f1": [K], "support": [K],
         "confusion": (K, K) nested lists} as plain JSON-able values.
    """
    c = np.asarray(confusion, dtype=np.int64)
    k = c.shape[0]
    hits, support, predicted = np.diag(c), c.sum(axis=1), c.sum(axis=0)

    def ratio(num: np.ndarray, den: np.ndarray) -> list:
        return [float(n) / float(d) if d else None for n, d in zip(num, den, strict=True)]

    precision, recall = ratio(hits, predicted), ratio(hits, support)
    f1 = [2 * p * r / (p + r) if p is not None and r is not None and p + r > 0 else None
          for p, r in zip(precision, recall, strict=True)]
    return {"classes": list(classes) if classes is not None else list(range(k)),
            "precision": precision, "recall": recall, "f1": f1,
            "support": [int(v) for v in support], "confusion": c.tolist()}


def minority_accuracy(confusion: np.ndarray) -> dict[str, float]:
    """Accuracy on the targets that are not the most frequent class, when that class is most targets.

    For the copy task (blanks everywhere but the recalled steps) this is the share of the copied
    symbols recalled: plain accuracy counts the easy blanks too (0.99 where recall is 0.9).

    Args:
        confusion: (K, K) counts, row = true class.
    Returns:
        {"minority_accuracy": float} when one class is at least half the targets, else {}.
    """
    c = np.asarray(confusion, dtype=np.int64)
    support = c.sum(axis=1)
    m = int(support.argmax())
    rest = int(support.sum() - support[m])
    if support.sum() == 0 or support[m] * 2 < support.sum() or rest == 0:
        return {}
    return {"minority_accuracy": float((np.trace(c) - c[m, m]) / rest)}


def compute_metrics(params: dict[str, np.ndarray], spec: ModelSpec, task: TaskInfo, data: SequenceData, *,
                    batch_size: int = 256, dtype=np.float32, per_class: bool = False,
                    device: Device = CPU) -> dict:
    """Metrics over every sample of `data` (no shuffling, no dropout).

    Stateful data (text streams) carries the hidden state from batch to batch, as in training.
    Losses are averaged over valid targets, weighted across batches by their counts.
    per_class: for classifiers, add "per_class" (see `class_report`).
    device: where `params` live; each batch goes there and its outputs come back (metrics on the host).
    """
    loss_fn = LOSSES[task.loss]
    total = {"loss": 0.0, "hits": 0.0, "sq": 0.0, "abs": 0.0}
    k = int(task.num_classes or task.output_size)
    confusion = np.zeros((k, k), np.int64) if per_class and task.loss == "cross_entropy" else None
    count = 0  # valid targets (classification) or valid target elements (regression)
    h = None
    for batch in iterate_batches(data, task, batch_size, dtype=dtype):
        if h is not None and state_batch(h) != batch.x.shape[0]:
            h = None  # a shorter last batch starts fresh streams
        out, h_final, _ = forward(params, spec, device.to_device(batch.x), device.to_device(batch.lengths), h)
        out = device.to_host(out)
        h = h_final if data.stateful else None
        mask = sequence_mask(spec, batch.lengths, batch.x.shape[1])
        loss, _ = loss_fn(out, batch.y, mask)
        if task.loss == "cross_entropy":
            n = int(mask.sum()) if mask is not None else int(np.asarray(batch.y).size)
            total["hits"] += accuracy(out, batch.y, mask) * n
            if confusion is not None:
                confusion += confusion_matrix(out.argmax(axis=-1), batch.y, k, mask)
        else:
            n = (int(mask.sum()) * out.shape[-1]) if mask is not None else out.size
            pred, target = to_original(out, batch.x, task), to_original(batch.y, batch.x, task)
            err = pred - target
            if mask is not None:
                err = err * mask[..., None]
            total["sq"] += float(np.sum(err.astype(np.float64) ** 2))
            total["abs"] += float(np.sum(np.abs(err.astype(np.float64))))
        total["loss"] += loss * n
        count += n
    if count == 0:
        return {"loss": float("nan")}
    metrics = {"loss": total["loss"] / count}
    if task.loss == "cross_entropy":
        metrics["accuracy"] = total["hits"] / count
        if confusion is not None:
            metrics["per_class"] = class_report(confusion, task.classes)
            metrics.update(minority_accuracy(confusion))
        if task.kind == "text":
            metrics["bpc"] = metrics["loss"] / math.log(2)
            metrics["perplexity"] = math.exp(min(metrics["loss"], 700.0))
    else:
        metrics["mse"] = total["sq"] / count
        metrics["rmse"] = math.sqrt(metrics["mse"])
        metrics["mae"] = total["abs"] / count
    return metrics


def main_metric(task: TaskInfo) -> tuple[str, str]:
    """The metric a user reads first for this task, and whether higher ("max") or lower ("min") is better."""
    if task.kind == "text":
        return "bpc", "min"
    if task.loss == "cross_entropy":
        return "accuracy", "max"
    return "mse", "min"


NAIVE = {"last_value_mse": "persistence (the last value)", "seasonal_naive_mse": "seasonal naive"}


def worse_than_naive(mse: float | None, baselines: dict) -> str | None:
    """One line when a forecaster's mse is worse than the naive forecasts of the same data
    (persistence, seasonal naive), else None."""
    if mse is None or not math.isfinite(mse):
        return None
    period = int(baselines.get("seasonal_period", 0))
    labels = {**NAIVE, "seasonal_naive_mse": f"seasonal naive (period {period})"}
    worse = [f"{labels[key]} {baselines[key]:.4g}" for key in NAIVE
             if key in baselines and mse > baselines[key]]
    if not worse:
        return None
    return (f"the model's mse {mse:.4g} is worse than the naive forecast: {', '.join(worse)}; "
            "use the naive forecast, or try data.transform: log, data.forecast: change or another "
            "data.seq_len")
