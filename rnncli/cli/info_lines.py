"""`rnn info`: what a weights file holds, as lines for the terminal (on stderr)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rnncli.cli._common import cell_words, fmt_num
from rnncli.cli.render import NOT_SHOWN


def _embedding_line(m: Mapping[str, Any]) -> list[str]:
    if not m.get("embedding_size"):
        return []
    tied = ", shared with the output layer" if m.get("tie_weights") else ""
    return [f"embedding: {m.get('input_size')} tokens x {m['embedding_size']}{tied}"]


def info_lines(info: Mapping[str, Any]) -> list[str]:
    """Human description of a saved model (what `rnn info` prints on stderr)."""
    m, t = info.get("model", {}), info.get("task", {})
    lines = [
        f"model: {m.get('num_layers')}-layer {'bidirectional ' if m.get('bidirectional') else ''}"
        f"{cell_words(m)}, input {m.get('input_size')}, "
        f"hidden {m.get('hidden_size')}, output {m.get('output_size')} ({m.get('output')})",
        *_embedding_line(m),
        f"parameters: {info.get('parameters')} ({info.get('dtype')})",
    ]
    task = f"task: {t.get('kind')} with {t.get('loss')} loss"
    if t.get("num_classes"):
        shown = t.get("classes") or []
        task += f", {t['num_classes']} classes" + (
            f" ({', '.join(map(str, shown[:8]))}{', ...' if len(shown) > 8 else ''})" if shown else "")
    if t.get("vocab_size"):
        task += f", vocabulary of {t['vocab_size']} {'words' if t.get('tokens') == 'word' else 'characters'}"
    if t.get("scaled"):
        task += ", standardised data (outputs in original units)"
    lines.append(task)
    data = info.get("data") or {}
    if data:
        opts = ", ".join(f"{k}={v}" for k, v in data.items() if k != "source" and v is not None)
        lines.append(f"data: {data.get('source')}" + (f" ({opts})" if opts else ""))
    train = info.get("train") or {}
    if train:
        keys = ("epochs", "batch_size", "optimizer", "lr", "clip_norm", "bptt", "dtype")
        lines.append("train: " + ", ".join(f"{k}={train[k]}" for k in keys if k in train))
    if info.get("seed") is not None:
        lines.append(f"seed: {info['seed']}")
    if info.get("epoch") is not None:
        lines.append(f"epoch: {info['epoch']}")
    metrics = info.get("metrics") or {}
    if isinstance(metrics, Mapping) and metrics:
        shown = {k: v for k, v in metrics.items() if k not in NOT_SHOWN}
        lines.append("metrics: " + " ".join(f"{k} {fmt_num(v)}" for k, v in shown.items()))
    for k, v in (t.get("baselines") or {}).items():
        lines.append(f"baseline {k}: {fmt_num(v)}")
    return lines
