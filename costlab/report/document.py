"""A result as a document: what every output format reads, and nothing else.

A builder (``analysis_document`` and its kin) turns a finished result into a ``Document``;
a renderer (``costlab.report.renderers``) turns a document into text. Builders know the
results, renderers know the formats, and neither knows the other.

Two views: the screen view (the terminal table, the HTML page) shows formatted cells and
short labels; the text view (Markdown) shows raw values under full labels, as the files in
reports/ always have. A block says which views show it; most show in both.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Callable, Literal, Mapping, Sequence, Union

from costlab.core import conventions as counting_conventions
from costlab.report.units import Kind, choose_unit

if TYPE_CHECKING:
    import pandas as pd

SCREEN = "screen"
TEXT = "text"
BOTH = frozenset({SCREEN, TEXT})
ONLY_SCREEN = frozenset({SCREEN})
ONLY_TEXT = frozenset({TEXT})

Align = Literal["left", "right"]
CellFormat = Callable[[Any], str]


def plain(value: Any) -> str:
    """A cell as it is: blank for None."""
    return "" if value is None else str(value)


@dataclass(frozen=True)
class Scale:
    """A column whose unit is chosen from its values on screen (``costlab.report.units``):
    ``kind`` counts or bytes, ``base`` the base units in one raw value (1e6 for a column of
    millions), ``digits`` after the point."""

    kind: Kind = "count"
    base: float = 1.0
    digits: int = 2
    default: str = "M"  # the prefix of a column with nothing but zeros


@dataclass(frozen=True)
class Column:
    """One column of a table: which row field it shows and how.

    ``format`` turns a raw value into the cell the screen view shows; the text view and the
    data table keep the raw value. ``styles`` colours a formatted cell by its text (a verdict
    in green or red); ``unit`` is what the numbers are in (a page shows it on hover).
    ``scale`` lets the screen choose the unit per column (the label's ``{unit}`` names it).
    ``priority`` orders what a narrow terminal leaves out: 0 never (names, MACs, FLOPs,
    params), higher first."""

    key: str
    label: str
    unit: str = ""
    format: CellFormat = plain
    align: Align = "left"
    styles: Mapping[str, str] = field(default_factory=dict)
    wrap: bool = False  # long cells may fold onto several lines
    priority: int = 0
    scale: Scale | None = None

    def cell(self, row: Mapping[str, Any]) -> str:
        return self.format(row.get(self.key))

    def scaled_for(self, rows: Sequence[Mapping[str, Any]]) -> "Column":
        """This column with its unit chosen for ``rows``: a concrete label and format."""
        if self.scale is None:
            return self
        scale = self.scale
        raw = [rows_value for rows_value in (r.get(self.key) for r in rows)
               if isinstance(rows_value, (int, float)) and not isinstance(rows_value, bool)]
        unit = choose_unit([v * scale.base for v in raw], scale.kind, default=scale.default)

        def shown(value: Any) -> str:
            if not isinstance(value, (int, float)) or value != value:
                return ""
            return unit.text(value * scale.base, scale.digits)

        label = self.label.format(unit=unit.name) if unit.name else \
            self.label.replace(" ({unit})", "").format(unit="")
        return replace(self, label=label, unit=unit.name, format=shown, scale=None)


def number(key: str, label: str, format: CellFormat = plain, **options: Any) -> Column:
    """A column of numbers: aligned right."""
    return Column(key=key, label=label, format=format, align="right", **options)


def scaled(key: str, label: str, kind: Kind = "count", *, base: float = 1.0,
           digits: int = 2, **options: Any) -> Column:
    """A column of numbers whose unit the screen chooses: ``label`` holds ``{unit}``."""
    return number(key, label, scale=Scale(kind=kind, base=base, digits=digits), **options)


@dataclass
class Table:
    """Rows of raw values (dicts keyed by column key) under typed columns.

    ``layout`` "grid" is a table of data; "pairs" a small name/value table whose cells are
    already text (Markdown writes it as a bare pipe table). ``section_ends`` are the indices
    of rows after which a group ends (a family of models)."""

    columns: list[Column]
    rows: list[dict[str, Any]]
    title: str = ""
    caption: str = ""
    layout: Literal["grid", "pairs"] = "grid"
    section_ends: frozenset[int] = frozenset()
    views: frozenset[str] = BOTH
    # a terminal shows a table of this few rows or fewer transposed, headed by this column
    transpose_key: str = ""
    transpose_rows: int = 4

    @property
    def keys(self) -> list[str]:
        return [c.key for c in self.columns]

    def with_units(self) -> "Table":
        """The table with each scaled column's unit chosen from its rows (screen view)."""
        if not any(c.scale for c in self.columns):
            return self
        return replace(self, columns=[c.scaled_for(self.rows) for c in self.columns])

    def transposed(self, key: str, *, label: str = "") -> "Table":
        """Rows become columns: one row per column of this table (its label, then each
        row's cell), one column per row, headed by that row's ``key`` cell. Rows whose
        cells are all blank are left out (a variant column nobody set)."""
        table = self.with_units()
        heads = [c for c in table.columns if c.key == key]
        if not heads:
            raise ValueError(f"no column {key!r} to head the transposed table")
        names = [heads[0].cell(r) for r in table.rows]
        keys = [f"c{i}" for i in range(len(names))]
        columns = [Column(key="metric", label=label)] + [
            Column(key=k, label=n, align="right") for k, n in zip(keys, names)]
        rows = []
        for column in table.columns:
            if column.key == key:
                continue
            cells = [column.cell(r) for r in table.rows]
            if any(cells):
                rows.append({"metric": column.label, **dict(zip(keys, cells))})
        return replace(table, columns=columns, rows=rows, layout="pairs",
                       section_ends=frozenset())

    def frame(self) -> "pd.DataFrame":
        """The raw values as a DataFrame, columns by key, in order."""
        import pandas as pd

        return pd.DataFrame(self.rows, columns=self.keys)

    @classmethod
    def from_frame(cls, frame: "pd.DataFrame", *, labels: Mapping[str, str] | None = None,
                   format: CellFormat = plain, **options: Any) -> "Table":
        """A table of every column of ``frame``, labelled by ``labels`` (else the key)."""
        labels = labels or {}
        columns = [Column(key=str(key), label=labels.get(str(key), str(key)), format=format)
                   for key in frame.columns]
        frame = frame.set_axis([c.key for c in columns], axis=1)
        return cls(columns=columns, rows=frame.to_dict("records"), **options)


@dataclass(frozen=True)
class Heading:
    text: str
    level: int = 1
    views: frozenset[str] = BOTH


@dataclass(frozen=True)
class Paragraph:
    """Prose. ``lines`` print one under another; ``lead`` is an emphasised start of the
    first line; ``role`` "note" is plain, "caption" is the small print under the results,
    "bullets" a list. ``wrap`` False keeps each line whole on a narrow terminal."""

    lines: tuple[str, ...]
    role: Literal["note", "caption", "bullets"] = "note"
    lead: str = ""
    wrap: bool = True
    views: frozenset[str] = BOTH


Block = Union[Heading, Paragraph, Table]


def note(*lines: str, **options: Any) -> Paragraph:
    return Paragraph(lines=tuple(lines), **options)


def caption(*lines: str, **options: Any) -> Paragraph:
    return Paragraph(lines=tuple(lines), role="caption", **options)


def bullets(lines: Sequence[str], **options: Any) -> Paragraph:
    return Paragraph(lines=tuple(lines), role="bullets", **options)


@dataclass
class Document:
    """A titled result: blocks for the screen and text views, the one flat ``data`` table
    that CSV writes, the ``payload`` that JSON writes, and the ``conventions`` the numbers
    follow (a page shows them even where the blocks do not)."""

    title: str
    kind: str
    blocks: list[Block]
    payload: dict[str, Any]
    data: Table | None = None
    conventions: str = field(default_factory=counting_conventions.caption)

    def blocks_for(self, view: str) -> list[Block]:
        return [b for b in self.blocks if view in b.views]

    def tables(self, view: str = SCREEN) -> list[Table]:
        return [b for b in self.blocks_for(view) if isinstance(b, Table)]
