"""Training runs in the trackers people already watch: TensorBoard (via tensorboardX) and MLflow.

Each tracker is a `TrainCallbacks`; `tracked(...)` composes them with the caller's own callbacks (the CLI's
progress reporter) and closes them with the run's outcome, so the loop knows nothing about them.

- tensorboard: event files in RUN_DIR/tensorboard (`tensorboard --logdir runs`): every numeric value of each
  epoch's record as a scalar at step = epoch, the resolved config as text and, at the end, as
  hyperparameters beside the final metrics (the HPARAMS tab).
- mlflow: a run in the experiment $MLFLOW_EXPERIMENT_NAME (default "rnn") of MLflow's tracking store
  ($MLFLOW_TRACKING_URI, else MLflow's local default in the working directory, ./mlruns); the config as
  params (dotted keys), each epoch's numbers as metrics at step = epoch, the final metrics, and the weights
  (model.npz, best.npz) and config.yaml as artifacts. Its id is kept in RUN_DIR/mlflow.json, so
  `rnn train --resume` continues the same MLflow run.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import signal
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rnncli.config.dump import flatten
from rnncli.errors import Interrupted, RunFailure, Terminated, UsageError, from_os_error
from rnncli.fsutil import atomic_write_text
from rnncli.run_layout import BEST, CONFIG, MLFLOW_RUN, MODEL, TENSORBOARD
from rnncli.training.callbacks import TrainCallbacks

__all__ = ["TRACKERS", "CallbackList", "MlflowTracker", "TensorBoardTracker", "tracked"]


class CallbackList(TrainCallbacks):
    """Several callbacks as one: each hook is called on every callback, in order."""

    def __init__(self, callbacks: list[TrainCallbacks]):
        self.callbacks = list(callbacks)

    def on_train_start(self, info: dict) -> None:
        for cb in self.callbacks:
            cb.on_train_start(info)

    def on_step_end(self, epoch: int, step: int, steps: int, loss: float) -> None:
        for cb in self.callbacks:
            cb.on_step_end(epoch, step, steps, loss)

    def on_epoch_end(self, record: dict) -> None:
        for cb in self.callbacks:
            cb.on_epoch_end(record)

    def on_train_end(self, summary: dict) -> None:
        for cb in self.callbacks:
            cb.on_train_end(summary)

    def stop_requested(self) -> bool:
        return any(cb.stop_requested() for cb in self.callbacks)


def _numbers(record: dict) -> dict[str, float]:
    """The finite numeric values of a record (bools, None, lists and NaN left out)."""
    return {k: float(v) for k, v in record.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)}


def flatten_config(config: dict) -> dict[str, Any]:
    """{"train": {"lr": 0.1}} -> {"train.lr": 0.1}; lists and None become their JSON text."""
    return {k: json.dumps(v) if v is None or isinstance(v, (list, tuple, dict)) else v
            for k, v in flatten(config).items()}


def _final_metrics(summary: dict, last: dict | None) -> dict[str, float]:
    final = {f"final_{k}": v for k, v in _numbers(last or {}).items() if k not in ("epoch", "step")}
    final.update({k: float(summary[k]) for k in ("best_loss", "best_epoch", "epochs")
                  if isinstance(summary.get(k), (int, float)) and math.isfinite(summary[k])})
    return final


class TensorBoardTracker(TrainCallbacks):
    """Scalars per epoch, the config as text and hyperparameters, in RUN_DIR/tensorboard."""

    def __init__(self, run_dir: Path):
        try:
            from tensorboardX import SummaryWriter
        except ImportError:
            raise UsageError("train.log_to: tensorboard needs tensorboardX: "
                             "pip install 'rnncli[tensorboard]'") from None
        self._writer_cls, self.logdir = SummaryWriter, Path(run_dir) / TENSORBOARD
        self.writer, self.config, self.last = None, {}, None

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        """A write that fails (a full disk, a directory made read-only) is one line naming the
        event files' directory, not tensorboardX's traceback."""
        try:
            yield
        except OSError as e:
            raise from_os_error(e, path=str(self.logdir), action="tensorboard event file") from None

    def on_train_start(self, info: dict) -> None:
        # Created here, after the loop claimed the run directory (it must be empty before).
        with self._writing():
            self.writer = self._writer_cls(logdir=str(self.logdir))
            self.config = flatten_config(info.get("config") or {})
            text = "\n".join(f"    {k}: {v}" for k, v in self.config.items())  # indented = monospace
            self.writer.add_text("config", text, global_step=info.get("start_epoch", 0))

    def on_epoch_end(self, record: dict) -> None:
        self.last = record
        with self._writing():
            for key, value in _numbers(record).items():
                if key != "epoch":
                    self.writer.add_scalar(key, value, global_step=record["epoch"])
            self.writer.flush()

    def on_train_end(self, summary: dict) -> None:
        from tensorboardX.summary import hparams

        final = {f"hparam/{k}": v for k, v in _final_metrics(summary, self.last).items()}
        with self._writing():
            for part in hparams(self.config, final):  # experiment, session start, session end
                self.writer.file_writer.add_summary(part)
            step = summary.get("epochs", 0)
            for key, value in final.items():
                self.writer.add_scalar(key, value, global_step=step)

    def close(self, status: str) -> None:
        if self.writer is not None:
            with self._writing():
                self.writer.close()


@contextlib.contextmanager
def _quiet_mlflow() -> Iterator[None]:
    """MLflow's INFO logs and library warnings are not the user's business on our stderr."""
    loggers = [logging.getLogger(name) for name in ("mlflow", "alembic")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


# MLflow's HTTP defaults (7 retries with backoff 2, 120 s per request) make an unreachable server
# hang a run for minutes before its first epoch; these apply unless the user set the variables.
MLFLOW_HTTP_DEFAULTS = {"MLFLOW_HTTP_REQUEST_TIMEOUT": "10", "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1",
                        "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1"}


@contextlib.contextmanager
def _interruptible() -> Iterator[None]:
    """Ctrl-C / SIGTERM / SIGHUP end a call to the tracking server at once (the loop's own handler
    only sets a flag it reads after a step, and a request to a silent server is no step)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, frame):
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        raise Terminated(signum, signal.Signals(signum).name)

    sigs = [signal.SIGINT, signal.SIGTERM, *([signal.SIGHUP] if hasattr(signal, "SIGHUP") else [])]
    old = {sig: signal.signal(sig, stop) for sig in sigs}
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return (text[0] if text else type(e).__name__)[:200]


class MlflowTracker(TrainCallbacks):
    """One MLflow run per run directory: params, metrics per epoch, final metrics, weights."""

    def __init__(self, run_dir: Path):
        try:
            with _quiet_mlflow():
                from mlflow.tracking import MlflowClient
        except ImportError:
            raise UsageError("train.log_to: mlflow needs mlflow: pip install 'rnncli[mlflow]'") from None
        self._client_cls, self.run_dir = MlflowClient, Path(run_dir)
        self.client, self.run_id, self.last = None, None, None

    def _call(self, method: str, *args, **kwargs):
        try:
            with _quiet_mlflow(), _interruptible():
                return getattr(self.client, method)(*args, **kwargs)
        except OSError as e:  # a local store: the file or directory it names
            raise from_os_error(e, action=f"mlflow ({self.client.tracking_uri}): {method}") from None
        except Exception as e:  # noqa: BLE001 - any store/server failure is one line for the user
            raise RunFailure(f"mlflow ({self.client.tracking_uri}): {method} failed: "
                             f"{_first_line(e)}") from None

    def _open(self) -> None:
        """The client of MLFLOW_TRACKING_URI (else ./mlruns); a store that cannot be used is one line."""
        for key, value in MLFLOW_HTTP_DEFAULTS.items():
            os.environ.setdefault(key, value)
        uri = os.environ.get("MLFLOW_TRACKING_URI") or "./mlruns (mlflow's default)"
        try:
            with _quiet_mlflow(), _interruptible():
                self.client = self._client_cls()
                self.client.tracking_uri  # noqa: B018 - resolving it is what fails on a bad scheme
        except OSError as e:  # e.g. a read-only working directory for ./mlruns
            raise from_os_error(e, action=f"mlflow tracking store {uri}") from None
        except Exception as e:  # noqa: BLE001 - unknown scheme, a sqlite URI to a text file, ...
            raise UsageError(f"MLFLOW_TRACKING_URI {uri}: cannot open the tracking store: "
                             f"{_first_line(e)}") from None

    def on_train_start(self, info: dict) -> None:
        self._open()
        saved = _read_json(self.run_dir / MLFLOW_RUN)
        if saved.get("tracking_uri") == self.client.tracking_uri and saved.get("run_id"):
            self.run_id = saved["run_id"]  # --resume: the same MLflow run goes on
            self._call("update_run", self.run_id, status="RUNNING")
            return
        name = os.environ.get("MLFLOW_EXPERIMENT_NAME") or "rnn"
        exp = self._call("get_experiment_by_name", name)
        exp_id = exp.experiment_id if exp is not None else self._call("create_experiment", name)
        run = self._call("create_run", exp_id, run_name=self.run_dir.name,
                         tags={"rnn.run_dir": str(self.run_dir.resolve())})
        self.run_id = run.info.run_id
        saved = {"tracking_uri": self.client.tracking_uri, "experiment_id": exp_id, "run_id": self.run_id}
        atomic_write_text(self.run_dir / MLFLOW_RUN, json.dumps(saved) + "\n")
        self._log_params(flatten_config(info.get("config") or {}))

    def _log_params(self, params: dict[str, Any]) -> None:
        from mlflow.entities import Param

        items = [Param(k, str(v)) for k, v in params.items()]
        for i in range(0, len(items), 100):  # MLflow takes at most 100 params per batch
            self._call("log_batch", self.run_id, params=items[i:i + 100])

    def _log_metrics(self, values: dict[str, float], step: int) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        metrics = [Metric(k, v, now, step) for k, v in values.items()]
        if metrics:
            self._call("log_batch", self.run_id, metrics=metrics)

    def on_epoch_end(self, record: dict) -> None:
        self.last = record
        self._log_metrics({k: v for k, v in _numbers(record).items() if k != "epoch"}, record["epoch"])

    def on_train_end(self, summary: dict) -> None:
        self._log_metrics(_final_metrics(summary, self.last), int(summary.get("epochs") or 0))
        for name in (MODEL, BEST, CONFIG):
            if (self.run_dir / name).is_file():
                self._call("log_artifact", self.run_id, str(self.run_dir / name))

    def close(self, status: str) -> None:
        if self.client is not None and self.run_id is not None:
            self._call("set_terminated", self.run_id, status=status)


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


TRACKERS = {"tensorboard": TensorBoardTracker, "mlflow": MlflowTracker}


@contextlib.contextmanager
def tracked(callbacks: TrainCallbacks, log_to: list[str], run_dir: Path) -> Iterator[TrainCallbacks]:
    """`callbacks` plus a tracker per name in `log_to`; each tracker is closed with the run's outcome.

    A missing package is a UsageError here, before training starts. On an error or an interruption the
    trackers are closed as FAILED / KILLED and the original exception goes on.
    """
    trackers = [TRACKERS[name](Path(run_dir)) for name in dict.fromkeys(log_to)]
    if not trackers:
        yield callbacks
        return
    try:
        yield CallbackList([callbacks, *trackers])
    except (Interrupted, KeyboardInterrupt):
        _close_all(trackers, "KILLED")
        raise
    except BaseException:
        _close_all(trackers, "FAILED")
        raise
    for tracker in trackers:
        tracker.close("FINISHED")  # a tracker that cannot finish says so (RunFailure)


def _close_all(trackers: list, status: str) -> None:
    """After a failure: close what can be closed; the training error is the one the user sees."""
    for tracker in trackers:
        with contextlib.suppress(Exception):
            tracker.close(status)
