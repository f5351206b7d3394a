"""Config loading: exact error lines, merge order, --set, round trips, schema and reference."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rnncli.config import (
    Config,
    config_reference_markdown,
    config_schema,
    config_to_dict,
    config_to_yaml,
    load_config,
    parse_override,
    resolve_with_task,
)
from rnncli.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def cwd(tmp_path, monkeypatch):
    """Work in tmp_path so file labels in messages are short relative names."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(name: str, text: str) -> Path:
    p = Path(name)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text, encoding="utf-8")
    return p


def error_lines(*args, **kwargs) -> list[str]:
    with pytest.raises(ConfigError) as e:
        load_config(*args, **kwargs)
    return str(e.value).split("\n")


# --- the embedded default ---------------------------------------------------------------


def test_default_config_is_small_sine_task(cwd):
    cfg = load_config()
    assert cfg.name == "default"
    assert cfg.data.source == "sine"
    assert cfg.model.hidden_size == 32
    assert cfg.train.epochs == 5
    assert cfg.train.optimizer == "adam"
    assert cfg.model.input_size is None and cfg.loss is None  # inferred later


def test_schema_defaults():
    cfg = Config()
    assert (cfg.seed, cfg.model.hidden_size, cfg.model.init, cfg.train.lr) == (0, 64, "uniform", 1e-3)
    assert cfg.train.clip_norm == 1.0 and cfg.train.dtype == "float32"


# --- error messages: one exact line each -------------------------------------------------


def test_unknown_keys_with_suggestions(cwd):
    write("x.yaml", "seed: 1\nmodel:\n  hidden_sise: 12\ntrian:\n  lr: 0.1\nmodel2: 3\n")
    assert error_lines(["x.yaml"]) == [
        "x.yaml:3:3: model.hidden_sise: unknown key (did you mean hidden_size?)",
        "x.yaml:4:1: trian: unknown key (did you mean train?)",
        "x.yaml:6:1: model2: unknown key (did you mean model?)",
    ]


def test_unknown_key_without_close_match_lists_valid_keys(cwd):
    write("x.yaml", "zzz: 1\n")
    assert error_lines(["x.yaml"]) == [
        "x.yaml:1:1: zzz: unknown key (valid keys: seed, name, data, model, loss, train)"
    ]


def test_all_value_errors_at_once_in_file_order(cwd):
    write(
        "x.yaml",
        "train:\n"
        "  lr: -1\n"
        "  epochs: 2.5\n"
        "  clip_norm: true\n"
        "model:\n"
        "  hidden_size: 0\n"
        "  nonlinearity: sigmoid\n"
        "  dropout: 1.0\n"
        "loss: hinge\n",
    )
    assert error_lines(["x.yaml"]) == [
        "x.yaml:2:7: train.lr: must be > 0 (got -1)",
        "x.yaml:3:11: train.epochs: expected an integer (got 2.5)",
        "x.yaml:4:14: train.clip_norm: expected a number (got true)",
        "x.yaml:6:16: model.hidden_size: must be >= 1 (got 0)",
        "x.yaml:7:17: model.nonlinearity: must be 'tanh' or 'relu' (got 'sigmoid')",
        "x.yaml:8:12: model.dropout: must be < 1 (got 1.0)",
        "x.yaml:9:7: loss: must be 'mse' or 'cross_entropy' (got 'hinge')",
    ]


def test_odd_keys_and_yaml_merge_keys(cwd):
    write("x.yaml", "base: &b\n  hidden_size: 3\nmodel:\n  <<: *b\n  num_layers: 0\nnull: 1\n")
    assert error_lines(["x.yaml"]) == [
        "x.yaml:1:1: base: unknown key (valid keys: seed, name, data, model, loss, train)",
        "x.yaml:5:15: model.num_layers: must be >= 1 (got 0)",
        "x.yaml:6:1: None: unknown key (valid keys: seed, name, data, model, loss, train)",
    ]
    write("z.yaml", "model:\n  <<: {hidden_size: 3}\n")
    assert load_config(["z.yaml"]).model.hidden_size == 3


def test_section_not_a_mapping(cwd):
    write("x.yaml", "model: 3\n")
    assert error_lines(["x.yaml"]) == ["x.yaml:1:8: model: expected a mapping of keys (got 3)"]


def test_data_section_errors_point_at_the_key(cwd):
    write("x.yaml", "data:\n  source: sine\n  copy_len: 3\n")
    assert error_lines(["x.yaml"]) == ["x.yaml:3:13: data.copy_len does not apply to source 'sine'"]


def test_malformed_yaml_reports_line_and_column(cwd):
    write("x.yaml", "model:\n  hidden_size: 3\n   x: [1, 2\n")
    assert error_lines(["x.yaml"]) == ["x.yaml:3:5: invalid YAML: mapping values are not allowed here"]


def test_unclosed_bracket(cwd):
    write("x.yaml", "train: {lr: 0.1\n")
    (line,) = error_lines(["x.yaml"])
    assert line.startswith("x.yaml:2:1: invalid YAML: expected ',' or '}', but got '<stream end>'")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("- a\n- b\n", "x.yaml:1:1: the top level must be a mapping of keys (got a list)"),
        ("just words\n", "x.yaml:1:1: the top level must be a mapping of keys (got a string)"),
        ("", "x.yaml: empty config file (expected a mapping such as 'model: ...')"),
        ("# only a comment\n", "x.yaml: empty config file (expected a mapping such as 'model: ...')"),
        ("seed: 1\nseed: 2\n", "x.yaml:2:1: seed: duplicate key (first set on line 1)"),
    ],
)
def test_bad_file_shapes(cwd, text, expected):
    write("x.yaml", text)
    assert error_lines(["x.yaml"]) == [expected]


def test_missing_directory_and_binary_files_all_reported(cwd):
    Path("d").mkdir()
    Path("bin.yaml").write_bytes(b"seed: \xff\xfe\n")
    assert error_lines(["nope.yaml", "d", "bin.yaml"]) == [
        "config file not found: nope.yaml",
        "config file is a directory: d",
        "bin.yaml: not a UTF-8 text file (byte 6)",
    ]


# --- merging ------------------------------------------------------------------------------


def test_merge_order_last_wins_deeply(cwd):
    write("a.yaml", "seed: 1\nmodel:\n  hidden_size: 8\n  num_layers: 2\ntrain:\n  lr: 0.1\n")
    write("b.yaml", "model:\n  hidden_size: 16\n")
    cfg = load_config(["a.yaml", "b.yaml"])
    assert (cfg.seed, cfg.model.hidden_size, cfg.model.num_layers, cfg.train.lr) == (1, 16, 2, 0.1)
    assert cfg.name == "b"  # the last file names the run
    cfg = load_config(["b.yaml", "a.yaml"])
    assert cfg.model.hidden_size == 8 and cfg.name == "a"


def test_errors_point_at_the_file_that_set_the_value(cwd):
    write("a.yaml", "model:\n  hidden_size: 0\n  num_layers: 0\n")
    write("b.yaml", "model:\n  hidden_size: 4\n")
    assert error_lines(["a.yaml", "b.yaml"]) == ["a.yaml:3:15: model.num_layers: must be >= 1 (got 0)"]


def test_scalar_replaces_section(cwd):
    write("a.yaml", "train:\n  lr: 0.1\n")
    write("b.yaml", "train: null\n")  # null section = all defaults
    assert load_config(["a.yaml", "b.yaml"]).train.lr == 1e-3


# --- --set ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("item", "key", "value"),
    [
        ("train.lr=0.01", ("train", "lr"), 0.01),
        ("train.lr=1e-3", ("train", "lr"), "1e-3"),  # YAML 1.1: no dot, so a string ...
        ("model.hidden_size= 7", ("model", "hidden_size"), 7),
        ("train.clip_norm=", ("train", "clip_norm"), None),
        ("train.shuffle=false", ("train", "shuffle"), False),
        ("data.freq_range=[0.1, 0.2]", ("data", "freq_range"), [0.1, 0.2]),
        ("name=a=b", ("name",), "a=b"),
    ],
)
def test_parse_override(item, key, value):
    assert parse_override(item) == (key, value)


def test_overrides_apply_and_validate(cwd):
    write("a.yaml", "train:\n  lr: 0.5\n")
    cfg = load_config(["a.yaml"], ["train.lr=1e-3", "model.hidden_size=7", "train.clip_norm=null"], seed=42)
    # ... which pydantic then reads as the number it means.
    assert (cfg.train.lr, cfg.model.hidden_size, cfg.train.clip_norm, cfg.seed) == (1e-3, 7, None, 42)


def test_override_errors(cwd):
    assert error_lines(
        [],
        [
            "trainlr",
            "seed.x=1",
            "train.lr=[1,",
            ".lr=1",
        ],
    ) == [
        "--set trainlr: expected key.path=value, e.g. --set train.lr=0.01",
        "--set seed.x=1: seed is a value, not a section",
        "--set train.lr=[1,: invalid YAML value (expected the node content, but found "
        "'<stream end>' (while parsing a flow node))",
        "--set .lr=1: expected key.path=value, e.g. --set train.lr=0.01",
    ]


def test_override_validation_errors_name_the_argument(cwd):
    assert error_lines([], ["train.lr=abc", "model.hidden_sise=3", "model.num_layers=0"]) == [
        "--set train.lr=abc: train.lr: expected a number (got 'abc')",
        "--set model.hidden_sise=3: model.hidden_sise: unknown key (did you mean hidden_size?)",
        "--set model.num_layers=0: model.num_layers: must be >= 1 (got 0)",
    ]


def test_override_fixes_a_bad_file_value(cwd):
    write("a.yaml", "train:\n  lr: -1\n")
    assert load_config(["a.yaml"], ["train.lr=0.2"]).train.lr == 0.2


def test_bool_is_not_a_number(cwd):
    assert error_lines([], ["model.hidden_size=true"]) == [
        "--set model.hidden_size=true: model.hidden_size: expected a number (got true)"
    ]


def test_assignment_is_validated():
    cfg = Config()
    with pytest.raises(ValueError):
        cfg.train.lr = -1.0


# --- data paths -------------------------------------------------------------------------------


def test_relative_data_paths_are_relative_to_their_config_file(cwd):
    write("configs/t.yaml", "data:\n  source: text\n  path: ../corpus.txt\n")
    cfg = load_config(["configs/t.yaml"])
    assert cfg.data.path == str(cwd / "corpus.txt")
    cfg = load_config(["configs/t.yaml"], ["data.path=other.txt"])
    assert cfg.data.path == str(cwd / "other.txt")  # --set: relative to the current directory
    write("configs/c.yaml", "data:\n  source: series.csv\n")
    cfg = load_config(["configs/c.yaml"])
    assert cfg.data.source == str(cwd / "configs" / "series.csv")
    write("runs/x/config.yaml", config_to_yaml(cfg))  # elsewhere, still the same file
    assert load_config(["runs/x/config.yaml"]) == cfg
    write("s.yaml", "data:\n  source: '-'\n  format: csv\n")
    assert load_config(["s.yaml"]).data.source == "-"  # stdin is not a path


# --- dumping --------------------------------------------------------------------------------


def shipped_configs() -> list[Path]:
    return sorted((REPO / "configs").glob("*.yaml"))


@pytest.mark.parametrize("extra", [[], ["model.num_layers=2", "train.optimizer=rmsprop"]])
def test_round_trip_default(cwd, extra):
    cfg = load_config([], extra, seed=7)
    write("run/config.yaml", config_to_yaml(cfg))
    again = load_config(["run/config.yaml"])
    assert again == cfg
    assert config_to_dict(again) == config_to_dict(cfg)
    json.dumps(config_to_dict(cfg))  # JSON-able


@pytest.mark.parametrize("path", shipped_configs(), ids=lambda p: p.name)
def test_shipped_configs_load_and_round_trip(cwd, path):
    cfg = load_config([path])
    assert cfg.name == path.stem
    write("run/config.yaml", config_to_yaml(cfg))
    assert load_config(["run/config.yaml"]) == cfg


def test_shipped_configs_exist():
    names = {p.name for p in shipped_configs()}
    assert {"sine.yaml", "adding.yaml", "text.yaml"} <= names
    assert len([n for n in names if n.startswith("notebook")]) == 5


def test_dump_lists_only_applicable_data_keys(cwd):
    d = config_to_dict(load_config())
    assert "copy_len" not in d["data"] and d["data"]["source"] == "sine"
    assert list(d) == ["seed", "name", "data", "model", "loss", "train"]
    assert yaml.safe_load(config_to_yaml(load_config())) == d


def _all_keys(d: dict, prefix: str = "") -> set[str]:
    out = set()
    for k, v in d.items():
        out.add(prefix + k)
        if isinstance(v, dict):
            out |= _all_keys(v, f"{prefix}{k}.")
    return out


def test_schema_and_reference_cover_every_key():
    full = Config().model_dump()
    keys = _all_keys(full)
    schema = config_schema()
    defs = schema["$defs"]
    for key in keys:
        section, _, leaf = key.rpartition(".")
        sections = {"data": "DataConfig", "model": "ModelConfig", "train": "TrainConfig"}
        props = defs[sections[section]]["properties"] if section else schema["properties"]
        assert leaf in props, key
        assert props[leaf].get("description"), key
    ref = config_reference_markdown()
    leaf_keys = {k for k in keys if k not in ("data", "model", "train")}
    for key in leaf_keys:
        assert f"| `{key}` |" in ref, key
    assert "| `train.lr` | float (> 0) | `0.001` |" in ref
    assert "| `model.nonlinearity` | `tanh` \\| `relu` | `tanh` |" in ref


# --- inference from the data --------------------------------------------------------------


def task(**kw):
    base = {"input_size": 5, "output_size": 3, "output": "last", "loss": "cross_entropy"}
    return SimpleNamespace(**{**base, **kw})


def test_resolve_fills_inferred_keys(cwd):
    cfg = resolve_with_task(load_config(), task())
    got = (cfg.model.input_size, cfg.model.output_size, cfg.model.output, cfg.loss)
    assert got == (5, 3, "last", "cross_entropy")


def test_resolve_reports_every_conflict(cwd):
    cfg = load_config([], ["model.input_size=4", "model.output=sequence", "loss=mse"])
    with pytest.raises(ConfigError) as e:
        resolve_with_task(cfg, task())
    assert str(e.value).split("\n") == [
        "model.input_size is 4 but the data has 5 input features (set it to null to infer)",
        "model.output is 'sequence' but the data has 'last' targets (one per sequence = 'last', "
        "one per step = 'sequence')",
        "loss is 'mse' but the data has class labels; use 'cross_entropy' (or null)",
    ]


# --- fuzzing: whatever the input, a ConfigError or a Config, never a traceback ---------------

yaml_ish = st.text(alphabet=st.sampled_from(list("abdeilmnorst_:.-[]{},'\"#&*!|> \n\t0123456789")))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    text=yaml_ish | st.binary().map(lambda b: b.decode("latin-1")),
    sets=st.lists(yaml_ish.map(lambda s: s.replace("\n", " ")), max_size=3),
)
@pytest.mark.slow
def test_fuzzed_config_never_crashes(cwd, text, sets):
    Path("f.yaml").write_text(text, encoding="utf-8")
    try:
        cfg = load_config(["f.yaml"], sets)
    except ConfigError as e:
        lines = str(e).split("\n")
        assert all(line.strip() for line in lines)
        assert all(line.startswith(("f.yaml", "--set ")) for line in lines), lines
    else:
        assert isinstance(cfg, Config)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    section=st.sampled_from(["model", "train", "data"]),
    key=st.sampled_from(["hidden_size", "lr", "epochs", "dropout", "seq_len", "clip_norm", "x"]),
    value=st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=5)),
)
def test_fuzzed_values_never_crash(cwd, section, key, value):
    Path("f.yaml").write_text(yaml.safe_dump({section: {key: value}}), encoding="utf-8")
    try:
        load_config(["f.yaml"])
    except ConfigError as e:
        assert str(e).startswith("f.yaml:"), str(e)


def test_data_config_from_options_and_set_items():
    """`rnn data` and `rnn eval --data` build a data section the same way `rnn train --set` reads values."""
    from rnncli.config import data_config_from

    cfg = data_config_from({"source": "sine"}, ["data.noise=0.1", "seq_len=20"])
    assert (cfg.source, cfg.noise, cfg.seq_len) == ("sine", 0.1, 20)
    assert data_config_from({}, ["source=-", "format=jsonl"]).source == "-"  # stdin, not [null]
    with pytest.raises(ConfigError) as e:
        data_config_from({"source": "sine"}, ["noise", "data.a.b=1", "noise=-1"])
    assert str(e.value).splitlines() == [
        "--set noise: expected key.path=value, e.g. --set train.lr=0.01",
        "--set data.a.b=1: data options are single keys, e.g. --set noise=0.1",
    ]
    with pytest.raises(ConfigError, match=r"^data\.noise: "):
        data_config_from({"source": "sine"}, ["noise=-1"])
