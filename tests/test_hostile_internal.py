"""Issue 22 battery, the last internal errors: inputs that crashed deep inside (StopIteration, a
ValueError naming the wrong key, IndexError, TypeError) are one `rnn: error:` line, exit 2, naming
the file, key or value. Weights meta goes through one validation (data/taskmeta.model_and_task) for
every reader, --init-from included; a checkpoint's generator and optimizer states are checked
before --resume uses them.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from battery import TINY, Case, npz_bytes, run_case, weights_with
from conftest import assert_error, rnn

OUT = ["-o", "{d}/out"]
YEARS = "year\n" + "".join(f"{y}\n" for y in range(1900, 1960))


def _meta(**task_changes):
    """The weights with meta.task keys replaced (a value of callable: applied to the old value)."""
    def edit(text: str) -> str:
        meta = json.loads(text)
        for key, value in task_changes.items():
            meta["task"][key] = value(meta["task"].get(key)) if callable(value) else value
        return json.dumps(meta)
    return lambda w: weights_with(w, meta=edit)


def _vocab(i: int, entry: str):
    return lambda v: [*v[:i], entry, *v[i + 1:]]


DATA = {
    "val-source-dev-null": Case(["train", "--set", "data.source={d}/y.csv", "--set",
                                 "data.val_source=/dev/null", "--set", "data.seq_len=5", *OUT],
                                ("data.val_source '/dev/null'",),
                                {"y.csv": YEARS}),
    "val-source-directory": Case(["train", "--set", "data.source={d}/y.csv", "--set", "data.val_source={d}",
                                  "--set", "data.seq_len=5", *OUT], ("data.val_source",), {"y.csv": YEARS}),
    "val-source-directory-csv": Case(["train", "--set", "data.source={d}/y.csv", "--set",
                                      "data.val_source={d}/v.csv", "--set", "data.seq_len=5", *OUT],
                                     ("v.csv", "is a directory"), {"y.csv": YEARS, "v.csv/": None}),
    "val-source-generator": Case(["train", "--set", "data.source={d}/y.csv", "--set", "data.val_source=sine",
                                  "--set", "data.seq_len=5", *OUT], ("data.val_source 'sine'", "a file"),
                                 {"y.csv": YEARS}),
    "only-the-index-column": Case(["train", "--set", "data.source={d}/i.csv", "--set",
                                   "data.index_column=year", *OUT],
                                  ("i.csv", "the only column", "'year'", "index"),
                                  {"i.csv": "year\n1\n2\n3\n"}),
    "only-the-index-column-by-position": Case(["train", "--set", "data.source={d}/i.csv", "--set",
                                               "data.index_column=0", *OUT], ("i.csv", "the only column"),
                                              {"i.csv": "1\n2\n3\n"}),
}
# once two lines each (a pydantic block, a traceback-like ValueError): one line now, kept that way
DATA["freq-range-nan"] = Case(["data", "frequency", "--set", "freq_range=[.nan, 2]", "-o", "{d}/f.npz"],
                              ("freq_range", "finite"), absent=("f.npz",))
DATA["zero-length-T-in-npz"] = Case(["train", "--set", "data.source={d}/z.npz", *OUT],
                                    ("z.npz", "'X'", "zero"),
                                    {"z.npz": lambda w: npz_bytes(X=np.zeros((4, 0, 1)), y=np.zeros((4, 1)))})
DATA["stride-not-an-integer"] = Case(["train", "--set", "data.source={d}/y.csv", "--set", "data.stride=1e20",
                                      *OUT], ("data.stride", "integer"), {"y.csv": YEARS})

META = {
    # every reader: predict here; the same function serves eval, sample, states, export, info
    "char-vocab-empty-entry": Case(["sample", "{d}/w.npz", "-n", "3"], ("w.npz", "meta.task.vocab[1]", "''"),
                                   {"w.npz": _meta(vocab=_vocab(1, ""))}),
    "char-vocab-two-characters": Case(["sample", "{d}/w.npz", "-n", "3"], ("w.npz", "vocab[2]", "'ab'"),
                                      {"w.npz": _meta(vocab=_vocab(2, "ab"))}),
    "char-vocab-repeated": Case(["sample", "{d}/w.npz", "-n", "3"], ("w.npz", "vocab lists an entry twice"),
                                {"w.npz": _meta(vocab=lambda v: [v[1], *v[1:]])}),
    "word-vocab-without-unk": Case(["sample", "{d}/w.npz", "-n", "3"], ("w.npz", "vocab[0]", "<unk>"),
                                   {"w.npz": _meta(tokens="word")}),
    "word-vocab-empty-word": Case(["sample", "{d}/w.npz", "-n", "3"], ("w.npz", "is empty"),
                                  {"w.npz": _meta(tokens="word", vocab=lambda v: ["<unk>", "", *v[2:]])}),
    "tokens-unknown": Case(["sample", "{d}/w.npz", "-n", "3"], ("w.npz", "meta.task.tokens", "'bytes'"),
                           {"w.npz": _meta(tokens="bytes")}),
    "init-from-word-vocab-without-unk": Case(["train", "--init-from", "{d}/w.npz", "--set",
                                              "data.source={d}/t.txt", "-q", *OUT],
                                             ("--init-from", "w.npz", "<unk>"),
                                             {"w.npz": _meta(tokens="word"), "t.txt": "a b c " * 50}),
}
NUMERIC_META = {
    "init-from-scaler-wrong-length": Case(["train", *TINY, "--init-from", "{d}/w.npz", *OUT],
                                          ("--init-from", "w.npz", "scaler.input_mean", "divides 1"),
                                          {"w.npz": _meta(scaler={"input_mean": [0.0, 1.0],
                                                                  "input_std": [1.0, 1.0]})}),
    "init-from-scaler-unknown-key": Case(["train", *TINY, "--init-from", "{d}/w.npz", *OUT],
                                         ("--init-from", "scaler.mean", "not a scaler statistic"),
                                         {"w.npz": _meta(scaler={"mean": [0.0]})}),
    "scaler-mean-without-std": Case(["predict", "{d}/w.npz", "-"], ("w.npz", "input_mean and input_std"),
                                    {"w.npz": _meta(scaler={"input_mean": [0.0]})}, stdin='{"x": [[1]]}\n'),
    "columns-a-string": Case(["predict", "{d}/w.npz", "-"], ("w.npz", "meta.task.columns", "str"),
                             {"w.npz": _meta(columns="year")}, stdin='{"x": [[1]]}\n'),
    "columns-input-a-string": Case(["predict", "{d}/w.npz", "-"], ("w.npz", "columns.input", "list"),
                                   {"w.npz": _meta(columns={"input": "year"})}, stdin='{"x": [[1]]}\n'),
    "columns-of-numbers": Case(["predict", "{d}/w.npz", "-"], ("w.npz", "columns.target"),
                               {"w.npz": _meta(columns={"target": [1]})}, stdin='{"x": [[1]]}\n'),
    "init-from-columns-wrong-type": Case(["train", *TINY, "--init-from", "{d}/w.npz", *OUT],
                                         ("--init-from", "columns"), {"w.npz": _meta(columns=[1, 2])}),
    "baselines-text": Case(["predict", "{d}/w.npz", "-"], ("w.npz", "baselines"),
                           {"w.npz": _meta(baselines={"mean_mse": "low"})}, stdin='{"x": [[1]]}\n'),
    "stateful-a-string": Case(["predict", "{d}/w.npz", "-"], ("w.npz", "stateful"),
                              {"w.npz": _meta(stateful="yes")}, stdin='{"x": [[1]]}\n'),
    "task-sizes-disagree-with-model": Case(["train", *TINY, "--init-from", "{d}/w.npz", *OUT],
                                           ("--init-from", "do not match meta.model"),
                                           {"w.npz": _meta(input_size=3)}),
}


@pytest.mark.parametrize("name", list(DATA))
def test_data_problems_are_one_line(name, tmp_path, trained, monkeypatch):
    run_case(DATA[name], tmp_path, trained, monkeypatch)


@pytest.mark.parametrize("name", list(META))
def test_text_meta_checked_for_every_reader(name, tmp_path, text_model, monkeypatch):
    run_case(META[name], tmp_path, text_model, monkeypatch)


@pytest.mark.parametrize("name", list(NUMERIC_META))
def test_meta_checked_for_every_reader(name, tmp_path, trained, monkeypatch):
    run_case(NUMERIC_META[name], tmp_path, trained, monkeypatch)


def test_a_huge_stride_is_one_window_not_an_index_error(tmp_path):
    (tmp_path / "y.csv").write_text(YEARS)
    r = rnn("train", "--set", f"data.source={tmp_path / 'y.csv'}", "--set", "data.seq_len=5", "--set",
            "data.stride=100000000000000000000", "--set", "train.epochs=1", "-q", "-o", str(tmp_path / "r"))
    assert r.exit_code == 0, r.stderr


def _break(run_dir: Path, edit_meta=None, edit_arrays=None) -> None:
    with np.load(run_dir / "checkpoint.npz", allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(str(arrays["meta"]))
    if edit_meta:
        edit_meta(meta["checkpoint"])
    if edit_arrays:
        edit_arrays(arrays)
    arrays["meta"] = np.array(json.dumps(meta))
    (run_dir / "checkpoint.npz").write_bytes(npz_bytes(**arrays))


def _reshape_slot(arrays: dict) -> None:
    name = next(k for k in arrays if k.startswith("optim.") and arrays[k].ndim == 2)
    arrays[name] = np.zeros(3)


def _int_slot(arrays: dict) -> None:
    name = next(k for k in arrays if k.startswith("optim."))
    arrays[name] = arrays[name].astype(np.int64)


RESUMES = {
    "rng-state-garbage": (lambda ck: ck.update(epoch_rng_state={"bit_generator": "PCG64", "state": "x"}),
                          None, ("checkpoint.npz", "epoch_rng_state", "PCG64")),
    "rng-state-a-list": (lambda ck: ck.update(dropout_rng_state=[1, 2]), None,
                         ("checkpoint.npz", "dropout_rng_state")),
    "rng-state-another-generator": (lambda ck: ck.update(epoch_rng_state=np.random.MT19937(0).state | {
        "state": {"key": [0] * 624, "pos": 0}}), None, ("epoch_rng_state",)),
    "optimizer-slot-misshaped": (None, _reshape_slot, ("checkpoint.npz", "optim.", "(3,)")),
    "optimizer-slot-integers": (None, _int_slot, ("checkpoint.npz", "optim.", "int64")),
}


@pytest.mark.parametrize("name", list(RESUMES))
def test_a_checkpoint_that_cannot_be_resumed_is_one_line(name, tmp_path, trained):
    meta_edit, array_edit, needles = RESUMES[name]
    run_dir = tmp_path / "run"
    shutil.copytree(trained, run_dir)
    _break(run_dir, meta_edit, array_edit)
    before = {p.name: p.read_bytes() for p in run_dir.iterdir()}
    assert_error(rnn("train", "--resume", str(run_dir), "-q"), 2, *needles)
    assert {p.name: p.read_bytes() for p in run_dir.iterdir()} == before
