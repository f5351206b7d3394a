"""Option types shared by several commands (one definition, same help everywhere)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

ConfigFiles = Annotated[
    list[Path] | None,
    typer.Option(
        "--config", "-c", metavar="FILE",
        help="YAML config file; repeat to merge several (the last one wins).",
    ),
]
SetOverrides = Annotated[
    list[str] | None,
    typer.Option(
        "--set", "-s", metavar="KEY=VALUE",
        help="Override one config key by dotted path, e.g. --set train.lr=0.01 "
        "(the value is read as a YAML scalar); repeatable.",
    ),
]
Seed = Annotated[
    int | None, typer.Option("--seed", min=0, help="Random seed (overrides the config's seed).")
]
Json = Annotated[
    bool, typer.Option("--json", help="Print one JSON object on stdout instead of a table.")
]
Quiet = Annotated[
    bool, typer.Option("--quiet", "-q", help="No progress or logs on stderr.")
]
Weights = Annotated[
    Path,
    typer.Argument(
        metavar="WEIGHTS",
        help="A weights file (.npz) or a run directory (uses its best.npz, else model.npz).",
        show_default=False,
    ),
]
BatchSize = Annotated[
    int, typer.Option("--batch-size", "-b", min=1, help="Sequences per batch.")
]


def threads_value(value: str | None) -> int | str | None:
    from rnncli.threads import parse_threads

    return None if value is None else parse_threads(value)


Threads = Annotated[
    str | None,
    typer.Option(
        "--threads", metavar="auto|N", callback=threads_value, show_default=False,
        help="BLAS threads for the products: auto (default) = 1 for small models, all physical "
        "cores for large ones; N = exactly N (same N, same machine: same numbers).",
    ),
]
DeviceOption = Annotated[
    str | None,
    typer.Option(
        "--device", metavar="cpu|cuda|auto", show_default=False,
        help="Where to compute: cpu (default), cuda (a GPU through CuPy: pip install "
        "'rnncli\\[cuda12]' or 'rnncli\\[cuda13]'), auto = cuda when a GPU is found, else cpu.",
    ),
]
Context = Annotated[
    str | None,
    typer.Option("--context", metavar="CSV",
                 help="A csv series (the training one) whose last window of rows comes first, "
                 "so the first forecast is for the data's first row."),
]
