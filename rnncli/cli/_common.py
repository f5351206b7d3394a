"""Helpers shared by the command modules: consoles, global flags, JSON output, option types.

Consoles are created per call (never at import time) so that CliRunner, which swaps
sys.stdout/sys.stderr for each invocation, captures what they write.
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any

from rich.console import Console

# Rich would wrap long lines at the terminal width; on a pipe we want one line per record.
_NO_WRAP_WIDTH = 10_000


# The root options (--debug, -q) of the invocation in progress; the root group sets them
# around each command (a ContextVar, so repeated in-process runs in tests do not leak).
FLAGS: ContextVar[dict[str, bool] | None] = ContextVar("rnn_flags", default=None)


def root_param(name: str, default: Any = None) -> Any:
    """A parameter of the top-level `rnn` callback (--debug, --quiet), or `default`."""
    return (FLAGS.get() or {}).get(name, default)


def is_quiet(local: bool = False) -> bool:
    """True when -q was given to the command itself or to `rnn` before it."""
    return bool(local or root_param("quiet", False))


def err_console(quiet: bool = False) -> Console:
    """The console for everything human: progress, tables, logs. Writes to stderr.

    Rich itself honours NO_COLOR and turns colour and live displays off when stderr is
    not a terminal; `quiet` silences it entirely.
    """
    # A terminal, or COLUMNS (also when piped, as `COLUMNS=80 rnn ... 2>log`): lines are wrapped at
    # word boundaries to that width (never mid-number), tables fit it. Otherwise one record per line.
    columns = os.environ.get("COLUMNS", "")
    fixed = sys.stderr.isatty() or (columns.isdigit() and int(columns) > 0)
    return Console(
        stderr=True,
        quiet=quiet,
        width=None if fixed else _NO_WRAP_WIDTH,  # None: the terminal's, or COLUMNS (Rich reads it)
        no_color=bool(os.environ.get("NO_COLOR")) or None,
        highlight=False,
        soft_wrap=not fixed,
    )


def stderr_is_terminal() -> bool:
    """Whether a live progress bar makes sense (a TTY and not TERM=dumb)."""
    try:
        return sys.stderr.isatty() and os.environ.get("TERM") != "dumb"
    except (AttributeError, ValueError):
        return False


def _json_safe(obj: Any) -> Any:
    """NaN/inf -> None so stdout is strict JSON that `jq` accepts; numpy types -> Python."""
    if isinstance(obj, dict):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    if hasattr(obj, "tolist"):  # numpy arrays and scalars
        return _json_safe(obj.tolist())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    return obj


def echo_json(obj: Any) -> None:
    """One JSON object on stdout, one line, nothing else (for `| jq`)."""
    sys.stdout.write(json.dumps(_json_safe(obj), allow_nan=False) + "\n")
    sys.stdout.flush()


def fmt_num(v: Any, digits: int = 4) -> str:
    """Compact human formatting of a metric value."""
    if v is None:
        return "-"
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, int):
        return str(v)
    if not math.isfinite(v):
        return str(v)
    if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e5):
        return f"{v:.{digits - 1}e}"
    return f"{v:.{digits}g}"


def duration(seconds: float) -> str:
    """`4.2s`, `3m05s`, `1h02m`: short enough for a progress line."""
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    return f"{minutes // 60}h{minutes % 60:02d}m"


def cell_words(m: Mapping[str, Any]) -> str:
    """"tanh RNN" for the vanilla cell, "GRU" / "LSTM" for a gated one (meta.model without a cell: rnn)."""
    cell = m.get("cell") or "rnn"
    return f"{m.get('nonlinearity')} RNN" if cell == "rnn" else cell.upper()


def say_weights(weights, model) -> None:
    """For a run directory, one stderr line (after the command's work) says which file was used."""
    from pathlib import Path

    if not Path(weights).is_dir():
        return
    if model.path.name == "best.npz":
        text = f"weights: {model.path} (best validation loss, epoch {model.meta.get('epoch')})"
    else:
        text = f"weights: {model.path} (final weights; the run has no best.npz)"
    err_console(is_quiet()).print(text, markup=False, highlight=False)


def say_reading_stdin(source: str, fmt: str | None) -> None:
    """Before reading a terminal's standard input: what is expected and how to end it (a command
    waiting on a terminal with no word looks hung)."""
    if source != "-" or not sys.stdin.isatty():
        return
    what = {"txt": "lines of text", "csv": "CSV rows", "jsonl": 'JSON lines such as {"x": [[0.1], [0.2]]}'}
    err_console(is_quiet()).print(
        f"reading {what.get(fmt or 'jsonl', (fmt or 'jsonl') + ' input')} from standard input; "
        "end with Ctrl-D (or give a file)", markup=False, highlight=False)


def say_wrote(path, what: str = "") -> None:
    """One stderr line confirming a file written with -o (stdout stays data only)."""
    err_console(is_quiet()).print(f"wrote {path}{f' ({what})' if what else ''}", markup=False,
                                  highlight=False)


def spare_weights(output, weights, option: str = "-o") -> None:
    """Refuse an output file (--html, -o) that is the WEIGHTS the command reads: a weights file, or
    a run directory's best.npz, model.npz and checkpoint.npz (explain --html RUN/best.npz once
    replaced the model with a web page)."""
    if output is None or weights is None:
        return
    from pathlib import Path

    from rnncli.fsutil import check_not_read
    from rnncli.run_layout import BEST, CHECKPOINT, MODEL

    run = Path(weights)
    names = (BEST, MODEL, CHECKPOINT) if run.is_dir() else ()
    check_not_read(output, {"weights file": run, **{f"run's {n}": run / n for n in names}}, option)
