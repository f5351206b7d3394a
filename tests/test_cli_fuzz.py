"""Whatever a user feeds the CLI, the answer is an exit code and one-line errors, never a traceback."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from rnncli.cli import app

FUZZ = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def check_clean(result, allowed=(0, 2)) -> None:
    # SystemExit is how every exit, 0 included, leaves a Click app; anything else escaped us.
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code in allowed, (result.exit_code, result.stderr)
    assert "Traceback" not in result.stderr
    if result.exit_code != 0:
        assert result.stderr.startswith("rnn: error: ") or "Usage:" in result.stderr


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("fuzz") / "run"
    result = CliRunner().invoke(app, [
        "train", "-q", "--set", "train.epochs=1", "--set", "data.num_samples=32",
        "--set", "data.seq_len=5", "--set", "model.hidden_size=4", "--out", str(out),
    ])
    assert result.exit_code == 0, result.stderr
    return out


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=12,
)


@FUZZ
@given(lines=st.lists(
    st.one_of(
        st.text(max_size=30),
        json_values.map(lambda v: json.dumps(v, allow_nan=True)),
        st.fixed_dictionaries({"x": json_values}).map(lambda v: json.dumps(v, allow_nan=True)),
    ),
    min_size=0, max_size=4,
))
def test_predict_on_arbitrary_stdin(run_dir, lines):
    result = CliRunner().invoke(app, ["predict", str(run_dir), "-"], input="\n".join(lines))
    check_clean(result)


@FUZZ
@given(text=st.text(max_size=200))
def test_config_validate_on_arbitrary_yaml(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("cfg") / "c.yaml"
    path.write_text(text, encoding="utf-8")
    check_clean(CliRunner().invoke(app, ["config", "validate", str(path)]))


@FUZZ
@given(key=st.sampled_from(["model.hidden_size", "train.lr", "data.seq_len", "train.epochs",
                            "model.nonlinearity", "data.source", "seed", "train.bptt"]),
       value=st.text(max_size=12).filter(lambda s: "\n" not in s))
def test_config_show_with_arbitrary_override(key, value):
    check_clean(CliRunner().invoke(app, ["config", "show", "--set", f"{key}={value}"]))
