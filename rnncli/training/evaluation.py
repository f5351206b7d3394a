"""Loss and task metrics of a model on a dataset: used for validation during training and by `rnn eval`.

Metrics by task kind:
- regression: loss (MSE in training units), mse / rmse / mae in original units (after undoing any scaling);
- classification: loss (cross-entropy, nats), accuracy;
- text: loss (nats per character), bpc (bits per character), perplexity, accuracy.
"""

from __future__ import annotations

import math

import numpy as np

from rnncli.core.losses import LOSSES, accuracy
from rnncli.core.model import ModelSpec, forward, sequence_mask
from rnncli.data import SequenceData, TaskInfo, iterate_batches, unscale_targets


def compute_metrics(params: dict[str, np.ndarray], spec: ModelSpec, task: TaskInfo, data: SequenceData, *,
             batch_size: int = 256, dtype=np.float32) -> dict[str, float]:
    """Metrics over every sample of `data` (no shuffling, no dropout).

    Stateful data (text streams) carries the hidden state from batch to batch, as in training.
    Losses are averaged over valid targets, weighted across batches by their counts.
    """
    loss_fn = LOSSES[task.loss]
    total = {"loss": 0.0, "hits": 0.0, "sq": 0.0, "abs": 0.0}
    count = 0  # valid targets (classification) or valid target elements (regression)
    h = None
    for batch in iterate_batches(data, task, batch_size, dtype=dtype):
        if h is not None and h.shape[1] != batch.x.shape[0]:
            h = None  # a shorter last batch starts fresh streams
        out, h_final, _ = forward(params, spec, batch.x, batch.lengths, h)
        h = h_final if data.stateful else None
        mask = sequence_mask(spec, batch.lengths, batch.x.shape[1])
        loss, _ = loss_fn(out, batch.y, mask)
        if task.loss == "cross_entropy":
            n = int(mask.sum()) if mask is not None else int(np.asarray(batch.y).size)
            total["hits"] += accuracy(out, batch.y, mask) * n
        else:
            n = (int(mask.sum()) * out.shape[-1]) if mask is not None else out.size
            pred, target = unscale_targets(out, task), unscale_targets(batch.y, task)
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
