"""What every document's JSON payload is made of: the header and rows from a frame."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from costlab.core import conventions
from costlab.core.version import SCHEMA_VERSION, __version__

if TYPE_CHECKING:
    import pandas as pd


def records(frame: "pd.DataFrame") -> list[dict[str, Any]]:
    """A frame as JSON rows: pandas' JSON writer turns NaN into null and numpy scalars
    into plain numbers."""
    return json.loads(frame.to_json(orient="records"))


def payload_header(kind: str) -> dict[str, Any]:
    """What every JSON output starts with."""
    return {"schema_version": SCHEMA_VERSION, "costlab_version": __version__, "kind": kind,
            "conventions": list(conventions.ALL)}
