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
    return f"{v + 0.0: .3g}".rjust(9) if np.isfinite(v) else "-".rjust(9)  # + 0.0: no "-0"


def vec(v) -> str:
    v = np.atleast_1d(np.asarray(v, dtype=np.float64))
    if v.size > MAX_SHOWN:  # the first few, still inside 80 columns
        return "[" + "".join(num(e) for e in v[:MAX_SHOWN - 2]) + "  ... ]" + f" {v.size} values"
    return "[" + "".join(num(e) for e in v) + " ]"


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
        return f"u_{t} = h{_layer_tag(layer - 1, num_layers)}_{t}", [vec(entry["x"])]
    if vocab:
        return f"x_{t}", [f"one-hot {vocab[int(np.argmax(entry['x']))]!r}"]
    return f"x_{t}", [vec(entry["x"])]


def forward_lines(result: dict, spec: dict, vocab: list[str] | None = None) -> list[str]:
    f, L = spec["nonlinearity"], spec["num_layers"]
    lines: list[str] = []
    for entry in result["forward"]:
        t, layer = entry["t"], entry["layer"]
        tag = _layer_tag(layer, L)
        if t == 0:
            u = "x_t" if layer == 0 else f"h{_layer_tag(layer - 1, L)}_t"
            head = f"layer {layer}: " if L > 1 else ""
            lines += ["" if lines else None, f"{head}a_t = W_xh{tag} {u} + W_hh{tag} h_t-1 + b_h{tag}",
                      f"{' ' * len(head)}h_t = {f}(a_t),  h_-1 = 0"]
        lines += [f"t = {t}"]
        lines += labelled(*_x_label(entry, L, vocab))
        lines += labelled(f"a{tag}_{t}", [vec(entry["a"])])
        lines += labelled(f"h{tag}_{t} = {f}(a_{t})", [vec(entry["h"])])
        if "y" in entry:
            lines += labelled(f"y_{t} = W_hy h_{t} + b_y", [vec(entry["y"])])
    return [line for line in lines if line is not None]


def output_lines(result: dict, spec: dict, loss: str) -> list[str]:
    out, T = result["output"], max(e["t"] for e in result["forward"]) + 1
    last = spec["output"] == "last"
    lines = labelled(f"y = W_hy h_{T - 1} + b_y" if last else "y_t (every step)", mat(out["y"]))
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


def _output_source(spec: dict, layer: int) -> str:
    L = spec["num_layers"]
    if layer < L - 1:
        above = _layer_tag(layer + 1, L)
        return f"W_xh{above}^T da{above}_t  (through the layer above)"
    if spec["output"] == "sequence":
        return "W_hy^T dL/dy_t"
    return "W_hy^T dL/dy at the last step, 0 before (one output)"


def backward_lines(result: dict, spec: dict) -> list[str]:
    f, L = spec["nonlinearity"], spec["num_layers"]
    T = max(e["t"] for e in result["forward"]) + 1
    lines: list[str] = []
    for step in result["backward"]:
        t, layer = step["t"], step["layer"]
        tag = _layer_tag(layer, L)
        if t == T - 1:
            head = f"layer {layer}: " if L > 1 else ""
            lines += ([""] if lines else []) + [
                f"{head}dh{tag}_t = dh from output + dh from t+1, where",
                f"  dh from output = {_output_source(spec, layer)}",
                f"  dh from t+1    = W_hh{tag}^T da{tag}_t+1  (0 at the last step)",
                f"  da{tag}_t = f'(a_t) * dh_t  with  f'(a_t) = {_derivative(f, 't', tag)}"]
        lines += [f"t = {t}"]
        lines += labelled("dh from output", [vec(step["dh_from_output"])])
        lines += labelled("dh from t+1", [vec(step["dh_from_next"])])
        lines += labelled(f"dh{tag}_{t}", [vec(step["dh"])])
        lines += labelled(f"f'(a_{t}) = {_derivative(f, t, '')}", [vec(step["dh_da"])])
        lines += labelled(f"da_{t} = f'(a_{t}) * dh_{t}", [vec(step["da"])])
        prev = f"h_{t - 1}" if t > 0 else "h_-1"
        u = f"x_{t}" if layer == 0 else f"h{_layer_tag(layer - 1, L)}_{t}"
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
