"""Every shipped config trains for one epoch at tiny sizes and passes the gradient check."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import yaml
from conftest import rnn

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.yaml"))
GENERATORS_WITH_SAMPLES = {"random", "sine", "adding", "copy", "parity", "frequency"}


def tiny_overrides(path: Path) -> list[str]:
    """--set options that shrink a config to a fraction of a second, keeping its task."""
    data = (yaml.safe_load(path.read_text()) or {}).get("data") or {}
    source = data.get("source", "sine")
    sets = ["train.epochs=1", "model.hidden_size=4"]
    if ((yaml.safe_load(path.read_text()) or {}).get("train") or {}).get("device") == "cuda":
        sets.append("train.device=cpu")  # a GPU config's model and data, checked on the host
    if source in GENERATORS_WITH_SAMPLES:
        sets.append(f"data.num_samples={min(int(data.get('num_samples', 1000)), 40)}")
    if source not in ("copy",) and "seq_len" in data:
        sets.append(f"data.seq_len={min(int(data['seq_len']), 12)}")
    if data.get("min_len"):
        sets.append(f"data.min_len={min(int(data['min_len']), 2)}")
    return [arg for s in sets for arg in ("--set", s)]


def test_there_are_configs():
    assert len(CONFIGS) >= 7, CONFIGS


@pytest.mark.slow
@pytest.mark.parametrize("config", CONFIGS, ids=[c.stem for c in CONFIGS])
def test_config_trains_one_epoch(config, tmp_path):
    out = tmp_path / "run"
    result = rnn("train", "-c", str(config), *tiny_overrides(config), "--out", str(out), "--json")
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["status"] == "completed" and summary["epochs"] == 1
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert len(records) == 1 and math.isfinite(records[0]["loss"])
    info = json.loads(rnn("info", str(out), "--json").stdout)
    assert info["model"]["hidden_size"] == 4
    assert info["epoch"] == 1


@pytest.mark.slow
@pytest.mark.parametrize("config", CONFIGS, ids=[c.stem for c in CONFIGS])
def test_config_gradcheck(config):
    result = rnn("gradcheck", "-c", str(config), *tiny_overrides(config), "--steps", "4",
                 "--batch-size", "2", "--json")
    assert result.exit_code == 0, (result.stdout, result.stderr)
    assert json.loads(result.stdout)["passed"] is True
