"""`.npz`: arrays X (N, T, I) (or (N, C, T) with data.layout NCT), y, optional lengths (N,).

Read without pickles (npzsafe: sizes checked before anything is allocated); trailing all-NaN steps
are padding. Training and eval need y; predict reads X and lengths; `rnn data -o x.npz` writes
X, y and (if ragged) lengths, compressed.
"""

from __future__ import annotations

import io

import numpy as np

from rnncli.data.formats.base import DataFormat, Predict, Records, Request
from rnncli.data.readers import load_npz_arrays
from rnncli.data.records import npz_to_data
from rnncli.data.streams import array_inputs
from rnncli.data.types import SequenceData, TaskInfo
from rnncli.errors import DataError


def read(req: Request) -> Records:
    cfg = req.cfg
    arrays, name = load_npz_arrays(cfg.source, base_dir=req.base_dir, stdin=req.stdin)
    data, labels = npz_to_data(arrays, name, targets=cfg.targets, layout=cfg.layout,
                               layout_explicit="layout" in cfg.model_fields_set)
    return Records(data, labels, name)


def predict(p: Predict):
    arrays, name = load_npz_arrays(p.source, base_dir=p.base_dir, stdin=p.stdin)
    if "X" not in arrays:
        raise DataError(f"{name}: key 'X' is missing (keys: {', '.join(arrays) or 'none'})")
    return array_inputs(arrays["X"], arrays.get("lengths"), p.task, name, p.batch_size, p.dtype)


def write(data: SequenceData, task: TaskInfo) -> bytes:
    arrays = {"X": data.X}
    if data.y is not None:
        arrays["y"] = data.y
    if data.lengths is not None:
        arrays["lengths"] = data.lengths
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return buf.getvalue()


FORMAT = DataFormat(
    "npz", ("npz",), frozenset({"targets", "num_classes", "standardize", "layout", "token_ids", "fold"}),
    read=read, predict=predict, write=write, binary=True, val_source=True,
)
