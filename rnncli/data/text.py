"""Character-level (and word-level, data/words.py) text: vocabulary, encoding, windows for truncated BPTT.

A corpus of C characters becomes N = (C - 1) // T windows in text order: X (N, T) ids of
chars [nT, nT+T) and y (N, T) ids of the chars one step later. `iterate_batches` lays the
windows out as B parallel streams so that the hidden state carries from batch to batch.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import IO

import numpy as np

from rnncli.data.readers import read_text_source
from rnncli.data.types import DataBundle, SequenceData, TaskInfo
from rnncli.data.words import build_word_vocab, encode_words, tokenize
from rnncli.errors import DataError


def build_vocab(text: str) -> list[str]:
    """The sorted distinct characters of `text`."""
    return sorted(set(text))


def encode_text(text: str, vocab: list[str], *, name: str = "text") -> np.ndarray:
    """Ids (C,) int64 of each character; an unknown one is a DataError naming char and line."""
    if not text:
        return np.zeros(0, dtype=np.int64)
    cps = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    vocab_cps = np.array([ord(c) for c in vocab], dtype=np.uint32)
    order = np.argsort(vocab_cps)
    sorted_cps = vocab_cps[order]
    pos = np.clip(np.searchsorted(sorted_cps, cps), 0, len(sorted_cps) - 1)
    unknown = sorted_cps[pos] != cps
    if unknown.any():
        i = int(np.argmax(unknown))
        line = text.count("\n", 0, i) + 1
        col = i - (text.rfind("\n", 0, i) + 1) + 1
        raise DataError(
            f"{name}: line {line}, column {col}: character {text[i]!r} is not in the model's "
            f"vocabulary of {len(vocab)} characters"
        )
    return order[pos].astype(np.int64)


def decode(ids, vocab: list[str]) -> str:
    """The string of the ids (any int sequence)."""
    return "".join(vocab[int(i)] for i in ids)


def unigram_bits(ids: np.ndarray, v: int) -> float:
    """Entropy in bits per char of the character frequencies: a model without context."""
    p = np.bincount(ids, minlength=v) / max(1, ids.size)
    p = p[p > 0]
    return float(-(p * np.log2(p)).sum())


def windows(ids: np.ndarray, t: int) -> SequenceData:
    """Consecutive windows: X (N,T), y (N,T) shifted by one char; stateful."""
    n = (ids.size - 1) // t
    X = ids[: n * t].reshape(n, t).astype(np.int32)
    y = ids[1 : n * t + 1].reshape(n, t).astype(np.int32)
    return SequenceData(X, y, None, stateful=True)


def text_task(vocab: list[str], t: int, bits: float, tokens: str = "char") -> TaskInfo:
    """TaskInfo of a character (or word) model over `vocab` with window t."""
    v = len(vocab)
    return TaskInfo(
        v, v, "sequence", "cross_entropy", "text", num_classes=v, vocab=list(vocab),
        baselines={f"unigram_bits_per_{tokens}": bits, f"uniform_bits_per_{tokens}": math.log2(v)},
        stateful=True, seq_len=t, tokens=tokens,
    )


def _ids_and_vocab(text: str, cfg, fitted: TaskInfo | None, split: bool, name: str):
    """(ids, vocab, n_val, tokens): the corpus as ids, the vocabulary, how many ids are validation."""
    tokens = fitted.tokens if fitted is not None else cfg.tokens
    if fitted is not None and not fitted.vocab:
        raise DataError(f"{name}: the model is not a text model (it has no vocabulary)")
    if tokens == "char":
        vocab = list(fitted.vocab) if fitted is not None else build_vocab(text)
        ids = encode_text(text, vocab, name=name)
        return ids, vocab, int(len(ids) * cfg.val_fraction) if split else 0, tokens
    words = tokenize(text)
    n_val = int(len(words) * cfg.val_fraction) if split else 0
    vocab = list(fitted.vocab) if fitted is not None else build_word_vocab(
        words[: len(words) - n_val], vocab_size=cfg.vocab_size, min_count=cfg.min_count)
    return encode_words(words, vocab), vocab, n_val, tokens


def load_text_corpus(
    source: str | Path,
    cfg,
    *,
    base_dir: Path | None = None,
    fitted: TaskInfo | None = None,
    split: bool = True,
    stdin: IO | None = None,
) -> DataBundle:
    """Read a corpus (file or '-') and cut it into train/val windows of cfg.seq_len tokens.

    Characters: the vocabulary is the sorted characters of the whole corpus given for training (so
    the validation tail never holds an unknown character). Words (cfg.tokens "word", data/words.py):
    the vocabulary comes from the training part, rarer words read as "<unk>". For eval, `fitted.vocab`.
    The last val_fraction of the text (by position) is validation.
    """
    text, name = read_text_source(source, base_dir=base_dir, stdin=stdin)
    t = cfg.seq_len
    ids, vocab, n_val, tokens = _ids_and_vocab(text, cfg, fitted, split, name)
    unit = "characters" if tokens == "char" else "tokens"
    if len(vocab) < 2 and fitted is None:
        raise DataError(f"{name}: the text has {len(vocab)} distinct {unit}; need 2 or more")
    train_ids, val_ids = ids[: len(ids) - n_val], ids[len(ids) - n_val :]
    if train_ids.size < t + 1:
        raise DataError(
            f"{name}: {train_ids.size} {unit} for training, fewer than seq_len + 1 = {t + 1}"
        )
    val = None
    if n_val:
        if val_ids.size < t + 1:
            raise DataError(
                f"{name}: the validation part has {val_ids.size} {unit}, fewer than "
                f"seq_len + 1 = {t + 1}; lower data.seq_len or raise data.val_fraction"
            )
        val = windows(val_ids, t)
    task = text_task(vocab, t, unigram_bits(train_ids, len(vocab)), tokens)
    return DataBundle(windows(train_ids, t), val, task)
