"""`rnn sweep`: search hyperparameters with Optuna; each trial is a run directory DIR/trial-NNNN."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from rnncli.cli._common import echo_json, err_console, fmt_num, is_quiet
from rnncli.cli.options import ConfigFiles, DeviceOption, Json, Quiet, Seed, SetOverrides, threads_value
from rnncli.errors import UsageError

SAMPLERS = ("tpe", "random", "grid")
PRUNERS = ("median", "none")
DEFAULT_TRIALS = 20
# Each worker is a Python process with NumPy (~100 MB) training one trial; far more than any machine
# this runs on has cores, and 100,000 of them would take the machine down before the first trial.
MAX_WORKERS = 256


def sweep(  # noqa: PLR0913 - a Typer command: one parameter per option
    config: ConfigFiles = None,
    set_: SetOverrides = None,
    param: Annotated[
        list[str] | None,
        typer.Option("--param", "-p", metavar="KEY=SPEC",
                     help="A searched key: choice:a,b,c | int:LO:HI | uniform:LO:HI | loguniform:LO:HI; "
                     "repeatable."),
    ] = None,
    space: Annotated[
        Path | None,
        typer.Option("--space", metavar="FILE", help="YAML file of KEY: SPEC lines (adds to --param)."),
    ] = None,
    trials: Annotated[
        int | None,
        typer.Option("--trials", "-n", min=1,
                     help=f"Finished trials the study should have, over all workers and machines "
                     f"(default {DEFAULT_TRIALS}; grid: the grid's size)."),
    ] = None,
    workers: Annotated[
        int, typer.Option("--workers", "-w", min=1, max=MAX_WORKERS, help="Worker processes here.")
    ] = 1,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", metavar="DIR",
                     help="Sweep directory: trials, study.db, best.yaml (default sweeps/<name>)."),
    ] = None,
    sampler: Annotated[
        str, typer.Option("--sampler", help="tpe, random or grid (choice params only).")
    ] = "tpe",
    metric: Annotated[
        str, typer.Option("--metric", help="Key of metrics.jsonl to optimise, e.g. val_accuracy.")
    ] = "val_loss",
    direction: Annotated[
        str | None,
        typer.Option("--direction", help="minimize or maximize (default: maximize for accuracies)."),
    ] = None,
    prune: Annotated[
        str, typer.Option("--prune", help="median: stop trials worse than the median so far; none.")
    ] = "median",
    storage: Annotated[
        str | None,
        typer.Option("--storage", metavar="URL",
                     help="A database to share the study, e.g. postgresql+psycopg2://host/db "
                     "(default sqlite:///DIR/study.db)."),
    ] = None,
    study: Annotated[
        str | None, typer.Option("--study", metavar="NAME", help="Study name (default: DIR's name).")
    ] = None,
    summary: Annotated[
        Path | None,
        typer.Option("--summary", metavar="DIR", help="Only show the summary of the sweep in DIR."),
    ] = None,
    seed: Seed = None,
    threads: Annotated[
        str | None,
        typer.Option("--threads", metavar="auto|N", callback=threads_value,
                     help="BLAS threads of each worker (default 1: workers share the cores)."),
    ] = None,
    device: DeviceOption = None,
    quiet: Quiet = False,
    json_: Json = False,
) -> None:
    """Search hyperparameters with Optuna (pip install 'rnncli\\[sweep]').

    Each trial trains the config with sampled values into DIR/trial-NNNN,
    an ordinary run directory (rnn compare, eval and plot work on it).
    Trials report --metric every epoch and the median pruner stops bad
    ones early. --trials counts finished trials over every worker, so the
    same command on several machines (with a shared --storage) stops at N
    together; rerunning an interrupted sweep continues it. Each worker
    uses one BLAS thread unless --threads says otherwise. At the end: the
    best trials, parameter importances and DIR/best.yaml, the best
    trial's config (rnn train -c DIR/best.yaml).

    Examples:
      rnn sweep -c configs/sine.yaml -p train.lr=loguniform:1e-4:1e-1 \\
        -p model.hidden_size=choice:16,32,64 -n 12 -w 2 -o sweeps/sine
      rnn sweep --summary sweeps/sine --json | jq .best
    """
    from rnncli.tools.sweep_study import import_optuna

    import_optuna()  # the install hint before anything else
    console = err_console(is_quiet(quiet))
    if summary is not None:
        _show_summary(console, summary, storage, study, json_)
        return
    set_ = _on_device(set_, device)
    out_dir = Path(out) if out is not None else None
    created = out_dir is not None and not out_dir.exists()
    try:
        spec = _spec(_Options(config or [], set_ or [], param or [], space, trials, out, sampler, metric,
                              direction, prune, storage, study, seed, threads))
        created = created or not Path(spec.out).exists()
        study_obj = _open(spec, storage is None)
    except BaseException:
        if created:  # a refused sweep leaves no directory behind (the default one included)
            _remove_new_out(Path(spec.out) if "spec" in locals() else out_dir)
        raise
    _run(console, spec, study_obj, workers, json_)


def _remove_new_out(out: Path | None) -> None:
    """Remove the --out this command created, and only what a sweep puts there before its workers."""
    import shutil

    if out is not None and out.is_dir() and {p.name for p in out.iterdir()} <= {"study.db", ".claims"}:
        shutil.rmtree(out, ignore_errors=True)


def _open(spec, default_storage: bool):
    """The study (created or joined), the grid queued; one study per sweep directory."""
    from rnncli.tools.sweep import open_sweep, queue_grid
    from rnncli.tools.sweep_study import check_storage_url, import_optuna, open_storage

    check_storage_url(spec.storage)
    out = Path(spec.out)
    out.mkdir(parents=True, exist_ok=True)
    if default_storage:  # trial-NNNN directories are numbered per study: two would share them
        names = import_optuna().get_all_study_names(storage=open_storage(spec.storage))
        others = [n for n in names if n != spec.study]
        if others:
            raise UsageError(f"--out {out}: holds study {others[0]!r}; one study per directory: "
                             f"choose another --out (or --study {others[0]} to continue it)")
    study, _ = open_sweep(spec)
    if spec.sampler == "grid":
        queue_grid(study, spec.space())
    return study


@dataclass(frozen=True)
class _Options:
    """The sweep's options as the command got them (one value instead of fourteen arguments)."""

    configs: list
    overrides: list
    params: list
    space: Path | None
    trials: int | None
    out: Path | None
    sampler: str
    metric: str
    direction: str | None
    prune: str
    storage: str | None
    study: str | None
    seed: int | None
    threads: int | None


def _search_space(o: _Options) -> list:
    """The choices checked and the searched parameters parsed (--param, then --space)."""
    from rnncli.tools.sweep_space import load_space, parse_param

    for name, value, allowed in (("--sampler", o.sampler, SAMPLERS), ("--prune", o.prune, PRUNERS),
                                 ("--direction", o.direction, ("minimize", "maximize", None))):
        if value not in allowed:
            raise UsageError(f"{name}: {value!r} is not one of {', '.join(a for a in allowed if a)}")
    space_params = [parse_param(p) for p in o.params] + (load_space(o.space) if o.space else [])
    if not space_params:
        raise UsageError("nothing to search: give --param KEY=SPEC (e.g. --param "
                         "train.lr=loguniform:1e-4:1e-2) or --space FILE")
    return space_params


def _grid_trials(space_params: list, trials: int | None) -> int:
    """A grid sweep runs each point once: at most the grid's size (by default all of it)."""
    from rnncli.tools.sweep_space import grid_space

    size = 1
    for values in grid_space(space_params).values():
        size *= len(values)
    return min(trials or size, size)


def _spec(o: _Options):
    """Check the options and the search space; the SweepSpec the workers run."""
    from rnncli.config import load_config
    from rnncli.tools.sweep_space import check_space

    space_params = _search_space(o)
    cfg = load_config(o.configs, o.overrides, seed=o.seed)  # the base config must be valid by itself
    check_space(space_params, o.configs, o.overrides)
    trials = _grid_trials(space_params, o.trials) if o.sampler == "grid" else o.trials
    out = Path(o.out) if o.out is not None else Path("sweeps") / (cfg.name or "default")
    _check_out(out, o.storage)  # made by _open, after every check
    return _sweep_spec(o, out, space_params, trials)


def _sweep_spec(o: _Options, out: Path, space_params: list, trials: int | None):
    """The SweepSpec of checked options, with the defaults of what was not given."""
    from rnncli.tools.sweep import SweepSpec, infer_direction
    from rnncli.tools.sweep_study import default_storage

    return SweepSpec(
        out=str(out.resolve()), storage=o.storage or default_storage(out),
        study=o.study or out.resolve().name,
        params=[{"key": p.key, "kind": p.kind, "values": list(p.values), "origin": p.origin}
                for p in space_params],
        trials=trials or DEFAULT_TRIALS, metric=o.metric, direction=o.direction or infer_direction(o.metric),
        sampler=o.sampler, prune=o.prune, configs=[str(Path(c).resolve()) for c in o.configs],
        overrides=list(o.overrides), seed=o.seed, threads=1 if o.threads is None else o.threads,
        argv=list(sys.argv))


def _check_out(out: Path, storage: str | None) -> None:
    """DIR is new, or a sweep directory (rerun: continue); never someone else's directory."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: exists and is not a directory")
    if storage is None and out.is_dir() and any(out.iterdir()) and not (out / "study.db").exists():
        raise UsageError(f"--out {out}: not empty and holds no study.db; choose a new directory")


def _run(console, spec, study, workers: int, json_: bool) -> None:
    """Start the workers, show each finished trial, then the summary."""
    from rnncli.errors import Interrupted
    from rnncli.tools.sweep_pool import WorkerPool, watch
    from rnncli.tools.sweep_study import finished, redact

    done = len(finished(study.get_trials(deepcopy=False)))
    console.print(f"sweep {spec.out}: study {spec.study!r} in {redact(spec.storage)}; {spec.trials} trials "
                  f"({done} finished before), {workers} worker{'s' * (workers > 1)}, {spec.sampler} sampler, "
                  f"prune {spec.prune}, {spec.metric} ({spec.direction})", markup=False, highlight=False)
    pool = WorkerPool(spec, workers)
    for record in watch(study, pool):
        console.print(_trial_line(record, spec.metric), markup=False, highlight=False)
    codes = pool.exit_codes()
    if pool.interrupted:
        raise Interrupted(f"sweep interrupted; running trials were stopped and will be retried: rerun the "
                          f"same command to continue ({len(finished(study.get_trials()))} of {spec.trials} "
                          "trials finished)", pool.interrupted)
    _worker_failures(codes, pool)
    _show(console, study, Path(spec.out), json_, write_best=True)


def _worker_failures(codes: list[int | None], pool) -> None:
    """A worker killed by a signal is one line naming it (it printed nothing); one that exited with
    an error printed its own line, and its code is the sweep's (a usage error, 2, stopped the rest)."""
    import signal as signals

    from rnncli.errors import RunFailure

    killed = [(i, -c) for i, c in enumerate(codes) if c is not None and c < 0]
    if killed and not pool.interrupted:
        i, signum = killed[0]
        try:
            name = signals.Signals(signum).name
        except ValueError:
            name = f"signal {signum}"
        raise RunFailure(f"sweep worker {i} (pid {pool.procs[i].pid}) was killed by {name}"
                         f"{' (out of memory?)' if signum == signals.SIGKILL else ''}; its trial is retried "
                         "when the sweep is run again")
    if any(c for c in codes if c and c > 0):
        raise typer.Exit(2 if 2 in codes else max(c for c in codes if c and c > 0))


def _trial_line(r: dict, metric: str) -> str:
    params = " ".join(f"{k}={fmt_num(v)}" for k, v in r["params"].items())
    if r["state"] == "complete":
        return f"trial {r['trial']}: {metric} {fmt_num(r['value'])} in {r['epochs']} epochs ({params})"
    if r["state"] == "pruned":
        return f"trial {r['trial']}: pruned at epoch {r['epochs']} ({params})"
    if r["state"] == "failed":
        return f"trial {r['trial']}: failed: {r['error']} ({params})"
    return f"trial {r['trial']}: {r['state']} ({params})"


def _show_summary(console, out: Path, storage: str | None, study: str | None, json_: bool) -> None:
    from rnncli.tools.sweep_study import default_storage, load_study, open_storage

    if storage is None and not (Path(out) / "study.db").is_file():
        raise UsageError(f"--summary {out}: no study.db there (give --storage URL for a shared study)")
    s = load_study(open_storage(storage or default_storage(out)), study)
    _show(console, s, Path(out), json_, write_best=False)


def _show(console, study, out: Path, json_: bool, *, write_best: bool) -> None:
    """The best trials (table), importances, best.yaml on stderr; the summary object with --json.
    best.yaml is written when the sweep ends; --summary only reads (a read-only directory works)."""
    from rnncli.cli.tables import print_table
    from rnncli.tools.sweep_study import summarize, write_best_yaml

    result = summarize(study)
    if write_best:
        best_yaml = write_best_yaml(result, out)
    else:
        best_yaml = out / "best.yaml" if (out / "best.yaml").is_file() and result["best"] else None
    for item in _summary_renderables(result, best_yaml):
        if isinstance(item, str):
            console.print(item, markup=False, highlight=False)
        else:
            print_table(console, item)  # stacked rather than cut on a narrow terminal
    if json_:
        result.pop("settings", None)
        echo_json(result)


def _summary_renderables(result: dict, best_yaml: Path | None, top: int = 10) -> list:
    """Counts, a table of the best trials, failures with their reasons, importances, best.yaml."""
    from rich.table import Table

    c, metric = result["counts"], result["metric"]
    out: list = [f"study {result['study']!r}: {c['complete']} complete, {c['pruned']} pruned, "
                 f"{c['failed']} failed" + (f", {c['running']} running" if c["running"] else "")]
    done = [r for r in result["trials"] if r["state"] == "complete" and r["value"] is not None]
    done.sort(key=lambda r: r["value"], reverse=result["direction"] == "maximize")
    if done:
        table = Table(title=f"best trials by {metric} ({result['direction']})", title_justify="left")
        keys = list(done[0]["params"])
        for col in ("trial", metric, "epochs", *keys):
            table.add_column(col, justify="right")
        for r in done[:top]:
            table.add_row(str(r["trial"]), fmt_num(r["value"]), str(r["epochs"] or "-"),
                          *(fmt_num(r["params"].get(k)) for k in keys))
        out.append(table)
    failed = [r for r in result["trials"] if r["state"] == "failed"]
    out += [f"trial {r['trial']} failed: {r['error']}" for r in failed[:top]]
    if imp := result["importances"]:
        out.append("parameter importance: " + ", ".join(f"{k} {v:.2f}" for k, v in imp.items()))
    if best_yaml is not None:
        b = result["best"]
        out.append(f"best: trial {b['trial']}, {metric} {fmt_num(b['value'])}, {b['run_dir']}; "
                   f"its config: {best_yaml} (rnn train -c {best_yaml})")
    return out


def _on_device(set_: list[str] | None, device: str | None) -> list[str] | None:
    """--device as the trials' train.device (refused now, before the sweep starts, if it cannot run)."""
    if device is None:
        return set_
    from rnncli.device import resolve_device

    resolve_device(device, "--device")
    return [*(set_ or []), f"train.device={device}"]
