"""Fill the keys left to inference (model.input_size, output_size, output, loss) from the data,
and build a data section on its own (`rnn data`, `rnn eval --data`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import ValidationError

from rnncli.config.loader import parse_override
from rnncli.config.schema import Config
from rnncli.data import DataConfig
from rnncli.errors import ConfigError
from rnncli.wording import plural

__all__ = ["data_config_from", "resolve_with_task"]


def data_config_from(options: dict[str, Any], overrides: Iterable[str] = ()) -> DataConfig:
    """A validated DataConfig from `options` updated by `--set key=value` items.

    The key may carry a leading "data."; values are YAML scalars as for `rnn train --set`.
    Every problem is one line of a single ConfigError.
    """
    options = dict(options)
    errors = []
    for item in overrides:
        try:
            key, value = parse_override(item)
        except ValueError as e:
            errors.append(f"--set {item}: {e}")
            continue
        key = key[1:] if key[0] == "data" and len(key) > 1 else key
        if len(key) != 1:
            errors.append(f"--set {item}: data options are single keys, e.g. --set noise=0.1")
            continue
        options[key[0]] = value
    if errors:
        raise ConfigError("\n".join(errors))
    try:
        return DataConfig.model_validate(options)
    except ValidationError as e:
        lines = []
        for err in e.errors():
            loc = ".".join(str(p) for p in err["loc"])
            msg = err["msg"].removeprefix("Value error, ")
            lines.append(f"data.{loc}: {msg}" if loc else f"data: {msg}")
        raise ConfigError("\n".join(lines)) from None


def resolve_with_task(cfg: Config, task: Any) -> Config:
    """A copy of `cfg` with inferred keys filled from `task` (a rnncli.data.TaskInfo).

    Keys the user set must agree with the data; the resolved config is what a run saves,
    so `rnn train --config runs/x/config.yaml` rebuilds the same model.

    Raises:
        ConfigError: a set key contradicts the data, e.g.
            "model.input_size is 3 but the data has 5 input features".
    """
    m = cfg.model
    checks = [
        ("model.input_size", m.input_size, task.input_size, "input features"),
        ("model.output_size", m.output_size, task.output_size, "outputs"),
    ]
    errors = []
    for key, mine, theirs, what in checks:
        if mine is not None and mine != theirs:
            errors.append(f"{key} is {mine} but the data has {theirs} {what} (set it to null to infer)")
    if m.output is not None and m.output != task.output:
        errors.append(
            f"model.output is {m.output!r} but the data has {task.output!r} targets "
            "(one per sequence = 'last', one per step = 'sequence')"
        )
    if cfg.loss is not None and cfg.loss != task.loss:
        need = "class labels" if task.loss == "cross_entropy" else "real-valued targets"
        errors.append(f"loss is {cfg.loss!r} but the data has {need}; use {task.loss!r} (or null)")
    if m.bidirectional and task.stateful:
        errors.append("model.bidirectional cannot be used for text: each step's target is the next "
                      "token, which the reverse direction would read; set model.bidirectional: false")
    errors += _token_model_errors(m, task)
    if errors:
        raise ConfigError("\n".join(errors))
    model = m.model_copy(
        update={"input_size": task.input_size, "output_size": task.output_size, "output": task.output}
    )
    return cfg.model_copy(update={"model": model, "loss": task.loss})


def _token_model_errors(m: Any, task: Any) -> list[str]:
    """An embedding needs token inputs; tied weights need outputs over the same vocabulary."""
    errors = []
    if m.embedding_size is not None and task.kind != "text" and task.tokens != "id":
        errors.append("model.embedding_size needs token inputs (text, or data.token_ids); this data "
                      f"has {plural(task.input_size, 'real-valued feature')} per step; set it to null")
    elif m.tie_weights and task.output_size != task.input_size:
        errors.append(f"model.tie_weights needs outputs over the input vocabulary ({task.input_size}), "
                      f"the data has {task.output_size} outputs")
    return errors
