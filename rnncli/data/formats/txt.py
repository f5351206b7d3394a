"""`.txt`: UTF-8 plain text for character (or word) models.

Training reads the whole text and cuts it into data.seq_len windows (data/text.py); predict reads
each non-empty line as one sequence of the model's vocabulary. Text models read only this format.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

from rnncli.data.formats.base import DataFormat, Predict, Request
from rnncli.data.streams import line_batches, text_lines
from rnncli.data.text import encode_text, load_text_corpus
from rnncli.data.types import TaskInfo
from rnncli.data.words import encode_words, tokenize
from rnncli.errors import DataError


def read(req: Request):
    return load_text_corpus(req.cfg.source, req.cfg, base_dir=req.base_dir, fitted=req.fitted,
                            split=req.split, stdin=req.stdin if req.stdin is not None else sys.stdin)


def _sequences(lines: Iterator[str], task: TaskInfo, name: str):
    for lineno, line in enumerate(lines, 1):
        line = line.rstrip("\r\n")
        if line:
            if task.tokens == "word":  # unknown words read as <unk>
                yield encode_words(tokenize(line), task.vocab), None
                continue
            try:
                yield encode_text(line, task.vocab, name=name), None
            except DataError as exc:  # report the line in the file, not in the one-line text
                raise DataError(str(exc).replace(": line 1,", f": line {lineno},", 1)) from None


def predict(p: Predict):
    lines, name = text_lines(p.source, p.base_dir, p.stdin)
    # token ids: the model encodes them
    return line_batches(lines, _sequences(lines, p.task, name), p.task, name, p.batch_size, p.dtype,
                        ids=True)


FORMAT = DataFormat("txt", ("txt",), frozenset({"seq_len", "tokens", "vocab_size", "min_count"}),
                    read=read, predict=predict, text_models=True)
