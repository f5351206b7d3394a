"""Bidirectional stacked RNN: every layer also runs a second RNN over the reversed sequence.

Letters: B batch, T time, I input, H hidden, L layers, D = 2 directions.

Layer l's reverse direction has its own weights rnn.{l}.W_xh_reverse (H, I or 2H), W_hh_reverse (H, H)
and b_h_reverse (H,). It reads the layer's input reversed within each sequence's own length, as torch's
packed sequences do: for a sequence of n valid steps, reverse step s reads input step n-1-s, and the
padding after step n stays where it is. Its states are put back in the original order, so the layer's
output at step t is [forward h_t ; reverse h_t] (B, T, 2H), which is what the layer above reads.

States are numbered as torch.nn.RNN's h_n: index 2l + d (d = 0 forward, 1 reverse), so h0 and h_final
are (2L, B, H); the reverse direction's final state is its state after the whole reversed sequence
(at original step 0).

Each direction of each layer is one rnn_forward / rnn_backward call with num_layers=1: whatever the
one-direction time loop does (padded steps, preallocated buffers) holds for both directions unchanged.
Dropout between layers (as torch) is drawn here, once per layer input, shared by both directions.
"""

from __future__ import annotations

import numpy as np

from rnncli.core.rnn import keep_mask, rnn_backward, rnn_forward

DIRECTIONS = ("", "_reverse")  # parameter-name suffix of direction d
_KEYS = ("W_xh", "W_hh", "b_h")


def reverse_index(lengths: np.ndarray | None, B: int, T: int) -> np.ndarray:
    """(B, T) index that reverses each sequence within its length: s -> n-1-s for s < n, padding kept.

    The permutation is its own inverse, so the same index maps reversed states back.
    """
    steps = np.arange(T)[None, :]
    n = np.full((B, 1), T) if lengths is None else np.asarray(lengths).reshape(B, 1)
    return np.where(steps < n, n - 1 - steps, steps).astype(np.intp)


def reverse_time(a: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """a (B, T, F) with each row's valid steps reversed by reverse_index's idx (a new array)."""
    return np.take_along_axis(a, idx[:, :, None], axis=1)


def _direction_params(params: dict[str, np.ndarray], l: int, suffix: str) -> dict[str, np.ndarray]:
    """One direction of layer l, named as a one-layer stack (rnn.0.*) for rnn_forward."""
    return {f"rnn.0.{k}": params[f"rnn.{l}.{k}{suffix}"] for k in _KEYS}


def birnn_forward(
    params: dict[str, np.ndarray],
    x: np.ndarray,
    *,
    num_layers: int,
    nonlinearity: str = "tanh",
    lengths: np.ndarray | None = None,
    h0: np.ndarray | None = None,
    dropout: float = 0.0,
    rng: np.random.Generator | None = None,
    recurrent_dropout: float = 0.0,
) -> tuple[np.ndarray, np.ndarray, dict]:
    """Run the bidirectional stack over a batch; the same contract as rnn_forward.

    Args:
        x: (B, T, I); lengths: (B,) or None; h0: (2L, B, H) or None for zeros.
        dropout, rng: dropout on the input of each layer above the first (only when rng is given).
        recurrent_dropout: each direction of each layer draws its own mask (see rnn_forward).

    Returns:
        hs: (B, T, 2H) top layer's [forward ; reverse] states; h_final: (2L, B, H) as torch's h_n;
        cache for birnn_backward, whose "top_states" is hs time-major (T, B, 2H), contiguous, and
        whose "layers" lists the one-direction layer records (each with "hs") in h_final's order.
    """
    B, T, _ = x.shape
    H = params["rnn.0.W_hh"].shape[0]
    dtype = x.dtype
    idx = reverse_index(lengths, B, T)
    h_final = np.empty((2 * num_layers, B, H), dtype=dtype)
    stack, records = [], []
    u = x
    for l in range(num_layers):
        keep = None
        if l > 0 and dropout > 0.0 and rng is not None:
            keep = keep_mask(rng, u.shape, dropout, dtype)
            u = u * keep
        caches, outs = [], []
        for d, suffix in enumerate(DIRECTIONS):
            s = 2 * l + d
            hs, hf, cache = rnn_forward(
                _direction_params(params, l, suffix), u if d == 0 else reverse_time(u, idx),
                num_layers=1, nonlinearity=nonlinearity, lengths=lengths,
                h0=None if h0 is None else h0[s : s + 1], rng=rng, recurrent_dropout=recurrent_dropout,
            )
            h_final[s] = hf[0]
            outs.append(hs if d == 0 else reverse_time(hs, idx))
            caches.append(cache)
            records.append(cache["layers"][0])
        stack.append({"caches": caches, "keep": keep})
        u = np.concatenate(outs, axis=2)  # (B, T, 2H)
    top = np.ascontiguousarray(u.transpose(1, 0, 2))  # (T, B, 2H)
    cache = {"stack": stack, "layers": records, "idx": idx, "num_layers": num_layers,
             "hidden_size": H, "top_states": top}
    return top.transpose(1, 0, 2), h_final, cache


def birnn_backward(
    dhs: np.ndarray | None,
    cache: dict,
    dh_final: np.ndarray | None = None,
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray]:
    """Backpropagation through time for birnn_forward; the same contract as rnn_backward.

    Args:
        dhs: (B, T, 2H) gradient on the top layer's states, or None; dh_final: (2L, B, H) or None.

    Returns:
        grads: rnn.{l}.W_xh / W_hh / b_h and their _reverse twins; dx (B, T, I); dh0 (2L, B, H);
        dh_norms (2L, T): norm over the batch of dL/dh per layer and direction, by step of that
        direction's own sweep (the reverse direction's step 0 reads each sequence's last valid input).
    """
    idx, L, H = cache["idx"], cache["num_layers"], cache["hidden_size"]
    B, T = idx.shape
    grads: dict[str, np.ndarray] = {}
    dh0 = np.empty((2 * L, B, H), dtype=cache["top_states"].dtype)
    dh_norms = np.empty((2 * L, T), dtype=np.float64)
    d_above = dhs
    for l in reversed(range(L)):
        layer = cache["stack"][l]
        du = None
        for d, suffix in enumerate(DIRECTIONS):
            s = 2 * l + d
            part = None if d_above is None else d_above[:, :, d * H : (d + 1) * H]
            if part is not None and d == 1:
                part = reverse_time(part, idx)
            g, dx_d, dh0_d, norms = rnn_backward(
                part, layer["caches"][d], None if dh_final is None else dh_final[s : s + 1])
            for name, value in g.items():
                grads[f"rnn.{l}.{name.split('.')[-1]}{suffix}"] = value
            dh0[s], dh_norms[s] = dh0_d[0], norms[0]
            dx_d = dx_d if d == 0 else reverse_time(dx_d, idx)
            du = dx_d if du is None else du + dx_d
        if layer["keep"] is not None:
            du *= layer["keep"]
        d_above = du
    return grads, d_above, dh0, dh_norms
