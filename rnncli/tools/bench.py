"""Benchmark of a training step: NumPy core against the machine's matmul peak and torch.nn.RNN/GRU/LSTM.

Letters: B batch, T time, I input, H hidden, L layers, O output, G gates (1 Elman, 3 GRU, 4 LSTM).

The step timed is forward + backward of the recurrent layers of one cell (rnn_forward + rnn_backward,
which also returns dL/dx); its work is counted as 6*B*T*G*H*(I+H) floating-point operations per layer
(I = H above the first): 2 for the forward products, 4 for the backward ones; the gates' elementwise
work is not counted. The full training step (head, loss,
gradient clipping, Adam) is timed separately. torch is optional and, when importable, is given its
fastest honest path: time-major input (its native layout), the same threads and dtype, and no dL/dx.

Timings on a shared machine are noisy, so the contenders run interleaved (one numpy step, one torch
step, matmul, ...) and the median is reported, with how busy the CPUs were. Nothing here prints.
"""

from __future__ import annotations

import contextlib
import os
import time
import tracemalloc
from collections.abc import Callable, Iterator

import numpy as np

from rnncli.core.cells import get_cell
from rnncli.core.model import ModelSpec
from rnncli.core.rnn import rnn_backward, rnn_forward
from rnncli.errors import UsageError
from rnncli.memory import check_fits, memory_budget, step_memory_bytes
from rnncli.tools.bench_steps import import_torch, numpy_step, rnn_problem, torch_step, train_steps

DTYPES = ("float32", "float64")
PEAK_SIZES = (512, 1024, 2048)  # square matmul sizes tried for the peak; the best counts
SETTLE_S = 0.25  # untimed calls before each timed block: longer than threads spin after a product


def step_flops(batch: int, seq_len: int, input_size: int, hidden: int, layers: int = 1,
               cell: str = "rnn") -> int:
    """Floating-point operations of one forward + backward of the recurrent layers (their products)."""
    per_layer = [input_size] + [hidden] * (layers - 1)
    G = len(get_cell(cell).GATES)
    return sum(6 * batch * seq_len * G * hidden * (i + hidden) for i in per_layer)


def blas_info() -> list[dict]:
    """BLAS libraries numpy (and torch, if loaded) run: name, kernel architecture, threads.

    Empty when threadpoolctl is not installed (it is only needed to report and limit threads).
    """
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    keys = ("internal_api", "version", "architecture", "num_threads", "prefix")
    return [{k: d.get(k) for k in keys} for d in threadpool_info() if d.get("user_api") == "blas"]


@contextlib.contextmanager
def thread_limit(threads: int, torch=None) -> Iterator[bool]:
    """Limit numpy's BLAS (via threadpoolctl, if installed) and `torch` (if given) to `threads`;
    restore after. Yields whether numpy's BLAS could be limited.
    """
    before = torch.get_num_threads() if torch is not None else None
    if torch is not None:
        torch.set_num_threads(threads)
    try:
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:
            yield False
            return
        with threadpool_limits(limits=threads, user_api="blas"):
            yield True
    finally:
        if torch is not None:
            torch.set_num_threads(before)


def cpu_busy(interval: float = 0.5) -> float | None:
    """Fraction of all CPUs that other processes kept busy over `interval` seconds (Linux
    /proc/stat minus this process, whose BLAS threads may still spin); None where unreadable."""
    def snap() -> tuple[int, int, int]:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        with open("/proc/self/stat") as f:
            mine = f.read().rsplit(")", 1)[1].split()  # fields after the command name
        return sum(v), v[3] + v[4], int(mine[11]) + int(mine[12])  # total, idle+iowait, utime+stime

    try:
        total0, idle0, mine0 = snap()
        time.sleep(interval)
        total1, idle1, mine1 = snap()
    except (OSError, ValueError, IndexError):
        return None
    total = max(total1 - total0, 1)
    return max(0.0, 1.0 - (idle1 - idle0) / total - (mine1 - mine0) / total)


def _median_ms(times: list[float]) -> float:
    return float(np.median(times)) * 1e3


def time_interleaved(fns: dict[str, Callable[[], object]], *, warmup: int, repeats: int,
                     block: int = 5) -> dict[str, list[float]]:
    """Seconds per call of each function: rounds of `block` timed calls per function in turn.

    Rounds let a load that comes and goes hit every contender alike. Each block starts with
    SETTLE_S seconds of untimed calls: BLAS and OpenMP worker threads busy-wait for a while after
    a product, and the spinning threads of one library would otherwise slow the next one's timed
    calls (measured: torch 2.5x slower right after a numpy step, numpy 1.7x after torch). Untimed
    work rather than a pause, because an idle core clocks down and a pause slowed the next calls.
    """
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    while len(times[next(iter(fns))]) < repeats:
        for name, fn in fns.items():
            settle_end = time.perf_counter() + SETTLE_S
            fn()
            while time.perf_counter() < settle_end:
                fn()
            for _ in range(min(block, repeats - len(times[name]))):
                start = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - start)
    return times


def _matmul_fn(n: int, dtype: str) -> Callable[[], object]:
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((n, n)).astype(dtype) for _ in range(2))
    c = np.empty((n, n), dtype=dtype)
    return lambda: np.matmul(a, b, out=c)


def matmul_peak(dtype: str, *, sizes: tuple[int, ...] = PEAK_SIZES, repeats: int = 5) -> dict:
    """The machine's matrix-product rate: best median GFLOP/s of np.matmul on (n, n) matrices."""
    best = {"gflops": 0.0, "n": None}
    for n in sizes:
        t = time_interleaved({"mm": _matmul_fn(n, dtype)}, warmup=1, repeats=repeats)["mm"]
        gflops = 2.0 * n**3 / float(np.median(t)) / 1e9
        if gflops > best["gflops"]:
            best = {"gflops": gflops, "n": n}
    return best


def activation_memory(batch: int, seq_len: int, input_size: int, hidden: int, layers: int,
                      dtype: str, window: int, cell: str = "rnn") -> dict:
    """Peak bytes allocated (tracemalloc) by forward + backward over the whole sequence, and over
    the same sequence in truncated-BPTT windows of `window` steps carrying the state across."""
    _, params, x, _ = rnn_problem(batch, seq_len, input_size, hidden, layers, dtype, cell=cell)

    def run(k: int) -> int:
        tracemalloc.start()
        try:
            h = None
            for s in range(0, seq_len, k):
                xw = x[:, s:s + k]
                _, h, cache = rnn_forward(params, xw, num_layers=layers, cell=cell, h0=h)
                rnn_backward(np.ones(xw.shape[:2] + (hidden,), dtype=dtype), cache)
                del cache
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    item = np.dtype(dtype).itemsize
    full, win = run(seq_len), run(window)
    return {
        "window": window,
        "full_peak_bytes": full,
        "window_peak_bytes": win,
        "ratio": win / full,
        "states_bytes_full": layers * seq_len * batch * hidden * item,  # T*B*H per layer
        "states_bytes_window": layers * min(window, seq_len) * batch * hidden * item,
    }


def _stats(times: list[float], flops: int, batch: int) -> dict:
    ms = _median_ms(times)
    return {
        "step_ms": ms,
        "step_ms_min": float(np.min(times)) * 1e3,
        "seq_per_s": batch / (ms / 1e3),
        "gflops": flops / (ms / 1e3) / 1e9,
    }


def check_bench_memory(batch: int, seq_len: int, input_size: int, hidden: int, layers: int, dtype: str, *,
                       scaling: bool, use_torch: bool, cell: str = "rnn") -> None:
    """Refuse sizes whose steps would not fit before anything is allocated (memory.check_fits)."""
    spec = ModelSpec(input_size, hidden, input_size, layers, cell=cell)
    scale = 2 if scaling else 1  # the 2T and 2B steps
    parts = {"numpy step": scale * step_memory_bytes(spec, batch, seq_len, dtype)}
    if use_torch:
        parts["torch step"] = parts["numpy step"]
    check_fits(parts, memory_budget(), f"bench (batch {batch}, seq_len {seq_len}, hidden {hidden}, "
               f"{layers} layers)", "lower --batch, --seq-len or --hidden", UsageError)


def run_bench(  # noqa: PLR0913 - keyword-only options, one per command-line flag
    *,
    batch: int,
    seq_len: int,
    input_size: int,
    hidden: int,
    layers: int = 1,
    cell: str = "rnn",
    dtype: str = "float32",
    threads: int | None = None,
    repeats: int = 20,
    warmup: int = 3,
    use_torch: bool = True,
    train_step: bool = True,
    scaling: bool = False,
    memory_window: int | None = None,
    peak_sizes: tuple[int, ...] | None = None,
) -> dict:
    """Time the recurrent step of one cell (and optionally more) at one size; a JSON-ready dict.

    Args:
        cell: rnn, gru or lstm (core/cells/), against torch.nn.RNN, GRU or LSTM.
        threads: BLAS threads for numpy and torch alike; None = every core.
        use_torch: compare with the cell's torch.nn class when torch is importable.
        train_step: also time the full training step (head, MSE, clipping, Adam).
        scaling: also time the numpy step at 2*T and at 2*B (linear cost: ratios near 2).
        memory_window: also measure peak memory of full BPTT against windows of this many steps.
        peak_sizes: square sizes for the matmul peak; None = PEAK_SIZES.
    """
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {DTYPES}, got {dtype!r}")
    check_bench_memory(batch, seq_len, input_size, hidden, layers, dtype, scaling=scaling,
                       use_torch=use_torch, cell=cell)
    threads = threads or os.cpu_count() or 1
    torch = import_torch() if use_torch else None
    flops = step_flops(batch, seq_len, input_size, hidden, layers, cell)
    load_before = os.getloadavg()
    busy_before = cpu_busy(0.2)
    with thread_limit(threads, torch) as limited:
        result: dict = {
            "size": {"batch": batch, "seq_len": seq_len, "input": input_size, "hidden": hidden,
                     "layers": layers, "cell": cell, "dtype": dtype},
            "threads": threads,
            "torch_class": get_cell(cell).TORCH_CLASS,
            "flops_per_step": flops,
            "environment": {
                "numpy": np.__version__,
                "torch": None if torch is None else torch.__version__,
                "cpu_count": os.cpu_count(),
                "numpy_threads_limited": limited,
                "blas": blas_info(),
                "openblas_env": {k: os.environ.get(k) for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")},
            },
        }
        # The best size first; then that product is timed again between the steps, so a machine
        # whose load changes during the run scales the peak and the steps alike.
        n = matmul_peak(dtype, sizes=peak_sizes or PEAK_SIZES, repeats=3)["n"]
        _, params, x, dhs = rnn_problem(batch, seq_len, input_size, hidden, layers, dtype, cell=cell)
        fns = {"numpy": numpy_step(params, x, dhs, layers, cell)}
        grads = fns["numpy"]()[0]
        if torch is not None:
            fns["torch"], result["torch_max_abs_diff"] = torch_step(torch, params, x, dhs, layers, cell)
        fns["peak"] = _matmul_fn(n, dtype)
        times = time_interleaved(fns, warmup=warmup, repeats=repeats)
        peak = {"gflops": 2.0 * n**3 / float(np.median(times["peak"])) / 1e9, "n": n}
        result["peak"] = peak
        result["numpy"] = _stats(times["numpy"], flops, batch)
        result["numpy"]["peak_fraction"] = result["numpy"]["gflops"] / peak["gflops"]
        result["numpy"]["dtypes"] = sorted({g.dtype.name for g in grads.values()})
        result["torch"] = None
        if torch is not None:
            result["torch"] = _stats(times["torch"], flops, batch)
            result["torch"]["peak_fraction"] = result["torch"]["gflops"] / peak["gflops"]
            result["ratio"] = result["numpy"]["step_ms"] / result["torch"]["step_ms"]
        if train_step:
            tfns, train_dtypes, phases = train_steps(torch, batch, seq_len, input_size, hidden,
                                                      layers, dtype, cell)
            ttimes = time_interleaved(tfns, warmup=1, repeats=max(3, repeats // 2))
            result["train_step"] = {name: {"step_ms": _median_ms(t)} for name, t in ttimes.items()}
            result["train_step"]["numpy"]["dtypes"] = sorted(train_dtypes)
            total = sum(sum(v) for v in phases.values())
            result["train_step"]["numpy"]["phase_fraction"] = {k: sum(v) / total for k, v in phases.items()}
            if "torch" in ttimes:
                result["train_step"]["ratio"] = _median_ms(ttimes["numpy"]) / _median_ms(ttimes["torch"])
        if scaling:
            result["scaling"] = _scaling(batch, seq_len, input_size, hidden, layers, dtype, cell,
                                         warmup, max(3, repeats // 2))
    if memory_window:
        result["memory"] = activation_memory(batch, seq_len, input_size, hidden, layers, dtype,
                                             memory_window, cell)
    result["environment"]["loadavg"] = [list(load_before), list(os.getloadavg())]
    result["environment"]["cpu_busy_before"] = busy_before
    return result


def _scaling(batch, seq_len, input_size, hidden, layers, dtype, cell, warmup, repeats) -> dict:
    """numpy step time at 2*T and at 2*B over the base time (2.0 = linear), all three timed in
    the same rounds so that the ratios do not depend on when the machine was busy."""
    fns = {}
    for key, (b, t) in {"base": (batch, seq_len), "2T": (batch, 2 * seq_len),
                        "2B": (2 * batch, seq_len)}.items():
        _, params, x, dhs = rnn_problem(b, t, input_size, hidden, layers, dtype, cell=cell)
        fns[key] = numpy_step(params, x, dhs, layers, cell)
    times = {k: _median_ms(v) for k, v in time_interleaved(fns, warmup=warmup, repeats=repeats).items()}
    out: dict = {k: {"step_ms": times[k], "ratio": times[k] / times["base"]} for k in ("2T", "2B")}
    out["base_ms"] = times["base"]
    return out
