"""Every ```bash block of README runs as written, top to bottom, in an empty directory after the
Quickstart (issue 17), with training shrunk to one epoch so the whole README takes about a minute.

A block that cannot run here says so in README with a comment on the line before its fence:
`<!-- readme-test: skip <reason> -->` (an optional extra, a download, a long run). Keep them few.
The Quickstart's `pip install ... &&` prefixes are dropped: the package under test is installed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SKIP = re.compile(r"<!--\s*readme-test:\s*skip\b(.*?)-->")
# Commands that train get one epoch; bench times a couple of steps (the README numbers come from
# the commands as written; here only "does it run" is checked).
SHRINK = {"rnn train": "rnn train --set train.epochs=1", "rnn bench": "rnn bench --repeats 2 --warmup 0",
          "rnn sweep -c": "rnn sweep --trials 2 -c"}


def readme_blocks(text: str) -> list[tuple[int, str, str | None, str]]:
    """(line number, body, skip reason or None, language) of every ```bash and ```python block, in
    order (the python blocks make the files the shell examples read)."""
    blocks, lines = [], text.splitlines()
    for i, line in enumerate(lines):
        if line.strip() not in ("```bash", "```python"):
            continue
        end = next(j for j in range(i + 1, len(lines)) if lines[j].strip() == "```")
        previous = lines[i - 1] if i else ""
        reason = SKIP.search(previous)
        blocks.append((i + 1, "\n".join(lines[i + 1:end]), reason.group(1).strip() if reason else None,
                       line.strip()[3:]))
    return blocks


def as_test(body: str) -> str:
    """The block with the install prefixes dropped and training shrunk."""
    out = []
    for line in body.splitlines():
        line = re.sub(r"^pip install [^&]*&&\s*", "", line)
        if re.match(r"^(pip install|python -m pytest)\b", line):
            continue
        for cmd, shrunk in SHRINK.items():
            line = re.sub(rf"(^|\| |&& ){re.escape(cmd)}\b", lambda m, s=shrunk: m.group(1) + s, line)
        out.append(line)
    return "\n".join(out)


def test_readme_blocks_parse_and_skips_are_few():
    blocks = readme_blocks((ROOT / "README.md").read_text(encoding="utf-8"))
    assert len(blocks) > 15
    skipped = [(n, reason) for n, _, reason, _ in blocks if reason is not None]
    assert all(reason for _, reason in skipped), "every skip says why"
    assert len(skipped) <= len(blocks) // 3, skipped


@pytest.mark.skipif(shutil.which("jq") is None or shutil.which("rnn") is None,
                    reason="README pipes into jq and calls the rnn script")
def test_every_readme_bash_block_runs(tmp_path):
    for name in ("configs", "data"):
        shutil.copytree(ROOT / name, tmp_path / name)
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "NO_COLOR": "1",
           "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)}
    failures = []
    for line, body, reason, lang in readme_blocks((ROOT / "README.md").read_text(encoding="utf-8")):
        if reason is not None:
            continue
        script = as_test(body) if lang == "bash" else body
        argv = (["bash", "-e", "-o", "pipefail", "-c", script] if lang == "bash"
                else [sys.executable, "-c", script])
        proc = subprocess.run(argv, cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
        if proc.returncode != 0:
            failures.append(f"README.md:{line} exit {proc.returncode}\n{script}\n{proc.stderr[-800:]}")
    assert not failures, "\n\n".join(failures)
