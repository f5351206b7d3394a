"""Train every shipped config and print a fingerprint of the final weights: one line per config.

Used to show that a refactoring changed no number: run it before and after, then diff the outputs.

    OPENBLAS_NUM_THREADS=1 python scripts/weights_fingerprint.py > before.txt
    ... change the code ...
    OPENBLAS_NUM_THREADS=1 python scripts/weights_fingerprint.py > after.txt && diff before.txt after.txt

The fingerprint is the SHA-256 of every parameter array (name, dtype, shape, bytes) in model.npz and
best.npz; meta is left out because it holds wall-clock timings. `--epochs N` caps each config's epochs
for a quicker check. Runs `python -m rnncli`, so PYTHONPATH chooses which checkout is measured.
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parent.parent


def fingerprint(path: Path) -> str:
    h = hashlib.sha256()
    with np.load(path, allow_pickle=False) as z:
        for name in sorted(z.files):
            if name.startswith("__") or name == "meta":
                continue
            a = z[name]
            h.update(f"{name}:{a.dtype.str}:{a.shape}".encode())
            h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()[:16]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=None, help="cap every config's epochs")
    parser.add_argument("configs", nargs="*", type=Path, help="default: configs/*.yaml")
    args = parser.parse_args()
    configs = args.configs or sorted((ROOT / "configs").glob("*.yaml"))
    for cfg in configs:
        device = ((yaml.safe_load(cfg.read_text()) or {}).get("train") or {}).get("device", "cpu")
        if device != "cpu":  # bit-identity is promised per device; a GPU config is not run here
            print(f"{cfg.name} skipped: train.device {device}", flush=True)
            continue
        with tempfile.TemporaryDirectory() as tmp:
            run = Path(tmp) / "run"
            cmd = [sys.executable, "-m", "rnncli", "-q", "train", "-c", str(cfg), "--out", str(run)]
            if args.epochs is not None:
                cmd += ["--set", f"train.epochs={args.epochs}"]
            proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
            if proc.returncode != 0:
                print(f"{cfg.name} exit {proc.returncode}: {proc.stderr.strip()[-200:]}", flush=True)
                continue
            marks = [f"{name} {fingerprint(run / name)}" for name in ("model.npz", "best.npz")
                     if (run / name).exists()]
            print(f"{cfg.name} {' '.join(marks)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
