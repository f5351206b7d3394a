"""Real signals against a real `rnn train` process: interruption and resume lose nothing.

- SIGINT / SIGTERM in the middle of an epoch: exit 130 / 143, a complete checkpoint, run.json status
  "interrupted"; `rnn train --resume` then ends with weights bit-identical to an uninterrupted run.
- SIGKILL while checkpoint.npz is being written: the previous checkpoint still loads, the stale
  temp file is ignored by readers and removed by the resumed run, which again ends bit-identical.

To hit "mid-epoch" and "mid-write" every time (not by luck of timing), the child runs the real CLI
under a small wrapper that only observes and slows down: it writes a marker file when step K starts
(then sleeps 50 ms per step so the signal lands while training), or, in kill mode, writes half of
the Nth checkpoint, flushes it, writes the marker and waits to be killed. The numbers are untouched.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import proc_env, rnn

from rnncli.weights import load_weights

pytestmark = pytest.mark.slow  # real processes / many generated examples

WRAPPER = r'''
import io, os, sys, time
from pathlib import Path
import numpy as np
import rnncli.training.loop as T

marker, mode, n = Path(os.environ["RNN_MARKER"]), os.environ["RNN_MODE"], int(os.environ["RNN_AT"])
calls = {"step": 0, "ckpt": 0}
real_step, real_savez = T.loss_and_grads, np.savez

def slow_step(*a, **k):
    calls["step"] += 1
    if calls["step"] == n:
        marker.write_text(str(n))
    if calls["step"] >= n:
        time.sleep(0.05)
    return real_step(*a, **k)

def torn_savez(f, **arrays):
    if any(k.startswith("optim.") for k in arrays):  # a checkpoint (it holds optimizer state)
        calls["ckpt"] += 1
        if calls["ckpt"] == n:
            buf = io.BytesIO()
            real_savez(buf, **arrays)
            f.write(buf.getvalue()[: len(buf.getvalue()) // 2])
            f.flush()
            os.fsync(f.fileno())
            marker.write_text(os.readlink(f"/proc/self/fd/{f.fileno()}"))
            time.sleep(60)
    return real_savez(f, **arrays)

if mode == "signal":
    T.loss_and_grads = slow_step
else:
    np.savez = torn_savez
from rnncli.cli import main
sys.argv = ["rnn", *sys.argv[1:]]
main()
'''

# 2 layers with dropout and shuffling: resume must restore params, Adam, data order and dropout RNG.
SINE = ["--set", "data.num_samples=200", "--set", "data.seq_len=10", "--set", "model.hidden_size=8",
        "--set", "model.num_layers=2", "--set", "model.dropout=0.2", "--set", "train.batch_size=8",
        "--set", "train.epochs=3", "--set", "train.lr=0.01"]  # 23 steps per epoch
CORPUS = "the quick brown fox jumps over the lazy dog; " * 60


def text_args(tmp: Path) -> list[str]:
    """Stateful character data with truncated BPTT: the carried hidden state must survive too."""
    corpus = tmp / "corpus.txt"
    corpus.write_text(CORPUS)
    return ["--set", "data.source=text", "--set", f"data.path={corpus}", "--set", "data.seq_len=12",
            "--set", "model.hidden_size=8", "--set", "train.batch_size=4", "--set", "train.bptt=6",
            "--set", "train.epochs=2", "--set", "train.lr=0.01"]


def start_wrapped(args: list[str], tmp: Path, mode: str, at: int) -> tuple[subprocess.Popen, Path]:
    script, marker = tmp / "wrapper.py", tmp / "marker"
    script.write_text(WRAPPER)
    marker.unlink(missing_ok=True)
    proc = subprocess.Popen([sys.executable, str(script), *args], cwd=tmp,
                            env=proc_env(RNN_MARKER=str(marker), RNN_MODE=mode, RNN_AT=str(at)),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not marker.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            out, err = proc.communicate()
            pytest.fail(f"child ended before the marker (rc {proc.returncode}): {err}")
        time.sleep(0.01)
    time.sleep(0.02)  # the marker is written before its step runs: let the step begin
    return proc, marker


def params_of(path: Path) -> dict[str, np.ndarray]:
    return load_weights(path)[0]


def assert_same_run(a: Path, b: Path) -> None:
    """Bit-identical final weights, and identical per-epoch losses (times differ, of course)."""
    pa, pb = params_of(a / "model.npz"), params_of(b / "model.npz")
    assert pa.keys() == pb.keys()
    for name in pa:
        assert pa[name].dtype == pb[name].dtype
        assert np.array_equal(pa[name], pb[name]), name
    ma = [json.loads(line) for line in (a / "metrics.jsonl").read_text().splitlines()]
    mb = [json.loads(line) for line in (b / "metrics.jsonl").read_text().splitlines()]
    keys = ("epoch", "step", "loss", "val_loss", "grad_norm", "grad_norm_max")
    assert [{k: r[k] for k in keys} for r in ma] == [{k: r[k] for k in keys} for r in mb]


@pytest.fixture(scope="module")
def sine_reference(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("ref")
    result = rnn("train", *SINE, "-o", "ref", "-q", cwd=tmp, proc=True)
    assert result.returncode == 0, result.stderr
    return tmp / "ref"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_mid_epoch_then_resume_is_bit_identical(sig, tmp_path, sine_reference):
    proc, _ = start_wrapped(["train", *SINE, "-o", "run"], tmp_path, "signal", at=30)  # epoch 2, step 7
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + sig, err  # 130 Ctrl-C, 143 SIGTERM, as README says
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("rnn: ")]
    assert len(lines) == 1 and lines[0].startswith("rnn: interrupted at epoch 2 step "), err
    assert lines[0].endswith("checkpoint saved, continue with: rnn train --resume run")
    run = tmp_path / "run"
    info = json.loads((run / "run.json").read_text())
    assert info["status"] == "interrupted" and info["end"]
    _, meta, _ = load_weights(run / "checkpoint.npz")
    ck = meta["checkpoint"]
    assert ck["epoch"] == 1 and 0 < ck["step_in_epoch"] < 23, ck  # really mid-epoch
    assert [json.loads(x)["epoch"] for x in (run / "metrics.jsonl").read_text().splitlines()] == [1]

    resumed = rnn("train", "--resume", "run", "-q", cwd=tmp_path, proc=True)
    assert resumed.returncode == 0, resumed.stderr
    info = json.loads((run / "run.json").read_text())
    assert info["status"] == "completed" and len(info["resumed"]) == 1
    assert_same_run(run, sine_reference)


def test_sigterm_text_bptt_resume_is_bit_identical(tmp_path):
    args = text_args(tmp_path)
    ref = rnn("train", *args, "-o", "ref", "-q", cwd=tmp_path, proc=True)
    assert ref.returncode == 0, ref.stderr
    proc, _ = start_wrapped(["train", *args, "-o", "run"], tmp_path, "signal", at=25)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    ck = load_weights(tmp_path / "run" / "checkpoint.npz")[1]["checkpoint"]
    assert ck["step_in_epoch"] > 0
    resumed = rnn("train", "--resume", "run", "-q", cwd=tmp_path, proc=True)
    assert resumed.returncode == 0, resumed.stderr
    assert_same_run(tmp_path / "run", tmp_path / "ref")


def test_sigkill_while_writing_checkpoint(tmp_path, sine_reference):
    # a checkpoint every 5 steps; the 4th is torn in half and the process killed mid-write
    args = [*SINE, "--set", "train.checkpoint_every=5"]
    proc, marker = start_wrapped(["train", *args, "-o", "run"], tmp_path, "kill", at=4)
    tmp_name = Path(marker.read_text())
    proc.kill()
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    run = tmp_path / "run"

    # the torn write is only in the temp file; the final name holds the 3rd, complete checkpoint
    assert tmp_name.parent == run and tmp_name.name.startswith(".checkpoint.npz.") and tmp_name.exists()
    params, meta, extra = load_weights(run / "checkpoint.npz")
    assert meta["checkpoint"]["global_step"] == 15
    assert any(k.startswith("optim.") for k in extra)
    assert params_of(run / "model.npz").keys() == params.keys()
    assert json.loads((run / "run.json").read_text())["status"] == "running"  # killed: no chance to update

    # `rnn info` reads the run despite the debris; resume tidies it and ends bit-identical
    info = rnn("info", "run", "--json", cwd=tmp_path, proc=True)
    assert info.returncode == 0, info.stderr
    resumed = rnn("train", "--resume", "run", "-q", cwd=tmp_path, proc=True)
    assert resumed.returncode == 0, resumed.stderr
    assert not list(run.glob(".*.tmp"))
    assert json.loads((run / "run.json").read_text())["status"] == "completed"
    assert_same_run(run, sine_reference)


def test_second_ctrl_c_still_exits_130_quietly(tmp_path):
    """A user who presses Ctrl-C twice gets out at once, with no traceback and exit 130."""
    proc, _ = start_wrapped(["train", *SINE, "-o", "run"], tmp_path, "signal", at=3)
    proc.send_signal(signal.SIGINT)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
