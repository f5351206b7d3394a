"""Saved weights: one `.npz` file of plain numeric arrays plus a JSON `meta` string.

Format (version 1), readable by any program that reads NumPy `.npz` files
(`numpy.load(path, allow_pickle=False)`):

- A zip archive of `.npy` arrays (written uncompressed by `numpy.savez`).
- Parameters, float32 or float64, named as in the core's parameter dict
  (I input size, H hidden size, O output size, l = 0 .. num_layers-1):

  | name            | shape                         | role                              |
  |-----------------|-------------------------------|-----------------------------------|
  | `rnn.{l}.W_xh`  | (H, I) for l=0, (H, H) above  | input (or layer below) to hidden  |
  | `rnn.{l}.W_hh`  | (H, H)                        | hidden to hidden (recurrent)      |
  | `rnn.{l}.b_h`   | (H,)                          | hidden bias                       |
  | `head.W_hy`     | (O, H)                        | top hidden state to output        |
  | `head.b_y`      | (O,)                          | output bias                       |

  One step of layer l: `h_t = f(W_xh @ x_t + W_hh @ h_{t-1} + b_h)` with f = tanh or relu
  and x_t the layer below's state; output `y_t = W_hy @ h_t + b_y` (logits for classifiers).
  A bidirectional model (`model.bidirectional: true`) adds `rnn.{l}.W_xh_reverse`,
  `W_hh_reverse`, `b_h_reverse` per layer; layers above the first and the head read 2H
  ([forward ; reverse]), so their W_xh and W_hy have 2H columns. Token embeddings
  (`model.embedding_size` E) add `embed.W` (I, E), I the vocabulary, and make `rnn.0.W_xh`
  (H, E); with `model.tie_weights` the head uses `embed.W` and `head.W_hy` is absent.
  The table is the vanilla cell's (`model.cell: rnn`); a gated cell (`gru`, `lstm`) names each
  layer's tensors as its module in core/cells/ says (torch's layout: `rnn.{l}.W_ih` (G*H, I),
  `W_hh` (G*H, H), `b_ih`, `b_hh` (G*H,), G = 3 or 4 gates); `expected_shapes` asks it.
- `meta`: a 0-d unicode array holding a JSON object with at least
  `format: "rnn-weights"`, `format_version: 1` and `model: {input_size, hidden_size,
  output_size, num_layers, nonlinearity, output}` (and `cell`, `rnn` when absent); the trainer
  adds the resolved `config`, `task` (kind, vocabulary for text models, scaler statistics), `epoch`,
  `step` and `metrics`. Non-finite floats in meta are written as `null` (strict JSON).
- Any other array is an "extra" (checkpoints store optimizer state as
  `optim.<slot>.<param name>`). Names starting with `rnn.`, `head.` or `embed.` are reserved for
  parameters.

Loading never unpickles (`allow_pickle=False`), reads `meta` and every array header
before loading array data, and refuses files whose arrays do not match `meta.model`.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from rnncli.core.cells import CELLS
from rnncli.core.model import MAX_LAYERS, MAX_SIZE, ModelSpec, param_shapes
from rnncli.errors import WeightsError
from rnncli.fsutil import atomic_writer, check_path_text, check_readable_file
from rnncli.npzsafe import member_header, open_npz, read_member

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "expected_shapes",
    "load_weights",
    "read_meta",
    "resolve_weights_path",
    "save_weights",
    "shareable_meta",
]

FORMAT = "rnn-weights"
FORMAT_VERSION = 1
PARAM_PREFIXES = ("rnn.", "head.", "embed.")
MODEL_KEYS = ("input_size", "hidden_size", "output_size", "num_layers", "nonlinearity", "output")
# meta is a short JSON text (config, vocabulary, metrics); anything bigger is not ours.
MAX_META_BYTES = 64 * 2**20
# meta.model's sizes are checked against core.model's MAX_LAYERS / MAX_SIZE (the bounds the
# config has too) before any shape is computed.


def _short(v: Any) -> str:
    """A value from a file, for a message: never more than 40 characters, whatever its size."""
    if isinstance(v, int) and not isinstance(v, bool) and v.bit_length() > 100:
        return f"an integer of about {int(v.bit_length() * 0.30103)} digits"
    text = repr(v) if not isinstance(v, (dict, list)) else type(v).__name__
    return text if len(text) <= 40 else text[:37] + "..."


def expected_shapes(model: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    """Parameter names and shapes for a model description (meta["model"]).

    Raises:
        ValueError: if a size is missing or not a positive integer.
    """
    sizes = {}
    for key in ("input_size", "hidden_size", "output_size", "num_layers"):
        v, top = model.get(key), MAX_LAYERS if key == "num_layers" else MAX_SIZE
        if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= top:
            raise ValueError(f"model.{key} must be an integer in 1..{top} (got {_short(v)})")
        sizes[key] = v
    # Options (absent in older files) only change which tensors exist; param_shapes says how.
    opts = {k: model.get(k, d) for k, d in (("bidirectional", False), ("tie_weights", False))}
    for key, v in opts.items():
        if not isinstance(v, bool):
            raise ValueError(f"model.{key} must be true or false (got {_short(v)})")
    cell = model.get("cell", "rnn")  # absent in files saved before cells existed: the Elman cell
    if not isinstance(cell, str) or cell not in CELLS:
        raise ValueError(f"model.cell must be one of {', '.join(CELLS)} (got {_short(cell)})")
    E = model.get("embedding_size")
    if E is not None and (isinstance(E, bool) or not isinstance(E, int) or not 1 <= E <= MAX_SIZE):
        raise ValueError(f"model.embedding_size must be null or a positive integer up to {MAX_SIZE} "
                         f"(got {_short(E)})")
    return param_shapes(ModelSpec(**sizes, **opts, embedding_size=E, cell=cell))


def _jsonable(obj: Any) -> Any:
    """Turn numpy scalars/arrays, tuples and paths into JSON types; NaN/inf become None."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return _jsonable(obj.item())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, Path):
        return str(obj)
    return obj


def save_weights(
    path: str | os.PathLike[str],
    params: dict[str, np.ndarray],
    meta: dict[str, Any],
    extra: dict[str, np.ndarray] | None = None,
) -> None:
    """Write parameters, `meta` and optional extra arrays to `path` atomically.

    Args:
        path: the .npz file to write (its directory must exist).
        params: name -> float array, exactly the names of `expected_shapes(meta["model"])`.
        meta: JSON-able dict with a "model" entry; "format" and "format_version" are added.
        extra: more arrays (e.g. optimizer state), names not starting with "rnn."/"head.".

    Raises:
        ValueError: on a programming error (params that do not match meta["model"], name clash).
    """
    extra = extra or {}
    if "model" not in meta:
        raise ValueError("meta must contain 'model' (input_size, hidden_size, ...)")
    shapes = expected_shapes(meta["model"])
    if set(params) != set(shapes):
        raise ValueError(f"params {sorted(params)} do not match the model {sorted(shapes)}")
    for name, arr in params.items():
        if tuple(np.shape(arr)) != shapes[name]:
            raise ValueError(f"{name} has shape {np.shape(arr)}, model needs {shapes[name]}")
    for name in extra:
        if name == "meta" or name.startswith(PARAM_PREFIXES):
            raise ValueError(f"extra array name {name!r} is reserved")
    full_meta = {**_jsonable(meta), "format": FORMAT, "format_version": FORMAT_VERSION}
    arrays = {name: np.asarray(a) for name, a in {**params, **extra}.items()}
    arrays["meta"] = np.array(json.dumps(full_meta, allow_nan=False))
    with atomic_writer(path, "wb") as f:
        np.savez(f, **arrays)


def resolve_weights_path(path: str | os.PathLike[str]) -> Path:
    """A .npz path, or a run directory's `model.npz`; checked to be a readable file."""
    check_path_text(path, "weights file", WeightsError)
    p = Path(path)
    if p.is_dir():
        candidate = p / "model.npz"
        if not candidate.exists():
            raise WeightsError(f"no model.npz in run directory: {p}")
        p = candidate
    return check_readable_file(p, "weights file", WeightsError)


def _meta_text(p: Path, zf: zipfile.ZipFile, members: dict[str, zipfile.ZipInfo]) -> str:
    if "meta" not in members:
        raise WeightsError(f"{p}: no 'meta' array (not an rnn weights file?)")
    if members["meta"].file_size > MAX_META_BYTES:
        raise WeightsError(f"{p}: 'meta' is larger than {MAX_META_BYTES // 2**20} MB")
    shape, dtype = member_header(zf, members["meta"], str(p), WeightsError)
    if shape != () or dtype.kind != "U":
        raise WeightsError(f"{p}: 'meta' must be a 0-d unicode string, got {dtype} {shape}")
    return str(read_member(zf, members["meta"]))


def _parse_meta(p: Path, zf: zipfile.ZipFile, members: dict[str, zipfile.ZipInfo]) -> dict:
    try:
        meta = json.loads(_meta_text(p, zf, members))
    except json.JSONDecodeError as e:
        raise WeightsError(f"{p}: 'meta' is not valid JSON ({e})") from None
    except RecursionError:
        raise WeightsError(f"{p}: 'meta' is nested too deeply to be rnn's meta") from None
    if not isinstance(meta, dict):
        raise WeightsError(f"{p}: 'meta' must be a JSON object, got {type(meta).__name__}")
    if meta.get("format") != FORMAT:
        raise WeightsError(f"{p}: meta.format is {_short(meta.get('format'))}, expected {FORMAT!r}")
    version = meta.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise WeightsError(f"{p}: meta.format_version must be a positive integer (got {_short(version)})")
    if version > FORMAT_VERSION:
        raise WeightsError(
            f"{p}: format_version {version} is newer than this rnn supports "
            f"({FORMAT_VERSION}); upgrade rnncli to load it"
        )
    model = meta.get("model")
    if not isinstance(model, dict):
        raise WeightsError(f"{p}: meta has no 'model' description")
    missing = [k for k in MODEL_KEYS if k not in model]
    if missing:
        raise WeightsError(f"{p}: meta.model is missing {', '.join(missing)}")
    return meta


def read_meta(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Only the parsed and checked `meta` of a weights file (or run directory); cheap."""
    p = resolve_weights_path(path)
    with _errors_name(p):
        zf, members = open_npz(p, str(p), WeightsError)
        with zf:
            return _parse_meta(p, zf, members)


@contextlib.contextmanager
def _errors_name(p: Path) -> Iterator[None]:
    """Turn any failure while reading `p` into a one-line WeightsError starting with the path."""
    try:
        yield
    except WeightsError as e:
        msg = str(e)
        raise WeightsError(msg if msg.startswith(f"{p}:") else f"{p}: {msg}") from None
    except (zipfile.BadZipFile, ValueError, EOFError, OSError) as e:
        raise WeightsError(f"{p}: corrupted .npz ({str(e)[:200]})") from None


def load_weights(
    path: str | os.PathLike[str],
) -> tuple[dict[str, np.ndarray], dict[str, Any], dict[str, np.ndarray]]:
    """Load and check a weights file or run directory.

    Returns:
        (params, meta, extra): parameter arrays keyed as in `expected_shapes(meta["model"])`,
        the meta dict, and every other array (e.g. optimizer state).

    Raises:
        WeightsError: one line naming the file for anything wrong with it.
    """
    p = resolve_weights_path(path)
    with _errors_name(p):
        zf, members = open_npz(p, str(p), WeightsError)
        with zf:
            meta = _parse_meta(p, zf, members)
            return _load_arrays(p, zf, members, meta)


def _check_headers(p: Path, shapes: dict, headers: dict) -> None:
    """Every parameter present with the model's shape and a float dtype; nothing else numeric-less."""
    missing = [n for n in shapes if n not in headers]
    if missing:
        raise WeightsError(f"{p}: missing parameters: {', '.join(missing[:8])}")
    unexpected = [n for n in headers if n.startswith(PARAM_PREFIXES) and n not in shapes]
    if unexpected:
        raise WeightsError(f"{p}: unexpected parameters: {', '.join(unexpected[:8])}")
    for name, want in shapes.items():
        shape, dtype = headers[name]
        if shape != want:
            raise WeightsError(f"{p}: {name} has shape {shape}, the model needs {want}")
        if dtype not in (np.float32, np.float64):
            raise WeightsError(f"{p}: {name} has dtype {dtype}; parameters must be float32/float64")
    for name, (_, dtype) in headers.items():
        if dtype.kind not in "biuf":
            raise WeightsError(f"{p}: array {name[:80]!r} has non-numeric dtype {dtype}")


def _load_arrays(
    p: Path, zf: zipfile.ZipFile, members: dict[str, zipfile.ZipInfo], meta: dict
) -> tuple[dict[str, np.ndarray], dict[str, Any], dict[str, np.ndarray]]:
    try:
        shapes = expected_shapes(meta["model"])
    except ValueError as e:
        raise WeightsError(f"{p}: meta.{e}") from None
    names = [n for n in members if n != "meta"]
    headers = {n: member_header(zf, members[n], str(p), WeightsError) for n in names}
    _check_headers(p, shapes, headers)
    arrays = {}
    for name in names:
        arr = read_member(zf, members[name])
        if arr.dtype.kind == "f" and not np.isfinite(arr).all():
            raise WeightsError(f"{p}: {name} contains NaN or infinite values")
        # C order for every reader: another tool's W.T is stored Fortran-ordered, and code that
        # reshapes a tensor to reach its entries would otherwise work on a copy.
        arrays[name] = np.ascontiguousarray(arr)
    params = {n: arrays[n] for n in shapes}
    extra = {n: a for n, a in arrays.items() if n not in shapes}
    return params, meta, extra


def shareable_meta(meta: dict[str, Any]) -> dict[str, Any]:
    """`meta` for a file that leaves this machine (an export): absolute paths (the training data's
    source, a run directory, --init-from) cut to their file name, so the file does not carry the
    layout of the user's disk. meta.task (vocabulary, classes, columns) is data, kept as it is."""
    def cut(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: cut(x) for k, x in v.items()}
        if isinstance(v, list):
            return [cut(x) for x in v]
        if isinstance(v, str) and len(v) > 1 and os.path.isabs(v):
            return Path(v).name
        return v

    return {k: v if k == "task" else cut(v) for k, v in meta.items()}
