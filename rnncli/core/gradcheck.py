"""Numerical gradient check: centred differences in float64 against the analytic backward.

For each tensor (every parameter, the inputs "x" -- unless they are embedded token ids -- and the
initial state "h0", and "c0" for the LSTM) the report gives the
relative error max|a - n| / max(1e-8, max(|a| + |n|)), where a is the analytic and n the numerical
gradient, and the index of the worst entry. Normalising by the tensor's largest gradient (rather than
entry by entry) keeps round-off in near-zero entries from failing a correct backward, while a wrong
derivative, which is wrong where gradients are large, still shows as errors of 1e-2 and more.

A tensor passes when its relative error is at most `tol` (1e-6) or its largest absolute error is at
most `atol` (1e-8): when every gradient of a tensor is tiny (say 1e-6), the round-off of a centred
difference (about 1e-16 * loss / eps = 1e-10) is no longer small beside it, and only the absolute error
says anything. A wrong backward is wrong by far more than 1e-8 wherever the gradient matters.

ReLU has a kink at 0 where the derivative is undefined; a difference step that crosses it gives a
wrong numerical gradient. A fresh relu model hits it exactly: with zero biases, a layer whose inputs
are all dead units gets a pre-activation of exactly 0. So for relu the check moves biases that are
exactly zero to small random values (±U(0.01, 0.1), fixed seed) before comparing, and says so in the
report (`nudged`); any other point is as good for testing a backward. An entry whose ±eps
perturbation still changes which units are active (a pre-activation within eps of 0) has no
derivative to compare there: it is left out and counted in `kinks`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rnncli.core.cells import state_from_parts, state_parts
from rnncli.core.embedding import is_token_input, one_hot
from rnncli.core.losses import LOSSES
from rnncli.core.model import ModelSpec, forward, loss_and_grads, sequence_mask

DEFAULT_TOL = 1e-6
DEFAULT_ATOL = 1e-8


@dataclass
class TensorResult:
    name: str
    rel_error: float
    worst_index: tuple[int, ...]
    passed: bool
    checked: int  # entries compared (all, or the sample)
    abs_error: float = 0.0  # max |a - n|
    kinks: int = 0  # relu: entries left out because +-eps changed which units are active


@dataclass
class GradcheckReport:
    tol: float
    atol: float = 1e-8
    results: list[TensorResult] = field(default_factory=list)
    nudged: bool = False  # relu: zero biases moved off the kink (see the module docstring)

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    @property
    def worst(self) -> TensorResult:
        return max(self.results, key=lambda r: r.rel_error)


def relative_error(analytic: np.ndarray, numeric: np.ndarray) -> tuple[float, tuple[int, ...]]:
    diff = np.abs(analytic - numeric)
    worst = np.unravel_index(int(np.argmax(diff)), diff.shape) if diff.size else ()
    scale = max(1e-8, float(np.max(np.abs(analytic) + np.abs(numeric)))) if diff.size else 1e-8
    return float(diff.max(initial=0.0)) / scale, tuple(int(i) for i in worst)


def _inputs64(spec: ModelSpec, x) -> tuple[np.ndarray, bool]:
    """x in float64, and whether it is embedded token ids (nothing to perturb; embed.W is checked)."""
    if is_token_input(x) and not spec.embedding_size:
        x = one_hot(np.asarray(x), spec.input_size, np.float64)  # checked as the vectors the model reads
    if is_token_input(x):
        return np.array(x), True
    return np.array(x, dtype=np.float64), False


def _nudge_zero_biases(p64: dict[str, np.ndarray]) -> bool:
    """Move exactly-zero recurrent biases (reverse twins too) off relu's kink; True if any moved."""
    nudged = False
    nudge_rng = np.random.default_rng(12345)
    # every cell names its biases b_*: b_h (Elman), b_ih / b_hh (GRU, LSTM)
    for b in (p64[k] for k in p64 if k.startswith("rnn.") and k.split(".")[-1].startswith("b_")):
        zero = b == 0
        if zero.any():
            offsets = nudge_rng.uniform(0.01, 0.1, b.shape) * nudge_rng.choice([-1.0, 1.0], b.shape)
            b[zero] = offsets[zero]
            nudged = True
    return nudged


def _fixed_masks(dropout: float, recurrent_dropout: float, seed: int):
    """A function giving the dropout keyword arguments of forward, the same masks at every call."""
    if not (dropout or recurrent_dropout):
        return dict
    return lambda: {"dropout": dropout, "recurrent_dropout": recurrent_dropout,
                    "rng": np.random.default_rng(seed)}


def gradcheck(params, spec: ModelSpec, x, y, *, loss: str, lengths=None, h0=None,  # noqa: PLR0913 - keyword-only options, one per command-line flag
              eps: float = 1e-6, tol: float | None = None, atol: float = DEFAULT_ATOL,
              sample: int | None = None, rng: np.random.Generator | None = None, dropout: float = 0.0,
              recurrent_dropout: float = 0.0, mask_seed: int = 0) -> GradcheckReport:
    """Compare the analytic gradients of loss_and_grads with centred differences.

    Args:
        dropout, recurrent_dropout: check the model as trained with these rates, under masks that stay
            fixed (every evaluation draws them from a generator seeded with mask_seed).
        sample: check only this many entries per tensor (chosen with rng); None checks every entry.
        tol: pass threshold on the relative error (default 1e-6); atol: on the absolute error.
    """
    tol = DEFAULT_TOL if tol is None else tol
    rng = rng if rng is not None else np.random.default_rng(0)
    p64 = {k: np.array(v, dtype=np.float64) for k, v in params.items()}
    x64, tokens = _inputs64(spec, x)
    y64 = np.array(y, dtype=np.float64) if loss == "mse" else np.asarray(y)
    nudged = spec.nonlinearity == "relu" and _nudge_zero_biases(p64)
    B = x64.shape[0]
    # the initial state's parts, h0 (and c0 for the LSTM): checked as tensors of their own
    parts = [np.zeros(spec.state_shape(B)) if g is None else np.array(g, dtype=np.float64)
             for g in state_parts(h0, len(spec.state_names))]
    h064 = state_from_parts(tuple(parts))  # the same arrays: perturbing a part perturbs the state

    relu = spec.nonlinearity == "relu"
    T = x64.shape[1]

    masks = _fixed_masks(dropout, recurrent_dropout, mask_seed)

    def f():
        """The loss, and for relu which units are active (a step across the kink changes it)."""
        out, _, cache = forward(p64, spec, x64, lengths, h064, **masks())
        value = LOSSES[loss](out, y64, sequence_mask(spec, lengths, T))[0]
        if not relu:
            return value, None
        return value, np.concatenate([(layer["hs"] > 0).ravel() for layer in cache["rnn"]["layers"]])

    _, grads, aux = loss_and_grads(p64, spec, x64, y64, loss=loss, lengths=lengths, h0=h064, **masks())
    names = [f"{part}0" for part in spec.state_names]
    tensors = {**p64, "x": x64, **dict(zip(names, parts, strict=True))}
    analytic = {**grads, "x": aux["dx"],
                **dict(zip(names, state_parts(aux["dh0"], len(names)), strict=True))}
    if tokens:
        del tensors["x"]
    report = GradcheckReport(tol=tol, atol=atol, nudged=nudged)
    for name, arr in tensors.items():
        idx = checked_indices(arr.size, sample, rng)
        numeric, smooth = centred_differences(f, arr, idx, eps)
        kinks = int((~smooth).sum())
        idx, numeric = idx[smooth], numeric[smooth]
        a = np.asarray(analytic[name]).reshape(-1)[idx]
        err, worst = relative_error(a, numeric)
        abs_err = float(np.max(np.abs(a - numeric), initial=0.0))
        worst_index = np.unravel_index(int(idx[worst[0]]), arr.shape) if idx.size else ()
        report.results.append(TensorResult(name, err, tuple(int(i) for i in worst_index),
                                           err <= tol or abs_err <= atol, int(idx.size), abs_err,
                                           kinks))
    return report


def checked_indices(size: int, sample: int | None, rng: np.random.Generator) -> np.ndarray:
    """C-order flat indices of the entries to check: all of them, or `sample` chosen at random."""
    if sample is not None and sample < size:
        return np.sort(rng.choice(size, size=sample, replace=False))
    return np.arange(size)


def centred_differences(f, arr: np.ndarray, idx: np.ndarray, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """(f(arr + eps e_i) - f(arr - eps e_i)) / 2 eps for each flat index i in `idx`, arr perturbed in
    place and restored. f() returns (loss, active) where `active` is None or which relu units are
    on; an entry whose +-eps changes them straddles a kink and is marked not smooth.

    Returns: (numeric (len(idx),), smooth (len(idx),) bool).
    """
    numeric = np.empty(idx.size)
    smooth = np.ones(idx.size, dtype=bool)
    for j, i in enumerate(idx):
        # Index the tensor itself: reshape(-1) of a Fortran-ordered array is a copy, and
        # perturbing a copy perturbs nothing f() reads (a check that compares with zeros).
        at = np.unravel_index(i, arr.shape)
        old = arr[at]
        arr[at] = old + eps
        plus, active_plus = f()
        arr[at] = old - eps
        minus, active_minus = f()
        arr[at] = old
        numeric[j] = (plus - minus) / (2 * eps)
        smooth[j] = active_plus is None or np.array_equal(active_plus, active_minus)
    return numeric, smooth
