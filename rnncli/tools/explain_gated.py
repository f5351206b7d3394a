"""`rnn explain` for the gated cells: one layer's forward and backward pass of ONE sequence, step by step
in column-vector form, every gate kept (tools/explain.py stacks the layers and directions).

Letters: T time, I input (the layer below's width), H hidden. Steps are 0-based, h_{-1} = c_{-1} = 0.
W_ih (G*H, I), W_hh (G*H, H), b_ih, b_hh (G*H,) hold the gates' row blocks in torch's order
(core/cells/gru.py, lstm.py); W_ii is the i block of W_ih, and so on.

LSTM (gates i, f, g, o; state h and c):
    i_t = sigmoid(W_ii u_t + W_hi h_{t-1} + b_i)   f_t, o_t alike   g_t = tanh(W_ig u_t + W_hg h_{t-1} + b_g)
    c_t = f_t * c_{t-1} + i_t * g_t                h_t = o_t * tanh(c_t)
  backward, last step first: the gradient reaches c_t two ways,
    dc_t = dc_from_h_t + dc_from_next_t,   dc_from_h_t = dh_t * o_t * (1 - tanh(c_t)^2),
    dc_from_next_t = f_{t+1} * dc_{t+1}    (the cell state's own path: multiplied by the forget gate,
                                            never by a weight matrix, so it need not shrink)
  and h_t only through the weights: dh_from_next_t = W_hh^T da_{t+1}, da = [di; df; dg; do] the gates'
  pre-activation gradients.

GRU (gates r, z, n; the reset gate after the recurrent product, as torch):
    r_t = sigmoid(W_ir u_t + b_ir + W_hr h_{t-1} + b_hr)      z_t alike
    n_t = tanh(W_in u_t + b_in + r_t * (W_hn h_{t-1} + b_hn))
    h_t = (1 - z_t) * n_t + z_t * h_{t-1}
  backward: dh_from_next_t = dh_from_gate_t + dh_from_weights_t, where dh_from_gate_t = z_{t+1} * dh_{t+1}
  is the update gate's direct path (no weight matrix) and dh_from_weights_t = W_hh^T [da_r; da_z; r * da_n].
"""

from __future__ import annotations

import numpy as np

__all__ = ["GATED_LAYERS"]


def _sigmoid(a: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * a))


def _blocks(v: np.ndarray, n: int) -> list[np.ndarray]:
    return np.split(v, n)


NAMES = ("W_ih", "W_hh", "b_ih", "b_hh")  # a gated layer's tensors (core/cells/gated.py)


def _params(params: dict, l: int, suffix: str) -> tuple[np.ndarray, ...]:
    return tuple(params[f"rnn.{l}.{k}{suffix}"] for k in NAMES)


def _zero_sums(params: dict, l: int, suffix: str) -> dict[str, np.ndarray]:
    """The summed gradients of one layer's tensors, before the first step adds to them."""
    return {k: np.zeros_like(v) for k, v in zip(NAMES, _params(params, l, suffix), strict=True)}


def lstm_forward(params: dict, l: int, u: np.ndarray, suffix: str = "") -> tuple[list[dict], np.ndarray]:
    """Per-step values (a: the stacked pre-activations, i, f, g, o, c, h) and h (T, H) for inputs u (T, I)."""
    W_ih, W_hh, b_ih, b_hh = _params(params, l, suffix)
    H = W_hh.shape[1]
    h_prev, c_prev = np.zeros(H), np.zeros(H)
    steps = []
    for u_t in u:
        a = W_ih @ u_t + W_hh @ h_prev + b_ih + b_hh
        a_i, a_f, a_g, a_o = _blocks(a, 4)
        i, f, g, o = _sigmoid(a_i), _sigmoid(a_f), np.tanh(a_g), _sigmoid(a_o)
        c = f * c_prev + i * g
        h = o * np.tanh(c)
        steps.append({"a": a, "i": i, "f": f, "g": g, "o": o, "c_prev": c_prev, "c": c, "h": h})
        h_prev, c_prev = h, c
    return steps, np.array([s["h"] for s in steps]).reshape(len(u), H)


def lstm_backward(params: dict, l: int, u: np.ndarray, fwd: list[dict], dh_out: np.ndarray,
                  suffix: str = "") -> tuple[list[dict], np.ndarray, dict]:
    """BPTT through one LSTM layer, last step first (see the module docstring for the two paths)."""
    W_ih, W_hh, _, _ = _params(params, l, suffix)
    T, H = dh_out.shape
    sums = _zero_sums(params, l, suffix)
    du = np.zeros_like(u)
    steps = []
    from_next, dc_next, f_next = np.zeros(H), np.zeros(H), np.zeros(H)
    for t in range(T - 1, -1, -1):
        s = fwd[t]
        dh = dh_out[t] + from_next
        tanh_c = np.tanh(s["c"])
        dc_from_h = dh * s["o"] * (1.0 - tanh_c**2)
        dc_from_next = f_next * dc_next
        dc = dc_from_h + dc_from_next
        di = dc * s["g"] * s["i"] * (1 - s["i"])
        df = dc * s["c_prev"] * s["f"] * (1 - s["f"])
        dg = dc * s["i"] * (1 - s["g"] ** 2)
        do = dh * tanh_c * s["o"] * (1 - s["o"])
        da = np.concatenate([di, df, dg, do])
        h_prev = fwd[t - 1]["h"] if t > 0 else np.zeros(H)
        step = {"layer": l, "t": t, "dh": dh, "dh_from_output": dh_out[t].copy(), "dh_from_next": from_next,
                "dc": dc, "dc_from_h": dc_from_h, "dc_from_next": dc_from_next,
                "di": di, "df": df, "dg": dg, "do": do, "da": da,
                "dW_ih": np.outer(da, u[t]), "dW_hh": np.outer(da, h_prev),
                "db_ih": da.copy(), "db_hh": da.copy()}
        for k in sums:
            sums[k] += step[f"d{k}"]
        du[t] = W_ih.T @ da
        from_next = W_hh.T @ da
        dc_next, f_next = dc, s["f"]
        steps.append(step)
    return steps, du, sums


def gru_forward(params: dict, l: int, u: np.ndarray, suffix: str = "") -> tuple[list[dict], np.ndarray]:
    """Per-step values (r, z, n, hn = W_hn h_{t-1} + b_hn, h) and h (T, H) for inputs u (T, I)."""
    W_ih, W_hh, b_ih, b_hh = _params(params, l, suffix)
    H = W_hh.shape[1]
    h_prev = np.zeros(H)
    steps = []
    for u_t in u:
        x_r, x_z, x_n = _blocks(W_ih @ u_t + b_ih, 3)
        h_r, h_z, hn = _blocks(W_hh @ h_prev + b_hh, 3)
        r, z = _sigmoid(x_r + h_r), _sigmoid(x_z + h_z)
        n = np.tanh(x_n + r * hn)
        h = (1 - z) * n + z * h_prev
        steps.append({"r": r, "z": z, "n": n, "hn": hn, "h_prev": h_prev, "h": h})
        h_prev = h
    return steps, np.array([s["h"] for s in steps]).reshape(len(u), H)


def gru_backward(params: dict, l: int, u: np.ndarray, fwd: list[dict], dh_out: np.ndarray,
                 suffix: str = "") -> tuple[list[dict], np.ndarray, dict]:
    """BPTT through one GRU layer, last step first: the update gate's direct path beside the weights'."""
    W_ih, W_hh, _, _ = _params(params, l, suffix)
    T, H = dh_out.shape
    sums = _zero_sums(params, l, suffix)
    du = np.zeros_like(u)
    steps = []
    from_gate, from_weights = np.zeros(H), np.zeros(H)
    for t in range(T - 1, -1, -1):
        s = fwd[t]
        from_next = from_gate + from_weights
        dh = dh_out[t] + from_next
        dz = dh * (s["h_prev"] - s["n"]) * s["z"] * (1 - s["z"])
        dn = dh * (1 - s["z"]) * (1 - s["n"] ** 2)
        dr = dn * s["hn"] * s["r"] * (1 - s["r"])
        da_in = np.concatenate([dr, dz, dn])  # what the input side's pre-activations receive
        da_rec = np.concatenate([dr, dz, s["r"] * dn])  # and the recurrent side's (n's through r)
        step = {"layer": l, "t": t, "dh": dh, "dh_from_output": dh_out[t].copy(), "dh_from_next": from_next,
                "dh_from_gate": from_gate, "dh_from_weights": from_weights, "dr": dr, "dz": dz, "dn": dn,
                "da": da_in, "dW_ih": np.outer(da_in, u[t]), "dW_hh": np.outer(da_rec, s["h_prev"]),
                "db_ih": da_in.copy(), "db_hh": da_rec.copy()}
        for k in sums:
            sums[k] += step[f"d{k}"]
        du[t] = W_ih.T @ da_in
        from_gate, from_weights = s["z"] * dh, W_hh.T @ da_rec
        steps.append(step)
    return steps, du, sums


# cell -> (layer forward, layer backward, the forward values `rnn explain --json` shows per step)
GATED_LAYERS = {
    "lstm": (lstm_forward, lstm_backward, ("a", "i", "f", "g", "o", "c", "h")),
    "gru": (gru_forward, gru_backward, ("r", "z", "n", "hn", "h")),
}
