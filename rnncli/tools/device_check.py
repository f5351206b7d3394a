"""Does the model compute the same numbers on a device as on the host?

The NumPy code on the host is the reference (its gradients are checked against centred differences
by `rnn gradcheck`); on a device the same core runs on device arrays, through fused kernels where a
backend supplies them (rnncli/accel). `device_agreement` runs one forward and backward pass on both
in float64, with the same dropout masks (drawn on the host and moved), and compares the loss, every
parameter's gradient, dx and dh0 by the same relative error the gradient check uses.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnncli.core.gradcheck import relative_error
from rnncli.core.model import ModelSpec, loss_and_grads
from rnncli.device import Device

DEVICE_TOL = 1e-12  # float64: summation order differs (cuBLAS vs BLAS), nothing else may


class _HostDrawn:
    """A dropout generator whose draws come from NumPy on the host and move to the device, so both
    sides of a comparison use the very same masks."""

    def __init__(self, seed: int, device: Device):
        self._rng, self._device = np.random.default_rng(seed), device

    def random(self, shape):
        return self._device.to_device(self._rng.random(shape))


@dataclass
class Agreement:
    """One tensor's difference between device and host: the relative error and where it is worst."""

    name: str
    rel_error: float
    worst_index: tuple[int, ...]
    passed: bool


def device_agreement(params: dict[str, np.ndarray], spec: ModelSpec, x, y, *, loss: str, device: Device,
                     lengths=None, dropout: float = 0.0, recurrent_dropout: float = 0.0,
                     mask_seed: int = 0) -> list[Agreement]:
    """Loss and gradients of one batch on `device` against the host's, in float64.

    Args:
        params: float64 host parameters; x, y, lengths: one host batch.
    Returns:
        One Agreement per compared quantity: "loss", each parameter, "dx", "dh0".
    """
    p64 = {k: np.asarray(v, dtype=np.float64) for k, v in params.items()}
    x = x if np.asarray(x).dtype.kind in "iu" else np.asarray(x, dtype=np.float64)
    drop = {"dropout": dropout, "recurrent_dropout": recurrent_dropout}
    host = loss_and_grads(p64, spec, x, y, loss=loss, lengths=lengths,
                          rng=np.random.default_rng(mask_seed) if dropout or recurrent_dropout else None,
                          **drop)
    on = device.to_device
    dev = loss_and_grads(on(p64), spec, on(x), on(y), loss=loss, lengths=on(lengths),
                         rng=_HostDrawn(mask_seed, device) if dropout or recurrent_dropout else None, **drop)
    pairs = {"loss": (np.float64(device.to_host(dev[0])), np.float64(host[0]))}
    pairs.update({name: (device.to_host(dev[1][name]), g) for name, g in host[1].items()})
    pairs.update({k: (device.to_host(dev[2][k]), host[2][k]) for k in ("dx", "dh0")})
    results = []
    for name, (d, h) in pairs.items():
        err, worst = relative_error(np.asarray(d), np.asarray(h))
        results.append(Agreement(name, err, worst, bool(err <= DEVICE_TOL)))
    return results
