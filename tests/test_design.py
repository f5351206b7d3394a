"""docs/DESIGN.md is the map of the code: every module under rnncli/ is named in it.

A module counts as named when DESIGN.md holds its file name (`loader.py`, also as `config/loader.py`)
or its path without the suffix (`config/yamlsafe`, as in `config/yamlsafe.load_yaml_bounded`).
Package inits and __main__.py are described with their package.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DESIGN = ROOT / "docs" / "DESIGN.md"


def unnamed_modules(text: str) -> list[str]:
    missing = []
    for path in sorted((ROOT / "rnncli").rglob("*.py")):
        if path.name in ("__init__.py", "__main__.py"):
            continue
        rel = path.relative_to(ROOT / "rnncli").with_suffix("").as_posix()
        if re.search(rf"(?<![\w.]){re.escape(path.name)}\b", text) or re.search(
                rf"(?<![\w/]){re.escape(rel)}\b", text):
            continue
        missing.append(rel + ".py")
    return missing


def test_every_module_is_named_in_design():
    missing = unnamed_modules(DESIGN.read_text(encoding="utf-8"))
    assert not missing, (
        "docs/DESIGN.md does not name " + ", ".join(f"rnncli/{m}" for m in missing) + ". Add each to "
        "its package's paragraph under '## The packages' as `name.py` with one clause on what it owns, "
        "e.g. `loader.py` (YAML files merged in order, --set, positions in errors).")


def test_the_check_sees_a_missing_module():
    assert "data/formats/parquet.py" in unnamed_modules("`npz.py` and `csv.py`")
    assert "data/formats/parquet.py" not in unnamed_modules("a table: `formats/parquet.py`")
    assert "config/yamlsafe.py" not in unnamed_modules("`config/yamlsafe.load_yaml_bounded`")
