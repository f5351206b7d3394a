"""Models leave the tool: `rnn export` to ONNX, PyTorch (.pt) and safetensors.

Letters: B batch, T time, I input, H hidden, O output, L layers.

- onnx: see `rnncli.use.export_onnx` (the graph); checked by onnx.checker and, when onnxruntime is
  installed, run on a random batch against the NumPy model before the file is written.
- torch: `torch.save` of a dict: "rnn_class" ("RNN", "GRU" or "LSTM": the torch.nn class of the
  model's cell), "rnn" (its state dict), "rnn_args" (its constructor arguments, batch_first=True), "head"
  / "head_args" (torch.nn.Linear), "embedding" / "embedding_args" (torch.nn.Embedding, or None),
  "tie_weights" (head.weight is the embedding's), "scaler" (None or the standardisation statistics as
  float tensors), "vocab" (None or the characters of a text model), "meta" (the weights' meta as a JSON
  string). torch.nn.RNN's second bias (bias_hh) is zero; the gated cells' tensors are torch's own.
- safetensors: the tensors under the .npz names (rnn.{l}.W_xh or rnn.{l}.W_ih, ..., head.b_y),
  metadata = the top-level keys of the .npz meta, strings as they are and anything else as JSON.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from rnncli.errors import RunFailure, UsageError
from rnncli.fsutil import atomic_write_bytes, check_not_read
from rnncli.use.export_check import reference_and_feeds
from rnncli.use.export_onnx import build_onnx
from rnncli.use.model_io import LoadedModel
from rnncli.use.torch_layout import torch_args, torch_class, torch_state_dicts
from rnncli.weights import shareable_meta

__all__ = ["EXPORT_FORMATS", "export_model", "format_for", "torch_checkpoint"]

EXPORT_FORMATS = {".onnx": "onnx", ".pt": "torch", ".safetensors": "safetensors"}
VERIFY_TOL = 1e-5  # float32 graph against the model's own forward pass, relative to |y| + 1


def format_for(path: str | os.PathLike[str], fmt: str | None) -> str:
    """The export format: `fmt` when given, else from the file's suffix."""
    names = sorted(set(EXPORT_FORMATS.values()))
    if fmt is not None:
        if fmt not in names:
            raise UsageError(f"--format must be one of {', '.join(names)}, got {fmt!r}")
        return fmt
    suffix = Path(path).suffix.lower()
    if suffix not in EXPORT_FORMATS:
        raise UsageError(f"-o {path}: cannot tell the format from the suffix {suffix or '(none)'!r}; "
                         f"use .onnx, .pt or .safetensors or give --format {'|'.join(names)}")
    return EXPORT_FORMATS[suffix]


def _need(module: str, extra: str):
    try:
        return __import__(module)
    except ImportError:
        raise UsageError(f"{module} is not installed: pip install 'rnncli[{extra}]'") from None


def torch_checkpoint(model: LoadedModel) -> dict[str, Any]:
    """The dict `rnn export -f torch` saves (tensors as NumPy arrays; the caller converts)."""
    spec, task = model.spec, model.task
    rnn, head = torch_state_dicts(model.params, spec)
    scaler = None
    if task.scaler:
        scaler = {k: np.asarray(v, dtype=model.dtype) for k, v in task.scaler.items()}
    return {
        "rnn_class": torch_class(spec),
        "rnn": rnn,
        "rnn_args": torch_args(spec),
        "head": head,
        "head_args": {"in_features": spec.head_input_size, "out_features": spec.output_size},
        "embedding": {"weight": model.params["embed.W"]} if spec.embedding_size else None,
        "embedding_args": ({"num_embeddings": spec.input_size, "embedding_dim": spec.embedding_size}
                           if spec.embedding_size else None),
        "tie_weights": spec.tie_weights,
        "scaler": scaler,
        "vocab": list(task.vocab) if task.vocab else None,
        "meta": json.dumps(shareable_meta(model.meta)),
    }


def _to_torch(obj: Any, torch) -> Any:
    if isinstance(obj, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(obj).copy())
    if isinstance(obj, dict):
        return {k: _to_torch(v, torch) for k, v in obj.items()}
    return obj


def _write_torch(model: LoadedModel, path: Path) -> None:
    torch = _need("torch", "torch")
    ck = _to_torch(torch_checkpoint(model), torch)
    buf = io.BytesIO()  # torch's own writer reports a full disk as a RuntimeError naming no file:
    torch.save(ck, buf)  # write the bytes ourselves, so a failure names the target (errors.from_os_error)
    atomic_write_bytes(path, buf.getvalue())


def safetensors_metadata(meta: dict[str, Any]) -> dict[str, str]:
    """The .npz meta as safetensors metadata (string values only)."""
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in meta.items()}


def _write_safetensors(model: LoadedModel, path: Path) -> None:
    _need("safetensors", "export")
    from safetensors.numpy import save

    tensors = {k: np.ascontiguousarray(v) for k, v in model.params.items()}
    atomic_write_bytes(path, save(tensors, metadata=safetensors_metadata(shareable_meta(model.meta))))


def verify_onnx(model: LoadedModel, data: bytes, *, lengths: bool, state: bool) -> float | None:
    """Largest difference |onnx - numpy| / (|numpy| + 1) on a random ragged batch; None without onnxruntime.

    Raises:
        RunFailure: the graph disagrees with the model by more than VERIFY_TOL.
    """
    try:
        import onnxruntime as ort
    except ImportError:
        return None
    ref, feeds = reference_and_feeds(model, lengths=lengths, state=state)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(data, opts, providers=["CPUExecutionProvider"])
    outs = sess.run(None, feeds)
    worst = 0.0
    for got, want in zip(outs, ref, strict=True):
        # NaN in the reference marks padded steps, where the outputs are not defined
        worst = max(worst, float(np.nanmax(np.abs(got - want) / (np.abs(want) + 1.0))))
    if not worst <= VERIFY_TOL:
        raise RunFailure(f"the ONNX graph differs from the model by {worst:.3g} (> {VERIFY_TOL:g}) "
                         "on a random batch; nothing was written")
    return worst


def _forecast_refusal(f: dict) -> str:
    what = "changes from the last value" if f["target"] == "change" else "values"
    logs = " in logs" if f["transform"] == "log" else ""
    return (f"this model forecasts {what}{logs}, which the exported network alone does not undo; "
            "retrain with data.forecast: level and data.transform: none to export it")


def export_model(model: LoadedModel, path: str | os.PathLike[str], fmt: str, *,
                 lengths: bool = False, state: bool = False) -> dict[str, Any]:
    """Write `model` to `path` (atomically) in `fmt`: onnx, torch or safetensors.

    Args:
        lengths, state: ONNX only: add the `lengths` input / the `h0` input and `h` output.

    Returns:
        {"format", "path", "bytes", "verified_max_diff" (onnx with onnxruntime, else None)}.

    Raises:
        UsageError: options that do not apply to the format, a missing package (install hint).
        RunFailure: the ONNX graph does not reproduce the model.
    """
    path = Path(path)
    if model.task.forecast:
        raise UsageError(_forecast_refusal(model.task.forecast))
    if fmt != "onnx" and (lengths or state):
        raise UsageError(f"--lengths and --state apply to onnx; the format is {fmt}")
    if not path.parent.is_dir():
        raise UsageError(f"-o {path}: directory {str(path.parent)!r} does not exist")
    check_not_read(path, {"weights file": model.path})
    check = None
    if fmt == "onnx":
        data = build_onnx(model, lengths=lengths, state=state).SerializeToString()
        check = verify_onnx(model, data, lengths=lengths, state=state)
        atomic_write_bytes(path, data)
    elif fmt == "torch":
        _write_torch(model, path)
    else:
        _write_safetensors(model, path)
    return {"format": fmt, "path": str(path), "bytes": path.stat().st_size, "verified_max_diff": check}
