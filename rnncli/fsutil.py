"""File-system helpers: atomic writes and friendly checks on input paths.

Atomic writes go to a temporary file in the *same directory* as the target (so
`os.replace` is a rename within one file system, which POSIX makes atomic), are
flushed and fsynced, and then renamed over the target. A process killed at any
moment therefore leaves either the previous complete file or the new complete
file, never a half-written one; on an exception the temporary file is removed.

Append-only logs such as `metrics.jsonl` do not need this: appending one line
and calling `flush()` + `os.fsync()` loses at most the line being written, and
readers skip a torn last line.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from rnncli.errors import RnnError, UsageError

__all__ = [
    "atomic_write_bytes",
    "atomic_write_text",
    "atomic_writer",
    "check_readable_file",
]


def _fsync_dir(directory: Path) -> None:
    """Persist the rename itself; best effort (not possible on every OS/file system)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_writer(path: str | os.PathLike[str], mode: str = "wb") -> Iterator[IO]:
    """Open a temporary file next to `path`; on clean exit rename it onto `path`.

    Args:
        path: the final file name. Its directory must exist.
        mode: "wb" (bytes) or "w" (text, UTF-8).

    Yields:
        The open temporary file. If the `with` body raises, the temporary file
        is deleted and `path` is left untouched.
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_writer mode must be 'wb' or 'w', got {mode!r}")
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    # The leading dot hides the temp file from casual `ls`, the suffix makes
    # leftovers (after SIGKILL) recognisable.
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    tmp = Path(tmp_name)
    try:
        kwargs = {} if mode == "wb" else {"encoding": "utf-8", "newline": ""}
        with os.fdopen(fd, mode, **kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        # mkstemp creates 0600; give the file the permissions a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        # BaseException: a Ctrl-C in the middle of a write must not leave debris either.
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _fsync_dir(directory)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write `data` to `path` atomically (temp file in the same directory + os.replace)."""
    with atomic_writer(path, "wb") as f:
        f.write(data)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write `text` (UTF-8) to `path` atomically."""
    with atomic_writer(path, "w") as f:
        f.write(text)


def check_readable_file(
    path: str | os.PathLike[str], what: str, error: type[RnnError] = UsageError
) -> Path:
    """Return `path` as a Path if it is an existing, readable regular file.

    Args:
        path: the file the user named.
        what: how to call it in the message, e.g. "config file", "weights file".
        error: the RnnError subclass to raise (ConfigError, DataError, WeightsError, ...).

    Raises:
        error: "<what> not found: <path>", "<what> is a directory: <path>",
            "<what> is not readable: <path> (<reason>)" or "<what> is not a regular file: <path>".
    """
    p = Path(path)
    try:
        if not p.exists():
            raise error(f"{what} not found: {p}")
        if p.is_dir():
            raise error(f"{what} is a directory: {p}")
        if not p.is_file():
            raise error(f"{what} is not a regular file: {p}")
        # os.access can lie (root, ACLs); opening is the real test.
        with open(p, "rb"):
            pass
    except OSError as e:
        reason = e.strerror or type(e).__name__
        raise error(f"{what} is not readable: {p} ({reason})") from None
    return p
