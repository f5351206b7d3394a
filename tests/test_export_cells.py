"""`rnn export` of the gated cells: the ONNX `GRU` (linear_before_reset=1) and `LSTM` graphs run by
onnxruntime equal `rnn predict` (layers, directions, ragged lengths, token ids, the carried state); the
.pt loads into the class `ck["rnn_class"]` names and gives the same outputs; safetensors keeps our
names."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import assert_error, rnn
from onnx_graphs import TOL, assert_graph_equals_predict, export, predict_npy, raw_inputs, session
from saved_models import TEXT_VOCAB, write_model

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

CELLS = ["gru", "lstm"]


def _op_types(graph) -> list[str]:
    return [n.op_type for n in onnx.load(str(graph)).graph.node]


@pytest.mark.slow
@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("layers, bidirectional, output, kind", [
    (1, False, "last", "regression"),
    (2, False, "sequence", "classification"),
    (2, True, "last", "classification"),
    (1, True, "sequence", "regression"),
])
def test_onnx_of_a_gated_cell_equals_rnn_predict(tmp_path, cell, layers, bidirectional, output, kind):
    weights = write_model(tmp_path / "m.npz", layers=layers, output=output, kind=kind, seed=layers,
                          bidirectional=bidirectional, cell=cell)
    graph = export(weights, tmp_path / "m.onnx")
    assert _op_types(graph).count(cell.upper()) == layers
    gru_nodes = [n for n in onnx.load(str(graph)).graph.node if n.op_type == "GRU"]
    assert all(a.i == 1 for n in gru_nodes for a in n.attribute if a.name == "linear_before_reset")
    assert_graph_equals_predict(graph, weights, tmp_path, kind, seed=layers)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("output", ["last", "sequence"])
def test_onnx_ragged_gated_batch_with_lengths_equals_predict_on_jsonl(tmp_path, cell, output):
    weights = write_model(tmp_path / "m.npz", layers=2, output=output, seed=5, bidirectional=True, cell=cell)
    graph = export(weights, tmp_path / "m.onnx", "--lengths")
    lengths = np.array([6, 2, 4, 1], dtype=np.int32)
    x = raw_inputs(np.random.default_rng(0), 4, 6, 3)
    x[np.arange(6)[None, :] >= lengths[:, None]] = 0
    (tmp_path / "x.jsonl").write_text("".join(json.dumps({"x": x[b, :n].tolist()}) + "\n"
                                              for b, n in enumerate(lengths)))
    want = predict_npy(weights, tmp_path / "x.jsonl", tmp_path)
    (got,) = session(graph).run(None, {"x": x, "lengths": lengths})
    valid = np.ones(want.shape[:1], bool) if output == "last" else np.arange(6)[None, :] < lengths[:, None]
    np.testing.assert_allclose(got[valid], want[valid], rtol=TOL, atol=TOL)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("embedding, tie", [(None, False), (5, True)])
def test_onnx_gated_text_model_carries_its_whole_state(tmp_path, cell, embedding, tie):
    weights = write_model(tmp_path / "t.npz", layers=2, kind="text", seed=3, embedding=embedding, tie=tie,
                          cell=cell)
    graph = export(weights, tmp_path / "t.onnx", "--state")
    sess = session(graph)
    names = ["h0", "c0"] if cell == "lstm" else ["h0"]
    assert [i.name for i in sess.get_inputs()] == ["x", *names]
    assert [o.name for o in sess.get_outputs()] == ["y", *(n[0] for n in names)]
    text = "abc dea"
    (tmp_path / "in.txt").write_text(text + "\n")
    want = predict_npy(weights, tmp_path / "in.txt", tmp_path, "--proba")
    ids = np.array([[TEXT_VOCAB.index(c) for c in text]], dtype=np.int64)
    zero = {n: np.zeros((2, 1, 5), dtype=np.float32) for n in names}
    first, *state = sess.run(None, {"x": ids[:, :3], **zero})
    rest, *_ = sess.run(None, {"x": ids[:, 3:], **dict(zip(names, state, strict=True))})
    np.testing.assert_allclose(np.concatenate([first, rest], axis=1), want, rtol=TOL, atol=TOL)


def test_onnx_lstm_state_outputs_equal_the_models_final_state(tmp_path):
    from rnncli.use.export_check import reference_and_feeds
    from rnncli.use.model_io import load_model

    weights = write_model(tmp_path / "m.npz", layers=2, output="sequence", seed=9, bidirectional=True,
                          cell="lstm")
    graph = export(weights, tmp_path / "m.onnx", "--state", "--lengths")
    (y, h, c), feeds = reference_and_feeds(load_model(weights), lengths=True, state=True)
    got_y, got_h, got_c = session(graph).run(None, feeds)
    assert got_h.shape == got_c.shape == (4, 3, 5)
    np.testing.assert_allclose(got_h, h, rtol=TOL, atol=TOL)
    np.testing.assert_allclose(got_c, c, rtol=TOL, atol=TOL)
    assert not np.allclose(got_h, got_c)  # two different parts, not one state twice


def _torch_from_checkpoint(ck, torch):
    """What the README's four lines build, for any cell."""
    rnn_ = getattr(torch.nn, ck["rnn_class"])(**ck["rnn_args"])
    rnn_.load_state_dict(ck["rnn"])
    head = torch.nn.Linear(**ck["head_args"])
    head.load_state_dict(ck["head"])
    return rnn_, head


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("bidirectional", [False, True])
def test_pt_of_a_gated_cell_loads_into_its_torch_class_and_matches(tmp_path, cell, bidirectional):
    torch = pytest.importorskip("torch")
    from rnncli.use.export_check import reference_and_feeds
    from rnncli.use.model_io import load_model

    weights = write_model(tmp_path / "m.npz", layers=2, output="last", kind="regression", seed=7,
                          bidirectional=bidirectional, cell=cell)
    ck = torch.load(export(weights, tmp_path / "m.pt"))
    assert ck["rnn_class"] == cell.upper()
    rnn_, head = _torch_from_checkpoint(ck, torch)
    assert type(rnn_) is getattr(torch.nn, cell.upper())
    model = load_model(weights)
    (want,), feeds = reference_and_feeds(model, lengths=True, state=False)
    sc = ck["scaler"]
    x = (torch.from_numpy(feeds["x"]) - sc["input_mean"]) / sc["input_std"]
    packed = torch.nn.utils.rnn.pack_padded_sequence(x, torch.from_numpy(feeds["lengths"]).long(),
                                                     batch_first=True, enforce_sorted=False)
    with torch.no_grad():
        _, state = rnn_(packed)
        h_n = state[0] if cell == "lstm" else state
        y = head(torch.cat(list(h_n[-2:]) if bidirectional else [h_n[-1]], dim=1))
        y = y * sc["target_std"] + sc["target_mean"]
    np.testing.assert_allclose(y.numpy(), want, rtol=TOL, atol=TOL)
    params = model.params
    np.testing.assert_array_equal(ck["rnn"]["bias_hh_l1"].numpy(), params["rnn.1.b_hh"])


def test_pt_of_an_lstm_text_model_with_tied_embedding(tmp_path):
    torch = pytest.importorskip("torch")
    from rnncli.use.export_check import reference_and_feeds
    from rnncli.use.model_io import load_model

    weights = write_model(tmp_path / "t.npz", layers=2, kind="text", seed=4, embedding=5, tie=True,
                          cell="lstm")
    ck = torch.load(export(weights, tmp_path / "t.pt"))
    emb = torch.nn.Embedding(**ck["embedding_args"])
    emb.load_state_dict(ck["embedding"])
    rnn_, head = _torch_from_checkpoint(ck, torch)
    (want,), feeds = reference_and_feeds(load_model(weights), lengths=False, state=False)
    with torch.no_grad():
        y = torch.softmax(head(rnn_(emb(torch.from_numpy(feeds["x"])))[0]), dim=-1)
    np.testing.assert_allclose(y.numpy(), want, rtol=TOL, atol=TOL)


def test_safetensors_of_an_lstm_keeps_the_npz_names(tmp_path):
    from safetensors.numpy import load_file

    from rnncli.weights import load_weights

    weights = write_model(tmp_path / "m.npz", layers=2, cell="lstm", bidirectional=True)
    tensors = load_file(str(export(weights, tmp_path / "m.safetensors")))
    params, _, _ = load_weights(weights)
    assert sorted(tensors) == sorted(params)
    assert tensors["rnn.1.W_ih_reverse"].shape == (20, 10)  # (4H, D*H)
    for name, value in params.items():
        np.testing.assert_array_equal(tensors[name], value)


def test_gated_onnx_that_disagrees_is_not_written(tmp_path, monkeypatch):
    from rnncli.use import export as export_lib

    weights = write_model(tmp_path / "m.npz", cell="lstm")
    real = export_lib.reference_and_feeds

    def c_off_by_a_bit(*a, **k):
        ref, feeds = real(*a, **k)
        return [*ref[:-1], ref[-1] + 1e-3], feeds  # only the last output, c, disagrees

    monkeypatch.setattr(export_lib, "reference_and_feeds", c_off_by_a_bit)
    result = rnn("export", weights, "-o", tmp_path / "m.onnx", "--state")
    assert_error(result, 1, "the ONNX graph differs from the model by", absent=[tmp_path / "m.onnx"])
