"""Every table the CLI prints stays readable at 60, 80 and 200 columns: no line wider than the
terminal, no cell cut to "…", every name and number shown in full."""

from __future__ import annotations

import io

import pytest
from conftest import rnn
from rich.console import Console

from rnncli.cli.bench import _table as bench_table
from rnncli.cli.compare import compare_table
from rnncli.cli.diagnose import _render as diagnose_renderables
from rnncli.cli.render import gradcheck_table, metrics_table
from rnncli.cli.tables import print_table, short_paths

WIDTHS = (60, 80, 200)
TINY = ["--set", "data.num_samples=40", "--set", "data.seq_len=6", "--set", "model.hidden_size=4",
        "--set", "train.batch_size=20"]


def render(renderable, width: int) -> str:
    console = Console(file=io.StringIO(), width=width, no_color=True, highlight=False)
    if hasattr(renderable, "columns"):
        print_table(console, renderable)
    else:
        console.print(renderable)
    return console.file.getvalue()


def assert_readable(text: str, width: int, *shown: str) -> None:
    assert "…" not in text, text
    too_wide = [line for line in text.splitlines() if len(line) > width]
    assert not too_wide, "\n".join(too_wide)
    for s in shown:
        assert s in text, (s, text)


def test_short_paths_keep_the_distinguishing_suffix():
    assert short_paths(["runs/adding-1", "runs/adding-2"]) == ["adding-1", "adding-2"]
    assert short_paths(["a/runs/x", "b/runs/x", "c/y"]) == ["a/runs/x", "b/runs/x", "y"]
    assert short_paths(["/tmp/p/runs/sine-1"]) == ["sine-1"]
    assert short_paths(["runs/x", "runs/x"]) == ["x", "x"]  # the same run twice stays the same


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    made = {
        "sine-1": ["--set", "train.epochs=1", "--set", "train.lr=0.01"],
        "adding-1": ["--set", "data.source=adding", "--set", "train.epochs=2",
                     "--set", "model.nonlinearity=relu", "--set", "model.recurrent_init=identity"],
        "frequency-1": ["--set", "data.source=frequency", "--set", "train.epochs=1",
                        "--set", "train.patience=3", "--set", "model.init=xavier"],
    }
    for name, args in made.items():
        result = rnn("-q", "train", *TINY, *args, "--out", str(root / name))
        assert result.exit_code == 0, result.stderr
    return root


@pytest.mark.parametrize("width", WIDTHS)
def test_compare_of_three_tasks_fits(runs, width):
    from rnncli.tools.compare import compare_runs

    result = compare_runs([runs / "sine-1", runs / "adding-1", runs / "frequency-1"])
    assert len(result["differences"]) >= 8  # many columns: the case that used to be all "…"
    text = render(compare_table(result), width)
    assert_readable(text, width, "sine-1", "adding-1", "frequency-1", "model.recurrent_init",
                    "identity", "cross_entropy")


@pytest.mark.parametrize("width", WIDTHS)
def test_compare_names_two_similar_runs_apart(runs, width):
    from rnncli.tools.compare import compare_runs

    text = render(compare_table(compare_runs([runs / "sine-1", runs / "adding-1"])), width)
    assert_readable(text, width, "sine-1", "adding-1")
    assert str(runs) not in text  # the common prefix is left out


def _bench_result() -> dict:
    side = {"step_ms": 9.526, "seq_per_s": 6718.4, "gflops": 55.1, "peak_fraction": 0.134}
    return {
        "size": {"cell": "rnn", "batch": 64, "seq_len": 100, "input": 64, "hidden": 256, "layers": 1,
                 "dtype": "float32"},
        "torch_class": "RNN", "threads": 2, "peak": {"gflops": 411.0}, "numpy": side,
        "torch": {**side, "step_ms": 27.2, "peak_fraction": 0.05},
        "train_step": {"numpy": {"step_ms": 12.1}, "torch": {"step_ms": 30.5}, "ratio": 0.397},
        "scaling": {"2T": {"step_ms": 19.61, "ratio": 2.0587}, "2B": {"step_ms": 18.3, "ratio": 1.93},
                    "base_ms": 9.525},
        "memory": {"window": 10, "full_peak_bytes": 20.9 * 2**20, "window_peak_bytes": 2.7 * 2**20,
                   "ratio": 0.129},
    }


@pytest.mark.parametrize("width", WIDTHS)
def test_bench_table_fits_and_says_what_ratios_compare(width):
    text = render(bench_table(_bench_result()), width)
    assert_readable(text, width, "9.526", "19.61", "(2.06x)", "(base)", "/ base)", "9.525", "0.13x")
    assert "2 threads" in text


@pytest.mark.parametrize("width", WIDTHS)
def test_eval_and_gradcheck_tables_fit(width):
    text = render(metrics_table({"loss": 0.0123, "accuracy": 0.99, "baseline_majority_accuracy": 0.262},
                                title="eval runs/frequency-1/best.npz"), width)
    assert_readable(text, width, "baseline_majority_accuracy", "0.262")
    rows = [(name, 1.2e-9, 3.4e-11, (12, 3), True, 160)
            for name in ("rnn.0.W_xh", "rnn.0.W_hh", "rnn.1.W_hh", "head.W_hy", "x", "h0")]
    rows.append(("rnn.2.W_hh", 0.031, 2e-3, (63, 62), False, 4096))
    text = render(gradcheck_table(rows, 1e-6, 1e-8), width)
    assert_readable(text, width, "rnn.2.W_hh", "(63, 62)", "FAIL", "1.20e-09", "4096")


@pytest.mark.parametrize("width", WIDTHS)
def test_diagnose_tables_fit(width):
    from rnncli.config import load_config
    from rnncli.tools.diagnose import diagnose_config

    cfg = load_config([], [*TINY[1::2], "model.num_layers=2"])
    report = diagnose_config(cfg, batch_size=4, steps=6)
    text = "".join(render(r, width) for r in diagnose_renderables(report, chart_width=min(60, width - 12)))
    assert_readable(text, width, "singular", "rnn.1.W_hh", "gradients:")
