"""The Optuna side of `rnn sweep`: storage, study, the trial budget, and the summary of a study.

A study lives in a database (SQLite file by default, PostgreSQL/MySQL to share it between
machines); workers coordinate only through it. Trials count toward `--trials N` when they
finished: complete, pruned, or failed for a reason of their own (a bad combination, a
non-finite loss). Trials stopped by Ctrl-C, lost with a killed worker or started past the
budget by a race are failed in Optuna's terms but carry a `status` saying so and do not count.
"""

from __future__ import annotations

import math
import random
import re
import socket
import time
import warnings
from pathlib import Path

from rnncli.errors import RunFailure, UsageError

HEARTBEAT_S = 5  # a running trial's worker writes a heartbeat this often
GRACE_S = 30  # a running trial without a heartbeat for this long was lost with its worker: retried
SETTINGS = "rnn_sweep"  # study user attribute holding metric, direction and space
STATES = ("complete", "pruned", "failed")


def import_optuna():
    """optuna, quiet (no log lines, no experimental-feature warnings); UsageError when not installed."""
    try:
        import optuna
    except ImportError:
        raise UsageError("rnn sweep needs optuna: pip install 'rnncli[sweep]'") from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    # ask/tell with heartbeats is what several processes on one study need; Optuna warns it expects
    # Study.optimize, whose one-process loop cannot share a trial budget or pass Ctrl-C on cleanly.
    warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used")
    return optuna


def redact(url: str) -> str:
    """A storage URL with any password replaced, for messages and run.json."""
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url)


def default_storage(out: Path) -> str:
    return f"sqlite:///{Path(out).resolve() / 'study.db'}"


def check_storage_url(url: str) -> None:
    """UsageError (exit 2) for a --storage that is no database URL or one no worker can share.

    Every worker is a process of its own: an in-memory SQLite database would be a different,
    empty database in each, and the command would watch none of their trials.
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        parsed = make_url(url)
        parsed.get_dialect()
    except (ArgumentError, NoSuchModuleError, ValueError) as e:
        raise UsageError(f"--storage {redact(url)}: not a database URL such as sqlite:///study.db or "
                         f"postgresql://host/db ({_one_line(e)[:80]})") from None
    if parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:"):
        raise UsageError(f"--storage {redact(url)}: an in-memory database is private to one process; "
                         "the workers need a file (sqlite:///DIR/study.db) or a server")


def open_storage(url: str, attempts: int = 3):
    """An RDBStorage with heartbeats (lost trials are queued again once); RunFailure if unreachable.

    Retried briefly: processes that start together may race to create the same tables.
    """
    optuna = import_optuna()
    check_storage_url(url)
    engine = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {"pool_pre_ping": True}
    for attempt in range(attempts):
        try:
            return optuna.storages.RDBStorage(
                url, engine_kwargs=engine, heartbeat_interval=HEARTBEAT_S, grace_period=GRACE_S,
                heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=1))
        except Exception as e:  # noqa: BLE001 - SQLAlchemy/driver errors have no common base worth naming
            if attempt == attempts - 1:
                raise RunFailure(f"--storage {redact(url)}: cannot open: {_one_line(e)}") from None
            time.sleep(0.5 + random.random())
    raise AssertionError("unreachable")


def _one_line(e: BaseException) -> str:
    text = " ".join(str(e).split()) or type(e).__name__
    return text[:300]


def create_study(storage, name: str, settings: dict, sampler, pruner):
    """Create the study or join it; UsageError when it exists with another metric or direction."""
    optuna = import_optuna()
    study = optuna.create_study(storage=storage, study_name=name, direction=settings["direction"],
                                sampler=sampler, pruner=pruner, load_if_exists=True)
    old = study.user_attrs.get(SETTINGS)
    if old is None:
        study.set_user_attr(SETTINGS, settings)
        return study
    old = study_settings(study)
    if (old.get("metric"), old.get("direction")) != (settings["metric"], settings["direction"]):
        raise UsageError(f"study {name!r} optimises {old.get('metric')} ({old.get('direction')}); this "
                         f"sweep asks for {settings['metric']} ({settings['direction']}): use another "
                         "--study or --out")
    return study


def load_study(storage, name: str | None):
    """An existing study by name (None: the only study in the storage)."""
    optuna = import_optuna()
    names = optuna.get_all_study_names(storage=storage)
    if name is None:
        if len(names) != 1:
            raise UsageError(f"the storage holds {len(names)} studies ({', '.join(names) or 'none'}); "
                             "name one with --study")
        name = names[0]
    if name not in names:
        raise UsageError(f"no study named {name!r} in the storage (it holds: {', '.join(names) or 'none'})")
    return optuna.load_study(study_name=name, storage=storage)


def state_of(trial) -> str | None:
    """complete | pruned | failed for trials that count, running | waiting, or None for the rest."""
    from optuna.trial import TrialState

    if trial.state == TrialState.COMPLETE:
        return "complete"
    if trial.state == TrialState.PRUNED:
        return "pruned"
    if trial.state == TrialState.FAIL:
        return "failed" if "error" in trial.user_attrs else None
    return {TrialState.RUNNING: "running", TrialState.WAITING: "waiting"}.get(trial.state)


def finished(trials) -> list:
    return [t for t in trials if state_of(t) in STATES]


def budget_left(trials, budget: int, number: int | None = None) -> bool:
    """Whether trial `number` (None: one more trial) fits in the budget of finished trials.

    Running trials hold their place: the first `budget` trials by number among those finished or
    running are the ones that run, so workers that asked at the same moment agree.
    """
    live = sorted(t.number for t in trials if state_of(t) in (*STATES, "running"))
    if number is None:
        return len(live) < budget
    return number in live[:budget]


def trial_record(t) -> dict:
    """One trial as the summary and --json show it."""
    value = t.value if t.value is not None and math.isfinite(t.value) else None
    seconds = (t.datetime_complete - t.datetime_start).total_seconds() \
        if t.datetime_complete and t.datetime_start else None
    return {"trial": t.number, "state": state_of(t) or t.user_attrs.get("status", t.state.name.lower()),
            "value": value, "params": dict(t.params), "run_dir": t.user_attrs.get("run_dir"),
            "epochs": t.user_attrs.get("epochs"), "seconds": seconds, "error": t.user_attrs.get("error")}


def study_settings(study) -> dict:
    """The settings `rnn sweep` stored on the study, checked: a study written by something else, or
    edited, is a UsageError naming what is wrong, never an internal error later."""
    settings = study.user_attrs.get(SETTINGS, {})
    where = f"study {study.study_name!r}: its {SETTINGS} settings"
    if not isinstance(settings, dict):
        raise UsageError(f"{where} are a {type(settings).__name__}, not a mapping (not made by rnn sweep?)")
    shapes = {"metric": str, "direction": str, "space": dict, "configs": list, "overrides": list}
    for key, kind in shapes.items():
        if key in settings and not isinstance(settings[key], kind):
            raise UsageError(f"{where}: {key} is a {type(settings[key]).__name__}, expected a "
                             f"{kind.__name__}")
    if settings.get("direction", "minimize") not in ("minimize", "maximize"):
        raise UsageError(f"{where}: direction {str(settings['direction'])[:40]!r} is not minimize/maximize")
    for key in ("configs", "overrides"):
        if not all(isinstance(v, str) for v in settings.get(key, [])):
            raise UsageError(f"{where}: {key} must be a list of strings")
    return settings


def summarize(study) -> dict:
    """Best trial, every counted trial, parameter importances and the study's settings."""
    settings = study_settings(study)
    records = [trial_record(t) for t in study.get_trials(deepcopy=False) if state_of(t)]
    done = [r for r in records if r["state"] == "complete" and r["value"] is not None]
    sign = -1 if settings.get("direction") == "maximize" else 1
    best = min(done, key=lambda r: (sign * r["value"], r["trial"])) if done else None
    return {
        "study": study.study_name, "metric": settings.get("metric"), "direction": settings.get("direction"),
        "settings": settings,
        "best": None if best is None else {k: best[k] for k in ("trial", "value", "params", "run_dir")},
        "counts": {s: sum(r["state"] == s for r in records) for s in (*STATES, "running", "waiting")},
        "importances": importances(study) if len(done) >= 2 else {},
        "trials": records,
    }


def importances(study) -> dict[str, float]:
    """Optuna's parameter importances (fANOVA), or {} when they cannot be computed (too few trials)."""
    optuna = import_optuna()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return {k: float(v) for k, v in optuna.importance.get_param_importances(study).items()}
    except (RuntimeError, ValueError, ZeroDivisionError):
        return {}


def host() -> str:
    return socket.gethostname()


def write_best_yaml(summary: dict, out: Path) -> Path | None:
    """DIR/best.yaml: the best trial's complete config (`rnn train -c DIR/best.yaml` reproduces it).

    Taken from the trial's own config.yaml when its run directory is on this machine, else rebuilt
    from the study's base configs, fixed overrides and the trial's parameters. None if no trial completed.
    """
    from rnncli.config import config_to_yaml, load_config
    from rnncli.fsutil import atomic_write_text
    from rnncli.run_layout import CONFIG
    from rnncli.tools.sweep_space import overrides_for

    best = summary["best"]
    if best is None:
        return None
    saved = Path(best["run_dir"] or "") / CONFIG
    if best["run_dir"] and saved.is_file():
        body = saved.read_text(encoding="utf-8")
    else:
        s = summary.get("settings", {})
        cfg = load_config([Path(c) for c in s.get("configs", [])],
                          [*s.get("overrides", []), *overrides_for(best["params"])])
        body = config_to_yaml(cfg)
    head = (f"# best trial {best['trial']} of study {summary['study']!r}: {summary['metric']} = "
            f"{best['value']:.6g}\n# reproduce it with: rnn train -c {Path(out) / 'best.yaml'}\n")
    path = Path(out) / "best.yaml"
    Path(out).mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, head + body)
    return path
