"""README stays true: the Quickstart is what CI runs, and every command and config key is documented."""

from __future__ import annotations

import re
from pathlib import Path

from rnncli.config import config_reference_markdown

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
CI = (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def quickstart_commands() -> list[str]:
    section = README.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```(?:bash|sh)?\n(.*?)```", section, re.S)
    assert block, "Quickstart has no code block"
    return [line.strip() for line in block.group(1).splitlines() if line.strip()]


def test_quickstart_has_exactly_two_setup_commands():
    install_and_train, install_and_test = quickstart_commands()
    assert install_and_train.startswith("pip install -e . && rnn train --config configs/")
    config = install_and_train.rsplit(" ", 1)[1]
    assert (ROOT / config).is_file(), config
    assert install_and_test == "pip install -e '.[test]' && python -m pytest -q"


def test_ci_runs_the_readme_test_command_exactly():
    match = re.search(r'^TEST_COMMAND="(.*)"$', CI, re.M)
    assert match, ".ci/run does not define TEST_COMMAND"
    assert match.group(1) == quickstart_commands()[1]
    assert 'bash -c "$TEST_COMMAND"' in CI
    # every extra first, so CI runs the tests a lean `.[test]` install skips
    assert CI.index("pip install -q -e '.[all]'") < CI.index('bash -c "$TEST_COMMAND"')
    assert '"$rc" -eq 5' in CI  # pytest's "no tests collected" is a failure
    assert "set -euo pipefail" in CI
    assert "venv" in CI and "mktemp -d" in CI  # a fresh environment every time
    assert "collected no tests" in CI


def test_readme_shows_every_command():
    from typer.main import get_command

    from rnncli.cli import app

    commands = set(get_command(app).commands)  # type: ignore[attr-defined]
    assert {"train", "eval", "predict", "sample", "gradcheck", "data", "config", "info"} <= commands
    for name in commands:
        assert f"### `rnn {name}`" in README, name
        assert re.search(rf"^rnn {name}\b", README, re.M), f"no example of rnn {name}"


def test_readme_documents_every_config_key():
    keys = re.findall(r"^\| `([\w.]+)` \|", config_reference_markdown(), re.M)
    assert len(keys) > 20
    missing = [k for k in keys if f"| `{k}` |" not in README]
    assert not missing, f"README config reference is missing {missing}; regenerate it with " \
        "`rnn config reference`"


def test_readme_config_reference_is_current():
    """Defaults and descriptions in README are the schema's own, not a stale copy."""
    assert config_reference_markdown().strip() in README, (
        "README's config table differs from the schema; paste the output of `rnn config reference`"
    )
