"""`rnn gradcheck`: compare backprop with centred differences on the config's model and data."""

from __future__ import annotations

from typing import Annotated

import typer

from rnncli.cli._common import echo_json, err_console, is_quiet
from rnncli.cli.options import ConfigFiles, DeviceOption, Json, Quiet, Seed, SetOverrides, Threads
from rnncli.errors import GradcheckFailed
from rnncli.wording import plural


def gradcheck(  # noqa: PLR0913 - a Typer command: one parameter per option
    config: ConfigFiles = None,
    set_: SetOverrides = None,
    seed: Seed = None,
    batch_size: Annotated[
        int, typer.Option("--batch-size", "-b", min=1, help="Sequences in the checked batch.")
    ] = 4,
    steps: Annotated[
        int, typer.Option("--steps", min=1, help="Cut sequences to this many time steps.")
    ] = 8,
    eps: Annotated[float, typer.Option("--eps", help="Finite-difference step.")] = 1e-6,
    tol: Annotated[
        float | None,
        typer.Option("--tol", help="Pass threshold on the relative error [default: 1e-6]."),
    ] = None,
    atol: Annotated[
        float | None,
        typer.Option("--atol", help="...or on the absolute error, for tensors whose gradients "
                     "are all tiny [default: 1e-8]; 0 = relative error only."),
    ] = None,
    sample: Annotated[
        int | None,
        typer.Option("--sample", min=1, help="Check only this many entries per tensor."),
    ] = None,
    threads: Threads = None,
    device: DeviceOption = None,
    quiet: Quiet = False,
    json_: Json = False,
) -> None:
    """Check the analytic gradients of the config's model in float64.

    Builds the model from the config, takes a small batch of its data, and compares
    every parameter's gradient (and those of the inputs x and initial state h0) with
    centred differences, at random weights uniform in +-1/sqrt(H). Exit 0 when all
    pass, 1 otherwise. With --device cuda the same pass also runs on the GPU and
    must equal the NumPy one (relative difference <= 1e-12).

    Examples:
      rnn gradcheck -c configs/adding.yaml
      rnn gradcheck --set model.num_layers=2 --set model.nonlinearity=relu --json
      rnn gradcheck -c configs/text.yaml --device cuda
    """
    from rnncli.cli.render import gradcheck_table
    from rnncli.cli.tables import print_table
    from rnncli.config import load_config
    from rnncli.core.cells import get_cell
    from rnncli.device import resolve_device
    from rnncli.threads import set_threads
    from rnncli.tools.probe import gradcheck_config

    cfg = load_config(config or [], set_ or [], seed=seed)
    set_threads(threads, batch=batch_size, hidden=cfg.model.hidden_size, input_size=cfg.model.input_size,
                gates=len(get_cell(cfg.model.cell).GATES))
    dev = resolve_device(device)
    report, spec, agreement = gradcheck_config(
        cfg, batch_size=batch_size, steps=steps, eps=eps, tol=tol, atol=atol, sample=sample, device=dev
    )
    rows = [
        (r.name, r.rel_error, getattr(r, "abs_error", None), r.worst_index, r.passed, r.checked)
        for r in report.results
    ]
    report_atol = getattr(report, "atol", None)
    if json_:
        echo_json(_report_json(report, spec, rows, dev, agreement))
    console = err_console(is_quiet(quiet))
    if not json_:
        print_table(console, gradcheck_table(rows, report.tol, report_atol))
    if not report.passed:
        failed = [n for n, _, _, _, p, _ in rows if not p]
        worst = report.worst
        raise GradcheckFailed(
            f"gradient check failed for {', '.join(failed)} (worst: {worst.name} relative error "
            f"{worst.rel_error:.2e} at {tuple(worst.worst_index)}, tolerance {report.tol:.1e})"
        )
    console.print(f"gradient check passed: {plural(len(rows), 'tensor')} within {report.tol:.1e}")
    if agreement is not None:
        _device_verdict(console, dev, agreement)


def _report_json(report, spec, rows: list, dev, agreement) -> dict:
    """--json: the verdict, every tensor's row, and the device's comparison with NumPy if one ran."""
    return {
        "passed": report.passed,
        "tol": report.tol,
        "atol": getattr(report, "atol", None),
        "model": spec.to_dict(),
        "results": [
            {"name": n, "rel_error": e, "abs_error": a, "worst_index": list(w), "passed": p, "checked": c}
            for n, e, a, w, p, c in rows
        ],
        **({"device": _agreement_json(dev, agreement)} if agreement is not None else {}),
    }


def _agreement_json(dev, agreement) -> dict:
    return {"device": dev.name, "name": dev.label, "passed": all(a.passed for a in agreement),
            "results": [{"name": a.name, "rel_error": a.rel_error, "worst_index": list(a.worst_index),
                         "passed": a.passed} for a in agreement]}


def _device_verdict(console, dev, agreement) -> None:
    """One line: the device's pass equals the host's, or exit 1 naming what differs."""
    from rnncli.tools.device_check import DEVICE_TOL

    worst = max(agreement, key=lambda a: a.rel_error)
    failed = [a.name for a in agreement if not a.passed]
    if failed:
        raise GradcheckFailed(f"{dev.name} ({dev.label}) differs from NumPy for {', '.join(failed)} "
                              f"(worst: {worst.name} relative difference {worst.rel_error:.2e}, "
                              f"tolerance {DEVICE_TOL:.0e})")
    console.print(f"{dev.name} ({dev.label}) equals NumPy: {plural(len(agreement), 'value')}, "
                  f"worst relative difference {worst.rel_error:.1e} ({worst.name})")
