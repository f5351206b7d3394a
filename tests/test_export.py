"""`rnn export`: ONNX graphs run by onnxruntime equal `rnn predict`; the .pt loads into torch.nn.RNN
and gives the same outputs; safetensors holds the documented names and meta; errors are one line."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from conftest import needs, rnn
from onnx_graphs import TOL, assert_graph_equals_predict, export, predict_npy, raw_inputs, session
from saved_models import TEXT_VOCAB, write_model

onnx = needs("onnx")
ort = needs("onnxruntime")

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.mark.slow
@pytest.mark.parametrize("layers", [1, 2, 3])
@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("output", ["last", "sequence"])
@pytest.mark.parametrize("kind", ["regression", "classification"])
def test_onnx_equals_rnn_predict(tmp_path, layers, nonlinearity, output, kind):
    weights = write_model(tmp_path / "m.npz", layers=layers, nonlinearity=nonlinearity, output=output,
                          kind=kind, seed=layers)
    graph = export(weights, tmp_path / "m.onnx")
    onnx.checker.check_model(onnx.load(str(graph)), full_check=True)
    got = assert_graph_equals_predict(graph, weights, tmp_path, kind, seed=layers)
    if kind == "classification":
        np.testing.assert_allclose(got.sum(-1), 1.0, atol=1e-6)


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("output", ["last", "sequence"])
def test_onnx_ragged_batch_with_lengths_equals_predict_on_jsonl(tmp_path, output, bidirectional):
    weights = write_model(tmp_path / "m.npz", layers=2, output=output, seed=5, bidirectional=bidirectional)
    graph = export(weights, tmp_path / "m.onnx", "--lengths")
    rng = np.random.default_rng(0)
    lengths = np.array([6, 2, 4, 1], dtype=np.int32)
    x = raw_inputs(rng, 4, 6, 3)
    x[np.arange(6)[None, :] >= lengths[:, None]] = 0  # zero padding, as documented
    lines = "".join(json.dumps({"x": x[b, :n].tolist()}) + "\n" for b, n in enumerate(lengths))
    (tmp_path / "x.jsonl").write_text(lines)
    want = predict_npy(weights, tmp_path / "x.jsonl", tmp_path)
    (got,) = session(graph).run(None, {"x": x, "lengths": lengths})
    if output == "last":
        np.testing.assert_allclose(got, want, rtol=TOL, atol=TOL)
    else:  # steps past a length are not defined (NaN in predict's npy)
        valid = np.arange(6)[None, :] < lengths[:, None]
        np.testing.assert_allclose(got[valid], want[valid], rtol=TOL, atol=TOL)
        assert np.isnan(want[~valid]).all()


@pytest.mark.parametrize("embedding, tie", [(None, False), (4, False), (5, True)])
def test_onnx_text_model_takes_token_ids_and_carries_state(tmp_path, embedding, tie):
    weights = write_model(tmp_path / "t.npz", layers=2, kind="text", seed=3, embedding=embedding, tie=tie)
    graph = export(weights, tmp_path / "t.onnx", "--state")
    meta = {p.key: p.value for p in onnx.load(str(graph)).metadata_props}
    assert json.loads(meta["vocab"]) == TEXT_VOCAB and meta["kind"] == "text" and meta["tokens"] == "char"
    text = "abc dea"
    (tmp_path / "in.txt").write_text(text + "\n")
    want = predict_npy(weights, tmp_path / "in.txt", tmp_path, "--proba")  # (1, T, V)
    ids = np.array([[TEXT_VOCAB.index(c) for c in text]], dtype=np.int64)
    sess = session(graph)
    h0 = np.zeros((2, 1, 5), dtype=np.float32)
    whole, _ = sess.run(None, {"x": ids, "h0": h0})
    first, h = sess.run(None, {"x": ids[:, :3], "h0": h0})
    rest, _ = sess.run(None, {"x": ids[:, 3:], "h0": h})
    np.testing.assert_allclose(whole, want, rtol=TOL, atol=TOL)
    np.testing.assert_allclose(np.concatenate([first, rest], axis=1), want, rtol=TOL, atol=TOL)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_torch_export_loads_with_the_readme_snippet_and_matches(tmp_path, monkeypatch, bidirectional):
    torch = needs("torch")
    from rnncli.use.export_check import reference_and_feeds
    from rnncli.use.model_io import load_model

    weights = write_model(tmp_path / "m.npz", layers=2, nonlinearity="relu", output="last",
                          kind="regression", seed=7, bidirectional=bidirectional)
    export(weights, tmp_path / "sine.pt")
    snippet = _readme_python_block('ck["rnn_class"]')
    assert len(snippet.strip().splitlines()) == 4
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(snippet, scope)  # noqa: S102 - the README's own four lines
    rnn, head, ck = scope["rnn"], scope["head"], scope["ck"]
    model = load_model(weights)
    (want,), feeds = reference_and_feeds(model, lengths=False, state=False)
    x = torch.from_numpy(feeds["x"])
    sc = ck["scaler"]
    with torch.no_grad():
        _, h_n = rnn((x - sc["input_mean"]) / sc["input_std"])
        y = head(torch.cat(list(h_n[-2:]) if bidirectional else [h_n[-1]], dim=1))
        y = y * sc["target_std"] + sc["target_mean"]
    np.testing.assert_allclose(y.numpy(), want, rtol=TOL, atol=TOL)
    assert json.loads(ck["meta"])["model"] == model.spec.to_dict()
    assert not ck["rnn"]["bias_hh_l1"].any()
    assert ("weight_ih_l1_reverse" in ck["rnn"]) == bidirectional


def test_torch_export_of_a_text_model_with_tied_embedding(tmp_path):
    torch = needs("torch")
    from rnncli.use.export_check import reference_and_feeds
    from rnncli.use.model_io import load_model

    weights = write_model(tmp_path / "t.npz", layers=2, kind="text", seed=4, embedding=5, tie=True)
    ck = torch.load(export(weights, tmp_path / "t.pt"))
    emb = torch.nn.Embedding(**ck["embedding_args"])
    emb.load_state_dict(ck["embedding"])
    rnn = torch.nn.RNN(**ck["rnn_args"])
    rnn.load_state_dict(ck["rnn"])
    head = torch.nn.Linear(**ck["head_args"])
    head.load_state_dict(ck["head"])
    assert ck["tie_weights"] and torch.equal(head.weight, emb.weight) and ck["vocab"] == TEXT_VOCAB
    (want,), feeds = reference_and_feeds(load_model(weights), lengths=False, state=False)
    with torch.no_grad():
        y = torch.softmax(head(rnn(emb(torch.from_numpy(feeds["x"])))[0]), dim=-1)
    np.testing.assert_allclose(y.numpy(), want, rtol=TOL, atol=TOL)


def test_safetensors_names_and_metadata(tmp_path):
    from safetensors import safe_open
    from safetensors.numpy import load_file

    from rnncli.weights import load_weights

    weights = write_model(tmp_path / "m.npz", layers=2, kind="classification")
    out = export(weights, tmp_path / "m.safetensors")
    params, meta, _ = load_weights(weights)
    tensors = load_file(str(out))
    assert sorted(tensors) == sorted(params)
    for name, value in params.items():
        np.testing.assert_array_equal(tensors[name], value)
    with safe_open(str(out), "np") as f:
        got = f.metadata()
    assert got["format"] == "rnn-weights" and got["format_version"] == "1"
    assert json.loads(got["model"]) == meta["model"] and json.loads(got["task"]) == meta["task"]
    assert json.loads(got["epoch"]) == 3
    result = rnn("export", weights, "-o", tmp_path / "again.st", "-f", "safetensors", "--json")
    assert result.exit_code == 0 and result.stderr == ""
    assert json.loads(result.stdout) == {"format": "safetensors", "path": str(tmp_path / "again.st"),
                                         "bytes": out.stat().st_size, "verified_max_diff": None}


def test_export_errors_are_one_line(tmp_path, monkeypatch):
    weights = write_model(tmp_path / "m.npz")
    cases = [
        (["-o", tmp_path / "m.bin"], "cannot tell the format from the suffix '.bin'"),
        (["-o", tmp_path / "m.pt", "--lengths"], "--lengths and --state apply to onnx"),
        (["-o", tmp_path / "m.onnx", "-f", "tflite"], "--format must be one of onnx, safetensors, torch"),
        (["-o", tmp_path / "no" / "m.onnx"], "does not exist"),
    ]
    monkeypatch.setitem(__import__("sys").modules, "safetensors", None)  # as if not installed
    cases.append((["-o", tmp_path / "m.safetensors"],
                  "safetensors is not installed: pip install 'rnncli[export]'"))
    for args, message in cases:
        result = rnn("export", weights, *args)
        assert result.exit_code == 2, (args, result.stderr)
        assert len(result.stderr.splitlines()) == 1 and result.stderr.startswith("rnn: error: ")
        assert message in result.stderr and result.stdout == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz"]  # nothing half-written


def test_onnx_graph_that_disagrees_is_not_written(tmp_path, monkeypatch):
    from rnncli.use import export as export_lib

    weights = write_model(tmp_path / "m.npz")
    real = export_lib.reference_and_feeds

    def off_by_a_bit(*a, **k):
        ref, feeds = real(*a, **k)
        return [r + 1e-3 for r in ref], feeds

    monkeypatch.setattr(export_lib, "reference_and_feeds", off_by_a_bit)
    result = rnn("export", weights, "-o", tmp_path / "m.onnx")
    assert result.exit_code == 1
    assert "the ONNX graph differs from the model by" in result.stderr
    assert not (tmp_path / "m.onnx").exists()


def _readme_python_block(needle: str) -> str:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)
    found = [b for b in blocks if needle in b]
    assert found, f"README has no python block with {needle!r}"
    return found[0]


def test_readme_onnx_text_generation_equals_rnn_sample_greedy(tmp_path, monkeypatch, capsys):
    repo = README.parent
    run_dir = tmp_path / "text-1"
    trained = rnn("train", "-c", repo / "configs" / "text.yaml", "--set", "train.epochs=1",
                  "--set", "model.hidden_size=16", "--out", run_dir, "-q")
    assert trained.exit_code == 0, trained.stderr
    export(run_dir, tmp_path / "text.onnx", "--state")
    greedy = rnn("sample", run_dir, "--prime", "The ", "--length", "60", "--greedy")
    assert greedy.exit_code == 0, greedy.stderr
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    exec(_readme_python_block("custom_metadata_map"), {})  # noqa: S102 - the README's own example
    assert capsys.readouterr().out == greedy.stdout
