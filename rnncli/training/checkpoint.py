"""Saving weights with their meta, and checkpoints that resume training exactly.

model.npz / best.npz hold the parameters and meta (config, model spec, task, epoch, metrics).
checkpoint.npz adds the optimizer's state arrays (as `optim.<slot>.<param>`), the carried hidden
state of stateful data (`h_carry`; the LSTM adds `c_carry`), and in meta the counters, RNG states
and the epoch's running sums.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rnncli import __version__
from rnncli.config import Config, config_to_dict
from rnncli.core.cells import state_from_parts, state_parts
from rnncli.core.model import ModelSpec
from rnncli.data import TaskInfo
from rnncli.device import CPU, Device
from rnncli.errors import WeightsError
from rnncli.run_layout import BEST, CHECKPOINT, MODEL
from rnncli.training.schedules import PlateauState
from rnncli.training.state import EpochSums, TrainState
from rnncli.weights import load_weights, save_weights


def model_meta(cfg: Config, spec: ModelSpec, task: TaskInfo, epoch: int, metrics: dict | None) -> dict:
    return {"config": config_to_dict(cfg), "model": spec.to_dict(), "task": task.to_dict(),
            "epoch": epoch, "metrics": metrics, "rnn_version": __version__}


@dataclass(frozen=True)
class RunSaver:
    """What every save of a run needs, so that a save in the loop is one short call.

    A new best is kept in memory and written as best.npz with the next progress save (and at the
    end), so best.npz on disk always belongs with checkpoint.npz, however rarely they are saved.
    Files are written from host copies, so they are the same whichever device trained.
    """

    run_dir: Path
    cfg: object
    spec: ModelSpec
    task: TaskInfo
    _pending_best: dict = field(default_factory=dict)  # params, epoch, record of an unsaved best
    device: Device = CPU  # where the arrays handed to a save live

    def model(self, name: str, params: dict[str, np.ndarray], epoch: int, metrics: dict | None) -> None:
        """Weights and meta as RUN_DIR/name (model.npz or best.npz)."""
        save_weights(self.run_dir / name, self.device.to_host(params),
                     model_meta(self.cfg, self.spec, self.task, epoch, metrics))

    def best(self, state: TrainState, record: dict) -> None:
        """Remember the current weights as the best; written by the next `progress` or `final`."""
        params = {k: v.copy() for k, v in state.params.items()}  # (a copy on the device: no transfer)
        self._pending_best.update(params=params, epoch=state.epoch, record=record)

    def flush_best(self) -> None:
        """Write a remembered best as best.npz now."""
        if self._pending_best:
            p = self._pending_best
            self.model(BEST, p["params"], p["epoch"], p["record"])
            self._pending_best.clear()

    def final(self, state: TrainState, record: dict | None) -> None:
        self.flush_best()
        self.model(MODEL, state.params, state.epoch, record)

    def progress(self, state: TrainState, sums: EpochSums) -> None:
        """checkpoint.npz (with `sums` as the epoch's running sums), best.npz if a new best is
        pending, and model.npz, now."""
        self.flush_best()
        meta = model_meta(self.cfg, self.spec, self.task, state.epoch, None)
        opt_state = state.optimizer.state_dict()
        meta["checkpoint"] = {
            "epoch": state.epoch, "step_in_epoch": state.step_in_epoch, "global_step": state.global_step,
            "optimizer_t": opt_state.pop("t"), "epoch_rng_state": state.epoch_rng_state,
            "dropout_rng_state": state.dropout_rng_state, "best": state.best, "best_epoch": state.best_epoch,
            "bad_epochs": state.bad_epochs, "acc": sums.to_dict(), "plateau": state.plateau.to_dict(),
            "smooth": state.smooth,
            "smooth_best": None if math.isinf(state.smooth_best) else state.smooth_best,  # JSON: no inf
        }
        extra = {f"optim.{k}": v for k, v in self.device.to_host(opt_state).items()}
        names = self.spec.state_names  # h_carry, and c_carry for the LSTM
        carried = self.device.to_host(state.h_carry)
        for name, part in zip(names, state_parts(carried, len(names)), strict=True):
            if part is not None:
                extra[f"{name}_carry"] = part
        save_weights(self.run_dir / CHECKPOINT, self.device.to_host(state.params), meta, extra)
        self.final(state, None)


def load_checkpoint(run_dir: Path, spec: ModelSpec, optimizer, dtype) -> TrainState:
    """The TrainState saved in RUN_DIR/checkpoint.npz, with `optimizer` restored in place."""
    path = Path(run_dir) / CHECKPOINT
    if not path.is_file():
        raise WeightsError(f"{path}: no checkpoint to resume from (is {run_dir} a run directory?)")
    params, meta, extra = load_weights(path)
    ck = meta.get("checkpoint")
    if not isinstance(ck, dict):
        raise WeightsError(f"{path}: meta has no 'checkpoint' section; not a training checkpoint")
    if ModelSpec.from_dict(meta["model"]) != spec:
        raise WeightsError(f"{path}: the checkpoint's model {meta['model']} does not match the config's "
                           f"{spec.to_dict()}")
    try:
        state = _restore(ck, params, extra, optimizer, dtype, spec.state_names)
    except (KeyError, TypeError, ValueError, IndexError) as e:
        raise WeightsError(f"{path}: the checkpoint does not fit train.optimizer "
                           f"{type(optimizer).__name__.lower()!r} or is malformed ({type(e).__name__}: "
                           f"{str(e)[:80]}); resume with the optimizer the run was started with") from None
    _check_resumable(path, state, params, extra)
    _check_carry(path, extra, spec)
    return state


def _check_resumable(path: Path, state: TrainState, params: dict, extra: dict) -> None:
    """What the loop will use as it is: the generators' states and the optimizer's slots (a slot
    of another shape would fail at the first update, far from the file)."""
    for key in ("epoch_rng_state", "dropout_rng_state"):
        try:
            np.random.PCG64().state = getattr(state, key)  # what the loop's generators are
        except (TypeError, ValueError, KeyError, OverflowError, AttributeError) as e:
            raise WeightsError(f"{path}: malformed checkpoint: meta.checkpoint.{key} is not a PCG64 "
                               f"generator state ({type(e).__name__})") from None
    for name, arr in extra.items():
        target = name.split(".", 2)[-1] if name.startswith("optim.") else None
        if target in params and arr.shape != params[target].shape:
            raise WeightsError(f"{path}: malformed checkpoint: {name[:80]} has shape {arr.shape}, its "
                               f"parameter {params[target].shape}")
        if target in params and arr.dtype.kind != "f":
            raise WeightsError(f"{path}: malformed checkpoint: {name[:80]} has dtype {arr.dtype}, "
                               "expected floats")


def _check_carry(path: Path, extra: dict, spec: ModelSpec) -> None:
    """The state carried between batches of stateful data: all of the cell's parts (h_carry, and
    c_carry for the LSTM) or none, each (L * D, B, H) floats of one shape. Anything else was
    once dropped or cut silently, and the run resumed from another state than it saved."""
    names = [f"{name}_carry" for name in spec.state_names]
    found = sorted(k for k in extra if k.endswith("_carry"))
    if not found:
        return
    if found != sorted(names):
        raise WeightsError(f"{path}: malformed checkpoint: it carries {', '.join(found)[:80]}; a "
                           f"{spec.cell} model's carried state is {' and '.join(names)}")
    shapes = [extra[name].shape for name in names]
    if not _state_shaped(shapes, spec):
        raise WeightsError(f"{path}: malformed checkpoint: {' and '.join(names)} have shape "
                           f"{' and '.join(str(s) for s in shapes)}, the model's state "
                           f"is ({spec.num_layers * spec.directions}, batch, {spec.hidden_size})")
    for name in names:
        _check_float(path, name, extra[name])


def _check_float(path: Path, name: str, arr: np.ndarray) -> None:
    if arr.dtype.kind != "f":
        raise WeightsError(f"{path}: malformed checkpoint: {name} has dtype {arr.dtype}")


def _state_shaped(shapes: list[tuple[int, ...]], spec: ModelSpec) -> bool:
    """Whether the carried parts' shapes are one (L * D, B, H) shape."""
    if len(set(shapes)) != 1 or len(shapes[0]) != 3:
        return False
    layers, batch, hidden = shapes[0]
    return layers == spec.num_layers * spec.directions and batch >= 1 and hidden == spec.hidden_size


def _restore(ck: dict, params: dict, extra: dict, optimizer, dtype, state_names: tuple[str, ...]
             ) -> TrainState:
    opt_state = {k[len("optim."):]: v for k, v in extra.items() if k.startswith("optim.")}
    opt_state["t"] = ck["optimizer_t"]
    optimizer.load_state_dict(opt_state)
    best = ck["best"] if ck["best"] is not None else np.inf  # JSON has no inf: saved as null
    return TrainState(
        params={k: v.astype(dtype, copy=False) for k, v in params.items()}, optimizer=optimizer,
        epoch=int(ck["epoch"]), step_in_epoch=int(ck["step_in_epoch"]), global_step=int(ck["global_step"]),
        epoch_rng_state=ck["epoch_rng_state"], dropout_rng_state=ck["dropout_rng_state"],
        h_carry=_carry(extra, state_names), best=float(best), best_epoch=ck["best_epoch"],
        bad_epochs=int(ck["bad_epochs"]), sums=EpochSums.from_dict(ck["acc"]),
        plateau=PlateauState.from_dict(ck.get("plateau")),  # absent in checkpoints from before schedules
        smooth=ck.get("smooth"),  # absent in checkpoints from before val_smoothing
        smooth_best=math.inf if ck.get("smooth_best") is None else float(ck["smooth_best"]),
    )


def _carry(extra: dict, names: tuple[str, ...]):
    """The carried state of stateful data: h_carry (and c_carry for the LSTM), or None if none was saved."""
    parts = [extra.get(f"{name}_carry") for name in names]
    if any(p is None for p in parts):
        return None
    return state_from_parts(tuple(parts))
