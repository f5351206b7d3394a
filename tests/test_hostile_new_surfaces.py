"""The battery on this round's surfaces: gated cells (model.cell, model.forget_bias, gated weights,
checkpoints and exports), forecasting (data.forecast/transform/season/fold, train.time_budget),
--device and Parquet. Each case is one bad input that must fail the one clean way
(conftest.assert_error: one `rnn: error:` line naming the file/key/value, exit 2 for bad input,
nothing left behind); each was found failing another way first, or pins a neighbour of one that was.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from battery import TINY, Case, npz_bytes, run_case, weights_with
from conftest import Tree, assert_error, needs, rnn

OUT = ["-o", "{d}/out"]
TRAIN = ["train", *TINY, "-q"]

CONFIG = {
    # trained for minutes, then the save refused the layer count: an internal error, exit 1
    "layers-past-the-weights-bound": Case([*TRAIN, "--set", "model.num_layers=1025", *OUT],
                                          ("model.num_layers", "1024")),
    # the memory estimate listed 10^9 layers' names first: still running after minutes
    "layers-1e9": Case([*TRAIN, "--set", "model.cell=lstm", "--set", "model.num_layers=1000000000", *OUT],
                       ("model.num_layers", "1000000000")),
    "embedding-1e9": Case([*TRAIN, "--set", "model.embedding_size=1000000000", *OUT],
                          ("model.embedding_size",)),
    # float32 weights with b_ih = inf: trained, then every reader refused them
    "forget-bias-1e300": Case([*TRAIN, "--set", "model.cell=lstm", "--set", "model.forget_bias=1e300",
                               "--set", "train.dtype=float32", *OUT], ("model.forget_bias", "100")),
    "forget-bias-gru": Case([*TRAIN, "--set", "model.cell=gru", "--set", "model.forget_bias=2", *OUT],
                            ("model.forget_bias", "lstm only")),
    "forget-bias-nan": Case([*TRAIN, "--set", "model.cell=lstm", "--set", "model.forget_bias=.nan", *OUT],
                            ("model.forget_bias", "finite")),
    "cell-upper-case": Case([*TRAIN, "--set", "model.cell=LSTM", *OUT], ("model.cell", "'LSTM'")),
    "relu-lstm": Case([*TRAIN, "--set", "model.cell=lstm", "--set", "model.nonlinearity=relu", *OUT],
                      ("model.nonlinearity", "rnn only")),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", CONFIG)
def test_config(name, tmp_path, monkeypatch):
    run_case(CONFIG[name], tmp_path, None, monkeypatch)


def _model_meta(**changes):
    def edit(text: str) -> str:
        meta = json.loads(text)
        meta["model"].update(changes)
        return json.dumps(meta)
    return edit


def _tampered(**kw):
    return lambda w: weights_with(w, **kw)


GATED_WEIGHTS = {
    "lstm-says-gru": ({"meta": _model_meta(cell="gru")}, ("w.npz", "rnn.0.W_ih", "the model needs")),
    "lstm-says-rnn": ({"meta": _model_meta(cell="rnn")}, ("w.npz", "missing parameters")),
    "cell-unknown": ({"meta": _model_meta(cell="xlstm")}, ("w.npz", "meta.model.cell", "'xlstm'")),
    "cell-null": ({"meta": _model_meta(cell=None)}, ("w.npz", "meta.model.cell")),
    "layers-1e9-in-meta": ({"meta": _model_meta(num_layers=10**9)}, ("w.npz", "model.num_layers")),
    "gate-block-short": ({"replace": {"rnn.0.W_hh": np.zeros((12, 4))}},
                         ("w.npz", "rnn.0.W_hh", "(12, 4)")),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", GATED_WEIGHTS)
def test_gated_weights_tampered(name, lstm_run, tmp_path, monkeypatch):
    kw, needles = GATED_WEIGHTS[name]
    case = Case(["predict", "{d}/w.npz", "{d}/x.csv", *OUT], needles,
                {"w.npz": _tampered(**kw), "x.csv": "0.1\n0.2\n0.3\n"})
    run_case(case, tmp_path, lstm_run, monkeypatch)


def test_forget_bias_default_value_is_not_an_error_for_gru():
    """config.yaml of a gru run lists forget_bias at its default: reading it back is no error."""
    from rnncli.config import Config

    assert Config.model_validate({"model": {"cell": "gru", "forget_bias": 1.0}}).model.cell == "gru"
    with pytest.raises(ValueError, match="forget_bias"):
        Config.model_validate({"model": {"cell": "lstm", "forget_bias": 101}})



def _carry(h=(1, 4, 8), c=(1, 4, 8)):
    arrays = {}
    if h:
        arrays["h_carry"] = np.zeros(h)
    if c:
        arrays["c_carry"] = np.zeros(c)
    return arrays


# An LSTM checkpoint's carried state (h, c) that does not fit: once dropped or cut silently, so
# the run resumed (exit 0) from another state than the one it saved.
CARRY = {
    "c-missing": (_carry(c=None), ("checkpoint.npz", "h_carry and c_carry")),
    "h-missing": (_carry(h=None), ("checkpoint.npz", "it carries c_carry")),
    "c-other-layers": (_carry(c=(2, 4, 8)), ("checkpoint.npz", "(2, 4, 8)", "(1, batch, 8)")),
    "h-other-batch": (_carry(h=(1, 3, 8)), ("checkpoint.npz", "(1, 3, 8)")),
    "both-4d": (_carry(h=(1, 1, 4, 8), c=(1, 1, 4, 8)), ("checkpoint.npz", "(1, 1, 4, 8)")),
    "a-third-part": ({**_carry(), "x_carry": np.zeros((1, 4, 8))}, ("checkpoint.npz", "x_carry")),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", CARRY)
def test_lstm_checkpoint_carry_tampered(name, lstm_run, tmp_path, monkeypatch):
    arrays, needles = CARRY[name]
    run = tmp_path / "run"
    shutil.copytree(lstm_run, run)
    with np.load(run / "checkpoint.npz", allow_pickle=False) as z:
        saved = {k: z[k] for k in z.files}
    (run / "checkpoint.npz").write_bytes(npz_bytes(**saved, **arrays))
    before = Tree.of(tmp_path)
    monkeypatch.chdir(tmp_path)
    assert_error(rnn("train", "--resume", run, "--set", "train.epochs=3", "-q"), 2, *needles,
                 unchanged=before)


BENCH = ["bench", "--batch", "2", "--seq-len", "3", "--input", "1", "--hidden", "4", "--repeats", "1",
         "--warmup", "0", "--no-torch"]
OTHER = {
    # --device "" was the default (cpu) for predict & co. and an internal error (4 lines) for train
    "device-empty-train": Case([*TRAIN, "--device", "", *OUT], ("--device", "''", "cpu, cuda, auto")),
    "device-empty-predict": Case(["predict", "{w}", "{d}/x.csv", "--device", ""], ("--device", "''"),
                                 {"x.csv": "0.1\n0.2\n"}),
    "device-unknown": Case(["predict", "{w}", "{d}/x.csv", "--device", "tpu"], ("--device", "'tpu'"),
                           {"x.csv": "0.1\n0.2\n"}),
    # bench sizes past what a model may have: 10^9 layers listed 10^9 layers' names, 10^15 repeats
    # grew the list of step times without end
    "bench-layers-1e9": Case([*BENCH, "--cell", "lstm", "--layers", "1000000000"], ("--layers", "1024")),
    "bench-repeats-1e15": Case([*BENCH, "--cell", "gru", "--repeats", "1000000000000000"], ("--repeats",)),
    "bench-warmup-1e15": Case([*BENCH, "--warmup", "1000000000000000"], ("--warmup",)),
    "bench-cell-empty": Case([*BENCH, "--cell", ""], ("--cell", "''")),
}


@pytest.mark.parametrize("name", OTHER)
def test_other(name, trained, tmp_path, monkeypatch):
    run_case(OTHER[name], tmp_path, trained, monkeypatch)


SERIES = "v\n" + "".join(f"{1 + 0.5 * np.sin(i / 3):.4f}\n" for i in range(60))
CSV = ["train", "--set", "data.source={d}/s.csv", "--set", "data.seq_len=5", "--set", "model.hidden_size=4",
       "--set", "train.epochs=1", "-q"]
EIGHT = "".join(f'{{"x": [0.1, 0.{i}], "y": 0.5}}\n' for i in range(8))
FORECAST = {
    # the error named train.cv_folds, a key the user had not set
    "fold-k-past-the-windows": Case([*CSV, "--set", "data.fold=[0,1000]", *OUT],
                                    ("data.fold [0, 1000]", "55 windows", "at most 27"), {"s.csv": SERIES}),
    "fold-k-1e12": Case([*CSV, "--set", "data.fold=[0,1000000000000]", *OUT], ("data.fold",),
                        {"s.csv": SERIES}),
    "fold-k-past-the-sequences": Case(["train", "--set", "data.source={d}/r.jsonl", "--set",
                                       "data.fold=[0,1000]", "--set", "model.hidden_size=4", "-q", *OUT],
                                      ("data.fold [0, 1000]", "8 sequences", "at most 8"),
                                      {"r.jsonl": EIGHT}),
    # cross-validation set data.fold itself for each fold: the user's was dropped, exit 0
    "fold-and-cv-folds": Case(["train", "--set", "data.source={d}/r.jsonl", "--set", "data.fold=[0,4]",
                               "--set", "train.cv_folds=3", "-q", *OUT],
                              ("data.fold [0, 4]", "train.cv_folds 3"), {"r.jsonl": EIGHT}),
    # a season the series cannot look back: its baseline was left out without a word, exit 0
    "season-past-the-series": Case([*CSV, "--set", "data.season=61", *OUT], ("data.season 61", "at most"),
                                   {"s.csv": SERIES}),
    "season-1e9": Case([*CSV, "--set", "data.season=1000000000", *OUT], ("data.season 1000000000",),
                       {"s.csv": SERIES}),
    "log-of-zero": Case([*CSV, "--set", "data.transform=log", *OUT], ("s.csv", "data.transform"),
                        {"s.csv": "v\n" + "".join(f"{i % 7}\n" for i in range(60))}),
    "time-budget-0": Case([*CSV, "--set", "train.time_budget=0", *OUT], ("train.time_budget",),
                          {"s.csv": SERIES}),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", FORECAST)
def test_forecast(name, tmp_path, monkeypatch):
    run_case(FORECAST[name], tmp_path, None, monkeypatch)


@pytest.fixture(scope="module")
def series_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("series")
    (d / "s.csv").write_text(SERIES)
    result = rnn(*[a.format(d=d) for a in CSV], "-o", d / "run")
    assert result.exit_code == 0, result.stderr
    return d / "run"


@pytest.mark.slow
@pytest.mark.parametrize("rows", [1, 4])
def test_context_shorter_than_the_window(rows, series_run, tmp_path, monkeypatch):
    """--context of fewer rows than the window: every forecast was shifted off its row, exit 0."""
    (tmp_path / "c.csv").write_text("v\n" + "1.0\n" * rows)
    (tmp_path / "x.csv").write_text(SERIES)
    case = Case(["predict", "{w}", "{d}/x.csv", "--context", "{d}/c.csv"],
                ("c.csv", "--context", "window's 5 rows", f"has {rows}"))
    run_case(case, tmp_path, series_run, monkeypatch)


def _panel(ts) -> str:
    """A long-format panel of 8 samples, each with steps t = ts."""
    return "sample,t,x0,y\n" + "".join(f"{s},{t},0.{s},{s % 2 + 0.5}\n" for s in range(8) for t in ts)


# t was never read: steps were taken in file order, so a shuffled, gapped or repeated t trained on
# (and predicted) another sequence than the one written, exit 0
PANEL = {
    "t-gap": ((0, 5), ("p.csv", "line 3", "t 5 follows t 0")),
    "t-backwards": ((1, 0), ("p.csv", "line 3", "t 0 follows t 1")),
    "t-repeated": ((0, 0), ("p.csv", "t 0 follows t 0")),
    "t-fraction": ((0.5, 1.5), ("p.csv", "line 2", "'0.5' is not a step number")),
}


@pytest.mark.parametrize("name", PANEL)
def test_long_panel_steps(name, tmp_path, monkeypatch):
    ts, needles = PANEL[name]
    case = Case(["train", "--set", "data.source={d}/p.csv", "--set", "model.hidden_size=4", "-q", *OUT],
                needles, {"p.csv": _panel(ts)})
    run_case(case, tmp_path, None, monkeypatch)


@pytest.mark.slow
def test_long_panel_steps_at_predict(tmp_path, monkeypatch):
    (tmp_path / "ok.csv").write_text(_panel((0, 1)))
    assert rnn("train", "--set", f"data.source={tmp_path / 'ok.csv'}", "--set", "model.hidden_size=4",
               "--set", "train.epochs=1", "-q", "-o", tmp_path / "run").exit_code == 0
    case = Case(["predict", "{d}/run", "{d}/p.csv"], ("p.csv", "t 0 follows t 1"), {"p.csv": _panel((1, 0))})
    run_case(case, tmp_path, None, monkeypatch)


def test_parquet_row_of_nulls(tmp_path, monkeypatch):
    """A one-column series' null row became a blank csv line, skipped: a step dropped, exit 0."""
    pa = needs("pyarrow")
    import pyarrow.parquet as pq

    values = [1.0 + i % 5 if i != 7 else None for i in range(60)]
    pq.write_table(pa.table({"v": values}), tmp_path / "s.parquet")
    case = Case([*CSV[:2], "data.source={d}/s.parquet", *CSV[3:], *OUT], ("s.parquet", "line 9", "null"))
    run_case(case, tmp_path, None, monkeypatch)


def test_parquet_long_table_steps(tmp_path, monkeypatch):
    pa = needs("pyarrow")
    import pyarrow.parquet as pq

    table = {"sample": [s for s in range(8) for _ in range(2)], "t": [0, 3] * 8, "x0": [0.1] * 16,
             "y": [0.5, 1.5] * 8}
    pq.write_table(pa.table(table), tmp_path / "l.parquet")
    case = Case(["train", "--set", "data.source={d}/l.parquet", "--set", "model.hidden_size=4", "-q", *OUT],
                ("l.parquet", "line 3", "t 3 follows t 0"))
    run_case(case, tmp_path, None, monkeypatch)


# -o naming a file the command reads: the finished output replaced it (predict -o RUN/best.npz
# turned the model into a csv of predictions; states -o INPUT replaced the input), exit 0
READS = {
    "predict-o-weights": (["predict", "{d}/run", "{d}/x.npy", "-o", "{d}/run/best.npz"],
                          ("run/best.npz", "weights file")),
    "predict-o-input": (["predict", "{d}/run", "{d}/x.npy", "-o", "{d}/x.npy"], ("x.npy", "the input")),
    "states-o-input": (["states", "{d}/run", "{d}/x.npy", "-o", "{d}/x.npy"], ("x.npy", "the input")),
    "states-o-weights": (["states", "{d}/run/best.npz", "{d}/x.npy", "-o", "{d}/run/best.npz"],
                         ("best.npz", "weights file")),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", READS)
def test_output_never_replaces_what_the_command_reads(name, lstm_run, tmp_path, monkeypatch):
    args, needles = READS[name]
    shutil.copytree(lstm_run, tmp_path / "run")
    np.save(tmp_path / "x.npy", np.zeros((2, 4, 1)))
    files = {p: p.read_bytes() for p in (tmp_path / "x.npy", tmp_path / "run" / "best.npz")}
    run_case(Case(args, needles), tmp_path, None, monkeypatch)
    assert all(p.read_bytes() == data for p, data in files.items())


@pytest.mark.slow
@pytest.mark.parametrize("args", [["explain", "{d}/run", "--html", "{d}/run/best.npz"],
                                  ["explain", "{d}/run/best.npz", "--html", "{d}/run/best.npz"],
                                  ["diagnose", "{d}/run", "--map", "-o", "{d}/run/checkpoint.npz"]])
def test_pages_never_replace_the_weights(args, lstm_run, tmp_path, monkeypatch):
    """explain --html / diagnose -o naming the weights read: the page replaced the model, exit 0."""
    if args[0] == "diagnose":
        needs("matplotlib")
    shutil.copytree(lstm_run, tmp_path / "run")
    before = {p: p.read_bytes() for p in (tmp_path / "run").iterdir()}
    run_case(Case(args, ("this command reads", args[-1].split("/")[-1])), tmp_path, None, monkeypatch)
    assert all(p.read_bytes() == data for p, data in before.items())
