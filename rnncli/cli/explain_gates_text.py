"""The text of `rnn explain` for the gated cells (GRU, LSTM): the gates at every step, the cell state,
and backwards the gradient's two paths side by side (tools/explain_gated.py computes them).

Lines fit 80 columns; the helpers (labelled, vec, mat) are explain_text's, so both cells read alike.
"""

from __future__ import annotations

import numpy as np

from rnncli.cli.explain_text import _tag, check_lines, labelled, mat, output_lines, vec, weight_lines

EQUATIONS = {
    "lstm": ["i_t, f_t, o_t = sigmoid(W_i* u_t + W_h* h_t-1 + b_i* + b_h*)   (gates in [0, 1])",
             "g_t = tanh(W_ig u_t + W_hg h_t-1 + b_ig + b_hg)",
             "c_t = f_t * c_t-1 + i_t * g_t,   h_t = o_t * tanh(c_t),   h_-1 = c_-1 = 0"],
    "gru": ["r_t, z_t = sigmoid(W_i* u_t + b_i* + W_h* h_t-1 + b_h*)   (gates in [0, 1])",
            "n_t = tanh(W_in u_t + b_in + r_t * hn_t),   hn_t = W_hn h_t-1 + b_hn",
            "h_t = (1 - z_t) * n_t + z_t * h_t-1,   h_-1 = 0"],
}
BACKWARD = {
    "lstm": ["dh_t = dh from output + dh from next,  dh from next = W_hh^T da_t+1",
             "dc_t = dc from h_t + dc from next:",
             "  dc from h_t  = dh_t * o_t * (1 - tanh(c_t)^2)",
             "  dc from next = f_t+1 * dc_t+1   (the cell state's path: no weight matrix)",
             "da_t = [di; df; dg; do]: di = dc * g * i(1-i), df = dc * c_t-1 * f(1-f),",
             "  dg = dc * i * (1-g^2), do = dh * tanh(c_t) * o(1-o)"],
    "gru": ["dh_t = dh from output + dh from gate + dh from weights, where",
            "  dh from gate    = z_t+1 * dh_t+1   (the update gate's path: no weight matrix)",
            "  dh from weights = W_hh^T [dr; dz; r * dn]_t+1",
            "dz = dh * (h_t-1 - n) * z(1-z), dn = dh * (1-z) * (1-n^2), dr = dn * hn * r(1-r)"],
}
GATE_LABELS = {"lstm": (("i", "input gate"), ("f", "forget gate"), ("g", "candidate"), ("o", "output gate"),
                        ("c", "cell state")),
               "gru": (("r", "reset gate"), ("z", "update gate"), ("hn", "W_hn h_t-1 + b_hn"),
                       ("n", "candidate"))}


def _header(entry: dict, spec: dict, lines: list[str]) -> list[str]:
    layer, L, direction = entry["layer"], spec["num_layers"], entry.get("direction")
    head = f"layer {layer}{', ' + direction if direction else ''}" if L > 1 or direction else ""
    rev = ["reverse: t runs from T-1 down to 0; 't-1' reads 't+1' (h_T = 0)"]
    rev = rev if direction == "reverse" else []
    return ([head] if head else []) + lines + rev


def forward_lines(result: dict, spec: dict, vocab: list[str] | None = None) -> list[str]:
    cell, L = spec["cell"], spec["num_layers"]
    lines: list[str] = []
    seen = None
    for e in result["forward"]:
        t, layer, direction = e["t"], e["layer"], e.get("direction")
        tag = _tag(layer, L, direction)
        if (layer, direction) != seen:
            lines += ([""] if lines else []) + _header(e, spec, EQUATIONS[cell])
            seen = (layer, direction)
        lines += [f"t = {t}"]
        if layer == 0 and vocab:
            lines += labelled(f"x_{t}", [f"one-hot {vocab[int(np.argmax(e['x']))]!r}"])
        else:
            lines += labelled(f"{'x' if layer == 0 else 'u'}_{t}", [vec(e["x"])])
        for key, name in GATE_LABELS[cell]:
            lines += labelled(f"{key}{tag}_{t} {name}", [vec(e[key])])
        lines += labelled(f"h{tag}_{t}", [vec(e["h"])])
        if "y" in e:
            lines += labelled(f"y_{t} = W_hy h_{t} + b_y", [vec(e["y"])])
    return lines


def backward_lines(result: dict, spec: dict) -> list[str]:
    cell, L = spec["cell"], spec["num_layers"]
    lines: list[str] = []
    seen = None
    for s in result["backward"]:
        t, layer, direction = s["t"], s["layer"], s.get("direction")
        tag = _tag(layer, L, direction)
        if (layer, direction) != seen:
            lines += ([""] if lines else []) + _header(s, spec, BACKWARD[cell])
            seen = (layer, direction)
        lines += [f"t = {t}"]
        lines += labelled("dh from output", [vec(s["dh_from_output"])])
        if cell == "gru":
            lines += labelled("dh from gate", [vec(s["dh_from_gate"])])
            lines += labelled("dh from weights", [vec(s["dh_from_weights"])])
        else:
            lines += labelled("dh from next", [vec(s["dh_from_next"])])
        lines += labelled(f"dh{tag}_{t}", [vec(s["dh"])])
        if cell == "lstm":
            lines += labelled("dc from h", [vec(s["dc_from_h"])])
            lines += labelled("dc from next", [vec(s["dc_from_next"])])
            lines += labelled(f"dc{tag}_{t}", [vec(s["dc"])])
        for key in ("di", "df", "dg", "do") if cell == "lstm" else ("dr", "dz", "dn"):
            lines += labelled(key, [vec(s[key])])
        lines += labelled("dW_ih (this step)", mat(s["dW_ih"]))
        lines += labelled("dW_hh (this step)", mat(s["dW_hh"]))
    return lines


def path_lines(result: dict, spec: dict) -> list[str]:
    """Per step, the norms of the gradient's two ways back: why gating keeps the gradient."""
    lstm = spec["cell"] == "lstm"
    names = ("|dh from next|", "|dc from next|", "|dc_t|") if lstm else (
        "|dh from weights|", "|dh from gate|", "|dh_t|")
    keys = ("dh_from_next", "dc_from_next", "dc") if lstm else ("dh_from_weights", "dh_from_gate", "dh")
    gate = "f_t+1" if lstm else "z_t+1"
    lines = [("through W_hh (h) beside through the cell state (c)" if lstm else
              "through W_hh beside the update gate's direct path"),
             f"the second is multiplied by {gate} alone: it fades only where that gate closes",
             f"{'layer':<7}{'t':>4}{names[0]:>22}{names[1]:>22}{names[2]:>16}"]
    for s in result["backward"]:
        where = f"{s['layer']}{' rev' if s.get('direction') == 'reverse' else ''}"
        norms = [float(np.linalg.norm(s[k])) for k in keys]
        lines.append(f"{where:<7}{s['t']:>4}{norms[0]:>22.3g}{norms[1]:>22.3g}{norms[2]:>16.3g}")
    return lines


def sections(result: dict, params: dict, spec: dict, loss: str, vocab: list[str] | None = None
             ) -> list[tuple[str, list[str]]]:
    """(title, lines) for each part of a gated cell's explanation, in reading order."""
    return [
        ("weights", weight_lines(params)),
        ("forward: the gates at every step", forward_lines(result, spec, vocab)),
        ("output and loss", output_lines(result, spec, loss)),
        ("backward, last step first", backward_lines(result, spec)),
        ("the gradient's two paths back", path_lines(result, spec)),
        ("gradients", check_lines(result)),
    ]
