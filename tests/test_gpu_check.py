"""scripts/gpu_check.sh in its host mode (RNN_GPU_CHECK_CPU=1): the same checks through the test double,
so the script a GPU session runs is known to work before it gets a GPU."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_gpu_check_runs_every_part_on_the_host_and_passes():
    env = {**os.environ, "RNN_GPU_CHECK_CPU": "1", "PYTHON": sys.executable, "OPENBLAS_NUM_THREADS": "1"}
    proc = subprocess.run([str(ROOT / "scripts" / "gpu_check.sh")], capture_output=True, text=True, env=env,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-2000:]
    rows = proc.stdout.splitlines()
    parts = {line.split()[0] for line in rows[1:-1]}
    assert parts == {"grad", "bench", "config", "text"}, rows
    configs = sorted(p.name for p in (ROOT / "configs").glob("*.yaml"))
    assert [line.split()[1] for line in rows if line.startswith("config")] == configs
    assert rows[-1].startswith("all ") and "checks passed" in rows[-1]


def test_gpu_check_fails_loudly_when_a_check_fails(monkeypatch, capsys):
    sys.path.insert(0, str(ROOT / "scripts"))
    import gpu_check

    import rnncli.core.xp as xpmod
    import rnncli.tools.device_check as dc

    monkeypatch.setattr(xpmod, "_FUSED", {})  # the fused loops it installs for the fake go with the test
    monkeypatch.setattr(dc, "DEVICE_TOL", -1.0)  # nothing can pass a negative tolerance
    assert gpu_check.main(["--cpu", "--parts", "grad"]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "checks failed" in out.splitlines()[-1]


def test_gpu_check_without_a_gpu_says_so(capsys):
    from rnncli.device import cuda_problem

    if cuda_problem() is None:
        pytest.skip("a CUDA GPU is present here")
    sys.path.insert(0, str(ROOT / "scripts"))
    import gpu_check

    assert gpu_check.main(["--parts", "grad"]) == 2
    assert "RNN_GPU_CHECK_CPU=1" in capsys.readouterr().err
