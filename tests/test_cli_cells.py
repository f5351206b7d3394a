"""The gated cells through every command: train, eval, predict, sample, gradcheck, states, diagnose;
what is refused (relu with a gated cell, forget_bias off the LSTM, --init-from across cells, explain
and export until they know gates), and an LSTM text run interrupted mid-epoch resuming bit-exactly
with its carried (h, c)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import assert_error, needs, rnn
from strategies import InterruptAfter

SEQ = ["--set", "data.source=sine", "--set", "data.num_samples=48", "--set", "data.seq_len=12",
       "--set", "model.hidden_size=6", "--set", "train.epochs=2", "--set", "train.batch_size=16", "-q"]
CORPUS = Path(__file__).resolve().parents[1] / "data" / "tiny.txt"  # shipped with the repo
TEXT = ["--set", "data.source=text", "--set", f"data.path={CORPUS}", "--set", "data.seq_len=12",
        "--set", "train.bptt=4", "--set", "model.hidden_size=6", "--set", "train.epochs=2",
        "--set", "train.batch_size=4", "-q"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    d = tmp_path_factory.mktemp("cells")
    for cell in ("gru", "lstm"):
        for kind, args in (("seq", SEQ), ("text", TEXT)):
            r = rnn("train", *args, "--set", f"model.cell={cell}", "-o", str(d / f"{kind}-{cell}"))
            assert r.exit_code == 0, r.stderr
    return d


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_a_trained_gated_model_evaluates_predicts_and_samples(runs, cell):
    from rnncli.weights import read_meta

    seq, text = runs / f"seq-{cell}", runs / f"text-{cell}"
    assert read_meta(seq)["model"]["cell"] == cell
    r = rnn("eval", str(seq), "--json")
    assert r.exit_code == 0, r.stderr
    assert np.isfinite(json.loads(r.stdout)["loss"])
    p = rnn("predict", str(seq), "-", input='{"x": [[0.1], [0.2], [0.3]]}\n')
    assert p.exit_code == 0 and p.stdout.strip(), p.stderr
    for extra in ([], ["--beam", "3"]):
        s = rnn("sample", str(text), "-n", "15", "--seed", "1", *extra)
        assert s.exit_code == 0 and len(s.stdout) >= 15, s.stderr
    assert s.stdout == rnn("sample", str(text), "-n", "15", "--seed", "1", "--beam", "3").stdout


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_states_write_h_and_for_the_lstm_c(runs, cell, tmp_path):
    r = rnn("states", str(runs / f"seq-{cell}"), "-", "-f", "csv", input='{"x": [[0.1], [0.2], [0.3]]}\n')
    assert r.exit_code == 0, r.stderr
    header = r.stdout.splitlines()[0].split(",")
    assert header[3:9] == [f"h{j}" for j in range(6)]
    assert header[9:] == ([f"c{j}" for j in range(6)] if cell == "lstm" else [])
    npy = tmp_path / "s.npy"
    assert rnn("states", str(runs / f"seq-{cell}"), "-", "-o", str(npy), input='{"x": [[0.1], [0.2]]}\n'
               ).exit_code == 0
    assert np.load(npy).shape == (1, 1, 2, 12 if cell == "lstm" else 6)


def test_lstm_states_are_the_cells_h_and_c():
    """The c columns are the cell state itself: c_t from the core's forward, step by step."""
    from rnncli.core.cells import lstm
    from rnncli.core.init import init_params
    from rnncli.core.model import ModelSpec
    from rnncli.data.types import Batch, TaskInfo
    from rnncli.use.model_io import LoadedModel
    from rnncli.use.states import hidden_states

    spec = ModelSpec(2, 3, 1, cell="lstm", bidirectional=True)
    params = init_params(spec, np.random.default_rng(0))
    model = LoadedModel(params=params, spec=spec, task=TaskInfo(2, 1), meta={})
    x = np.random.default_rng(1).normal(size=(2, 4, 2))
    st = hidden_states(model, Batch(x, None, np.array([4, 2])))
    p = {k: params[f"rnn.0.{k}"] for k in lstm.param_shapes(2, 3)}
    hs, (h, c), cache = lstm.forward(p, np.ascontiguousarray(x.transpose(1, 0, 2)), None, padded=None,
                                     rmask=None)
    np.testing.assert_allclose(st[0, 0, :, 6:9], cache["cs"][:, 0], rtol=1e-12)
    np.testing.assert_allclose(st[0, 0, :, :3], hs[:, 0], rtol=1e-12)
    assert np.isnan(st[0, 1, 2:]).all()


@pytest.mark.slow
@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_gradcheck_and_diagnose_run_for_gated_cells(cell):
    r = rnn("gradcheck", *SEQ[:-1], "--set", f"model.cell={cell}", "--set", "model.num_layers=2",
            "--set", "model.bidirectional=true", "--set", "model.recurrent_dropout=0.3",
            "--set", "model.dropout=0.2", "--json")
    assert r.exit_code == 0, r.stderr
    names = {t["name"] for t in json.loads(r.stdout)["results"]}
    assert {"rnn.1.W_ih_reverse", "rnn.1.b_hh", "x", "h0"} <= names
    assert ("c0" in names) == (cell == "lstm")
    d = rnn("diagnose", *SEQ[:-1], "--set", f"model.cell={cell}", "--map", "--json")
    assert d.exit_code == 0, d.stderr
    report = json.loads(d.stdout)
    assert set(report["recurrent"][0]["gates"]) == ({"r", "z", "n"} if cell == "gru" else set("ifgo"))


def test_what_is_refused_is_one_line(runs, tmp_path):
    assert_error(rnn("train", *SEQ, "--set", "model.cell=gru", "--set", "model.nonlinearity=relu",
                     "-o", str(tmp_path / "a")), 2, "model.nonlinearity relu applies to model.cell rnn only",
                 absent=[tmp_path / "a"])
    assert_error(rnn("train", *SEQ, "--set", "model.cell=gru", "--set", "model.forget_bias=2",
                     "-o", str(tmp_path / "b")), 2, "model.forget_bias applies to model.cell lstm only",
                 absent=[tmp_path / "b"])
    assert_error(rnn("train", *SEQ, "--set", "model.cell=lstm", "--init-from", str(runs / "seq-gru"),
                     "-o", str(tmp_path / "c")), 2, "model.cell is lstm but the source's is gru",
                 absent=[tmp_path / "c"])
    # export and explain take every cell (tests/test_export_cells.py, tests/test_explain_gated.py)
    explained = rnn("explain", str(runs / "seq-gru"), "--x", "[[0.1], [0.2]]", "--json")
    assert explained.exit_code == 0 and "dh_from_gate" in json.loads(explained.stdout)["backward"][0]
    needs("onnx")
    exported = rnn("export", str(runs / "seq-lstm"), "-o", str(tmp_path / "m.onnx"))
    assert exported.exit_code == 0 and (tmp_path / "m.onnx").is_file(), exported.stderr


def test_sweep_space_takes_every_cell(tmp_path):
    from rnncli.tools.sweep_space import check_space, parse_param

    check_space([parse_param("model.cell=choice:rnn,gru,lstm")], [], [])


def test_lstm_text_interrupted_mid_epoch_resumes_bit_identically(tmp_path):
    """Stateful text with truncated BPTT carries (h, c) across batches: the checkpoint holds both."""
    from rnncli.config import load_config
    from rnncli.errors import Interrupted
    from rnncli.training.loop import train
    from rnncli.weights import load_weights

    sets = [a for a in TEXT if a not in ("--set", "-q")] + ["model.cell=lstm", "model.recurrent_dropout=0.2",
                                                           "train.epochs=3"]
    cfg = load_config([], sets)
    train(cfg, tmp_path / "ref")
    with pytest.raises(Interrupted):
        train(cfg, tmp_path / "run", callbacks=InterruptAfter(7))
    _, _, extra = load_weights(tmp_path / "run" / "checkpoint.npz")
    assert {"h_carry", "c_carry"} <= set(extra)
    train(load_config([tmp_path / "run" / "config.yaml"], []), tmp_path / "run", resume=True)
    a, b = load_weights(tmp_path / "ref" / "model.npz")[0], load_weights(tmp_path / "run" / "model.npz")[0]
    assert set(a) == set(b) and all(np.array_equal(a[k], b[k]) for k in a)
