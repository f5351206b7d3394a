"""The whole model: stacked RNN layers plus a linear head, over one flat dict of named arrays.

    y = W_hy h + b_y      on the top layer's state at the last valid step ("last", many-to-one)
                          or at every step ("sequence", many-to-many)

Parameter names (saved weights depend on them): rnn.{l}.<name> for each name of the layer's cell
(core/cells/: the Elman cell's W_xh (H, I) for l = 0 and (H, H) above, W_hh (H, H), b_h (H,)),
head.W_hy (O, H), head.b_y (O,). Gradients and optimizer state use the same keys.

Bidirectional (core/rnn.py): every layer adds the `_reverse` twin of each of its parameters; the layers
above the first read the 2H concatenation [forward ; reverse], and so does the head (head.W_hy is
(O, 2H)): at every step for "sequence", and for "last" the two final states (torch's h_n of the top
layer: forward after the last valid step, reverse after the whole reversed sequence).
States (h0, h_final) are (L*D, B, H), D = 2 directions when bidirectional, numbered as torch's h_n;
the LSTM's state is the pair (h, c) of two such arrays (core/cells/__init__.py).

Token inputs (core/embedding.py): x may be integer ids (B, T) in [0, I); with embedding_size E they
select rows of embed.W (I, E) and rnn.0.W_xh is (H, E), else they are one-hot. tie_weights uses embed.W
as the head's weight (Press & Wolf 2017): no head.W_hy, and embed.W gets both gradients; it needs
E = D*H (what the head reads) and O = I (the head predicts tokens of the same vocabulary).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from rnncli.core.bidirectional import DIRECTIONS
from rnncli.core.cells import CELLS, get_cell, state_from_parts, state_parts
from rnncli.core.embedding import embed_backward, embed_forward, is_token_input, one_hot
from rnncli.core.losses import LOSSES
from rnncli.core.rnn import length_mask, rnn_backward, rnn_forward
from rnncli.core.xp import array_module

# The largest model a config may ask for and a weights file may describe, one bound for both (a
# config past them once trained for minutes and then failed to save): checked before any shape
# is computed (10 million layers would otherwise build 30 million names first); far above any
# model this code can train.
MAX_LAYERS = 1024
MAX_SIZE = 2**24

OUTPUTS = ("last", "sequence")


@dataclass(frozen=True)
class ModelSpec:
    """Architecture: everything needed to rebuild the parameter shapes and the forward pass."""

    input_size: int
    hidden_size: int
    output_size: int
    num_layers: int = 1
    nonlinearity: str = "tanh"
    output: str = "last"
    # New fields have defaults that keep the old model, so weights saved before them still load.
    bidirectional: bool = False
    embedding_size: int | None = None  # E: integer token inputs looked up in embed.W (I, E)
    tie_weights: bool = False  # the head's weight is embed.W
    cell: str = "rnn"  # core/cells/: rnn (Elman, every file saved before cells existed), gru, lstm

    def __post_init__(self):
        for name in ("input_size", "hidden_size", "output_size", "num_layers"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.cell not in CELLS:
            raise ValueError(f"cell must be one of {tuple(CELLS)}, got {self.cell!r}")
        allowed = self.cell_module.NONLINEARITIES
        if self.nonlinearity not in allowed:
            raise ValueError(f"nonlinearity must be one of {allowed} for cell {self.cell}, "
                             f"got {self.nonlinearity!r}")
        if self.output not in OUTPUTS:
            raise ValueError(f"output must be one of {OUTPUTS}, got {self.output!r}")
        self._check_embedding()

    def _check_embedding(self) -> None:
        if self.embedding_size is not None and int(self.embedding_size) < 1:
            raise ValueError(f"embedding_size must be >= 1, got {self.embedding_size}")
        if not self.tie_weights:
            return
        if self.embedding_size != self.head_input_size:
            raise ValueError(f"tie_weights needs embedding_size ({self.embedding_size}) equal to what "
                             f"the head reads ({self.head_input_size}: hidden_size"
                             f"{' x 2 directions' if self.bidirectional else ''})")
        if self.output_size != self.input_size:
            raise ValueError(f"tie_weights needs output_size ({self.output_size}) equal to the "
                             f"vocabulary (input_size {self.input_size})")

    @property
    def cell_module(self):
        """The cell's module (core/cells/): its parameter names, gates, state parts and maths."""
        return get_cell(self.cell)

    @property
    def gates(self) -> int:
        """G: row blocks of a layer's stacked weights (1 Elman, 3 GRU, 4 LSTM)."""
        return len(self.cell_module.GATES)

    @property
    def state_names(self) -> tuple[str, ...]:
        """The parts of the state: ("h",), or ("h", "c") for the LSTM; each is state_shape(B)."""
        return tuple(self.cell_module.STATE)

    def layer_input_size(self, l: int) -> int:
        """Width of what layer l reads: the (embedded) input for l = 0, D*H above."""
        return (self.embedding_size or self.input_size) if l == 0 else self.head_input_size

    @property
    def head_weight(self) -> str:
        """Name of the head's (O, D*H) weight: embed.W when tied, else head.W_hy."""
        return "embed.W" if self.tie_weights else "head.W_hy"

    @property
    def directions(self) -> int:
        """D: 2 for a bidirectional model, else 1."""
        return 2 if self.bidirectional else 1

    @property
    def head_input_size(self) -> int:
        """Width of what the head reads: D * H."""
        return self.directions * self.hidden_size

    def state_shape(self, batch: int) -> tuple[int, int, int]:
        """Shape of h0 and h_final (of each part, h and c, for the LSTM): (L * D, B, H)."""
        return (self.num_layers * self.directions, batch, self.hidden_size)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ModelSpec:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


def param_shapes(spec: ModelSpec) -> dict[str, tuple[int, ...]]:
    """Name -> shape of every parameter, in the order init_params draws them."""
    cell = spec.cell_module
    shapes: dict[str, tuple[int, ...]] = {}
    for l in range(spec.num_layers):
        for suffix in DIRECTIONS[: spec.directions]:
            layer = cell.param_shapes(spec.layer_input_size(l), spec.hidden_size)
            shapes.update({f"rnn.{l}.{k}{suffix}": v for k, v in layer.items()})
    if not spec.tie_weights:
        shapes["head.W_hy"] = (spec.output_size, spec.head_input_size)
    shapes["head.b_y"] = (spec.output_size,)
    if spec.embedding_size:  # drawn last: a model without it draws exactly what it always drew
        shapes["embed.W"] = (spec.input_size, spec.embedding_size)
    return shapes


def num_params(spec: ModelSpec) -> int:
    """How many numbers the model holds."""
    return sum(int(np.prod(s)) for s in param_shapes(spec).values())


Params = dict[str, np.ndarray]


def forward(params: Params, spec: ModelSpec, x: np.ndarray, lengths: np.ndarray | None = None,
            h0: np.ndarray | None = None, *, dropout: float = 0.0, rng: np.random.Generator | None = None,
            recurrent_dropout: float = 0.0) -> tuple[np.ndarray, np.ndarray, dict]:
    """Outputs for a batch.

    Args:
        x: (B, T, I) floats, or (B, T) integer token ids; lengths: (B,) or None;
            h0: (L*D, B, H) (the LSTM: a tuple (h0, c0)) or None.
        dropout, recurrent_dropout: rates, applied only with an `rng` (training).

    Returns:
        y: (B, O) for "last", (B, T, O) for "sequence" (logits for a classifier);
        h_final: shaped as h0; cache for backward.
    """
    u = x
    if spec.embedding_size and not is_token_input(x):
        raise ValueError("a model with an embedding reads integer token ids (B, T), got floats")
    if is_token_input(x):
        if spec.embedding_size:
            u = embed_forward(params["embed.W"], x)  # (B, T, E)
        else:
            u = one_hot(x, spec.input_size, params["head.b_y"].dtype)  # (B, T, I)
    hs, h_final, rnn_cache = rnn_forward(
        params, u, num_layers=spec.num_layers, cell=spec.cell, nonlinearity=spec.nonlinearity,
        bidirectional=spec.bidirectional, lengths=lengths, h0=h0, dropout=dropout, rng=rng,
        recurrent_dropout=recurrent_dropout,
    )
    W_hy, b_y = params[spec.head_weight], params["head.b_y"]
    if spec.output == "last":
        # (B, D*H): padded steps carried the last valid state to the end
        h = state_parts(h_final, len(spec.state_names))[0]
        top = h[-1] if spec.directions == 1 else array_module(h).concatenate(list(h[-2:]), axis=1)
        y = top @ W_hy.T + b_y
    else:
        B, T, H = hs.shape
        top = rnn_cache["top_states"]  # (T, B, D*H) time-major, contiguous
        y = (top.reshape(T * B, H) @ W_hy.T + b_y).reshape(T, B, -1).transpose(1, 0, 2)
    cache = {"rnn": rnn_cache, "top": top, "spec": spec, "params": params, "x": x}
    return y, h_final, cache


def backward(dy: np.ndarray, cache: dict, dh_final: np.ndarray | None = None
             ) -> tuple[Params, np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of all parameters from dL/dy.

    Returns:
        grads (same keys as params), dx (B, T, I) (for token ids: the gradient on the vectors the
        first layer read, (B, T, E) or one-hot (B, T, I)), dh0 (shaped as h0), dh_norms (L*D, T).
        dh_final: the gradient on h_final (shaped as it; parts may be None), or None.
    """
    spec, top, params = cache["spec"], cache["top"], cache["params"]
    W_name = spec.head_weight
    W_hy = params[W_name]
    if spec.output == "last":
        grads_head = {W_name: dy.T @ top, "head.b_y": dy.sum(axis=0)}
        dh_top = dy @ W_hy  # enters the sweep as a gradient on the final state(s) of the top layer
        B, D = dh_top.shape[0], spec.directions
        parts = state_parts(dh_final, len(spec.state_names))
        xp = array_module(dh_top)
        dh = xp.zeros(spec.state_shape(B), dtype=dh_top.dtype) if parts[0] is None else parts[0].copy()
        dh[-D:] += dh_top.reshape(B, D, -1).transpose(1, 0, 2)
        dh_final = state_from_parts((dh, *parts[1:]))
        dhs = None
    else:
        T, B, H = top.shape
        dy2 = array_module(dy).ascontiguousarray(dy.transpose(1, 0, 2)).reshape(T * B, -1)  # (T*B, O)
        grads_head = {W_name: dy2.T @ top.reshape(T * B, H), "head.b_y": dy2.sum(axis=0)}
        dhs = (dy2 @ W_hy).reshape(T, B, H).transpose(1, 0, 2)
    grads, dx, dh0, dh_norms = rnn_backward(dhs, cache["rnn"], dh_final)
    if spec.embedding_size and is_token_input(cache["x"]):
        grads["embed.W"] = embed_backward(dx, cache["x"], spec.input_size)
        if spec.tie_weights:  # one tensor, two uses: the gradients add
            grads["embed.W"] += grads_head.pop("embed.W")
    grads.update(grads_head)
    return grads, dx, dh0, dh_norms


def sequence_mask(spec: ModelSpec, lengths: np.ndarray | None, T: int) -> np.ndarray | None:
    """(B, T) bool mask of valid steps for sequence outputs; None when not needed."""
    if spec.output != "sequence" or lengths is None:
        return None
    return length_mask(lengths, T)


def loss_and_grads(params: Params, spec: ModelSpec, x: np.ndarray, y: np.ndarray, *, loss: str,
                   lengths: np.ndarray | None = None, h0: np.ndarray | None = None, dropout: float = 0.0,
                   rng: np.random.Generator | None = None, recurrent_dropout: float = 0.0,
                   ) -> tuple[float, Params, dict]:
    """Forward, loss and backward for one batch (or one truncated-BPTT window, given h0).

    Returns:
        loss (float), grads (dict like params), aux with outputs, h_final, dh_norms, dx, dh0.
    """
    out, h_final, cache = forward(params, spec, x, lengths, h0, dropout=dropout, rng=rng,
                                  recurrent_dropout=recurrent_dropout)
    value, dout = LOSSES[loss](out, y, sequence_mask(spec, lengths, x.shape[1]))
    grads, dx, dh0, dh_norms = backward(dout, cache)
    aux = {"outputs": out, "h_final": h_final, "dh_norms": dh_norms, "dx": dx, "dh0": dh0}
    return value, grads, aux
