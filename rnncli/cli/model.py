"""Commands that use a trained model: `rnn eval`, `rnn predict`, `rnn sample`, `rnn info`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from rnncli.cli._common import echo_json, err_console, is_quiet, say_reading_stdin, say_weights, say_wrote
from rnncli.cli.options import BatchSize, Context, DeviceOption, Json, Threads, Weights
from rnncli.errors import UsageError


def _use_threads(threads: int | str | None, model, batch_size: int, device: str | None = None):
    """Apply --threads (auto: from the model's sizes and the batch) before the first product, and
    --device: the model with its parameters where it will compute."""
    from rnncli.device import resolve_device
    from rnncli.threads import set_threads

    set_threads(threads, batch=batch_size, hidden=model.spec.hidden_size, input_size=model.spec.input_size,
                gates=model.spec.gates)
    return model.on_device(resolve_device(device))


def eval_cmd(
    weights: Weights,
    data: Annotated[
        str | None,
        typer.Option(
            "--data", "-d", metavar="SPEC",
            help="A data file (.npz, .jsonl, .csv, .txt), '-' for stdin, or a generator name. "
            "Default: the validation part of the data the model was trained on.",
        ),
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set", "-s", metavar="KEY=VALUE",
            help="Override a data option, e.g. --set seq_len=100 (or data.seq_len=100).",
        ),
    ] = None,
    input_format: Annotated[
        str | None,
        typer.Option("--input-format", help="Format of --data when its name does not say it."),
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option("--seed", min=0, help="Seed for generated data (default: the training seed + 1, "
                     "so a generator gives sequences the model has not seen)."),
    ] = None,
    context: Context = None,
    batch_size: BatchSize = 256,
    threads: Threads = None,
    device: DeviceOption = None,
    json_: Json = False,
) -> None:
    """Loss and task metrics of a model on a dataset.

    Metrics: accuracy, per-class precision/recall and the confusion matrix for
    classifiers (in the original label values); mse, rmse and mae in original units
    for regression; bits per character and perplexity for text models.

    Examples:
      rnn eval runs/sine-1
      rnn eval runs/sine-1 --data sine --set noise=0.1 --json
      rnn eval model.npz --data test.jsonl
    """
    from rnncli.cli.class_tables import class_tables
    from rnncli.cli.render import metrics_table
    from rnncli.cli.tables import print_table
    from rnncli.notices import warn
    from rnncli.training.evaluation import worse_than_naive
    from rnncli.use.model_io import load_model
    from rnncli.use.predict import evaluate_model, load_data_for_model

    model = _use_threads(threads, load_model(weights), batch_size, device)
    if context is not None and data is None:
        raise UsageError("--context goes with --data (the test series it precedes)")
    bundle = load_data_for_model(
        model, data, overrides=set_ or [], fmt=input_format, seed=seed, context=context
    )
    metrics = evaluate_model(model, bundle, batch_size=batch_size)
    say_weights(weights, model)
    naive = worse_than_naive(metrics.get("mse"), bundle.task.baselines or {})
    if naive and model.task.columns is not None:  # a csv series' forecaster
        warn(f"{data or 'validation'}: {naive}")
    if json_:
        echo_json(metrics)
        return
    console = err_console(is_quiet())
    print_table(console, metrics_table(metrics, title=f"eval {weights}"))
    if "per_class" in metrics:
        for table in class_tables(metrics["per_class"]):
            print_table(console, table)


def predict(  # noqa: PLR0913 - a Typer command: one parameter per option
    weights: Weights,
    input_: Annotated[
        str,
        typer.Argument(
            metavar="INPUT",
            help="Sequences to predict on: a .jsonl, .csv, .npy or .npz file, or '-' for stdin.",
        ),
    ] = "-",
    fmt: Annotated[
        str, typer.Option("--format", "-f", help="Output format: csv, jsonl or npy.")
    ] = "csv",
    input_format: Annotated[
        str | None,
        typer.Option(
            "--input-format",
            help="Input format (jsonl, csv, npy, npz, txt); inferred from INPUT's extension; "
            "for stdin jsonl (txt for text models).",
        ),
    ] = None,
    proba: Annotated[
        bool, typer.Option("--proba", help="Classifiers: add class probabilities.")
    ] = False,
    next_: Annotated[
        bool,
        typer.Option("--next", help="Sequence models: only the output after each input's last step "
                     "(text: the next character after the whole line)."),
    ] = False,
    header: Annotated[
        bool, typer.Option("--header/--no-header", help="csv: write a header line.")
    ] = True,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", metavar="FILE",
                     help="Write here (atomically) instead of stdout."),
    ] = None,
    context: Context = None,
    batch_size: BatchSize = 256,
    threads: Threads = None,
    device: DeviceOption = None,
) -> None:
    """Predict on sequences read from a file or stdin; only predictions go to stdout.

    Regression models print their outputs in original units, classifiers the
    label (--proba adds probabilities), sequence models one row per step
    (--next: only the last). Input is read and predictions are written batch
    by batch, so endless streams work.

    Examples:
      rnn predict runs/sine-1 series.jsonl
      echo "To be or not to b" | rnn predict runs/text-1 - --next
      rnn data sine -o - | rnn predict runs/sine-1 - --format jsonl | head
    """
    from rnncli.cli.writers import FORMATS, PredictionWriter, output_names
    from rnncli.data import iter_predict_inputs
    from rnncli.data.csvpredict import index_name
    from rnncli.fsutil import atomic_writer, check_not_read
    from rnncli.use.model_io import load_model
    from rnncli.use.predict import last_step_outputs, predict_outputs

    if fmt not in FORMATS:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    model = load_model(weights)
    if next_ and model.spec.output != "sequence":
        raise UsageError("--next applies to models with an output per step (output: sequence); "
                         "this one gives one output per sequence already")
    model = _use_threads(threads, model, batch_size, device)
    if input_ == "-" and input_format is None:
        # The natural stdin format of pipelines: jsonl lines; plain text for text models.
        input_format = "txt" if model.task.kind == "text" else "jsonl"
    binary = fmt == "npy"
    if output is None and binary and sys.stdout.isatty():
        raise UsageError("refusing to write binary .npy to a terminal; use -o FILE or a pipe")

    def run(stream) -> None:
        writer = PredictionWriter(
            stream, fmt, kind=model.task.kind, sequence=model.spec.output == "sequence" and not next_,
            proba=proba, vocab=model.task.vocab if model.task.kind == "text" else None,
            header=header, names=output_names(model.task.columns, model.spec.output_size),
            classes=model.task.classes, index_name=index_name(model.task),
        )
        batches = iter_predict_inputs(
            input_, task=model.task, fmt=input_format, batch_size=batch_size, dtype=model.dtype,
            context=context,
        )
        for batch in batches:
            out = predict_outputs(model, batch)
            writer.write(last_step_outputs(out, batch.lengths) if next_ else out, batch.lengths,
                         batch.index)
        writer.close()

    check_not_read(output, {"weights file": model.path, "input": input_, "--context file": context})
    say_reading_stdin(input_, input_format)
    if output is None:
        run(sys.stdout.buffer if binary else sys.stdout)
    else:
        # Nothing appears at FILE unless every prediction was written.
        with atomic_writer(output, "wb" if binary else "w") as f:
            run(f)
        say_wrote(output, fmt)
    say_weights(weights, model)


def sample(  # noqa: PLR0913 - a Typer command: one parameter per option
    weights: Weights,
    prime: Annotated[
        str, typer.Option("--prime", "-p", help="Text to start from (printed first).")
    ] = "",
    length: Annotated[
        int, typer.Option("--length", "-n", min=0,
                          help="Tokens to generate: characters (words and punctuation for a word model)."),
    ] = 200,
    temperature: Annotated[
        float | None,
        typer.Option("--temperature", "-t", show_default="1.0",
                     help="Sampling: below 1 safer, above 1 wilder."),
    ] = None,
    top_k: Annotated[
        int | None, typer.Option("--top-k", help="Sampling: only among the K most likely characters.")
    ] = None,
    top_p: Annotated[
        float | None,
        typer.Option("--top-p", help="Sampling (nucleus): only among the most likely characters "
                     "whose probabilities add up to P."),
    ] = None,
    greedy: Annotated[
        bool, typer.Option("--greedy", help="Always the most likely next character (no sampling).")
    ] = False,
    beam: Annotated[
        int | None,
        typer.Option("--beam", metavar="N", help="Beam search of width N: the most likely "
                     "continuation of --length characters as a whole."),
    ] = None,
    seed: Annotated[int | None, typer.Option("--seed", min=0, help="Random seed.")] = None,
    threads: Threads = None,
    device: DeviceOption = None,
) -> None:
    """Generate text from a character-level model (stdout).

    By default each character is sampled from the model's distribution (shaped by
    --temperature, --top-k, --top-p); --greedy and --beam are deterministic.

    Examples:
      rnn sample runs/text-1 -p "The " -n 300 --temperature 0.8 --seed 1
      rnn sample runs/text-1 -p "The " --top-p 0.9 --seed 1
      rnn sample runs/text-1 -p "The " --beam 5 -n 40
    """
    import numpy as np

    from rnncli.use.decoding import decoding_from_options
    from rnncli.use.model_io import load_model
    from rnncli.use.sample import sample_text, text_vocab

    model = _use_threads(threads, load_model(weights), 1, device)
    decoding = decoding_from_options(greedy=greedy, beam=beam, temperature=temperature, top_k=top_k,
                                     top_p=top_p, vocab_size=len(text_vocab(model)))
    text = sample_text(model, prime, length, np.random.default_rng(seed), decoding)
    sys.stdout.write(prime + text + "\n")
    say_weights(weights, model)


def info(weights: Weights, json_: Json = False) -> None:
    """Architecture, parameter count, and how and on what a model was trained.

    Example: rnn info runs/sine-1 --json | jq .parameters
    """
    from rnncli.cli.info_lines import info_lines
    from rnncli.use.model_io import load_model, model_info

    model = load_model(weights)
    data = model_info(model)
    say_weights(weights, model)
    if json_:
        echo_json(data)
        return
    console = err_console(is_quiet())
    for line in info_lines(data):
        console.print(line, markup=False, highlight=False)
