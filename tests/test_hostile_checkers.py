"""Issue 22 battery, checkers that fail loudly: a check never passes what it failed.

`rnn explain` and core.gradcheck perturb the tensors the model reads (never a copy: a Fortran-ordered
array from another tool reshapes to a copy), explain exits 1 with one line when its own centred
differences disagree with backprop, and the inputs it cannot check (a text target of the wrong length,
NaN, 1e400, an integer of 400 digits, JSON nested 50,000 deep) are one `rnn: error:` line, exit 2.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from battery import Case, run_case, weights_with
from conftest import assert_error, rnn

import rnncli.tools.explain as explain_module
from rnncli.core.gradcheck import gradcheck
from rnncli.core.init import init_params
from rnncli.core.model import ModelSpec
from rnncli.tools.explain import explain_sequence, numerical_gradients
from rnncli.weights import load_weights


def _fortran(w) -> bytes:
    """The trained weights with every matrix stored Fortran-ordered (W.T from another tool)."""
    with np.load(w / "model.npz", allow_pickle=False) as z:
        mats = {k: np.asfortranarray(z[k]) for k in z.files if k != "meta" and z[k].ndim == 2}
    return weights_with(w, replace=mats)


def test_explain_perturbs_fortran_ordered_weights_and_passes(tmp_path, trained):
    (tmp_path / "f.npz").write_bytes(_fortran(trained))
    r = rnn("explain", str(tmp_path / "f.npz"), "--x", "[[0.1],[0.2],[0.3]]", "--y", "[0.4]", "--json")
    assert r.exit_code == 0, r.stderr
    d = json.loads(r.stdout)
    for name in ("rnn.0.W_xh", "rnn.0.W_hh", "head.W_hy"):
        n = d["numerical"][name]
        assert n["passed"] and n["max_abs_diff"] < 1e-8, (name, n["max_abs_diff"])
        assert np.abs(np.array(n["values"], dtype=float)).max() > 1e-6  # not a column of zeros


def test_weights_load_c_contiguous(tmp_path, trained):
    (tmp_path / "f.npz").write_bytes(_fortran(trained))
    params, _, _ = load_weights(tmp_path / "f.npz")
    assert all(p.flags.c_contiguous for p in params.values())


@pytest.mark.parametrize("order", ["F", "C"])
def test_numerical_gradients_of_any_layout_match_backprop(order):
    spec = ModelSpec(2, 3, 2)
    params = {k: np.array(v, order=order) for k, v in
              init_params(spec, np.random.default_rng(0), dtype=np.float64).items()}
    x, y = np.random.default_rng(1).normal(size=(4, 2)), np.array([0.3, -0.2])
    e = explain_sequence(params, spec, x, y, loss="mse")
    n = numerical_gradients(params, spec, x, y, e["grads"], loss="mse")
    assert all(c["passed"] for c in n.values()), {k: c["rel_error"] for k, c in n.items()}
    np.testing.assert_allclose(n["rnn.0.W_xh"]["values"], e["grads"]["rnn.0.W_xh"], atol=1e-8)


def test_core_gradcheck_perturbs_fortran_ordered_tensors():
    spec = ModelSpec(2, 3, 2)
    params = {k: np.asfortranarray(v) for k, v in
              init_params(spec, np.random.default_rng(0), dtype=np.float64).items()}
    rng = np.random.default_rng(2)
    x = np.asfortranarray(rng.normal(size=(3, 4, 2)))
    report = gradcheck(params, spec, x, rng.normal(size=(3, 2)), loss="mse")
    assert report.passed, [(r.name, r.rel_error) for r in report.results]


def test_explain_exits_1_in_one_line_when_its_check_disagrees(monkeypatch):
    # the notebook-002 bug: f'(a) written as 1 - tanh(h)^2 (h is already tanh(a))
    monkeypatch.setattr(explain_module, "_act_grad", lambda h, f: 1.0 - np.tanh(h) ** 2)
    r = rnn("explain", "--set", "model.init_scale=4")
    assert r.exit_code == 1, r.stderr
    errors = [line for line in r.stderr.splitlines() if line.startswith("rnn: error:")]
    assert len(errors) == 1 and "gradient check failed for rnn.0.W_xh" in errors[0]
    assert errors[0] == r.stderr.splitlines()[-1]  # after the page that shows where
    r = rnn("explain", "--set", "model.init_scale=4", "--json")
    assert r.exit_code == 1 and json.loads(r.stdout)["numerical"]["rnn.0.W_xh"]["passed"] is False


def test_explain_relu_kinks_are_left_out_not_failed():
    spec = ModelSpec(1, 2, 1, nonlinearity="relu")
    p = {"rnn.0.W_xh": np.array([[1.0], [1.0]]), "rnn.0.W_hh": np.zeros((2, 2)),
         "rnn.0.b_h": np.array([0.0, 0.5]), "head.W_hy": np.array([[1.0, 1.0]]), "head.b_y": np.zeros(1)}
    x, y = np.array([[0.0]]), np.array([1.0])  # unit 0 sits exactly on the kink
    e = explain_sequence(p, spec, x, y, loss="mse")
    n = numerical_gradients(p, spec, x, y, e["grads"], loss="mse")
    assert n["rnn.0.b_h"]["kinks"] == 1 and all(c["passed"] for c in n.values())


NEST = "[" * 50_000 + "]" * 50_000
HUGE = "[1" + "0" * 400 + "]"

CASES = {
    # text models: a target that is not one token per step (shorter, empty, longer) would be broadcast
    "text-y-shorter": Case(["explain", "{w}", "--x", '"the q"', "--y", '"he"'],
                           ("--y", "5 characters", "got 2")),
    "text-y-empty": Case(["explain", "{w}", "--x", '"the q"', "--y", '""'], ("--y", "got 0")),
    "text-y-longer": Case(["explain", "{w}", "--x", '"the"', "--y", '"he q"'], ("--y", "got 4")),
    "text-x-empty": Case(["explain", "{w}", "--x", '""'], ("--x", "empty")),
    "text-y-ids-short": Case(["explain", "{w}", "--x", '"the"', "--y", "[1]"], ("--y", "(3,)")),
}
NUMERIC = {
    "y-nan": Case(["explain", "{w}", "--x", "[[0.1]]", "--y", "NaN"], ("--y", "finite")),
    "y-1e400": Case(["explain", "{w}", "--x", "[[0.1]]", "--y", "[1e400]"], ("--y", "finite")),
    "y-minus-infinity": Case(["explain", "{w}", "--x", "[[0.1]]", "--y", "[-Infinity]"], ("--y", "finite")),
    "y-400-digit-int": Case(["explain", "{w}", "--x", "[[0.1]]", "--y", HUGE], ("--y", "finite")),
    "y-5000-digit-int": Case(["explain", "{w}", "--x", "[[0.1]]", "--y", "[1" + "0" * 5000 + "]"],
                             ("--y", "not valid JSON")),
    "x-400-digit-int": Case(["explain", "{w}", "--x", HUGE], ("--x", "finite")),
    "x-nested-50000": Case(["explain", "{w}", "--x", NEST], ("--x", "nested too deeply")),
    "y-nested-50000": Case(["explain", "{w}", "--x", "[[0.1]]", "--y", NEST], ("--y", "nested too deeply")),
    "x-nan": Case(["explain", "{w}", "--x", "[[NaN]]"], ("--x", "finite")),
    "x-strings": Case(["explain", "{w}", "--x", '[["a"]]'], ("--x", "finite")),
    "config-y-nan": Case(["explain", "--x", "[[1, 2]]", "--y", "[NaN]"], ("--y", "finite")),
    "embedding-model": Case(["explain", "--set", "data.source={d}/t.txt", "--set", "model.embedding_size=4",
                             "--set", "data.seq_len=5"], ("not support embedding models",),
                            files={"t.txt": "abc abd abe " * 20}),
}


@pytest.mark.parametrize("name", list(CASES))
def test_text_targets_that_cannot_be_checked(name, tmp_path, text_model, monkeypatch):
    run_case(CASES[name], tmp_path, text_model, monkeypatch)


@pytest.mark.parametrize("name", list(NUMERIC))
def test_numbers_that_cannot_be_checked(name, tmp_path, trained, monkeypatch):
    run_case(NUMERIC[name], tmp_path, trained, monkeypatch)


def test_word_model_targets_count_words(tmp_path):
    (tmp_path / "w.txt").write_text("the cat sat on the mat . " * 30)
    r = rnn("train", "--set", f"data.source={tmp_path / 'w.txt'}", "--set", "data.tokens=word",
            "--set", "data.seq_len=4", "--set", "model.hidden_size=4", "--set", "train.epochs=1", "-q",
            "-o", str(tmp_path / "run"))
    assert r.exit_code == 0, r.stderr
    ok = rnn("explain", str(tmp_path / "run"), "--x", '"the cat"', "--y", '"cat sat"')
    assert ok.exit_code == 0, ok.stderr
    assert_error(rnn("explain", str(tmp_path / "run"), "--x", '"the cat"', "--y", '"sat"'), 2,
                 "--y", "2 words", "got 1")
