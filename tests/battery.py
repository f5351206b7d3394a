"""The bad-input battery's runner, shared by test_reliability.py and the test_hostile_*.py tables.

A case runs the real CLI (in-process with CliRunner, or in a subprocess when it needs real file
descriptors, signals or an address-space limit) and `check` asserts: the exit code; exactly one
`rnn: error:` line holding every needle (the file, key, line or value at fault); no traceback and
no Python warning anywhere; nothing on stdout; and no file or directory left behind that was not
there before.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from rnncli.cli import app

REPO = Path(__file__).resolve().parents[1]
TINY = ["--set", "data.num_samples=64", "--set", "data.seq_len=10", "--set", "model.hidden_size=8",
        "--set", "train.epochs=2", "--set", "train.batch_size=16"]
# For file sources: only keys every source accepts.
FILE_TINY = ["--set", "model.hidden_size=4", "--set", "train.epochs=1", "-q"]
# Warnings Python or NumPy print on stderr; none may ever reach the user.
WARNING_MARKS = ("Warning:", "warnings.warn", "Traceback", "Exception ignored")


def run(*args: str, input: str | bytes | None = None):
    """The CLI in-process; Python warnings it raised are kept in `result.warnings` (a user would see
    them on stderr, which CliRunner does not capture)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = CliRunner().invoke(app, list(args), input=input)
    result.warnings = [f"{w.category.__name__}: {w.message}" for w in caught]
    return result


def error_lines(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("rnn: error: ")]


@dataclass
class Case:
    """One bad input: files to write (name -> text/bytes/callable(trained)), argv ({d} = tmp dir,
    {w} = trained run), expected code, needles that must appear in the error line, and paths
    (relative to the tmp dir) that must not exist afterwards."""

    args: list[str]
    needles: tuple[str, ...]
    files: dict = field(default_factory=dict)
    code: int = 2
    stdin: str | bytes | None = None
    absent: tuple[str, ...] = ("out", "out.csv")
    click: bool = False  # a usage error Click reports itself (its own format, still exit 2)


def materialise(tmp: Path, files: dict, trained: Path | None) -> None:
    for name, content in files.items():
        path = tmp / name
        if name.endswith("/"):
            path.mkdir(parents=True, exist_ok=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        if callable(content):
            content = content(trained)
        if isinstance(content, str):
            path.write_text(content)
        else:
            path.write_bytes(content)


def tree(root: Path) -> list[Path]:
    return sorted(p.relative_to(root) for p in root.rglob("*"))


def check(code: int, stdout: str, stderr: str, expected: int, needles=()) -> str:
    """The battery's assertions on one finished command; returns its error line."""
    assert code == expected, (code, stdout[-2000:], stderr[-2000:])
    for mark in WARNING_MARKS:
        assert mark not in stderr + stdout, (mark, stderr[-2000:])
    assert stdout == "", stdout[:500]
    lines = [line for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("rnn: error: ")]
    assert len(errors) == 1 and lines == errors, stderr[-2000:]  # one problem, one line, nothing else
    for needle in needles:
        assert needle in errors[0], (needle, errors[0])
    return errors[0]


def check_result(result, expected: int, needles=()) -> str:
    """`check` on an in-process result, and no Python warning raised while it ran."""
    assert getattr(result, "warnings", []) == [], result.warnings
    return check(result.exit_code, result.stdout, result.stderr, expected, needles)


def run_case(case: Case, tmp: Path, trained: Path | None, monkeypatch) -> str:
    """Materialise, run in-process, check; also that nothing new appeared under `tmp`."""
    materialise(tmp, case.files, trained)
    monkeypatch.chdir(tmp)  # a default runs/ directory would land (and be seen) here
    before = tree(tmp)
    args = [a.format(d=tmp, w=trained) for a in case.args]
    result = run(*args, input=case.stdin)
    line = check_result(result, case.code, case.needles)
    for path in case.absent:
        assert not (tmp / path).exists(), path
    assert tree(tmp) == before
    return line


def env() -> dict:
    e = dict(os.environ)
    e["PYTHONPATH"] = os.pathsep.join([str(REPO), e.get("PYTHONPATH", "")])
    e.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONWARNINGS="default")
    return e


def _limit_address_space(nbytes: int):
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (nbytes, nbytes))
    return apply


# A bomb case's address-space limit: ample for the interpreter, NumPy and the app (~0.5 GiB
# virtual), far below anything a bomb would take, so a regression dies fast with MemoryError.
BOMB_LIMIT = 1536 << 20


def run_proc(args: list[str], *, cwd: Path, stdin: bytes | None = None, limit: int | None = BOMB_LIMIT,
             timeout: float = 60, extra_env: dict | None = None) -> subprocess.CompletedProcess:
    """`python -m rnncli ARGS` in a subprocess under an address-space limit; text output."""
    e = env() | (extra_env or {})
    proc = subprocess.run([sys.executable, "-m", "rnncli", *args], input=stdin, capture_output=True,
                          cwd=cwd, env=e, timeout=timeout,
                          preexec_fn=_limit_address_space(limit) if limit else None)
    proc.stdout, proc.stderr = proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace")
    return proc


def npz_bytes(**arrays) -> bytes:
    import io

    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def weights_with(trained: Path, *, drop=(), replace=None, meta=None) -> bytes:
    """The trained model.npz with parameters dropped/replaced or meta rewritten (raw arrays)."""
    with np.load(trained / "model.npz", allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files if k not in drop}
    arrays.update(replace or {})
    if meta is not None:
        arrays["meta"] = np.array(meta(str(arrays["meta"])))
    return npz_bytes(**arrays)


def with_model_meta(**changes):
    """A file maker: the trained weights with meta.model entries replaced."""
    def edit(text: str) -> str:
        meta = json.loads(text)
        meta["model"].update(changes)
        return json.dumps(meta)
    return lambda w: weights_with(w, meta=edit)


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A tiny sine regression run (1 input feature) whose weights the cases corrupt or use."""
    run_dir = tmp_path_factory.mktemp("trained") / "sine"
    result = run("train", *TINY, "-o", str(run_dir), "-q")
    assert result.exit_code == 0, result.stderr
    return run_dir


@pytest.fixture(scope="module")
def text_model(tmp_path_factory) -> Path:
    """A tiny character-level model (for sample and text predict cases)."""
    d = tmp_path_factory.mktemp("text")
    (d / "t.txt").write_text("the quick brown fox jumps over the lazy dog. " * 20)
    result = run("train", "--set", f"data.source={d / 't.txt'}", "--set", "model.hidden_size=8",
                 "--set", "train.epochs=1", "-q", "-o", str(d / "run"))
    assert result.exit_code == 0, result.stderr
    return d / "run"
