"""CliRunner tests of every command: exit codes, stdout holding only data, key stderr lines."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest
import yaml
from conftest import assert_error, rnn

from rnncli import __version__

TINY = [
    "--set", "train.epochs=2", "--set", "data.num_samples=64", "--set", "data.seq_len=10",
    "--set", "model.hidden_size=8", "--set", "train.batch_size=16",
]
# A many-to-many classifier on ragged sequences (seeds/003), sized to train in milliseconds.
SEQ_CLASSIFIER = [
    "--set", "data.source=random", "--set", "data.num_samples=24", "--set", "data.seq_len=6",
    "--set", "data.min_len=2", "--set", "data.input_size=3", "--set", "data.num_classes=3",
    "--set", "data.output_size=3", "--set", "data.output=sequence", "--set", "train.epochs=1",
    "--set", "model.hidden_size=5", "--set", "train.batch_size=8",
]


@pytest.fixture(scope="module")
def sine_run(tmp_path_factory):
    """A tiny trained regression run directory (the built-in default task: sine)."""
    run_dir = tmp_path_factory.mktemp("runs") / "sine"
    result = rnn("train", *TINY, "--out", str(run_dir), "--json")
    assert result.exit_code == 0, result.stderr
    return run_dir, json.loads(result.stdout)


@pytest.fixture(scope="module")
def seq_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("runs") / "seqcls"
    result = rnn("train", *SEQ_CLASSIFIER, "--out", str(run_dir), "-q")
    assert result.exit_code == 0, result.stderr
    return run_dir


def sine_jsonl(n: int, seq_len: int = 10) -> str:
    result = rnn("data", "sine", "-n", str(n), "--seq-len", str(seq_len), "--seed", "3")
    assert result.exit_code == 0, result.stderr
    return result.stdout


# -- the app itself ---------------------------------------------------------------------------
def test_version_and_help():
    assert rnn("--version").stdout.strip() == f"rnn {__version__}"
    result = rnn()
    assert "Usage" in result.output and "train" in result.output


def test_unknown_command_is_usage_error():
    result = rnn("trian")
    assert result.exit_code == 2
    assert "No such command" in result.stderr


def test_debug_shows_traceback_anywhere_on_the_line():
    plain = rnn("eval", "missing.npz")
    assert_error(plain, 2, "weights file not found: missing.npz")
    for args in (("--debug", "eval", "missing.npz"), ("eval", "missing.npz", "--debug")):
        debug = rnn(*args)
        assert debug.exit_code == 2
        assert "Traceback" in debug.stderr
        assert "rnn: error: weights file not found: missing.npz" in debug.stderr


def test_internal_error_one_line_exit_1(monkeypatch):
    import rnncli.use.model_io as inference

    def boom(path):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(inference, "load_model", boom)
    result = rnn("info", "whatever.npz")
    assert_error(result, 1, "internal error: RuntimeError: kaboom")


def test_keyboard_interrupt_exits_130(monkeypatch):
    import rnncli.use.model_io as inference

    def interrupted(path):
        raise KeyboardInterrupt

    monkeypatch.setattr(inference, "load_model", interrupted)
    result = rnn("info", "x.npz")
    assert result.exit_code == 130
    assert "rnn: interrupted" in result.stderr
    assert "Traceback" not in result.stderr


def test_os_error_is_one_line_exit_1(monkeypatch):
    import rnncli.use.model_io as inference

    def full(path):
        raise OSError(28, "No space left on device", "runs/x/model.npz")

    monkeypatch.setattr(inference, "load_model", full)
    assert_error(rnn("info", "x.npz"), 1, "runs/x/model.npz: No space left on device")


def test_broken_pipe_is_quiet_success(monkeypatch):
    import rnncli.use.model_io as inference

    def closed(path):
        raise BrokenPipeError

    monkeypatch.setattr(inference, "load_model", closed)
    result = rnn("info", "x.npz")
    assert result.exit_code == 0
    assert result.stderr == ""


# -- train ------------------------------------------------------------------------------------
def test_train_writes_run_and_json_summary(sine_run):
    run_dir, summary = sine_run
    assert summary["status"] == "completed"
    assert summary["epochs"] == 2
    assert summary["run_dir"] == str(run_dir)
    for name in ("config.yaml", "metrics.jsonl", "model.npz", "best.npz", "run.json"):
        assert (run_dir / name).is_file(), name
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records] == [1, 2]


def test_train_progress_is_plain_lines_on_stderr(tmp_path):
    result = rnn("train", *TINY, "--out", str(tmp_path / "r"))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""  # no --json: stdout stays empty
    lines = result.stderr.splitlines()
    epoch_lines = [line for line in lines if line.startswith("epoch ")]
    assert len(epoch_lines) == 2
    assert epoch_lines[0].startswith("epoch 1/2 loss ")
    assert " val_loss " in epoch_lines[0]
    assert re.search(r" \d+ms/step, \d+\.\ds elapsed$", epoch_lines[0]), epoch_lines[0]
    assert "\x1b[" not in result.stderr  # no colour codes on a non-terminal
    curve = next(line for line in lines if line.startswith("loss "))
    assert set(curve.split()[1]) <= set("▁▂▃▄▅▆▇█") and "->" in curve
    assert any(re.fullmatch(r"completed 2 epochs \(best [12]\) in \d+\.\ds", line) for line in lines), lines


def test_train_quiet_prints_nothing(tmp_path):
    for args in (("train", *TINY, "-q"), ("-q", "train", *TINY)):
        out = tmp_path / f"r{len(args[0])}{args[0]}"
        result = rnn(*args, "--out", str(out))
        assert result.exit_code == 0, result.stderr
        assert result.stderr == "" and result.stdout == ""
        assert (out / "model.npz").is_file()


def test_train_bad_override_is_config_error(tmp_path):
    result = rnn("train", "--set", "model.hiden_size=8", "--out", str(tmp_path / "r"))
    assert_error(result, 2, "hiden_size", "hidden_size")
    assert not (tmp_path / "r").exists()


def test_train_missing_config_file(tmp_path):
    missing = tmp_path / "nope.yaml"
    assert_error(rnn("train", "-c", str(missing)), 2, "nope.yaml")


def test_train_refuses_non_empty_out(sine_run):
    run_dir, _ = sine_run
    before = (run_dir / "metrics.jsonl").read_text()
    assert_error(rnn("train", *TINY, "--out", str(run_dir)), 2, "not empty")
    assert (run_dir / "metrics.jsonl").read_text() == before


def test_train_resume_conflicts_with_config(sine_run):
    run_dir, _ = sine_run
    result = rnn("train", "--resume", str(run_dir), "-c", "configs/sine.yaml")
    assert_error(result, 2, "--resume uses the run's own config.yaml")


# -- eval / info ------------------------------------------------------------------------------
def test_eval_json_regression_metrics(sine_run):
    run_dir, _ = sine_run
    result = rnn("eval", str(run_dir), "--json")
    assert result.exit_code == 0, result.stderr
    metrics = json.loads(result.stdout)
    assert {"loss", "mse", "rmse", "mae", "samples"} <= set(metrics)
    assert math.isclose(metrics["rmse"], math.sqrt(metrics["mse"]), rel_tol=1e-9)
    # Default data: the validation part of the training data (10% of 64 sequences).
    assert metrics["samples"] == 6
    # The sine data is not standardised, so the loss is the MSE in original units.
    assert math.isclose(metrics["loss"], metrics["mse"], rel_tol=1e-5)


def test_eval_on_a_file_and_a_generator(sine_run, tmp_path):
    run_dir, _ = sine_run
    path = tmp_path / "test.jsonl"
    path.write_text(sine_jsonl(7))
    on_file = json.loads(rnn("eval", str(run_dir), "--data", str(path), "--json").stdout)
    assert on_file["samples"] == 7
    gen = rnn("eval", str(run_dir), "--data", "sine", "--set", "num_samples=9", "--json")
    assert gen.exit_code == 0, gen.stderr
    assert json.loads(gen.stdout)["samples"] == 9


def test_eval_table_goes_to_stderr(sine_run):
    run_dir, _ = sine_run
    result = rnn("eval", str(run_dir / "best.npz"))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert "rmse" in result.stderr


def test_eval_errors(sine_run, tmp_path):
    run_dir, _ = sine_run
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"PK\x03\x04 this is not really a zip")
    assert_error(rnn("eval", str(bad)), 2, str(bad))
    assert_error(rnn("eval", str(tmp_path)), 2, "no model.npz in run directory")
    wrong = tmp_path / "wrong.jsonl"
    wrong.write_text('{"x": [[1, 2], [3, 4]], "y": [0.5]}\n')
    assert_error(rnn("eval", str(run_dir), "--data", str(wrong)), 2, "features")
    assert_error(rnn("eval", str(run_dir), "--data", "sinus"), 2, "did you mean 'sine'")


def test_info_json_and_human(sine_run):
    run_dir, _ = sine_run
    result = rnn("info", str(run_dir), "--json")
    assert result.exit_code == 0, result.stderr
    info = json.loads(result.stdout)
    H, I, O = 8, 1, 1
    assert info["model"]["hidden_size"] == H
    assert info["parameters"] == H * I + H * H + H + O * H + O
    assert info["task"]["kind"] == "regression"
    human = rnn("info", str(run_dir))
    assert human.stdout == ""
    assert f"parameters: {info['parameters']}" in human.stderr


# -- predict ----------------------------------------------------------------------------------
def _expected(run_dir, text: str) -> np.ndarray:
    """Predictions computed through the library, to compare the CLI's output with."""
    from rnncli.data import Batch
    from rnncli.use.model_io import load_model
    from rnncli.use.predict import predict_outputs

    model = load_model(run_dir)
    x = np.array([json.loads(line)["x"] for line in text.splitlines()], dtype=model.dtype)
    return predict_outputs(model, Batch(x, None, None))


def test_predict_jsonl_from_stdin_matches_library(sine_run):
    run_dir, _ = sine_run
    text = sine_jsonl(5)
    result = rnn("predict", str(run_dir), "-", "--format", "jsonl", input=text)
    assert result.exit_code == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 5
    got = np.array([r["y"] for r in rows])
    np.testing.assert_allclose(got, _expected(run_dir, text), rtol=1e-6)


def test_predict_csv_has_header_and_one_row_per_sequence(sine_run, tmp_path):
    run_dir, _ = sine_run
    path = tmp_path / "in.jsonl"
    path.write_text(sine_jsonl(4))
    result = rnn("predict", str(run_dir), str(path), "--batch-size", "3")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "y0"
    assert len(lines) == 5
    np.testing.assert_allclose(
        [float(v) for v in lines[1:]], _expected(run_dir, path.read_text())[:, 0], rtol=1e-6
    )


def test_predict_to_file_atomically_and_npy(sine_run, tmp_path):
    run_dir, _ = sine_run
    text = sine_jsonl(6)
    out = tmp_path / "pred.npy"
    result = rnn("predict", str(run_dir), "-", "-f", "npy", "-o", str(out), input=text)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    arr = np.load(out, allow_pickle=False)
    assert arr.shape == (6, 1)
    np.testing.assert_allclose(arr, _expected(run_dir, text), rtol=1e-6)


def test_predict_errors_leave_no_output_file(sine_run, tmp_path):
    run_dir, _ = sine_run
    out = tmp_path / "pred.csv"
    two_features = '{"x": [[1, 2], [3, 4]]}\n'
    result = rnn("predict", str(run_dir), "-", "-o", str(out), input=two_features)
    assert_error(result, 2, "features")
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []  # no temp file left behind either
    nowhere = tmp_path / "no" / "such" / "dir.csv"
    assert_error(rnn("predict", str(run_dir), "-o", str(nowhere), input=sine_jsonl(1)), 2,
                      "does not exist")
    assert_error(rnn("predict", str(run_dir), "-", input=""), 2, "no sequences")
    assert_error(
        rnn("predict", str(run_dir), "-", "--proba", input=sine_jsonl(1)), 2, "--proba"
    )
    assert_error(
        rnn("predict", str(run_dir), "-", "-f", "xml", input=sine_jsonl(1)), 2, "--format"
    )
    bad_json = '{"x": [[1], [2]]}\n{"x": [[1], oops]}\n'
    assert_error(rnn("predict", str(run_dir), "-", input=bad_json), 2, "line 2")


def test_predict_sequence_classifier_one_row_per_step(seq_run):
    # Ragged sequences of the model's 3 features: lengths 2, 4 and 3.
    seqs = [np.arange(2 * 3).reshape(2, 3), np.ones((4, 3)), np.zeros((3, 3))]
    text = "".join(json.dumps({"x": s.tolist()}) + "\n" for s in seqs)
    result = rnn("predict", str(seq_run), "-", "-f", "jsonl", "--proba", input=text)
    assert result.exit_code == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(r["seq"], r["step"]) for r in rows] == [
        (0, 0), (0, 1), (1, 0), (1, 1), (1, 2), (1, 3), (2, 0), (2, 1), (2, 2)
    ]
    for r in rows:
        assert math.isclose(sum(r["proba"]), 1.0, rel_tol=1e-6)  # float32 model
        assert r["label"] == int(np.argmax(r["proba"]))
    csv = rnn("predict", str(seq_run), "-", input=text)
    assert csv.stdout.splitlines()[0] == "seq,step,label"
    assert len(csv.stdout.splitlines()) == 1 + 9


# -- sample -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def text_run(tmp_path_factory):
    corpus = tmp_path_factory.mktemp("corpus") / "c.txt"
    corpus.write_text("hello world, hello rnn. " * 20)
    run_dir = tmp_path_factory.mktemp("runs") / "text"
    result = rnn(
        "train", "--set", "data.source=text", "--set", f"data.path={corpus}",
        "--set", "data.seq_len=8", "--set", "model.hidden_size=8", "--set", "train.epochs=1",
        "--out", str(run_dir), "-q",
    )
    assert result.exit_code == 0, result.stderr
    return run_dir


def test_sample_text(text_run):
    a = rnn("sample", str(text_run), "--prime", "hel", "--length", "30", "--seed", "1")
    assert a.exit_code == 0, a.stderr
    assert a.stdout.startswith("hel") and len(a.stdout) == 3 + 30 + 1
    assert set(a.stdout[:-1]) <= set("hello world, hello rnn. ")
    b = rnn("sample", str(text_run), "--prime", "hel", "--length", "30", "--seed", "1")
    assert a.stdout == b.stdout  # seeded
    assert_error(rnn("sample", str(text_run), "--prime", "xyz"), 2, "never saw", "xyz")
    assert_error(rnn("sample", str(text_run), "--temperature", "0"), 2, "--temperature")


def test_predict_text_model_reads_plain_text_from_stdin(text_run):
    result = rnn("predict", str(text_run), "-", "-f", "jsonl", input="hel\nwo\n")
    assert result.exit_code == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    # one row per character of each line: the predicted next character
    assert [(r["seq"], r["step"]) for r in rows] == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1)]
    assert all(isinstance(r["label"], str) and len(r["label"]) == 1 for r in rows)


def test_sample_needs_text_model(sine_run):
    assert_error(rnn("sample", str(sine_run[0])), 2, "text model")


# -- gradcheck --------------------------------------------------------------------------------
def test_gradcheck_passes_with_table_on_stderr():
    result = rnn("gradcheck", "--set", "model.hidden_size=4", "--steps", "4")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    for name in ("rnn.0.W_xh", "rnn.0.W_hh", "head.W_hy", "h0"):
        assert name in result.stderr
    assert "gradient check passed" in result.stderr


def test_gradcheck_json_and_failure_exit_1():
    ok = rnn("gradcheck", "--set", "model.hidden_size=3", "--steps", "3", "--json")
    report = json.loads(ok.stdout)
    assert ok.exit_code == 0 and report["passed"] is True
    assert {r["name"] for r in report["results"]} >= {"rnn.0.W_hh", "x", "h0"}
    assert all(r["rel_error"] < 1e-6 and r["passed"] for r in report["results"])
    # Tolerances no float can meet make the check fail: exit 1 with the table and a reason.
    impossible = ["--tol", "1e-30", "--atol", "0"]
    bad = rnn("gradcheck", "--set", "model.hidden_size=3", "--steps", "3", *impossible)
    assert bad.exit_code == 1
    assert "FAIL" in bad.stderr
    assert "rnn: error: gradient check failed" in bad.stderr
    bad_json = rnn("gradcheck", "--set", "model.hidden_size=3", *impossible, "--json")
    assert bad_json.exit_code == 1
    assert json.loads(bad_json.stdout)["passed"] is False


# -- data -------------------------------------------------------------------------------------
def test_data_jsonl_to_stdout_and_npz_file(tmp_path):
    lines = sine_jsonl(4, seq_len=7).splitlines()
    assert len(lines) == 4
    first = json.loads(lines[0])
    assert len(first["x"]) == 7 and len(first["y"]) == 1
    out = tmp_path / "adding.npz"
    result = rnn("data", "adding", "-n", "5", "--seq-len", "12", "-o", str(out))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    with np.load(out, allow_pickle=False) as z:
        assert z["X"].shape == (5, 12, 2)
        assert z["y"].shape[0] == 5


def test_data_is_seeded():
    assert sine_jsonl(3) == sine_jsonl(3)
    other = rnn("data", "sine", "-n", "3", "--seq-len", "10", "--seed", "4").stdout
    assert other != sine_jsonl(3)


def test_data_errors(tmp_path):
    assert_error(rnn("data", "sinus"), 2, "sine")
    assert_error(rnn("data", "sine", "-o", str(tmp_path / "x.xml")), 2, "--format")
    assert_error(rnn("data", "sine", "--set", "noise=-1"), 2, "data.noise")
    assert_error(rnn("data", "adding", "--set", "noise=0.5"), 2, "noise")


# -- config -----------------------------------------------------------------------------------
def test_config_show_is_yaml_with_overrides():
    result = rnn("config", "show", "--set", "model.hidden_size=17", "--seed", "5")
    assert result.exit_code == 0, result.stderr
    cfg = yaml.safe_load(result.stdout)
    assert cfg["model"]["hidden_size"] == 17
    assert cfg["seed"] == 5


def test_config_validate(tmp_path):
    good = rnn("config", "validate", "configs/sine.yaml", "configs/adding.yaml")
    assert good.exit_code == 0, good.stderr
    assert "ok: configs/sine.yaml" in good.stderr and good.stdout == ""
    bad = tmp_path / "bad.yaml"
    bad.write_text("model:\n  hidden_size: 0\n  nonlin: tanh\n")
    result = rnn("config", "validate", str(bad))
    assert_error(result, 2, "model.hidden_size", "nonlin", several=True)
    errors = [line for line in result.stderr.splitlines() if line.startswith("rnn: error:")]
    assert len(errors) >= 2  # every problem, one line each
    broken = tmp_path / "broken.yaml"
    broken.write_text("model: [unclosed\n")
    assert_error(rnn("config", "validate", str(broken)), 2, "broken.yaml")


def test_config_schema_and_reference():
    schema = json.loads(rnn("config", "schema").stdout)
    assert {"data", "model", "train"} <= set(schema["properties"])
    ref = rnn("config", "reference").stdout
    assert "hidden_size" in ref and "|" in ref


# -- a CSV series: standardised for training, predictions in original units -------------------
def test_predict_csv_series_in_original_units_with_column_names(tmp_path):
    t = np.arange(300)
    series = tmp_path / "series.csv"
    rows = [f"{100 + np.sin(0.1 * i):.4f},{-50 + np.cos(0.1 * i):.4f}" for i in t]
    series.write_text("a,b\n" + "\n".join(rows) + "\n")
    out = tmp_path / "run"
    result = rnn(
        "train", "-q", "--set", f"data.source={series}", "--set", "data.seq_len=8",
        "--set", "data.horizon=2", "--set", "train.epochs=2", "--set", "model.hidden_size=8",
        "--out", str(out),
    )
    assert result.exit_code == 0, result.stderr
    pred = rnn("predict", str(out), str(series))
    assert pred.exit_code == 0, pred.stderr
    lines = pred.stdout.splitlines()
    assert lines[0] == "row,a+1,b+1,a+2,b+2"  # row: the data row each window forecasts first
    assert [line.split(",")[0] for line in lines[1:3]] == ["8", "9"]
    values = np.array([[float(v) for v in line.split(",")[1:]] for line in lines[1:]])
    # The reader cuts the series into windows of the training length (stride 1).
    assert len(values) == 300 - 8 + 1
    # Predictions are in the units of the file (a ~ 100, b ~ -50), not standardised ones.
    assert np.all(np.abs(values[:, [0, 2]] - 100) < 5)
    assert np.all(np.abs(values[:, [1, 3]] + 50) < 5)


def test_no_color_is_respected(monkeypatch):
    args = ("gradcheck", "--set", "model.hidden_size=2", "--steps", "2")
    monkeypatch.setenv("FORCE_COLOR", "1")  # as if stderr were a colour terminal
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert "\x1b[32m" in rnn(*args).stderr  # green "pass"
    monkeypatch.setenv("NO_COLOR", "1")
    plain = rnn(*args)
    assert plain.exit_code == 0
    assert "\x1b[32m" not in plain.stderr and "pass" in plain.stderr


def test_info_shows_the_final_epochs_metrics(tmp_path):
    """model.npz carries the last epoch's record, so `rnn info` has metrics to show."""
    out = tmp_path / "run"
    assert rnn("-q", "train", "--set", "train.epochs=2", "--set", "data.num_samples=64",
               "--set", "model.hidden_size=4", "--out", str(out)).exit_code == 0
    info = json.loads(rnn("info", str(out), "--json").stdout)
    last = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()][-1]
    assert info["metrics"] == last and info["metrics"]["epoch"] == 2


def test_eval_reports_the_baselines_of_the_data_evaluated(tmp_path):
    out = tmp_path / "run"
    assert rnn("-q", "train", "--set", "train.epochs=1", "--set", "data.num_samples=64",
               "--set", "model.hidden_size=4", "--out", str(out)).exit_code == 0
    trained = json.loads(rnn("info", str(out), "--json").stdout)
    noisy = json.loads(rnn("eval", str(out), "--data", "sine", "--set", "noise=0.5", "--json").stdout)
    from rnncli.weights import read_meta

    train_baseline = read_meta(out)["task"]["baselines"]["last_value_mse"]
    assert trained["epoch"] == 1
    # Noise of std 0.5 adds about 2 * 0.25 to predicting the last value: not the training figure.
    assert noisy["baseline_last_value_mse"] > train_baseline + 0.3


def test_text_model_with_a_tied_embedding_trains_samples_and_predicts(tmp_path):
    """model.embedding_size + tie_weights: one embed.W (V, H) in the weights file, no head.W_hy."""
    corpus = tmp_path / "c.txt"
    corpus.write_text("hello world, hello rnn. " * 20)
    run_dir = tmp_path / "tied"
    result = rnn("train", "--set", "data.source=text", "--set", f"data.path={corpus}",
                 "--set", "data.seq_len=8", "--set", "model.hidden_size=8", "--set", "train.epochs=1",
                 "--set", "model.embedding_size=8", "--set", "model.tie_weights=true",
                 "--out", str(run_dir), "-q")
    assert result.exit_code == 0, result.stderr
    with np.load(run_dir / "model.npz", allow_pickle=False) as z:
        V = len(set("hello world, hello rnn. "))
        assert z["embed.W"].shape == (V, 8) and "head.W_hy" not in z.files
        assert json.loads(str(z["meta"]))["model"]["tie_weights"] is True
    a = rnn("sample", str(run_dir), "--prime", "hel", "--length", "20", "--seed", "1")
    assert a.exit_code == 0 and a.stdout.startswith("hel") and len(a.stdout) == 3 + 20 + 1
    rows = rnn("predict", str(run_dir), "-", "-f", "jsonl", input="hel\n").stdout.splitlines()
    assert len(rows) == 3 and all(len(json.loads(r)["label"]) == 1 for r in rows)
    assert "shared with the output layer" in rnn("info", str(run_dir)).stderr
    assert_error(rnn("train", "--set", "model.embedding_size=4", "--out", str(tmp_path / "s")),
                      2, "model.embedding_size needs token inputs")
    assert_error(rnn("config", "show", "--set", "model.tie_weights=true"), 2,
                      "model.tie_weights needs model.embedding_size")
