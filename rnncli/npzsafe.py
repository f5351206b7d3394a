"""Reading .npz and .npy files without trusting them: every header is checked before allocation.

Used by the weights loader and the data readers alike. An archive is refused before any array is
allocated when a member is not an .npy array, declares more bytes than the file could hold (a
stored member more than the file's size; a deflated one more than MAX_DEFLATE_RATIO times its
compressed size), all members together declare more than the memory budget, an array header does
not match its member's declared size exactly, or an array holds Python objects (never unpickled).
"""

from __future__ import annotations

import io
import math
import zipfile
from pathlib import Path
from typing import IO

import numpy as np
import numpy.lib.format as npformat

from rnncli.errors import RnnError
from rnncli.memory import check_fits, memory_budget

__all__ = ["MAX_DEFLATE_RATIO", "member_header", "open_npz", "read_member", "read_npy_header"]

# The best ratio deflate can reach is about 1032:1; a member claiming more is lying.
MAX_DEFLATE_RATIO = 1100


def read_npy_header(fp: IO[bytes]) -> tuple[tuple[int, ...], np.dtype, int]:
    """(shape, dtype, header length in bytes) of the .npy stream at `fp`, data not read.

    Raises:
        ValueError: not an .npy header.
    """
    version = npformat.read_magic(fp)
    if version == (1, 0):
        shape, _, dtype = npformat.read_array_header_1_0(fp)
    elif version == (2, 0):
        shape, _, dtype = npformat.read_array_header_2_0(fp)
    else:  # (3, 0): utf-8 field names; only the private reader knows it
        shape, _, dtype = npformat._read_array_header(fp, version)
    return tuple(shape), dtype, fp.tell()


def open_npz(source: Path | bytes, name: str, error: type[RnnError]) -> tuple[zipfile.ZipFile, dict]:
    """The open archive and its members ({array name: ZipInfo}), sizes checked (module docstring).

    Raises:
        error: one line starting with `name`.
    """
    size = len(source) if isinstance(source, bytes) else Path(source).stat().st_size
    stream = io.BytesIO(source) if isinstance(source, bytes) else source
    if not zipfile.is_zipfile(stream):
        raise error(f"{name}: not an .npz file (not a zip archive, or truncated)")
    zf = zipfile.ZipFile(stream)
    try:
        members = {}
        for info in zf.infolist():
            if not info.filename.endswith(".npy"):
                raise error(f"{name}: unexpected member {info.filename[:80]!r} (not an .npy array)")
            stored = info.compress_type == zipfile.ZIP_STORED
            limit = size if stored else info.compress_size * MAX_DEFLATE_RATIO
            if info.file_size > limit:
                raise error(f"{name}: member {info.filename[:80]!r} declares {info.file_size} bytes, "
                            f"impossible in a {size}-byte file; refused")
            members[info.filename[:-4]] = info
        check_fits({"arrays": sum(i.file_size for i in members.values())}, memory_budget(),
                   f"{name}: loading the arrays", "this file is too large to load here", error)
    except BaseException:
        zf.close()
        raise
    return zf, members


def member_header(zf: zipfile.ZipFile, info: zipfile.ZipInfo, name: str,
                  error: type[RnnError]) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype of one member, its header checked against the member's size exactly."""
    key = info.filename[:-4]
    with zf.open(info) as fp:
        try:
            shape, dtype, header_len = read_npy_header(fp)
        except ValueError as e:
            raise error(f"{name}: array {key[:80]!r} has no valid .npy header ({e})") from None
    if dtype.hasobject:
        raise error(f"{name}: array {key[:80]!r} holds Python objects; refusing to load it")
    # A valid .npy member is exactly its header plus the data the header declares;
    # checking that here keeps a lying header from making us allocate.
    if header_len + math.prod(shape) * dtype.itemsize != info.file_size:
        raise error(f"{name}: array {key[:80]!r} is truncated or corrupted (its header says "
                    f"{list(shape)[:8]} {dtype}, the member holds {info.file_size} bytes)")
    return shape, dtype


def read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> np.ndarray:
    """The array of a member whose header `member_header` accepted (never unpickles)."""
    with zf.open(info) as fp:
        return npformat.read_array(fp, allow_pickle=False)
