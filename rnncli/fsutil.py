"""File-system helpers: the one way rnn writes a file, and friendly checks on input paths.

Every file the tool writes goes through `output_file` (and its shorthands). What it does
depends on what the target is, so nothing the user did not ask to replace is replaced:

- a regular file or a new name: a temporary file in the *same directory* is written, flushed,
  fsynced and renamed over the target (`os.replace`, atomic within one file system). A process
  stopped at any moment leaves the previous complete file or the new complete file; on any
  exit path (an error, Ctrl-C, SIGTERM/SIGHUP, which the entry point turns into exceptions)
  the temporary file is removed. A symlink to a regular file keeps being a symlink: the file
  it points to is replaced.
- anything else (a character device such as /dev/null, a FIFO, a socket, or a symlink to one
  of them, e.g. /dev/stdout): written straight through, never replaced by a regular file.
- "-": standard output.

Every error names the target the user gave, never the hidden temporary file, and is an
`RnnError` (`errors.from_os_error`): exit 2 for a path that cannot be used (a directory, a
missing or non-directory parent, a name too long, read-only, permission), 1 for disk full.

Append-only logs such as `metrics.jsonl` do not need this: appending one line and calling
`flush()` + `os.fsync()` loses at most the line being written, and readers skip a torn line.
"""

from __future__ import annotations

import contextlib
import os
import signal
import stat
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from rnncli.errors import RnnError, UsageError, from_os_error

__all__ = [
    "atomic_write_bytes",
    "atomic_write_text",
    "atomic_writer",
    "check_not_read",
    "check_path_text",
    "check_readable_file",
    "is_stream",
    "output_file",
]

# Temp names are ".<name>.XXXXXXXX.tmp"; the name part is cut so a target whose own name is
# close to NAME_MAX (255) still gets a temp name the file system accepts.
_TMP_NAME_CHARS = 100


def check_path_text(
    path: str | os.PathLike[str], what: str, error: type[RnnError] = UsageError
) -> None:
    """Refuse a path the OS cannot represent (a NUL byte) with a one-line `error`."""
    if "\x00" in os.fspath(path):
        shown = os.fspath(path).replace("\x00", "\\0")
        raise error(f"{what} {shown[:200]!r}: a path cannot contain a NUL byte")


def check_not_read(output: str | os.PathLike[str] | None, reads: dict[str, object],
                   option: str = "-o") -> None:
    """Refuse an -o that names a file the command reads (`reads`: what it is -> its path, None
    or "-" for none): the finished output would replace it (predict -o RUN/best.npz once turned a
    model into a csv of predictions)."""
    if output is None or is_stream(output) or not Path(output).exists():
        return
    for what, path in reads.items():
        if path is None or os.fspath(path) == "-" or not Path(path).exists():
            continue
        if os.path.samefile(output, path):
            raise UsageError(f"{option} {os.fspath(output)}: is the {what} this command reads "
                             f"({os.fspath(path)}); write under another name")


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


class _Named:
    """A file object whose OS errors (disk full, I/O error) name the target, not the temp file."""

    def __init__(self, f: IO, target: str):
        self._f, self._target = f, target

    def write(self, data):
        try:
            return self._f.write(data)
        except OSError as e:
            raise from_os_error(e, self._target, "cannot write") from None

    def writelines(self, lines) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        try:
            self._f.flush()
        except OSError as e:
            raise from_os_error(e, self._target, "cannot write") from None

    def __getattr__(self, name):
        return getattr(self._f, name)


def _target_kind(path: Path) -> tuple[str, Path]:
    """("stream", path) for devices/FIFOs/sockets, ("file", real path) for regular or new files."""
    try:
        st = os.stat(path)  # follows symlinks: /dev/stdout -> /proc/self/fd/1 -> pipe
    except FileNotFoundError:
        if path.is_symlink():  # a dangling link: create the file it names, keep the link
            return "file", Path(os.path.realpath(path))
        return "file", path
    except OSError as e:
        raise _explain(e, path.parent, str(path)) from None
    if stat.S_ISDIR(st.st_mode):
        raise UsageError(f"{path}: cannot write: is a directory")
    if stat.S_ISREG(st.st_mode):
        return "file", Path(os.path.realpath(path)) if path.is_symlink() else path
    return "stream", path


def is_stream(path: str | os.PathLike[str]) -> bool:
    """True for "-" and targets written straight through (devices, FIFOs, sockets, links to them)."""
    if os.fspath(path) == "-":
        return True
    try:
        return _target_kind(Path(path))[0] == "stream"
    except RnnError:
        return False


def _explain(e: OSError, directory: Path, shown: str) -> RnnError:
    """An OS error about `shown`; a missing or non-directory parent is named as such."""
    if isinstance(e, (FileNotFoundError, NotADirectoryError)):
        blocker = next((p for p in (directory, *directory.parents) if p.exists() and not p.is_dir()), None)
        if blocker is not None:
            return UsageError(f"{shown}: cannot write: {blocker} is not a directory")
        return UsageError(f"{shown}: cannot write: directory {str(directory)!r} does not exist")
    return from_os_error(e, shown, "cannot write")


@contextlib.contextmanager
def output_file(path: str | os.PathLike[str], mode: str = "wb") -> Iterator[IO]:
    """Open `path` for writing the way the module docstring describes; yields a file object.

    Args:
        path: the file the user named (or a run file); "-" is standard output.
        mode: "wb" (bytes) or "w" (text, UTF-8).

    Yields:
        A file object. If the `with` body raises, a regular target is left untouched.

    Raises:
        UsageError / RunFailure: one line naming `path` (see `errors.from_os_error`).
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"output_file mode must be 'wb' or 'w', got {mode!r}")
    if os.fspath(path) == "-":
        stream = sys.stdout.buffer if mode == "wb" else sys.stdout
        yield stream
        stream.flush()
        return
    check_path_text(path, "output")
    kind, real = _target_kind(Path(path))
    shown = os.fspath(path)
    if kind == "stream":
        with _open_stream(real, mode, shown) as f:
            yield f
        return
    with _atomic(real, mode, shown) as f:
        yield f


@contextlib.contextmanager
def _open_stream(path: Path, mode: str, shown: str) -> Iterator[IO]:
    kwargs = {} if mode == "wb" else {"encoding": "utf-8", "newline": ""}
    try:
        f = open(path, mode, **kwargs)  # noqa: SIM115 - closed below, errors renamed
    except OSError as e:
        raise from_os_error(e, shown, "cannot write") from None
    try:
        yield _Named(f, shown)
        _Named(f, shown).flush()
    finally:
        with contextlib.suppress(OSError):
            f.close()


def _make_temp(path: Path, shown: str) -> tuple[int, Path]:
    directory = path.parent if str(path.parent) else Path(".")
    try:
        # The leading dot hides the temp file from casual `ls`; the suffix makes leftovers
        # (after SIGKILL) recognisable, and stale ones in a run directory are removed on resume.
        fd, tmp_name = tempfile.mkstemp(
            prefix=f".{path.name[:_TMP_NAME_CHARS]}.", suffix=".tmp", dir=directory
        )
    except OSError as e:
        raise _explain(e, directory, shown) from None
    return fd, Path(tmp_name)


_DEFERRED = {getattr(signal, n) for n in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, n)}


def _defer_signals() -> set | None:
    """Hold SIGINT/SIGTERM/SIGHUP back (they stay pending) while a temp file is being created, so
    the exception they raise never lands between its creation and the `try` that removes it."""
    if not hasattr(signal, "pthread_sigmask"):  # pragma: no cover - non-POSIX
        return None
    return signal.pthread_sigmask(signal.SIG_BLOCK, _DEFERRED)


def _restore_signals(mask: set | None) -> None:
    if mask is not None:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)


@contextlib.contextmanager
def _atomic(path: Path, mode: str, shown: str) -> Iterator[IO]:
    tmp, mask = None, _defer_signals()
    try:
        fd, tmp = _make_temp(path, shown)
        _restore_signals(mask)  # a signal that came meanwhile is raised here, inside the `try`
        kwargs = {} if mode == "wb" else {"encoding": "utf-8", "newline": ""}
        with os.fdopen(fd, mode, **kwargs) as f:
            named = _Named(f, shown)
            yield named
            named.flush()
            _finish(f, tmp, path, shown)
    except BaseException:
        # BaseException: Ctrl-C, SIGTERM/SIGHUP (turned into exceptions) must not leave debris.
        _restore_signals(mask)
        if tmp is not None:
            with contextlib.suppress(OSError):
                tmp.unlink()
        raise
    _fsync_dir(path.parent if str(path.parent) else Path("."))


def _finish(f: IO, tmp: Path, path: Path, shown: str) -> None:
    """fsync, give the permissions a plain open() would (mkstemp makes 0600), rename over `path`."""
    try:
        os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except OSError as e:
        raise from_os_error(e, shown, "cannot write") from None


# The names the rest of the code base uses; all of them are `output_file`.
atomic_writer = output_file


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write `data` to `path` through `output_file` (atomic for regular files)."""
    with output_file(path, "wb") as f:
        f.write(data)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write `text` (UTF-8) to `path` through `output_file` (atomic for regular files)."""
    with output_file(path, "w") as f:
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
    check_path_text(path, what, error)
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
