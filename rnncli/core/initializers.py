"""The weight draws every cell's initialisation uses (float64; cast once by core/init.py).

Kept apart from init.py so the cell modules (core/cells/) can draw their own parameters without
importing the model: init.py asks the cells, the cells use these.
"""

from __future__ import annotations

import numpy as np

INITS = ("normal", "uniform", "xavier")
RECURRENT_INITS = ("orthogonal", "identity")


def draw(rng: np.random.Generator, shape: tuple[int, ...], init: str, scale: float) -> np.ndarray:
    """A (fan_out, fan_in) weight matrix drawn by `init`; `scale` is normal's sigma or uniform's bound."""
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


def recurrent_block(rng: np.random.Generator, H: int, init: str, recurrent_init: str | None,
                    scale: float) -> np.ndarray:
    """One (H, H) recurrent block: orthogonal, identity (IRNN, Le et al. 2015), or drawn as `init`."""
    if recurrent_init == "orthogonal":
        return orthogonal(rng, H)
    if recurrent_init == "identity":
        return np.eye(H)
    return draw(rng, (H, H), init, scale)
