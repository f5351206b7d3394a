"""Every example of the README's "Your data" section runs as written (python and bash blocks, in order)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def _section(title: str) -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index(f"## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


def blocks(title: str) -> list[tuple[str, str]]:
    """(language, code) of every fenced python/bash block of a README section."""
    return re.findall(r"```(python|bash)\n(.*?)```", _section(title), flags=re.S)


def test_your_data_examples_run(tmp_path):
    found = blocks("Your data")
    assert [lang for lang, _ in found].count("bash") >= 1 and found[0][0] == "python"
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "NO_COLOR": "1"}
    # `rnn` is the installed script; run it with this interpreter so the tested code is used
    shim = tmp_path / "bin"
    shim.mkdir()
    (shim / "rnn").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m rnncli "$@"\n')
    (shim / "rnn").chmod(0o755)
    env["PATH"] = f"{shim}{os.pathsep}{env['PATH']}"
    for lang, code in found:
        cmd = [sys.executable, "-c", code] if lang == "python" else [
            "bash", "-c", "set -euo pipefail\n" + code]
        res = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True,
                             timeout=300)
        assert res.returncode == 0, (code, res.stdout[-2000:], res.stderr[-2000:])
        assert "Traceback" not in res.stderr
