"""The package's import graph: no cycles, and each package imports only the ones below it.

Layers, top to bottom (docs/DESIGN.md): cli -> tools -> use -> training -> config -> data -> core.
The top-level modules errors, run_layout, fsutil, memory and weights are shared by every layer and import
only core and each other. Function-level imports count too: one placed inside a function to dodge a
cycle is still a cycle in the design.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from conftest import needs

PACKAGE = Path(__file__).resolve().parent.parent / "rnncli"
LAYERS = ["cli", "tools", "use", "training", "config", "data", "core"]
SHARED = {"errors", "run_layout", "fsutil", "memory", "weights", "__init__", "__main__"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def imported_modules(path: Path) -> set[str]:
    """rnncli modules that `path` imports, anywhere in the file; `from pkg import name` resolves to
    pkg.name when that is a module, else pkg."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in MODULES else node.module
                     for a in node.names]
        else:
            continue
        found.update(n for n in names if n.split(".")[0] == "rnncli" and n in MODULES)
    return found


def graph() -> dict[str, set[str]]:
    """Edges of the import graph; importing a.b.c also runs the package inits a and a.b."""
    edges = {}
    for name, path in MODULES.items():
        targets = set()
        for target in imported_modules(path):
            parts = target.split(".")
            targets.update(".".join(parts[:i]) for i in range(2, len(parts) + 1))
        edges[name] = {t for t in targets if t != name and not name.startswith(t + ".")}
    return edges


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph as a list of modules, or None (iterative depth-first search)."""
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    for root in sorted(edges):
        if state.get(root):
            continue
        path, stack = [root], [iter(sorted(edges[root]))]
        state[root] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            elif not state.get(nxt):
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(sorted(edges.get(nxt, ()))))
    return None


def test_no_import_cycle():
    assert find_cycle(graph()) is None, " -> ".join(find_cycle(graph()) or [])


def test_find_cycle_sees_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def layer_of(module: str) -> str:
    part = module.split(".")[1] if "." in module else "__init__"
    return part if part in LAYERS else "shared"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_go_down_the_layers(module):
    mine = layer_of(module)
    for target in imported_modules(MODULES[module]):
        theirs = layer_of(target)
        if module in ("rnncli", "rnncli.__main__") or theirs == mine:
            continue
        if mine == "shared":
            assert theirs in ("shared", "core"), f"{module} (shared) imports {target}"
        elif theirs != "shared":
            assert LAYERS.index(theirs) > LAYERS.index(mine), f"{module} imports upward: {target}"


@pytest.mark.parametrize("module", sorted(m for m in MODULES if layer_of(m) != "cli"))
def test_only_cli_prints(module):
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)]
    assert not [c.lineno for c in calls if c.func.id == "print"], f"{module} calls print()"
    names = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))
             for a in n.names} | {(n.module or "").split(".")[0] for n in ast.walk(tree)
                                  if isinstance(n, ast.ImportFrom)}
    assert not names & {"typer", "click"}, f"{module} imports the CLI framework"


def test_core_imports_only_numpy():
    for name, path in MODULES.items():
        if layer_of(name) != "core":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        roots = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        roots |= {n.module.split(".")[0] for n in ast.walk(tree)
                  if isinstance(n, ast.ImportFrom) and n.module}
        assert roots <= {"numpy", "rnncli", "__future__", "math", "dataclasses", "typing", "collections"}, \
            f"{name} imports {sorted(roots)}"


# A function's cyclomatic complexity as radon counts it: its branches, loops and handlers, and each
# `and`/`or` (ruff's C901 misses those). A function over the limit is split along a seam a reader
# would name; tests/complexity_debt.txt lists the ones that were over it when the gate came, each
# with its score, which may only go down: the list only shrinks.
MAX_COMPLEXITY = 10
DEBT = Path(__file__).resolve().parent / "complexity_debt.txt"


def complexities() -> dict[str, int]:
    """{"module:function": complexity} of every function and method under rnncli/."""
    from radon.complexity import cc_visit
    from radon.visitors import Function

    return {f"{name}:{block.fullname}": block.complexity
            for name, path in MODULES.items() for block in cc_visit(path.read_text(encoding="utf-8"))
            if isinstance(block, Function)}


def debt() -> dict[str, int]:
    lines = [line.split() for line in DEBT.read_text(encoding="utf-8").splitlines()
             if line.strip() and not line.startswith("#")]
    return {where: int(score) for where, score in lines}


def test_functions_stay_simple_enough_to_read():
    needs("radon")
    found, owed = complexities(), debt()
    new = {w: c for w, c in found.items() if c > MAX_COMPLEXITY and w not in owed}
    assert not new, (f"over complexity {MAX_COMPLEXITY} (radon cc, and/or counted): {new}; split each "
                     "along a seam (a helper a reader would name), never by compacting the code")
    grown = {w: (owed[w], c) for w, c in found.items() if w in owed and c > owed[w]}
    assert not grown, f"functions in tests/complexity_debt.txt grew (listed, now): {grown}"
    paid = sorted(w for w in owed if found.get(w, 0) <= MAX_COMPLEXITY)
    assert not paid, f"remove from tests/complexity_debt.txt (gone or now <= {MAX_COMPLEXITY}): {paid}"
    lower = {w: (owed[w], found[w]) for w in owed if MAX_COMPLEXITY < found.get(w, 0) < owed[w]}
    assert not lower, f"lower their scores in tests/complexity_debt.txt (listed, now): {lower}"
