"""`rnn train`: resolve the config, train into a run directory, show progress on stderr."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from rnncli.cli._common import echo_json, err_console, is_quiet, stderr_is_terminal
from rnncli.cli.options import ConfigFiles, DeviceOption, Json, Quiet, Seed, SetOverrides, Threads
from rnncli.errors import UsageError


def train(  # noqa: PLR0913 - a Typer command: one parameter per option
    config: ConfigFiles = None,
    set_: SetOverrides = None,
    seed: Seed = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", metavar="DIR",
            help="The run directory to create (default: runs/<name>-<N>, never an existing one).",
        ),
    ] = None,
    resume: Annotated[
        Path | None,
        typer.Option(
            "--resume", metavar="RUN_DIR",
            help="Continue an interrupted run from its last checkpoint (uses its config.yaml).",
        ),
    ] = None,
    log_to: Annotated[
        list[str] | None,
        typer.Option(
            "--log-to", metavar="TRACKER",
            help="Also log to tensorboard and/or mlflow (repeat, or tensorboard,mlflow); "
            "the same as --set train.log_to=[...].",
        ),
    ] = None,
    threads: Threads = None,
    device: DeviceOption = None,
    init_from: Annotated[
        Path | None,
        typer.Option(
            "--init-from", metavar="RUN_DIR|WEIGHTS.npz",
            help="Start from a trained model's weights (fine-tuning): the config's architecture must "
            "match it tensor by tensor; a different number of outputs re-initialises the head.",
        ),
    ] = None,
    quiet: Quiet = False,
    json_: Json = False,
) -> None:
    """Train a model and write a run directory.

    The run directory holds config.yaml (the resolved config: `rnn train -c
    RUN/config.yaml` reproduces the run), metrics.jsonl (one JSON object per epoch),
    model.npz (final weights), best.npz (best validation loss) and run.json.
    With no --config and no data.source, a small built-in demo task trains in
    seconds; with --set data.source=FILE alone, the documented defaults apply.

    Examples:
      rnn train -c configs/sine.yaml
      rnn train -c configs/adding.yaml --set train.epochs=5 \\
        --set model.hidden_size=64
      rnn train --resume runs/adding-1
      rnn train -c configs/sine.yaml --log-to tensorboard
      rnn train -c configs/adding.yaml --threads 1
      rnn train -c configs/shakespeare_gpu.yaml --device cuda
      rnn train -c runs/text-1/config.yaml --set data.path=other.txt \\
        --init-from runs/text-1
    """
    from rnncli.cli.render import ProgressReporter
    from rnncli.cli.summary import curve_lines, summary_lines
    from rnncli.config import load_config
    from rnncli.notices import warn
    from rnncli.training.evaluation import worse_than_naive
    from rnncli.training.loop import train as run_training
    from rnncli.training.rundir import default_run_dir
    from rnncli.training.trackers import tracked

    set_ = list(set_ or [])
    if log_to:
        names = [n.strip() for item in log_to for n in item.split(",") if n.strip()]
        set_.append(f"train.log_to=[{', '.join(names)}]")
    if resume is not None:
        _check_resume_options(resume, config, out, init_from)
        cfg = load_config([Path(resume) / "config.yaml"], set_ or [], seed=seed)
        run_dir = Path(resume)
    else:
        cfg = load_config(config or [], set_ or [], seed=seed)
        run_dir = Path(out) if out is not None else default_run_dir(cfg, config_paths=config or [])
    console = err_console(is_quiet(quiet))
    _use_device(cfg, device)
    if threads is not None:
        cfg.train.threads = threads
        if resume is not None:
            _warn_thread_change(console, run_dir, threads)
    reporter = ProgressReporter(console, live=stderr_is_terminal())
    reporter.note = None if resume is not None else _demo_note(config or [], set_)
    try:
        with tracked(reporter, cfg.train.log_to, run_dir) as callbacks:
            summary = run_training(
                cfg, run_dir, callbacks=callbacks, resume=resume is not None, argv=sys.argv,
                init_from=init_from,
            )
    finally:
        reporter.close()  # never leave a live bar behind, even on Ctrl-C or an error
    naive = worse_than_naive(summary.get("best_val_mse"), summary.get("baselines") or {})
    # forecasts of the user's series (the generated tasks quote their baselines in README);
    # train -q: nothing on stderr but errors
    if naive and cfg.data.kind == "csv" and not is_quiet(quiet):
        warn(f"{run_dir}: validation: {naive}")
    shown = {**summary, "seconds": reporter.elapsed()}
    for line in curve_lines(reporter.records) + summary_lines(shown):
        console.print(line, markup=False, highlight=False)
    if json_:
        echo_json(summary)


def _demo_note(config, set_: list[str]) -> str | None:
    """The first line of a run that trains the built-in demo because no data was named."""
    from rnncli.config import uses_builtin_demo

    if not uses_builtin_demo(config, set_):
        return None
    return ("no data named: training the built-in demo task (sine forecasting, 5 epochs); "
            "--set data.source=FILE or -c CONFIG trains on yours")


def _check_resume_options(resume: Path, config, out: Path | None, init_from: Path | None) -> None:
    """--resume continues RUN_DIR with its own config: the options that would contradict that."""
    if config:
        raise UsageError("--resume uses the run's own config.yaml; drop --config")
    if init_from is not None:
        raise UsageError("--resume continues a run, --init-from starts a new one; use one of them")
    if out is not None and Path(out) != Path(resume):
        raise UsageError("--resume continues in RUN_DIR itself; drop --out")
    if not Path(resume).is_dir():
        raise UsageError(f"--resume: not a run directory: {resume}")


def _warn_thread_change(console, run_dir: Path, threads: int | str) -> None:
    """--threads on --resume: a count other than the recorded one changes the float sums."""
    from rnncli.training.rundir import read_run_json

    recorded = read_run_json(run_dir).get("threads")
    if threads != "auto" and recorded is not None and recorded != threads:
        console.print(f"rnn: warning: {run_dir} ran with {recorded} BLAS threads; resuming with {threads} "
                      "gives weights that differ from an uninterrupted run", markup=False, highlight=False)


def _use_device(cfg, device: str | None) -> None:
    """--device sets train.device; refused here, before any data is read, when it cannot run."""
    if device is None:
        return
    from rnncli.device import resolve_device

    resolve_device(device, "--device")
    cfg.train.device = device
