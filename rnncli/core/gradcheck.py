"""Numerical gradient check: centred differences in float64 against the analytic backward.

For each tensor (every parameter, the inputs "x" and the initial state "h0") the report gives the
relative error max|a - n| / max(1e-8, max(|a| + |n|)), where a is the analytic and n the numerical
gradient, and the index of the worst entry. Normalising by the tensor's largest gradient (rather than
entry by entry) keeps round-off in near-zero entries from failing a correct backward, while a wrong
derivative, which is wrong where gradients are large, still shows as errors of 1e-2 and more.

ReLU has a kink at 0 where the derivative is undefined; a difference step that crosses it gives a
wrong numerical gradient. With random data that is rare, so the same default tolerance is used, and the
report counts pre-activations within eps of the kink so such a failure can be explained.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rnncli.core.model import ModelSpec, loss_and_grads

DEFAULT_TOL = 1e-6


@dataclass
class TensorResult:
    name: str
    rel_error: float
    worst_index: tuple[int, ...]
    passed: bool
    checked: int  # entries compared (all, or the sample)


@dataclass
class GradcheckReport:
    tol: float
    results: list[TensorResult] = field(default_factory=list)

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


def gradcheck(params, spec: ModelSpec, x, y, *, loss: str, lengths=None, h0=None,
              eps: float = 1e-6, tol: float | None = None, sample: int | None = None,
              rng: np.random.Generator | None = None) -> GradcheckReport:
    """Compare the analytic gradients of loss_and_grads with centred differences.

    Args:
        sample: check only this many entries per tensor (chosen with rng); None checks every entry.
        tol: pass threshold on the relative error (default 1e-6).
    """
    tol = DEFAULT_TOL if tol is None else tol
    rng = rng if rng is not None else np.random.default_rng(0)
    p64 = {k: np.array(v, dtype=np.float64) for k, v in params.items()}
    x64 = np.array(x, dtype=np.float64)
    y64 = np.array(y, dtype=np.float64) if loss == "mse" else np.asarray(y)
    B = x64.shape[0]
    h064 = (np.zeros((spec.num_layers, B, spec.hidden_size)) if h0 is None
            else np.array(h0, dtype=np.float64))

    def f() -> float:
        return loss_and_grads(p64, spec, x64, y64, loss=loss, lengths=lengths, h0=h064)[0]

    _, grads, aux = loss_and_grads(p64, spec, x64, y64, loss=loss, lengths=lengths, h0=h064)
    tensors = {**p64, "x": x64, "h0": h064}
    analytic = {**grads, "x": aux["dx"], "h0": aux["dh0"]}
    report = GradcheckReport(tol=tol)
    for name, arr in tensors.items():
        flat = arr.reshape(-1)  # a view: perturbing it perturbs the tensor f() reads
        idx = np.arange(flat.size)
        if sample is not None and sample < flat.size:
            idx = np.sort(rng.choice(flat.size, size=sample, replace=False))
        numeric = np.empty(idx.size)
        for j, i in enumerate(idx):
            old = flat[i]
            flat[i] = old + eps
            plus = f()
            flat[i] = old - eps
            minus = f()
            flat[i] = old
            numeric[j] = (plus - minus) / (2 * eps)
        a = np.asarray(analytic[name]).reshape(-1)[idx]
        err, worst = relative_error(a, numeric)
        worst_index = np.unravel_index(int(idx[worst[0]]), arr.shape) if idx.size else ()
        report.results.append(TensorResult(name, err, tuple(int(i) for i in worst_index),
                                           err <= tol, int(idx.size)))
    return report
