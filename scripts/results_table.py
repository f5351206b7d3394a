"""Rerun every shipped task config and print the README results table (Markdown) on stdout.

    python scripts/results_table.py                      # all task configs (about 3-5 minutes)
    python scripts/results_table.py --only copy sine     # some of them
    python scripts/results_table.py --text-path /work/shared/data/tinyshakespeare.txt

Each row: the metric reached (validation, at the epoch with the best validation loss, which is what
best.npz holds), its baseline, epochs run, wall time of the whole `rnn train`, and the exact command.
--text-path adds a row training configs/text.yaml on that corpus with larger windows and batches, and one
training configs/shakespeare.yaml (tuned for a corpus of that size) on it.
BLAS runs single-threaded (unless OPENBLAS_NUM_THREADS is set): on a busy 2-core machine, threads
contending over these small matrices made training up to 30x slower.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy is imported
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse  # noqa: E402
import re  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rnncli.config import load_config  # noqa: E402
from rnncli.training.loop import train  # noqa: E402
from rnncli.training.rundir import read_metrics  # noqa: E402

# name -> (config, overrides, metric key, baseline key)
TASKS = {
    "sine": ("sine.yaml", [], "val_mse", "last_value_mse"),
    "adding": ("adding.yaml", [], "val_mse", "predict_1_mse"),
    "adding_long": ("adding_long.yaml", [], "val_mse", "predict_1_mse"),
    "copy": ("copy.yaml", [], "recall_accuracy", "memoryless_ce"),
    "frequency": ("frequency.yaml", [], "val_accuracy", "majority_accuracy"),
    "text": ("text.yaml", [], "val_bpc", "unigram_bits_per_char"),
}
TEXT_CORPUS_OVERRIDES = ["data.seq_len=64", "train.batch_size=32", "train.epochs=20", "train.lr=0.002"]


def recall_accuracy(run_dir: Path) -> float:
    """Copy task: the share of copied symbols recalled, as `rnn eval RUN/best.npz --json | jq
    .minority_accuracy` reports it (accuracy on the targets that are not the blank)."""
    from rnncli.use.model_io import load_model
    from rnncli.use.predict import evaluate_model, load_data_for_model

    model = load_model(run_dir / "best.npz")
    return evaluate_model(model, load_data_for_model(model, None, base_dir=ROOT))["minority_accuracy"]


def run_task(name: str, config: str, overrides: list[str], metric: str, baseline_key: str,
             runs: Path) -> dict:
    cfg = load_config([ROOT / "configs" / config], overrides)
    run_dir = runs / re.sub(r"[^A-Za-z0-9_.-]+", "-", name)
    t0 = time.perf_counter()
    summary = train(cfg, run_dir, base_dir=ROOT)
    wall = time.perf_counter() - t0
    records = read_metrics(run_dir)
    best = next(r for r in records if r["epoch"] == summary["best_epoch"])
    value = recall_accuracy(run_dir) if metric == "recall_accuracy" else best[metric]
    command = "rnn train -c configs/" + config + "".join(f" --set {o}" for o in overrides)
    row = {"task": name, "metric": metric, "value": value, "baseline_key": baseline_key,
           "baseline": summary["baselines"][baseline_key], "best_epoch": summary["best_epoch"],
           "epochs": summary["epochs"], "seconds": wall, "command": command,
           "val_loss": best["val_loss"]}
    return row


def fmt(row: dict) -> str:
    v, b = row["value"], row["baseline"]
    if row["metric"] == "val_mse":
        reached = f"val MSE {v:.2g}"
        base = f"{b:.3g} ({row['baseline_key']}, {b / v:.0f}x higher)"
    elif row["metric"] == "recall_accuracy":
        reached = f"recall accuracy {v:.1%} (val loss {row['val_loss']:.2g})"
        base = f"{b:.3g} nats/step ({row['baseline_key']})"
    elif row["metric"] == "val_accuracy":
        reached = f"val accuracy {v:.1%}"
        base = f"{b:.1%} ({row['baseline_key']})"
    else:
        reached = f"val {v:.3g} bits/char"
        base = f"{b:.3g} bits/char (unigram entropy)"
    epochs = f"{row['epochs']} (best {row['best_epoch']})"
    return f"| {row['task']} | {reached} | {base} | {epochs} | {row['seconds']:.0f} s | `{row['command']}` |"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="+", choices=sorted(TASKS), help="run only these tasks")
    ap.add_argument("--text-path", help="also train the text config on this corpus")
    ap.add_argument("--runs", help="keep the run directories here (default: a temporary directory)")
    args = ap.parse_args(argv)
    jobs = [(n, *TASKS[n]) for n in (args.only or TASKS)]
    if args.text_path:
        path = str(Path(args.text_path).resolve())
        jobs.append((f"text ({Path(path).name})", "text.yaml",
                     [f"data.path={path}", *TEXT_CORPUS_OVERRIDES], "val_bpc", "unigram_bits_per_char"))
        jobs.append((f"text ({Path(path).name}), tuned config", "shakespeare.yaml", [f"data.path={path}"],
                     "val_bpc", "unigram_bits_per_char"))
    with tempfile.TemporaryDirectory() as tmp:
        runs = Path(args.runs) if args.runs else Path(tmp)
        lines = ["| task | reached | baseline | epochs | wall time | command |",
                 "|---|---|---|---|---|---|"]
        for name, config, overrides, metric, base in jobs:
            print(f"training {name} ...", file=sys.stderr, flush=True)
            row = run_task(name, config, overrides, metric, base, runs)
            lines.append(fmt(row))
            print(lines[-1], file=sys.stderr, flush=True)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
