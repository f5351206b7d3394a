"""The gated cells' part of `rnn explain --html`: the gates over time and the gradient's two paths back.

Per layer (and direction): one strip per gate, a row per unit (the first SHOWN) and a column per step,
each cell shaded by the gate's value (0 white, 1 dark: a closed or open gate); the LSTM's cell state
and the candidates, which are not in [0, 1], in blue (negative) and red (positive). Below, a chart of
the norms of the gradient going back to step t-1 by each path (LSTM: through W_hh to h beside the cell
state's f * dc; GRU: through W_hh beside the update gate's z * dh), on a log scale. Static SVG, made
from explain_sequence's result. Letters: T time, H hidden.
"""

from __future__ import annotations

import html

import numpy as np

__all__ = ["EQUATIONS", "gates_section"]

SHOWN = 8  # units drawn per gate
PX = 14  # one cell
EQUATIONS = {
    "lstm": ("forward:   i_t, f_t, o_t = sigmoid(W_i* u_t + W_h* h_t-1 + b)\n"
             "           g_t = tanh(W_ig u_t + W_hg h_t-1 + b)\n"
             "           c_t = f_t * c_t-1 + i_t * g_t,   h_t = o_t * tanh(c_t),   h_-1 = c_-1 = 0\n"
             "backward:  dh_t = W_hy^T dL/dy_t + W_hh^T da_t+1   (h's only way back: a weight matrix)\n"
             "           dc_t = dh_t * o_t * (1 - tanh(c_t)^2) + f_t+1 * dc_t+1\n"
             "                                                   (c's way back: the forget gate)\n"
             "sums:      dW_ih = sum_t da_t u_t^T,  dW_hh = sum_t da_t h_t-1^T,  da = [di; df; dg; do]"),
    "gru": ("forward:   r_t, z_t = sigmoid(W_i* u_t + b_i* + W_h* h_t-1 + b_h*)\n"
            "           n_t = tanh(W_in u_t + b_in + r_t * hn_t),  hn_t = W_hn h_t-1 + b_hn\n"
            "           h_t = (1 - z_t) * n_t + z_t * h_t-1,   h_-1 = 0\n"
            "backward:  dh_t = W_hy^T dL/dy_t + z_t+1 * dh_t+1 (the update gate's path)\n"
            "                 + W_hh^T [dr; dz; r * dn]_t+1 (through the weights)\n"
            "sums:      dW_ih = sum_t [dr; dz; dn]_t u_t^T,  dW_hh = sum_t [dr; dz; r * dn]_t h_t-1^T"),
}
GATES = {"lstm": ("i", "f", "o", "g", "c"), "gru": ("r", "z", "n")}
BOUNDED = {"i", "f", "o", "r", "z"}  # sigmoid gates, in [0, 1]
PATHS = {  # (key, label, colour) of the weights' path, then the gated one
    "lstm": (("dh_from_next", "through W_hh (to h)", "#444"), ("dc_from_next", "cell state f*dc", "#d62728")),
    "gru": (("dh_from_weights", "through W_hh", "#444"), ("dh_from_gate", "update gate z * dh", "#d62728")),
}


def _shade(v: float, bounded: bool, scale: float) -> str:
    if not np.isfinite(v):
        return "#eee"
    if bounded:  # 0 white .. 1 dark green
        k = int(255 * (1 - max(0.0, min(1.0, v))))
        return f"rgb({k},{int(100 + 0.6 * k)},{k})"
    s = max(-1.0, min(1.0, v / scale)) if scale else 0.0
    fade = int(255 * (1 - abs(s)))
    return f"rgb(255,{fade},{fade})" if s > 0 else f"rgb({fade},{fade},255)"


def _strip(x0: float, y0: float, name: str, values: np.ndarray) -> tuple[list[str], float]:
    """One gate (T, H) as a block of cells: units down, steps across."""
    units = min(values.shape[1], SHOWN)
    bounded = name in BOUNDED
    scale = float(np.max(np.abs(values))) or 1.0
    out = [f'<text x="{x0 - 6}" y="{y0 + units * PX / 2 + 4}" text-anchor="end">{html.escape(name)}</text>']
    for t in range(values.shape[0]):
        for j in range(units):
            v = float(values[t, j])
            out.append(f'<rect x="{x0 + t * PX}" y="{y0 + j * PX}" width="{PX - 1}" height="{PX - 1}" '
                       f'fill="{_shade(v, bounded, scale)}"><title>{name}_{t}[{j}] = {v:.4g}</title></rect>')
    return out, units * PX + 6


def _paths_chart(x0: float, y0: float, steps: list[dict], cell: str, T: int) -> tuple[list[str], float]:
    """Norms of the two paths back per step, log scale, one polyline each."""
    height = 90
    series = [(np.array([np.linalg.norm(s[key]) for s in steps]), label, colour)
              for key, label, colour in PATHS[cell]]
    positive = np.concatenate([v[v > 0] for v, _, _ in series]) if series else np.array([])
    if positive.size == 0:
        return [f'<text x="{x0}" y="{y0 + 12}">no gradient flows back between steps</text>'], 20
    lo, hi = np.log10(positive.min()), np.log10(positive.max())
    span = max(hi - lo, 1e-9)
    out = [f'<rect x="{x0}" y="{y0}" width="{T * PX}" height="{height}" fill="none" stroke="#ccc"/>',
           f'<text x="{x0 - 6}" y="{y0 + 10}" text-anchor="end">{10 ** hi:.2g}</text>',
           f'<text x="{x0 - 6}" y="{y0 + height}" text-anchor="end">{10 ** lo:.2g}</text>']
    for k, (norms, label, colour) in enumerate(series):
        pts = [f"{x0 + s['t'] * PX + PX / 2:.1f},{y0 + height - (np.log10(n) - lo) / span * height:.1f}"
               for s, n in zip(steps, norms, strict=True) if n > 0]
        out.append(f'<polyline points="{" ".join(pts)}" fill="none" stroke="{colour}" stroke-width="2"/>')
        out.append(f'<text x="{x0 + T * PX + 8}" y="{y0 + 14 + 16 * k}" fill="{colour}">{html.escape(label)}'
                   "</text>")
    return out, height + 10


def gates_section(result: dict, spec: dict) -> str:
    """The HTML of the gates strips and path charts (empty for the Elman cell)."""
    cell = spec.get("cell", "rnn")
    if cell not in GATES:
        return ""
    T = max(e["t"] for e in result["forward"]) + 1
    groups = sorted({(e["layer"], e.get("direction", "forward")) for e in result["forward"]},
                    key=lambda g: (g[0], g[1] != "forward"))
    x0, y, parts = 90, 10, []
    for layer, direction in groups:
        fwd = sorted((e for e in result["forward"] if e["layer"] == layer
                      and e.get("direction", "forward") == direction), key=lambda e: e["t"])
        bwd = sorted((e for e in result["backward"] if e["layer"] == layer
                      and e.get("direction", "forward") == direction), key=lambda e: e["t"])
        title = f"layer {layer}" + (f", {direction}" if "direction" in fwd[0] else "")
        parts.append(f'<text x="0" y="{y + 12}" font-weight="bold">{html.escape(title)}: gates, t = 0 .. '
                     f'{T - 1} across</text>')
        y += 22
        for name in GATES[cell]:
            cells, dy = _strip(x0, y, name, np.array([e[name] for e in fwd]))
            parts += cells
            y += dy
        parts.append(f'<text x="0" y="{y + 12}">|gradient back to step t-1| by path</text>')
        chart, dy = _paths_chart(x0, y + 18, bwd, cell, T)
        parts += chart
        y += dy + 36
    width = x0 + T * PX + 200
    return ("<h2>The gates</h2><p>Each unit's gate values at every step (green: sigmoid gates, white "
            "closed = 0, dark open = 1; blue/red: the candidates and the cell state). Below each layer, "
            "the gradient's two ways back, per step.</p>"
            f'<svg id="gates" width="{width}" height="{y}" viewBox="0 0 {width} {y}" role="img" '
            f'font-family="sans-serif" font-size="11">{"".join(parts)}</svg>')
