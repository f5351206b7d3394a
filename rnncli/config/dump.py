"""Writing configs out: resolved dict/YAML (loads back identical), JSON Schema, reference table."""

from __future__ import annotations

import types
import typing
from typing import Any, Literal

import yaml
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from rnncli.config.schema import Config
from rnncli.data.options import applicable_fields

__all__ = ["config_reference_markdown", "config_schema", "config_to_dict", "config_to_yaml", "flatten"]


def config_to_dict(cfg: Config) -> dict[str, Any]:
    """Every key with its value (defaults included), JSON/YAML-able.

    The `data` section lists only the options its source reads; the others are at their
    defaults (DataConfig refuses anything else), so the dump still loads back identical.
    """
    d = cfg.model_dump(mode="json")
    keep = applicable_fields(cfg.data.source, cfg.data.format)
    d["data"] = {k: v for k, v in d["data"].items() if k in keep}
    return d


def flatten(d: Any, prefix: str = "") -> dict[str, Any]:
    """{"train": {"lr": 0.1}} -> {"train.lr": 0.1}; lists stay values."""
    if not isinstance(d, dict):
        return {prefix: d} if prefix else {}
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}.{k}" if prefix else str(k)
        if isinstance(v, dict) and v:
            out.update(flatten(v, key))
        else:
            out[key] = v
    return out


def config_to_yaml(cfg: Config) -> str:
    """The resolved config as YAML; `load_config([file])` on it gives back an equal Config."""
    return yaml.dump(
        config_to_dict(cfg),
        Dumper=_Dumper,
        default_flow_style=False,
        sort_keys=False,
        allow_unicode=True,
    )


class _Dumper(yaml.SafeDumper):
    """Block mappings, but lists inline (`freq_range: [0.02, 0.1]`)."""


_Dumper.add_representer(list, lambda d, v: d.represent_sequence("tag:yaml.org,2002:seq", v, flow_style=True))


def config_schema() -> dict[str, Any]:
    """JSON Schema of the config file (for editor completion and validation)."""
    schema = Config.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "rnn config"
    return schema


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    if origin is Literal:
        return " \\| ".join(f"`{a}`" for a in typing.get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        name = " \\| ".join(_type_name(a) for a in args)
        return f"{name} \\| null" if len(args) < len(typing.get_args(annotation)) else name
    if origin in (list, tuple):
        args = typing.get_args(annotation)
        if origin is tuple:
            return "[" + ", ".join(_type_name(a) for a in args) + "]"
        return f"list[{_type_name(args[0])}]" if args else "list"
    return getattr(annotation, "__name__", str(annotation))


def _constraints(field: FieldInfo) -> str:
    ops = {"gt": ">", "ge": "≥", "lt": "<", "le": "≤", "min_length": "length ≥", "max_length": "length ≤"}
    parts = []
    for m in field.metadata:
        for attr, op in ops.items():
            if getattr(m, attr, None) is not None:
                parts.append(f"{op} {getattr(m, attr)}")
    return ", ".join(parts)


def _default(field: FieldInfo) -> str:
    if field.default_factory is not None:
        return ""
    value = field.default
    if isinstance(value, tuple):
        value = list(value)
    text = yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip()
    return f"`{text}`"


def _rows(model: type[BaseModel], prefix: str) -> list[str]:
    rows = []
    for name, field in model.model_fields.items():
        sub = field.annotation
        if isinstance(sub, type) and issubclass(sub, BaseModel):
            continue  # sections get their own block of rows
        typ = _type_name(field.annotation)
        if cons := _constraints(field):
            typ += f" ({cons})"
        desc = (field.description or "").replace("|", "\\|")
        rows.append(f"| `{prefix}{name}` | {typ} | {_default(field)} | {desc} |")
    return rows


def config_reference_markdown() -> str:
    """A markdown table of every config key: type (with bounds), default, description."""
    lines = ["| key | type | default | description |", "|---|---|---|---|"]
    lines += _rows(Config, "")
    for name, field in Config.model_fields.items():
        sub = field.annotation
        if isinstance(sub, type) and issubclass(sub, BaseModel):
            lines += _rows(sub, f"{name}.")
    return "\n".join(lines) + "\n"
