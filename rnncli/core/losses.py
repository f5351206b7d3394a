"""Losses over the model's outputs, each returning (loss, gradient with respect to the outputs).

pred / logits: (B, O) for one output per sequence, or (B, T, O) for one per step.
mask: (B, T) bool, True at valid steps (sequence outputs with ragged lengths), or None.

The loss is a float for host arrays. For device arrays it stays a 0-d float64 array on the device
(counts included), so a training step never waits for the device to hand a number back.
"""

from __future__ import annotations

import numpy as np

from rnncli.core.xp import array_module


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
    xp = array_module(pred)
    diff = pred - target
    m = _valid(mask, diff.shape)
    if m is not None:
        diff *= m
        count = _count(mask.sum() * int(np.prod(diff.shape[mask.ndim:])), xp)
    else:
        count = max(diff.size, 1)
    loss = _result(xp.vdot(diff, diff).astype(np.float64) / count, xp)
    return loss, diff * _scalar(2.0 / count, diff.dtype)


def _count(n, xp):
    """At least 1 (an empty mask divides by 1): an int on the host, a 0-d array on a device."""
    return max(int(n), 1) if xp is np else xp.maximum(n, 1)


def _scalar(value, dtype):
    """A float64 scalar (host) or 0-d array (device) cast to the outputs' dtype."""
    return value.astype(dtype) if hasattr(value, "astype") else np.dtype(dtype).type(value)


def _result(value, xp):
    """The loss as the caller gets it: a float on the host, left on the device otherwise."""
    return float(value) if xp is np else value


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """Numerically stable log of the softmax over the last axis."""
    xp = array_module(logits)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - xp.log(xp.exp(shifted).sum(axis=-1, keepdims=True))


def softmax(logits: np.ndarray) -> np.ndarray:
    """Softmax over the last axis."""
    e = array_module(logits).exp(logits - logits.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def cross_entropy(logits: np.ndarray, target: np.ndarray, mask: np.ndarray | None = None):
    """Softmax cross-entropy with integer class targets, mean over valid targets.

    Args:
        logits: (B, C) or (B, T, C).
        target: (B,) or (B, T) integer classes; entries at padded steps are ignored.
    """
    xp = array_module(logits)
    C = logits.shape[-1]
    flat = logits.reshape(-1, C)
    labels = xp.asarray(target).reshape(-1)
    valid = None if mask is None else mask.reshape(-1)
    if valid is not None:
        labels = xp.where(valid, labels, 0)  # padding may hold any value
    count = _count(valid.sum(), xp) if valid is not None else max(labels.size, 1)
    logp = log_softmax(flat)
    rows = xp.arange(labels.size)
    picked = logp[rows, labels]
    if valid is not None:
        picked = picked * valid
    loss = _result(-picked.sum().astype(np.float64) / count, xp)
    dlogits = xp.exp(logp)
    dlogits[rows, labels] -= 1
    if valid is not None:
        dlogits *= valid[:, None]
    dlogits *= _scalar(1.0 / count, dlogits.dtype)
    return loss, dlogits.reshape(logits.shape)


def accuracy(logits: np.ndarray, target: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Fraction of valid targets whose class has the largest logit."""
    hits = logits.argmax(axis=-1) == array_module(logits).asarray(target)
    if mask is not None:
        return float(hits[mask].mean()) if mask.any() else 0.0
    return float(hits.mean())


LOSSES = {"mse": mse, "cross_entropy": cross_entropy}
