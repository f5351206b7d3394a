"""Attribution maps (`rnn diagnose --map`): each entry against an independent computation (a separate
backward pass of one step's loss; a finite-difference Jacobian), the shapes vanishing and healthy
networks give, unit saturation, the shaded grid, and the command."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import needs, one_blas_thread, rnn

import rnncli.tools.attribution as attribution_module
from rnncli.config import load_config
from rnncli.core.init import init_params
from rnncli.core.losses import LOSSES
from rnncli.core.model import ModelSpec, backward, forward
from rnncli.data.types import Batch, TaskInfo
from rnncli.tools.attribution import attribution_map, saturation, shaded_grid
from rnncli.tools.diagnose import diagnose_config

ROOT = Path(__file__).resolve().parents[1]
B, T, I, O = 3, 5, 2, 3


pytestmark = pytest.mark.usefixtures("one_thread")  # a second each instead of 30 on a busy machine


def _case(output: str, layers: int = 2, nonlinearity: str = "tanh", seed: int = 0):
    rng = np.random.default_rng(seed)
    spec = ModelSpec(I, 4, O, layers, nonlinearity, output)
    params = init_params(spec, rng, dtype=np.float64)
    x = rng.standard_normal((B, T, I))
    y = rng.standard_normal((B, O) if output == "last" else (B, T, O))
    return params, spec, Batch(x, y, None), TaskInfo(I, O, output, "mse", "regression")


def test_dh_rows_are_the_gradient_of_each_steps_loss_alone():
    params, spec, batch, task = _case("sequence")
    m = attribution_map(params, spec, batch, task)
    dh = np.asarray(m["dh"])
    assert m["targets"] == list(range(T)) and dh.shape == (2, T, T)
    out, _, cache = forward(params, spec, batch.x)
    _, dout = LOSSES["mse"](out, batch.y)
    for t in range(T):
        only_t = np.zeros_like(dout)
        only_t[:, t] = dout[:, t]
        _, _, _, norms = backward(only_t, cache)
        np.testing.assert_allclose(dh[:, t, : t + 1], norms[:, : t + 1], rtol=1e-12)
        assert np.isnan(dh[:, t, t + 1:]).all()  # the loss at t sends nothing to later states


@pytest.mark.parametrize("output", ["last", "sequence"])
def test_dx_is_the_norm_of_the_finite_difference_jacobian(output):
    params, spec, batch, task = _case(output)
    m = attribution_map(params, spec, batch, task)
    t = T - 2 if output == "sequence" else T - 1
    row = m["targets"].index(t)

    def y_at(x):
        out = forward(params, spec, x)[0]
        return out if output == "last" else out[:, t]

    for s in range(t + 1):
        squares = 0.0
        for b in range(B):
            for i in range(I):
                xp, xm = batch.x.copy(), batch.x.copy()
                xp[b, s, i] += 1e-6
                xm[b, s, i] -= 1e-6
                squares += float((((y_at(xp) - y_at(xm)) / 2e-6) ** 2).sum())
        assert m["dx"][row, s] == pytest.approx(np.sqrt(squares), rel=1e-6)
    assert not m["dx_estimated"]


def test_many_outputs_are_estimated_close_to_the_exact_norm(monkeypatch):
    params, spec, batch, task = _case("last", layers=1)
    exact = attribution_map(params, spec, batch, task)["dx"]
    monkeypatch.setattr(attribution_module, "MAX_DIRECTIONS", 2)  # O = 3 > 2: random projections
    est = attribution_map(params, spec, batch, task, seed=5)
    assert est["dx_estimated"]
    ratio = np.asarray(est["dx"]) / exact
    assert np.all((ratio > 0.3) & (ratio < 3)) and not np.allclose(ratio, 1)


def test_contracting_tanh_fades_and_identity_relu_stays_level():
    H, steps = 8, 30
    rng = np.random.default_rng(1)
    q, _ = np.linalg.qr(rng.standard_normal((H, H)))
    x = np.abs(rng.standard_normal((4, steps, I))) * 0.1
    for nonlinearity, W, fades in (("tanh", 0.5 * q, True), ("relu", np.eye(H), False)):
        spec = ModelSpec(I, H, 1, 1, nonlinearity, "last")
        params = init_params(spec, rng, dtype=np.float64)
        params["rnn.0.W_hh"] = W
        params["rnn.0.W_xh"] = np.abs(params["rnn.0.W_xh"])  # relu units stay active
        m = attribution_map(params, spec, Batch(x, rng.standard_normal((4, 1))), TaskInfo(I, 1))
        row = np.asarray(m["dh"])[0, 0]
        if fades:  # each step back at least halves it: |W^T| = 0.5 and tanh' <= 1
            assert np.all(row[:-1] <= 0.5 * row[1:] * (1 + 1e-12))
        else:
            np.testing.assert_allclose(row, row[-1], rtol=1e-12)  # identity passes it back unchanged


def test_saturation_counts_saturated_and_dead_units():
    params, spec, batch, _ = _case("last", layers=1)
    params["rnn.0.W_xh"] = np.array([[100.0, 0], [0, 0], [0, 0], [0, 0]])  # unit 0 pinned near +-1
    params["rnn.0.W_hh"] = np.zeros((4, 4))
    sat = saturation(params, spec, batch)[0]
    expected = float((np.abs(np.tanh(100 * batch.x[..., 0])) > 0.99).mean())
    assert expected > 0.9 and sat["saturated_fraction"] == [expected, 0.0, 0.0, 0.0]
    assert sat["mostly_saturated_units"] == [0]
    relu = ModelSpec(I, 4, O, 1, "relu", "last")
    params["rnn.0.b_h"] = np.array([-100.0, 100.0, -100.0, 0.0])  # units 0 and 2 can never fire
    params["rnn.0.W_xh"] = np.zeros((4, I))
    params["rnn.0.W_hh"] = np.zeros((4, 4))
    sat = saturation(params, relu, batch)[0]
    assert sat["dead_units"] == [0, 2, 3] and sat["active_fraction"] == [0.0, 1.0, 0.0, 0.0]


def test_shaded_grid_marks_decades_and_the_future():
    m = [[1.0, np.nan, np.nan], [0.05, 1.0, np.nan], [1e-5, 0.002, 0.5]]
    assert shaded_grid(m, [0, 1, 2]) == ["t  s = 0 .. 2", "0 |█  |", "1 |▓█ |", "2 |·▒█|"]
    assert shaded_grid([[1.0] * 10], [9], width=5)[1] == "9 |█████|"


def test_the_readme_long_adding_example_contrasts_tanh_and_the_irnn():
    small = ["data.num_samples=40"]
    with one_blas_thread():
        tanh = diagnose_config(load_config([ROOT / "configs/adding_long.yaml"],
                                           [*small, "model.nonlinearity=tanh", "model.recurrent_init=null"]),
                               attribution=True)
        irnn = diagnose_config(load_config([ROOT / "configs/adding_long.yaml"], small), attribution=True)
    assert tanh["verdict"] == "vanishing" and tanh["dh_ratio"][0] < 1e-50
    assert irnn["verdict"] == "healthy" and 0.1 < irnn["dh_ratio"][0] < 10
    assert np.asarray(tanh["map"]["dh"]).shape == (1, 1, 400)


def test_cli_map_json_and_terminal_grid():
    args = ["diagnose", "--map", "--set", "data.output=sequence", "--set", "data.seq_len=6",
            "--set", "data.num_samples=20", "-b", "4"]
    r = rnn(*args, "--json")
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert d["map"]["targets"] == list(range(6))
    assert np.asarray(d["map"]["dh"], dtype=float).shape == (1, 6, 6) and d["map"]["dh"][0][0][1] is None
    r = rnn(*args)
    assert r.exit_code == 0 and r.stdout == ""
    assert "|dL_t/dh_s|: gradient of the loss at t reaching the state at s" in r.stderr
    assert "5 |███" in r.stderr and "tanh units: |h| > 0.99 in" in r.stderr
    map_part = r.stderr[r.stderr.index("|dL_t/dh_s|: gradient"):]
    assert max(len(line) for line in map_part.splitlines()) <= 80


@pytest.mark.slow
def test_cli_map_png_and_usage(tmp_path):
    r = rnn("diagnose", "-o", str(tmp_path / "m.png"))
    assert r.exit_code == 2
    assert r.stderr.strip() == "rnn: error: -o/--out draws the attribution map: add --map"
    needs("matplotlib")
    out = tmp_path / "m.png"
    r = rnn("diagnose", "--map", "-o", str(out), "--set", "data.seq_len=8", "--set", "data.num_samples=20")
    assert r.exit_code == 0, r.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and f"wrote {out}" in r.stderr
    assert "|dL_t/dh_s|: gradient" not in r.stderr  # the PNG replaces the grids
