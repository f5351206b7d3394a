"""`rnn compare`: runs side by side (what their configs change, what they reached, how fast)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from rnncli.cli._common import echo_json, err_console, is_quiet
from rnncli.cli.options import Json, Quiet


def compare(
    run_dirs: Annotated[
        list[Path], typer.Argument(metavar="RUN_DIR...", show_default=False, help="Run directories.")
    ],
    quiet: Quiet = False,
    json_: Json = False,
) -> None:
    """Compare runs: config keys that differ, best validation metric, epochs and time.

    Examples:
      rnn compare runs/adding-1 runs/adding-2
      rnn compare runs/* --json | jq '.runs[] | {run, best}'
    """
    from rnncli.cli.tables import print_table
    from rnncli.tools.compare import compare_runs

    result = compare_runs(run_dirs)
    if json_:
        echo_json(result)
        return
    console = err_console(is_quiet(quiet))
    print_table(console, compare_table(result))
    if not result["differences"]:
        console.print("the runs' configs are identical", markup=False)


def compare_table(result: dict) -> Table:
    """One row per run, named by the part of its path that tells it apart from the others."""
    from rnncli.cli.render import fmt_num
    from rnncli.cli.tables import short_paths

    table = Table(header_style="bold")
    for i, col in enumerate(result["columns"]):
        table.add_column(col, justify="left" if i == 0 or col == "status" else "right")
    names = short_paths([str(row[0]) for row in result["rows"]])
    for name, row in zip(names, result["rows"], strict=True):
        cells = [fmt_num(v) if isinstance(v, float) else "-" if v is None else str(v) for v in row[1:]]
        table.add_row(name, *cells)
    return table
