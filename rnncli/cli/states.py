"""`rnn states`: the hidden states of every layer for each input sequence, to plot or cluster.

Formats (W = D*H, or 2*D*H for the LSTM: its h columns, then its c columns):
    npy    one (L, N, T, W) array (T the longest sequence; steps past a sequence's length are NaN);
    npz    `states` as npy plus `lengths` (N,);
    csv    one row per sequence, layer and valid step: seq, layer, step, h0..h{D*H-1} (then c0.. for the
           LSTM) (streamed);
    jsonl  one line per sequence: {"seq": n, "length": T_n, "states": (L, T_n, W) nested lists} (streamed).
npy and npz are assembled in memory (refused beyond the memory budget); csv and jsonl stream batch by
batch, so they suit large inputs and endless stdin.
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import IO, Annotated

import numpy as np
import typer

from rnncli.cli._common import say_reading_stdin, say_weights, say_wrote
from rnncli.cli.options import BatchSize, DeviceOption, Threads, Weights
from rnncli.errors import UsageError

FORMATS = ("npy", "npz", "csv", "jsonl")


def _csv_rows(states: np.ndarray, lengths: np.ndarray, first: int) -> str:
    out = []
    for b, n in enumerate(lengths):
        for l in range(states.shape[0]):
            for t in range(int(n)):
                out.append(f"{first + b},{l},{t}," + ",".join(str(v) for v in states[l, b, t]) + "\n")
    return "".join(out)


def _jsonl_rows(states: np.ndarray, lengths: np.ndarray, first: int) -> str:
    return "".join(json.dumps({"seq": first + b, "length": int(n), "states": states[:, b, : int(n)].tolist()},
                              separators=(",", ":")) + "\n" for b, n in enumerate(lengths))


def _stream(results, out: IO, fmt: str, columns: list[str]) -> int:
    """Write csv/jsonl rows as each batch arrives; returns the number of sequences."""
    seen = 0
    for states, lengths in results:
        if fmt == "csv" and seen == 0:
            out.write("seq,layer,step," + ",".join(columns) + "\n")
        out.write((_csv_rows if fmt == "csv" else _jsonl_rows)(states, lengths, seen))
        seen += len(lengths)
    return seen


def _assemble(results) -> tuple[np.ndarray, np.ndarray]:
    """All batches in one (L, N, T, D*H) array, padded with NaN to the longest sequence."""
    from rnncli.memory import check_fits, memory_budget

    parts, lengths, held, count, longest = [], [], 0, 0, 0
    for states, n in results:
        held += states.nbytes
        count, longest = count + states.shape[1], max(longest, states.shape[2])
        # the parts, the one padded array, and the file's bytes (np.save / savez build it in memory):
        # a ragged input pads every sequence to the longest, which can be far more than the parts
        padded = states.shape[0] * count * longest * states.shape[3] * states.itemsize
        check_fits({"batches": held, "padded array": padded, "file": padded}, memory_budget(),
                   f"states as one {count} x {longest}-step array",
                   "write --format csv or jsonl, which stream", UsageError)
        parts.append(states)
        lengths.append(n)
    if not parts:
        raise UsageError("the input holds no sequences")
    T = max(p.shape[2] for p in parts)
    L, W = parts[0].shape[0], parts[0].shape[3]
    full = np.full((L, sum(p.shape[1] for p in parts), T, W), np.nan, dtype=parts[0].dtype)
    start = 0
    for p in parts:
        full[:, start:start + p.shape[1], : p.shape[2]] = p
        start += p.shape[1]
    return full, np.concatenate(lengths)


def _array_bytes(results, fmt: str) -> bytes:
    states, lengths = _assemble(results)
    buf = io.BytesIO()
    if fmt == "npy":
        np.save(buf, states, allow_pickle=False)
    else:
        np.savez_compressed(buf, states=states, lengths=lengths.astype(np.int64))
    return buf.getvalue()


def _format(fmt: str | None, output: Path | None) -> str:
    if fmt is None:
        suffix = output.suffix.lstrip(".").lower() if output is not None and str(output) != "-" else ""
        fmt = suffix if suffix in FORMATS else "csv"
    if fmt not in FORMATS:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    return fmt


def states(
    weights: Weights,
    input_: Annotated[
        str, typer.Argument(metavar="DATA", help="Sequences: a .jsonl, .csv, .npy, .npz or .txt file, or '-' "
                            "for stdin (as for rnn predict).")
    ] = "-",
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", metavar="FILE", help="Write here (atomically); default stdout."),
    ] = None,
    fmt: Annotated[
        str | None,
        typer.Option("--format", "-f",
                     help="npy, npz, csv or jsonl (default: from -o's extension, else csv)."),
    ] = None,
    input_format: Annotated[
        str | None, typer.Option("--input-format", help="Format of DATA when its name does not say it.")
    ] = None,
    batch_size: BatchSize = 256,
    threads: Threads = None,
    device: DeviceOption = None,
) -> None:
    """Hidden states of every layer for each input sequence: (L, N, T, H).

    The states are what each layer passes up: h_t, or (forward h_t, reverse
    h_t) side by side for a bidirectional layer; an LSTM adds its cell state
    c_t after h_t (csv columns h0.., c0..). Inputs are prepared as for
    rnn predict (standardised with the saved statistics). npy/npz hold one
    (L, N, T, H) array (NaN past a sequence's length; npz adds lengths); csv
    and jsonl are streamed.

    Examples:
      rnn states runs/sine-1 series.jsonl -o states.npy
      rnn data sine -n 5 -o - | rnn states runs/sine-1 - -f jsonl | head -1
    """
    from rnncli.data import iter_predict_inputs
    from rnncli.device import resolve_device
    from rnncli.fsutil import atomic_writer, check_not_read
    from rnncli.threads import set_threads
    from rnncli.use.model_io import load_model
    from rnncli.use.states import iter_states, state_columns

    fmt = _format(fmt, output)
    binary = fmt in ("npy", "npz")
    to_stdout = output is None or str(output) == "-"
    if not to_stdout and not output.parent.is_dir():
        raise UsageError(f"-o {output}: directory {str(output.parent)!r} does not exist")
    if to_stdout and binary and sys.stdout.isatty():
        raise UsageError(f"refusing to write binary .{fmt} to a terminal; use -o FILE or a pipe")
    model = load_model(weights)
    check_not_read(output, {"weights file": model.path, "input": input_})
    set_threads(threads, batch=batch_size, hidden=model.spec.hidden_size, input_size=model.spec.input_size,
                gates=model.spec.gates)
    model = model.on_device(resolve_device(device))
    if input_ == "-" and input_format is None:
        input_format = "txt" if model.task.kind == "text" else "jsonl"
    say_reading_stdin(input_, input_format)
    batches = iter_predict_inputs(input_, task=model.task, fmt=input_format, batch_size=batch_size,
                                  dtype=model.dtype)
    results = iter_states(model, batches)
    if binary:
        data = _array_bytes(results, fmt)
        if to_stdout:
            sys.stdout.buffer.write(data)
        else:
            with atomic_writer(output, "wb") as f:
                f.write(data)
    elif to_stdout:
        _stream(results, sys.stdout, fmt, state_columns(model))
    else:
        with atomic_writer(output, "w") as f:  # nothing appears at FILE unless every state was written
            _stream(results, f, fmt, state_columns(model))
    if not to_stdout:
        say_wrote(output, fmt)
    say_weights(weights, model)
