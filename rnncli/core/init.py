"""Parameter initialisation, seeded through an explicit np.random.Generator.

Draws happen in a fixed order (layer by layer, each direction's parameters as its cell draws them
(core/cells/: Elman W_xh, W_hh), a bidirectional layer's reverse twins after the forward ones; then
the head, then an embedding) in float64 and are cast once, so the same seed gives bit-identical
parameters, and float32 and float64 runs start from the same values rounded.
"""

from __future__ import annotations

import numpy as np

from rnncli.core.bidirectional import DIRECTIONS
from rnncli.core.cells import get_cell
from rnncli.core.initializers import INITS, RECURRENT_INITS, draw, orthogonal
from rnncli.core.model import param_shapes

__all__ = ["INITS", "RECURRENT_INITS", "init_params", "orthogonal"]


def init_params(
    spec,
    rng: np.random.Generator,
    *,
    init: str = "uniform",
    recurrent_init: str | None = None,
    scale: float = 0.01,
    forget_bias: float = 0.0,
    dtype=np.float64,
) -> dict[str, np.ndarray]:
    """Fresh parameters for a ModelSpec; biases zero (but an LSTM's forget_bias).

    Args:
        init: normal (N(0, scale^2)), uniform (±1/sqrt(H)) or xavier, for every weight matrix.
        recurrent_init: for W_hh (each gate's block): None (same as init), orthogonal, or identity
            (IRNN, Le et al. 2015).
        scale: standard deviation for `normal`.
        forget_bias: added to the LSTM's forget-gate block of b_ih (Jozefowicz et al. 2015).
    """
    if recurrent_init is not None and recurrent_init not in RECURRENT_INITS:
        raise ValueError(f"recurrent_init must be one of {RECURRENT_INITS}, got {recurrent_init!r}")
    if init not in INITS:
        raise ValueError(f"init must be one of {INITS}, got {init!r}")
    H = spec.hidden_size
    s = scale if init == "normal" else 1.0 / np.sqrt(H)
    cell = get_cell(spec.cell)
    params: dict[str, np.ndarray] = {}
    shapes = param_shapes(spec)
    for l in range(spec.num_layers):
        for suffix in DIRECTIONS[: spec.directions]:  # a bidirectional layer: forward, then reverse
            layer = cell.init_layer(rng, spec.layer_input_size(l), H, init=init,
                                    recurrent_init=recurrent_init, scale=s, forget_bias=forget_bias)
            params.update({f"rnn.{l}.{k}{suffix}": v for k, v in layer.items()})
    if not spec.tie_weights:
        params["head.W_hy"] = draw(rng, shapes["head.W_hy"], init, s)
    params["head.b_y"] = np.zeros(spec.output_size)
    if spec.embedding_size:  # drawn last, so models without one draw what they always drew
        shape = shapes["embed.W"]
        # Untied: N(0, 1) as torch.nn.Embedding. Tied, it is also the head's weight: drawn as the head's
        # (N(0, 1) rows would give logits of size sqrt(H) at the start).
        params["embed.W"] = draw(rng, shape, init, s) if spec.tie_weights else rng.standard_normal(shape)
    return {k: v.astype(dtype) for k, v in params.items()}
