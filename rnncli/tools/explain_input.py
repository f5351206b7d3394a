"""What `rnn explain` explains: a model (saved weights, or a config's model at initialisation) and one
sequence (a JSON list, one sequence of a data file, or one of the model's own data), prepared exactly
as training prepares it (standardised, one-hot for text), then the pass and its numerical check.

Letters: T time, I input, O output.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnncli.config import Config
from rnncli.core.model import ModelSpec
from rnncli.data import SequenceData, TaskInfo, encode_text, load_dataset, one_hot
from rnncli.data.scaling import model_inputs, scale_targets
from rnncli.data.words import encode_words, tokenize
from rnncli.errors import UsageError
from rnncli.tools.explain import explain_sequence, numerical_gradients
from rnncli.tools.probe import first_batch, initial_params
from rnncli.training.build import build_spec
from rnncli.use.model_io import load_model
from rnncli.use.predict import load_data_for_model
from rnncli.wording import plural

__all__ = ["TINY_OVERRIDES", "Explained", "explain_config", "explain_weights", "parse_sequence",
           "tiny_overrides"]

# `rnn explain` with no config: a network small enough to follow with a pencil (I=2, H=3, O=1, T=3),
# on random regression data. A user's --set goes on top of these.
TINY_OVERRIDES = ("data.source=random", "data.input_size=2", "data.output_size=1", "data.seq_len=3",
                  "data.num_samples=10", "model.hidden_size=3")


def tiny_overrides(user: list[str] | tuple[str, ...]) -> list[str]:
    """TINY_OVERRIDES then the user's --set items; a class count replaces the single output, a
    data.source of the user's replaces the random data's keys (a file carries its own sizes)."""
    keys = {item.split("=", 1)[0].strip() for item in user}
    labels, source = "data.num_classes" in keys, "data.source" in keys
    keep = [o for o in TINY_OVERRIDES if not (labels and o.startswith("data.output_size"))
            and not (source and o.startswith("data."))]
    return [*keep, *user]


@dataclass
class Explained:
    """One explained pass and what it was computed from.

    Attributes:
        params: the model's parameters (float64); spec, task: the model and its data.
        x: (T, I) the sequence as the model sees it; target: (O,) / (T, O) floats or class ids.
        result: explain_sequence's dict, `numerical` filled in.
        source: a line saying where the weights and the sequence came from.
    """

    params: dict[str, np.ndarray]
    spec: ModelSpec
    task: TaskInfo
    x: np.ndarray
    target: np.ndarray
    result: dict
    source: str


def _run(params: dict, spec: ModelSpec, task: TaskInfo, x: np.ndarray, target: np.ndarray,
         source: str) -> Explained:
    params = {k: np.asarray(v, dtype=np.float64) for k, v in params.items()}
    result = explain_sequence(params, spec, x, target, loss=task.loss)
    result["numerical"] = numerical_gradients(params, spec, x, target, result["grads"], loss=task.loss)
    return Explained(params, spec, task, x, target, result, source)


def _json_value(text: str, option: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise UsageError(f"{option}: not valid JSON ({e.msg} at character {e.pos})") from None
    except RecursionError:
        raise UsageError(f"{option}: the JSON is nested too deeply for a sequence") from None
    except ValueError as e:  # e.g. an integer of more digits than Python converts
        raise UsageError(f"{option}: not valid JSON ({str(e)[:80]})") from None


def _numbers(value, option: str, text: str) -> np.ndarray:
    """A JSON value as a float64 array; anything that is not finite numbers is a UsageError."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError, OverflowError, RecursionError):
        arr = None
    if arr is None or not np.all(np.isfinite(arr)):
        raise UsageError(f"{option}: expected finite numbers (not NaN, infinite or beyond "
                         f"float64), got {text[:40]}")
    return arr


def parse_sequence(x_text: str, y_text: str | None, spec: ModelSpec, task: TaskInfo
                   ) -> tuple[np.ndarray, np.ndarray]:
    """x (T, I) and target from JSON text, in original units (scaled here like training data).

    x: a list of T steps of I numbers ([[0.1, 0.2], ...]; a flat list is T steps of one feature), or a
    string for a text model. y: numbers ((O,) or (T, O)), or class ids; default zeros (class 0).
    """
    raw = _json_value(x_text, "--x")
    if task.kind == "text" and isinstance(raw, str):
        return _text_sequence(raw, y_text, spec, task)
    x = _numbers(raw, "--x", x_text)
    if x.ndim == 1 and spec.input_size == 1:
        x = x[:, None]
    if x.ndim != 2 or x.shape[0] < 1 or x.shape[1] != spec.input_size:
        raise UsageError(f"--x: expected a JSON list of steps, each a list of {spec.input_size} numbers "
                         f"(shape (T, {spec.input_size})), got {x_text[:60]}")
    x = model_inputs(x, task)
    return x, _target(y_text, spec, task, x.shape[0])


def _target(y_text: str | None, spec: ModelSpec, task: TaskInfo, T: int) -> np.ndarray:
    classes = task.loss == "cross_entropy"
    seq = spec.output == "sequence"
    shape = ((T,) if seq else ()) if classes else ((T, spec.output_size) if seq else (spec.output_size,))
    if y_text is None:
        return np.zeros(shape, dtype=np.int64 if classes else np.float64)
    y = _numbers(_json_value(y_text, "--y"), "--y", y_text)
    try:
        y = y.reshape(shape)
    except ValueError:
        raise UsageError(f"--y: expected {'class ids' if classes else 'numbers'} of shape {shape}, "
                         f"got {y_text[:60]}") from None
    if classes:
        if not np.all((y == np.round(y)) & (y >= 0) & (y < spec.output_size)):
            raise UsageError(f"--y: class ids must be integers in [0, {spec.output_size}), got {y_text[:60]}")
        return y.astype(np.int64)
    return scale_targets(y, task.scaler)


def _encode(text: str, task: TaskInfo, option: str) -> tuple[np.ndarray, str]:
    """The ids of `text` as the model's tokens (characters or words), and what one token is called."""
    if task.tokens == "word":
        return encode_words(tokenize(text), task.vocab), "word"
    return encode_text(text, task.vocab, name=option), "character"


def _text_sequence(text: str, y_text: str | None, spec: ModelSpec, task: TaskInfo):
    ids, unit = _encode(text, task, "--x")
    if not len(ids):
        raise UsageError("--x: the text is empty")
    x = one_hot(ids, spec.input_size, np.float64)
    if y_text is None:  # the next tokens, as a text model is trained: the last one predicts itself
        nxt = np.append(ids[1:], ids[-1])
        return x, nxt if spec.output == "sequence" else np.asarray(nxt[-1])
    y_raw = _json_value(y_text, "--y")
    if isinstance(y_raw, str):
        y_ids, _ = _encode(y_raw, task, "--y")
        want = len(ids) if spec.output == "sequence" else 1
        if len(y_ids) != want:  # a shorter target would be broadcast: the loss of another sequence
            raise UsageError(f"--y: this model predicts {plural(want, unit)} for the "
                             f"{plural(len(ids), unit)} of --x, got {len(y_ids)}")
        return x, y_ids if spec.output == "sequence" else np.asarray(y_ids[-1])
    return x, _target(y_text, spec, task, len(ids))


def _pick(data: SequenceData, task: TaskInfo, index: int, steps: int | None, output: str):
    """Sequence `index` of data (its valid steps, cut to `steps`) as x (T, I), target."""
    if not 0 <= index < len(data):
        raise UsageError(f"--index {index}: the data has {len(data)} sequences (0..{len(data) - 1})")
    batch = first_batch(data.subset(np.array([index])), task, 1, steps, output)
    T = batch.x.shape[1] if batch.lengths is None else int(batch.lengths[0])
    if batch.y is None:
        raise UsageError("the data has no targets to compute a loss with; give --y")
    y = batch.y[0][:T] if output == "sequence" else batch.y[0]
    x = batch.x[0, :T]
    if x.dtype.kind in "iu":  # token ids (batches carry them): the one-hot vectors the model reads
        x = one_hot(x, task.input_size, np.float64)
    return x, y


def explain_config(cfg: Config, *, x_text: str | None = None, y_text: str | None = None, index: int = 0,
                   steps: int | None = None, base_dir: Path | None = None) -> Explained:
    """The config's model at initialisation (the weights `rnn train` starts from) on sequence `index`
    of its training data, of the data file `x_text` names, or on the JSON sequence `x_text`."""
    base_dir = base_dir or Path.cwd()
    literal = x_text is not None and x_text.lstrip()[:1] in ("[", '"')
    if x_text is not None and not literal:
        cfg = cfg.model_copy(update={"data": cfg.data.model_copy(
            update={"source": x_text, "val_fraction": 0.0, "format": None})})
    data = load_dataset(cfg.data, seed=cfg.seed, dtype=np.float64, base_dir=base_dir)
    cfg, spec = build_spec(cfg, data.task)
    params = initial_params(cfg, spec)
    where = f"sequence {index} of {cfg.data.source}"
    if literal:
        x, target = parse_sequence(x_text, y_text, spec, data.task)
        where = "the sequence given with --x"
    else:
        x, target = _pick(data.train, data.task, index, steps, spec.output)
    return _run(params, spec, data.task, x, target, f"config at initialisation, {where}")


def explain_weights(path: str | Path, *, x_text: str | None = None, y_text: str | None = None,
                    index: int = 0, steps: int | None = None) -> Explained:
    """Saved weights (a .npz or a run directory) on the JSON sequence `x_text`, on sequence `index` of
    the data file `x_text` names, or of the validation part of the model's training data."""
    model = load_model(path)
    if x_text is not None and x_text.lstrip()[:1] in ("[", '"'):
        x, target = parse_sequence(x_text, y_text, model.spec, model.task)
        if steps is not None:
            x, target = x[:steps], (target[:steps] if model.spec.output == "sequence" else target)
        where = f"weights {path}, the sequence given with --x"
        return _run(model.params, model.spec, model.task, x, target, where)
    if x_text is None and model.cfg is None:
        raise UsageError(f"{path}: these weights carry no training config to take data from; give --x")
    bundle = load_data_for_model(model, x_text)
    data = bundle.val if x_text is None and bundle.val is not None and len(bundle.val) else bundle.train
    x, target = _pick(data, model.task, index, steps, model.spec.output)
    what = x_text if x_text is not None else "the validation data"
    where = f"weights {path}, sequence {index} of {what}"
    return _run(model.params, model.spec, model.task, x, target, where)
