"""Malformed jsonl and csv never escape as anything but a DataError (no traceback for users)."""

from __future__ import annotations

import io
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rnncli.data import DataConfig, TaskInfo, iter_predict_inputs, load_dataset
from rnncli.errors import DataError

ATOMS = st.sampled_from(
    ["1", "2.5", "-3", "NaN", '"a"', "null", "true", "[]", "[1]", "[[1,2]]", "[[1],[2,3]]",
     "1e400", "{}", "99999999999999999999999", "[[[1]]]", "[1, 2]", "[[0.5], [1]]"]
)
LINES = st.lists(
    st.one_of(
        st.builds(lambda x, y: f'{{"x": {x}, "y": {y}}}', ATOMS, ATOMS),
        ATOMS,
        st.text(max_size=8),
    ),
    max_size=5,
)
CELLS = st.sampled_from(["1", "2.5", "", "x", "nan", "inf", " 3 ", '"4"', "1e5", '"a,b"'])
FAST = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))


def _quietly(fn) -> None:
    try:
        fn()
    except DataError as exc:
        assert str(exc) and "\n" not in str(exc)  # one line for the user


@FAST
@given(LINES, st.sampled_from(["last", "sequence"]),
       st.sampled_from(["auto", "regression", "classification"]))
def test_jsonl_never_crashes(lines, output, targets):
    text = "\n".join(lines)
    cfg = DataConfig(source="-", format="jsonl", output=output, targets=targets,
                     val_fraction=0.0)
    _quietly(lambda: load_dataset(cfg, seed=0, stdin=io.StringIO(text)))
    _quietly(lambda: list(iter_predict_inputs("-", fmt="jsonl", task=TaskInfo(1, 1),
                                              batch_size=2, stdin=io.StringIO(text))))


@pytest.mark.slow
@FAST
@given(st.lists(st.lists(CELLS, max_size=4), max_size=8), st.integers(1, 4),
       st.sampled_from([None, True, False]))
def test_csv_never_crashes(rows, seq_len, header):
    text = "\n".join(",".join(r) for r in rows)
    cfg = DataConfig(source="-", format="csv", seq_len=seq_len, header=header)
    _quietly(lambda: load_dataset(cfg, seed=0, stdin=io.StringIO(text)))
    task = TaskInfo(1, 1, seq_len=seq_len)
    _quietly(lambda: list(iter_predict_inputs("-", fmt="csv", task=task, batch_size=2,
                                              stdin=io.StringIO(text))))


def test_valid_jsonl_from_the_fuzz_alphabet_loads():
    # Guard against a fuzz test that passes because everything is rejected.
    text = "\n".join(json.dumps({"x": [[0.5], [1]], "y": 2.5}) for _ in range(3))
    b = load_dataset(DataConfig(source="-", format="jsonl", val_fraction=0.0, standardize=False),
                     seed=0,
                     stdin=io.StringIO(text))
    assert b.train.X.shape == (3, 2, 1) and b.train.y.tolist() == [[2.5]] * 3
