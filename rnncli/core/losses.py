"""Losses over the model's outputs, each returning (loss, gradient with respect to the outputs).

pred / logits: (B, O) for one output per sequence, or (B, T, O) for one per step.
mask: (B, T) bool, True at valid steps (sequence outputs with ragged lengths), or None.
"""

from __future__ import annotations

import numpy as np


def _valid(mask: np.ndarray | None, shape: tuple[int, ...]) -> np.ndarray | None:
    """Broadcast a (B, T) step mask against (B, T, ...) values; None when everything is valid."""
    if mask is None:
        return None
    return mask.reshape(mask.shape + (1,) * (len(shape) - mask.ndim))


def mse(pred: np.ndarray, target: np.ndarray, mask: np.ndarray | None = None):
    """Mean squared error over all valid elements.

    The reference notebooks use 0.5 * sum; a mean keeps the learning rate independent of
    batch size and sequence length. For O = 2 outputs its gradient equals 0.5 * sum's.
    """
    diff = pred - target
    m = _valid(mask, diff.shape)
    if m is not None:
        diff *= m
        count = int(mask.sum()) * int(np.prod(diff.shape[mask.ndim:]))
    else:
        count = diff.size
    count = max(count, 1)
    loss = float(np.vdot(diff, diff)) / count
    return loss, diff * diff.dtype.type(2.0 / count)


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """Numerically stable log of the softmax over the last axis."""
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def softmax(logits: np.ndarray) -> np.ndarray:
    """Softmax over the last axis."""
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def cross_entropy(logits: np.ndarray, target: np.ndarray, mask: np.ndarray | None = None):
    """Softmax cross-entropy with integer class targets, mean over valid targets.

    Args:
        logits: (B, C) or (B, T, C).
        target: (B,) or (B, T) integer classes; entries at padded steps are ignored.
    """
    C = logits.shape[-1]
    flat = logits.reshape(-1, C)
    labels = np.asarray(target).reshape(-1)
    valid = None if mask is None else mask.reshape(-1)
    if valid is not None:
        labels = np.where(valid, labels, 0)  # padding may hold any value
    count = max(int(valid.sum()) if valid is not None else labels.size, 1)
    logp = log_softmax(flat)
    rows = np.arange(labels.size)
    picked = logp[rows, labels]
    if valid is not None:
        picked = picked * valid
    loss = -float(picked.sum()) / count
    dlogits = np.exp(logp)
    dlogits[rows, labels] -= 1
    if valid is not None:
        dlogits *= valid[:, None]
    dlogits *= dlogits.dtype.type(1.0 / count)
    return loss, dlogits.reshape(logits.shape)


def accuracy(logits: np.ndarray, target: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Fraction of valid targets whose class has the largest logit."""
    hits = logits.argmax(axis=-1) == np.asarray(target)
    if mask is not None:
        return float(hits[mask].mean()) if mask.any() else 0.0
    return float(hits.mean())


LOSSES = {"mse": mse, "cross_entropy": cross_entropy}
