"""The training loop: one flat loop with commented phases, reporting through callbacks, never printing.

Reproducible: parameters, data order and dropout masks come from three generators seeded from the
config's seed, and a checkpoint holds all their states, so a run interrupted at any step and resumed
ends with weights bit-identical to an uninterrupted one.
"""

from __future__ import annotations

import math
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rnncli.checkpoint import load_checkpoint, save_checkpoint, save_model
from rnncli.config import config_to_yaml
from rnncli.core.init import init_params
from rnncli.core.model import ModelSpec, forward, loss_and_grads
from rnncli.core.optim import clip_gradients
from rnncli.data import Batch, DataBundle, iterate_batches, load_dataset, num_batches
from rnncli.errors import Interrupted, NonFiniteError
from rnncli.evaluation import evaluate
from rnncli.fsutil import atomic_write_text
from rnncli.runfiles import (
    append_metrics,
    argv_list,
    claim_run_dir,
    now,
    read_metrics,
    read_run_json,
    remove_stale_temps,
    truncate_metrics,
    versions,
    write_run_json,
)
from rnncli.setup import build_spec, check_batches, check_memory, optimizer_from_config


class TrainCallbacks:
    """Hooks the CLI overrides to show progress; every method is a no-op here."""

    def on_train_start(self, info: dict) -> None: ...
    def on_step_end(self, epoch: int, step: int, steps: int, loss: float) -> None: ...
    def on_epoch_end(self, record: dict) -> None: ...
    def on_train_end(self, summary: dict) -> None: ...


@dataclass
class TrainState:
    """Everything that changes during training; a checkpoint stores all of it."""

    params: dict[str, np.ndarray]
    optimizer: object
    epoch: int = 0  # completed epochs
    step_in_epoch: int = 0  # batches done in the epoch in progress
    global_step: int = 0
    epoch_rng_state: dict | None = None  # data-order generator at the start of the epoch in progress
    dropout_rng_state: dict | None = None
    h_carry: np.ndarray | None = None  # stateful (text) data: the state carried from batch to batch
    best: float = math.inf
    best_epoch: int = 0
    bad_epochs: int = 0
    acc: dict = field(default_factory=dict)  # this epoch's running sums


def _fresh_acc() -> dict:
    return {"loss": 0.0, "n": 0, "grad_norm": 0.0, "grad_norm_max": 0.0, "log_dh_ratio": 0.0,
            "n_ratio": 0, "skipped": 0, "fb_seconds": 0.0, "seconds": 0.0}


def _windows(batch: Batch, k: int | None, output: str):
    """Cut a batch along time into truncated-BPTT windows of k steps: (x, y, lengths, has_loss)."""
    T = batch.x.shape[1]
    if not k or k >= T:
        yield batch.x, batch.y, batch.lengths, True
        return
    for s in range(0, T, k):
        lengths = None if batch.lengths is None else np.clip(batch.lengths - s, 0, k)
        last = s + k >= T
        if output == "sequence":
            yield batch.x[:, s:s + k], batch.y[:, s:s + k], lengths, True
        else:  # many-to-one: only the final window sees the target; earlier ones just carry the state
            yield batch.x[:, s:s + k], batch.y, lengths, last


class _StopRequest:
    """SIGINT/SIGTERM set a flag; the loop finishes its step, checkpoints and stops."""

    def __init__(self):
        self.signum = 0
        self._old = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.signum:  # a second Ctrl-C: the user insists
            raise KeyboardInterrupt
        self.signum = signum

    def __exit__(self, *exc):
        for sig, handler in self._old.items():
            signal.signal(sig, handler)


def train(cfg, run_dir: Path, *, callbacks: TrainCallbacks | None = None, resume: bool = False,
          argv: list[str] | None = None, base_dir: Path | None = None) -> dict:
    """Train from a validated Config into `run_dir`; returns the summary.

    Raises NonFiniteError (exit 1) on a NaN/inf loss or gradient, Interrupted (exit 130) after
    SIGINT/SIGTERM, ConfigError/DataError (exit 2) for bad input, all after saving what there is.
    """
    cb = callbacks or TrainCallbacks()
    dtype = np.dtype(cfg.train.dtype)
    data = load_dataset(cfg.data, seed=cfg.seed, dtype=dtype, base_dir=base_dir or Path.cwd())
    cfg, spec = build_spec(cfg, data.task)
    check_memory(cfg, spec, data)
    check_batches(cfg, data)
    init_rng, order_rng, dropout_rng = (np.random.default_rng([cfg.seed, k]) for k in range(3))
    optimizer = optimizer_from_config(cfg)
    if resume:
        state = load_checkpoint(run_dir, spec, optimizer, dtype)
        remove_stale_temps(run_dir)
        order_rng.bit_generator.state = state.epoch_rng_state
        dropout_rng.bit_generator.state = state.dropout_rng_state
        truncate_metrics(run_dir, state.epoch)
        run_info = read_run_json(run_dir)
        run_info.setdefault("resumed", []).append({"argv": argv_list(argv), "time": now()})
    else:
        claim_run_dir(run_dir)
        atomic_write_text(run_dir / "config.yaml", config_to_yaml(cfg))
        params = init_params(spec, init_rng, init=cfg.model.init, recurrent_init=cfg.model.recurrent_init,
                             scale=cfg.model.init_scale, dtype=dtype)
        state = TrainState(params, optimizer, epoch_rng_state=order_rng.bit_generator.state,
                           dropout_rng_state=dropout_rng.bit_generator.state, acc=_fresh_acc())
        run_info = {"argv": argv_list(argv), "versions": versions(), "seed": cfg.seed, "start": now()}
    run_info.update(status="running", end=None)
    write_run_json(run_dir, run_info)
    try:
        # Overflow is expected when training diverges and is caught by the finiteness check
        # below with a useful message; numpy's RuntimeWarnings would only add noise to stderr.
        with _StopRequest() as stop, np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            summary = _loop(cfg, spec, data, state, order_rng, dropout_rng, run_dir, cb, stop)
    except (NonFiniteError, Interrupted) as exc:
        run_info.update(status="interrupted" if isinstance(exc, Interrupted) else "failed",
                        end=now(), error=str(exc))
        write_run_json(run_dir, run_info)
        raise
    run_info.update(status="completed", end=now(), summary=summary)
    write_run_json(run_dir, run_info)
    cb.on_train_end(summary)
    return summary


def _loop(cfg, spec: ModelSpec, data: DataBundle, state: TrainState, order_rng, dropout_rng,
          run_dir: Path, cb: TrainCallbacks, stop: _StopRequest) -> dict:
    tc, task, params = cfg.train, data.task, state.params
    dtype = np.dtype(tc.dtype)
    stateful = data.train.stateful
    steps = num_batches(data.train, tc.batch_size, tc.drop_last)
    dropout = cfg.model.dropout
    cb.on_train_start({"epochs": tc.epochs, "steps_per_epoch": steps, "start_epoch": state.epoch,
                       "spec": spec.to_dict(), "task": task.to_dict(), "run_dir": str(run_dir)})
    stopped_early = False
    for epoch in range(state.epoch + 1, tc.epochs + 1):
        # -- data order: replay the epoch's permutation from its saved start state (resume-exact)
        order_rng.bit_generator.state = state.epoch_rng_state
        shuffle_rng = order_rng if tc.shuffle and not stateful else None
        batches = iterate_batches(data.train, task, tc.batch_size, rng=shuffle_rng,
                                  drop_last=tc.drop_last, dtype=dtype)
        acc, t_epoch = state.acc, time.perf_counter()
        for step, batch in enumerate(batches):
            if step < state.step_in_epoch:
                continue  # resumed mid-epoch: these batches were done before the interruption
            h = state.h_carry if stateful else None
            if h is not None and h.shape[1] != batch.x.shape[0]:
                h = None
            for x, y, lengths, has_loss in _windows(batch, tc.bptt, spec.output):
                rng = dropout_rng if dropout > 0 else None
                if not has_loss:  # forward only: carry the state into the next window
                    _, h, _ = forward(params, spec, x, lengths, h, dropout=dropout, rng=rng)
                    continue
                # -- forward / backward over the window; its final state goes on without gradient
                t0 = time.perf_counter()
                loss, grads, aux = loss_and_grads(params, spec, x, y, loss=task.loss, lengths=lengths,
                                                  h0=h, dropout=dropout, rng=rng)
                acc["fb_seconds"] += time.perf_counter() - t0
                h = aux["h_final"]
                # -- clip, check, update
                norm = clip_gradients(grads, tc.clip_norm, tc.clip_value)
                if not (math.isfinite(loss) and math.isfinite(norm)):
                    if tc.on_nonfinite == "skip":
                        acc["skipped"] += 1
                        h = None
                        continue
                    raise NonFiniteError(_nonfinite_message(epoch, step + 1, loss, norm, tc, run_dir))
                state.optimizer.step(params, grads)
                # -- bookkeeping for the epoch record
                acc["loss"] += loss
                acc["n"] += 1
                acc["grad_norm"] += norm
                acc["grad_norm_max"] = max(acc["grad_norm_max"], norm)
                top = aux["dh_norms"][-1]
                if top[0] > 0 and top[-1] > 0:
                    acc["log_dh_ratio"] += math.log(top[0] / top[-1])
                    acc["n_ratio"] += 1
            state.h_carry = h if stateful else None
            state.step_in_epoch, state.global_step = step + 1, state.global_step + 1
            cb.on_step_end(epoch, step + 1, steps, acc["loss"] / max(acc["n"], 1))
            if stop.signum:
                _save_progress(state, dropout_rng, cfg, spec, task, run_dir, acc, t_epoch)
                raise Interrupted(f"interrupted at epoch {epoch} step {step + 1}; checkpoint saved, "
                                  f"continue with: rnn train --resume {run_dir}")
            if tc.checkpoint_every and state.global_step % tc.checkpoint_every == 0:
                _save_progress(state, dropout_rng, cfg, spec, task, run_dir, acc, t_epoch)
        # -- end of epoch: validate, log, keep the best, checkpoint, maybe stop early
        if acc["skipped"] and not acc["n"]:
            # on_nonfinite: skip, but nothing was left to train on: going on would only
            # overwrite the last good checkpoint with an epoch that learned nothing.
            raise NonFiniteError(
                f"epoch {epoch}: all {acc['skipped']} steps had a non-finite loss or gradient and were "
                f"skipped (train.on_nonfinite: skip); try a lower train.lr (now {tc.lr:g}) or "
                "gradient clipping (train.clip_norm)")
        acc["seconds"] += time.perf_counter() - t_epoch
        t_val = time.perf_counter()
        val = evaluate(params, spec, task, data.val, batch_size=tc.batch_size, dtype=dtype) \
            if data.val is not None and len(data.val) else {}
        record = _epoch_record(epoch, state, acc, val, tc.lr, time.perf_counter() - t_val)
        append_metrics(run_dir, record)
        score = record["val_loss"] if record["val_loss"] is not None else record["loss"]
        state.epoch, state.step_in_epoch, state.h_carry = epoch, 0, None
        state.epoch_rng_state = order_rng.bit_generator.state
        state.acc = _fresh_acc()
        if score < state.best:
            state.best, state.best_epoch, state.bad_epochs = score, epoch, 0
            save_model(run_dir / "best.npz", params, cfg, spec, task, epoch, record)
        else:
            state.bad_epochs += 1
        _save_progress(state, dropout_rng, cfg, spec, task, run_dir, state.acc, None)
        cb.on_epoch_end(record)
        if tc.patience is not None and state.bad_epochs >= tc.patience:
            stopped_early = True
            break
    records = read_metrics(run_dir)  # the last epoch's metrics, also after a resume
    save_model(run_dir / "model.npz", params, cfg, spec, task, state.epoch, records[-1] if records else None)
    return {"status": "completed", "run_dir": str(run_dir), "epochs": state.epoch,
            "best_epoch": state.best_epoch, "best_loss": state.best, "stopped_early": stopped_early,
            "task": task.kind, "baselines": dict(task.baselines)}


def _nonfinite_message(epoch: int, step: int, loss: float, norm: float, tc, run_dir: Path) -> str:
    """One line: where it happened, what went non-finite, what to try, what was kept."""
    what = f"the loss became {loss}" if not math.isfinite(loss) else f"the gradient norm became {norm}"
    hints = [f"a lower train.lr (now {tc.lr:g})"]
    if tc.clip_norm is None:
        hints.append("gradient clipping (train.clip_norm: 1.0)")
    hints.append("a smaller model.init_scale or model.init: xavier")
    ckpt = Path(run_dir) / "checkpoint.npz"
    kept = (f"the last good checkpoint {ckpt} is kept (continue with rnn train --resume {run_dir} "
            "--set train.lr=...)" if ckpt.is_file() else "no checkpoint had been written yet")
    return (f"epoch {epoch} step {step}: {what}; try {', '.join(hints)}, or train.on_nonfinite: skip; "
            f"{kept}")


def _epoch_record(epoch, state, acc, val, lr, val_seconds) -> dict:
    n = max(acc["n"], 1)
    record = {
        "epoch": epoch, "step": state.global_step,
        "loss": acc["loss"] / n if acc["n"] else float("nan"),
        "val_loss": val.get("loss"),
        **{f"val_{k}": v for k, v in val.items() if k != "loss"},
        "lr": lr, "grad_norm": acc["grad_norm"] / n, "grad_norm_max": acc["grad_norm_max"],
        # dL/dh at the first step over the last (top layer, geometric mean over steps):
        # far below 1 means gradients vanish back through time, far above means they explode
        "dh_ratio": math.exp(acc["log_dh_ratio"] / acc["n_ratio"]) if acc["n_ratio"] else None,
        "seconds": acc["seconds"] + val_seconds, "fb_seconds": acc["fb_seconds"],
        "val_seconds": val_seconds,
    }
    if acc["skipped"]:
        record["skipped_steps"] = acc["skipped"]
    return record


def _save_progress(state, dropout_rng, cfg, spec, task, run_dir, acc, t_epoch) -> None:
    """Checkpoint (and model.npz) now; mid-epoch, the epoch's time so far goes into the saved sums."""
    elapsed = 0.0 if t_epoch is None else time.perf_counter() - t_epoch
    state.dropout_rng_state = dropout_rng.bit_generator.state
    save_checkpoint(run_dir, state, cfg, spec, task, acc=dict(acc, seconds=acc["seconds"] + elapsed))
    save_model(run_dir / "model.npz", state.params, cfg, spec, task, state.epoch, None)
