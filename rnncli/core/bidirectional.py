"""Reading a sequence backwards within its own length: the index the bidirectional stack uses.

Letters: B batch, T time, F features.

A bidirectional layer (core/rnn.py) runs a second direction with its own parameters (names ending in
`_reverse`, DIRECTIONS) over the layer's input reversed within each sequence's length, as torch's
packed sequences do: for a sequence of n valid steps, reverse step s reads input step n-1-s, and the
padding after step n stays where it is. The same index puts the reversed states back in order.
"""

from __future__ import annotations

import numpy as np

from rnncli.core.xp import array_module

DIRECTIONS = ("", "_reverse")  # parameter-name suffix of direction d


def reverse_index(lengths: np.ndarray | None, B: int, T: int, xp=np) -> np.ndarray:
    """(B, T) index that reverses each sequence within its length: s -> n-1-s for s < n, padding kept.

    The permutation is its own inverse, so the same index maps reversed states back. It is built in
    the array module of `lengths`, or `xp` when lengths is None.
    """
    xp = xp if lengths is None else array_module(lengths)
    steps = xp.arange(T)[None, :]
    n = xp.full((B, 1), T) if lengths is None else xp.asarray(lengths).reshape(B, 1)
    return xp.where(steps < n, n - 1 - steps, steps).astype(np.intp)


def reverse_time(a: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """a (B, T, F) with each row's valid steps reversed by reverse_index's idx (a new array)."""
    return array_module(a).take_along_axis(a, idx[:, :, None], axis=1)
