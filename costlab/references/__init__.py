"""Published numbers from the papers, packaged with costlab (see published.csv's source column)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any


@dataclass(frozen=True)
class PublishedEntry:
    model: str
    variant: str
    resolution: int | None
    macs_millions: float | None
    params_millions: float | None
    top1_percent: float | None
    source: str
    note: str


def _number(text: str) -> float | None:
    text = text.strip()
    return float(text) if text else None


@lru_cache(maxsize=1)
def published() -> tuple[PublishedEntry, ...]:
    """Every row of the packaged published.csv."""
    text = resources.files(__package__).joinpath("published.csv").read_text(encoding="utf-8")
    rows = []
    for row in csv.DictReader(text.splitlines()):
        resolution = _number(row["resolution"])
        rows.append(PublishedEntry(
            row["model"], row["variant"], int(resolution) if resolution else None,
            _number(row["macs_millions"]), _number(row["params_millions"]),
            _number(row["top1_percent"]), row["source"], row["note"]))
    return tuple(rows)


def _variant_matches(variant: str, knobs: dict[str, Any]) -> bool:
    """``width=1.0,groups=3`` matches knobs with those values; a bare token such as ``v1``
    matches any knob whose value is that string."""
    for token in filter(None, (t.strip() for t in variant.split(","))):
        if "=" in token:
            name, value = token.split("=", 1)
            if name not in knobs:
                return False
            try:
                if float(knobs[name]) != float(value):
                    return False
            except (TypeError, ValueError):
                if str(knobs[name]) != value:
                    return False
        elif token not in {str(v) for v in knobs.values()}:
            return False
    return True


def lookup(model: str, knobs: dict[str, Any], resolution: int | None) -> PublishedEntry | None:
    """The published row for this model, knob setting and input resolution, if any."""
    for entry in published():
        if entry.model != model:
            continue
        if None not in (entry.resolution, resolution) and entry.resolution != resolution:
            continue
        if _variant_matches(entry.variant, knobs):
            return entry
    return None


def lookup_for_input(model: str, knobs: dict[str, Any],
                     input_shapes: tuple[tuple[int, ...], ...]) -> PublishedEntry | None:
    """The published row for a model run on ``input_shapes`` (a square image's side is the
    resolution; other inputs match rows without a resolution only)."""
    shape = input_shapes[0] if input_shapes else ()
    square = len(shape) >= 3 and shape[-1] == shape[-2]
    if not square:
        return next((e for e in published() if e.model == model and e.resolution is None
                     and _variant_matches(e.variant, knobs)), None)
    return lookup(model, knobs, int(shape[-1]))
