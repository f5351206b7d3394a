"""Reading configs: YAML files merged in order, `--set` overrides, one error line per mistake.

Each value remembers where it came from (file:line:column of its key and value, or the
`--set` argument), so a validation error points at the place to fix, e.g.

    configs/x.yaml:12:5: model.hidden_sise: unknown key (did you mean hidden_size?)
    --set train.lr=abc: train.lr: expected a number (got 'abc')
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from rnncli.config.errors import format_validation_errors
from rnncli.config.schema import Config
from rnncli.config.yamlsafe import MAX_CONFIG_BYTES, load_yaml_bounded, yaml_problem
from rnncli.data.options import GENERATORS
from rnncli.errors import ConfigError
from rnncli.fsutil import check_readable_file

__all__ = ["DEFAULT_CONFIG_YAML", "load_config", "parse_override", "uses_builtin_demo"]

Key = tuple[str, ...]

# `rnn train` with no --config: sine forecasting that visibly learns in seconds on 2 cores.
DEFAULT_CONFIG_YAML = """\
name: default
seed: 0
data:
  source: sine
  num_samples: 1000
  seq_len: 30
model:
  hidden_size: 32
train:
  epochs: 5
  batch_size: 32
  lr: 0.01
"""
DEFAULT_LABEL = "<default config>"


@dataclass(frozen=True)
class Origin:
    """Where a key was set: `label` is a file name or `--set k=v`; marks are (line, col), 1-based."""

    label: str
    key_mark: tuple[int, int] | None = None
    value_mark: tuple[int, int] | None = None
    base_dir: Path | None = None  # relative paths set here are relative to this directory

    def where(self, at_key: bool) -> str:
        mark = self.key_mark if at_key else (self.value_mark or self.key_mark)
        return f"{self.label}:{mark[0]}:{mark[1]}" if mark else self.label


def _mark(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _key_text(knode: yaml.Node) -> str:
    """The key as safe_load reads it (`null:` is None, `yes:` is True), as text."""
    try:
        return str(yaml.SafeLoader("").construct_object(knode, deep=True))
    except yaml.YAMLError:  # e.g. the merge key "<<", which has no constructor of its own
        return str(knode.value)


def _walk_positions(
    node: yaml.MappingNode,
    label: str,
    prefix: Key,
    origins: dict[Key, Origin],
    errors: list[str],
    base_dir: Path,
) -> None:
    seen: dict[str, int] = {}
    for knode, vnode in node.value:
        key = _key_text(knode)
        path = (*prefix, key)
        line, col = _mark(knode)
        if key in seen:
            errors.append(
                f"{label}:{line}:{col}: {'.'.join(path)}: duplicate key (first set on line {seen[key]})"
            )
        seen[key] = line
        origins[path] = Origin(label, (line, col), _mark(vnode), base_dir)
        if isinstance(vnode, yaml.MappingNode):
            _walk_positions(vnode, label, path, origins, errors, base_dir)


def _read_yaml_text(
    text: str, label: str, base_dir: Path, errors: list[str]
) -> tuple[dict, dict[Key, Origin]] | None:
    """Parse one YAML document into (mapping, origins); append errors and return None if bad."""
    try:
        node, data = load_yaml_bounded(text)
    except yaml.YAMLError as e:
        pos, problem = yaml_problem(e)
        where = f"{label}:{pos[0]}:{pos[1]}" if pos else label
        errors.append(f"{where}: invalid YAML: {problem}")
        return None
    if node is None or data is None:
        errors.append(f"{label}: empty config file (expected a mapping such as 'model: ...')")
        return None
    if not isinstance(data, dict) or not isinstance(node, yaml.MappingNode):
        line, col = _mark(node)
        kind = type(data).__name__.replace("str", "string").replace("dict", "mapping")
        errors.append(f"{label}:{line}:{col}: the top level must be a mapping of keys (got a {kind})")
        return None
    origins: dict[Key, Origin] = {}
    before = len(errors)
    _walk_positions(node, label, (), origins, errors, base_dir)
    return (data, origins) if len(errors) == before else None


def _read_yaml_file(path: Path, errors: list[str]) -> tuple[dict, dict[Key, Origin]] | None:
    label = str(path)
    try:
        check_readable_file(path, "config file", ConfigError)
        if path.stat().st_size > MAX_CONFIG_BYTES:
            errors.append(f"{label}: {path.stat().st_size} bytes is too large for a config file "
                          f"(at most {MAX_CONFIG_BYTES >> 20} MiB)")
            return None
        text = path.read_text(encoding="utf-8")
    except ConfigError as e:
        errors.append(str(e))
        return None
    except UnicodeDecodeError as e:
        errors.append(f"{label}: not a UTF-8 text file (byte {e.start})")
        return None
    except OSError as e:
        errors.append(f"{label}: cannot read config file ({e.strerror})")
        return None
    return _read_yaml_text(text, label, path.parent, errors)


def _set(data: dict, origins: dict[Key, Origin], path: Key, value: Any, origin: Origin | None) -> None:
    """Set data[path] = value (deep-copied) and forget origins of what it replaced."""
    cur = data
    for k in path[:-1]:
        cur = cur.setdefault(k, {})
    cur[path[-1]] = copy.deepcopy(value)
    for key in [k for k in origins if k[: len(path)] == path]:
        del origins[key]
    if origin is not None:
        origins[path] = origin


def _merge(
    data: dict, origins: dict[Key, Origin], new: dict, new_origins: dict[Key, Origin], prefix: Key
) -> None:
    """Deep-merge `new` into `data`: mappings merge key by key, anything else replaces."""
    for key, value in new.items():
        path = (*prefix, str(key))
        old = _get(data, path)
        if isinstance(value, dict) and isinstance(old, dict):
            if path in new_origins:
                origins[path] = new_origins[path]
            _merge(data, origins, value, new_origins, path)
        else:
            _set(data, origins, path, value, None)
            origins.update({k: o for k, o in new_origins.items() if k[: len(path)] == path})


def _get(data: Any, path: Key) -> Any:
    for k in path:
        if not isinstance(data, dict) or k not in data:
            return None
        data = data[k]
    return data


def parse_override(item: str) -> tuple[Key, Any]:
    """`key.path=value` -> (("key", "path"), value parsed as YAML). Raises ValueError."""
    if "\x00" in item:
        raise ValueError("a NUL byte is not allowed in a key or value")
    key, sep, text = item.partition("=")
    parts = tuple(key.strip().split("."))
    if not sep or not all(p.strip() for p in parts):
        raise ValueError("expected key.path=value, e.g. --set train.lr=0.01")
    try:
        value = load_yaml_bounded(text)[1]
    except yaml.YAMLError as e:
        raise ValueError(f"invalid YAML value ({yaml_problem(e)[1]})") from None
    if isinstance(value, (list, dict)) and not text.lstrip().startswith(("[", "{")):
        # The value is a scalar unless written in flow style ([a, b] / {k: v}): block syntax
        # would turn `data.source=-` (stdin) into [null] and `name=a: b` into a mapping.
        value = text.strip()
    return tuple(p.strip() for p in parts), value


def _apply_override(data: dict, origins: dict[Key, Origin], item: str, errors: list[str]) -> None:
    label = f"--set {item if len(item) <= 80 else item[:77] + '...'}"  # never echo a huge value whole
    try:
        path, value = parse_override(item)
    except ValueError as e:
        errors.append(f"{label}: {e}")
        return
    for i in range(1, len(path)):
        parent = _get(data, path[:i])
        if parent is not None and not isinstance(parent, dict):
            errors.append(f"{label}: {'.'.join(path[:i])} is a value, not a section")
            return
    _set(data, origins, path, value, Origin(label, base_dir=Path.cwd()))


def _absolute_data_paths(cfg: Config, origins: dict[Key, Origin]) -> Config:
    """Make relative data file paths absolute, each against the file that set it.

    A relative path in a config file means "next to this config"; in --set it means the
    current directory. Absolute paths keep the dumped run config (in another directory)
    pointing at the same data.
    """
    updates = {}
    for field in ("source", "path"):
        value = getattr(cfg.data, field)
        if not value or value == "-" or (field == "source" and value in GENERATORS):
            continue
        p = Path(os.path.expanduser(value))
        if not p.is_absolute():
            origin = origins.get(("data", field))
            base = origin.base_dir if origin and origin.base_dir else Path.cwd()
            p = base / p
        updates[field] = os.path.abspath(p)
    if not updates:
        return cfg
    return cfg.model_copy(update={"data": cfg.data.model_copy(update=updates)})


def uses_builtin_demo(paths, overrides) -> bool:
    """True when neither a config file nor `--set data.source=...` names the data: then the
    embedded demo task (DEFAULT_CONFIG_YAML) is trained; otherwise the schema's documented
    defaults apply to every key left unset."""
    if paths:
        return False
    for item in overrides:
        try:
            key, _ = parse_override(item)
        except ValueError:
            continue
        if key == ("data", "source"):
            return False
    return True


def _default_name(data: dict) -> str:
    """Run name without a config file: the data file's stem (runs/motion-1), else 'default'."""
    source = (data.get("data") or {}).get("source") if isinstance(data.get("data"), dict) else None
    if isinstance(source, str) and source not in GENERATORS and source != "-":
        return Path(source).stem or "default"
    return "default"


def load_config(
    paths: list[Path] | tuple[Path, ...] = (),
    overrides: list[str] | tuple[str, ...] = (),
    *,
    seed: int | None = None,
) -> Config:
    """Read, merge (last wins), override and validate a config.

    Args:
        paths: YAML files merged in order; none = the embedded demo task when no
            `data.source` override is given either (`uses_builtin_demo`), else schema defaults.
        overrides: `key.path=value` strings (values parsed as YAML scalars).
        seed: if given, replaces `seed` after everything else (the --seed flag).

    Raises:
        ConfigError: every problem found, one self-contained line each.
    """
    errors: list[str] = []
    data: dict = {}
    origins: dict[Key, Origin] = {}
    if paths:
        sources = [_read_yaml_file(Path(p), errors) for p in paths]
    elif uses_builtin_demo(paths, overrides):
        sources = [_read_yaml_text(DEFAULT_CONFIG_YAML, DEFAULT_LABEL, Path.cwd(), errors)]
    else:
        sources = []
    for source in sources:
        if source is not None:
            _merge(data, origins, source[0], source[1], ())
    for item in overrides:
        _apply_override(data, origins, item, errors)
    if seed is not None:
        _set(data, origins, ("seed",), seed, Origin("--seed"))
    if errors:
        raise ConfigError("\n".join(errors))
    if data.get("name") is None:
        data["name"] = Path(paths[-1]).stem if paths else _default_name(data)
    try:
        cfg = Config.model_validate(data)
    except ValidationError as e:
        fallback = str(paths[-1]) if paths else DEFAULT_LABEL
        raise ConfigError("\n".join(format_validation_errors(e, data, origins, fallback))) from None
    return _absolute_data_paths(cfg, origins)
