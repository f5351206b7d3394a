"""Issue 22 battery, trackers and export writers: a tracking store that cannot be used is one line
(exit 2 for the user's URI or directory, 1 for a server that fails), an unreachable server gives up
in seconds and a signal ends the wait at once; a full disk under tensorboard or a .pt export names
the file.
"""

from __future__ import annotations

import errno
import os
import signal
import socket
import stat
import subprocess
import time
from pathlib import Path

import pytest
from conftest import RNN, assert_error, needs, proc_env, rnn

TRAIN = ["train", "--set", "data.source=sine", "--set", "data.num_samples=32", "--set", "train.epochs=1",
         "-q"]


def _mlflow_train(tmp_path: Path, monkeypatch, uri: str):
    needs("mlflow")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.chdir(tmp_path)
    return rnn(*TRAIN, "--set", "train.log_to=[mlflow]", "-o", tmp_path / "run")


def test_an_unknown_tracking_uri_scheme_is_one_line(tmp_path, monkeypatch):
    assert_error(_mlflow_train(tmp_path, monkeypatch, "nosuch://x/y"), 2,
                 "MLFLOW_TRACKING_URI nosuch://x/y", "cannot open the tracking store")


def test_a_sqlite_uri_to_a_text_file_is_one_line(tmp_path, monkeypatch):
    (tmp_path / "notes.txt").write_text("not a database\n")
    uri = f"sqlite:///{tmp_path / 'notes.txt'}"
    assert_error(_mlflow_train(tmp_path, monkeypatch, uri), 2, uri, "file is not a database")


def test_a_read_only_working_directory_names_it(tmp_path, monkeypatch):
    needs("mlflow")
    import mlflow.tracking

    def refuse(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(tmp_path / "mlruns"))

    monkeypatch.setattr(mlflow.tracking.MlflowClient, "__init__", refuse)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    assert_error(rnn(*TRAIN, "--set", "train.log_to=[mlflow]", "-o", tmp_path / "run"), 2,
                 str(tmp_path / "mlruns"), "Permission denied", "mlflow tracking store")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_a_refused_connection_fails_in_seconds(tmp_path, monkeypatch):
    start = time.monotonic()
    r = _mlflow_train(tmp_path, monkeypatch, f"http://127.0.0.1:{_free_port()}")
    assert_error(r, 1, "mlflow (http://127.0.0.1:")
    assert time.monotonic() - start < 30


@pytest.mark.slow
def test_sigterm_ends_the_wait_for_a_silent_server(tmp_path):
    needs("mlflow")
    with socket.socket() as server:  # accepts connections, never answers
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        env = proc_env(MLFLOW_TRACKING_URI=f"http://127.0.0.1:{server.getsockname()[1]}")
        argv = [*RNN, *TRAIN, "--set", "train.log_to=[mlflow]", "-o", str(tmp_path / "run")]
        proc = subprocess.Popen(argv, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        time.sleep(4)  # well inside the first request's wait
        start = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
        assert time.monotonic() - start < 5, err
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert "Traceback" not in err


def test_a_full_disk_under_tensorboard_names_the_directory(tmp_path, monkeypatch):
    needs("tensorboardX")
    import tensorboardX

    def full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(tensorboardX.SummaryWriter, "flush", full)
    r = rnn(*TRAIN, "--set", "train.log_to=[tensorboard]", "-o", tmp_path / "run")
    assert_error(r, 1, str(tmp_path / "run" / "tensorboard"), "No space left on device")


@pytest.mark.skipif(os.geteuid() != 0, reason="makes a /dev/full device node in the test directory")
@pytest.mark.parametrize("fmt, extra", [("torch", "torch"), ("safetensors", "safetensors")])
def test_a_full_disk_under_export_names_the_file(fmt, extra, tmp_path, trained):
    needs(extra)
    full = tmp_path / "full"
    os.mknod(full, 0o666 | stat.S_IFCHR, os.makedev(1, 7))
    assert_error(rnn("export", trained, "--format", fmt, "-o", full), 1, f"{full}: cannot write",
                 "No space left")
