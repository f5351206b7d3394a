"""How a text model's next token is chosen: sampling (temperature, top-k, top-p), greedy, beam search.

Letters: V vocabulary, N beams, L layers (times directions), H hidden.
Random choices come only from the `np.random.Generator` passed in, so a seed makes every strategy
reproducible (greedy and beam search use it for nothing but an empty prime's first token).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np

from rnncli.core.cells import map_state
from rnncli.core.losses import softmax
from rnncli.errors import RunFailure, UsageError

__all__ = ["Decoding", "beam_search", "choose_next", "decoding_from_options", "filtered_distribution"]

# step(ids (N,), h (L, N, H) or None) -> (logits (N, V), h (L, N, H)): one token in, for N rows at once
# (the LSTM's state is the pair (h, c) of such arrays)
StepFn = Callable[[np.ndarray, object], tuple[np.ndarray, object]]


@dataclass(frozen=True)
class Decoding:
    """A validated decoding strategy.

    Attributes:
        strategy: "sample", "greedy" or "beam".
        temperature: logits are divided by it before sampling (1 = the model's distribution).
        top_k: sample among the k most likely tokens only, or None.
        top_p: sample among the smallest set of most likely tokens whose probability reaches p, or None.
        beam: beam width for "beam".
    """

    strategy: str = "sample"
    temperature: float = 1.0
    top_k: int | None = None
    top_p: float | None = None
    beam: int = 1


def decoding_from_options(*, greedy: bool = False, beam: int | None = None, temperature: float | None = None,
                          top_k: int | None = None, top_p: float | None = None,
                          vocab_size: int) -> Decoding:
    """Check the command-line options against each other and the vocabulary; one-line UsageErrors."""
    if greedy and beam is not None:
        raise UsageError("--greedy and --beam choose the continuation in different ways; give one of them")
    sampling = {"--temperature": temperature, "--top-k": top_k, "--top-p": top_p}
    given = [name for name, value in sampling.items() if value is not None]
    if (greedy or beam is not None) and given:
        mode = "--greedy" if greedy else "--beam"
        raise UsageError(f"{given[0]} applies to sampling; {mode} is deterministic (drop one of them)")
    if beam is not None:
        if beam < 1:
            raise UsageError(f"--beam must be >= 1, got {beam}")
        return Decoding("beam", beam=beam)
    if greedy:
        return Decoding("greedy")
    if temperature is not None and not (math.isfinite(temperature) and temperature > 0):
        raise UsageError(f"--temperature must be > 0, got {temperature}")
    if top_k is not None and not 1 <= top_k <= vocab_size:
        raise UsageError(f"--top-k must be between 1 and the vocabulary size {vocab_size}, got {top_k}")
    if top_p is not None and not (math.isfinite(top_p) and 0 < top_p <= 1):
        raise UsageError(f"--top-p must be in (0, 1], got {top_p}")
    return Decoding("sample", 1.0 if temperature is None else temperature, top_k, top_p)


def filtered_distribution(logits: np.ndarray, dec: Decoding) -> np.ndarray:
    """The distribution sampled from: softmax(logits / temperature), cut to top-k, then to top-p.

    Args:
        logits: (V,).

    Returns:
        (V,) float64 probabilities summing to 1, zero outside the kept tokens.
    """
    z = np.asarray(logits, dtype=np.float64)
    if not np.isfinite(z).all():
        raise RunFailure("the model's output overflowed (its weights are too large for its dtype); "
                         "it cannot be sampled from")
    # Shift before dividing: every value is <= 0, so a tiny temperature (1e-320) gives -inf, never
    # inf - inf = NaN; the result is then the argmax, as the limit says.
    with np.errstate(over="ignore", divide="ignore", invalid="ignore", under="ignore"):
        p = softmax((z - z.max()) / dec.temperature)
    order = np.argsort(-p, kind="stable")  # most likely first; ties: lower id first
    keep = np.zeros(p.shape, dtype=bool)
    n = len(p) if dec.top_k is None else dec.top_k
    if dec.top_p is not None:
        ranked = p[order[:n]]
        before = np.cumsum(ranked) - ranked  # mass of the more likely tokens
        n = int(np.count_nonzero(before < dec.top_p * ranked.sum())) or 1  # the token crossing p stays
    keep[order[:n]] = True
    p = np.where(keep, p, 0.0)
    return p / p.sum()


def choose_next(logits: np.ndarray, dec: Decoding, rng: np.random.Generator) -> int:
    """The next token id: argmax for greedy, else a draw from `filtered_distribution`."""
    if dec.strategy == "greedy":
        return int(np.argmax(logits))
    p = filtered_distribution(logits, dec)
    return int(rng.choice(len(p), p=p))


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    z = logits.astype(np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def _rows(parents: np.ndarray, state: np.ndarray) -> np.ndarray:
    """The beams' states (L, N, H) reordered to follow their parents."""
    return state[:, parents]


def beam_search(step: StepFn, logits: np.ndarray, h, length: int, width: int) -> list[int]:
    """The most likely continuation of `length` tokens found keeping the `width` best partial ones.

    Args:
        step: the model one token at a time (see StepFn).
        logits: (V,) the model's logits after the prime; h: (L, 1, H) its state there (the LSTM:
            the pair (h, c) of such arrays).

    Returns:
        Token ids (length,) of the continuation with the highest total log-probability.
    """
    scores = np.zeros(1)  # (N,) log-probability of each beam so far
    seqs = np.zeros((1, 0), dtype=np.int64)  # (N, t)
    logits = logits[None]  # (N, V)
    V = logits.shape[-1]
    for t in range(length):
        total = (scores[:, None] + _log_softmax(logits)).ravel()  # (N*V,)
        best = np.argsort(-total, kind="stable")[:width]  # ties: earlier beam, then lower id
        parents, tokens = best // V, best % V
        scores, seqs = total[best], np.concatenate([seqs[parents], tokens[:, None]], axis=1)
        if t + 1 < length:  # the last step's logits are never needed
            logits, h = step(tokens, map_state(partial(_rows, parents), h))  # the LSTM's h and c alike
    return seqs[0].tolist()
