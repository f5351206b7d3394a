"""Token inputs: integer ids (B, T) become the vectors the first RNN layer reads.

Letters: B batch, T time, V vocabulary (= the model's input_size for token inputs), E embedding size.

With `model.embedding_size` E the ids select rows of embed.W (V, E); without it they are one-hot
(B, T, V), exactly what the data layer used to build, so a character model without an embedding
computes the same numbers as before. Float inputs (B, T, I) pass through untouched.

The embedding's gradient adds each step's input gradient into the row of its token: np.add.at does
that in C over all B*T steps at once (no Python loop over tokens), and repeated tokens accumulate.
"""

from __future__ import annotations

import numpy as np

from rnncli.core.xp import array_module


def is_token_input(x: np.ndarray) -> bool:
    """True for integer token ids, which the model encodes itself."""
    return array_module(x).asarray(x).dtype.kind in "iu"


def check_ids(ids: np.ndarray, vocab_size: int) -> None:
    """Refuse ids outside [0, V) (a negative id would silently index from the end)."""
    if ids.size and (int(ids.min()) < 0 or int(ids.max()) >= vocab_size):
        bad = int(ids.min()) if int(ids.min()) < 0 else int(ids.max())
        raise ValueError(f"token id {bad} is outside the vocabulary [0, {vocab_size})")


def one_hot(ids: np.ndarray, vocab_size: int, dtype) -> np.ndarray:
    """(…,) int ids -> (…, V) one-hot of dtype."""
    xp = array_module(ids)
    out = xp.zeros((*ids.shape, vocab_size), dtype=dtype)
    xp.put_along_axis(out, ids[..., None].astype(np.intp), 1, axis=-1)
    return out


def embed_forward(W: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """ids (B, T) -> (B, T, E): row ids[b, t] of W (V, E), a new array.

    Host ids are checked here; device ids were checked on the host before they moved (reading
    them back to check would stop the device every step).
    """
    if array_module(ids) is np:
        check_ids(ids, W.shape[0])
    return W[ids]


def embed_backward(d_emb: np.ndarray, ids: np.ndarray, vocab_size: int) -> np.ndarray:
    """dL/dW (V, E) from d_emb (B, T, E), the gradient on the looked-up vectors."""
    E = d_emb.shape[-1]
    xp = array_module(d_emb)
    dW = xp.zeros((vocab_size, E), dtype=d_emb.dtype)
    xp.add.at(dW, ids.reshape(-1), d_emb.reshape(-1, E))
    return dW
