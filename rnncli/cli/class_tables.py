"""Tables of `rnn eval` for classifiers: per-class precision/recall/F1 and the confusion matrix."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.table import Table

from rnncli.cli._common import fmt_num


def class_tables(report: Mapping[str, Any]) -> list[Table]:
    """A classifier's per-class precision/recall/F1/support and its confusion matrix."""
    classes = [str(c) for c in report["classes"]]
    per = Table(title="per class", show_header=True, header_style="bold")
    for col in ("class", "precision", "recall", "f1", "support"):
        per.add_column(col, justify="left" if col == "class" else "right")
    for i, c in enumerate(classes):
        per.add_row(c, *(fmt_num(report[k][i]) for k in ("precision", "recall", "f1")),
                    str(report["support"][i]))
    conf = Table(title="confusion (rows: true, columns: predicted)", show_header=True,
                 header_style="bold")
    conf.add_column("true \\ pred")
    for c in classes:
        conf.add_column(c, justify="right")
    for c, row in zip(classes, report["confusion"], strict=True):
        conf.add_row(c, *(str(v) for v in row))
    return [per, conf]
