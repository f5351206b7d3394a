"""The `model` section of the config: the cell, the layers, the head's inputs and the initialisation."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from rnncli.config.section import Section
from rnncli.core.cells import CELLS
from rnncli.core.model import MAX_LAYERS, MAX_SIZE

__all__ = ["CELL_NAMES", "ModelConfig"]

CELL_NAMES = tuple(CELLS)  # the registry (core/cells/): a new cell is a new choice here by itself


class ModelConfig(Section):
    """Architecture and initialisation of the stacked recurrent layers plus linear head."""

    cell: Literal[CELL_NAMES] = Field(  # type: ignore[valid-type]
        "rnn",
        description="Recurrent cell: rnn = vanilla (Elman) tanh/relu; gru and lstm = gated, with "
        "torch.nn.GRU/LSTM's equations and weight layout. rnn is the default so every config and "
        "weights file from before gated cells trains and loads as it did.",
    )

    input_size: int | None = Field(
        None, ge=1, le=MAX_SIZE, description="Features per step I; null = inferred from the data."
    )
    hidden_size: int = Field(
        64, ge=1, le=MAX_SIZE, description="Hidden units H per layer; 64 learns the shipped tasks in seconds."
    )
    num_layers: int = Field(1, ge=1, le=MAX_LAYERS,
                            description="Stacked RNN layers; each feeds its states to the next.")
    nonlinearity: Literal["tanh", "relu"] = Field(
        "tanh", description="Hidden activation of the rnn cell; tanh is bounded and the stable default "
        "(gru and lstm have their own sigmoid/tanh gates: relu is refused there)."
    )
    output: Literal["last", "sequence"] | None = Field(
        None,
        description="'last' = one output per sequence (many-to-one), 'sequence' = one per step "
        "(many-to-many); null = inferred from the data.",
    )
    output_size: int | None = Field(
        None, ge=1, description="Outputs O (classes for classifiers); null = inferred from the data."
    )
    init: Literal["normal", "uniform", "xavier"] = Field(
        "uniform",
        description="Weight init: normal = N(0, init_scale^2) as the reference notebooks; "
        "uniform = U(±1/sqrt(H)) as torch.nn.RNN/GRU/LSTM (gated cells draw their biases so too); "
        "xavier = Glorot uniform.",
    )
    recurrent_init: Literal["orthogonal", "identity"] | None = Field(
        "orthogonal",
        description="Init of W_hh (one block per gate): orthogonal (default) keeps gradient norms "
        "steady over time, where "
        "uniform W_hh starts with spectral radius ~0.6 and gradients vanish (frequency stays at chance); "
        "identity (with relu) is the IRNN of Le et al. 2015; null = same as init (the notebooks).",
    )
    init_scale: float = Field(
        0.01, gt=0, description="Standard deviation of init 'normal' (the notebooks use 0.01)."
    )
    dropout: float = Field(
        0.0,
        ge=0.0,
        lt=1.0,
        description="Dropout between stacked layers (as torch.nn.RNN); 0 = off. No effect with one layer.",
    )
    recurrent_dropout: float = Field(
        0.0,
        ge=0.0,
        lt=1.0,
        description="Variational dropout on the recurrent input (Gal & Ghahramani 2016): each layer "
        "zeroes this fraction of h_{t-1} in W_hh h_{t-1} with one mask per sequence, shared by all its "
        "steps (per truncated-BPTT window); training only; 0 = off.",
    )
    bidirectional: bool = Field(
        False,
        description="Each layer also runs an RNN over the reversed sequence (own weights "
        "rnn.{l}.*_reverse; ragged sequences reversed within their lengths, as torch's packed "
        "sequences) and hands [forward ; reverse] (2H) to the layer above and the head. Not for "
        "text (next-token targets: the reverse direction would read them) or train.bptt.",
    )
    embedding_size: int | None = Field(
        None,
        ge=1,
        le=MAX_SIZE,
        description="Token inputs (text) are looked up in a learned embed.W (V, E) of this "
        "width E instead of one-hot vectors of the vocabulary's width V; null = one-hot. Needed "
        "for word-level text, where V is in the thousands.",
    )
    tie_weights: bool = Field(
        False,
        description="Use embed.W as the output layer's weight too (Press & Wolf 2017): one "
        "(V, E) tensor, fewer parameters, often lower perplexity. Needs embedding_size = "
        "hidden_size (x 2 when bidirectional) and outputs over the same vocabulary (text).",
    )

    forget_bias: float = Field(
        1.0,
        # sigmoid(37) is already 1 in float64: a bias past 100 only overflows float32 weights to
        # inf (a run that trains, then saves weights every reader refuses).
        ge=-100,
        le=100,
        description="lstm only: added to the forget gate's input bias at init (Jozefowicz et al. "
        "2015, Keras' unit_forget_bias). 1 keeps the cell state flowing from the first update, which "
        "long dependencies need; torch.nn.LSTM adds nothing (set 0 for its init exactly).",
    )

    @model_validator(mode="after")
    def _cell_options(self) -> ModelConfig:
        if self.cell != "rnn" and self.nonlinearity != "tanh":
            raise ValueError(f"model.nonlinearity {self.nonlinearity} applies to model.cell rnn only "
                             f"({self.cell} has its own sigmoid/tanh gates)")
        default = type(self).model_fields["forget_bias"].default
        if self.cell != "lstm" and "forget_bias" in self.model_fields_set and self.forget_bias != default:
            raise ValueError(f"model.forget_bias applies to model.cell lstm only (the cell is {self.cell})")
        return self

    @model_validator(mode="after")
    def _tie_fits(self) -> ModelConfig:
        if not self.tie_weights:
            return self
        if self.embedding_size is None:
            raise ValueError("model.tie_weights needs model.embedding_size (the embedding it shares)")
        width = self.hidden_size * (2 if self.bidirectional else 1)
        if self.embedding_size != width:
            raise ValueError(f"model.tie_weights needs model.embedding_size = {width} (what the output "
                             f"layer reads: hidden_size{' x 2 directions' if self.bidirectional else ''}"
                             f"), got {self.embedding_size}")
        return self
