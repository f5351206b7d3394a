"""`rnn explain --html`: one explained pass as a self-contained page (inline SVG, CSS and JS; nothing is
fetched from the network), drawing the unrolled network, the values on it and the backward flow.

The picture is static SVG made here, so it shows without JavaScript; a small script adds the detail
panel (every number of a step, from the same data embedded as JSON) when a node is clicked.
Letters: T time, H hidden, L layers.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np

from rnncli.fsutil import atomic_write_text
from rnncli.tools.explain_gates_html import EQUATIONS, gates_section

__all__ = ["page", "write_page"]

COL, BOX_W, ROW_H, CELL = 220, 150, 15, 11  # column pitch, node width, one value's line, colour cell
SHOWN = 8  # values drawn per node; the detail panel has all of them
_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;background:#fff}
h1{font-size:20px;margin:0 0 4px}.sub{color:#555;margin:0 0 12px}
.eq{font-family:ui-monospace,monospace;background:#f4f4f8;padding:8px 12px;border-radius:6px;white-space:pre}
svg{display:block;margin:12px 0;overflow:visible}.wrap{overflow-x:auto}
.node rect.box{fill:#fff;stroke:#555;stroke-width:1.2;cursor:pointer}
.node:hover rect.box{stroke:#000;stroke-width:2}
.node text{font:11px ui-monospace,monospace}.node text.title{font-weight:bold;font-size:12px}
.fwd{stroke:#444;stroke-width:1.5;fill:none;marker-end:url(#arrow)}
.bwd{stroke:#d62728;fill:none;opacity:.8;marker-end:url(#arrow-red)}
.bwd-label{fill:#d62728;font:10px sans-serif}
.legend text{font:12px sans-serif}
table{border-collapse:collapse;margin:8px 0}
td,th{border:1px solid #ccc;padding:2px 8px;font:12px ui-monospace,monospace;text-align:right}
th{background:#f4f4f8}#details{min-height:40px}.ok{color:#2a7a2a}.bad{color:#c00}
"""
_JS = """
const D = JSON.parse(document.getElementById('data').textContent);
const f = v => Array.isArray(v) ? '[' + v.map(f).join(', ') + ']'
  : (v === null ? '-' : Number(v).toPrecision(4));
const is = (e, layer, dir, t) => e.layer === layer && e.t === t && (e.direction || 'forward') === dir;
function show(layer, dir, t) {
  const fw = D.forward.find(e => is(e, layer, dir, t));
  const bw = D.backward.find(e => is(e, layer, dir, t));
  const keys = (e, skip) => Object.keys(e).filter(k => !skip.includes(k)).map(k => [k, e[k]]);
  const rows = bw.dh_da === undefined ? keys(fw, ['layer', 't', 'direction']).concat(  // a gated cell
    keys(bw, ['layer', 't', 'direction'])) : [['x (the layer input u_t)', fw.x], ['a_t', fw.a], ['h_t', fw.h]]
    .concat(fw.y ? [['y_t', fw.y]] : [])
    .concat([['dh from output', bw.dh_from_output], ['dh from t+1', bw.dh_from_next], ['dh_t', bw.dh],
             ["f'(a_t)", bw.dh_da], ['da_t', bw.da], ['dW_xh (this step)', bw.dW_xh],
             ['dW_hh (this step)', bw.dW_hh], ['db_h (this step)', bw.db_h]]);
  const where = 'layer ' + layer + (fw.direction ? ', ' + dir : '') + ', step t = ' + t;
  document.getElementById('details').innerHTML = '<h3>' + where + '</h3><table>' +
    rows.map(r => '<tr><th>' + r[0] + '</th><td style="text-align:left">' + f(r[1]) + '</td></tr>').join('') +
    '</table>';
}
document.querySelectorAll('g.node[data-t]').forEach(g =>
  g.addEventListener('click', () => show(+g.dataset.layer, g.dataset.direction, +g.dataset.t)));
const last = D.forward[D.forward.length - 1];
show(last.layer, last.direction || 'forward', last.t);
"""


def _colour(v: float, scale: float) -> str:
    """Blue for negative, red for positive, white at 0; saturated at |v| = scale."""
    s = 0.0 if scale == 0 or not np.isfinite(v) else max(-1.0, min(1.0, v / scale))
    fade = int(255 * (1 - abs(s)))
    return f"rgb(255,{fade},{fade})" if s > 0 else f"rgb({fade},{fade},255)"


def _column(x: float, y: float, values, scale: float, head: str) -> list[str]:
    out = [f'<text x="{x}" y="{y + 10}" fill="#555">{html.escape(head)}</text>']
    for i, v in enumerate(np.atleast_1d(values)[:SHOWN]):
        top = y + 14 + i * ROW_H
        out.append(f'<rect x="{x}" y="{top}" width="{CELL}" height="{CELL}" fill="{_colour(v, scale)}" '
                   f'stroke="#999" stroke-width=".5"/>')
        out.append(f'<text x="{x + CELL + 3}" y="{top + 9}">{v:.3g}</text>')
    return out


def _node_height(n: int) -> int:
    return 28 + min(n, SHOWN) * ROW_H + (12 if n > SHOWN else 0)


def _node(x: float, y: float, title: str, columns: list[tuple[str, np.ndarray, float]], n: int,
          attrs: str = "") -> str:
    """A box at (x, y) with a title and one or two value columns (forward value, gradient)."""
    height = _node_height(n)
    parts = [f'<g class="node" {attrs}><rect class="box" x="{x}" y="{y}" width="{BOX_W}" height="{height}" '
             f'rx="6"/><text class="title" x="{x + 6}" y="{y + 14}">{html.escape(title)}</text>']
    for k, (head, values, scale) in enumerate(columns):
        parts += _column(x + 6 + k * 72, y + 16, values, scale, head)
    if n > SHOWN:
        parts.append(f'<text x="{x + 6}" y="{y + height - 4}" fill="#555">... {n} values</text>')
    return "".join(parts) + "</g>", height


def _arrow(x1, y1, x2, y2, cls: str, width: float = 1.5, via: tuple | None = None) -> str:
    """A straight arrow, or a bent one through the point `via` (to pass beside a box, not through it)."""
    bend = f" L{via[0]:.1f},{via[1]:.1f}" if via else ""
    return f'<path class="{cls}" d="M{x1:.1f},{y1:.1f}{bend} L{x2:.1f},{y2:.1f}" stroke-width="{width:.2f}"/>'


def _width(norm: float, top: float) -> float:
    """Stroke width of a backward arrow: 1 to 7 pixels on a log scale over 6 decades below the largest."""
    if top <= 0 or norm <= 0:
        return 0.6
    return 1.0 + 4.0 * max(0.0, 1.0 + np.log10(norm / top) / 6.0)


_DEFS = ('<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" markerHeight="8" '
         'markerUnits="userSpaceOnUse" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#444"/></marker>'
         '<marker id="arrow-red" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="10" markerHeight="10" '
         'markerUnits="userSpaceOnUse" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#d62728"/></marker>'
         '</defs>')


def _largest(values) -> float:
    return max((float(np.max(np.abs(v))) for v in values), default=0.0) or 1.0


class _Drawing:
    """The unrolled network: x_t at the bottom, one row per layer (and direction) above, the bottom layer
    first, outputs on top; one column per step. Black arrows carry the forward pass, red ones the gradient
    coming back. A reverse direction's recurrence runs right to left, so its arrows point the other way."""

    def __init__(self, result: dict, spec: dict) -> None:
        self.result, self.spec = result, spec
        self.L, self.T = spec["num_layers"], max(e["t"] for e in result["forward"]) + 1
        dirs = ("forward", "reverse") if any("direction" in e for e in result["forward"]) else ("forward",)
        self.rows = [(l, d) for l in range(self.L) for d in dirs]  # bottom to top
        key = lambda e: (e["layer"], e.get("direction", "forward"), e["t"])  # noqa: E731
        self.fwd = {key(e): e for e in result["forward"]}
        self.bwd = {key(e): e for e in result["backward"]}
        self.scale_h = _largest(e["h"] for e in result["forward"])
        self.scale_d = _largest(e["dh"] for e in result["backward"])
        self.node_h = _node_height(len(result["forward"][0]["h"]))
        self.pitch = self.node_h + 70
        self.out_y, self.top_y = 60, 60 + self.pitch  # output row, then the rows, the top one first
        self.x_y = self.top_y + len(self.rows) * self.pitch
        flows = [np.linalg.norm(e[k]) for e in result["backward"] for k in ("dh_from_next", "dh_from_output")]
        self.top_norm = float(max(flows, default=0.0))
        self.elems: list[str] = []
        self.arrows: list[str] = []

    def _flow(self, x1, y1, x2, y2, vector, label_at: tuple[float, float], via: tuple | None = None) -> None:
        """A red arrow whose width grows with the log of the gradient's norm, labelled with the norm."""
        norm = float(np.linalg.norm(vector))
        self.arrows.append(_arrow(x1, y1, x2, y2, "bwd", _width(norm, self.top_norm), via))
        self.arrows.append(f'<text class="bwd-label" x="{label_at[0]}" y="{label_at[1]}">{norm:.2g}</text>')

    def _recurrence(self, l: int, d: str, t: int, cx: float, y: float) -> None:
        """h_{t-1} -> h_t (forward direction) or h_{t+1} -> h_t (reverse), and the gradient going back."""
        nh, left = self.node_h, cx - COL + BOX_W
        if d == "forward" and t > 0:
            self.arrows.append(_arrow(left, y + 20, cx - 2, y + 20, "fwd"))
            self._flow(cx - 2, y + nh - 14, left + 4, y + nh - 14, self.bwd[l, d, t - 1]["dh_from_next"],
                       (left + 8, y + nh - 22))
        if d == "reverse" and t > 0:  # the step on the left runs after this one: arrows swap
            self.arrows.append(_arrow(cx - 2, y + 20, left + 2, y + 20, "fwd"))
            self._flow(left + 4, y + nh - 14, cx - 4, y + nh - 14, self.bwd[l, d, t]["dh_from_next"],
                       (left + 8, y + nh - 22))

    def hidden(self, r: int, t: int) -> None:
        (l, d), R = self.rows[r], len(self.rows)
        cx, y, nh = 20 + t * COL, self.top_y + (R - 1 - r) * self.pitch, self.node_h
        parts = ([str(l)] if self.L > 1 else []) + ([{"forward": "fwd"}.get(d, "rev")] if R > self.L else [])
        title = f"h^({','.join(parts)})_{t}" if parts else f"h_{t}"
        first = self.rows.index((l, self.rows[r][1] if R == self.L else "forward"))  # the layer's lowest row
        last = first + R // self.L - 1  # and its highest
        node, _ = _node(cx, y, title, [("h", self.fwd[l, d, t]["h"], self.scale_h),
                                       ("dL/dh", self.bwd[l, d, t]["dh"], self.scale_d)],
                        len(self.fwd[l, d, t]["h"]), f'data-layer="{l}" data-t="{t}" data-direction="{d}"')
        self.elems.append(node)
        below = self.x_y if first == 0 else self.top_y + (R - first) * self.pitch  # the layer's input row
        if r == first:
            self.arrows.append(_arrow(cx + 40, below, cx + 40, y + nh + 2, "fwd"))
        else:  # the reverse row reads the same input: past the forward row's box, on its left
            self.arrows.append(_arrow(cx - 10, below, cx + 20, y + nh + 2, "fwd", via=(cx - 10, y + nh + 14)))
        self._recurrence(l, d, t, cx, y)
        if l < self.L - 1 or self.spec["output"] == "sequence" or t == (self.T - 1 if d == "forward" else 0):
            above = self.top_y + (R - 2 - last) * self.pitch + nh  # bottom of the next layer's first row
            src_y = self.out_y + 60 if l == self.L - 1 else above
            vector = self.bwd[l, d, t]["dh_from_output"]
            if r == last:
                self._flow(cx + 110, src_y + 4, cx + 110, y - 4, vector, (cx + 114, (src_y + y) / 2))
            else:  # past the reverse row's box, on its right
                self._flow(cx + BOX_W + 10, src_y + 4, cx + 130, y - 4, vector,
                           (cx + BOX_W + 14, y - 30), via=(cx + BOX_W + 10, y - 16))

    def output(self, t: int) -> None:
        seq, out = self.spec["output"] == "sequence", self.result["output"]
        cx = 20 + t * COL
        y_val = self.fwd[self.L - 1, "forward", t]["y"] if seq else out["y"]
        dy = out["dy"][t] if seq else out["dy"]
        scale = max(_largest([y_val]), _largest([dy]))
        node, h_y = _node(cx, self.out_y, f"y_{t}" if seq else "y",
                          [("y", y_val, scale), ("dL/dy", dy, scale)], len(np.atleast_1d(y_val)),
                          'data-output="1"')
        self.elems.append(node)
        self.arrows.append(_arrow(cx + 40, self.top_y - 4, cx + 40, self.out_y + h_y + 2, "fwd"))

    def svg(self) -> str:
        xs = [self.fwd[0, "forward", t]["x"] for t in range(self.T)]
        for t in range(self.T):
            node, _ = _node(20 + t * COL, self.x_y, f"x_{t}", [("x", xs[t], _largest(xs))], len(xs[t]),
                            f'data-x="{t}"')
            self.elems.append(node)
            for r in range(len(self.rows)):
                self.hidden(r, t)
            if self.spec["output"] == "sequence" or t == self.T - 1:
                self.output(t)
        width, height = 40 + self.T * COL, self.x_y + _node_height(len(xs[0])) + 30
        loss = (f'<text x="20" y="30" font-size="14" font-weight="bold">loss L = {self.result["loss"]:.6g}'
                '</text><text x="20" y="48" font-size="12" fill="#d62728">red: the gradient flowing back; '
                'width ~ log of its norm</text>')
        return (f'<svg id="unrolled" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
                f'role="img">{_DEFS}{loss}{"".join(self.arrows)}{"".join(self.elems)}</svg>')


def _check_table(result: dict) -> str:
    rows = []
    for name, grad in result["grads"].items():
        check = result["numerical"].get(name, {})
        diff = check.get("max_abs_diff", float("nan"))
        cls = "ok" if diff < 1e-6 else "bad"
        rows.append(f"<tr><th>{html.escape(name)}</th><td>{np.asarray(grad).shape}</td>"
                    f"<td>{float(np.linalg.norm(grad)):.4g}</td><td>{check.get('checked', 0)}</td>"
                    f'<td class="{cls}">{diff:.2g}</td></tr>')
    return ("<table><tr><th>tensor</th><th>shape</th><th>|gradient|</th><th>entries checked</th>"
            "<th>max |backprop - centred difference|</th></tr>" + "".join(rows) + "</table>")


def _json_safe(obj):
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _json_safe(obj.tolist())
    if isinstance(obj, (float, np.floating)):
        return float(obj) if np.isfinite(obj) else None
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


def page(result: dict, spec: dict, title: str, loss: str) -> str:
    """The whole HTML document for explain_sequence's `result` (numerical filled in)."""
    f = spec["nonlinearity"]
    deriv = "1 - h_t^2" if f == "tanh" else "1[h_t > 0]"
    eq = html.escape(f"forward:   a_t = W_xh x_t + W_hh h_t-1 + b_h,   h_t = {f}(a_t),   h_-1 = 0\n"
                     "backward:  dh_t = W_hy^T dL/dy_t (from the output) + W_hh^T da_t+1 (from step t+1)\n"
                     f"           da_t = f'(a_t) * dh_t,   f'(a_t) = {deriv}\n"
                     "sums:      dW_xh = sum_t da_t x_t^T,   dW_hh = sum_t da_t h_t-1^T,   db_h = sum_t da_t"
                     + ("\nreverse:   the same with W_*_reverse, running from t = T-1 down to 0 (h_T = 0, "
                        "dh from t-1);\n           the layer above and the head read [h fwd ; h rev]"
                        if spec.get("bidirectional") else ""))
    eq = html.escape(EQUATIONS[spec["cell"]]) if spec.get("cell", "rnn") in EQUATIONS else eq
    data = json.dumps(_json_safe({"forward": result["forward"], "backward": result["backward"]}))
    data = data.replace("</", "<\\/")  # nothing inside the JSON can close the script element
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"<style>{_CSS}</style></head><body><h1>Backpropagation through time, one sequence</h1>"
            f'<p class="sub">{html.escape(title)}; loss {html.escape(loss)} = {result["loss"]:.6g}</p>'
            f'<div class="eq">{eq}</div><div class="wrap">{_Drawing(result, spec).svg()}</div>'
            '<p>Click a hidden state for every number of its step.</p><div id="details"></div>'
            f"{gates_section(result, spec)}"
            f"<h2>Gradients against centred differences</h2>{_check_table(result)}"
            f'<script type="application/json" id="data">{data}</script><script>{_JS}</script></body></html>')


def write_page(path: str | Path, done) -> Path:
    """Write the page for an Explained (tools/explain_input.py) atomically to `path`."""
    spec = done.spec.to_dict()
    unit = spec["nonlinearity"] if spec.get("cell", "rnn") == "rnn" else spec["cell"].upper()
    title = (f"{done.source} - {spec['num_layers']} layer(s) x {spec['hidden_size']} "
             f"{unit}, output {spec['output']}")
    text = page(done.result, spec, title, done.task.loss)
    atomic_write_text(path, text)
    return Path(path)
