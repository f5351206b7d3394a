"""How many BLAS threads NumPy's products use: `auto` from the model's sizes, or a count.

A recurrent layer multiplies small matrices T times in a row: per step a (B, H) state times the
(H, G*H) recurrent matrix (G gates: 1 Elman, 3 GRU, 4 LSTM), forward and backward. BLAS starts
one thread per core for each product; below a
size the threads cost more to wake and join than they save, and on a machine where other
processes run, a product waits for its slowest thread, so a small training ran 30x slower with
two threads than with one. `auto` therefore picks one thread unless the per-step products are
large enough to pay off, and then every physical core.

The crossover (AUTO_MIN_STEP_WORK) is measured with `rnn bench`: forward + backward at B=32, T=50,
I=H for H = 64 ... 512, once with `--threads 1` and once with all cores
(`python scripts/bench_threads.py --crossover` runs exactly that and prints the table). On the
2-core AMD EPYC VM this was written on, shared with other jobs (load average ~10), one thread won
at every size (H=64: 3-12 ms against 160-220 ms over four runs; H=128 to 384: 4-14x; H=512, where
B*H*(I+H) = 16.8M: still 3.8x); the README has the table. An idle machine gains from threads
only where each thread gets enough work to outweigh waking it, and a loaded one never did here, so
`auto` keeps one thread up to the largest size measured and uses all physical cores from there
on: a wrong guess costs a large model at most its idle-machine speed-up, where a wrong guess the
other way cost small ones 30x. Rerun the script on your machine and set `train.threads` if it
says otherwise.
Threads are set with threadpoolctl, process-wide, before the first product; nothing here prints.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from rnncli.errors import UsageError
from rnncli.run_layout import RUN_JSON

__all__ = ["AUTO_MIN_STEP_WORK", "apply_threads", "auto_threads", "blas_threads", "parse_threads",
           "physical_cores", "resolve_threads", "run_threads", "set_threads"]

# Per-step work B*G*H*(I+H) from which `auto` uses all physical cores (B=32, I=H=512 reaches it; see above).
AUTO_MIN_STEP_WORK = 16_000_000


def physical_cores() -> int:
    """Physical cores this process may run on (hyperthread siblings counted once)."""
    try:
        cpus = sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1
    cores = set()
    for cpu in cpus:
        topo = Path(f"/sys/devices/system/cpu/cpu{cpu}/topology")
        try:
            cores.add((topo.joinpath("physical_package_id").read_text().strip(),
                       topo.joinpath("core_id").read_text().strip()))
        except OSError:
            cores.add(("cpu", str(cpu)))  # no topology (not Linux sysfs): count the CPU itself
    return max(1, len(cores))


def auto_threads(batch: int, hidden: int, input_size: int | None = None, gates: int = 1) -> int:
    """The `auto` count for one step's products: 1 below AUTO_MIN_STEP_WORK, else all physical cores.

    Args:
        batch: sequences per step B.
        hidden: hidden units H (the widest layer).
        input_size: input features I of the first layer; None = H (the products above it).
        gates: G of the cell (1 Elman, 3 GRU, 4 LSTM): its products are G*H wide.
    """
    work = batch * gates * hidden * ((hidden if input_size is None else input_size) + hidden)
    return 1 if work < AUTO_MIN_STEP_WORK else physical_cores()


def parse_threads(value: object, where: str = "--threads") -> int | str:
    """'auto' or a positive integer from option text; UsageError otherwise."""
    if isinstance(value, str) and value.strip().lower() == "auto":
        return "auto"
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    if isinstance(value, str) and value.strip().isdigit() and int(value) >= 1:
        return int(value)
    raise UsageError(f"{where}: expected auto or a positive number of threads (got {value!r})")


def resolve_threads(setting: int | str | None, *, batch: int, hidden: int,
                    input_size: int | None = None, gates: int = 1) -> int:
    """The count to use: an integer setting as given, `auto` (or None) from the sizes."""
    if setting is None or setting == "auto":
        return auto_threads(batch, hidden, input_size, gates)
    return int(setting)


def set_threads(setting: int | str | None, *, batch: int, hidden: int,
                input_size: int | None = None, gates: int = 1) -> int:
    """Resolve (see `resolve_threads`) and apply the count for a command; returns it."""
    return apply_threads(resolve_threads(setting, batch=batch, hidden=hidden, input_size=input_size,
                                         gates=gates))


def apply_threads(count: int) -> int:
    """Limit NumPy's BLAS (and any OpenMP pool it uses) to `count` threads for this process.

    Returns the count. threadpoolctl finds the BLAS library numpy loaded, so numpy must be imported.
    """
    import numpy  # noqa: F401 - loads the BLAS library threadpoolctl is to find
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=count)
    return count


def blas_threads() -> int | None:
    """The thread count of the first BLAS library numpy loaded (None if none is found)."""
    import numpy  # noqa: F401
    from threadpoolctl import threadpool_info

    counts = [d["num_threads"] for d in threadpool_info() if d.get("user_api") == "blas"]
    return counts[0] if counts else None


def run_threads(cfg, spec, run_dir: Path | None = None) -> int:
    """Apply and return the thread count of a training run (the hook of `train()`).

    `train.threads` as an integer is used as given; `auto` is resolved from the model's sizes,
    except when resuming (`run_dir` given) a run whose run.json recorded a count: then that count,
    so the resumed run computes exactly as the interrupted one did.
    """
    recorded = None
    if run_dir is not None and cfg.train.threads == "auto":
        try:
            recorded = json.loads((Path(run_dir) / RUN_JSON).read_text()).get("threads")
        except (OSError, ValueError, AttributeError):
            recorded = None
    if isinstance(recorded, int) and recorded >= 1:
        return apply_threads(recorded)
    return set_threads(cfg.train.threads, batch=cfg.train.batch_size, hidden=spec.hidden_size,
                       input_size=spec.input_size, gates=spec.gates)
