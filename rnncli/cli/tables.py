"""Tables that fit the terminal: wide when there is room, turned or stacked when there is not.

Rich shrinks a table that is wider than the console by wrapping words and, when a column
gets narrower than its longest word, cutting every cell to "…". Instead, `fit_table`:

1. keeps the table when its narrowest layout (every column at its longest word) fits;
2. else turns it (one row per column, one column per row: `rnn compare` with many
   differing keys and few runs reads well this way) if that fits;
3. else stacks it: one block per row, one `column: value` line per cell, values wrapping.

`short_paths` shortens paths to the suffix that tells them apart (`runs/adding-1`,
`runs/adding-2` -> `adding-1`, `adding-2`; never two rows that look the same).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import PurePath

from rich.console import Console, Group, RenderableType
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

__all__ = ["fit_table", "print_table", "short_paths"]


def short_paths(paths: Sequence[str]) -> list[str]:
    """Each path cut to its shortest trailing part (whole components) that no other path ends with.

    Args:
        paths: n paths (strings).
    Returns:
        n strings; identical inputs stay identical, distinct inputs stay distinct.
    """
    parts = [PurePath(p).parts or (str(p),) for p in paths]

    def shortest(i: int) -> str:
        others = [q for q in parts if q != parts[i]]
        for k in range(1, len(parts[i]) + 1):
            if all(q[-k:] != parts[i][-k:] for q in others):
                return str(PurePath(*parts[i][-k:]))
        return str(paths[i])  # a suffix of another path: only the whole of it tells them apart

    return [shortest(i) for i in range(len(parts))]


def _cells(table: Table) -> tuple[list[str | Text], list[list]]:
    headers = [c.header for c in table.columns]
    rows = [list(r) for r in zip(*(c._cells for c in table.columns), strict=False)]
    return headers, rows


def _column_widths(console: Console, table: Table) -> list[tuple[int, int]]:
    """(narrowest, natural) content width of each column: its longest word, its longest line."""
    options = console.options.update_width(10_000)
    out = []
    for column in table.columns:
        m = [Measurement.get(console, options, _text(c) if isinstance(c, str) else c)
             for c in (column.header, *column._cells)]
        natural = max(x.maximum for x in m)
        out.append((natural if column.no_wrap else max(x.minimum for x in m), natural))
    return out


def _chrome(table: Table) -> int:
    """Columns taken by padding and borders."""
    edges = 2 if table.box and table.show_edge else 0
    return 2 * len(table.columns) + max(0, len(table.columns) - 1) + edges


def _fits(console: Console, renderable: RenderableType, width: int) -> bool:
    if isinstance(renderable, Table):
        return sum(lo for lo, _ in _column_widths(console, renderable)) + _chrome(renderable) <= width
    return Measurement.get(console, console.options.update_width(width), renderable).minimum <= width


def _set_widths(console: Console, table: Table, width: int) -> Table:
    """Fix each column's width: its longest word, plus a share of the room left by what it lacks.

    Rich's own shrinking can cut a column below its longest word even when every word fits.
    """
    sizes = _column_widths(console, table)
    room = width - _chrome(table) - sum(lo for lo, _ in sizes)
    if room >= sum(hi - lo for lo, hi in sizes):
        return table  # the natural layout fits: nothing to decide
    # Columns that need least get their whole line first (a short value never wraps while a
    # long label takes the room that is left).
    for i in sorted(range(len(sizes)), key=lambda i: sizes[i][1] - sizes[i][0]):
        lo, hi = sizes[i]
        table.columns[i].width = lo + min(hi - lo, room)
        room -= table.columns[i].width - lo
    return table


def _text(cell) -> Text:
    return cell if isinstance(cell, Text) else Text.from_markup(str(cell))


def turned(table: Table) -> Table:
    """The same cells with rows and columns swapped; the first column's cells become headers."""
    headers, rows = _cells(table)
    out = Table(title=table.title, title_justify=table.title_justify, header_style="bold")
    out.add_column(headers[0] if headers else "")
    for row in rows:
        out.add_column(_text(row[0]), justify="right", no_wrap=True)
    for i, name in enumerate(headers[1:], start=1):
        out.add_row(_text(name), *(_text(row[i]) for row in rows))
    return out


def stacked(table: Table) -> Group:
    """One block per row: its first cell in bold, then `column: value` per other cell."""
    headers, rows = _cells(table)
    blocks: list[RenderableType] = []
    if table.title:
        blocks.append(Text(str(table.title), style="italic"))
    for row in rows:
        block = Table.grid(padding=(0, 1))
        block.add_column(no_wrap=True)
        block.add_column(overflow="fold")
        for name, cell in zip(headers[1:], row[1:], strict=False):
            block.add_row(Text("  ") + _text(name) + ":", _text(cell))
        blocks += [Text.assemble(_text(row[0]), style="bold"), block]
    return Group(*blocks)


def fit_table(console: Console, table: Table, width: int | None = None) -> RenderableType:
    """`table` as is if it fits `width` (default the console's), else turned, else stacked."""
    width = width or console.width
    if _fits(console, table, width):
        return _set_widths(console, table, width)
    turn = turned(table)
    if _fits(console, turn, width):
        return turn
    return stacked(table)


def print_table(console: Console, table: Table) -> None:
    """Print `table` on `console` in the layout that fits its width."""
    console.print(fit_table(console, table))
