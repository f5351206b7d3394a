"""Generators, DataConfig validation, TaskInfo round trips and batching."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from pydantic import ValidationError

from rnncli.data import (
    DataConfig,
    SequenceData,
    TaskInfo,
    applicable_fields,
    generate,
    iterate_batches,
    load_dataset,
    num_batches,
)
from rnncli.errors import DataError, WeightsError

GEN_CASES = [
    ("random", {}, (5,), (2,), "float"),
    ("random", {"output": "sequence"}, (5,), (50, 2), "float"),
    ("random", {"num_classes": 3}, (5,), (), "int"),
    ("random", {"output": "sequence", "num_classes": 3, "min_len": 5}, (5,), (50,), "int"),
    ("sine", {"horizon": 3}, (1,), (3,), "float"),
    ("sine", {"output": "sequence", "horizon": 2}, (1,), (50, 2), "float"),
    ("adding", {}, (2,), (1,), "float"),
    ("copy", {"copy_len": 4, "delay": 6, "num_symbols": 5}, (7,), (15,), "int"),
    ("parity", {"seq_len": 12}, (1,), (), "int"),
    ("frequency", {"num_classes": 3}, (1,), (), "int"),
]


@pytest.mark.parametrize(("name", "opts", "feat", "yshape", "ykind"), GEN_CASES)
def test_generator_shapes_dtypes_and_determinism(name, opts, feat, yshape, ykind):
    cfg = DataConfig(source=name, num_samples=64, **opts)
    data, task = generate(name, cfg, seed=3, dtype=np.float32)
    assert data.X.dtype == np.float32
    assert data.X.shape[0] == 64 and data.X.shape[2:] == feat
    assert data.y.shape == (64, *yshape)
    assert data.y.dtype == (np.float32 if ykind == "float" else np.int64)
    assert task.input_size == feat[0]
    again, _ = generate(name, cfg, seed=3, dtype=np.float32)
    other, _ = generate(name, cfg, seed=4, dtype=np.float32)
    np.testing.assert_array_equal(data.X, again.X)
    np.testing.assert_array_equal(data.y, again.y)
    assert not np.array_equal(data.X, other.X)
    json.dumps(task.to_dict())  # JSON-able for the weights meta


def test_random_ragged_padding_is_zero_and_lengths_in_range():
    cfg = DataConfig(source="random", num_samples=200, seq_len=20, min_len=4,
                     output="sequence", num_classes=3)
    data, task = generate("random", cfg, seed=0)
    assert data.lengths.min() >= 4 and data.lengths.max() <= 20
    assert len(np.unique(data.lengths)) > 5
    pad = np.arange(20)[None, :] >= data.lengths[:, None]
    assert np.all(data.X[pad] == 0) and np.all(data.y[pad] == 0)
    assert np.all((data.y >= 0) & (data.y < 3))
    assert task.loss == "cross_entropy" and task.num_classes == 3 and task.output_size == 3


def test_sine_values_and_targets_continue_the_window():
    cfg = DataConfig(source="sine", num_samples=50, seq_len=30, horizon=2)
    data, task = generate("sine", cfg, seed=1)
    assert np.abs(data.X).max() <= 1.0 and np.abs(data.y).max() <= 1.0
    # The sequence view of the same seed sees the same series: step t's target is x[t+1].
    seq, _ = generate("sine", cfg.model_copy(update={"output": "sequence"}), seed=1)
    np.testing.assert_allclose(seq.y[:, :-1, 0], seq.X[:, 1:, 0])
    np.testing.assert_allclose(seq.y[:, -1, :], data.y)
    last = data.X[:, -1, 0][:, None]
    assert task.baselines["last_value_mse"] == pytest.approx(np.mean((data.y - last) ** 2))
    assert task.baselines["mean_mse"] == pytest.approx(0.5, abs=0.1)  # variance of a sine


def test_sine_noise_adds_spread():
    clean, _ = generate("sine", DataConfig(source="sine", num_samples=20), seed=0)
    noisy, _ = generate("sine", DataConfig(source="sine", num_samples=20, noise=0.5), seed=0)
    assert np.std(noisy.X - clean.X) == pytest.approx(0.5, rel=0.1)


def test_adding_structure_and_baseline():
    cfg = DataConfig(source="adding", num_samples=20000, seq_len=20)
    data, task = generate("adding", cfg, seed=0)
    marks = data.X[:, :, 1]
    assert np.all(marks.sum(axis=1) == 2)
    assert np.all(marks[:, :10].sum(axis=1) == 1)  # one marker in each half
    np.testing.assert_allclose(data.y[:, 0], (data.X[:, :, 0] * marks).sum(axis=1))
    assert task.baselines["predict_1_mse"] == pytest.approx(1 / 6)
    # A constant predictor of 1 scores the stated baseline.
    assert np.mean((data.y - 1.0) ** 2) == pytest.approx(1 / 6, abs=0.005)


def test_copy_layout_and_memoryless_baseline():
    k, d, s = 5, 7, 6
    cfg = DataConfig(source="copy", num_samples=5000, copy_len=k, delay=d, num_symbols=s)
    data, task = generate("copy", cfg, seed=0)
    t = 2 * k + d + 1
    ids = data.X.argmax(axis=2)
    assert data.X.shape[1] == t and np.all(data.X.sum(axis=2) == 1)
    assert np.all(ids[:, k + d] == s + 1)  # the recall marker
    np.testing.assert_array_equal(data.y[:, -k:], ids[:, :k])
    assert np.all(data.y[:, :-k] == 0)
    assert task.output_size == s + 1
    # The memoryless strategy: blank with certainty, then uniform over the S symbols.
    probs = np.zeros((t, s + 1))
    probs[:-k, 0] = 1.0
    probs[-k:, 1:] = 1.0 / s
    ce = -np.mean(np.log(probs[np.arange(t)[None, :], data.y]))
    assert ce == pytest.approx(task.baselines["memoryless_ce"], rel=1e-9)
    assert task.baselines["memoryless_ce"] == pytest.approx(k * math.log(s) / t)


def test_parity_labels_match_bits_with_ragged_lengths():
    cfg = DataConfig(source="parity", num_samples=500, seq_len=10, min_len=3)
    data, task = generate("parity", cfg, seed=2)
    bits = data.X[:, :, 0]
    assert set(np.unique(bits)) <= {0.0, 1.0}
    np.testing.assert_array_equal(data.y, bits.sum(axis=1).astype(int) % 2)
    assert task.baselines["majority_accuracy"] == pytest.approx(0.5, abs=0.06)


def test_frequency_classes_are_separable_by_zero_crossings():
    cfg = DataConfig(source="frequency", num_samples=400, seq_len=60, num_classes=3,
                     freq_range=(0.05, 0.2))
    data, task = generate("frequency", cfg, seed=0)
    crossings = (np.diff(np.sign(data.X[:, :, 0]), axis=1) != 0).sum(axis=1)
    means = [crossings[data.y == c].mean() for c in range(3)]
    assert means[0] < means[1] < means[2]
    assert task.baselines["majority_accuracy"] < 0.45


def test_generator_memory_is_checked_before_allocating():
    cfg = DataConfig(source="random", num_samples=10**9, seq_len=1000, input_size=100)
    with pytest.raises(DataError, match=r"data.source 'random': would need .* GiB"):
        generate("random", cfg, seed=0)


# --- DataConfig ---------------------------------------------------------------------------


def test_config_defaults_and_kind():
    cfg = DataConfig()
    assert (cfg.source, cfg.kind, cfg.num_samples, cfg.seq_len) == ("sine", "sine", 1000, 50)
    assert DataConfig(source="x/series.CSV").kind == "csv"
    assert DataConfig(source="-", format="jsonl").kind == "jsonl"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"source": "sine", "delay": 5}, "data.delay does not apply to source 'sine'"),
        ({"source": "adding", "noise": 0.1}, "data.noise does not apply to source 'adding'"),
        ({"source": "sinus"}, "did you mean 'sine'"),
        ({"source": "-"}, "data.format is required when data.source is '-'"),
        ({"source": "text"}, "data.path is required"),
        ({"source": "random", "min_len": 60}, "data.min_len 60 is larger"),
        ({"source": "sine", "freq_range": (0.2, 0.1)}, "freq_range"),
        ({"val_fraction": 1.0}, "less than 1"),
        ({"sequence_len": 3}, "Extra inputs are not permitted"),
    ],
)
def test_config_rejects(kwargs, message):
    with pytest.raises(ValidationError, match=message):
        DataConfig(**kwargs)


def test_config_defaults_restated_are_accepted():
    # A resolved config dump repeats every default; that must load again.
    full = DataConfig(source="adding").model_dump()
    assert DataConfig(**full).source == "adding"
    assert "delay" in applicable_fields("copy") and "delay" not in applicable_fields("sine")
    assert DataConfig.model_json_schema()["properties"]["seq_len"]["description"]


# --- TaskInfo -------------------------------------------------------------------------------


def test_taskinfo_round_trip_and_bad_meta():
    task = TaskInfo(3, 3, "sequence", "cross_entropy", "text", num_classes=3, vocab=["a", "b", "c"],
                    baselines={"x": np.float32(0.5)}, stateful=True)
    back = TaskInfo.from_dict(json.loads(json.dumps(task.to_dict())))
    assert back == TaskInfo(**{**task.to_dict(), "baselines": {"x": 0.5}})
    assert TaskInfo.from_dict({"input_size": 2, "output_size": 1, "future_key": 1}).output == "last"
    with pytest.raises(WeightsError, match="input_size is missing"):
        TaskInfo.from_dict({"output_size": 1})


# --- batching -------------------------------------------------------------------------------


def _ragged():
    X = np.zeros((5, 6, 2))
    lengths = np.array([6, 2, 3, 2, 4])
    for i, n in enumerate(lengths):
        X[i, :n] = i + 1
    y = np.arange(5 * 6).reshape(5, 6) % 3
    return SequenceData(X, y, lengths), TaskInfo(2, 3, "sequence", "cross_entropy",
                                                 "classification", num_classes=3)


def test_batches_keep_order_trim_padding_and_cast():
    data, task = _ragged()
    batches = list(iterate_batches(data, task, 2, dtype=np.float32))
    assert [b.x.shape for b in batches] == [(2, 6, 2), (2, 3, 2), (1, 4, 2)]
    assert batches[1].lengths.tolist() == [3, 2] and batches[2].lengths is None
    assert batches[0].x.dtype == np.float32 and batches[0].y.dtype == np.int64
    np.testing.assert_array_equal(batches[1].y, data.y[2:4, :3])
    assert num_batches(data, 2) == 3 and num_batches(data, 2, drop_last=True) == 2
    assert len(list(iterate_batches(data, task, 2, drop_last=True))) == 2


def test_shuffled_batches_cover_every_sample_once_and_are_seeded():
    data = SequenceData(np.arange(10.0).reshape(10, 1, 1), np.arange(10.0).reshape(10, 1))
    task = TaskInfo(1, 1)
    order = [b.y[:, 0] for b in iterate_batches(data, task, 3, rng=np.random.default_rng(0))]
    flat = np.concatenate(order)
    assert sorted(flat.tolist()) == list(range(10)) and flat.tolist() != list(range(10))
    again = [b.y[:, 0] for b in iterate_batches(data, task, 3, rng=np.random.default_rng(0))]
    np.testing.assert_array_equal(flat, np.concatenate(again))


def test_stateful_batches_continue_each_stream_and_ignore_rng():
    ids = np.arange(1 + 4 * 11) % 7  # a "text" of 45 chars, windows of 4 -> 11 windows
    data = SequenceData(ids[:44].reshape(11, 4), ids[1:45].reshape(11, 4), stateful=True)
    task = TaskInfo(7, 7, "sequence", "cross_entropy", "text", num_classes=7, stateful=True)
    batches = list(iterate_batches(data, task, 3, rng=np.random.default_rng(1)))
    assert len(batches) == num_batches(data, 3) == 3  # 11 // 3 windows per stream
    stream0 = np.concatenate([b.x[0] for b in batches])  # token ids: the model encodes them
    np.testing.assert_array_equal(stream0, ids[:12])
    for i in range(1, 3):
        for b in range(3):  # row b of batch i starts where row b of batch i-1 ended
            prev_target_last = batches[i - 1].y[b, -1]
            assert batches[i].x[b, 0] == prev_target_last
    assert batches[0].x.shape == (3, 4) and batches[0].x.dtype == np.int64


def test_split_is_seeded_and_complete():
    cfg = DataConfig(source="random", num_samples=100, val_fraction=0.2)
    a = load_dataset(cfg, seed=5)
    b = load_dataset(cfg, seed=5)
    assert (len(a.train), len(a.val)) == (80, 20)
    np.testing.assert_array_equal(a.val.X, b.val.X)
    whole = load_dataset(cfg, seed=5, split=False)
    assert len(whole.train) == 100 and whole.val is None
    rows = {r.tobytes() for r in np.concatenate([a.train.X, a.val.X])}
    assert rows == {r.tobytes() for r in whole.train.X}
