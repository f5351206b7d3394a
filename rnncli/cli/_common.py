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
    interactive = sys.stderr.isatty()
    return Console(
        stderr=True,
        quiet=quiet,
        width=None if interactive else _NO_WRAP_WIDTH,
        no_color=bool(os.environ.get("NO_COLOR")) or None,
        highlight=False,
        soft_wrap=True,  # one record per line; the terminal wraps, Rich does not
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
