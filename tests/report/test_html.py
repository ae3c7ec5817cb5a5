"""The HTML page: escaped, every table's rows, and in headless Chromium the cells, the
caption and click-to-sort (skipped where no Chromium is installed)."""

from __future__ import annotations

import shutil
from html import escape
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

from costlab.core import conventions
from costlab.report import renderers
from costlab.report.document import Column, Document, Table, caption
from costlab.report.export import frame_document
from costlab.report.render import grouped
from costlab.report.renderers import html
from tests.cli_helpers import ok


class PageTables(HTMLParser):
    """The tables of a page: per table its header texts, its rows' cell texts and the
    header attributes; and the page's whole text."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[dict] = []
        self.text: list[str] = []
        self._cell: list[str] | None = None
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        if tag == "script":
            self._in_script = True
        elif tag == "table":
            self.tables.append({"headers": [], "header_attrs": [], "rows": []})
        elif tag == "tr" and self.tables:
            self.tables[-1]["rows"].append([])
        elif tag in ("th", "td"):
            self._cell = []
            if tag == "th":
                self.tables[-1]["header_attrs"].append(dict(attrs))

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False
        elif tag in ("th", "td") and self._cell is not None:
            text = "".join(self._cell)
            table = self.tables[-1]
            (table["headers"] if tag == "th" else table["rows"][-1]).append(text)
            self._cell = None

    def handle_data(self, data):
        if self._in_script:
            return
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)


def parse(page: str) -> PageTables:
    parser = PageTables()
    parser.feed(page)
    for table in parser.tables:  # the header row opened a row of its own
        table["rows"] = [row for row in table["rows"] if row]
    return parser


def cell(table: dict, first: str, header: str) -> str:
    row = next(r for r in table["rows"] if r[0] == first)
    return row[table["headers"].index(header)]


# ------------------------------------------------------------------ no browser

def test_html_escapes_every_text():
    frame = pd.DataFrame({"model": ["<script>alert(1)</script>", "a & b"], "macs": [1.5, 2]})
    page = renderers.render(frame_document(frame, title="<i>title</i>",
                                           caption='"quoted" <caption>'), "html")
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "a &amp; b" in page
    assert "<title>&lt;i&gt;title&lt;/i&gt;</title>" in page
    assert "&quot;quoted&quot; &lt;caption&gt;" in page
    assert page.count("<script>") == 1  # the page's own sort script, nothing else


def test_html_has_every_row_of_every_table_and_numbers_to_sort():
    document = Document(title="t", kind="test", payload={}, blocks=[
        Table(title="first", columns=[Column(key="name", label="name"),
                                      Column(key="n", label="n", align="right",
                                             format=grouped)],
              rows=[{"name": "a", "n": 1200}, {"name": "b", "n": None}]),
        Table(title="second", columns=[Column(key="x", label="x")],
              rows=[{"x": str(i)} for i in range(7)]),
        caption("small print")], conventions="the conventions")
    page = html.render(document)
    tables = parse(page).tables
    assert [t["rows"] for t in tables] == [[["a", "1,200"], ["b", ""]],
                                          [[str(i)] for i in range(7)]]
    assert [a["data-type"] for a in tables[0]["header_attrs"]] == ["text", "number"]
    assert tables[1]["header_attrs"][0]["data-type"] == "text"  # digits as text stay text
    assert '<td class="num" data-value="1200.0">1,200</td>' in page
    assert "<footer>the conventions</footer>" in page and '"caption">small print</p>' in page


def test_a_comparison_page_has_each_screen_table_with_its_cells():
    import costlab
    from costlab.report.export import comparison_document

    document = comparison_document(costlab.compare(["mobilenet_v1", "mobilenet_v2"]))
    tables = parse(html.render(document)).tables
    expected = document.tables()
    assert len(tables) == len(expected) == 1
    shown = expected[0].with_units()  # each scaled column in its unit
    assert tables[0]["headers"] == [c.label for c in shown.columns]
    assert tables[0]["headers"][3:5] == ["MACs (M)", "FLOPs (G)"]
    assert tables[0]["rows"] == [[c.cell(row) for c in shown.columns] for row in shown.rows]
    assert cell(tables[0], "mobilenet_v2", "MACs x") == "0.53x"


def test_the_conventions_show_once():
    frame = pd.DataFrame({"a": [1]})
    page = html.render(frame_document(frame, "t", conventions.caption()))
    assert page.count(escape(conventions.caption())) == 1
    assert "<footer>" not in page  # the caption said it already


def test_a_format_registers_once_and_by_suffix():
    with pytest.raises(ValueError, match="registered twice"):
        renderers.renderer("html")(lambda document: "")
    with pytest.raises(ValueError, match="taken"):
        renderers.renderer("another", suffixes=(".htm",))(lambda document: "")
    assert renderers.formats() == ("table", "csv", "html", "json", "md")
    assert renderers.format_for(None, "x/page.html") == "html"


@pytest.mark.parametrize("args", [
    ["list"], ["formulas"], ["analyze", "mobilenet_v1", "--depth", "2"],
    ["sweep", "mobilenet_v1", "-w", "1,0.5", "-r", "224,128"],
    ["guidelines", "shufflenet_v2"], ["estimate", "mobilenet_v2", "--hardware", "nvidia_a100"]])
def test_every_command_writes_a_page(args):
    page = ok(*args, "-f", "html")
    assert page.startswith("<!DOCTYPE html>") and page.endswith("</html>\n")
    assert not any(fetch in page for fetch in ("src=", "href=", "url(", "@import"))
    assert escape(conventions.caption()) in page
    assert parse(page).tables and all(t["rows"] for t in parse(page).tables)


# ----------------------------------------------------------------- in Chromium

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def dump_dom(url: str) -> str:
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (apt-get install chromium)")
    result = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=2000",
         "--dump-dom", url], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


@pytest.fixture(scope="module")
def comparison_page(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("html") / "page.html"
    ok("compare", "mobilenet_v1", "mobilenet_v2", "-f", "html", "-o", str(path))
    return path


def test_chromium_shows_the_cells_and_the_caption(comparison_page):
    page = parse(dump_dom(comparison_page.as_uri()))
    table = page.tables[0]
    assert table["headers"][:4] == ["model", "variant", "input", "MACs (M)"]
    assert cell(table, "mobilenet_v1", "MACs (M)") == "568.74"
    assert cell(table, "mobilenet_v2", "MACs (M)") == "300.77"
    assert [row[0] for row in table["rows"]] == ["mobilenet_v1", "mobilenet_v2"]
    assert conventions.caption() in " ".join("".join(page.text).split())


def test_chromium_sorts_by_the_header_clicked(comparison_page):
    # #sort=0:4 sorts table 0 by its fifth header (FLOPs) as a click does: ascending, as
    # numbers (data-value holds the raw count)
    page = parse(dump_dom(comparison_page.as_uri() + "#sort=0:4"))
    table = page.tables[0]
    assert table["headers"][4] == "FLOPs (G)"
    assert [row[4] for row in table["rows"]] == ["0.64", "1.16"]
    assert [row[0] for row in table["rows"]] == ["mobilenet_v2", "mobilenet_v1"]
    assert table["header_attrs"][4]["aria-sort"] == "ascending"
    descending = parse(dump_dom(comparison_page.as_uri() + "#sort=0:0:desc")).tables[0]
    assert [row[0] for row in descending["rows"]] == ["mobilenet_v2", "mobilenet_v1"]
    assert descending["header_attrs"][0]["aria-sort"] == "descending"
