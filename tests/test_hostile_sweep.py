"""Issue 22 battery, sweeps: no two workers run one grid point, a study never writes into another's
trials, storages the workers cannot share are refused, a killed worker is one line, the YAML of
--space goes through the bounded loader, and --summary only reads.
"""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
from conftest import RNN, Ran, assert_error, needs, proc_env, rnn

needs("optuna")

from rnncli.errors import RunFailure  # noqa: E402
from rnncli.tools.sweep import SweepSpec, _claim_queued, claims_dir, open_sweep, queue_grid  # noqa: E402
from rnncli.tools.sweep_study import SETTINGS, default_storage, load_study, open_storage  # noqa: E402

TINY = ["--set", "data.num_samples=48", "--set", "data.seq_len=6", "--set", "model.hidden_size=4",
        "--set", "train.epochs=2", "--set", "train.batch_size=16"]
GRID = ["--param", "model.hidden_size=choice:2,3", "--sampler", "grid"]


def _spec(out: Path, points: int) -> SweepSpec:
    return SweepSpec(out=str(out), storage=default_storage(out), study="g", trials=points, sampler="grid",
                     params=[{"key": "model.hidden_size", "kind": "choice",
                              "values": list(range(2, 2 + points)), "origin": "test"}])


@pytest.mark.slow
def test_grid_points_are_claimed_once_by_concurrent_workers(tmp_path):
    out = tmp_path / "grid"
    out.mkdir()
    spec = _spec(out, 24)
    study, _ = open_sweep(spec)
    queue_grid(study, spec.space())
    got: list[list[int]] = [[] for _ in range(4)]
    start = threading.Barrier(4)

    def worker(i: int) -> None:
        own, _ = open_sweep(spec, i)  # its own connection, as a worker process has
        start.wait()
        while (trial := _claim_queued(own, claims_dir(spec))) is not None:
            got[i].append(trial.number)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    numbers = sorted(n for g in got for n in g)
    assert numbers == list(range(24))  # every point once: none twice, none lost
    assert len(list(claims_dir(spec).iterdir())) == 24


def test_a_claimed_trial_is_never_handed_out_again(tmp_path):
    out = tmp_path / "grid"
    out.mkdir()
    spec = _spec(out, 2)
    study, _ = open_sweep(spec)
    queue_grid(study, spec.space())
    (claims_dir(spec)).mkdir(parents=True)
    (claims_dir(spec) / "000000").touch()  # another worker's claim, its trial not yet RUNNING
    trial = _claim_queued(study, claims_dir(spec))
    assert trial.number == 1 and _claim_queued(study, claims_dir(spec)) is None


@pytest.mark.slow
def test_three_workers_run_each_grid_point_once(tmp_path):
    r = rnn("sweep", *TINY, "--param", "model.hidden_size=choice:2,3,4,5,6", "--sampler", "grid",
            "--workers", "3", "--out", str(tmp_path / "sw"), "--json", "-q")
    assert r.exit_code == 0, r.stderr
    trials = json.loads(r.stdout)["trials"]
    assert sorted(t["params"]["model.hidden_size"] for t in trials) == [2, 3, 4, 5, 6]
    assert {t["state"] for t in trials} == {"complete"}


@pytest.mark.slow
def test_a_second_study_in_one_out_is_refused_and_the_first_untouched(tmp_path):
    out = tmp_path / "sw"
    assert rnn("sweep", *TINY, *GRID, "--out", str(out), "-q").exit_code == 0
    before = (out / "trial-0000" / "run.json").read_bytes()
    assert_error(rnn("sweep", *TINY, *GRID, "--out", str(out), "--study", "other"), 2,
                 f"--out {out}", "holds study 'sw'", "--study sw")
    assert (out / "trial-0000" / "run.json").read_bytes() == before
    import optuna

    assert optuna.get_all_study_names(default_storage(out)) == ["sw"]  # nothing created on refusal


STORAGES = {
    "memory-two-workers": (["--storage", "sqlite:///:memory:", "--workers", "2"], ("in-memory",)),
    "memory-one-worker": (["--storage", "sqlite://"], ("in-memory",)),
    "not-a-url": (["--storage", "notaurl"], ("--storage notaurl", "not a database URL")),
    "unknown-dialect": (["--storage", "nosuchdb://host/x"], ("nosuchdb", "not a database URL")),
    "password-redacted": (["--storage", "nosuchdb://u:secret@host/x"], ("u:***@host",)),
    "workers-100000": (["--workers", "100000"], ("--workers", "256")),
    "workers-zero": (["--workers", "0"], ("--workers",)),
}


@pytest.mark.parametrize("name", list(STORAGES))
def test_storages_and_worker_counts_refused_leave_no_out(name, tmp_path):
    args, needles = STORAGES[name]
    result = rnn("sweep", *TINY, *GRID, "--out", str(tmp_path / "new"), *args)
    line = assert_error(result, 2, *needles)
    assert "secret" not in line
    assert not (tmp_path / "new").exists()  # a refused sweep leaves no empty --out


SPACES = {
    "nested-5000": ("a: " + "[" * 5000 + "]" * 5000 + "\n", ("--space", "nests deeper")),
    "nested-list-choices": ("train.lr: [[1, 2], [3]]\n", ("train.lr", "choices must be scalars")),
    "alias-bomb": ("a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n"
                   "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                   "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
                   "d: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n",
                   ("--space", "more than 10000 values")),
    "huge-int": ("train.lr: choice:1\nx: " + "9" * 5000 + "\n", ("--space", "digits")),
    "not-utf8": (b"train.lr: \xff\n", ("--space", "UTF-8")),
    "syntax": ("train.lr: [1, 2\n", ("--space", "invalid YAML")),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(SPACES))
def test_space_files_are_read_with_the_config_limits(name, tmp_path):
    text, needles = SPACES[name]
    f = tmp_path / "space.yaml"
    f.write_bytes(text.encode() if isinstance(text, str) else text)
    assert_error(rnn("sweep", "--space", str(f), "--out", str(tmp_path / "o")), 2, *needles)
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("item", ["model.nonlinearity=choice:[tanh", "model.nonlinearity=choice:{a: 1}"])
def test_choices_that_are_not_yaml_scalars_are_one_line(item, tmp_path):
    assert_error(rnn("sweep", "--param", item, "--out", str(tmp_path / "o")), 2, "--param", item[:20])


@pytest.fixture(scope="module")
def swept(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sweep") / "sw"
    r = rnn("sweep", *TINY, *GRID, "--out", str(out), "-q")
    assert r.exit_code == 0, r.stderr
    return out


@pytest.mark.slow
def test_summary_only_reads(swept, tmp_path):
    best = swept / "best.yaml"
    best.write_text(best.read_text() + "# the user's note\n")
    stamp = best.stat().st_mtime_ns
    r = rnn("sweep", "--summary", str(swept))
    assert r.exit_code == 0, r.stderr
    assert best.stat().st_mtime_ns == stamp and best.read_text().endswith("# the user's note\n")
    assert f"its config: {best}" in " ".join(r.stderr.split())


@pytest.mark.slow
@pytest.mark.parametrize("settings, needles", [
    ("garbage", ("rnn_sweep settings", "not a mapping")),
    ({"metric": 5, "direction": "minimize"}, ("metric is a int",)),
    ({"metric": "val_loss", "direction": "sideways"}, ("direction 'sideways'",)),
    ({"metric": "val_loss", "direction": "minimize", "configs": [1]}, ("configs must be a list of strings",)),
])
def test_summary_of_a_tampered_study_is_one_line(settings, needles, swept, tmp_path):
    import shutil

    out = tmp_path / "copy"
    shutil.copytree(swept, out)
    load_study(open_storage(default_storage(out)), None).set_user_attr(SETTINGS, settings)
    assert_error(rnn("sweep", "--summary", str(out)), 2, "study 'sw'", *needles)


def test_a_worker_killed_by_a_signal_is_named():
    from rnncli.cli.sweep import _worker_failures

    class Pool:
        interrupted = 0
        procs = [type("P", (), {"pid": 4242})(), type("P", (), {"pid": 4343})()]

    killed = r"sweep worker 1 \(pid 4343\) was killed by SIGKILL \(out of memory\?\)"
    with pytest.raises(RunFailure, match=killed):
        _worker_failures([0, -signal.SIGKILL], Pool())
    _worker_failures([0, 0], Pool())  # all well: nothing raised


@pytest.mark.slow
def test_sigkill_of_a_worker_ends_the_sweep_with_one_line(tmp_path):
    out = tmp_path / "sw"
    args = [*RNN, "sweep", *TINY[:-4], "--set", "train.epochs=500",
            "--set", "train.batch_size=16", "--param", "train.lr=choice:0.01", "--out", str(out), "-q"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=proc_env())
    lock = out / "trial-0000" / ".rnn.lock"  # "pid host" of the worker training the trial
    deadline = time.time() + 60
    while not (lock.exists() and lock.read_text().strip()) and time.time() < deadline:
        time.sleep(0.05)
    import os

    os.kill(int(lock.read_text().split()[0]), signal.SIGKILL)
    stdout, stderr = proc.communicate(timeout=60)
    assert_error(Ran(proc.returncode, stdout, stderr), 1, "sweep worker 0", "killed by SIGKILL")
