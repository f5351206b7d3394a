"""The device check of issue 21: everything that needs a GPU, in one run, one table, one exit code.

    python scripts/gpu_check.py            on a machine with a CUDA GPU and CuPy (<= 5 minutes, H200)
    python scripts/gpu_check.py --cpu      the same checks on the host through the test double of
                                           tests/fakedevice.py (RNN_GPU_CHECK_CPU=1 does the same)

Parts (each row of the table is one check; any FAIL makes the exit code 1):
  grad    the device's float64 loss and gradients against NumPy's for every model option (every
          registered cell, 1-3 layers, bidirectional, ragged lengths, dropout, recurrent dropout,
          embeddings, tied weights): relative difference <= 1e-12 (tools/device_check.py)
  bench   `rnn bench --device cuda`'s sizes against torch's cuDNN, FP32 on both sides; each ratio
          against issue 21's goal (text step <= 3x, B=64 layer <= 5x, B=1024 H=2048 <= 2x)
  config  every shipped config trained for one epoch on the device
  text    configs/shakespeare_gpu.yaml on tinyshakespeare for at most --text-seconds (stopped with
          a checkpoint like Ctrl-C): its best validation bits/char against the goal 2.2
In --cpu mode the sizes are tiny, the goals are not checked (CPU timings say nothing about a GPU)
and the text run uses data/tiny.txt for one epoch: it checks that the check runs.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TINYSHAKESPEARE = ROOT.parent / "shared" / "data" / "tinyshakespeare.txt"
GOALS = {0: 3.0, 2: 5.0, 4: 2.0}  # ISSUE_SIZES index -> ours/cuDNN at most (issue 21)
TEXT_GOAL_BPC = 2.2


class Table:
    def __init__(self):
        self.rows: list[tuple[str, str, str, str, str]] = []

    def add(self, part: str, check: str, value: str, limit: str, ok: bool | None) -> None:
        status = "ok" if ok else ("-" if ok is None else "FAIL")
        self.rows.append((part, check, value, limit, status))
        print(f"  {status:4} {part:6} {check}: {value}", file=sys.stderr, flush=True)

    def print(self) -> None:
        widths = [max(len(r[i]) for r in [("part", "check", "value", "limit", "status"), *self.rows])
                  for i in range(5)]
        for r in [("part", "check", "value", "limit", "status"), *self.rows]:
            print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())

    @property
    def failed(self) -> int:
        return sum(r[4] == "FAIL" for r in self.rows)


def fake_device():
    """tests/fakedevice.py's device, with the fused drivers on plain primitives installed for it."""
    sys.path.insert(0, str(ROOT / "tests"))
    from fakedevice import FAKE_MODULE, FakeDevice

    from rnncli.accel import install_fused_kernels
    from rnncli.accel.elman_fused import NumpyPrimitives

    install_fused_kernels(FAKE_MODULE, NumpyPrimitives(FAKE_MODULE))
    return FakeDevice()


def grad_options():
    from rnncli.core.cells import CELLS

    base = [{}, {"num_layers": 3}, {"bidirectional": True}, {"output": "last"}, {"ragged": True},
            {"dropout": 0.2, "recurrent_dropout": 0.3, "num_layers": 2, "ragged": True},
            {"bidirectional": True, "recurrent_dropout": 0.3, "ragged": True, "output": "last"},
            {"embedding_size": 4},
            {"embedding_size": 16, "tie_weights": True, "num_layers": 2}]  # tied: E = H = 16
    for cell in CELLS:
        for opts in base:
            yield {"cell": cell, **opts}
        if cell == "rnn":
            yield {"cell": cell, "nonlinearity": "relu", "ragged": True, "recurrent_dropout": 0.3}


def check_gradients(table: Table, device) -> None:
    from rnncli.core.init import init_params
    from rnncli.core.model import ModelSpec
    from rnncli.tools.device_check import DEVICE_TOL, device_agreement

    rng = np.random.default_rng(0)
    for options in grad_options():
        opts = dict(options)
        name = ",".join(f"{k}={v}" for k, v in options.items())
        ragged, tokens = opts.pop("ragged", False), "embedding_size" in opts
        drop = {k: opts.pop(k) for k in ("dropout", "recurrent_dropout") if k in opts}
        try:
            V, B, T = 7, 5, 9
            spec = ModelSpec(V if tokens else 3, 16, V if tokens else 2, opts.pop("num_layers", 2),
                             output=opts.pop("output", "sequence"), **opts)
            params = init_params(spec, rng, init="uniform", dtype=np.float64)
            x = rng.integers(0, V, (B, T)) if tokens else rng.standard_normal((B, T, 3))
            shape = (B, T) if spec.output == "sequence" else (B,)
            y = rng.integers(0, V, shape) if tokens else rng.standard_normal((*shape, 2))
            lengths = np.array([9, 2, 5, 1, 7]) if ragged else None
            result = device_agreement(params, spec, x, y, loss="cross_entropy" if tokens else "mse",
                                      device=device, lengths=lengths, **drop)
            worst = max(result, key=lambda a: a.rel_error)
            table.add("grad", name, f"{worst.rel_error:.1e} ({worst.name})", f"<= {DEVICE_TOL:.0e}",
                      all(a.passed for a in result))
        except Exception as e:  # a crash is a failed check, reported, never a traceback mid-table
            table.add("grad", name, f"error: {type(e).__name__}: {str(e)[:60]}", "", False)


def check_bench(table: Table, device, cpu: bool) -> None:
    from rnncli.tools.bench_cuda import ISSUE_SIZES, run_cuda_bench

    sizes = ISSUE_SIZES
    if cpu:
        sizes = [{**s, "batch": 4, "seq_len": 5, "hidden": 8, **({"input": 3} if "input" in s else {})}
                 for s in ISSUE_SIZES]
    try:
        result = run_cuda_bench(device, sizes, tf32=False, warmup=2 if cpu else 3,
                                repeats=2 if cpu else 10)
    except Exception as e:
        table.add("bench", "run", f"error: {type(e).__name__}: {str(e)[:60]}", "", False)
        return
    for i, r in enumerate(result["rows"]):
        theirs = "no torch CUDA" if r["torch_ms"] is None else f"{r['torch_ms']:.3g} ms"
        value = f"ours {r['ours_ms']:.3g} ms, cuDNN {theirs}"
        goal = GOALS.get(i)
        if r["ratio"] is not None:
            value += f", {r['ratio']:.2f}x"
        ok = None if cpu or goal is None else (r["ratio"] is not None and r["ratio"] <= goal)
        table.add("bench", r["size"], value, f"<= {goal}x" if goal and not cpu else "", ok)
    precision = result["precision"]
    table.add("bench", "precision", f"ours {precision['ours']}; torch {precision['torch']}", "", None)


def _train(cfg, run_dir: Path, device, stop_after: float | None = None) -> dict:
    """Train in this process on `device`; with stop_after, ask the run to stop after that many
    seconds (as Ctrl-C would: a checkpoint, then Interrupted)."""
    from rnncli.errors import Interrupted
    from rnncli.training import loop

    loop.resolve_device = lambda setting, where: device
    timer = None
    if stop_after is not None:
        timer = threading.Timer(stop_after, lambda: os.kill(os.getpid(), signal.SIGINT))
        timer.start()
    try:
        return loop.train(cfg, run_dir)
    except (Interrupted, KeyboardInterrupt):
        return {"status": "stopped at the time limit"}
    finally:
        if timer is not None:
            timer.cancel()


def _tiny(path: Path) -> list[str]:
    """--set values that shrink a config to a fraction of a second on the host, keeping its task."""
    import yaml

    data = (yaml.safe_load(path.read_text()) or {}).get("data") or {}
    sets = ["model.hidden_size=4", "train.batch_size=8"]
    if "seq_len" in data and data.get("source") != "copy":  # copy's length is its delay and symbols
        sets.append("data.seq_len=12")
    if "num_samples" in data:
        sets.append("data.num_samples=40")
    return sets


def check_configs(table: Table, device, cpu: bool, tmp: Path) -> None:
    from rnncli.config import load_config

    for path in sorted((ROOT / "configs").glob("*.yaml")):
        sets = ["train.epochs=1", "train.patience=null", *(_tiny(path) if cpu else [])]
        try:
            t0 = time.perf_counter()
            summary = _train(load_config([path], sets), tmp / path.stem, device)
            loss = summary.get("best_loss")
            took = time.perf_counter() - t0
            table.add("config", path.name, f"1 epoch, {took:.1f} s, best loss {loss:.4g}", "finite",
                      loss is not None and bool(np.isfinite(loss)))
        except Exception as e:
            table.add("config", path.name, f"error: {type(e).__name__}: {str(e)[:60]}", "", False)


def check_text(table: Table, device, cpu: bool, seconds: float, tmp: Path) -> None:
    from rnncli.config import load_config

    corpus = None if cpu or not TINYSHAKESPEARE.is_file() else TINYSHAKESPEARE
    sets = [] if corpus is None else [f"data.path={corpus}"]
    if cpu:
        sets += ["train.epochs=1", "model.hidden_size=16", "data.seq_len=16", "train.batch_size=8"]
    run = tmp / "text-run"
    try:
        t0 = time.perf_counter()
        summary = _train(load_config([ROOT / "configs" / "shakespeare_gpu.yaml"], sets), run, device,
                         None if cpu else seconds)
        records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
        best = min(r["val_bpc"] for r in records if r.get("val_bpc") is not None)
        value = (f"best {best:.3f} bits/char after {len(records)} epochs, {time.perf_counter() - t0:.0f} s "
                 f"({summary.get('status')}) on {corpus.name if corpus else 'data/tiny.txt'}")
        goal = corpus is not None
        table.add("text", "shakespeare_gpu.yaml", value, f"<= {TEXT_GOAL_BPC}" if goal else "",
                  best <= TEXT_GOAL_BPC if goal else bool(np.isfinite(best)))
    except Exception as e:
        table.add("text", "shakespeare_gpu.yaml", f"error: {type(e).__name__}: {str(e)[:60]}", "", False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpu", action="store_true", default=os.environ.get("RNN_GPU_CHECK_CPU") == "1",
                        help="run the checks on the host through the test double (no GPU needed)")
    parser.add_argument("--text-seconds", type=float, default=180.0,
                        help="time limit of the text config's run (default 180)")
    parser.add_argument("--parts", default="grad,bench,config,text", help="comma-separated subset")
    args = parser.parse_args(argv)
    parts = set(args.parts.split(","))
    if args.cpu:
        device = fake_device()
    else:
        from rnncli.device import cuda_problem, resolve_device

        problem = cuda_problem()
        if problem is not None:
            print(f"gpu_check: error: {problem} (RNN_GPU_CHECK_CPU=1 runs the checks on the host)",
                  file=sys.stderr)
            return 2
        device = resolve_device("cuda")
    table = Table()
    print(f"gpu_check on {device.label} ({'host, test double' if args.cpu else 'CUDA'})", file=sys.stderr)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        try:
            if "grad" in parts:
                check_gradients(table, device)
            if "bench" in parts:
                check_bench(table, device, args.cpu)
            if "config" in parts:
                check_configs(table, device, args.cpu, Path(tmp))
            if "text" in parts:
                check_text(table, device, args.cpu, args.text_seconds, Path(tmp))
        except Exception:  # the table so far, then what broke
            traceback.print_exc()
            table.add("check", "gpu_check itself", "crashed (traceback above)", "", False)
    table.print()
    n = len(table.rows)
    print(f"{table.failed} of {n} checks failed; {time.perf_counter() - t0:.0f} s"
          if table.failed else f"all {n} checks passed; {time.perf_counter() - t0:.0f} s")
    return 1 if table.failed else 0


if __name__ == "__main__":
    sys.exit(main())
