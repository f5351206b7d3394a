"""The search space of `rnn sweep`: `--param KEY=SPEC` and `--space FILE`, checked against the schema.

SPEC is one of
    choice:a,b,c        YAML scalars (32, 1e-3, relu, null, true)
    int:LO:HI           integers LO..HI inclusive
    uniform:LO:HI       floats
    loguniform:LO:HI    floats, uniform in log space (LO > 0)
A space file is a YAML mapping of dotted keys to SPEC strings (or lists, read as choices).
Keys are checked like `--set` (unknown keys get "did you mean"), and so is every choice and
bound, so `model.hidden_size=uniform:32:64` is refused before any trial runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from rnncli.config import load_config
from rnncli.config.yamlsafe import load_yaml_bounded, read_yaml_file, yaml_problem
from rnncli.errors import ConfigError, UsageError

KINDS = ("choice", "int", "uniform", "loguniform")


@dataclass(frozen=True)
class Param:
    """One searched config key: its kind and its choices or (low, high); `origin` names it in errors."""

    key: str
    kind: str
    values: tuple
    origin: str

    def suggest(self, trial) -> Any:
        """This parameter's value for an Optuna trial (the parameter is named by its dotted key)."""
        if self.kind == "choice":
            return trial.suggest_categorical(self.key, list(self.values))
        if self.kind == "int":
            return trial.suggest_int(self.key, *self.values)
        return trial.suggest_float(self.key, *self.values, log=self.kind == "loguniform")

    def describe(self) -> str:
        if self.kind == "choice":
            return "choice:" + ",".join(_yaml_scalar(v) for v in self.values)
        return f"{self.kind}:{self.values[0]:g}:{self.values[1]:g}"


def _yaml_scalar(value: Any) -> str:
    return yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip()


def _choice(text: str, origin: str) -> Any:
    """A YAML scalar, except that 1e-3 (a string to YAML 1.1) is the number it looks like."""
    try:
        value = load_yaml_bounded(text)[1] if text.strip() else None
    except yaml.YAMLError as e:
        raise UsageError(f"{origin}: choice {text[:40]!r} is not a YAML scalar "
                         f"({yaml_problem(e)[1][:80]})") from None
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return value
        return number if math.isfinite(number) else value
    return value


def _number(text: str, origin: str, integer: bool) -> float | int:
    try:
        value = int(text) if integer else float(text)  # float() reads 1e-4, which YAML 1.1 does not
    except ValueError:
        value = None
    if value is None or not math.isfinite(value):
        raise UsageError(f"{origin}: expected {'an integer' if integer else 'a number'}, got {text!r}")
    return value


def _choices(key: str, values: tuple, origin: str) -> Param:
    if any(isinstance(v, (list, dict)) for v in values):  # also a nested list in a --space file
        raise UsageError(f"{origin}: choices must be scalars (numbers, words, true/false, null)")
    if len(set(map(repr, values))) < len(values):
        raise UsageError(f"{origin}: a choice is listed twice")
    return Param(key, "choice", values, origin)


def parse_spec(key: str, spec: Any, origin: str) -> Param:
    """A Param from a SPEC string (or a YAML list = choices); UsageError naming `origin` if malformed."""
    if isinstance(spec, list):
        spec = "choice:" + ",".join(_yaml_scalar(v) for v in _choices(key, tuple(spec), origin).values)
    if not isinstance(spec, str) or ":" not in spec:
        raise UsageError(f"{origin}: expected KIND:..., one of choice:a,b int:LO:HI uniform:LO:HI "
                         "loguniform:LO:HI")
    kind, _, rest = spec.partition(":")
    if kind not in KINDS:
        raise UsageError(f"{origin}: unknown kind {kind!r} (expected one of {', '.join(KINDS)})")
    if kind == "choice":
        return _choices(key, tuple(_choice(v, origin) for v in rest.split(",")), origin)
    bounds = rest.split(":")
    if len(bounds) != 2:
        raise UsageError(f"{origin}: expected {kind}:LO:HI")
    lo, hi = (_number(b, origin, kind == "int") for b in bounds)
    if not lo < hi:
        raise UsageError(f"{origin}: LO must be below HI (got {lo} and {hi})")
    if kind == "loguniform" and lo <= 0:
        raise UsageError(f"{origin}: loguniform needs LO > 0 (got {lo})")
    return Param(key, kind, (lo, hi), origin)


def parse_param(item: str) -> Param:
    """`KEY=SPEC` from the command line."""
    origin = f"--param {item}"
    key, sep, spec = item.partition("=")
    if not sep or not key.strip():
        raise UsageError(f"{origin}: expected KEY=SPEC, e.g. --param train.lr=loguniform:1e-4:1e-2")
    return parse_spec(key.strip(), spec.strip(), origin)


def load_space(path: Path) -> list[Param]:
    """Params from a YAML file mapping dotted keys to SPEC strings or lists of choices (read with
    the config files' limits: config/yamlsafe.read_yaml_file)."""
    data = read_yaml_file(Path(path), f"--space {path}", UsageError)
    if not isinstance(data, dict) or not data:
        raise UsageError(f"--space {path}: expected a mapping of config keys to specs, "
                         "e.g. train.lr: loguniform:1e-4:1e-2")
    return [parse_spec(str(k), v, f"{path}: {k}") for k, v in data.items()]


def check_space(params: list[Param], configs: list[Path], overrides: list[str]) -> None:
    """Refuse unknown keys, repeated keys and values the schema rejects for the key itself.

    Every choice and both bounds are tried one at a time on the base config. A problem reported on
    another key (a combination, e.g. a Nesterov setting with optimizer adam) is left to the
    trials, which fail with that reason while the sweep goes on.
    """
    seen: set[str] = set()
    for p in params:
        if p.key in seen:
            raise UsageError(f"{p.origin}: {p.key} is searched twice")
        seen.add(p.key)
        inside = () if p.kind in ("choice", "int") else (p.values[0] + (p.values[1] - p.values[0]) / 3,)
        for value in (*p.values, *inside):  # a float inside the range: int keys refuse it
            item = f"{p.key}={_yaml_scalar(value)}"
            try:
                load_config(configs, [*overrides, item])
            except ConfigError as e:
                mine = [line for line in str(e).splitlines() if f": {p.key}:" in line]
                if mine:
                    raise UsageError(mine[0].replace(f"--set {item}", p.origin, 1)) from None


def grid_space(params: list[Param]) -> dict[str, list]:
    """The grid of a grid search: every param must be a choice."""
    bad = [p.origin for p in params if p.kind != "choice"]
    if bad:
        raise UsageError(f"--sampler grid searches choice: params only; {bad[0]} is not one")
    return {p.key: list(p.values) for p in params}


def overrides_for(values: dict[str, Any]) -> list[str]:
    """`--set`-style overrides that give a trial its sampled values."""
    return [f"{k}={_yaml_scalar(v)}" for k, v in values.items()]
