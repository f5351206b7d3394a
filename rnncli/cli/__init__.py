"""The `rnn` command line: a Typer app whose commands live one group per module.

Every command is thin (parse, call the library, render). Errors are turned into
messages and exit codes in exactly one place, `_error_boundary`, which the root
group wraps around every command, so `python -m rnncli`, the `rnn` script and
CliRunner in tests all behave the same:

    RnnError          -> "rnn: error: <line>" per line on stderr, exit e.exit_code (2 or 1; 130)
    KeyboardInterrupt -> "rnn: interrupted", exit 130
    BrokenPipeError   -> quiet exit 0 (the reader, e.g. `head -1`, has what it wanted)
    OSError           -> "rnn: error: <reason>: <file>", exit 1 (disk full, permissions, ...)
    anything else     -> one line naming the exception, exit 1; traceback only with --debug
"""

from __future__ import annotations

import contextlib
import os
import sys
import traceback
from collections.abc import Iterator

import typer
from typer.core import TyperGroup

from rnncli import __version__, notices
from rnncli.cli._common import FLAGS
from rnncli.cli.usage import one_line_usage_errors
from rnncli.errors import Interrupted, RnnError

PROG = "rnn"
# Typer may vendor its own copy of Click; find its exception base without importing Click.
_ClickException = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")


def _silence_stdout() -> None:
    """After EPIPE, point stdout at /dev/null so the interpreter's final flush stays quiet.

    This is what the Python docs (signal module, "Note on SIGPIPE") recommend.
    """
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass  # CliRunner's stdout has no file descriptor; nothing will flush it to a pipe


def _print_error(message: str) -> None:
    lines = [line for line in str(message).splitlines() if line.strip()] or ["unknown error"]
    for line in lines:
        typer.echo(f"{PROG}: error: {line}", err=True)


@contextlib.contextmanager
def _error_boundary(debug: bool) -> Iterator[None]:  # noqa: C901 - TODO(house): split
    """The single place where exceptions become stderr lines and exit codes."""
    try:
        yield
        # Flush inside the boundary: a closed pipe is often only noticed here.
        sys.stdout.flush()
    except Interrupted as e:
        # Not an error: training stopped on request and saved a checkpoint.
        for line in str(e).splitlines():
            typer.echo(f"{PROG}: {line}", err=True)
        raise typer.Exit(e.exit_code) from None
    except RnnError as e:
        if debug:
            traceback.print_exc()
        _print_error(str(e))
        raise typer.Exit(e.exit_code) from None
    except BrokenPipeError:
        _silence_stdout()
        raise typer.Exit(0) from None
    except OSError as e:
        # Disk full, permission denied, ... while reading or writing: the system's words.
        if debug:
            traceback.print_exc()
        where = f": {e.filename}" if getattr(e, "filename", None) else ""
        _print_error(f"{e.strerror or type(e).__name__}{where}")
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        if debug:
            traceback.print_exc()
        typer.echo(f"{PROG}: interrupted", err=True)
        raise typer.Exit(130) from None
    except (_ClickException, typer.Exit, typer.Abort):
        raise  # usage errors (exit 2) and explicit exits are Click's business
    except Exception as e:  # noqa: BLE001 - the last line of defence before a traceback
        if debug:
            traceback.print_exc()
        _print_error(
            f"internal error: {type(e).__name__}: {e} (run with --debug for the traceback)"
            if not debug
            else f"internal error: {type(e).__name__}: {e}"
        )
        raise typer.Exit(1) from None


def _warning_printer(quiet: bool):
    """Library warnings (rnncli.notices) as one `rnn: warning: ...` line each; -q silences them."""

    def show(message: str) -> None:
        if not quiet:
            typer.echo(f"{PROG}: warning: {message}", err=True)

    return show


class RnnGroup(TyperGroup):
    """Root group: runs every command inside the error boundary."""

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:
        # `--debug` is a root option, but users type it after the command too
        # (`rnn train --debug`): move it to the front so it works anywhere.
        end = args.index("--") if "--" in args else len(args)
        if "--debug" in args[:end]:
            args = ["--debug"] + [a for i, a in enumerate(args) if i >= end or a != "--debug"]
        ctx.meta["rnn_argv"] = list(args)  # for usage errors that repeat the user's value
        with one_line_usage_errors(args):
            return super().parse_args(ctx, args)

    def invoke(self, ctx: typer.Context):
        debug = bool(ctx.params.get("debug")) or bool(os.environ.get("RNN_DEBUG"))
        quiet = bool(ctx.params.get("quiet"))
        token = FLAGS.set({"debug": debug, "quiet": quiet})
        try:
            with (_error_boundary(debug), one_line_usage_errors(ctx.meta.get("rnn_argv", [])),
                  notices.handled_by(_warning_printer(quiet))):
                return super().invoke(ctx)
        finally:
            FLAGS.reset(token)


app = typer.Typer(
    name=PROG,
    cls=RnnGroup,
    help="Train vanilla recurrent networks written from scratch in NumPy.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"{PROG} {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", "-V", callback=_version_callback, is_eager=True,
        help="Print the version and exit.",
    ),
    debug: bool = typer.Option(
        False, "--debug", help="Show the full traceback when something fails.",
    ),
    quiet: bool = typer.Option(
        False, "--quiet", "-q", help="No progress or logs on stderr (errors still shown).",
    ),
) -> None:
    """rnn: train, evaluate and run vanilla RNNs from the shell.

    Standard output carries only data (predictions, --json objects, configs);
    progress and tables go to standard error. Exit codes: 0 ok, 1 runtime
    failure, 2 bad usage/config/data/weights, 130 interrupted.
    """


def _register() -> None:
    # Imported here so `rnn --version` stays fast and a broken command module
    # does not take the whole CLI down at import.
    from rnncli.cli import bench as bench_cmds
    from rnncli.cli import compare as compare_cmds
    from rnncli.cli import config as config_cmds
    from rnncli.cli import data as data_cmds
    from rnncli.cli import diagnose as diagnose_cmds
    from rnncli.cli import explain as explain_cmds
    from rnncli.cli import export as export_cmds
    from rnncli.cli import gradcheck as gradcheck_cmds
    from rnncli.cli import model as model_cmds
    from rnncli.cli import plot as plot_cmds
    from rnncli.cli import states as states_cmds
    from rnncli.cli import sweep as sweep_cmds
    from rnncli.cli import train as train_cmds

    app.command("train")(train_cmds.train)
    app.command("eval")(model_cmds.eval_cmd)
    app.command("predict")(model_cmds.predict)
    app.command("sample")(model_cmds.sample)
    app.command("info")(model_cmds.info)
    app.command("export")(export_cmds.export)
    app.command("gradcheck")(gradcheck_cmds.gradcheck)
    app.command("data")(data_cmds.data)
    app.command("bench")(bench_cmds.bench)
    app.command("diagnose")(diagnose_cmds.diagnose)
    app.command("explain")(explain_cmds.explain)
    app.command("states")(states_cmds.states)
    app.command("plot")(plot_cmds.plot)
    app.command("compare")(compare_cmds.compare)
    app.command("sweep")(sweep_cmds.sweep)
    app.add_typer(config_cmds.config_app, name="config")


_register()


def main() -> None:
    """Console-script entry point (`rnn`, `python -m rnncli`)."""
    app(prog_name=PROG)
