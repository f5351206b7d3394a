"""`rnn explain`: the step-by-step pass sums to the core's gradients, every sum is checked against centred
differences, the pieces add up as the equations say, and the command's outputs (terminal, Markdown, JSON)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import one_blas_thread, rnn

import rnncli.tools.explain as explain_module
from rnncli.config import load_config
from rnncli.core.init import init_params
from rnncli.core.model import ModelSpec, loss_and_grads
from rnncli.data.types import TaskInfo
from rnncli.errors import UsageError
from rnncli.tools.explain import explain_sequence, numerical_gradients
from rnncli.tools.explain_input import parse_sequence
from rnncli.training.loop import train

ROOT = Path(__file__).resolve().parents[1]
I, H, O, T = 2, 3, 3, 4


pytestmark = pytest.mark.usefixtures("one_thread")  # a second each instead of 30 on a busy machine


def _case(num_layers: int, nonlinearity: str, output: str, loss: str, seed: int = 3, bidirectional=False):
    spec = ModelSpec(I, H, O, num_layers, nonlinearity, output, bidirectional=bidirectional)
    rng = np.random.default_rng(seed)
    params = init_params(spec, rng, dtype=np.float64)
    for name in params:  # non-zero biases keep relu pre-activations away from the kink at 0
        if "b_" in name:
            shape = params[name].shape
            params[name] = rng.uniform(0.05, 0.3, shape) * rng.choice([-1, 1], shape)
    x = rng.standard_normal((T, I))
    if loss == "mse":
        y = rng.standard_normal((O,) if output == "last" else (T, O))
    else:
        y = np.asarray(1) if output == "last" else rng.integers(0, O, T)
    return params, spec, x, y


GRID = [(*case, False) for case in itertools.product([1, 2, 3], ["tanh", "relu"], ["last", "sequence"],
                                                     ["mse", "cross_entropy"])]
GRID += [(layers, "tanh", output, loss, True) for layers in (1, 2) for output in ("last", "sequence")
         for loss in ("mse", "cross_entropy")] + [(2, "relu", "last", "mse", True)]


@pytest.mark.slow
@pytest.mark.parametrize("layers,nonlinearity,output,loss,bidirectional", GRID)
def test_summed_gradients_equal_the_cores_and_centred_differences(layers, nonlinearity, output, loss,
                                                                  bidirectional):
    params, spec, x, y = _case(layers, nonlinearity, output, loss, bidirectional=bidirectional)
    e = explain_sequence(params, spec, x, y, loss=loss)
    value, grads, aux = loss_and_grads(params, spec, x[None], np.asarray(y)[None], loss=loss)
    assert e["loss"] == pytest.approx(value, abs=1e-13)
    assert set(e["grads"]) == set(grads)
    for name, g in grads.items():
        np.testing.assert_allclose(e["grads"][name], g, rtol=0, atol=1e-13, err_msg=name)
    np.testing.assert_allclose(e["output"]["y"], aux["outputs"][0], atol=1e-13)
    numerical = numerical_gradients(params, spec, x, y, e["grads"], loss=loss)
    for name, check in numerical.items():
        assert check["checked"] == params[name].size
        assert check["max_abs_diff"] < 1e-8, name
        np.testing.assert_allclose(check["values"], e["grads"][name], atol=1e-8)


def test_the_pieces_add_up_as_the_equations_say():
    params, spec, x, y = _case(2, "tanh", "last", "mse")
    e = explain_sequence(params, spec, x, y, loss="mse")
    fwd = {(f["layer"], f["t"]): f for f in e["forward"]}
    assert [(s["layer"], s["t"]) for s in e["backward"]] == [(1, 3), (1, 2), (1, 1), (1, 0),
                                                            (0, 3), (0, 2), (0, 1), (0, 0)]
    for s in e["backward"]:
        l, t = s["layer"], s["t"]
        np.testing.assert_allclose(s["dh"], s["dh_from_output"] + s["dh_from_next"])
        np.testing.assert_allclose(s["dh_da"], 1 - fwd[l, t]["h"] ** 2)
        np.testing.assert_allclose(s["da"], s["dh_da"] * s["dh"])
        np.testing.assert_allclose(s["dW_xh"], np.outer(s["da"], fwd[l, t]["x"]))
        if t == T - 1:
            assert not s["dh_from_next"].any()
        if l == 1 and t < T - 1:  # many-to-one: only the last step hears from the output
            assert not s["dh_from_output"].any()
    for l in range(2):  # weight sharing: each gradient is the sum of one term per step
        for k in ("W_xh", "W_hh", "b_h"):
            total = sum(s[f"d{k}"] for s in e["backward"] if s["layer"] == l)
            np.testing.assert_allclose(e["grads"][f"rnn.{l}.{k}"], total, atol=1e-15)
    np.testing.assert_allclose(fwd[1, 2]["x"], fwd[0, 2]["h"])  # layer 1 reads layer 0's states


def test_bidirectional_reverse_direction_runs_backwards_in_time():
    params, spec, x, y = _case(1, "tanh", "last", "mse", bidirectional=True)
    e = explain_sequence(params, spec, x, y, loss="mse")
    rev = [f for f in e["forward"] if f["direction"] == "reverse"]
    assert [f["t"] for f in rev] == [3, 2, 1, 0]  # in the order it runs
    W_xh, W_hh, b = (params[f"rnn.0.{k}_reverse"] for k in ("W_xh", "W_hh", "b_h"))
    np.testing.assert_allclose(rev[1]["a"], W_xh @ x[2] + W_hh @ rev[0]["h"] + b)  # h_3 feeds step 2
    back = [s for s in e["backward"] if s["direction"] == "reverse"]
    assert [s["t"] for s in back] == [0, 1, 2, 3]  # its last step (t = 0) first
    # many-to-one: the head reads the reverse state at t = 0, so only there does it send a gradient
    assert back[0]["dh_from_output"].any() and not any(s["dh_from_output"].any() for s in back[1:])
    np.testing.assert_allclose(back[1]["dh_from_next"], W_hh.T @ back[0]["da"])


def test_embedding_models_are_refused():
    spec = ModelSpec(I, H, O, embedding_size=4)
    with pytest.raises(UsageError, match="does not support embedding models yet"):
        explain_sequence({}, spec, np.zeros((2, I)), np.zeros(O), loss="mse")


def test_one_unit_one_step_by_hand():
    spec = ModelSpec(1, 1, 1)
    p = {"rnn.0.W_xh": np.array([[0.5]]), "rnn.0.W_hh": np.array([[0.3]]), "rnn.0.b_h": np.array([0.1]),
         "head.W_hy": np.array([[2.0]]), "head.b_y": np.array([-0.2])}
    e = explain_sequence(p, spec, np.array([[1.0], [2.0]]), np.array([1.0]), loss="mse")
    h0 = np.tanh(0.5 * 1 + 0.1)
    h1 = np.tanh(0.5 * 2 + 0.3 * h0 + 0.1)
    y = 2 * h1 - 0.2
    assert e["forward"][1]["a"][0] == pytest.approx(1.1 + 0.3 * h0)
    assert e["loss"] == pytest.approx((y - 1) ** 2)
    dy = 2 * (y - 1)
    da1 = (1 - h1**2) * 2 * dy
    da0 = (1 - h0**2) * 0.3 * da1
    assert e["grads"]["rnn.0.W_hh"][0, 0] == pytest.approx(da1 * h0)
    assert e["grads"]["rnn.0.W_xh"][0, 0] == pytest.approx(da1 * 2 + da0 * 1)
    assert e["backward"][1]["dh_from_next"][0] == pytest.approx(0.3 * da1)


def test_the_check_catches_the_notebook_002_derivative_bug(monkeypatch):
    params, spec, x, y = _case(1, "tanh", "sequence", "mse")
    params["rnn.0.W_xh"] *= 4  # large states, where 1 - tanh(h)^2 and 1 - h^2 differ most
    monkeypatch.setattr(explain_module, "_act_grad", lambda h, f: 1.0 - np.tanh(h) ** 2)
    e = explain_sequence(params, spec, x, y, loss="mse")
    numerical = numerical_gradients(params, spec, x, y, e["grads"], loss="mse")
    assert numerical["rnn.0.W_xh"]["max_abs_diff"] > 1e-3
    assert numerical["head.W_hy"]["max_abs_diff"] < 1e-8  # the head does not use the derivative


def test_large_tensors_check_a_sample():
    spec = ModelSpec(2, 20, 1)
    params = init_params(spec, np.random.default_rng(0), dtype=np.float64)
    x, y = np.ones((3, 2)), np.zeros(1)
    e = explain_sequence(params, spec, x, y, loss="mse")
    n = numerical_gradients(params, spec, x, y, e["grads"], loss="mse", max_checked=50)
    assert n["rnn.0.W_hh"]["checked"] == 50 and np.isnan(n["rnn.0.W_hh"]["values"]).sum() == 400 - 50
    assert n["rnn.0.W_xh"]["checked"] == 40 and n["rnn.0.W_hh"]["max_abs_diff"] < 1e-8


def test_json_sequences_are_scaled_like_training_data():
    spec = ModelSpec(2, 3, 1)
    task = TaskInfo(2, 1, "last", "mse", "regression",
                    scaler={"input_mean": [1.0, 2.0], "input_std": [2.0, 4.0], "target_mean": [10.0],
                            "target_std": [5.0]})
    x, y = parse_sequence("[[3, 2], [1, 10]]", "[20]", spec, task)
    np.testing.assert_allclose(x, [[1, 0], [0, 2]])
    np.testing.assert_allclose(y, [2.0])
    x1, _ = parse_sequence("[0.5, 0.25]", None, ModelSpec(1, 3, 1), TaskInfo(1, 1))
    assert x1.shape == (2, 1)


def test_cli_json_has_exactly_the_documented_keys_and_matches_the_core():
    r = rnn("explain", "--json")
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert list(d) == ["forward", "output", "loss", "backward", "grads", "numerical"]
    assert [f["t"] for f in d["forward"]] == [0, 1, 2] and len(d["forward"][0]["h"]) == 3
    assert set(d["forward"][0]) == {"layer", "t", "x", "a", "h"}
    step_keys = {"t", "dh", "dh_from_output", "dh_from_next", "da", "dW_xh", "dW_hh", "db_h"}
    assert step_keys <= set(d["backward"][0])
    assert d["backward"][0]["t"] == 2
    assert set(d["numerical"]["rnn.0.W_hh"]) == {"values", "max_abs_diff", "rel_error", "passed", "checked",
                                                 "kinks"}
    cfg = load_config([], ["data.source=random", "data.input_size=2", "data.output_size=1",
                           "data.seq_len=3", "data.num_samples=10", "model.hidden_size=3"])
    from rnncli.tools.explain_input import explain_config

    done = explain_config(cfg)
    x = np.array([f["x"] for f in d["forward"]])
    np.testing.assert_allclose(x, done.x)
    value, grads, _ = loss_and_grads(done.params, done.spec, x[None], done.target[None], loss="mse")
    assert d["loss"] == pytest.approx(value, rel=1e-12)
    for name, g in grads.items():
        np.testing.assert_allclose(d["grads"][name], g, atol=1e-12)
        assert d["numerical"][name]["max_abs_diff"] < 1e-8


def test_cli_terminal_layout_fits_80_columns_and_stdout_stays_empty():
    for extra in ([], ["--set", "model.num_layers=2", "--set", "data.output=sequence"],
                  ["--set", "data.num_classes=3", "--set", "model.nonlinearity=relu"],
                  ["--set", "model.bidirectional=true", "--set", "model.num_layers=2"]):
        r = rnn("explain", *extra)
        assert r.exit_code == 0, r.output
        assert r.stdout == ""
        lines = r.stderr.splitlines()
        assert max(len(line) for line in lines) <= 80, max(lines, key=len)
        text = r.stderr
        assert "dh from t+1" in text and "max |backprop - centred difference|" in text
    assert "layer 1: a_t = W_xh^(1) h^(0)_t" in rnn("explain", "--set", "model.num_layers=2").stderr


def test_cli_markdown_notes_on_stdout():
    r = rnn("explain", "--markdown", "--x", "[[1, 0], [0, 1]]", "--y", "[0.5]")
    assert r.exit_code == 0, r.output
    md = r.stdout
    assert md.startswith("# One pass of backpropagation through time")
    for title in ("## Weights", "## Forward", "## Output and loss", "## Backward, last step first",
                  "## Gradients"):
        assert title in md
    assert "x_1                   [        0        1]" in md and "T=2" in md


@pytest.mark.parametrize("args,message", [
    (["--x", "[[1, 2, 3]]"], "rnn: error: --x: expected a JSON list of steps, each a list of 2 numbers "
                             "(shape (T, 2)), got [[1, 2, 3]]"),
    (["--x", "[[1, 2]", "--y", "[1]"],
     "rnn: error: --x: not valid JSON (Expecting ',' delimiter at character 7)"),
    (["--x", "[[1, 2]]", "--y", "[1, 2]"], "rnn: error: --y: expected numbers of shape (1,), got [1, 2]"),
    (["--json", "--markdown"], "rnn: error: give either --json or --markdown, not both"),
])
def test_cli_bad_input_is_one_line_exit_2(args, message):
    r = rnn("explain", *args)
    assert r.exit_code == 2
    assert r.stderr.strip() == message and r.stdout == ""


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    cfg = load_config([ROOT / "configs/sine.yaml"],
                      ["data.num_samples=64", "data.seq_len=10", "model.hidden_size=4", "train.epochs=1"])
    run_dir = tmp_path_factory.mktemp("runs") / "sine-1"
    with one_blas_thread():
        train(cfg, run_dir)
    return run_dir


def test_cli_explains_saved_weights_on_their_data_and_on_a_given_sequence(tiny_run):
    r = rnn("explain", str(tiny_run), "--steps", "4", "--index", "2", "--json")
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert len(d["forward"]) == 4 and len(d["forward"][0]["h"]) == 4
    assert max(c["max_abs_diff"] for c in d["numerical"].values()) < 1e-7
    r = rnn("explain", str(tiny_run / "model.npz"), "--x", "[0.1, 0.2, 0.3]", "--y", "[0.4]")
    assert r.exit_code == 0, r.output
    assert "the sequence given with --x" in r.stderr and "T=3" in r.stderr
    r = rnn("explain", str(tiny_run), "--set", "model.hidden_size=3")
    assert r.exit_code == 2 and "--set and --seed apply to --config" in r.stderr
