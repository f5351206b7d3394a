"""The `data:` section of the config: which data, and the options of its generator or loader."""

from __future__ import annotations

import difflib
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from rnncli.data.formats.registry import FILE_FORMATS, FORMATS, from_suffix, suffixes

GENERATORS = ("random", "sine", "adding", "copy", "parity", "frequency", "text")

# Options each source reads; `source`, `val_fraction` apply everywhere, `format` to files.
APPLIES: dict[str, frozenset[str]] = {
    "random": frozenset(
        {"num_samples", "seq_len", "input_size", "output_size", "output", "num_classes", "min_len"}
    ),
    "sine": frozenset({"num_samples", "seq_len", "noise", "horizon", "output", "freq_range"}),
    "adding": frozenset({"num_samples", "seq_len"}),
    "copy": frozenset({"num_samples", "num_symbols", "copy_len", "delay"}),
    "parity": frozenset({"num_samples", "seq_len", "min_len"}),
    "frequency": frozenset({"num_samples", "seq_len", "num_classes", "noise", "freq_range"}),
    "text": frozenset({"path", "seq_len", "tokens", "vocab_size", "min_count"}),
    # each file format's own (data/formats/)
    **{name: f.options for name, f in FORMATS.items()},
}
_ALWAYS = frozenset({"source", "val_fraction"})
# Files can take their validation part from a second file in the same format and options.
_FILES_ONLY = frozenset({"val_source"})


def source_kind(source: str, fmt: str | None = None, key: str = "data.source") -> str:
    """The generator name or file format ("csv", ...) that `source` (the value of `key`) means.

    Raises:
        ValueError: neither a generator nor a known file suffix (message suggests a fix).
    """
    if source in GENERATORS:
        return source
    if fmt is not None:
        return fmt
    if source == "-":
        raise ValueError(
            f"data.format is required when data.source is '-' (one of {', '.join(FILE_FORMATS)})"
        )
    suffix_format = from_suffix(source)
    if suffix_format is not None:
        return suffix_format
    close = difflib.get_close_matches(source, GENERATORS, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise ValueError(
        f"{key} {source!r} is neither a generator ({', '.join(GENERATORS)}) nor a file "
        f"ending in .{', .'.join(suffixes())}{hint}"
    )


def applicable_fields(source: str, fmt: str | None = None) -> frozenset[str]:
    """Names of the DataConfig fields that `source` reads (for dumping a minimal config)."""
    kind = source_kind(source, fmt)
    extra = {"format"} if kind not in GENERATORS else set()
    if kind in FORMATS and FORMATS[kind].val_source:
        extra |= _FILES_ONLY
    return APPLIES[kind] | _ALWAYS | extra


class DataConfig(BaseModel):
    """Where sequences come from and how they are cut; see each field's description."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)  # every float finite

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value):
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("a path or name cannot contain a NUL byte")
        return value

    source: str = Field(
        "sine",
        description="A generator (random, sine, adding, copy, parity, frequency, text), a file "
        "path (.npz, .npy, .csv, .jsonl, .txt, .parquet; relative to the config file) or '-' for "
        "stdin.",
    )
    format: Literal[FILE_FORMATS] | None = Field(  # type: ignore[valid-type]
        None, description="File format when the suffix does not say it; required for '-'."
    )
    num_samples: int = Field(1000, ge=1, description="Generators: number of sequences made.")
    seq_len: int = Field(
        50, ge=1, description="Sequence length T (window length for csv and text)."
    )
    val_fraction: float = Field(
        0.1, ge=0.0, lt=1.0,
        description="Fraction held out for validation (seeded shuffle; csv and text split by "
        "position, the end of the series/text being validation); unused with data.val_source.",
    )
    fold: tuple[int, int] | None = Field(
        None,
        description="npz, jsonl, csv: [i, k]: validate on the i-th (0-based) of k folds (of a seeded "
        "shuffle; of a csv series: the i-th of k blocks of windows, without the windows just after "
        "it) and train on the rest (the fold runs of train.cv_folds); null = data.val_fraction.",
    )
    val_source: str | None = Field(
        None,
        description="Files: validation data from this file (same format and options as "
        "data.source) instead of holding out data.val_fraction of the training file.",
    )
    # random
    input_size: int = Field(5, ge=1, description="random: input features I.")
    output_size: int = Field(2, ge=1, description="random: regression outputs O.")
    output: Literal["last", "sequence"] = Field(
        "last", description="random, sine, csv, jsonl: one target per sequence or one per step."
    )
    num_classes: int | None = Field(
        None, ge=2, le=1_000_000,  # data.checks.MAX_CLASSES
        description="random: make integer labels in [0, K) instead of Gaussian targets; "
        "frequency: number of classes (default 4); npz/jsonl: the labels are 0..K-1 "
        "(default: the classes are the sorted distinct training labels).",
    )
    min_len: int | None = Field(
        None, ge=1,
        description="random, parity: ragged lengths drawn uniformly in [min_len, seq_len] "
        "(zero padded, lengths recorded).",
    )
    # sine / frequency
    noise: float = Field(0.0, ge=0.0, description="sine, frequency: std of Gaussian noise added.")
    horizon: int = Field(1, ge=1, description="sine, csv: forecast this many next values.")
    freq_range: tuple[float, float] = Field(
        (0.02, 0.1),
        description="sine, frequency: frequencies in cycles per step, [low, high], 0 < low <= "
        "high <= 0.5 (sine draws uniformly; frequency spaces the K classes evenly).",
    )
    # copy
    num_symbols: int = Field(8, ge=1, description="copy: alphabet size S of the symbols copied.")
    copy_len: int = Field(10, ge=1, description="copy: number of symbols K to remember.")
    delay: int = Field(
        20, ge=0, description="copy: blanks between the symbols and the recall marker."
    )
    # text
    path: str | None = Field(None, description="text: the corpus file (UTF-8 plain text).")
    tokens: Literal["char", "word"] = Field(
        "char",
        description="text: model characters, or words (words, punctuation marks and line breaks "
        "are tokens; rare words read as <unk>; use model.embedding_size with a large vocabulary).",
    )
    vocab_size: int | None = Field(
        None, ge=2,
        description="text, tokens word: keep only the most frequent words, vocab_size entries with "
        "<unk>; null = every word that passes min_count.",
    )
    min_count: int = Field(
        1, ge=1,
        description="text, tokens word: words seen fewer times in the training text read as <unk>.",
    )
    # files
    targets: Literal["auto", "regression", "classification"] = Field(
        "auto",
        description="npz, jsonl: under 'auto' text, boolean and integer targets are class labels, "
        "whole-number floats (N,) with few distinct values too (with a warning), other floats "
        "regression values.",
    )
    standardize: bool = Field(
        True,
        description="csv, npz, jsonl: scale inputs and regression targets to zero mean, unit std "
        "with statistics of the training part only (saved with the model, applied by eval and "
        "predict, outputs reported in original units); false = use the values as they are.",
    )
    layout: Literal["NTC", "NCT"] = Field(
        "NTC",
        description="npz, npy: X as (N, T, I) (NTC, as numpy/torch batch_first) or channels "
        "first (N, C, T) (NCT, as aeon and sktime store panels).",
    )
    token_ids: bool = Field(
        False,
        description="npz, jsonl: X holds one integer token id per step (an (N, T) array, or flat "
        "lists of integers), not features; the vocabulary is the largest id + 1, the model one-hots "
        "the ids or looks them up in model.embedding_size, and nothing is standardised.",
    )
    input_columns: list[str | int] | None = Field(
        None, description="csv: input columns by header name or 0-based index (default: every "
        "numeric column but the index; text columns are ignored with a warning)."
    )
    target_columns: list[str | int] | None = Field(
        None, description="csv: target columns (default: the input columns, i.e. forecasting)."
    )
    index_column: str | int | None = Field(
        None,
        description="csv: the column that labels the rows (header name or 0-based index): never a "
        "feature; predictions carry its value. Default: a first column of dates/times or named "
        "date, time, year, ... (see README 'Your data').",
    )
    window: int | None = Field(None, ge=1, description="csv: window length (default seq_len).")
    stride: int = Field(1, ge=1, description="csv: steps between consecutive window starts.")
    transform: Literal["auto", "none", "log"] = Field(
        "auto", description="csv: 'log' models the natural logs of the values (all must be > 0: "
        "growth and multiplicative seasons become additive); predictions are exp'd back. 'auto' = "
        "log when every training value is positive and the largest is at least twice the smallest.",
    )
    forecast: Literal["auto", "level", "change"] = Field(
        "auto",
        description="csv: 'change' = the model predicts each target's change from the window's last "
        "value (a residual on the persistence forecast; predictions in original units); 'level' = "
        "the values themselves; 'auto' = change when the targets are inputs and output is last.",
    )
    season: int | None = Field(
        None, ge=2, description="csv: the seasonal period in rows of the seasonal-naive baseline "
        "(12 for monthly data); null = detected from the training series' autocorrelation.",
    )
    header: bool | None = Field(
        None, description="csv: first row holds column names (default: detect non-numbers)."
    )
    delimiter: str = Field(",", min_length=1, max_length=1, description="csv: cell separator.")

    @field_validator("fold")
    @classmethod
    def _fold_in_range(cls, value: tuple[int, int] | None) -> tuple[int, int] | None:
        if value is not None and not (value[1] >= 2 and 0 <= value[0] < value[1]):
            raise ValueError(f"data.fold {list(value)} needs [i, k] with k >= 2 and 0 <= i < k")
        return value

    @field_validator("val_source")
    @classmethod
    def _val_source_is_a_file(cls, value: str | None) -> str | None:
        if value == "-":
            raise ValueError("data.val_source must be a file ('-' is the training data's stdin)")
        return value

    @model_validator(mode="after")
    def _check_applicable(self) -> DataConfig:
        try:
            kind = source_kind(self.source, self.format)
        except ValueError as exc:
            raise ValueError(str(exc)) from None
        allowed = applicable_fields(self.source, self.format)
        defaults = type(self).model_fields
        for name in sorted(self.model_fields_set - allowed):
            # A resolved config dump repeats every default; only a changed value is a mistake.
            if getattr(self, name) != defaults[name].default:
                raise ValueError(f"data.{name} does not apply to source {self.source!r}")
        if self.tokens == "char" and ({"vocab_size", "min_count"} & self.model_fields_set) and (
                self.vocab_size is not None or self.min_count != 1):
            raise ValueError("data.vocab_size and data.min_count apply to data.tokens: word")
        if kind == "text" and not self.path:
            raise ValueError("data.path is required for source 'text' (the corpus file)")
        if self.min_len is not None and self.min_len > self.seq_len:
            raise ValueError(f"data.min_len {self.min_len} is larger than data.seq_len")
        lo, hi = self.freq_range
        if not 0 < lo <= hi <= 0.5:
            raise ValueError(f"data.freq_range {list(self.freq_range)} needs 0 < low <= high <= 0.5")
        if (
            kind == "random"
            and self.num_classes is not None
            and "output_size" in self.model_fields_set
            and self.output_size != self.num_classes
        ):
            raise ValueError("data.output_size must equal data.num_classes for labels")
        if kind in ("adding",) and self.seq_len < 2:
            raise ValueError("data.seq_len must be >= 2 for the adding problem")
        return self

    @property
    def kind(self) -> str:
        """The generator name or the file format this config selects."""
        return source_kind(self.source, self.format)
