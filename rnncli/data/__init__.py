"""Sequence data: generators for the classic tasks, loaders for files and stdin, batching.

Public API (the rest of the package imports from here):
    DataConfig, SequenceData, TaskInfo, DataBundle, Batch,
    load_dataset, iterate_batches, num_batches, generate, write_dataset,
    iter_predict_inputs, unscale_targets, encode_text, decode.
"""

from rnncli.data.batching import iterate_batches, num_batches, one_hot
from rnncli.data.dataset import load_dataset
from rnncli.data.generators import generate
from rnncli.data.options import FILE_FORMATS, GENERATORS, DataConfig, applicable_fields
from rnncli.data.predict_io import iter_predict_inputs
from rnncli.data.scaling import unscale_targets
from rnncli.data.text import decode, encode_text
from rnncli.data.types import Batch, DataBundle, SequenceData, TaskInfo
from rnncli.data.writers import write_dataset

__all__ = [
    "FILE_FORMATS",
    "GENERATORS",
    "Batch",
    "DataBundle",
    "DataConfig",
    "SequenceData",
    "TaskInfo",
    "applicable_fields",
    "decode",
    "encode_text",
    "generate",
    "iter_predict_inputs",
    "iterate_batches",
    "load_dataset",
    "num_batches",
    "one_hot",
    "unscale_targets",
    "write_dataset",
]
