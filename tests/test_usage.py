"""The forgiving CLI: usage errors as one `rnn: error:` line with exit 2, a `--set` hint for config
keys typed as options; honest summaries (early stop, resumes that change settings)."""

from __future__ import annotations

import json

import pytest
import yaml
from conftest import assert_error, rnn

from rnncli.cli.render import epoch_line
from rnncli.cli.summary import summary_lines
from rnncli.wording import plural

TINY = ["--set", "data.num_samples=40", "--set", "data.seq_len=6", "--set", "model.hidden_size=4",
        "--set", "train.batch_size=20"]


@pytest.mark.parametrize(("args", "expected"), [
    (["train", "--epochs", "3"],
     "rnn: error: rnn train: no such option --epochs; did you mean --set train.epochs=3?"),
    (["train", "--lr=0.01"],
     "rnn: error: rnn train: no such option --lr; did you mean --set train.lr=0.01?"),
    (["gradcheck", "--hidden-size", "8"],
     "rnn: error: rnn gradcheck: no such option --hidden-size; did you mean --set model.hidden_size=8?"),
    (["train", "--train.patience", "4"],
     "rnn: error: rnn train: no such option --train.patience; did you mean --set train.patience=4?"),
    (["data", "sine", "--delay", "5"],
     "rnn: error: rnn data: no such option --delay; did you mean --set delay=5?"),
])
def test_config_key_as_option_suggests_set(args, expected):
    assert assert_error(rnn(*args), 2) == expected


def test_other_usage_errors_are_one_line_exit_2():
    assert assert_error(rnn("train", "--frobnicate"), 2) == (
        "rnn: error: rnn train: No such option: --frobnicate (see rnn train --help)")
    assert "No such command 'trian'" in assert_error(rnn("trian"), 2)
    assert "Missing argument 'WEIGHTS'" in assert_error(rnn("predict"), 2)
    assert "'-c' requires an argument" in assert_error(rnn("train", "-c"), 2)
    # an option that is not a config key gets no --set hint, even when it exists elsewhere
    assert "--set" not in assert_error(rnn("compare", "--epochs", "3"), 2)


def test_no_arguments_still_shows_help():
    result = rnn("config")
    assert "Usage" in result.output and "rnn: error" not in result.output


def test_summary_says_why_training_stopped():
    early = {"status": "completed", "epochs": 29, "best_epoch": 24, "stopped_early": True,
             "patience": 5, "seconds": 83.0}
    assert summary_lines(early)[0] == "stopped early at epoch 29 (best 24, patience 5) in 1m23s"
    done = {"status": "completed", "epochs": 1, "best_epoch": 1, "stopped_early": False}
    assert summary_lines(done)[0] == "completed 1 epoch (best 1)"
    assert epoch_line({"epoch": 2, "loss": 0.5, "seconds": 0.2}, 3, 4, elapsed=4.25) == (
        "epoch 2/3 loss 0.5 50ms/step, 4.2s elapsed")
    assert (plural(1, "feature"), plural(3, "class", "classes")) == ("1 feature", "3 classes")


def test_resume_records_what_it_changes_and_refuses_the_rest(tmp_path):
    run_dir = tmp_path / "r"
    assert rnn("-q", "train", *TINY, "--set", "train.epochs=1", "--out", str(run_dir)).exit_code == 0
    result = rnn("-q", "train", "--resume", str(run_dir), "--set", "train.epochs=2", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["epochs"] == 2
    assert yaml.safe_load((run_dir / "config.yaml").read_text())["train"]["epochs"] == 2
    resumed = json.loads((run_dir / "run.json").read_text())["resumed"]
    assert resumed[-1]["changed"] == {"train.epochs": [1, 2]}
    line = assert_error(rnn("train", "--resume", str(run_dir), "--set", "model.hidden_size=8"), 2)
    assert line == (
        f"rnn: error: --resume {run_dir}: model.hidden_size cannot change on resume (4 -> 8: the "
        f"checkpoint was trained with the first); start a new run with rnn train -c "
        f"{run_dir / 'config.yaml'} --set model.hidden_size=...")
    assert yaml.safe_load((run_dir / "config.yaml").read_text())["model"]["hidden_size"] == 4


def test_minority_accuracy_is_recall_of_the_non_blank_targets():
    import numpy as np

    from rnncli.training.evaluation import minority_accuracy

    # 90 blanks (class 0) all right; 10 symbols of which 7 recalled, 2 called blank, 1 confused
    c = np.array([[90, 0, 0], [2, 4, 1], [0, 0, 3]])
    assert minority_accuracy(c) == {"minority_accuracy": 0.7}
    assert minority_accuracy(np.array([[5, 5], [5, 5]])) == {"minority_accuracy": 0.5}
    assert minority_accuracy(np.array([[2, 3, 0], [0, 3, 1], [0, 0, 3]])) == {}  # no class is half
