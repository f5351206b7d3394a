"""`rnn sweep`: search space parsing, workers sharing one study, budget, resume, pruning, failures."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import RNN, needs, rnn

needs("optuna")

from rnncli.config import load_config  # noqa: E402
from rnncli.errors import UsageError  # noqa: E402
from rnncli.tools.sweep import SweepSpec, open_sweep, run_worker  # noqa: E402
from rnncli.tools.sweep_space import check_space, parse_param  # noqa: E402
from rnncli.tools.sweep_study import default_storage, load_study, open_storage, summarize  # noqa: E402
from rnncli.training.loop import train  # noqa: E402

TINY = ["data.num_samples=48", "data.seq_len=6", "model.hidden_size=4", "train.epochs=2",
        "train.batch_size=16"]
SETS = [arg for s in TINY for arg in ("--set", s)]


def _study(out: Path):
    return load_study(open_storage(default_storage(out)), None)


@pytest.mark.parametrize("item, kind, values", [
    ("train.lr=loguniform:1e-4:1e-2", "loguniform", (1e-4, 1e-2)),
    ("model.hidden_size=int:4:16", "int", (4, 16)),
    ("train.clip_norm=uniform:0.5:2", "uniform", (0.5, 2.0)),
    ("model.nonlinearity=choice:tanh,relu", "choice", ("tanh", "relu")),
    ("train.clip_norm=choice:null,1,1e-3", "choice", (None, 1, 1e-3)),
])
def test_param_specs(item, kind, values):
    p = parse_param(item)
    assert (p.kind, p.values) == (kind, values)


@pytest.mark.parametrize("item, message", [
    ("train.lr", "--param train.lr: expected KEY=SPEC, e.g. --param train.lr=loguniform:1e-4:1e-2"),
    ("train.lr=normal:0:1", "--param train.lr=normal:0:1: unknown kind 'normal' (expected one of choice, "
                            "int, uniform, loguniform)"),
    ("train.lr=loguniform:0:1", "--param train.lr=loguniform:0:1: loguniform needs LO > 0 (got 0.0)"),
    ("model.hidden_size=int:8:4", "--param model.hidden_size=int:8:4: LO must be below HI (got 8 and 4)"),
    ("model.hidden_size=int:4:x", "--param model.hidden_size=int:4:x: expected an integer, got 'x'"),
])
def test_param_spec_errors(item, message):
    with pytest.raises(UsageError) as exc:
        parse_param(item)
    assert str(exc.value) == message


def test_space_keys_and_values_checked_against_the_schema():
    with pytest.raises(UsageError) as exc:
        check_space([parse_param("model.hidden_sise=choice:4,8")], [], [])
    assert str(exc.value) == ("--param model.hidden_sise=choice:4,8: model.hidden_sise: unknown key "
                              "(did you mean hidden_size?)")
    with pytest.raises(UsageError, match=r"^--param model.hidden_size=uniform:4:8: model.hidden_size: "):
        check_space([parse_param("model.hidden_size=uniform:4:8")], [], [])
    # a combination problem (beta1 with sgd) is not the searched key's fault: left to the trials
    check_space([parse_param("train.optimizer=choice:adam,sgd")], [], ["train.beta1=0.8"])


@pytest.mark.slow
def test_two_workers_grid_failed_trials_recorded_best_yaml(tmp_path):
    out = tmp_path / "sw"
    r = rnn("sweep", *SETS, "--set", "train.beta1=0.8", "--param", "train.optimizer=choice:adam,sgd",
             "--param", "model.hidden_size=choice:4,6", "--sampler", "grid", "--workers", "2",
             "--out", str(out), "--json", "--seed", "3", proc=True, timeout=240)
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)
    states = {(t["params"]["train.optimizer"], t["state"]) for t in result["trials"]}
    assert len(result["trials"]) == 4 and states == {("adam", "complete"), ("sgd", "failed")}
    for t in result["trials"]:
        if t["state"] == "failed":
            assert t["error"].endswith("train.beta1 does not apply to optimizer 'sgd' (it is read by adam)")
        else:
            run = Path(t["run_dir"])
            assert run.parent == out.resolve() and run.name == f"trial-{t['trial']:04d}"
            files = {p.name for p in run.iterdir()}
            assert {"config.yaml", "metrics.jsonl", "model.npz", "run.json"} <= files
            assert json.loads((run / "run.json").read_text())["sweep"]["state"] == "complete"
    best = min((t for t in result["trials"] if t["state"] == "complete"), key=lambda t: t["value"])
    assert result["best"] == {k: best[k] for k in ("trial", "value", "params", "run_dir")}
    cfg = load_config([out / "best.yaml"])
    assert cfg.model.hidden_size == best["params"]["model.hidden_size"] and cfg.train.threads == 1
    train(cfg, tmp_path / "again")  # best.yaml reproduces the best trial, bit for bit
    with np.load(Path(best["run_dir"]) / "model.npz") as a, np.load(tmp_path / "again" / "model.npz") as b:
        assert all(np.array_equal(a[k], b[k]) for k in a.files if k != "meta")
    assert "best trials by val_loss" in r.stderr and "failed: " in r.stderr
    again = rnn("sweep", "--summary", str(out), "--json")
    assert again.exit_code == 0 and json.loads(again.stdout)["best"] == result["best"]


@pytest.mark.slow
def test_two_processes_share_one_study_and_stop_at_n(tmp_path):
    out = tmp_path / "shared"
    cmd = [*RNN, "-q", "sweep", *SETS, "--param", "train.lr=loguniform:1e-3:1e-1",
           "--trials", "5", "--sampler", "random", "--out", str(out), "--prune", "none"]
    procs = [subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    errs = [p.communicate(timeout=240)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errs
    summary = summarize(_study(out))
    assert summary["counts"]["complete"] == 5 and summary["counts"]["running"] == 0
    dirs = sorted(p.name for p in out.glob("trial-*"))
    assert dirs == [f"trial-{t['trial']:04d}" for t in sorted(summary["trials"], key=lambda t: t["trial"])]


@pytest.mark.slow
def test_interrupted_sweep_continues_on_rerun(tmp_path):
    out = tmp_path / "resume"

    def cmd(epochs: int) -> list[str]:
        return ["sweep", "--set", "data.num_samples=32", "--set", "data.seq_len=5", "--set",
                "model.hidden_size=4", "--set", "train.batch_size=32", "--set", f"train.epochs={epochs}",
                "--param", "train.lr=loguniform:1e-3:1e-2", "--trials", "2", "--prune", "none",
                "--out", str(out)]

    proc = subprocess.Popen([*RNN, *cmd(400)], stderr=subprocess.PIPE, text=True)
    metrics = out / "trial-0000" / "metrics.jsonl"
    deadline = time.time() + 120
    while not (metrics.exists() and metrics.read_text().count("\n") >= 2) and time.time() < deadline:
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    err = proc.communicate(timeout=120)[1]
    assert proc.returncode == 130, err
    assert "rnn: sweep interrupted" in err and "Traceback" not in err
    run = json.loads((out / "trial-0000" / "run.json").read_text())
    assert run["status"] == "interrupted" and run["sweep"]["state"] == "interrupted"
    lr = run["sweep"]["params"]["train.lr"]
    r = rnn(*cmd(2), "--json", proc=True, timeout=240)  # fewer epochs only to keep the test short
    assert r.returncode == 0, r.stderr
    trials = json.loads(r.stdout)["trials"]
    assert [t["state"] for t in trials] == ["complete", "complete"]
    assert trials[0]["trial"] == 1 and trials[0]["params"]["train.lr"] == lr  # the stopped trial, retried


def _spec(out: Path, **kw) -> SweepSpec:
    base = {"out": str(out), "storage": default_storage(out), "study": "s", "trials": 6, "sampler": "random",
            "seed": 0, "overrides": [*TINY[:-2], "train.epochs=4", "train.batch_size=16"],
            "params": [{"key": "train.lr", "kind": "choice", "values": [0.05, 1e-6], "origin": "test"}]}
    base.update(kw)
    return SweepSpec(**base)


@pytest.mark.slow
def test_median_pruner_stops_bad_trials_early(tmp_path):
    out = tmp_path / "prune"
    out.mkdir()
    spec = _spec(out, trials=4)
    study, _ = open_sweep(spec)
    for lr in (0.05, 0.05, 0.05, 1e-6):  # three good trials set the median, then a hopeless one
        study.enqueue_trial({"train.lr": lr})
    assert run_worker(spec, threading.Event()) == 4
    trials = summarize(_study(out))["trials"]
    assert [t["state"] for t in trials] == ["complete"] * 3 + ["pruned"]
    assert trials[3]["epochs"] == 2  # pruning starts at epoch 2 (PRUNE_FROM_EPOCH), not at the end
    run = json.loads((Path(trials[3]["run_dir"]) / "run.json").read_text())
    assert run["status"] == "completed" and run["summary"]["stopped_early"]  # an ordinary, shorter run
    assert run["sweep"]["state"] == "pruned"
    assert len((Path(trials[3]["run_dir"]) / "metrics.jsonl").read_text().splitlines()) == 2


@pytest.mark.slow
def test_unknown_metric_stops_the_worker_with_the_keys_it_could_use(tmp_path):
    out = tmp_path / "metric"
    out.mkdir()
    with pytest.raises(UsageError) as exc:
        run_worker(_spec(out, metric="val_acuracy", trials=3), threading.Event())
    assert str(exc.value).startswith("--metric val_acuracy: not in the run's metrics (it has ")
    assert "val_loss" in str(exc.value)
    [trial] = summarize(_study(out))["trials"]  # one failed trial, not three
    assert trial["state"] == "failed" and trial["epochs"] == 1  # stopped after its first epoch


def test_usage_errors_and_missing_optuna(tmp_path, monkeypatch):
    r = rnn("sweep", "--out", str(tmp_path / "x"))
    assert r.exit_code == 2 and r.stderr.startswith("rnn: error: nothing to search: give --param")
    r = rnn("sweep", "--param", "train.lr=uniform:0.1:0.2", "--sampler", "grid", "--out", str(tmp_path / "x"))
    assert r.exit_code == 2
    assert r.stderr == ("rnn: error: --sampler grid searches choice: params only; --param "
                        "train.lr=uniform:0.1:0.2 is not one\n")
    monkeypatch.setitem(sys.modules, "optuna", None)
    r = rnn("sweep", "--param", "train.lr=uniform:0.1:0.2")
    assert r.exit_code == 2
    assert r.stderr == "rnn: error: rnn sweep needs optuna: pip install 'rnncli[sweep]'\n"


@pytest.mark.skipif(not os.environ.get("RNN_TEST_POSTGRES_URL"),
                    reason="set RNN_TEST_POSTGRES_URL=postgresql://... to test a shared PostgreSQL study")
def test_postgres_two_workers(tmp_path):
    study = f"rnn-test-{os.getpid()}-{int(time.time())}"
    r = rnn("sweep", *SETS, "--param", "train.lr=loguniform:1e-3:1e-1", "--trials", "4", "--workers", "2",
             "--storage", os.environ["RNN_TEST_POSTGRES_URL"], "--study", study,
             "--out", str(tmp_path / "pg"), "--json", proc=True, timeout=240)
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)
    assert result["counts"]["complete"] + result["counts"]["pruned"] == 4
    assert len({t["run_dir"] for t in result["trials"]}) == 4
