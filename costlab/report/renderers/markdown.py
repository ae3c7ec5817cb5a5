"""Markdown: the text view, raw values under full labels (pandas' to_markdown).

Every block is its lines and then one blank line, so an empty block leaves a blank line:
the layout the files in reports/ have always had."""

from __future__ import annotations

from typing import TYPE_CHECKING

from costlab.report.document import TEXT, Heading, Paragraph, Table
from costlab.report.renderers import renderer

if TYPE_CHECKING:
    import pandas as pd

    from costlab.report.document import Block, Document


def markdown_table(frame: "pd.DataFrame") -> str:
    # missing values (no published number) print as blanks, not "nan"
    frame = frame.astype(object).where(frame.notna(), None)
    return frame.to_markdown(index=False, floatfmt=".3f", intfmt=",", missingval="")


def _table(table: Table) -> list[str]:
    if table.layout == "pairs":  # cells are text already: a bare pipe table
        lines = ["| " + " | ".join(c.label for c in table.columns) + " |",
                 "|" + "|".join("---" for _ in table.columns) + "|"]
        lines += ["| " + " | ".join(c.cell(row) for c in table.columns) + " |"
                  for row in table.rows]
    else:
        frame = table.frame().rename(columns={c.key: c.label for c in table.columns})
        lines = [markdown_table(frame)]
    if table.caption:
        lines += ["", f"_{table.caption}_"]
    return lines


def _paragraph(paragraph: Paragraph) -> list[str]:
    lines = list(paragraph.lines)
    if lines and paragraph.lead:
        lines[0] = f"**{paragraph.lead}**" + lines[0]
    if paragraph.role == "bullets":
        return [f"- {line}" for line in lines]
    if paragraph.role == "caption":
        return [f"_{line}_" for line in lines]
    return lines


def _block(block: "Block") -> list[str]:
    if isinstance(block, Heading):
        return ["#" * block.level + " " + block.text]
    if isinstance(block, Table):
        return _table(block)
    return _paragraph(block)


@renderer("md", suffixes=(".md", ".markdown"))
def render(document: "Document") -> str:
    lines: list[str] = []
    for block in document.blocks_for(TEXT):
        lines += _block(block) + [""]
    return "\n".join(lines)
