"""`rnn states`: every layer's states equal the core's forward pass (one and both directions, ragged
lengths as NaN), in each output format."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import rnn

from rnncli.core.init import init_params
from rnncli.core.model import ModelSpec, forward
from rnncli.core.rnn import rnn_forward
from rnncli.data.types import Batch, TaskInfo
from rnncli.use.model_io import LoadedModel
from rnncli.use.states import hidden_states
from rnncli.weights import save_weights

I, H, O = 2, 3, 1


pytestmark = pytest.mark.usefixtures("one_thread")  # a second each instead of 30 on a busy machine


def _model(layers: int = 2, bidirectional: bool = False, seed: int = 0) -> LoadedModel:
    spec = ModelSpec(I, H, O, layers, "tanh", "last", bidirectional=bidirectional)
    params = init_params(spec, np.random.default_rng(seed), dtype=np.float64)
    return LoadedModel(params, spec, TaskInfo(I, O), {})


def test_states_are_each_layers_forward_states_and_nan_past_the_length():
    model = _model()
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 5, I))
    lengths = np.array([5, 3, 1, 4])
    st = hidden_states(model, Batch(x, None, lengths))
    assert st.shape == (2, 4, 5, H)
    # Layer 0 alone is a one-layer RNN over x; layer 1 reads layer 0's states.
    one = {f"rnn.0.{k}": model.params[f"rnn.0.{k}"] for k in ("W_xh", "W_hh", "b_h")}
    hs0, _, _ = rnn_forward(one, x, num_layers=1, lengths=lengths)
    top, _, _ = rnn_forward(model.params, x, num_layers=2, lengths=lengths)
    mask = np.arange(5)[None, :] < lengths[:, None]
    np.testing.assert_allclose(st[0][mask], hs0[mask], rtol=1e-14)
    np.testing.assert_allclose(st[1][mask], top[mask], rtol=1e-14)
    assert np.isnan(st[:, ~mask]).all()


def test_bidirectional_states_are_forward_then_reverse_in_time_order():
    model = _model(layers=1, bidirectional=True)
    x = np.random.default_rng(2).standard_normal((2, 4, I))
    st = hidden_states(model, Batch(x, None, None))
    assert st.shape == (1, 2, 4, 2 * H)
    p = model.params
    fwd = {f"rnn.0.{k}": p[f"rnn.0.{k}"] for k in ("W_xh", "W_hh", "b_h")}
    rev = {f"rnn.0.{k}": p[f"rnn.0.{k}_reverse"] for k in ("W_xh", "W_hh", "b_h")}
    np.testing.assert_allclose(st[0, :, :, :H], rnn_forward(fwd, x, num_layers=1)[0], rtol=1e-14)
    np.testing.assert_allclose(st[0, :, :, H:], rnn_forward(rev, x[:, ::-1], num_layers=1)[0][:, ::-1],
                               rtol=1e-14)
    y, _, _ = forward(p, model.spec, x)  # the head reads the forward state at the end, the reverse at 0
    np.testing.assert_allclose(y, np.concatenate([st[0, :, -1, :H], st[0, :, 0, H:]], 1) @ p["head.W_hy"].T
                               + p["head.b_y"], rtol=1e-12)


@pytest.fixture
def saved(tmp_path) -> tuple[Path, Path, LoadedModel]:
    model = _model()
    path = tmp_path / "m.npz"
    save_weights(path, model.params, {"model": model.spec.to_dict(), "task": model.task.to_dict()})
    data = tmp_path / "in.jsonl"
    rng = np.random.default_rng(3)
    seqs = [rng.standard_normal((n, I)).round(3).tolist() for n in (4, 2, 3)]
    data.write_text("".join(json.dumps({"x": s}) + "\n" for s in seqs))
    return path, data, model


def test_cli_npy_npz_csv_jsonl(saved, tmp_path):
    path, data, model = saved
    r = rnn("states", str(path), str(data), "-o", str(tmp_path / "s.npy"), "-b", "2")
    assert r.exit_code == 0, r.output
    st = np.load(tmp_path / "s.npy", allow_pickle=False)
    assert st.shape == (2, 3, 4, H)  # (L, N, T longest, H), batches of 2 padded to one array
    x1 = np.array([json.loads(line)["x"] for line in data.read_text().splitlines()][1])
    np.testing.assert_allclose(st[:, 1, :2], hidden_states(model, Batch(x1[None], None, None))[:, 0])
    assert np.isnan(st[:, 1, 2:]).all() and not np.isnan(st[:, 0]).any()
    rnn("states", str(path), str(data), "-o", str(tmp_path / "s.npz"))
    with np.load(tmp_path / "s.npz", allow_pickle=False) as z:
        np.testing.assert_array_equal(z["lengths"], [4, 2, 3])
        np.testing.assert_array_equal(z["states"], st)
    r = rnn("states", str(path), str(data), "-f", "csv")
    rows = r.stdout.splitlines()
    assert rows[0] == "seq,layer,step,h0,h1,h2" and len(rows) == 1 + 2 * (4 + 2 + 3)
    seq, layer, step, *h = rows[-1].split(",")
    assert (seq, layer, step) == ("2", "1", "2")
    np.testing.assert_allclose([float(v) for v in h], st[1, 2, 2], rtol=1e-12)
    r = rnn("states", str(path), str(data), "-f", "jsonl")
    lines = [json.loads(line) for line in r.stdout.splitlines()]
    assert [d["length"] for d in lines] == [4, 2, 3] and lines[1]["seq"] == 1
    np.testing.assert_allclose(lines[1]["states"], st[:, 1, :2], rtol=1e-12)


def test_cli_errors_leave_no_file(saved, tmp_path):
    path, _, _ = saved
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"x": [[1, 2, 3]]}\n')
    out = tmp_path / "s.npy"
    r = rnn("states", str(path), str(bad), "-o", str(out))
    assert r.exit_code == 2 and r.stdout == ""
    assert r.stderr.startswith(f"rnn: error: {bad}: line 1: 3 features per step but the model expects 2")
    # no s.npy and no temporary file left behind
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.jsonl", "in.jsonl", "m.npz"]
    r = rnn("states", str(path), str(bad), "-f", "parquet")
    assert r.exit_code == 2
    assert r.stderr.strip() == "rnn: error: --format must be one of npy, npz, csv, jsonl, got 'parquet'"
