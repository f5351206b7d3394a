"""Whatever a user feeds the CLI, the answer is an exit code and one-line errors, never a traceback."""

from __future__ import annotations

import json

import pytest
from conftest import assert_clean, rnn
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.slow  # real processes / many generated examples

FUZZ = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


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
def test_predict_on_arbitrary_stdin(trained, lines):
    result = rnn("predict", str(trained), "-", input="\n".join(lines))
    assert_clean(result, (0, 2), alone=True)


@FUZZ
@given(text=st.text(max_size=200))
def test_config_validate_on_arbitrary_yaml(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("cfg") / "c.yaml"
    path.write_text(text, encoding="utf-8")
    assert_clean(rnn("config", "validate", str(path)), (0, 2), alone=True)


@FUZZ
@given(key=st.sampled_from(["model.hidden_size", "train.lr", "data.seq_len", "train.epochs",
                            "model.nonlinearity", "data.source", "seed", "train.bptt"]),
       value=st.text(max_size=12).filter(lambda s: "\n" not in s))
def test_config_show_with_arbitrary_override(key, value):
    assert_clean(rnn("config", "show", "--set", f"{key}={value}"), (0, 2), alone=True)
