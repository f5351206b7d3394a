"""A saved model as an ONNX graph built from the standard `RNN` operator (`rnn export -f onnx`).

Letters: B batch, T time, I input, H hidden, O output, L layers, V vocabulary.

The graph (opset 17, IR version 8, float32, dynamic batch and time):

    x (B, T, I) float32            regression / classification inputs in original units
      or (B, T) int64              token ids of a text model (one-hot by a Gather on eye(V))
    -> (x - input_mean) / input_std          when the data was standardised
    -> Transpose to (T, B, I) -> RNN, GRU or LSTM (one node per layer, forward or bidirectional;
       a layer above reads [forward h_t ; reverse h_t]; use/onnx_recurrent.py)
    -> head on Y_h of the top layer (last: both directions' final states) or on every step's Y
    -> Softmax (classifiers, text) | y * target_std + target_mean (scaled regression)
    -> y (B, O) or (B, T, O)

Options: `lengths` adds an int32 input (B,) fed to every layer's `sequence_lens`, for zero-padded
batches of different lengths (Y_h is then the state at each row's last valid step, as in `rnn`);
`state` adds an input `h0` (L*D, B, H) and an output `h` (L*D, B, H) (D = 2 directions if
bidirectional, numbered as torch's h_n), and for the LSTM `c0` and `c` beside them, to continue a
sequence (text generation one token at a time).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from rnncli.errors import UsageError
from rnncli.use.model_io import LoadedModel
from rnncli.use.onnx_recurrent import recurrent_layers, state_inputs, state_outputs
from rnncli.weights import shareable_meta

__all__ = ["OPSET", "build_onnx", "onnx_inputs", "takes_tokens"]

OPSET = 17
IR_VERSION = 8  # what opset 17 shipped with: runtimes from 2022 on load the file


class _Graph:
    """Nodes and initializers collected while the graph is built; names are unique by counter."""

    def __init__(self, helper, numpy_helper):
        self.h, self.nh = helper, numpy_helper
        self.nodes: list = []
        self.inits: list = []
        self._names: set[str] = set()
        self._n = 0

    def const(self, name: str, value: np.ndarray) -> str:
        """An initializer; a name already added is reused (shared constants such as axes)."""
        if name not in self._names:
            self._names.add(name)
            self.inits.append(self.nh.from_array(np.ascontiguousarray(value), name))
        return name

    def op(self, op_type: str, inputs: list[str], n_out: int = 1, **attrs) -> list[str]:
        self._n += 1
        outs = [f"{op_type.lower()}_{self._n}_{k}" for k in range(n_out)]
        self.nodes.append(self.h.make_node(op_type, inputs, outs, name=f"{op_type}_{self._n}", **attrs))
        return outs

    def op1(self, op_type: str, inputs: list[str], **attrs) -> str:
        return self.op(op_type, inputs, **attrs)[0]


def _f32(a) -> np.ndarray:
    return np.asarray(a, dtype=np.float32)


def _tiled(values: list[float], width: int) -> np.ndarray:
    """Scaler statistics repeated to `width` columns, as rnncli.data.scaling applies them."""
    v = _f32(values)
    return np.tile(v, width // len(v))


def takes_tokens(model: LoadedModel) -> bool:
    """Whether the graph's input is int64 token ids (text models, models with an embedding)."""
    return model.task.kind == "text" or bool(model.spec.embedding_size)


def _inputs_to_steps(g: _Graph, model: LoadedModel) -> str:
    """Graph input `x` -> (T, B, I) float32 the first RNN layer reads."""
    task, spec = model.task, model.spec
    if takes_tokens(model):
        # (B, T) ids -> (B, T, E) rows of the embedding, or of eye(V): the one-hot vectors
        table = (_f32(model.params["embed.W"]) if spec.embedding_size
                 else np.eye(spec.input_size, dtype=np.float32))
        x = g.op1("Gather", [g.const("embed.W", table), "x"], axis=0)
    else:
        # a model trained on (N, C, T) arrays takes them as `rnn predict` does
        x = "x" if task.layout != "NCT" else g.op1("Transpose", ["x"], perm=[0, 2, 1])
        if task.scaler and "input_mean" in task.scaler:
            I = model.spec.input_size
            mean = g.const("input_mean", _tiled(task.scaler["input_mean"], I))
            std = g.const("input_std", _tiled(task.scaler["input_std"], I))
            x = g.op1("Div", [g.op1("Sub", [x, mean]), std])
    return g.op1("Transpose", [x], perm=[1, 0, 2])


def _head(g: _Graph, model: LoadedModel, top_steps: str, top_final: str) -> str:
    """Linear head, then softmax or un-scaling: the graph output `y`."""
    spec, task, p = model.spec, model.task, model.params
    W_t = g.const("head.W_t", _f32(p[spec.head_weight]).T.copy())  # (D*H, O); embed.W when tied
    b = g.const("head.b_y", _f32(p["head.b_y"]))
    if spec.output == "last":  # the top layer's final state(s) (D, B, H) -> (B, D*H)
        top = g.op1("Transpose", [top_final], perm=[1, 0, 2])
        top = g.op1("Reshape", [top, g.const("shape_b_", np.array([0, -1], dtype=np.int64))])
    else:
        top = g.op1("Transpose", [top_steps], perm=[1, 0, 2])  # (B, T, H)
    y = g.op1("Add", [g.op1("MatMul", [top, W_t]), b])
    if task.loss == "cross_entropy":
        return g.op1("Softmax", [y], axis=-1)
    if task.kind == "regression" and task.scaler and "target_mean" in task.scaler:
        O = spec.output_size
        std = g.const("target_std", _tiled(task.scaler["target_std"], O))
        mean = g.const("target_mean", _tiled(task.scaler["target_mean"], O))
        y = g.op1("Add", [g.op1("Mul", [y, std]), mean])
    return y


def onnx_inputs(model: LoadedModel, *, lengths: bool = False, state: bool = False) -> dict[str, str]:
    """Name -> a short description of each graph input (for help texts and the model's doc)."""
    spec = model.spec
    features = (f"float32 (batch, {spec.input_size}, time)" if model.task.layout == "NCT"
                else f"float32 (batch, time, {spec.input_size})")
    out = {"x": "int64 (batch, time) token ids" if takes_tokens(model) else features}
    if lengths:
        out["lengths"] = "int32 (batch,) valid steps per row"
    if state:
        for name, part in zip(state_inputs(spec), spec.state_names, strict=True):
            out[name] = (f"float32 ({spec.num_layers * spec.directions}, batch, {spec.hidden_size}) "
                         f"initial {part}")
    return out


def _value_infos(helper, TP, model: LoadedModel, *, lengths: bool, state: bool):
    spec = model.spec
    L, H, O = spec.num_layers * spec.directions, spec.hidden_size, spec.output_size
    if takes_tokens(model):
        ins = [helper.make_tensor_value_info("x", TP.INT64, ["batch", "time"])]
    else:
        dims = ["batch", spec.input_size, "time"] if model.task.layout == "NCT" else [
            "batch", "time", spec.input_size]
        ins = [helper.make_tensor_value_info("x", TP.FLOAT, dims)]
    if lengths:
        ins.append(helper.make_tensor_value_info("lengths", TP.INT32, ["batch"]))
    state_shape = [L, "batch", H]
    if state:
        ins += [helper.make_tensor_value_info(name, TP.FLOAT, state_shape) for name in state_inputs(spec)]
    y_shape = ["batch", O] if spec.output == "last" else ["batch", "time", O]
    outs = [helper.make_tensor_value_info("y", TP.FLOAT, y_shape)]
    if state:
        outs += [helper.make_tensor_value_info(name, TP.FLOAT, state_shape) for name in state_outputs(spec)]
    return ins, outs


def build_onnx(model: LoadedModel, *, lengths: bool = False, state: bool = False) -> Any:
    """The model as a checked `onnx.ModelProto` (float32 whatever the model's dtype).

    Args:
        lengths: add the int32 input `lengths` (B,) for ragged, zero-padded batches.
        state: add the input `h0` (L*D, B, H) and the output `h` (L*D, B, H) (and `c0`, `c` for the
            LSTM).

    Raises:
        UsageError: onnx is not installed.
    """
    onnx = _import_onnx()
    from onnx import TensorProto, helper, numpy_helper

    g = _Graph(helper, numpy_helper)
    steps = _inputs_to_steps(g, model)
    top_steps, finals = recurrent_layers(g, model, steps, lengths=lengths, state=state)
    y = _head(g, model, top_steps, finals[-1][0])
    g.nodes.append(helper.make_node("Identity", [y], ["y"], name="output_y"))
    if state:  # each part of the state: the layers' finals stacked as torch's h_n
        for k, name in enumerate(state_outputs(model.spec)):
            layers = [final[k] for final in finals]
            h = layers[0] if len(layers) == 1 else g.op1("Concat", layers, axis=0)
            g.nodes.append(helper.make_node("Identity", [h], [name], name=f"output_{name}"))
    ins, outs = _value_infos(helper, TensorProto, model, lengths=lengths, state=state)
    graph = helper.make_graph(g.nodes, "rnn", ins, outs, g.inits)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="rnncli", doc_string=_doc(model, lengths, state))
    proto.ir_version = IR_VERSION
    helper.set_model_props(proto, _metadata(model))
    onnx.checker.check_model(proto, full_check=True)
    return proto


def _doc(model: LoadedModel, lengths: bool, state: bool) -> str:
    ins = "; ".join(f"{k}: {v}" for k, v in onnx_inputs(model, lengths=lengths, state=state).items())
    what = {"regression": "outputs in original units", "classification": "class probabilities",
            "text": "next-token probabilities"}[model.task.kind]
    per = "per step" if model.spec.output == "sequence" else "per sequence"
    return f"inputs: {ins}. output y: {what}, {per}."


def _metadata(model: LoadedModel) -> dict[str, str]:
    """String metadata: the weights' meta (absolute paths cut to file names), the input layout, and
    on their own the class labels of a classifier and the vocabulary of a text model."""
    props = {"rnn.meta": json.dumps(shareable_meta(model.meta)), "kind": model.task.kind,
             "output": model.spec.output, "layout": model.task.layout}
    if model.task.classes:  # class id -> the label the training data used (outputs are probabilities)
        props["classes"] = json.dumps(model.task.classes)
    if model.task.vocab:  # ids -> tokens; "tokens" says how they join (char: as they are, word: spaces)
        props["vocab"] = json.dumps(model.task.vocab)
        props["tokens"] = str(model.task.tokens)
    return props


def _import_onnx():
    try:
        import onnx
    except ImportError:
        raise UsageError("onnx is not installed: pip install 'rnncli[export]'") from None
    return onnx
