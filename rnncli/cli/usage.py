"""Click's usage errors as one `rnn: error:` line (exit 2), with a `--set` hint for config keys.

Click would print a usage block, a hint and a boxed message; every other error of `rnn` is one
line, so usage errors are too:

    rnn train --epochs 3   ->  rnn: error: rnn train: no such option --epochs; did you mean
                               --set train.epochs=3?
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import typer

# Typer vendors its own Click; find its classes without importing Click.
_UsageError = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError")
# Commands whose --set takes data options without the "data." prefix (`--set seq_len=100`).
_DATA_SET_COMMANDS = {"eval", "data"}


def config_keys() -> list[str]:
    """Every dotted key of the config schema (`seed`, `train.epochs`, ...)."""
    from pydantic import BaseModel

    from rnncli.config import Config

    def walk(model: type[BaseModel], prefix: str) -> list[str]:
        keys = []
        for name, field in model.model_fields.items():
            sub = field.annotation
            if isinstance(sub, type) and issubclass(sub, BaseModel):
                keys += walk(sub, f"{prefix}{name}.")
            else:
                keys.append(prefix + name)
        return keys

    return walk(Config, "")


def _option_value(option: str, argv: Sequence[str]) -> str:
    """The value the user gave after `option` (`--epochs 3` or `--epochs=3`), else VALUE."""
    for i, arg in enumerate(argv):
        if arg.startswith(option + "="):
            return arg.split("=", 1)[1]
        if arg == option and i + 1 < len(argv) and not argv[i + 1].startswith("-"):
            return argv[i + 1]
    return "VALUE"


def set_suggestion(option: str, argv: Sequence[str], command: str) -> str | None:
    """`--set train.epochs=3` when `option` (e.g. `--epochs`) names a config key, else None.

    Args:
        option: the unknown option as typed, with its dashes.
        argv: the command line's arguments (to repeat the user's value).
        command: the subcommand's name; eval and data take data keys without their prefix.
    """
    name = option.lstrip("-").split("=", 1)[0].replace("-", "_")
    if not name:
        return None
    keys = config_keys()
    if command in _DATA_SET_COMMANDS:
        keys = [k.removeprefix("data.") for k in keys if k.startswith("data.")]
    matches = [k for k in keys if k == name or k.endswith("." + name)]
    if not matches:
        return None
    value = _option_value(option.split("=", 1)[0], argv)
    return " or ".join(f"--set {k}={value}" for k in matches[:3])


def _has_set_option(ctx) -> bool:
    params = getattr(getattr(ctx, "command", None), "params", None) or []
    return any("--set" in getattr(p, "opts", ()) for p in params)


def usage_line(error: BaseException, argv: Sequence[str]) -> str:
    """The one line (without the `rnn: error: ` prefix) for a Click usage error."""
    ctx = getattr(error, "ctx", None)
    where = ctx.command_path if ctx is not None else "rnn"
    option = getattr(error, "option_name", None)
    if option and type(error).__name__ == "NoSuchOption":
        hint = set_suggestion(option, argv, ctx.info_name if ctx else "") if _has_set_option(ctx) else None
        if hint:
            return f"{where}: no such option {option}; did you mean {hint}?"
    message = " ".join(error.format_message().split())
    return f"{where}: {message} (see {where} --help)"


@contextlib.contextmanager
def one_line_usage_errors(argv: Sequence[str]) -> Iterator[None]:
    """Turn Click usage errors raised inside into one stderr line and exit 2.

    `rnn` and `rnn config` with no arguments still show their help (Click signals that with a
    usage error too).
    """
    try:
        yield
    except _UsageError as e:
        if type(e).__name__ == "NoArgsIsHelpError":
            raise
        typer.echo(f"rnn: error: {usage_line(e, argv)}", err=True)
        raise typer.Exit(e.exit_code) from None
