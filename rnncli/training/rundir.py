"""The run directory: the exclusive claim on it, and its files other than weights (names in
`rnncli.run_layout`), each written atomically. run.json's status is running|completed|interrupted|
failed|output closed, and is accurate whatever ended the run (`record_ending`)."""

from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import re
import sys
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from rnncli import __version__, notices
from rnncli.config import Config
from rnncli.errors import Interrupted, UsageError, from_os_error
from rnncli.fsutil import atomic_write_text, check_path_text
from rnncli.run_layout import LOCK, METRICS, RUN_FILES, RUN_JSON


def default_run_dir(cfg: Config, root: Path = Path("runs"), config_paths=()) -> Path:
    """runs/<name>-<N> with the first N whose directory does not exist yet: runs are never overwritten.

    The name is the config's `name`, else the stem of the last --config file, else the data source.
    """
    if cfg.name:
        name = cfg.name
    elif config_paths:
        name = Path(config_paths[-1]).stem
        if name == "config":  # runs/x/config.yaml: name the rerun after its run directory
            name = re.sub(r"-\d+$", "", Path(config_paths[-1]).resolve().parent.name)
    else:
        name = Path(cfg.data.source).stem if cfg.data.source != "-" else "stdin"
    # Cut to 100 characters: the directory name (with "-N" and the temp names of the files inside)
    # must stay under the file system's 255-byte limit.
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", name)[:100] or "run"
    n = 1
    while (root / f"{name}-{n}").exists():
        n += 1
    return root / f"{name}-{n}"


def _holder(lock: Path) -> tuple[int | None, str]:
    """(pid, host) written in a lock file; (None, "") if it cannot be read (being written)."""
    try:
        pid, _, host = lock.read_text(encoding="utf-8").strip().partition(" ")
        return int(pid), host
    except (OSError, ValueError):
        return None, ""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by someone else
    return True


def _take_lock(run_dir: Path) -> str | None:
    """Create RUN_DIR/.rnn.lock exclusively (O_EXCL) with our pid; returns a note if a stale lock of
    a dead process on this host was taken over, raises UsageError if a live process holds it."""
    lock, note = run_dir / LOCK, None
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            pid, host = _holder(lock)
            if pid is None or host != platform.node() or _alive(pid):
                who = f"process {pid} on {host or 'this host'}" if pid else "another rnn process"
                raise UsageError(
                    f"{run_dir}: in use by {who} (lock file {lock}); wait for it to finish, or "
                    "delete the lock file if no rnn is running there") from None
            note = f"{run_dir}: took over the stale lock of process {pid}, which is no longer running"
            with contextlib.suppress(FileNotFoundError):
                lock.unlink()
            continue
        except OSError as e:
            raise from_os_error(e, str(run_dir), "cannot lock the run directory") from None
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(f"{os.getpid()} {platform.node()}\n")
        return note
    raise UsageError(f"{run_dir}: another rnn process keeps taking the lock {lock}")


def _make_dir(run_dir: Path) -> Path | None:
    """mkdir the run directory (and parents); the topmost directory this call created, or None."""
    check_path_text(run_dir, "--out")
    try:
        return _mkdir(run_dir)
    except OSError as e:
        raise from_os_error(e, f"--out {run_dir}", "cannot create the run directory") from None


def _mkdir(run_dir: Path) -> Path | None:
    if run_dir.exists() and not run_dir.is_dir():
        raise UsageError(f"--out {run_dir}: exists and is not a directory")
    top = None
    for p in (run_dir, *run_dir.parents):
        if p.exists() or p.is_symlink():
            break
        top = p
    try:
        run_dir.mkdir(parents=True)
    except FileExistsError:
        if not run_dir.is_dir():
            raise UsageError(f"--out {run_dir}: exists and is not a directory") from None
        return None  # another process made it between our look and our mkdir: the lock decides
    return top


def _remove_made(run_dir: Path, top: Path | None) -> None:
    """rmdir what _make_dir created, innermost first, as far as it is empty (never the user's files)."""
    if top is None:
        return
    for p in (run_dir, *run_dir.parents):
        try:
            p.rmdir()
        except OSError:
            return
        if p == top:
            return


def _release(run_dir: Path) -> None:
    if _holder(run_dir / LOCK)[0] == os.getpid():
        with contextlib.suppress(OSError):
            (run_dir / LOCK).unlink()


@contextlib.contextmanager
def hold_run_dir(run_dir: Path, *, resume: bool, keep: tuple[str, ...] = ()) -> Iterator[None]:
    """An exclusive claim on `run_dir` for the whole `with` block, a fresh run or a resume.

    A fresh run creates the directory (or takes an empty one) and refuses one holding a run; the
    claim is the O_EXCL lock file RUN_DIR/.rnn.lock with the owner's pid, so two processes never
    share a directory. A lock left by a process that no longer runs (SIGKILL) is taken over and
    the takeover explained (notices.warn: one `rnn: warning:` line). A fresh run that ends with a
    usage/config/data error (exit 2) leaves nothing behind. `keep`: names a fresh run's directory
    may already hold (its cross-validation, training/crossval.py).
    """
    top = None if resume else _make_dir(run_dir)
    try:
        note = _take_lock(run_dir)
        if not resume and any(p.name not in (LOCK, *keep) for p in run_dir.iterdir()):
            raise UsageError(
                f"--out {run_dir}: directory is not empty; choose a new one or use --resume {run_dir}")
    except BaseException:
        _release(run_dir)
        _remove_made(run_dir, top)
        raise
    if note:
        notices.warn(note)
    try:
        yield
    except BaseException as e:
        if not resume and getattr(e, "exit_code", None) == 2:
            for name in RUN_FILES:  # the directory was empty when claimed: these are ours
                with contextlib.suppress(OSError):
                    (run_dir / name).unlink()
            remove_stale_temps(run_dir)
            _release(run_dir)
            _remove_made(run_dir, top)
        raise
    finally:
        _release(run_dir)


def record_ending(run_dir: Path, run_info: dict, exc: BaseException) -> None:
    """run.json's status for a run that did not complete: interrupted (Ctrl-C, SIGTERM/SIGHUP),
    output closed (the reader of stdout/stderr went away), or failed (with the error's first line)."""
    if isinstance(exc, (Interrupted, KeyboardInterrupt)):
        status = "interrupted"
    elif isinstance(exc, BrokenPipeError):
        status = "output closed"
    else:
        status = "failed"
    message = str(exc).splitlines()[0][:500] if str(exc).strip() else type(exc).__name__
    run_info.update(status=status, end=now(), error=message)
    with contextlib.suppress(Exception):  # e.g. disk full: the original error is the one to report
        write_run_json(run_dir, run_info)


def remove_stale_temps(run_dir: Path) -> list[Path]:
    """Delete temp files a killed atomic write left in the run directory; returns what was removed.

    Readers never look at them (they read only the final names, which always hold a complete
    file), so leftovers are harmless; a resumed run owns its directory and tidies them up.
    Only `.<run file>.*.tmp` names are touched, never anything the user put there.
    """
    removed = []
    for name in RUN_FILES:
        for tmp in Path(run_dir).glob(f".{name}.*.tmp"):
            try:
                tmp.unlink()
                removed.append(tmp)
            except OSError:
                pass  # vanished meanwhile, or not ours to delete: leaving it is harmless
    return removed


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def versions() -> dict[str, str]:
    return {"rnn": __version__, "python": platform.python_version(), "numpy": np.__version__}


def write_run_json(run_dir: Path, info: dict) -> None:
    atomic_write_text(run_dir / RUN_JSON, json.dumps(info, indent=2) + "\n")


def read_run_json(run_dir: Path) -> dict:
    try:
        info = json.loads((run_dir / RUN_JSON).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return {}
    return info if isinstance(info, dict) else {}


def append_metrics(run_dir: Path, record: dict) -> None:
    """Append one epoch's record; flushed and fsynced so a crash loses at most the line being written.

    NaN and infinity are written as null: strict JSON, so `jq` and other readers accept every line.
    """
    clean = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in record.items()}
    with open(run_dir / METRICS, "a", encoding="utf-8") as f:
        f.write(json.dumps(clean, allow_nan=False) + "\n")
        f.flush()
        os.fsync(f.fileno())


def read_metrics(run_dir: Path) -> list[dict]:
    """Every complete record of metrics.jsonl (a torn last line from a killed process is skipped)."""
    path = run_dir / METRICS
    if not path.exists():
        return []
    records = []
    # errors="replace": a damaged line fails to parse and is skipped like a torn one.
    for line in path.read_bytes().decode("utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):
            continue
        if isinstance(record, dict):  # a torn, foreign or hand-edited line is skipped, not fatal
            records.append(record)
    return records


def truncate_metrics(run_dir: Path, epochs: int) -> None:
    """Keep the first `epochs` epochs' records: a resumed run rewrites what came after its checkpoint."""
    kept = [r for r in read_metrics(run_dir) if r.get("epoch", 0) <= epochs]
    atomic_write_text(run_dir / METRICS, "".join(json.dumps(r) + "\n" for r in kept))


def argv_list(argv: list[str] | None) -> list[str]:
    return list(sys.argv) if argv is None else list(argv)
