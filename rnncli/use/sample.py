"""Generating text from a character- or word-level model (`rnn sample`); the strategies live in
`decoding.py`."""

from __future__ import annotations

import numpy as np

from rnncli.core.model import forward
from rnncli.data.words import UNK, detokenize, encode_words, tokenize
from rnncli.errors import UsageError
from rnncli.memory import check_fits, forward_memory_bytes, memory_budget
from rnncli.use.decoding import Decoding, beam_search, choose_next
from rnncli.use.model_io import LoadedModel

__all__ = ["sample_text", "text_vocab"]


def text_vocab(model: LoadedModel) -> list[str]:
    """The characters (or words) of a text model in id order; UsageError for any other model."""
    if model.task.kind != "text" or not model.task.vocab:
        raise UsageError("sample needs a character- or word-level text model; this one is "
                         f"{model.task.kind}")
    return model.task.vocab


# One list slot per generated token (the token strings themselves are shared with the vocabulary).
_BYTES_PER_TOKEN = 8


def _prime_ids(model: LoadedModel, prime: str, length: int) -> list[int]:
    """The prime as token ids; UsageError for a model that is not a text model, a bad prime, or a
    --length whose output would not fit in memory.

    Characters must be in the vocabulary; words outside it read as <unk>.
    """
    vocab = text_vocab(model)
    if length < 0:
        raise UsageError(f"--length must be >= 0, got {length}")
    check_fits({"text": length * _BYTES_PER_TOKEN}, memory_budget(), f"sample --length {length}",
               "generate less at a time", UsageError)
    if model.task.tokens == "word":
        return encode_words(tokenize(prime), vocab).tolist()
    index = {ch: i for i, ch in enumerate(vocab)}
    unknown = sorted({ch for ch in prime if ch not in index})
    if unknown:
        raise UsageError(
            f"--prime has characters the model never saw: {''.join(unknown)!r} "
            f"(vocabulary of {len(vocab)} characters)"
        )
    return [index[ch] for ch in prime]


def _text_of(model: LoadedModel, prime: str, generated: list[int]) -> str:
    """The new tokens as text: characters joined, or words rejoined after the prime's last token."""
    tokens = [model.task.vocab[i] for i in generated]
    if model.task.tokens != "word":
        return "".join(tokens)
    before = tokenize(prime)
    glued = not before or prime[-1].isspace()  # "The " already ends in the space a word needs
    return detokenize(tokens, after=None if glued else before[-1])


def _check_beam_fits(model: LoadedModel, width: int, length: int) -> None:
    """Beam search holds, per beam, its scores over the vocabulary (float64, a few copies), its token
    ids so far and one forward step: refused before the first allocation when that does not fit."""
    V = model.spec.output_size
    parts = {"scores": 3 * width * V * 8, "sequences": 2 * width * length * 8,
             "forward": forward_memory_bytes(model.spec, width, 1, model.dtype)}
    check_fits(parts, memory_budget(), f"sample --beam {width} --length {length}", "lower --beam",
               UsageError)


def _stepper(model: LoadedModel):
    """step(ids (N, T) or (N,), h (L, N, H) or None) -> (logits of the last step (N, V), h)."""

    def step(ids: np.ndarray, h: np.ndarray | None):
        ids = np.asarray(ids, dtype=np.int64)
        x = ids.reshape(ids.shape[0], -1)  # (N, T) token ids: the model one-hots or embeds them
        y, h_new, _ = forward(model.params, model.spec, model.device.to_device(x), None, h)
        # text models are sequence models: y (N, T, V); the next token is chosen on the host
        return model.device.to_host(y[:, -1]), h_new

    return step


def sample_text(model: LoadedModel, prime: str, length: int, rng: np.random.Generator,
                decoding: Decoding | None = None) -> str:
    """Generate `length` tokens (characters, or words and punctuation) after `prime`.

    Args:
        decoding: the strategy (see `rnncli.use.decoding`); default: sampling at temperature 1.
        rng: the only source of randomness (sampling; the first character when `prime` is empty).

    Returns:
        Only the new text (when `prime` is empty, the first token is drawn uniformly from the
        vocabulary, never <unk>, and included); a word model's text starts with the space after
        the prime.

    Raises:
        UsageError: not a text model, a prime character outside the vocabulary, bad options.
    """
    dec = decoding or Decoding()
    prime_ids = _prime_ids(model, prime, length)
    vocab = model.task.vocab
    generated: list[int] = []
    if not prime_ids and length > 0:
        first = 1 if vocab[0] == UNK and len(vocab) > 1 else 0
        generated.append(first + int(rng.integers(len(vocab) - first)))
        length -= 1
    ids = prime_ids + generated
    if length <= 0:
        return _text_of(model, prime, generated)
    step = _stepper(model)
    logits, h = step(np.array([ids]), None)
    if dec.strategy == "beam":
        _check_beam_fits(model, dec.beam, length)
        generated += beam_search(step, logits[0], h, length, dec.beam)
    else:
        for t in range(length):
            generated.append(choose_next(logits[0], dec, rng))
            if t + 1 < length:
                logits, h = step(np.array([generated[-1]]), h)
    return _text_of(model, prime, generated)
