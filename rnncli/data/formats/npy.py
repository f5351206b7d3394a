"""`.npy`: one array X (N, T, I) (or (N, T) for one feature; (N, C, T) with data.layout NCT).

Inputs only, so it is for `rnn predict` (and `rnn data -o x.npy`), never training data.
"""

from __future__ import annotations

import io

import numpy as np

from rnncli.data.formats.base import DataFormat, Predict, Request
from rnncli.data.readers import load_npy_array
from rnncli.data.streams import array_inputs
from rnncli.data.types import SequenceData, TaskInfo
from rnncli.errors import DataError


def read(req: Request):
    raise DataError(
        f"{req.cfg.source}: an .npy holds inputs only; training and eval need targets: use an "
        ".npz with X and y, or .jsonl lines with x and y (.npy is for rnn predict)"
    )


def predict(p: Predict):
    X, name = load_npy_array(p.source, base_dir=p.base_dir, stdin=p.stdin)
    return array_inputs(X, None, p.task, name, p.batch_size, p.dtype)


def write(data: SequenceData, task: TaskInfo) -> bytes:
    buf = io.BytesIO()
    np.save(buf, data.X, allow_pickle=False)
    return buf.getvalue()


FORMAT = DataFormat("npy", ("npy",), frozenset({"layout"}), read=read, predict=predict, write=write,
                    binary=True)
