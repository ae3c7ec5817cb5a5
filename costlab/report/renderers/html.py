"""HTML: one self-contained page per document (the screen view), with inline CSS and a
small inline script that sorts a table by the header clicked. Nothing is fetched.

Every text is escaped. Numeric cells carry their raw value in ``data-value`` so they sort
as numbers whatever their display ("1,234.5", "+3.1%", blank)."""

from __future__ import annotations

import math
from html import escape
from numbers import Real
from typing import TYPE_CHECKING, Any

from costlab.report.document import SCREEN, Heading, Paragraph, Table
from costlab.report.renderers import renderer

if TYPE_CHECKING:
    from costlab.report.document import Column, Document

STYLE = """
:root { color-scheme: light; --rule: #d0d7de; --muted: #57606a; --head: #f6f8fa; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1f2328;
       margin: 1.5rem 2rem; }
h1 { font-size: 1.4rem; margin: 0 0 1rem; }
h2 { font-size: 1.15rem; margin: 1.5rem 0 .5rem; }
section.table { margin: 1.25rem 0; overflow-x: auto; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
caption { caption-side: top; text-align: left; font-weight: 600; padding: 0 0 .4rem;
          white-space: pre-line; }
th, td { border-bottom: 1px solid var(--rule); padding: .25rem .6rem; vertical-align: top; }
th { background: var(--head); position: sticky; top: 0; cursor: pointer; user-select: none;
     white-space: nowrap; text-align: left; }
th:focus { outline: 2px solid #0969da; }
th[aria-sort="ascending"]::after { content: " \\25B2"; }
th[aria-sort="descending"]::after { content: " \\25BC"; }
th.num, td.num { text-align: right; }
td.nowrap { white-space: pre; }
tbody tr:nth-child(even) { background: #fbfcfd; }
tr.section-end td { border-bottom: 2px solid #8c959f; }
p.table-caption, p.caption, footer { color: var(--muted); font-size: .9em; }
footer { margin-top: 2rem; border-top: 1px solid var(--rule); padding-top: .5rem; }
.s-green { color: #1a7f37; } .s-yellow { color: #9a6700; } .s-red { color: #cf222e; }
.s-bold { font-weight: 700; } .s-dim { color: var(--muted); }
"""

# Click (or Enter on) a header to sort by it, again to reverse; blanks stay last. A page
# opened as page.html#sort=T:C[:desc] starts sorted by table T's column C (links, tests).
SCRIPT = """
(function () {
  function key(cell, numeric) {
    if (!numeric) return cell.textContent.trim();
    var v = cell.getAttribute("data-value");
    return v === null || v === "" ? null : parseFloat(v);
  }
  function sortBy(table, th, index, descending) {
    if (descending === undefined) descending = th.getAttribute("aria-sort") === "ascending";
    var numeric = th.getAttribute("data-type") === "number";
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (h) {
      h.removeAttribute("aria-sort");
    });
    th.setAttribute("aria-sort", descending ? "descending" : "ascending");
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = key(a.cells[index], numeric), y = key(b.cells[index], numeric);
      if (x === null || x === "") return (y === null || y === "") ? 0 : 1;
      if (y === null || y === "") return -1;
      var order = numeric ? x - y : x.localeCompare(y, undefined, {numeric: true});
      return descending ? -order : order;
    });
    rows.forEach(function (row) { body.appendChild(row); });
  }
  var tables = document.querySelectorAll("table.sortable");
  Array.prototype.forEach.call(tables, function (table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, index) {
      th.tabIndex = 0;
      th.addEventListener("click", function () { sortBy(table, th, index); });
      th.addEventListener("keydown", function (event) {
        if (event.key === "Enter" || event.key === " ") {
          event.preventDefault();
          sortBy(table, th, index);
        }
      });
    });
  });
  var asked = /^#sort=(\\d+):(\\d+)(:desc)?$/.exec(window.location.hash);
  if (asked && tables[+asked[1]]) {
    var th = tables[+asked[1]].tHead.rows[0].cells[+asked[2]];
    if (th) sortBy(tables[+asked[1]], th, +asked[2], !!asked[3]);
  }
})();
"""


def _number(value: Any) -> float | None:
    """The raw value as a number to sort by; None for text, bools and missing values."""
    if isinstance(value, bool) or not isinstance(value, Real):
        return None
    value = float(value)
    return None if math.isnan(value) else value


def _numeric(column: "Column", table: Table) -> bool:
    values = [row.get(column.key) for row in table.rows]
    present = [v for v in values if v is not None and not (isinstance(v, float) and v != v)]
    return bool(present) and all(_number(v) is not None for v in present)


def _style_class(style: str) -> str:
    return " ".join(f"s-{word}" for word in style.split() if word.isalpha())


def _table(table: Table) -> list[str]:
    table = table.with_units()  # a sortable grid, never transposed: each unit per column
    numeric = {c.key: _numeric(c, table) for c in table.columns}
    parts = ['<section class="table">', '<table class="sortable">']
    if table.title:
        parts.append(f"<caption>{escape(table.title)}</caption>")
    parts.append("<thead><tr>")
    for c in table.columns:
        title = f' title="{escape(c.unit)}"' if c.unit else ""
        kind = "number" if numeric[c.key] else "text"
        css = ' class="num"' if c.align == "right" else ""
        parts.append(f'<th scope="col" data-type="{kind}"{css}{title}>{escape(c.label)}</th>')
    parts.append("</tr></thead>")
    parts.append("<tbody>")
    for i, row in enumerate(table.rows):
        end = ' class="section-end"' if i in table.section_ends else ""
        cells = []
        for c in table.columns:
            text = c.cell(row)
            classes = " ".join(filter(None, [
                "num" if c.align == "right" else "",
                "nowrap" if text.startswith(" ") else "",  # keeps a module's indent
                _style_class(c.styles.get(text, ""))]))
            css = f' class="{classes}"' if classes else ""
            number = _number(row.get(c.key)) if numeric[c.key] else None
            value = f' data-value="{number!r}"' if number is not None else ""
            cells.append(f"<td{css}{value}>{escape(text)}</td>")
        parts.append(f"<tr{end}>" + "".join(cells) + "</tr>")
    parts.append("</tbody></table>")
    if table.caption:
        parts.append(f'<p class="table-caption">{escape(table.caption)}</p>')
    parts.append("</section>")
    return parts


def _paragraph(paragraph: Paragraph) -> list[str]:
    lines = [escape(line) for line in paragraph.lines]
    if lines and paragraph.lead:
        lines[0] = f"<strong>{escape(paragraph.lead)}</strong>" + lines[0]
    if paragraph.role == "bullets":
        return ["<ul>"] + [f"<li>{line}</li>" for line in lines] + ["</ul>"]
    css = ' class="caption"' if paragraph.role == "caption" else ""
    return [f"<p{css}>{line}</p>" for line in lines]


def fragment(document: "Document") -> str:
    """The page's content without its page: what a notebook shows for a result
    (``_repr_html_``), styled by the notebook; sorting needs the full page."""
    return "\n".join(['<div class="costlab">', *_body(document), "</div>"])


@renderer("html", suffixes=(".html", ".htm"))
def render(document: "Document") -> str:
    body = _body(document)
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(document.title)}</title>", f"<style>{STYLE}</style>", "</head>",
        f'<body data-kind="{escape(document.kind)}">', "<main>", *body, "</main>",
        f"<script>{SCRIPT}</script>", "</body>", "</html>", ""])


def _body(document: "Document") -> list[str]:
    body: list[str] = [f"<h1>{escape(document.title)}</h1>"]
    shown: set[str] = set()  # the conventions go in the footer unless a block said them
    for block in document.blocks_for(SCREEN):
        if isinstance(block, Table):
            body += _table(block)
            shown.add(block.caption)
        elif isinstance(block, Heading):
            level = min(block.level + 1, 6)
            body.append(f"<h{level}>{escape(block.text)}</h{level}>")
        else:
            body += _paragraph(block)
            shown.update(block.lines)
    if document.conventions and document.conventions not in shown:
        body.append(f"<footer>{escape(document.conventions)}</footer>")
    return body
