"""Stacked vanilla (Elman) recurrent layers: forward and backpropagation through time.

Letters: B batch, T time, I input, H hidden, L layers.

For layer l with input u_t (the data x_t for l = 0, the state of layer l-1 above that):

    h_t = act(W_xh u_t + W_hh h_{t-1} + b_h)        act = tanh or relu, h_{-1} = h0

The maths is written for column vectors (as the reference notebooks do); the code keeps a whole batch in
the rows of a matrix, so every product appears transposed: h_t = act(u_t @ W_xh.T + h_{t-1} @ W_hh.T + b_h).

Work is time-major inside: each layer owns one (T+1, B, H) buffer whose row 0 is h0 and rows 1..T the
states, so the input projection of all steps is one matrix product before the time loop, and the weight
gradients are one product each over (T*B) rows after the backward sweep (W_hh's pairs h_{t-1}, da_t are
rows 0..T-1 and 1..T of the same buffer). The Python loop runs over time steps only, never over samples,
and inside it every product writes into a preallocated (B, H) array (`out=`), so a step allocates nothing.
Everything stays in the dtype of x: only Python scalars meet the arrays, so float32 runs stay float32.

Recurrent dropout (Gal & Ghahramani 2016, "variational"): with rate q, each layer draws one keep mask
m (B, H) per call, entries 0 or 1/(1-q), and uses it at every step on the recurrent input only:
h_t = act(W_xh u_t + W_hh (m * h_{t-1}) + b_h). The state itself is passed on unmasked.

Variable lengths: a padded step (t >= lengths[b]) copies the previous state, so the state after the last
valid step reaches the end of the sequence unchanged; backward lets its gradient pass straight through and
gives the padded step no gradient of its own.
"""

from __future__ import annotations

import numpy as np

NONLINEARITIES = ("tanh", "relu")


def tanh_grad_from_output(h: np.ndarray) -> np.ndarray:
    """d tanh(a) / da written in terms of the output h = tanh(a): 1 - h**2 (a new array).

    The classic bug (reference notebook 002) applies 1 - tanh(h)**2 to the already-activated h;
    the gradient check catches it (tests/test_gradcheck.py swaps this function to prove it).
    """
    g = np.multiply(h, h)
    np.subtract(1.0, g, out=g)  # in place: one buffer, no temporary for h*h
    return g


def relu_grad_from_output(h: np.ndarray) -> np.ndarray:
    """d relu(a) / da in terms of h = relu(a): 1 where h > 0 (the kink at 0 gets 0, as in torch)."""
    return (h > 0).astype(h.dtype)


def _activate(a: np.ndarray, nonlinearity: str) -> None:
    """Apply the nonlinearity in place (saves a (B, H) buffer per step)."""
    if nonlinearity == "tanh":
        np.tanh(a, out=a)
    else:
        np.maximum(a, 0, out=a)


def _grad_from_output(h: np.ndarray, nonlinearity: str) -> np.ndarray:
    # Looked up at call time so a test can swap in the buggy derivative.
    if nonlinearity == "tanh":
        return tanh_grad_from_output(h)
    return relu_grad_from_output(h)


def length_mask(lengths: np.ndarray, T: int) -> np.ndarray:
    """(B,) lengths -> (B, T) bool, True at the valid steps t < lengths[b]. The one place this is written."""
    return np.arange(T)[None, :] < np.asarray(lengths)[:, None]


def step_mask(lengths: np.ndarray | None, T: int) -> np.ndarray | None:
    """(B,) lengths -> (T, B, 1) bool, True at valid steps (time-major); None when every step is valid."""
    if lengths is None:
        return None
    return length_mask(lengths, T).T[..., None]


def keep_mask(rng: np.random.Generator, shape: tuple[int, ...], rate: float, dtype) -> np.ndarray:
    """Inverted-dropout mask of `shape`: 0 with probability `rate`, else 1 / (1 - rate)."""
    dtype = np.dtype(dtype)
    return (rng.random(shape) >= rate).astype(dtype) / dtype.type(1.0 - rate)


def rnn_forward(
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
    """Run the stacked RNN over a batch.

    Args:
        params: holds rnn.{l}.W_xh (H, I or H), rnn.{l}.W_hh (H, H), rnn.{l}.b_h (H,).
        x: (B, T, I) inputs.
        lengths: (B,) valid steps per sequence, or None when all are T long.
        h0: (L, B, H) initial states, or None for zeros.
        dropout: probability of zeroing a layer's input for layers above the first (as torch.nn.RNN);
            applied only when an `rng` is given, so evaluation passes none.
        recurrent_dropout: rate of the per-layer mask on h_{t-1} in the recurrent product (drawn after
            the layer's dropout mask, only with an `rng`).

    Returns:
        hs: (B, T, H) states of the top layer (a view of the time-major buffer);
        h_final: (L, B, H) state of every layer after the last (valid) step, to pass back as h0;
        cache: what rnn_backward needs; its documented field "top_states" is the top layer's states
            time-major, (T, B, H) and contiguous (the same memory as hs), for heads that read every step.
    """
    if nonlinearity not in NONLINEARITIES:
        raise ValueError(f"nonlinearity must be one of {NONLINEARITIES}, got {nonlinearity!r}")
    B, T, _ = x.shape
    H = params["rnn.0.W_hh"].shape[0]
    dtype = x.dtype
    mask = step_mask(lengths, T)
    padded = None if mask is None else ~mask  # (T, B, 1): where a step copies its previous state
    h_final = np.empty((num_layers, B, H), dtype=dtype)
    rec = np.empty((B, H), dtype=dtype)  # h_{t-1} @ W_hh.T, reused by every step of every layer
    layers = []
    u = np.ascontiguousarray(x.transpose(1, 0, 2))  # (T, B, I)
    for l in range(num_layers):
        W_xh, W_hh, b_h = (params[f"rnn.{l}.{k}"] for k in ("W_xh", "W_hh", "b_h"))
        keep = rmask = None
        if l > 0 and dropout > 0.0 and rng is not None:
            keep = keep_mask(rng, u.shape, dropout, dtype)
            u = u * keep
        if recurrent_dropout > 0.0 and rng is not None:
            rmask = keep_mask(rng, (B, H), recurrent_dropout, dtype)
            dropped = np.empty((B, H), dtype=dtype)
        buf = np.empty((T + 1, B, H), dtype=dtype)  # buf[0] = h0, buf[t + 1] = h_t
        if h0 is None:
            buf[0] = 0.0
        else:
            buf[0] = h0[l]  # a copy: the caller's h0 is never written or kept
        hs = buf[1:]
        # All input projections in one product: (T*B, I) @ (I, H), straight into the state buffer,
        # where each step then adds its recurrent term and activates in place.
        np.matmul(u.reshape(T * B, -1), W_xh.T, out=hs.reshape(T * B, H))
        hs += b_h
        # A contiguous copy of W_hh.T (H*H, once per call): BLAS runs measurably faster on it
        # than on the transposed view for these short, wide products.
        W_hh_T = np.ascontiguousarray(W_hh.T)
        for t in range(T):
            h_t = buf[t + 1]  # holds the pre-activation until activated in place
            if rmask is None:
                np.matmul(buf[t], W_hh_T, out=rec)
            else:
                np.matmul(np.multiply(buf[t], rmask, out=dropped), W_hh_T, out=rec)
            h_t += rec
            _activate(h_t, nonlinearity)
            if padded is not None:
                np.copyto(h_t, buf[t], where=padded[t])
        h_final[l] = buf[T]
        layers.append({"u": u, "buf": buf, "hs": hs, "keep": keep, "rmask": rmask})
        u = hs
    cache = {
        "params": params,
        "layers": layers,
        "mask": mask,
        "nonlinearity": nonlinearity,
        "num_layers": num_layers,
        "top_states": u,  # (T, B, H)
    }
    return u.transpose(1, 0, 2), h_final, cache


def rnn_backward(
    dhs: np.ndarray | None,
    cache: dict,
    dh_final: np.ndarray | None = None,
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray]:
    """Backpropagation through time for rnn_forward.

    Args:
        dhs: (B, T, H) gradient of the loss on the top layer's states, or None for zero
            (a many-to-one head feeds its gradient in through dh_final instead).
        cache: from rnn_forward.
        dh_final: (L, B, H) gradient on the final states, or None.

    Returns:
        grads: rnn.{l}.W_xh / W_hh / b_h, same shapes as the parameters;
        dx: (B, T, I) gradient on the inputs; dh0: (L, B, H) gradient on the initial states;
        dh_norms: (L, T) Frobenius norm over the batch of dL/dh_t, per layer and step.
    """
    params, layers, mask = cache["params"], cache["layers"], cache["mask"]
    nonlinearity, L = cache["nonlinearity"], cache["num_layers"]
    T, B, H = layers[-1]["hs"].shape
    dtype = layers[-1]["hs"].dtype
    grads: dict[str, np.ndarray] = {}
    dh0 = np.empty((L, B, H), dtype=dtype)
    dh_norms = np.empty((L, T), dtype=np.float64)
    # (T, B, H) view, read only: each step reads its (B, H) slice in place (strided if dhs is
    # batch-major), which saves copying the whole gradient to time-major first.
    d_above = None if dhs is None else dhs.transpose(1, 0, 2)
    passthrough = None if mask is None else (~mask).astype(dtype)  # (T, B, 1)
    dh = np.empty((B, H), dtype=dtype)  # dL/dh_t, reused by every step
    d_next = np.empty((B, H), dtype=dtype)  # dL/dh_{t-1} through W_hh, reused by every step
    da = np.empty((T, B, H), dtype=dtype)  # dL/da_t, the pre-activation gradient; reused by each layer
    for l in reversed(range(L)):
        layer = layers[l]
        u, buf, hs, rmask = layer["u"], layer["buf"], layer["hs"], layer.get("rmask")
        W_xh, W_hh = params[f"rnn.{l}.W_xh"], params[f"rnn.{l}.W_hh"]
        if dh_final is None:
            d_next[...] = 0.0
        else:
            d_next[...] = dh_final[l]
        for t in range(T - 1, -1, -1):
            if d_above is None:
                dh, d_next = d_next, dh  # dh_t is just what came back from step t+1
            else:
                np.add(d_above[t], d_next, out=dh)
            dh_norms[l, t] = np.sqrt(np.vdot(dh, dh))
            # The local derivative of step t, taken while h_t is in cache, times dh, written
            # straight into da[t]: cheaper than a derivative pass over all (T, B, H) states first.
            da_t = da[t]
            np.multiply(_grad_from_output(hs[t], nonlinearity), dh, out=da_t)
            if mask is not None:
                da_t *= mask[t]  # a padded step has no pre-activation gradient of its own
            np.matmul(da_t, W_hh, out=d_next)
            if rmask is not None:
                d_next *= rmask  # h_{t-1} reached W_hh through the recurrent dropout mask
            if passthrough is not None:
                dh *= passthrough[t]  # a padded step copied h_{t-1}: its gradient goes straight back
                d_next += dh
        dh0[l] = d_next
        da2 = da.reshape(T * B, H)
        grads[f"rnn.{l}.W_xh"] = da2.T @ u.reshape(T * B, -1)
        prev = buf[:T] if rmask is None else buf[:T] * rmask  # what W_hh multiplied: (m *) h_{t-1}
        grads[f"rnn.{l}.W_hh"] = da2.T @ prev.reshape(T * B, H)  # pairs (da_t, h_{t-1}), h_{-1} = h0
        del prev  # (a masked copy is as big as the states: never kept while the next layer runs)
        # Summed over the batch, then over time: float32 round-off grows with B + T, not B * T.
        grads[f"rnn.{l}.b_h"] = da.sum(axis=1).sum(axis=0)
        d_above = (da2 @ W_xh).reshape(T, B, -1)
        if layer["keep"] is not None:
            d_above *= layer["keep"]
    dx = d_above.transpose(1, 0, 2)
    return grads, dx, dh0, dh_norms
