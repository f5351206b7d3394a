"""Low-level, safe readers: files or stdin, UTF-8 text, .npz/.npy without pickles, CSV cells.

Every failure is a DataError naming the file (as the user wrote it) and the line, row,
column or key at fault.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import numpy as np

from rnncli.data.checks import check_alloc, check_file
from rnncli.data.csvtable import cell_rows
from rnncli.data.formats.stdin import STDIN_NAME, stdin_bytes
from rnncli.errors import DataError
from rnncli.fsutil import check_path_text
from rnncli.npzsafe import member_header, open_npz, read_member, read_npy_header


def resolve_path(source: str | Path, base_dir: Path | None) -> Path:
    """`source` with ~ expanded, relative to base_dir when not absolute (a NUL byte is a DataError)."""
    check_path_text(source, "data file", DataError)
    p = Path(source).expanduser()
    if not p.is_absolute() and base_dir is not None:
        p = Path(base_dir) / p
    return p


def read_source_bytes(
    source: str | Path, *, base_dir: Path | None = None, stdin: IO | None = None
) -> tuple[bytes, str]:
    """All bytes of a file or of stdin ('-'), after existence/size checks; (bytes, name)."""
    if str(source) == "-":
        return stdin_bytes(stdin), STDIN_NAME
    name = str(source)
    path = resolve_path(source, base_dir)
    size = check_file(path, name)
    check_alloc(size, f"{name}: reading the file")
    try:
        return path.read_bytes(), name
    except OSError as exc:
        raise DataError(f"{name}: cannot read: {exc.strerror}") from None


def decode_utf8(data: bytes, name: str) -> str:
    """UTF-8 text (a BOM is dropped); a bad byte names its line."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise DataError(
            f"{name}: line {line}: not valid UTF-8 (byte {data[exc.start]:#04x})"
        ) from None


def read_text_source(
    source: str | Path, *, base_dir: Path | None = None, stdin: IO | None = None
) -> tuple[str, str]:
    """(text, name) of a UTF-8 file or stdin; empty text is an error."""
    data, name = read_source_bytes(source, base_dir=base_dir, stdin=stdin)
    text = decode_utf8(data, name)
    if not text:
        raise DataError(f"{name}: no text")
    return text, name


def load_npz_arrays(
    source: str | Path, *, base_dir: Path | None = None, stdin: IO | None = None
) -> tuple[dict[str, np.ndarray], str]:
    """The arrays of an .npz as a dict, refusing object arrays (never unpickles)."""
    if str(source) == "-":
        data: bytes | Path = stdin_bytes(stdin)
        name = STDIN_NAME
    else:
        name = str(source)
        data = resolve_path(source, base_dir)
        check_file(data, name)
    # npzsafe: declared sizes against the file and the memory budget, each header against its
    # member, object arrays refused, all before any array is allocated.
    try:
        zf, members = open_npz(data, name, DataError)
        with zf:
            headers = {key: member_header(zf, info, name, DataError) for key, info in members.items()}
            return {key: read_member(zf, members[key]) for key in headers}, name
    except DataError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise DataError(f"{name}: cannot read as .npz: {str(exc)[:200]}") from None


def load_npy_array(
    source: str | Path, *, base_dir: Path | None = None, stdin: IO | None = None
) -> tuple[np.ndarray, str]:
    """The array of an .npy; header checked (shape, size, dtype) before the data is read."""
    if str(source) == "-":
        stream: IO[bytes] = io.BytesIO(stdin_bytes(stdin))
        name, size = STDIN_NAME, len(stream.getvalue())  # type: ignore[attr-defined]
    else:
        name = str(source)
        path = resolve_path(source, base_dir)
        size = check_file(path, name)
        stream = path.open("rb")
    with stream:
        try:
            shape, dtype, _ = read_npy_header(stream)
        except (ValueError, OSError, EOFError) as exc:
            raise DataError(f"{name}: not a valid .npy file: {exc}") from None
        if dtype.hasobject:
            raise DataError(f"{name}: holds Python objects (a pickle); refused for safety")
        nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if nbytes > size:
            raise DataError(
                f"{name}: header says {list(shape)} {dtype} ({nbytes} bytes) but the file has "
                f"{size} bytes; it is truncated"
            )
        check_alloc(nbytes, f"{name}: loading {list(shape)} {dtype}")
        stream.seek(0)
        try:
            return np.load(stream, allow_pickle=False), name
        except (ValueError, OSError, EOFError) as exc:
            raise DataError(f"{name}: cannot read as .npy: {exc}") from None


def cell_lines(raw: bytes, name: str, delimiter: str = ",") -> Iterator[tuple[int, list[str]]]:
    """(line number, stripped cells) of every non-blank row of a UTF-8 CSV held in `raw`."""
    text = decode_utf8(raw, name)
    return cell_rows(io.StringIO(text, newline=""), name, delimiter)
