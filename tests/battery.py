"""The bad-input battery: cases, the files they write, and the tiny trained runs they corrupt.

Used by test_reliability.py and the test_hostile_*.py tables. A case runs the real CLI through the
harness (conftest.rnn: in-process with CliRunner, or a subprocess when it needs real file
descriptors, signals or an address-space limit) and conftest.assert_error judges it: the exit code;
exactly one `rnn: error:` line holding every needle (the file, key, line or value at fault); no
traceback and no Python warning anywhere; nothing on stdout; and no file or directory left behind
that was not there before.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from conftest import Tree, assert_error, rnn

TINY = ["--set", "data.num_samples=64", "--set", "data.seq_len=10", "--set", "model.hidden_size=8",
        "--set", "train.epochs=2", "--set", "train.batch_size=16"]
# For file sources: only keys every source accepts.
FILE_TINY = ["--set", "model.hidden_size=4", "--set", "train.epochs=1", "-q"]


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


def run_case(case: Case, tmp: Path, trained: Path | None, monkeypatch) -> str:
    """Materialise, run in-process, check; also that nothing new appeared under `tmp`."""
    materialise(tmp, case.files, trained)
    monkeypatch.chdir(tmp)  # a default runs/ directory would land (and be seen) here
    before = Tree.of(tmp)
    args = [a.format(d=tmp, w=trained) for a in case.args]
    result = rnn(*args, input=case.stdin)
    return assert_error(result, case.code, *case.needles, absent=[tmp / p for p in case.absent],
                        unchanged=before)


# A bomb case's address-space limit: ample for the interpreter, NumPy and the app (~0.5 GiB
# virtual), far below anything a bomb would take, so a regression dies fast with MemoryError.
BOMB_LIMIT = 1536 << 20


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


@pytest.fixture(scope="session")
def trained(tmp_path_factory) -> Path:
    """A tiny sine regression run (1 input feature) whose weights the cases corrupt or use."""
    run_dir = tmp_path_factory.mktemp("trained") / "sine"
    result = rnn("train", *TINY, "-o", str(run_dir), "-q")
    assert result.exit_code == 0, result.stderr
    return run_dir


@pytest.fixture(scope="session")
def text_model(tmp_path_factory) -> Path:
    """A tiny character-level model (for sample and text predict cases)."""
    d = tmp_path_factory.mktemp("text")
    (d / "t.txt").write_text("the quick brown fox jumps over the lazy dog. " * 20)
    result = rnn("train", "--set", f"data.source={d / 't.txt'}", "--set", "model.hidden_size=8",
                 "--set", "train.epochs=1", "-q", "-o", str(d / "run"))
    assert result.exit_code == 0, result.stderr
    return d / "run"


def _tiny_cell_run(tmp_path_factory, cell: str) -> Path:
    run_dir = tmp_path_factory.mktemp(cell) / "run"
    result = rnn("train", *TINY, "--set", f"model.cell={cell}", "-o", str(run_dir), "-q")
    assert result.exit_code == 0, result.stderr
    return run_dir


@pytest.fixture(scope="session")
def gru_run(tmp_path_factory) -> Path:
    """The tiny sine regression with model.cell gru (for gated-cell cases)."""
    return _tiny_cell_run(tmp_path_factory, "gru")


@pytest.fixture(scope="session")
def lstm_run(tmp_path_factory) -> Path:
    """The tiny sine regression with model.cell lstm (c state in its checkpoint)."""
    return _tiny_cell_run(tmp_path_factory, "lstm")
