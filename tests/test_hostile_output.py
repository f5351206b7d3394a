"""Issue 12 battery, outputs: nothing that is not a regular file is ever replaced, every write error
names the target the user gave, nothing half-written or hidden is left behind.

Devices are made with mknod inside the test's own directory when we are root (so a regression
replaces a test file, never the machine's /dev/null); otherwise the real /dev/null and /dev/full,
which a non-root regression cannot replace.
"""

from __future__ import annotations

import errno
import os
import stat
import threading
from pathlib import Path

import pytest
from conftest import Tree, assert_error, needs, rnn

ROOT = os.geteuid() == 0
SEQ = '{"x": [[0.5], [0.6]]}\n'


def device(tmp: Path, name: str) -> Path:
    """A character device: null (1, 3) or full (1, 7)."""
    minor = {"null": 3, "full": 7}[name]
    if not ROOT:
        return Path(f"/dev/{name}")
    path = tmp / f"dev-{name}"
    os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, minor))
    return path


def _fifo_reader(path: Path, got: list) -> threading.Thread:
    def read() -> None:
        with open(path, "rb") as f:
            got.append(f.read())
    t = threading.Thread(target=read, daemon=True)
    t.start()
    return t


def _command(kind: str, target: str, trained: Path) -> tuple[list[str], str | None]:
    if kind == "predict":
        return ["predict", str(trained), "-", "-o", target], SEQ
    if kind == "data":
        return ["data", "sine", "-n", "3", "-T", "4", "-f", "jsonl", "-o", target], None
    needs("matplotlib")  # the figure file; without it plot draws in the terminal
    return ["-q", "plot", str(trained), "-o", target], None


def _make_target(tmp: Path, kind: str) -> tuple[Path, Path, list]:
    """(path given to -o, what must keep its file type, fifo bytes read)."""
    got: list = []
    if kind in ("chardev", "link-to-chardev"):
        dev = device(tmp, "null")
        if kind == "chardev":
            return dev, dev, got
        (tmp / "link").symlink_to(dev)
        return tmp / "link", dev, got
    if kind in ("fifo", "link-to-fifo"):
        os.mkfifo(tmp / "fifo")
        _fifo_reader(tmp / "fifo", got)
        if kind == "fifo":
            return tmp / "fifo", tmp / "fifo", got
        (tmp / "link").symlink_to(tmp / "fifo")
        return tmp / "link", tmp / "fifo", got
    if kind == "link-to-file":
        (tmp / "real.out").write_text("old\n")
        (tmp / "link").symlink_to(tmp / "real.out")
        return tmp / "link", tmp / "real.out", got
    (tmp / "link").symlink_to(tmp / "new.out")  # dangling: the file it names is created
    return tmp / "link", tmp / "new.out", got


TARGETS = ["chardev", "link-to-chardev", "fifo", "link-to-fifo", "link-to-file", "dangling-link"]


@pytest.mark.slow
@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("command", ["predict", "data"])
def test_non_regular_targets_are_written_through_never_replaced(command, target, tmp_path, trained):
    path, keep, fifo_bytes = _make_target(tmp_path, target)
    mode_before = keep.lstat().st_mode if keep.exists() else None
    link_before = os.readlink(path) if path.is_symlink() else None
    args, stdin = _command(command, str(path), trained)
    result = rnn(*args, input=stdin)
    assert result.exit_code == 0, result.stderr
    assert "Traceback" not in result.stderr
    if mode_before is not None:
        assert stat.S_IFMT(keep.lstat().st_mode) == stat.S_IFMT(mode_before)  # still a device/FIFO/file
    if link_before is not None:
        assert path.is_symlink() and os.readlink(path) == link_before  # the link itself is kept
    if target.startswith("link-to-file") or target == "dangling-link":
        assert keep.read_text().startswith(("y0", '{"x"'))
    if "fifo" in target:
        for _ in range(100):
            if fifo_bytes:
                break
            threading.Event().wait(0.05)
        assert fifo_bytes and fifo_bytes[0].startswith((b"y0", b'{"x"'))
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.slow
@pytest.mark.parametrize("command", ["predict", "data", "plot"])
def test_plain_file_target_is_replaced_atomically(command, tmp_path, trained):
    out = tmp_path / ("p.png" if command == "plot" else "p.out")
    out.write_text("old\n")
    args, stdin = _command(command, str(out), trained)
    result = rnn(*args, input=stdin)
    assert result.exit_code == 0, result.stderr
    assert out.read_bytes() != b"old\n" and out.stat().st_size > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]


# -- targets that cannot be written: exit 2, one line naming the target, nothing created -----------
LONG = "n" * 300


def _bad_target(tmp: Path, kind: str, suffix: str) -> tuple[str, str]:
    """(the -o value, a needle the error line must hold); names end in `suffix` (plot wants .png)."""
    if kind == "directory":
        (tmp / f"adir{suffix}").mkdir()
        return str(tmp / f"adir{suffix}"), "is a directory"
    if kind == "parent-is-file":
        (tmp / "afile").write_text("x")
        return str(tmp / "afile" / f"sub{suffix}"), "afile is not a directory"
    if kind == "parent-missing":
        return str(tmp / "no" / "such" / f"p{suffix}"), "does not exist"
    if kind == "name-too-long":
        return str(tmp / f"{LONG}{suffix}"), "File name too long"
    return str(tmp / f"a\x00b{suffix}"), "NUL"


BAD_TARGETS = ["directory", "parent-is-file", "parent-missing", "name-too-long", "nul-byte"]


# A NUL byte cannot come from a real shell; where the option is typed as a path, Click refuses it
# itself (a usage error, issue 17's format), so only `data -o` (a plain string) reaches fsutil.
UNUSABLE = [(c, k) for c in ("predict", "data", "plot") for k in BAD_TARGETS
            if k != "nul-byte" or c == "data"]


@pytest.mark.slow
@pytest.mark.parametrize(("command", "kind"), UNUSABLE)
def test_unusable_output_path_is_exit_2_naming_it(command, kind, tmp_path, trained):
    target, needle = _bad_target(tmp_path, kind, ".png" if command == "plot" else ".out")
    before = Tree.of(tmp_path)
    args, stdin = _command(command, target, trained)
    result = rnn(*args, input=stdin)
    line = assert_error(result, 2, needle, unchanged=before)
    shown = target.replace("\x00", "\\0")
    assert shown[:60] in line or Path(target).name[:60] in line, line


@pytest.mark.parametrize("command", ["predict", "data"])
def test_disk_full_is_exit_1_naming_the_target(command, tmp_path, trained):
    full = device(tmp_path, "full")
    args, stdin = _command(command, str(full), trained)
    result = rnn(*args, input=stdin)
    assert_error(result, 1, f"{full}: cannot write", "No space left")
    assert stat.S_ISCHR(full.stat().st_mode)


# Faults injected where the OS reports them: (function, errno, exit code, words in the message).
FAULTS = {
    "read-only-at-rename": ("replace", errno.EROFS, 2, "Read-only file system"),
    "permission-at-create": ("mkstemp", errno.EACCES, 2, "Permission denied"),
    "disk-full-at-fsync": ("fsync", errno.ENOSPC, 1, "No space left on device"),
    "io-error-at-fsync": ("fsync", errno.EIO, 1, "Input/output error"),
}


@pytest.mark.slow
@pytest.mark.parametrize("fault", list(FAULTS))
@pytest.mark.parametrize("command", ["predict", "data", "plot"])
def test_os_faults_name_the_target_not_the_temp_file(command, fault, tmp_path, trained, monkeypatch):
    import rnncli.fsutil as fsutil

    where, code, exit_code, words = FAULTS[fault]
    out = tmp_path / ("p.png" if command == "plot" else "p.out")

    def fail(*args, **kwargs):
        raise OSError(code, os.strerror(code), str(tmp_path / ".p.out.x1y2.tmp"))

    target = fsutil.tempfile if where == "mkstemp" else fsutil.os
    monkeypatch.setattr(target, where, fail)
    args, stdin = _command(command, str(out), trained)
    result = rnn(*args, input=stdin)
    line = assert_error(result, exit_code, f"{out}: cannot write", words)
    assert ".tmp" not in line
    monkeypatch.undo()
    assert Tree.of(tmp_path).paths == []
