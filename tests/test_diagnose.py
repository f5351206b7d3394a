"""Gradient-flow diagnostics: constructed W_hh whose gradient provably shrinks or grows, update
ratios checked against hand-computed SGD steps, and the `rnn diagnose` command end to end."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from conftest import one_blas_thread, rnn

from rnncli.config import load_config
from rnncli.core.init import init_params
from rnncli.core.model import ModelSpec, loss_and_grads
from rnncli.core.optim import make_optimizer
from rnncli.data.types import Batch, TaskInfo
from rnncli.tools.diagnose import diagnose, diagnose_config, diagnose_weights, verdict
from rnncli.training.loop import train

ROOT = Path(__file__).resolve().parents[1]
H, T, B = 12, 20, 4


def _setup(nonlinearity: str, W_hh: np.ndarray, output: str = "last", seed: int = 0):
    rng = np.random.default_rng(seed)
    spec = ModelSpec(2, H, 1, 1, nonlinearity, output)
    params = init_params(spec, rng, dtype=np.float64)
    params["rnn.0.W_hh"] = W_hh
    # Positive inputs and input weights keep every relu unit active, so its derivative is exactly 1.
    params["rnn.0.W_xh"] = np.abs(params["rnn.0.W_xh"]) * 0.1
    x = np.abs(rng.standard_normal((B, T, 2)))
    y = rng.standard_normal((B, T, 1) if output == "sequence" else (B, 1))
    return params, spec, Batch(x, y, None), TaskInfo(2, 1, output, "mse", "regression")


def _orthogonal(seed: int = 1) -> np.ndarray:
    q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((H, H)))
    return q


def test_radius_half_tanh_shrinks_geometrically_and_says_vanishing():
    W = 0.5 * _orthogonal()
    params, spec, batch, task = _setup("tanh", W)
    d = diagnose(params, spec, batch, task)
    norms = np.array(d["dh_norms"][0])
    assert norms.shape == (T,)
    # |dh_{t-1}| = |diag(tanh') W^T dh_t| <= 0.5 |dh_t|: every step back at least halves it ...
    assert np.all(norms[:-1] <= 0.5 * norms[1:] * (1 + 1e-12))
    # ... and not much more than that (tanh' is near 1 at these small states): geometric decay.
    assert 0.3 < d["dh_factor_per_step"][0] <= 0.5
    assert d["dh_ratio"][0] == pytest.approx(norms[0] / norms[-1])
    assert d["dh_ratio"][0] < 0.5 ** (T - 1) * 1.0001
    assert d["recurrent"][0]["spectral_radius"] == pytest.approx(0.5)
    assert d["recurrent"][0]["max_singular"] == pytest.approx(0.5)
    assert d["verdict"] == "vanishing"
    assert f"over {T} steps" in d["explanation"] and "spectral radius 0.5" in d["explanation"]


def test_radius_one_and_a_half_relu_grows_geometrically_and_says_exploding():
    params, spec, batch, task = _setup("relu", 1.5 * np.eye(H))
    d = diagnose(params, spec, batch, task)
    norms = np.array(d["dh_norms"][0])
    # every unit is active, so each step back multiplies the gradient by W^T = 1.5 I exactly
    np.testing.assert_allclose(norms[:-1] / norms[1:], 1.5, rtol=1e-10)
    assert d["dh_ratio"][0] == pytest.approx(1.5 ** (T - 1), rel=1e-9)
    assert d["recurrent"][0]["spectral_radius"] == pytest.approx(1.5)
    assert d["verdict"] == "exploding"
    assert "1.5 per step" in d["explanation"]


def test_orthogonal_short_sequence_is_healthy():
    params, spec, batch, task = _setup("tanh", _orthogonal())
    d = diagnose(params, spec, batch, task)
    assert 1e-2 < d["dh_ratio"][0] <= 1.0
    assert d["verdict"] == "healthy"


def test_sequence_output_probe_sees_vanishing_that_per_step_losses_hide():
    params, spec, batch, task = _setup("tanh", 0.5 * _orthogonal(), output="sequence")
    d = diagnose(params, spec, batch, task)
    real = np.array(d["dh_norms"][0])
    # every step has its own loss, so the real dL/dh_t does not decay back in time ...
    assert real[0] / real[-1] > 0.1
    # ... but the part that travels back from the last step does, and the verdict reads that one.
    probe = np.array(d["probe_dh_norms"][0])
    assert probe[0] / probe[-1] < 1e-4
    assert d["verdict"] == "vanishing"


def test_update_ratio_is_one_sgd_step_and_leaves_inputs_alone():
    params, spec, batch, task = _setup("tanh", _orthogonal())
    before = {k: v.copy() for k, v in params.items()}
    opt = make_optimizer("sgd", 0.1)
    d = diagnose(params, spec, batch, task, optimizer=opt)
    _, grads, _ = loss_and_grads(params, spec, batch.x, batch.y, loss="mse")
    for name, p in params.items():
        np.testing.assert_array_equal(p, before[name])
        expected = 0.1 * np.linalg.norm(grads[name]) / np.linalg.norm(p) if np.any(p) else None
        assert d["update_ratio"][name] == (None if expected is None else pytest.approx(expected))
    assert opt.t == 0  # the caller's optimizer was copied, not stepped
    assert d["optimizer"] == "sgd"


def test_clip_norm_caps_the_update():
    params, spec, batch, task = _setup("relu", 1.5 * np.eye(H))
    d = diagnose(params, spec, batch, task, optimizer="sgd", lr=1.0, clip_norm=1e-3)
    W_norm = np.linalg.norm(params["rnn.0.W_hh"])
    assert d["grad_norm"] > 1.0  # reported before clipping, as training logs it
    assert d["update_ratio"]["rnn.0.W_hh"] <= 1e-3 / W_norm * (1 + 1e-9)


def test_verdict_edge_cases():
    assert verdict([math.nan], 10)[0] == "exploding"
    assert verdict([0.0], 10)[0] == "vanishing"
    assert verdict([1.0, 1e-5], 10) == ("vanishing", verdict([1e-5], 10)[1].replace(
        "over 10 steps", "in layer 1 over 10 steps"))
    assert verdict([0.5], 1)[0] == "healthy"


def test_diagnose_config_uses_the_runs_initial_weights_and_optimizer():
    cfg = load_config([ROOT / "configs/adding.yaml"],
                      ["data.num_samples=40", "data.seq_len=30", "model.hidden_size=8"])
    d = diagnose_config(cfg, batch_size=8, steps=12)
    assert d["T"] == 12 and d["batch_size"] == 8
    assert len(d["dh_norms"]) == 1 and len(d["dh_norms"][0]) == 12
    assert d["optimizer"] == cfg.train.optimizer
    assert d["verdict"] in ("vanishing", "exploding", "healthy")
    rec = d["recurrent"][0]
    if cfg.model.recurrent_init in ("orthogonal", "identity"):
        assert rec["spectral_radius"] == pytest.approx(1.0)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    cfg = load_config([ROOT / "configs/sine.yaml"],
                      ["data.num_samples=64", "data.seq_len=10", "model.hidden_size=6", "train.epochs=2",
                       "train.patience=null"])
    run_dir = tmp_path_factory.mktemp("runs") / "sine-1"
    with one_blas_thread():
        train(cfg, run_dir)
    return run_dir


def test_diagnose_weights_of_a_run_uses_its_best_weights_and_checkpoint(tiny_run):
    d = diagnose_weights(tiny_run, batch_size=4)
    assert d["source"].startswith(f"weights {tiny_run / 'best.npz'}")
    assert "optimizer state of" in d["source"] and "checkpoint.npz (epoch 2)" in d["source"]
    assert d["T"] == 10 and d["batch_size"] == 4
    d2 = diagnose_weights(tiny_run / "best.npz", batch_size=4)
    assert d2["source"].startswith("weights")


def test_cli_json_is_the_report_and_text_goes_to_stderr():
    args = ["diagnose", "-c", str(ROOT / "configs/adding.yaml"), "--set", "data.num_samples=20",
            "--set", "data.seq_len=60", "--set", "model.hidden_size=8", "-b", "4"]
    res = rnn(*args, "--json")
    assert res.exit_code == 0, res.stderr
    report = json.loads(res.stdout)
    assert report["T"] == 60 and len(report["probe_dh_norms"][0]) == 60
    res = rnn(*args)
    assert res.exit_code == 0 and res.stdout == ""
    assert "gradients: " + report["verdict"] in res.stderr
    assert "spectral radius" in res.stderr and "rnn.0.W_hh" in res.stderr


def test_cli_refuses_weights_and_config_together(tiny_run):
    res = rnn("diagnose", str(tiny_run), "-c", str(ROOT / "configs/sine.yaml"))
    assert res.exit_code == 2
    assert "rnn: error: give either WEIGHTS or --config, not both" in res.stderr
    res = rnn("diagnose", str(tiny_run), "--set", "train.lr=1")
    assert res.exit_code == 2 and "--set and --seed apply to --config" in res.stderr
