"""Our parameter names in torch.nn.RNN/GRU/LSTM's and torch.nn.Linear's state-dict names (no torch import).

One place for the mapping that `rnn export -f torch`, the torch oracle tests and the torch comparison
scripts all need; every cell says its own (core/cells/: TORCH_CLASS, TORCH_NAMES). The gated cells keep
torch's names and layout (W_ih = weight_ih, ..., gates stacked in torch's order), so their tensors move
unchanged. The Elman cell has one bias, b_h: torch.nn.RNN's bias_ih, with bias_hh zero (and on the
way back the two add).
"""

from __future__ import annotations

import numpy as np

from rnncli.core.bidirectional import DIRECTIONS
from rnncli.core.model import ModelSpec

__all__ = ["params_from_torch", "torch_args", "torch_class", "torch_state_dicts"]

_TORCH_ORDER = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


def torch_class(spec: ModelSpec) -> str:
    """The torch.nn class computing the same layers: "RNN", "GRU" or "LSTM"."""
    return spec.cell_module.TORCH_CLASS


def torch_args(spec: ModelSpec) -> dict:
    """Constructor arguments of that class (batch_first=True), so `getattr(torch.nn, cls)(**args)` fits."""
    args = {"input_size": spec.embedding_size or spec.input_size, "hidden_size": spec.hidden_size,
            "num_layers": spec.num_layers}
    if torch_class(spec) == "RNN":
        args["nonlinearity"] = spec.nonlinearity
    return {**args, "bias": True, "batch_first": True, "bidirectional": spec.bidirectional}


def _layers(spec: ModelSpec):
    """(l, suffix) of every layer and direction; torch's suffix for the reverse direction is ours."""
    return [(l, s) for l in range(spec.num_layers) for s in DIRECTIONS[: spec.directions]]


def torch_state_dicts(params: dict[str, np.ndarray], spec: ModelSpec
                      ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(torch.nn.RNN/GRU/LSTM state dict, torch.nn.Linear head state dict) as NumPy arrays of the
    params' dtype; a torch tensor our cell does not have (the Elman cell's bias_hh) is zero."""
    names = spec.cell_module.TORCH_NAMES
    rnn: dict[str, np.ndarray] = {}
    for l, s in _layers(spec):
        theirs = {t: params[f"rnn.{l}.{ours}{s}"] for ours, t in names.items()}
        for t in _TORCH_ORDER:
            rnn[f"{t}_l{l}{s}"] = theirs[t] if t in theirs else np.zeros_like(theirs["bias_ih"])
    return rnn, {"weight": params[spec.head_weight], "bias": params["head.b_y"]}


def params_from_torch(rnn: dict[str, np.ndarray], head: dict[str, np.ndarray], spec: ModelSpec
                      ) -> dict[str, np.ndarray]:
    """The way back: our recurrent and head parameters from the two state dicts (NumPy arrays).

    A torch tensor the cell has no twin for (the Elman cell's bias_hh) is added into bias_ih's.
    An embedding (embed.W) is not part of these two dicts: the caller adds it.
    """
    names = spec.cell_module.TORCH_NAMES
    params: dict[str, np.ndarray] = {}
    for l, s in _layers(spec):
        for ours, t in names.items():
            value = np.array(rnn[f"{t}_l{l}{s}"])
            if t == "bias_ih" and "bias_hh" not in names.values():
                value = value + np.asarray(rnn[f"bias_hh_l{l}{s}"])
            params[f"rnn.{l}.{ours}{s}"] = value
    params[spec.head_weight] = np.array(head["weight"])
    params["head.b_y"] = np.array(head["bias"])
    return params
