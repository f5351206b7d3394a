"""`rnn data NAME`: write a generated dataset to a file or stdout, to look at or to pipe."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from rnncli.cli._common import err_console, is_quiet
from rnncli.errors import UsageError
from rnncli.wording import plural


def _options(name: str, num_samples: int | None, seq_len: int | None, sets: list[str]):
    """A validated DataConfig for generator `name` with the given options."""
    from rnncli.config import data_config_from

    options: dict = {"source": name}
    if num_samples is not None:
        options["num_samples"] = num_samples
    if seq_len is not None:
        options["seq_len"] = seq_len
    return data_config_from(options, sets)


def _out_format(output: str, fmt: str | None) -> str:
    """The format to write: --format, else the file's suffix; jsonl for a stream without one."""
    from rnncli.data.formats.registry import WRITE_FORMATS, from_suffix, get
    from rnncli.fsutil import is_stream

    if fmt is None:
        # A stream (stdout, /dev/stdout, a FIFO) has no extension to go by: jsonl, as for '-'.
        fmt = "jsonl" if not Path(output).suffix and is_stream(output) else from_suffix(output)
        if fmt not in WRITE_FORMATS:
            raise UsageError(
                f"cannot tell the format of {output!r} from its extension; "
                f"give --format {'|'.join(WRITE_FORMATS)}"
            )
    if fmt not in WRITE_FORMATS:
        raise UsageError(f"--format must be one of {', '.join(WRITE_FORMATS)}, got {fmt!r}")
    if output == "-" and get(fmt).binary and sys.stdout.isatty():
        raise UsageError(f"refusing to write binary .{fmt} to a terminal; use -o FILE or a pipe")
    return fmt


def data(
    name: Annotated[
        str,
        typer.Argument(
            metavar="NAME",
            help="Generator: random, sine, adding, copy, parity, frequency, or text (with "
            "--set path=FILE).",
        ),
    ],
    output: Annotated[
        str,
        typer.Option("--output", "-o", metavar="FILE", help="Where to write ('-' = stdout)."),
    ] = "-",
    fmt: Annotated[
        str | None,
        typer.Option("--format", "-f",
                     help="jsonl, csv, npz, npy or parquet; default from FILE's extension, jsonl "
                     "for '-'."),
    ] = None,
    num_samples: Annotated[
        int | None, typer.Option("--num-samples", "-n", min=1, help="Number of sequences.")
    ] = None,
    seq_len: Annotated[
        int | None, typer.Option("--seq-len", "-T", min=1, help="Sequence length T.")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Random seed.")] = 0,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", "-s", metavar="KEY=VALUE",
                     help="Any other data option, e.g. --set noise=0.1 --set horizon=3."),
    ] = None,
) -> None:
    """Generate a dataset and write it, e.g. to feed `rnn predict` or another tool.

    jsonl writes one {"x": [[...], ...], "y": ...} object per line (the format
    `rnn predict` and data.source read); npz writes X, y and lengths.

    Examples:
      rnn data sine -n 100 -o sine.jsonl
      rnn data adding --seq-len 50 -o adding.npz
      rnn data sine -n 5 -o - | rnn predict runs/sine-1 - --format jsonl
    """
    from rnncli.data import generate, write_dataset

    fmt = _out_format(output, fmt)
    cfg = _options(name, num_samples, seq_len, set_ or [])
    dataset, task = generate(name, cfg, seed=seed, base_dir=Path.cwd())
    # The data layer writes files atomically and '-' to the stream we hand it.
    write_dataset(dataset, task, output, fmt, stream=sys.stdout)
    if output != "-":
        err_console(is_quiet()).print(
            f"wrote {plural(len(dataset), 'sequence')} ({task.kind}, {task.output}) to {output}",
            markup=False, highlight=False,
        )
