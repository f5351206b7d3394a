"""The recurrent layers of an exported graph: one standard ONNX `RNN`, `GRU` or `LSTM` node per layer.

Letters: B batch, T time, H hidden, L layers, D directions, G gates.

ONNX's recurrent operators take torch's tensors (use/torch_layout.py) with the gates' row blocks in
their own order, so each cell's blocks are reordered by name (the cell's GATES):

    RNN   one block                       W = weight_ih, R = weight_hh, B = [bias_ih ; bias_hh]
    GRU   ONNX z, r, h  <- torch r, z, n  linear_before_reset=1: the reset gate multiplies
                                          (R_h h_{t-1} + Rb_h), as torch computes it
    LSTM  ONNX i, o, f, c <- torch i, f, g, o   the state is (Y_h, Y_c), initial_h and initial_c

Every node gets the `lengths` input as `sequence_lens` (a row's final state is the one at its last
valid step, the reverse direction starts there) and, with `state`, the slice of h0 (and c0) that
belongs to its layer; the graph's state inputs and outputs are named after the cell's STATE parts
("h0" -> "h", "c0" -> "c"), each (L*D, B, H) in torch's h_n order.
"""

from __future__ import annotations

import numpy as np

from rnncli.core.bidirectional import DIRECTIONS
from rnncli.use.torch_layout import torch_class, torch_state_dicts

__all__ = ["ONNX_OPS", "recurrent_layers", "state_inputs", "state_outputs"]

# torch class -> (ONNX operator, the cell's gate names in ONNX's block order, extra attributes)
ONNX_OPS: dict[str, tuple[str, tuple[str, ...], dict]] = {
    "RNN": ("RNN", ("h",), {}),
    "GRU": ("GRU", ("z", "r", "n"), {"linear_before_reset": 1}),
    "LSTM": ("LSTM", ("i", "o", "f", "g"), {}),
}


def state_inputs(spec) -> list[str]:
    """The graph's state inputs, one per part of the cell's state: ["h0"] or ["h0", "c0"]."""
    return [f"{name}0" for name in spec.state_names]


def state_outputs(spec) -> list[str]:
    """The graph's state outputs: ["h"] or ["h", "c"]."""
    return list(spec.state_names)


def _f32(a) -> np.ndarray:
    return np.asarray(a, dtype=np.float32)


def _reorder(a: np.ndarray, gates: tuple[str, ...], order: tuple[str, ...]) -> np.ndarray:
    """Row blocks of a stacked (G*H, ...) tensor from the cell's gate order into ONNX's."""
    blocks = np.split(_f32(a), len(gates))
    return np.concatenate([blocks[gates.index(name)] for name in order])


def _layer_weights(g, torch_rnn: dict, l: int, D: int, gates: tuple[str, ...], order: tuple[str, ...]
                   ) -> tuple[str, str, str]:
    """W (D, G*H, in), R (D, G*H, H), B (D, 2*G*H) of layer l: direction 0 forward, 1 reverse."""
    suffixes = DIRECTIONS[:D]

    def stacked(name: str) -> np.ndarray:
        return np.stack([_reorder(torch_rnn[f"{name}_l{l}{s}"], gates, order) for s in suffixes])

    B = np.concatenate([stacked("bias_ih"), stacked("bias_hh")], axis=1)
    return (g.const(f"rnn.{l}.W", stacked("weight_ih")), g.const(f"rnn.{l}.R", stacked("weight_hh")),
            g.const(f"rnn.{l}.B", B))


def _merge_directions(g, Y: str, D: int) -> str:
    """Y (T, D, B, H) -> (T, B, D*H): [forward h_t ; reverse h_t] as the layer above reads it."""
    if D == 1:
        return g.op1("Squeeze", [Y, g.const("axis_1", np.array([1], dtype=np.int64))])
    tbdh = g.op1("Transpose", [Y], perm=[0, 2, 1, 3])
    return g.op1("Reshape", [tbdh, g.const("shape_tb_", np.array([0, 0, -1], dtype=np.int64))])


def _activations(spec, op: str) -> list[str]:
    """Each direction's activations: the Elman cell's tanh or relu; the gates' sigmoid and tanh(s)."""
    per = {"RNN": [{"tanh": "Tanh", "relu": "Relu"}[spec.nonlinearity]], "GRU": ["Sigmoid", "Tanh"],
           "LSTM": ["Sigmoid", "Tanh", "Tanh"]}[op]
    return per * spec.directions


def _split_states(g, spec, state: bool) -> list[list[str]]:
    """Per state part, its (D, B, H) slice for each layer: h0 (L*D, B, H) numbered as torch's h_n."""
    L = spec.num_layers
    if not state:
        return [[""] * L for _ in spec.state_names]
    return [g.op("Split", [name], n_out=L, axis=0) if L > 1 else [name]
            for name in state_inputs(spec)]


def recurrent_layers(g, model, steps: str, *, lengths: bool, state: bool
                     ) -> tuple[str, list[list[str]]]:
    """One recurrent node per layer over `steps` (T, B, I).

    Returns:
        top states (T, B, D*H), and per layer its final states [Y_h (D, B, H)] (and Y_c for the LSTM).
    """
    spec = model.spec
    op, order, attrs = ONNX_OPS[torch_class(spec)]
    gates, D = tuple(spec.cell_module.GATES), spec.directions
    parts = len(spec.state_names)
    starts = _split_states(g, spec, state)
    torch_rnn, _ = torch_state_dicts(model.params, spec)
    finals = []
    for l in range(spec.num_layers):
        W, R, B = _layer_weights(g, torch_rnn, l, D, gates, order)
        ins = [steps, W, R, B, "lengths" if lengths else "", *(s[l] for s in starts)]
        while ins[-1] == "":
            ins.pop()  # trailing optional inputs are left out, not named empty
        Y, *Y_final = g.op(op, ins, n_out=1 + parts, hidden_size=spec.hidden_size,
                           activations=_activations(spec, op),
                           direction="bidirectional" if D == 2 else "forward", **attrs)
        steps = _merge_directions(g, Y, D)
        finals.append(Y_final)
    return steps, finals
