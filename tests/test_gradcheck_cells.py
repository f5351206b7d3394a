"""`gradcheck` (float64 centred differences) passes for the gated cells in every combination of layers,
directions, ragged lengths, dropout with recurrent dropout, and token embeddings; and it fails when a
gated cell's backward is wrong."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import rnncli.core.cells.lstm as lstm_module
from rnncli.core.gradcheck import gradcheck
from rnncli.core.init import init_params
from rnncli.core.model import ModelSpec

COMBOS = list(itertools.product(("gru", "lstm"), (1, 2), (False, True), (False, True), (False, True),
                                (False, True)))
FAST = [("gru", 2, True, True, True, False), ("lstm", 2, False, True, True, True)]  # the inner loop's share


def _case(cell, layers, bidirectional, ragged, embedding, seed=0):
    V, H, B, T = 4, 3, 3, 4
    spec = ModelSpec(V, H, 2 if not embedding else V, num_layers=layers, bidirectional=bidirectional,
                     embedding_size=3 if embedding else None, cell=cell,
                     output="sequence" if embedding else "last")
    rng = np.random.default_rng(seed)
    params = init_params(spec, rng, forget_bias=1.0)
    x = rng.integers(0, V, size=(B, T)) if embedding else rng.normal(size=(B, T, V))
    y = rng.integers(0, V, size=(B, T)) if embedding else rng.normal(size=(B, 2))
    lengths = np.array([T, 2, 3]) if ragged else None
    state0 = tuple(rng.uniform(-0.5, 0.5, size=spec.state_shape(B)) for _ in spec.state_names)
    h0 = state0[0] if len(state0) == 1 else state0
    return spec, params, x, y, "cross_entropy" if embedding else "mse", lengths, h0


def _passes(cell, layers, bidirectional, ragged, dropout, embedding):
    spec, params, x, y, loss, lengths, h0 = _case(cell, layers, bidirectional, ragged, embedding)
    drop = {"dropout": 0.3, "recurrent_dropout": 0.4, "mask_seed": 7} if dropout else {}
    report = gradcheck(params, spec, x, y, loss=loss, lengths=lengths, h0=h0, **drop)
    names = {r.name for r in report.results}
    assert {"h0"} | ({"c0"} if cell == "lstm" else set()) <= names
    assert report.passed, [(r.name, r.rel_error) for r in report.results if not r.passed]


@pytest.mark.parametrize(("cell", "layers", "bidirectional", "ragged", "dropout", "embedding"), FAST)
def test_deep_combinations_pass(cell, layers, bidirectional, ragged, dropout, embedding):
    _passes(cell, layers, bidirectional, ragged, dropout, embedding)


@pytest.mark.slow
@pytest.mark.parametrize(("cell", "layers", "bidirectional", "ragged", "dropout", "embedding"), COMBOS)
def test_every_combination_passes(cell, layers, bidirectional, ragged, dropout, embedding):
    _passes(cell, layers, bidirectional, ragged, dropout, embedding)


def test_a_wrong_cell_state_derivative_fails_the_check(monkeypatch):
    """The LSTM backward with the gradient through c_{t-1} left out (dc *= f forgotten): caught."""
    spec, params, x, y, loss, lengths, h0 = _case("lstm", 1, False, False, False)
    real = lstm_module.backward

    def no_carry(dhs, cache, dfinal=None):
        grads, du, (dh0, dc0), norms = real(dhs, cache, dfinal)
        return grads, du, (dh0, dc0 * 0.5), norms

    monkeypatch.setattr(lstm_module, "backward", no_carry)
    report = gradcheck(params, spec, x, y, loss=loss, lengths=lengths, h0=h0)
    failed = {r.name for r in report.results if not r.passed}
    assert failed == {"c0"}
