"""Issue 12 battery, run directories and endings: one process per run directory (an O_EXCL lock held
for the whole run, resume included), run.json's status accurate whatever ended the run, no debris
from a run refused or cut short, quiet signals (also while importing), closed standard streams.
"""

from __future__ import annotations

import json
import os
import platform
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from battery import TINY
from conftest import RNN, Ran, Tree, assert_error, proc_env, rnn

from rnncli.errors import ConfigError, Terminated
from rnncli.run_layout import LOCK


def _status(run_dir: Path) -> dict:
    return json.loads((run_dir / "run.json").read_text())


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


# -- the lock ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("resume", [False, True], ids=["fresh", "resume"])
def test_a_live_lock_refuses_a_second_process(resume, tmp_path, trained):
    run_dir = tmp_path / "run"
    if resume:
        import shutil

        shutil.copytree(trained, run_dir)
    else:
        run_dir.mkdir()
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    (run_dir / LOCK).write_text(f"{other.pid} {platform.node()}\n")  # another live process
    before = {p.name: p.stat().st_mtime_ns for p in run_dir.iterdir()}
    args = ["train", "--resume", str(run_dir)] if resume else ["train", *TINY, "-o", str(run_dir)]
    try:
        result = rnn(*args, "-q")
    finally:
        other.kill()
        other.wait()
    assert_error(result, 2, str(run_dir), f"in use by process {other.pid}", str(run_dir / LOCK))
    assert {p.name: p.stat().st_mtime_ns for p in run_dir.iterdir()} == before  # nothing touched


def test_a_stale_lock_of_a_dead_process_is_explained_and_taken_over(tmp_path, trained):
    import shutil

    run_dir = tmp_path / "run"
    shutil.copytree(trained, run_dir)
    dead = _dead_pid()
    (run_dir / LOCK).write_text(f"{dead} {platform.node()}\n")
    result = rnn("train", "--resume", str(run_dir), "--set", "train.epochs=3")
    assert result.exit_code == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.startswith("rnn: warning: ")]
    assert len(warnings) == 1 and f"stale lock of process {dead}" in warnings[0], result.stderr
    assert not (run_dir / LOCK).exists()  # released at the end
    assert _status(run_dir)["status"] == "completed"


def test_the_lock_is_held_for_the_whole_run_and_released(tmp_path, monkeypatch):
    from rnncli.cli.render import ProgressReporter

    seen = []
    real = ProgressReporter.on_epoch_end

    def spy(self, record):
        seen.append((tmp_path / "run" / LOCK).read_text().split()[0])
        return real(self, record)

    monkeypatch.setattr(ProgressReporter, "on_epoch_end", spy)
    assert rnn("train", *TINY, "-o", str(tmp_path / "run"), "-q").exit_code == 0
    assert seen == [str(os.getpid())] * 2
    assert not (tmp_path / "run" / LOCK).exists()


@pytest.mark.slow
def test_two_trainings_into_one_directory_one_wins(tmp_path):
    """Started together: exactly one trains; the other is refused and touches nothing."""
    run_dir = tmp_path / "same"
    slow = [*TINY, "--set", "train.epochs=4", "--set", "data.num_samples=400", "-q"]
    procs = [subprocess.Popen([*RNN, "train", *slow, "-o", str(run_dir)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=proc_env(), cwd=tmp_path)
             for _ in range(2)]
    outs = [(p.returncode, err.decode()) for p in procs for _, err in [p.communicate(timeout=120)]]
    codes = sorted(code for code, _ in outs)
    assert codes == [0, 2], outs
    loser = next(err for code, err in outs if code == 2)
    assert_error(Ran(2, "", loser), 2, str(run_dir))
    assert "in use by" in loser or "not empty" in loser
    epochs = [json.loads(x)["epoch"] for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert epochs == [1, 2, 3, 4]  # one run's records, not two interleaved
    assert _status(run_dir)["status"] == "completed" and not (run_dir / LOCK).exists()


# -- run.json's status, whatever ends the run -------------------------------------------------------
def _raise_in_epoch_end(monkeypatch, exc: BaseException) -> None:
    from rnncli.cli.render import ProgressReporter

    def boom(self, record):
        raise exc

    monkeypatch.setattr(ProgressReporter, "on_epoch_end", boom)


ENDINGS = {
    # exception at the end of epoch 1 -> (exit code, status, stderr line)
    "output-closed": (BrokenPipeError(32, "Broken pipe"), 0, "output closed", None),
    "ctrl-c": (KeyboardInterrupt(), 130, "interrupted", "rnn: interrupted"),
    "sigterm": (Terminated(signal.SIGTERM, "SIGTERM"), 143, "interrupted", "rnn: terminated (SIGTERM)"),
    "sighup": (Terminated(signal.SIGHUP, "SIGHUP"), 129, "interrupted", "rnn: terminated (SIGHUP)"),
    "bug": (RuntimeError("boom"), 1, "failed",
            "rnn: error: internal error: RuntimeError: boom (run with --debug for the traceback)"),
    "disk-full": (OSError(28, "No space left on device", "x/metrics.jsonl"), 1, "failed",
                  "rnn: error: x/metrics.jsonl: No space left on device"),
}


@pytest.mark.parametrize("ending", list(ENDINGS))
def test_run_json_status_is_accurate_on_every_ending(ending, tmp_path, monkeypatch):
    exc, code, status, line = ENDINGS[ending]
    _raise_in_epoch_end(monkeypatch, exc)
    run_dir = tmp_path / "run"
    result = rnn("train", *TINY, "-o", str(run_dir), "-q")
    assert result.exit_code == code, result.stderr
    assert "Traceback" not in result.stderr
    assert [x for x in result.stderr.splitlines() if x.strip()] == ([line] if line else [])
    info = _status(run_dir)
    assert info["status"] == status and info["end"], info
    assert not (run_dir / LOCK).exists()


def test_a_config_error_found_after_the_claim_leaves_nothing(tmp_path, monkeypatch):
    import rnncli.training.loop as loop

    def refuse(*args, **kwargs):
        raise ConfigError("model.init: refused late")

    monkeypatch.setattr(loop, "init_params", refuse)
    monkeypatch.chdir(tmp_path)
    result = rnn("train", *TINY, "-o", str(tmp_path / "a" / "b" / "run"))
    assert_error(result, 2, "model.init: refused late")
    assert Tree.of(tmp_path).paths == []  # the run directory and the parents it made are gone


def test_a_long_run_name_makes_a_usable_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = rnn("train", *TINY, "--set", f"name={'n' * 300}", "-q")
    assert result.exit_code == 0, result.stderr
    (made,) = (tmp_path / "runs").iterdir()
    assert len(made.name) < 200 and _status(made)["status"] == "completed"


# -- real signals and closed streams (subprocesses) -------------------------------------------------
def _wait_for(pred, timeout=60.0) -> None:
    end = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.02)


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_signal_during_predict_output_leaves_no_temp_file(sig, tmp_path, trained):
    out = tmp_path / "p.csv"
    proc = subprocess.Popen([*RNN, "predict", str(trained), "-", "-o", str(out)],
                            stdin=subprocess.PIPE, stderr=subprocess.PIPE, env=proc_env(), cwd=tmp_path)
    proc.stdin.write(b'{"x": [[0.5], [0.6]]}\n' * 2000)
    proc.stdin.flush()  # the pipe stays open: predict is mid-stream, its temp file exists
    _wait_for(lambda: any(p.name.endswith(".tmp") for p in tmp_path.iterdir()))
    proc.send_signal(sig)
    err = proc.communicate(timeout=60)[1].decode()
    assert proc.returncode == 128 + sig, err
    assert err == f"rnn: terminated ({signal.Signals(sig).name})\n"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_sigint_while_importing_is_quiet(tmp_path):
    """The handler is installed before the heavy imports: Ctrl-C once NumPy is loading is one line."""
    proc = subprocess.Popen([*RNN, "config", "show"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=proc_env(), cwd=tmp_path)
    maps = Path(f"/proc/{proc.pid}/maps")
    _wait_for(lambda: proc.poll() is not None or "numpy" in maps.read_text(errors="ignore"), 30)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert "Traceback" not in err.decode() and "KeyboardInterrupt" not in err.decode()
    assert proc.returncode in (0, 130), err
    if proc.returncode == 130:
        assert err.decode() == "rnn: interrupted\n"


STREAMS = {
    # closed fd -> argv, expected exit code, needle
    "stdin-predict": (0, ["predict", "{w}/model.npz", "-", "-o", "p.csv"], 2, "standard input is closed"),
    "stdout-data": (1, ["data", "sine", "-n", "3"], 2, "standard output is closed"),
    "stdout-predict": (1, ["predict", "{w}/model.npz", "in.jsonl"], 2, "standard output is closed"),
    "stdout-info-json": (1, ["info", "{w}/model.npz", "--json"], 2, "standard output is closed"),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", list(STREAMS))
def test_closed_standard_streams(case, tmp_path, trained):
    fd, args, code, needle = STREAMS[case]
    (tmp_path / "in.jsonl").write_text('{"x": [[0.5]]}\n')
    argv = [a.format(w=trained) for a in args]
    proc = subprocess.run([*RNN, *argv], stdin=subprocess.DEVNULL,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=proc_env(), cwd=tmp_path,
                          timeout=60, preexec_fn=lambda: os.close(fd))
    assert_error(Ran(proc.returncode, "", proc.stderr.decode()), code, needle)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl"]


@pytest.mark.slow
def test_closed_stdout_does_not_stop_a_command_that_does_not_use_it(tmp_path):
    proc = subprocess.run([*RNN, "train", *TINY, "-q", "-o", "r"],
                          stderr=subprocess.PIPE, env=proc_env(), cwd=tmp_path, timeout=120,
                          preexec_fn=lambda: os.close(1))
    assert proc.returncode == 0 and proc.stderr == b"", proc.stderr
    assert _status(tmp_path / "r")["status"] == "completed"


OUT_DIRS = {
    # --out value -> needles
    "parent-is-a-file": ("afile/sub", ("--out", "afile/sub", "not a directory")),
    "is-a-file": ("afile", ("--out", "afile", "exists and is not a directory")),
    "name-too-long": ("n" * 300, ("--out", "File name too long")),
    "deep-under-a-file": ("afile/a/b/c", ("--out", "afile/a/b/c", "not a directory")),
}


@pytest.mark.parametrize("case", list(OUT_DIRS))
def test_unusable_run_directory_is_exit_2(case, tmp_path, monkeypatch):
    out, needles = OUT_DIRS[case]
    monkeypatch.chdir(tmp_path)
    (tmp_path / "afile").write_text("mine\n")
    result = rnn("train", *TINY, "-o", out)
    assert_error(result, 2, *needles)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]
    assert (tmp_path / "afile").read_text() == "mine\n"
