"""Atomic writes and input-path checks."""

from __future__ import annotations

import os

import pytest

from rnncli.errors import ConfigError, DataError, UsageError
from rnncli.fsutil import (
    atomic_write_bytes,
    atomic_write_text,
    atomic_writer,
    check_readable_file,
)


def test_atomic_write_bytes_and_text(tmp_path):
    p = tmp_path / "a.bin"
    atomic_write_bytes(p, b"\x00\x01abc")
    assert p.read_bytes() == b"\x00\x01abc"
    atomic_write_text(p, "héllo\nworld\n")
    assert p.read_text(encoding="utf-8") == "héllo\nworld\n"
    # Nothing but the target is left in the directory.
    assert sorted(os.listdir(tmp_path)) == ["a.bin"]


def test_atomic_writer_failure_keeps_old_file_and_removes_temp(tmp_path):
    p = tmp_path / "model.npz"
    p.write_bytes(b"old complete file")
    with pytest.raises(RuntimeError, match="disk full"):
        with atomic_writer(p) as f:
            f.write(b"half of the new")
            raise RuntimeError("disk full")
    assert p.read_bytes() == b"old complete file"
    assert os.listdir(tmp_path) == ["model.npz"]


def test_atomic_writer_keyboard_interrupt_removes_temp(tmp_path):
    p = tmp_path / "x.txt"
    with pytest.raises(KeyboardInterrupt):
        with atomic_writer(p, "w") as f:
            f.write("partial")
            raise KeyboardInterrupt
    assert not p.exists()
    assert os.listdir(tmp_path) == []


def test_atomic_writer_permissions_follow_umask(tmp_path):
    p = tmp_path / "perm.txt"
    old = os.umask(0o022)
    try:
        atomic_write_text(p, "x")
    finally:
        os.umask(old)
    assert p.stat().st_mode & 0o777 == 0o644


def test_atomic_writer_rejects_bad_mode(tmp_path):
    with pytest.raises(ValueError, match="mode"):
        with atomic_writer(tmp_path / "x", "a"):
            pass


def test_check_readable_file_ok(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("a: 1\n")
    assert check_readable_file(str(p), "config file") == p


def test_check_readable_file_missing(tmp_path):
    p = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as e:
        check_readable_file(p, "config file", ConfigError)
    assert str(e.value) == f"config file not found: {p}"


def test_check_readable_file_directory(tmp_path):
    with pytest.raises(DataError) as e:
        check_readable_file(tmp_path, "data file", DataError)
    assert str(e.value) == f"data file is a directory: {tmp_path}"


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read anything")
def test_check_readable_file_unreadable(tmp_path):
    p = tmp_path / "secret.csv"
    p.write_text("1,2\n")
    p.chmod(0)
    try:
        with pytest.raises(UsageError) as e:
            check_readable_file(p, "input file")
        assert str(e.value) == f"input file is not readable: {p} (Permission denied)"
    finally:
        p.chmod(0o644)


def test_check_readable_file_open_fails(tmp_path, monkeypatch):
    # Works as root too: simulate the EACCES that open() would raise.
    import rnncli.fsutil as fsutil

    def deny(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(fsutil, "open", deny, raising=False)
    p = tmp_path / "w.npz"
    p.write_bytes(b"x")
    with pytest.raises(UsageError) as e:
        check_readable_file(p, "weights file")
    assert str(e.value) == f"weights file is not readable: {p} (Permission denied)"
