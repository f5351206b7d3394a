"""Our parameter names in torch.nn.RNN's and torch.nn.Linear's state-dict names (no torch import).

One place for the mapping that `rnn export -f torch`, the torch oracle tests and the torch comparison
scripts all need. torch.nn.RNN has two biases per layer; ours is bias_ih, with bias_hh zero.
"""

from __future__ import annotations

import numpy as np

from rnncli.core.bidirectional import DIRECTIONS
from rnncli.core.model import ModelSpec


def torch_state_dicts(params: dict[str, np.ndarray], spec: ModelSpec
                      ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(torch.nn.RNN state dict, torch.nn.Linear head state dict) as NumPy arrays of the params' dtype."""
    rnn: dict[str, np.ndarray] = {}
    for l in range(spec.num_layers):
        for s in DIRECTIONS[: spec.directions]:  # torch's suffix for the reverse direction too
            rnn[f"weight_ih_l{l}{s}"] = params[f"rnn.{l}.W_xh{s}"]
            rnn[f"weight_hh_l{l}{s}"] = params[f"rnn.{l}.W_hh{s}"]
            rnn[f"bias_ih_l{l}{s}"] = params[f"rnn.{l}.b_h{s}"]
            rnn[f"bias_hh_l{l}{s}"] = np.zeros_like(params[f"rnn.{l}.b_h{s}"])
    return rnn, {"weight": params[spec.head_weight], "bias": params["head.b_y"]}
