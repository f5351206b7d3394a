"""Decoding for text models: the filtered distributions, beam search against brute force, and
`rnn sample` / `rnn predict --next` on the command line (reproducible, one-line errors)."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from conftest import rnn
from saved_models import TEXT_VOCAB, write_model

from rnncli.use.decoding import Decoding, beam_search, choose_next, filtered_distribution
from rnncli.use.model_io import load_model
from rnncli.use.sample import _stepper, sample_text

LOGITS = np.log(np.array([0.05, 0.5, 0.15, 0.3]))


@pytest.fixture(scope="module")
def text_model(tmp_path_factory):
    return write_model(tmp_path_factory.mktemp("m") / "text.npz", layers=2, kind="text", seed=11,
                       weight_std=0.8)


def test_top_k_top_p_and_temperature_cut_the_distribution():
    p = filtered_distribution(LOGITS, Decoding(top_k=2))
    np.testing.assert_allclose(p, [0, 0.5 / 0.8, 0, 0.3 / 0.8])
    # top-p keeps the most likely tokens until their mass reaches p (the crossing token included)
    np.testing.assert_allclose(filtered_distribution(LOGITS, Decoding(top_p=0.79)), [0, 0.625, 0, 0.375])
    np.testing.assert_allclose(filtered_distribution(LOGITS, Decoding(top_p=0.81)),
                               [0, 0.5, 0.15, 0.3] / np.float64(0.95))
    np.testing.assert_allclose(filtered_distribution(LOGITS, Decoding(top_p=0.1)), [0, 1, 0, 0])
    np.testing.assert_allclose(filtered_distribution(LOGITS, Decoding(top_k=3, top_p=0.7)),
                               [0, 0.625, 0, 0.375])
    cold = filtered_distribution(LOGITS, Decoding(temperature=0.5))  # p^2, renormalised
    np.testing.assert_allclose(cold, np.array([0.05, 0.5, 0.15, 0.3]) ** 2 / 0.365)
    rng = np.random.default_rng(0)
    draws = {choose_next(LOGITS, Decoding(top_k=2), rng) for _ in range(200)}
    assert draws == {1, 3}
    assert choose_next(LOGITS, Decoding("greedy"), rng) == 1


def _sequence_logprob(step, logits, h, tokens) -> float:
    total = 0.0
    for t in tokens:
        z = logits.astype(np.float64)
        total += z[t] - np.log(np.exp(z - z.max()).sum()) - z.max()
        logits, h = step(np.array([t]), h)
        logits = logits[0]
    return total


def test_beam_search_finds_the_most_likely_continuation(text_model):
    model = load_model(text_model)
    step = _stepper(model)
    prime = [TEXT_VOCAB.index(c) for c in "ab"]
    logits, h = step(np.array([prime]), None)
    V, length = len(TEXT_VOCAB), 3
    scores = {seq: _sequence_logprob(step, logits[0], h, seq)
              for seq in itertools.product(range(V), repeat=length)}
    best = max(scores, key=scores.get)
    # wide enough to keep every prefix: exact; greedy (beam 1) is not better than the optimum
    assert tuple(beam_search(step, logits[0], h, length, V * V)) == best
    narrow = beam_search(step, logits[0], h, length, 1)
    greedy = sample_text(model, "ab", length, np.random.default_rng(0), Decoding("greedy"))
    assert "".join(TEXT_VOCAB[i] for i in narrow) == greedy
    assert scores[tuple(narrow)] <= scores[best]
    assert any(scores[s] < scores[best] for s in scores)  # the search had something to find


@pytest.mark.slow
def test_sample_cli_strategies_are_reproducible(text_model):
    def sample(*opts):
        result = rnn("sample", text_model, "--prime", "ab", "-n", "40", *opts)
        assert result.exit_code == 0, result.stderr
        assert result.stdout.startswith("ab") and len(result.stdout) == 2 + 40 + 1
        return result.stdout

    assert sample("--greedy", "--seed", "1") == sample("--greedy", "--seed", "2")
    assert sample("--top-k", "1", "--seed", "3") == sample("--greedy")
    assert sample("--beam", "1") == sample("--greedy")
    assert sample("--beam", "4") == sample("--beam", "4")
    for opts in (["--top-p", "0.9"], ["--top-k", "3", "--temperature", "0.7"], ["-t", "1.3"]):
        a, b = sample(*opts, "--seed", "5"), sample(*opts, "--seed", "5")
        assert a == b and a != sample(*opts, "--seed", "6")


@pytest.mark.parametrize("opts, message", [
    (["--greedy", "--top-k", "3"], "--top-k applies to sampling; --greedy is deterministic"),
    (["--beam", "3", "--temperature", "0.5"], "--temperature applies to sampling; --beam is deterministic"),
    (["--greedy", "--beam", "2"], "--greedy and --beam choose the continuation in different ways"),
    (["--beam", "0"], "--beam must be >= 1, got 0"),
    (["--top-k", "0"], f"--top-k must be between 1 and the vocabulary size {len(TEXT_VOCAB)}, got 0"),
    (["--top-k", "99"], f"--top-k must be between 1 and the vocabulary size {len(TEXT_VOCAB)}, got 99"),
    (["--top-p", "1.5"], "--top-p must be in (0, 1], got 1.5"),
    (["--temperature", "0"], "--temperature must be > 0, got 0.0"),
])
def test_sample_invalid_combinations_are_one_line_errors(text_model, opts, message):
    result = rnn("sample", text_model, *opts)
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.startswith(f"rnn: error: {message}") and len(result.stderr.splitlines()) == 1


def test_predict_next_prints_one_token_per_input(text_model, tmp_path):
    lines = ["abc d", "e", "dead beef"[:4]]
    (tmp_path / "in.txt").write_text("\n".join(lines) + "\n")
    every = rnn("predict", text_model, tmp_path / "in.txt", "--proba", "-f", "jsonl")
    nxt = rnn("predict", text_model, tmp_path / "in.txt", "--next", "--proba", "-f", "jsonl")
    assert every.exit_code == 0 and nxt.exit_code == 0, (every.stderr, nxt.stderr)
    rows = [json.loads(r) for r in every.stdout.splitlines()]
    last = [[r for r in rows if r["seq"] == i][-1] for i in range(len(lines))]
    got = [json.loads(r) for r in nxt.stdout.splitlines()]
    assert [g["label"] for g in got] == [r["label"] for r in last]
    assert [g["proba"] for g in got] == [r["proba"] for r in last]
    assert all("step" not in g for g in got)
    plain = rnn("predict", text_model, "-", "--next", "--no-header", input="abc d\n")
    assert plain.exit_code == 0 and plain.stdout == f"{last[0]['label']}\n"


def test_predict_next_needs_a_sequence_model(tmp_path):
    weights = write_model(tmp_path / "m.npz", output="last")
    np.save(tmp_path / "x.npy", np.zeros((2, 4, 3), np.float32))
    result = rnn("predict", weights, tmp_path / "x.npy", "--next")
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.startswith("rnn: error: --next applies to models with an output per step")
