"""Loaders on small files the tests write: .npz, .csv, .jsonl, .txt, .npy, stdin, bad data."""

from __future__ import annotations

import io
import json
import os

import numpy as np
import pytest

from rnncli.data import DataConfig, TaskInfo, iterate_batches, load_dataset, unscale_targets
from rnncli.data.scaling import to_original
from rnncli.errors import DataError


def load(tmp_path, source, **opts):
    kw = {k: opts.pop(k) for k in ("fitted", "split", "stdin", "dtype") if k in opts}
    return load_dataset(DataConfig(source=source, **opts), seed=0, base_dir=tmp_path, **kw)


def write(tmp_path, name, text):
    (tmp_path / name).write_text(text, encoding="utf-8")
    return name


# --- npz ------------------------------------------------------------------------------------


def test_npz_regression_relative_path_and_dtype(tmp_path):
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((20, 4, 3)), rng.standard_normal((20, 2))
    np.savez(tmp_path / "d.npz", X=X, y=y)
    b = load(tmp_path, "d.npz", val_fraction=0.25, dtype=np.float32, standardize=False)
    assert (len(b.train), len(b.val)) == (15, 5)
    assert b.train.X.dtype == np.float32 and b.train.y.dtype == np.float32
    assert (b.task.kind, b.task.output, b.task.input_size, b.task.output_size) == (
        "regression", "last", 3, 2)
    got = np.concatenate([b.train.X, b.val.X]).astype(np.float64)
    key = lambda a: a[np.argsort(a[:, 0, 0])]  # noqa: E731 - order-free comparison
    np.testing.assert_allclose(key(got), key(X), rtol=1e-6)
    assert b.task.scaler is None


def test_npz_ragged_labels_and_standardize(tmp_path):
    X = np.zeros((6, 5, 1))
    lengths = np.array([5, 2, 3, 5, 1, 4])
    for i, n in enumerate(lengths):
        X[i, :n, 0] = np.arange(n) + 10.0
    y = np.array([0, 1, 2, 0, 1, 2])
    np.savez(tmp_path / "r.npz", X=X, y=y, lengths=lengths)
    b = load(tmp_path, "r.npz", val_fraction=0.0, standardize=True)
    assert b.task.kind == "classification" and b.task.num_classes == 3
    valid = np.arange(5)[None, :] < b.train.lengths[:, None]
    assert b.train.X[valid].mean() == pytest.approx(0.0, abs=1e-12)
    assert np.all(b.train.X[~valid] == 0)  # padding stays zero after scaling
    assert "target_mean" not in b.task.scaler  # labels are never scaled
    batch = next(iterate_batches(b.train, b.task, 2))
    assert batch.lengths is not None and batch.x.shape[1] == batch.lengths.max()


def test_npz_sequence_regression_scaler_round_trip(tmp_path):
    rng = np.random.default_rng(1)
    X, y = rng.normal(5, 2, (30, 4, 2)), rng.normal(-3, 4, (30, 4, 1))
    np.savez(tmp_path / "s.npz", X=X, y=y)
    b = load(tmp_path, "s.npz", standardize=True)
    assert b.task.output == "sequence"
    assert np.mean(b.train.y) == pytest.approx(0.0, abs=1e-9)
    back = unscale_targets(b.train.y, b.task)
    assert back.mean() == pytest.approx(np.mean(b.task.scaler["target_mean"]))
    for row in back.reshape(len(back), -1):  # every unscaled row is one of the originals
        assert np.abs(y.reshape(30, -1) - row).max(axis=1).min() < 1e-9


@pytest.mark.parametrize(
    ("arrays", "opts", "message"),
    [
        ({"X": np.zeros((3, 2, 1))}, {}, r"d.npz: key 'y' is missing \(keys: X\)"),
        ({"y": np.zeros(3)}, {}, r"key 'X' is missing"),
        ({"X": np.zeros((3, 2, 1)), "y": np.zeros((4, 1))}, {}, "key 'y' has 4 rows, X has 3"),
        ({"X": np.array([[[np.nan]], [[1.0]]]), "y": np.zeros((2, 1))}, {},
         r"key 'X': sequence 0 has no step with numbers \(all NaN\)"),
        ({"X": np.array([[[np.nan], [1.0]], [[1.0], [2.0]]]), "y": np.zeros((2, 1))}, {},
         r"key 'X' holds nan at index \[0, 0, 0\]"),
        ({"X": np.zeros((2, 1, 1)), "y": np.array([[1.0], [np.inf]])}, {},
         r"key 'y' holds inf at index \[1, 0\]"),
        ({"X": np.zeros((3, 2, 1)), "y": np.array([0, 1, 7])}, {"num_classes": 3},
         r"label 7 at index \[2\], outside the class range 0..2"),
        ({"X": np.zeros((3, 2, 1)), "y": np.array(["a", "b", "a"])}, {"targets": "regression"},
         "key 'y' holds text labels; data.targets: regression needs numbers"),
        ({"X": np.zeros((3, 2, 1)), "y": np.array(["a", "a", "a"])}, {},
         "key 'y' has a single class \\('a'\\); a classifier needs two or more"),
        ({"X": np.zeros((3, 2, 1)), "y": np.zeros((3, 1)), "lengths": np.array([1, 3, 2])}, {},
         r"key 'lengths' has 3 at index 1, outside 1..2"),
        ({"X": np.array(["a", "b"]), "y": np.zeros(2)}, {}, "key 'X' has dtype <U1"),
    ],
)
def test_npz_bad_data(tmp_path, arrays, opts, message):
    np.savez(tmp_path / "d.npz", **arrays)
    with pytest.raises(DataError, match=message):
        load(tmp_path, "d.npz", **opts)


def test_npz_object_arrays_are_refused_without_unpickling(tmp_path):
    obj = np.empty(2, dtype=object)
    obj[:] = [{"a": 1}, [1, 2]]
    np.savez(tmp_path / "evil.npz", X=obj, y=np.zeros(2))
    with pytest.raises(DataError, match=r"evil.npz: array 'X' holds Python objects; refusing to load it"):
        load(tmp_path, "evil.npz")


def test_npz_corrupt_and_truncated(tmp_path):
    (tmp_path / "junk.npz").write_bytes(b"this is not a zip file")
    with pytest.raises(DataError, match=r"junk.npz: not an .npz file \(not a zip archive, or truncated\)"):
        load(tmp_path, "junk.npz")
    np.savez(tmp_path / "ok.npz", X=np.zeros((50, 20, 3)), y=np.zeros((50, 1)))
    raw = (tmp_path / "ok.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(DataError, match="cut.npz"):
        load(tmp_path, "cut.npz")


def test_npz_features_must_match_the_model(tmp_path):
    np.savez(tmp_path / "d.npz", X=np.zeros((4, 3, 3)), y=np.zeros((4, 1)))
    fitted = TaskInfo(5, 1)
    with pytest.raises(DataError, match="d.npz: sequences have 3 features per step but the "
                                        "model expects 5"):
        load(tmp_path, "d.npz", fitted=fitted, split=False)
    np.savez(tmp_path / "c.npz", X=np.zeros((4, 3, 5)), y=np.array([0, 1, 4, 1]))
    clf = TaskInfo(5, 3, "last", "cross_entropy", "classification", num_classes=3)
    with pytest.raises(DataError, match="label 4 at index"):
        load(tmp_path, "c.npz", fitted=clf, split=False)


# --- files in general -----------------------------------------------------------------------


def test_missing_empty_directory_and_npy_sources(tmp_path):
    with pytest.raises(DataError, match="nope.csv: no such file"):
        load(tmp_path, "nope.csv")
    (tmp_path / "dir.csv").mkdir()
    with pytest.raises(DataError, match="dir.csv: is a directory"):
        load(tmp_path, "dir.csv")
    write(tmp_path, "empty.jsonl", "")
    with pytest.raises(DataError, match="empty.jsonl: file is empty"):
        load(tmp_path, "empty.jsonl")
    np.save(tmp_path / "x.npy", np.zeros((2, 3, 1)))
    with pytest.raises(DataError, match="x.npy: an .npy holds inputs only"):
        load(tmp_path, "x.npy")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file(tmp_path):
    write(tmp_path, "secret.csv", "1\n2\n")
    os.chmod(tmp_path / "secret.csv", 0)
    with pytest.raises(DataError, match="secret.csv: cannot read: permission denied"):
        load(tmp_path, "secret.csv")


def test_invalid_utf8_names_the_line(tmp_path):
    (tmp_path / "bad.jsonl").write_bytes(b'{"x": [1], "y": 1.0}\n{"x": [2], "y": "\xff"}\n')
    with pytest.raises(DataError, match="bad.jsonl: line 2: not valid UTF-8"):
        load(tmp_path, "bad.jsonl")


# --- jsonl ----------------------------------------------------------------------------------


def test_jsonl_ragged_regression_and_labels(tmp_path):
    lines = [{"x": [[1, 2]] * n, "y": [float(n), 0.5]} for n in (3, 1, 2)]
    write(tmp_path, "r.jsonl", "\n".join(json.dumps(r) for r in lines) + "\n\n")
    b = load(tmp_path, "r.jsonl", val_fraction=0.0, standardize=False)
    assert b.train.X.shape == (3, 3, 2) and b.train.lengths.tolist() == [3, 1, 2]
    assert b.train.y.tolist() == [[3.0, 0.5], [1.0, 0.5], [2.0, 0.5]]
    write(tmp_path, "c.jsonl", '{"x": [1, 2, 3], "y": 2}\n[[1], [2]]\n'.replace(
        "[[1], [2]]", '{"x": [[1], [2]], "y": 0}'))
    c = load(tmp_path, "c.jsonl", val_fraction=0.0)
    # the classes are the sorted distinct labels: 0 -> id 0, 2 -> id 1
    assert c.task.kind == "classification" and c.train.y.tolist() == [1, 0]
    assert c.task.classes == [0, 2] and c.task.num_classes == 2 and c.train.X.shape == (2, 3, 1)


def test_jsonl_sequence_targets(tmp_path):
    write(tmp_path, "s.jsonl", '{"x": [[1], [2], [3]], "y": [0, 1, 1]}\n'
                               '{"x": [[4], [5]], "y": [1, 0]}\n')
    b = load(tmp_path, "s.jsonl", output="sequence", val_fraction=0.0)
    assert b.task.output == "sequence" and b.train.y.tolist() == [[0, 1, 1], [1, 0, 0]]
    r = load(tmp_path, "s.jsonl", output="sequence", targets="regression", val_fraction=0.0)
    assert r.train.y.shape == (2, 3, 1) and r.task.loss == "mse"


@pytest.mark.parametrize(
    ("text", "opts", "message"),
    [
        ('{"x": [1], "y": 1.0}\n{"x": [1], "y": 1.0\n', {}, "d.jsonl: line 2: invalid JSON"),
        ('{"y": 1.0}\n', {}, r"line 1: key 'x' is missing \(keys: y\)"),
        ('{"x": [1]}\n', {}, "line 1: key 'y' is missing"),
        ('{"x": [[1, 2]], "y": 1.0}\n{"x": [[1, 2, 3]], "y": 1.0}\n', {},
         "line 2: x has 3 features per step, line 1 has 2"),
        ('{"x": [1, NaN], "y": 1.0}\n', {}, "line 1: x holds NaN or infinity"),
        ('{"x": [1, "a"], "y": 1.0}\n', {}, "line 1: x must hold only numbers"),
        ('{"x": [[1, 2], [3]], "y": 1.0}\n', {}, "line 1: x is ragged"),
        ('{"x": [], "y": 1.0}\n', {}, "line 1: x is empty"),
        ('{"x": [1, 2], "y": [1]}\n', {"output": "sequence"},
         r"line 1: y needs one target per step \(2\), got 1"),
        ('{"x": [1], "y": 5}\n{"x": [1], "y": 1}\n', {"num_classes": 3},
         "label 5 at index"),
        ('\n\n', {}, "d.jsonl: no sequences"),
        ('7\n', {}, "line 1: expected an object"),
    ],
)
def test_jsonl_bad_data(tmp_path, text, opts, message):
    write(tmp_path, "d.jsonl", text)
    with pytest.raises(DataError, match=message):
        load(tmp_path, "d.jsonl", **opts)


# --- csv ------------------------------------------------------------------------------------

SERIES = "a,b\n" + "".join(f"{i},{10 * i}\n" for i in range(20))


def test_csv_windows_values_and_chronological_split(tmp_path):
    write(tmp_path, "s.csv", SERIES)
    b = load(tmp_path, "s.csv", seq_len=4, horizon=2, target_columns=["b"], val_fraction=0.25,
             standardize=False, forecast="level")
    # 20 rows, window 4 + horizon 2 -> 15 windows; the last 3 validate.
    assert (len(b.train), len(b.val)) == (12, 3)
    np.testing.assert_array_equal(b.train.X[1], [[1, 10], [2, 20], [3, 30], [4, 40]])
    np.testing.assert_array_equal(b.train.y[1], [50, 60])
    np.testing.assert_array_equal(b.val.X[0, :, 0], [12, 13, 14, 15])
    assert b.task.columns == {"input": ["a", "b"], "target": ["b"]}
    assert b.task.seq_len == 4 and b.task.output_size == 2
    assert b.task.baselines["last_value_mse"] > 0


def test_csv_sequence_output_stride_and_indices(tmp_path):
    write(tmp_path, "s.csv", SERIES.split("\n", 1)[1])  # no header
    b = load(tmp_path, "s.csv", seq_len=3, stride=5, output="sequence", input_columns=[0],
             target_columns=[1], val_fraction=0.0, standardize=False)
    assert b.train.X.shape == (4, 3, 1)  # starts 0, 5, 10, 15
    np.testing.assert_array_equal(b.train.X[1, :, 0], [5, 6, 7])
    np.testing.assert_array_equal(b.train.y[1, :, 0], [60, 70, 80])
    assert b.task.columns == {}  # headerless: no names, still a csv series (--context applies)


def test_csv_scaler_uses_the_training_rows_only(tmp_path):
    write(tmp_path, "s.csv", SERIES)
    b = load(tmp_path, "s.csv", seq_len=4, val_fraction=0.25, forecast="level")
    # Training windows start at rows 0..11 and read up to row 11 + 4 + 1 - 1 = 15.
    assert b.task.scaler["input_mean"] == pytest.approx([7.5, 75.0])
    assert b.task.scaler["input_std"][0] == pytest.approx(np.arange(16).std())
    pred = unscale_targets(b.train.y[:2], b.task)
    np.testing.assert_allclose(pred, [[4, 40], [5, 50]])


def test_csv_eval_reuses_the_fitted_scaler(tmp_path):
    write(tmp_path, "s.csv", SERIES)
    trained = load(tmp_path, "s.csv", seq_len=4, forecast="level")
    write(tmp_path, "t.csv", "a,b\n" + "".join(f"{i},{10 * i}\n" for i in range(100, 110)))
    ev = load(tmp_path, "t.csv", seq_len=4, fitted=trained.task, split=False)
    assert ev.task.scaler == trained.task.scaler
    np.testing.assert_allclose(unscale_targets(ev.train.y[:1], ev.task), [[104, 1040]])


def test_csv_forecasts_changes_from_the_last_value_by_default(tmp_path):
    write(tmp_path, "s.csv", SERIES)
    b = load(tmp_path, "s.csv", seq_len=4, horizon=2, val_fraction=0.25)
    assert b.task.forecast == {"transform": "none", "target": "change", "last": [0, 1]}
    # every change is +1 / +10 per step: standardised changes are 0 (the std of a constant is 1)
    assert b.task.scaler["target_mean"] == pytest.approx([1.5, 15.0])
    np.testing.assert_allclose(to_original(b.train.y[:1], b.train.X[:1], b.task), [[4, 40, 5, 50]])
    write(tmp_path, "t.csv", "a,b\n" + "".join(f"{i},{10 * i}\n" for i in range(100, 110)))
    ev = load(tmp_path, "t.csv", seq_len=4, horizon=2, fitted=b.task, split=False)
    np.testing.assert_allclose(to_original(ev.train.y[:1], ev.train.X[:1], ev.task),
                               [[104, 1040, 105, 1050]], rtol=1e-6)


def test_csv_log_transform_returns_original_units(tmp_path):
    write(tmp_path, "g.csv", "v\n" + "".join(f"{2.0 ** (i / 4)!r}\n" for i in range(40)))
    b = load(tmp_path, "g.csv", seq_len=4, transform="log", val_fraction=0.0)
    assert b.task.forecast["transform"] == "log" and b.task.forecast["target"] == "change"
    assert np.ptp(b.train.y) < 1e-6  # growth by a constant factor: a constant change of the log
    np.testing.assert_allclose(to_original(b.train.y[:1], b.train.X[:1], b.task), [[2.0]], rtol=1e-5)
    lv = load(tmp_path, "g.csv", seq_len=4, transform="log", forecast="level", val_fraction=0.0)
    np.testing.assert_allclose(to_original(lv.train.y[:1], lv.train.X[:1], lv.task), [[2.0]], rtol=1e-5)
    write(tmp_path, "z.csv", "v\n1\n2\n0\n4\n5\n6\n")
    with pytest.raises(DataError, match=r"z.csv: value 0 is not positive; data.transform: log"):
        load(tmp_path, "z.csv", seq_len=2, transform="log")


def test_change_needs_targets_that_are_inputs(tmp_path):
    write(tmp_path, "s.csv", SERIES)
    b = load(tmp_path, "s.csv", seq_len=4, input_columns=["a"], target_columns=["b"])
    assert b.task.forecast is None  # auto: the values themselves
    with pytest.raises(DataError, match="data.forecast: change needs"):
        load(tmp_path, "s.csv", seq_len=4, input_columns=["a"], target_columns=["b"], forecast="change")


@pytest.mark.parametrize(
    ("text", "opts", "message"),
    [
        ("a,b\n1,2\n3\n", {}, r"s.csv: line 3 has 1 columns, expected 2"),
        ("a,b\n1,2\n3,x\n", {}, r"s.csv: line 3, column 2 \('b'\): 'x' is not a number"),
        ("1,2\n3,\n", {}, r"s.csv: line 2, column 2: '' is not a number"),
        ("a,b\n1,2\nnan,4\n", {}, r"line 3, column 1 \('a'\): 'nan' is not finite"),
        ("a,b\n1,2\n3,4\n", {"seq_len": 5},
         "window 5 \\+ horizon 1 needs at least 6 rows, the series has 2"),
        ("a,b\n", {}, "no data rows"),
        ("\n\n", {}, "no data rows"),
        ("a,b\n1,2\n", {"target_columns": ["c"]},
         r"data.target_columns: no column 'c' \(columns: a, b\)"),
        ("1,2\n3,4\n", {"input_columns": [2]}, "column index 2 is outside 0..1"),
    ],
)
def test_csv_bad_data(tmp_path, text, opts, message):
    write(tmp_path, "s.csv", text)
    opts.setdefault("seq_len", 1)
    with pytest.raises(DataError, match=message):
        load(tmp_path, "s.csv", **opts)


def test_csv_features_must_match_the_model(tmp_path):
    write(tmp_path, "s.csv", SERIES)
    with pytest.raises(DataError, match="2 input columns but the model expects 3"):
        load(tmp_path, "s.csv", seq_len=3, fitted=TaskInfo(3, 2), split=False)


# --- text -----------------------------------------------------------------------------------


def test_txt_source_and_text_generator_agree(tmp_path):
    write(tmp_path, "c.txt", "abcab\ncabca\n" * 20)
    a = load(tmp_path, "c.txt", seq_len=8, val_fraction=0.2)
    b = load(tmp_path, "text", path="c.txt", seq_len=8, val_fraction=0.2)
    np.testing.assert_array_equal(a.train.X, b.train.X)
    assert a.task.vocab == ["\n", "a", "b", "c"] and a.task.stateful and a.train.stateful
    assert a.task.baselines["unigram_bits_per_char"] == pytest.approx(
        -(3 * (5 / 18) * np.log2(5 / 18) + (3 / 18) * np.log2(3 / 18)), abs=0.05)
    assert len(a.val) == (48 - 1) // 8  # the last 20% of 240 chars


def test_text_eval_with_unknown_char_names_char_and_line(tmp_path):
    write(tmp_path, "c.txt", "abab\n" * 30)
    trained = load(tmp_path, "c.txt", seq_len=4)
    write(tmp_path, "e.txt", "abab\nab\nabzb\n" * 3)
    with pytest.raises(DataError, match=r"e.txt: line 3, column 3: character 'z' is not in"):
        load(tmp_path, "e.txt", seq_len=4, fitted=trained.task, split=False)


def test_text_too_short(tmp_path):
    write(tmp_path, "c.txt", "abc")
    with pytest.raises(DataError, match="3 characters for training, fewer than seq_len"):
        load(tmp_path, "c.txt", seq_len=5)


# --- standard input -------------------------------------------------------------------------


def test_stdin_jsonl_csv_npz_and_empty(tmp_path):
    s = io.StringIO('{"x": [1, 2], "y": 1.5}\n{"x": [3], "y": 2.5}\n')
    b = load(tmp_path, "-", format="jsonl", val_fraction=0.0, stdin=s)
    assert b.train.lengths.tolist() == [2, 1]
    c = load(tmp_path, "-", format="csv", seq_len=2, val_fraction=0.0,
             stdin=io.StringIO("v\n1\n2\n3\n4\n"))
    assert len(c.train) == 2
    buf = io.BytesIO()
    np.savez(buf, X=np.ones((3, 2, 1)), y=np.zeros((3, 1)))
    n = load(tmp_path, "-", format="npz", val_fraction=0.0, stdin=io.BytesIO(buf.getvalue()))
    assert n.train.X.shape == (3, 2, 1)
    with pytest.raises(DataError, match="<stdin>: standard input is empty"):
        load(tmp_path, "-", format="jsonl", stdin=io.StringIO(""))
    with pytest.raises(DataError, match="<stdin>: line 1, column 1: 'x' is not a number"):
        load(tmp_path, "-", format="csv", header=False, stdin=io.StringIO("x\n"))
