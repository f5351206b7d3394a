"""`rnn config show|validate|schema|reference`: look at and check configs without training."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from rnncli.cli._common import err_console, is_quiet
from rnncli.cli.help_format import HelpGroup, RnnCommand
from rnncli.cli.options import ConfigFiles, Seed, SetOverrides

config_app = typer.Typer(
    cls=HelpGroup,
    help="Show the resolved config, validate config files, print the JSON Schema.",
    no_args_is_help=True,
)


@config_app.command("show", cls=RnnCommand)
def show(config: ConfigFiles = None, set_: SetOverrides = None, seed: Seed = None) -> None:
    """Print the fully resolved config as YAML (defaults filled in, overrides applied).

    Example: rnn config show -c configs/sine.yaml --set train.lr=0.01
    """
    from rnncli.config import config_to_yaml, load_config

    cfg = load_config(config or [], set_ or [], seed=seed)
    sys.stdout.write(config_to_yaml(cfg))


@config_app.command("validate", cls=RnnCommand)
def validate(
    files: Annotated[
        list[Path], typer.Argument(metavar="FILE...", help="Config files to check.")
    ],
    set_: SetOverrides = None,
) -> None:
    """Check config files; every problem is reported, exit 2 if any.

    Each file is checked on its own (with the --set overrides applied).
    Example: rnn config validate configs/*.yaml
    """
    from rnncli.config import load_config
    from rnncli.errors import ConfigError

    problems: list[str] = []
    console = err_console(is_quiet())
    for f in files:
        try:
            load_config([f], set_ or [])
        except ConfigError as e:
            problems.append(str(e))
            continue
        console.print(f"ok: {f}")
    if problems:
        raise ConfigError("\n".join(problems))


@config_app.command("schema", cls=RnnCommand)
def schema() -> None:
    """Print the JSON Schema of the config (for editor completion and validation)."""
    from rnncli.config import config_schema

    sys.stdout.write(json.dumps(config_schema(), indent=2) + "\n")


@config_app.command("reference", cls=RnnCommand)
def reference() -> None:
    """Print the reference of every config key with its default, as Markdown."""
    from rnncli.config import config_reference_markdown

    sys.stdout.write(config_reference_markdown().rstrip("\n") + "\n")
