"""Generating text from a character-level model (`rnn sample`)."""

from __future__ import annotations

import math

import numpy as np

from rnncli.core.losses import softmax
from rnncli.core.model import forward
from rnncli.errors import UsageError
from rnncli.use.model_io import LoadedModel

__all__ = ["sample_text"]


def sample_text(
    model: LoadedModel,
    prime: str,
    length: int,
    temperature: float,
    rng: np.random.Generator,
) -> str:
    """Generate `length` characters after `prime` from a character-level model.

    Returns:
        Only the new characters (when `prime` is empty, the first character is drawn
        uniformly from the vocabulary and included).
    Raises:
        UsageError: not a text model, a prime character outside the vocabulary, bad options.
    """
    vocab = model.task.vocab
    if model.task.kind != "text" or not vocab:
        raise UsageError(
            f"sample needs a character-level text model; this one is {model.task.kind}"
        )
    if temperature <= 0 or not math.isfinite(temperature):
        raise UsageError(f"--temperature must be > 0, got {temperature}")
    if length < 0:
        raise UsageError(f"--length must be >= 0, got {length}")
    index = {ch: i for i, ch in enumerate(vocab)}
    unknown = sorted({ch for ch in prime if ch not in index})
    if unknown:
        raise UsageError(
            f"--prime has characters the model never saw: {''.join(unknown)!r} "
            f"(vocabulary of {len(vocab)} characters)"
        )
    V = len(vocab)
    generated: list[str] = []
    if not prime:
        first = vocab[int(rng.integers(V))]
        generated.append(first)
        prime = first
        length -= 1

    def step(ids: list[int], h):
        x = np.array([ids], dtype=np.int64)  # (1, T) token ids
        y, h_new, _ = forward(model.params, model.spec, x, None, h)
        return y.reshape(-1, y.shape[-1])[-1], h_new  # logits of the last step (V,)

    logits, h = step([index[ch] for ch in prime], None)
    for _ in range(max(length, 0)):
        p = softmax(logits.astype(np.float64) / temperature)
        nxt = int(rng.choice(V, p=p / p.sum()))
        generated.append(vocab[nxt])
        logits, h = step([nxt], h)
    return "".join(generated)
