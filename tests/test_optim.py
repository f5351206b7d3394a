"""Optimizers and clipping: exact first steps, training margins, clipping, state round trips."""

from __future__ import annotations

import io

import numpy as np
import pytest

from rnncli.core.init import init_params
from rnncli.core.losses import accuracy
from rnncli.core.model import ModelSpec, loss_and_grads
from rnncli.core.optim import clip_gradients, make_optimizer

# name -> (optimizer, lr, opts, largest allowed final/initial loss after STEPS full-batch steps).
# Observed ratios are ~0.27 (sgd) and <= 0.05 (the others); the bounds leave room but still fail
# an optimizer that barely moves or diverges.
CONFIGS = {
    "sgd": ("sgd", 0.5, {}, 0.4),
    "momentum": ("momentum", 0.1, {"momentum": 0.9}, 0.1),
    "nesterov": ("momentum", 0.1, {"momentum": 0.9, "nesterov": True}, 0.1),
    "adagrad": ("adagrad", 0.1, {}, 0.1),
    "rmsprop": ("rmsprop", 0.01, {"decay": 0.99}, 0.1),
    "adam": ("adam", 0.02, {"beta1": 0.9, "beta2": 0.999}, 0.1),
}
STEPS = 60


def small_task(kind):
    """32 sequences of 6 steps, 2 features: regress a mix of time means, or classify a sign."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 6, 2))
    if kind == "regression":
        y = (x[..., 0].mean(axis=1) - 0.5 * x[..., 1].mean(axis=1))[:, None]
        return ModelSpec(2, 8, 1), x, y, "mse"
    y = (x[..., 0].sum(axis=1) > 0).astype(np.int64)
    return ModelSpec(2, 8, 2), x, y, "cross_entropy"


@pytest.mark.parametrize("kind", ["regression", "classification"])
@pytest.mark.parametrize("config", list(CONFIGS))
def test_each_optimizer_lowers_the_loss_by_a_margin(kind, config):
    name, lr, opts, max_ratio = CONFIGS[config]
    spec, x, y, loss = small_task(kind)
    params = init_params(spec, np.random.default_rng(1))
    opt = make_optimizer(name, lr, **opts)
    first, _, _ = loss_and_grads(params, spec, x, y, loss=loss)
    for _ in range(STEPS):
        _, grads, _ = loss_and_grads(params, spec, x, y, loss=loss)
        opt.step(params, grads)
    last, _, aux = loss_and_grads(params, spec, x, y, loss=loss)
    assert last < max_ratio * first, f"{config}: {first:.4f} -> {last:.4f}"
    if kind == "classification":
        assert accuracy(aux["outputs"], y) >= 0.9


# ---------------------------------------------------------------- exact updates


@pytest.mark.parametrize(
    ("name", "opts", "first", "second"),
    [
        # p = 1, g = 0.5 on both steps, lr = 0.1
        ("sgd", {}, 1 - 0.05, 1 - 0.10),
        ("momentum", {"momentum": 0.9}, 1 - 0.05, 1 - 0.05 - 0.1 * (0.9 * 0.5 + 0.5)),
        ("momentum", {"momentum": 0.9, "nesterov": True}, 1 - 0.1 * (0.5 + 0.45),
         1 - 0.1 * (0.5 + 0.45) - 0.1 * (0.5 + 0.9 * 0.95)),
        ("adagrad", {"eps": 0.0}, 1 - 0.1, 1 - 0.1 - 0.1 * 0.5 / np.sqrt(0.5)),
        ("rmsprop", {"decay": 0.9, "eps": 0.0}, 1 - 0.1 * 0.5 / np.sqrt(0.025),
         1 - 0.1 * 0.5 / np.sqrt(0.025) - 0.1 * 0.5 / np.sqrt(0.9 * 0.025 + 0.025)),
        ("adam", {"eps": 0.0}, 1 - 0.1, 1 - 0.2),  # bias-corrected: a constant g moves lr a step
    ],
)
def test_first_two_updates_match_the_formulas(name, opts, first, second):
    params = {"w": np.array([1.0])}
    grads = {"w": np.array([0.5])}
    opt = make_optimizer(name, 0.1, **opts)
    opt.step(params, grads)
    assert params["w"][0] == pytest.approx(first, rel=1e-12)
    opt.step(params, grads)
    assert params["w"][0] == pytest.approx(second, rel=1e-12)


def test_weight_decay_adds_an_l2_term_to_the_gradient():
    params = {"w": np.array([2.0, -1.0])}
    opt = make_optimizer("sgd", 0.1, weight_decay=0.5)
    opt.step(params, {"w": np.zeros(2)})
    np.testing.assert_allclose(params["w"], [2.0 - 0.1 * 1.0, -1.0 + 0.1 * 0.5], rtol=1e-14)


def test_unknown_optimizer_is_rejected_by_name():
    with pytest.raises(ValueError, match="adamw"):
        make_optimizer("adamw", 0.1)


# ---------------------------------------------------------------- clipping


def grads_with_norm_13():
    return {"a": np.array([3.0, 4.0]), "b": np.array([[12.0]])}  # global norm 13


def test_clip_by_norm_returns_the_norm_before_and_scales_in_place():
    grads = grads_with_norm_13()
    norm = clip_gradients(grads, max_norm=6.5)
    assert norm == pytest.approx(13.0, rel=1e-14)
    np.testing.assert_allclose(grads["a"], [1.5, 2.0], rtol=1e-9)
    np.testing.assert_allclose(grads["b"], [[6.0]], rtol=1e-9)
    after = np.sqrt(sum(float((g**2).sum()) for g in grads.values()))
    assert after <= 6.5


def test_clip_below_the_threshold_changes_nothing():
    grads = grads_with_norm_13()
    assert clip_gradients(grads, max_norm=100.0) == pytest.approx(13.0)
    np.testing.assert_array_equal(grads["a"], [3.0, 4.0])
    assert clip_gradients(grads) == pytest.approx(13.0)  # no limits: just the norm
    np.testing.assert_array_equal(grads["b"], [[12.0]])


def test_clip_by_value_bounds_every_entry_and_reports_the_unclipped_norm():
    grads = {"a": np.array([-7.0, 0.5]), "b": np.array([[2.0, -0.1]])}
    norm = clip_gradients(grads, max_value=1.0)
    assert norm == pytest.approx(np.sqrt(49 + 0.25 + 4 + 0.01), rel=1e-14)
    np.testing.assert_array_equal(grads["a"], [-1.0, 0.5])
    np.testing.assert_array_equal(grads["b"], [[1.0, -0.1]])


def test_clip_by_value_and_norm_together_satisfies_both():
    grads = {"a": np.array([-7.0, 5.0, 0.2]), "b": np.array([3.0])}
    clip_gradients(grads, max_norm=1.0, max_value=2.0)
    flat = np.concatenate([g.ravel() for g in grads.values()])
    assert np.abs(flat).max() <= 2.0
    assert np.linalg.norm(flat) <= 1.0 + 1e-12


def test_clipping_keeps_float32():
    grads = {"a": np.array([30.0, 40.0], dtype=np.float32)}
    clip_gradients(grads, max_norm=1.0, max_value=35.0)
    assert grads["a"].dtype == np.float32


# ---------------------------------------------------------------- state round trips


def through_npz(state):
    """What a checkpoint does: np.savez, then np.load without pickle."""
    buf = io.BytesIO()
    np.savez(buf, **{k: np.asarray(v) for k, v in state.items()})
    buf.seek(0)
    with np.load(buf, allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


@pytest.mark.parametrize("config", list(CONFIGS))
@pytest.mark.parametrize("via_npz", [False, True])
def test_state_dict_round_trip_continues_bit_identically(config, via_npz):
    name, lr, opts, _ = CONFIGS[config]
    spec, x, y, loss = small_task("classification")
    params = init_params(spec, np.random.default_rng(2))
    opt = make_optimizer(name, lr, **opts)
    for _ in range(3):
        opt.step(params, loss_and_grads(params, spec, x, y, loss=loss)[1])
    state = opt.state_dict()
    resumed_params = {k: v.copy() for k, v in params.items()}
    resumed = make_optimizer(name, lr, **opts)
    resumed.load_state_dict(through_npz(state) if via_npz else state)
    for _ in range(4):
        opt.step(params, loss_and_grads(params, spec, x, y, loss=loss)[1])
        resumed.step(resumed_params, loss_and_grads(resumed_params, spec, x, y, loss=loss)[1])
    for key in params:
        np.testing.assert_array_equal(resumed_params[key], params[key], err_msg=key)


def test_a_fresh_optimizer_differs_from_a_resumed_one():
    """Guards the round-trip test: the state must actually matter (adam's t and moments)."""
    spec, x, y, loss = small_task("regression")
    params = init_params(spec, np.random.default_rng(3))
    opt = make_optimizer("adam", 0.02)
    for _ in range(3):
        opt.step(params, loss_and_grads(params, spec, x, y, loss=loss)[1])
    a = {k: v.copy() for k, v in params.items()}
    fresh = make_optimizer("adam", 0.02)
    grads = loss_and_grads(params, spec, x, y, loss=loss)[1]
    opt.step(params, grads)
    fresh.step(a, grads)
    assert not np.array_equal(a["head.W_hy"], params["head.W_hy"])


def test_clipping_measures_a_float32_spike_whose_squares_overflow():
    """A gradient of 1e20 per entry squares past float32's range; the norm must still be finite
    so clipping rescales it instead of zeroing it (inf norm) or passing it on."""
    grads = {"a": np.full(10, 1e20, dtype=np.float32), "b": np.ones(3, dtype=np.float32)}
    norm = clip_gradients(grads, max_norm=5.0)
    assert norm == pytest.approx(np.sqrt(10) * 1e20, rel=1e-6)
    assert grads["a"].dtype == np.float32
    clipped = np.sqrt(sum(float(np.sum(g.astype(np.float64) ** 2)) for g in grads.values()))
    assert clipped == pytest.approx(5.0, rel=1e-5)
    assert np.all(grads["a"] > 1.5)
