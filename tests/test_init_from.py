"""Fine-tuning with `rnn train --init-from`: weights carried over, head re-initialised, vocabulary and
scaling reused or refused, one-line errors, and exact resume of a fine-tuned run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import rnn
from strategies import InterruptAfter

from rnncli.config import load_config
from rnncli.errors import Interrupted
from rnncli.training.loop import train
from rnncli.weights import load_weights

CLS = ["data.source=random", "data.num_samples=40", "data.seq_len=6", "data.input_size=3",
       "model.hidden_size=5", "train.epochs=1", "train.batch_size=8"]


def params(path: Path) -> dict[str, np.ndarray]:
    return load_weights(path)[0]


@pytest.fixture(scope="module")
def classifier(tmp_path_factory) -> Path:
    """A 4-class classifier run."""
    run_dir = tmp_path_factory.mktemp("src") / "cls"
    train(load_config([], [*CLS, "data.num_classes=4"]), run_dir)
    return run_dir


def test_same_task_starts_from_the_source_weights(classifier, tmp_path):
    """With lr tiny, one epoch moves nothing visibly: the start was the source's weights, not a fresh init."""
    out = tmp_path / "ft"
    train(load_config([], [*CLS, "data.num_classes=4", "train.lr=1e-12", "seed=5"]), out,
          init_from=classifier)
    src, got = params(classifier / "model.npz"), params(out / "model.npz")
    assert all(np.allclose(got[k], src[k], atol=1e-9) for k in src)
    info = json.loads((out / "run.json").read_text())
    assert info["init_from"] == {"path": str(classifier), "notes": []}


def test_other_classes_reinitialise_the_head_with_a_note(classifier, tmp_path):
    out = tmp_path / "ft"
    result = rnn("train", *[a for kv in CLS for a in ("--set", kv)], "--set", "data.num_classes=2",
                 "--set", "train.lr=1e-12", "--init-from", str(classifier), "-o", str(out))
    assert result.exit_code == 0, result.stderr
    assert f"initialised from {classifier}\nhead re-initialised: the source has 4 outputs, this data 2" \
        in result.stderr
    src, got = params(classifier / "model.npz"), params(out / "model.npz")
    assert got["head.W_hy"].shape == (2, 5)
    assert all(np.allclose(got[k], src[k], atol=1e-9) for k in src if k.startswith("rnn."))


def test_architecture_mismatch_names_the_first_tensor(classifier, tmp_path):
    result = rnn("train", *[a for kv in CLS for a in ("--set", kv)], "--set", "model.num_layers=2",
                 "--init-from", str(classifier / "model.npz"), "-o", str(tmp_path / "ft"))
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"rnn: error: --init-from {classifier / 'model.npz'}: the config's model needs rnn.1.W_xh (5, 5), "
        "the source has none; use the source's architecture (-c RUN_DIR/config.yaml)")
    assert result.stdout == "" and not (tmp_path / "ft").exists()
    result = rnn("train", *[a for kv in CLS for a in ("--set", kv)], "--set", "model.nonlinearity=relu",
                 "--init-from", str(classifier), "-o", str(tmp_path / "ft"))
    assert result.exit_code == 2 and "model.nonlinearity is relu but the source's is tanh" in result.stderr


def test_resume_and_init_from_together_is_a_usage_error(classifier):
    result = rnn("train", "--resume", str(classifier), "--init-from", str(classifier))
    assert result.exit_code == 2
    assert "use one of them" in result.stderr


def test_regression_reuses_the_source_scaler_or_refuses_a_conflict(tmp_path):
    series = tmp_path / "s.csv"
    series.write_text("v\n" + "\n".join(str(100 + 10 * np.sin(i / 3)) for i in range(120)))
    other = tmp_path / "o.csv"
    other.write_text("v\n" + "\n".join(str(5 + np.cos(i / 4)) for i in range(120)))
    base = [f"data.source={series}", "data.seq_len=8", "model.hidden_size=4", "train.epochs=1"]
    train(load_config([], base), tmp_path / "src")
    src_scaler = load_weights(tmp_path / "src" / "model.npz")[1]["task"]["scaler"]
    train(load_config([], [*base[1:], f"data.source={other}"]), tmp_path / "ft", init_from=tmp_path / "src")
    assert load_weights(tmp_path / "ft" / "model.npz")[1]["task"]["scaler"] == src_scaler
    result = rnn("train", "--set", f"data.source={other}", "--set", "data.seq_len=8", "--set",
                 "model.hidden_size=4", "--set", "data.standardize=false", "--init-from",
                 str(tmp_path / "src"), "-o", str(tmp_path / "bad"))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"rnn: error: --init-from {tmp_path / 'src'}: data.standardize is false "
                                    "but the source model was trained with standardisation")


def test_text_keeps_the_vocabulary_refuses_new_characters_and_resumes_exactly(tmp_path):
    (tmp_path / "a.txt").write_text("the quick brown fox jumps over the lazy dog. " * 30)
    (tmp_path / "b.txt").write_text("a cat sat on the mat. " * 40)  # a subset of a.txt's characters
    (tmp_path / "c.txt").write_text("the Zebra " * 40)
    text = ["data.source=text", "data.seq_len=10", "model.hidden_size=6", "train.batch_size=4",
            "train.epochs=2", "model.recurrent_dropout=0.2"]
    train(load_config([], [*text, f"data.path={tmp_path / 'a.txt'}"]), tmp_path / "src")
    vocab = load_weights(tmp_path / "src" / "model.npz")[1]["task"]["vocab"]
    cfg = load_config([], [*text, f"data.path={tmp_path / 'b.txt'}"])
    train(cfg, tmp_path / "ref", init_from=tmp_path / "src")
    assert load_weights(tmp_path / "ref" / "model.npz")[1]["task"]["vocab"] == vocab
    with pytest.raises(Interrupted):
        train(cfg, tmp_path / "run", init_from=tmp_path / "src", callbacks=InterruptAfter(25))
    # as `rnn train --resume`: the run's own config.yaml; the data is read with its vocabulary again
    train(load_config([tmp_path / "run" / "config.yaml"], []), tmp_path / "run", resume=True)
    a, b = params(tmp_path / "ref" / "model.npz"), params(tmp_path / "run" / "model.npz")
    assert all(np.array_equal(a[k], b[k]) for k in a)
    args = [a for kv in [*text, f"data.path={tmp_path / 'c.txt'}"] for a in ("--set", kv)]
    result = rnn("train", *args, "--init-from", str(tmp_path / "src"), "-o", str(tmp_path / "bad"))
    assert result.exit_code == 2
    assert "character 'Z' is not in the model's vocabulary of" in result.stderr
    assert result.stderr.strip().endswith("fine-tuning keeps the source's vocabulary")
