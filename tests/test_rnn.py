"""rnn_forward / rnn_backward: the known example, padding, windows, dh_norms, properties.

Letters: B batch, T time, I input, H hidden, L layers.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import PROPERTY_SETTINGS, make_lengths, nonlinearities, seeds

from rnncli.core.cells.elman import tanh_grad_from_output
from rnncli.core.rnn import rnn_backward, rnn_forward


def rnn_params(rng, num_layers, input_size, hidden_size, dtype=np.float64, scale=0.5):
    """Only the recurrent part of the parameter dict (rnn.{l}.*)."""
    params = {}
    for layer in range(num_layers):
        fan_in = input_size if layer == 0 else hidden_size
        params[f"rnn.{layer}.W_xh"] = (rng.normal(size=(hidden_size, fan_in)) * scale).astype(dtype)
        params[f"rnn.{layer}.W_hh"] = (rng.normal(size=(hidden_size, hidden_size)) * scale).astype(
            dtype
        )
        params[f"rnn.{layer}.b_h"] = (rng.normal(size=hidden_size) * scale).astype(dtype)
    return params


def reference_forward(params, x, num_layers, nonlinearity, lengths=None, h0=None):
    """Per-sequence, per-step loop straight from the issue's equations (slow, obvious)."""
    act = np.tanh if nonlinearity == "tanh" else (lambda z: np.maximum(z, 0.0))
    batch, steps, _ = x.shape
    hidden = params["rnn.0.W_hh"].shape[0]
    hs = np.zeros((batch, steps, hidden))
    h_final = np.zeros((num_layers, batch, hidden))
    for b in range(batch):
        valid = steps if lengths is None else int(lengths[b])
        inputs = [x[b, t] for t in range(steps)]
        for layer in range(num_layers):
            h = np.zeros(hidden) if h0 is None else h0[layer, b].copy()
            out = []
            for t in range(steps):
                if t < valid:
                    h = act(
                        params[f"rnn.{layer}.W_xh"] @ inputs[t]
                        + params[f"rnn.{layer}.W_hh"] @ h
                        + params[f"rnn.{layer}.b_h"]
                    )
                out.append(h)
            h_final[layer, b] = h
            inputs = out
        hs[b] = np.stack(inputs)
    return hs, h_final


# ---------------------------------------------------------------- the known example


def test_known_forward_example_from_issue():
    x = np.array([[[1, 2], [2, 3], [3, 4]]], dtype=np.float64) / 100  # (B=1, T=3, I=2)
    params = {
        "rnn.0.W_xh": np.array([[1, 3, 5, 7], [3, 5, 7, 8]], dtype=np.float64).T / 100,
        "rnn.0.W_hh": np.array(
            [[1, 3, 5, 7], [2, 4, 6, 8], [3, 5, 7, 8], [4, 6, 8, 10]], dtype=np.float64
        ).T
        / 100,
        "rnn.0.b_h": np.ones(4),
    }
    hs, h_final, _ = rnn_forward(params, x, num_layers=1, nonlinearity="tanh")
    expected = np.array([0.79494228, 0.81839002, 0.83939649, 0.85584174])
    assert h_final.shape == (1, 1, 4)
    np.testing.assert_allclose(h_final[0, 0], expected, atol=1e-8, rtol=0)
    np.testing.assert_allclose(hs[0, -1], expected, atol=1e-8, rtol=0)


# ---------------------------------------------------------------- forward vs reference


@pytest.mark.parametrize("num_layers", [1, 2, 3])
@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("ragged", [False, True])
@pytest.mark.parametrize("with_h0", [False, True])
def test_forward_matches_per_step_reference(num_layers, nonlinearity, ragged, with_h0):
    rng = np.random.default_rng(7)
    batch, steps, inp, hidden = 3, 5, 2, 4
    params = rnn_params(rng, num_layers, inp, hidden)
    x = rng.normal(size=(batch, steps, inp))
    lengths = np.array([5, 2, 1]) if ragged else None
    h0 = rng.uniform(0, 0.8, size=(num_layers, batch, hidden)) if with_h0 else None
    hs, h_final, _ = rnn_forward(
        params, x, num_layers=num_layers, nonlinearity=nonlinearity, lengths=lengths, h0=h0
    )
    ref_hs, ref_final = reference_forward(params, x, num_layers, nonlinearity, lengths, h0)
    assert hs.shape == (batch, steps, hidden)
    assert h_final.shape == (num_layers, batch, hidden)
    np.testing.assert_allclose(hs, ref_hs, atol=1e-12, rtol=0)
    np.testing.assert_allclose(h_final, ref_final, atol=1e-12, rtol=0)


def test_padded_steps_keep_the_last_valid_state():
    rng = np.random.default_rng(3)
    params = rnn_params(rng, 2, 2, 3)
    x = rng.normal(size=(2, 6, 2))
    lengths = np.array([6, 3])
    hs, h_final, _ = rnn_forward(params, x, num_layers=2, lengths=lengths)
    # Row 1 stops at step 2: every later top-layer state is exactly that state.
    for t in range(3, 6):
        np.testing.assert_array_equal(hs[1, t], hs[1, 2])
    np.testing.assert_array_equal(h_final[-1, 1], hs[1, 2])
    np.testing.assert_array_equal(h_final[-1, 0], hs[0, 5])


def test_padded_inputs_change_nothing_and_get_zero_dx():
    rng = np.random.default_rng(4)
    params = rnn_params(rng, 2, 3, 4)
    x = rng.normal(size=(3, 5, 3))
    lengths = np.array([2, 5, 4])
    hs, h_final, cache = rnn_forward(params, x, num_layers=2, lengths=lengths)
    x_garbage = x.copy()
    for b, n in enumerate(lengths):
        x_garbage[b, n:] = 1e3 * rng.normal(size=x_garbage[b, n:].shape)
    hs2, h_final2, _ = rnn_forward(params, x_garbage, num_layers=2, lengths=lengths)
    np.testing.assert_array_equal(hs, hs2)
    np.testing.assert_array_equal(h_final, h_final2)

    _, dx, _, _ = rnn_backward(rng.normal(size=hs.shape), cache)
    for b, n in enumerate(lengths):
        assert np.all(dx[b, n:] == 0.0), f"row {b}: padded steps got a gradient"
        assert np.any(dx[b, :n] != 0.0)


# ---------------------------------------------------------------- truncated BPTT windows


@pytest.mark.parametrize("num_layers", [1, 3])
@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_two_windows_chained_by_h_final_equal_the_full_sequence(num_layers, nonlinearity):
    rng = np.random.default_rng(5)
    params = rnn_params(rng, num_layers, 2, 3)
    x = rng.normal(size=(2, 8, 2))
    hs, h_final, _ = rnn_forward(params, x, num_layers=num_layers, nonlinearity=nonlinearity)
    hs_a, h_a, _ = rnn_forward(params, x[:, :3], num_layers=num_layers, nonlinearity=nonlinearity)
    hs_b, h_b, _ = rnn_forward(
        params, x[:, 3:], num_layers=num_layers, nonlinearity=nonlinearity, h0=h_a
    )
    np.testing.assert_array_equal(np.concatenate([hs_a, hs_b], axis=1), hs)
    np.testing.assert_array_equal(h_b, h_final)


# ---------------------------------------------------------------- backward details


def test_tanh_grad_from_output_uses_the_activated_state():
    h = np.array([-0.5, 0.0, 0.9])
    np.testing.assert_allclose(tanh_grad_from_output(h), 1 - h**2, rtol=0, atol=1e-15)


def test_backward_returns_documented_keys_and_shapes():
    rng = np.random.default_rng(6)
    params = rnn_params(rng, 2, 3, 4)
    x = rng.normal(size=(2, 5, 3))
    hs, _, cache = rnn_forward(params, x, num_layers=2)
    grads, dx, dh0, dh_norms = rnn_backward(np.ones_like(hs), cache)
    assert set(grads) == set(params)
    for name, value in params.items():
        assert grads[name].shape == value.shape, name
    assert dx.shape == (2, 5, 3)
    assert dh0.shape == (2, 2, 4)
    assert dh_norms.shape == (2, 5)


def test_dh_norms_are_the_norm_of_dl_dh_per_step():
    """One layer, two steps, tanh: dL/dh_1 = g1, dL/dh_0 = g0 + (g1 * (1 - h1^2)) W_hh."""
    rng = np.random.default_rng(8)
    params = rnn_params(rng, 1, 2, 3)
    x = rng.normal(size=(4, 2, 2))
    hs, _, cache = rnn_forward(params, x, num_layers=1)
    dhs = rng.normal(size=hs.shape)
    _, _, dh0, dh_norms = rnn_backward(dhs, cache)
    dh1 = dhs[:, 1]
    dh0_state = dhs[:, 0] + (dh1 * (1 - hs[:, 1] ** 2)) @ params["rnn.0.W_hh"]
    np.testing.assert_allclose(dh_norms[0, 1], np.linalg.norm(dh1), rtol=1e-12)
    np.testing.assert_allclose(dh_norms[0, 0], np.linalg.norm(dh0_state), rtol=1e-12)
    expected_dh0 = (dh0_state * (1 - hs[:, 0] ** 2)) @ params["rnn.0.W_hh"]
    np.testing.assert_allclose(dh0[0], expected_dh0, rtol=1e-12, atol=1e-14)


def test_dh_final_on_the_top_layer_equals_dhs_at_the_last_step():
    rng = np.random.default_rng(9)
    params = rnn_params(rng, 2, 2, 3)
    x = rng.normal(size=(2, 4, 2))
    hs, h_final, cache = rnn_forward(params, x, num_layers=2)
    top = np.zeros_like(h_final)
    top[-1] = rng.normal(size=h_final.shape[1:])
    dhs = np.zeros_like(hs)
    dhs[:, -1] = top[-1]
    grads_a, dx_a, dh0_a, _ = rnn_backward(dhs, cache)
    grads_b, dx_b, dh0_b, _ = rnn_backward(np.zeros_like(hs), cache, dh_final=top)
    np.testing.assert_allclose(dx_a, dx_b, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(dh0_a, dh0_b, rtol=1e-12, atol=1e-15)
    for name in grads_a:
        np.testing.assert_allclose(grads_a[name], grads_b[name], rtol=1e-12, atol=1e-15)
    # The lower layer's final state feeds nothing inside the window but still flows back to x.
    lower = np.zeros_like(h_final)
    lower[0] = 1.0
    _, dx_c, _, _ = rnn_backward(np.zeros_like(hs), cache, dh_final=lower)
    assert np.any(dx_c != 0.0)


# ---------------------------------------------------------------- properties


@PROPERTY_SETTINGS
@given(
    seed=seeds,
    batch=st.integers(1, 3),
    steps=st.integers(1, 5),
    inp=st.integers(1, 3),
    hidden=st.integers(1, 4),
    num_layers=st.integers(1, 3),
    ragged=st.booleans(),
)
def test_tanh_states_are_bounded_and_shaped(seed, batch, steps, inp, hidden, num_layers, ragged):
    rng = np.random.default_rng(seed)
    params = rnn_params(rng, num_layers, inp, hidden, scale=3.0)  # large weights: saturate
    x = rng.normal(size=(batch, steps, inp)) * 5
    lengths = make_lengths(batch, steps, rng) if ragged else None
    hs, h_final, _ = rnn_forward(params, x, num_layers=num_layers, lengths=lengths)
    assert hs.shape == (batch, steps, hidden)
    assert h_final.shape == (num_layers, batch, hidden)
    assert np.all(np.abs(hs) <= 1.0) and np.all(np.abs(h_final) <= 1.0)


@PROPERTY_SETTINGS
@given(seed=seeds, nonlinearity=nonlinearities, num_layers=st.integers(1, 3), ragged=st.booleans())
def test_float32_stays_float32_through_forward_and_backward(seed, nonlinearity, num_layers, ragged):
    rng = np.random.default_rng(seed)
    params = rnn_params(rng, num_layers, 2, 3, dtype=np.float32)
    x = rng.normal(size=(2, 4, 2)).astype(np.float32)
    lengths = make_lengths(2, 4, rng) if ragged else None
    h0 = np.zeros((num_layers, 2, 3), dtype=np.float32)
    hs, h_final, cache = rnn_forward(
        params, x, num_layers=num_layers, nonlinearity=nonlinearity, lengths=lengths, h0=h0
    )
    assert hs.dtype == np.float32 and h_final.dtype == np.float32
    grads, dx, dh0, _ = rnn_backward(np.ones_like(hs), cache)
    assert dx.dtype == np.float32 and dh0.dtype == np.float32
    assert {g.dtype for g in grads.values()} == {np.dtype(np.float32)}
