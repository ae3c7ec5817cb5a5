"""The terminal table (rich): the screen view. ``-o FILE.txt`` gets the same as plain text."""

from __future__ import annotations

import io
import sys
from typing import TYPE_CHECKING, Sequence

from rich.console import Console
from rich.table import Table as RichTable
from rich.text import Text

from costlab.report.document import SCREEN, Heading, Paragraph, Table
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


def _plain(table: Table, console: Console) -> None:
    # without colour a styled cell (an uncounted op) would not stand out: capitals instead
    cells = [[cell.upper() if column.styles.get(cell) else cell
              for column, cell in ((c, c.cell(row)) for c in table.columns)]
             for row in table.rows]
    left = {c.label for c in table.columns if c.align == "left"}
    console.print(plain_table(table.title, [c.label for c in table.columns], cells, left),
                  markup=False, highlight=False, soft_wrap=True)


def _table(table: Table, console: Console) -> None:
    if len(table.rows) > PLAIN_TABLE_ROWS:
        _plain(table, console)
        return
    shown = RichTable(title=Text(table.title) if table.title else None, title_justify="left",
                      caption=Text(table.caption) if table.caption else None,
                      caption_justify="left")
    for column in table.columns:
        shown.add_column(Text(column.label), justify=column.align,
                         overflow="fold" if column.wrap else "ellipsis")
    for i, row in enumerate(table.rows):
        cells = []
        for column in table.columns:
            cell = column.cell(row)
            cells.append(Text(cell, style=column.styles.get(cell, "")))
        shown.add_row(*cells, end_section=i in table.section_ends)
    console.print(shown)


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


def to_terminal(document: "Document") -> None:
    # a pipe or a log gets wide tables rather than wrapped cells
    draw(document, Console(width=None if sys.stdout.isatty() else FILE_WIDTH))


@renderer("table", suffixes=(".txt",), to_terminal=to_terminal)
def render(document: "Document") -> str:
    """What the terminal shows, as plain text at a fixed width (for ``-o FILE.txt``)."""
    console = Console(file=io.StringIO(), width=FILE_WIDTH, record=True, color_system=None)
    draw(document, console)
    return console.export_text()
