"""CSV series with an index column, ignored text columns, context rows; long-format panels."""

from __future__ import annotations

import io

import pytest

from rnncli import notices
from rnncli.data import DataConfig, TaskInfo, iter_predict_inputs, load_dataset
from rnncli.data.csvtable import looks_like_time, next_index
from rnncli.errors import DataError


def load(tmp_path, source, **opts):
    kw = {k: opts.pop(k) for k in ("fitted", "split", "context") if k in opts}
    return load_dataset(DataConfig(source=source, **opts), seed=0, base_dir=tmp_path, **kw)


def series(tmp_path, name="s.csv", n=12, first="date"):
    dates = [f"2024-01-{d:02d}" for d in range(1, n + 1)]
    rows = [f"{first},temp,city"] + [f"{d},{i * 1.5},Oslo" for i, d in enumerate(dates)]
    (tmp_path / name).write_text("\n".join(rows) + "\n")
    return name


def test_date_index_is_not_a_feature_and_text_columns_are_ignored_with_a_warning(tmp_path):
    seen: list[str] = []
    with notices.handled_by(seen.append):
        b = load(tmp_path, series(tmp_path), seq_len=3, val_fraction=0.0, standardize=False,
                 forecast="level")
    assert b.task.input_size == 1 and b.task.columns["index"] == ["date"]
    assert b.train.X[0, :, 0].tolist() == [0.0, 1.5, 3.0] and b.train.y[0].tolist() == [4.5]
    assert len(seen) == 1 and "ignoring 1 non-numeric column(s) column 3 ('city')" in seen[0]


def test_a_named_numeric_index_column(tmp_path):
    (tmp_path / "y.csv").write_text("YEAR,spots\n" + "".join(f"{1700 + i},{i % 5}\n" for i in range(9)))
    b = load(tmp_path, "y.csv", seq_len=2, val_fraction=0.0)  # 'year' is recognised by name
    assert b.task.input_size == 1 and b.task.columns["index"] == ["YEAR"]
    c = load(tmp_path, "y.csv", seq_len=2, val_fraction=0.0, index_column=None,
             input_columns=["YEAR", "spots"])
    assert c.task.input_size == 2  # asked for explicitly: then it is a feature
    with pytest.raises(DataError, match=r"y.csv: data.index_column: no column 'when'"):
        load(tmp_path, "y.csv", seq_len=2, index_column="when")


def test_baselines_are_in_original_units(tmp_path):
    (tmp_path / "b.csv").write_text("v\n" + "".join(f"{10.0 * (i % 2)}\n" for i in range(20)))
    b = load(tmp_path, "b.csv", seq_len=2, val_fraction=0.0)
    assert b.task.baselines["mean_mse"] == pytest.approx(25.0)  # values 0/10: variance 25
    assert b.task.baselines["last_value_mse"] == pytest.approx(100.0)


def test_context_makes_every_test_row_a_target(tmp_path):
    series(tmp_path, "train.csv", 12)
    (tmp_path / "test.csv").write_text("date,temp,city\n2024-01-13,18.0,Oslo\n2024-01-14,19.5,Oslo\n")
    fitted = load(tmp_path, "train.csv", seq_len=3).task
    b = load(tmp_path, "test.csv", seq_len=3, fitted=fitted, split=False, context="train.csv")
    assert len(b.train) == 2  # both test rows forecast from the last 3 training rows on
    with pytest.raises(DataError, match="window 3 \\+ horizon 1 needs at least 4 rows"):
        load(tmp_path, "test.csv", seq_len=3, fitted=fitted, split=False)


def test_predict_windows_carry_the_index_of_the_step_they_forecast(tmp_path):
    series(tmp_path, "s.csv", 6)
    task = TaskInfo(1, 1, seq_len=3, columns={"input": ["temp"], "target": ["temp"],
                                              "index": ["date"]})
    batches = list(iter_predict_inputs(tmp_path / "s.csv", fmt="csv", task=task, batch_size=10))
    assert batches[0].index == ["2024-01-04", "2024-01-05", "2024-01-06", "2024-01-07"]
    assert batches[0].x.shape == (4, 3, 1)
    ctx = list(iter_predict_inputs(tmp_path / "s.csv", fmt="csv", task=task, batch_size=10,
                                   context=tmp_path / "s.csv"))
    assert ctx[0].index[0] == "2024-01-01" and len(ctx[0].index) == 7
    plain = list(iter_predict_inputs("-", fmt="csv", task=TaskInfo(1, 1, seq_len=2), batch_size=9,
                                     stdin=io.StringIO("1\n2\n3\n")))
    assert plain[0].index == ["2", "3"]  # row numbers of the forecast steps


def test_next_index_and_time_detection():
    assert next_index(["1987", "1988"]) == "1989"
    assert next_index(["2024-01-30", "2024-01-31"]) == "2024-02-01"
    assert next_index(["a", "b"]) == ""
    assert looks_like_time("2024-05-01 13:00") and not looks_like_time("12.5")


def test_long_format_csv_reads_back_as_sequences(tmp_path):
    text = ("sample,t,x0,x1,y\n0,0,1,2,\n0,1,3,4,cat\n1,0,5,6,\n1,1,7,8,\n1,2,9,1,dog\n")
    (tmp_path / "l.csv").write_text(text)
    b = load(tmp_path, "l.csv", val_fraction=0.0, standardize=False)
    assert b.task.classes == ["cat", "dog"] and b.train.y.tolist() == [0, 1]
    assert b.train.lengths.tolist() == [2, 3] and b.train.X[1, 2].tolist() == [9.0, 1.0]
    task = TaskInfo(2, 2, kind="classification", loss="cross_entropy", num_classes=2)
    got = list(iter_predict_inputs(tmp_path / "l.csv", fmt="csv", task=task, batch_size=5))
    assert got[0].x.shape == (2, 3, 2) and got[0].lengths.tolist() == [2, 3]


def test_a_short_series_gets_a_window_that_fits_with_one_warning(tmp_path):
    (tmp_path / "y.csv").write_text("v\n" + "".join(f"{i % 7}\n" for i in range(36)))
    seen: list[str] = []
    with notices.handled_by(seen.append):
        b = load(tmp_path, "y.csv", val_fraction=0.0)
    assert b.task.seq_len == 7 and b.train.X.shape == (29, 7, 1)  # (36 - 1) // 5
    assert len(seen) == 1 and "36 rows: windows of 7 steps instead of 50" in seen[0]
    assert "set data.seq_len" in seen[0]
    with notices.handled_by(seen.append):
        assert load(tmp_path, "y.csv", seq_len=30, val_fraction=0.0).task.seq_len == 30
    assert len(seen) == 1  # set explicitly: used as given, no warning


def test_a_long_series_keeps_the_default_window(tmp_path):
    (tmp_path / "y.csv").write_text("v\n" + "".join(f"{i % 7}\n" for i in range(251)))
    assert load(tmp_path, "y.csv").task.seq_len == 50


def test_a_series_too_short_for_its_window_names_the_key(tmp_path):
    (tmp_path / "y.csv").write_text("v\n1\n2\n")
    with pytest.raises(DataError, match="needs at least 11 rows, the series has 2; lower data.seq_len"):
        load(tmp_path, "y.csv", seq_len=10)
