"""Issue 22 battery, work that grows with an argument is estimated first (memory.check_fits): a beam
of a billion, a ragged input padded into one array, an attribution map over 20,000 steps; the map's
work is bounded (at most MAX_TARGETS backward passes).
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_error, rnn

from rnncli.core.model import ModelSpec
from rnncli.tools.attribution import MAX_TARGETS, _after_target, _targets


def test_a_billion_beams_are_refused_before_allocating(text_model):
    line = assert_error(rnn("sample", text_model, "--beam", "1000000000", "-n", "5"), 2,
                        "sample --beam 1000000000", "lower --beam")
    assert "would need about" in line


def test_a_sane_beam_still_runs(text_model):
    r = rnn("sample", text_model, "--beam", "4", "-n", "5", "--prime", "the")
    assert r.exit_code == 0, r.stderr


def test_ragged_states_padded_into_one_array_are_estimated(tmp_path, trained, monkeypatch):
    lines = ['{"x": [[0.1]]}'] * 200 + ['{"x": ' + str([[0.1]] * 5000) + "}"]
    (tmp_path / "in.jsonl").write_text("\n".join(lines) + "\n")
    monkeypatch.setenv("RNN_MAX_BYTES", str(20 << 20))  # 201 x 5000 x 8 float32 = 32 MB once padded
    out = tmp_path / "s.npy"
    assert_error(rnn("states", trained, tmp_path / "in.jsonl", "-o", out, "-b", "1"), 2,
                 "states as one 201 x 5000-step array", "--format csv or jsonl", absent=[out])
    r = rnn("states", trained, tmp_path / "in.jsonl", "-o", tmp_path / "s.jsonl", "-b", "1")
    assert r.exit_code == 0, r.stderr  # streamed: no padded array


@pytest.mark.slow
def test_a_long_map_is_estimated_first(tmp_path, monkeypatch):
    monkeypatch.setenv("RNN_MAX_BYTES", str(64 << 20))
    assert_error(rnn("diagnose", "--map", "--set", "data.source=sine", "--set", "data.seq_len=20000",
                     "--set", "data.output=sequence", "--set", "data.num_samples=4", "-b", "2"), 2,
                 "diagnose --map", "20000 steps", "lower --steps")


@pytest.mark.parametrize("T, rows", [(5, 5), (MAX_TARGETS, MAX_TARGETS), (20_000, MAX_TARGETS)])
def test_map_targets_are_bounded_and_the_mask_follows_them(T, rows):
    spec = ModelSpec(1, 2, 1, output="sequence")
    targets = _targets(spec, T)
    assert len(targets) == rows and targets[0] == 0 and targets[-1] == T - 1
    assert targets == sorted(set(targets))
    mask = _after_target(targets, T)
    assert mask.shape == (rows, T)
    for i, t in enumerate(targets[:3]):
        assert not mask[i, : t + 1].any() and mask[i, t + 1:].all()
    assert _targets(ModelSpec(1, 2, 1), T) == [T - 1]


def test_a_sampled_map_keeps_its_rows_and_shapes(tmp_path):
    r = rnn("diagnose", "--map", "--set", "data.source=sine", "--set", "data.seq_len=100",
            "--set", "data.output=sequence", "--set", "data.num_samples=4", "--set", "model.hidden_size=4",
            "-b", "2", "--steps", "100", "--json")
    assert r.exit_code == 0, r.stderr
    import json

    m = json.loads(r.stdout)["map"]
    assert len(m["targets"]) == MAX_TARGETS and np.asarray(m["dx"], dtype=float).shape == (MAX_TARGETS, 100)
