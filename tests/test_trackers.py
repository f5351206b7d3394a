"""train.log_to / --log-to: the TensorBoard event file and the MLflow store, read back, hold the run's
numbers; a missing package is a one-line hint before training; trackers learn how the run ended."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
from conftest import needs, rnn

from rnncli.errors import Interrupted
from rnncli.training.callbacks import TrainCallbacks
from rnncli.training.trackers import tracked

TINY = ["--set", "train.epochs=3", "--set", "data.num_samples=48", "--set", "data.seq_len=8",
        "--set", "model.hidden_size=4", "--set", "train.batch_size=16"]


def metrics(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def read_events(logdir: Path) -> list:
    """Every Event in the TFRecord files of `logdir` (length, crc, data, crc per record)."""
    from tensorboardX.proto import event_pb2

    events = []
    for path in sorted(logdir.glob("events.out.tfevents.*")):
        data, pos = path.read_bytes(), 0
        while pos < len(data):
            (n,) = struct.unpack("<Q", data[pos:pos + 8])
            event = event_pb2.Event()
            event.ParseFromString(data[pos + 12:pos + 12 + n])
            events.append(event)
            pos += 12 + n + 4
    return events


def test_tensorboard_event_file_holds_every_epoch(tmp_path):
    needs("tensorboardX")
    run_dir = tmp_path / "run"
    result = rnn("train", *TINY, "--log-to", "tensorboard", "--out", run_dir, "-q")
    assert result.exit_code == 0, result.stderr
    scalars: dict[str, dict[int, float]] = {}
    texts, plugins = [], set()
    for event in read_events(run_dir / "tensorboard"):
        for v in event.summary.value:
            if v.metadata.plugin_data.plugin_name:
                plugins.add(v.metadata.plugin_data.plugin_name)
            if v.HasField("simple_value"):
                scalars.setdefault(v.tag, {})[event.step] = v.simple_value
            elif v.tag.startswith("config"):
                texts.append(v.tensor.string_val[0].decode())
    records = metrics(run_dir)
    for key in ("loss", "val_loss", "val_rmse", "grad_norm", "lr"):
        assert scalars[key] == pytest.approx({r["epoch"]: r[key] for r in records}, rel=1e-6)
    assert scalars["hparam/best_loss"] == pytest.approx({3: min(r["val_loss"] for r in records)}, rel=1e-6)
    assert "hparams" in plugins
    assert any("train.epochs: 3" in t and "model.hidden_size: 4" in t for t in texts)


@pytest.fixture
def mlflow_store(tmp_path, monkeypatch):
    needs("mlflow")
    uri = (tmp_path / "mlruns").as_uri()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow >= 3.x keeps the file store behind it
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "rnn-test")
    from mlflow.tracking import MlflowClient

    return MlflowClient(uri)


@pytest.mark.slow
def test_mlflow_run_holds_config_metrics_and_weights(tmp_path, mlflow_store):
    run_dir = tmp_path / "run"
    result = rnn("train", *TINY, "--set", "train.log_to=[mlflow]", "--out", run_dir, "-q")
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""  # MLflow's own logs stay off our stderr
    saved = json.loads((run_dir / "mlflow.json").read_text())
    r = mlflow_store.get_run(saved["run_id"])
    assert r.info.status == "FINISHED" and r.info.run_name == "run"
    assert mlflow_store.get_experiment(r.info.experiment_id).name == "rnn-test"
    assert r.data.params["train.epochs"] == "3" and r.data.params["model.hidden_size"] == "4"
    assert r.data.params["train.log_to"] == '["mlflow"]'
    records = metrics(run_dir)
    history = {m.step: m.value for m in mlflow_store.get_metric_history(r.info.run_id, "val_loss")}
    assert history == pytest.approx({rec["epoch"]: rec["val_loss"] for rec in records}, rel=1e-12)
    assert r.data.metrics["best_loss"] == pytest.approx(min(rec["val_loss"] for rec in records))
    assert r.data.metrics["final_loss"] == pytest.approx(records[-1]["loss"])
    artifacts = {a.path for a in mlflow_store.list_artifacts(r.info.run_id)}
    assert {"model.npz", "best.npz", "config.yaml"} <= artifacts
    local = Path(mlflow_store.download_artifacts(r.info.run_id, "model.npz", str(tmp_path)))
    assert local.read_bytes() == (run_dir / "model.npz").read_bytes()


@pytest.mark.slow
def test_resume_continues_the_same_mlflow_run_and_may_add_trackers(tmp_path, mlflow_store):
    run_dir = tmp_path / "run"
    assert rnn("train", *TINY, "--set", "train.epochs=2", "--log-to", "mlflow", "--out", run_dir,
               "-q").exit_code == 0
    first = json.loads((run_dir / "mlflow.json").read_text())["run_id"]
    resumed = rnn("train", "--resume", run_dir, "--set", "train.epochs=3",
                  "--log-to", "mlflow,tensorboard", "-q")
    assert resumed.exit_code == 0, resumed.stderr
    assert json.loads((run_dir / "mlflow.json").read_text())["run_id"] == first
    steps = [m.step for m in mlflow_store.get_metric_history(first, "loss")]
    assert sorted(steps) == [1, 2, 3]
    assert mlflow_store.get_run(first).info.status == "FINISHED"
    assert len(mlflow_store.search_runs([mlflow_store.get_run(first).info.experiment_id])) == 1
    assert list((run_dir / "tensorboard").glob("events.out.tfevents.*"))


def test_missing_tracker_package_is_a_hint_before_training(tmp_path, monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "tensorboardX", None)
    result = rnn("train", *TINY, "--log-to", "tensorboard", "--out", tmp_path / "run")
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr == ("rnn: error: train.log_to: tensorboard needs tensorboardX: "
                             "pip install 'rnncli[tensorboard]'\n")
    assert not (tmp_path / "run").exists()


def test_log_to_errors(tmp_path):
    result = rnn("train", *TINY, "--log-to", "wandb", "--out", tmp_path / "run")
    assert result.exit_code == 2 and "train.log_to" in result.stderr and "wandb" in result.stderr
    assert len(result.stderr.splitlines()) == 1


class _Recorder(TrainCallbacks):
    def __init__(self, run_dir):
        self.closed = []
        _Recorder.last = self

    def close(self, status):
        self.closed.append(status)


@pytest.mark.parametrize("error, status", [(None, "FINISHED"), (Interrupted("stop"), "KILLED"),
                                           (ValueError("boom"), "FAILED")])
def test_trackers_are_closed_with_the_outcome(monkeypatch, tmp_path, error, status):
    from rnncli.training import trackers

    monkeypatch.setitem(trackers.TRACKERS, "tensorboard", _Recorder)
    with pytest.raises(type(error)) if error else _nothing():
        with tracked(TrainCallbacks(), ["tensorboard"], tmp_path) as cb:
            assert isinstance(cb, trackers.CallbackList)
            if error:
                raise error
    assert _Recorder.last.closed == [status]


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False
