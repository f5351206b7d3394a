"""Initialisers: shapes, statistics of each scheme, zero biases, seeded determinism, dtype."""

from __future__ import annotations

import numpy as np
import pytest

from rnncli.core.init import init_params
from rnncli.core.model import ModelSpec, param_shapes

BIG = ModelSpec(input_size=60, hidden_size=80, output_size=50, num_layers=2)


def weights(params):
    return {k: v for k, v in params.items() if not k.endswith(("b_h", "b_y"))}


@pytest.mark.parametrize("init", ["normal", "uniform", "xavier"])
@pytest.mark.parametrize("recurrent_init", [None, "orthogonal", "identity"])
def test_keys_shapes_dtype_and_zero_biases(init, recurrent_init):
    spec = ModelSpec(input_size=3, hidden_size=4, output_size=2, num_layers=3)
    params = init_params(
        spec, np.random.default_rng(0), init=init, recurrent_init=recurrent_init, dtype=np.float32
    )
    shapes = param_shapes(spec)
    assert set(params) == set(shapes)
    assert shapes["rnn.0.W_xh"] == (4, 3) and shapes["rnn.1.W_xh"] == (4, 4)
    assert shapes["head.W_hy"] == (2, 4) and shapes["head.b_y"] == (2,)
    for name, value in params.items():
        assert value.shape == tuple(shapes[name]), name
        assert value.dtype == np.float32, name
        if name.endswith(("b_h", "b_y")):
            assert np.all(value == 0.0), name


def test_uniform_is_bounded_by_one_over_sqrt_hidden():
    params = init_params(BIG, np.random.default_rng(1), init="uniform")
    bound = 1 / np.sqrt(BIG.hidden_size)
    for name, w in weights(params).items():
        assert np.abs(w).max() <= bound, name
        assert np.abs(w).max() > 0.95 * bound, name  # actually spans the interval
        assert w.std() == pytest.approx(bound / np.sqrt(3), rel=0.1), name
        assert abs(w.mean()) < 0.1 * bound, name


@pytest.mark.parametrize("scale", [0.01, 0.001])
def test_normal_has_the_requested_scale(scale):
    params = init_params(BIG, np.random.default_rng(2), init="normal", scale=scale)
    for name, w in weights(params).items():
        assert w.std() == pytest.approx(scale, rel=0.1), name
        assert abs(w.mean()) < 0.1 * scale, name


def test_xavier_variance_is_two_over_fan_in_plus_fan_out():
    params = init_params(BIG, np.random.default_rng(3), init="xavier")
    for name, w in weights(params).items():
        fan_out, fan_in = w.shape
        assert w.std() == pytest.approx(np.sqrt(2 / (fan_in + fan_out)), rel=0.1), name


def test_orthogonal_recurrent_weights_are_orthogonal():
    params = init_params(BIG, np.random.default_rng(4), recurrent_init="orthogonal")
    eye = np.eye(BIG.hidden_size)
    for layer in range(BIG.num_layers):
        w = params[f"rnn.{layer}.W_hh"]
        np.testing.assert_allclose(w @ w.T, eye, atol=1e-12)
        np.testing.assert_allclose(w.T @ w, eye, atol=1e-12)
    assert not np.allclose(params["rnn.0.W_hh"], params["rnn.1.W_hh"])
    # recurrent_init leaves the input weights to `init`
    assert np.abs(params["rnn.0.W_xh"]).max() <= 1 / np.sqrt(BIG.hidden_size)


def test_identity_recurrent_weights_are_the_identity():
    spec = ModelSpec(input_size=2, hidden_size=5, output_size=1, num_layers=2, nonlinearity="relu")
    params = init_params(spec, np.random.default_rng(5), recurrent_init="identity")
    for layer in range(2):
        np.testing.assert_array_equal(params[f"rnn.{layer}.W_hh"], np.eye(5))


@pytest.mark.parametrize("init", ["normal", "uniform", "xavier"])
@pytest.mark.parametrize("recurrent_init", [None, "orthogonal"])
def test_same_seed_gives_bit_identical_parameters(init, recurrent_init):
    spec = ModelSpec(input_size=3, hidden_size=6, output_size=2, num_layers=2)
    a = init_params(spec, np.random.default_rng(42), init=init, recurrent_init=recurrent_init)
    b = init_params(spec, np.random.default_rng(42), init=init, recurrent_init=recurrent_init)
    c = init_params(spec, np.random.default_rng(43), init=init, recurrent_init=recurrent_init)
    for name in a:
        np.testing.assert_array_equal(a[name], b[name])
    assert not np.array_equal(a["rnn.0.W_xh"], c["rnn.0.W_xh"])


def test_float32_is_the_float64_draw_rounded():
    """The dtype changes the storage, not the random stream: runs agree across dtypes."""
    spec = ModelSpec(input_size=3, hidden_size=4, output_size=2)
    a = init_params(spec, np.random.default_rng(7), dtype=np.float64)
    b = init_params(spec, np.random.default_rng(7), dtype=np.float32)
    for name in a:
        np.testing.assert_array_equal(a[name].astype(np.float32), b[name])
