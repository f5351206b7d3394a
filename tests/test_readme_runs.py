"""Every ```bash and ```python block of README runs as written, top to bottom, in one directory
after the Quickstart (issue 17), with every training shrunk so the whole README takes about a minute.

One test per block (`test_readme_block_runs[README.md:LINE]`), in README's order and sharing one
working directory, so a long run shows its progress and a failure names its block. A block that
cannot run here says so in README with a comment on the line before its fence:
`<!-- readme-test: skip <reason> -->` (a download, a long run; keep them few), or
`<!-- readme-test: needs MODULE ... -->` for one that needs an optional extra (skipped, naming the
extra, when it is not installed). The Quickstart's `pip install ... &&` prefixes are dropped: the
package under test is what runs (an `rnn` on PATH that runs this checkout).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import needs, proc_env

ROOT = Path(__file__).resolve().parents[1]
# The blocks share one directory (readme_dir) and build on each other: under pytest-xdist they all
# run on one worker, in README's order, because pyproject's addopts say `--dist loadfile`.
MARK = re.compile(r"<!--\s*readme-test:\s*(skip|needs)\b(.*?)-->")
# Commands that train get one epoch; bench times a couple of steps; a sweep runs two trials (README's
# own --trials is replaced, not overridden). The README numbers come from the commands as written;
# here only "does it run" is checked.
SHRINK = {"rnn train": "rnn train --set train.epochs=1", "rnn bench": "rnn bench --repeats 2 --warmup 0",
          "rnn sweep -c": "rnn sweep --trials 2 --set train.epochs=1 -c"}
# README's own sizes replaced by small ones (the same options, so the block runs as written).
SMALLER = [(re.compile(r"--trials \d+"), "--trials 2"),
           (re.compile(r"(rnn bench .*)--batch \d+"), r"\1--batch 4"),
           (re.compile(r"(rnn bench .*)--seq-len \d+"), r"\1--seq-len 8"),
           (re.compile(r"(rnn bench .*)--hidden \d+"), r"\1--hidden 16"),
           (re.compile(r"(rnn bench .*)--input \d+"), r"\1--input 4")]


@dataclass(frozen=True)
class Block:
    line: int  # of the opening fence, 1-based
    body: str
    lang: str  # bash | python
    skip: str | None = None  # the reason README gives
    needs: tuple[str, ...] = ()  # optional modules the block uses


def readme_blocks(text: str) -> list[Block]:
    """Every ```bash and ```python block, in order (the python blocks make the files the shell
    examples read), with the readme-test comment on the line before its fence."""
    blocks, lines = [], text.splitlines()
    for i, line in enumerate(lines):
        if line.strip() not in ("```bash", "```python"):
            continue
        end = next(j for j in range(i + 1, len(lines)) if lines[j].strip() == "```")
        mark = MARK.search(lines[i - 1] if i else "")
        kind, words = (mark.group(1), mark.group(2).strip()) if mark else (None, "")
        blocks.append(Block(i + 1, "\n".join(lines[i + 1:end]), line.strip()[3:],
                            skip=words if kind == "skip" else None,
                            needs=tuple(words.split()) if kind == "needs" else ()))
    return blocks


BLOCKS = readme_blocks((ROOT / "README.md").read_text(encoding="utf-8"))


def as_test(body: str) -> str:
    """The block with the install prefixes dropped and training shrunk."""
    out = []
    for line in body.splitlines():
        line = re.sub(r"^pip install [^&]*&&\s*", "", line)
        if re.match(r"^(pip install|python -m pytest)\b", line):
            continue
        for cmd, shrunk in SHRINK.items():
            line = re.sub(rf"(^|\| |&& ){re.escape(cmd)}\b", lambda m, s=shrunk: m.group(1) + s, line)
        for pattern, small in SMALLER:
            line = pattern.sub(small, line)
        out.append(line)
    return "\n".join(out)


def test_readme_blocks_parse_and_skips_are_few():
    assert len(BLOCKS) > 15
    skipped = [(b.line, b.skip) for b in BLOCKS if b.skip is not None]
    assert all(reason for _, reason in skipped), "every skip says why"
    assert len(skipped) <= len(BLOCKS) // 3, skipped
    from conftest import EXTRAS

    unknown = [(b.line, m) for b in BLOCKS for m in b.needs if m not in EXTRAS]
    assert not unknown, f"readme-test: needs names a module conftest.EXTRAS does not know: {unknown}"


def test_shrinking_reaches_every_training():
    shrunk = as_test("pip install -e . && rnn train -c a.yaml\n"
                     "rnn sweep -c b.yaml --param x=choice:1,2 --trials 12 --workers 2\n"
                     "rnn data sine -o - | rnn train --set data.source=-\n"
                     "rnn bench --batch 64 --seq-len 100 --input 64 --hidden 256 --dtype float32")
    assert shrunk.splitlines() == [
        "rnn train --set train.epochs=1 -c a.yaml",
        "rnn sweep --trials 2 --set train.epochs=1 -c b.yaml --param x=choice:1,2 --trials 2 --workers 2",
        "rnn data sine -o - | rnn train --set train.epochs=1 --set data.source=-",
        "rnn bench --repeats 2 --warmup 0 --batch 4 --seq-len 8 --input 4 --hidden 16 --dtype float32",
    ]


@pytest.fixture(scope="module")
def readme_dir(tmp_path_factory) -> tuple[Path, dict]:
    """The directory every block runs in (configs/ and data/ as in the repository), and the
    environment: `rnn` on PATH runs this checkout with this interpreter."""
    d = tmp_path_factory.mktemp("readme")
    for name in ("configs", "data"):
        shutil.copytree(ROOT / name, d / name)
    shim = tmp_path_factory.mktemp("bin")
    (shim / "rnn").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m rnncli "$@"\n')
    (shim / "rnn").chmod(0o755)
    env = proc_env(NO_COLOR="1")
    env["PATH"] = f"{shim}:{env['PATH']}"
    return d, env


@pytest.mark.slow
@pytest.mark.parametrize("block", [b for b in BLOCKS if b.skip is None],
                         ids=lambda b: f"README.md:{b.line}")
def test_readme_block_runs(block, readme_dir):
    cwd, env = readme_dir
    for module in block.needs:
        needs(module, f"README.md:{block.line}")
    if re.search(r"(^|\| )jq\b", block.body, re.M) and shutil.which("jq") is None:
        pytest.skip("the block pipes into jq (apt-get install jq)")
    script = as_test(block.body) if block.lang == "bash" else block.body
    argv = (["bash", "-e", "-o", "pipefail", "-c", script] if block.lang == "bash"
            else [sys.executable, "-c", script])
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=300,
                          stdin=subprocess.DEVNULL)
    where = f"README.md:{block.line}"
    assert proc.returncode == 0, f"{where} exit {proc.returncode}\n{script}\n{proc.stderr[-800:]}"
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
