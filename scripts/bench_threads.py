"""BLAS threads and training speed: the digits-size run alone and beside busy processes, and
`rnn bench` at a small and a large size with --threads auto, 1 and all physical cores.

    python scripts/bench_threads.py                 # everything (a few minutes)
    python scripts/bench_threads.py --only digits   # the digits run only
    python scripts/bench_threads.py --crossover     # where two threads start to beat one

The digits run is scikit-learn's load_digits as sequences (8 steps of 8 pixels, 10 classes),
hidden size 64, 10 epochs: the size where BLAS threads cost most. Each case is a fresh
`rnn train --threads X` process, timed from start to exit, first with the machine as it is
("alone"), then beside two CPU-bound processes (pure Python busy loops) started just before.
`rnn bench` cases run with --no-torch --no-train-step. Prints a Markdown table on stdout and
the CPU model and load on stderr. Timings on a shared machine vary; rerun when it is idle.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUSY = "while True: pass"
SMALL = ["--batch", "32", "--seq-len", "50", "--input", "8", "--hidden", "64"]
LARGE = ["--batch", "64", "--seq-len", "100", "--input", "256", "--hidden", "512"]


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def rnn(*args: str) -> list[str]:
    return [sys.executable, "-m", "rnncli", *args]


def env() -> dict:
    """The user's shell as it comes: no thread variables, so --threads alone decides."""
    e = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    e["PYTHONPATH"] = str(ROOT) + os.pathsep + e.get("PYTHONPATH", "")
    return e


def digits_file(tmp: Path) -> Path:
    import numpy as np
    from sklearn.datasets import load_digits

    d = load_digits()
    path = tmp / "digits.npz"
    np.savez(path, X=d.data.reshape(-1, 8, 8).astype(np.float32) / 16.0, y=d.target.astype(np.int64))
    return path


def time_train(data: Path, threads: str, out: Path, busy: int) -> float:
    """Seconds of one `rnn train` process on the digits, with `busy` busy loops beside it."""
    loops = [subprocess.Popen([sys.executable, "-c", BUSY]) for _ in range(busy)]
    try:
        time.sleep(0.5 if busy else 0)
        start = time.perf_counter()
        subprocess.run(rnn("-q", "train", "--set", f"data.source={data}", "--set", "model.hidden_size=64",
                           "--set", "train.epochs=10", "--threads", threads, "-o", str(out)),
                       check=True, env=env())
        return time.perf_counter() - start
    finally:
        for p in loops:
            p.kill()
            p.wait()


def digits(tmp: Path, cores: int) -> list[str]:
    data = digits_file(tmp)
    rows = ["| digits run (H=64, 10 epochs) | alone s | beside 2 busy processes s | slowdown |",
            "|---|---|---|---|"]
    for threads in ("auto", "1", str(cores)):
        alone = time_train(data, threads, tmp / f"alone-{threads}", 0)
        loaded = time_train(data, threads, tmp / f"busy-{threads}", 2)
        used = json.loads((tmp / f"alone-{threads}" / "run.json").read_text())["threads"]
        rows.append(f"| --threads {threads} ({used} used) | {alone:.2f} | {loaded:.2f} | "
                    f"{loaded / alone:.1f}x |")
    return rows


def bench_ms(sizes: list[str], threads: str) -> tuple[float, int]:
    out = subprocess.run(rnn("-q", "bench", *sizes, "--threads", threads, "--no-torch", "--no-train-step",
                             "--repeats", "20", "--json"), check=True, env=env(), capture_output=True,
                         text=True).stdout
    r = json.loads(out)
    return r["numpy"]["step_ms"], r["threads"]


def bench(cores: int) -> list[str]:
    rows = ["| rnn bench size | --threads auto ms | 1 ms | " + f"{cores} ms |", "|---|---|---|---|"]
    for name, sizes in (("small B=32 T=50 I=8 H=64", SMALL), ("large B=64 T=100 I=256 H=512", LARGE)):
        cells = []
        for threads in ("auto", "1", str(cores)):
            ms, used = bench_ms(sizes, threads)
            cells.append(f"{ms:.2f}" + (f" ({used} threads)" if threads == "auto" else ""))
        rows.append(f"| {name} | " + " | ".join(cells) + " |")
    return rows


def crossover(cores: int) -> list[str]:
    rows = [f"| H (B=32, T=50, I=H) | B*H*(I+H) | 1 thread ms | {cores} threads ms | speed-up |",
            "|---|---|---|---|---|"]
    for h in (64, 128, 192, 256, 384, 512):
        sizes = ["--batch", "32", "--seq-len", "50", "--input", str(h), "--hidden", str(h)]
        one, _ = bench_ms(sizes, "1")
        many, _ = bench_ms(sizes, str(cores))
        rows.append(f"| {h} | {32 * h * 2 * h / 1e6:.2f}M | {one:.2f} | {many:.2f} | {one / many:.2f}x |")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", choices=("digits", "bench"), help="Run one part only.")
    ap.add_argument("--crossover", action="store_true", help="Time 1 vs all threads over H instead.")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    from rnncli.threads import physical_cores

    cores = physical_cores()
    print(f"{cpu_model()}, {cores} physical cores, load average {os.getloadavg()[0]:.2f}", file=sys.stderr)
    rows: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        if args.crossover:
            rows += crossover(cores)
        else:
            if args.only in (None, "digits"):
                rows += digits(Path(tmp), cores) + [""]
            if args.only in (None, "bench"):
                rows += bench(cores)
    print("\n".join(rows))
    print(f"load average after: {os.getloadavg()[0]:.2f}", file=sys.stderr)


if __name__ == "__main__":
    main()
