"""Batches for the core: shuffled or in order, trimmed padding, dtype casts.

Token ids (text, integer X) stay integer ids (B, T): the model encodes them itself, one-hot or
through its embedding (rnncli.core.embedding).

Stateful (text) data is laid out as B parallel streams: with M = N // B windows per stream,
stream b holds windows b*M .. b*M + M - 1, and batch i is window b*M + i of every stream b.
So row b of batch i continues row b of batch i-1, and the train loop carries the hidden
state across batches. The N - B*M leftover windows are dropped; never shuffled.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from rnncli.core.embedding import one_hot  # noqa: F401 - re-exported by rnncli.data
from rnncli.data.types import Batch, SequenceData, TaskInfo


def _streams(n: int, batch_size: int) -> int:
    """Number of parallel streams for stateful data: B, or fewer if there are fewer windows."""
    return max(1, min(batch_size, n))


def num_batches(
    data: SequenceData, batch_size: int, drop_last: bool = False, *, task: TaskInfo | None = None
) -> int:
    """How many batches `iterate_batches` yields for these arguments."""
    n = len(data)
    if data.stateful or (task is not None and task.stateful):
        return n // _streams(n, batch_size)
    return n // batch_size if drop_last else -(-n // batch_size)


def make_batch(
    data: SequenceData, idx: np.ndarray, task: TaskInfo, dtype
) -> Batch:
    """The samples at idx as a Batch, padding trimmed to the longest member."""
    x, y = data.X[idx], None if data.y is None else data.y[idx]
    lengths = None
    if data.lengths is not None:
        lengths = data.lengths[idx].astype(np.int64)
        t = int(lengths.max())
        x = x[:, :t]
        if y is not None and task.output == "sequence":
            y = y[:, :t]
        if (lengths == t).all():
            lengths = None  # no padding left in this batch
    if x.dtype.kind in "iu":  # token ids: the model one-hots or embeds them
        x = x.astype(np.int64, copy=False)
    else:
        x = x.astype(dtype, copy=False)
    if y is not None:
        y = y.astype(np.int64, copy=False) if y.dtype.kind in "iu" else y.astype(dtype, copy=False)
    return Batch(np.ascontiguousarray(x), y, lengths)


def iterate_batches(
    data: SequenceData,
    task: TaskInfo,
    batch_size: int,
    *,
    rng: np.random.Generator | None = None,
    drop_last: bool = False,
    dtype=np.float64,
) -> Iterator[Batch]:
    """Yield Batch(x (B,T,I), y, lengths) over `data`.

    Args:
        rng: shuffle the sample order with it (a new order each call); None keeps the order.
            Ignored for stateful data, whose streams must stay in order.
        drop_last: skip a final batch smaller than batch_size (non-stateful data).
        dtype: float dtype of x and float targets; labels are int64.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be >= 1")
    n = len(data)
    if data.stateful or task.stateful:
        b = _streams(n, batch_size)
        m = n // b
        starts = np.arange(b) * m
        for i in range(m):
            yield make_batch(data, starts + i, task, dtype)
        return
    order = rng.permutation(n) if rng is not None else np.arange(n)
    stop = n - n % batch_size if drop_last else n
    for s in range(0, stop, batch_size):
        yield make_batch(data, order[s : s + batch_size], task, dtype)


def bptt_windows(batch: Batch, k: int | None, output: str) -> Iterator[tuple]:
    """Cut a batch along time into truncated-BPTT windows of k steps: (x, y, lengths, has_loss)."""
    T = batch.x.shape[1]
    if not k or k >= T:
        yield batch.x, batch.y, batch.lengths, True
        return
    for s in range(0, T, k):
        lengths = None if batch.lengths is None else np.clip(batch.lengths - s, 0, k)
        last = s + k >= T
        if output == "sequence":
            yield batch.x[:, s:s + k], batch.y[:, s:s + k], lengths, True
        else:  # many-to-one: only the final window sees the target; earlier ones just carry the state
            yield batch.x[:, s:s + k], batch.y, lengths, last
