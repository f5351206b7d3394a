"""`rnn sweep`: hyperparameter search with Optuna, each trial an ordinary run directory.

The command starts W worker processes (`sweep_pool.py`) and watches the study's database for
finished trials. A worker asks Optuna for a trial, trains it with
`training.loop.train` into DIR/trial-NNNN, reports the metric every epoch (the pruner may stop
the run early, through `TrainCallbacks.stop_requested`, which leaves a normal run directory) and
tells the result. Workers on other machines join by pointing at the same --storage and --study.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import os
import re
import signal
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from rnncli.config import load_config
from rnncli.errors import Interrupted, RnnError, UsageError
from rnncli.tools.sweep_space import Param, grid_space, overrides_for
from rnncli.tools.sweep_study import (
    budget_left,
    create_study,
    host,
    import_optuna,
    open_storage,
)
from rnncli.training.callbacks import TrainCallbacks
from rnncli.training.loop import train
from rnncli.training.rundir import read_run_json, write_run_json
from rnncli.training.trackers import tracked

PRUNE_STARTUP_TRIALS = 3  # the median pruner waits for this many complete trials before it prunes ...
PRUNE_FROM_EPOCH = 2  # ... and never stops a trial in its first epoch (reports are numbered by epoch)


@dataclass
class SweepSpec:
    """Everything a worker needs, JSON-able so it can be handed to a worker process."""

    out: str
    storage: str
    study: str
    params: list[dict]
    trials: int
    metric: str = "val_loss"
    direction: str = "minimize"
    sampler: str = "tpe"
    prune: str = "median"
    configs: list[str] = field(default_factory=list)
    overrides: list[str] = field(default_factory=list)
    seed: int | None = None
    threads: int | str = 1
    argv: list[str] = field(default_factory=list)

    def space(self) -> list[Param]:
        return [Param(p["key"], p["kind"], tuple(p["values"]), p["origin"]) for p in self.params]

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> SweepSpec:
        return cls(**json.loads(text))


def infer_direction(metric: str) -> str:
    """maximize for accuracies, minimize for losses and errors."""
    return "maximize" if "accuracy" in metric else "minimize"


def open_sweep(spec: SweepSpec, worker: int = 0):
    """(study, storage) of `spec`, created on first use, with this worker's sampler and pruner.

    Each worker's sampler is seeded from --seed, the worker's index and the trials already in the
    study, so workers, and a rerun that continues a study, do not repeat each other's first draws.
    """
    optuna = import_optuna()
    pruner = optuna.pruners.NopPruner() if spec.prune == "none" else optuna.pruners.MedianPruner(
        n_startup_trials=PRUNE_STARTUP_TRIALS, n_warmup_steps=PRUNE_FROM_EPOCH)
    settings = {"metric": spec.metric, "direction": spec.direction,
                "space": {p.key: p.describe() for p in spec.space()}, "configs": spec.configs,
                "overrides": spec.overrides}
    storage = open_storage(spec.storage)
    study = create_study(storage, spec.study, settings, optuna.samplers.RandomSampler(), pruner)
    seed = None
    if spec.seed is not None:
        seed = spec.seed * 1_000_003 + worker * 10_007 + len(study.get_trials(deepcopy=False))
    if spec.sampler in ("grid", "random"):  # grid: every point is queued once, see queue_grid
        study.sampler = optuna.samplers.RandomSampler(seed=seed)
    else:
        study.sampler = optuna.samplers.TPESampler(seed=seed, constant_liar=True)
    return study, storage


def queue_grid(study, space: list[Param]) -> int:
    """Queue every point of a grid search once, in order, when the study is new; returns the grid size.

    Each queued trial is claimed by exactly one worker (`_claim_queued`), so workers never run a point
    twice (Optuna's GridSampler picks points per worker and can repeat one, and its own queue is not
    atomic on SQLite). The claim files live in DIR: workers on other machines sharing a --storage
    need a server database (PostgreSQL, MySQL), whose row locks make Optuna's queue atomic.
    """
    grid = grid_space(space)
    points = [dict(zip(grid, values, strict=True)) for values in itertools.product(*grid.values())]
    if not study.get_trials(deepcopy=False):
        for point in points:
            study.enqueue_trial(point)
    return len(points)


class _TrialCallbacks(TrainCallbacks):
    """Reports the metric to Optuna each epoch and asks the loop to stop when the trial is pruned."""

    def __init__(self, trial, metric: str, direction: str, prune: bool, stop: threading.Event):
        self.trial, self.metric, self.prune, self.stop = trial, metric, prune, stop
        self.sign = -1 if direction == "maximize" else 1
        self.best: float | None = None
        self.epochs = 0
        self.pruned_at: int | None = None
        self.missing: list[str] | None = None  # the record's keys, when it lacks the metric

    def on_train_start(self, info: dict) -> None:
        if self.stop.is_set():  # a signal came before the loop took over SIGINT: hand it on
            signal.raise_signal(signal.SIGINT)

    def on_epoch_end(self, record: dict) -> None:
        self.epochs = record["epoch"]
        if self.metric not in record:
            self.missing = sorted(k for k, v in record.items() if isinstance(v, float))
            return
        value = record[self.metric]
        if value is None or not math.isfinite(value):
            return
        if self.best is None or self.sign * value < self.sign * self.best:
            self.best = value
        self.trial.report(value, record["epoch"])
        if self.prune and self.trial.should_prune():
            self.pruned_at = record["epoch"]

    def stop_requested(self) -> bool:
        return self.pruned_at is not None or self.missing is not None


@contextlib.contextmanager
def _heartbeat(storage, trial_id: int) -> Iterator[None]:
    """Tell the storage this trial's worker is alive until the block ends (Optuna's stale-trial check)."""
    done = threading.Event()

    def beat() -> None:
        while True:
            with contextlib.suppress(Exception):  # a missed beat only risks a needless retry
                storage.record_heartbeat(trial_id)
            if done.wait(storage.get_heartbeat_interval()):
                return

    thread = threading.Thread(target=beat, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


def claims_dir(spec: SweepSpec) -> Path:
    """DIR/.claims/<study>: one empty file per queued trial a worker on this machine took."""
    return Path(spec.out) / ".claims" / re.sub(r"[^\w.-]", "_", spec.study)


def _claim_queued(study, claims: Path):
    """A queued (WAITING) trial this worker alone runs, or None when the queue is empty.

    Optuna pops queued trials with a SELECT then an UPDATE, not atomic on SQLite (optuna#4621): two
    workers could run one grid point and lose another. The claim is an O_EXCL file per trial number,
    which exactly one process creates; only then is the trial set RUNNING.
    """
    from optuna.trial import Trial, TrialState

    claims.mkdir(parents=True, exist_ok=True)
    for t in study.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
        try:
            os.close(os.open(claims / f"{t.number:06d}", os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
        except FileExistsError:
            continue
        if study._storage.set_trial_state_values(t._trial_id, TrialState.RUNNING):  # noqa: SLF001
            return Trial(study, t._trial_id)
    return None


def _next_trial(study, budget: int, claims: Path, queued_only: bool = False):
    """A new trial, or None once the study has its `budget` finished (or running) trials.

    A queued trial (a grid point, a retry of an interrupted or lost one) is claimed atomically
    first; `queued_only` (grid search: every point queued up front) runs nothing else, otherwise
    Optuna's sampler asks for a new one when the queue is empty."""
    from optuna.storages import fail_stale_trials
    from optuna.trial import TrialState

    fail_stale_trials(study)
    if not budget_left(study.get_trials(deepcopy=False), budget):
        return None
    trial = _claim_queued(study, claims)
    if trial is None and not queued_only:
        trial = study.ask()
    if trial is None:
        return None
    if not budget_left(study.get_trials(deepcopy=False), budget, trial.number):
        trial.set_user_attr("status", "skipped")  # another worker asked at the same moment
        study.tell(trial, state=TrialState.FAIL)
        return None
    return trial


def run_worker(spec: SweepSpec, stop: threading.Event, worker: int = 0) -> int:
    """Run trials until the study has spec.trials finished ones or `stop` is set; returns how many ran.

    Raises Interrupted when a signal stopped a trial (the trial is marked and queued again), and
    UsageError when the metric is not among the records the runs write.
    """
    study, storage = open_sweep(spec, worker)
    space = spec.space()
    ran = 0
    while not stop.is_set():
        trial = _next_trial(study, spec.trials, claims_dir(spec), queued_only=spec.sampler == "grid")
        if trial is None:
            break
        with _heartbeat(storage, trial._trial_id):  # Optuna has no public id for a trial
            _run_trial(study, trial, spec, space, stop)
        ran += 1
    return ran


def _run_trial(study, trial, spec: SweepSpec, space: list[Param], stop: threading.Event) -> None:
    """Train one trial into DIR/trial-NNNN and tell Optuna how it ended."""
    from optuna.trial import TrialState

    values = {p.key: p.suggest(trial) for p in space}
    run_dir = Path(spec.out).resolve() / f"trial-{trial.number:04d}"
    if run_dir.exists():  # never a trial of this study (numbers are new): not ours to write into
        trial.set_user_attr("error", f"{run_dir} exists and belongs to another study")
        study.tell(trial, state=TrialState.FAIL)
        return
    trial.set_user_attr("run_dir", str(run_dir))
    trial.set_user_attr("host", host())
    cb = _TrialCallbacks(trial, spec.metric, spec.direction, spec.prune != "none", stop)
    try:
        cfg = load_config([Path(c) for c in spec.configs], [*spec.overrides, *overrides_for(values)],
                          seed=spec.seed)
        cfg.train.threads = spec.threads
        with tracked(cb, cfg.train.log_to, run_dir) as callbacks:  # the config's trackers too
            train(cfg, run_dir, callbacks=callbacks, argv=spec.argv)
    except (Interrupted, KeyboardInterrupt) as exc:
        reason = str(exc) or "interrupted"
        _finish(study, trial, run_dir, TrialState.FAIL, status="interrupted", reason=reason)
        study.enqueue_trial(dict(trial.params), user_attrs={"retry_of": trial.number})
        raise Interrupted(reason) from None
    except RnnError as exc:
        _finish(study, trial, run_dir, TrialState.FAIL, reason=str(exc).splitlines()[0], epochs=cb.epochs)
        return
    except Exception as exc:  # noqa: BLE001 - a trial's crash is recorded and the sweep goes on
        _finish(study, trial, run_dir, TrialState.FAIL, epochs=cb.epochs,
                reason=f"internal error: {type(exc).__name__}: {' '.join(str(exc).split())}")
        return
    if cb.missing is not None:
        reason = f"--metric {spec.metric}: not in the run's metrics (it has {', '.join(cb.missing)})"
        _finish(study, trial, run_dir, TrialState.FAIL, reason=reason, epochs=cb.epochs)
        raise UsageError(reason)
    if cb.pruned_at is not None:
        _finish(study, trial, run_dir, TrialState.PRUNED, epochs=cb.epochs)
    elif cb.best is None:
        _finish(study, trial, run_dir, TrialState.FAIL, epochs=cb.epochs,
                reason=f"{spec.metric} was never finite (no validation data? try --metric loss)")
    else:
        _finish(study, trial, run_dir, TrialState.COMPLETE, value=cb.best, epochs=cb.epochs)


def _finish(study, trial, run_dir: Path, state, *, value: float | None = None, reason: str | None = None,
            status: str | None = None, epochs: int | None = None) -> None:
    """Tell Optuna, with the one-line reason of a failure, and note the trial in the run's run.json."""
    if epochs is not None:
        trial.set_user_attr("epochs", epochs)
    if status is not None:
        trial.set_user_attr("status", status)
    elif reason is not None:
        trial.set_user_attr("error", reason)
    study.tell(trial, value if value is not None else None, state=state)
    info = read_run_json(run_dir)
    if info:
        info["sweep"] = {"study": study.study_name, "trial": trial.number, "params": dict(trial.params),
                         "state": status or _STATE_NAMES[state.name],
                         "reason": reason}
        write_run_json(run_dir, info)


_STATE_NAMES = {"COMPLETE": "complete", "PRUNED": "pruned", "FAIL": "failed"}
