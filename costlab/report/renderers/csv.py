"""CSV: the document's one flat data table, raw values under their keys (pandas' writer)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from costlab.core.errors import UsageError
from costlab.report.renderers import renderer

if TYPE_CHECKING:
    from costlab.report.document import Document


@renderer("csv", suffixes=(".csv",))
def render(document: "Document") -> str:
    if document.data is None:
        raise UsageError(f"{document.title} has no table to write as CSV")
    return document.data.frame().to_csv(index=False)
