"""Real processes joined by real pipes: stdout carries only data, a closed pipe ends quietly."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import proc_env

pytestmark = pytest.mark.slow  # real processes / many generated examples


def _bash(script: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run a pipeline under bash; exit with its last failing stage (like pipefail) and
    report every stage's exit status on stderr."""
    full = (
        f"{script}\n"
        'ps=("${PIPESTATUS[@]}"); echo "status ${ps[*]}" >&2\n'
        'rc=0; for s in "${ps[@]}"; do [ "$s" -ne 0 ] && rc=$s; done; exit $rc\n'
    )
    return subprocess.run(
        ["bash", "-c", full], cwd=cwd, env=proc_env(), capture_output=True, text=True, timeout=120
    )


def test_data_to_predict_to_head_ends_quietly(trained, tmp_path):
    py = shlex.quote(sys.executable)
    # Enough sequences that both writers are still writing when `head` closes the pipe.
    script = (
        f"{py} -m rnncli data sine -n 3000 --seq-len 10 -o - "
        f"| {py} -m rnncli predict {shlex.quote(str(trained))} - --input-format jsonl "
        "--batch-size 16 | head -1"
    )
    result = _bash(script, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "y0\n"  # csv header, nothing else
    # Only our status line on stderr: no traceback, no "Exception ignored", no BrokenPipe noise.
    assert result.stderr.strip() == "status 0 0 0", result.stderr


def test_jsonl_predictions_through_pipes(trained, tmp_path):
    py = shlex.quote(sys.executable)
    script = (
        f"{py} -m rnncli data sine -n 5 --seq-len 10 --seed 2 -o - "
        f"| {py} -m rnncli predict {shlex.quote(str(trained))} - --format jsonl "
        f"| {py} -c 'import sys, json; [print(json.loads(l)[\"y\"][0]) for l in sys.stdin]'"
    )
    result = _bash(script, tmp_path)
    assert result.returncode == 0, result.stderr
    values = [float(v) for v in result.stdout.split()]
    assert len(values) == 5
    assert all(-2.0 < v < 2.0 for v in values)  # sine targets live in [-1, 1]


def test_user_error_in_a_pipeline_exits_2_with_one_line(tmp_path):
    py = shlex.quote(sys.executable)
    result = _bash(f"echo '{{\"x\": [[1]]}}' | {py} -m rnncli predict missing-run -", tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines[0] == "rnn: error: weights file not found: missing-run"
    assert "Traceback" not in result.stderr


def test_train_json_summary_is_the_only_stdout(tmp_path):
    py = shlex.quote(sys.executable)
    script = (
        f"{py} -m rnncli train --set train.epochs=1 --set data.num_samples=32 "
        "--set data.seq_len=5 --set model.hidden_size=4 --out r --json"
    )
    result = _bash(script, tmp_path)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["status"] == "completed"
    # Not a terminal: one plain line per epoch, no live bar, no escape codes.
    assert "epoch 1/1 loss" in result.stderr and "\x1b[" not in result.stderr
