"""`.jsonl`: one sequence per line, {"x": [[...], ...], "y": ...} (x of any length).

Training and eval read x and y (labels or regression values, per sequence or per step); predict
reads x alone ({"x": ...} or a bare list; a flat list is T steps of one feature), padding each
batch to its longest member. `rnn data -o x.jsonl` writes each sequence at its true length.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from rnncli.data.formats.base import DataFormat, Predict, Records, Request
from rnncli.data.readers import decode_utf8, read_source_bytes
from rnncli.data.records import parse_jsonl_line, read_jsonl_records
from rnncli.data.streams import check_features, line_batches, text_lines
from rnncli.data.types import SequenceData, TaskInfo


def read(req: Request) -> Records:
    cfg = req.cfg
    raw, name = read_source_bytes(cfg.source, base_dir=req.base_dir, stdin=req.stdin)
    text = decode_utf8(raw, name)
    data, labels = read_jsonl_records(text.splitlines(), name, output=cfg.output, targets=cfg.targets)
    return Records(data, labels, name)


def _sequences(lines: Iterator[str], task: TaskInfo, name: str):
    for lineno, line in enumerate(lines, 1):
        if line.strip():
            x, _ = parse_jsonl_line(line, name, lineno, want_y=False)
            if task.tokens != "id":  # token ids are checked against the vocabulary once padded
                check_features(x.shape[1], task, name, f"line {lineno}")
            yield x, None


def predict(p: Predict):
    lines, name = text_lines(p.source, p.base_dir, p.stdin)
    return line_batches(lines, _sequences(lines, p.task, name), p.task, name, p.batch_size, p.dtype)


def _length(data: SequenceData, i: int) -> int:
    return int(data.X.shape[1] if data.lengths is None else data.lengths[i])


def write(data: SequenceData, task: TaskInfo) -> Iterator[str]:
    """One JSON object per sequence, trailing newline included."""
    seq = task.output == "sequence"
    for i in range(len(data)):
        t = _length(data, i)
        rec = {"x": data.X[i, :t].tolist()}
        if data.y is not None:
            rec["y"] = data.y[i, :t].tolist() if seq else data.y[i].tolist()
        yield json.dumps(rec, separators=(",", ":")) + "\n"


FORMAT = DataFormat(
    "jsonl", ("jsonl",), frozenset({"output", "targets", "num_classes", "standardize", "token_ids", "fold"}),
    read=read, predict=predict, write=write, val_source=True,
)
