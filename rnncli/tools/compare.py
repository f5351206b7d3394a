"""Runs side by side: what differs in their configs, and what each reached in how long.

`compare_runs` returns plain data (for --json and for the CLI's table); nothing here prints.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from rnncli.config.dump import flatten
from rnncli.config.yamlsafe import load_yaml_bounded
from rnncli.errors import UsageError
from rnncli.training.rundir import read_metrics, read_run_json

__all__ = ["compare_runs", "flatten"]

# Main metric by preference and whether higher is better; the first one a run records is used.
_METRICS = (("bpc", "min"), ("accuracy", "max"), ("mse", "min"))


def _read_config(run_dir: Path) -> dict[str, Any]:
    path = run_dir / "config.yaml"
    try:
        raw = load_yaml_bounded(path.read_text(encoding="utf-8"))[1]
    except (OSError, UnicodeDecodeError):
        return {}
    except yaml.YAMLError as e:
        raise UsageError(f"{path}: not valid YAML ({str(e).splitlines()[0]})") from None
    return flatten(raw) if isinstance(raw, dict) else {}


def _summarise(run_dir: Path) -> dict[str, Any]:
    records = read_metrics(run_dir)
    metric, mode = next(((m, how) for m, how in _METRICS if any(f"val_{m}" in r for r in records)),
                        (None, "min"))
    best = best_epoch = None
    if metric:
        scored = [(r[f"val_{metric}"], r.get("epoch")) for r in records
                  if isinstance(r.get(f"val_{metric}"), (int, float))]
        if scored:
            best, best_epoch = (max if mode == "max" else min)(scored, key=lambda p: p[0])
    val_losses = [r["val_loss"] for r in records if isinstance(r.get("val_loss"), (int, float))]
    info = read_run_json(run_dir)
    return {
        "run": str(run_dir),
        "status": info.get("status", "unknown"),
        "epochs": records[-1].get("epoch", len(records)) if records else 0,
        "metric": metric,
        "best": best,
        "best_epoch": best_epoch,
        "best_val_loss": min(val_losses) if val_losses else None,
        "final_loss": records[-1].get("loss") if records else None,
        "seconds": sum(r.get("seconds") or 0.0 for r in records),
        "baselines": (info.get("summary") or {}).get("baselines", {}),
    }


def compare_runs(run_dirs: list[str | Path]) -> dict[str, Any]:
    """Summaries of several runs and the config keys on which they differ.

    Returns:
        {"differences": [dotted config keys whose values differ, sorted],
         "runs": [{run, status, epochs, metric, best, best_epoch, best_val_loss, final_loss,
                   seconds, baselines, config: {differing key: value}}],
         "columns": [...], "rows": [[...], ...]}  the same as a table, one row per run.

    Raises:
        UsageError: a path that is not a run directory (no metrics.jsonl nor config.yaml).
    """
    if not run_dirs:
        raise UsageError("compare: give at least one run directory")
    configs, runs = [], []
    for d in map(Path, run_dirs):
        if not d.is_dir() or not ((d / "metrics.jsonl").exists() or (d / "config.yaml").exists()):
            raise UsageError(f"{d}: not a run directory (no metrics.jsonl or config.yaml)")
        configs.append(_read_config(d))
        runs.append(_summarise(d))
    keys = sorted(set().union(*configs))
    missing = object()
    differences = [k for k in keys
                   if len({repr(c.get(k, missing)) for c in configs}) > 1]
    for run, cfg in zip(runs, configs, strict=False):
        run["config"] = {k: cfg.get(k) for k in differences}
    metrics = {r["metric"] for r in runs if r["metric"]}
    one_metric = len(metrics) == 1
    best_col = f"best val {next(iter(metrics))}" if one_metric else "best val metric"
    columns = ["run", *differences, best_col, "best epoch", "best val loss", "epochs", "seconds", "status"]
    rows = []
    for r in runs:
        best = r["best"]
        if not one_metric and best is not None:  # mixed tasks: say which metric each number is
            best = f"{r['metric']} {best:.4g}"
        rows.append([r["run"], *(r["config"][k] for k in differences), best, r["best_epoch"],
                     r["best_val_loss"], r["epochs"], round(r["seconds"], 1), r["status"]])
    return {"differences": differences, "runs": runs, "columns": columns, "rows": rows}
