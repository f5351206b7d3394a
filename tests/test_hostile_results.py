"""Issue 22 battery, results that were wrong while the command exited 0: an option read and ignored
(--context), a column whose role train and predict disagreed on, an exit status the README did not
document. (compare's columns: tests/test_compare.py; sweeps: tests/test_hostile_sweep.py;
explain's check: tests/test_hostile_checkers.py.)
"""

from __future__ import annotations

import signal

import pytest
from battery import FILE_TINY, Case, run_case
from conftest import assert_error, rnn

from rnncli.errors import Interrupted

YEARS = "year\n" + "".join(f"{y}\n" for y in range(1900, 1980))
SERIES = "t,v\n" + "".join(f"{i},{(i * 7) % 11 / 10}\n" for i in range(80))
PANEL = "sample,t,x,y\n" + "".join(f"{s},{t},{t / 10},{s % 2}\n" for s in range(6) for t in range(4))
SEQ = '{"x": [[0.5], [0.6]]}\n'

CONTEXT = {
    # a model not trained on a csv series: --context was read and silently ignored
    "predict-generator-model-jsonl": Case(["predict", "{w}", "-", "--context", "{d}/years.csv"],
                                          ("years.csv", "--context", "jsonl"), {"years.csv": YEARS},
                                          stdin=SEQ),
    "predict-generator-model-csv": Case(["predict", "{w}", "{d}/years.csv", "--context", "{d}/years.csv"],
                                        ("years.csv", "trained on a csv series"), {"years.csv": YEARS}),
    "eval-generator-model-csv": Case(["eval", "{w}", "--data", "{d}/years.csv", "--context", "{d}/years.csv"],
                                     ("years.csv", "this one was not"), {"years.csv": YEARS}),
    "eval-txt-data": Case(["eval", "{w}", "--data", "{d}/t.txt", "--context", "{d}/years.csv"],
                          ("years.csv", "not txt data"), {"years.csv": YEARS, "t.txt": "abc\n"}),
    "eval-jsonl-data": Case(["eval", "{w}", "--data", "{d}/d.jsonl", "--context", "{d}/years.csv"],
                            ("years.csv", "not jsonl data"),
                            {"years.csv": YEARS, "d.jsonl": '{"x": [[1]], "y": [1]}\n'}),
}


@pytest.mark.parametrize("name", list(CONTEXT))
def test_context_never_ignored(name, tmp_path, trained, monkeypatch):
    run_case(CONTEXT[name], tmp_path, trained, monkeypatch)


@pytest.fixture(scope="module")
def series_model(tmp_path_factory):
    d = tmp_path_factory.mktemp("series")
    (d / "s.csv").write_text(SERIES)
    (d / "panel.csv").write_text(PANEL)
    r = rnn("train", "--set", f"data.source={d / 's.csv'}", "--set", "data.seq_len=8", *FILE_TINY,
            "-o", str(d / "run"))
    assert r.exit_code == 0, r.stderr
    return d


def test_context_on_a_series_model_with_jsonl_or_panel_input_is_refused(series_model, tmp_path):

    d = series_model
    assert_error(rnn("predict", str(d / "run"), "-", "--context", str(d / "s.csv"), input='{"x": [[1]]}\n'),
                 2, "--context", "jsonl")
    assert_error(rnn("predict", str(d / "run"), str(d / "panel.csv"), "--context", str(d / "s.csv")),
                 2, "--context", "long-format panel")
    ok = rnn("predict", str(d / "run"), str(d / "s.csv"), "--context", str(d / "s.csv"))
    assert ok.exit_code == 0, ok.stderr


def test_a_lone_year_column_is_the_feature_in_train_and_predict(tmp_path):
    """With one column there is nothing else to learn from: both read it as the series (an index
    needs another column), and predictions are labelled by row, never by the year they forecast."""
    (tmp_path / "y.csv").write_text(YEARS)
    r = rnn("train", "--set", f"data.source={tmp_path / 'y.csv'}", "--set", "data.seq_len=8", *FILE_TINY,
            "-o", str(tmp_path / "run"))
    assert r.exit_code == 0, r.stderr
    from rnncli.weights import read_meta

    columns = read_meta(tmp_path / "run")["task"]["columns"]
    assert columns["input"] == ["year"] and not columns.get("index")
    p = rnn("predict", str(tmp_path / "run"), str(tmp_path / "y.csv"))
    assert p.exit_code == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[0] == "row,year" and lines[1].startswith("8,")  # window 0 forecasts data row 8
    assert len(lines) == 1 + 80 - 8 + 1  # every full window, the last one past the end of the file


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_an_interruption_exits_128_plus_the_signal(sig, code):
    assert Interrupted("stopped", sig).exit_code == code
    assert Interrupted("stopped").exit_code == 130
