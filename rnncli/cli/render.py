"""Rendering for the terminal: training progress, metric lines and tables (all on stderr).

Only the CLI uses this module. On a terminal, training shows a live progress bar
(with `redirect_stdout=False`, so data on stdout is never mixed into it); on a pipe
or file, one plain line per epoch, Keras style:

    epoch 3/20 loss 0.41 val_loss 0.45 val_accuracy 0.91 12ms/step
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from typing import Any

from rich.console import Console
from rich.table import Table

from rnncli.cli._common import duration, fmt_num
from rnncli.training.callbacks import TrainCallbacks
from rnncli.wording import plural

# Bookkeeping fields of a metrics record that the epoch line does not repeat.
NOT_SHOWN = {
    "epoch", "seconds", "lr", "grad_norm", "grad_norm_max", "dh_ratio", "fb_seconds",
    "val_seconds", "step", "steps", "time", "best", "status", "skipped_steps",
}


def epoch_line(record: Mapping[str, Any], epochs: int | None, steps: int | None,
               elapsed: float | None = None, *, width: int | None = None, lr: float | None = None) -> str:
    """`epoch 3/20 loss 0.41 val_loss 0.45 ... 12ms/step, 4.2s elapsed` for one metrics record.

    Args:
        elapsed: seconds since training (this session) started; shown last when given.
        width: the console's columns: metrics after loss, val_loss and the first validation
            metric are left out, last first, until the line fits (metrics.jsonl has them all).
        lr: a learning rate to show at the end (a schedule changed it).
    """
    epoch = record.get("epoch", "?")
    head = f"epoch {epoch}/{epochs}" if epochs else f"epoch {epoch}"
    keys = [k for k in ("loss", "val_loss") if k in record]
    keys += [k for k in record if k not in keys and k not in NOT_SHOWN]
    metrics = []
    for k in keys:
        v = record[k]
        if isinstance(v, bool) or not isinstance(v, (int, float)) and v is not None:
            continue
        metrics.append(f"{k} {fmt_num(v)}")
    tail = []
    seconds = record.get("seconds")
    if isinstance(seconds, (int, float)) and steps:
        tail.append(f"{seconds / steps * 1000:.0f}ms/step")
    elif isinstance(seconds, (int, float)):
        tail.append(f"{seconds:.2f}s")
    extra = ([f"{duration(elapsed)} elapsed"] if elapsed is not None else []) + (
        [f"lr {fmt_num(lr)}"] if lr is not None else [])

    def text() -> str:
        return ", ".join([" ".join([head, *metrics, *tail]), *extra])

    while width and len(text()) > width and len(metrics) > 3:
        metrics.pop()
    if width and len(text()) > width and elapsed is not None:
        extra[0] = duration(elapsed)  # "4.2s elapsed" -> "4.2s"
    while width and len(text()) > width and len(metrics) > 2:
        metrics.pop()
    return text()


def start_line(info: Mapping[str, Any]) -> str:
    """`training runs/sine-1: regression, 1 x 32 tanh (last), 29 steps/epoch, 5 epochs`."""
    spec, task = info.get("spec") or {}, info.get("task") or {}
    parts = []
    if task.get("kind"):
        parts.append(str(task["kind"]))
    if spec:
        parts.append(
            f"{spec.get('num_layers')} layer x {spec.get('hidden_size')} "
            f"{'bidirectional ' if spec.get('bidirectional') else ''}"
            f"{spec.get('nonlinearity')} ({spec.get('output')})"
        )
    if info.get("steps_per_epoch"):
        parts.append(f"{plural(info['steps_per_epoch'], 'step')}/epoch")
    if info.get("epochs"):
        parts.append(plural(info["epochs"], "epoch"))
    if info.get("chosen"):  # adaptive defaults: what was chosen and how to fix it
        parts[-1] += f" ({info['chosen']})"
    if info.get("start_epoch"):
        parts.append(f"resuming after epoch {info['start_epoch']}")
    parts += _device_words(info)
    head = f"training {info['run_dir']}" if info.get("run_dir") else "training"
    src = info.get("init_from") or {}  # fine-tuning: where the weights came from, what was adapted
    return "\n".join([head + (": " + ", ".join(parts) if parts else ""),
                      *([f"initialised from {src['path']}", *src.get("notes", [])] if src else [])])


def _device_words(info: Mapping[str, Any]) -> list[str]:
    """`on cuda (NVIDIA H200)` for a GPU; nothing for the host, the default."""
    device = info.get("device")
    if not device or device == "cpu":
        return []
    return [f"on {device} ({info.get('device_name', 'GPU')})"]


class ProgressReporter(TrainCallbacks):  # type: ignore[misc,valid-type]
    """Training callbacks that draw progress on a stderr console.

    Args:
        console: a Console(stderr=True) (quiet consoles print nothing).
        live: draw a live progress bar (only when stderr is a terminal).
    """

    def __init__(self, console: Console, *, live: bool) -> None:
        self.console = console
        self.live = live and not console.quiet
        self.epochs: int | None = None
        self.steps: int | None = None
        self._progress = None
        self._task = None
        self._t0 = time.perf_counter()
        self._anchor: tuple[int, int, float] | None = None  # (epoch, step, time) of the first step seen
        self.records: list[dict] = []  # every epoch's record, for the final sparkline
        self.note: str | None = None  # printed first when training starts (e.g. the demo task)
        self._lr: float | None = None  # the lr last shown (or the first one), to show it when it changes

    # -- callbacks -------------------------------------------------------------------
    def on_train_start(self, info: dict) -> None:
        self.epochs = info.get("epochs")
        self.steps = info.get("steps_per_epoch") or info.get("steps")
        self._t0, self._anchor = time.perf_counter(), None
        if self.note:
            self.console.print(self.note, markup=False, highlight=False)
        self._lr = info.get("lr")
        self.console.print(start_line(info), markup=False, highlight=False)
        if self.live:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[loss]}"),
                TimeElapsedColumn(),
                TextColumn("{task.fields[eta]}"),
                console=self.console,
                redirect_stdout=False,
                redirect_stderr=False,
                transient=True,
            )
            self._progress.start()
            self._task = self._progress.add_task("epoch 1", total=self.steps, loss="", eta="")

    def on_step_end(self, epoch: int, step: int, steps: int, loss: float) -> None:
        self.steps = steps
        if self._progress is not None:
            self._progress.update(
                self._task,
                description=f"epoch {epoch}/{self.epochs}" if self.epochs else f"epoch {epoch}",
                completed=step, total=steps, loss=f"loss {fmt_num(loss)}", eta=self.eta(epoch, step),
            )

    def elapsed(self) -> float:
        """Seconds since training (this session) started."""
        return time.perf_counter() - self._t0

    def eta(self, epoch: int, step: int) -> str:
        """`run 1m05s left`: the steps left in the run x the mean time per step so far.

        The mean includes validation and checkpoints (the time between steps), so the estimate
        for the whole run is epochs left x time per epoch.
        """
        if not (self.epochs and self.steps):
            return ""
        if self._anchor is None:  # counted from the first step seen (a resume may start mid-epoch)
            self._anchor = (epoch, step, time.perf_counter())
        first_epoch, first_step, t_first = self._anchor
        done = (epoch - first_epoch) * self.steps + step - first_step
        left = (self.epochs - epoch) * self.steps + self.steps - step
        if done <= 0:
            return ""
        return f"run ~{duration(left * (time.perf_counter() - t_first) / done)} left"

    def on_epoch_end(self, record: dict) -> None:
        # On a terminal the line is printed above the live bar; elsewhere it is the output.
        self.records.append(record)
        lr = record.get("lr")
        changed = lr is not None and lr != self._lr  # a schedule changed it
        self._lr = lr if changed else self._lr
        line = epoch_line(record, self.epochs, self.steps, self.elapsed(), width=self.console.width,
                          lr=lr if changed else None)
        self.console.print(line, markup=False)
        if self._progress is not None:
            self._progress.reset(self._task)

    def on_train_end(self, summary: dict) -> None:
        self.close()

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


def metrics_table(metrics: Mapping[str, Any], title: str | None = None) -> Table:
    """Two-column table: metric, value."""
    table = Table(title=title, show_header=True, header_style="bold")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for k, v in metrics.items():
        if not isinstance(v, Mapping):  # per_class has its own table
            table.add_row(k, fmt_num(v, 6) if isinstance(v, float) else str(v))
    return table


def gradcheck_table(rows: list, tol: float, atol: float | None = None) -> Table:
    """One row per tensor: name, relative and absolute error, worst index, checked, pass/fail.

    Args:
        rows: (name, rel_error, abs_error or None, worst_index, passed, checked) tuples.
    """
    title = f"gradient check (tolerance {tol:.1e}" + (
        f", absolute {atol:.1e})" if atol else ")"
    )
    table = Table(title=title, header_style="bold")
    table.add_column("name")
    table.add_column("rel error", justify="right")
    table.add_column("abs error", justify="right")
    table.add_column("worst index")
    table.add_column("checked", justify="right")
    table.add_column("result")
    for name, rel, abs_err, worst, passed, checked in rows:
        table.add_row(
            name, _sci(rel), _sci(abs_err), str(tuple(worst)) if worst is not None else "-",
            str(checked), "[green]pass[/]" if passed else "[red bold]FAIL[/]",
        )
    return table


def _sci(v: Any) -> str:
    return f"{v:.2e}" if isinstance(v, float) and math.isfinite(v) else ("-" if v is None else str(v))
