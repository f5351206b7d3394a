"""Weights files written directly (no training): random, non-trivial weights and, for regression
and classifiers, a saved scaler with means and stds far from 0 and 1, so export and decoding
tests see every part of the prediction path. Letters: I input, H hidden, O output, L layers."""

from __future__ import annotations

from pathlib import Path

import numpy as np

TEXT_VOCAB = list("ab cde\n")


def write_model(path: Path, *, layers: int = 1, nonlinearity: str = "tanh", output: str = "last",
                kind: str = "regression", input_size: int = 3, hidden: int = 5, outputs: int = 2,
                scaled: bool = True, dtype=np.float32, seed: int = 0, weight_std: float = 0.4,
                bidirectional: bool = False, embedding: int | None = None, tie: bool = False,
                cell: str = "rnn") -> Path:
    """Write a model .npz to `path` and return it."""
    from rnncli.core.init import init_params
    from rnncli.core.model import ModelSpec
    from rnncli.data import TaskInfo
    from rnncli.weights import save_weights

    rng = np.random.default_rng(seed)
    if kind == "text":
        input_size = outputs = len(TEXT_VOCAB)
        output = "sequence"
    spec = ModelSpec(input_size, hidden, outputs, layers, nonlinearity, output, bidirectional,
                     embedding_size=embedding, tie_weights=tie, cell=cell)
    params = init_params(spec, rng, init="uniform", dtype=dtype)
    for name, value in params.items():  # biases away from zero too
        params[name] = (value + weight_std * rng.standard_normal(value.shape)).astype(dtype)
    scaler = None
    if scaled and kind != "text":
        scaler = {"input_mean": (3 * rng.standard_normal(input_size)).tolist(),
                  "input_std": rng.uniform(0.5, 4, input_size).tolist()}
        if kind == "regression":
            scaler.update(target_mean=(10 * rng.standard_normal(outputs)).tolist(),
                          target_std=rng.uniform(0.5, 4, outputs).tolist())
    task = TaskInfo(
        input_size, outputs, output, "mse" if kind == "regression" else "cross_entropy", kind,
        num_classes=None if kind == "regression" else outputs,
        vocab=TEXT_VOCAB if kind == "text" else None, scaler=scaler,
    )
    save_weights(path, params, {"model": spec.to_dict(), "task": task.to_dict(), "epoch": 3})
    return path
