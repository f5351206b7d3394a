"""`rnn plot`: training and validation curves of a run, as a PNG or a terminal chart."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rnncli.cli._common import echo_json, err_console, is_quiet
from rnncli.cli.options import Json, Quiet


def plot(
    run_dir: Annotated[
        Path, typer.Argument(metavar="RUN_DIR", show_default=False, help="A run directory.")
    ],
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", metavar="FILE.png",
                     help="Where to write the PNG (default RUN_DIR/curves.png)."),
    ] = None,
    terminal: Annotated[
        bool, typer.Option("--terminal", "-t", help="Draw a terminal chart even if matplotlib is installed.")
    ] = False,
    quiet: Quiet = False,
    json_: Json = False,
) -> None:
    """Plot loss, the task metric and gradient flow per epoch from RUN_DIR/metrics.jsonl.

    With matplotlib (pip install 'rnncli[plot]') this writes a PNG; without it, or with
    --terminal, it draws text charts on stderr. --json prints the series on stdout.

    Examples:
      rnn plot runs/sine-1
      rnn plot runs/sine-1 -o sine.png
      rnn plot runs/sine-1 --terminal
    """
    from rnncli.tools.plot import matplotlib_available, plot_run, run_series, terminal_chart

    series = run_series(run_dir)  # fails first, with one clear line, on a bad RUN_DIR
    console = err_console(is_quiet(quiet))
    if json_:
        echo_json(series)
    if not terminal and matplotlib_available():
        path = plot_run(run_dir, out if out is not None else Path(run_dir) / "curves.png")
        console.print(f"wrote {path}", markup=False, highlight=False)
        return
    if out is not None and not terminal:
        console.print(f"matplotlib is not installed (pip install 'rnncli[plot]'): {out} not written, "
                      "showing a terminal chart instead", markup=False, highlight=False)
    if not json_:
        for line in terminal_chart(run_dir):
            console.print(line, markup=False, highlight=False)
