"""Stacked vanilla (Elman) recurrent layers: forward and backpropagation through time.

Letters: B batch, T time, I input, H hidden, L layers.

For layer l with input u_t (the data x_t for l = 0, the state of layer l-1 above that):

    h_t = act(W_xh u_t + W_hh h_{t-1} + b_h)        act = tanh or relu, h_{-1} = h0

The maths is written for column vectors (as the reference notebooks do); the code keeps a whole batch in
the rows of a matrix, so every product appears transposed: h_t = act(u_t @ W_xh.T + h_{t-1} @ W_hh.T + b_h).

Work is time-major inside: a (T, B, H) buffer lets the input projection of all steps be one matrix
product before the time loop, and the weight gradients one product each after the backward sweep, so the
Python loop runs over time steps only, never over samples.

Variable lengths: a padded step (t >= lengths[b]) copies the previous state, so the state after the last
valid step reaches the end of the sequence unchanged; backward lets its gradient pass straight through and
gives the padded step no gradient of its own.
"""

from __future__ import annotations

import numpy as np

NONLINEARITIES = ("tanh", "relu")


def tanh_grad_from_output(h: np.ndarray) -> np.ndarray:
    """d tanh(a) / da written in terms of the output h = tanh(a): 1 - h**2.

    The classic bug (reference notebook 002) applies 1 - tanh(h)**2 to the already-activated h;
    the gradient check catches it (tests/test_gradcheck.py swaps this function to prove it).
    """
    return 1.0 - h * h


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


def step_mask(lengths: np.ndarray | None, T: int) -> np.ndarray | None:
    """(B,) lengths -> (T, B, 1) bool, True at valid steps; None when every step is valid."""
    if lengths is None:
        return None
    return (np.arange(T)[:, None] < np.asarray(lengths)[None, :])[..., None]


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
) -> tuple[np.ndarray, np.ndarray, dict]:
    """Run the stacked RNN over a batch.

    Args:
        params: holds rnn.{l}.W_xh (H, I or H), rnn.{l}.W_hh (H, H), rnn.{l}.b_h (H,).
        x: (B, T, I) inputs.
        lengths: (B,) valid steps per sequence, or None when all are T long.
        h0: (L, B, H) initial states, or None for zeros.
        dropout: probability of zeroing a layer's input for layers above the first (as torch.nn.RNN);
            applied only when an `rng` is given, so evaluation passes none.

    Returns:
        hs: (B, T, H) states of the top layer (a view of the time-major buffer);
        h_final: (L, B, H) state of every layer after the last (valid) step, to pass back as h0;
        cache: what rnn_backward needs.
    """
    if nonlinearity not in NONLINEARITIES:
        raise ValueError(f"nonlinearity must be one of {NONLINEARITIES}, got {nonlinearity!r}")
    B, T, _ = x.shape
    H = params["rnn.0.W_hh"].shape[0]
    dtype = x.dtype
    mask = step_mask(lengths, T)
    h_final = np.empty((num_layers, B, H), dtype=dtype)
    layers = []
    u = np.ascontiguousarray(x.transpose(1, 0, 2))  # (T, B, I)
    for l in range(num_layers):
        W_xh, W_hh, b_h = (params[f"rnn.{l}.{k}"] for k in ("W_xh", "W_hh", "b_h"))
        keep = None
        if l > 0 and dropout > 0.0 and rng is not None:
            keep = (rng.random(u.shape) >= dropout).astype(dtype) / dtype.type(1.0 - dropout)
            u = u * keep
        h_init = np.zeros((B, H), dtype=dtype) if h0 is None else h0[l]
        # All input projections in one product: (T*B, I) @ (I, H).
        hs = (u.reshape(T * B, -1) @ W_xh.T).reshape(T, B, H)
        hs += b_h
        W_hh_T = W_hh.T
        h_prev = h_init
        for t in range(T):
            h_t = hs[t]  # holds the pre-activation until activated in place
            h_t += h_prev @ W_hh_T
            _activate(h_t, nonlinearity)
            if mask is not None:
                np.copyto(h_t, h_prev, where=~mask[t])
            h_prev = h_t
        h_final[l] = h_prev
        layers.append({"u": u, "hs": hs, "h0": h_init, "keep": keep})
        u = hs
    cache = {
        "params": params,
        "layers": layers,
        "mask": mask,
        "nonlinearity": nonlinearity,
        "num_layers": num_layers,
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
    dh0 = np.zeros((L, B, H), dtype=dtype)
    dh_norms = np.zeros((L, T), dtype=np.float64)
    d_above = None if dhs is None else np.ascontiguousarray(dhs.transpose(1, 0, 2))  # (T, B, H)
    passthrough = None if mask is None else (~mask).astype(dtype)  # (T, B, 1)
    for l in reversed(range(L)):
        layer = layers[l]
        u, hs, h_init = layer["u"], layer["hs"], layer["h0"]
        W_xh, W_hh = params[f"rnn.{l}.W_xh"], params[f"rnn.{l}.W_hh"]
        # da starts as the local derivative for all steps at once (one vectorised pass), then
        # each step multiplies its incoming dh into it in place: one (T, B, H) buffer in all.
        da = _grad_from_output(hs, nonlinearity)
        if mask is not None:
            da *= mask
        dh = np.empty((B, H), dtype=dtype)
        d_next = np.zeros((B, H), dtype=dtype) if dh_final is None else dh_final[l].copy()
        for t in reversed(range(T)):
            if d_above is None:
                dh[...] = d_next
            else:
                np.add(d_above[t], d_next, out=dh)
            dh_norms[l, t] = np.sqrt(np.vdot(dh, dh))
            da[t] *= dh
            d_next = da[t] @ W_hh
            if passthrough is not None:
                dh *= passthrough[t]  # a padded step copied h_{t-1}: its gradient goes straight back
                d_next += dh
        dh0[l] = d_next
        da2 = da.reshape(T * B, H)
        grads[f"rnn.{l}.W_xh"] = da2.T @ u.reshape(T * B, -1)
        grads[f"rnn.{l}.W_hh"] = da[1:].reshape(-1, H).T @ hs[:-1].reshape(-1, H) + da[0].T @ h_init
        grads[f"rnn.{l}.b_h"] = da2.sum(axis=0)
        d_above = (da2 @ W_xh).reshape(T, B, -1)
        if layer["keep"] is not None:
            d_above *= layer["keep"]
    dx = d_above.transpose(1, 0, 2)
    return grads, dx, dh0, dh_norms
