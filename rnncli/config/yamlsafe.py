"""YAML read with every bomb refused before it is built: the only way rnn parses YAML.

`yaml.safe_load` never runs code, but it will happily build what a few hundred bytes of nested
aliases describe (billions of values), recurse until Python gives up on deep nesting, and stop on
integers longer than 4300 digits with a ValueError. Here the document is composed into its node
graph first (aliases are shared nodes, so this costs what the text costs), its expanded size and
depth are computed on that graph, and only a document within the bounds is constructed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from rnncli.errors import RnnError
from rnncli.fsutil import check_readable_file

__all__ = ["MAX_CONFIG_BYTES", "MAX_YAML_DEPTH", "MAX_YAML_VALUES", "load_yaml_bounded", "read_yaml_file",
           "yaml_problem"]

# A config holds a few hundred values in a few levels; anything far beyond is not a config (an alias
# "billion laughs" expands 500 bytes into billions of values) and is refused before it is built.
MAX_CONFIG_BYTES = 1 << 20
MAX_YAML_VALUES = 10_000
MAX_YAML_DEPTH = 24
_MAX_INT_DIGITS = 30  # larger integers are no size, count or seed rnn can use


class _BoundedLoader(yaml.SafeLoader):
    """safe_load's constructors, refusing integers too long to be a setting (Python refuses to
    convert more than 4300 digits; anything past 30 is an error either way)."""

    def construct_yaml_int(self, node):
        digits = str(node.value).lstrip("+-").replace("_", "")
        if len(digits) > _MAX_INT_DIGITS:
            raise yaml.constructor.ConstructorError(
                None, None, f"integer with {len(digits)} digits is too large", node.start_mark)
        return super().construct_yaml_int(node)


_BoundedLoader.add_constructor("tag:yaml.org,2002:int", _BoundedLoader.construct_yaml_int)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def _bounds_problem(root: yaml.Node) -> tuple[yaml.Node, str] | None:
    """(node, why) if the document, with every alias expanded, has more than MAX_YAML_VALUES values,
    nests deeper than MAX_YAML_DEPTH or refers to itself; computed on the alias graph (each node
    once, iteratively), so the check costs what the text costs, never what it expands to."""
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    stack, open_ = [(root, False)], set()
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            open_.discard(key)
            kids = _children(node)
            size[key] = 1 + sum(size[id(c)] for c in kids)
            depth[key] = 1 + max((depth[id(c)] for c in kids), default=0)
            if size[key] > MAX_YAML_VALUES:
                return node, f"expands to more than {MAX_YAML_VALUES} values (aliases?); not a config"
            if depth[key] > MAX_YAML_DEPTH:
                return node, f"nests deeper than {MAX_YAML_DEPTH} levels; not a config"
        elif key in open_:
            return node, "an alias refers to the value that contains it"
        elif key not in size:
            open_.add(key)
            stack.append((node, True))
            stack.extend((c, False) for c in _children(node))
    return None


def load_yaml_bounded(text: str) -> tuple[yaml.Node | None, Any]:
    """(node tree, value) of one YAML document, refusing bombs before anything is built.

    Raises:
        yaml.YAMLError: syntax errors, and bombs as a MarkedYAMLError at the offending node.
    """
    try:
        node = yaml.compose(text, Loader=_BoundedLoader)
    except RecursionError:
        raise yaml.YAMLError(f"nests deeper than {MAX_YAML_DEPTH} levels; not a config") from None
    if node is None:
        return None, None
    problem = _bounds_problem(node)
    if problem:
        raise yaml.MarkedYAMLError(problem=problem[1], problem_mark=problem[0].start_mark)
    return node, _BoundedLoader("").construct_document(node)


def yaml_problem(e: yaml.YAMLError) -> tuple[tuple[int, int] | None, str]:
    """Position and a one-line description of a YAML syntax error."""
    if isinstance(e, yaml.MarkedYAMLError):
        mark = e.problem_mark or e.context_mark
        pos = (mark.line + 1, mark.column + 1) if mark else None
        text = e.problem or e.context or "syntax error"
        if e.problem and e.context:
            text = f"{e.problem} ({e.context})"
        return pos, " ".join(str(text).split())
    return None, " ".join(str(e).split())


def read_yaml_file(path: Path, label: str, error: type[RnnError]) -> Any:
    """The value of the YAML file `path`, read within the config limits (size, values, depth).

    Every problem is one `error` line starting with `label` (e.g. "--space FILE") and, for syntax,
    the line and column: a YAML file the tool reads for anything but a config goes through here.
    """
    check_readable_file(path, label, error)
    try:
        if path.stat().st_size > MAX_CONFIG_BYTES:
            raise error(f"{label}: larger than {MAX_CONFIG_BYTES >> 20} MiB; not a settings file")
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise error(f"{label}: cannot read ({e.strerror})") from None
    except UnicodeDecodeError as e:
        raise error(f"{label}: not a UTF-8 text file (byte {e.start})") from None
    try:
        return load_yaml_bounded(text)[1]
    except yaml.YAMLError as e:
        pos, problem = yaml_problem(e)
        where = f"{label}:{pos[0]}:{pos[1]}" if pos else label
        raise error(f"{where}: invalid YAML: {problem}") from None

