"""Hypothesis against the whole CLI: malformed configs and data files never produce a traceback.

Every example runs a real command in-process (CliRunner) and must end with exit 0, 1 or 2, no
"Traceback" and no "internal error" anywhere, every stderr line of a failure a `rnn: error:` line,
and nothing left behind by a failure (no run directory, no -o output file).
The library-level fuzzers (tests/test_config.py, tests/test_data_fuzz.py, tests/test_weights.py)
check the exceptions; these check what the user sees.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import assert_clean, rnn
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import examples

pytestmark = pytest.mark.slow  # real processes / many generated examples

# Each example runs a command (tens of ms): 30 here, 60 in CI (.ci/run's RNN_FUZZ_SCALE=2).
FUZZ = settings(max_examples=examples(30), deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
TINY_MODEL = ["--set", "model.hidden_size=4", "--set", "train.epochs=1"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("fuzz") / "sine"
    result = rnn("train", "--set", "data.num_samples=40", "--set", "data.seq_len=6", *TINY_MODEL,
                    "-o", str(run_dir), "-q")
    assert result.exit_code == 0, result.stderr
    return run_dir


class Scratch:
    """A fresh directory per example (tmp_path is per test, examples are many)."""

    def __enter__(self) -> Path:
        self.path = Path(tempfile.mkdtemp(prefix="rnnfuzz"))
        return self.path

    def __exit__(self, *exc) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


# -- configs ----------------------------------------------------------------------------------------
KEYS = {
    "data": ["source", "num_samples", "seq_len", "val_fraction", "noise", "horizon", "freq_range",
             "min_len", "num_classes", "output", "input_size", "sorce"],
    "model": ["hidden_size", "num_layers", "nonlinearity", "dropout", "init", "init_scale",
              "recurrent_init", "output", "hiden_size"],
    "train": ["epochs", "batch_size", "lr", "optimizer", "clip_norm", "bptt", "dtype", "patience",
              "drop_last", "on_nonfinite", "checkpoint_every", "momentum", "max_memory_gb", "lr_rate"],
}
# Small numbers only: a *valid* fuzzed config really trains, and must do so in milliseconds.
WILD = st.one_of(
    st.integers(-3, 12), st.sampled_from([0, 0.0, -1e-3, 0.5, 1.0, 1.5, 1e6, float("nan"), float("inf")]),
    st.booleans(), st.none(),
    st.sampled_from(["sine", "adding", "parity", "copy", "random", "text", "x.csv", "-", "tanh", "relu",
                     "adam", "sgd", "sequence", "last", "float64", "skip", "1e-3", "", "~", "[1, 2]"]),
    st.lists(st.integers(-1, 3), max_size=3),
    st.dictionaries(st.sampled_from(["a", "lr"]), st.integers(), max_size=2),
)


@st.composite
def config_texts(draw) -> str:
    """Mostly well-formed YAML with wild values and typos, sometimes cut or scrambled."""
    cfg = {"data": {"num_samples": 24, "seq_len": 5}, "model": {"hidden_size": 4},
           "train": {"epochs": 1, "batch_size": 8}}
    for _ in range(draw(st.integers(1, 4))):
        section = draw(st.sampled_from(sorted(KEYS)))
        cfg.setdefault(section, {})[draw(st.sampled_from(KEYS[section]))] = draw(WILD)
    if draw(st.booleans()):
        cfg[draw(st.sampled_from(["seed", "name", "loss", "modle", "data"]))] = draw(WILD)
    text = yaml.safe_dump(cfg, sort_keys=False, allow_unicode=True)
    damage = draw(st.sampled_from(["none", "none", "cut", "insert", "tabs"]))
    if damage == "cut":
        text = text[: draw(st.integers(0, len(text)))]
    elif damage == "insert":
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.text(alphabet=":-[]{}&*!|>'\"%@`#,?\n\t x1", max_size=6)) + text[at:]
    elif damage == "tabs":
        text = text.replace("  ", "\t", 1)
    return text


@FUZZ
@given(text=config_texts())
def test_fuzzed_config_files_never_traceback(text):
    with Scratch() as d:
        (d / "c.yaml").write_text(text)
        show = rnn("config", "show", "-c", str(d / "c.yaml"))
        assert_clean(show, codes=(0, 2))
        result = rnn("train", "-c", str(d / "c.yaml"), "-o", str(d / "run"), "-q")
        assert_clean(result)
        if show.exit_code == 2:  # an invalid config never starts a run...
            assert result.exit_code == 2
        if result.exit_code == 2:  # ...and a refused one leaves no run directory
            assert not (d / "run").exists()


@FUZZ
@given(data=st.binary(max_size=200))
def test_arbitrary_bytes_as_config_never_traceback(data):
    with Scratch() as d:
        (d / "c.yaml").write_bytes(data)
        result = rnn("train", "-c", str(d / "c.yaml"), "-o", str(d / "run"), "-q")
        assert_clean(result)
        if result.exit_code:
            assert not (d / "run").exists()


@FUZZ
@given(key=st.text(alphabet="abcdelmnoprstuz._=[]{}- ", max_size=20), value=st.text(max_size=12))
def test_fuzzed_set_overrides_never_traceback(key, value):
    result = rnn("config", "show", "--set", f"{key}={value}")
    assert_clean(result, codes=(0, 2))


# -- data files -------------------------------------------------------------------------------------
NUMBER = st.one_of(st.floats(allow_nan=True, allow_infinity=True, width=32), st.integers(-3, 3))
STEP = st.lists(NUMBER, min_size=0, max_size=3)
JSON_VALUE = st.one_of(NUMBER, st.none(), st.text(max_size=3), st.booleans(), st.lists(STEP, max_size=4),
                       st.lists(NUMBER, max_size=3))


@st.composite
def jsonl_texts(draw) -> str:
    lines = []
    for _ in range(draw(st.integers(0, 6))):
        kind = draw(st.sampled_from(["record", "record", "record", "garbage", "blank", "scalar"]))
        if kind == "record":
            x = draw(st.lists(STEP, min_size=0, max_size=4)) if draw(st.booleans()) else draw(JSON_VALUE)
            rec = {"x": x}
            if draw(st.booleans()):
                rec["y"] = draw(JSON_VALUE)
            lines.append(json.dumps(rec))
        elif kind == "garbage":
            lines.append(draw(st.text(alphabet='{}[]":,x y0.1-NaI', max_size=15)))
        elif kind == "blank":
            lines.append("")
        else:
            lines.append(json.dumps(draw(JSON_VALUE)))
    return "\n".join(lines) + ("\n" if draw(st.booleans()) else "")


CELL = st.one_of(st.sampled_from(["", "nan", "inf", "-", "a", "1e3", "x,y", '"q"']),
                 st.integers(-5, 5).map(str), st.floats(-2, 2).map(lambda v: f"{v:.2f}"))


@st.composite
def csv_texts(draw) -> str:
    width = draw(st.integers(1, 3))
    rows = [[draw(CELL) for _ in range(draw(st.integers(max(width - 1, 0), width + 1)))]
            for _ in range(draw(st.integers(0, 8)))]
    header = ",".join(f"c{i}" for i in range(width)) + "\n" if draw(st.booleans()) else ""
    return header + "".join(",".join(r) + "\n" for r in rows)


@FUZZ
@given(text=jsonl_texts())
def test_fuzzed_jsonl_for_train_and_predict_never_traceback(text, trained):
    with Scratch() as d:
        (d / "data.jsonl").write_text(text)
        result = rnn("train", "--set", f"data.source={d / 'data.jsonl'}", *TINY_MODEL,
                        "-o", str(d / "run"), "-q")
        assert_clean(result)
        if result.exit_code == 2:
            assert not (d / "run").exists()
        result = rnn("predict", str(trained), str(d / "data.jsonl"), "-o", str(d / "out.csv"))
        assert_clean(result, codes=(0, 2))
        assert (d / "out.csv").exists() == (result.exit_code == 0)
        assert not list(d.glob(".*.tmp"))


@FUZZ
@given(text=csv_texts(), seq_len=st.integers(1, 4))
def test_fuzzed_csv_for_train_and_predict_never_traceback(text, seq_len, trained):
    with Scratch() as d:
        (d / "s.csv").write_text(text)
        result = rnn("train", "--set", f"data.source={d / 's.csv'}", "--set", f"data.seq_len={seq_len}",
                        *TINY_MODEL, "-o", str(d / "run"), "-q")
        assert_clean(result)
        if result.exit_code == 2:
            assert not (d / "run").exists()
        result = rnn("predict", str(trained), str(d / "s.csv"), "-o", str(d / "out.csv"))
        assert_clean(result, codes=(0, 2))
        assert (d / "out.csv").exists() == (result.exit_code == 0)


@FUZZ
@given(data=st.binary(max_size=300), stdin=st.booleans())
def test_arbitrary_bytes_as_data_never_traceback(data, stdin, trained):
    with Scratch() as d:
        (d / "b.jsonl").write_bytes(data)
        if stdin:
            result = rnn("predict", str(trained), "-", input=data.decode("latin-1"))
        else:
            result = rnn("predict", str(trained), str(d / "b.jsonl"), "-o", str(d / "out.csv"))
            assert (d / "out.csv").exists() == (result.exit_code == 0)
        assert_clean(result, codes=(0, 2))


def _npz_variants(draw) -> bytes:
    import io

    arrays = {}
    n, t, i = draw(st.integers(0, 4)), draw(st.integers(0, 3)), draw(st.integers(1, 2))
    if draw(st.booleans()):
        x = np.arange(n * t * i, dtype=float).reshape(n, t, i)
        if draw(st.booleans()) and x.size:
            x.flat[0] = draw(st.sampled_from([np.nan, np.inf]))
        arrays[draw(st.sampled_from(["X", "x", "inputs"]))] = x
    if draw(st.booleans()):
        arrays["y"] = np.asarray(draw(st.lists(st.integers(-2, 5), min_size=0, max_size=5)))
    if draw(st.booleans()):
        arrays["lengths"] = np.asarray(draw(st.lists(st.integers(-1, 4), max_size=4)))
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    data = buf.getvalue()
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    return data


@FUZZ
@given(data=st.data())
def test_fuzzed_npz_data_never_traceback(data, trained):
    with Scratch() as d:
        (d / "d.npz").write_bytes(_npz_variants(data.draw))
        result = rnn("train", "--set", f"data.source={d / 'd.npz'}", *TINY_MODEL,
                        "-o", str(d / "run"), "-q")
        assert_clean(result)
        if result.exit_code == 2:
            assert not (d / "run").exists()
        result = rnn("predict", str(trained), str(d / "d.npz"), "-o", str(d / "out.csv"))
        assert_clean(result, codes=(0, 2))
