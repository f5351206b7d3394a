"""Token inputs: the embedding's maths, and token-id batches giving what one-hot batches gave.

The embedding is checked against torch (test_torch_oracle.py) and centred differences
(test_gradcheck.py); here the pieces and the tools that read token-id batches.
"""

from __future__ import annotations

import numpy as np
import pytest

from rnncli.core.embedding import embed_backward, embed_forward, one_hot
from rnncli.core.init import init_params
from rnncli.core.model import ModelSpec, forward, param_shapes
from rnncli.data import Batch, TaskInfo


def test_embed_backward_adds_every_occurrence_of_a_token():
    rng = np.random.default_rng(0)
    ids = np.array([[1, 1, 3], [1, 0, 3]])
    d = rng.normal(size=(2, 3, 4))
    want = np.zeros((5, 4))
    for b in range(2):  # the reference loop the implementation avoids
        for t in range(3):
            want[ids[b, t]] += d[b, t]
    np.testing.assert_allclose(embed_backward(d, ids, 5), want, atol=1e-15)
    W = rng.normal(size=(5, 4))
    np.testing.assert_array_equal(embed_forward(W, ids)[1, 2], W[3])
    with pytest.raises(ValueError, match="token id 5 is outside the vocabulary"):
        embed_forward(W, np.array([[5]]))
    with pytest.raises(ValueError, match="token id -1"):
        embed_forward(W, np.array([[-1]]))


def test_ids_without_an_embedding_are_exactly_the_one_hot_model():
    spec = ModelSpec(5, 4, 5, output="sequence")
    params = init_params(spec, np.random.default_rng(0))
    ids = np.random.default_rng(1).integers(0, 5, (3, 6))
    y_ids = forward(params, spec, ids)[0]
    y_hot = forward(params, spec, one_hot(ids, 5, np.float64))[0]
    np.testing.assert_array_equal(y_ids, y_hot)


def test_new_parameters_come_after_the_old_ones_and_leave_their_draws_alone():
    plain = ModelSpec(5, 4, 5)
    emb = ModelSpec(5, 4, 5, embedding_size=3)
    assert list(param_shapes(emb))[-1] == "embed.W"
    a = init_params(plain, np.random.default_rng(0))
    b = init_params(ModelSpec(5, 4, 5, embedding_size=5), np.random.default_rng(0))
    for name in ("rnn.0.W_hh", "head.W_hy"):  # drawn before embed.W, same shapes: same numbers
        np.testing.assert_array_equal(a[name], b[name])
    with pytest.raises(ValueError, match="reads integer token ids"):
        forward(init_params(emb, np.random.default_rng(0)), emb, np.zeros((1, 2, 5)))


def test_attribution_map_reads_token_id_batches_as_their_one_hot_vectors():
    from rnncli.tools.attribution import attribution_map

    spec = ModelSpec(5, 4, 5, output="sequence")
    params = init_params(spec, np.random.default_rng(0))
    ids = np.random.default_rng(1).integers(0, 5, (3, 6))
    task = TaskInfo(5, 5, "sequence", "cross_entropy", "text", num_classes=5)
    a = attribution_map(params, spec, Batch(ids, ids, None), task)
    b = attribution_map(params, spec, Batch(one_hot(ids, 5, np.float64), ids, None), task)
    np.testing.assert_allclose(np.array(a["dx"], dtype=float), np.array(b["dx"], dtype=float),
                               rtol=1e-12)


def test_integer_token_ids_in_npz_and_jsonl_train_with_an_embedding(tmp_path):
    """data.token_ids: X (N, T) ints (npz) or flat integer lists (jsonl); eval and predict read
    them the same way, and ids beyond the model's vocabulary are refused."""
    import json

    from conftest import assert_error, rnn

    rng = np.random.default_rng(0)
    X = rng.integers(0, 9, (60, 7))
    y = (X == 3).any(axis=1).astype(np.int64)
    np.savez(tmp_path / "tok.npz", X=X, y=y)
    lines = "".join(json.dumps({"x": X[i, : 3 + i % 5].tolist(), "y": int(y[i])}) + "\n" for i in range(20))
    (tmp_path / "tok.jsonl").write_text(lines)
    run_dir = tmp_path / "tok"
    result = rnn("train", "--set", f"data.source={tmp_path / 'tok.npz'}", "--set", "data.token_ids=true",
                 "--set", "model.embedding_size=4", "--set", "model.hidden_size=6", "--set",
                 "train.epochs=1", "--out", str(run_dir), "-q")
    assert result.exit_code == 0, result.stderr
    info = json.loads(rnn("info", str(run_dir), "--json").stdout)
    assert info["model"]["input_size"] == 9 and info["model"]["embedding_size"] == 4
    ev = rnn("eval", str(run_dir), "--data", str(tmp_path / "tok.jsonl"), "--json")
    assert ev.exit_code == 0, ev.stderr
    assert json.loads(ev.stdout)["samples"] == 20
    pred = rnn("predict", str(run_dir), str(tmp_path / "tok.jsonl"), "-f", "jsonl")
    assert pred.exit_code == 0 and len(pred.stdout.splitlines()) == 20, pred.stderr
    assert_error(rnn("predict", str(run_dir), "-", "--input-format", "jsonl", input='{"x": [1, 9]}\n'),
                      2, "token id 9 is outside [0, 9)")
    with np.load(run_dir / "model.npz", allow_pickle=False) as z:  # ids are never standardised
        assert json.loads(str(z["meta"]))["task"]["scaler"] is None
