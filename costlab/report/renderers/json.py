"""JSON: the document's payload, indented, with a trailing newline."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from costlab.report.renderers import renderer

if TYPE_CHECKING:
    from costlab.report.document import Document


@renderer("json", suffixes=(".json",))
def render(document: "Document") -> str:
    return json.dumps(document.payload, indent=2, default=str) + "\n"
