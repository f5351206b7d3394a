"""`rnn export`: a trained model as ONNX, PyTorch (.pt) or safetensors."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rnncli.cli._common import echo_json, err_console, is_quiet, say_weights
from rnncli.cli.options import Json, Weights


def export(
    weights: Weights,
    output: Annotated[
        Path,
        typer.Option("--output", "-o", metavar="FILE", show_default=False,
                     help="The file to write (atomically): .onnx, .pt or .safetensors."),
    ],
    fmt: Annotated[
        str | None,
        typer.Option("--format", "-f", help="onnx, torch or safetensors (default: from FILE's suffix)."),
    ] = None,
    lengths: Annotated[
        bool,
        typer.Option("--lengths", help="ONNX: add an int32 input `lengths` (batch,) for zero-padded "
                     "batches of sequences of different lengths."),
    ] = False,
    state: Annotated[
        bool,
        typer.Option("--state", help="ONNX: add the input `h0` and the output `h` (layers, batch, "
                     "hidden), and `c0`, `c` for an LSTM, to carry the state from one call to the next."),
    ] = False,
    json_: Json = False,
) -> None:
    """Write a model for ONNX Runtime, PyTorch or the safetensors ecosystem.

    ONNX: input x float32 (batch, time, features), or int64 token ids
    (batch, time) for text models; output y in original units (regression)
    or probabilities (classifiers, text), per step for sequence models. The
    saved scaling is part of the graph. With onnxruntime installed the graph
    is run against the model before it is written.

    Examples:
      rnn export runs/sine-1 -o sine.onnx
      rnn export runs/text-1 -o text.onnx --state
      rnn export runs/sine-1/best.npz -o sine.pt
      rnn export runs/sine-1 -o sine.safetensors
    """
    from rnncli.use.export import export_model, format_for
    from rnncli.use.model_io import load_model

    kind = format_for(output, fmt)
    model = load_model(weights)
    result = export_model(model, output, kind, lengths=lengths, state=state)
    say_weights(weights, model)
    if json_:
        echo_json(result)
        return
    check = result["verified_max_diff"]
    note = "" if check is None else f"; onnxruntime matches the model to {check:.1e}"
    if kind == "onnx" and check is None:
        note = "; not run (pip install onnxruntime to check it)"
    err_console(is_quiet()).print(f"wrote {output} ({kind}, {result['bytes']} bytes{note})",
                                  markup=False, highlight=False)
