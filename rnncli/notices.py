"""Warnings from library code, shown by the CLI as one `rnn: warning: ...` line each.

Library code never prints (only `cli/` does): it calls `warn(message)`, and whoever runs it
decides where the lines go. The CLI installs a handler around every command (`handled_by`);
with none installed (library use, tests) the messages are collected in `recent()`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar

_HANDLER: ContextVar[Callable[[str], None] | None] = ContextVar("rnn_warning_handler", default=None)
_RECENT: list[str] = []
_KEEP = 50  # without a handler, keep the last few for inspection (tests, notebooks)


def warn(message: str) -> None:
    """Report one warning: a single line saying what was assumed and which key changes it."""
    message = " ".join(str(message).split())
    handler = _HANDLER.get()
    if handler is not None:
        handler(message)
        return
    _RECENT.append(message)
    del _RECENT[:-_KEEP]


def recent() -> list[str]:
    """Warnings raised while no handler was installed, oldest first."""
    return list(_RECENT)


@contextlib.contextmanager
def handled_by(handler: Callable[[str], None]) -> Iterator[None]:
    """Send every `warn` in this context to `handler` (one call per warning)."""
    token = _HANDLER.set(handler)
    try:
        yield
    finally:
        _HANDLER.reset(token)
