"""A random batch and what the NumPy model (the code behind `rnn predict`) gives for it, to check an
exported graph against. Letters: B batch, T time, I input, H hidden, O output, L layers, V vocabulary."""

from __future__ import annotations

import numpy as np

from rnncli.core.cells import state_from_parts, state_parts
from rnncli.data import Batch
from rnncli.data.scaling import scale_inputs
from rnncli.use.export_onnx import takes_tokens
from rnncli.use.model_io import LoadedModel
from rnncli.use.onnx_recurrent import state_inputs
from rnncli.use.predict import predict_outputs

__all__ = ["random_inputs", "reference_and_feeds"]


def random_inputs(model: LoadedModel, rng: np.random.Generator, batch: int = 3, steps: int = 7,
                  ragged: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
    """Raw inputs as a user would give them and their lengths.

    Returns:
        x: (B, T) int64 token ids for text models, else (B, T, I) float32 in original units
           (around the saved scaler's mean and std), zero after each row's length;
        lengths: (B,) int32 with the first row full length, or None when not ragged.
    """
    spec, task = model.spec, model.task
    lengths = None
    if ragged:
        lengths = rng.integers(1, steps + 1, size=batch).astype(np.int32)
        lengths[0] = steps
    if takes_tokens(model):
        x = rng.integers(0, spec.input_size, size=(batch, steps)).astype(np.int64)
    else:
        x = rng.standard_normal((batch, steps, spec.input_size))
        if task.scaler and "input_mean" in task.scaler:
            zero = scale_inputs(np.zeros((1, spec.input_size)), task.scaler)  # -mean / std
            one = scale_inputs(np.ones((1, spec.input_size)), task.scaler)  # (1 - mean) / std
            std = 1.0 / (one - zero)
            x = x * std - zero * std
        x = x.astype(np.float32)
    if lengths is not None:
        x[np.arange(steps)[None, :] >= lengths[:, None]] = 0
    return x, lengths


def reference_and_feeds(model: LoadedModel, *, lengths: bool, state: bool, seed: int = 0):
    """(reference outputs [y (, h (, c))], graph feeds {name: array}) for one random batch.

    Steps past a row's length are NaN in a sequence model's reference y: the graph's outputs there
    are not defined (the NumPy model repeats the last state, ONNX's RNN gives zero states).
    """
    rng = np.random.default_rng(seed)
    x, lens = random_inputs(model, rng, ragged=lengths)
    spec, dtype = model.spec, model.dtype
    if takes_tokens(model):
        xin = x  # ids: the model one-hots or embeds them
    else:
        lens64 = None if lens is None else lens.astype(np.int64)
        xin = scale_inputs(x.astype(dtype), model.task.scaler, lens64)
    nct = model.task.layout == "NCT" and not takes_tokens(model)
    feeds: dict[str, np.ndarray] = {"x": np.ascontiguousarray(x.transpose(0, 2, 1)) if nct else x}
    h0 = None
    if lengths:
        feeds["lengths"] = lens
    if state:  # h0 (and c0 for the LSTM), each (L*D, B, H)
        parts = [(0.5 * rng.standard_normal(spec.state_shape(x.shape[0]))).astype(np.float32)
                 for _ in spec.state_names]
        feeds.update(zip(state_inputs(spec), parts, strict=True))
        h0 = state_from_parts(tuple(p.astype(dtype) for p in parts))
    batch = Batch(xin, None, None if lens is None else lens.astype(np.int64))
    y, h = predict_outputs(model, batch, h0, return_state=True)
    y = np.asarray(y, dtype=np.float64)
    if lens is not None and spec.output == "sequence":
        y[np.arange(y.shape[1])[None, :] >= lens[:, None]] = np.nan
    return ([y, *state_parts(h, len(spec.state_names))] if state else [y]), feeds
