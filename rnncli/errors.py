"""One exception family for everything the user can get wrong or that can fail at run time.

The CLI turns an `RnnError` into a one-line message on stderr and `exit_code`;
library code raises these and never prints or exits.
"""

from __future__ import annotations

import errno


class RnnError(Exception):
    """Base class: a message meant for the user, and the exit code that goes with it."""

    exit_code = 2


class ConfigError(RnnError):
    """A config file, a --set override or a config value is wrong."""


class DataError(RnnError):
    """A data file, standard input or generator options are wrong."""


class WeightsError(RnnError):
    """A weights file (.npz) is missing, corrupt, unsafe or does not fit the model."""


class UsageError(RnnError):
    """A command-line argument is wrong in a way the parser cannot see."""


class RunFailure(RnnError):
    """Something went wrong while running (not the user's input): exit 1."""

    exit_code = 1


class NonFiniteError(RunFailure):
    """The loss or a gradient became NaN or infinite during training."""


class GradcheckFailed(RunFailure):
    """The analytic gradient disagrees with the numerical one."""


class Interrupted(RnnError):
    """Training stopped by SIGINT/SIGTERM/SIGHUP after writing a checkpoint: exit 128 + the signal
    (130 Ctrl-C, 143 SIGTERM, 129 SIGHUP), the shell's convention for a command a signal ended."""

    exit_code = 130

    def __init__(self, message: str = "", signum: int = 2):  # 2 = SIGINT
        super().__init__(message)
        self.exit_code = 128 + (signum or 2)


class Terminated(KeyboardInterrupt):
    """SIGTERM/SIGHUP, turned into an exception by the entry point so every `finally` runs
    (temp files removed, run.json written, run-directory lock released). Exit 128 + signal."""

    def __init__(self, signum: int, name: str):
        super().__init__(name)
        self.signum, self.name = signum, name


# errno values that mean "this path cannot be used as given": the user's to fix (exit 2).
# Anything else (ENOSPC disk full, EDQUOT, EIO, ...) is a run-time failure (exit 1).
_USER_PATH_ERRNOS = frozenset(
    getattr(errno, name) for name in (
        "EISDIR", "ENOTDIR", "ENAMETOOLONG", "EROFS", "EACCES", "EPERM", "ENOENT", "ELOOP",
        "EEXIST", "ENXIO", "ENODEV", "ETXTBSY", "EXDEV", "EBADF",
    ) if hasattr(errno, name)
)


def from_os_error(e: OSError, path: str | None = None, action: str = "") -> RnnError:
    """The one mapping of an OSError to a one-line RnnError naming the file it concerns.

    Args:
        e: the error the OS reported.
        path: the file the user knows (e.g. the target, not a hidden temp file); default e.filename.
        action: what was being done, e.g. "cannot write".

    Returns:
        UsageError (exit 2) when the path itself is the problem, RunFailure (exit 1) otherwise.
    """
    name = path if path is not None else e.filename
    reason = e.strerror or type(e).__name__
    if e.errno == getattr(errno, "EISDIR", None):
        reason = "is a directory"
    elif e.errno == getattr(errno, "ENOTDIR", None):
        reason = "a parent of it is not a directory"
    parts = [str(name)[:300]] if name is not None else []
    parts += [action] if action else []
    text = ": ".join([*parts, reason])
    return (UsageError if e.errno in _USER_PATH_ERRNOS else RunFailure)(text)
