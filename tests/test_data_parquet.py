"""Parquet (data/formats/parquet.py): each table shape reads exactly like the csv or jsonl it
corresponds to, for training, eval and predict; `rnn data -o x.parquet` writes what it reads back."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
from conftest import Tree, assert_error, needs, rnn

from rnncli.data import DataConfig, load_dataset

pa = needs("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

TINY = ["--set", "model.hidden_size=4", "--set", "train.epochs=1", "-q"]


def load(tmp_path, source, **opts):
    return load_dataset(DataConfig(source=source, **opts), seed=0, base_dir=tmp_path)


def same_bundle(a, b):
    for part in ("train", "val"):
        x, y = getattr(a, part), getattr(b, part)
        np.testing.assert_array_equal(x.X, y.X)
        np.testing.assert_array_equal(x.y, y.y)
        assert (x.lengths is None) == (y.lengths is None)
    assert a.task.classes == b.task.classes and a.task.loss == b.task.loss


def ragged_records(n=12, seed=0):
    rng = np.random.default_rng(seed)
    xs = [rng.normal(size=(int(rng.integers(3, 7)), 2)).round(3).tolist() for _ in range(n)]
    ys = ["up" if sum(r[0] for r in x) > 0 else "down" for x in xs]
    return xs, ys


def test_one_row_per_sequence_reads_like_jsonl(tmp_path):
    xs, ys = ragged_records()
    pq.write_table(pa.table({"x": xs, "y": ys}), tmp_path / "p.parquet")
    lines = [json.dumps({"x": x, "y": y}) + "\n" for x, y in zip(xs, ys, strict=True)]
    (tmp_path / "p.jsonl").write_text("".join(lines))
    same_bundle(load(tmp_path, "p.parquet"), load(tmp_path, "p.jsonl"))


def test_a_long_table_with_a_sequence_id_reads_like_a_csv_panel(tmp_path):
    rows = [(s, t, float(s + t / 10), "a" if s % 2 else "b") for s in range(8) for t in range(4)]
    sample, t, x, y = (list(c) for c in zip(*rows, strict=True))
    pq.write_table(pa.table({"sample": sample, "t": t, "x0": x, "y": y}), tmp_path / "l.parquet")
    (tmp_path / "l.csv").write_text("sample,t,x0,y\n" + "".join(
        f"{a},{b},{c!r},{d}\n" for a, b, c, d in rows))
    same_bundle(load(tmp_path, "l.parquet"), load(tmp_path, "l.csv"))


def test_a_table_of_scalar_columns_is_a_series_like_csv(tmp_path):
    days = [f"2024-01-{d:02d}" for d in range(1, 31)]
    values = [float(np.sin(i / 3) + 2) for i in range(30)]
    pq.write_table(pa.table({"date": days, "value": values}), tmp_path / "s.parquet")
    lines = [f"{d},{v!r}\n" for d, v in zip(days, values, strict=True)]
    (tmp_path / "s.csv").write_text("date,value\n" + "".join(lines))
    a, b = load(tmp_path, "s.parquet", seq_len=5), load(tmp_path, "s.csv", seq_len=5)
    same_bundle(a, b)
    assert a.task.columns == b.task.columns and a.task.columns["index"] == ["date"]


def test_train_eval_predict_on_parquet_and_rnn_data_writes_it(tmp_path):
    out = tmp_path / "d.parquet"
    r = rnn("data", "sine", "-n", "40", "--seq-len", "6", "-o", out)
    assert r.exit_code == 0, r.stderr
    table = pq.read_table(out)
    assert table.column_names == ["x", "y"] and table.num_rows == 40
    jsonl = rnn("data", "sine", "-n", "40", "--seq-len", "6", "-o", "-").stdout.splitlines()
    assert [json.loads(line)["x"] for line in jsonl] == table.column("x").to_pylist()
    r = rnn("train", "--set", f"data.source={out}", *TINY, "-o", tmp_path / "run")
    assert r.exit_code == 0, r.stderr
    r = rnn("eval", tmp_path / "run", "--data", out, "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["samples"] > 0, r.stderr
    from_parquet = rnn("predict", tmp_path / "run", out)
    from_jsonl = rnn("predict", tmp_path / "run", "-", "--input-format", "jsonl",
                     input="\n".join(jsonl) + "\n")
    assert from_parquet.exit_code == 0, from_parquet.stderr
    assert from_parquet.stdout == from_jsonl.stdout and len(from_parquet.stdout.splitlines()) == 41


def test_bad_tables_are_one_line(tmp_path):
    pq.write_table(pa.table({"z": [[1.0, 2.0]], "y": [1.0]}), tmp_path / "nox.parquet")
    (tmp_path / "junk.parquet").write_bytes(b"PAR1 not really")
    for name, needle in (("nox.parquet", "list column 'x'"), ("junk.parquet", "cannot read as .parquet")):
        before = Tree.of(tmp_path)
        r = rnn("train", "--set", f"data.source={tmp_path / name}", *TINY, "-o", tmp_path / "run")
        assert_error(r, 2, name, needle, unchanged=before)


def test_without_pyarrow_one_line_names_the_extra(tmp_path, monkeypatch):
    pq.write_table(pa.table({"x": [[1.0, 2.0]], "y": [1.0]}), tmp_path / "p.parquet")
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    before = Tree.of(tmp_path)
    assert_error(rnn("data", "sine", "-o", tmp_path / "x.parquet"), 2, "pip install 'rnncli[parquet]'",
                 unchanged=before)
    assert_error(rnn("train", "--set", f"data.source={tmp_path / 'p.parquet'}", *TINY, "-o", tmp_path / "r"),
                 2, "pip install 'rnncli[parquet]'", unchanged=before)
