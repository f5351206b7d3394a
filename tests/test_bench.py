"""rnn bench (fields, not timings), the FLOP count, truncated-BPTT memory, float32 against float64.

Letters: B batch, T time, I input, H hidden, L layers.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import assert_error, needs, rnn

import rnncli.tools.bench as bench_lib
from rnncli.core.init import init_params
from rnncli.core.model import ModelSpec, loss_and_grads
from rnncli.core.rnn import rnn_backward, rnn_forward
from rnncli.tools.bench import activation_memory, run_bench, step_flops

# float32 against float64 on the same weights and data: every output and gradient within this
# fraction of the float64 tensor's largest entry (measured worst ~7e-7, i.e. ~6 float32 epsilons).
F32_REL_TOL = 1e-5


@pytest.fixture
def tiny_peak(monkeypatch):
    monkeypatch.setattr(bench_lib, "PEAK_SIZES", (32, 64))  # a tiny peak run keeps the test fast
    monkeypatch.setattr(bench_lib, "SETTLE_S", 0.0)


TINY = ["bench", "--batch", "2", "--seq-len", "8", "--input", "3", "--hidden", "5", "--repeats", "2",
        "--warmup", "0", "--threads", "1"]


def test_step_flops_counts_six_bthih_per_layer():
    assert step_flops(2, 3, 4, 5) == 6 * 2 * 3 * 5 * (4 + 5)
    assert step_flops(2, 3, 4, 5, layers=3) == 6 * 2 * 3 * 5 * (4 + 5) + 2 * 6 * 2 * 3 * 5 * (5 + 5)


def test_bench_json_has_every_field_consistent_with_the_sizes(tiny_peak):
    result = rnn(*TINY, "--json", "--no-torch", "--scaling", "--memory-window", "2")
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1  # stdout holds the JSON object only; the table went to stderr
    r = json.loads(lines[0])
    assert r["size"] == {"batch": 2, "seq_len": 8, "input": 3, "hidden": 5, "layers": 1, "cell": "rnn",
                         "dtype": "float32"}
    assert r["threads"] == 1
    assert r["flops_per_step"] == 6 * 2 * 8 * 5 * (3 + 5)
    n = r["numpy"]
    assert n["step_ms"] > 0 and n["step_ms_min"] <= n["step_ms"]
    assert n["seq_per_s"] == pytest.approx(2 / (n["step_ms"] / 1e3))
    assert n["gflops"] == pytest.approx(r["flops_per_step"] / (n["step_ms"] / 1e3) / 1e9)
    assert r["peak"]["n"] in (32, 64) and r["peak"]["gflops"] > 0
    assert n["peak_fraction"] == pytest.approx(n["gflops"] / r["peak"]["gflops"])
    assert n["dtypes"] == ["float32"]  # no gradient was upcast to float64
    assert r["train_step"]["numpy"]["dtypes"] == ["float32"]
    assert r["torch"] is None and "ratio" not in r
    sc = r["scaling"]
    assert set(sc) == {"2T", "2B", "base_ms"}
    for key in ("2T", "2B"):
        assert sc[key]["ratio"] == pytest.approx(sc[key]["step_ms"] / sc["base_ms"])
    m = r["memory"]
    assert m["window"] == 2 and m["states_bytes_full"] == 8 * 2 * 5 * 4
    assert m["states_bytes_window"] == 2 * 2 * 5 * 4
    assert 0 < m["window_peak_bytes"] < m["full_peak_bytes"]
    assert "rnn bench: rnn B=2 T=8 I=3 H=5 L=1 float32, 1 thread\n" in result.stderr


def test_bench_compares_with_torch_on_the_same_weights(tiny_peak):
    needs("torch")
    result = rnn(*TINY, "--json", "--dtype", "float64", "--no-train-step")
    assert result.exit_code == 0, result.output
    r = json.loads(result.stdout)
    assert r["environment"]["torch"] is not None
    assert r["torch_max_abs_diff"] < 1e-12  # the same computation, so timing it is a fair race
    assert r["ratio"] == pytest.approx(r["numpy"]["step_ms"] / r["torch"]["step_ms"])
    assert "train_step" not in r


@pytest.mark.slow
@pytest.mark.parametrize(("cell", "gates"), [("gru", 3), ("lstm", 4)])
def test_bench_gated_cell_against_its_torch_class(tiny_peak, cell, gates):
    needs("torch")
    result = rnn(*TINY, "--cell", cell, "--json", "--dtype", "float64", "--layers", "2", "--scaling",
                 "--memory-window", "2")
    assert result.exit_code == 0, result.output
    r = json.loads(result.stdout)
    assert r["size"]["cell"] == cell and r["torch_class"] == cell.upper()
    assert r["flops_per_step"] == step_flops(2, 8, 3, 5, 2, cell) == gates * step_flops(2, 8, 3, 5, 2)
    assert r["torch_max_abs_diff"] < 1e-12  # the same layers, the same weights
    assert r["train_step"]["torch"]["step_ms"] > 0 and r["train_step"]["numpy"]["dtypes"] == ["float64"]
    assert f"rnn bench: {cell} B=2" in result.stderr and f"torch.nn.{cell.upper()}" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--dtype", "float16"], "--dtype: 'float16' is not one of float32, float64"),
     (["--cell", "tcn"], "--cell: 'tcn' is not one of rnn, gru, lstm"),
     (["--set", "train.lr=0.1"], "--set needs --config")],
)
def test_bench_rejects_bad_usage_naming_the_option(tiny_peak, args, message):
    assert_error(rnn(*TINY, *args), 2, message)


def test_truncated_bptt_memory_does_not_grow_with_the_sequence():
    """Windows of k steps: peak memory O(k*B*H), flat in T; full BPTT: O(T*B*H), linear in T."""
    runs = [activation_memory(8, T, 3, 64, 1, "float64", window=5) for T in (50, 100, 200)]
    full = [r["full_peak_bytes"] for r in runs]
    assert runs[0]["window_peak_bytes"] == runs[1]["window_peak_bytes"] == runs[2]["window_peak_bytes"]
    assert full[2] - full[1] == pytest.approx(2 * (full[1] - full[0]), rel=0.05)  # linear in T
    assert full[1] - full[0] >= 2 * 50 * 8 * 64 * 8  # at least states and their gradients per step
    assert runs[1]["window_peak_bytes"] < 0.15 * full[1]


def test_run_bench_rejects_an_unknown_dtype():
    with pytest.raises(ValueError, match="dtype must be one of"):
        run_bench(batch=1, seq_len=1, input_size=1, hidden=1, dtype="float16")


def _rel_err(a, b):
    return float(np.max(np.abs(a.astype(np.float64) - b)) / np.max(np.abs(b)))


@pytest.mark.parametrize(("output", "loss"), [("sequence", "mse"), ("last", "cross_entropy")])
def test_float32_matches_float64_within_the_stated_tolerance(output, loss):
    spec = ModelSpec(3, 16, 4, num_layers=2, output=output)
    p64 = init_params(spec, np.random.default_rng(0))
    p32 = {k: v.astype(np.float32) for k, v in p64.items()}
    rng = np.random.default_rng(1)
    x = rng.normal(size=(5, 30, 3))
    lengths = rng.integers(1, 31, size=5)
    y = rng.normal(size=(5, 30, 4)) if loss == "mse" else rng.integers(0, 4, size=5)
    y32 = y.astype(np.float32) if loss == "mse" else y
    l64, g64, a64 = loss_and_grads(p64, spec, x, y, loss=loss, lengths=lengths)
    l32, g32, a32 = loss_and_grads(p32, spec, x.astype(np.float32), y32, loss=loss, lengths=lengths)
    assert abs(l32 - l64) <= F32_REL_TOL * abs(l64)
    assert _rel_err(a32["outputs"], a64["outputs"]) <= F32_REL_TOL
    assert _rel_err(a32["dx"], a64["dx"]) <= F32_REL_TOL
    for name in g64:
        assert g32[name].dtype == np.float32, name
        assert _rel_err(g32[name], g64[name]) <= F32_REL_TOL, name


def test_float32_bias_gradient_stays_accurate_over_many_rows():
    """b_h sums T*B rows; summing over the batch first, then time keeps float32 round-off small."""
    spec = ModelSpec(8, 64, 1)
    p64 = {k: v for k, v in init_params(spec, np.random.default_rng(2)).items() if k.startswith("rnn")}
    p32 = {k: v.astype(np.float32) for k, v in p64.items()}
    rng = np.random.default_rng(3)
    x, dhs = rng.normal(size=(64, 100, 8)), rng.normal(size=(64, 100, 64))
    g64 = rnn_backward(dhs, rnn_forward(p64, x, num_layers=1)[2])[0]
    g32 = rnn_backward(dhs.astype(np.float32), rnn_forward(p32, x.astype(np.float32), num_layers=1)[2])[0]
    assert _rel_err(g32["rnn.0.b_h"], g64["rnn.0.b_h"]) <= F32_REL_TOL
