"""The bad-input battery (issue 6): every mistake a user can make gives one clear line and no debris.

Each case runs the real CLI in-process and asserts the exit code (2 for bad input, 1 for runtime
failures), a one-line `rnn: error:` message naming the file/key/line/value at fault, no traceback,
nothing on stdout, and that no output file or run directory was left behind.
Also here: non-finite loss (exit 1, last good checkpoint kept), `train.on_nonfinite: skip`,
closed output pipes, constant memory on an endless stream, and stale temp files.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from battery import FILE_TINY, TINY, Case, run_case
from battery import npz_bytes as _npz_bytes
from battery import weights_with as _weights_with
from conftest import RNN, error_lines, proc_env, rnn

from rnncli.weights import load_weights

# -- helpers that write bad files -------------------------------------------------------------------

def _flip_payload_byte(data: bytes) -> bytes:
    """Corrupt one byte in the middle of the largest member's data (the zip CRC must catch it)."""
    import io

    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        info = max(zf.infolist(), key=lambda i: i.file_size)
    # local header: 30 bytes + name + extra; then the stored (uncompressed) data
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    pos = start + info.file_size - 3
    out = bytearray(data)
    out[pos] ^= 0xFF
    return bytes(out)


def _newer_meta(text: str) -> str:
    meta = json.loads(text)
    meta["format_version"] = 99
    return json.dumps(meta)


PREDICT_OUT = ["-o", "{d}/out.csv"]
CASES = {
    # -- config files ---------------------------------------------------------------------------
    "yaml-syntax": Case(["train", "-c", "{d}/c.yaml", "-o", "{d}/out"],
                        ("c.yaml:3:6", "invalid YAML"), {"c.yaml": "model:\n  hidden_size: [1\ntrain: {}\n"}),
    "yaml-tab": Case(["train", "-c", "{d}/c.yaml", "-o", "{d}/out"],
                     ("c.yaml:2:1", "invalid YAML"), {"c.yaml": "model:\n\thidden_size: 3\n"}),
    "unknown-top-key": Case(["train", "-c", "{d}/c.yaml", "-o", "{d}/out"],
                            ("c.yaml:1:1", "modle", "did you mean model"),
                            {"c.yaml": "modle:\n  hidden_size: 3\n"}),
    "unknown-nested-key": Case(["train", "-c", "{d}/c.yaml", "-o", "{d}/out"],
                               ("c.yaml:2:3", "hidden_sise", "did you mean hidden_size"),
                               {"c.yaml": "model:\n  hidden_sise: 3\n"}),
    "wrong-type-in-file": Case(["train", "-c", "{d}/c.yaml", "-o", "{d}/out"],
                               ("c.yaml:2:16", "model.hidden_size", "'abc'"),
                               {"c.yaml": "model:\n  hidden_size: abc\n"}),
    "bool-as-number": Case(["train", "-c", "{d}/c.yaml", "-o", "{d}/out"],
                           ("c.yaml:2:11", "train.epochs", "expected a number (got true)"),
                           {"c.yaml": "train:\n  epochs: true\n"}),
    "hidden-size-0": Case(["train", *TINY, "--set", "model.hidden_size=0", "-o", "{d}/out"],
                          ("--set model.hidden_size=0", "must be >= 1", "got 0")),
    "negative-lr": Case(["train", *TINY, "--set", "train.lr=-0.1", "-o", "{d}/out"],
                        ("train.lr", "must be > 0", "-0.1")),
    "dropout-1": Case(["train", *TINY, "--set", "model.dropout=1", "-o", "{d}/out"],
                      ("model.dropout", "must be < 1", "got 1")),
    "batch-larger-than-data-drop-last": Case(
        ["train", *TINY, "--set", "train.batch_size=1000", "--set", "train.drop_last=true", "-o", "{d}/out"],
        ("train.batch_size 1000", "58 training sequences", "drop_last")),
    "unknown-source": Case(["train", *TINY, "--set", "data.source=sien", "-o", "{d}/out"],
                           ("data.source 'sien'", "did you mean 'sine'")),
    "set-without-equals": Case(["train", "--set", "train.lr", "-o", "{d}/out"],
                               ("--set train.lr", "expected key.path=value")),
    "set-into-a-value": Case(["train", "--set", "seed.x=1", "-o", "{d}/out"], ("seed is a value",)),
    "config-missing": Case(["train", "-c", "{d}/nope.yaml", "-o", "{d}/out"],
                           ("config file not found", "nope.yaml")),
    "config-is-directory": Case(["train", "-c", "{d}", "-o", "{d}/out"], ("config file is a directory",)),
    "config-empty": Case(["train", "-c", "{d}/c.yaml", "-o", "{d}/out"],
                         ("c.yaml", "empty config file"), {"c.yaml": "# nothing\n"}),
    "config-not-a-mapping": Case(["train", "-c", "{d}/c.yaml", "-o", "{d}/out"],
                                 ("c.yaml:1:1", "top level must be a mapping"), {"c.yaml": "- a\n- b\n"}),
    "config-binary": Case(["train", "-c", "{d}/c.yaml", "-o", "{d}/out"],
                          ("c.yaml", "not a UTF-8 text file"), {"c.yaml": b"model:\n\xff\xfe\x00"}),
    "memory-too-big": Case(["train", *TINY, "--set", "model.hidden_size=200000", "-o", "{d}/out"],
                           ("would need about", "GiB", "hidden_size 200000", "max_memory_gb")),
    # the estimate from the config, before any data: 64*10 steps of (input + target) in float64 = 10 KiB;
    # the step in float32: 3*T*B*H states + 2*T*B*I inputs + 3*T*B*O outputs + 4*89 params = 4996 * 4 bytes
    "memory-over-limit": Case(["train", *TINY, "--set", "train.max_memory_gb=0.000001", "-o", "{d}/out"],
                              ("would need about 29.5 KiB", "data 10.0 KiB + step 19.5 KiB",
                               "1.0 KiB allowed")),
    # -- training data --------------------------------------------------------------------------
    "data-missing": Case(["train", *FILE_TINY, "--set", "data.source={d}/nope.jsonl", "-o", "{d}/out"],
                         ("nope.jsonl",)),
    "data-is-directory": Case(["train", *FILE_TINY, "--set", "data.source={d}/dir.jsonl", "-o", "{d}/out"],
                              ("dir.jsonl", "directory"), {"dir.jsonl/": None}),
    "data-empty-jsonl": Case(["train", *FILE_TINY, "--set", "data.source={d}/e.jsonl", "-o", "{d}/out"],
                             ("e.jsonl", "empty"), {"e.jsonl": ""}),
    "data-empty-csv": Case(["train", *FILE_TINY, "--set", "data.source={d}/e.csv", "-o", "{d}/out"],
                           ("e.csv", "empty"), {"e.csv": ""}),
    "data-nan-jsonl": Case(["train", *FILE_TINY, "--set", "data.source={d}/n.jsonl", "-o", "{d}/out"],
                           ("n.jsonl", "line 2", "NaN"),
                           {"n.jsonl": '{"x": [[1.0], [2.0]], "y": [1.0]}\n'
                                       '{"x": [[1.0], [NaN]], "y": [1.0]}\n'}),
    "data-inf-csv": Case(["train", *FILE_TINY, "--set", "data.source={d}/s.csv", "--set", "data.seq_len=2",
                          "-o", "{d}/out"],
                         ("s.csv", "line 3, column 2", "'inf' is not finite"),
                         {"s.csv": "a,b\n1,2\n3,inf\n4,5\n5,6\n"}),
    "data-label-out-of-range": Case(
        ["train", *FILE_TINY, "--set", "data.source={d}/d.npz", "--set", "data.num_classes=3",
         "-o", "{d}/out"],
        ("d.npz", "label 9", "class range 0..2"),
        {"d.npz": _npz_bytes(X=np.zeros((4, 3, 2)), y=np.array([0, 1, 2, 9]))}),
    # labels may be any values (-1/1 is two classes), but text labels cannot be regression targets
    "data-text-label-regression": Case(
        ["train", *FILE_TINY, "--set", "data.source={d}/l.jsonl", "--set", "data.targets=regression",
         "-o", "{d}/out"],
        ("l.jsonl", "y holds text labels; data.targets: regression needs numbers"),
        {"l.jsonl": '{"x": [[1], [2]], "y": "up"}\n{"x": [[1], [2]], "y": "down"}\n'}),
    "data-object-npz": Case(["train", *FILE_TINY, "--set", "data.source={d}/o.npz", "-o", "{d}/out"],
                            ("o.npz", "Python objects", "refusing to load it"),
                            {"o.npz": _npz_bytes(X=np.array([None] * 4, dtype=object), y=np.zeros(4))}),
    "data-truncated-npz": Case(["train", *FILE_TINY, "--set", "data.source={d}/t.npz", "-o", "{d}/out"],
                               ("t.npz", "zip"),
                               {"t.npz": _npz_bytes(X=np.zeros((4, 3, 2)), y=np.zeros(4))[:100]}),
    "data-empty-stdin": Case(["train", *FILE_TINY, "--set", "data.source=-", "--set", "data.format=jsonl",
                              "-o", "{d}/out"], ("<stdin>", "empty"), stdin=""),
    # -- predict / eval inputs ------------------------------------------------------------------
    "predict-feature-mismatch": Case(["predict", "{w}", "{d}/two.jsonl", *PREDICT_OUT],
                                     ("two.jsonl", "line 1", "2 features", "expects 1"),
                                     {"two.jsonl": '{"x": [[1.0, 2.0], [2.0, 3.0]]}\n'}),
    "predict-nan-on-line-3": Case(["predict", "{w}", "{d}/n.jsonl", *PREDICT_OUT],
                                  ("n.jsonl", "line 3"),
                                  {"n.jsonl": '{"x": [[1.0]]}\n{"x": [[2.0]]}\n{"x": [[NaN]]}\n'}),
    "predict-empty-stdin": Case(["predict", "{w}", "-", *PREDICT_OUT], ("<stdin>", "empty"), stdin=""),
    "predict-input-missing": Case(["predict", "{w}", "{d}/nope.jsonl", *PREDICT_OUT], ("nope.jsonl",)),
    "predict-input-directory": Case(["predict", "{w}", "{d}/dir.jsonl", *PREDICT_OUT],
                                    ("dir.jsonl", "directory"), {"dir.jsonl/": None}),
    "predict-bad-json": Case(["predict", "{w}", "{d}/b.jsonl", *PREDICT_OUT], ("b.jsonl", "line 2"),
                             {"b.jsonl": '{"x": [[1.0]]}\n{"x": [[1.0]\n'}),
    # -- weights --------------------------------------------------------------------------------
    "weights-missing": Case(["predict", "{d}/nope.npz", "-", *PREDICT_OUT],
                            ("weights file not found", "nope.npz"), stdin='{"x": [[1.0]]}\n'),
    "weights-dir-without-model": Case(["info", "{d}/emptyrun"], ("no model.npz", "emptyrun"),
                                      {"emptyrun/": None}),
    "weights-garbage": Case(["info", "{d}/g.npz"], ("g.npz", "not an .npz"), {"g.npz": b"garbage" * 10}),
    "weights-truncated": Case(["predict", "{d}/t.npz", "-", *PREDICT_OUT], ("t.npz",),
                              {"t.npz": lambda w: (w / "model.npz").read_bytes()[:-200]},
                              stdin='{"x": [[1.0]]}\n'),
    "weights-corrupted-byte": Case(["predict", "{d}/c.npz", "-", *PREDICT_OUT], ("c.npz", "corrupt"),
                                   {"c.npz": lambda w: _flip_payload_byte((w / "model.npz").read_bytes())},
                                   stdin='{"x": [[1.0]]}\n'),
    "weights-object-array": Case(["info", "{d}/o.npz"], ("o.npz", "Python objects"),
                                 {"o.npz": lambda w: _weights_with(
                                     w, replace={"head.b_y": np.array([None], dtype=object)})}),
    "weights-missing-param": Case(["info", "{d}/m.npz"], ("m.npz", "missing parameters", "rnn.0.W_hh"),
                                  {"m.npz": lambda w: _weights_with(w, drop=("rnn.0.W_hh",))}),
    "weights-misshaped-param": Case(["predict", "{d}/s.npz", "-", *PREDICT_OUT],
                                    ("s.npz", "head.W_hy has shape (1, 3)", "(1, 8)"),
                                    {"s.npz": lambda w: _weights_with(
                                        w, replace={"head.W_hy": np.zeros((1, 3))})},
                                    stdin='{"x": [[1.0]]}\n'),
    "weights-meta-not-json": Case(["info", "{d}/j.npz"], ("j.npz", "'meta' is not valid JSON"),
                                  {"j.npz": lambda w: _weights_with(w, meta=lambda t: t[:-5])}),
    "weights-newer-format": Case(["info", "{d}/v.npz"], ("v.npz", "format_version 99", "newer"),
                                 {"v.npz": lambda w: _weights_with(w, meta=_newer_meta)}),
    # -- command line ---------------------------------------------------------------------------
    "resume-not-a-dir": Case(["train", "--resume", "{d}/nope"], ("--resume", "not a run directory")),
    "resume-without-checkpoint": Case(["train", "--resume", "{d}/emptyrun"], ("no checkpoint",),
                                      {"emptyrun/": None, "emptyrun/config.yaml": "seed: 0\n"}),
    "out-not-empty": Case(["train", *TINY, "-o", "{d}/full"], ("full", "not empty", "--resume"),
                          {"full/x.txt": "keep me\n"}),
    "out-is-a-file": Case(["train", *TINY, "-o", "{d}/file"], ("file", "not a directory"), {"file": "x"}),
    "batch-size-zero": Case(["predict", "{w}", "-", "-b", "0"], ("-b",), stdin=""),
    "unknown-option": Case(["train", "--epochs", "3"], ("--epochs",)),
}


@pytest.mark.slow  # ~70 cases, each a command run: the whole battery is a few seconds
@pytest.mark.parametrize("name", list(CASES))
def test_bad_input(name, tmp_path, trained, monkeypatch):
    run_case(CASES[name], tmp_path, trained, monkeypatch)


def test_debug_shows_the_traceback(tmp_path):
    (tmp_path / "c.yaml").write_text("model:\n  hidden_sise: 3\n")
    result = rnn("--debug", "train", "-c", str(tmp_path / "c.yaml"), "-o", str(tmp_path / "out"))
    assert result.exit_code == 2
    assert "Traceback" in result.stderr and "ConfigError" in result.stderr
    assert "did you mean hidden_size" in error_lines(result)[0]
    assert not (tmp_path / "out").exists()


def test_several_config_problems_one_line_each(tmp_path):
    (tmp_path / "c.yaml").write_text("model:\n  hidden_size: 0\ntrain:\n  lr: -1\n  epoch: 3\n")
    result = rnn("train", "-c", str(tmp_path / "c.yaml"), "-o", str(tmp_path / "out"))
    assert result.exit_code == 2
    lines = error_lines(result)
    assert len(lines) == 3, lines
    assert any("c.yaml:2:16" in line and "hidden_size" in line for line in lines)
    assert any("c.yaml:4:7" in line and "train.lr" in line for line in lines)
    assert any("c.yaml:5:3" in line and "did you mean epochs" in line for line in lines)
    assert not (tmp_path / "out").exists()


def test_object_array_weights_are_never_unpickled(tmp_path, trained):
    """An object array whose unpickling would create a file: refused, and the file never appears."""
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    data = _weights_with(trained, replace={"head.b_y": np.array([Evil()], dtype=object)})
    (tmp_path / "evil.npz").write_bytes(data)
    for argv in (["info", str(tmp_path / "evil.npz")],
                 ["predict", str(tmp_path / "evil.npz"), "-", "-o", str(tmp_path / "out.csv")]):
        result = rnn(*argv, input='{"x": [[1.0]]}\n')
        assert result.exit_code == 2
        assert "Python objects" in error_lines(result)[0]
    assert not marker.exists()
    assert not (tmp_path / "out.csv").exists()


# -- numerical faults -------------------------------------------------------------------------------
DIVERGE = ["--set", "train.lr=1e6", "--set", "train.clip_norm=null", "--set", "model.nonlinearity=relu"]


def test_nonfinite_loss_exit_1_names_epoch_step_and_what_to_try(tmp_path):
    run_dir = tmp_path / "run"
    result = rnn("train", *TINY, *DIVERGE, "-o", str(run_dir))
    assert result.exit_code == 1, result.stderr
    assert "Traceback" not in result.stderr and "RuntimeWarning" not in result.stderr
    (line,) = error_lines(result)
    assert line.startswith("rnn: error: epoch 1 step 2: the loss became nan; try a lower train.lr")
    assert "(now 1e+06)" in line
    assert "train.clip_norm" in line and "init_scale" in line and "on_nonfinite: skip" in line
    assert line.endswith("no checkpoint had been written yet")
    info = json.loads((run_dir / "run.json").read_text())
    assert info["status"] == "failed" and "epoch 1 step 2" in info["error"]
    assert not (run_dir / "model.npz").exists()  # no weights pretending to be a result


def test_nonfinite_keeps_the_last_good_checkpoint(tmp_path):
    run_dir = tmp_path / "run"
    relu = ["--set", "model.nonlinearity=relu", "--set", "train.clip_norm=null"]
    first = rnn("train", *TINY, *relu, "--set", "train.epochs=1", "-o", str(run_dir), "-q")
    assert first.exit_code == 0, first.stderr
    good = {name: (run_dir / name).read_bytes() for name in ("checkpoint.npz", "model.npz", "best.npz")}
    # resume with a learning rate that blows up in epoch 2
    result = rnn("train", "--resume", str(run_dir), "--set", "train.epochs=3", "--set", "train.lr=1e6", "-q")
    assert result.exit_code == 1, result.stderr
    (line,) = error_lines(result)
    assert line.startswith("rnn: error: epoch 2 step ") and "became nan" in line
    assert f"the last good checkpoint {run_dir / 'checkpoint.npz'} is kept" in line
    for name, data in good.items():
        assert (run_dir / name).read_bytes() == data, name
    assert load_weights(run_dir / "checkpoint.npz")[1]["checkpoint"]["epoch"] == 1
    assert json.loads((run_dir / "run.json").read_text())["status"] == "failed"
    assert [json.loads(x)["epoch"] for x in (run_dir / "metrics.jsonl").read_text().splitlines()] == [1]


@pytest.fixture
def nan_on_third_step(monkeypatch):
    """The 3rd forward/backward of the run returns a NaN loss (a transient numerical fault)."""
    import rnncli.training.loop as train_mod

    real, calls = train_mod.loss_and_grads, {"n": 0}

    def flaky(*args, **kwargs):
        calls["n"] += 1
        loss, grads, aux = real(*args, **kwargs)
        return (float("nan") if calls["n"] == 3 else loss), grads, aux

    monkeypatch.setattr(train_mod, "loss_and_grads", flaky)
    return calls


def test_on_nonfinite_skip_skips_the_bad_step_and_finishes(tmp_path, nan_on_third_step):
    run_dir = tmp_path / "run"
    result = rnn("train", *TINY, "--set", "train.on_nonfinite=skip", "-o", str(run_dir), "-q")
    assert result.exit_code == 0, result.stderr
    assert nan_on_third_step["n"] == 8  # 2 epochs x 4 steps: training went on after the fault
    records = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert records[0]["skipped_steps"] == 1 and "skipped_steps" not in records[1]
    assert np.isfinite(records[0]["loss"]) and np.isfinite(records[1]["loss"])
    params = load_weights(run_dir / "model.npz")[0]
    assert all(np.isfinite(p).all() for p in params.values())


def test_on_nonfinite_stop_is_the_default(tmp_path, nan_on_third_step):
    result = rnn("train", *TINY, "-o", str(tmp_path / "run"), "-q")
    assert result.exit_code == 1
    (line,) = error_lines(result)
    assert line.startswith("rnn: error: epoch 1 step 3: the loss became nan")


def test_skip_fails_when_a_whole_epoch_is_non_finite(tmp_path):
    result = rnn("train", *TINY, *DIVERGE, "--set", "train.on_nonfinite=skip", "-o", str(tmp_path / "r"))
    assert result.exit_code == 1
    (line,) = error_lines(result)
    assert line.startswith("rnn: error: epoch 2: all 4 steps had a non-finite loss or gradient")
    assert "were skipped (train.on_nonfinite: skip)" in line


# -- pipes and streams ------------------------------------------------------------------------------
@pytest.mark.slow
def test_closed_output_pipe_ends_predict_quietly(tmp_path, trained):
    big = tmp_path / "big.jsonl"
    assert rnn("data", "sine", "-n", "20000", "--seq-len", "10", "-o", str(big)).exit_code == 0
    # like `rnn predict RUN big.jsonl | head -1`: 20000 rows are far more than a pipe buffer
    proc = subprocess.Popen([*RNN, "predict", str(trained), str(big)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=proc_env(), cwd=tmp_path)
    first = proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read().decode()
    proc.wait(timeout=60)
    assert first.strip() == b"y0"  # the csv header
    assert proc.returncode == 0, err
    assert err == ""  # no "Broken pipe", no "Exception ignored", no traceback


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc")
def test_predict_on_an_endless_stream_keeps_constant_memory(trained):
    """Feed ~tens of MB through stdin for a few seconds; RSS must stay flat while output flows."""
    import threading

    proc = subprocess.Popen([*RNN, "predict", str(trained), "-", "-b", "64"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=proc_env())
    line = (json.dumps({"x": [[round(float(v), 4)] for v in np.sin(np.arange(50) / 7)]}) + "\n").encode()
    fed, read, stop = [0], [0], threading.Event()

    def feed():
        try:
            while not stop.is_set():
                proc.stdin.write(line * 100)
                fed[0] += len(line) * 100
        except (BrokenPipeError, ValueError, OSError):
            pass

    def drain():
        for _ in proc.stdout:
            read[0] += 1

    threads = [threading.Thread(target=feed, daemon=True), threading.Thread(target=drain, daemon=True)]
    for t in threads:
        t.start()
    def wait_for(cond, seconds):
        deadline = time.monotonic() + seconds
        while not cond() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)

    try:
        # Measured by the amount streamed, not by the clock, so a busy machine only makes it slower.
        wait_for(lambda: read[0] > 2_000, 60)  # imports done, buffers warm
        rss0, fed0, read0 = _rss_kib(proc.pid), fed[0], read[0]
        wait_for(lambda: fed[0] - fed0 > 20 * 2**20, 120)
        rss1, fed1, read1 = _rss_kib(proc.pid), fed[0], read[0]
        assert proc.poll() is None, proc.stderr.read()
    finally:
        stop.set()
        proc.kill()
        proc.wait(timeout=10)
    fed_kib = (fed1 - fed0) // 1024
    assert fed_kib > 16 * 1024, "the stream was not consumed"  # tens of MB went through (~60 here)...
    assert read1 - read0 > 5_000  # ...and predictions came out while it was still going...
    # ...while memory stayed flat: a reader keeping its input would grow by a good part of what was fed
    assert rss1 - rss0 < max(2048, min(8192, fed_kib // 4)), (rss0, rss1, fed_kib)


# -- stale temp files from a killed atomic write ----------------------------------------------------
@pytest.mark.slow
def test_stale_temp_files_are_ignored_by_readers_and_removed_on_resume(tmp_path):
    """Decision: leftovers `.<name>.*.tmp` never shadow the real file (readers use final names only);
    a resumed run owns its directory and deletes the ones named after its run files, nothing else."""
    run_dir = tmp_path / "run"
    assert rnn("train", *TINY, "--set", "train.epochs=1", "-o", str(run_dir), "-q").exit_code == 0
    stale = [run_dir / ".model.npz.k1x9.tmp", run_dir / ".checkpoint.npz.a2b3.tmp",
             run_dir / ".run.json.zz.tmp"]
    for p in stale:
        p.write_bytes(b"PK\x03\x04 half a file")
    mine = run_dir / ".notes.tmp"
    mine.write_text("the user's own file")
    info = rnn("info", str(run_dir), "--json")
    assert info.exit_code == 0, info.stderr
    predict = rnn("predict", str(run_dir), "-", input='{"x": [[0.5], [0.6]]}\n')
    assert predict.exit_code == 0 and predict.stdout.startswith("y0\n"), predict.stderr
    resumed = rnn("train", "--resume", str(run_dir), "--set", "train.epochs=2", "-q")
    assert resumed.exit_code == 0, resumed.stderr
    assert not any(p.exists() for p in stale)
    assert mine.read_text() == "the user's own file"


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
@pytest.mark.parametrize("what", ["config", "data", "weights"])
def test_unreadable_files(what, tmp_path, trained):
    path = tmp_path / {"config": "c.yaml", "data": "d.jsonl", "weights": "w.npz"}[what]
    path.write_bytes((trained / "model.npz").read_bytes() if what == "weights" else b"seed: 0\n")
    path.chmod(0)
    argv = {"config": ["train", "-c", str(path), "-o", str(tmp_path / "out")],
            "data": ["train", *FILE_TINY, "--set", f"data.source={path}", "-o", str(tmp_path / "out")],
            "weights": ["info", str(path)]}[what]
    result = rnn(*argv)
    assert result.exit_code == 2
    (line,) = error_lines(result)
    assert path.name in line and ("not readable" in line or "ermission" in line), line
    assert not (tmp_path / "out").exists()


def test_metrics_lines_are_strict_json_even_when_values_are_not_finite(tmp_path):
    """A diverged validation loss is recorded as null, so `jq` reads every line."""
    from rnncli.training.rundir import append_metrics, read_metrics

    append_metrics(tmp_path, {"epoch": 1, "loss": 0.5, "val_loss": float("inf"), "dh_ratio": float("nan")})
    line = (tmp_path / "metrics.jsonl").read_text().strip()
    assert "Infinity" not in line and "NaN" not in line
    assert json.loads(line) == {"epoch": 1, "loss": 0.5, "val_loss": None, "dh_ratio": None}
    assert read_metrics(tmp_path) == [json.loads(line)]
