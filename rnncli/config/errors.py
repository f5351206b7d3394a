"""Turn pydantic validation errors into one self-contained line each.

`<file>:<line>:<col>: <dotted.key>: <problem> (got <value>)`, with "did you mean ...?"
for unknown keys. Positions come from the loader's `Origin` records.
"""

from __future__ import annotations

import difflib
import json
import re
import reprlib
import types
import typing
from typing import Any

from pydantic import BaseModel, ValidationError

from rnncli.config.schema import Config

Key = tuple[str, ...]

_EXPECTED = {
    "int_type": "expected an integer",
    "int_parsing": "expected an integer",
    "int_from_float": "expected an integer",
    "float_type": "expected a number",
    "float_parsing": "expected a number",
    "bool_not_number": "expected a number",
    "finite_number": "expected a finite number",
    "bool_type": "expected true or false",
    "bool_parsing": "expected true or false",
    "string_type": "expected a string",
    "model_type": "expected a mapping of keys",
    "model_attributes_type": "expected a mapping of keys",
    "dict_type": "expected a mapping of keys",
    "list_type": "expected a list",
    "tuple_type": "expected a list",
    "missing": "missing value",
}
_BOUNDS = {
    "greater_than": ("gt", ">"),
    "greater_than_equal": ("ge", ">="),
    "less_than": ("lt", "<"),
    "less_than_equal": ("le", "<="),
}
_DOTTED = re.compile(r"^([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+)\b")


_SHORT = reprlib.Repr()
_SHORT.maxlevel, _SHORT.maxdict, _SHORT.maxlist, _SHORT.maxtuple = 2, 4, 6, 6
_SHORT.maxstring, _SHORT.maxother = 60, 60


def show_value(value: Any) -> str:
    """A value as the user would have written it in YAML, kept short: never serialises more than a
    few elements of a container or digits of a number, whatever its size."""
    if isinstance(value, bool) or value is None:
        text = json.dumps(value)
    elif isinstance(value, int) and value.bit_length() > 200:
        text = f"an integer of about {int(value.bit_length() * 0.30103)} digits"
    elif isinstance(value, (dict, list, tuple)):
        text = _SHORT.repr(value)
    elif isinstance(value, str):
        text = repr(value[:80])
    else:
        text = _SHORT.repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def section_fields(path: Key) -> list[str]:
    """Valid key names in the section at `path` (e.g. ("model",)), or [] if unknown."""
    model: type[BaseModel] = Config
    for k in path:
        field = model.model_fields.get(k)
        if field is None:
            return []
        sub = _model_in(field.annotation)
        if sub is None:
            return []
        model = sub
    return list(model.model_fields)


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        for a in typing.get_args(annotation):
            if (m := _model_in(a)) is not None:
                return m
    return None


def _dotted(path: Key) -> str:
    out = ""
    for k in path:
        out += f"[{k}]" if k.isdigit() and out else (f".{k}" if out else k)
    return out


def _key_path(loc: tuple, data: Any) -> Key:
    """pydantic's loc without union branch tags ("str", "int", ...): the keys the user wrote."""
    keys: list[str] = []
    cur = data
    for el in loc:
        if isinstance(cur, dict) and el in cur:
            cur = cur[el]
        elif isinstance(cur, (list, tuple)) and isinstance(el, int) and 0 <= el < len(cur):
            cur = cur[el]
        elif isinstance(el, int) and isinstance(cur, (list, tuple)):
            cur = None  # a missing tuple item: keep the index, nothing below it
        else:
            continue
        keys.append(str(el))
    return tuple(keys)


def _problem(err: dict, path: Key) -> str:
    kind, ctx = err["type"], err.get("ctx") or {}
    got = f" (got {show_value(err['input'])})"
    if kind == "extra_forbidden":
        valid = section_fields(path[:-1])
        close = difflib.get_close_matches(path[-1], valid, n=1, cutoff=0.6)
        if close:
            return f"unknown key (did you mean {close[0]}?)"
        return f"unknown key (valid keys: {', '.join(valid)})" if valid else "unknown key"
    if kind in _BOUNDS:
        name, op = _BOUNDS[kind]
        bound = ctx.get(name)
        if isinstance(bound, float) and bound.is_integer():
            bound = int(bound)  # pydantic reports gt=0 on a float field as 0.0
        return f"must be {op} {bound}{got}"
    if kind == "literal_error":
        return f"must be {ctx.get('expected')}{got}"
    if kind in _EXPECTED:
        return _EXPECTED[kind] + ("" if kind == "missing" else got)
    msg = str(err["msg"])
    if kind == "value_error":
        return msg.removeprefix("Value error, ")
    return (msg[:1].lower() + msg[1:]) + got


def _origin_for(path: Key, origins: dict) -> Any:
    for n in range(len(path), 0, -1):
        if path[:n] in origins:
            return origins[path[:n]]
    return None


def format_validation_errors(
    exc: ValidationError, data: dict, origins: dict, fallback_label: str
) -> list[str]:
    """One line per distinct problem, in the order pydantic found them."""
    lines: dict[str, list[str]] = {}
    order: dict[str, tuple[int, tuple[int, int]]] = {}
    labels = list(dict.fromkeys(o.label for o in origins.values()))
    for err in exc.errors():
        path = _key_path(err["loc"], data)
        problem = _problem(err, path)
        # A section-level check names its own key ("data.min_len 60 is larger ..."):
        # point at that key and do not repeat it.
        m = _DOTTED.match(problem) if err["type"] == "value_error" else None
        # A check across sections (path ()) names its key first; point at that key.
        if m and (not path or tuple(m.group(1).split("."))[:1] == path[:1]):
            path, prefix = tuple(m.group(1).split(".")), ""
        else:
            prefix = f"{_dotted(path)}: " if path else ""
        origin = _origin_for(path, origins)
        exact = origin is not None and path in origins
        if origin is None:
            where = fallback_label
        else:
            where = origin.where(at_key=err["type"] == "extra_forbidden" or not exact)
        head = f"{where}: {prefix}"
        lines.setdefault(head, []).append(problem)
        mark = (origin.key_mark or (0, 0)) if origin else (0, 0)
        order.setdefault(head, (labels.index(origin.label) if origin else -1, mark))
    out = []
    # Report in reading order: file by file (as merged), then line and column.
    for head in sorted(lines, key=lambda h: order[h]):
        problems = lines[head]
        # Union branches each report an "expected ..."; say it once: "expected a string or an integer".
        merged = problems[0]
        for p in problems[1:]:
            if p.startswith("expected ") and merged.startswith("expected "):
                a, _, got = merged.partition(" (got ")
                merged = f"{a} or {p.removeprefix('expected ').split(' (got ')[0]}" + (
                    f" (got {got}" if got else ""
                )
            else:
                out.append(head + p)
        out.append(head + merged)
    return out
