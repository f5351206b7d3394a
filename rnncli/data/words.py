"""Word-level text (`data.tokens: word`): tokens, a vocabulary with an unknown token, and back to text.

A token is a word (letters, digits and underscores, with inner apostrophes: "don't"), a single
punctuation mark, or a line break; spaces and tabs only separate tokens. The vocabulary is UNK ("<unk>",
id 0) followed by the tokens of the training text from the most to the least frequent (ties in
alphabetical order), cut to `vocab_size` entries and to tokens seen `min_count` times or more; every
other token reads as UNK. Turning tokens back into text puts one space between them except before
closing punctuation, after opening brackets and around line breaks.
"""

from __future__ import annotations

import re
from collections import Counter

import numpy as np

UNK = "<unk>"
_TOKEN = re.compile(r"\w+(?:'\w+)*|[^\w\s]|\n")
_NO_SPACE_BEFORE = frozenset(".,;:!?)]}'\n")
_NO_SPACE_AFTER = frozenset("([{\n")


def tokenize(text: str) -> list[str]:
    """The tokens of `text` in order (see the module docstring)."""
    return _TOKEN.findall(text)


def build_word_vocab(tokens: list[str], *, vocab_size: int | None = None, min_count: int = 1) -> list[str]:
    """[UNK] + the tokens seen at least min_count times, most frequent first, vocab_size entries at most."""
    counts = Counter(tokens)
    counts.pop(UNK, None)  # the literal text "<unk>" reads as the unknown token
    kept = sorted((t for t, c in counts.items() if c >= min_count), key=lambda t: (-counts[t], t))
    if vocab_size is not None:
        kept = kept[: vocab_size - 1]
    return [UNK, *kept]


def encode_words(tokens: list[str], vocab: list[str]) -> np.ndarray:
    """Ids (N,) int64 of the tokens; a token outside the vocabulary gets UNK's id."""
    index = {t: i for i, t in enumerate(vocab)}
    unk = index[UNK]
    return np.fromiter((index.get(t, unk) for t in tokens), dtype=np.int64, count=len(tokens))


def detokenize(tokens: list[str], after: str | None = None) -> str:
    """Text of the tokens; `after` is the token before them (decides the leading space)."""
    out = []
    prev = after
    for tok in tokens:
        space = prev is not None and tok[0] not in _NO_SPACE_BEFORE and prev[-1] not in _NO_SPACE_AFTER
        out.append(" " + tok if space else tok)
        prev = tok
    return "".join(out)
