"""One forward and one backward pass of ONE sequence, every intermediate quantity kept: `rnn explain`.

Letters: T time, I input, H hidden, O output, L layers. Steps are 0-based (t = 0..T-1, h_{-1} = 0), as
in the README's equations. Everything is written for one sequence in column-vector form, one step at a
time, the way the maths reads on a blackboard (core/rnn.py does the same sums batched and time-major):

    forward, layer l (u_t = x_t for l = 0, the state of layer l-1 above that):
        a_t = W_xh u_t + W_hh h_{t-1} + b_h          h_t = f(a_t)        (f = tanh or relu)
        y   = W_hy h_{T-1} + b_y  ("last")  or  y_t = W_hy h_t + b_y  ("sequence")
    backward, last step first:
        dh_t = dh_from_output_t + dh_from_next_t
            dh_from_output_t = W_hy^T dL/dy_t     (top layer; a lower layer: W_xh^T da_t of the layer above)
            dh_from_next_t   = W_hh^T da_{t+1}    (0 at the last step)
        da_t = f'(a_t) * dh_t          f'(a_t) = 1 - h_t^2 (tanh) or 1[h_t > 0] (relu), elementwise
        dW_xh += da_t u_t^T    dW_hh += da_t h_{t-1}^T    db_h += da_t    (one term per step: weight sharing)

The gated cells' equations, their gates and the two backward paths (through c_t beside h_t for the
LSTM, the update gate's direct path beside W_hh's for the GRU) are in tools/explain_gated.py.
The summed gradients equal core.model.loss_and_grads on the same sequence (tests/test_explain.py
asserts it), and `numerical_gradients` checks each of them with centred differences in float64.
Nothing here prints; the results are plain dicts of NumPy arrays for the CLI and the HTML page.
"""

from __future__ import annotations

import numpy as np

from rnncli.core.gradcheck import (
    DEFAULT_ATOL,
    DEFAULT_TOL,
    centred_differences,
    checked_indices,
    relative_error,
)
from rnncli.core.losses import LOSSES, softmax
from rnncli.core.model import ModelSpec, forward
from rnncli.errors import UsageError
from rnncli.tools.explain_gated import GATED_LAYERS

__all__ = ["explain_sequence", "numerical_gradients"]

# Tensors larger than this get a random sample of their entries checked numerically (two forward
# passes per entry): a saved 64-unit model would otherwise take thousands of passes.
MAX_CHECKED = 256
DIRECTIONS = (("forward", ""), ("reverse", "_reverse"))  # name and parameter-name suffix
EXPLAINED_CELLS = ("rnn", *GATED_LAYERS)  # Elman's equations below, the gated ones in explain_gated.py


def _act(a: np.ndarray, nonlinearity: str) -> np.ndarray:
    return np.tanh(a) if nonlinearity == "tanh" else np.maximum(a, 0.0)


def _act_grad(h: np.ndarray, nonlinearity: str) -> np.ndarray:
    """f'(a) written with h = f(a): 1 - h^2 for tanh (NOT 1 - tanh(h)^2), 1[h > 0] for relu."""
    return 1.0 - h * h if nonlinearity == "tanh" else (h > 0).astype(h.dtype)


def _layer_forward(params: dict, l: int, u: np.ndarray, nonlinearity: str, suffix: str = ""
                   ) -> tuple[np.ndarray, np.ndarray]:
    """a (T, H) and h (T, H) of layer l (its `suffix` direction) for inputs u (T, I_l), one step at a time."""
    W_xh, W_hh, b_h = (params[f"rnn.{l}.{k}{suffix}"] for k in ("W_xh", "W_hh", "b_h"))
    T, H = u.shape[0], W_hh.shape[0]
    a, h = np.zeros((T, H)), np.zeros((T, H))
    h_prev = np.zeros(H)  # h_{-1} = 0
    for t in range(T):
        a[t] = W_xh @ u[t] + W_hh @ h_prev + b_h
        h[t] = _act(a[t], nonlinearity)
        h_prev = h[t]
    return a, h


def _layer_backward(params: dict, l: int, u: np.ndarray, h: np.ndarray, dh_out: np.ndarray,
                    nonlinearity: str, suffix: str = "") -> tuple[list[dict], np.ndarray, dict]:
    """BPTT through layer l (its `suffix` direction), last step first.

    Args:
        u: (T, I_l) the layer's inputs; h: (T, H) its states; dh_out: (T, H) gradient arriving at each
            h_t from outside the recurrence (the head, or the layer above).

    Returns:
        steps (one dict per step, last first), du (T, I_l) the gradient on the inputs, and the sums.
    """
    W_xh, W_hh = params[f"rnn.{l}.W_xh{suffix}"], params[f"rnn.{l}.W_hh{suffix}"]
    T, H = h.shape
    sums = {"W_xh": np.zeros_like(W_xh), "W_hh": np.zeros_like(W_hh), "b_h": np.zeros(H)}
    du = np.zeros_like(u)
    steps = []
    from_next = np.zeros(H)  # nothing comes back from beyond the last step
    for t in range(T - 1, -1, -1):
        dh = dh_out[t] + from_next
        fprime = _act_grad(h[t], nonlinearity)
        da = fprime * dh
        h_prev = h[t - 1] if t > 0 else np.zeros(H)
        step = {"layer": l, "t": t, "dh": dh, "dh_from_output": dh_out[t].copy(), "dh_from_next": from_next,
                "dh_da": fprime, "da": da, "dW_xh": np.outer(da, u[t]), "dW_hh": np.outer(da, h_prev),
                "db_h": da.copy()}
        for k in sums:
            sums[k] += step[f"d{k}"]
        du[t] = W_xh.T @ da
        from_next = W_hh.T @ da  # what step t-1 receives through W_hh
        steps.append(step)
    return steps, du, sums


def _cell_forward(p: dict, spec: ModelSpec, l: int, u: np.ndarray, suffix: str
                  ) -> tuple[list[dict], np.ndarray, object]:
    """One layer (direction) of any cell: per-step values to show, h (T, H), what its backward needs."""
    if spec.cell == "rnn":
        a, h = _layer_forward(p, l, u, spec.nonlinearity, suffix)
        return [{"a": a_t, "h": h_t} for a_t, h_t in zip(a, h, strict=True)], h, h
    forward_fn, _, shown = GATED_LAYERS[spec.cell]
    steps, h = forward_fn(p, l, u, suffix)
    return [{k: s[k] for k in shown} for s in steps], h, steps


def _cell_backward(p: dict, spec: ModelSpec, l: int, u: np.ndarray, kept, dh_out: np.ndarray, suffix: str):
    """BPTT through one layer (direction) of any cell: (steps, du, summed grads by local name)."""
    if spec.cell == "rnn":
        return _layer_backward(p, l, u, kept, dh_out, spec.nonlinearity, suffix)
    return GATED_LAYERS[spec.cell][1](p, l, u, kept, dh_out, suffix)


def _loss(loss: str, y: np.ndarray, target: np.ndarray) -> tuple[float, np.ndarray]:
    """The core's loss on a batch of one: (value, dL/dy of the same shape as y)."""
    value, dy = LOSSES[loss](y[None], np.asarray(target)[None])
    return float(value), dy[0]


def _stack_forward(p: dict, spec: ModelSpec, x: np.ndarray) -> tuple[list[dict], list, dict]:
    """Forward entries (bottom layer first; per layer the forward direction, then the reverse one in the
    order it runs, t = T-1 down to 0), each layer's input (T, I_l), and each (layer, direction)'s
    states (T, H) in the original time order."""
    T, D = len(x), 2 if spec.bidirectional else 1
    fwd, inputs, states, kept = [], [], {}, {}
    u = x
    for l in range(spec.num_layers):
        for d in range(D):
            order = slice(None) if d == 0 else slice(None, None, -1)
            values, h, kept[l, d] = _cell_forward(p, spec, l, u[order], DIRECTIONS[d][1])
            times = range(T) if d == 0 else range(T - 1, -1, -1)
            for i, t in enumerate(times):
                entry = {"layer": l, "t": t, "x": u[t], **values[i]}
                fwd.append(entry if D == 1 else {**entry, "direction": DIRECTIONS[d][0]})
            states[l, d] = h[order]
        inputs.append(u)
        u = np.concatenate([states[l, d] for d in range(D)], axis=1)  # (T, D*H): what the layer above reads
    return fwd, inputs, states, kept


def _stack_backward(p: dict, spec: ModelSpec, inputs: list, kept: dict, dh_out: np.ndarray
                    ) -> tuple[list[dict], dict]:
    """Backward steps (top layer first; per layer the forward direction last step first, then the reverse
    direction from t = 0 up) and the summed gradients of every layer. dh_out: (T, D*H) on the top layer."""
    D, H = (2 if spec.bidirectional else 1), spec.hidden_size
    backward, grads = [], {}
    for l in reversed(range(spec.num_layers)):
        du_total = np.zeros_like(inputs[l])
        for d in range(D):
            name, suffix = DIRECTIONS[d]
            order = slice(None) if d == 0 else slice(None, None, -1)
            steps, du, sums = _cell_backward(p, spec, l, inputs[l][order], kept[l, d],
                                             dh_out[:, d * H:(d + 1) * H][order], suffix)
            T = len(inputs[l])
            for step in steps:
                if d == 1:
                    step["t"] = T - 1 - step["t"]  # back to the original time order
                if D == 2:
                    step["direction"] = name
            backward += steps
            du_total += du[order]
            grads.update({f"rnn.{l}.{k}{suffix}": v for k, v in sums.items()})
        dh_out = du_total  # the layer below receives its "from output" gradient through this layer's W_xh
    return backward, grads


def _head(p: dict, spec: ModelSpec, states: dict, loss: str, target: np.ndarray):
    """y, the loss, dL/dy, the gradient (T, D*H) the head sends to the top layer's states, its own grads."""
    L, D, H = spec.num_layers, (2 if spec.bidirectional else 1), spec.hidden_size
    top = np.concatenate([states[L - 1, d] for d in range(D)], axis=1)  # (T, D*H)
    W_hy, b_y = p["head.W_hy"], p["head.b_y"]
    dh_out = np.zeros_like(top)
    if spec.output == "sequence":
        y = top @ W_hy.T + b_y
        value, dy = _loss(loss, y, target)
        return y, value, dy, dy @ W_hy, {"head.W_hy": dy.T @ top, "head.b_y": dy.sum(axis=0)}
    # "last": the forward direction's state after the last step; the reverse direction's ends at t = 0
    h_last = np.concatenate([states[L - 1, 0][-1]] + ([states[L - 1, 1][0]] if D == 2 else []))
    y = W_hy @ h_last + b_y
    value, dy = _loss(loss, y, target)
    back = W_hy.T @ dy
    dh_out[-1, :H] = back[:H]
    if D == 2:
        dh_out[0, H:] = back[H:]
    return y, value, dy, dh_out, {"head.W_hy": np.outer(dy, h_last), "head.b_y": dy.copy()}


def explain_sequence(params: dict[str, np.ndarray], spec: ModelSpec, x: np.ndarray, target: np.ndarray,
                     *, loss: str) -> dict:
    """Every quantity of one forward and backward pass, in float64.

    Args:
        params: the model's parameters (any float dtype; computed in float64).
        x: (T, I) one sequence (its valid steps only).
        target: (O,) or (T, O) floats for mse; a class id () or (T,) ids for cross_entropy.

    Returns:
        dict with exactly the keys of `rnn explain --json`:
        forward: per layer (bottom first), per step: layer, t, x (the layer's input u_t), a, h, and y
            on the top layer's steps for sequence outputs; bidirectional models add direction
            ("forward" | "reverse": the reverse direction runs from t = T-1 down to 0, h_T = 0);
        output: y ((O,) or (T, O)), target, dy = dL/dy, and p (softmax) for cross_entropy;
        loss: float;
        backward: per layer (top first), per step (last first): layer, t, dh, dh_from_output,
            dh_from_next, dh_da = f'(a_t), da, the step's dW_xh, dW_hh, db_h, and dy for sequence outputs;
        grads: the summed gradients, named as in the weights file;
        numerical: empty here; fill it with `numerical_gradients`.
    """
    if spec.embedding_size:
        raise UsageError("rnn explain does not support embedding models yet")
    if spec.cell not in EXPLAINED_CELLS:
        raise UsageError(f"rnn explain does not support model.cell {spec.cell} yet (only "
                         f"{', '.join(EXPLAINED_CELLS)})")
    p = {k: np.asarray(v, dtype=np.float64) for k, v in params.items()}
    x = np.asarray(x, dtype=np.float64)
    fwd, inputs, states, kept = _stack_forward(p, spec, x)
    y, value, dy, dh_out, head = _head(p, spec, states, loss, target)
    output = {"y": y, "target": np.asarray(target), "dy": dy}
    if loss == "cross_entropy":
        output["p"] = softmax(y)
    backward, grads = _stack_backward(p, spec, inputs, kept, dh_out)
    if spec.output == "sequence":  # y_t and dL/dy_t beside the top layer's (forward direction's) step t
        on_top = [e for e in fwd + backward if e["layer"] == spec.num_layers - 1
                  and e.get("direction", "forward") == "forward"]
        for e in on_top:
            e["y" if "a" in e else "dy"] = (y if "a" in e else dy)[e["t"]]
    grads.update(head)
    order = [name for name in params if name in grads]
    return {"forward": fwd, "output": output, "loss": value, "backward": backward,
            "grads": {k: grads[k] for k in order}, "numerical": {}}


def numerical_gradients(params: dict[str, np.ndarray], spec: ModelSpec, x: np.ndarray, target: np.ndarray,
                        grads: dict[str, np.ndarray], *, loss: str, eps: float = 1e-6,
                        max_checked: int = MAX_CHECKED, seed: int = 0) -> dict[str, dict]:
    """Centred differences (L(p + eps) - L(p - eps)) / (2 eps) in float64 beside each summed gradient.

    Args:
        grads: the analytic gradients to compare with (e.g. explain_sequence(...)["grads"]).
        max_checked: tensors with more entries get this many, chosen at random (seeded), checked.

    Returns:
        name -> {"values": array like the tensor (NaN where not checked), "max_abs_diff": float,
        "rel_error": max |a - n| / max|a| + |n| as core.gradcheck computes it, "passed": within
        core.gradcheck's tolerances, "checked": entries compared, "kinks": relu entries left out
        because +-eps changed which units are active (no derivative there)}.
    """
    p = {k: np.array(v, dtype=np.float64) for k, v in params.items()}
    xb = np.asarray(x, dtype=np.float64)[None]
    tb = np.asarray(target)[None] if loss == "cross_entropy" else np.asarray(target, dtype=np.float64)[None]
    rng = np.random.default_rng(seed)
    relu = spec.nonlinearity == "relu"

    def f() -> tuple[float, np.ndarray | None]:
        out, _, cache = forward(p, spec, xb)
        layers = cache["rnn"]["layers"]  # one record per layer (and direction), each with its states
        active = np.concatenate([(r["hs"] > 0).ravel() for r in layers]) if relu else None
        return LOSSES[loss](out, tb)[0], active

    return {name: _check_tensor(p[name], np.asarray(grad, dtype=np.float64), f, eps, max_checked, rng)
            for name, grad in grads.items()}


def _check_tensor(arr: np.ndarray, grad: np.ndarray, f, eps: float, max_checked: int,
                  rng: np.random.Generator) -> dict:
    """One tensor's centred differences: `arr` is perturbed in place, entry by entry."""
    idx = checked_indices(arr.size, max_checked, rng)
    values = np.full(arr.size, np.nan)
    values[idx], smooth = centred_differences(f, arr, idx, eps)
    idx = idx[smooth]
    a, n = grad.reshape(-1)[idx], values[idx]
    rel, _ = relative_error(a, n)
    abs_err = float(np.max(np.abs(a - n), initial=0.0))
    passed = bool(np.isfinite(n).all()) and (rel <= DEFAULT_TOL or abs_err <= DEFAULT_ATOL)
    return {"values": values.reshape(arr.shape), "max_abs_diff": abs_err, "rel_error": rel,
            "passed": passed, "checked": int(idx.size), "kinks": int((~smooth).sum())}
