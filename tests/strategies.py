"""Shared Hypothesis strategies and small builders for the core tests.

Letters: B batch, T time, I input, H hidden, O output, L layers.
Sizes stay tiny so property tests run in well under a second each.
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from rnncli.training.callbacks import TrainCallbacks

if TYPE_CHECKING:
    from rnncli.core.model import ModelSpec

# First calls into numpy can be slow on a cold machine: no deadline, few examples.
PROPERTY_SETTINGS = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)



def examples(n: int) -> int:
    """How many examples a whole-CLI fuzz test generates: `n`, times RNN_FUZZ_SCALE (a number,
    default 1). .ci/run sets 2, so CI tries twice as many as a contributor's inner loop does."""
    scale = float(os.environ.get("RNN_FUZZ_SCALE") or 1)
    return max(1, round(n * scale))


nonlinearities = st.sampled_from(["tanh", "relu"])
outputs = st.sampled_from(["last", "sequence"])
losses = st.sampled_from(["mse", "cross_entropy"])
seeds = st.integers(min_value=0, max_value=2**32 - 1)


@st.composite
def specs(draw, max_layers: int = 3) -> ModelSpec:
    """A small ModelSpec: I in 1..3, H in 1..4, O in 1..3, L in 1..max_layers."""
    from rnncli.core.model import ModelSpec  # imported late: test_rnn needs only rnn.py

    return ModelSpec(
        input_size=draw(st.integers(1, 3)),
        hidden_size=draw(st.integers(1, 4)),
        output_size=draw(st.integers(1, 3)),
        num_layers=draw(st.integers(1, max_layers)),
        nonlinearity=draw(nonlinearities),
        output=draw(outputs),
    )


@dataclass
class Case:
    """One complete problem: a spec, its parameters and a batch with targets."""

    spec: ModelSpec
    params: dict[str, np.ndarray]
    x: np.ndarray  # (B, T, I)
    y: np.ndarray  # (B, O) | (B,) | (B, T, O) | (B, T)
    loss: str
    lengths: np.ndarray | None  # (B,) in 1..T
    h0: np.ndarray | None  # (L, B, H)


def make_targets(
    spec: ModelSpec, loss: str, batch: int, steps: int, rng: np.random.Generator, dtype
) -> np.ndarray:
    """Targets of the right shape and kind for `spec.output` and `loss`."""
    if loss == "cross_entropy":
        shape = (batch,) if spec.output == "last" else (batch, steps)
        return rng.integers(0, spec.output_size, size=shape)
    shape = (batch, spec.output_size) if spec.output == "last" else (batch, steps, spec.output_size)
    return rng.normal(size=shape).astype(dtype)


def make_lengths(batch: int, steps: int, rng: np.random.Generator) -> np.ndarray:
    """Ragged lengths in 1..T with at least one full-length row (as a padded batch has)."""
    lengths = rng.integers(1, steps + 1, size=batch)
    lengths[rng.integers(batch)] = steps
    return lengths


def build_case(
    spec: ModelSpec,
    *,
    loss: str,
    batch: int,
    steps: int,
    seed: int,
    ragged: bool = False,
    with_h0: bool = False,
    dtype=np.float64,
    init: str = "uniform",
) -> Case:
    """Deterministically build a Case from a seed."""
    from rnncli.core.init import init_params

    rng = np.random.default_rng(seed)
    params = init_params(spec, rng, init=init, dtype=dtype)
    x = rng.normal(size=(batch, steps, spec.input_size)).astype(dtype)
    y = make_targets(spec, loss, batch, steps, rng, dtype)
    lengths = make_lengths(batch, steps, rng) if ragged else None
    h0 = None
    if with_h0:
        h0 = rng.uniform(-0.9, 0.9, size=spec.state_shape(batch)).astype(dtype)
        if spec.nonlinearity == "relu":
            h0 = np.abs(h0)  # a relu state carried from a previous window is never negative
    return Case(spec, params, x, y, loss, lengths, h0)


@st.composite
def cases(draw, dtype=np.float64, max_layers: int = 3) -> Case:
    """A random small Case: any spec, loss, B in 1..3, T in 1..5, optional lengths and h0."""
    spec = draw(specs(max_layers=max_layers))
    return build_case(
        spec,
        loss=draw(losses),
        batch=draw(st.integers(1, 3)),
        steps=draw(st.integers(1, 5)),
        seed=draw(seeds),
        ragged=draw(st.booleans()),
        with_h0=draw(st.booleans()),
        dtype=dtype,
    )


class InterruptAfter(TrainCallbacks):
    """Training callbacks that send this process SIGINT after its n-th step, as Ctrl-C would: the loop
    finishes the step, checkpoints and raises Interrupted (the handler is the loop's own)."""

    def __init__(self, n: int):
        self.n, self.done = n, 0

    def on_step_end(self, epoch, step, steps, loss):
        self.done += 1
        if self.done == self.n:
            os.kill(os.getpid(), signal.SIGINT)
