"""The `rnn` command line: a Typer app whose commands live one group per module.

Every command is thin (parse, call the library, render). Errors are turned into
messages and exit codes in exactly one place, `_error_boundary`, which the root
group wraps around every command, so `python -m rnncli`, the `rnn` script and
CliRunner in tests all behave the same:

    RnnError          -> "rnn: error: <line>" per line on stderr, exit e.exit_code (2 or 1; 130)
    BrokenPipeError   -> quiet exit 0 (the reader, e.g. `head -1`, has what it wanted)
    OSError           -> "rnn: error: <file>: <reason>" (errors.from_os_error): exit 2 when the
                         path cannot be used (directory, name too long, read-only), 1 (disk full)
    KeyboardInterrupt -> "rnn: interrupted", exit 130; SIGTERM/SIGHUP ("terminated"), 128 + signal
    MemoryError       -> one line, exit 1
    anything else     -> one line naming the exception, exit 1; traceback only with --debug
Lines are capped at MAX_LINE characters. The table is HANDLERS: extend it there.
"""

from __future__ import annotations

import contextlib
import os
import sys
import traceback
from collections.abc import Callable, Iterator

import typer

from rnncli import __version__, notices
from rnncli.cli._common import FLAGS, root_param
from rnncli.cli.help_format import HelpGroup
from rnncli.cli.usage import one_line_usage_errors
from rnncli.errors import Interrupted, RnnError, Terminated, from_os_error

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
    except (OSError, ValueError, AttributeError, RnnError):
        pass  # CliRunner's stdout has no file descriptor; nothing will flush it to a pipe


# No message line is longer than this: a value quoted in an error never floods the terminal.
MAX_LINE = 1000


def _print_error(message: str) -> None:
    lines = [line for line in str(message).splitlines() if line.strip()] or ["unknown error"]
    for line in lines:
        if len(line) > MAX_LINE:
            line = line[: MAX_LINE - 3] + "..."
        typer.echo(f"{PROG}: error: {line}", err=True)


# -- what each kind of exception becomes: print its line(s), return the exit code ---------------
def _on_interrupted(e: Interrupted) -> int:
    # Not an error: training stopped on request and saved a checkpoint.
    for line in str(e).splitlines():
        typer.echo(f"{PROG}: {line}", err=True)
    return e.exit_code


def _on_rnn_error(e: RnnError) -> int:
    _print_error(str(e))
    return e.exit_code


def _on_broken_pipe(e: BrokenPipeError) -> int:
    _silence_stdout()  # the reader (e.g. `head -1`) has what it wanted
    return 0


def _on_os_error(e: OSError) -> int:
    # Mapped like every other OS error: the file it concerns, exit 2 for a path the user gave
    # that cannot be used, 1 for disk full and other run-time failures.
    return _on_rnn_error(from_os_error(e))


def _on_keyboard_interrupt(e: KeyboardInterrupt) -> int:
    if isinstance(e, Terminated):
        typer.echo(f"{PROG}: terminated ({e.name})", err=True)
        return 128 + e.signum
    typer.echo(f"{PROG}: interrupted", err=True)
    return 130


def _on_memory_error(e: MemoryError) -> int:
    _print_error("out of memory; lower the sizes (model.hidden_size, train.batch_size, data.seq_len) "
                 "or set train.max_memory_gb")
    return 1


def _on_unexpected(e: Exception) -> int:
    _print_error(f"internal error: {type(e).__name__}: {e}" + ("" if _debug() else
                 " (run with --debug for the traceback)"))
    return 1


# First match wins; a new kind of failure is one more row (and one small function).
HANDLERS: list[tuple[type[BaseException], Callable[..., int]]] = [
    (Interrupted, _on_interrupted),
    (RnnError, _on_rnn_error),
    (BrokenPipeError, _on_broken_pipe),
    (OSError, _on_os_error),
    (KeyboardInterrupt, _on_keyboard_interrupt),
    (MemoryError, _on_memory_error),
    (Exception, _on_unexpected),
]
# Shown with their traceback under --debug (interruptions and closed pipes are not failures).
_QUIET = (Interrupted, BrokenPipeError)


def _debug() -> bool:
    return bool(root_param("debug", False))


def _flush_stdout() -> None:
    try:
        sys.stdout.flush()  # a closed pipe is often only noticed here
    except ValueError:
        pass  # stdout was closed by the command itself


@contextlib.contextmanager
def _error_boundary(debug: bool) -> Iterator[None]:
    """The single place where exceptions become stderr lines and exit codes (see HANDLERS)."""
    try:
        yield
        _flush_stdout()
    except (_ClickException, typer.Exit, typer.Abort):
        raise  # usage errors (exit 2) and explicit exits are Click's business
    except BaseException as e:
        handler = next((h for kind, h in HANDLERS if isinstance(e, kind)), None)
        if handler is None:
            raise  # SystemExit, GeneratorExit: not ours to translate
        if debug and not isinstance(e, _QUIET):
            traceback.print_exc()
        raise typer.Exit(handler(e)) from None


def _warning_printer(quiet: bool):
    """Library warnings (rnncli.notices) as one `rnn: warning: ...` line each; -q silences them."""

    def show(message: str) -> None:
        if not quiet:
            typer.echo(f"{PROG}: warning: {message}", err=True)

    return show


class RnnGroup(HelpGroup):
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
        import numpy as np

        try:
            # Floating-point trouble is found by explicit finiteness checks that name what overflowed
            # (training loss, predict/sample/eval outputs); numpy's RuntimeWarnings never reach stderr.
            with (_error_boundary(debug), one_line_usage_errors(ctx.meta.get("rnn_argv", [])),
                  notices.handled_by(_warning_printer(quiet)), np.errstate(all="ignore")):
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
    from rnncli.cli.help_format import RnnCommand

    app.command("train", cls=RnnCommand)(train_cmds.train)
    app.command("eval", cls=RnnCommand)(model_cmds.eval_cmd)
    app.command("predict", cls=RnnCommand)(model_cmds.predict)
    app.command("sample", cls=RnnCommand)(model_cmds.sample)
    app.command("info", cls=RnnCommand)(model_cmds.info)
    app.command("export", cls=RnnCommand)(export_cmds.export)
    app.command("gradcheck", cls=RnnCommand)(gradcheck_cmds.gradcheck)
    app.command("data", cls=RnnCommand)(data_cmds.data)
    app.command("bench", cls=RnnCommand)(bench_cmds.bench)
    app.command("diagnose", cls=RnnCommand)(diagnose_cmds.diagnose)
    app.command("explain", cls=RnnCommand)(explain_cmds.explain)
    app.command("states", cls=RnnCommand)(states_cmds.states)
    app.command("plot", cls=RnnCommand)(plot_cmds.plot)
    app.command("compare", cls=RnnCommand)(compare_cmds.compare)
    app.command("sweep", cls=RnnCommand)(sweep_cmds.sweep)
    app.add_typer(config_cmds.config_app, name="config")


_register()


def main() -> None:
    """Run the app. The `rnn` script and `python -m rnncli` start in `rnncli.__main__.main`, which
    guards the standard streams and signals before importing this package, then runs `app`."""
    app(prog_name=PROG)
