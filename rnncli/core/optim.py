"""Optimizers and gradient clipping over the flat parameter dict.

Every optimizer updates parameters in place, keeps its state in arrays keyed like the parameters
(`"{slot}.{name}"` in state_dict, e.g. "m.rnn.0.W_xh"), and keeps the parameters' dtype.
"""

from __future__ import annotations

import math

import numpy as np

from rnncli.core.xp import array_module

OPTIMIZERS = ("sgd", "momentum", "adagrad", "rmsprop", "adam")


class Optimizer:
    slots: tuple[str, ...] = ()

    def __init__(self, lr: float, weight_decay: float = 0.0):
        self.lr = lr
        self.weight_decay = weight_decay
        self.t = 0  # updates done: Adam's bias correction needs it, resume restores it
        self.state: dict[str, dict[str, np.ndarray]] = {slot: {} for slot in self.slots}

    def step(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        """Update every parameter in place from its gradient."""
        self.t += 1
        for name, p in params.items():
            g = grads[name]
            if self.weight_decay:
                g = g + p.dtype.type(self.weight_decay) * p  # L2 penalty, as torch's weight_decay
            for slot in self.slots:
                if name not in self.state[slot]:
                    self.state[slot][name] = array_module(p).zeros_like(p)
            self._update(name, p, g)

    def _update(self, name: str, p: np.ndarray, g: np.ndarray) -> None:
        raise NotImplementedError

    def state_dict(self) -> dict:
        d: dict = {"t": self.t}
        for slot, arrays in self.state.items():
            for name, arr in arrays.items():
                d[f"{slot}.{name}"] = arr
        return d

    def load_state_dict(self, d: dict) -> None:
        self.t = int(d["t"])
        for key, arr in d.items():
            if key == "t":
                continue
            slot, name = key.split(".", 1)
            self.state[slot][name] = array_module(arr).array(arr)  # a copy, where arr lives


class SGD(Optimizer):
    def _update(self, name, p, g):
        p -= p.dtype.type(self.lr) * g


class Momentum(Optimizer):
    """Heavy ball, torch style: v = mu v + g; p -= lr v (Nesterov: p -= lr (g + mu v))."""

    slots = ("v",)

    def __init__(self, lr, momentum=0.9, nesterov=False, weight_decay=0.0):
        super().__init__(lr, weight_decay)
        self.momentum, self.nesterov = momentum, nesterov

    def _update(self, name, p, g):
        mu, lr = p.dtype.type(self.momentum), p.dtype.type(self.lr)
        v = self.state["v"][name]
        v *= mu
        v += g
        p -= lr * (g + mu * v if self.nesterov else v)


class Adagrad(Optimizer):
    """Per-entry step sizes from the running sum of squared gradients (min-char-rnn's choice)."""

    slots = ("G",)

    def __init__(self, lr, eps=1e-8, weight_decay=0.0):
        super().__init__(lr, weight_decay)
        self.eps = eps

    def _update(self, name, p, g):
        G = self.state["G"][name]
        G += g * g
        p -= p.dtype.type(self.lr) * g / (array_module(G).sqrt(G) + p.dtype.type(self.eps))


class RMSprop(Optimizer):
    slots = ("s",)

    def __init__(self, lr, decay=0.99, eps=1e-8, weight_decay=0.0):
        super().__init__(lr, weight_decay)
        self.decay, self.eps = decay, eps

    def _update(self, name, p, g):
        d = p.dtype.type(self.decay)
        s = self.state["s"][name]
        s *= d
        s += (1 - d) * g * g
        p -= p.dtype.type(self.lr) * g / (array_module(s).sqrt(s) + p.dtype.type(self.eps))


class Adam(Optimizer):
    slots = ("m", "v")

    def __init__(self, lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
        super().__init__(lr, weight_decay)
        self.beta1, self.beta2, self.eps = beta1, beta2, eps

    def _update(self, name, p, g):
        f = p.dtype.type
        b1, b2 = f(self.beta1), f(self.beta2)
        m, v = self.state["m"][name], self.state["v"][name]
        m *= b1
        m += (1 - b1) * g
        v *= b2
        v += (1 - b2) * g * g
        # Python scalars on the host (math, not the array module): the step size never becomes
        # a device array, and f() only ever sees a float.
        step = f(self.lr * math.sqrt(1 - self.beta2**self.t) / (1 - self.beta1**self.t))
        p -= step * m / (array_module(v).sqrt(v) + f(self.eps))


# The options each update rule reads (weight_decay applies to all of them).
OPTIMIZER_OPTIONS: dict[str, tuple[str, ...]] = {
    "sgd": (),
    "momentum": ("momentum", "nesterov"),
    "adagrad": ("eps",),
    "rmsprop": ("decay", "eps"),
    "adam": ("beta1", "beta2", "eps"),
}


def make_optimizer(name: str, lr: float, **opts) -> Optimizer:
    """Build an optimizer by name from the options it reads (see OPTIMIZER_OPTIONS).

    Raises ValueError for an unknown name or an option the optimizer does not read.
    """
    classes = {"sgd": SGD, "momentum": Momentum, "adagrad": Adagrad, "rmsprop": RMSprop, "adam": Adam}
    if name not in classes:
        raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {name!r}")
    unknown = sorted(set(opts) - set(OPTIMIZER_OPTIONS[name]) - {"weight_decay"})
    if unknown:
        raise ValueError(f"optimizer {name!r} does not take {', '.join(unknown)}")
    return classes[name](lr, **opts)


def _sum_of_squares(g: np.ndarray):
    xp = array_module(g)
    if xp is not np:
        # On a device: accumulated in float64 there, left there (reading it back would stop the
        # device every step); float64 squares cannot overflow where float32 ones would.
        g64 = g.astype(xp.float64)
        return xp.vdot(g64, g64)
    s = float(np.vdot(g, g))
    if not np.isfinite(s) and np.isfinite(g).all():
        # float32 squares overflow past ~1.8e19 per entry; a spike that large must still be measured
        # (and clipped), not read as inf, so redo it in float64.
        g64 = g.astype(np.float64)
        s = float(np.vdot(g64, g64))
    return s


def global_norm(grads: dict[str, np.ndarray]):
    """sqrt of the sum of squares of every gradient entry, accumulated in float64.

    A float for host arrays; a 0-d float64 array on the device for device arrays (no transfer).
    """
    total = sum(_sum_of_squares(g) for g in grads.values())
    if isinstance(total, float | int):
        return float(np.sqrt(total))
    return array_module(total).sqrt(total)


def clip_gradients(grads: dict[str, np.ndarray], max_norm: float | None = None,
                   max_value: float | None = None):
    """Clip in place: each entry to ±max_value, then the global norm to max_norm.

    Returns the global norm before any clipping (what training logs report): a float for host
    arrays, a 0-d array for device arrays, where the decision to scale is taken on the device too.
    """
    norm = global_norm(grads)
    if max_value is not None:
        for g in grads.values():
            array_module(g).clip(g, -max_value, max_value, out=g)
    if max_norm is not None:
        clipped = global_norm(grads) if max_value is not None else norm
        if isinstance(clipped, float):
            if clipped > max_norm:
                for g in grads.values():
                    g *= g.dtype.type(max_norm / (clipped + 1e-12))
        else:
            xp = array_module(clipped)
            scale = xp.where(clipped > max_norm, max_norm / (clipped + 1e-12), 1.0)  # 1.0 is exact
            for g in grads.values():
                g *= scale.astype(g.dtype)
    return norm
