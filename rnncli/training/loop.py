"""The training loop, split into its phases; reports through callbacks, never prints.

`train(cfg, run_dir, ...)` loads and checks the data and model (training/build.py), hands small
sequence files to cross-validation first (training/crossval.py), claims the run directory
(training/rundir.py) and runs `_run_epochs`. The phases share one `Run` (training/run.py: config, spec, data,
TrainState, generators, saver, callbacks, device): `_begin` (initial or resumed weights, the run's files),
`_run_epochs` -> `_train_epoch` (the epoch's batch order, resumable mid-epoch) -> `_train_batch`
(the scheduled lr; the stateful carry) -> `_train_window` (one truncated-BPTT window: forward and
backward, clip, the non-finite check, the update), then `_end_epoch` (validation, the epoch's
record, plateau and patience) and `_save_progress` (checkpoint, best.npz, metrics.jsonl).

Reproducible: parameters, data order and dropout masks come from three generators seeded from the
config's seed, and a checkpoint holds all their states, so a run interrupted at any step and resumed
ends with weights bit-identical to an uninterrupted one.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from rnncli.config import Config, config_to_dict, config_to_yaml
from rnncli.core.cells import state_batch
from rnncli.core.init import init_params
from rnncli.core.model import ModelSpec, forward, loss_and_grads
from rnncli.core.optim import clip_gradients
from rnncli.data import Batch, DataBundle, iterate_batches, num_batches
from rnncli.data.batching import bptt_windows
from rnncli.device import resolve_device
from rnncli.errors import Interrupted, NonFiniteError
from rnncli.fsutil import atomic_write_text
from rnncli.run_layout import CHECKPOINT, CONFIG
from rnncli.threads import run_threads
from rnncli.training.adaptive import describe_chosen
from rnncli.training.build import init_options, load_checked, optimizer_from_config
from rnncli.training.callbacks import TrainCallbacks
from rnncli.training.checkpoint import RunSaver, load_checkpoint
from rnncli.training.crossval import CV_DIR, CV_JSON, cross_validate, plan, planned_folds
from rnncli.training.evaluation import compute_metrics, main_metric
from rnncli.training.init_from import check_architecture, load_run_data, read_init_source, transfer_params
from rnncli.training.placement import device_info, start_on_device, window_on_device
from rnncli.training.resume import resume_changes
from rnncli.training.run import Run
from rnncli.training.rundir import (
    append_metrics,
    argv_list,
    hold_run_dir,
    now,
    read_metrics,
    read_run_json,
    record_ending,
    remove_stale_temps,
    truncate_metrics,
    versions,
    write_run_json,
)
from rnncli.training.schedules import plateau_update, schedule_from_config
from rnncli.training.state import EpochSums, TrainState
from rnncli.training.stopping import StopRequest, count_patience

__all__ = ["TrainCallbacks", "TrainState", "train"]


SAVES_PER_RUN = 50  # epoch-end checkpoints of a run at most (plus Ctrl-C and train.checkpoint_every)


def train(cfg: Config, run_dir: Path, *, callbacks: TrainCallbacks | None = None, resume: bool = False,
          argv: list[str] | None = None, base_dir: Path | None = None, init_from: Path | None = None,
          after_cv: bool = False) -> dict:
    """Train from a validated Config into `run_dir`; returns the summary.

    `init_from` (RUN_DIR or weights file) starts from that model's weights (see training/init_from.py).
    Small sequence files choose their length by cross-validation first (training/crossval.py;
    `after_cv`: this is the refit, in the directory that holds the folds).

    Raises NonFiniteError (exit 1) on a NaN/inf loss or gradient, Interrupted (exit 130) after
    SIGINT/SIGTERM, ConfigError/DataError (exit 2) for bad input, all after saving what there is.
    """
    t_start = time.perf_counter()  # the summary's wall-clock seconds: data, epochs and saves
    cb = callbacks or TrainCallbacks()
    kw = {"callbacks": cb, "argv": argv, "base_dir": base_dir}
    if resume and cfg.train.cv_folds and not (run_dir / CHECKPOINT).is_file():  # stopped mid-CV
        return cross_validate(cfg, run_dir, resume=True, train_fn=train, **kw)
    changes = resume_changes(run_dir, cfg) if resume else {}  # refuses what the checkpoint cannot take
    dtype = np.dtype(cfg.train.dtype)
    source = read_init_source(init_from) if init_from is not None else None
    def loader(c, base):
        return load_run_data(c, run_dir, source, resume, base)

    asked = cfg  # the keys the user set, before the data resolves and adapts the rest
    cfg, spec, data, chosen = load_checked(cfg, dtype, base_dir or Path.cwd(), loader=loader)
    folds = planned_folds(asked, data) if source is None and not resume and not after_cv else 0
    if folds:
        return cross_validate(plan(asked, data, folds), run_dir, resume=False, train_fn=train, **kw)
    if source is not None:
        check_architecture(source, spec)  # before the run directory is made
    threads = run_threads(cfg, spec, run_dir if resume else None)  # BLAS threads, before any product
    device = resolve_device(cfg.train.device, "train.device")
    with hold_run_dir(run_dir, resume=resume, keep=(CV_DIR, CV_JSON, CONFIG) if after_cv else ()):
        run, run_info = _begin(cfg, spec, data, run_dir, cb, argv, changes if resume else None, threads,
                               chosen, source)
        start_on_device(run, run_info, device)
        try:
            # Overflow when training diverges is caught by the finiteness check, with a useful message.
            with StopRequest() as stop, np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                run.stop = stop
                summary = _run_epochs(run)
        except BaseException as exc:
            record_ending(run_dir, run_info, exc)
            raise
        summary["seconds"] = time.perf_counter() - t_start
        run_info.update(status="completed", end=now(), summary=summary)
        write_run_json(run_dir, run_info)
    if resume and (run_dir / CV_JSON).is_file():  # a resumed refit still reports its folds
        summary["cv"] = json.loads((run_dir / CV_JSON).read_text(encoding="utf-8"))
    cb.on_train_end(summary)
    return summary


def _begin(cfg: Config, spec: ModelSpec, data: DataBundle, run_dir: Path, cb: TrainCallbacks,
           argv: list[str] | None, changes: dict | None, threads, chosen: dict, source=None
           ) -> tuple[Run, dict]:
    """The run's state (fresh, or from the checkpoint when resuming: `changes` not None) and its
    run.json, written as "running"."""
    dtype = np.dtype(cfg.train.dtype)
    init_rng, order_rng, dropout_rng = (np.random.default_rng([cfg.seed, k]) for k in range(3))
    optimizer = optimizer_from_config(cfg)
    if changes is not None:
        state = load_checkpoint(run_dir, spec, optimizer, dtype)
        remove_stale_temps(run_dir)
        order_rng.bit_generator.state = state.epoch_rng_state
        dropout_rng.bit_generator.state = state.dropout_rng_state
        truncate_metrics(run_dir, state.epoch)
        run_info = read_run_json(run_dir)
        run_info.setdefault("resumed", []).append({"argv": argv_list(argv), "time": now(),
                                                   **({"changed": changes} if changes else {})})
        if changes:  # config.yaml keeps describing the run (`rnn train -c RUN/config.yaml`)
            atomic_write_text(run_dir / CONFIG, config_to_yaml(cfg))
    else:
        atomic_write_text(run_dir / CONFIG, config_to_yaml(cfg))
        params = init_params(spec, init_rng, **init_options(cfg.model), dtype=dtype)
        if source is not None:
            params = transfer_params(source, spec, params)
        state = TrainState(params, optimizer, epoch_rng_state=order_rng.bit_generator.state,
                           dropout_rng_state=dropout_rng.bit_generator.state)
        run_info = {"argv": argv_list(argv), "versions": versions(), "seed": cfg.seed, "start": now(),
                    **({"init_from": source.to_dict()} if source is not None else {})}
    run_info.update(status="running", end=None, threads=threads)
    write_run_json(run_dir, run_info)
    steps = num_batches(data.train, cfg.train.batch_size, cfg.train.drop_last)
    saver = RunSaver(run_dir, cfg, spec, data.task)
    return Run(cfg, spec, data, state, order_rng, dropout_rng, saver, cb, None, steps,
                chosen, schedule_from_config(cfg.train, steps)), run_info


def _run_epochs(run: Run) -> dict:
    """Epochs from the state's next one to train.epochs (or early stopping); the run's summary."""
    tc, state, task = run.cfg.train, run.state, run.data.task
    run.cb.on_train_start({"epochs": tc.epochs, "steps_per_epoch": run.steps, "start_epoch": state.epoch,
                           **device_info(run.device),
                           "chosen": describe_chosen(run.chosen, run.cfg),
                           "lr": run.lr(state.global_step, state.epoch + 1),
                           "init_from": read_run_json(run.run_dir).get("init_from"),
                           "spec": run.spec.to_dict(), "task": task.to_dict(), "run_dir": str(run.run_dir),
                           "config": config_to_dict(run.cfg)})
    stopped_early = False
    for epoch in range(state.epoch + 1, tc.epochs + 1):
        _train_epoch(run, epoch)
        record = _end_epoch(run, epoch)
        run.cb.on_epoch_end(record)
        if _out_of_patience(run) or run.cb.stop_requested():
            stopped_early = True
            break
    records = read_metrics(run.run_dir)  # the last epoch's metrics, also after a resume
    run.saver.final(state, records[-1] if records else None)
    summary = {"status": "completed", "run_dir": str(run.run_dir), "epochs": state.epoch,
               "best_epoch": state.best_epoch, "best_loss": state.best, "stopped_early": stopped_early,
               "patience": tc.patience, "task": task.kind, "baselines": dict(task.baselines)}
    # the best epoch's headline metric, in the units of the baselines (original units)
    metric = "val_" + main_metric(task)[0]
    best = [r for r in records if r.get("epoch") == state.best_epoch and r.get(metric) is not None]
    if best:
        summary[f"best_{metric}"] = best[0][metric]
    return summary


def _train_epoch(run: Run, epoch: int) -> None:
    """Every batch of one epoch (from where a resumed run stopped), checkpointing as configured."""
    tc, state, data = run.cfg.train, run.state, run.data
    # -- data order: replay the epoch's permutation from its saved start state (resume-exact)
    run.order_rng.bit_generator.state = state.epoch_rng_state
    shuffle_rng = run.order_rng if tc.shuffle and not data.train.stateful else None
    batches = iterate_batches(data.train, data.task, tc.batch_size, rng=shuffle_rng,
                              drop_last=tc.drop_last, dtype=np.dtype(tc.dtype))
    t_epoch = time.perf_counter()
    for step, batch in enumerate(batches):
        if step < state.step_in_epoch:
            continue  # resumed mid-epoch: these batches were done before the interruption
        _train_batch(run, epoch, step, batch)
        state.step_in_epoch, state.global_step = step + 1, state.global_step + 1
        _report_step(run, epoch, step)
        if run.stop.signum:
            _save_progress(run, t_epoch)
            raise Interrupted(f"interrupted at epoch {epoch} step {step + 1}; checkpoint saved, "
                              f"continue with: rnn train --resume {run.run_dir}", run.stop.signum)
        if tc.checkpoint_every and state.global_step % tc.checkpoint_every == 0:
            _save_progress(run, t_epoch)
    sums = state.sums
    if sums.skipped and not sums.n:
        # on_nonfinite: skip, but nothing was left to train on: going on would only
        # overwrite the last good checkpoint with an epoch that learned nothing.
        raise NonFiniteError(
            f"epoch {epoch}: all {sums.skipped} steps had a non-finite loss or gradient and were "
            f"skipped (train.on_nonfinite: skip); try a lower train.lr (now {tc.lr:g}) or "
            "gradient clipping (train.clip_norm)")
    sums.seconds += time.perf_counter() - t_epoch


def _report_step(run: Run, epoch: int, step: int) -> None:
    """A step's progress: on the host at once; on a device at each read-back (training/steplog.py)."""
    if run.log.due(step + 1 == run.steps):
        run.log.flush(run.state.sums)
        run.cb.on_step_end(epoch, step + 1, run.steps, run.state.sums.mean_loss())


def _train_batch(run: Run, epoch: int, step: int, batch: Batch) -> None:
    """One batch: its truncated-BPTT windows in order, the hidden state carried between them."""
    state, stateful = run.state, run.data.train.stateful
    state.optimizer.lr = run.lr(state.global_step, epoch)  # every window of the batch uses it
    h = state.h_carry if stateful else None
    if h is not None and state_batch(h) != batch.x.shape[0]:
        h = None  # a shorter last batch starts fresh streams
    for window in bptt_windows(batch, run.cfg.train.bptt, run.spec.output):
        h = _train_window(run, window, h, epoch, step)
    state.h_carry = h if stateful else None


def _train_window(run: Run, window: tuple, h: np.ndarray | None, epoch: int, step: int):
    """Forward, backward, clip and update over one window; returns the state it hands on (no gradient)."""
    x, y, lengths, has_loss = window
    x, y, lengths = window_on_device(run.device, run.spec, x, y, lengths)
    tc, state, spec = run.cfg.train, run.state, run.spec
    mc = run.cfg.model
    drop = {"dropout": mc.dropout, "recurrent_dropout": mc.recurrent_dropout,
            "rng": run.dropout_rng if mc.dropout > 0 or mc.recurrent_dropout > 0 else None}
    if not has_loss:  # forward only: carry the state into the next window
        _, h, _ = forward(state.params, spec, x, lengths, h, **drop)
        return h
    # -- forward / backward over the window
    t0 = time.perf_counter()
    loss, grads, aux = loss_and_grads(state.params, spec, x, y, loss=run.data.task.loss, lengths=lengths,
                                      h0=h, **drop)
    state.sums.fb_seconds += time.perf_counter() - t0
    # -- clip, check, update
    norm = clip_gradients(grads, tc.clip_norm, tc.clip_value)
    if not run.log.record(epoch, step, loss, norm, aux["dh_norms"], state.sums):
        return None  # skipped: not finite, and train.on_nonfinite is skip
    state.optimizer.step(state.params, grads)
    return aux["h_final"]


def _end_epoch(run: Run, epoch: int) -> dict:
    """Validate, log the epoch's record, keep the best weights, checkpoint; returns the record."""
    tc, state, data = run.cfg.train, run.state, run.data
    t_val = time.perf_counter()
    val = compute_metrics(state.params, run.spec, data.task, data.val, batch_size=tc.batch_size,
                          dtype=np.dtype(tc.dtype), device=run.device
                          ) if data.val is not None and len(data.val) else {}
    lr = run.lr(state.global_step - 1, epoch)  # of the epoch's last batch
    record = state.sums.record(epoch, state.global_step, val, lr, time.perf_counter() - t_val)
    append_metrics(run.run_dir, record)
    score = record["val_loss"] if record["val_loss"] is not None else record["loss"]
    if run.schedule.name == "plateau":  # the only schedule with memory
        state.plateau = plateau_update(state.plateau, score, run.schedule.plateau_patience)
    state.epoch, state.step_in_epoch, state.h_carry = epoch, 0, None
    state.epoch_rng_state = run.order_rng.bit_generator.state
    state.sums = EpochSums()
    if score < state.best:
        state.best, state.best_epoch = score, epoch
        run.saver.best(state, record)
    count_patience(state, score, tc.val_smoothing)
    # Runs of many short epochs (small datasets trained for train.min_steps) save every k-th epoch:
    # an fsync'd checkpoint per epoch took 20x the training time. A resume replays from the last one.
    every = math.ceil(tc.epochs / SAVES_PER_RUN)
    if epoch % every == 0 or epoch == tc.epochs or _out_of_patience(run):
        _save_progress(run, None)
    return record


def _out_of_patience(run: Run) -> bool:
    """Early stopping: train.patience epochs in a row without a better score."""
    patience = run.cfg.train.patience
    return patience is not None and run.state.bad_epochs >= patience


def _save_progress(run: Run, t_epoch: float | None) -> None:
    """Checkpoint (and model.npz) now; mid-epoch, the epoch's time so far goes into the saved sums."""
    elapsed = 0.0 if t_epoch is None else time.perf_counter() - t_epoch
    run.log.flush(run.state.sums)  # raises if a step not yet read back diverged
    if run.device.is_host:  # (CuPy's generator has no state to save: see rnncli/device.py)
        run.state.dropout_rng_state = run.dropout_rng.bit_generator.state
    run.saver.progress(run.state, replace(run.state.sums, seconds=run.state.sums.seconds + elapsed))
