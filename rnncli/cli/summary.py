"""The end of a training run on stderr: the summary lines (how it ended, the best metrics, the
baselines, the cross-validation's spread across folds) and the loss sparklines."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from rnncli.cli._common import duration, fmt_num
from rnncli.wording import plural


def _summary_head(summary: Mapping[str, Any]) -> str:
    """`stopped early at epoch 29 (best 24, patience 5)` or `completed 10 epochs (best 9)`."""
    epochs, best = summary.get("epochs"), summary.get("best_epoch")
    best_part = f"best {best}" if best else ""
    if summary.get("stopped_early"):
        why = ", ".join(p for p in (best_part, f"patience {summary.get('patience')}") if p)
        head = f"stopped early at epoch {epochs} ({why})"
    elif epochs is not None:
        head = f"{summary.get('status', 'completed')} {plural(epochs, 'epoch')}"
        head += f" ({best_part})" if best_part else ""
    else:
        head = str(summary.get("status", "done"))
    seconds = summary.get("seconds")
    return head + (f" in {duration(seconds)}" if isinstance(seconds, (int, float)) else "")


def summary_lines(summary: Mapping[str, Any]) -> list[str]:
    """Human summary of a finished run (stderr)."""
    lines = [_summary_head(summary)]
    best = {k: v for k, v in summary.items() if k.startswith("best") or k == "val_loss"}
    for k, v in best.items():
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            lines.append(f"{k}: {fmt_num(v)}")
    for k, v in (summary.get("baselines") or {}).items():
        lines.append(f"baseline {k}: {fmt_num(v)}")
    if isinstance(summary.get("cv"), dict):
        lines.append(cv_line(summary["cv"], str(summary.get("task"))))
    if summary.get("run_dir"):
        lines.append(f"run directory: {summary['run_dir']}")
    return lines


def cv_line(record: Mapping[str, Any], task_kind: str) -> str:
    """Cross-validation (training/crossval.py) in one line: the spread across folds, the choice."""
    metric = {"classification": "val_accuracy", "text": "val_bpc"}.get(task_kind, "val_mse")
    values = record.get("fold_" + metric) or []
    spread = ""
    if values:
        mean = sum(values) / len(values)
        std = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
        spread = (f", {metric} {fmt_num(mean)} ± {fmt_num(std)} (min {fmt_num(min(values))}, "
                  f"max {fmt_num(max(values))})")
    best = ", ".join(str(e) for e in record.get("fold_best_epochs", []))
    return (f"cross-validation: {record.get('folds')} folds{spread}, best epochs {best}; trained on "
            f"all the data for {record.get('epochs')} epochs ({record.get('steps')} steps, "
            f"{_where(record)})")


def _where(record: Mapping[str, Any]) -> str:
    """Which rule chose the epoch (cv.json's metric)."""
    if record.get("metric") == "val_accuracy":
        return (f"where the folds' mean val_accuracy over {record.get('smoothing_epochs')} epochs is "
                "highest")
    return "where the folds' mean val_loss is lowest"


def curve_lines(records: list[Mapping[str, Any]]) -> list[str]:
    """Loss sparklines over the epochs of this session: `loss ▇▄▂▁▁ 0.066 -> 0.0015`."""
    if len(records) < 2:
        return []
    from rnncli.tools.plot import sparkline

    lines = []
    for key in ("loss", "val_loss"):
        values = [r.get(key) for r in records]
        finite = [v for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
        if len(finite) >= 2:
            lines.append(
                f"{key:<8} {sparkline(values)} {fmt_num(finite[0])} -> {fmt_num(finite[-1])}"
            )
    return lines
