"""Rerun the README's benchmark table (issue 5) and print it as markdown.

    python scripts/bench_report.py --threads 2 [--repeats 30] [--json results.json]

Every size is timed in float32 and float64, numpy and torch.nn.RNN interleaved in one process (see
rnncli/bench.py); the targets of issue 5 are checked against the measured numbers. Run it on an idle
machine: the load average before and after each size is printed, and timings taken under load
(other processes competing for the BLAS threads) are not comparable.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rnncli.tools.bench import cpu_busy, run_bench  # noqa: E402

HEADLINE = (64, 100, 64, 256)
LARGE = (128, 200, 128, 512)
SMALL = (32, 50, 8, 64)
SIZES = {"headline": HEADLINE, "large": LARGE, "small": SMALL}
WINDOW = 10  # truncated-BPTT window for the memory row


def _ms(v):
    return "-" if v is None else f"{v:.2f}"


def _pct(v):
    return "-" if v is None else f"{100 * v:.0f}%"


def _check(ok: bool) -> str:
    return "met" if ok else "NOT met"


def _wait_idle(seconds: float, busy: float = 0.1) -> None:
    """Sleep until the CPUs are less than `busy` used by others, or `seconds` have passed."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        b = cpu_busy(0.5)
        if b is None or b < busy:
            return


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--json", type=Path, help="also write every result here")
    ap.add_argument("--wait-idle", type=float, default=0.0, metavar="SECONDS",
                    help="before each size, wait up to this long for the other CPU users to stop")
    ap.add_argument("--sizes", default="headline,large,small", help="comma list of " + ",".join(SIZES))
    args = ap.parse_args()

    results = []
    for name in args.sizes.split(","):
        B, T, I, H = SIZES[name]
        for dtype in ("float32", "float64"):
            extra = name == "headline" and dtype == "float32"
            _wait_idle(args.wait_idle)
            print(f"timing {name} {dtype} ...", file=sys.stderr, flush=True)
            r = run_bench(batch=B, seq_len=T, input_size=I, hidden=H, dtype=dtype, threads=args.threads,
                          repeats=args.repeats if name != "large" else max(5, args.repeats // 3),
                          scaling=extra, memory_window=WINDOW if extra else None)
            r["name"] = name
            results.append(r)

    print("| B | T | I | H | dtype | numpy ms | torch ms | numpy/torch | numpy GFLOP/s | of matmul peak "
          "| full train step numpy / torch ms | CPU busy before |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        s, n, t, ts = r["size"], r["numpy"], r["torch"], r.get("train_step", {})
        tt = ts.get("torch", {}).get("step_ms")
        print(f"| {s['batch']} | {s['seq_len']} | {s['input']} | {s['hidden']} | {s['dtype']} "
              f"| {_ms(n['step_ms'])} | {_ms(t and t['step_ms'])} | {r.get('ratio', 0):.2f} "
              f"| {n['gflops']:.0f} | {100 * n['peak_fraction']:.0f}% of {r['peak']['gflops']:.0f} "
              f"| {_ms(ts.get('numpy', {}).get('step_ms'))} / {_ms(tt)} "
              f"| {_pct(r['environment']['cpu_busy_before'])} |")

    by = {(r["name"], r["size"]["dtype"]): r for r in results}
    print("\nTargets (issue 5):")
    if ("headline", "float32") in by:
        h = by[("headline", "float32")]
        q = h["ratio"]
        print(f"- B=64,T=100,I=64,H=256 float32: numpy/torch {q:.2f} (<= 0.6): {_check(q <= 0.6)}")
    if ("large", "float32") in by:
        f = by[("large", "float32")]["numpy"]["peak_fraction"]
        print(f"- B=128,T=200,I=128,H=512 float32: {100 * f:.0f}% of matmul peak (>= 70%): "
              f"{_check(f >= 0.7)}")
    if ("small", "float32") in by:
        q = by[("small", "float32")]["ratio"]
        print(f"- B=32,T=50,I=8,H=64 float32: numpy/torch {q:.2f} (<= 0.8): {_check(q <= 0.8)}")
    f64 = [r for r in results if r["size"]["dtype"] == "float64"]
    if f64:
        worst = max(r["ratio"] for r in f64)
        print(f"- float64 at every size: worst numpy/torch {worst:.2f} (<= 1.0): {_check(worst <= 1.0)}")
    if ("headline", "float32") in by:
        h = by[("headline", "float32")]
        sc, m = h["scaling"], h["memory"]
        print(f"- linear cost: 2xT takes {sc['2T']['ratio']:.2f}x, 2xB takes {sc['2B']['ratio']:.2f}x the "
              f"base step ({_ms(sc['2T']['step_ms'])} / {_ms(sc['2B']['step_ms'])} ms against "
              f"{_ms(sc['base_ms'])} ms, timed in the same rounds)")
        print(f"- memory (tracemalloc peak, forward+backward of T=100): full BPTT "
              f"{m['full_peak_bytes'] / 2**20:.1f} MB, windows of k={m['window']}: "
              f"{m['window_peak_bytes'] / 2**20:.1f} MB ({m['ratio']:.2f}x); states alone "
              f"{m['states_bytes_full'] / 2**20:.2f} vs {m['states_bytes_window'] / 2**20:.2f} MB")
        ph = h["train_step"]["numpy"]["phase_fraction"]
        print(f"- full numpy train step: batching {100 * ph['batch']:.1f}%, clip+Adam "
              f"{100 * ph['update']:.1f}%, loss_and_grads {100 * ph['compute']:.1f}%")
    env = results[0]["environment"]
    blas = ", ".join(f"{b['internal_api']} {b['version']} {b['architecture']}" for b in env["blas"])
    print(f"\nnumpy {env['numpy']} ({blas}), torch {env['torch']}, {args.threads} threads, "
          f"{env['cpu_count']} CPUs; OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE')} "
          f"OPENBLAS_L2_SIZE={os.environ.get('OPENBLAS_L2_SIZE')}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
