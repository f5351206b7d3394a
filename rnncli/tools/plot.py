"""Training curves from a run's metrics.jsonl as text: charts for the terminal and the one-line
`sparkline` of the train summary (the matplotlib figure is `plot_figure.py`).

Nothing here prints: text charts come back as lists of lines for the CLI to show.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from rnncli.errors import UsageError
from rnncli.training.rundir import read_metrics

__all__ = ["matplotlib_available", "run_series", "sparkline", "terminal_chart", "text_chart"]

_BLOCKS = "▁▂▃▄▅▆▇█"
_MARKERS = "*o+x#@"
# The metric a reader looks at first, in order of preference (text, classification, regression).
_METRICS = ("bpc", "accuracy", "mse")


def _finite(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def sparkline(values: Sequence[float | None], width: int = 40) -> str:
    """One character per value (bins averaged down to `width`), low ▁ to high █; gaps for NaN/None."""
    vals = [float(v) if _finite(v) else math.nan for v in values]
    if len(vals) > width:  # average consecutive bins so a long run still fits one line
        edges = [round(i * len(vals) / width) for i in range(width + 1)]
        bins = [[v for v in vals[a:b] if not math.isnan(v)] for a, b in zip(edges, edges[1:], strict=False)]
        vals = [sum(b) / len(b) if b else math.nan for b in bins]
    good = [v for v in vals if not math.isnan(v)]
    if not good:
        return " " * len(vals)
    lo, hi = min(good), max(good)
    span = hi - lo
    out = []
    for v in vals:
        if math.isnan(v):
            out.append(" ")
        elif span == 0:
            out.append(_BLOCKS[len(_BLOCKS) // 2])
        else:
            out.append(_BLOCKS[min(len(_BLOCKS) - 1, int((v - lo) / span * len(_BLOCKS)))])
    return "".join(out)


def text_chart(series: dict[str, Sequence[float | None]], *, x: Sequence[float] | None = None,
               width: int = 60, height: int = 10, log: bool = False, title: str = "",
               x_label: str = "epoch") -> list[str]:
    """A scatter chart of one or more series as plain text lines (y labels on the left, legend below).

    Args:
        series: name -> y values (NaN/None skipped); all share the x values.
        x: x values (default 1..n); log: a log10 y axis (non-positive values skipped).
    """
    n = max((len(v) for v in series.values()), default=0)
    xs = list(x) if x is not None else list(range(1, n + 1))
    pts: dict[str, list[tuple[float, float]]] = {}
    for name, ys in series.items():
        keep = [(float(a), float(b)) for a, b in zip(xs, ys, strict=False)
                if _finite(b) and (not log or b > 0)]
        pts[name] = [(a, math.log10(b) if log else b) for a, b in keep]
    allp = [p for ps in pts.values() for p in ps]
    lines = [title] if title else []
    if not allp:
        return lines + ["(no finite values to chart)"]
    x0, x1 = min(p[0] for p in allp), max(p[0] for p in allp)
    y0, y1 = min(p[1] for p in allp), max(p[1] for p in allp)
    if y1 == y0:
        y0, y1 = y0 - 0.5, y1 + 0.5
    grid = [[" "] * width for _ in range(height)]
    for marker, ps in zip(_MARKERS, pts.values(), strict=False):
        for a, b in ps:
            col = 0 if x1 == x0 else round((a - x0) / (x1 - x0) * (width - 1))
            row = round((y1 - b) / (y1 - y0) * (height - 1))
            grid[row][col] = marker
    label = (lambda v: f"{10 ** v:.3g}") if log else (lambda v: f"{v:.3g}")
    tick_rows = {0: label(y1), height - 1: label(y0), (height - 1) // 2: label((y0 + y1) / 2)}
    pad = max(len(s) for s in tick_rows.values())
    for r, row in enumerate(grid):
        lines.append(f"{tick_rows.get(r, ''):>{pad}} |" + "".join(row).rstrip())
    lines.append(" " * pad + " +" + "-" * width)
    left, right = f"{x0:g}", f"{x1:g} {x_label}"
    lines.append(" " * (pad + 2) + left + " " * max(1, width - len(left) - len(right)) + right)
    lines.append(" " * (pad + 2) + "   ".join(f"{m} {name}" for m, name in zip(_MARKERS, pts, strict=False)))
    return lines


def run_series(run_dir: str | Path) -> dict[str, list]:
    """Per-epoch series of a run: epoch, loss, val_loss, the main val metric and gradient flow.

    Returns keys epoch, loss, val_loss, metric (its name, e.g. "accuracy"; None if absent),
    val_metric, grad_norm, dh_ratio.

    Raises:
        UsageError: not a run directory, or no epoch recorded yet.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise UsageError(f"{run_dir}: not a run directory")
    records = read_metrics(run_dir)
    if not records:
        raise UsageError(f"{run_dir / 'metrics.jsonl'}: no epochs recorded yet (missing or empty)")
    metric = next((m for m in _METRICS if any(f"val_{m}" in r for r in records)), None)

    def col(key: str) -> list:
        return [r.get(key) for r in records]

    return {"epoch": col("epoch"), "loss": col("loss"), "val_loss": col("val_loss"), "metric": metric,
            "val_metric": col(f"val_{metric}") if metric else [], "grad_norm": col("grad_norm"),
            "dh_ratio": col("dh_ratio")}


def terminal_chart(run_dir: str | Path, *, width: int = 60, height: int = 10) -> list[str]:
    """Text charts of a run: losses (log scale), the main metric, and the gradient flow."""
    s = run_series(run_dir)
    lines = text_chart({"loss": s["loss"], "val_loss": s["val_loss"]}, x=s["epoch"], width=width,
                       height=height, log=True, title=f"loss (log scale) - {Path(run_dir)}")
    if s["metric"]:
        lines += [""] + text_chart({f"val_{s['metric']}": s["val_metric"]}, x=s["epoch"], width=width,
                                   height=height, title=f"validation {s['metric']}")
    lines += ["", f"grad norm   {sparkline(s['grad_norm'], width)}",
              f"dh ratio    {sparkline(s['dh_ratio'], width)}  (|dL/dh_1| / |dL/dh_T|)"]
    return lines


def matplotlib_available() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True
