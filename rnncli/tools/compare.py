"""Runs side by side: what differs in their configs, and what each reached in how long.

`compare_runs` returns plain data (for --json and for the CLI's table); nothing here prints.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rnncli.config.dump import flatten
from rnncli.config.yamlsafe import read_yaml_file
from rnncli.errors import UsageError
from rnncli.training.rundir import read_metrics, read_run_json

__all__ = ["compare_runs", "flatten"]

# The headline metric by preference (the first one a run records), shown at the best epoch.
_METRICS = (("bpc", "min"), ("accuracy", "max"), ("mse", "min"))


def _read_config(run_dir: Path) -> dict[str, Any]:
    path = run_dir / "config.yaml"
    if not path.exists():
        return {}
    raw = read_yaml_file(path, str(path), UsageError)
    return flatten(raw) if isinstance(raw, dict) else {}


def _best_record(records: list[dict]) -> dict | None:
    """The epoch training kept as best.npz: the first with the lowest val_loss (the training loss
    where there is no validation data), the rule of training/loop._end_epoch."""
    def score(r: dict):
        v = r.get("val_loss") if r.get("val_loss") is not None else r.get("loss")
        return v if isinstance(v, (int, float)) and not isinstance(v, bool) else None

    scored = [r for r in records if score(r) is not None]
    return min(scored, key=score) if scored else None  # min keeps the first of equal scores


def _status(info: dict) -> str:
    """run.json's status; a sweep trial the pruner stopped ends its run as an early stop
    ("completed"), and says "pruned" in its sweep section."""
    sweep = info.get("sweep")
    if isinstance(sweep, dict) and sweep.get("state") == "pruned":
        return "pruned"
    return str(info.get("status", "unknown"))


def _summarise(run_dir: Path) -> dict[str, Any]:
    records = read_metrics(run_dir)
    metric = next((m for m, _ in _METRICS if any(f"val_{m}" in r for r in records)), None)
    best_record = _best_record(records)
    best = best_record.get(f"val_{metric}") if best_record and metric else None
    val_losses = [r["val_loss"] for r in records if isinstance(r.get("val_loss"), (int, float))]
    info = read_run_json(run_dir)
    summary = info.get("summary") if isinstance(info.get("summary"), dict) else {}
    wall = summary.get("seconds")
    return {
        "run": str(run_dir),
        "status": _status(info),
        "epochs": records[-1].get("epoch", len(records)) if records else 0,
        "metric": metric,
        "best": best,
        "best_epoch": best_record.get("epoch") if best_record else None,
        "best_val_loss": min(val_losses) if val_losses else None,
        "final_loss": records[-1].get("loss") if records else None,
        # wall-clock of the training call (data, epochs, saves) once it finished; the epochs' own
        # time (training + validation) always
        "seconds": wall if isinstance(wall, (int, float)) else None,
        "epoch_seconds": sum(r.get("seconds") or 0.0 for r in records),
        "baselines": summary.get("baselines", {}),
    }


def compare_runs(run_dirs: list[str | Path]) -> dict[str, Any]:
    """Summaries of several runs and the config keys on which they differ.

    Returns:
        {"differences": [dotted config keys whose values differ, sorted],
         "runs": [{run, status, epochs, metric, best, best_epoch, best_val_loss, final_loss,
                   seconds (wall-clock of a finished training call, else None), epoch_seconds,
                   baselines, config: {differing key: value}}],
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
                     r["best_val_loss"], r["epochs"],
                     None if r["seconds"] is None else round(r["seconds"], 1), r["status"]])
    return {"differences": differences, "runs": runs, "columns": columns, "rows": rows}
