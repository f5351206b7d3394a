"""The model around the RNN: spec, head, outputs, padding, windows, dropout and properties.

Letters: B batch, T time, I input, H hidden, O output, L layers.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import PROPERTY_SETTINGS, Case, build_case, cases, seeds, specs

from rnncli.core.init import init_params
from rnncli.core.model import ModelSpec, forward, loss_and_grads, param_shapes
from rnncli.core.optim import make_optimizer
from rnncli.core.rnn import rnn_forward


def loss_of(case: Case, **kwargs):
    return loss_and_grads(
        case.params, case.spec, case.x, case.y, loss=case.loss, lengths=case.lengths, h0=case.h0,
        **kwargs,
    )


# ---------------------------------------------------------------- spec


def test_spec_is_frozen_and_round_trips_through_a_dict():
    spec = ModelSpec(3, 5, 2, num_layers=2, nonlinearity="relu", output="sequence")
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.hidden_size = 4  # type: ignore[misc]
    d = spec.to_dict()
    assert d == {
        "input_size": 3, "hidden_size": 5, "output_size": 2,
        "num_layers": 2, "nonlinearity": "relu", "output": "sequence", "bidirectional": False,
        "embedding_size": None, "tie_weights": False, "cell": "rnn",
    }
    assert ModelSpec.from_dict(d) == spec
    # a dict written before a field existed (older weights' meta) gets the field's default
    old = {k: v for k, v in d.items() if k not in ("bidirectional", "embedding_size", "tie_weights")}
    assert ModelSpec.from_dict(old) == spec
    bidi = ModelSpec(3, 5, 2, num_layers=2, bidirectional=True)
    assert ModelSpec.from_dict(bidi.to_dict()) == bidi
    assert bidi.state_shape(7) == (4, 7, 5) and bidi.head_input_size == 10


@pytest.mark.parametrize(
    ("kwargs", "word"),
    [
        ({"hidden_size": 0}, "hidden_size"),
        ({"num_layers": 0}, "num_layers"),
        ({"nonlinearity": "sigmoid"}, "sigmoid"),
        ({"output": "all"}, "all"),
    ],
)
def test_spec_rejects_bad_values_naming_them(kwargs, word):
    base = {"input_size": 2, "hidden_size": 3, "output_size": 1}
    with pytest.raises(ValueError, match=word):
        ModelSpec(**{**base, **kwargs})


# ---------------------------------------------------------------- outputs


@pytest.mark.parametrize("output", ["last", "sequence"])
def test_head_reads_the_top_layer_state(output):
    spec = ModelSpec(2, 3, 4, num_layers=2, output=output)
    rng = np.random.default_rng(0)
    params = init_params(spec, rng)
    params["head.b_y"] = rng.normal(size=4)  # non-zero so a missing bias shows
    x = rng.normal(size=(3, 5, 2))
    lengths = np.array([5, 1, 3])
    y, h_final, _ = forward(params, spec, x, lengths=lengths)
    hs, ref_final, _ = rnn_forward(params, x, num_layers=2, lengths=lengths)
    np.testing.assert_array_equal(h_final, ref_final)
    if output == "last":
        assert y.shape == (3, 4)
        top = hs[np.arange(3), lengths - 1]  # state at the last valid step
        np.testing.assert_allclose(y, top @ params["head.W_hy"].T + params["head.b_y"], atol=1e-14)
    else:
        assert y.shape == (3, 5, 4)
        np.testing.assert_allclose(y, hs @ params["head.W_hy"].T + params["head.b_y"], atol=1e-14)


def test_loss_and_grads_returns_documented_aux_and_matching_outputs():
    case = build_case(ModelSpec(2, 3, 2, num_layers=2, output="sequence"), loss="mse",
                      batch=2, steps=4, seed=1, with_h0=True)
    value, grads, aux = loss_of(case)
    assert isinstance(value, float)
    assert set(grads) == set(case.params) == set(param_shapes(case.spec))
    for name, g in grads.items():
        assert g.shape == case.params[name].shape, name
    assert {"outputs", "h_final", "dh_norms", "dx", "dh0"} <= set(aux)
    y, h_final, _ = forward(case.params, case.spec, case.x, h0=case.h0)
    np.testing.assert_array_equal(aux["outputs"], y)
    np.testing.assert_array_equal(aux["h_final"], h_final)
    assert aux["dx"].shape == case.x.shape and aux["dh0"].shape == case.h0.shape
    assert aux["dh_norms"].shape == (2, 4)
    assert np.all(aux["dh_norms"] > 0)


# ---------------------------------------------------------------- padding


@pytest.mark.parametrize("output", ["last", "sequence"])
@pytest.mark.parametrize("loss", ["mse", "cross_entropy"])
def test_padded_steps_change_no_output_no_loss_and_get_no_gradient(output, loss):
    spec = ModelSpec(2, 4, 3, num_layers=2, output=output)
    case = build_case(spec, loss=loss, batch=3, steps=6, seed=2)
    case.lengths = np.array([6, 2, 4])
    value, grads, aux = loss_of(case)
    garbage = case.x.copy()
    y_garbage = case.y.copy()
    for b, n in enumerate(case.lengths):
        garbage[b, n:] = 100.0
        if output == "sequence":
            y_garbage[b, n:] = 0 if loss == "cross_entropy" else 50.0  # padded targets too
    value2, grads2, aux2 = loss_and_grads(
        case.params, spec, garbage, y_garbage, loss=loss, lengths=case.lengths
    )
    assert value2 == value
    for name in grads:
        np.testing.assert_array_equal(grads2[name], grads[name])
    out, out2 = aux["outputs"], aux2["outputs"]
    if output == "last":
        np.testing.assert_array_equal(out2, out)
    else:
        for b, n in enumerate(case.lengths):
            np.testing.assert_array_equal(out2[b, :n], out[b, :n])
    for b, n in enumerate(case.lengths):
        assert np.all(aux["dx"][b, n:] == 0.0)
        assert np.any(aux["dx"][b, :n] != 0.0)


# ---------------------------------------------------------------- truncated BPTT windows


@pytest.mark.parametrize("num_layers", [1, 2])
def test_windows_chained_through_h_final_reproduce_the_full_forward(num_layers):
    spec = ModelSpec(2, 3, 2, num_layers=num_layers, output="sequence")
    case = build_case(spec, loss="mse", batch=2, steps=9, seed=3)
    full = loss_of(case)[2]
    h, outs = None, []
    for start in range(0, 9, 4):  # windows of 4, 4, 1 steps
        window = slice(start, start + 4)
        _, _, aux = loss_and_grads(
            case.params, spec, case.x[:, window], case.y[:, window], loss="mse", h0=h
        )
        outs.append(aux["outputs"])
        h = aux["h_final"]
    np.testing.assert_array_equal(np.concatenate(outs, axis=1), full["outputs"])
    np.testing.assert_array_equal(h, full["h_final"])


@pytest.mark.parametrize("output", ["last", "sequence"])
def test_loss_and_grads_modifies_none_of_its_inputs(output):
    case = build_case(ModelSpec(2, 3, 2, num_layers=2, output=output), loss="mse", batch=2,
                      steps=3, seed=4, with_h0=True, ragged=True)
    before = {**{k: v.copy() for k, v in case.params.items()}, "x": case.x.copy(),
              "y": case.y.copy(), "h0": case.h0.copy(), "lengths": case.lengths.copy()}
    _, grads, aux = loss_of(case)
    for g in grads.values():  # the optimizer will update params in place next
        g += 1.0
    aux["h_final"] += 1.0  # the caller owns what it gets back (it becomes the next h0)
    after = {**case.params, "x": case.x, "y": case.y, "h0": case.h0, "lengths": case.lengths}
    for name, value in before.items():
        np.testing.assert_array_equal(after[name], value, err_msg=name)


# ---------------------------------------------------------------- dropout


def test_dropout_needs_an_rng_and_is_reproducible_with_a_seed():
    spec = ModelSpec(2, 8, 2, num_layers=3, output="sequence")
    case = build_case(spec, loss="mse", batch=4, steps=5, seed=5)
    plain = loss_of(case)[0]
    assert loss_of(case, dropout=0.5)[0] == plain  # no rng: evaluation, no dropout
    assert loss_of(case, dropout=0.0, rng=np.random.default_rng(0))[0] == plain
    a = loss_of(case, dropout=0.5, rng=np.random.default_rng(9))
    b = loss_of(case, dropout=0.5, rng=np.random.default_rng(9))
    assert a[0] != plain
    assert a[0] == b[0]
    for name in a[1]:
        np.testing.assert_array_equal(a[1][name], b[1][name])


@pytest.mark.parametrize("bidirectional", [False, True])
def test_dropout_gradients_match_centred_differences_with_a_fixed_mask(bidirectional):
    spec = ModelSpec(2, 3, 2, num_layers=2, output="last", bidirectional=bidirectional)
    case = build_case(spec, loss="mse", batch=3, steps=4, seed=6)

    def loss_at(params):  # the same seed -> the same dropout mask on every call
        return loss_and_grads(params, spec, case.x, case.y, loss="mse", dropout=0.4,
                              rng=np.random.default_rng(11))

    _, grads, _ = loss_at(case.params)
    eps = 1e-6
    names = ["rnn.0.W_xh", "rnn.1.W_xh", "rnn.1.W_hh", "head.W_hy"]
    if bidirectional:
        names += ["rnn.1.W_xh_reverse", "rnn.0.W_hh_reverse"]
    for name in names:
        p = case.params[name]
        for idx in np.ndindex(p.shape):
            old = p[idx]
            p[idx] = old + eps
            plus = loss_at(case.params)[0]
            p[idx] = old - eps
            minus = loss_at(case.params)[0]
            p[idx] = old
            num = (plus - minus) / (2 * eps)
            assert grads[name][idx] == pytest.approx(num, rel=1e-5, abs=1e-9), (name, idx)


def _reference_recurrent_dropout(params, spec, x, masks):
    """Per step, per layer: h_t = tanh(W_xh u_t + W_hh (m_l * h_{t-1}) + b), one mask m_l for all t."""
    u = x
    for layer in range(spec.num_layers):
        W_xh, W_hh, b = (params[f"rnn.{layer}.{k}"] for k in ("W_xh", "W_hh", "b_h"))
        h = np.zeros((x.shape[0], spec.hidden_size))
        out = []
        for t in range(x.shape[1]):
            h = np.tanh(u[:, t] @ W_xh.T + (masks[layer] * h) @ W_hh.T + b)
            out.append(h)
        u = np.stack(out, axis=1)
    return u


def test_recurrent_dropout_is_one_mask_per_sequence_shared_over_time_and_off_without_rng():
    from rnncli.core.rnn import keep_mask

    spec = ModelSpec(2, 6, 2, num_layers=2, output="sequence")
    case = build_case(spec, loss="mse", batch=4, steps=7, seed=12)
    out, _, cache = forward(case.params, spec, case.x, recurrent_dropout=0.4, rng=np.random.default_rng(3))
    draw = np.random.default_rng(3)
    masks = [keep_mask(draw, (4, 6), 0.4, np.float64) for _ in range(2)]  # the layers' masks, in order
    assert all((m == 0).any() for m in masks)
    np.testing.assert_allclose(cache["rnn"]["top_states"].transpose(1, 0, 2),
                               _reference_recurrent_dropout(case.params, spec, case.x, masks), atol=1e-12)
    plain = forward(case.params, spec, case.x)[0]
    np.testing.assert_array_equal(forward(case.params, spec, case.x, recurrent_dropout=0.4)[0], plain)
    assert not np.allclose(out, plain)
    rates = keep_mask(np.random.default_rng(0), (200, 500), 0.3, np.float32)
    assert rates.dtype == np.float32 and abs((rates == 0).mean() - 0.3) < 0.01
    assert set(np.unique(rates)) == {np.float32(0), np.float32(1 / 0.7)}


# ---------------------------------------------------------------- properties


@PROPERTY_SETTINGS
@given(case=cases())
def test_output_shapes_and_non_negative_loss(case):
    value, grads, aux = loss_of(case)
    spec, (batch, steps, _) = case.spec, case.x.shape
    expected = (batch, spec.output_size) if spec.output == "last" else (
        batch, steps, spec.output_size)
    assert aux["outputs"].shape == expected
    assert aux["h_final"].shape == (spec.num_layers, batch, spec.hidden_size)
    assert np.isfinite(value) and value >= 0.0
    assert all(np.all(np.isfinite(g)) for g in grads.values())


@PROPERTY_SETTINGS
@given(spec=specs(), seed=seeds, batch=st.integers(1, 3), steps=st.integers(1, 5))
def test_tanh_model_states_stay_in_the_unit_ball(spec, seed, batch, steps):
    spec = dataclasses.replace(spec, nonlinearity="tanh")
    case = build_case(spec, loss="mse", batch=batch, steps=steps, seed=seed, init="normal")
    case.params = {k: v * 1e3 for k, v in case.params.items()}  # saturate hard
    case.x = case.x * 10
    _, h_final, _ = forward(case.params, spec, case.x)
    assert np.all(np.abs(h_final) <= 1.0)


@PROPERTY_SETTINGS
@given(spec=specs(), seed=seeds, loss=st.sampled_from(["mse", "cross_entropy"]),
       ragged=st.booleans())
def test_same_seed_gives_bit_identical_params_outputs_and_grads(spec, seed, loss, ragged):
    a = build_case(spec, loss=loss, batch=2, steps=4, seed=seed, ragged=ragged, with_h0=True)
    b = build_case(spec, loss=loss, batch=2, steps=4, seed=seed, ragged=ragged, with_h0=True)
    for name in a.params:
        np.testing.assert_array_equal(a.params[name], b.params[name])
    va, ga, auxa = loss_of(a)
    vb, gb, auxb = loss_of(b)
    assert va == vb
    np.testing.assert_array_equal(auxa["outputs"], auxb["outputs"])
    for name in ga:
        np.testing.assert_array_equal(ga[name], gb[name])


@PROPERTY_SETTINGS
@given(case=cases(dtype=np.float32), opt=st.sampled_from(
    ["sgd", "momentum", "adagrad", "rmsprop", "adam"]))
def test_float32_path_stays_float32(case, opt):
    value, grads, aux = loss_of(case)
    for key in ("outputs", "h_final", "dx"):
        assert aux[key].dtype == np.float32, key
    if case.h0 is not None:
        assert aux["dh0"].dtype == np.float32
    for name, g in grads.items():
        assert g.dtype == np.float32, name
    optimizer = make_optimizer(opt, 0.01)
    for _ in range(2):
        optimizer.step(case.params, grads)
    for name, p in case.params.items():
        assert p.dtype == np.float32, name
    for key, v in optimizer.state_dict().items():
        if isinstance(v, np.ndarray) and v.ndim > 0:
            assert v.dtype == np.float32, key
