"""The hidden states of every layer of a trained model, batch by batch (`rnn states`).

Letters: B batch, T time, H hidden, L layers, D directions (2 for a bidirectional model).
A layer's state at step t is what the layer above reads: h_t, or [forward h_t ; reverse h_t] (2H wide)
for a bidirectional layer, both in the original time order. An LSTM layer adds its cell state after
h, the same way: [h (D*H) ; c (D*H)] (`state_columns` names the columns).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

from rnncli.core.bidirectional import reverse_index, reverse_time
from rnncli.core.embedding import is_token_input
from rnncli.core.model import forward
from rnncli.core.rnn import length_mask
from rnncli.data.types import Batch
from rnncli.use.model_io import LoadedModel
from rnncli.use.predict import check_input

__all__ = ["hidden_states", "iter_states", "state_columns"]

_CACHE_KEYS = {"h": "hs", "c": "cs"}  # a state part's (T, B, H) per-step record in a cell's cache


def state_columns(model: LoadedModel) -> list[str]:
    """Names of the last axis of hidden_states: h0 .. h{D*H-1}, then c0 .. for the LSTM."""
    width = model.spec.head_input_size
    return [f"{part}{j}" for part in model.spec.state_names for j in range(width)]


def _host_records(layers: list[dict], dev) -> list[dict]:
    """Each layer's (and direction's) time-major (T, B, H) states by part ("hs"; "cs" for the LSTM),
    on the host."""
    return [{k: dev.to_host(r[k]) for k in _CACHE_KEYS.values() if k in r} for r in layers]


def hidden_states(model: LoadedModel, batch: Batch) -> np.ndarray:
    """(L, B, T, S*D*H) states of every layer for one batch (S state parts: h, and c for the LSTM,
    in state_columns' order); steps past a sequence's length are NaN.

    Args:
        batch: x (B, T, I) prepared as the data layer prepares it (scaled), or (B, T) token ids;
            lengths (B,) or None.
    """
    x = np.asarray(batch.x)
    check_input(model, x)
    if not is_token_input(x):  # token ids (B, T) stay integers: the model embeds or one-hots them
        x = x.astype(model.dtype, copy=False)
    dev = model.device
    _, _, cache = forward(model.params, model.spec, dev.to_device(x), dev.to_device(batch.lengths))
    records = _host_records(cache["rnn"]["layers"], dev)
    B, T = x.shape[:2]
    layers = []
    D = model.spec.directions
    for l in range(model.spec.num_layers):
        columns = []
        for key in (_CACHE_KEYS[part] for part in model.spec.state_names):
            columns.append(records[D * l][key].transpose(1, 0, 2))
            if D == 2:
                rev = records[2 * l + 1][key].transpose(1, 0, 2)
                columns.append(reverse_time(rev, reverse_index(batch.lengths, B, T)))
        layers.append(np.concatenate(columns, axis=2) if len(columns) > 1 else columns[0])
    states = np.stack(layers)  # a copy: the cache's buffers are not kept alive
    if batch.lengths is not None:
        states[:, ~length_mask(batch.lengths, T)] = np.nan  # padding has no state of its own
    return states


def iter_states(model: LoadedModel, batches: Iterable[Batch]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(states (L, B, T, S*D*H), lengths (B,)) for each batch, in order (constant memory on a stream)."""
    for batch in batches:
        B, T = batch.x.shape[:2]
        lengths = np.full(B, T) if batch.lengths is None else np.asarray(batch.lengths)
        yield hidden_states(model, batch), lengths
