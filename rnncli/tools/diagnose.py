"""Gradient-flow diagnostics: does the gradient survive the trip back through time?

Letters: B batch, T time, H hidden, L layers.

On one batch, `diagnose` reports
- `dh_norms` (L, T): the norm of dL/dh_t of the real loss at every layer and step;
- `probe_dh_norms` (L, T): the same for the loss of the *last step only*. For a many-to-one model this
  is the real loss; for a many-to-many model it isolates what travels back through time (the real
  dL/dh_t also holds step t's own loss, which hides vanishing);
- per layer, `dh_ratio` = |dL/dh_1| / |dL/dh_T| of the probe and the per-step factor
  `dh_ratio ** (1 / (T - 1))` (a geometric mean: 0.5 means the gradient halves at every step back);
- per layer, the spectral radius max|eig(W_hh)| and the largest singular value of W_hh (the
  gradient through a step is diag(f'(a_t)) W_hh^T: radius below 1 with tanh shrinks it, radius above
  1 with relu, whose derivative is 1 on active units, can grow it);
- per tensor, the update-to-parameter norm ratio |dp| / |p| of ONE optimizer step on this batch
  (about 1e-3 is the usual healthy rule of thumb). We take one step rather than comparing a run's
  consecutive checkpoints because a run keeps only its latest checkpoint. Pass the optimizer restored
  from that checkpoint to see the step training would really take next (Adam's moments included);
  with a fresh Adam the first step moves every entry by about lr, whatever the gradient's size;
- a verdict: "vanishing", "exploding" or "healthy", and a sentence with the numbers behind it.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path

import numpy as np

from rnncli.config import Config
from rnncli.core.losses import LOSSES
from rnncli.core.model import ModelSpec, backward, forward, sequence_mask
from rnncli.core.optim import Optimizer, clip_gradients, make_optimizer
from rnncli.data.types import Batch, TaskInfo
from rnncli.device import CPU, Device
from rnncli.errors import UsageError, WeightsError
from rnncli.run_layout import CHECKPOINT
from rnncli.tools.attribution import attribution_map
from rnncli.tools.probe import config_batch, first_batch, initial_params
from rnncli.training.build import check_config_memory, optimizer_from_config
from rnncli.training.checkpoint import load_checkpoint
from rnncli.use.model_io import load_model
from rnncli.use.predict import load_data_for_model

__all__ = ["EXPLODING_RATIO", "VANISHING_RATIO", "diagnose", "diagnose_config", "diagnose_weights", "verdict"]

# A gradient at the first step 100x smaller (larger) than at the last means the early steps get
# (almost) no learning signal (or dominate it): the thresholds of the verdict.
VANISHING_RATIO = 1e-2
EXPLODING_RATIO = 1e2


def _recurrent_stats(params: dict[str, np.ndarray], spec: ModelSpec) -> list[dict]:
    """Per layer: spectral radius and largest singular value of the cell's recurrent matrix; a gated
    cell's (G*H, H) matrix is G square blocks, one per gate: the largest of each is reported, and
    every gate's under "gates"."""
    cell, H = spec.cell_module, spec.hidden_size
    stats = []
    for l in range(spec.num_layers):
        W = np.asarray(params[f"rnn.{l}.{cell.RECURRENT}"], dtype=np.float64)
        finite = bool(np.all(np.isfinite(W)))
        blocks = W.reshape(len(cell.GATES), H, H)
        radii = [float(np.max(np.abs(np.linalg.eigvals(b)))) if finite else math.nan for b in blocks]
        sings = [float(np.linalg.norm(b, 2)) if finite else math.nan for b in blocks]
        rec = {"layer": l, "spectral_radius": max(radii), "max_singular": max(sings)}
        if len(cell.GATES) > 1:
            rec["gates"] = {g: {"spectral_radius": r, "max_singular": s}
                            for g, r, s in zip(cell.GATES, radii, sings, strict=True)}
        stats.append(rec)
    return stats


def _last_step_probe(dout: np.ndarray, spec: ModelSpec, lengths, T: int) -> np.ndarray:
    """dL/dy kept only at each sequence's last valid step (sequence outputs (B, T, O))."""
    if spec.output == "last":
        return dout
    B = dout.shape[0]
    last = np.full(B, T - 1) if lengths is None else np.asarray(lengths) - 1
    probe = np.zeros_like(dout)
    rows = np.arange(B)
    probe[rows, last] = dout[rows, last]
    return probe


def _update_ratios(params, grads, optimizer: Optimizer) -> dict[str, float | None]:
    """|dp| / |p| per tensor after one step on copies (None where |p| = 0, e.g. zero-init biases)."""
    moved = {k: v.copy() for k, v in params.items()}
    optimizer.step(moved, grads)
    ratios: dict[str, float | None] = {}
    for name, p in params.items():
        p_norm = float(np.linalg.norm(p.astype(np.float64)))
        d_norm = float(np.linalg.norm(moved[name].astype(np.float64) - p.astype(np.float64)))
        ratios[name] = d_norm / p_norm if p_norm > 0 else None
    return ratios


def verdict(dh_ratios: list[float], T: int, recurrent: list[dict] | None = None) -> tuple[str, str]:
    """("vanishing" | "exploding" | "healthy", a sentence with the numbers) from per-layer ratios.

    The layer furthest from 1 (on a log scale) decides; non-finite or zero gradients count as
    exploding and vanishing respectively.
    """
    if T < 2:
        return "healthy", "a single time step: there is no path back through time to vanish or explode"
    if any(not math.isfinite(r) for r in dh_ratios):
        return "exploding", "the gradient became NaN or infinite on its way back through time"
    if any(r == 0 for r in dh_ratios):
        return "vanishing", f"no gradient at all reaches step 1 from step {T} (it underflowed to 0)"
    layer = max(range(len(dh_ratios)), key=lambda i: abs(math.log(dh_ratios[i])))
    r = dh_ratios[layer]
    per_step = r ** (1.0 / (T - 1))
    where = f" in layer {layer}" if len(dh_ratios) > 1 else ""
    radius = ""
    if recurrent:
        rec = recurrent[layer]
        radius = (f"; W_hh{where} has spectral radius {rec['spectral_radius']:.3g} and largest "
                  f"singular value {rec['max_singular']:.3g}")
    numbers = (f"|dL/dh_1| / |dL/dh_{T}| = {r:.3g}{where} over {T} steps, a factor of "
               f"{per_step:.3g} per step{radius}")
    if r < VANISHING_RATIO:
        return "vanishing", (f"{numbers}: the first steps get {1 / r:.3g}x less gradient than the last, "
                             f"so dependencies that far back are hard to learn")
    if r > EXPLODING_RATIO:
        return "exploding", (f"{numbers}: the first steps get {r:.3g}x more gradient than the last, so "
                             f"updates are dominated by them and training can diverge (clip gradients)")
    return "healthy", (f"{numbers}: within [{VANISHING_RATIO:g}, {EXPLODING_RATIO:g}], the gradient "
                       f"reaches the first step")


def diagnose(params: dict[str, np.ndarray], spec: ModelSpec, batch: Batch, task: TaskInfo, *,
             optimizer: str | Optimizer = "adam", lr: float = 1e-3, clip_norm: float | None = None,
             optimizer_options: dict | None = None, device: Device = CPU) -> dict:
    """Gradient flow of `params` on one batch (see the module docstring for every field).

    Args:
        batch: x (B, T, I), y (B, O) / (B,) / (B, T, O) / (B, T), lengths (B,) or None.
        task: its `loss` picks the loss.
        optimizer: a name (a fresh optimizer with `lr` and `optimizer_options`) or an Optimizer,
            e.g. one restored from a checkpoint; it is deep-copied, never changed.
        clip_norm: clip the gradient's global norm before the update step, as training does.
        device: where the forward and backward passes run (their results come back to the host).

    Returns:
        dict with T, batch_size, loss, grad_norm, dh_norms and probe_dh_norms ((L, T) lists),
        dh_ratio and dh_factor_per_step (per layer), recurrent (per layer: spectral_radius,
        max_singular), update_ratio (per tensor), verdict and explanation.
    """
    if spec.bidirectional:
        raise UsageError("rnn diagnose does not support bidirectional models yet (its per-layer "
                         "gradient flow and W_hh statistics read one direction per layer)")
    B, T = batch.x.shape[0], batch.x.shape[1]
    loss, grads, dh_norms, probe = _passes(params, spec, batch, task, device)
    probe = np.asarray(probe, dtype=np.float64)
    ratios = []
    for l in range(spec.num_layers):
        first, last = float(probe[l, 0]), float(probe[l, -1])
        ratios.append(first / last if last > 0 else (math.inf if first > 0 else 0.0))
    recurrent = _recurrent_stats(params, spec)
    word, why = verdict(ratios, T, recurrent)
    if isinstance(optimizer, str):
        opt = make_optimizer(optimizer, lr, **(optimizer_options or {}))
    else:
        opt = copy.deepcopy(optimizer)
    grad_norm = clip_gradients(grads, clip_norm)
    return {
        "T": int(T),
        "batch_size": int(B),
        "loss": float(loss),
        "grad_norm": grad_norm,
        "dh_norms": np.asarray(dh_norms, dtype=np.float64).tolist(),
        "probe_dh_norms": probe.tolist(),
        "dh_ratio": ratios,
        "dh_factor_per_step": [r ** (1.0 / (T - 1)) if T > 1 and 0 < r < math.inf else None
                               for r in ratios],
        "recurrent": recurrent,
        "update_ratio": _update_ratios(params, grads, opt),
        "optimizer": type(opt).__name__.lower(),
        "verdict": word,
        "explanation": why,
    }


def _passes(params, spec: ModelSpec, batch: Batch, task: TaskInfo, device: Device) -> tuple:
    """(loss, grads, dh_norms, probe dh_norms) of one batch, computed on `device`, on the host."""
    on = device.to_device
    lengths, T = on(batch.lengths), batch.x.shape[1]
    out, _, cache = forward(on(params), spec, on(batch.x), lengths)
    loss, dout = LOSSES[task.loss](out, on(batch.y), sequence_mask(spec, lengths, T))
    grads, _, _, dh_norms = backward(dout, cache)
    if spec.output == "last":
        probe = dh_norms
    else:
        probe_dy = _last_step_probe(device.to_host(dout), spec, batch.lengths, T)
        _, _, _, probe = backward(on(probe_dy), cache)
    host = device.to_host
    return float(host(loss)), host(grads), host(dh_norms), host(probe)


def diagnose_config(cfg: Config, *, batch_size: int = 32, steps: int | None = None,
                    base_dir: Path | None = None, attribution: bool = False, device: Device = CPU) -> dict:
    """Diagnose the config's model at initialisation (the same weights `rnn train` starts from)
    on the first sequences of its training data, with one step of its optimizer; `attribution` adds
    the attribution map and unit saturation (tools/attribution.py) as "map"."""
    cfg, spec, task, batch = config_batch(cfg, batch_size=batch_size, steps=steps, base_dir=base_dir)
    params = initial_params(cfg, spec)
    report = diagnose(params, spec, batch, task, optimizer=optimizer_from_config(cfg),
                      clip_norm=cfg.train.clip_norm, device=device)
    if attribution:
        report["map"] = attribution_map(params, spec, batch, task, seed=cfg.seed)
    return {"source": "config (weights at initialisation)", "model": spec.to_dict(), **report}


def diagnose_weights(path: str | Path, *, batch_size: int = 32, steps: int | None = None,
                     base_dir: Path | None = None, attribution: bool = False, device: Device = CPU) -> dict:
    """Diagnose saved weights (a .npz or a run directory) on validation sequences of their training
    data. For a run directory with checkpoint.npz, the update ratios use the optimizer state saved
    there (the step training would take next); otherwise a fresh optimizer of the run's config."""
    model = load_model(path)
    if model.cfg is not None:
        check_config_memory(model.cfg, "diagnose", batch_size=batch_size, steps=steps)
    if model.cfg is None:
        raise UsageError(f"{path}: these weights carry no training config to take data from; "
                         "use --config instead")
    bundle = load_data_for_model(model, None, base_dir=base_dir)
    data = bundle.val if bundle.val is not None and len(bundle.val) else bundle.train
    params = {k: v.astype(np.float64) for k, v in model.params.items()}
    batch = first_batch(data, model.task, batch_size, steps, model.spec.output)
    optimizer = optimizer_from_config(model.cfg)
    source = f"weights {model.path}"
    run_dir = Path(path)
    if run_dir.is_dir() and (run_dir / CHECKPOINT).is_file():
        try:
            state = load_checkpoint(run_dir, model.spec, optimizer, np.float64)
        except WeightsError:
            optimizer = optimizer_from_config(model.cfg)  # only the optimizer state is lost
        else:
            # The run's best weights (what eval and predict use); the update ratios use the
            # optimizer state of the last checkpoint, the closest saved one.
            optimizer = state.optimizer
            source = (f"weights {model.path} (epoch {model.meta.get('epoch')}), optimizer "
                      f"state of {run_dir / 'checkpoint.npz'} (epoch {state.epoch})")
    report = diagnose(params, model.spec, batch, model.task, optimizer=optimizer,
                      clip_norm=model.cfg.train.clip_norm, device=device)
    if attribution:
        report["map"] = attribution_map(params, model.spec, batch, model.task)
    return {"source": source, "model": model.spec.to_dict(), **report}
