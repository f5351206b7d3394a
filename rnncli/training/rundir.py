"""The run directory: claiming it, and its files other than weights (names in `rnncli.run_layout`),
each written atomically. run.json's status is running|completed|interrupted|failed."""

from __future__ import annotations

import json
import math
import os
import platform
import re
import sys
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from rnncli import __version__
from rnncli.errors import ConfigError
from rnncli.fsutil import atomic_write_text
from rnncli.run_layout import METRICS, RUN_FILES, RUN_JSON


def default_run_dir(cfg, root: Path = Path("runs"), config_paths=()) -> Path:
    """runs/<name>-<N> with the first N whose directory does not exist yet: runs are never overwritten.

    The name is the config's `name`, else the stem of the last --config file, else the data source.
    """
    if cfg.name:
        name = cfg.name
    elif config_paths:
        name = Path(config_paths[-1]).stem
        if name == "config":  # runs/x/config.yaml: name the rerun after its run directory
            name = re.sub(r"-\d+$", "", Path(config_paths[-1]).resolve().parent.name)
    else:
        name = Path(cfg.data.source).stem if cfg.data.source != "-" else "stdin"
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", name) or "run"
    n = 1
    while (root / f"{name}-{n}").exists():
        n += 1
    return root / f"{name}-{n}"


def claim_run_dir(run_dir: Path) -> None:
    """Create the run directory; refuse one that already holds a run."""
    if run_dir.exists() and not run_dir.is_dir():
        raise ConfigError(f"--out {run_dir}: exists and is not a directory")
    if run_dir.is_dir() and any(run_dir.iterdir()):
        raise ConfigError(
            f"--out {run_dir}: directory is not empty; choose a new one or use --resume {run_dir}"
        )
    run_dir.mkdir(parents=True, exist_ok=True)


def remove_stale_temps(run_dir: Path) -> list[Path]:
    """Delete temp files a killed atomic write left in the run directory; returns what was removed.

    Readers never look at them (they read only the final names, which always hold a complete
    file), so leftovers are harmless; a resumed run owns its directory and tidies them up.
    Only `.<run file>.*.tmp` names are touched, never anything the user put there.
    """
    removed = []
    for name in RUN_FILES:
        for tmp in Path(run_dir).glob(f".{name}.*.tmp"):
            try:
                tmp.unlink()
                removed.append(tmp)
            except OSError:
                pass  # vanished meanwhile, or not ours to delete: leaving it is harmless
    return removed


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def versions() -> dict[str, str]:
    return {"rnn": __version__, "python": platform.python_version(), "numpy": np.__version__}


def write_run_json(run_dir: Path, info: dict) -> None:
    atomic_write_text(run_dir / RUN_JSON, json.dumps(info, indent=2) + "\n")


def read_run_json(run_dir: Path) -> dict:
    try:
        return json.loads((run_dir / RUN_JSON).read_text())
    except (OSError, ValueError):
        return {}


def append_metrics(run_dir: Path, record: dict) -> None:
    """Append one epoch's record; flushed and fsynced so a crash loses at most the line being written.

    NaN and infinity are written as null: strict JSON, so `jq` and other readers accept every line.
    """
    clean = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in record.items()}
    with open(run_dir / METRICS, "a", encoding="utf-8") as f:
        f.write(json.dumps(clean, allow_nan=False) + "\n")
        f.flush()
        os.fsync(f.fileno())


def read_metrics(run_dir: Path) -> list[dict]:
    """Every complete record of metrics.jsonl (a torn last line from a killed process is skipped)."""
    path = run_dir / METRICS
    if not path.exists():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            continue
    return records


def truncate_metrics(run_dir: Path, epochs: int) -> None:
    """Keep the first `epochs` epochs' records: a resumed run rewrites what came after its checkpoint."""
    kept = [r for r in read_metrics(run_dir) if r.get("epoch", 0) <= epochs]
    atomic_write_text(run_dir / METRICS, "".join(json.dumps(r) + "\n" for r in kept))


def argv_list(argv: list[str] | None) -> list[str]:
    return list(sys.argv) if argv is None else list(argv)
