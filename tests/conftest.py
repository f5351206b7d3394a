"""The one test harness: run `rnn`, check how it failed; and the fixtures every test file shares.

Every test that runs the CLI goes through `rnn(...)`; every test of bad input ends with
`assert_error(...)`. Test files import them (`from conftest import rnn, assert_error`) instead of
writing their own runner, so what "a clean failure" means is decided here, once:

    r = rnn("predict", run_dir, "missing.csv", "-o", out)       # in-process (CliRunner)
    assert_error(r, 2, "missing.csv", absent=[out])              # one line, exit 2, no out file

    r = rnn("predict", run_dir, "-", input=b"...", proc=True)    # a real `python -m rnncli` process
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
# `python -m rnncli`: the argv prefix of a real process (for Popen when a test needs signals or
# concurrency; `rnn(..., proc=True)` otherwise).
RNN = [sys.executable, "-m", "rnncli"]
# What Python or NumPy print when something escaped us; none may ever reach the user.
WARNING_MARKS = ("Warning:", "warnings.warn", "Traceback", "Exception ignored")


# The extra that brings each optional module (pyproject.toml's [project.optional-dependencies]).
EXTRAS = {
    "torch": "torch", "onnx": "export", "onnxruntime": "export", "safetensors": "export",
    "optuna": "sweep", "matplotlib": "plot", "tensorboardX": "tensorboard", "mlflow": "mlflow",
    "pyarrow": "parquet", "cupy": "cuda12", "radon": "dev",
}


def needs(module: str, what: str = ""):
    """Import an optional module, or skip (the test, or the whole file at module level) with a
    reason that names the extra to install: `pytest -rs` tells a contributor what did not run.
    `what` names the thing skipped when the test's own line does not (a README block)."""
    __tracebackhide__ = True  # the skip is reported at the test's line, not here
    extra = EXTRAS[module]
    how = f"pip install 'rnncli[{extra}]'"
    if module == "cupy":
        how += " (or cuda13) on a machine with a GPU"
    return pytest.importorskip(module, reason=f"{what + ' ' if what else ''}needs {module}: {how}")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """README's blocks first, then every file in its order: the longest file (about a third of the
    suite's CPU, one block after another) starts at once on a worker of its own instead of being
    the tail of a parallel run (pyproject's addopts: `--dist loadfile --no-loadscope-reorder`)."""
    items.sort(key=lambda item: item.path.name != "test_readme_runs.py")  # stable: order kept


@pytest.fixture(scope="session", autouse=True)
def no_terminal_width() -> Iterator[None]:
    """Every test starts without COLUMNS/LINES from whoever runs pytest.

    `rnn` wraps stderr at COLUMNS even when piped (cli/_common.err_console), so a check for a
    message holding a path would pass or fail with the length of the tmp path. pytest-xdist's
    workers export COLUMNS=80 (and so do some shells); a test of wrapping sets COLUMNS itself.
    """
    with pytest.MonkeyPatch.context() as mp:
        for name in ("COLUMNS", "LINES"):
            mp.delenv(name, raising=False)
        yield


@pytest.fixture
def rng() -> np.random.Generator:
    """A fresh, fixed-seed generator per test so each test is reproducible alone."""
    return np.random.default_rng(1234)


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """Run the block with one BLAS thread.

    On a loaded 2-core machine OpenBLAS threads fighting over small matrices made the tiny runs of
    the tests up to 30x slower (measured); one thread keeps each at about a second.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(1):
        yield


@pytest.fixture
def one_thread() -> Iterator[None]:
    """The test with one BLAS thread (`pytestmark = pytest.mark.usefixtures("one_thread")`)."""
    with one_blas_thread():
        yield


@pytest.fixture(scope="session", autouse=True)
def one_blas_thread_per_worker() -> Iterator[None]:
    """The whole session with one BLAS thread: pytest-xdist runs a worker per core (pyproject's
    addopts), and each worker's BLAS starting a thread per core as well would oversubscribe the
    machine (see one_blas_thread). A test that wants more threads asks for them (train.threads,
    --threads); `rnn` subprocesses get one thread through proc_env."""
    with one_blas_thread():
        yield


# ------------------------------------------------------------------------------- running `rnn`


@dataclass
class Ran:
    """A finished `rnn` process: what `rnn(..., proc=True)` returns (the fields CliRunner's result has)."""

    exit_code: int
    stdout: str
    stderr: str
    warnings: list[str] = field(default_factory=list)
    exception: BaseException | None = None

    @property
    def returncode(self) -> int:
        return self.exit_code

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def proc_env(**extra: str) -> dict[str, str]:
    """The environment of an `rnn` subprocess: this checkout's code first (it may not be
    installed), one BLAS thread, Python warnings shown (so a check sees any that would reach a
    user), and no RNN_DEBUG from the developer's shell (its tracebacks would fail the checks)."""
    env = dict(os.environ)
    env.pop("RNN_DEBUG", None)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    env.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
               PYTHONWARNINGS="default")
    env.update(extra)
    return env


def _limit_address_space(nbytes: int):
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (nbytes, nbytes))
    return apply


def rnn(*args, input: str | bytes | None = None, proc: bool = False, cwd: Path | None = None,
        env: dict | None = None, limit: int | None = None, timeout: float = 120):
    """Run `rnn ARGS` (each argument passed through str) and return its result.

    In-process by default (Typer's CliRunner): the result has exit_code, stdout, stderr, output,
    exception, and `warnings`, the Python warnings raised while it ran (a user would see them on
    stderr, which CliRunner does not capture).

    proc=True runs `python -m rnncli ARGS` in a subprocess instead, for what needs a real process
    (file descriptors, the interpreter's exit, an address-space `limit` in bytes); `cwd`, `env`
    (added to proc_env()) and `timeout` apply to it. Returns a Ran with the same fields.
    """
    argv = [str(a) for a in args]
    if proc:
        stdin = input.encode() if isinstance(input, str) else input
        done = subprocess.run([*RNN, *argv], input=stdin, capture_output=True, cwd=cwd,
                              env=proc_env(**(env or {})), timeout=timeout,
                              preexec_fn=_limit_address_space(limit) if limit else None)
        return Ran(done.returncode, done.stdout.decode(errors="replace"),
                   done.stderr.decode(errors="replace"))
    from typer.testing import CliRunner

    from rnncli.cli import app

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = CliRunner().invoke(app, argv, input=input)
    result.warnings = [f"{w.category.__name__}: {w.message}" for w in caught]
    return result


# ------------------------------------------------------------------------------- judging a failure


@dataclass
class Tree:
    """Every path under `root` at one moment, to check later that a command left nothing behind."""

    root: Path
    paths: list[Path]

    @classmethod
    def of(cls, root: Path) -> Tree:
        return cls(Path(root), sorted(p.relative_to(root) for p in Path(root).rglob("*")))

    def now(self) -> list[Path]:
        return Tree.of(self.root).paths


def error_lines(result) -> list[str]:
    """The `rnn: error:` lines of a result's stderr."""
    return [line for line in result.stderr.splitlines() if line.startswith("rnn: error: ")]


def assert_error(result, code: int, *needles: str, alone: bool = True, several: bool = False,
                 absent=(), unchanged: Tree | None = None) -> str:
    """Assert the one clean way to fail, and return the error line.

    Exit `code`; exactly one `rnn: error:` line, holding every needle; no traceback and no Python
    warning (printed or raised in-process); nothing on stdout. `alone`: the error line is all of
    stderr (False allows lines before it, such as training progress, but none after). Nothing left
    behind: no path in `absent` exists, and the directory `unchanged` snapshotted holds exactly
    what it held then. `several`: a config with several problems names each on its own line;
    then at least one `rnn: error:` line, every needle in one of them (the first is returned).
    """
    out, err = result.stdout or "", result.stderr or ""
    assert result.exit_code == code, (result.exit_code, out[-2000:], err[-2000:])
    assert getattr(result, "warnings", []) == [], result.warnings
    for mark in WARNING_MARKS:
        assert mark not in err + out, (mark, err[-2000:])
    assert out == "", out[:500]
    lines = [line for line in err.splitlines() if line.strip()]
    errors = error_lines(result)
    assert len(errors) == 1 or (several and errors), err[-2000:]
    assert lines[-len(errors):] == errors and (not alone or lines == errors), err[-2000:]
    for needle in needles:
        assert any(needle in line for line in errors), (needle, errors)
    for path in absent:
        assert not Path(path).exists(), path
    if unchanged is not None:
        assert unchanged.now() == unchanged.paths, unchanged.root
    return errors[0]


def assert_clean(result, codes=(0, 1, 2), *, alone: bool = False) -> None:
    """Whatever the input, an allowed exit code and no traceback; a failure says so in
    `rnn: error:` lines that end stderr (Click's own usage message aside); `alone`: and nothing
    else is on stderr."""
    # SystemExit is how every exit, 0 included, leaves a Click app; anything else escaped us.
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    text = result.stdout + result.stderr
    assert result.exit_code in codes, (result.exit_code, result.stderr, repr(result.exception))
    assert "Traceback" not in text and "internal error" not in text, result.stderr
    if result.exit_code != 0 and not result.stderr.startswith("Usage:"):
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        errors = error_lines(result)
        assert errors, result.stderr
        # progress lines may precede a runtime failure, never follow the error
        assert lines[-len(errors):] == errors, result.stderr
        assert not alone or lines == errors, result.stderr


# The tiny trained runs many test files use (tests/battery.py), made once per test session.
from battery import gru_run, lstm_run, text_model, trained  # noqa: E402, F401
