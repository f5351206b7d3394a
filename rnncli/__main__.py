"""`rnn` and `python -m rnncli`: what must happen before the heavy imports, then the app.

- Ctrl-C, SIGTERM or SIGHUP while Python is still importing NumPy, Typer and Rich ends the process
  with one quiet line and exit 128 + signal, never a KeyboardInterrupt traceback.
- Once the app runs, SIGINT raises KeyboardInterrupt and SIGTERM/SIGHUP raise `Terminated`, so
  every `finally` runs (temp files removed, run.json written, the run-directory lock released)
  and the error boundary prints one line.
- A standard stream the shell closed (`<&-`, `>&-`, `2>&-`) is reopened on /dev/null, so no file
  the tool opens later can take its descriptor (a weights file receiving the predictions), and
  reading or writing it is one clear error instead of a traceback.
"""

from __future__ import annotations

import os
import signal
import sys

from rnncli.errors import Terminated, UsageError

_STREAMS = {0: ("stdin", "standard input is closed (<&-); pass a file or pipe data in"),
            1: ("stdout", "standard output is closed (>&-); use -o FILE or redirect it")}


class ClosedStream:
    """Stands in for sys.stdin/sys.stdout when the shell closed it: using it is a UsageError."""

    def __init__(self, message: str):
        self._message = message

    def _fail(self, *args, **kwargs):
        raise UsageError(self._message)

    read = readline = readlines = write = writelines = fileno = __iter__ = _fail
    buffer = property(_fail)
    closed = False
    encoding = "utf-8"

    def isatty(self) -> bool:
        return False

    def flush(self) -> None:
        return None  # nothing was written


def _guard_std_streams() -> None:
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
            continue
        except OSError:
            pass
        null = os.open(os.devnull, os.O_RDONLY if fd == 0 else os.O_WRONLY)
        if null != fd:
            os.dup2(null, fd)
            os.close(null)
        if fd in _STREAMS:
            name, message = _STREAMS[fd]
            setattr(sys, name, ClosedStream(message))
        elif sys.stderr is None:
            sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process


def _quiet_exit(signum: int, frame) -> None:
    os.write(2, b"rnn: interrupted\n" if signum == signal.SIGINT else b"rnn: terminated\n")
    os._exit(128 + signum)


def _raise_terminated(signum: int, frame) -> None:
    raise Terminated(signum, signal.Signals(signum).name)


_SIGNALS = tuple(getattr(signal, n) for n in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, n))


def prepare(*, early: bool) -> None:
    """Guard the standard streams and install the signal handlers (early: before heavy imports)."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        return
    _guard_std_streams()
    for sig in _SIGNALS:
        if early:
            signal.signal(sig, _quiet_exit)
        elif sig == signal.SIGINT:
            signal.signal(sig, signal.default_int_handler)
        else:
            signal.signal(sig, _raise_terminated)


def main() -> None:
    """Console-script entry point: quiet signals first, then import and run the app."""
    prepare(early=True)
    from rnncli.cli import app

    prepare(early=False)
    app(prog_name="rnn")


if __name__ == "__main__":
    main()
