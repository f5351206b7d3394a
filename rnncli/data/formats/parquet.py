"""`.parquet` (needs pyarrow: pip install 'rnncli[parquet]'): tables as data scientists keep them.

A table is read as the jsonl or csv it corresponds to, so every rule (labels, ragged lengths,
column roles, windows, --context-free predictions with their index) is the same:
- one row per sequence: a list column `x` (a list of steps, each a list of features, or a flat
  list of one feature's values) and optionally `y` (a label, a number, a list of numbers, or one
  per step): read like .jsonl lines {"x": ..., "y": ...}, row N as line N;
- a long table with a sequence id: columns `sample, t, x.., y..` (as `rnn data -o x.csv` writes):
  read like a long-format csv panel;
- any other table of scalar columns: a series (rows = time steps), cut into windows like a csv
  series; a date/time index column is recognised by name as for csv.
In messages the csv forms number the header line 1, so table row N is line N + 1.
`rnn data -o x.parquet` writes one row per sequence (x and y as list columns, at true length).
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Iterator
from datetime import date, datetime

from rnncli.data.checks import check_alloc
from rnncli.data.csvpanel import is_long_format, long_records
from rnncli.data.csvpredict import csv_windows
from rnncli.data.csvseries import load_csv_dataset
from rnncli.data.formats import jsonl
from rnncli.data.formats.base import DataFormat, Predict, Records, Request
from rnncli.data.readers import cell_lines, read_source_bytes
from rnncli.data.records import read_jsonl_records, records_to_data
from rnncli.data.streams import line_batches
from rnncli.data.types import SequenceData, TaskInfo
from rnncli.errors import DataError, UsageError

INSTALL = "pip install 'rnncli[parquet]'"


def _pyarrow():
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise UsageError(f"reading or writing .parquet needs pyarrow: {INSTALL}") from None
    return pa, pq


def _table(source, base_dir, stdin):
    """(the table, name); its uncompressed size is checked against the memory budget first."""
    pa, pq = _pyarrow()
    raw, name = read_source_bytes(source, base_dir=base_dir, stdin=stdin)
    try:
        meta = pq.ParquetFile(pa.BufferReader(raw)).metadata
        # the table, then its text form (about 3x): the largest thing this reader holds
        check_alloc(4 * sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups)),
                    f"{name}: reading the table")
        return pq.read_table(pa.BufferReader(raw)), name
    except DataError:
        raise
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise DataError(f"{name}: cannot read as .parquet: {' '.join(str(exc).split())[:200]}") from None


def _is_list(field) -> bool:
    import pyarrow as pa

    return pa.types.is_list(field.type) or pa.types.is_large_list(field.type) or pa.types.is_fixed_size_list(
        field.type)


def _cell(v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, (date, datetime)):
        return v.isoformat()
    return str(v)


def _csv_text(table, name: str) -> str:
    """The table as csv text (header first); cells hold no comma, quote or line break."""
    rows = [table.column_names] + [[_cell(v) for v in row.values()] for row in table.to_pylist()]
    for r, row in enumerate(rows):
        if not any(row):  # csv would read a blank line and skip it: a step dropped without a word
            raise DataError(f"{name}: line {r + 1}: every cell of the row is null (a missing step); "
                            "fill or drop the row")
        for c, cell in enumerate(row):
            if any(ch in cell for ch in ',"\r\n'):
                raise DataError(f"{name}: row {r}, column {table.column_names[c]!r}: a text cell holds "
                                f"{cell!r:.40}; commas, quotes and line breaks are not supported")
    return "".join(",".join(row) + "\n" for row in rows)


def _json_lines(table, name: str, *, want_y: bool) -> list[str]:
    """One JSON line per row of a list-column table (x, and y when asked and present)."""
    if "x" not in table.column_names:
        raise DataError(f"{name}: a table with list columns needs a list column 'x' (columns: "
                        f"{', '.join(table.column_names)})")
    keys = ["x", "y"] if want_y and "y" in table.column_names else ["x"]
    return [json.dumps({k: table.column(k)[i].as_py() for k in keys}, allow_nan=True)
            for i in range(table.num_rows)]


def _panel_rows(table) -> bool:
    return any(_is_list(f) for f in table.schema)


def read(req: Request):
    cfg = req.cfg
    table, name = _table(cfg.source, req.base_dir, req.stdin)
    if _panel_rows(table):
        data, labels = read_jsonl_records(_json_lines(table, name, want_y=True), name,
                                          output=cfg.output, targets=cfg.targets)
        return Records(data, labels, name)
    text = _csv_text(table, name).encode()
    if is_long_format(table.column_names):
        rows = list(cell_lines(text, name))
        xs, ys, lines = long_records(rows[0][1], rows[1:], name, cfg.output)
        data, labels = records_to_data(xs, ys, lines, output=cfg.output, targets=cfg.targets, name=name)
        return Records(data, labels, name)
    series = cfg.model_copy(update={"delimiter": ",", "header": True})  # column names are the header
    return load_csv_dataset(series, dtype=req.dtype, fitted=req.fitted, split=req.split,
                            raw=(text, name))


class _Lines(io.StringIO):
    """Lines of text the batching closes when done (as it closes a file)."""


def predict(p: Predict) -> Iterator:
    table, name = _table(p.source, p.base_dir, p.stdin)
    if _panel_rows(table):
        lines = _Lines("".join(line + "\n" for line in _json_lines(table, name, want_y=False)))
        return line_batches(lines, jsonl._sequences(lines, p.task, name), p.task, name, p.batch_size,
                            p.dtype)
    lines = _Lines(_csv_text(table, name))
    return line_batches(lines, csv_windows(lines, p.task, name), p.task, name, p.batch_size, p.dtype)


def write(data: SequenceData, task: TaskInfo) -> bytes:
    pa, pq = _pyarrow()
    seq = task.output == "sequence"
    xs, ys = [], []
    for i in range(len(data)):
        t = int(data.X.shape[1] if data.lengths is None else data.lengths[i])
        xs.append(data.X[i, :t].tolist())
        if data.y is not None:
            ys.append(data.y[i, :t].tolist() if seq else data.y[i].tolist())
    columns = {"x": xs} if data.y is None else {"x": xs, "y": ys}
    buf = io.BytesIO()
    pq.write_table(pa.table(columns), buf)
    return buf.getvalue()


FORMAT = DataFormat(
    "parquet", ("parquet", "pq"),
    frozenset({"seq_len", "window", "input_columns", "target_columns", "horizon", "stride", "output",
               "standardize", "index_column", "targets", "num_classes", "token_ids",
               "transform", "forecast", "season", "fold"}),
    read=read, predict=predict, write=write, binary=True, val_source=True,
)
