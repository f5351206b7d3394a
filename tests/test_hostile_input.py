"""Issue 12 battery, inputs users can get wrong: validation catches what belongs to it (finite floats,
seeds, NUL bytes, label range), malformed files are one line naming them (never an internal error),
non-finite numbers in inputs, weights or outputs are one line (never a printed inf or a warning).

Each case runs in-process (CliRunner) through battery.run_case: exit code, exactly one
`rnn: error:` line holding the needles, no traceback, no warning, nothing on stdout, no debris.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from battery import FILE_TINY, TINY, Case, run_case, weights_with, with_model_meta
from conftest import assert_error, rnn


def _task(**changes) -> callable:
    """The trained weights with meta.task entries ("scaler.input_std": value) replaced."""
    def edit(text: str) -> str:
        meta = json.loads(text)
        for key, value in changes.items():
            target = meta["task"]
            *path, last = key.split(".")
            for p in path:
                if not isinstance(target.get(p), dict):
                    target[p] = {}
                target = target[p]
            target[last] = value
        return json.dumps(meta)
    return lambda w: weights_with(w, meta=edit)


def _scaled_param(value: float) -> callable:
    """Every output weight `value`, and every recurrent state saturated towards +1 (large W_xh)."""
    def make(w: Path) -> bytes:
        with np.load(w / "model.npz", allow_pickle=False) as z:
            W, X = z["head.W_hy"], z["rnn.0.W_xh"]
        return weights_with(w, replace={"head.W_hy": np.full_like(W, value),
                                        "rnn.0.W_xh": np.full_like(X, 100.0)})
    return make


SEQ = '{"x": [[0.5], [0.6]]}\n'
OUT = ["-o", "{d}/out"]


def _set(key: str, value: str, code: int = 2, *needles: str) -> Case:
    return Case(["train", *TINY, "--set", f"{key}={value}", *OUT], (f"--set {key}={value}", key, *needles),
                code=code)


CASES = {
    # -- every float of a config finite, at validation ------------------------------------------------
    **{f"set-{key}-{v}": _set(key, v, 2, "expected a finite number")
       for key, v in [("train.lr", ".inf"), ("train.lr", ".nan"), ("train.max_memory_gb", ".inf"),
                      ("model.dropout", ".nan"), ("train.clip_norm", ".inf"), ("data.noise", ".inf"),
                      ("model.init_scale", "-.inf"), ("train.weight_decay", ".nan"),
                      ("train.momentum", ".nan"), ("data.val_fraction", ".inf")]},
    "file-lr-inf": Case(["train", "-c", "{d}/c.yaml", *OUT], ("c.yaml:2:7", "train.lr", "finite"),
                        {"c.yaml": "train:\n  lr: .inf\n"}),
    "file-max-memory-inf": Case(["train", "-c", "{d}/c.yaml", *OUT],
                                ("c.yaml:2:18", "max_memory_gb", "finite"),
                                {"c.yaml": "train:\n  max_memory_gb: .inf\n"}),
    # -- seeds and huge integers -------------------------------------------------------------------
    "seed-negative": _set("seed", "-1", 2, "must be >= 0", "got -1"),
    "seed-2-to-the-64": _set("seed", str(2**64), 2, "must be <= 9223372036854775807"),
    "seed-negative-in-file": Case(["train", "-c", "{d}/c.yaml", *OUT], ("c.yaml:1:7", "seed", ">= 0"),
                                  {"c.yaml": "seed: -5\n"}),
    "int-5000-digits-set": Case(["train", "--set", "model.hidden_size=" + "9" * 5000, *OUT],
                                ("--set model.hidden_size=999", "5000 digits", "too large")),
    "int-5000-digits-file": Case(["train", "-c", "{d}/c.yaml", *OUT], ("c.yaml:2:16", "5000 digits"),
                                 {"c.yaml": "model:\n  hidden_size: " + "9" * 5000 + "\n"}),
    "eval-seed-negative-set": Case(["eval", "{w}", "--data", "sine", "--set", "seed=-3"],
                                   ("seed",), code=2),
    # -- paths with a NUL byte ---------------------------------------------------------------------
    "nul-in-data-source-set": Case(["train", "--set", "data.source=a\x00b.jsonl", *OUT],
                                   ("--set data.source=a", "NUL")),
    "nul-in-data-path-file": Case(["train", "-c", "{d}/c.yaml", *OUT], ("c.yaml", "data.path", "NUL"),
                                  {"c.yaml": 'data:\n  source: text\n  path: "t\\0.txt"\n'}),
    "nul-in-eval-data": Case(["eval", "{w}", "--data", "{d}/a\x00.jsonl"], ("NUL",)),
    "nul-in-data-source-file": Case(["train", "-c", "{d}/c.yaml", *OUT], ("c.yaml", "data.source", "NUL"),
                                    {"c.yaml": 'data:\n  source: "x\\0.jsonl"\n'}),
    "nul-in-name": Case(["train", *TINY, "--set", "name=a\x00b", *OUT], ("name", "NUL")),
    "nul-in-predict-input": Case(["predict", "{w}", "{d}/in\x00.jsonl"], ("NUL",)),
    # -- labels in range ---------------------------------------------------------------------------
    "label-2-to-the-70": Case(["train", *FILE_TINY, "--set", "data.source={d}/l.jsonl", *OUT],
                              ("l.jsonl", "line 1"),
                              {"l.jsonl": '{"x": [[1]], "y": 1180591620717411303424}\n'
                                          '{"x": [[1]], "y": 1}\n'}),
    "num-classes-huge": _set("data.num_classes", "10000000000", 2, "must be <= 1000000"),
    # -- binary or broken input streams ------------------------------------------------------------
    "binary-stdin-to-regression-model": Case(["predict", "{w}", "-"], ("<stdin>", "line 1"),
                                             stdin=bytes(range(256)) * 4),
    "binary-file-to-predict": Case(["predict", "{w}", "{d}/b.jsonl"], ("b.jsonl", "UTF-8"),
                                   {"b.jsonl": bytes(range(128, 256)) * 8}),
    "binary-training-data": Case(["train", *FILE_TINY, "--set", "data.source={d}/b.jsonl", *OUT],
                                 ("b.jsonl", "UTF-8"), {"b.jsonl": b"\xff\xfe" + bytes(range(256))}),
    "jsonl-not-an-object": Case(["predict", "{w}", "{d}/n.jsonl"], ("n.jsonl", "line 1"),
                                {"n.jsonl": '"just a string"\n'}),
    # -- malformed weights meta / task -------------------------------------------------------------
    "meta-hidden-size-string": Case(["info", "{d}/w.npz"], ("w.npz", "hidden_size"),
                                    {"w.npz": with_model_meta(hidden_size="abc")}),
    "meta-num-layers-float": Case(["info", "{d}/w.npz"], ("w.npz", "num_layers", "1.5"),
                                  {"w.npz": with_model_meta(num_layers=1.5)}),
    "meta-task-not-object": Case(["info", "{d}/w.npz"], ("w.npz", "task"),
                                 {"w.npz": lambda w: weights_with(w, meta=lambda t: json.dumps(
                                     {**json.loads(t), "task": [1, 2]}))}),
    "scaler-std-zero": Case(["predict", "{w}", "-"], (), stdin=SEQ),  # replaced below (needs the file)
    "scaler-target-std-zero": Case(["predict", "{d}/w.npz", "-"], ("w.npz", "scaler.target_std", "> 0"),
                                   {"w.npz": _task(**{"scaler.target_std": [0.0]})}, stdin=SEQ),
    "scaler-std-null": Case(["predict", "{d}/w.npz", "-"], ("w.npz", "scaler.input_std", "finite"),
                            {"w.npz": _task(**{"scaler.input_std": [None]})}, stdin=SEQ),
    "scaler-mean-string": Case(["predict", "{d}/w.npz", "-"], ("w.npz", "scaler.input_mean"),
                               {"w.npz": _task(**{"scaler.input_mean": ["0.5"]})}, stdin=SEQ),
    "scaler-wrong-length": Case(["predict", "{d}/w.npz", "-"], ("w.npz", "scaler.input_mean", "divides 1"),
                                {"w.npz": _task(**{"scaler.input_mean": [0.1, 0.2, 0.3]})}, stdin=SEQ),
    "scaler-not-object": Case(["predict", "{d}/w.npz", "-"], ("w.npz", "scaler must be an object"),
                              {"w.npz": _task(scaler=[1, 2])}, stdin=SEQ),
    "task-kind-unknown": Case(["info", "{d}/w.npz"], ("w.npz", "kind must be"),
                              {"w.npz": _task(kind="poetry")}),
    "task-vocab-not-list": Case(["info", "{d}/w.npz"], ("w.npz", "vocab must be a list"),
                                {"w.npz": _task(vocab="abc")}),
    "task-num-classes-negative": Case(["info", "{d}/w.npz"], ("w.npz", "num_classes"),
                                      {"w.npz": _task(num_classes=-4)}),
    "task-seq-len-huge": Case(["info", "{d}/w.npz"], ("w.npz", "seq_len"),
                              {"w.npz": _task(seq_len=10**30)}),
    # -- non-finite numbers: in inputs (exit 2), from a model that overflows (exit 1) ---------------
    "weights-overflow-float32": Case(["predict", "{d}/w.npz", "-"], ("output overflowed", "float32"),
                                     {"w.npz": _scaled_param(3e38)}, code=1,
                                     stdin='{"x": [[50.0], [60.0], [90.0], [100.0]]}\n'),
    "eval-overflow-float32": Case(["eval", "{d}/w.npz"], ("output overflowed", "float32"),
                                  {"w.npz": _scaled_param(3e38)}, code=1),
    "scaler-1e30-overflow": Case(["predict", "{d}/w.npz", "-"], ("output overflowed", "float32"),
                                 {"w.npz": lambda w: weights_with(
                                     w, replace={"head.b_y": np.full(1, 1e30, np.float32)},
                                     meta=lambda t: json.dumps({**json.loads(t), "task": {
                                         **json.loads(t)["task"], "scaler": {
                                             "input_mean": [0.0], "input_std": [1.0],
                                             "target_mean": [0.0], "target_std": [1e30]}}}))},
                                 code=1, stdin=SEQ),
    "input-1e39-in-float32": Case(["predict", "{w}", "-"], ("input value", "too large", "float32"),
                                  stdin='{"x": [[1e39], [0.5]]}\n'),
    "training-data-1e39-in-float32": Case(
        ["train", *FILE_TINY, "--set", "data.source={d}/big.jsonl", "--set", "data.standardize=false", *OUT],
        ("big.jsonl", "x value 1e+39", "does not fit float32", "train.dtype"),
        {"big.jsonl": '{"x": [[1e39], [2]], "y": 1.5}\n' + '{"x": [[1], [2]], "y": 2.5}\n' * 3}),
    "training-target-1e39-in-float32": Case(
        ["train", *FILE_TINY, "--set", "data.source={d}/big.jsonl", "--set", "data.standardize=false",
         "--set", "data.targets=regression", *OUT],
        ("big.jsonl", "y value 1e+39", "does not fit float32"),
        {"big.jsonl": '{"x": [[1], [2]], "y": 1e39}\n' + '{"x": [[1], [2]], "y": 2.0}\n' * 3}),
    "input-1e308-in-float32": Case(["predict", "{w}", "-"], ("too large", "float32"),
                                   stdin='{"x": [[1e308]]}\n'),
}
del CASES["scaler-std-zero"]
CASES["scaler-input-std-zero"] = Case(["predict", "{d}/w.npz", "-"], ("w.npz", "scaler.input_std", "> 0"),
                                      {"w.npz": _task(**{"scaler.input_std": [0.0]})}, stdin=SEQ)


def _npz(**arrays) -> bytes:
    from battery import npz_bytes

    return npz_bytes(**arrays)


@pytest.mark.slow  # ~70 cases, each a command run: the whole battery is a few seconds
@pytest.mark.parametrize("name", list(CASES))
def test_bad_input(name, tmp_path, trained, monkeypatch):
    run_case(CASES[name], tmp_path, trained, monkeypatch)


# -- resuming: a checkpoint, config or run files that do not fit ------------------------------------
def _copy_run(trained: Path, tmp: Path) -> Path:
    run_dir = tmp / "run"
    shutil.copytree(trained, run_dir)
    return run_dir


def _break_checkpoint(run_dir: Path, edit) -> None:
    from battery import npz_bytes

    with np.load(run_dir / "checkpoint.npz", allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["meta"] = np.array(json.dumps(edit(json.loads(str(arrays["meta"])))))
    (run_dir / "checkpoint.npz").write_bytes(npz_bytes(**arrays))


RESUMES = {
    # name -> (how to break the run, extra --set, needles, expected code)
    "different-optimizer": (None, ["train.optimizer=sgd"], ("--resume", "train.optimizer", "'sgd'"), 2),
    "different-hidden-size": (None, ["model.hidden_size=5"], ("--resume", "hidden_size"), 2),
    "checkpoint-section-missing": (lambda m: {**m, "checkpoint": None}, [],
                                   ("checkpoint.npz", "no 'checkpoint' section"), 2),
    "checkpoint-fields-missing": (lambda m: {**m, "checkpoint": {"epoch": 1}}, [],
                                  ("checkpoint.npz", "malformed"), 2),
    "checkpoint-fields-wrong-type": (lambda m: {**m, "checkpoint": {**m["checkpoint"], "epoch": "two"}}, [],
                                     ("checkpoint.npz", "malformed"), 2),
}


@pytest.mark.parametrize("name", list(RESUMES))
def test_resume_that_does_not_fit(name, tmp_path, trained):

    breaker, sets, needles, code = RESUMES[name]
    run_dir = _copy_run(trained, tmp_path)
    if breaker is not None:
        _break_checkpoint(run_dir, breaker)
    before = {p.name: p.read_bytes() for p in run_dir.iterdir()}
    args = ["train", "--resume", str(run_dir), "-q"] + [x for s in sets for x in ("--set", s)]
    result = rnn(*args)
    assert_error(result, code, *needles)
    assert {p.name: p.read_bytes() for p in run_dir.iterdir()} == before  # the run is untouched


@pytest.mark.parametrize("damage", ["run-json-list", "run-json-garbage", "metrics-garbage", "metrics-deep"])
def test_resume_survives_damaged_side_files(damage, tmp_path, trained):
    run_dir = _copy_run(trained, tmp_path)
    path, content = {
        "run-json-list": ("run.json", b"[1, 2, 3]"),
        "run-json-garbage": ("run.json", bytes(range(256))),
        "metrics-garbage": ("metrics.jsonl", b'{"epoch": 1}\n' + bytes(range(256)) + b"\n[1]\n"),
        "metrics-deep": ("metrics.jsonl", b'{"epoch": 1}\n' + b"[" * 100_000 + b"\n"),
    }[damage]
    (run_dir / path).write_bytes(content)
    result = rnn("train", "--resume", str(run_dir), "--set", "train.epochs=3", "-q")
    assert result.exit_code == 0, result.stderr
    assert json.loads((run_dir / "run.json").read_text())["status"] == "completed"
    plot = rnn("plot", str(run_dir), "--json", "--terminal", "-q")
    assert plot.exit_code == 0 and "Traceback" not in plot.stderr, plot.stderr


def test_resume_without_its_config_names_it(tmp_path, trained):

    run_dir = _copy_run(trained, tmp_path)
    (run_dir / "config.yaml").unlink()
    result = rnn("train", "--resume", str(run_dir))
    assert_error(result, 2, "config.yaml", "not found")


# -- sampling temperatures -------------------------------------------------------------------------
@pytest.mark.parametrize("t", ["1e-320", "5e-324", "1e-30", "1e300"])
def test_extreme_but_valid_temperatures_sample(t, text_model):
    result = rnn("sample", str(text_model / "model.npz"), "-n", "30", "--temperature", t, "--seed", "1")
    assert result.exit_code == 0, result.stderr
    assert len(result.stdout) == 31 and result.stderr == ""  # 30 characters and a newline, no warning
    assert result.warnings == []


@pytest.mark.parametrize("t", ["0", "-1", "inf", "nan"])
def test_bad_temperatures_are_one_line(t, text_model):

    result = rnn("sample", str(text_model), "-n", "5", "--temperature", t)
    assert_error(result, 2, "--temperature")


def test_binary_bytes_to_a_text_model(text_model):

    result = rnn("predict", str(text_model), "-", input=bytes(range(256)))
    assert_error(result, 2, "<stdin>", "line 1")
    result = rnn("predict", str(text_model), "-", input=b"ok line\n\xff\xfe\x80 bad\n")
    assert_error(result, 2, "<stdin>", "line 2", "not valid UTF-8")
