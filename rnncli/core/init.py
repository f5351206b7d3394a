"""Parameter initialisation, seeded through an explicit np.random.Generator.

Draws happen in a fixed order (layer by layer: W_xh, W_hh, then a bidirectional layer's reverse
twins; then the head, then an embedding) in float64 and are cast
once, so the same seed gives bit-identical parameters, and float32 and float64 runs start from the
same values rounded.
"""

from __future__ import annotations

import numpy as np

from rnncli.core.bidirectional import DIRECTIONS
from rnncli.core.model import param_shapes

INITS = ("normal", "uniform", "xavier")
RECURRENT_INITS = ("orthogonal", "identity")


def _draw(rng: np.random.Generator, shape: tuple[int, ...], init: str, scale: float) -> np.ndarray:
    fan_out, fan_in = shape
    if init == "normal":  # the reference notebooks: randn * 0.01 (or 0.001)
        return rng.standard_normal(shape) * scale
    if init == "uniform":  # torch.nn.RNN's default: U(-1/sqrt(H), 1/sqrt(H)), H = hidden size
        return rng.uniform(-1.0, 1.0, shape) * scale
    if init == "xavier":  # Glorot uniform: keeps activation variance across the layer
        bound = np.sqrt(6.0 / (fan_in + fan_out))
        return rng.uniform(-bound, bound, shape)
    raise ValueError(f"init must be one of {INITS}, got {init!r}")


def orthogonal(rng: np.random.Generator, n: int) -> np.ndarray:
    """A random orthogonal (n, n) matrix: all singular values 1, so gradients neither vanish nor
    explode through W_hh alone (Saxe et al. 2014). Sign-corrected QR gives the Haar distribution."""
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.sign(np.diag(r))


def init_params(
    spec,
    rng: np.random.Generator,
    *,
    init: str = "uniform",
    recurrent_init: str | None = None,
    scale: float = 0.01,
    dtype=np.float64,
) -> dict[str, np.ndarray]:
    """Fresh parameters for a ModelSpec; biases zero.

    Args:
        init: normal (N(0, scale^2)), uniform (±1/sqrt(H)) or xavier, for every weight matrix.
        recurrent_init: for W_hh: None (same as init), orthogonal, or identity (IRNN, Le et al. 2015).
        scale: standard deviation for `normal`.
    """
    if recurrent_init is not None and recurrent_init not in RECURRENT_INITS:
        raise ValueError(f"recurrent_init must be one of {RECURRENT_INITS}, got {recurrent_init!r}")
    H = spec.hidden_size
    uniform_bound = 1.0 / np.sqrt(H)
    s = scale if init == "normal" else uniform_bound
    params: dict[str, np.ndarray] = {}
    shapes = param_shapes(spec)
    for l in range(spec.num_layers):
        for suffix in DIRECTIONS[: spec.directions]:  # a bidirectional layer: forward, then reverse
            params[f"rnn.{l}.W_xh{suffix}"] = _draw(rng, shapes[f"rnn.{l}.W_xh{suffix}"], init, s)
            if recurrent_init == "orthogonal":
                params[f"rnn.{l}.W_hh{suffix}"] = orthogonal(rng, H)
            elif recurrent_init == "identity":
                params[f"rnn.{l}.W_hh{suffix}"] = np.eye(H)
            else:
                params[f"rnn.{l}.W_hh{suffix}"] = _draw(rng, (H, H), init, s)
            params[f"rnn.{l}.b_h{suffix}"] = np.zeros(H)
    if not spec.tie_weights:
        params["head.W_hy"] = _draw(rng, shapes["head.W_hy"], init, s)
    params["head.b_y"] = np.zeros(spec.output_size)
    if spec.embedding_size:  # drawn last, so models without one draw what they always drew
        shape = shapes["embed.W"]
        # Untied: N(0, 1) as torch.nn.Embedding. Tied, it is also the head's weight: drawn as the head's
        # (N(0, 1) rows would give logits of size sqrt(H) at the start).
        params["embed.W"] = _draw(rng, shape, init, s) if spec.tie_weights else rng.standard_normal(shape)
    return {k: v.astype(dtype) for k, v in params.items()}
