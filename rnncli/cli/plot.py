"""`rnn plot`: training and validation curves of a run, as a figure (png, pdf, svg) or a terminal chart."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rnncli.cli._common import echo_json, err_console, is_quiet
from rnncli.cli.options import Json, Quiet
from rnncli.errors import UsageError


def plot(
    run_dir: Annotated[
        Path, typer.Argument(metavar="RUN_DIR", show_default=False, help="A run directory.")
    ],
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", metavar="FILE",
                     help="Where to write the figure; .png, .pdf or .svg (default RUN_DIR/curves.png)."),
    ] = None,
    terminal: Annotated[
        bool, typer.Option("--terminal", "-t", help="Draw a terminal chart even if matplotlib is installed.")
    ] = False,
    quiet: Quiet = False,
    json_: Json = False,
) -> None:
    """Plot loss, the task metric and gradient flow per epoch from RUN_DIR/metrics.jsonl.

    With matplotlib this writes a figure: axes with units, the best epoch
    marked, the data's baselines as dashed lines. Without it, or with
    --terminal, it draws text charts on stderr. --json prints the series.

    Install matplotlib with: pip install 'rnncli\\[plot]'

    Examples:
      rnn plot runs/sine-1
      rnn plot runs/sine-1 -o sine.svg
      rnn plot runs/sine-1 --terminal
    """
    from rnncli.tools.plot import matplotlib_available, run_series, terminal_chart
    from rnncli.tools.plot_figure import figure_format, plot_run

    if out is not None:
        figure_format(out)  # an unknown suffix fails before anything is drawn
        if not terminal and not matplotlib_available():  # a file the user named cannot be made
            raise UsageError(f"-o {out}: drawing a figure needs matplotlib: pip install 'rnncli[plot]' "
                             "(or --terminal for text charts)")
    series = run_series(run_dir)  # fails first, with one clear line, on a bad RUN_DIR
    console = err_console(is_quiet(quiet))
    if json_:
        echo_json(series)
    if not terminal and matplotlib_available():
        path = plot_run(run_dir, out if out is not None else Path(run_dir) / "curves.png")
        console.print(f"wrote {path}", markup=False, highlight=False)
        return
    if not terminal:
        console.print("rnn: warning: matplotlib is not installed (no figure; pip install 'rnncli[plot]'), "
                      "showing terminal charts", markup=False, highlight=False)
    if not json_:
        width = max(20, min(60, console.width - 12))
        for line in terminal_chart(run_dir, width=width):
            console.print(line, markup=False, highlight=False)
