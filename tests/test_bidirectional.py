"""Bidirectional layers end to end: the reversal within lengths, the CLI and the refusals.

The maths is checked against torch (test_torch_oracle.py) and centred differences (test_gradcheck.py);
here: the properties a user relies on and the commands around a bidirectional model.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import assert_error, rnn
from test_cli import SEQ_CLASSIFIER

from rnncli.core.bidirectional import reverse_index, reverse_time
from rnncli.core.init import init_params
from rnncli.core.model import ModelSpec, forward


def test_reverse_index_reverses_within_each_length_and_is_its_own_inverse():
    idx = reverse_index(np.array([3, 1, 4]), 3, 4)
    assert idx.tolist() == [[2, 1, 0, 3], [0, 1, 2, 3], [3, 2, 1, 0]]
    a = np.arange(12.0).reshape(3, 4, 1)
    np.testing.assert_array_equal(reverse_time(reverse_time(a, idx), idx), a)


@pytest.mark.parametrize("output", ["last", "sequence"])
def test_a_padded_sequence_gets_the_outputs_it_gets_alone(output):
    """Padding after a sequence must not reach its reverse direction: a ragged batch gives each
    sequence exactly the outputs of running it on its own (which fails if the whole padded length
    were reversed)."""
    spec = ModelSpec(2, 4, 3, num_layers=2, output=output, bidirectional=True)
    rng = np.random.default_rng(0)
    params = init_params(spec, rng)
    lengths = np.array([5, 2, 4])
    x = rng.normal(size=(3, 5, 2))
    x[np.arange(5)[None, :] >= lengths[:, None]] = 7.0  # junk in the padding
    y, h_final, _ = forward(params, spec, x, lengths)
    for b, n in enumerate(lengths):
        y1, h1, _ = forward(params, spec, x[b : b + 1, :n])
        got = y[b] if output == "last" else y[b, :n]
        np.testing.assert_allclose(got, y1[0], atol=1e-12)
        np.testing.assert_allclose(h_final[:, b], h1[:, 0], atol=1e-12)


def test_the_reverse_direction_sees_the_future():
    """Output at step 0 depends on the last input only through the reverse direction."""
    for bidirectional in (False, True):
        spec = ModelSpec(1, 4, 1, output="sequence", bidirectional=bidirectional)
        params = init_params(spec, np.random.default_rng(1))
        x = np.zeros((1, 6, 1))
        x2 = x.copy()
        x2[0, -1, 0] = 1.0
        changed = forward(params, spec, x2)[0][0, 0] - forward(params, spec, x)[0][0, 0]
        assert (np.abs(changed).max() > 1e-6) == bidirectional


def test_cli_trains_predicts_and_describes_a_bidirectional_model(tmp_path):
    run_dir = tmp_path / "bidi"
    result = rnn("train", *SEQ_CLASSIFIER, "--set", "model.bidirectional=true", "--set",
                 "model.num_layers=2", "--out", str(run_dir), "-q")
    assert result.exit_code == 0, result.stderr
    info = json.loads(rnn("info", str(run_dir), "--json").stdout)
    assert info["model"]["bidirectional"] is True
    # 2 layers x 2 directions of (W_xh, W_hh, b_h) with H=5, I=3: layer 1 reads 2H = 10
    assert info["parameters"] == 2 * (5 * 3 + 25 + 5) + 2 * (5 * 10 + 25 + 5) + 3 * 10 + 3
    seqs = [np.ones((4, 3)), np.arange(6.0).reshape(2, 3)]
    text = "".join(json.dumps({"x": s.tolist()}) + "\n" for s in seqs)
    together = rnn("predict", str(run_dir), "-", "-f", "jsonl", "--proba", input=text)
    alone = rnn("predict", str(run_dir), "-", "-f", "jsonl", "--proba",
                input=text.splitlines()[1] + "\n")
    assert together.exit_code == 0 and alone.exit_code == 0, together.stderr + alone.stderr
    rows = [json.loads(line) for line in together.stdout.splitlines()]
    assert len(rows) == 6
    second = [r["proba"] for r in rows if r["seq"] == 1]
    np.testing.assert_allclose(second, [json.loads(x)["proba"] for x in alone.stdout.splitlines()],
                               rtol=1e-5)
    assert_error(rnn("diagnose", str(run_dir)), 2, "does not support bidirectional")


def test_bidirectional_refuses_bptt_and_text(tmp_path):
    assert_error(rnn("config", "show", "--set", "model.bidirectional=true", "--set", "train.bptt=4"),
                      2, "--set train.bptt=4: train.bptt cannot be used with model.bidirectional")
    corpus = tmp_path / "c.txt"
    corpus.write_text("hello world, hello there\n" * 20)
    assert_error(rnn("train", "--set", "data.source=text", "--set", f"data.path={corpus}",
                          "--set", "data.seq_len=30", "--set", "model.bidirectional=true",
                          "--out", str(tmp_path / "r")),
                      2, "model.bidirectional cannot be used for text")
