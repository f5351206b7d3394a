"""The contenders of `rnn bench`: one training step in NumPy and in torch, on the same weights.

Letters: B batch, T time, I input, H hidden, L layers, O output.

torch is optional and, when importable, is given its fastest honest path: time-major input (its
native layout), the same threads and dtype, its data handed over for free, and no dL/dx (which the
NumPy step computes, as rnn_backward's contract requires).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from rnncli.core.init import init_params
from rnncli.core.model import ModelSpec, loss_and_grads
from rnncli.core.optim import clip_gradients, make_optimizer
from rnncli.core.rnn import rnn_backward, rnn_forward
from rnncli.data import iterate_batches
from rnncli.data.types import SequenceData, TaskInfo
from rnncli.use.torch_layout import torch_args, torch_class, torch_state_dicts

CLIP_NORM = 5.0  # the config's default train.clip_norm: a real step clips


def import_torch():
    """torch if it is installed, else None (it is an optional extra, never a dependency)."""
    try:
        import torch
    except ImportError:
        return None
    return torch


def rnn_problem(batch, seq_len, input_size, hidden, layers, dtype, seed=0, cell="rnn"):
    """Parameters as torch.nn.RNN/GRU/LSTM initialise them (U(+-1/sqrt(H)) for every tensor),
    inputs x (B, T, I) and a gradient dhs (B, T, H) on the top states.

    x and dhs are (B, T, .) views of time-major (T, B, .) arrays: the memory torch gets (its native
    layout) and the layout the core works in, so neither contender pays a transposing copy the
    other does not.
    """
    spec = ModelSpec(input_size, hidden, input_size, layers, cell=cell)
    params = init_params(spec, np.random.default_rng(seed), forget_bias=0.0, dtype=dtype)
    rng = np.random.default_rng(seed + 1)
    x = rng.standard_normal((seq_len, batch, input_size)).astype(dtype).transpose(1, 0, 2)
    dhs = rng.standard_normal((seq_len, batch, hidden)).astype(dtype).transpose(1, 0, 2)
    return spec, params, x, dhs


def numpy_step(params, x, dhs, layers, cell="rnn") -> Callable[[], tuple]:
    """One forward + backward of the recurrent layers; returns what rnn_backward returns."""
    def step():
        _, _, cache = rnn_forward(params, x, num_layers=layers, cell=cell)
        return rnn_backward(dhs, cache)
    return step


def _torch_rnn(torch, params, input_size, hidden, layers, dtype, cell="rnn"):
    """The torch.nn module of the same cell holding the same weights (use/torch_layout.py), time-major."""
    spec = ModelSpec(input_size, hidden, input_size, layers, cell=cell)
    args = {**torch_args(spec), "batch_first": False}
    rnn = getattr(torch.nn, torch_class(spec))(**args, dtype=getattr(torch, dtype))
    state, _ = torch_state_dicts(params, spec)
    rnn.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in state.items()})
    return rnn


def torch_step(torch, params, x, dhs, layers, cell="rnn") -> tuple[Callable[[], object], float]:
    """torch's forward + backward of the same layers, and its max |difference| from ours in hs."""
    _, T, I = x.shape
    H = dhs.shape[-1]
    rnn = _torch_rnn(torch, params, I, H, layers, x.dtype.name, cell)
    xt = torch.from_numpy(np.ascontiguousarray(x.transpose(1, 0, 2)))  # (T, B, I), no copy
    gt = torch.from_numpy(np.ascontiguousarray(dhs.transpose(1, 0, 2)))

    def step():
        rnn.zero_grad(set_to_none=True)
        out, _ = rnn(xt)
        out.backward(gt)

    with torch.no_grad():
        ours = rnn_forward(params, x, num_layers=layers, cell=cell)[0]
        diff = float(np.max(np.abs(rnn(xt)[0].numpy().transpose(1, 0, 2) - ours)))
    return step, diff


def train_steps(torch, batch, seq_len, input_size, hidden, layers, dtype, cell="rnn"):
    """Full training steps for numpy and torch: a shuffled batch from the data pipeline, the recurrent
    layers + linear head on every step (next-step regression, O = I), MSE, clipping, Adam.

    Returns the step functions, the gradient dtypes seen, and per-phase seconds of the numpy step
    (batch, compute = loss_and_grads, update = clip + Adam) to show what the loop adds to the maths.
    """

    spec = ModelSpec(input_size, hidden, input_size, layers, output="sequence", cell=cell)
    params = init_params(spec, np.random.default_rng(0), forget_bias=0.0, dtype=dtype)
    rng = np.random.default_rng(2)
    n = 4 * batch  # a small data set: the batch is gathered from shuffled rows, as in training
    data = SequenceData(rng.standard_normal((n, seq_len, input_size)).astype(dtype),
                        rng.standard_normal((n, seq_len, input_size)).astype(dtype))
    task = TaskInfo(input_size, input_size, output="sequence")
    opt = make_optimizer("adam", 1e-3)
    dtypes: set[str] = set()
    phases: dict[str, list[float]] = {"batch": [], "compute": [], "update": []}

    def np_train():
        t0 = time.perf_counter()
        b = next(iterate_batches(data, task, batch, rng=rng, dtype=dtype))
        t1 = time.perf_counter()
        _, grads, _ = loss_and_grads(params, spec, b.x, b.y, loss="mse", lengths=b.lengths)
        t2 = time.perf_counter()
        clip_gradients(grads, max_norm=CLIP_NORM)
        opt.step(params, grads)
        t3 = time.perf_counter()
        for key, dt in zip(phases, (t1 - t0, t2 - t1, t3 - t2), strict=True):
            phases[key].append(dt)
        dtypes.update(g.dtype.name for g in grads.values())

    fns = {"numpy": np_train}
    if torch is not None:
        rnn = _torch_rnn(torch, params, input_size, hidden, layers, dtype, cell)
        head = torch.nn.Linear(hidden, input_size, dtype=getattr(torch, dtype))
        weights = list(rnn.parameters()) + list(head.parameters())
        topt = torch.optim.Adam(weights, lr=1e-3)
        # time-major, contiguous, fixed: torch's step is given its data for free
        xt = torch.from_numpy(np.ascontiguousarray(data.X[:batch].transpose(1, 0, 2)))
        yt = torch.from_numpy(np.ascontiguousarray(data.y[:batch].transpose(1, 0, 2)))

        def torch_train():
            topt.zero_grad(set_to_none=True)
            loss = torch.nn.functional.mse_loss(head(rnn(xt)[0]), yt)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(weights, CLIP_NORM)
            topt.step()

        fns["torch"] = torch_train
    return fns, dtypes, phases
