"""The terminal table (rich): the screen view. ``-o FILE.txt`` gets the same as plain text."""

from __future__ import annotations

import io
import os
import sys
from dataclasses import replace
from typing import TYPE_CHECKING, Iterator, Sequence

from rich.console import Console
from rich.table import Table as RichTable
from rich.text import Text

from costlab.report.document import SCREEN, Column, Heading, Paragraph, Table
from costlab.report.renderers import renderer

if TYPE_CHECKING:
    from costlab.report.document import Document

# Above this many rows a table is printed as aligned plain text: rich measures every cell,
# which takes seconds for a large model's thousands of layers.
PLAIN_TABLE_ROWS = 500
FILE_WIDTH = 200


def plain_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[str]],
                left: set[str]) -> str:
    """Fixed-width text: columns in ``left`` aligned left, the rest right."""
    widths = [max([len(c)] + [len(r[i]) for r in rows]) for i, c in enumerate(columns)]

    def line(values: Sequence[str]) -> str:
        return "  ".join(v.ljust(w) if c in left else v.rjust(w)
                         for v, w, c in zip(values, widths, columns)).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([title, line(columns), rule] + [line(r) for r in rows])


WRAPPED_MIN = 12  # a column whose long cells fold needs at least this many characters


def _needed(column: Column, cells: Sequence[str]) -> int:
    """The narrowest a column can be with no cell cut: its longest cell (a folding column:
    its longest word, at most WRAPPED_MIN), and its header's longest word (headers fold)."""
    header = max((len(w) for w in column.label.split()), default=0)
    if column.wrap:
        longest = max((len(w) for c in cells for w in c.split()), default=0)
        return max(header, min(longest, WRAPPED_MIN))
    return max([header] + [len(c) for c in cells])


def _drawn(columns: Sequence[Column], cells: dict[str, list[str]]) -> int:
    """The width rich draws ``columns`` at, each at its full label and cells."""
    return sum(max([len(c.label)] + [len(x) for x in cells[c.key]]) for c in columns) \
        + 3 * len(columns) + 1


def fit_columns(table: Table, width: int | None) -> tuple[list[Column], list[Column]]:
    """The columns that fit in ``width`` with no cell cut, and those left out: the highest
    ``priority`` first, the rightmost of equal priority first; priority 0 always stays."""
    cells = {c.key: [c.cell(r) for r in table.rows] for c in table.columns}
    needs = {c.key: _needed(c, cells[c.key]) for c in table.columns}
    kept = list(table.columns)
    dropped: list[Column] = []

    def drawn(columns: list[Column]) -> int:  # rich's box: 3 per column (padding, rule) + 1
        return sum(needs[c.key] for c in columns) + 3 * len(columns) + 1

    while width is not None and drawn(kept) > width:
        candidates = [(c.priority, i) for i, c in enumerate(kept) if c.priority > 0]
        if not candidates:
            break
        victim = kept[max(candidates)[1]]
        kept.remove(victim)
        dropped.append(victim)
    # a narrow column dropped early may fit beside the survivors: the most important back
    for column in sorted(dropped, key=lambda c: c.priority):
        trial = [c for c in table.columns if c in kept or c is column]
        if drawn(trial) <= width:
            kept, dropped = trial, [c for c in dropped if c is not column]
    return kept, dropped


def _dropped_line(table: Table, dropped: list[Column]) -> Text | None:
    if not dropped:
        return None
    order = {c.key: i for i, c in enumerate(table.columns)}
    names = ", ".join(c.label for c in sorted(dropped, key=lambda c: order[c.key]))
    return Text(f"Not shown at this width: {names} (a wider terminal, or -f md, csv or html, "
                "shows every column).", style="dim")


def _plain(table: Table, console: Console, columns: list[Column]) -> None:
    # without colour a styled cell (an uncounted op) would not stand out: capitals instead
    cells = [[cell.upper() if column.styles.get(cell) else cell
              for column, cell in ((c, c.cell(row)) for c in columns)]
             for row in table.rows]
    left = {c.label for c in columns if c.align == "left"}
    console.print(plain_table(table.title, [c.label for c in columns], cells, left),
                  markup=False, highlight=False, soft_wrap=True)


def _table(table: Table, console: Console) -> None:
    if table.transpose_key and len(table.rows) <= table.transpose_rows:
        table = table.transposed(table.transpose_key, label=table.transpose_key)
    table = table.with_units()
    if len(table.rows) > PLAIN_TABLE_ROWS:
        # plain text has no folding headers: each column is as wide as its full label
        kept, dropped = fit_columns(replace(table, columns=[
            replace(c, label=c.label.replace(" ", "\u00a0")) for c in table.columns]),
            console.width)
        keys = {c.key for c in kept}
        kept = [c for c in table.columns if c.key in keys]
        dropped = [c for c in table.columns if c.key not in keys]
        _plain(table, console, kept)
    else:
        kept, dropped = fit_columns(table, console.width)
        cells = {c.key: [c.cell(r) for r in table.rows] for c in kept}
        shown = RichTable(title=Text(table.title) if table.title else None,
                          title_justify="left",
                          caption=Text(table.caption) if table.caption else None,
                          caption_justify="left")
        squeeze = console.width is not None and _drawn(kept, cells) > console.width
        needs = {c.key: _needed(c, cells[c.key]) for c in kept}
        # where the natural widths (full headers) overflow, each column gets what its cells
        # need and the room left widens headers from the left (the rest fold): rich would
        # otherwise crop the right edge
        room = (console.width or 0) - sum(needs.values()) - 3 * len(kept) - 1
        for column in kept:
            need = needs[column.key]
            natural = max([len(column.label)] + [len(x) for x in cells[column.key]])
            extra = max(0, min(natural - need, room)) if squeeze else 0
            room -= extra
            shown.add_column(Text(column.label), justify=column.align, min_width=need,
                             max_width=need + extra if squeeze else None, overflow="fold")
        for i, row in enumerate(table.rows):
            shown.add_row(*[Text(column.cell(row), style=column.styles.get(column.cell(row), ""))
                            for column in kept], end_section=i in table.section_ends)
        console.print(shown)
    line = _dropped_line(table, dropped)
    if line is not None:
        console.print(line)


def _paragraph(paragraph: Paragraph, console: Console) -> None:
    style = "dim" if paragraph.role == "caption" else ""
    for i, line in enumerate(paragraph.lines):
        text = Text(line, style=style)
        if i == 0 and paragraph.lead:
            text = Text.assemble((paragraph.lead, "bold"), text)
        console.print(text, soft_wrap=not paragraph.wrap)


def draw(document: "Document", console: Console) -> None:
    for block in document.blocks_for(SCREEN):
        if isinstance(block, Table):
            _table(block, console)
        elif isinstance(block, Heading):
            console.print(Text(block.text, style="bold"))
        else:
            _paragraph(block, console)


def blocks(document: "Document", *, width: int) -> Iterator[Text]:
    """The screen view as rich renderables, for a result printed by rich itself (its
    ``__rich_console__``): drawn at ``width``, colours kept."""
    buffer = Console(file=io.StringIO(), width=width, force_terminal=True,
                     color_system="standard")
    draw(document, buffer)
    yield Text.from_ansi(buffer.file.getvalue())


def terminal_width() -> int | None:
    """The width to draw at: the terminal's, or COLUMNS where set (a pipe honours it);
    otherwise a pipe or a log gets FILE_WIDTH rather than wrapped cells."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    return None if sys.stdout.isatty() else FILE_WIDTH


def to_terminal(document: "Document") -> None:
    draw(document, Console(width=terminal_width()))


@renderer("table", suffixes=(".txt",), to_terminal=to_terminal)
def render(document: "Document") -> str:
    """What the terminal shows, as plain text at a fixed width (for ``-o FILE.txt``)."""
    console = Console(file=io.StringIO(), width=FILE_WIDTH, record=True, color_system=None)
    draw(document, console)
    return console.export_text()
