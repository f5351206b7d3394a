"""The text of `rnn explain`: one explained pass as sections of aligned lines that fit 80 columns.

The same sections become the terminal layout (headings styled by Rich) and the --markdown notes
(headings and fenced blocks), so both always show the same numbers.
"""

from __future__ import annotations

import numpy as np

# Vectors longer than this show their first entries and the length; larger matrices show their norm.
MAX_SHOWN = 6
LABEL = 24  # width of the label column; 24 + 6 numbers of 9 characters + brackets < 80


def num(v: float) -> str:
    """At most 8 characters, right-aligned in 9, so neighbours never touch."""
    if not np.isfinite(v):
        return "-".rjust(9)
    text = f"{v + 0.0:.3g}"  # + 0.0: no "-0"
    for fmt in (".2g", ".1e"):
        if len(text) > 8:
            text = f"{v + 0.0:{fmt}}"
    return text.rjust(9)


def vec(v) -> str:
    v = np.atleast_1d(np.asarray(v, dtype=np.float64))
    if v.size > MAX_SHOWN:  # the first few, still inside 80 columns
        return "[" + "".join(num(e) for e in v[:MAX_SHOWN - 2]) + "  ... ]" + f" {v.size} values"
    return "[" + "".join(num(e) for e in v) + "]"


def mat(m) -> list[str]:
    """A matrix as one line per row (or its norm when too large to read)."""
    m = np.asarray(m, dtype=np.float64)
    if m.ndim < 2:
        return [vec(m)]
    if m.shape[0] > MAX_SHOWN or m.shape[1] > MAX_SHOWN:
        norm = float(np.linalg.norm(np.nan_to_num(m)))
        return [f"({m.shape[0]}x{m.shape[1]}, too large to print; Frobenius norm {norm:.4g})"]
    return [vec(row) for row in m]


def labelled(label: str, value_lines: list[str], indent: int = 2) -> list[str]:
    """`label` left, the value lines right, continuation lines aligned under the first."""
    pad = " " * indent
    first = f"{pad}{label:<{LABEL - indent}}"
    if len(first) > LABEL:
        return [first.rstrip()] + [" " * LABEL + line for line in value_lines]
    return [first + value_lines[0]] + [" " * LABEL + line for line in value_lines[1:]]


def _layer_tag(layer: int, num_layers: int) -> str:
    return f"^({layer})" if num_layers > 1 else ""


def _x_label(entry: dict, num_layers: int, vocab: list[str] | None) -> tuple[str, list[str]]:
    t, layer = entry["t"], entry["layer"]
    if layer > 0:
        both = " fwd;rev" if "direction" in entry else ""
        return f"u_{t} = h{_layer_tag(layer - 1, num_layers)}_{t}{both}", [vec(entry["x"])]
    if vocab:
        return f"x_{t}", [f"one-hot {vocab[int(np.argmax(entry['x']))]!r}"]
    return f"x_{t}", [vec(entry["x"])]


def _tag(layer: int, num_layers: int, direction: str | None = None) -> str:
    """^(layer) for stacked models, ^(fwd)/^(rev) for the directions of a bidirectional one."""
    parts = ([str(layer)] if num_layers > 1 else []) + ([{"forward": "fwd"}.get(direction, "rev")]
                                                        if direction else [])
    return f"^({','.join(parts)})" if parts else ""


def _layer_input(layer: int, L: int, bidirectional: bool) -> str:
    if layer == 0:
        return "x_t"
    below = _layer_tag(layer - 1, L)
    return "u_t" if bidirectional else f"h{below}_t"  # u_t = [forward ; reverse] states of the layer below


def _forward_header(entry: dict, spec: dict) -> list[str]:
    layer, L, direction = entry["layer"], spec["num_layers"], entry.get("direction")
    tag = _tag(layer, L, direction)
    w = "_reverse" if direction == "reverse" else "" if direction else _layer_tag(layer, L)
    u = _layer_input(layer, L, direction is not None)
    head = f"layer {layer}{', ' + direction if direction else ''}: " if L > 1 or direction else ""
    prev, start = ("h_t+1", "h_T = 0, from t = T-1 down") if direction == "reverse" else ("h_t-1", "h_-1 = 0")
    return [f"{head}a_t = W_xh{w} {u} + W_hh{w} {prev} + b_h{w}",
            f"{' ' * len(head)}h{tag}_t = {spec['nonlinearity']}(a_t),  {start}"]


def forward_lines(result: dict, spec: dict, vocab: list[str] | None = None) -> list[str]:
    f, L = spec["nonlinearity"], spec["num_layers"]
    lines: list[str] = []
    seen = None
    for entry in result["forward"]:
        t, layer, direction = entry["t"], entry["layer"], entry.get("direction")
        tag = _tag(layer, L, direction)
        if (layer, direction) != seen:
            lines += ([""] if lines else []) + _forward_header(entry, spec)
            seen = (layer, direction)
        lines += [f"t = {t}"]
        lines += labelled(*_x_label(entry, L, vocab))
        lines += labelled(f"a{tag}_{t}", [vec(entry["a"])])
        lines += labelled(f"h{tag}_{t} = {f}(a_{t})", [vec(entry["h"])])
        if "y" in entry:
            lines += labelled(f"y_{t} = W_hy h_{t} + b_y", [vec(entry["y"])])
    return lines


def output_lines(result: dict, spec: dict, loss: str) -> list[str]:
    out, T = result["output"], max(e["t"] for e in result["forward"]) + 1
    last = spec["output"] == "last"
    h = f"[h_{T - 1} fwd ; h_0 rev]" if spec.get("bidirectional") else f"h_{T - 1}"
    lines = labelled(f"y = W_hy {h} + b_y" if last else "y_t (every step)", mat(out["y"]))
    if "p" in out:
        lines += labelled("p = softmax(y)", mat(out["p"]))
        lines += labelled("target class", [str(np.asarray(out["target"]).tolist())])
    else:
        lines += labelled("target", mat(out["target"]))
    what = "mean over outputs of (y - target)^2" if loss == "mse" else "-log p[target], mean over steps"
    lines += labelled(f"loss ({loss})", [f"{result['loss']:.6g}   ({what})"])
    grad = "2 (y - target) / count" if loss == "mse" else "(p - onehot(target)) / count"
    lines += labelled("dL/dy", mat(out["dy"]))
    return lines + [f"{'':<{LABEL}}({grad})"]


def _derivative(nonlinearity: str, t: int, tag: str) -> str:
    return f"1 - (h{tag}_{t})^2" if nonlinearity == "tanh" else f"1[h{tag}_{t} > 0]"


def _output_source(spec: dict, layer: int, direction: str | None) -> str:
    L = spec["num_layers"]
    if layer < L - 1:
        above = _layer_tag(layer + 1, L)
        if direction:
            return f"sum of W_xh^T da{above}_t over both directions above"
        return f"W_xh{above}^T da{above}_t  (through the layer above)"
    rows = {"forward": "[:, :H]", "reverse": "[:, H:]"}.get(direction or "", "")
    if spec["output"] == "sequence":
        return f"W_hy{rows}^T dL/dy_t"
    if direction == "reverse":
        return f"W_hy{rows}^T dL/dy at t = 0 (its last step), 0 after"
    return f"W_hy{rows}^T dL/dy at the last step, 0 before (one output)"


def _backward_header(step: dict, spec: dict) -> list[str]:
    layer, L, direction = step["layer"], spec["num_layers"], step.get("direction")
    tag = _tag(layer, L, direction)
    w = "_reverse" if direction == "reverse" else "" if direction else _layer_tag(layer, L)
    head = f"layer {layer}{', ' + direction if direction else ''}: " if L > 1 or direction else ""
    nxt, end = ("t-1", "t = 0, its last step") if direction == "reverse" else ("t+1", "the last step")
    return [f"{head}dh{tag}_t = dh from output + dh from {nxt}, where",
            f"  dh from output = {_output_source(spec, layer, direction)}",
            f"  dh from {nxt}    = W_hh{w}^T da{tag}_{nxt}  (0 at {end})",
            f"  da{tag}_t = f'(a_t) * dh_t  with  f'(a_t) = {_derivative(spec['nonlinearity'], 't', tag)}"]


def backward_lines(result: dict, spec: dict) -> list[str]:
    f, L = spec["nonlinearity"], spec["num_layers"]
    T = max(e["t"] for e in result["forward"]) + 1
    lines: list[str] = []
    seen = None
    for step in result["backward"]:
        t, layer, direction = step["t"], step["layer"], step.get("direction")
        tag, rev = _tag(layer, L, direction), direction == "reverse"
        if (layer, direction) != seen:
            lines += ([""] if lines else []) + _backward_header(step, spec)
            seen = (layer, direction)
        lines += [f"t = {t}"]
        lines += labelled("dh from output", [vec(step["dh_from_output"])])
        lines += labelled(f"dh from {'t-1' if rev else 't+1'}", [vec(step["dh_from_next"])])
        lines += labelled(f"dh{tag}_{t}", [vec(step["dh"])])
        lines += labelled(f"f'(a_{t}) = {_derivative(f, t, '')}", [vec(step["dh_da"])])
        lines += labelled(f"da_{t} = f'(a_{t}) * dh_{t}", [vec(step["da"])])
        prev = (f"h_{t + 1}" if t < T - 1 else "h_T") if rev else (f"h_{t - 1}" if t > 0 else "h_-1")
        u = f"x_{t}" if layer == 0 else f"u_{t}"
        lines += labelled(f"dW_xh += da_{t} {u}^T", mat(step["dW_xh"]))
        lines += labelled(f"dW_hh += da_{t} {prev}^T", mat(step["dW_hh"]))
        lines += labelled(f"db_h  += da_{t}", [vec(step["db_h"])])
    return lines


def check_lines(result: dict) -> list[str]:
    """Each summed gradient beside its centred difference, with the largest absolute difference."""
    lines = ["backprop (summed over steps) beside centred differences (L(p+e) - L(p-e)) / 2e"]
    for name, grad in result["grads"].items():
        check = result["numerical"].get(name)
        lines += [""] + labelled(name, mat(grad), indent=0)
        if check is None:
            continue
        lines += labelled("  numerical", mat(check["values"]), indent=0)
        size = np.asarray(grad).size
        sample = "" if check["checked"] == size else f" ({check['checked']} of {size} entries checked)"
        lines += labelled("  max |difference|", [f"{check['max_abs_diff']:.2g}{sample}"], indent=0)
    return lines


def weight_lines(params: dict[str, np.ndarray]) -> list[str]:
    lines: list[str] = []
    for name, value in params.items():
        lines += labelled(f"{name} {'x'.join(map(str, value.shape))}", mat(value))
    return lines


def sections(result: dict, params: dict, spec: dict, loss: str, vocab: list[str] | None = None
             ) -> list[tuple[str, list[str]]]:
    """(title, lines) for each part of the explanation, in reading order."""
    return [
        ("weights", weight_lines(params)),
        ("forward", forward_lines(result, spec, vocab)),
        ("output and loss", output_lines(result, spec, loss)),
        ("backward, last step first", backward_lines(result, spec)),
        ("gradients", check_lines(result)),
    ]
