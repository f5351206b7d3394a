"""The training-curves figure (matplotlib, the optional `plot` extra): loss, the main validation
metric and the gradient flow per epoch, with units on the axes, the best epoch marked, the data's
baselines as dashed lines and a caption saying how to read the gradient flow.

The format is the output file's suffix: png, pdf or svg; anything else is refused before drawing.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

from rnncli.errors import UsageError
from rnncli.fsutil import atomic_write_bytes
from rnncli.tools.plot import matplotlib_available, run_series
from rnncli.training.rundir import read_run_json

__all__ = ["FORMATS", "figure_format", "plot_run"]

FORMATS = ("png", "pdf", "svg")
# y-axis label of each panel by metric; regression metrics are in the data's own units.
_METRIC_LABEL = {"mse": "validation MSE (data units²)", "accuracy": "validation accuracy (fraction)",
                 "bpc": "validation bits per character"}
_LOSS_LABEL = {"mse": "loss (MSE, training units)", "cross_entropy": "loss (cross-entropy, nats)"}
# Which baselines belong on which panel: by the suffix of their name.
_METRIC_BASELINES = {"mse": "_mse", "accuracy": "_accuracy", "bpc": "_bits_per_char"}
_LOSS_BASELINES = "_ce"
GRADIENT_CAPTION = ("grad_norm: L2 norm of all gradients per step, before clipping (epoch mean); "
                    "dh_ratio: |dL/dh_1| / |dL/dh_T|, below 1 the gradient fades going back in time, "
                    "above 1 it grows")


def figure_format(out: str | Path) -> str:
    """The format named by `out`'s suffix (png, pdf, svg).

    Raises:
        UsageError: any other suffix, or none.
    """
    fmt = Path(out).suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise UsageError(f"{out}: cannot tell the figure format from the suffix "
                         f"{Path(out).suffix or '(none)'}; use .png, .pdf or .svg")
    return fmt


def _finite(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _points(epochs: list, values: list, positive: bool = False) -> tuple[list, list]:
    pts = [(e, v) for e, v in zip(epochs, values, strict=False) if _finite(v) and (v > 0 or not positive)]
    return ([p[0] for p in pts], [p[1] for p in pts])


def _best_epoch(s: dict) -> int | None:
    """The epoch with the lowest validation loss (training loss without validation): best.npz's epoch."""
    key = "val_loss" if any(_finite(v) for v in s["val_loss"]) else "loss"
    pts = list(zip(*_points(s["epoch"], s[key]), strict=False))
    return min(pts, key=lambda p: p[1])[0] if pts else None


def _baselines(ax, baselines: dict, suffix: str) -> None:
    for i, (name, value) in enumerate(sorted(baselines.items())):
        if name.endswith(suffix) and _finite(value):
            ax.axhline(value, ls="--", lw=1, color=f"C{4 + i % 5}", label=f"baseline {name}")


def _loss_panel(ax, s: dict, loss: str | None, baselines: dict) -> None:
    for key, style in (("loss", "-o"), ("val_loss", "-s")):
        x, y = _points(s["epoch"], s[key])
        if x:
            ax.plot(x, y, style, ms=3, label=key)
    if loss == "cross_entropy":
        _baselines(ax, baselines, _LOSS_BASELINES)
    if all(v > 0 for v in s["loss"] + s["val_loss"] if _finite(v)):
        ax.set_yscale("log")
    ax.set(title="loss", xlabel="epoch", ylabel=_LOSS_LABEL.get(loss or "", "loss"))


def _metric_panel(ax, s: dict, baselines: dict) -> None:
    x, y = _points(s["epoch"], s["val_metric"])
    if x:
        ax.plot(x, y, "-o", ms=3, color="tab:green", label=f"val_{s['metric']}")
    _baselines(ax, baselines, _METRIC_BASELINES[s["metric"]])
    ax.set(title=f"validation {s['metric']}", xlabel="epoch", ylabel=_METRIC_LABEL[s["metric"]])


def _gradient_panel(ax, s: dict) -> None:
    for key in ("grad_norm", "dh_ratio"):
        x, y = _points(s["epoch"], s[key], positive=True)
        if x:
            ax.plot(x, y, "-o", ms=3, label=key)
    ax.axhline(1.0, ls=":", lw=1, color="grey")
    ax.set_yscale("log")
    ax.set(title="gradient flow", xlabel="epoch", ylabel="norm / ratio (log scale)")


def plot_run(run_dir: str | Path, out: str | Path) -> Path:
    """Draw loss, the main validation metric and the gradient flow per epoch into `out`.

    Args:
        run_dir: a run directory (its metrics.jsonl; baselines and loss from run.json).
        out: the file to write; its suffix picks the format (png, pdf, svg).
    Returns:
        The path written (atomically: complete or not at all).
    Raises:
        UsageError: an unknown suffix, matplotlib missing (the `plot` extra), or no metrics.
    """
    fmt = figure_format(out)
    s = run_series(run_dir)
    if not matplotlib_available():
        raise UsageError("matplotlib is not installed: pip install 'rnncli[plot]' (or matplotlib)")
    import matplotlib

    matplotlib.use("Agg", force=True)  # no display needed; must precede pyplot's import
    import matplotlib.pyplot as plt

    summary = read_run_json(Path(run_dir)).get("summary") or {}
    baselines = summary.get("baselines") or {}
    loss = {"regression": "mse", "classification": "cross_entropy", "text": "cross_entropy"}.get(
        summary.get("task", ""))
    fig, axes = plt.subplots(1, 3 if s["metric"] else 2, figsize=(14 if s["metric"] else 10, 4.2))
    _loss_panel(axes[0], s, loss, baselines)
    if s["metric"]:
        _metric_panel(axes[1], s, baselines)
    _gradient_panel(axes[-1], s)
    best = summary.get("best_epoch") or _best_epoch(s)
    from matplotlib.ticker import MaxNLocator

    for ax in axes:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
        if best is not None:
            ax.axvline(best, ls="-.", lw=1, color="grey", label=f"best epoch {best}")
        ax.legend(fontsize="small")
    fig.suptitle(str(Path(run_dir)))
    fig.text(0.5, 0.01, GRADIENT_CAPTION, ha="center", va="bottom", fontsize="small", wrap=True)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=100)
    plt.close(fig)
    atomic_write_bytes(Path(out), buf.getvalue())
    return Path(out)
