"""Losses against hand-computed values, their gradients against centred differences, accuracy."""

from __future__ import annotations

import numpy as np
import pytest

from rnncli.core.losses import accuracy, cross_entropy, mse


def numerical_grad(f, z, eps=1e-6):
    """Centred differences of the scalar f at z (float64)."""
    grad = np.zeros_like(z)
    for idx in np.ndindex(z.shape):
        old = z[idx]
        z[idx] = old + eps
        plus = f(z)
        z[idx] = old - eps
        minus = f(z)
        z[idx] = old
        grad[idx] = (plus - minus) / (2 * eps)
    return grad


# ---------------------------------------------------------------- mse


def test_mse_value_and_gradient_by_hand():
    pred = np.array([[1.0, 2.0], [0.0, -1.0]])
    target = np.array([[0.0, 0.0], [0.0, 1.0]])
    loss, dpred = mse(pred, target)
    # squared errors 1, 4, 0, 4 -> mean 9/4
    assert loss == pytest.approx(2.25, abs=1e-15)
    np.testing.assert_allclose(dpred, 2 * (pred - target) / 4, rtol=0, atol=1e-15)


def test_mse_with_mask_averages_over_valid_elements_only():
    pred = np.zeros((2, 3, 2))
    target = np.ones((2, 3, 2))
    target[1, 2] = 100.0  # a padded position: must not count
    mask = np.array([[True, True, True], [True, True, False]])
    loss, dpred = mse(pred, target, mask)
    assert loss == pytest.approx(1.0, abs=1e-15)  # 10 valid elements, each squared error 1
    assert np.all(dpred[1, 2] == 0.0)
    np.testing.assert_allclose(dpred[0], -2 * np.ones((3, 2)) / 10, rtol=0, atol=1e-15)


def test_mse_gradient_matches_centred_differences():
    rng = np.random.default_rng(0)
    pred = rng.normal(size=(3, 4, 2))
    target = rng.normal(size=(3, 4, 2))
    mask = rng.random((3, 4)) < 0.7
    mask[0, 0] = True
    _, dpred = mse(pred, target, mask)
    num = numerical_grad(lambda p: mse(p, target, mask)[0], pred.copy())
    np.testing.assert_allclose(dpred, num, rtol=1e-7, atol=1e-9)


# ---------------------------------------------------------------- cross entropy


def test_cross_entropy_value_and_gradient_by_hand():
    logits = np.array([[0.0, 0.0], [np.log(3.0), 0.0]])
    target = np.array([0, 1])
    loss, dlogits = cross_entropy(logits, target)
    # p(correct) = 1/2 and 1/4 -> mean of log 2 and log 4
    assert loss == pytest.approx((np.log(2) + np.log(4)) / 2, abs=1e-14)
    expected = np.array([[0.5 - 1, 0.5], [0.75, 0.25 - 1]]) / 2
    np.testing.assert_allclose(dlogits, expected, rtol=0, atol=1e-14)


def test_cross_entropy_is_stable_for_huge_logits():
    logits = np.array([[1000.0, 0.0, -1000.0], [-1000.0, 1000.0, 0.0]])
    loss, dlogits = cross_entropy(logits, np.array([0, 2]))
    assert np.isfinite(loss) and np.all(np.isfinite(dlogits))
    assert loss == pytest.approx(1000.0 / 2, rel=1e-12)  # row 0 exact, row 1 costs 1000


def test_cross_entropy_with_mask_ignores_padded_targets():
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(2, 3, 4))
    target = rng.integers(0, 4, size=(2, 3))
    mask = np.array([[True, False, True], [True, True, False]])
    loss, dlogits = cross_entropy(logits, target, mask)
    flat = logits[mask]
    logp = flat - np.log(np.exp(flat).sum(axis=1, keepdims=True))
    assert loss == pytest.approx(-logp[np.arange(4), target[mask]].mean(), abs=1e-14)
    assert np.all(dlogits[~mask] == 0.0)
    other = target.copy()
    other[~mask] = (other[~mask] + 1) % 4  # change only padded targets
    loss2, dlogits2 = cross_entropy(logits, other, mask)
    assert loss2 == loss
    np.testing.assert_array_equal(dlogits2, dlogits)


@pytest.mark.parametrize("with_mask", [False, True])
def test_cross_entropy_gradient_matches_centred_differences(with_mask):
    rng = np.random.default_rng(2)
    logits = rng.normal(size=(3, 4, 5)) * 2
    target = rng.integers(0, 5, size=(3, 4))
    mask = None
    if with_mask:
        mask = rng.random((3, 4)) < 0.6
        mask[:, 0] = True
    _, dlogits = cross_entropy(logits, target, mask)
    num = numerical_grad(lambda z: cross_entropy(z, target, mask)[0], logits.copy())
    np.testing.assert_allclose(dlogits, num, rtol=1e-7, atol=1e-9)


def test_losses_are_non_negative_and_zero_at_a_perfect_fit():
    pred = np.array([[0.3, -0.2]])
    assert mse(pred, pred.copy())[0] == 0.0
    loss, _ = cross_entropy(np.array([[50.0, -50.0]]), np.array([0]))
    assert 0.0 <= loss < 1e-20


def test_float32_losses_keep_float32_gradients():
    logits = np.ones((2, 3), dtype=np.float32)
    _, dl = cross_entropy(logits, np.array([0, 1]))
    _, dp = mse(logits, np.zeros((2, 3), dtype=np.float32))
    assert dl.dtype == np.float32 and dp.dtype == np.float32


# ---------------------------------------------------------------- accuracy


def test_accuracy_counts_argmax_hits():
    logits = np.array([[2.0, 1.0], [0.0, 3.0], [5.0, 4.0], [0.0, 1.0]])
    assert accuracy(logits, np.array([0, 1, 1, 0])) == pytest.approx(0.5)
    assert accuracy(logits, np.array([0, 1, 0, 1])) == pytest.approx(1.0)


def test_accuracy_with_mask_counts_valid_steps_only():
    logits = np.zeros((1, 3, 2))
    logits[0, :, 1] = 1.0  # predicts class 1 everywhere
    target = np.array([[1, 0, 0]])
    mask = np.array([[True, True, False]])
    assert accuracy(logits, target, mask) == pytest.approx(0.5)
    assert isinstance(accuracy(logits, target, mask), float)


def test_padded_targets_may_hold_any_value():
    """Padding conventions differ (0, -1 as an ignore index, garbage): none may leak in."""
    rng = np.random.default_rng(3)
    logits = rng.normal(size=(2, 3, 4))
    target = np.array([[1, 2, -1], [3, -1, 99]])
    mask = np.array([[True, True, False], [True, False, False]])
    clean = np.where(mask, target, 0)
    loss, dlogits = cross_entropy(logits, target, mask)
    loss0, dlogits0 = cross_entropy(logits, clean, mask)
    assert loss == loss0
    np.testing.assert_array_equal(dlogits, dlogits0)
    assert accuracy(logits, target, mask) == accuracy(logits, clean, mask)
