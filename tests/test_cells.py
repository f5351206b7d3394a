"""The cell contract (core/cells/), checked for every registered cell: shapes, state parts, padding, and
every gradient of the one-layer backward against float64 centred differences (ragged lengths, a given
initial state, a fixed recurrent dropout mask, a gradient arriving on the final state)."""

from __future__ import annotations

import numpy as np
import pytest

from rnncli.core.cells import CELLS, get_cell, map_state, state_batch, state_parts
from rnncli.core.rnn import keep_mask, step_mask

EPS = 1e-6
TOL = 1e-7


def _problem(cell, *, T=5, B=3, I=2, H=4, ragged=True, with_state=True, rdrop=0.0, seed=0):
    rng = np.random.default_rng(seed)
    p = cell.init_layer(rng, I, H, init="uniform", recurrent_init=None, scale=1 / np.sqrt(H))
    for k, v in p.items():  # biases off zero, so every term of the backward is exercised
        p[k] = v + 0.3 * rng.standard_normal(v.shape)
    u = rng.standard_normal((T, B, I))
    lengths = np.array([T, 2, 4])[:B] if ragged else None
    padded = None if lengths is None else ~step_mask(lengths, T)
    state0 = tuple(0.5 * rng.standard_normal((B, H)) for _ in cell.STATE) if with_state else None
    rmask = keep_mask(rng, (B, H), rdrop, np.float64) if rdrop else None
    G_hs = rng.standard_normal((T, B, H))
    G_fin = tuple(rng.standard_normal((B, H)) for _ in cell.STATE)
    return p, u, state0, padded, rmask, G_hs, G_fin


def _loss(cell, p, u, state0, padded, rmask, G_hs, G_fin) -> float:
    hs, final, _ = cell.forward(p, u, state0, padded=padded, rmask=rmask)
    return float(np.sum(hs * G_hs) + sum(np.sum(f * g) for f, g in zip(final, G_fin, strict=True)))


def _numeric(f, a: np.ndarray) -> np.ndarray:
    grad = np.zeros_like(a)
    for i in np.ndindex(a.shape):
        old = a[i]
        a[i] = old + EPS
        plus = f()
        a[i] = old - EPS
        minus = f()
        a[i] = old
        grad[i] = (plus - minus) / (2 * EPS)
    return grad


def _rel(a, n) -> float:
    return float(np.max(np.abs(a - n)) / max(1e-8, np.max(np.abs(a) + np.abs(n))))


@pytest.mark.parametrize("name", list(CELLS))
def test_the_contract_holds(name):
    cell = get_cell(name)
    assert cell.NAME == name and len(cell.GATES) >= 1 and cell.STATE[0] == "h"
    shapes = cell.param_shapes(3, 5)
    p = cell.init_layer(np.random.default_rng(0), 3, 5, init="uniform", recurrent_init="orthogonal",
                        scale=0.4)
    assert list(p) == list(shapes) and {k: v.shape for k, v in p.items()} == shapes
    assert cell.hidden_size(p) == 5 and shapes[cell.RECURRENT] == (len(cell.GATES) * 5, 5)
    assert set(cell.TORCH_NAMES) <= set(shapes)
    u = np.random.default_rng(1).standard_normal((6, 2, 3))
    hs, final, cache = cell.forward(p, u, None, padded=None, rmask=None)
    assert hs.shape == (6, 2, 5) and len(final) == len(cell.STATE)
    np.testing.assert_array_equal(final[0], hs[-1])
    grads, du, d0, norms = cell.backward(np.ones_like(hs), cache, None)
    assert set(grads) == set(shapes) and du.shape == u.shape and norms.shape == (6,)
    assert len(d0) == len(cell.STATE) and all(d.shape == (2, 5) for d in d0)


@pytest.mark.parametrize("name", list(CELLS))
def test_a_padded_step_keeps_the_whole_state(name):
    """After a sequence's last valid step every part of the state (h, and c for the LSTM) is frozen."""
    cell = get_cell(name)
    p, u, state0, padded, _, _, _ = _problem(cell)
    hs, final, _ = cell.forward(p, u, state0, padded=padded, rmask=None)
    np.testing.assert_array_equal(hs[1:, 1], np.broadcast_to(hs[1, 1], hs[1:, 1].shape))  # length 2
    np.testing.assert_array_equal(final[0][1], hs[1, 1])
    garbage = u.copy()
    garbage[2:, 1] = 1e3  # what padding holds never matters
    _, final2, _ = cell.forward(p, garbage, state0, padded=padded, rmask=None)
    for a, b in zip(final, final2, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", list(CELLS))
@pytest.mark.parametrize(("ragged", "with_state", "rdrop"),
                         [(False, False, 0.0), (True, True, 0.0), (True, True, 0.4)])
def test_backward_equals_centred_differences(name, ragged, with_state, rdrop):
    cell = get_cell(name)
    p, u, state0, padded, rmask, G_hs, G_fin = _problem(cell, ragged=ragged, with_state=with_state,
                                                         rdrop=rdrop)
    _, _, cache = cell.forward(p, u, state0, padded=padded, rmask=rmask)
    grads, du, d0, _ = cell.backward(G_hs, cache, G_fin)
    def f():
        return _loss(cell, p, u, state0, padded, rmask, G_hs, G_fin)
    for k, v in p.items():
        assert _rel(grads[k], _numeric(f, v)) < TOL, k
    assert _rel(du, _numeric(f, u)) < TOL
    for part, a, d in zip(cell.STATE, state0 or (), d0, strict=False):
        assert _rel(d, _numeric(f, a)) < TOL, part


@pytest.mark.parametrize("name", list(CELLS))
def test_dh_norms_are_the_norms_of_the_state_gradient(name):
    """With no gradient from outside but at the last step, dh_norms[T-1] is |dL/dh_{T-1}|."""
    cell = get_cell(name)
    p, u, _, _, _, _, _ = _problem(cell, ragged=False, with_state=False)
    _, _, cache = cell.forward(p, u, None, padded=None, rmask=None)
    g = np.random.default_rng(5).standard_normal((3, 4))
    _, _, _, norms = cell.backward(None, cache, (g,) + (None,) * (len(cell.STATE) - 1))
    assert norms[-1] == pytest.approx(np.linalg.norm(g))


def test_state_helpers_read_one_array_or_a_pair():
    h, c = np.zeros((2, 3, 4)), np.ones((2, 3, 4))
    assert state_parts(None, 2) == (None, None) and state_parts(h, 1)[0] is h
    assert state_parts((h, c), 2)[1] is c and state_batch((h, c)) == 3 and state_batch(h) == 3
    assert map_state(lambda a: a[:, :1], (h, c))[1].shape == (2, 1, 4)
    with pytest.raises(ValueError, match="2 parts"):
        state_parts(h, 2)
    with pytest.raises(ValueError, match="cell must be one of"):
        get_cell("transformer")


@pytest.mark.parametrize("name", list(CELLS))
def test_float32_stays_float32_and_agrees_with_float64(name):
    cell = get_cell(name)
    p, u, state0, padded, rmask, G_hs, G_fin = _problem(cell, rdrop=0.3)
    out = {}
    for dtype in (np.float32, np.float64):
        cast = {k: v.astype(dtype) for k, v in p.items()}
        s0 = tuple(a.astype(dtype) for a in state0)
        hs, final, cache = cell.forward(cast, u.astype(dtype), s0, padded=padded, rmask=rmask.astype(dtype))
        grads, du, d0, _ = cell.backward(G_hs.astype(dtype), cache, tuple(g.astype(dtype) for g in G_fin))
        assert {a.dtype for a in (hs, du, *final, *d0, *grads.values())} == {np.dtype(dtype)}
        out[dtype] = (hs, grads)
    np.testing.assert_allclose(out[np.float32][0], out[np.float64][0], atol=1e-5)
    for k in p:
        np.testing.assert_allclose(out[np.float32][1][k], out[np.float64][1][k], atol=2e-4, rtol=1e-4)
