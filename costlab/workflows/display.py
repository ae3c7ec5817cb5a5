"""How results show themselves in a notebook and under rich: the same document the command
line renders (``costlab.report``), as an HTML table in Jupyter (``_repr_html_``) and as the
terminal table when printed by rich (``__rich_console__``).

The result types of the core cannot reach the report layer, so the workflows hand out thin
subclasses that can (``AnalyzedModel`` for a ``ModelCost``); results born here
(``ModelComparison``, ``SweepResult``) take ``Displayed`` directly.
"""

from __future__ import annotations

from dataclasses import fields
from typing import TYPE_CHECKING, Any, Iterator

from costlab.core.records import ModelCost

if TYPE_CHECKING:
    from costlab.report.document import Document

NOTEBOOK_DEPTH = 2


class Displayed:
    """A result with a ``document()``: shown as HTML in Jupyter and as tables under rich."""

    def document(self) -> "Document":
        raise NotImplementedError

    def _repr_html_(self) -> str:
        from costlab.report.renderers.html import fragment

        return fragment(self.document())

    def __rich_console__(self, console: Any, options: Any) -> Iterator[Any]:
        from costlab.report.renderers.rich import blocks

        yield from blocks(self.document(), width=options.max_width)


class AnalyzedModel(Displayed, ModelCost):
    """A ``ModelCost`` that displays itself: the module tree to depth 2 and the totals."""

    def document(self) -> "Document":
        from costlab.report.export import analysis_document

        return analysis_document(self, NOTEBOOK_DEPTH, layers=False)

    def __eq__(self, other: object) -> bool:
        # a ModelCost with the same fields is the same result: the dataclass's own __eq__
        # would ask for the same class
        if not isinstance(other, ModelCost):
            return NotImplemented
        return all(getattr(self, f.name) == getattr(other, f.name) for f in fields(ModelCost))

    __hash__ = None  # type: ignore[assignment]  (mutable, like ModelCost)

    @classmethod
    def of(cls, cost: ModelCost) -> "AnalyzedModel":
        if isinstance(cost, cls):
            return cost
        return cls(**{f.name: getattr(cost, f.name) for f in fields(ModelCost)})
