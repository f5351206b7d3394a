"""Predict-side readers (streaming, scaling, formats) and the `rnn data` writers."""

from __future__ import annotations

import io
import itertools
import json

import numpy as np
import pytest

from rnncli.data import (
    DataConfig,
    SequenceData,
    TaskInfo,
    generate,
    iter_predict_inputs,
    load_dataset,
    write_dataset,
)
from rnncli.errors import DataError, UsageError

REG = TaskInfo(2, 1)


def batches(source, task=REG, fmt=None, bs=2, **kw):
    return list(iter_predict_inputs(source, fmt=fmt, task=task, batch_size=bs, **kw))


def test_jsonl_stdin_ragged_bare_lists_and_y_ignored():
    s = io.StringIO('{"x": [[1, 2], [3, 4]], "y": 9}\n[[5, 6]]\n\n{"x": [[7, 8]]}\n')
    out = batches("-", fmt="jsonl", stdin=s, dtype=np.float32)
    assert [b.x.shape for b in out] == [(2, 2, 2), (1, 1, 2)]
    assert out[0].lengths.tolist() == [2, 1] and out[1].lengths is None
    assert out[0].x.dtype == np.float32 and out[0].y is None
    np.testing.assert_array_equal(out[0].x[1], [[5, 6], [0, 0]])


def test_endless_stdin_streams_batch_by_batch():
    # An iterator that never ends: the first batches must come out without reading it all.
    endless = (json.dumps({"x": [[i, 0]]}) + "\n" for i in itertools.count())
    it = iter_predict_inputs("-", fmt="jsonl", task=REG, batch_size=4, stdin=endless)
    first, second = next(it), next(it)
    assert first.x[:, 0, 0].tolist() == [0, 1, 2, 3] and second.x[0, 0, 0] == 4


def test_scaler_is_applied_to_inputs():
    task = TaskInfo(2, 1, scaler={"input_mean": [1.0, 2.0], "input_std": [2.0, 4.0]})
    out = batches("-", task=task, fmt="jsonl", stdin=io.StringIO("[[3, 6], [1, 2]]\n[[5, 10]]\n"))
    np.testing.assert_allclose(out[0].x[0], [[1, 1], [0, 0]])
    np.testing.assert_allclose(out[0].x[1], [[2, 2], [0, 0]])  # padding stays zero


@pytest.mark.parametrize(
    ("text", "fmt", "message"),
    [
        ("[[1, 2, 3]]\n", "jsonl", "<stdin>: line 1: 3 features per step but the model expects 2"),
        ("[[1, 2]]\n{bad\n", "jsonl", "<stdin>: line 2: invalid JSON"),
        ("", "jsonl", "<stdin>: no sequences in the input"),
        ("a,b\n1,2\n", "csv", "the series has 1 rows, fewer than the window 3"),
        ("1,2,3\n", "csv", "line 1: 3 features per step but the model expects 2"),
    ],
)
def test_predict_bad_stdin(text, fmt, message):
    task = TaskInfo(2, 1, seq_len=3)
    with pytest.raises(DataError, match=message):
        batches("-", task=task, fmt=fmt, stdin=io.StringIO(text))


def test_format_errors():
    with pytest.raises(DataError, match="<stdin>: cannot tell the format"):
        batches("-", stdin=io.StringIO("[[1, 2]]\n"))
    with pytest.raises(DataError, match="format txt does not fit a regression model"):
        batches("-", fmt="txt", stdin=io.StringIO("abc\n"))


def test_csv_series_windows_use_training_columns(tmp_path):
    (tmp_path / "s.csv").write_text("a,b,c\n" + "".join(f"{i},{-i},{2 * i}\n" for i in range(6)))
    trained = load_dataset(
        DataConfig(source="s.csv", seq_len=3, input_columns=["c", "a"], target_columns=["b"],
                   standardize=False), seed=0, base_dir=tmp_path)
    out = batches(tmp_path / "s.csv", task=trained.task, bs=3)
    x = np.concatenate([b.x for b in out])
    assert x.shape == (4, 3, 2)  # 6 rows, windows of 3 ending at rows 3..6
    np.testing.assert_array_equal(x[1], [[2, 1], [4, 2], [6, 3]])
    # A header-less csv with exactly I columns works too.
    (tmp_path / "p.csv").write_text("1,2\n3,4\n5,6\n")
    assert batches(tmp_path / "p.csv", task=trained.task)[0].x.shape == (1, 3, 2)


def test_npy_and_npz_inputs(tmp_path):
    X = np.arange(24, dtype=np.float64).reshape(4, 3, 2)
    np.save(tmp_path / "x.npy", X)
    out = batches(tmp_path / "x.npy", bs=3)
    assert [b.x.shape for b in out] == [(3, 3, 2), (1, 3, 2)]
    np.testing.assert_array_equal(out[1].x[0], X[3])
    np.savez(tmp_path / "x.npz", X=X, lengths=np.array([3, 1, 2, 3]))
    out = batches(tmp_path / "x.npz", bs=4)
    assert out[0].lengths.tolist() == [3, 1, 2, 3]
    np.save(tmp_path / "bad.npy", np.zeros((2, 3, 5)))
    with pytest.raises(DataError, match="bad.npy: X: 5 features per step but the model expects 2"):
        batches(tmp_path / "bad.npy")
    np.savez(tmp_path / "nox.npz", y=np.zeros(3))
    with pytest.raises(DataError, match=r"nox.npz: key 'X' is missing"):
        batches(tmp_path / "nox.npz")


def test_truncated_npy_is_refused_before_loading(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((100, 10, 2)))
    raw = (tmp_path / "x.npy").read_bytes()
    (tmp_path / "t.npy").write_bytes(raw[:200])
    with pytest.raises(DataError, match="t.npy: header says .* it is truncated"):
        batches(tmp_path / "t.npy")


def test_txt_for_text_models_token_ids_and_unknown_char_line():
    task = TaskInfo(3, 3, "sequence", "cross_entropy", "text", num_classes=3,
                    vocab=[" ", "a", "b"], stateful=True)
    out = batches("-", task=task, fmt="txt", stdin=io.StringIO("ab a\nb\n"))
    assert out[0].x.shape == (2, 4) and out[0].lengths.tolist() == [4, 1]
    assert out[0].x[0].tolist() == [1, 2, 0, 1]
    with pytest.raises(DataError, match=r"<stdin>: line 2, column 2: character 'c'"):
        batches("-", task=task, fmt="txt", stdin=io.StringIO("ab\nac\n"))


# --- writers --------------------------------------------------------------------------------


def test_jsonl_written_ragged_reads_back_for_train_and_predict(tmp_path):
    cfg = DataConfig(source="random", num_samples=6, seq_len=5, min_len=2, input_size=2,
                     output_size=1)
    data, task = generate("random", cfg, seed=0)
    s = io.StringIO()
    write_dataset(data, task, "-", "jsonl", stream=s)
    lines = s.getvalue().splitlines()
    assert len(lines) == 6
    assert [len(json.loads(line)["x"]) for line in lines] == data.lengths.tolist()
    (tmp_path / "d.jsonl").write_text(s.getvalue())
    back = load_dataset(DataConfig(source="d.jsonl", val_fraction=0.0, standardize=False), seed=0,
                        base_dir=tmp_path)
    assert sorted(back.train.lengths.tolist()) == sorted(data.lengths.tolist())
    np.testing.assert_allclose(np.sort(back.train.y[:, 0]), np.sort(data.y[:, 0]))
    pred = batches(tmp_path / "d.jsonl", bs=10)
    np.testing.assert_allclose(pred[0].x, data.X)


def test_npz_npy_files_and_binary_stream(tmp_path):
    data, task = generate("adding", DataConfig(source="adding", num_samples=4, seq_len=6), seed=0)
    write_dataset(data, task, tmp_path / "a.npz", "npz")
    with np.load(tmp_path / "a.npz", allow_pickle=False) as z:
        np.testing.assert_array_equal(z["X"], data.X)
        np.testing.assert_array_equal(z["y"], data.y)
        assert "lengths" not in z.files
    write_dataset(data, task, tmp_path / "a.npy", "npy")
    np.testing.assert_array_equal(np.load(tmp_path / "a.npy"), data.X)

    class Text(io.StringIO):
        buffer = io.BytesIO()

    t = Text()
    write_dataset(data, task, "-", "npz", stream=t)
    assert t.getvalue() == "" and t.buffer.getvalue()[:2] == b"PK"


def test_csv_long_format():
    data = SequenceData(np.arange(6.0).reshape(2, 3, 1), np.array([[0.5], [1.5]]),
                        np.array([3, 2]))
    s = io.StringIO()
    write_dataset(data, TaskInfo(1, 1), "-", "csv", stream=s)
    assert s.getvalue().splitlines() == [
        "sample,t,x0,y0", "0,0,0.0,", "0,1,1.0,", "0,2,2.0,0.5", "1,0,3.0,", "1,1,4.0,1.5"]


def test_writer_errors(tmp_path):
    data = SequenceData(np.zeros((1, 1, 1)), None)
    with pytest.raises(UsageError, match="cannot write format 'xml'"):
        write_dataset(data, REG, tmp_path / "a.xml", "xml")
    with pytest.raises(UsageError, match="does not exist"):
        write_dataset(data, REG, tmp_path / "no" / "a.npz", "npz")
