"""Labels as datasets ship them, layouts, padding: the data layer on small arrays made here."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rnncli import notices
from rnncli.data import DataConfig, load_dataset
from rnncli.data.labels import encode_labels, fit_classes
from rnncli.errors import DataError
from rnncli.training.evaluation import class_report, confusion_matrix


def load(tmp_path, source, **opts):
    kw = {k: opts.pop(k) for k in ("fitted", "split") if k in opts}
    return load_dataset(DataConfig(source=source, **opts), seed=0, base_dir=tmp_path, **kw)


def warnings_during(fn):
    seen: list[str] = []
    with notices.handled_by(seen.append):
        out = fn()
    return out, seen


@pytest.mark.parametrize(
    ("y", "classes"),
    [
        (np.array(["b", "a", "b", "c"]), ["a", "b", "c"]),
        (np.array([2, 1, 2, 1]), [1, 2]),
        (np.array([1, -1, -1, 1]), [-1, 1]),
        (np.array([9, 3, 7, 3]), [3, 7, 9]),
        (np.array(["10", "2", "1", "2"]), ["1", "2", "10"]),  # numeric text sorts as numbers
        (np.array([True, False, True, True]), [False, True]),
    ],
)
def test_classes_are_the_sorted_distinct_labels(y, classes):
    assert fit_classes(y, "f", "y") == classes
    ids = encode_labels(y, classes, "f", "y")
    assert [classes[i] for i in ids] == y.tolist()


def test_unseen_label_and_matching_across_types():
    assert encode_labels(np.array([2.0, 1.0]), ["1", "2"], "t.npz", "key 'y'").tolist() == [1, 0]
    with pytest.raises(DataError, match=r"t.npz: key 'y' has label 'z' at index \[1\], which the "
                       r"model never saw in training \(its classes: 'a', 'b'\)"):
        encode_labels(np.array(["a", "z"]), ["a", "b"], "t.npz", "key 'y'")


def test_npz_string_labels_nct_layout_and_meta_classes(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((12, 3, 7))  # (N, C, T) as aeon stores panels
    y = np.array(["walk", "run", "stand"] * 4)
    np.savez(tmp_path / "p.npz", X=X, y=y)
    b = load(tmp_path, "p.npz", layout="NCT", val_fraction=0.0, standardize=False)
    assert b.train.X.shape == (12, 7, 3)
    np.testing.assert_array_equal(b.train.X[0], X[0].T)
    assert b.task.classes == ["run", "stand", "walk"] and b.task.output_size == 3
    assert [b.task.classes[i] for i in b.train.y] == y.tolist()
    assert json.loads(json.dumps(b.task.to_dict()))["classes"] == ["run", "stand", "walk"]


def test_one_step_of_many_features_is_ambiguous_without_a_layout(tmp_path):
    np.savez(tmp_path / "g.npz", X=np.ones((10, 1, 30)), y=np.arange(10) % 2)
    with pytest.raises(DataError) as exc:
        load(tmp_path, "g.npz")
    msg = str(exc.value)
    assert "g.npz: key 'X' has shape [10, 1, 30]: ambiguous" in msg
    assert "set data.layout: NTC" in msg and "set data.layout: NCT" in msg
    assert load(tmp_path, "g.npz", layout="NTC").train.X.shape[1:] == (1, 30)
    assert load(tmp_path, "g.npz", layout="NCT").train.X.shape[1:] == (30, 1)


def test_channels_first_shape_warns_once_with_the_key(tmp_path):
    np.savez(tmp_path / "g.npz", X=np.ones((10, 2, 30)), y=np.arange(10) % 2)
    b, seen = warnings_during(lambda: load(tmp_path, "g.npz"))
    assert b.train.X.shape[1:] == (2, 30)
    assert len(seen) == 1 and "g.npz: key 'X' has shape [10, 2, 30]" in seen[0]
    assert "set data.layout: NCT" in seen[0]
    _, quiet = warnings_during(lambda: load(tmp_path, "g.npz", layout="NTC"))
    assert quiet == []  # asked for explicitly: no warning


def test_integral_float_labels_are_classes_with_a_warning(tmp_path):
    np.savez(tmp_path / "f.npz", X=np.ones((8, 4, 1)), y=np.array([1.0, 2.0] * 4))
    b, seen = warnings_during(lambda: load(tmp_path, "f.npz", val_fraction=0.0))
    assert b.task.kind == "classification" and b.task.classes == [1, 2]
    assert len(seen) == 1 and "read as class labels; set data.targets: regression" in seen[0]
    r = load(tmp_path, "f.npz", val_fraction=0.0, targets="regression", standardize=False)
    assert r.task.kind == "regression" and r.train.y.shape == (8, 1)
    np.savez(tmp_path / "c.npz", X=np.ones((8, 4, 1)), y=np.arange(8.0) * 3)  # counts, say
    c, seen = warnings_during(lambda: load(tmp_path, "c.npz", val_fraction=0.0))
    assert c.task.kind == "regression" and len(seen) == 1
    assert "read as regression values; set data.targets: classification" in seen[0]


def test_regression_y_of_shape_n_is_one_output(tmp_path):
    y = np.linspace(0, 1, 8)
    np.savez(tmp_path / "r.npz", X=np.ones((8, 4, 2)), y=y)
    b = load(tmp_path, "r.npz", val_fraction=0.0, standardize=False)
    assert b.task.output_size == 1 and b.train.y[:, 0].tolist() == y.tolist()


def test_nan_padding_gives_lengths_and_zero_padding_warns(tmp_path):
    X = np.arange(1, 25, dtype=float).reshape(6, 4, 1)
    X[0, 2:] = np.nan
    X[3, 1:] = np.nan
    np.savez(tmp_path / "n.npz", X=X, y=np.arange(6.0))
    b = load(tmp_path, "n.npz", val_fraction=0.0, standardize=False)
    assert b.train.lengths.tolist() == [2, 4, 4, 1, 4, 4]
    assert b.train.X[0, 2:].tolist() == [[0.0], [0.0]]
    Z = np.nan_to_num(X)
    np.savez(tmp_path / "z.npz", X=Z, y=np.arange(6.0) + 0.5)
    _, seen = warnings_during(lambda: load(tmp_path, "z.npz"))
    assert len(seen) == 1
    assert "z.npz: 2 of 6 sequences end in runs of exact zeros" in seen[0] and "'lengths'" in seen[0]


def test_jsonl_string_labels_per_sequence_and_per_step(tmp_path):
    (tmp_path / "s.jsonl").write_text('{"x": [1, 2], "y": "up"}\n{"x": [2, 1, 0], "y": "down"}\n')
    b = load(tmp_path, "s.jsonl", val_fraction=0.0)
    assert b.task.classes == ["down", "up"] and b.train.y.tolist() == [1, 0]
    (tmp_path / "q.jsonl").write_text('{"x": [1, 2], "y": ["a", "b"]}\n{"x": [3], "y": ["b"]}\n')
    q = load(tmp_path, "q.jsonl", val_fraction=0.0, output="sequence")
    assert q.task.output == "sequence" and q.task.classes == ["a", "b"]
    assert q.train.y[0].tolist() == [0, 1] and q.train.y[1, 0] == 1


def test_val_source_is_used_instead_of_a_split(tmp_path):
    rng = np.random.default_rng(1)
    np.savez(tmp_path / "tr.npz", X=rng.normal(3, 2, (10, 5, 2)), y=np.array(["a", "b"] * 5))
    np.savez(tmp_path / "va.npz", X=rng.normal(3, 2, (4, 5, 2)), y=np.array(["b", "b", "a", "a"]))
    b = load(tmp_path, "tr.npz", val_source="va.npz")
    assert (len(b.train), len(b.val)) == (10, 4)
    assert b.val.y.tolist() == [1, 1, 0, 0]
    # statistics from the training file only
    assert b.train.X.reshape(-1, 2).mean(axis=0) == pytest.approx([0, 0], abs=1e-6)
    np.savez(tmp_path / "bad.npz", X=np.ones((2, 5, 2)), y=np.array(["a", "c"]))
    with pytest.raises(DataError, match="bad.npz: key 'y' has label 'c' at index \\[1\\], which"):
        load(tmp_path, "tr.npz", val_source="bad.npz")


def test_confusion_matrix_and_class_report():
    pred = np.array([[0, 1, 1], [2, 2, 0]])
    true = np.array([[0, 1, 2], [2, 1, 1]])
    mask = np.array([[True, True, True], [True, True, False]])
    c = confusion_matrix(pred, true, 3, mask)
    assert c.tolist() == [[1, 0, 0], [0, 1, 1], [0, 1, 1]]
    r = class_report(c, ["a", "b", "c"])
    assert r["classes"] == ["a", "b", "c"] and r["support"] == [1, 2, 2]
    assert r["recall"] == [1.0, 0.5, 0.5] and r["precision"] == [1.0, 0.5, 0.5]
    assert class_report(np.array([[2, 0], [1, 0]]))["precision"] == [2 / 3, None]
