"""Plots: sparkline and text charts as exact strings, a valid PNG with matplotlib, the terminal
fallback without it, and `rnn plot` end to end."""

from __future__ import annotations

import json
import struct
import sys
from pathlib import Path

import pytest
from conftest import assert_error, needs, one_blas_thread, rnn

from rnncli.config import load_config
from rnncli.errors import UsageError
from rnncli.tools.plot import run_series, sparkline, terminal_chart, text_chart
from rnncli.tools.plot_figure import plot_run
from rnncli.training.loop import train

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    cfg = load_config([ROOT / "configs/frequency.yaml"],
                      ["data.num_samples=64", "data.seq_len=12", "model.hidden_size=6", "train.epochs=3",
                       "train.patience=null"])
    d = tmp_path_factory.mktemp("runs") / "frequency-1"
    with one_blas_thread():
        train(cfg, d)
    return d


def test_sparkline_maps_low_to_high_and_leaves_gaps():
    assert sparkline([0, 1, 2, 3, 4, 5, 6, 7]) == "▁▂▃▄▅▆▇█"
    assert sparkline([3.0, None, float("nan"), 1.0]) == "█  ▁"
    assert sparkline([2, 2, 2]) == "▅▅▅"
    assert sparkline([]) == ""
    assert sparkline([None]) == " "


def test_sparkline_averages_long_series_down_to_width():
    line = sparkline(list(range(100)), width=10)
    assert len(line) == 10
    assert line[0] == "▁" and line[-1] == "█"
    assert list(line) == sorted(line)


def test_text_chart_places_points_and_labels():
    lines = text_chart({"a": [1, 2, 3]}, width=3, height=3)
    assert lines[:3] == ["3 |  *", "2 | *", "1 |*"]
    assert lines[3] == "  +---"
    assert lines[-1].strip() == "* a"
    log_lines = text_chart({"a": [1, 10, 100]}, width=3, height=3, log=True)
    assert log_lines[0].startswith("100 |") and log_lines[1].startswith(" 10 |")
    assert text_chart({"a": [None, float("nan")]}) == ["(no finite values to chart)"]


def test_run_series_reads_metrics(run_dir):
    s = run_series(run_dir)
    assert s["epoch"] == [1, 2, 3]
    assert s["metric"] == "accuracy"
    assert len(s["val_metric"]) == 3 and all(0 <= v <= 1 for v in s["val_metric"])
    assert all(v > 0 for v in s["grad_norm"])


def test_run_series_errors_name_the_path(tmp_path):
    with pytest.raises(UsageError, match="not a run directory"):
        run_series(tmp_path / "nope")
    with pytest.raises(UsageError, match=r"metrics\.jsonl: no epochs recorded"):
        run_series(tmp_path)


def test_terminal_chart_has_loss_metric_and_gradient_flow(run_dir):
    text = "\n".join(terminal_chart(run_dir))
    assert "loss (log scale)" in text and "validation accuracy" in text
    assert "* loss   o val_loss" in text
    assert "grad norm" in text and "dh ratio" in text


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


@pytest.mark.slow
def test_plot_run_writes_a_valid_png(run_dir, tmp_path):
    needs("matplotlib")
    out = plot_run(run_dir, tmp_path / "c.png")
    w, h = _png_size(out.read_bytes())
    assert w > 600 and h > 200
    assert out.read_bytes()[-8:-4] == b"IEND"


def test_plot_run_without_matplotlib_says_how_to_install(run_dir, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes `import matplotlib` fail
    with pytest.raises(UsageError, match=r"pip install 'rnncli\[plot\]'"):
        plot_run(run_dir, tmp_path / "c.png")
    assert not (tmp_path / "c.png").exists()


@pytest.mark.slow
def test_cli_png_by_default_when_matplotlib_is_there(run_dir, tmp_path):
    needs("matplotlib")
    res = rnn("plot", str(run_dir), "-o", str(tmp_path / "x.png"))
    assert res.exit_code == 0, res.stderr
    assert res.stdout == "" and f"wrote {tmp_path / 'x.png'}" in res.stderr
    _png_size((tmp_path / "x.png").read_bytes())


def test_a_named_figure_without_matplotlib_is_an_error(run_dir, tmp_path, monkeypatch):
    # -o names a file the command cannot make: exit 2, never a warning and exit 0 (issue 22)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    res = rnn("plot", str(run_dir), "-o", str(tmp_path / "x.png"))
    assert_error(res, 2, f"-o {tmp_path / 'x.png'}", "needs matplotlib", "--terminal")
    assert not (tmp_path / "x.png").exists()
    res = rnn("plot", str(run_dir), "-o", str(tmp_path / "x.png"), "--terminal")
    assert res.exit_code == 0 and "loss (log scale)" in res.stderr


def test_cli_without_matplotlib_says_so_in_one_line_then_charts(run_dir, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    res = rnn("plot", str(run_dir))
    assert res.exit_code == 0, res.stderr
    first, second = res.stderr.splitlines()[:2]
    assert first == ("rnn: warning: matplotlib is not installed (no figure; pip install 'rnncli[plot]'), "
                     "showing terminal charts")
    assert second.startswith("loss (log scale)")


@pytest.mark.slow
def test_figure_format_follows_the_suffix(run_dir, tmp_path):
    needs("matplotlib")
    for name, magic in (("c.pdf", b"%PDF-"), ("c.svg", b"<?xml"), ("C.PNG", b"\x89PNG")):
        assert plot_run(run_dir, tmp_path / name).read_bytes().startswith(magic), name
    res = rnn("plot", str(run_dir), "-o", str(tmp_path / "c.jpg"))
    assert res.exit_code == 2 and res.stdout == ""
    assert res.stderr == (f"rnn: error: {tmp_path / 'c.jpg'}: cannot tell the figure format from the "
                          "suffix .jpg; use .png, .pdf or .svg\n")
    assert not (tmp_path / "c.jpg").exists()


@pytest.mark.slow
def test_figure_marks_best_epoch_and_baselines(run_dir, tmp_path):
    needs("matplotlib")
    svg = plot_run(run_dir, tmp_path / "c.svg").read_text()
    best = json.loads((run_dir / "run.json").read_text())["summary"]["best_epoch"]
    for text in (f"best epoch {best}", "baseline majority_accuracy", "baseline uniform_ce",
                 "validation accuracy (fraction)", "loss (cross-entropy, nats)", "dh_ratio: |dL/dh_1|"):
        assert text in svg, text


def test_cli_terminal_flag_and_json(run_dir):
    res = rnn("plot", str(run_dir), "--terminal")
    assert res.exit_code == 0 and "validation accuracy" in res.stderr
    res = rnn("plot", str(run_dir), "--terminal", "--json")
    assert json.loads(res.stdout)["epoch"] == [1, 2, 3]


def test_cli_bad_run_dir(tmp_path):
    res = rnn("plot", str(tmp_path / "missing"))
    assert res.exit_code == 2
    assert f"rnn: error: {tmp_path / 'missing'}: not a run directory" in res.stderr
