"""`rnn bench`: time a training step of a NumPy cell against the matmul peak and torch.nn.RNN/GRU/LSTM."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from rnncli.cli._common import echo_json, err_console, fmt_num, is_quiet
from rnncli.cli.options import ConfigFiles, DeviceOption, Json, Quiet, SetOverrides, Threads
from rnncli.cli.tables import print_table
from rnncli.core.model import MAX_LAYERS, MAX_SIZE
from rnncli.errors import UsageError
from rnncli.wording import plural

# The issue's headline size: a batch of 64 sequences of 100 steps, 64 features, 256 hidden units.
# Each timed step's seconds are kept for the median: 10^15 repeats once grew that list (and ran)
# without end; 100,000 steps time any size this code can run to well under a percent.
MAX_REPEATS = 100_000
DEFAULTS = {"batch": 64, "seq_len": 100, "input_size": 64, "hidden": 256, "layers": 1, "cell": "rnn",
            "dtype": "float32"}


def _sizes_from_config(paths: list[Path], overrides: list[str]) -> dict:
    """Batch, steps, input size, hidden size, layers, cell and dtype of the config's training step."""
    import numpy as np

    from rnncli.config import load_config
    from rnncli.data import load_dataset

    cfg = load_config(paths, overrides)
    data = load_dataset(cfg.data, seed=int(cfg.seed), dtype=np.float64, base_dir=Path.cwd())
    steps = int(data.train.X.shape[1])
    return {
        "batch": int(cfg.train.batch_size),
        "seq_len": min(steps, cfg.train.bptt or steps),  # a truncated-BPTT step spans one window
        "input_size": int(data.task.input_size),
        "hidden": int(cfg.model.hidden_size),
        "layers": int(cfg.model.num_layers),
        "cell": cfg.model.cell,
        "dtype": cfg.train.dtype,
    }


def _table(r: dict) -> Table:
    s, n, t = r["size"], r["numpy"], r.get("torch")
    title = (f"{s['cell']} B={s['batch']} T={s['seq_len']} I={s['input']} H={s['hidden']} L={s['layers']} "
             f"{s['dtype']}, {plural(r['threads'], 'thread')}")
    if t is not None:  # the class in the title: a wide column header would squeeze the row labels
        title += f", torch = torch.nn.{r['torch_class']}"
    table = Table(title=f"rnn bench: {title}", title_justify="left")
    table.add_column("forward+backward")
    table.add_column("numpy", justify="right")
    table.add_column("torch", justify="right")
    table.add_column("numpy/torch", justify="right")

    def row(label, key, digits=4, ratio=False):
        tv = None if t is None else t[key]
        table.add_row(label, fmt_num(n[key], digits), fmt_num(tv, digits),
                      fmt_num(n[key] / tv, 3) if ratio and tv else "")

    row("step ms (median)", "step_ms", ratio=True)
    row("sequences/s", "seq_per_s")
    row("GFLOP/s", "gflops")
    pct = [f"{100 * v['peak_fraction']:.1f}%" if v else "-" for v in (n, t)]
    table.add_row(f"of matmul peak ({r['peak']['gflops']:.0f} GFLOP/s)", pct[0], pct[1], "")
    if "train_step" in r:
        ts = r["train_step"]
        tv = ts.get("torch", {}).get("step_ms")
        table.add_row("full train step ms (head+MSE+clip+Adam)", fmt_num(ts["numpy"]["step_ms"]),
                      fmt_num(tv), fmt_num(ts.get("ratio"), 3))
    _scaling_rows(table, r)
    if "memory" in r:
        m = r["memory"]
        table.add_row("peak MB, full BPTT", fmt_num(m["full_peak_bytes"] / 2**20), "", "")
        table.add_row(f"peak MB, BPTT window {m['window']} (/ full)",
                      f"{fmt_num(m['window_peak_bytes'] / 2**20)} ({m['ratio']:.2f}x)", "", "")
    return table


def _scaling_rows(table: Table, r: dict) -> None:
    """Scaling rows: 2T and 2B each over the base size timed in the same rounds (2.00x = linear)."""
    sc, s = r.get("scaling"), r["size"]
    if not sc:
        return
    base = f"scaling: step ms at T={s['seq_len']} B={s['batch']} (base)"
    table.add_row(base, f"{sc['base_ms']:.4g}", "", "")
    for key, label in (("2T", f"T={2 * s['seq_len']}"), ("2B", f"B={2 * s['batch']}")):
        if key in sc:
            table.add_row(f"scaling: step ms at {label} ({key} / base)",
                          f"{sc[key]['step_ms']:.4g} ({sc[key]['ratio']:.2f}x)", "", "")


def bench(  # noqa: PLR0913 - a Typer command: one parameter per option
    config: ConfigFiles = None,
    set_: SetOverrides = None,
    batch: Annotated[int | None, typer.Option("--batch", min=1, help="Sequences per step B.")] = None,
    seq_len: Annotated[int | None, typer.Option("--seq-len", min=1, help="Time steps T.")] = None,
    input_size: Annotated[int | None, typer.Option("--input", min=1, max=MAX_SIZE,
                                                   help="Input features I.")] = None,
    hidden: Annotated[int | None, typer.Option("--hidden", min=1, max=MAX_SIZE,
                                               help="Hidden units H.")] = None,
    layers: Annotated[int | None, typer.Option("--layers", min=1, max=MAX_LAYERS,
                                               help="Stacked layers L.")] = None,
    cell: Annotated[
        str | None, typer.Option("--cell", help="rnn, gru or lstm (default rnn), against torch.nn.RNN, "
                                 "GRU or LSTM.")
    ] = None,
    dtype: Annotated[
        str | None, typer.Option("--dtype", help="float32 or float64 (default float32).")
    ] = None,
    threads: Threads = None,
    repeats: Annotated[int, typer.Option("--repeats", min=1, max=MAX_REPEATS,
                                         help="Timed steps (median reported).")] = 20,
    warmup: Annotated[int, typer.Option("--warmup", min=0, max=MAX_REPEATS, help="Untimed steps first.")] = 3,
    torch: Annotated[
        bool, typer.Option("--torch/--no-torch", help="Compare with torch.nn.RNN if torch is installed.")
    ] = True,
    train_step: Annotated[
        bool, typer.Option("--train-step/--no-train-step", help="Also time the full training step.")
    ] = True,
    scaling: Annotated[
        bool, typer.Option("--scaling", help="Also time the step at 2*T and 2*B (linear: about 2x).")
    ] = False,
    memory_window: Annotated[
        int | None,
        typer.Option("--memory-window", min=1, metavar="K",
                     help="Also report peak memory of full BPTT against windows of K steps."),
    ] = None,
    device: DeviceOption = None,
    tf32: Annotated[
        bool, typer.Option("--tf32/--no-tf32", help="With --device cuda: let both sides use TF32 "
                           "tensor cores (torch's cuDNN default) instead of full FP32.")
    ] = False,
    quiet: Quiet = False,
    json_: Json = False,
) -> None:
    """Time forward+backward of one cell's layers, in NumPy and (if installed) torch.nn.RNN/GRU/LSTM.

    Reports the median step time, sequences/s and GFLOP/s (6*B*T*G*H*(I+H) per layer, G
    gates: 1 rnn, 3 gru, 4 lstm), the
    machine's own matmul peak measured in the same run and the fraction reached, and the
    same for torch with the same sizes, threads (--threads: auto by default) and dtype.
    Sizes come from the options, else from --config (its batch size, data, model and
    dtype), else B=64 T=100 I=64 H=256.

    Examples:
      rnn bench
      rnn bench --batch 128 --seq-len 200 --input 128 --hidden 512 \\
        --threads 2 --json
      rnn bench -c configs/adding.yaml --dtype float64 --scaling \\
        --memory-window 20
      rnn bench --cell lstm --threads 1
      rnn bench --device cuda
    """
    from rnncli.core.cells import CELLS
    from rnncli.threads import resolve_threads
    from rnncli.tools.bench import check_bench_memory, run_bench

    if device not in (None, "cpu"):
        given = {"batch": batch, "seq_len": seq_len, "input": input_size, "hidden": hidden, "layers": layers}
        _bench_device(device, given, cell, tf32, (repeats, warmup), quiet, json_)
        return
    sizes = dict(DEFAULTS)
    if config:
        sizes.update(_sizes_from_config(config, set_ or []))
    elif set_:
        raise UsageError("--set needs --config (it overrides a config's keys)")
    given = {"batch": batch, "seq_len": seq_len, "input_size": input_size, "hidden": hidden,
             "layers": layers, "cell": cell, "dtype": dtype}
    sizes.update({k: v for k, v in given.items() if v is not None})
    _check_choices(sizes)
    check_bench_memory(sizes["batch"], sizes["seq_len"], sizes["input_size"], sizes["hidden"],
                       sizes["layers"], sizes["dtype"], scaling=scaling, use_torch=torch, cell=sizes["cell"])
    count = resolve_threads(threads, batch=sizes["batch"], hidden=sizes["hidden"],
                            input_size=sizes["input_size"], gates=len(CELLS[sizes["cell"]].GATES))
    console = err_console(is_quiet(quiet))
    console.print(f"timing {plural(repeats, 'step')} after {plural(warmup, 'warm-up step')} ...")
    result = run_bench(**sizes, threads=count, repeats=repeats, warmup=warmup, use_torch=torch,
                       train_step=train_step, scaling=scaling, memory_window=memory_window)
    if json_:
        echo_json(result)
    print_table(console, _table(result))
    env = result["environment"]
    kernels = ", ".join(f"{b['internal_api']} {b['architecture']}" for b in env["blas"]) or "unknown"
    busy = env["cpu_busy_before"]
    console.print(f"BLAS: {kernels}; CPU busy before: {'-' if busy is None else f'{100 * busy:.0f}%'}; "
                  f"load average before/after: {env['loadavg'][0][0]:.2f}/{env['loadavg'][1][0]:.2f}")
    if busy is not None and busy > 0.2:
        console.print("note: other processes were using the CPUs; timings are not comparable")
    if torch and env["torch"] is None:
        console.print("torch is not installed: no comparison (pip install 'rnncli[torch]')", markup=False)


def _check_choices(sizes: dict) -> None:
    """--dtype and --cell name one of the choices."""
    from rnncli.core.cells import CELLS
    from rnncli.tools.bench import DTYPES

    if sizes["dtype"] not in DTYPES:
        raise UsageError(f"--dtype: {sizes['dtype']!r} is not one of {', '.join(DTYPES)}")
    if sizes["cell"] not in CELLS:
        raise UsageError(f"--cell: {sizes['cell']!r} is not one of {', '.join(CELLS)}")


def _bench_device(device: str, given: dict, cell: str | None, tf32: bool, counts: tuple[int, int],
                  quiet: bool, json_: bool) -> None:
    """`--device cuda`: the issue's sizes (or the one given) against torch's cuDNN in the same run."""
    from rnncli.device import resolve_device
    from rnncli.tools.bench_cuda import run_cuda_bench, set_tf32

    set_tf32(tf32)  # before CuPy is first imported
    dev = resolve_device(device)
    if dev.is_host:
        raise UsageError("--device auto found no GPU: rnn bench without --device times the CPU")
    repeats, warmup = counts
    console = err_console(is_quiet(quiet))
    console.print(f"timing {plural(repeats, 'step')} per size on {dev.label} ...")
    result = run_cuda_bench(dev, _device_sizes(given, cell), tf32=tf32, warmup=warmup, repeats=repeats)
    if json_:
        echo_json(result)
    print_table(console, _device_table(result))
    p = result["precision"]
    console.print(f"precision: ours {p['ours']}; torch {p['torch'] or '-'}", markup=False)
    if result["torch"] is None:
        console.print("torch with CUDA is not installed: no cuDNN comparison", markup=False)


def _device_sizes(given: dict, cell: str | None) -> list[dict]:
    """The issue's five sizes, or one layer of the sizes given (the rest from the default size)."""
    from rnncli.tools.bench_cuda import ISSUE_SIZES

    cell = cell or "rnn"
    _check_choices({"dtype": "float32", "cell": cell})
    if all(v is None for v in given.values()):
        return [{**s, "cell": cell} for s in ISSUE_SIZES]
    base = {"kind": "layer", "batch": 64, "seq_len": 100, "input": 64, "hidden": 256, "layers": 1,
            "cell": cell}
    return [{**base, **{k: v for k, v in given.items() if v is not None}}]


def _device_table(result: dict) -> Table:
    table = Table(title=f"rnn bench --device cuda: {result['device']}", title_justify="left")
    for name, justify in (("size", "left"), ("ours ms", "right"), ("cuDNN ms", "right"),
                          ("ours/cuDNN", "right")):
        table.add_column(name, justify=justify)
    for r in result["rows"]:
        table.add_row(r["size"], fmt_num(r["ours_ms"], 4), fmt_num(r["torch_ms"], 4), fmt_num(r["ratio"], 3))
    return table
