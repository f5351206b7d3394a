"""`rnn explain` for the gated cells: the step-by-step pass of a GRU or LSTM sums to the core's gradients,
every sum is checked against centred differences (and a wrong backward fails the command in one line),
the two backward paths add up as the equations say, and the command's text, JSON and HTML show the
gates."""

from __future__ import annotations

import json
import re
import xml.dom.minidom

import numpy as np
import pytest
from conftest import assert_error, rnn

import rnncli.tools.explain_gated as gated_module
from rnncli.core.init import init_params
from rnncli.core.model import ModelSpec, loss_and_grads
from rnncli.tools.explain import explain_sequence, numerical_gradients

I, H, O, T = 2, 3, 3, 5

pytestmark = pytest.mark.usefixtures("one_thread")


def _case(cell: str, layers: int, output: str, loss: str, bidirectional: bool, seed: int = 4):
    spec = ModelSpec(I, H, O, layers, "tanh", output, bidirectional=bidirectional, cell=cell)
    rng = np.random.default_rng(seed)
    params = {k: v + 0.3 * rng.standard_normal(v.shape)  # biases away from zero too
              for k, v in init_params(spec, rng, dtype=np.float64).items()}
    x = rng.standard_normal((T, I))
    if loss == "mse":
        y = rng.standard_normal((O,) if output == "last" else (T, O))
    else:
        y = np.asarray(2) if output == "last" else rng.integers(0, O, T)
    return params, spec, x, y


GRID = [(cell, layers, output, loss, bi) for cell in ("gru", "lstm")
        for layers, output, loss, bi in [(1, "last", "mse", False), (2, "sequence", "cross_entropy", False),
                                         (2, "last", "cross_entropy", True), (1, "sequence", "mse", True)]]


@pytest.mark.parametrize("cell,layers,output,loss,bidirectional", GRID)
def test_gated_sums_equal_the_cores_and_centred_differences(cell, layers, output, loss, bidirectional):
    params, spec, x, y = _case(cell, layers, output, loss, bidirectional)
    result = explain_sequence(params, spec, x, y, loss=loss)
    value, grads, _ = loss_and_grads(params, spec, x[None], np.asarray(y)[None], loss=loss)
    assert result["loss"] == pytest.approx(value, rel=1e-12)
    assert list(result["grads"]) == list(params)
    for name, g in grads.items():
        np.testing.assert_allclose(result["grads"][name], g, rtol=1e-10, atol=1e-12)
    checks = numerical_gradients(params, spec, x, y, result["grads"], loss=loss)
    assert all(c["passed"] and c["max_abs_diff"] < 1e-8 for c in checks.values()), checks


def test_lstm_cell_state_gradient_adds_up_through_the_forget_gate():
    params, spec, x, y = _case("lstm", 1, "sequence", "mse", False)
    r = explain_sequence(params, spec, x, y, loss="mse")
    fwd = {e["t"]: e for e in r["forward"]}
    bwd = {s["t"]: s for s in r["backward"]}
    assert [s["t"] for s in r["backward"]] == list(range(T - 1, -1, -1))
    assert not bwd[T - 1]["dc_from_next"].any()
    for t in range(T):
        s = bwd[t]
        np.testing.assert_allclose(s["dc"], s["dc_from_h"] + s["dc_from_next"], atol=1e-15)
        np.testing.assert_allclose(s["dh"], s["dh_from_output"] + s["dh_from_next"], atol=1e-15)
        e = fwd[t]
        np.testing.assert_allclose(e["h"], e["o"] * np.tanh(e["c"]), atol=1e-15)
        assert ((0 < e["f"]) & (e["f"] < 1)).all()
        if t < T - 1:  # the cell state's way back: the next step's forget gate, no weight matrix
            np.testing.assert_allclose(s["dc_from_next"], fwd[t + 1]["f"] * bwd[t + 1]["dc"], atol=1e-15)
            through_weights = params["rnn.0.W_hh"].T @ bwd[t + 1]["da"]
            np.testing.assert_allclose(s["dh_from_next"], through_weights, atol=1e-14)


def test_gru_hidden_gradient_splits_into_the_update_gates_path_and_the_weights():
    params, spec, x, y = _case("gru", 1, "sequence", "mse", False)
    r = explain_sequence(params, spec, x, y, loss="mse")
    fwd = {e["t"]: e for e in r["forward"]}
    bwd = {s["t"]: s for s in r["backward"]}
    for t in range(T - 1):
        s, nxt = bwd[t], bwd[t + 1]
        np.testing.assert_allclose(s["dh_from_gate"], fwd[t + 1]["z"] * nxt["dh"], atol=1e-15)
        np.testing.assert_allclose(s["dh_from_next"], s["dh_from_gate"] + s["dh_from_weights"], atol=1e-15)
        e, prev = fwd[t + 1], fwd[t]["h"]
        np.testing.assert_allclose(e["h"], (1 - e["z"]) * e["n"] + e["z"] * prev, atol=1e-15)


def test_a_wrong_gated_backward_fails_the_command_in_one_line(monkeypatch):
    real = gated_module.lstm_backward

    def one_percent_off(*a, **k):
        steps, du, sums = real(*a, **k)
        sums["W_hh"] = sums["W_hh"] * 1.01
        return steps, du, sums

    forward_fn, _, shown = gated_module.GATED_LAYERS["lstm"]
    monkeypatch.setitem(gated_module.GATED_LAYERS, "lstm", (forward_fn, one_percent_off, shown))
    r = rnn("explain", "--set", "model.cell=lstm")
    line = assert_error(r, 1, "gradient check failed for rnn.0.W_hh", alone=False)
    assert line == r.stderr.splitlines()[-1]  # after the page that shows where


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_cli_gated_json_text_and_html(tmp_path, cell):
    r = rnn("explain", "--set", f"model.cell={cell}", "--set", "model.num_layers=2", "--json")
    assert r.exit_code == 0, r.stderr
    d = json.loads(r.stdout)
    gates = {"a", "i", "f", "g", "o", "c"} if cell == "lstm" else {"r", "z", "n", "hn"}
    assert set(d["forward"][0]) == {"layer", "t", "x", "h"} | gates
    paths = ({"dc", "dc_from_h", "dc_from_next", "di", "df", "dg", "do"} if cell == "lstm"
             else {"dh_from_gate", "dh_from_weights", "dr", "dz", "dn"})
    assert set(d["backward"][0]) == ({"layer", "t", "dh", "dh_from_output", "dh_from_next", "da", "dW_ih",
                                      "dW_hh", "db_ih", "db_hh"} | paths)
    assert all(c["passed"] for c in d["numerical"].values())
    page = tmp_path / "p.html"
    r = rnn("explain", "--set", f"model.cell={cell}", "--set", "model.bidirectional=true", "--html", page)
    assert r.exit_code == 0 and r.stdout == ""
    # the text fits 80 columns; the tmp path in it is as long as pytest makes it (pytest-xdist's
    # workers add a directory), so it counts as the 4 characters of "$TMP"
    lines = r.stderr.replace(str(tmp_path), "$TMP").splitlines()
    assert max(len(line) for line in lines) <= 80, max(lines, key=len)
    assert "the gradient's two paths back" in r.stderr
    assert ("dc from next" if cell == "lstm" else "dh from gate") in r.stderr
    text = page.read_text()
    (svg,) = re.findall(r'<svg id="gates".*?</svg>', text, flags=re.S)
    xml.dom.minidom.parseString(svg)  # well-formed
    assert svg.count("<polyline") == 2 * 2  # two paths, two directions
    assert svg.count("<rect") == len(gates - {"a", "hn"}) * 2 * 3 * 3 + 2  # gates x dirs x units x steps
