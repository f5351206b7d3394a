"""Gradient attribution maps (`rnn diagnose --map`): which earlier steps each output still hears from.

Letters: B batch, T time, I input, H hidden, O output, L layers; s a source step, t a target step.

On one batch:
- `targets`: the target steps t, every step of a sequence model up to MAX_TARGETS (beyond, that many
  evenly spaced: the work is one backward pass per target), the last step of a many-to-one model.
- `dh` (L, targets, T): |dL_t / dh_s|, the Frobenius norm over the batch and the units of the gradient that
  the loss of step t alone (L_t) sends back to the state h_s of each layer, for every s <= t (NaN for s > t,
  where nothing flows). A many-to-one model has one target, its output after the last step: one row.
  In a healthy network the row stays level going left (back in time); where it vanishes it fades.
- `dx` (targets, T): |dy_t / dx_s|, the Frobenius norm over the batch of the Jacobian of the output at t
  with respect to the input at s (all O x I entries): how much each input step can still move the output.
  It takes one backward pass per output unit; with more than MAX_DIRECTIONS outputs the norm is estimated
  from MAX_DIRECTIONS random projections (E|v^T J|^2 = |J|^2 for v ~ N(0, I)), and `dx_estimated` says so.
- `saturation` per layer: tanh, the fraction of valid (b, t) where |h| > 0.99 for each unit (there
  f'(a) = 1 - h^2 < 0.02 and the gradient through the unit all but stops); relu, the fraction where the
  unit is active, and the units that never are (they pass no gradient at all).
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from rnncli.core.losses import LOSSES
from rnncli.core.model import ModelSpec, backward, forward, sequence_mask
from rnncli.core.rnn import length_mask
from rnncli.data.types import Batch, TaskInfo
from rnncli.errors import UsageError
from rnncli.fsutil import atomic_write_bytes
from rnncli.memory import check_fits, memory_budget, step_memory_bytes

__all__ = ["LEGEND", "MAX_DIRECTIONS", "SATURATED", "attribution_map", "map_png", "saturation", "shaded_grid"]

MAX_DIRECTIONS = 16  # output units probed one by one for dx; more are estimated by random projections
MAX_TARGETS = 64  # target steps of a sequence model's map; more are sampled evenly (rows of the map)
SATURATED = 0.99  # |tanh| above this: derivative below 1 - 0.99^2 = 0.0199


def _targets(spec: ModelSpec, T: int) -> list[int]:
    """The target steps t: the last one (many-to-one), else every step up to MAX_TARGETS, beyond
    that MAX_TARGETS evenly spaced ones (the work is one backward pass per target: T^2 in all)."""
    if spec.output == "last":
        return [T - 1]
    if T <= MAX_TARGETS:
        return list(range(T))
    return sorted({int(t) for t in np.linspace(0, T - 1, MAX_TARGETS).round()})


def _after_target(targets: list[int], T: int) -> np.ndarray:
    """(targets, T) True where s > t: nothing flows back from a later step."""
    return np.arange(T)[None, :] > np.asarray(targets)[:, None]


def check_map_fits(spec: ModelSpec, batch_size: int, T: int) -> None:
    """Refuse a map whose buffers would not fit, before the first pass: the maps themselves, the K
    probe copies of the batch through a forward and backward pass, and the plain batch's pass."""
    K = min(spec.output_size, MAX_DIRECTIONS)
    rows = len(_targets(spec, T))
    parts = {"maps": (spec.num_layers + 1) * rows * T * 8,
             "probe passes": step_memory_bytes(spec, K * batch_size, T, np.float64),
             "backward": step_memory_bytes(spec, batch_size, T, np.float64)}
    check_fits(parts, memory_budget(), f"diagnose --map ({batch_size} sequences of {T} steps, "
               f"{rows} target steps)", "lower --steps or --batch-size", UsageError)


def _only_step(dout: np.ndarray, t: int) -> np.ndarray:
    """dL/dy of a sequence model kept at step t only: the gradient of L_t alone."""
    probe = np.zeros_like(dout)
    probe[:, t] = dout[:, t]
    return probe


def _dh_map(params, spec: ModelSpec, batch: Batch, task: TaskInfo) -> np.ndarray:
    x, T = batch.x, batch.x.shape[1]
    out, _, cache = forward(params, spec, x, batch.lengths)
    _, dout = LOSSES[task.loss](out, batch.y, sequence_mask(spec, batch.lengths, T))
    rows = []
    for t in _targets(spec, T):
        _, _, _, dh_norms = backward(dout if spec.output == "last" else _only_step(dout, t), cache)
        rows.append(np.asarray(dh_norms, dtype=np.float64))  # (L, T)
    dh = np.stack(rows, axis=1)  # (L, targets, T)
    if spec.output == "sequence":
        dh[:, _after_target(_targets(spec, T), T)] = np.nan  # row t, column s > t: nothing flows back
    return dh


def _directions(O: int, rng: np.random.Generator) -> tuple[np.ndarray, bool]:
    """(K, O) output directions whose backward passes give |J|_F^2 = sum_k |v_k^T J|^2, and whether
    that is an estimate."""
    if O <= MAX_DIRECTIONS:
        return np.eye(O), False
    return rng.standard_normal((MAX_DIRECTIONS, O)) / np.sqrt(MAX_DIRECTIONS), True


def _dx_map(params, spec: ModelSpec, batch: Batch, rng: np.random.Generator) -> tuple[np.ndarray, bool]:
    x, lengths = batch.x, batch.lengths
    B, T = x.shape[:2]
    V, estimated = _directions(spec.output_size, rng)
    K = V.shape[0]
    # K copies of the batch, copy k probing direction k: one backward pass per target step.
    reps = np.tile(x, (K,) + (1,) * (x.ndim - 1))  # x may be (B, T) token ids
    _, _, cache = forward(params, spec, reps, None if lengths is None else np.tile(lengths, K))
    dtype = params["head.b_y"].dtype  # of the outputs (x may be integer token ids)
    dirs = np.repeat(V, B, axis=0).astype(dtype)  # (K*B, O)
    rows = []
    for t in _targets(spec, T):
        if spec.output == "last":
            dy = dirs
        else:
            dy = np.zeros((K * B, T, spec.output_size), dtype=dtype)
            dy[:, t] = dirs
            if lengths is not None:
                dy *= length_mask(np.tile(lengths, K), T)[:, :, None]
        _, dx, _, _ = backward(dy, cache)
        rows.append(np.sqrt((np.asarray(dx, dtype=np.float64) ** 2).sum(axis=(0, 2))))  # (T,)
    dxm = np.stack(rows)
    if spec.output == "sequence":
        dxm[_after_target(_targets(spec, T), T)] = np.nan
    return dxm, estimated


def saturation(params, spec: ModelSpec, batch: Batch) -> list[dict]:
    """Per layer: tanh, the fraction of valid (b, t) with |h| > SATURATED per unit; relu, the fraction
    where each unit is active, and the never-active units."""
    _, _, cache = forward(params, spec, batch.x, batch.lengths)
    T = batch.x.shape[1]
    valid = np.ones((T, batch.x.shape[0]), bool) if batch.lengths is None else length_mask(batch.lengths, T).T
    report = []
    for l, layer in enumerate(cache["rnn"]["layers"]):
        h = np.asarray(layer["hs"])[valid]  # (valid steps, H)
        if spec.nonlinearity == "tanh":
            frac = (np.abs(h) > SATURATED).mean(axis=0)
            report.append({"layer": l, "nonlinearity": "tanh", "saturated_fraction": frac.tolist(),
                           "mean": float(frac.mean()),
                           "mostly_saturated_units": np.flatnonzero(frac > 0.5).tolist()})
        else:
            frac = (h > 0).mean(axis=0)
            report.append({"layer": l, "nonlinearity": "relu", "active_fraction": frac.tolist(),
                           "mean": float(frac.mean()), "dead_units": np.flatnonzero(frac == 0).tolist()})
    return report


def attribution_map(params: dict[str, np.ndarray], spec: ModelSpec, batch: Batch, task: TaskInfo, *,
                    seed: int = 0) -> dict:
    """The attribution maps and unit saturation of `params` on one batch (see the module docstring).

    Args:
        batch: x (B, T, I), y, lengths (B,) or None; float64 keeps tiny norms from underflowing.

    Returns:
        dict with targets (list of t), dh ((L, targets, T) nested lists, None for s > t), dx
        ((targets, T)), dx_estimated (bool) and saturation (per layer).
    """
    if getattr(spec, "bidirectional", False):
        raise UsageError("the attribution map does not support bidirectional models yet")
    check_map_fits(spec, batch.x.shape[0], batch.x.shape[1])
    dh = _dh_map(params, spec, batch, task)
    dx, estimated = _dx_map(params, spec, batch, np.random.default_rng(seed))
    return {"targets": _targets(spec, batch.x.shape[1]), "dh": dh, "dx": dx, "dx_estimated": estimated,
            "saturation": saturation(params, spec, batch)}


def map_png(report: dict, path: str | Path, title: str = "") -> Path:
    """Heatmaps of log10 |dL_t/dh_s| per layer and log10 |dy_t/dx_s| into a PNG (needs matplotlib)."""
    try:
        import matplotlib
    except ImportError:
        raise UsageError("matplotlib is not installed: pip install 'rnncli[plot]' (or matplotlib)") from None
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    panels = [(f"|dL_t/dh_s|, layer {l}", np.asarray(m, dtype=float)) for l, m in enumerate(report["dh"])]
    panels.append(("|dy_t/dx_s|" + (" (estimated)" if report["dx_estimated"] else ""),
                   np.asarray(report["dx"], dtype=float)))
    one_row = len(report["targets"]) == 1
    fig, axes = plt.subplots(len(panels), 1, figsize=(9, (1.6 if one_row else 4.0) * len(panels) + 0.6),
                             squeeze=False)
    for ax, (name, m) in zip(axes[:, 0], panels, strict=True):
        with np.errstate(divide="ignore", invalid="ignore"):
            logm = np.log10(np.where(m > 0, m, np.nan))
        t0, t1 = report["targets"][0], report["targets"][-1]
        im = ax.imshow(logm, aspect="auto", origin="lower", cmap="viridis", interpolation="nearest",
                       extent=(-0.5, m.shape[1] - 0.5, t0 - 0.5, t1 + 0.5))
        ax.set(title=f"log10 {name}", xlabel="source step s", ylabel="target step t")
        fig.colorbar(im, ax=ax)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
    return Path(path)


# One character per decade below the row's largest value; blank where nothing flows (s > t) or exactly 0.
SHADES = "█▓▒░·"
LEGEND = ("each row against its own largest value: █ >= 1/10, ▓ >= 1/100, ▒ >= 1/1000,\n"
          "░ >= 1/10^4, · smaller; blank: s > t (nothing flows forward in time)")


def _bins(n: int, width: int) -> list[tuple[int, int]]:
    """Split range(n) into at most `width` consecutive bins."""
    k = min(n, width)
    edges = [round(i * n / k) for i in range(k + 1)]
    return list(zip(edges[:-1], edges[1:], strict=True))


def _bin_max(values: np.ndarray) -> float:
    finite = values[np.isfinite(values)]
    return float(finite.max()) if finite.size else np.nan


def shaded_grid(matrix, targets: list[int], *, width: int = 60, height: int = 20) -> list[str]:
    """A map (targets, T) as text: rows t (top = first target), columns s, each cell shaded by decades
    below its row's largest value; bins of several steps show their largest value."""
    m = np.asarray(matrix, dtype=np.float64)
    T = m.shape[1]
    cols, rows = _bins(T, width), _bins(m.shape[0], height)
    span = f"s = 0 .. {T - 1}" + (f" ({cols[0][1] - cols[0][0]}+ steps a column)" if len(cols) < T else "")
    labels = [str(targets[r1 - 1]) if r1 - r0 == 1 else f"{targets[r0]}-{targets[r1 - 1]}" for r0, r1 in rows]
    pad = max(len(s) for s in labels)
    lines = [f"{'t':>{pad}}  {span}"]
    for (r0, r1), label in zip(rows, labels, strict=True):
        block = m[r0:r1]
        cells = np.array([_bin_max(block[:, c0:c1]) for c0, c1 in cols])
        top = np.nanmax(cells) if np.isfinite(cells).any() else np.nan
        text = []
        for v in cells:
            if not np.isfinite(v) or v == 0 or not top > 0:
                text.append(" ")
            else:
                decades = int(np.floor(-np.log10(v / top)))
                text.append(SHADES[min(max(decades, 0), len(SHADES) - 1)])
        lines.append(f"{label:>{pad}} |{''.join(text)}|")
    return lines
