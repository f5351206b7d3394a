"""`rnn data` writers: a SequenceData to a file or a stream in any format that can be written.

Each format's writer is in its module in data/formats/ (jsonl: one line per sequence at its true
length; npz: X, y and lengths; npy: X only; csv: the long format; parquet: one row per sequence).
"""

from __future__ import annotations

from pathlib import Path
from typing import IO

from rnncli.data.formats.registry import WRITE_FORMATS, get
from rnncli.data.types import SequenceData, TaskInfo
from rnncli.errors import UsageError
from rnncli.fsutil import atomic_writer


def write_dataset(
    data: SequenceData, task: TaskInfo, dest: str | Path, fmt: str, stream: IO | None = None
) -> None:
    """Write `data` in `fmt` (one of WRITE_FORMATS) to `dest`; "-" writes to `stream`.

    Files are written atomically (temp file + rename). A text stream receives text formats;
    binary formats go to its `.buffer` when it has one.
    """
    if fmt not in WRITE_FORMATS:
        raise UsageError(f"cannot write format {fmt!r}; choose one of {', '.join(WRITE_FORMATS)}")
    chosen = get(fmt)
    # binary formats are made before anything is opened (a missing package leaves no file)
    payload = chosen.write(data, task)
    if str(dest) == "-":
        if stream is None:
            raise UsageError("writing to '-' needs an output stream")
        if chosen.binary:
            getattr(stream, "buffer", stream).write(payload)
        else:
            for line in payload:
                stream.write(line)
        stream.flush()
        return
    # output_file: atomic for regular files, straight through for devices and FIFOs; its errors
    # name `dest` and carry the right exit code.
    with atomic_writer(Path(dest), "wb" if chosen.binary else "w") as f:
        if chosen.binary:
            f.write(payload)
        else:
            f.writelines(payload)
