"""`rnn diagnose`: gradient flow through time on one batch (dL/dh_t per step, W_hh spectra, update ratios)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from rnncli.cli._common import cell_words, echo_json, err_console, is_quiet, spare_weights
from rnncli.cli.options import ConfigFiles, DeviceOption, Json, Quiet, Seed, SetOverrides, Threads
from rnncli.cli.tables import print_table
from rnncli.errors import UsageError

_STYLE = {"vanishing": "bold yellow", "exploding": "bold red", "healthy": "bold green"}


def diagnose(  # noqa: PLR0913 - a Typer command: one parameter per option
    weights: Annotated[
        Path | None,
        typer.Argument(metavar="[WEIGHTS]", show_default=False,
                       help="A weights file (.npz) or a run directory; omit to use --config."),
    ] = None,
    config: ConfigFiles = None,
    set_: SetOverrides = None,
    seed: Seed = None,
    batch_size: Annotated[
        int, typer.Option("--batch-size", "-b", min=1, help="Sequences in the diagnosed batch.")
    ] = 32,
    steps: Annotated[
        int | None, typer.Option("--steps", min=1, help="Cut sequences to this many time steps.")
    ] = None,
    attribution: Annotated[
        bool, typer.Option("--map", help="Add the attribution map |dL_t/dh_s|, |dy_t/dx_s| for every "
                           "target step t and source step s <= t, and unit saturation.")
    ] = False,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", metavar="FILE.png",
                     help="With --map: draw the map as a PNG heatmap (needs matplotlib, the plot extra)."),
    ] = None,
    threads: Threads = None,
    device: DeviceOption = None,
    quiet: Quiet = False,
    json_: Json = False,
) -> None:
    """Show whether gradients vanish or explode back through time.

    On one batch: the norm of dL/dh_t at every time step (a chart; the numbers
    with --json), the spectral radius and largest singular value of each W_hh,
    the ratio of one update to the parameter norm per tensor, and a verdict in
    words. With --config the model is diagnosed at initialisation (the weights
    `rnn train` would start from); with WEIGHTS, as trained, on validation
    sequences. --map adds, for every target step t and source step s <= t, how
    much gradient the loss at t sends back to h_s and how much the output at t
    depends on x_s (a shaded grid; a PNG with -o), and how saturated (tanh) or
    dead (relu) the hidden units are.

    Examples:
      rnn diagnose -c configs/adding.yaml --set data.seq_len=200
      rnn diagnose -c configs/copy.yaml --map -o map.png
      rnn diagnose -c configs/adding.yaml --set model.nonlinearity=tanh
      rnn diagnose runs/adding-1 --json | jq .verdict
    """
    from rnncli.core.cells import get_cell
    from rnncli.device import resolve_device
    from rnncli.threads import set_threads
    from rnncli.tools.diagnose import diagnose_config, diagnose_weights
    from rnncli.use.model_io import load_model

    _check_options(weights, config, set_ or seed is not None, out, attribution)
    if weights is not None:
        spec = load_model(weights).spec
        set_threads(threads, batch=batch_size, hidden=spec.hidden_size, gates=spec.gates)
        report = diagnose_weights(weights, batch_size=batch_size, steps=steps, attribution=attribution,
                                  device=resolve_device(device))
    else:
        from rnncli.config import load_config

        cfg = load_config(config or [], set_ or [], seed=seed)
        set_threads(threads, batch=batch_size, hidden=cfg.model.hidden_size, input_size=cfg.model.input_size,
                    gates=len(get_cell(cfg.model.cell).GATES))
        report = diagnose_config(cfg, batch_size=batch_size, steps=steps, attribution=attribution,
                                 device=resolve_device(device))
    console = err_console(is_quiet(quiet))
    drawn = attribution and out is not None and _draw_png(report, out, console)
    if json_:
        echo_json(report)
        return
    for renderable in _render(report, chart_width=max(20, min(60, console.width - 12))):
        if isinstance(renderable, Table):
            print_table(console, renderable)
        else:
            console.print(renderable)
    if attribution:
        for line in map_lines(report, grids=not drawn):
            console.print(line, markup=False, highlight=False)


def _check_options(weights, config, overrides: bool, out: Path | None, attribution: bool) -> None:
    """Options that contradict each other, or a -o that cannot be made, before any work."""
    if out is not None and not attribution:
        raise UsageError("-o/--out draws the attribution map: add --map")
    if out is not None:
        from rnncli.tools.plot import matplotlib_available

        if not matplotlib_available():  # the file the user named cannot be made
            raise UsageError(f"-o {out}: drawing the map needs matplotlib: pip install 'rnncli[plot]' "
                             "(without -o the map is drawn in the terminal)")
    if weights is not None and config:
        raise UsageError("give either WEIGHTS or --config, not both")
    if weights is not None and overrides:
        raise UsageError("--set and --seed apply to --config; WEIGHTS carry their own config")
    spare_weights(out, weights)


def _draw_png(report: dict, out: Path, console) -> bool:
    """Write the map's PNG (matplotlib was checked before the work)."""
    from rnncli.tools.attribution import map_png

    m = report["model"]
    map_png(report["map"], out, title=f"{report['source']}: {m['num_layers']} x {m['hidden_size']} "
            f"{m['nonlinearity']}, T={report['T']}")
    console.print(f"wrote {out}", markup=False, highlight=False)
    return True


def map_lines(report: dict, *, grids: bool = True) -> list[str]:
    """The attribution map as shaded grids (one per layer, then the input map) and unit saturation."""
    from rnncli.tools.attribution import LEGEND, shaded_grid

    amap, lines = report["map"], []
    if grids:
        L = len(amap["dh"])
        for l, m in enumerate(amap["dh"]):
            lines += ["", f"|dL_t/dh_s|{f' layer {l}' if L > 1 else ''}: gradient of the loss at t reaching "
                      "the state at s"] + shaded_grid(m, amap["targets"])
        est = " (estimated from random projections)" if amap["dx_estimated"] else ""
        lines += ["", f"|dy_t/dx_s|{est}: how much the output at t depends on the input at s"]
        lines += shaded_grid(amap["dx"], amap["targets"]) + LEGEND.splitlines()
    lines.append("")
    for sat in amap["saturation"]:
        where = f"layer {sat['layer']} " if len(amap["saturation"]) > 1 else ""
        if sat["nonlinearity"] == "tanh":
            units, n = sat["mostly_saturated_units"], len(sat["saturated_fraction"])
            lines.append(f"{where}tanh units: |h| > 0.99 in {sat['mean']:.1%} of unit-steps; "
                         f"{len(units)} of {n} units in > 50% of them")
        else:
            units, n = sat["dead_units"], len(sat["active_fraction"])
            lines.append(f"{where}relu units: active in {sat['mean']:.1%} of unit-steps; {len(units)} of {n} "
                         "units never active")
        if units:
            lines.append(f"  units {', '.join(map(str, units[:16]))}{' ...' if len(units) > 16 else ''}")
    return lines


def _render(report: dict, chart_width: int = 60) -> list:
    """Rich renderables: header, dL/dh chart, W_hh table, update-ratio table, verdict."""
    from rich.text import Text

    from rnncli.tools.plot import text_chart

    T, L = report["T"], len(report["probe_dh_norms"])
    m = report["model"]
    out: list = [Text(f"{report['source']}: {m['num_layers']}-layer {cell_words(m)}, hidden "
                      f"{m['hidden_size']}, batch {report['batch_size']} x {T} steps, loss "
                      f"{report['loss']:.4g}, gradient norm {report['grad_norm']:.3g}")]
    series = {f"layer {l}": report["probe_dh_norms"][l] for l in range(L)}
    what = "|dL/dh_t|" if m["output"] == "last" else "|dL_T/dh_t| (loss of the last step only)"
    chart = text_chart(series, x=list(range(1, T + 1)), log=True, x_label="time step", width=chart_width,
                       title=f"{what} per time step (log scale)")
    out.append(Text("\n".join(chart)))
    rec = Table(title="recurrent weights", header_style="bold")
    for col in ("layer", "spectral radius", "largest singular value", "|dL/dh_1| / |dL/dh_T|",
                "factor per step"):
        rec.add_column(col, justify="right")
    for r, ratio, factor in zip(report["recurrent"], report["dh_ratio"], report["dh_factor_per_step"],
                                strict=False):
        rec.add_row(str(r["layer"]), f"{r['spectral_radius']:.4g}", f"{r['max_singular']:.4g}",
                    f"{ratio:.3g}", "-" if factor is None else f"{factor:.4g}")
    out.append(rec)
    upd = Table(title=f"one {report['optimizer']} step: |update| / |parameter|", header_style="bold")
    upd.add_column("tensor")
    upd.add_column("ratio", justify="right")
    for name, ratio in report["update_ratio"].items():
        upd.add_row(name, "- (parameter is zero)" if ratio is None else f"{ratio:.3g}")
    out.append(upd)
    word = report["verdict"]
    out.append(Text.assemble(("gradients: ", "bold"), (word, _STYLE.get(word, "bold")),
                             f" - {report['explanation']}"))
    return out
