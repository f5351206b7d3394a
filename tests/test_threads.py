"""BLAS threads: `auto` from the sizes, counts applied before training, recorded, reused on --resume."""

from __future__ import annotations

import json
import os

import pytest
from conftest import rnn
from threadpoolctl import threadpool_limits

from rnncli.config import load_config
from rnncli.errors import ConfigError, UsageError
from rnncli.threads import (
    AUTO_MIN_STEP_WORK,
    auto_threads,
    blas_threads,
    parse_threads,
    physical_cores,
    resolve_threads,
    run_threads,
)
from rnncli.training.callbacks import TrainCallbacks
from rnncli.training.loop import train

TINY = ["data.num_samples=40", "data.seq_len=6", "model.hidden_size=4", "train.epochs=1",
        "train.batch_size=8"]


@pytest.fixture(autouse=True)
def _restore_threads():
    with threadpool_limits(limits=1):  # whatever a test applies is undone after it
        yield


def test_physical_cores_within_the_cpus_we_may_use():
    assert 1 <= physical_cores() <= len(os.sched_getaffinity(0))


def test_auto_is_one_thread_below_the_crossover_and_all_cores_above():
    assert auto_threads(batch=32, hidden=64, input_size=8) == 1  # the digits size
    assert auto_threads(batch=64, hidden=512, input_size=256) == physical_cores()
    at = AUTO_MIN_STEP_WORK // 1000 - 1000  # B=1, H=1000: B*H*(I+H) == the threshold, which is large
    assert auto_threads(batch=1, hidden=1000, input_size=at) == physical_cores()
    assert auto_threads(batch=1, hidden=1000, input_size=at - 1) == 1
    assert resolve_threads(3, batch=1, hidden=1) == 3
    assert resolve_threads("auto", batch=32, hidden=64) == 1


@pytest.mark.parametrize("text, expected", [("auto", "auto"), ("AUTO", "auto"), ("2", 2), (3, 3)])
def test_parse_threads(text, expected):
    assert parse_threads(text) == expected


@pytest.mark.parametrize("bad", ["0", "-1", "two", "1.5", True])
def test_parse_threads_refuses(bad):
    with pytest.raises(UsageError, match=r"^--threads: expected auto or a positive number of threads"):
        parse_threads(bad)


def test_config_key_refuses_zero_with_one_message():
    with pytest.raises(ConfigError) as exc:
        load_config([], ["train.threads=0"])
    assert str(exc.value) == ("--set train.threads=0: train.threads: expected auto or a positive "
                              "integer (got 0)")


class _SeeThreads(TrainCallbacks):
    def on_train_start(self, info: dict) -> None:
        self.threads = blas_threads()


@pytest.mark.parametrize("setting, expected", [(2, 2), ("auto", 1)])
def test_train_applies_and_records_the_count(tmp_path, setting, expected):
    cfg = load_config([], TINY + [f"train.threads={setting}"])
    seen = _SeeThreads()
    train(cfg, tmp_path / "run", callbacks=seen)
    assert seen.threads == expected  # in force while training, not just written down
    assert json.loads((tmp_path / "run" / "run.json").read_text())["threads"] == expected


def test_resume_uses_the_recorded_count_for_auto(tmp_path):
    cfg = load_config([], TINY)
    (tmp_path / "run.json").write_text(json.dumps({"threads": 2}))
    spec = type("Spec", (), {"hidden_size": 4, "input_size": 1, "gates": 1})()
    assert run_threads(cfg, spec, tmp_path) == 2 and blas_threads() == 2
    cfg.train.threads = 1  # an explicit count wins over the record
    assert run_threads(cfg, spec, tmp_path) == 1 and blas_threads() == 1
    cfg.train.threads = "auto"
    assert run_threads(cfg, spec, None) == 1  # a new run: auto from the sizes


def test_cli_threads_option(tmp_path):
    out = tmp_path / "r"
    sets = [arg for s in TINY for arg in ("--set", s)]
    r = rnn("train", "--out", str(out), "--threads", "2", *sets)
    assert r.exit_code == 0, r.output
    assert json.loads((out / "run.json").read_text())["threads"] == 2
    assert "threads: 2" in (out / "config.yaml").read_text()
    r = rnn("eval", str(out), "--threads", "0")
    assert r.exit_code == 2
    assert r.stderr == "rnn: error: --threads: expected auto or a positive number of threads (got '0')\n"
    r = rnn("eval", str(out), "--threads", "1", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["samples"] > 0


def test_resume_with_another_thread_count_warns_and_records_it(tmp_path):
    out = tmp_path / "r"
    sets = [arg for s in TINY for arg in ("--set", s)]
    assert rnn("train", "--out", str(out), "--threads", "2", *sets).exit_code == 0
    r = rnn("train", "--resume", str(out), "--set", "train.epochs=2", "--threads", "1")
    assert r.exit_code == 0, r.output
    assert (f"rnn: warning: {out} ran with 2 BLAS threads; resuming with 1 gives weights that differ "
            "from an uninterrupted run") in r.stderr
    assert json.loads((out / "run.json").read_text())["threads"] == 1
