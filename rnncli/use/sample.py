"""Generating text from a character-level model (`rnn sample`); the strategies live in `decoding.py`."""

from __future__ import annotations

import numpy as np

from rnncli.core.model import forward
from rnncli.errors import UsageError
from rnncli.use.decoding import Decoding, beam_search, choose_next
from rnncli.use.model_io import LoadedModel

__all__ = ["sample_text", "text_vocab"]


def text_vocab(model: LoadedModel) -> list[str]:
    """The characters of a text model in id order; UsageError for any other model."""
    if model.task.kind != "text" or not model.task.vocab:
        raise UsageError(f"sample needs a character-level text model; this one is {model.task.kind}")
    return model.task.vocab


def _check(model: LoadedModel, prime: str, length: int) -> dict[str, int]:
    """The vocabulary index; UsageError for a model that is not a text model or a bad prime."""
    vocab = text_vocab(model)
    if length < 0:
        raise UsageError(f"--length must be >= 0, got {length}")
    index = {ch: i for i, ch in enumerate(vocab)}
    unknown = sorted({ch for ch in prime if ch not in index})
    if unknown:
        raise UsageError(
            f"--prime has characters the model never saw: {''.join(unknown)!r} "
            f"(vocabulary of {len(vocab)} characters)"
        )
    return index


def _stepper(model: LoadedModel):
    """step(ids (N, T) or (N,), h (L, N, H) or None) -> (logits of the last step (N, V), h)."""

    def step(ids: np.ndarray, h: np.ndarray | None):
        ids = np.asarray(ids, dtype=np.int64)
        x = ids.reshape(ids.shape[0], -1)  # (N, T) token ids: the model one-hots or embeds them
        y, h_new, _ = forward(model.params, model.spec, x, None, h)
        return y[:, -1], h_new  # text models are sequence models: y (N, T, V)

    return step


def sample_text(model: LoadedModel, prime: str, length: int, rng: np.random.Generator,
                decoding: Decoding | None = None) -> str:
    """Generate `length` characters after `prime` from a character-level model.

    Args:
        decoding: the strategy (see `rnncli.use.decoding`); default: sampling at temperature 1.
        rng: the only source of randomness (sampling; the first character when `prime` is empty).

    Returns:
        Only the new characters (when `prime` is empty, the first character is drawn
        uniformly from the vocabulary and included).

    Raises:
        UsageError: not a text model, a prime character outside the vocabulary, bad options.
    """
    dec = decoding or Decoding()
    index = _check(model, prime, length)
    vocab = model.task.vocab
    generated: list[int] = []
    if not prime and length > 0:
        generated.append(int(rng.integers(len(vocab))))
        length -= 1
    ids = [index[ch] for ch in prime] + generated
    if length <= 0:
        return "".join(vocab[i] for i in generated)
    step = _stepper(model)
    logits, h = step(np.array([ids]), None)
    if dec.strategy == "beam":
        generated += beam_search(step, logits[0], h, length, dec.beam)
    else:
        for t in range(length):
            generated.append(choose_next(logits[0], dec, rng))
            if t + 1 < length:
                logits, h = step(np.array([generated[-1]]), h)
    return "".join(vocab[i] for i in generated)
