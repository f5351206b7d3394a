"""What a data-file format provides (`DataFormat`) and what its readers are given and return."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from rnncli.data.types import Batch, DataBundle, SequenceData, TaskInfo


@dataclass(frozen=True)
class Request:
    """What load_dataset was asked for one source (see its docstring)."""

    cfg: Any  # the DataConfig (data/options.py imports this package, not the other way round)
    base_dir: Path | None
    stdin: IO | None
    fitted: TaskInfo | None
    split: bool
    dtype: np.dtype
    context: str | None = None


@dataclass(frozen=True)
class Records:
    """Sequences read from a file with their raw targets: load_dataset encodes the labels, splits,
    standardises and takes the baselines, the same for every format that returns these."""

    data: SequenceData
    labels: bool  # the targets are class labels
    name: str  # the file as the user named it, for messages


@dataclass(frozen=True)
class Predict:
    """What `rnn predict` asks a format for: batches of the model's inputs."""

    source: str | Path
    task: TaskInfo
    batch_size: int
    dtype: np.dtype
    stdin: IO | None
    base_dir: Path | None
    context: str | Path | None = None  # a series whose rows precede the input (--context)


@dataclass(frozen=True)
class DataFormat:
    """One file format.

    read: Request -> Records (rows of sequences: the shared preparation follows) or DataBundle
        (a format that prepares its own windows or vocabulary); None: not training data.
    predict: Predict -> Iterator[Batch] for `rnn predict`; None: not a predict input.
    write: (SequenceData, TaskInfo) -> bytes (binary) or lines of text, for `rnn data -o`.
    """

    name: str
    suffixes: tuple[str, ...]  # lower case, without the dot
    options: frozenset[str]  # the data.* keys it reads besides source, val_fraction and format
    read: Callable[[Request], Records | DataBundle] | None = None
    predict: Callable[[Predict], Iterator[Batch]] | None = None
    write: Callable[[SequenceData, TaskInfo], bytes | Iterator[str]] | None = None
    binary: bool = False  # write returns bytes
    val_source: bool = False  # data.val_source may name a second file in this format
    context: bool = False  # --context (a series continued) applies
    text_models: bool = False  # predict input of text models (and of no other kind)
