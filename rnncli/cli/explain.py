"""`rnn explain`: one forward and backward pass of one sequence, every number shown."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from rnncli.cli._common import echo_json, err_console, is_quiet, spare_weights
from rnncli.cli.options import ConfigFiles, Json, Quiet, Seed, SetOverrides
from rnncli.core.gradcheck import DEFAULT_TOL
from rnncli.errors import GradcheckFailed, UsageError

JSON_KEYS = ("forward", "output", "loss", "backward", "grads", "numerical")


def explain(  # noqa: PLR0913 - a Typer command: one parameter per option
    weights: Annotated[
        Path | None,
        typer.Argument(metavar="[WEIGHTS]", show_default=False,
                       help="A weights file (.npz) or a run directory; omit for a config's model."),
    ] = None,
    config: ConfigFiles = None,
    set_: SetOverrides = None,
    seed: Seed = None,
    x: Annotated[
        str | None,
        typer.Option("--x", metavar="JSON|FILE",
                     help="The sequence: a JSON list of T steps of I numbers ('[[0.1,0.2],[0.3,0.4]]', "
                     "a JSON string for text models) or a data file (with --index)."),
    ] = None,
    y: Annotated[
        str | None,
        typer.Option("--y", metavar="JSON", help="The target for a JSON --x (default 0 / class 0)."),
    ] = None,
    index: Annotated[int, typer.Option("--index", "-i", min=0, help="Which sequence of the data.")] = 0,
    steps: Annotated[
        int | None, typer.Option("--steps", min=1, help="Cut the sequence to this many time steps.")
    ] = None,
    markdown: Annotated[bool, typer.Option("--markdown", help="Markdown notes on stdout.")] = False,
    html: Annotated[
        Path | None,
        typer.Option("--html", metavar="FILE", help="Also write a self-contained HTML page drawing the "
                     "unrolled network and the backward flow."),
    ] = None,
    quiet: Quiet = False,
    json_: Json = False,
) -> None:
    """Explain backpropagation through time on one sequence, number by number.

    Shows x_t, a_t = W_xh x_t + W_hh h_t-1 + b_h and h_t at every step, the
    output and the loss, then backwards: dL/dy, dL/dh_t split into what comes
    from the output and from step t+1, dL/da_t with the activation's
    derivative, each step's share of dW_xh, dW_hh, db_h, and the sums beside
    their centred differences. Without WEIGHTS or --config: a network small
    enough to follow with a pencil (2 inputs, 3 hidden units, 1 output,
    3 steps) at initialisation. A GRU or LSTM (model.cell) shows each gate,
    the cell state, and backwards the gradient's two paths side by side
    (LSTM: through c_t and through h_t; GRU: the update gate's and W_hh's).

    Examples:
      rnn explain
      rnn explain --set model.nonlinearity=relu --set model.num_layers=2
      rnn explain --set model.cell=lstm --html lstm.html
      rnn explain runs/sine-1 --x '[[0.1],[0.2],[0.3]]' --y '[0.4]'
      rnn explain -c configs/adding.yaml --steps 5 --html bptt.html
      rnn explain --json | jq '.backward[0].dh'
    """
    from rnncli.tools.explain_input import explain_config, explain_weights, tiny_overrides

    if json_ and markdown:
        raise UsageError("give either --json or --markdown, not both")
    if weights is not None and config:
        raise UsageError("give either WEIGHTS or --config, not both")
    spare_weights(html, weights, "--html")
    if weights is not None:
        if set_ or seed is not None:
            raise UsageError("--set and --seed apply to --config; WEIGHTS carry their own config")
        done = explain_weights(weights, x_text=x, y_text=y, index=index, steps=steps)
    else:
        from rnncli.config import load_config

        overrides = list(set_ or []) if config else tiny_overrides(set_ or [])
        cfg = load_config(config or [], overrides, seed=seed)
        done = explain_config(cfg, x_text=x, y_text=y, index=index, steps=steps)
    console = err_console(is_quiet(quiet))
    if html is not None:
        from rnncli.tools.explain_html import write_page

        write_page(html, done)
        console.print(f"wrote {html}", markup=False, highlight=False)
    if json_:
        echo_json({k: done.result[k] for k in JSON_KEYS})
    elif markdown:
        sys.stdout.write(_markdown(done))
    elif html is None or not quiet:
        _print(console, done)
    _fail_on_disagreement(done.result["numerical"])


def _fail_on_disagreement(numerical: dict) -> None:
    """Exit 1 with one line when a centred difference disagrees with backprop: the page is shown
    (it is how one sees where), but a checker never passes a check it failed."""
    failed = {name: c for name, c in numerical.items() if not c["passed"]}
    if failed:
        name, worst = max(failed.items(), key=lambda item: item[1]["rel_error"])
        raise GradcheckFailed(
            f"gradient check failed for {', '.join(failed)} (worst: {name} relative error "
            f"{worst['rel_error']:.2e}, max |difference| {worst['max_abs_diff']:.2e}, "
            f"tolerance {DEFAULT_TOL:.0e})")


def _header(done) -> str:
    s = done.spec
    T = done.x.shape[0]
    unit = s.nonlinearity if s.cell == "rnn" else s.cell.upper()
    return (f"{done.source}\n{s.num_layers} layer{'s' if s.num_layers > 1 else ''} x {s.hidden_size} "
            f"{unit}, output {s.output}, loss {done.task.loss}: I={s.input_size}, "
            f"H={s.hidden_size}, O={s.output_size}, T={T}")


def _sections(done):
    if done.spec.cell == "rnn":
        from rnncli.cli.explain_text import sections
    else:  # the gates, the cell state and the gradient's two paths
        from rnncli.cli.explain_gates_text import sections

    vocab = done.task.vocab if done.task.kind == "text" else None
    return sections(done.result, done.params, done.spec.to_dict(), done.task.loss, vocab)


def _print(console, done) -> None:
    from rich.rule import Rule
    from rich.text import Text

    console.print(Text(_header(done), style="bold"))
    for title, lines in _sections(done):
        console.print(Rule(title, align="left", style="dim") if console.width <= 200 else Text(f"-- {title}"))
        for line in lines:
            console.print(line, markup=False, highlight=False)
    checks = done.result["numerical"].values()
    worst = max(c["max_abs_diff"] for c in checks)
    console.print(Text.assemble(("gradient check: ", "bold"), (
        f"max |backprop - centred difference| = {worst:.2g}",
        "green" if all(c["passed"] for c in checks) else "red")))


def _markdown(done) -> str:
    """Notes in Markdown: a heading per section, the aligned lines in fenced blocks."""
    out = [f"# One pass of backpropagation through time\n\n{_header(done)}\n"]
    for title, lines in _sections(done):
        body = "\n".join(lines).strip("\n")
        out.append(f"## {title[0].upper()}{title[1:]}\n\n```text\n{body}\n```\n")
    return "\n".join(out)
